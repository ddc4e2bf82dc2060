//! Spot: a risk score per instance type from public data (the Spot Advisor on day zero, price
//! history when given), and the response to interruption events.
//!
//! The SQS consumer (`adapters::sqs`, feature `sqs`) runs [`pipeline::decide`] on every
//! message and hands the steps to an [`crate::executor::Executor`].

pub mod events;
pub mod pipeline;
pub mod risk;

pub use events::{
    Action, EventKind, InstanceEvent, Parsed, ResponsePlan, parse_message, plan_response,
};
pub use risk::{RiskWeights, SeedScorer, SpotRiskScorer, SpotScore, score_types};

/// Replays a spot interruption warning for one of the cluster's spot nodes (the first one with
/// workload pods), as the demo shows it: the message as EventBridge sends it, and the plan.
pub fn replay_interruption(cluster: &crate::model::Cluster) -> Option<(String, ResponsePlan)> {
    let node = cluster
        .nodes
        .iter()
        .filter(|n| n.capacity_type == crate::model::CapacityType::Spot && n.instance_id.is_some())
        .find(|n| cluster.pods_on(&n.name).any(|p| !p.is_daemonset()))?;
    let id = node.instance_id.clone()?;
    let body = serde_json::json!({
        "version": "0",
        "id": format!("replay-{id}"),
        "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2",
        "time": crate::demo::DEMO_NOW,
        "region": node.region.clone().unwrap_or_else(|| "us-east-1".into()),
        "resources": [format!("arn:aws:ec2:us-east-1:123456789012:instance/{id}")],
        "detail": {"instance-id": id, "instance-action": "terminate"}
    })
    .to_string();
    let plan = plan_response(cluster, &body);
    Some((node.name.clone(), plan))
}

/// Scores the instance types the cluster's spot nodes use, lowest risk first.
pub fn score_cluster_spot_types(
    cluster: &crate::model::Cluster,
    pricing: &crate::cost::Pricing,
) -> Vec<SpotScore> {
    let mut types: Vec<String> = cluster
        .nodes
        .iter()
        .filter(|n| n.capacity_type == crate::model::CapacityType::Spot)
        .filter_map(|n| n.instance_type.clone())
        .collect();
    types.sort();
    types.dedup();
    let scorer = SeedScorer::default();
    let mut out: Vec<SpotScore> = types
        .iter()
        .map(|t| scorer.score(t, pricing, &cluster.aws.spot_prices))
        .collect();
    out.sort_by(|a, b| a.risk.total_cmp(&b.risk));
    out
}
