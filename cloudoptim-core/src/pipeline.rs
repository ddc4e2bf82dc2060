//! One call from input paths to a report, shared by the command line and the bindings.

use std::path::{Path, PathBuf};

use crate::analyzers;
use crate::catalog::{PriceTable, SpotAdvisor};
use crate::cost::Pricing;
use crate::loader::{self, LoadError, LoadOptions, Loaded};
use crate::model::Cluster;
use crate::report::{AnalyzeOptions, Report};
use crate::{Error, Result};

/// Where prices come from, beyond the embedded defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PricingOptions {
    /// Region to price in (default: the nodes' region label, else us-east-1).
    pub region: Option<String>,
    /// CSV of on-demand prices (`instance_type,od_linux_usd_per_hour`) for that region.
    pub price_table: Option<PathBuf>,
    /// A Spot Advisor file to use instead of the embedded snapshot.
    pub spot_advisor: Option<PathBuf>,
}

impl PricingOptions {
    /// Sets the region.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the price table file.
    #[must_use]
    pub fn with_price_table(mut self, path: impl Into<PathBuf>) -> Self {
        self.price_table = Some(path.into());
        self
    }

    /// Sets the Spot Advisor file.
    #[must_use]
    pub fn with_spot_advisor(mut self, path: impl Into<PathBuf>) -> Self {
        self.spot_advisor = Some(path.into());
        self
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| {
        Error::Load(LoadError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Builds the prices for a cluster from the options.
pub fn pricing_for(cluster: &Cluster, options: &PricingOptions) -> Result<Pricing> {
    let region = options
        .region
        .clone()
        .or_else(|| cluster.region.clone())
        .unwrap_or_else(|| crate::catalog::EMBEDDED_PRICE_REGION.to_string());
    let mut pricing = Pricing::new(region.clone()).with_spot_history(&cluster.aws.spot_prices);
    if let Some(p) = &options.price_table {
        let text = read(p)?;
        pricing = pricing.with_price_table(PriceTable::from_csv(
            &region,
            &p.display().to_string(),
            &text,
        )?);
    }
    if let Some(p) = &options.spot_advisor {
        let text = read(p)?;
        pricing =
            pricing.with_spot_advisor(SpotAdvisor::from_json(&p.display().to_string(), &text)?);
    }
    Ok(pricing)
}

/// Loads a cluster dump plus optional AWS CLI output and Prometheus exports into one snapshot.
pub fn load_snapshot(
    cluster: &Path,
    aws: &[PathBuf],
    usage: &[PathBuf],
    options: &LoadOptions,
) -> Result<Loaded> {
    let mut loaded = loader::load_cluster_with(cluster, options)?;
    for p in aws {
        let inv = loader::load_aws(p)?;
        loaded.cluster.aws.instances.extend(inv.instances);
        loaded.cluster.aws.volumes.extend(inv.volumes);
        loaded.cluster.aws.spot_prices.extend(inv.spot_prices);
        loaded.files.push(p.clone());
    }
    for p in usage {
        loaded.cluster.usage.merge(loader::load_usage(p)?);
        loaded.files.push(p.clone());
    }
    Ok(loaded)
}

/// Analyzes a cluster with the given prices and analyzers (built-ins when `None`).
pub fn analyze_with(
    cluster: &Cluster,
    pricing: &PricingOptions,
    analyzer_names: Option<&[String]>,
) -> Result<Report> {
    analyze_filtered(
        cluster,
        pricing,
        analyzer_names,
        &crate::report::Filters::default(),
    )
}

/// Reads filters from a JSON or YAML file (`include_namespaces`, `exclude_namespaces`,
/// `exclude_workloads`, `exclude_node_groups`, `min_monthly_savings`).
pub fn filters_from_file(path: &Path) -> Result<crate::report::Filters> {
    let text = read(path)?;
    let v: serde_json::Value = serde_yaml_ng::from_str(&text).map_err(|e| {
        Error::Load(LoadError::Syntax {
            path: path.to_path_buf(),
            format: "YAML",
            line: e.location().map(|l| l.line()).unwrap_or(0),
            column: e.location().map(|l| l.column()).unwrap_or(0),
            message: e.to_string(),
        })
    })?;
    crate::loader::typed(path, "analysis settings", v).map_err(Error::Load)
}

/// Analyzes with filters applied to the findings.
pub fn analyze_filtered(
    cluster: &Cluster,
    pricing: &PricingOptions,
    analyzer_names: Option<&[String]>,
    filters: &crate::report::Filters,
) -> Result<Report> {
    let mut opts = AnalyzeOptions::default()
        .with_pricing(pricing_for(cluster, pricing)?)
        .with_filters(filters.clone());
    if let Some(names) = analyzer_names {
        opts = opts.with_analyzers(analyzers::by_names(names)?);
    }
    Ok(crate::report::analyze(cluster, opts)?)
}

/// Loads a snapshot given paths as strings (for the bindings): `aws` and `usage` may be empty.
pub fn load_snapshot_from_strings(
    cluster: &str,
    aws: &[String],
    usage: &[String],
    cluster_name: Option<String>,
) -> Result<Loaded> {
    let mut opts = LoadOptions::default();
    if let Some(n) = cluster_name {
        opts = opts.with_cluster_name(n);
    }
    let aws: Vec<PathBuf> = aws.iter().map(PathBuf::from).collect();
    let usage: Vec<PathBuf> = usage.iter().map(PathBuf::from).collect();
    load_snapshot(Path::new(cluster), &aws, &usage, &opts)
}

/// Looks an instance type up in the embedded catalog.
pub fn instance_type(name: &str) -> Result<crate::catalog::InstanceType> {
    Ok(crate::catalog::Catalog::embedded().require(name)?.clone())
}

/// The full text of an error for the bindings: its message, then each `source()` not already
/// part of it on its own `  caused by: …` line (the format of the command line's `error:` line).
pub fn error_message(err: &Error) -> String {
    let mut s = err.to_string();
    let mut src = std::error::Error::source(err);
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(&format!("\n  caused by: {t}"));
        }
        src = c.source();
    }
    s
}

/// Locates (and, unless `dry_run` or `locate_only`, patches) a change in a repository: the one
/// entry point of the IaC engine for the command line and the bindings. `change` is JSON: a
/// change object or a corpus `case.json`.
pub fn patch_repo(
    repo: &Path,
    change_json: &str,
    dry_run: bool,
    locate_only: bool,
) -> Result<crate::iac::PatchReport> {
    let change = crate::iac::Change::from_json(change_json)?;
    let engine = crate::iac::Engine::default();
    Ok(if locate_only {
        engine.locate(repo, &change)?
    } else {
        engine.patch(repo, &change, dry_run)?
    })
}

/// A consolidation plan for a cluster: `mode` is `remove` or `replace`, `allow_types` are
/// instance-type patterns for new nodes (empty: the families already in the cluster).
pub fn consolidate_cluster(
    cluster: &Cluster,
    pricing: &PricingOptions,
    mode: &str,
    allow_types: &[String],
) -> Result<crate::packing::Plan> {
    let mode = match mode {
        "remove" => crate::packing::Mode::Remove,
        "replace" => crate::packing::Mode::Replace,
        other => {
            return Err(Error::Packing(crate::packing::PackingError::Config(
                format!("mode must be remove or replace, not {other:?}"),
            )));
        }
    };
    let config = crate::packing::PackingConfig::default()
        .with_mode(mode)
        .with_allow_types(allow_types.to_vec());
    Ok(crate::packing::consolidate(
        cluster,
        &pricing_for(cluster, pricing)?,
        &config,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_appends_new_causes_only() {
        let e = Error::Load(LoadError::Io {
            path: PathBuf::from("/nope/cluster.json"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        });
        // the io error's text is already in the message: no `caused by` line
        assert_eq!(error_message(&e), "/nope/cluster.json: gone");
        let e = Error::Load(LoadError::Io {
            path: PathBuf::from("x"),
            source: std::io::Error::other(Wrapped(std::io::Error::other("root cause"))),
        });
        let m = error_message(&e);
        assert!(m.starts_with("x: wrapped"), "{m}");
        assert!(m.ends_with("\n  caused by: root cause"), "{m}");
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
