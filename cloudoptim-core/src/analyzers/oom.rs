//! OOMKilled remediation: memory raised by 20 % (at least 100Mi) over max(current limit,
//! observed peak), as VPA's `OOMBumpUpRatio` and `OOMMinBumpUp` do.

use std::collections::BTreeMap;

use super::{Analyzer, Context, Result, fmt_usd};
use crate::cost::HOURS_PER_MONTH;
use crate::model::{ContainerKey, Pod, WorkloadRef};
use crate::quantity::format_memory_bytes;
use crate::recommend::*;

/// Finds containers whose last termination was `OOMKilled` (or exit 137 at the memory limit)
/// and raises their memory request and limit.
#[derive(Debug, Clone)]
pub struct OomRemediation {
    /// Multiplier over the reference (default 1.2).
    pub bump_ratio: f64,
    /// Minimum increase in bytes (default 100Mi).
    pub min_bump_bytes: i64,
}

impl Default for OomRemediation {
    fn default() -> Self {
        OomRemediation {
            bump_ratio: 1.2,
            min_bump_bytes: 100 << 20,
        }
    }
}

struct Hit<'a> {
    pods: Vec<&'a Pod>,
    restarts: i32,
    peak: f64,
    limit: i64,
    request: i64,
    exit_137_only: bool,
}

impl Analyzer for OomRemediation {
    fn name(&self) -> &str {
        "oom-remediation"
    }

    fn description(&self) -> &str {
        "Memory for containers killed by the OOM killer"
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        // one recommendation per workload and container, never per pod
        let mut hits: BTreeMap<(Option<WorkloadRef>, String, String, String), Hit<'_>> =
            BTreeMap::new();
        for p in &ctx.cluster.pods {
            for c in &p.containers {
                let Some(t) = &c.last_termination else {
                    continue;
                };
                let oom = t.reason.as_deref() == Some("OOMKilled");
                // exit 137 (SIGKILL) counts only when usage reached the memory limit
                let key = ContainerKey {
                    namespace: p.namespace.clone(),
                    pod: p.name.clone(),
                    container: c.name.clone(),
                };
                let peak = ctx
                    .cluster
                    .usage
                    .containers
                    .get(&key)
                    .map(|u| u.memory.iter().map(|s| s.1).fold(0.0, f64::max))
                    .unwrap_or(0.0)
                    .max(
                        ctx.cluster
                            .metrics
                            .containers
                            .get(&format!("{}/{}/{}", p.namespace, p.name, c.name))
                            .map(|r| r.memory_bytes as f64)
                            .unwrap_or(0.0),
                    );
                let at_limit = c.has_memory_limit && peak >= c.limits.memory_bytes as f64 * 0.95;
                if !(oom || (t.exit_code == 137 && at_limit)) {
                    continue;
                }
                let (wk, wname) = match &p.workload {
                    Some(w) => (Some(w.clone()), w.name.clone()),
                    None => (None, p.name.clone()),
                };
                let h = hits
                    .entry((wk, p.namespace.clone(), wname, c.name.clone()))
                    .or_insert(Hit {
                        pods: vec![],
                        restarts: 0,
                        peak: 0.0,
                        limit: 0,
                        request: 0,
                        exit_137_only: true,
                    });
                h.pods.push(p);
                h.restarts += c.restart_count;
                h.peak = h.peak.max(peak);
                h.limit = h.limit.max(if c.has_memory_limit {
                    c.limits.memory_bytes
                } else {
                    0
                });
                h.request = h.request.max(c.requests.memory_bytes);
                h.exit_137_only &= !oom;
            }
        }
        let mut out = Vec::new();
        for ((wref, ns, wname, container), h) in hits {
            let reference = (h.limit as f64).max(h.peak).max(h.request as f64);
            let raised =
                ((reference * self.bump_ratio) as i64).max(reference as i64 + self.min_bump_bytes);
            let new_mem = (raised + (1 << 20) - 1) >> 20 << 20;
            // the cost of the extra request, at the memory price of the nodes the pods run on
            let replicas = ctx
                .workload(wref.as_ref().unwrap_or(&WorkloadRef {
                    kind: crate::model::WorkloadKind::Pod,
                    namespace: ns.clone(),
                    name: wname.clone(),
                }))
                .and_then(|w| w.replicas)
                .map(|r| r.max(1) as usize)
                .unwrap_or(h.pods.len());
            let gib_price = h
                .pods
                .iter()
                .filter_map(|p| p.node_name.as_deref().and_then(|n| ctx.node_cost(n)))
                .map(|c| c.memory_gib_hourly)
                .sum::<f64>()
                / h.pods.len().max(1) as f64;
            let extra = (new_mem - h.request).max(0) as f64 / (1u64 << 30) as f64;
            let monthly = -(extra * gib_price * HOURS_PER_MONTH * replicas as f64);
            let mut target = Target::cluster(&ctx.cluster.name);
            target.namespace = Some(ns.clone());
            target.workload_kind = wref
                .as_ref()
                .map(|w| w.kind.as_str().to_string())
                .or(Some("Pod".into()));
            target.workload = Some(wname.clone());
            target.container = Some(container.clone());
            let mut per_node: BTreeMap<String, f64> = BTreeMap::new();
            for p in &h.pods {
                if let Some(n) = &p.node_name {
                    *per_node.entry(n.clone()).or_default() += monthly / h.pods.len() as f64;
                }
            }
            let r = Recommendation::new(RecommendationKind::OomRemediation, self.name(), target);
            let mut r = super::claim_on_nodes(r, ctx, &per_node);
            if r.savings_claims.is_empty() {
                r.monthly_savings_usd = round_cents(monthly);
            }
            r.priority = Priority::High;
            r.title = format!(
                "Raise memory of {ns}/{wname} [{container}] after OOM kills: {} → {} (+{}/mo)",
                format_memory_bytes(h.limit.max(h.request)),
                format_memory_bytes(new_mem),
                fmt_usd(-monthly)
            );
            r.changes = vec![Change::new(
                "memory_request",
                format_memory_bytes(h.request),
                format_memory_bytes(new_mem),
            )];
            if h.limit > 0 {
                r.changes.push(Change::new(
                    "memory_limit",
                    format_memory_bytes(h.limit),
                    format_memory_bytes(new_mem),
                ));
            }
            let mut reasons = vec!["the container is being killed: until memory is raised it restarts and loses in-flight work".to_string()];
            if h.exit_137_only {
                reasons.push("the termination reason is exit code 137 with usage at the limit, not an explicit OOMKilled".into());
            }
            if h.peak == 0.0 {
                reasons.push("no usage history: the new value rests on the limit alone; a memory leak would only be delayed".into());
            }
            r.risk = Risk {
                level: RiskLevel::High,
                reasons,
            };
            r.confidence = if h.peak > 0.0 { 0.85 } else { 0.6 };
            r.evidence = vec![
                Evidence::new("restarts", h.restarts as f64, "count"),
                Evidence::new("memory_limit_current", h.limit as f64, "bytes"),
                Evidence::new("memory_request_current", h.request as f64, "bytes"),
                Evidence::new("memory_peak", h.peak.round(), "bytes"),
                Evidence::new("pods_affected", h.pods.len() as f64, "count"),
            ];
            r.explanation = format!(
                "{} pod(s) of {ns}/{wname} had container {container} killed by the kernel's OOM killer ({} restarts in all). \
                 The memory limit is {} and the highest observed use {}. Raising request and limit to {} ({}% over the larger, at least +{}) \
                 stops the kills; it costs {} a month more, which is what the workload really needs.",
                h.pods.len(),
                h.restarts,
                if h.limit > 0 {
                    format_memory_bytes(h.limit)
                } else {
                    "unset".into()
                },
                if h.peak > 0.0 {
                    format_memory_bytes(h.peak as i64)
                } else {
                    "not recorded".into()
                },
                format_memory_bytes(new_mem),
                ((self.bump_ratio - 1.0) * 100.0).round(),
                format_memory_bytes(self.min_bump_bytes),
                fmt_usd(-monthly),
            );
            out.push(r);
        }
        Ok(out)
    }
}
