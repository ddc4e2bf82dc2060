//! Loaders for what users already have: `kubectl get … -o json|yaml` dumps (a `List`, a typed
//! list, single objects, multi-document YAML, one file or a folder, `kubectl cluster-info dump`
//! output), metrics.k8s.io lists, kubelet `/stats/summary`, the AWS CLI's JSON for
//! `ec2 describe-instances`, `describe-volumes` and `describe-spot-price-history`, and
//! Prometheus `query_range` responses.
//!
//! Every document is classified by its shape, so one folder may mix them. Loading is
//! all-or-nothing: the first malformed object fails the whole load with an error that names the
//! file, the object (`Kind namespace/name`) and the field path.

mod convert;
mod traffic;
pub(crate) mod wire;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::model::{AwsInventory, Cluster, UsageHistory};

pub use convert::parse_go_duration_seconds;
pub use traffic::{DEFAULT_WINDOW_SECONDS, load_traffic};

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file or folder could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or YAML.
    #[error("{path}: malformed {format} at line {line}, column {column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// An object has a field with a wrong type or value.
    #[error("{path}: {object}: field `{field}`: {message}")]
    Field {
        /// The file.
        path: PathBuf,
        /// The object, as `Kind namespace/name` (or its position when it has no name).
        object: String,
        /// The field path, such as `spec.containers[0].resources.requests.cpu`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A document is none of the formats cloudoptim reads.
    #[error("{path}: {message}")]
    Unrecognized {
        /// The file.
        path: PathBuf,
        /// What was found.
        message: String,
    },
    /// A symbolic link points outside the folder being loaded.
    #[error("{path}: symbolic link points outside {root} (to {target}); refusing to follow it")]
    SymlinkOutsideTree {
        /// The link.
        path: PathBuf,
        /// The folder being loaded.
        root: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
    /// Nothing loadable was found.
    #[error("{path}: no Kubernetes, AWS or metrics documents found")]
    Empty {
        /// The path.
        path: PathBuf,
    },
}

/// Result alias for loaders.
pub type Result<T, E = LoadError> = std::result::Result<T, E>;

/// Options for [`load_cluster_with`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LoadOptions {
    /// Cluster name to use instead of the inferred one.
    pub cluster_name: Option<String>,
}

impl LoadOptions {
    /// Sets the cluster name.
    #[must_use]
    pub fn with_cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = Some(name.into());
        self
    }
}

/// What a load produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Loaded {
    /// The cluster snapshot.
    pub cluster: Cluster,
    /// Files read.
    pub files: Vec<PathBuf>,
    /// Objects of kinds cloudoptim does not use, by kind, skipped.
    pub skipped: BTreeMap<String, usize>,
    /// Non-fatal oddities (unparsable timestamps, say), each naming file, object and field.
    pub warnings: Vec<String>,
}

/// Loads a cluster snapshot from a file or a folder.
pub fn load_cluster(path: impl AsRef<Path>) -> Result<Cluster> {
    Ok(load_cluster_with(path, &LoadOptions::default())?.cluster)
}

/// Loads a cluster snapshot from a file or folder, with options, returning the details.
pub fn load_cluster_with(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Loaded> {
    let path = path.as_ref();
    let mut b = convert::Builder::default();
    let files = read_into(path, &mut b)?;
    if b.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    let default_name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cluster".into());
    let (cluster, skipped, warnings) = b.finish(options.cluster_name.clone(), default_name);
    Ok(Loaded {
        cluster,
        files,
        skipped,
        warnings,
    })
}

/// Builds a cluster snapshot from documents already parsed (API list responses, say), through
/// the same classification and conversion as [`load_cluster_with`]. Each document comes with
/// the path that stands for its file in error messages (a URL for a live source);
/// `default_name` names the cluster when neither `options` nor the nodes' labels do.
pub fn load_documents(
    docs: impl IntoIterator<Item = (PathBuf, Value)>,
    default_name: &str,
    options: &LoadOptions,
) -> Result<Loaded> {
    let mut b = convert::Builder::default();
    for (idx, (origin, doc)) in docs.into_iter().enumerate() {
        b.add_document(&origin, idx, doc)?;
    }
    let (cluster, skipped, warnings) =
        b.finish(options.cluster_name.clone(), default_name.to_string());
    Ok(Loaded {
        cluster,
        files: vec![],
        skipped,
        warnings,
    })
}

/// Loads AWS CLI output (`describe-instances`, `describe-volumes`,
/// `describe-spot-price-history`) from a file or a folder.
pub fn load_aws(path: impl AsRef<Path>) -> Result<AwsInventory> {
    let path = path.as_ref();
    let mut b = convert::Builder::default();
    read_into(path, &mut b)?;
    if b.aws.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(b.aws)
}

/// Loads usage history from Prometheus `query_range` responses (a file or a folder).
///
/// Each response is CPU usage in cores (a `rate(container_cpu_usage_seconds_total[…])`) or
/// memory in bytes (`container_memory_working_set_bytes`). Which one is decided by the
/// `__name__` label when present, else by the file name containing `cpu` or `mem`.
pub fn load_usage(path: impl AsRef<Path>) -> Result<UsageHistory> {
    let path = path.as_ref();
    let mut b = convert::Builder::default();
    read_into(path, &mut b)?;
    if b.usage.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(b.usage)
}

/// Feeds documents that a live source fetched (a Prometheus `query_range` response, AWS API
/// output in the AWS CLI's JSON shape) through the same conversion as files, so live and
/// offline input give the same model. `source` stands in for the file name in errors (and, for
/// Prometheus, tells CPU from memory like a file name would).
#[cfg_attr(not(any(feature = "prometheus", feature = "aws")), allow(dead_code))]
pub(crate) fn from_documents(
    source: &Path,
    docs: impl IntoIterator<Item = Value>,
) -> Result<(AwsInventory, UsageHistory)> {
    let mut b = convert::Builder::default();
    for (idx, doc) in docs.into_iter().enumerate() {
        b.add_document(source, idx, doc)?;
    }
    Ok((b.aws, b.usage))
}

fn read_into(path: &Path, b: &mut convert::Builder) -> Result<Vec<PathBuf>> {
    let meta = fs::metadata(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let files = if meta.is_dir() {
        let mut files = Vec::new();
        collect_files(path, path, &mut files)?;
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    for f in &files {
        let text = fs::read_to_string(f).map_err(|source| LoadError::Io {
            path: f.clone(),
            source,
        })?;
        let is_json = f.extension().and_then(|e| e.to_str()) == Some("json");
        if is_json && b.try_add_prometheus_text(f, &text)? {
            continue;
        }
        for (idx, doc) in parse_documents(f, &text)?.into_iter().enumerate() {
            b.add_document(f, idx, doc)?;
        }
    }
    Ok(files)
}

fn is_data_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("json" | "yaml" | "yml")
    )
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LoadError::Io { path, source }
    };
    let canonical_root = fs::canonicalize(root).map_err(io(root))?;
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(io(&p))?;
        if ft.is_symlink() {
            let target = fs::canonicalize(&p).map_err(io(&p))?;
            if !target.starts_with(&canonical_root) {
                return Err(LoadError::SymlinkOutsideTree {
                    path: p,
                    root: root.to_path_buf(),
                    target,
                });
            }
            if target.is_dir() {
                continue; // a link back into the tree: its files are read where they live
            }
            if is_data_file(&p) {
                out.push(p);
            }
        } else if ft.is_dir() {
            collect_files(root, &p, out)?;
        } else if is_data_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Splits a file into documents: JSON (one value, or several concatenated as
/// `kubectl cluster-info dump` writes them) or YAML (one or more `---` documents).
fn parse_documents(path: &Path, text: &str) -> Result<Vec<Value>> {
    let is_yaml = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    );
    let trimmed = text.trim_start();
    if !is_yaml || trimmed.starts_with('{') || trimmed.starts_with('[') {
        let cleaned;
        let body = if text.contains("==== START logs for") {
            cleaned = strip_dump_logs(text);
            cleaned.as_str()
        } else {
            text
        };
        let mut docs = Vec::new();
        let stream = serde_json::Deserializer::from_str(body).into_iter::<Value>();
        for v in stream {
            match v {
                Ok(v) => docs.push(v),
                Err(e) => {
                    return Err(LoadError::Syntax {
                        path: path.to_path_buf(),
                        format: "JSON",
                        line: e.line(),
                        column: e.column(),
                        message: e.to_string(),
                    });
                }
            }
        }
        return Ok(docs);
    }
    let mut docs = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        let v: std::result::Result<Option<Value>, _> = serde::Deserialize::deserialize(de);
        match v {
            Ok(Some(v)) => docs.push(v),
            Ok(None) => {}
            Err(e) => {
                let (line, column) = e
                    .location()
                    .map(|l| (l.line(), l.column()))
                    .unwrap_or((0, 0));
                return Err(LoadError::Syntax {
                    path: path.to_path_buf(),
                    format: "YAML",
                    line,
                    column,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(docs)
}

/// Removes the container log blocks that `kubectl cluster-info dump` writes between its lists.
fn strip_dump_logs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_logs = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with("==== START logs for") {
            in_logs = true;
            continue;
        }
        if line.starts_with("==== END logs for") {
            in_logs = false;
            continue;
        }
        if !in_logs {
            out.push_str(line);
        }
    }
    out
}

/// Deserialises `value` into `T`, turning a failure into a [`LoadError::Field`] naming the
/// file, the object and the field path.
pub fn typed<T: DeserializeOwned>(path: &Path, object: &str, value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        LoadError::Field {
            path: path.to_path_buf(),
            object: object.to_string(),
            field: if field == "." { "(root)".into() } else { field },
            message: e.into_inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests;
