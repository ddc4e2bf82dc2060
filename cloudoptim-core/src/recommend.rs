//! The [`Recommendation`] every capability returns, and savings that are never double counted.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What kind of change a recommendation proposes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecommendationKind {
    /// Change a container's CPU and memory requests and limits.
    WorkloadRightsizing,
    /// Raise memory after OOM kills.
    OomRemediation,
    /// Move a node group to a cheaper instance type.
    NodeRightsizing,
    /// Scale non-production workloads to zero outside working hours.
    OfficeHours,
    /// Delete an unattached EBS volume.
    ZombieVolume,
    /// Terminate an EC2 instance tagged for the cluster that is not a node.
    GhostInstance,
    /// Reduce cross-zone traffic.
    CrossAzTraffic,
    /// Remove a node whose pods fit elsewhere, or an empty node.
    NodeRemoval,
    /// Replace nodes with a cheaper mix.
    NodeReplacement,
    /// Move capacity to spot.
    SpotMigration,
    /// A kind defined by a caller's analyzer.
    Custom,
}

impl RecommendationKind {
    /// The snake_case name used in JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            RecommendationKind::WorkloadRightsizing => "workload_rightsizing",
            RecommendationKind::OomRemediation => "oom_remediation",
            RecommendationKind::NodeRightsizing => "node_rightsizing",
            RecommendationKind::OfficeHours => "office_hours",
            RecommendationKind::ZombieVolume => "zombie_volume",
            RecommendationKind::GhostInstance => "ghost_instance",
            RecommendationKind::CrossAzTraffic => "cross_az_traffic",
            RecommendationKind::NodeRemoval => "node_removal",
            RecommendationKind::NodeReplacement => "node_replacement",
            RecommendationKind::SpotMigration => "spot_migration",
            RecommendationKind::Custom => "custom",
        }
    }

    /// A short human title.
    pub fn title(&self) -> &'static str {
        match self {
            RecommendationKind::WorkloadRightsizing => "Workload rightsizing",
            RecommendationKind::OomRemediation => "OOM remediation",
            RecommendationKind::NodeRightsizing => "Node rightsizing",
            RecommendationKind::OfficeHours => "Office hours",
            RecommendationKind::ZombieVolume => "Unattached volumes",
            RecommendationKind::GhostInstance => "Ghost instances",
            RecommendationKind::CrossAzTraffic => "Cross-AZ traffic",
            RecommendationKind::NodeRemoval => "Node removal",
            RecommendationKind::NodeReplacement => "Node replacement",
            RecommendationKind::SpotMigration => "Spot migration",
            RecommendationKind::Custom => "Custom",
        }
    }
}

/// What a recommendation is about. Unused fields are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// Cluster name.
    pub cluster: String,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Workload kind (`Deployment`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_kind: Option<String>,
    /// Workload name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// Container name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Node group or NodePool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_group: Option<String>,
    /// Node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// EBS volume id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// EC2 instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl Target {
    /// A target in a cluster.
    pub fn cluster(name: impl Into<String>) -> Target {
        Target {
            cluster: name.into(),
            ..Default::default()
        }
    }

    /// A stable key: the set fields in a fixed order.
    pub fn key(&self) -> String {
        let mut parts = vec![format!("cluster={}", self.cluster)];
        for (k, v) in [
            ("namespace", &self.namespace),
            ("workload_kind", &self.workload_kind),
            ("workload", &self.workload),
            ("container", &self.container),
            ("node_group", &self.node_group),
            ("node", &self.node),
            ("volume", &self.volume),
            ("instance", &self.instance),
        ] {
            if let Some(v) = v {
                parts.push(format!("{k}={v}"));
            }
        }
        parts.join(",")
    }

    /// A short readable form: `shop/Deployment/checkout/app`, `node-group general`, `vol-…`.
    pub fn display(&self) -> String {
        if let Some(w) = &self.workload {
            let mut s = format!("{}/{}", self.namespace.as_deref().unwrap_or("-"), w);
            if let Some(c) = &self.container {
                s.push_str(&format!(" [{c}]"));
            }
            return s;
        }
        if let Some(ns) = &self.namespace {
            return format!("namespace {ns}");
        }
        if let Some(n) = &self.node {
            return format!("node {n}");
        }
        if let Some(g) = &self.node_group {
            return format!("node group {g}");
        }
        if let Some(v) = &self.volume {
            return format!("volume {v}");
        }
        if let Some(i) = &self.instance {
            return format!("instance {i}");
        }
        format!("cluster {}", self.cluster)
    }
}

/// One field changing from its current to its proposed value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    /// What changes (`cpu_request`, `memory_limit`, `instance_type`, `state`, …).
    pub field: String,
    /// Current value, as Kubernetes or AWS writes it.
    pub current: String,
    /// Proposed value.
    pub proposed: String,
}

impl Change {
    /// A change.
    pub fn new(
        field: impl Into<String>,
        current: impl Into<String>,
        proposed: impl Into<String>,
    ) -> Change {
        Change {
            field: field.into(),
            current: current.into(),
            proposed: proposed.into(),
        }
    }
}

/// Risk level.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RiskLevel {
    /// Safe to apply after review.
    Low,
    /// Needs a look at the reasons.
    Medium,
    /// Could cause an outage if wrong.
    High,
}

impl RiskLevel {
    /// Lowercase name.
    pub fn as_str(&self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
        }
    }
}

/// Risk with its reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Risk {
    /// Level.
    pub level: RiskLevel,
    /// Why.
    pub reasons: Vec<String>,
}

/// Priority: how soon it should be acted on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Priority {
    /// Whenever convenient.
    Normal,
    /// Soon: reliability is at stake (OOM kills).
    High,
}

/// A number a recommendation rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// What it is (`cpu_p95`, `memory_peak`, `samples`, `age_days`, …).
    pub name: String,
    /// Value.
    pub value: f64,
    /// Unit (`cores`, `bytes`, `count`, `days`, `usd_per_month`, `ratio`).
    pub unit: String,
}

impl Evidence {
    /// An evidence item.
    pub fn new(name: impl Into<String>, value: f64, unit: impl Into<String>) -> Evidence {
        Evidence {
            name: name.into(),
            // -0.0 (from rounding a tiny negative) is 0 in JSON
            value: if value == 0.0 { 0.0 } else { value },
            unit: unit.into(),
        }
    }
}

/// The part of a resource's monthly cost a recommendation saves, used to combine overlapping
/// recommendations without double counting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SavingsClaim {
    /// The resource: `node:<name>`, `workload:<ns>/<Kind>/<name>`, `volume:<id>`, `instance:<id>`.
    pub resource: String,
    /// The resource's current monthly cost in USD.
    pub base_monthly_usd: f64,
    /// Fraction of that cost saved (negative when cost rises).
    pub fraction: f64,
}

/// A recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Recommendation {
    /// Stable id: the same finding on the same cluster gets the same id across runs.
    pub id: String,
    /// Kind.
    pub kind: RecommendationKind,
    /// The analyzer that produced it.
    pub analyzer: String,
    /// A one-line summary.
    pub title: String,
    /// What it is about.
    pub target: Target,
    /// Current → proposed.
    pub changes: Vec<Change>,
    /// Monthly savings in USD (negative when the change costs money, as OOM fixes do).
    pub monthly_savings_usd: f64,
    /// Risk.
    pub risk: Risk,
    /// Priority.
    pub priority: Priority,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// The numbers it rests on.
    pub evidence: Vec<Evidence>,
    /// A paragraph a reviewer can read.
    pub explanation: String,
    /// Resources whose cost it changes, for de-duplication.
    pub savings_claims: Vec<SavingsClaim>,
}

/// A stable id from the cluster, kind and target.
pub fn stable_id(kind: RecommendationKind, target: &Target) -> String {
    let mut h = Sha256::new();
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(target.key().as_bytes());
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("co-{hex}")
}

impl Recommendation {
    /// Starts a recommendation; the id is derived from kind and target.
    pub fn new(
        kind: RecommendationKind,
        analyzer: impl Into<String>,
        target: Target,
    ) -> Recommendation {
        Recommendation {
            id: stable_id(kind, &target),
            kind,
            analyzer: analyzer.into(),
            title: String::new(),
            target,
            changes: vec![],
            monthly_savings_usd: 0.0,
            risk: Risk {
                level: RiskLevel::Low,
                reasons: vec![],
            },
            priority: Priority::Normal,
            confidence: 1.0,
            evidence: vec![],
            explanation: String::new(),
            savings_claims: vec![],
        }
    }

    /// Adds a savings claim and recomputes `monthly_savings_usd` from the claims.
    #[must_use]
    pub fn with_claim(
        mut self,
        resource: impl Into<String>,
        base_monthly_usd: f64,
        fraction: f64,
    ) -> Self {
        self.savings_claims.push(SavingsClaim {
            resource: resource.into(),
            base_monthly_usd,
            fraction,
        });
        self.monthly_savings_usd = round_cents(
            self.savings_claims
                .iter()
                .map(|c| c.base_monthly_usd * c.fraction)
                .sum(),
        );
        self
    }
}

/// Rounds to cents.
pub fn round_cents(v: f64) -> f64 {
    let r = (v * 100.0).round() / 100.0;
    // an empty f64 sum is -0.0: never print "-0.00"
    if r == 0.0 { 0.0 } else { r }
}

/// The combined monthly saving of a set of recommendations.
///
/// Claims on the same resource by the same analyzer are disjoint parts (two containers of one
/// workload) and add up. Claims on the same resource by different analyzers compound instead of
/// adding: two changes saving 50 % and 60 % of a node save 1 − 0.5 × 0.4 = 80 % of it, not 110 %.
/// Cost increases add as they are.
pub fn combined_savings(recs: &[Recommendation]) -> f64 {
    // resource → (base, analyzer → summed positive fraction, increases)
    let mut by_resource: BTreeMap<&str, (f64, BTreeMap<&str, f64>, f64)> = BTreeMap::new();
    let mut unclaimed = 0.0;
    for r in recs {
        if r.savings_claims.is_empty() {
            unclaimed += r.monthly_savings_usd;
        }
        for c in &r.savings_claims {
            let e = by_resource.entry(c.resource.as_str()).or_insert((
                c.base_monthly_usd,
                BTreeMap::new(),
                0.0,
            ));
            e.0 = e.0.max(c.base_monthly_usd);
            if c.fraction >= 0.0 {
                *e.1.entry(r.analyzer.as_str()).or_default() += c.fraction;
            } else {
                e.2 += c.base_monthly_usd * c.fraction;
            }
        }
    }
    round_cents(
        by_resource
            .values()
            .map(|(base, parts, inc)| {
                let remaining: f64 = parts.values().map(|f| 1.0 - f.min(1.0)).product();
                base * (1.0 - remaining) + inc
            })
            .sum::<f64>()
            + unclaimed,
    )
}

/// The plain sum of the recommendations' savings, computed from the same unrounded claims as
/// [`combined_savings`] so the two agree exactly when nothing overlaps.
pub fn gross_savings(recs: &[Recommendation]) -> f64 {
    round_cents(
        recs.iter()
            .map(|r| {
                if r.savings_claims.is_empty() {
                    r.monthly_savings_usd
                } else {
                    r.savings_claims
                        .iter()
                        .map(|c| c.base_monthly_usd * c.fraction)
                        .sum()
                }
            })
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(resource: &str, base: f64, fraction: f64, name: &str) -> Recommendation {
        let mut t = Target::cluster("c");
        t.workload = Some(name.into());
        Recommendation::new(RecommendationKind::WorkloadRightsizing, name, t)
            .with_claim(resource, base, fraction)
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let mut a = Target::cluster("c");
        a.volume = Some("vol-1".into());
        let mut b = a.clone();
        b.volume = Some("vol-2".into());
        assert_eq!(
            stable_id(RecommendationKind::ZombieVolume, &a),
            stable_id(RecommendationKind::ZombieVolume, &a.clone())
        );
        assert_ne!(
            stable_id(RecommendationKind::ZombieVolume, &a),
            stable_id(RecommendationKind::ZombieVolume, &b)
        );
        assert_ne!(
            stable_id(RecommendationKind::ZombieVolume, &a),
            stable_id(RecommendationKind::GhostInstance, &a)
        );
        assert!(stable_id(RecommendationKind::ZombieVolume, &a).starts_with("co-"));
    }

    #[test]
    fn overlapping_savings_compound() {
        let a = rec("node:n1", 100.0, 0.5, "a");
        let b = rec("node:n1", 100.0, 0.6, "b");
        assert_eq!(a.monthly_savings_usd + b.monthly_savings_usd, 110.0);
        assert_eq!(combined_savings(&[a.clone(), b]), 80.0);
        let c = rec("node:n2", 50.0, 1.0, "c");
        assert_eq!(combined_savings(&[a.clone(), c]), 100.0);
        let up = rec("workload:x", 10.0, -0.2, "d");
        assert_eq!(combined_savings(&[a.clone(), up]), 48.0);
        // two parts of one resource from the same analyzer add up
        let mut part = rec("node:n1", 100.0, 0.2, "x");
        part.analyzer = a.analyzer.clone();
        assert_eq!(combined_savings(&[a, part]), 70.0);
    }
}
