//! Live sources from Python, with the names of the command line: the Kubernetes API
//! (`kubeconfig=`, `context=`), usage history from Prometheus (`prometheus=`, `days=`) and the
//! EC2 inventory from AWS (`aws_live=True`, `region=`). Every call runs with the GIL released.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cloudoptim_core::Cluster;
use cloudoptim_core::adapters::aws::{AwsSource, InventoryOptions};
use cloudoptim_core::adapters::kube::{ConnectOptions, KubeSource};
use cloudoptim_core::adapters::prometheus::{self, Progress, PromConfig};
use cloudoptim_core::loader::{LoadOptions, Loaded};
use pyo3::prelude::*;

use super::LiveSourceError;

/// The Kubernetes API to read: a kubeconfig, its context, the per-request timeout.
pub(crate) struct KubeArgs {
    pub kubeconfig: PathBuf,
    pub context: Option<String>,
    pub request_timeout: u64,
}

/// What to add from live sources to a snapshot.
#[derive(Default, Clone)]
pub(crate) struct LiveArgs {
    /// Prometheus base URL.
    pub prometheus: Option<String>,
    /// Days of history.
    pub days: u32,
    /// Seconds per Prometheus request.
    pub prometheus_timeout: u64,
    /// `Some(region)` to read the EC2 inventory (`Some(None)`: the AWS chain's region).
    pub aws_region: Option<Option<String>>,
}

impl LiveArgs {
    /// Whether anything is to be read.
    pub fn any(&self) -> bool {
        self.prometheus.is_some() || self.aws_region.is_some()
    }
}

/// A live-source failure: its stable code and the message with every `source()` level.
pub(crate) struct LiveFailure {
    code: &'static str,
    message: String,
    causes: Vec<String>,
}

impl LiveFailure {
    fn new(code: &'static str, err: &(dyn std::error::Error + 'static)) -> Self {
        let causes = super::cause_chain(err);
        let mut message = err.to_string();
        for c in &causes {
            if !message.contains(c.as_str()) {
                message.push_str(&format!("\n  caused by: {c}"));
            }
        }
        LiveFailure {
            code,
            message,
            causes,
        }
    }

    fn runtime(e: std::io::Error) -> Self {
        LiveFailure::new("runtime", &e)
    }

    /// The Python exception: `LiveSourceError` with `code` and `causes`.
    pub fn into_py(self) -> PyErr {
        Python::attach(|py| {
            let err = LiveSourceError::new_err(self.message);
            let value = err.value(py);
            let set = || -> PyResult<()> {
                value.setattr("code", self.code)?;
                super::attach_causes(py, &err, self.code, self.causes)
            };
            match set() {
                Ok(()) => err,
                Err(e) => e,
            }
        })
    }
}

/// Either error of a live call.
pub(crate) enum Failure {
    /// A core error (the Kubernetes source, a loader error).
    Core(cloudoptim_core::Error),
    /// Prometheus, AWS or the async runtime.
    Live(LiveFailure),
}

impl Failure {
    /// The Python exception.
    pub fn into_py(self) -> PyErr {
        match self {
            Failure::Core(e) => super::to_py_err(e),
            Failure::Live(l) => l.into_py(),
        }
    }
}

impl From<cloudoptim_core::Error> for Failure {
    fn from(e: cloudoptim_core::Error) -> Self {
        Failure::Core(e)
    }
}

/// Reads a snapshot from the Kubernetes API (blocking; call with the GIL released).
pub(crate) fn load_kube(args: &KubeArgs, options: &LoadOptions) -> Result<Loaded, Failure> {
    let mut connect = ConnectOptions::default()
        .with_kubeconfig(&args.kubeconfig)
        .with_request_timeout(Duration::from_secs(args.request_timeout.max(1)));
    if let Some(c) = &args.context {
        connect = connect.with_context(c);
    }
    let options = options.clone();
    let loaded = cloudoptim_core::adapters::block_on(async move {
        let source = KubeSource::connect(connect, options).await?;
        source.load_snapshot().await
    })
    .map_err(|e| Failure::Live(LiveFailure::runtime(e)))??;
    Ok(loaded)
}

/// Adds usage history from Prometheus and the EC2 inventory from AWS to `cluster` (blocking;
/// call with the GIL released).
pub(crate) fn read(args: &LiveArgs, cluster: &mut Cluster) -> Result<(), Failure> {
    let rt =
        cloudoptim_core::adapters::runtime().map_err(|e| Failure::Live(LiveFailure::runtime(e)))?;
    if let Some(url) = &args.prometheus {
        let cfg = PromConfig::new(url.clone())
            .with_days(args.days)
            .with_timeout(Duration::from_secs(args.prometheus_timeout.max(1)));
        let progress: Arc<dyn Fn(Progress) + Send + Sync> = Arc::new(|_| {});
        let usage = rt
            .block_on(prometheus::fetch_usage(&cfg, progress))
            .map_err(|e| Failure::Live(LiveFailure::new(e.code(), &e)))?;
        cluster.usage.merge(usage);
    }
    if let Some(region) = &args.aws_region {
        let inventory = rt
            .block_on(async {
                let source = AwsSource::from_env(region.as_deref(), None).await;
                source.inventory(&InventoryOptions::default()).await
            })
            .map_err(|e| Failure::Live(LiveFailure::new(e.code(), &e)))?;
        cluster.aws.instances.extend(inventory.instances);
        cluster.aws.volumes.extend(inventory.volumes);
        cluster.aws.spot_prices.extend(inventory.spot_prices);
    }
    Ok(())
}
