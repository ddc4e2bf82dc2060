//! The IaC engine: find the one place in a repository that controls a value, and change only
//! those bytes.
//!
//! 1. **Scan** ([`Scanner`], built-in [`FsScanner`]): the files that matter, `.gitignore`
//!    respected, symbolic links never followed.
//! 2. **Locate** ([`Locator`], built-ins for Terraform/Terragrunt, eksctl, Karpenter, plain
//!    manifests and Kustomize, Helm): resolve the repository's own semantics (variables,
//!    tfvars, module inputs, locals, `for_each`, launch templates, values files per environment,
//!    overlays) down to the literal that sets the value. More than one place and nothing to
//!    decide → [`Outcome::Ambiguous`]; computed or outside the repository →
//!    [`Outcome::NotFound`]. Never a guess.
//! 3. **Edit** ([`Editor`], built-in [`SpliceEditor`]): splice the new value's bytes over the old
//!    ones in the old style (quoting, inline or block lists, comments kept), re-parse, re-locate
//!    and check the target now has the new value; otherwise nothing is written.

mod change;
mod edit;
mod env;
mod locate_helm;
mod locate_k8s;
mod locate_tf;
mod locate_yaml;
mod repo;
mod terraform;
pub mod yaml;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use change::{Change, ChangeTarget, SetKey, SetValue, TargetKind};
pub use edit::{SpliceEditor, unified_diff};
pub use repo::{FileKind, Repo, RepoFile};

/// Why the engine could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IacError {
    /// The change is malformed (unknown key, wrong type, unknown instance type).
    #[error("invalid change: {0}")]
    InvalidChange(String),
    /// A path could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The repository path is not a folder.
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
    /// The edit did not verify: re-parsing the edited files did not give the requested values.
    #[error("the edit of {file} did not verify: {reason}; nothing was written")]
    Verification {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
}

/// Result alias for the IaC engine.
pub type Result<T, E = IacError> = std::result::Result<T, E>;

/// How a value is written where it lives.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Slot {
    /// An HCL expression (string, number, array) to replace.
    Hcl {
        /// Bytes of the expression.
        span: std::ops::Range<usize>,
    },
    /// A YAML node to replace.
    Yaml {
        /// The node.
        node: yaml::Node,
    },
    /// Keys to add under a YAML mapping (`resources: {requests: {cpu: …}}`).
    YamlInsert {
        /// The mapping to add to.
        parent: yaml::Node,
        /// Keys from the mapping down to the value.
        path: Vec<String>,
    },
    /// A scalar YAML flag (`spot: true`) replacing a capacity type.
    YamlBool {
        /// The node.
        node: yaml::Node,
    },
}

/// One place that sets one of the change's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// File index in the [`Repo`].
    pub file: usize,
    /// The setting.
    pub key: SetKey,
    /// Where and how.
    pub slot: Slot,
    /// How the value transforms on the way (`capacity_type` → `spot: true`, a list to its first element).
    pub write: WriteAs,
    /// Why this place, for a reviewer.
    pub explanation: String,
}

/// How the requested value is written at a site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteAs {
    /// As given.
    Value,
    /// The first element of a list (a single `instance_type`).
    First,
    /// A capacity type as Karpenter writes it (`spot`, `on-demand`), in a list.
    KarpenterCapacity,
    /// A capacity type as a boolean `spot` flag.
    SpotFlag,
    /// The n-th element of the list (one `override` block of a mixed-instances policy).
    Nth(usize),
}

/// A complete answer for a change: every setting with its site.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    /// Sites, one per setting (several when a setting lives in several files).
    pub sites: Vec<Site>,
    /// What was found, in words.
    pub summary: String,
}

/// A place that may be meant but cannot be confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// File, relative to the repository root.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Why it is a candidate and why it is not decided.
    pub reason: String,
}

/// What a locator found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Finding {
    /// The target, resolved to sites.
    Resolved(Resolution),
    /// A possible target that nothing in the repository confirms or rules out.
    Candidate(Candidate),
    /// The target was found but its value cannot be changed here (computed, outside the repo).
    Blocked(String),
}

/// Finds where a change applies.
pub trait Locator {
    /// Name, for messages.
    fn name(&self) -> &str;
    /// Findings for this change in this repository.
    fn locate(&self, repo: &Repo, change: &Change) -> Vec<Finding>;
}

/// Reads a repository.
pub trait Scanner {
    /// Scans the folder.
    fn scan(&self, root: &Path) -> Result<Repo>;
}

/// The built-in scanner.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsScanner;

impl Scanner for FsScanner {
    fn scan(&self, root: &Path) -> Result<Repo> {
        Repo::scan(root)
    }
}

/// Turns sites and values into byte edits.
pub trait Editor {
    /// The new text of a file with these sites set, or an error message.
    fn apply(
        &self,
        repo: &Repo,
        file: usize,
        sites: &[&Site],
        change: &Change,
    ) -> std::result::Result<String, String>;
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The files were (or, dry-run, would be) changed.
    Patched,
    /// More than one place could be meant; nothing changed.
    Ambiguous,
    /// Nothing in the repository controls the target; nothing changed.
    NotFound,
}

/// One changed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// Relative path.
    pub file: String,
    /// Changed line ranges (1-based, inclusive) in the new file.
    pub lines: Vec<(usize, usize)>,
    /// Why this file.
    pub explanations: Vec<String>,
}

/// The result of locating and patching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchReport {
    /// Outcome.
    pub outcome: Outcome,
    /// Files changed (relative paths).
    pub files: Vec<String>,
    /// Candidates (ambiguous) or the places considered (not found).
    pub candidates: Vec<Candidate>,
    /// Warnings: unparsable files, architecture changes, skipped links.
    pub warnings: Vec<String>,
    /// Unified diff of every change.
    pub diff: String,
    /// Per file: lines and explanations.
    pub changes: Vec<FileChange>,
    /// The answer in words.
    pub explanation: String,
    /// Whether files were written.
    pub written: bool,
}

/// The built-in locators.
pub fn builtin_locators() -> Vec<Box<dyn Locator>> {
    vec![
        Box::new(locate_tf::TerraformLocator),
        Box::new(locate_yaml::EksctlLocator),
        Box::new(locate_yaml::KarpenterLocator),
        Box::new(locate_k8s::ManifestLocator),
        Box::new(locate_helm::HelmLocator),
    ]
}

/// The engine: a scanner, locators and an editor.
pub struct Engine {
    scanner: Box<dyn Scanner>,
    locators: Vec<Box<dyn Locator>>,
    editor: Box<dyn Editor>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            scanner: Box::new(FsScanner),
            locators: builtin_locators(),
            editor: Box::new(SpliceEditor),
        }
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field(
                "locators",
                &self
                    .locators
                    .iter()
                    .map(|l| l.name().to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Engine {
    /// Adds a locator after the built-ins.
    #[must_use]
    pub fn with_locator(mut self, l: Box<dyn Locator>) -> Self {
        self.locators.push(l);
        self
    }

    /// Replaces the scanner.
    #[must_use]
    pub fn with_scanner(mut self, s: Box<dyn Scanner>) -> Self {
        self.scanner = s;
        self
    }

    /// Replaces the editor.
    #[must_use]
    pub fn with_editor(mut self, e: Box<dyn Editor>) -> Self {
        self.editor = e;
        self
    }

    /// Locates without editing.
    pub fn locate(&self, root: &Path, change: &Change) -> Result<PatchReport> {
        let repo = self.scanner.scan(root)?;
        self.run(&repo, change, false, true)
    }

    /// Locates and patches; with `dry_run` nothing is written.
    pub fn patch(&self, root: &Path, change: &Change, dry_run: bool) -> Result<PatchReport> {
        let repo = self.scanner.scan(root)?;
        self.run(&repo, change, !dry_run, false)
    }

    fn findings(&self, repo: &Repo, change: &Change) -> Vec<Finding> {
        self.locators
            .iter()
            .flat_map(|l| l.locate(repo, change))
            .collect()
    }

    fn run(
        &self,
        repo: &Repo,
        change: &Change,
        write: bool,
        locate_only: bool,
    ) -> Result<PatchReport> {
        if change.target.kind == TargetKind::NodeGroup {
            repo.prefetch_hcl();
        }
        let findings = self.findings(repo, change);
        let decided = decide(repo, change, findings);
        let mut report = PatchReport {
            outcome: Outcome::NotFound,
            files: vec![],
            candidates: vec![],
            warnings: vec![],
            diff: String::new(),
            changes: vec![],
            explanation: String::new(),
            written: false,
        };
        match decided {
            Decision::NotFound(reason) => {
                report.explanation = reason;
            }
            Decision::Ambiguous(c, why) => {
                report.outcome = Outcome::Ambiguous;
                report.candidates = c;
                report.explanation = why;
            }
            Decision::Resolved(res) => {
                report.outcome = Outcome::Patched;
                report.explanation = res.summary.clone();
                report
                    .warnings
                    .extend(edit::arch_warnings(repo, change, &res));
                let mut files: Vec<usize> = res.sites.iter().map(|s| s.file).collect();
                files.sort();
                files.dedup();
                let mut replaced = Vec::new();
                for f in &files {
                    let sites: Vec<&Site> = res.sites.iter().filter(|s| s.file == *f).collect();
                    let new_text =
                        self.editor
                            .apply(repo, *f, &sites, change)
                            .map_err(|reason| IacError::Verification {
                                file: repo.files[*f].rel.clone(),
                                reason,
                            })?;
                    replaced.push((*f, new_text));
                }
                // verify: the edited repository resolves to exactly the requested values
                let edited = repo.with_replaced(&replaced);
                edit::verify(
                    &edited,
                    change,
                    &self.findings(&edited, change),
                    &replaced,
                    repo,
                )?;
                for (f, new_text) in &replaced {
                    let old = &repo.files[*f].text;
                    let rel = &repo.files[*f].rel;
                    report.diff.push_str(&unified_diff(rel, old, new_text));
                    report.files.push(rel.clone());
                    report.changes.push(FileChange {
                        file: rel.clone(),
                        lines: edit::changed_lines(old, new_text),
                        explanations: res
                            .sites
                            .iter()
                            .filter(|s| s.file == *f)
                            .map(|s| s.explanation.clone())
                            .collect(),
                    });
                }
                if write && !locate_only {
                    for (f, new_text) in &replaced {
                        let path = repo.root.join(&repo.files[*f].rel);
                        write_atomically(&path, new_text)?;
                    }
                    report.written = true;
                }
            }
        }
        let mut w = repo.warnings();
        w.append(&mut report.warnings);
        report.warnings = w;
        Ok(report)
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|source| IacError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.file_type().is_symlink() {
        return Err(IacError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other("refusing to write through a symbolic link"),
        });
    }
    let tmp = path.with_extension("cloudoptim-tmp");
    std::fs::write(&tmp, text).map_err(|source| IacError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::set_permissions(&tmp, meta.permissions()).map_err(|source| IacError::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| IacError::Io {
        path: path.to_path_buf(),
        source,
    })
}

enum Decision {
    Resolved(Resolution),
    Ambiguous(Vec<Candidate>, String),
    NotFound(String),
}

fn site_key(s: &Site) -> (usize, SetKey, usize) {
    let start = match &s.slot {
        Slot::Hcl { span } => span.start,
        Slot::Yaml { node } | Slot::YamlBool { node } => node.span().start,
        Slot::YamlInsert { parent, .. } => parent.span().start,
    };
    (s.file, s.key, start)
}

fn first_line(repo: &Repo, res: &Resolution) -> Candidate {
    let s = &res.sites[0];
    let start = site_key(s).2;
    Candidate {
        file: repo.files[s.file].rel.clone(),
        line: yaml::line_of(&repo.files[s.file].text, start),
        reason: res.summary.clone(),
    }
}

fn decide(repo: &Repo, change: &Change, findings: Vec<Finding>) -> Decision {
    let mut resolved: Vec<Resolution> = Vec::new();
    let mut candidates = Vec::new();
    let mut blocked = Vec::new();
    for f in findings {
        match f {
            Finding::Resolved(r) => {
                let mut keys: Vec<_> = r.sites.iter().map(site_key).collect();
                keys.sort();
                let dup = resolved.iter().any(|x| {
                    let mut k: Vec<_> = x.sites.iter().map(site_key).collect();
                    k.sort();
                    k == keys
                });
                if !dup {
                    resolved.push(r);
                }
            }
            Finding::Candidate(c) => {
                if !candidates.contains(&c) {
                    candidates.push(c);
                }
            }
            Finding::Blocked(b) => blocked.push(b),
        }
    }
    let t = &change.target;
    let what = format!("{} {} on cluster {}", t.kind.as_str(), t.name, t.cluster);
    if resolved.len() == 1 && candidates.is_empty() {
        return Decision::Resolved(resolved.remove(0));
    }
    if resolved.len() + candidates.len() > 1 || !candidates.is_empty() {
        let mut all: Vec<Candidate> = resolved.iter().map(|r| first_line(repo, r)).collect();
        all.extend(candidates);
        let why = format!(
            "{} places could control {what} and nothing in the repository decides between them",
            all.len()
        );
        return Decision::Ambiguous(all, why);
    }
    if !blocked.is_empty() {
        return Decision::NotFound(blocked.join("; "));
    }
    Decision::NotFound(format!("nothing in the repository defines {what}"))
}

#[cfg(test)]
mod tests;
