//! Analyzers: each reads a cluster snapshot with its prices and costs and returns
//! [`Recommendation`]s. Callers can add their own by implementing [`Analyzer`].

mod cross_az;
mod empty_nodes;
mod ghost_instances;
mod node_rightsizing;
mod office_hours;
mod oom;
mod rightsizing;
mod spot_migration;
pub mod strategy;
mod zombie_volumes;

pub use cross_az::{CROSS_AZ_USD_PER_GB_EACH_WAY, CrossAzTraffic};
pub use empty_nodes::EmptyNodes;
pub use ghost_instances::GhostInstances;
pub use node_rightsizing::{NodeRightsizing, NodeRightsizingConfig};
pub use office_hours::{OfficeHours, OfficeHoursConfig, OfficeHoursOutput};
pub use oom::OomRemediation;
pub use rightsizing::{Buffer, LimitsPolicy, RightsizingConfig, WorkloadRightsizing};
pub use spot_migration::{SpotMigration, SpotMigrationConfig, spot_blocker};
pub use strategy::{
    Histogram, PercentileStrategy, RightsizingStrategy, VpaStrategy, strategy_by_name,
};
pub use zombie_volumes::ZombieVolumes;

use jiff::Timestamp;

use crate::cost::{ClusterCosts, Pricing};
use crate::model::Cluster;
use crate::recommend::Recommendation;

/// Why an analyzer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyzeError {
    /// No analyzer has that name.
    #[error("unknown analyzer {name:?}; known: {known}")]
    UnknownAnalyzer {
        /// The requested name.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// An analyzer's configuration is invalid.
    #[error("analyzer {analyzer}: invalid configuration: {message}")]
    Config {
        /// Analyzer name.
        analyzer: String,
        /// What is wrong.
        message: String,
    },
    /// An analyzer supplied by the caller failed.
    #[error("analyzer {analyzer} failed: {message}")]
    Failed {
        /// Analyzer name.
        analyzer: String,
        /// Its message.
        message: String,
    },
}

/// Result alias for analyzers.
pub type Result<T, E = AnalyzeError> = std::result::Result<T, E>;

/// What an analyzer reads.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The snapshot.
    pub cluster: &'a Cluster,
    /// Prices.
    pub pricing: &'a Pricing,
    /// Costs computed from them.
    pub costs: &'a ClusterCosts,
    /// "Now", for ages and grace periods: the newest timestamp in the snapshot, so results do not
    /// drift with the wall clock.
    pub now: Timestamp,
}

impl<'a> Context<'a> {
    /// A context; "now" is the newest timestamp in the snapshot (or the Unix epoch when it has none).
    pub fn new(cluster: &'a Cluster, pricing: &'a Pricing, costs: &'a ClusterCosts) -> Context<'a> {
        Context {
            cluster,
            pricing,
            costs,
            now: snapshot_time(cluster),
        }
    }
}

/// The newest timestamp found in a snapshot: creation and launch times, metrics, usage.
pub fn snapshot_time(c: &Cluster) -> Timestamp {
    let mut t = Timestamp::UNIX_EPOCH;
    let mut see = |x: Option<Timestamp>| {
        if let Some(x) = x
            && x > t
        {
            t = x;
        }
    };
    for n in &c.nodes {
        see(n.created);
    }
    for p in &c.pods {
        see(p.created);
    }
    for i in &c.aws.instances {
        see(i.launch_time);
    }
    for v in &c.aws.volumes {
        see(v.create_time);
    }
    for r in c
        .metrics
        .nodes
        .values()
        .chain(c.metrics.containers.values())
    {
        see(r.timestamp);
    }
    for u in c.usage.containers.values() {
        for s in u.cpu.last().into_iter().chain(u.memory.last()) {
            see(Timestamp::from_second(s.0).ok());
        }
    }
    t
}

/// An analyzer.
pub trait Analyzer: Send + Sync {
    /// Its name (`zombie-volumes`, …), used to select it.
    fn name(&self) -> &str;
    /// One line on what it finds.
    fn description(&self) -> &str;
    /// Runs it.
    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>>;
    /// Things the reader should know that are not recommendations ("insufficient data for …").
    fn notes(&self, ctx: &Context<'_>) -> Vec<String> {
        let _ = ctx;
        vec![]
    }
}

/// The built-in analyzers, in the order they run.
pub fn builtin() -> Vec<Box<dyn Analyzer>> {
    vec![
        Box::new(WorkloadRightsizing::default()),
        Box::new(OomRemediation::default()),
        Box::new(NodeRightsizing::default()),
        Box::new(OfficeHours::default()),
        Box::new(EmptyNodes),
        Box::new(ZombieVolumes::default()),
        Box::new(GhostInstances::default()),
        Box::new(CrossAzTraffic::default()),
        Box::new(SpotMigration::default()),
    ]
}

/// Names of the built-in analyzers.
pub fn builtin_names() -> Vec<String> {
    builtin().iter().map(|a| a.name().to_string()).collect()
}

/// The built-in analyzers with the given names, in the given order.
pub fn by_names(names: &[String]) -> Result<Vec<Box<dyn Analyzer>>> {
    let mut all = builtin();
    let mut out = Vec::new();
    for n in names {
        let pos = all.iter().position(|a| a.name() == n).ok_or_else(|| {
            AnalyzeError::UnknownAnalyzer {
                name: n.clone(),
                known: builtin_names().join(", "),
            }
        })?;
        out.push(all.remove(pos));
    }
    Ok(out)
}

/// Claims a saving where it is realised: on the nodes the workload's pods run on. Every
/// workload-level change (requests, office hours, OOM fixes) saves or costs node capacity, so its
/// claims land on the same `node:` resources as node removal and node rightsizing, and combine
/// with them instead of adding on top. `per_node` holds monthly USD per node name.
pub(crate) fn claim_on_nodes(
    mut r: Recommendation,
    ctx: &Context<'_>,
    per_node: &std::collections::BTreeMap<String, f64>,
) -> Recommendation {
    let mut unclaimed = 0.0;
    for (node, monthly) in per_node {
        let base = ctx.costs.node(node).map(|c| c.monthly()).unwrap_or(0.0);
        if base > 0.0 {
            r = r.with_claim(format!("node:{node}"), base, monthly / base);
        } else {
            unclaimed += monthly;
        }
    }
    if r.savings_claims.is_empty() {
        r.monthly_savings_usd = crate::recommend::round_cents(unclaimed);
    }
    r
}

pub(crate) fn fmt_usd(v: f64) -> String {
    format!("${v:.2}")
}
