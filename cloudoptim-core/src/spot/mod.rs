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

/// Whether one workload can run on spot.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Readiness {
    /// `namespace/name`.
    pub workload: String,
    /// `Deployment`, `StatefulSet`, ... (`Pod` for a bare pod).
    pub kind: String,
    /// Running pods.
    pub pods: usize,
    /// Whether every pod of it is spot-ready.
    pub ready: bool,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// Spot readiness of every workload with running pods (DaemonSets left out: they follow their
/// nodes): controller-managed, at least 2 replicas or a PDB that allows a disruption, no local
/// storage, not marked do-not-disrupt, not in a denied namespace (`kube-system` by default).
/// Not ready first, then by name.
pub fn readiness(cluster: &crate::model::Cluster) -> Vec<Readiness> {
    use std::collections::BTreeMap;
    let pricing = crate::cost::Pricing::for_cluster(cluster);
    let costs = crate::cost::ClusterCosts::compute(cluster, &pricing);
    let index = crate::analyzers::Index::new(cluster, &costs);
    let ctx = crate::analyzers::Context::new(cluster, &pricing, &costs, &index);
    let denied = crate::analyzers::SpotMigrationConfig::default().denied_namespaces;
    let mut by: BTreeMap<(String, String), Readiness> = BTreeMap::new();
    for p in cluster
        .pods
        .iter()
        .filter(|p| p.is_active() && !p.is_daemonset())
    {
        let (name, kind) = match &p.workload {
            Some(w) => (
                format!("{}/{}", w.namespace, w.name),
                w.kind.as_str().to_string(),
            ),
            None => (format!("{}/{}", p.namespace, p.name), "Pod".to_string()),
        };
        let reason = crate::analyzers::spot_blocker(&ctx, p, &denied);
        let e = by.entry((name.clone(), kind.clone())).or_insert(Readiness {
            workload: name,
            kind,
            pods: 0,
            ready: true,
            reason: None,
        });
        e.pods += 1;
        if let Some(r) = reason {
            e.ready = false;
            e.reason.get_or_insert(r);
        }
    }
    let mut out: Vec<Readiness> = by.into_values().collect();
    out.sort_by(|a, b| a.ready.cmp(&b.ready).then(a.workload.cmp(&b.workload)));
    out
}
