//! I/O adapters at the edge, each behind its cargo feature (all off by default in this crate,
//! on in the CLI and the bindings): the Kubernetes API (`kube`), Prometheus (`prometheus`),
//! EC2 (`aws`), SQS (`sqs`). Everything they read is turned into the same model the offline
//! loaders build, and everything they change goes through an [`crate::executor::Executor`].

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub mod retry;
