//! Scanning a repository: which files matter, read once, parsed on demand; unparsable files
//! become warnings and the rest of the repository still works.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hcl_edit::structure::Body;

use super::yaml::{self, Doc};
use super::{IacError, Result};

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `.tf`
    Terraform,
    /// `.tfvars`
    TfVars,
    /// `terragrunt.hcl` and other `.hcl` Terragrunt files.
    Terragrunt,
    /// YAML (values, manifests, eksctl, Argo CD, Flux, helmfile, kustomization).
    Yaml,
    /// A Helm template (Go-templated YAML or `.tpl`): read as text, never parsed as YAML.
    HelmTemplate,
}

/// One file of the repository.
#[derive(Debug, Clone)]
pub struct RepoFile {
    /// Path relative to the root, with `/`.
    pub rel: String,
    /// Kind.
    pub kind: FileKind,
    /// Contents.
    pub text: String,
}

/// A scanned repository.
#[derive(Debug, Default)]
pub struct Repo {
    /// Root folder.
    pub root: PathBuf,
    /// Files that matter, sorted by path.
    pub files: Vec<RepoFile>,
    // shared with edited copies, so verifying an edit re-parses only the edited files
    hcl: Vec<Arc<OnceLock<Option<Body>>>>,
    yaml: Vec<Arc<OnceLock<Option<Vec<Doc>>>>>,
    warnings: Mutex<Vec<String>>,
}

const SKIP_DIRS: &[&str] = &[
    ".git",
    ".terraform",
    ".terragrunt-cache",
    "node_modules",
    "vendor",
    ".venv",
];
const MAX_FILE: u64 = 4 * 1024 * 1024;

fn kind_of(rel: &str, chart_dirs: &HashSet<String>) -> Option<FileKind> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    if name.ends_with(".tf") {
        return Some(FileKind::Terraform);
    }
    if name.ends_with(".tfvars") {
        return Some(FileKind::TfVars);
    }
    // `.terraform.lock.hcl` is Terraform's provider lock file: it never sets a value
    if name.ends_with(".hcl") && name != ".terraform.lock.hcl" {
        return Some(FileKind::Terragrunt);
    }
    // `<chart>/templates/…`, or `templates/…` for a chart at the root: one set lookup per
    // `templates/` in the path, not one string per chart
    let in_templates = rel.match_indices("templates/").any(|(i, _)| {
        if i == 0 {
            chart_dirs.contains("")
        } else {
            rel.as_bytes()[i - 1] == b'/' && chart_dirs.contains(&rel[..i - 1])
        }
    });
    if in_templates && (name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".tpl"))
    {
        return Some(FileKind::HelmTemplate);
    }
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        return Some(FileKind::Yaml);
    }
    None
}

impl Repo {
    /// Scans a folder: respects `.gitignore`, skips `.git`, `.terraform`, vendored and cache
    /// folders, and never follows a symbolic link (a link inside the tree is skipped with a
    /// warning; nothing outside the tree is read).
    pub fn scan(root: &Path) -> Result<Repo> {
        let root_c = std::fs::canonicalize(root).map_err(|source| IacError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        if !root_c.is_dir() {
            return Err(IacError::NotADirectory(root.to_path_buf()));
        }
        let mut warnings = Vec::new();
        let mut paths: Vec<(String, PathBuf)> = Vec::new();
        let walker = ignore::WalkBuilder::new(&root_c)
            .hidden(false)
            .git_ignore(true)
            .git_exclude(true)
            .require_git(false)
            .follow_links(false)
            .filter_entry(|e| {
                !(e.file_type().is_some_and(|t| t.is_dir())
                    && SKIP_DIRS.contains(&e.file_name().to_string_lossy().as_ref()))
            })
            .build();
        for entry in walker {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.push(format!("skipped: {e}"));
                    continue;
                }
            };
            let Some(ft) = entry.file_type() else {
                continue;
            };
            let Ok(rel) = entry.path().strip_prefix(&root_c) else {
                continue;
            };
            let rel = rel.to_string_lossy().replace('\\', "/");
            if ft.is_symlink() {
                warnings.push(format!("{rel}: symbolic link not followed"));
                continue;
            }
            if ft.is_file() {
                paths.push((rel, entry.path().to_path_buf()));
            }
        }
        paths.sort();
        let chart_dirs: HashSet<String> = paths
            .iter()
            .filter_map(|(rel, _)| {
                if rel == "Chart.yaml" {
                    Some(String::new())
                } else {
                    rel.strip_suffix("/Chart.yaml").map(str::to_string)
                }
            })
            .collect();
        let mut files = Vec::new();
        for (rel, path) in paths {
            let Some(kind) = kind_of(&rel, &chart_dirs) else {
                continue;
            };
            let meta = std::fs::symlink_metadata(&path).map_err(|source| IacError::Io {
                path: path.clone(),
                source,
            })?;
            if meta.len() > MAX_FILE {
                warnings.push(format!("{rel}: larger than 4 MiB, skipped"));
                continue;
            }
            match std::fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => files.push(RepoFile { rel, kind, text }),
                    Err(_) => warnings.push(format!("{rel}: not UTF-8, skipped")),
                },
                Err(e) => warnings.push(format!("{rel}: {e}")),
            }
        }
        Ok(Repo::from_files(root_c, files, warnings))
    }

    /// A repository from files already in memory (used to verify an edit).
    pub fn from_files(root: PathBuf, files: Vec<RepoFile>, warnings: Vec<String>) -> Repo {
        let n = files.len();
        Repo {
            root,
            files,
            hcl: (0..n).map(|_| Arc::new(OnceLock::new())).collect(),
            yaml: (0..n).map(|_| Arc::new(OnceLock::new())).collect(),
            warnings: Mutex::new(warnings),
        }
    }

    /// A copy with some files' text replaced.
    pub fn with_replaced(&self, replaced: &[(usize, String)]) -> Repo {
        let mut files = self.files.clone();
        let mut hcl = self.hcl.clone();
        let mut yaml = self.yaml.clone();
        for (i, t) in replaced {
            files[*i].text = t.clone();
            hcl[*i] = Arc::new(OnceLock::new());
            yaml[*i] = Arc::new(OnceLock::new());
        }
        Repo {
            root: self.root.clone(),
            files,
            hcl,
            yaml,
            warnings: Mutex::new(vec![]),
        }
    }

    /// Parses every Terraform file on all cores (the parse is cached), before the locators read them.
    pub fn prefetch_hcl(&self) {
        let idx: Vec<usize> = (0..self.files.len())
            .filter(|&i| {
                matches!(
                    self.files[i].kind,
                    FileKind::Terraform | FileKind::TfVars | FileKind::Terragrunt
                )
            })
            .collect();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(8);
        if threads < 2 || idx.len() < 64 {
            return;
        }
        std::thread::scope(|s| {
            for t in 0..threads {
                let idx = &idx;
                s.spawn(move || {
                    for &i in idx.iter().skip(t).step_by(threads) {
                        let _ = self.hcl(i);
                    }
                });
            }
        });
    }

    /// Warnings so far (unparsable files, skipped links).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    pub(crate) fn warn(&self, w: String) {
        if let Ok(mut ws) = self.warnings.lock()
            && !ws.contains(&w)
        {
            ws.push(w);
        }
    }

    /// The parsed HCL body of a file, or `None` (with a warning) when it does not parse.
    pub fn hcl(&self, i: usize) -> Option<&Body> {
        let f = self.files.get(i)?;
        if !matches!(
            f.kind,
            FileKind::Terraform | FileKind::TfVars | FileKind::Terragrunt
        ) {
            return None;
        }
        self.hcl[i]
            .get_or_init(|| match super::terraform::parse_hcl(&f.text) {
                Ok(b) => Some(b),
                Err(e) => {
                    self.warn(format!(
                        "{}: not valid HCL, skipped: {}",
                        f.rel,
                        e.lines().next().unwrap_or("")
                    ));
                    None
                }
            })
            .as_ref()
    }

    /// The parsed YAML documents of a file, or `None` (with a warning) when it does not parse.
    pub fn yaml(&self, i: usize) -> Option<&[Doc]> {
        let f = self.files.get(i)?;
        if f.kind != FileKind::Yaml {
            return None;
        }
        self.yaml[i]
            .get_or_init(|| match yaml::parse(&f.text) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.warn(format!("{}: not valid YAML, skipped: {e}", f.rel));
                    None
                }
            })
            .as_deref()
    }

    /// Index of a file by relative path.
    pub fn find(&self, rel: &str) -> Option<usize> {
        self.files
            .binary_search_by(|f| f.rel.as_str().cmp(rel))
            .ok()
    }
}
