//! Live input for `analyze`: usage history from Prometheus, the EC2 inventory from AWS, and the
//! constructor of the AWS executor for commands that apply plans.

use std::io::Write;

use cloudoptim_core::Cluster;
#[cfg(feature = "aws")]
use cloudoptim_core::adapters::aws::{AwsExecutor, AwsExecutorConfig, AwsSource, InventoryOptions};

/// What to read live.
#[derive(Debug, Clone)]
#[cfg_attr(not(all(feature = "prometheus", feature = "aws")), allow(dead_code))]
pub(crate) struct LiveInput {
    /// Prometheus base URL.
    pub prometheus: Option<String>,
    /// Days of history.
    pub days: u32,
    /// Per-request timeout in seconds.
    pub prometheus_timeout: u64,
    /// `Some(region)` to read the EC2 inventory (`Some(None)`: the chain's region).
    pub aws_region: Option<Option<String>>,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Reads the live sources into `cluster`, printing progress on `err`.
pub(crate) fn read(
    input: &LiveInput,
    cluster: &mut Cluster,
    err: &mut dyn Write,
) -> Result<(), String> {
    let rt = runtime()?;
    #[cfg(feature = "prometheus")]
    if let Some(url) = &input.prometheus {
        use cloudoptim_core::adapters::prometheus::{self, Progress, PromConfig};
        use std::sync::Arc;
        use std::time::Duration;
        let cfg = PromConfig::new(url.clone())
            .with_days(input.days)
            .with_timeout(Duration::from_secs(input.prometheus_timeout.max(1)));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let progress: Arc<dyn Fn(Progress) + Send + Sync> = Arc::new(move |p| {
            let _ = tx.send(p);
        });
        let usage = rt.block_on(async {
            let fetch = prometheus::fetch_usage(&cfg, progress);
            tokio::pin!(fetch);
            let mut shown = 0usize;
            // One line per tenth, and the last one.
            let mut show = |p: Progress, err: &mut dyn Write| {
                let tenth = p.done * 10 / p.total.max(1);
                if tenth > shown || p.done == p.total {
                    shown = tenth;
                    let _ = writeln!(
                        err,
                        "prometheus: {}/{} queries ({})",
                        p.done, p.total, p.label
                    );
                }
            };
            let r = loop {
                tokio::select! {
                    biased;
                    Some(p) = rx.recv() => show(p, err),
                    r = &mut fetch => break r,
                }
            };
            // Progress sent just before the fetch ended.
            while let Ok(p) = rx.try_recv() {
                show(p, err);
            }
            r
        });
        let usage = usage.map_err(|e| e.to_string())?;
        let _ = writeln!(
            err,
            "prometheus: {} containers, {} days",
            usage.containers.len(),
            input.days
        );
        cluster.usage.merge(usage);
    }
    #[cfg(feature = "aws")]
    if let Some(region) = &input.aws_region {
        let inv = rt.block_on(async {
            let src = AwsSource::from_env(region.as_deref(), None).await;
            src.inventory(&InventoryOptions::default()).await
        });
        let inv = inv.map_err(|e| e.to_string())?;
        let _ = writeln!(
            err,
            "aws: {} instances, {} volumes, {} spot prices",
            inv.instances.len(),
            inv.volumes.len(),
            inv.spot_prices.len()
        );
        cluster.aws.instances.extend(inv.instances);
        cluster.aws.volumes.extend(inv.volumes);
        cluster.aws.spot_prices.extend(inv.spot_prices);
    }
    let _ = (&rt, &mut *cluster, &mut *err);
    Ok(())
}

#[cfg(feature = "aws")]
/// The AWS executor for commands that apply plans: the standard AWS chain, `region` when
/// given; dry run unless `dry_run` is false; destructive actions only when `confirmed`.
pub fn aws_executor(
    region: Option<&str>,
    cfg: AwsExecutorConfig,
) -> Result<(tokio::runtime::Runtime, AwsExecutor), String> {
    let rt = runtime()?;
    let exec = rt.block_on(AwsExecutor::from_env(region, cfg));
    Ok((rt, exec))
}
