//! I/O adapters at the edge, each behind its cargo feature (all off by default in this crate,
//! on in the CLI and the bindings): the Kubernetes API (`kube`), Prometheus (`prometheus`),
//! EC2 (`aws`), SQS (`sqs`). Everything they read is turned into the same model the offline
//! loaders build, and everything they change goes through an [`crate::executor::Executor`].

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "kube")]
pub mod kube;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod retry;
#[cfg(feature = "sqs")]
pub mod sqs;

/// A current-thread Tokio runtime with I/O and timers, for callers without one (the CLI).
#[cfg(any(
    feature = "kube",
    feature = "sqs",
    feature = "aws",
    feature = "prometheus"
))]
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs a future to completion on a fresh [`runtime`], for synchronous callers.
#[cfg(any(
    feature = "kube",
    feature = "sqs",
    feature = "aws",
    feature = "prometheus"
))]
pub fn block_on<F: std::future::Future>(fut: F) -> std::io::Result<F::Output> {
    Ok(runtime()?.block_on(fut))
}

/// Installs ring as the process's TLS crypto provider unless one is installed already. The
/// Kubernetes and GitHub clients build their TLS from the process default, which rustls cannot
/// pick by itself when the AWS SDK (aws-lc-rs) is linked in the same program.
#[cfg(any(feature = "kube", feature = "github"))]
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // a concurrent install by another thread is just as good
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
