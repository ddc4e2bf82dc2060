//! GitOps: from a recommendation to a pull request a reviewer can merge.
//!
//! cloudoptim never touches live infrastructure: it changes the repository that describes it and
//! opens a pull request, so the change goes through the team's own review.
//!
//! - Always built (pure logic): branch names ([`branch_name`]), titles and Markdown bodies
//!   ([`describe`]), grouping ([`group`]), the hidden marker ([`marker`], [`parse_markers`]) and
//!   what to do with an existing pull request ([`decide`]); the [`PullRequestProvider`] trait.
//! - Feature `git` (libgit2): clone, branch, commit only the changed files, push without ever
//!   overwriting someone else's commit ([`git`]), and the batch ([`propose`]).
//! - Feature `github` (octocrab): [`github::GitHubProvider`].

mod describe;
mod provider;

#[cfg(feature = "git")]
mod batch;
#[cfg(feature = "git")]
pub mod git;
#[cfg(feature = "github")]
pub mod github;

use serde::{Deserialize, Serialize};

pub use describe::{
    Applied, branch_name, cluster_warnings, commit_message, describe, group_branch_name, marker,
    parse_markers, title_for,
};
pub use provider::{BoxFuture, PullRequest, PullRequestProvider, PullRequestSpec, PullState};

#[cfg(feature = "git")]
pub use batch::propose;

/// The progress callback of a batch.
pub mod batch_progress {
    /// Called with each item as soon as it is decided.
    pub type Progress<'a> = &'a (dyn Fn(&super::ProposeItem) + Send + Sync);
}

/// Why a GitOps step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitOpsError {
    /// The options are incomplete or contradictory (no repository name, an unknown grouping).
    #[error("{0}")]
    Config(String),
    /// A git operation failed.
    #[error("git {op} failed: {message}")]
    Git {
        /// The operation (`clone`, `fetch`, `commit`, `push`).
        op: String,
        /// What libgit2 said, with any credential removed.
        message: String,
    },
    /// The bot's branch holds a commit the bot did not make: it is left alone.
    #[error(
        "branch {branch} has commits not made by cloudoptim ({commits}); it was left alone — \
         delete the branch or close its pull request to let cloudoptim propose again"
    )]
    BranchModified {
        /// The branch.
        branch: String,
        /// The foreign commits, `short-sha by Name`, comma-separated.
        commits: String,
    },
    /// The forge refused the credentials.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// The forge's rate limit asked for a longer wait than allowed.
    #[error(
        "rate limited by the API: retry after {wait_seconds} s (more than the {max_seconds} s allowed)"
    )]
    RateLimited {
        /// The wait the API asked for.
        wait_seconds: u64,
        /// The longest wait allowed.
        max_seconds: u64,
    },
    /// The forge's API answered with an error.
    #[error("API error {status}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's message.
        message: String,
    },
}

/// Result alias for GitOps.
pub type Result<T, E = GitOpsError> = std::result::Result<T, E>;

/// Which recommendations share a pull request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Grouping {
    /// One pull request per recommendation.
    #[default]
    None,
    /// One pull request per namespace (recommendations without a namespace stay alone).
    Namespace,
}

impl Grouping {
    /// Parses `none` or `namespace`.
    pub fn parse(s: &str) -> Result<Grouping> {
        match s {
            "none" => Ok(Grouping::None),
            "namespace" => Ok(Grouping::Namespace),
            other => Err(GitOpsError::Config(format!(
                "group must be none or namespace, not {other:?}"
            ))),
        }
    }
}

/// What happened to one recommendation or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ItemStatus {
    /// A pull request was opened.
    Opened,
    /// The open pull request was updated (new commit, title or body).
    Updated,
    /// The open pull request already holds exactly this change.
    UpToDate,
    /// Dry run: the branch, title, body and diff that would be pushed.
    DryRun,
    /// The repository already has the proposed values.
    AlreadyApplied,
    /// Several places could set the value; nothing was changed.
    Ambiguous,
    /// Nothing in the repository sets the value.
    NotFound,
    /// A person closed the pull request without merging it; it is not reopened.
    ClosedByHuman,
    /// Someone else committed to the branch; it was left alone.
    BranchModified,
    /// The recommendation is not a repository change (delete a volume, terminate an instance).
    NotApplicable,
    /// The step failed; the reason says why.
    Failed,
}

impl ItemStatus {
    /// The snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemStatus::Opened => "opened",
            ItemStatus::Updated => "updated",
            ItemStatus::UpToDate => "up_to_date",
            ItemStatus::DryRun => "dry_run",
            ItemStatus::AlreadyApplied => "already_applied",
            ItemStatus::Ambiguous => "ambiguous",
            ItemStatus::NotFound => "not_found",
            ItemStatus::ClosedByHuman => "closed_by_human",
            ItemStatus::BranchModified => "branch_modified",
            ItemStatus::NotApplicable => "not_applicable",
            ItemStatus::Failed => "failed",
        }
    }

    /// Whether this is a failure a caller should act on (a modified branch, an error).
    pub fn is_failure(&self) -> bool {
        matches!(self, ItemStatus::BranchModified | ItemStatus::Failed)
    }
}

/// The outcome for one recommendation or group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposeItem {
    /// The recommendations in it.
    pub recommendation_ids: Vec<String>,
    /// What it is about, for people (`shop/checkout (app)`, `namespace shop`).
    pub target: String,
    /// What happened.
    pub status: ItemStatus,
    /// The branch (when a change was made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The pull request title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The pull request URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The pull request number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    /// Why not, or what to know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The monthly saving of the recommendations in it, USD.
    pub monthly_savings_usd: f64,
    /// Files changed, relative to the repository root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// The pull request body (Markdown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Unified diff of the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

impl ProposeItem {
    /// An item with only a status and a reason.
    pub fn skipped(
        ids: Vec<String>,
        target: String,
        status: ItemStatus,
        reason: impl Into<String>,
        monthly_savings_usd: f64,
    ) -> ProposeItem {
        ProposeItem {
            recommendation_ids: ids,
            target,
            status,
            branch: None,
            title: None,
            url: None,
            number: None,
            reason: Some(reason.into()),
            monthly_savings_usd,
            files: vec![],
            body: None,
            diff: None,
        }
    }
}

/// The outcome of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProposeReport {
    /// The repository, as given (a token is never part of it).
    pub repository: String,
    /// The branch the pull requests are based on.
    pub base: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// One item per pull request (or per recommendation that did not make one).
    pub items: Vec<ProposeItem>,
}

impl ProposeReport {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Whether any item failed or met a modified branch.
    pub fn has_failures(&self) -> bool {
        self.items.iter().any(|i| i.status.is_failure())
    }

    /// A text report: dry runs print each pull request in full, then one line per other item.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for i in self.items.iter().filter(|i| i.status == ItemStatus::DryRun) {
            s.push_str(&format!(
                "=== {} ===\nbranch: {}\ntitle:  {}\n\n{}\n{}\n",
                i.target,
                i.branch.as_deref().unwrap_or(""),
                i.title.as_deref().unwrap_or(""),
                i.body.as_deref().unwrap_or("").trim_end(),
                i.diff.as_deref().unwrap_or("")
            ));
        }
        let mut not_applicable = 0;
        for i in &self.items {
            match i.status {
                ItemStatus::DryRun => continue,
                ItemStatus::NotApplicable => {
                    not_applicable += 1;
                    continue;
                }
                _ => {}
            }
            let what = i
                .url
                .clone()
                .or_else(|| i.reason.clone())
                .unwrap_or_default();
            s.push_str(&format!(
                "{:<16} {:<40} {}\n",
                i.status.as_str(),
                i.target,
                what
            ));
        }
        if not_applicable > 0 {
            s.push_str(&format!(
                "({not_applicable} recommendation(s) are not repository changes: deleting volumes, terminating instances, schedules, traffic settings)\n"
            ));
        }
        s
    }
}

/// Options of a batch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProposeOptions {
    /// Base branch (default: the repository's default branch).
    pub base: Option<String>,
    /// Print what would be pushed; touch no remote.
    pub dry_run: bool,
    /// Grouping.
    pub group: Grouping,
    /// Labels for the pull requests.
    pub labels: Vec<String>,
    /// Reviewers to request (logins).
    pub reviewers: Vec<String>,
    /// Open pull requests as drafts.
    pub draft: bool,
    /// Propose again what a person closed without merging.
    pub reopen_closed: bool,
    /// Commit author name.
    pub author_name: String,
    /// Commit author email; commits on the bot's branches by anyone else stop the bot.
    pub author_email: String,
}

impl Default for ProposeOptions {
    fn default() -> Self {
        ProposeOptions {
            base: None,
            dry_run: false,
            group: Grouping::None,
            labels: vec!["cloudoptim".to_string()],
            reviewers: vec![],
            draft: false,
            reopen_closed: false,
            author_name: "cloudoptim".to_string(),
            author_email: "cloudoptim@users.noreply.github.com".to_string(),
        }
    }
}

impl ProposeOptions {
    /// Sets the base branch.
    #[must_use]
    pub fn with_base(mut self, base: impl Into<String>) -> Self {
        self.base = Some(base.into());
        self
    }

    /// Sets dry-run.
    #[must_use]
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets the grouping.
    #[must_use]
    pub fn with_group(mut self, group: Grouping) -> Self {
        self.group = group;
        self
    }

    /// Sets the labels.
    #[must_use]
    pub fn with_labels(mut self, labels: Vec<String>) -> Self {
        self.labels = labels;
        self
    }

    /// Sets the reviewers.
    #[must_use]
    pub fn with_reviewers(mut self, reviewers: Vec<String>) -> Self {
        self.reviewers = reviewers;
        self
    }

    /// Sets draft mode.
    #[must_use]
    pub fn with_draft(mut self, draft: bool) -> Self {
        self.draft = draft;
        self
    }

    /// Allows proposing again what a person closed.
    #[must_use]
    pub fn with_reopen_closed(mut self, reopen: bool) -> Self {
        self.reopen_closed = reopen;
        self
    }

    /// Sets the commit author.
    #[must_use]
    pub fn with_author(mut self, name: impl Into<String>, email: impl Into<String>) -> Self {
        self.author_name = name.into();
        self.author_email = email.into();
        self
    }
}

/// The recommendations that go into one pull request.
#[derive(Debug, Clone, PartialEq)]
pub struct Group<'a> {
    /// Branch name.
    pub branch: String,
    /// The group's label for people.
    pub target: String,
    /// The recommendations, in the report's order.
    pub recommendations: Vec<&'a crate::Recommendation>,
}

/// Splits recommendations into pull requests: one each, or one per namespace.
pub fn group<'a>(recs: &[&'a crate::Recommendation], grouping: Grouping) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    for r in recs {
        match (grouping, &r.target.namespace) {
            (Grouping::Namespace, Some(ns)) => {
                let branch = group_branch_name("namespace", ns);
                if let Some(g) = out.iter_mut().find(|g| g.branch == branch) {
                    g.recommendations.push(r);
                } else {
                    out.push(Group {
                        branch,
                        target: format!("namespace {ns}"),
                        recommendations: vec![r],
                    });
                }
            }
            _ => out.push(Group {
                branch: branch_name(r),
                target: describe::target_label(r),
                recommendations: vec![r],
            }),
        }
    }
    out
}

/// What to do given the pull requests already opened from a branch.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// Open a new pull request.
    Create,
    /// Update this open pull request.
    Update(PullRequest),
    /// A person closed this one without merging: leave it.
    SkipClosed(PullRequest),
}

/// Decides from the pull requests of a branch (any state, newest first or not): an open one is
/// updated; else a closed, unmerged one means a person said no — skipped unless
/// `reopen_closed`; merged ones are history, so a new change gets a new pull request.
pub fn decide(existing: &[PullRequest], reopen_closed: bool) -> Decision {
    if let Some(open) = existing.iter().find(|p| p.state == PullState::Open) {
        return Decision::Update(open.clone());
    }
    let closed = existing
        .iter()
        .filter(|p| p.state == PullState::Closed && !p.merged)
        .max_by_key(|p| p.number);
    match closed {
        Some(c) if !reopen_closed => Decision::SkipClosed(c.clone()),
        _ => Decision::Create,
    }
}

/// Removes every occurrence of a secret from a text (errors, logs), keeping the rest.
pub fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(s) if s.len() >= 4 => text.replace(s, "***"),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(number: u64, state: PullState, merged: bool) -> PullRequest {
        PullRequest {
            number,
            url: format!("https://example.test/pull/{number}"),
            state,
            merged,
            head: "cloudoptim/x".into(),
            title: "t".into(),
            body: String::new(),
        }
    }

    #[test]
    fn decisions_follow_renovate() {
        assert_eq!(decide(&[], false), Decision::Create);
        let open = pr(3, PullState::Open, false);
        assert_eq!(
            decide(&[pr(1, PullState::Closed, false), open.clone()], false),
            Decision::Update(open)
        );
        let closed = pr(2, PullState::Closed, false);
        assert_eq!(
            decide(&[pr(1, PullState::Closed, false), closed.clone()], false),
            Decision::SkipClosed(closed.clone())
        );
        assert_eq!(
            decide(std::slice::from_ref(&closed), true),
            Decision::Create
        );
        assert_eq!(
            decide(&[pr(1, PullState::Closed, true)], false),
            Decision::Create
        );
    }

    #[test]
    fn grouping_by_namespace() {
        let report = crate::analyze(&crate::demo::demo_cluster(), Default::default()).unwrap();
        let recs: Vec<&crate::Recommendation> = report
            .recommendations
            .iter()
            .filter(|r| {
                r.target.namespace.as_deref() == Some("shop") || r.target.node_group.is_some()
            })
            .collect();
        let single = group(&recs, Grouping::None);
        assert_eq!(single.len(), recs.len());
        let grouped = group(&recs, Grouping::Namespace);
        let shop: Vec<_> = grouped
            .iter()
            .filter(|g| g.branch == "cloudoptim/namespace/shop")
            .collect();
        assert_eq!(shop.len(), 1);
        assert!(shop[0].recommendations.len() > 1);
        assert!(
            grouped
                .iter()
                .any(|g| g.branch.starts_with("cloudoptim/node-rightsizing/"))
        );
        assert!(Grouping::parse("team").is_err());
        assert_eq!(Grouping::parse("namespace").unwrap(), Grouping::Namespace);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("a ghp_secret b", Some("ghp_secret")), "a *** b");
        assert_eq!(redact("abc", None), "abc");
        assert_eq!(redact("abc", Some("")), "abc");
    }
}
