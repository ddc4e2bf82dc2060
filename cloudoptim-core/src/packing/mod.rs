//! Bin packing and consolidation: which nodes can go, and the cheapest set of nodes the
//! cluster's pods fit on, with every scheduling constraint honoured and the LP lower bound
//! reported beside every plan.
//!
//! - [`Problem`] is built from a [`Cluster`]: nodes with their allocatable minus DaemonSet
//!   overhead, pods with their constraints and whether they may move (as cluster-autoscaler and
//!   Karpenter decide it), and offers (instance type × zone × capacity type × node group
//!   template) for new nodes, priced from the catalog.
//! - A [`Solver`] turns it into a [`Plan`]. The built-in [`GreedySolver`] runs `remove` (delete
//!   nodes whose pods fit elsewhere, empty nodes first) or `replace` (re-pack every movable pod
//!   onto kept nodes plus the cheapest new nodes: LP-priced best-fit-decreasing construction,
//!   then local search; when pods fall into few classes, a second plan from the configuration
//!   LP's patterns, whose column generation also tightens the lower bound).

mod anneal;
mod colgen;
mod model;
mod solve;

pub use model::{Blocker, Offer, PNode, PPod, Problem, type_matches};
pub use solve::GreedySolver;

use serde::{Deserialize, Serialize};

use crate::cost::Pricing;
use crate::model::Cluster;

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackingError {
    /// The configuration is invalid.
    #[error("invalid consolidation settings: {0}")]
    Config(String),
    /// The LP solver failed.
    #[error("lower bound: {0}")]
    Lp(String),
}

/// Result alias for packing.
pub type Result<T, E = PackingError> = std::result::Result<T, E>;

/// Which plan to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Mode {
    /// Remove nodes whose pods fit on the others.
    Remove,
    /// Re-pack onto kept nodes plus the cheapest new nodes.
    Replace,
}

/// Consolidation settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PackingConfig {
    /// Mode.
    pub mode: Mode,
    /// Instance types allowed for new nodes, as patterns (`m5.*`, `m6i.*`, `c6g.large`);
    /// empty: the families already in the cluster.
    pub allow_types: Vec<String>,
    /// Architectures allowed for new nodes (empty: those already in the cluster).
    pub allow_arch: Vec<String>,
    /// Capacity types allowed for new nodes (`on-demand`, `spot`); empty: as each group has.
    pub capacity_types: Vec<String>,
    /// Minimum number of nodes after the plan.
    pub min_nodes: usize,
    /// Let kube-system pods without a PDB move (cluster-autoscaler's
    /// `--skip-nodes-with-system-pods=false`).
    pub allow_kube_system: bool,
    /// Balanced gate: approve a step when (saving share) / (disruption share) ≥ 1/k.
    /// Karpenter's default k is 2; 0 approves everything.
    pub balanced_k: f64,
    /// Local-search passes after construction (0: construction only).
    pub improve_passes: usize,
}

impl Default for PackingConfig {
    fn default() -> Self {
        PackingConfig {
            mode: Mode::Replace,
            allow_types: vec![],
            allow_arch: vec![],
            capacity_types: vec![],
            min_nodes: 0,
            allow_kube_system: false,
            balanced_k: 2.0,
            improve_passes: 3,
        }
    }
}

impl PackingConfig {
    /// Sets the mode.
    #[must_use]
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the allowed instance-type patterns.
    #[must_use]
    pub fn with_allow_types(mut self, types: Vec<String>) -> Self {
        self.allow_types = types;
        self
    }
}

/// A node after the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlanNode {
    /// Name (new nodes: `new-<type>-<zone>-<n>`).
    pub name: String,
    /// Instance type.
    pub instance_type: String,
    /// Zone.
    pub zone: String,
    /// `on-demand` or `spot`.
    pub capacity_type: String,
    /// USD per hour.
    pub hourly_cost: f64,
    /// Added by the plan.
    pub new: bool,
    /// Node group or NodePool.
    pub group: Option<String>,
}

/// Where a pod runs after the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assignment {
    /// `namespace/name`.
    pub pod: String,
    /// Node name.
    pub node: String,
}

/// A pod the plan could not place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Unplaced {
    /// `namespace/name`.
    pub pod: String,
    /// Why.
    pub reason: String,
}

/// A pod that keeps its node where it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlockedNode {
    /// Node.
    pub node: String,
    /// Pod.
    pub pod: String,
    /// Reason, as cluster-autoscaler or Karpenter would give it.
    pub reason: String,
}

/// A pod moved by a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Move {
    /// `namespace/name`.
    pub pod: String,
    /// From node.
    pub from: String,
    /// To node.
    pub to: String,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// `remove` or `replace`.
    pub action: String,
    /// Nodes removed.
    pub removed: Vec<String>,
    /// Nodes added.
    pub added: Vec<String>,
    /// Pods moved.
    pub moves: Vec<Move>,
    /// Hourly saving, USD.
    pub hourly_saving: f64,
    /// Monthly saving, USD.
    pub monthly_saving: f64,
    /// Disruption cost (Karpenter's: per pod 1 + deletion cost / 2^27 + priority / 2^25, clamped to [-10, 10]).
    pub disruption_cost: f64,
    /// Balanced score: (saving / total cost) / (disruption / total disruption).
    pub score: f64,
    /// Whether the savings-vs-disruption gate approves the step.
    pub approved: bool,
}

/// A consolidation plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    /// `remove` or `replace`.
    pub mode: String,
    /// Node cost before, USD per hour.
    pub cost_before_hourly: f64,
    /// Node cost after (approved and unapproved steps alike), USD per hour.
    pub cost_after_hourly: f64,
    /// LP lower bound of the replace problem, USD per hour.
    pub lower_bound_hourly: f64,
    /// (after − bound) / bound.
    pub gap_to_bound: f64,
    /// Every node after the plan.
    pub nodes: Vec<PlanNode>,
    /// Nodes removed.
    pub removed: Vec<String>,
    /// Every non-DaemonSet pod and its node after the plan.
    pub assignments: Vec<Assignment>,
    /// Pods that could not be placed.
    pub unplaced: Vec<Unplaced>,
    /// Pods that pin their node, with the reason.
    pub blocked: Vec<BlockedNode>,
    /// Steps.
    pub steps: Vec<Step>,
    /// Solver name.
    pub solver: String,
}

impl Plan {
    /// Monthly saving of the whole plan.
    pub fn monthly_saving(&self) -> f64 {
        (self.cost_before_hourly - self.cost_after_hourly) * crate::cost::HOURS_PER_MONTH
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The plan for people: costs and bound, then each step.
    pub fn to_table(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let added = self.nodes.iter().filter(|n| n.new).count();
        let _ = writeln!(
            o,
            "Consolidation ({}): ${:.2}/h → ${:.2}/h (−${:.2}/mo), LP lower bound ${:.2}/h ({:.1}% above it); {} node(s) removed, {} added, {} pod(s) unplaced",
            self.mode,
            self.cost_before_hourly,
            self.cost_after_hourly,
            self.monthly_saving(),
            self.lower_bound_hourly,
            self.gap_to_bound * 100.0,
            self.removed.len(),
            added,
            self.unplaced.len()
        );
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(
                o,
                "  step {}: {} {} node(s){}, moves {} pod(s), saves ${:.2}/mo, disruption {:.1}, score {:.2} — {}",
                i + 1,
                s.action,
                s.removed.len(),
                if s.added.is_empty() {
                    String::new()
                } else {
                    format!(", adds {}", s.added.len())
                },
                s.moves.len(),
                s.monthly_saving,
                s.disruption_cost,
                s.score,
                if s.approved {
                    "approved"
                } else {
                    "held back by the savings-vs-disruption gate"
                }
            );
            if !s.removed.is_empty() {
                let names: Vec<&str> = s.removed.iter().take(6).map(String::as_str).collect();
                let _ = writeln!(
                    o,
                    "      removes {}{}",
                    names.join(", "),
                    if s.removed.len() > 6 { ", …" } else { "" }
                );
            }
        }
        let mut pinned: Vec<&str> = self.blocked.iter().map(|b| b.node.as_str()).collect();
        pinned.sort();
        pinned.dedup();
        if !pinned.is_empty() {
            let _ = writeln!(
                o,
                "  {} node(s) pinned by pods that must not move (see `blocked`), e.g. {}: {}",
                pinned.len(),
                self.blocked[0].pod,
                self.blocked[0].reason
            );
        }
        o
    }
}

/// Makes plans.
pub trait Solver {
    /// Name.
    fn name(&self) -> &str;
    /// A plan for the problem.
    fn plan(&self, problem: &Problem, config: &PackingConfig) -> Result<Plan>;
}

/// Builds the problem from a cluster and plans with the built-in solver.
pub fn consolidate(cluster: &Cluster, pricing: &Pricing, config: &PackingConfig) -> Result<Plan> {
    let problem = Problem::from_cluster(cluster, pricing, config)?;
    GreedySolver.plan(&problem, config)
}

/// The JSON Schema of [`Plan`].
pub fn plan_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Plan)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests;
