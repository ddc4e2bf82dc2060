//! Cross-AZ traffic: chatty workload → Service pairs whose pods sit in different zones.

use std::collections::BTreeMap;

use super::{Analyzer, Context, Result, fmt_usd};
use crate::cost::HOURS_PER_MONTH;
use crate::recommend::*;

/// AWS charges $0.01 per GB in each direction between zones of a region.
pub const CROSS_AZ_USD_PER_GB_EACH_WAY: f64 = 0.01;

/// Finds pairs with cross-zone traffic and recommends `trafficDistribution: PreferClose`
/// (topology-aware routing), or spreading the destination when a zone has no endpoint.
#[derive(Debug, Clone)]
pub struct CrossAzTraffic {
    /// Smallest monthly cross-zone cost worth reporting (default $5).
    pub min_monthly_usd: f64,
}

impl Default for CrossAzTraffic {
    fn default() -> Self {
        CrossAzTraffic {
            min_monthly_usd: 5.0,
        }
    }
}

fn shares(zones: &[String]) -> BTreeMap<String, f64> {
    let mut m: BTreeMap<String, f64> = BTreeMap::new();
    for z in zones {
        *m.entry(z.clone()).or_default() += 1.0 / zones.len() as f64;
    }
    m
}

impl Analyzer for CrossAzTraffic {
    fn name(&self) -> &str {
        "cross-az-traffic"
    }

    fn description(&self) -> &str {
        "Service traffic that crosses availability zones"
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        let zone_of = |node: Option<&str>| {
            node.and_then(|n| ctx.cluster.node(n))
                .and_then(|n| n.zone.clone())
        };
        let mut out = Vec::new();
        for f in &ctx.cluster.traffic {
            let (Some((sns, sw)), Some((dns, dsvc))) =
                (f.source.split_once('/'), f.destination.split_once('/'))
            else {
                continue;
            };
            let Some(svc) = ctx
                .cluster
                .services
                .iter()
                .find(|s| s.namespace == dns && s.name == dsvc)
            else {
                continue;
            };
            if svc.selector.is_empty() {
                continue;
            }
            let src: Vec<String> = ctx
                .cluster
                .pods
                .iter()
                .filter(|p| {
                    p.is_active()
                        && p.namespace == sns
                        && p.workload.as_ref().is_some_and(|w| w.name == sw)
                })
                .filter_map(|p| zone_of(p.node_name.as_deref()))
                .collect();
            let dst: Vec<String> = ctx
                .cluster
                .pods
                .iter()
                .filter(|p| {
                    p.is_active()
                        && p.namespace == dns
                        && svc.selector.iter().all(|(k, v)| p.labels.get(k) == Some(v))
                })
                .filter_map(|p| zone_of(p.node_name.as_deref()))
                .collect();
            if src.is_empty() || dst.is_empty() {
                continue;
            }
            let (ss, ds) = (shares(&src), shares(&dst));
            // spread evenly over endpoints: the share of bytes that leaves its zone
            let same: f64 = ss
                .iter()
                .map(|(z, s)| s * ds.get(z).copied().unwrap_or(0.0))
                .sum();
            let cross_now = 1.0 - same;
            let prefer_close = svc.traffic_distribution.as_deref() == Some("PreferClose")
                || svc
                    .topology_mode
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case("auto"))
                || svc.internal_traffic_policy.as_deref() == Some("Local");
            // with PreferClose, traffic stays in its zone wherever the zone has an endpoint
            let cross_after: f64 = ss
                .iter()
                .filter(|(z, _)| !ds.contains_key(*z))
                .map(|(_, s)| s)
                .sum();
            let gb_month = f.bytes / f.window_seconds.max(1.0) * HOURS_PER_MONTH * 3600.0 / 1e9;
            let cost_now = gb_month * cross_now * CROSS_AZ_USD_PER_GB_EACH_WAY * 2.0;
            let cost_after = gb_month * cross_after * CROSS_AZ_USD_PER_GB_EACH_WAY * 2.0;
            let missing: Vec<&String> = ss.keys().filter(|z| !ds.contains_key(*z)).collect();
            if cost_now < self.min_monthly_usd || (prefer_close && missing.is_empty()) {
                continue;
            }
            let mut target = Target::cluster(&ctx.cluster.name);
            target.namespace = Some(dns.to_string());
            target.workload_kind = Some("Service".into());
            target.workload = Some(dsvc.to_string());
            let resource = format!("traffic:{}->{}", f.source, f.destination);
            let mut r =
                Recommendation::new(RecommendationKind::CrossAzTraffic, self.name(), target);
            let (saving, fix) = if !prefer_close {
                (cost_now - cost_after, "set `spec.trafficDistribution: PreferClose` on the Service (Kubernetes ≥ 1.31; older: the `service.kubernetes.io/topology-mode: Auto` annotation)".to_string())
            } else {
                (cost_now - cost_after, String::new())
            };
            r = r.with_claim(
                resource,
                cost_now,
                if cost_now > 0.0 {
                    saving / cost_now
                } else {
                    0.0
                },
            );
            let mut fixes = vec![];
            if !fix.is_empty() {
                fixes.push(fix);
                r.changes.push(Change::new(
                    "trafficDistribution",
                    svc.traffic_distribution
                        .clone()
                        .unwrap_or_else(|| "unset".into()),
                    "PreferClose",
                ));
            }
            if !missing.is_empty() {
                fixes.push(format!(
                    "give {dsvc} endpoints in {} (a topology spread constraint on zone, or more replicas): clients there must cross zones",
                    missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ));
            }
            r.title = format!(
                "Keep {} → {} in-zone: {:.0}% of {:.0} GB/mo crosses zones (−{}/mo)",
                f.source,
                f.destination,
                cross_now * 100.0,
                gb_month,
                fmt_usd(saving)
            );
            r.risk = Risk {
                level: if missing.is_empty() { RiskLevel::Low } else { RiskLevel::Medium },
                reasons: vec!["PreferClose sends traffic to local endpoints first: a zone with few endpoints gets more load".into()],
            };
            r.confidence = 0.7;
            r.evidence = vec![
                Evidence::new("gb_per_month", (gb_month * 10.0).round() / 10.0, "GB"),
                Evidence::new(
                    "cross_zone_share_now",
                    (cross_now * 1000.0).round() / 1000.0,
                    "ratio",
                ),
                Evidence::new(
                    "cross_zone_share_after",
                    (cross_after * 1000.0).round() / 1000.0,
                    "ratio",
                ),
                Evidence::new(
                    "cost_now",
                    (cost_now * 100.0).round() / 100.0,
                    "usd_per_month",
                ),
            ];
            r.explanation = format!(
                "{} sends about {:.0} GB a month to Service {}. Its {} pod(s) and the Service's {} endpoint(s) are spread over {} and {} zone(s), \
                 so about {:.0}% of the bytes cross zones, at ${:.2}/GB each way: {} a month. {}",
                f.source,
                gb_month,
                f.destination,
                src.len(),
                dst.len(),
                ss.len(),
                ds.len(),
                cross_now * 100.0,
                CROSS_AZ_USD_PER_GB_EACH_WAY,
                fmt_usd(cost_now),
                fixes.join("; and "),
            );
            out.push(r);
        }
        Ok(out)
    }
}
