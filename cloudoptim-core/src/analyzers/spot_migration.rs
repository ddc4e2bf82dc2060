//! Spot arbitrage: on-demand node groups whose every pod is spot-ready move to spot, over a
//! diversified set of instance types ranked by risk and price.

use std::collections::{BTreeMap, BTreeSet};

use super::{Analyzer, Context, Result, fmt_usd};
use crate::model::{CapacityType, NodeOwner, Pod, WorkloadKind};
use crate::recommend::*;
use crate::spot::{SeedScorer, SpotRiskScorer};

/// Settings of [`SpotMigration`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpotMigrationConfig {
    /// How many instance types to spread over (default 15, like Karpenter's spot-to-spot minimum).
    pub diversity: usize,
    /// Namespaces whose pods are never spot-ready (default `kube-system`).
    pub denied_namespaces: Vec<String>,
    /// Types riskier than this are not used (default 0.75).
    pub max_risk: f64,
    /// Minutes on on-demand after spot capacity runs short, before trying spot again (default 30).
    pub return_to_spot_minutes: u32,
}

impl Default for SpotMigrationConfig {
    fn default() -> Self {
        SpotMigrationConfig {
            diversity: 15,
            denied_namespaces: vec!["kube-system".into()],
            max_risk: 0.75,
            return_to_spot_minutes: 30,
        }
    }
}

/// Recommends moving on-demand node groups to spot.
#[derive(Debug, Clone, Default)]
pub struct SpotMigration {
    /// Settings.
    pub config: SpotMigrationConfig,
}

/// Why a pod is not spot-ready, or `None` when it is.
pub fn spot_blocker(ctx: &Context<'_>, p: &Pod, denied: &[String]) -> Option<String> {
    if denied.contains(&p.namespace) {
        return Some(format!("namespace {} is not allowed on spot", p.namespace));
    }
    let Some(w) = &p.workload else {
        return Some("a bare pod with no controller".into());
    };
    if p.local_storage {
        return Some("uses local storage".into());
    }
    if p.safe_to_evict() == Some(false) || p.do_not_disrupt() {
        return Some("marked not to be disrupted".into());
    }
    if matches!(w.kind, WorkloadKind::StatefulSet) {
        return Some("a StatefulSet member".into());
    }
    let replicas = ctx.workload(w).and_then(|x| x.replicas).unwrap_or(1);
    let pdb_allows = ctx.cluster.pdbs.iter().any(|b| {
        b.namespace == p.namespace
            && !b.selector.is_empty()
            && b.selector.matches(&p.labels)
            && b.disruptions_allowed.unwrap_or(0) > 0
    });
    if replicas < 2 && !pdb_allows && !matches!(w.kind, WorkloadKind::Job | WorkloadKind::CronJob) {
        return Some("a single replica with no PDB allowing disruption".into());
    }
    None
}

impl Analyzer for SpotMigration {
    fn name(&self) -> &str {
        "spot-migration"
    }

    fn description(&self) -> &str {
        "On-demand node groups that could run on diversified spot"
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        let cfg = &self.config;
        let catalog = ctx.pricing.catalog();
        let scorer = SeedScorer::default();
        let mut groups: BTreeMap<String, Vec<&crate::model::Node>> = BTreeMap::new();
        for n in &ctx.cluster.nodes {
            if n.capacity_type != CapacityType::OnDemand {
                continue;
            }
            if let NodeOwner::ManagedNodeGroup(g)
            | NodeOwner::EksctlNodeGroup(g)
            | NodeOwner::SelfManaged(g) = &n.owner
            {
                groups.entry(g.clone()).or_default().push(n);
            }
        }
        let mut out = Vec::new();
        for (group, nodes) in groups {
            let pods: Vec<&Pod> = nodes
                .iter()
                .flat_map(|n| ctx.pods_on(&n.name))
                .filter(|p| !p.is_daemonset())
                .collect();
            if pods.is_empty() {
                continue;
            }
            if pods
                .iter()
                .any(|p| spot_blocker(ctx, p, &cfg.denied_namespaces).is_some())
            {
                continue;
            }
            let Some(cur_type) = nodes[0].instance_type.clone() else {
                continue;
            };
            let Some(cur) = catalog.get(&cur_type) else {
                continue;
            };
            // types of the same size for the same job: architecture and vCPUs equal, 90 %–200 % of the
            // memory, current generation, general-purpose, compute or memory families (no
            // accelerators, storage-optimised or burstable types), ranked by expected cost
            let cat_ok = |t: &crate::catalog::InstanceType| {
                matches!(t.category.as_str(), "m" | "c" | "r") || t.category == cur.category
            };
            let mut cands: Vec<crate::spot::SpotScore> = catalog
                .iter()
                .filter(|t| {
                    t.arch == cur.arch
                        && t.gpu_count == cur.gpu_count
                        && t.vcpu == cur.vcpu
                        && cat_ok(t)
                        && t.generation >= 5
                })
                .filter(|t| {
                    t.memory_mib as f64 >= cur.memory_mib as f64 * 0.9
                        && t.memory_mib <= cur.memory_mib * 2
                        && !t.burstable()
                })
                .map(|t| scorer.score(&t.name, ctx.pricing, &ctx.cluster.aws.spot_prices))
                .filter(|s| s.risk <= cfg.max_risk && s.spot_hourly.is_some())
                .collect();
            let expected =
                |s: &crate::spot::SpotScore| s.spot_hourly.unwrap_or(f64::MAX) * (1.0 + s.risk);
            cands.sort_by(|a, b| {
                expected(a)
                    .total_cmp(&expected(b))
                    .then(a.instance_type.cmp(&b.instance_type))
            });
            cands.truncate(cfg.diversity);
            if cands.is_empty() {
                continue;
            }
            let families: BTreeSet<String> = cands
                .iter()
                .filter_map(|s| catalog.get(&s.instance_type).map(|t| t.family.clone()))
                .collect();
            let mean_spot =
                cands.iter().filter_map(|s| s.spot_hourly).sum::<f64>() / cands.len() as f64;
            let mean_risk = cands.iter().map(|s| s.risk).sum::<f64>() / cands.len() as f64;
            let od = ctx
                .pricing
                .on_demand(&cur_type)
                .map(|p| p.hourly)
                .unwrap_or(0.0);
            if od <= 0.0 || mean_spot >= od * 0.9 {
                continue;
            }
            let fraction = 1.0 - mean_spot / od;
            let mut target = Target::cluster(&ctx.cluster.name);
            target.node_group = Some(group.clone());
            let mut r = Recommendation::new(RecommendationKind::SpotMigration, self.name(), target);
            for n in &nodes {
                let base = ctx.node_cost(&n.name).map(|c| c.monthly()).unwrap_or(0.0);
                r = r.with_claim(format!("node:{}", n.name), base, fraction);
            }
            let monthly = r.monthly_savings_usd;
            let types: Vec<String> = cands.iter().map(|s| s.instance_type.clone()).collect();
            r.title = format!(
                "Move node group {group} to spot over {} types in {} families (−{}/mo)",
                types.len(),
                families.len(),
                fmt_usd(monthly)
            );
            r.changes = vec![
                Change::new("capacity_type", "ON_DEMAND", "SPOT"),
                Change::new("instance_types", cur_type.clone(), types.join(",")),
            ];
            let mut reasons = vec![
                format!(
                    "spot capacity can be reclaimed with two minutes' notice: keep an on-demand fallback and return to spot after {} minutes",
                    cfg.return_to_spot_minutes
                ),
                format!("average interruption risk of the chosen types {mean_risk:.2}"),
            ];
            if types.len() < cfg.diversity {
                reasons.push(format!(
                    "only {} suitable types (wanted {}): fewer pools to fall back on",
                    types.len(),
                    cfg.diversity
                ));
            }
            r.risk = Risk {
                level: if mean_risk < 0.45 {
                    RiskLevel::Low
                } else {
                    RiskLevel::Medium
                },
                reasons,
            };
            r.confidence = 0.7;
            r.evidence = vec![
                Evidence::new("nodes", nodes.len() as f64, "count"),
                Evidence::new("spot_ready_pods", pods.len() as f64, "count"),
                Evidence::new("on_demand_hourly", od, "usd_per_hour"),
                Evidence::new(
                    "mean_spot_hourly",
                    (mean_spot * 10_000.0).round() / 10_000.0,
                    "usd_per_hour",
                ),
                Evidence::new("mean_risk", (mean_risk * 1000.0).round() / 1000.0, "ratio"),
            ];
            r.explanation = format!(
                "All {} pods on node group {group} ({} × {cur_type}, on-demand) are spot-ready: controller-managed, with at least two replicas or a PDB \
                 that allows disruption, no local storage. Spread over {} instance types of the same size ({}), ranked by expected cost (spot price × (1 + risk)), \
                 spot averages ${mean_spot:.4}/h against ${od:.4}/h on-demand, {} a month less. Keep an on-demand fallback \
                 (a second node group at its minimum, or a NodePool that allows both capacity types) and return to spot {} minutes after capacity runs short.",
                pods.len(),
                nodes.len(),
                types.len(),
                types.iter().take(6).cloned().collect::<Vec<_>>().join(", ")
                    + if types.len() > 6 { ", …" } else { "" },
                fmt_usd(monthly),
                cfg.return_to_spot_minutes,
            );
            out.push(r);
        }
        Ok(out)
    }
}
