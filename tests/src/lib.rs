//! Helpers shared by cloudoptim's integration tests: where the public test data lives, and
//! (as adapters land) the fakes of the Kubernetes and GitHub APIs, and local servers: moto
//! ([`moto`]) and Prometheus ([`prometheus`]), started by the tests themselves.
#![deny(missing_docs)]

pub mod moto;
pub mod prometheus;
pub mod service;

use std::path::PathBuf;

pub mod fake_github;
pub mod fake_kube;

/// The folder of public test data (`shared/data`): `$CLOUDOPTIM_SHARED_DATA`, else
/// `../shared/data` beside the repository. Panics with a clear message when it is missing, so
/// a run without the data fails instead of silently testing nothing.
pub fn shared_data() -> PathBuf {
    let p = std::env::var_os("CLOUDOPTIM_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    assert!(
        p.join("PROVENANCE.md").is_file(),
        "public test data not found at {} (set CLOUDOPTIM_SHARED_DATA)",
        p.display()
    );
    p
}

/// A file in the shared data folder.
pub fn data(rel: &str) -> PathBuf {
    shared_data().join(rel)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
