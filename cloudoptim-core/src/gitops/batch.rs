//! The batch: recommendations → patched branches → pull requests, with a report per item.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::git::Workspace;
use super::{
    Applied, Decision, GitOpsError, ItemStatus, ProposeItem, ProposeOptions, ProposeReport,
    PullRequestProvider, PullRequestSpec, cluster_warnings, commit_message, decide, describe,
    group, title_for,
};
use crate::iac::{Change, Engine, Outcome, unified_diff};
use crate::{Cluster, Recommendation};

use super::batch_progress::Progress;

enum Tree {
    /// A copy of a plain folder (dry runs on a directory): the source stays untouched.
    Copy {
        _dir: tempfile::TempDir,
        root: PathBuf,
        source: PathBuf,
    },
    /// A clone.
    Git { ws: Workspace, base: git2::Oid },
}

impl Tree {
    fn root(&self) -> &Path {
        match self {
            Tree::Copy { root, .. } => root,
            Tree::Git { ws, .. } => ws.root(),
        }
    }

    /// The base version of a file (`None`: new file).
    fn original(&self, rel: &str) -> Option<String> {
        match self {
            Tree::Copy { source, .. } => std::fs::read_to_string(source.join(rel)).ok(),
            Tree::Git { ws, base } => ws.base_text(*base, rel),
        }
    }

    /// Puts the working tree back to the base.
    fn reset(&mut self, touched: &BTreeSet<String>) -> crate::Result<()> {
        match self {
            Tree::Copy { root, source, .. } => {
                for rel in touched {
                    let _ = std::fs::copy(source.join(rel), root.join(rel));
                }
                Ok(())
            }
            Tree::Git { ws, base } => {
                let b = ws.base_name.clone();
                *base = ws.checkout_base(&b)?;
                Ok(())
            }
        }
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let ty = entry.file_type()?;
        if ty.is_dir() {
            copy_tree(&entry.path(), &to.join(&name))?;
        } else if ty.is_file() {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

fn io_err(path: &Path, e: std::io::Error) -> crate::Error {
    crate::Error::Iac(crate::iac::IacError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

fn label(rec: &Recommendation) -> String {
    super::describe::target_label(rec)
}

/// Runs a batch: for each recommendation (or group) the IaC engine patches a clone of `repo`, and
/// the change becomes a branch `cloudoptim/<kind>/<target>` and a pull request through
/// `provider` — or, with `options.dry_run`, an item holding the branch, title, body and diff,
/// with no remote touched (`provider` may then be `None`; `repo` may be a plain folder).
///
/// Each recommendation is reported: the pull request URL, or why not (not a repository change,
/// ambiguous, not found, already applied, already open and up to date, closed by a person,
/// branch modified by someone else). Bad credentials stop the batch before anything is pushed.
#[allow(clippy::too_many_arguments)]
pub async fn propose(
    cluster: &Cluster,
    recommendations: &[Recommendation],
    repo: &str,
    provider: Option<&dyn PullRequestProvider>,
    token: Option<&str>,
    options: &ProposeOptions,
    progress: Option<Progress<'_>>,
) -> crate::Result<ProposeReport> {
    let mut items: Vec<ProposeItem> = Vec::new();
    let emit = |items: &mut Vec<ProposeItem>, item: ProposeItem| {
        if let Some(p) = progress {
            p(&item);
        }
        items.push(item);
    };

    // which recommendations are repository changes
    let mut candidates: Vec<&Recommendation> = Vec::new();
    let mut pending = Vec::new();
    for r in recommendations {
        match Change::from_recommendation(r) {
            Some(Ok(_)) => candidates.push(r),
            Some(Err(e)) => pending.push(ProposeItem::skipped(
                vec![r.id.clone()],
                label(r),
                ItemStatus::Failed,
                e.to_string(),
                r.monthly_savings_usd,
            )),
            None => pending.push(ProposeItem::skipped(
                vec![r.id.clone()],
                r.target.display(),
                ItemStatus::NotApplicable,
                format!("{} is not a repository change", r.kind.title()),
                r.monthly_savings_usd,
            )),
        }
    }

    // the working tree
    let local_dir = Path::new(repo).is_dir();
    let (mut tree, base_name) = if options.dry_run && local_dir {
        let dir = tempfile::Builder::new()
            .prefix("cloudoptim-propose-")
            .tempdir()
            .map_err(|e| io_err(Path::new(repo), e))?;
        let root = dir.path().join("repo");
        copy_tree(Path::new(repo), &root).map_err(|e| io_err(Path::new(repo), e))?;
        let base = options
            .base
            .clone()
            .unwrap_or_else(|| "(working tree)".to_string());
        (
            Tree::Copy {
                _dir: dir,
                root,
                source: PathBuf::from(repo),
            },
            base,
        )
    } else {
        // the first API call checks the credentials, before anything is cloned or pushed
        let remote_default = match (options.dry_run, provider) {
            (false, Some(p)) => Some(p.default_branch().await?),
            (false, None) => {
                return Err(GitOpsError::Config(
                    "opening pull requests needs a provider (GitHub); use a dry run to only print them"
                        .into(),
                )
                .into());
            }
            (true, _) => None,
        };
        let mut ws = Workspace::clone(repo, token)?;
        let base = options
            .base
            .clone()
            .or(remote_default)
            .or_else(|| ws.default_branch())
            .unwrap_or_else(|| "main".to_string());
        ws.base_name = base.clone();
        let oid = ws.checkout_base(&base)?;
        (Tree::Git { ws, base: oid }, base)
    };

    let engine = Engine::default();
    let groups = group(&candidates, options.group);
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for g in groups {
        tree.reset(&touched)?;
        touched.clear();
        let mut applied: Vec<Applied> = Vec::new();
        for rec in &g.recommendations {
            let Some(Ok(change)) = Change::from_recommendation(rec) else {
                continue;
            };
            let skip = |status, reason: String| {
                ProposeItem::skipped(
                    vec![rec.id.clone()],
                    label(rec),
                    status,
                    reason,
                    rec.monthly_savings_usd,
                )
            };
            match engine.patch(tree.root(), &change, false) {
                Ok(report) => match report.outcome {
                    Outcome::Patched if report.diff.is_empty() => emit(
                        &mut items,
                        skip(
                            ItemStatus::AlreadyApplied,
                            format!(
                                "the repository already has these values: {}",
                                report.explanation
                            ),
                        ),
                    ),
                    Outcome::Patched => {
                        touched.extend(report.files.iter().cloned());
                        applied.push(Applied {
                            recommendation: (*rec).clone(),
                            report,
                            cluster_warnings: cluster_warnings(cluster, rec),
                        });
                    }
                    Outcome::Ambiguous => {
                        let places: Vec<String> = report
                            .candidates
                            .iter()
                            .map(|c| format!("{}:{}", c.file, c.line))
                            .collect();
                        emit(
                            &mut items,
                            skip(
                                ItemStatus::Ambiguous,
                                format!(
                                    "{} (candidates: {})",
                                    report.explanation,
                                    places.join(", ")
                                ),
                            ),
                        )
                    }
                    _ => emit(
                        &mut items,
                        skip(ItemStatus::NotFound, report.explanation.clone()),
                    ),
                },
                Err(e) => emit(&mut items, skip(ItemStatus::Failed, e.to_string())),
            }
        }
        if applied.is_empty() {
            continue;
        }
        let recs: Vec<&Recommendation> = applied.iter().map(|a| &a.recommendation).collect();
        let group_label = (recs.len() > 1).then_some(g.target.as_str());
        let title = title_for(&recs, group_label);
        let body = describe(&applied, &cluster.name);
        let files: Vec<String> = touched.iter().cloned().collect();
        let mut diff = String::new();
        for f in &files {
            let old = tree.original(f).unwrap_or_default();
            let new = std::fs::read_to_string(tree.root().join(f)).unwrap_or_default();
            diff.push_str(&unified_diff(f, &old, &new));
        }
        let mut item = ProposeItem {
            recommendation_ids: recs.iter().map(|r| r.id.clone()).collect(),
            target: if recs.len() > 1 {
                g.target.clone()
            } else {
                label(recs[0])
            },
            status: ItemStatus::DryRun,
            branch: Some(g.branch.clone()),
            title: Some(title.clone()),
            url: None,
            number: None,
            reason: None,
            monthly_savings_usd: crate::recommend::round_cents(
                recs.iter().map(|r| r.monthly_savings_usd).sum(),
            ),
            files: files.clone(),
            body: Some(body.clone()),
            diff: Some(diff),
        };
        if options.dry_run {
            emit(&mut items, item);
            continue;
        }
        let (Tree::Git { ws, base }, Some(provider)) = (&tree, provider) else {
            continue;
        };
        let message = commit_message(&title, &applied);
        match push_and_open(
            ws, *base, provider, &g.branch, &base_name, &files, &title, &body, &message, options,
        )
        .await
        {
            Ok((status, pr)) => {
                item.status = status;
                if let Some(pr) = pr {
                    item.url = Some(pr.url.clone());
                    item.number = Some(pr.number);
                    if status == ItemStatus::ClosedByHuman {
                        item.reason = Some(format!(
                            "pull request #{} was closed without merging; not reopened (ask with reopen_closed / --reopen-closed)",
                            pr.number
                        ));
                    }
                }
            }
            Err(e @ GitOpsError::BranchModified { .. }) => {
                item.status = ItemStatus::BranchModified;
                item.reason = Some(e.to_string());
            }
            Err(e @ (GitOpsError::Auth(_) | GitOpsError::RateLimited { .. })) => {
                return Err(e.into());
            }
            Err(e) => {
                item.status = ItemStatus::Failed;
                item.reason = Some(super::redact(&e.to_string(), token));
            }
        }
        emit(&mut items, item);
    }
    for p in pending {
        emit(&mut items, p);
    }
    Ok(ProposeReport {
        repository: repo.to_string(),
        base: base_name,
        dry_run: options.dry_run,
        items,
    })
}

#[allow(clippy::too_many_arguments)]
async fn push_and_open(
    ws: &Workspace,
    base: git2::Oid,
    provider: &dyn PullRequestProvider,
    branch: &str,
    base_name: &str,
    files: &[String],
    title: &str,
    body: &str,
    message: &str,
    options: &ProposeOptions,
) -> super::Result<(ItemStatus, Option<super::PullRequest>)> {
    let existing = provider.find(branch).await?;
    let decision = decide(&existing, options.reopen_closed);
    if let Decision::SkipClosed(pr) = decision {
        return Ok((ItemStatus::ClosedByHuman, Some(pr)));
    }
    let remote = ws.remote_branch(branch)?;
    if let Some(r) = remote {
        let foreign = ws.foreign_commits(base, r, &options.author_email)?;
        if !foreign.is_empty() {
            return Err(GitOpsError::BranchModified {
                branch: branch.to_string(),
                commits: foreign
                    .iter()
                    .map(|c| format!("{} by {}", c.id, c.author))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let commit = ws.commit(
        base,
        files,
        message,
        &options.author_name,
        &options.author_email,
    )?;
    let same_tree = match remote {
        Some(r) => ws.tree_of(r)? == ws.tree_of(commit)?,
        None => false,
    };
    if !same_tree {
        ws.push(branch, commit, remote)?;
    }
    let spec = PullRequestSpec {
        head: branch.to_string(),
        base: base_name.to_string(),
        title: title.to_string(),
        body: body.to_string(),
        labels: options.labels.clone(),
        reviewers: options.reviewers.clone(),
        draft: options.draft,
    };
    match decision {
        Decision::Update(pr) => {
            if same_tree && pr.title == title && pr.body.trim_end() == body.trim_end() {
                Ok((ItemStatus::UpToDate, Some(pr)))
            } else {
                let pr = provider.update(pr.number, &spec).await?;
                Ok((ItemStatus::Updated, Some(pr)))
            }
        }
        _ => {
            let pr = provider.open(&spec).await?;
            Ok((ItemStatus::Opened, Some(pr)))
        }
    }
}
