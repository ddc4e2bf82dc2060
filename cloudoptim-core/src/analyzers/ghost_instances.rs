//! EC2 instances tagged for the cluster that are not nodes.

use std::collections::HashSet;

use super::{Analyzer, Context, Result, fmt_usd};
use crate::cost::HOURS_PER_MONTH;
use crate::model::{CapacityType, Ec2Instance};
use crate::recommend::*;

/// Finds running instances that carry one of the cluster's tags (`kubernetes.io/cluster/<c>`,
/// `eks:cluster-name`, `eks:eks-cluster-name`, `aws:eks:cluster-name`, the `karpenter.sh/nodepool`
/// of one of its NodePools, or the `aws:autoscaling:groupName` of one of its node groups) but
/// back no node, after a grace period for instances still joining (default 24 hours).
#[derive(Debug, Clone)]
pub struct GhostInstances {
    /// Minutes after launch before an instance that is not a node is reported (default 24 h).
    pub grace_minutes: f64,
}

impl Default for GhostInstances {
    fn default() -> Self {
        GhostInstances {
            grace_minutes: 24.0 * 60.0,
        }
    }
}

fn cluster_tag(
    i: &Ec2Instance,
    cluster: &str,
    pools: &HashSet<&str>,
    asgs: &HashSet<&str>,
) -> Option<String> {
    if let Some(p) = i
        .tags
        .get("karpenter.sh/nodepool")
        .filter(|p| pools.contains(p.as_str()))
    {
        return Some(format!(
            "karpenter.sh/nodepool={p} (a NodePool of the cluster)"
        ));
    }
    if let Some(g) = i
        .tags
        .get("aws:autoscaling:groupName")
        .filter(|g| asgs.contains(g.as_str()))
    {
        return Some(format!(
            "aws:autoscaling:groupName={g} (the ASG of one of the cluster's node groups)"
        ));
    }
    for k in [
        "eks:cluster-name",
        "eks:eks-cluster-name",
        "aws:eks:cluster-name",
    ] {
        if i.tags.get(k).map(String::as_str) == Some(cluster) {
            return Some(format!("{k}={cluster}"));
        }
    }
    let k = format!("kubernetes.io/cluster/{cluster}");
    i.tags.get(&k).map(|v| format!("{k}={v}"))
}

impl Analyzer for GhostInstances {
    fn name(&self) -> &str {
        "ghost-instances"
    }

    fn description(&self) -> &str {
        "EC2 instances tagged for the cluster that are not nodes"
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        let node_ids: HashSet<&str> = ctx
            .cluster
            .nodes
            .iter()
            .filter_map(|n| n.instance_id.as_deref())
            .collect();
        let node_names: HashSet<&str> = ctx.cluster.nodes.iter().map(|n| n.name.as_str()).collect();
        let pools: HashSet<&str> = ctx
            .cluster
            .nodes
            .iter()
            .filter_map(|n| match &n.owner {
                crate::model::NodeOwner::NodePool(p) => Some(p.as_str()),
                _ => None,
            })
            .collect();
        let asgs: HashSet<&str> = ctx
            .cluster
            .aws
            .instances
            .iter()
            .filter(|i| node_ids.contains(i.instance_id.as_str()))
            .filter_map(|i| i.tags.get("aws:autoscaling:groupName").map(String::as_str))
            .collect();
        let mut out = Vec::new();
        for i in &ctx.cluster.aws.instances {
            if i.state != "running" && i.state != "pending" {
                continue;
            }
            let Some(tag) = cluster_tag(i, &ctx.cluster.name, &pools, &asgs) else {
                continue;
            };
            if node_ids.contains(i.instance_id.as_str())
                || i.private_dns_name
                    .as_deref()
                    .is_some_and(|d| node_names.contains(d))
            {
                continue;
            }
            let age_min = i
                .launch_time
                .map(|t| (ctx.now.as_second() - t.as_second()) as f64 / 60.0);
            if age_min.is_none_or(|a| a < self.grace_minutes) {
                continue;
            }
            let cap = if i.spot {
                CapacityType::Spot
            } else {
                CapacityType::OnDemand
            };
            let price = ctx.pricing.price(&i.instance_type, cap, i.zone.as_deref());
            let monthly = price.map(|p| p.hourly * HOURS_PER_MONTH).unwrap_or(0.0);
            let mut target = Target::cluster(&ctx.cluster.name);
            target.instance = Some(i.instance_id.clone());
            let mut reasons = vec![
                "confirm nothing outside Kubernetes (a bastion, a build agent) uses it before terminating".to_string(),
            ];
            let group = i
                .tags
                .get("aws:autoscaling:groupName")
                .or_else(|| i.tags.get("eks:nodegroup-name"))
                .or_else(|| i.tags.get("karpenter.sh/nodepool"));
            if let Some(g) = group {
                reasons.push(format!(
                    "it belongs to {g}: find out why it never joined (bootstrap failure, wrong security group) or the group will launch another"
                ));
            }
            let age_days = age_min.unwrap_or(0.0) / 1440.0;
            let mut r = Recommendation::new(RecommendationKind::GhostInstance, self.name(), target)
                .with_claim(format!("instance:{}", i.instance_id), monthly, 1.0);
            r.title = format!(
                "Terminate {} {} that is not a node (−{}/mo)",
                i.instance_type,
                i.instance_id,
                fmt_usd(monthly)
            );
            r.changes = vec![Change::new("state", i.state.clone(), "terminated")];
            r.risk = Risk {
                level: RiskLevel::Medium,
                reasons,
            };
            r.confidence = if price.is_some() { 0.8 } else { 0.5 };
            r.evidence = vec![
                Evidence::new("age", (age_days * 10.0).round() / 10.0, "days"),
                Evidence::new("monthly_cost", monthly, "usd_per_month"),
            ];
            r.explanation = format!(
                "Instance {} ({}{}) carries the cluster tag {} and has been running for {:.1} days, \
                 but no node of the cluster has its instance id in spec.providerID. It is billed ({} a month) \
                 while running no pods. If it failed to join, fix the cause; either way terminate it.",
                i.instance_id,
                i.instance_type,
                i.zone
                    .as_deref()
                    .map(|z| format!(" in {z}"))
                    .unwrap_or_default(),
                tag,
                age_days,
                fmt_usd(monthly),
            );
            out.push(r);
        }
        Ok(out)
    }
}
