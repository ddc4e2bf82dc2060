//! Workload rightsizing from usage history: CPU at a percentile, memory from the peak plus a
//! buffer, as KRR's simple strategy does.

use std::collections::BTreeMap;

use std::sync::Arc;

use super::strategy::{PercentileStrategy, RightsizingStrategy};
use super::{Analyzer, Context, Result, fmt_usd};
use crate::cost::HOURS_PER_MONTH;
use crate::model::{ContainerKey, Pod, WorkloadKind, WorkloadRef};
use crate::quantity::{format_cpu_milli, format_memory_bytes};
use crate::recommend::*;

/// What happens to limits when requests change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LimitsPolicy {
    /// Limits keep their ratio to requests (default).
    #[default]
    KeepRatio,
    /// CPU limits are removed (no throttling); memory limits keep their ratio.
    UnsetCpuLimit,
    /// Memory limit = memory request (KRR's choice); CPU limits keep their ratio.
    MemoryLimitEqualsRequest,
}

/// Settings of [`WorkloadRightsizing`].
#[derive(Clone)]
#[non_exhaustive]
pub struct RightsizingConfig {
    /// How samples become a target (default [`PercentileStrategy`]).
    pub strategy: Arc<dyn RightsizingStrategy>,
    /// Limits policy.
    pub limits: LimitsPolicy,
    /// Minimum CPU request in millicores (default 10).
    pub min_cpu_milli: i64,
    /// Minimum memory request in bytes (default 100Mi).
    pub min_memory_bytes: i64,
    /// Minimum number of samples (default 100).
    pub min_samples: usize,
    /// Minimum history span in hours (default 3).
    pub min_history_hours: f64,
    /// Smallest relative change worth a recommendation (default 0.1).
    pub min_change: f64,
    /// Smallest monthly saving worth a recommendation, USD (default 1).
    pub min_monthly_savings: f64,
    /// Extra headroom per namespace or workload, on top of the strategy's target; the first
    /// rule that matches wins (default none).
    pub buffers: Vec<Buffer>,
}

/// Extra headroom for the workloads a pattern matches: `cpu: 0.25` puts the CPU request 25 %
/// above what the strategy recommends, `memory: 0.1` the memory request 10 % above. The
/// pattern is a `*` glob on the namespace (`payments`, `team-*`) or on `namespace/workload`
/// (`shop/checkout`, `shop/*-api`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Buffer {
    /// Namespace or `namespace/workload` glob.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Extra CPU as a fraction (0.25 = +25 %).
    #[serde(default)]
    pub cpu: f64,
    /// Extra memory as a fraction.
    #[serde(default)]
    pub memory: f64,
}

impl Buffer {
    /// Whether the rule covers this workload: a pattern with `/` is matched against
    /// `namespace/workload`, one without against the namespace.
    pub fn matches(&self, namespace: &str, workload: &str) -> bool {
        if self.pattern.contains('/') {
            crate::report::glob(&self.pattern, &format!("{namespace}/{workload}"))
        } else {
            crate::report::glob(&self.pattern, namespace)
        }
    }

    /// Checks the fractions: finite, from 0 to 10 (+1000 %).
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (name, v) in [("cpu", self.cpu), ("memory", self.memory)] {
            if !v.is_finite() || !(0.0..=10.0).contains(&v) {
                return Err(format!(
                    "buffer `{}`: {name} must be a fraction from 0 to 10 (0.25 = +25 %), got {v}",
                    self.pattern
                ));
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for RightsizingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RightsizingConfig")
            .field("strategy", &self.strategy.name())
            .field("limits", &self.limits)
            .field("min_cpu_milli", &self.min_cpu_milli)
            .field("min_memory_bytes", &self.min_memory_bytes)
            .field("min_samples", &self.min_samples)
            .field("min_history_hours", &self.min_history_hours)
            .finish()
    }
}

impl Default for RightsizingConfig {
    fn default() -> Self {
        RightsizingConfig {
            strategy: Arc::new(PercentileStrategy::default()),
            limits: LimitsPolicy::KeepRatio,
            min_cpu_milli: 10,
            min_memory_bytes: 100 << 20,
            min_samples: 100,
            min_history_hours: 3.0,
            min_change: 0.1,
            min_monthly_savings: 1.0,
            buffers: Vec::new(),
        }
    }
}

/// Recommends container requests from usage history.
#[derive(Debug, Clone, Default)]
pub struct WorkloadRightsizing {
    /// Settings.
    pub config: RightsizingConfig,
}

struct Series {
    cpu: usize,
    memory: usize,
    first: i64,
    last: i64,
}

impl Analyzer for WorkloadRightsizing {
    fn name(&self) -> &str {
        "workload-rightsizing"
    }

    fn description(&self) -> &str {
        "Container requests from usage percentiles"
    }

    fn notes(&self, ctx: &Context<'_>) -> Vec<String> {
        if ctx.cluster.usage.is_empty() {
            return vec![];
        }
        let cfg = &self.config;
        let short: Vec<String> = ctx
            .cluster
            .usage
            .containers
            .iter()
            .filter(|(_, u)| {
                let first = u.cpu.first().map(|x| x.0).unwrap_or(0);
                let last = u.cpu.last().map(|x| x.0).unwrap_or(0);
                u.cpu.len() < cfg.min_samples
                    || (last - first) as f64 / 3600.0 < cfg.min_history_hours
            })
            .map(|(k, _)| format!("{}/{}/{}", k.namespace, k.pod, k.container))
            .collect();
        if short.is_empty() {
            return vec![];
        }
        let mut examples = short.clone();
        examples.sort();
        examples.truncate(3);
        vec![format!(
            "insufficient data for {} container(s) (fewer than {} samples or {} h of history): no rightsizing for them yet, e.g. {}",
            short.len(),
            cfg.min_samples,
            cfg.min_history_hours,
            examples.join(", ")
        )]
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        let cfg = &self.config;
        if ctx.cluster.usage.is_empty() {
            return Ok(vec![]);
        }
        // workload → active pods
        let mut groups: BTreeMap<&WorkloadRef, Vec<&Pod>> = BTreeMap::new();
        for p in &ctx.cluster.pods {
            if !p.is_active() {
                continue;
            }
            if let Some(w) = &p.workload
                && !matches!(
                    w.kind,
                    WorkloadKind::Job | WorkloadKind::CronJob | WorkloadKind::Pod
                )
            {
                groups.entry(w).or_default().push(p);
            }
        }
        let mut out = Vec::new();
        for (wref, pods) in groups {
            let workload = ctx.workload(wref);
            let hpa = workload.and_then(|w| w.hpa.clone());
            let Some(first) = pods.first() else { continue };
            for c in &first.containers {
                // containers killed by the OOM killer are the OOM analyzer's
                let oom = pods.iter().any(|p| {
                    p.containers.iter().any(|x| {
                        x.name == c.name
                            && x.last_termination
                                .as_ref()
                                .is_some_and(|t| t.reason.as_deref() == Some("OOMKilled"))
                    })
                });
                if oom {
                    continue;
                }
                let mut s = Series {
                    cpu: 0,
                    memory: 0,
                    first: i64::MAX,
                    last: i64::MIN,
                };
                let mut refs = Vec::new();
                let mut cpu_max: f64 = 0.0;
                let mut mem_peak: f64 = 0.0;
                for p in &pods {
                    let key = ContainerKey {
                        namespace: p.namespace.clone(),
                        pod: p.name.clone(),
                        container: c.name.clone(),
                    };
                    if let Some(u) = ctx.cluster.usage.containers.get(&key) {
                        refs.push(u);
                        s.cpu += u.cpu.len();
                        s.memory += u.memory.len();
                        cpu_max = u.cpu.iter().map(|x| x.1).fold(cpu_max, f64::max);
                        mem_peak = u.memory.iter().map(|x| x.1).fold(mem_peak, f64::max);
                        for t in u.cpu.iter().chain(u.memory.iter()).map(|x| x.0) {
                            s.first = s.first.min(t);
                            s.last = s.last.max(t);
                        }
                    }
                }
                // No samples at all leaves first = i64::MAX and last = i64::MIN.
                let hours = s.last.saturating_sub(s.first) as f64 / 3600.0;
                if s.cpu < cfg.min_samples
                    || s.memory < cfg.min_samples
                    || hours < cfg.min_history_hours
                {
                    continue;
                }
                // current requests: the largest across the workload's pods
                let (cur_cpu, cur_mem, cur_cpu_lim, cur_mem_lim) = pods
                    .iter()
                    .filter_map(|p| p.containers.iter().find(|x| x.name == c.name))
                    .fold((0i64, 0i64, 0i64, 0i64), |a, x| {
                        (
                            a.0.max(x.requests.cpu_milli),
                            a.1.max(x.requests.memory_bytes),
                            a.2.max(if x.has_cpu_limit {
                                x.limits.cpu_milli
                            } else {
                                0
                            }),
                            a.3.max(if x.has_memory_limit {
                                x.limits.memory_bytes
                            } else {
                                0
                            }),
                        )
                    });
                let n_samples = s.cpu;
                let (mut cpu_p, mut mem_target) = cfg.strategy.recommend(&refs, s.last);
                let buffer = cfg
                    .buffers
                    .iter()
                    .find(|b| b.matches(&wref.namespace, &wref.name));
                if let Some(b) = buffer {
                    cpu_p *= 1.0 + b.cpu;
                    mem_target *= 1.0 + b.memory;
                }
                let rec_cpu = (((cpu_p * 1000.0).ceil() as i64).max(cfg.min_cpu_milli) + 4) / 5 * 5;
                let rec_mem = {
                    let b = (mem_target.ceil() as i64).max(cfg.min_memory_bytes);
                    (b + (1 << 20) - 1) >> 20 << 20
                };
                let rel = |new: i64, old: i64| {
                    if old == 0 {
                        1.0
                    } else {
                        (new - old).abs() as f64 / old as f64
                    }
                };
                let cpu_changes = rel(rec_cpu, cur_cpu) >= cfg.min_change;
                let mem_changes = rel(rec_mem, cur_mem) >= cfg.min_change;
                if !cpu_changes && !mem_changes {
                    continue;
                }
                let new_cpu = if cpu_changes { rec_cpu } else { cur_cpu };
                let new_mem = if mem_changes { rec_mem } else { cur_mem };
                // savings at each pod's node unit prices
                let mut hourly = 0.0;
                let mut per_node: std::collections::BTreeMap<String, f64> =
                    std::collections::BTreeMap::new();
                for p in &pods {
                    if let Some(nc) = p.node_name.as_deref().and_then(|n| ctx.node_cost(n)) {
                        let h = (cur_cpu - new_cpu) as f64 / 1000.0 * nc.cpu_core_hourly
                            + (cur_mem - new_mem) as f64 / (1u64 << 30) as f64
                                * nc.memory_gib_hourly;
                        hourly += h;
                        *per_node.entry(nc.node.clone()).or_default() += h * HOURS_PER_MONTH;
                    }
                }
                let monthly = hourly * HOURS_PER_MONTH;
                if monthly.abs() < cfg.min_monthly_savings
                    && new_cpu <= cur_cpu
                    && new_mem <= cur_mem
                {
                    continue;
                }
                let mut target = Target::cluster(&ctx.cluster.name);
                target.namespace = Some(wref.namespace.clone());
                target.workload_kind = Some(wref.kind.as_str().to_string());
                target.workload = Some(wref.name.clone());
                target.container = Some(c.name.clone());
                let mut changes = Vec::new();
                if cpu_changes {
                    changes.push(Change::new(
                        "cpu_request",
                        fmt_cpu(cur_cpu),
                        format_cpu_milli(new_cpu),
                    ));
                    if cur_cpu_lim > 0 && cfg.limits == LimitsPolicy::UnsetCpuLimit {
                        changes.push(Change::new(
                            "cpu_limit",
                            format_cpu_milli(cur_cpu_lim),
                            "unset",
                        ));
                    } else if cur_cpu_lim > 0 && cur_cpu > 0 {
                        let lim =
                            (new_cpu as f64 * cur_cpu_lim as f64 / cur_cpu as f64).ceil() as i64;
                        changes.push(Change::new(
                            "cpu_limit",
                            format_cpu_milli(cur_cpu_lim),
                            format_cpu_milli(lim),
                        ));
                    }
                }
                if mem_changes {
                    changes.push(Change::new(
                        "memory_request",
                        fmt_mem(cur_mem),
                        format_memory_bytes(new_mem),
                    ));
                    if cur_mem_lim > 0 {
                        let ratio_lim = if cfg.limits == LimitsPolicy::MemoryLimitEqualsRequest {
                            new_mem
                        } else {
                            0
                        };
                        let lim = new_mem.max(if ratio_lim > 0 {
                            ratio_lim
                        } else if cur_mem > 0 {
                            (new_mem as f64 * cur_mem_lim as f64 / cur_mem as f64).ceil() as i64
                        } else {
                            new_mem
                        });
                        let lim = (lim + (1 << 20) - 1) >> 20 << 20;
                        changes.push(Change::new(
                            "memory_limit",
                            format_memory_bytes(cur_mem_lim),
                            format_memory_bytes(lim),
                        ));
                    }
                }
                let mut reasons = Vec::new();
                let mut level = RiskLevel::Low;
                if let Some(h) = &hpa {
                    reasons.push(format!(
                        "HPA {h} scales this workload; its utilisation targets are relative to requests, so replica counts will change"
                    ));
                    level = RiskLevel::Medium;
                }
                if hours < 24.0 * 7.0 {
                    reasons.push(format!(
                        "only {hours:.0} h of history; weekly peaks may be missing"
                    ));
                    level = level.max(RiskLevel::Medium);
                }
                if new_mem < cur_mem && (new_mem as f64) < mem_peak * 1.05 {
                    reasons.push("memory would sit close to the observed peak".into());
                    level = level.max(RiskLevel::Medium);
                }
                let r = Recommendation::new(
                    RecommendationKind::WorkloadRightsizing,
                    self.name(),
                    target,
                );
                let mut r = super::claim_on_nodes(r, ctx, &per_node);
                let summary: Vec<String> = changes
                    .iter()
                    .filter(|c| c.field.ends_with("_request"))
                    .map(|c| {
                        format!(
                            "{} {} → {}",
                            c.field.trim_end_matches("_request"),
                            c.current,
                            c.proposed
                        )
                    })
                    .collect();
                r.title = format!(
                    "Right-size {}/{} [{}]: {} ({}{}/mo)",
                    wref.namespace,
                    wref.name,
                    c.name,
                    summary.join(", "),
                    if monthly >= 0.0 { "−" } else { "+" },
                    fmt_usd(monthly.abs())
                );
                r.changes = changes;
                if (cur_cpu > 0 && cpu_p * 1000.0 > cur_cpu as f64)
                    || (cur_mem > 0 && mem_peak > cur_mem as f64)
                {
                    r.priority = Priority::High;
                    reasons.push("usage is above the current requests: the change raises them to avoid throttling, eviction or OOM kills".into());
                    level = level.max(RiskLevel::Medium);
                } else if new_cpu > cur_cpu || new_mem > cur_mem {
                    reasons.push(
                        "a request rises to the minimum (10m CPU, 100Mi memory) or from unset"
                            .into(),
                    );
                }
                r.risk = Risk { level, reasons };
                r.confidence = ((hours / (24.0 * 7.0)).min(1.0) * 0.9 + 0.05).min(0.95);
                r.evidence = vec![
                    Evidence::new("cpu_target", round3(cpu_p), "cores"),
                    Evidence::new("cpu_max", round3(cpu_max), "cores"),
                    Evidence::new("memory_target", mem_target.round(), "bytes"),
                    Evidence::new("memory_peak", mem_peak.round(), "bytes"),
                    Evidence::new("cpu_request_current", cur_cpu as f64 / 1000.0, "cores"),
                    Evidence::new("memory_request_current", cur_mem as f64, "bytes"),
                    Evidence::new("samples", n_samples as f64, "count"),
                    Evidence::new("history", (hours * 10.0).round() / 10.0, "hours"),
                    Evidence::new("replicas", pods.len() as f64, "count"),
                ];
                if let Some(b) = buffer {
                    r.evidence
                        .push(Evidence::new("cpu_buffer", b.cpu, "fraction"));
                    r.evidence
                        .push(Evidence::new("memory_buffer", b.memory, "fraction"));
                }
                r.explanation = format!(
                    "Over {:.1} days, {} of {} replica(s) used at most {:.3} cores and peaked at {} of memory, \
                     against requests of {} CPU and {} memory. The {} strategy ({}){} gives {} CPU and {} memory, \
                     which {} {} a month across the replicas.",
                    hours / 24.0,
                    c.name,
                    pods.len(),
                    cpu_max,
                    format_memory_bytes(mem_peak as i64),
                    fmt_cpu(cur_cpu),
                    fmt_mem(cur_mem),
                    cfg.strategy.name(),
                    cfg.strategy.describe(),
                    buffer
                        .map(|b| format!(
                            " with the `{}` buffer (+{:.0} % CPU, +{:.0} % memory)",
                            b.pattern,
                            b.cpu * 100.0,
                            b.memory * 100.0
                        ))
                        .unwrap_or_default(),
                    format_cpu_milli(new_cpu),
                    format_memory_bytes(new_mem),
                    if monthly >= 0.0 { "saves" } else { "costs" },
                    fmt_usd(monthly.abs()),
                );
                out.push(r);
            }
        }
        Ok(out)
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn fmt_cpu(m: i64) -> String {
    if m == 0 {
        "unset".into()
    } else {
        format_cpu_milli(m)
    }
}

fn fmt_mem(b: i64) -> String {
    if b == 0 {
        "unset".into()
    } else {
        format_memory_bytes(b)
    }
}
