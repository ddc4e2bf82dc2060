//! Node rightsizing: managed node groups whose nodes are oversized by requests and by usage move
//! to a cheaper instance type that still fits the group's largest pod, the DaemonSet overhead and
//! the group's total with headroom.

use std::collections::BTreeMap;

use super::{Analyzer, Context, Result, fmt_usd};
use crate::cost::HOURS_PER_MONTH;
use crate::model::{CapacityType, NodeOwner, Resources};
use crate::recommend::*;

/// Settings of [`NodeRightsizing`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NodeRightsizingConfig {
    /// A group is oversized when requested CPU and memory are both below this share (default 0.5).
    pub max_request_ratio: f64,
    /// Headroom kept over the group's total requests (default 0.2).
    pub headroom: f64,
    /// Families to choose from (default: the group's own family and its generation peers).
    pub families: Vec<String>,
    /// Allow moving to another architecture (Graviton) — flagged when used (default false).
    pub allow_arch_change: bool,
    /// Never fewer nodes than this per group (default 2).
    pub min_nodes: usize,
}

impl Default for NodeRightsizingConfig {
    fn default() -> Self {
        NodeRightsizingConfig {
            max_request_ratio: 0.5,
            headroom: 0.2,
            families: vec![],
            allow_arch_change: false,
            min_nodes: 2,
        }
    }
}

/// Recommends a cheaper instance type for oversized node groups.
#[derive(Debug, Clone, Default)]
pub struct NodeRightsizing {
    /// Settings.
    pub config: NodeRightsizingConfig,
}

impl Analyzer for NodeRightsizing {
    fn name(&self) -> &str {
        "node-rightsizing"
    }

    fn description(&self) -> &str {
        "Cheaper instance types for oversized node groups"
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        let cfg = &self.config;
        let catalog = ctx.pricing.catalog();
        let mut groups: BTreeMap<String, Vec<&crate::model::Node>> = BTreeMap::new();
        for n in &ctx.cluster.nodes {
            // Karpenter picks its own types; only fixed-type groups are rightsized here
            if let NodeOwner::ManagedNodeGroup(g)
            | NodeOwner::EksctlNodeGroup(g)
            | NodeOwner::SelfManaged(g) = &n.owner
            {
                groups.entry(g.clone()).or_default().push(n);
            }
        }
        let mut out = Vec::new();
        for (group, nodes) in groups {
            let Some(cur_type) = nodes[0].instance_type.clone() else {
                continue;
            };
            if nodes
                .iter()
                .any(|n| n.instance_type.as_deref() != Some(cur_type.as_str()))
            {
                continue; // mixed-type groups: consolidation handles them
            }
            let Some(cur) = catalog.get(&cur_type) else {
                continue;
            };
            let spot = nodes[0].capacity_type == CapacityType::Spot;
            let cap = if spot {
                CapacityType::Spot
            } else {
                CapacityType::OnDemand
            };
            let zone = nodes[0].zone.clone();
            let Some(cur_price) = ctx.pricing.price(&cur_type, cap, zone.as_deref()) else {
                continue;
            };
            let n = nodes.len();
            let mut total = Resources::default();
            let mut largest = Resources::default();
            let mut overhead = Resources::default();
            let mut usage_cpu = 0i64;
            let mut alloc = Resources::default();
            for node in &nodes {
                alloc += node.allocatable;
                let mut ds = Resources::default();
                for p in ctx.pods_on(&node.name) {
                    let r = p.requests();
                    if p.is_daemonset() {
                        ds += r;
                    } else {
                        total += r;
                        largest = largest.max(r);
                    }
                    let (c, _) = crate::cost::allocation(ctx.cluster, p);
                    usage_cpu += c;
                }
                overhead = overhead.max(ds);
            }
            let req_cpu = total.cpu_milli as f64 / alloc.cpu_milli.max(1) as f64;
            let req_mem = total.memory_bytes as f64 / alloc.memory_bytes.max(1) as f64;
            if req_cpu >= cfg.max_request_ratio || req_mem >= cfg.max_request_ratio {
                continue;
            }
            let need_cpu = (total.cpu_milli as f64 * (1.0 + cfg.headroom)) as i64;
            let need_mem = (total.memory_bytes as f64 * (1.0 + cfg.headroom)) as i64;
            let need_pods = total.pods;
            let families: Vec<String> = if cfg.families.is_empty() {
                vec![cur.family.clone()]
            } else {
                cfg.families.clone()
            };
            let mut best: Option<(f64, usize, &crate::catalog::InstanceType, f64)> = None;
            for t in catalog.iter() {
                if !families.contains(&t.family)
                    || (!cfg.allow_arch_change && t.arch != cur.arch)
                    || t.name == cur_type
                {
                    continue;
                }
                let Some(price) = ctx.pricing.price(&t.name, cap, zone.as_deref()) else {
                    continue;
                };
                let net = t.allocatable - overhead;
                if net.cpu_milli <= 0
                    || net.memory_bytes <= 0
                    || !largest.fits_in(&Resources {
                        ephemeral_storage_bytes: i64::MAX,
                        gpus: i64::MAX,
                        ..net
                    })
                {
                    continue;
                }
                let by = |need: i64, per: i64| {
                    if per <= 0 {
                        usize::MAX
                    } else {
                        (need as f64 / per as f64).ceil() as usize
                    }
                };
                let count = by(need_cpu, net.cpu_milli)
                    .max(by(need_mem, net.memory_bytes))
                    .max(by(need_pods, net.pods))
                    .max(cfg.min_nodes)
                    .max(1);
                if count > n * 2 {
                    continue; // many more nodes: more churn than it is worth
                }
                let cost = count as f64 * price.hourly;
                if best.is_none_or(|(c, ..)| cost < c) {
                    best = Some((cost, count, t, price.hourly));
                }
            }
            let Some((new_cost, count, t, _)) = best else {
                continue;
            };
            let cur_cost = n as f64 * cur_price.hourly;
            if new_cost >= cur_cost * 0.9 {
                continue;
            }
            let fraction = 1.0 - new_cost / cur_cost;
            let mut target = Target::cluster(&ctx.cluster.name);
            target.node_group = Some(group.clone());
            let mut r =
                Recommendation::new(RecommendationKind::NodeRightsizing, self.name(), target);
            for node in &nodes {
                let base = ctx
                    .node_cost(&node.name)
                    .map(|c| c.monthly())
                    .unwrap_or(0.0);
                r = r.with_claim(format!("node:{}", node.name), base, fraction);
            }
            let monthly = (cur_cost - new_cost) * HOURS_PER_MONTH;
            r.title = format!(
                "Right-size node group {group}: {cur_type}×{n} → {}×{count} (−{}/mo)",
                t.name,
                fmt_usd(monthly)
            );
            r.changes = vec![Change::new(
                "instance_types",
                cur_type.clone(),
                t.name.clone(),
            )];
            if count != n {
                r.changes.push(Change::new(
                    "desired_size",
                    n.to_string(),
                    count.to_string(),
                ));
            }
            let mut reasons =
                vec!["nodes are replaced one by one: pods are evicted and rescheduled".to_string()];
            let mut level = RiskLevel::Medium;
            if t.arch != cur.arch {
                reasons.push(format!("architecture changes {} → {}: every image must be multi-arch and the AMI type must change", cur.arch, t.arch));
                level = RiskLevel::High;
            }
            r.risk = Risk { level, reasons };
            r.confidence = 0.75;
            r.evidence = vec![
                Evidence::new(
                    "cpu_requested_ratio",
                    (req_cpu * 1000.0).round() / 1000.0,
                    "ratio",
                ),
                Evidence::new(
                    "memory_requested_ratio",
                    (req_mem * 1000.0).round() / 1000.0,
                    "ratio",
                ),
                Evidence::new(
                    "cpu_used_ratio",
                    (usage_cpu as f64 / alloc.cpu_milli.max(1) as f64 * 1000.0).round() / 1000.0,
                    "ratio",
                ),
                Evidence::new(
                    "largest_pod_cpu",
                    largest.cpu_milli as f64 / 1000.0,
                    "cores",
                ),
                Evidence::new("largest_pod_memory", largest.memory_bytes as f64, "bytes"),
                Evidence::new(
                    "daemonset_overhead_cpu",
                    overhead.cpu_milli as f64 / 1000.0,
                    "cores",
                ),
                Evidence::new("nodes", n as f64, "count"),
            ];
            r.explanation = format!(
                "Node group {group} runs {n} {cur_type} nodes whose pods request {:.0}% of the CPU and {:.0}% of the memory. \
                 {count} {} nodes ({} vCPU, {} MiB each) hold the group's requests with {:.0}% headroom, its largest pod ({}m CPU, {} MiB) \
                 and the DaemonSets ({}m CPU per node), for {} instead of {} a month.",
                req_cpu * 100.0,
                req_mem * 100.0,
                t.name,
                t.vcpu,
                t.memory_mib,
                cfg.headroom * 100.0,
                largest.cpu_milli,
                largest.memory_bytes >> 20,
                overhead.cpu_milli,
                fmt_usd(new_cost * HOURS_PER_MONTH),
                fmt_usd(cur_cost * HOURS_PER_MONTH),
            );
            out.push(r);
        }
        Ok(out)
    }
}
