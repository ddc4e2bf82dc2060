//! Where a cluster snapshot comes from: a [`ClusterSource`] is either the offline loader
//! ([`PathSource`], `kubectl get … -o json` dumps) or a live API (the Kubernetes source in
//! `adapters::kube`, behind the `kube` cargo feature). Both build the same
//! [`crate::loader::Loaded`] through the same conversion code, so an analysis cannot tell a
//! dump from the live cluster it was taken from.

use std::path::{Path, PathBuf};

use crate::executor::BoxFuture;
use crate::loader::{self, LoadOptions, Loaded};

/// Errors of a live source (the offline source reports [`crate::loader::LoadError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The connection settings could not be used: no kubeconfig, an unknown context, an exec
    /// credential plugin that failed.
    #[error("connection settings: {message}")]
    Config {
        /// What is wrong.
        message: String,
    },
    /// The API rejected the credentials (401) or the permission (403).
    #[error(
        "{resource}: {status} {message} ({hint})",
        hint = if *status == 401 {
            "the credentials were rejected: an expired token or exec credential? refresh the kubeconfig and retry"
        } else {
            "missing permission: see docs/least-privilege.md for the ClusterRole"
        }
    )]
    Unauthorized {
        /// The resource or URL path.
        resource: String,
        /// 401 or 403.
        status: u16,
        /// The API's message.
        message: String,
    },
    /// The API answered with an error status (after the bounded retries for 429 and 5xx).
    #[error("{resource}: HTTP {status}: {message}")]
    Api {
        /// The resource or URL path.
        resource: String,
        /// HTTP status.
        status: u16,
        /// The API's message.
        message: String,
    },
    /// No answer within the timeout (after retries).
    #[error("{resource}: no answer within {seconds} s")]
    Timeout {
        /// The resource or URL path.
        resource: String,
        /// The timeout that passed.
        seconds: u64,
    },
    /// The request could not be sent (connection refused, TLS, DNS).
    #[error("{resource}: {message}")]
    Transport {
        /// The resource or URL path.
        resource: String,
        /// What failed.
        message: String,
    },
}

impl SourceError {
    /// Stable code: `source_config`, `unauthorized`, `forbidden`, `source_api`, `timeout`,
    /// `transport`.
    pub fn code(&self) -> &'static str {
        match self {
            SourceError::Config { .. } => "source_config",
            SourceError::Unauthorized { status: 401, .. } => "unauthorized",
            SourceError::Unauthorized { .. } => "forbidden",
            SourceError::Api { .. } => "source_api",
            SourceError::Timeout { .. } => "timeout",
            SourceError::Transport { .. } => "transport",
        }
    }
}

/// Something that yields a cluster snapshot: a dump on disk or a live API.
pub trait ClusterSource: Send + Sync {
    /// Where the snapshot comes from, for messages (`cluster.json`, `kube context prod`).
    fn describe(&self) -> String;

    /// Reads the snapshot.
    fn load(&self) -> BoxFuture<'_, crate::Result<Loaded>>;
}

/// The offline source: `kubectl get … -o json|yaml` output in a file or a folder.
#[derive(Debug, Clone)]
pub struct PathSource {
    path: PathBuf,
    options: LoadOptions,
}

impl PathSource {
    /// A source reading `path` with these options.
    pub fn new(path: impl AsRef<Path>, options: LoadOptions) -> Self {
        PathSource {
            path: path.as_ref().to_path_buf(),
            options,
        }
    }
}

impl ClusterSource for PathSource {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn load(&self) -> BoxFuture<'_, crate::Result<Loaded>> {
        Box::pin(async move { Ok(loader::load_cluster_with(&self.path, &self.options)?) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_source_is_the_loader() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.json");
        std::fs::write(
            &p,
            r#"{"kind":"NodeList","apiVersion":"v1","items":[{"metadata":{"name":"n1"}}]}"#,
        )
        .unwrap();
        let s = PathSource::new(&p, LoadOptions::default());
        let loaded = crate::executor::block_on(s.load()).unwrap();
        assert_eq!(loaded.cluster, crate::loader::load_cluster(&p).unwrap());
        assert_eq!(loaded.cluster.nodes[0].name, "n1");
        assert!(s.describe().ends_with("c.json"));
        let e = SourceError::Unauthorized {
            resource: "nodes".into(),
            status: 401,
            message: "Unauthorized".into(),
        };
        assert_eq!(e.code(), "unauthorized");
        assert!(e.to_string().contains("expired"), "{e}");
    }
}
