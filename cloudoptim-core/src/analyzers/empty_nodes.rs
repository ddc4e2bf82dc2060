//! Nodes running nothing but DaemonSet and mirror pods.

use super::{Analyzer, Context, Result, fmt_usd};
use crate::model::NodeOwner;
use crate::recommend::*;

/// Finds nodes whose only pods are DaemonSet or static (mirror) pods: removing them moves
/// nothing. Like Karpenter's emptiness check, with the node's price as the saving.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyNodes;

impl Analyzer for EmptyNodes {
    fn name(&self) -> &str {
        "empty-nodes"
    }

    fn description(&self) -> &str {
        "Nodes running only DaemonSet pods"
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        let mut out = Vec::new();
        for n in &ctx.cluster.nodes {
            let pods: Vec<_> = ctx.pods_on(&n.name).collect();
            let workload_pods = pods
                .iter()
                .filter(|p| {
                    !p.is_daemonset() && p.controller.as_ref().is_none_or(|(k, _)| k != "Node")
                })
                .count();
            if workload_pods > 0 {
                continue;
            }
            let Some(cost) = ctx.node_cost(&n.name) else {
                continue;
            };
            let monthly = cost.monthly();
            if monthly <= 0.0 {
                continue;
            }
            let mut target = Target::cluster(&ctx.cluster.name);
            target.node = Some(n.name.clone());
            target.node_group = n.owner.name().map(str::to_string);
            let mut reasons = Vec::new();
            if n.annotations
                .get("karpenter.sh/do-not-disrupt")
                .is_some_and(|v| v == "true")
            {
                reasons.push("the node is annotated karpenter.sh/do-not-disrupt".to_string());
            }
            if matches!(
                n.owner,
                NodeOwner::ManagedNodeGroup(_) | NodeOwner::EksctlNodeGroup(_)
            ) {
                reasons.push(
                    "the node group's desired size must drop too, or the autoscaling group replaces the node"
                        .to_string(),
                );
            }
            let level = if reasons.len() > 1 {
                RiskLevel::Medium
            } else {
                RiskLevel::Low
            };
            let mut r = Recommendation::new(RecommendationKind::NodeRemoval, self.name(), target)
                .with_claim(format!("node:{}", n.name), monthly, 1.0);
            r.title = format!(
                "Remove empty node {} ({}, −{}/mo)",
                n.name,
                n.instance_type.as_deref().unwrap_or("unknown type"),
                fmt_usd(monthly)
            );
            r.changes = vec![Change::new("node", "present", "removed")];
            r.risk = Risk { level, reasons };
            r.confidence = if cost.price.source.is_estimate() {
                0.8
            } else {
                0.95
            };
            r.evidence = vec![
                Evidence::new("daemonset_pods", pods.len() as f64, "count"),
                Evidence::new("workload_pods", 0.0, "count"),
                Evidence::new("monthly_cost", monthly, "usd_per_month"),
            ];
            r.explanation = format!(
                "Node {} ({} {}{}) runs only DaemonSet pods ({} of them), so no workload moves when it goes. \
                 It costs {} a month{}.",
                n.name,
                n.instance_type.as_deref().unwrap_or("unknown type"),
                match n.capacity_type {
                    crate::model::CapacityType::Spot => "spot",
                    crate::model::CapacityType::OnDemand => "on-demand",
                    _ => "",
                },
                n.owner
                    .name()
                    .map(|g| format!(" in {g}"))
                    .unwrap_or_default(),
                pods.len(),
                fmt_usd(monthly),
                if cost.price.source.is_estimate() {
                    " (estimated price)"
                } else {
                    ""
                },
            );
            out.push(r);
        }
        Ok(out)
    }
}
