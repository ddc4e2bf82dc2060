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

use std::collections::HashMap;

use crate::cost::{ClusterCosts, NodeCost, Pricing};
use crate::model::{Cluster, Pod, Workload, WorkloadKind, WorkloadRef};
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
    /// Lookups by name over the snapshot and its costs, so analyzers stay linear in its size.
    pub index: &'a Index<'a>,
}

impl<'a> Context<'a> {
    /// A context; "now" is the newest timestamp in the snapshot (or the Unix epoch when it has
    /// none). `index` must be built from the same `cluster` and `costs`
    /// ([`Index::new`]).
    pub fn new(
        cluster: &'a Cluster,
        pricing: &'a Pricing,
        costs: &'a ClusterCosts,
        index: &'a Index<'a>,
    ) -> Context<'a> {
        Context {
            cluster,
            pricing,
            costs,
            now: snapshot_time(cluster),
            index,
        }
    }

    /// Active pods on a node, in snapshot order (what [`Cluster::pods_on`] returns, from the
    /// index).
    pub fn pods_on(&self, node: &str) -> impl Iterator<Item = &'a Pod> + use<'a> {
        let index: &'a Index<'a> = self.index;
        index.pods_on(node)
    }

    /// Workload by reference (what [`Cluster::workload`] returns, from the index).
    pub fn workload(&self, r: &WorkloadRef) -> Option<&'a Workload> {
        self.index.workload(r)
    }

    /// The cost of a node (what [`ClusterCosts::node`] returns, from the index).
    pub fn node_cost(&self, name: &str) -> Option<&'a NodeCost> {
        self.index.node_cost(name)
    }
}

/// Hash lookups over a snapshot and its costs: pods by node, workloads by reference, node costs
/// by name. Built once per analysis in linear time; the `Cluster` and `ClusterCosts` methods of
/// the same names scan lists, which is quadratic when called per node or per workload on a
/// 5,000-node cluster.
#[derive(Debug, Clone, Default)]
pub struct Index<'a> {
    pods_by_node: HashMap<&'a str, Vec<&'a Pod>>,
    workloads: HashMap<(WorkloadKind, &'a str, &'a str), &'a Workload>,
    node_costs: HashMap<&'a str, &'a NodeCost>,
}

impl<'a> Index<'a> {
    /// Indexes a snapshot and the costs computed from it.
    pub fn new(cluster: &'a Cluster, costs: &'a ClusterCosts) -> Index<'a> {
        let mut pods_by_node: HashMap<&str, Vec<&Pod>> = HashMap::new();
        for p in cluster.pods.iter().filter(|p| p.is_active()) {
            if let Some(n) = p.node_name.as_deref() {
                pods_by_node.entry(n).or_default().push(p);
            }
        }
        let mut workloads = HashMap::with_capacity(cluster.workloads.len());
        for w in &cluster.workloads {
            // the first of duplicates wins, as a scan would find it
            workloads
                .entry((w.kind, w.namespace.as_str(), w.name.as_str()))
                .or_insert(w);
        }
        let mut node_costs = HashMap::with_capacity(costs.nodes.len());
        for n in &costs.nodes {
            node_costs.entry(n.node.as_str()).or_insert(n);
        }
        Index {
            pods_by_node,
            workloads,
            node_costs,
        }
    }

    /// Active pods on a node, in snapshot order.
    pub fn pods_on<'s>(&'s self, node: &str) -> impl Iterator<Item = &'a Pod> + use<'s, 'a> {
        self.pods_by_node
            .get(node)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .copied()
    }

    /// Workload by reference.
    pub fn workload(&self, r: &WorkloadRef) -> Option<&'a Workload> {
        self.workloads
            .get(&(r.kind, r.namespace.as_str(), r.name.as_str()))
            .copied()
    }

    /// Cost of a node by name.
    pub fn node_cost(&self, name: &str) -> Option<&'a NodeCost> {
        self.node_costs.get(name).copied()
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
        let base = ctx.node_cost(node).map(|c| c.monthly()).unwrap_or(0.0);
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
