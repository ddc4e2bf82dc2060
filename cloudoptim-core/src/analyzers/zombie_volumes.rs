//! Unattached EBS volumes.

use super::{Analyzer, Context, Result, fmt_usd};
use crate::recommend::*;

/// Finds EBS volumes in state `available` (attached to nothing), referenced by no live
/// PersistentVolume (a `Released` or `Failed` PV with `Retain` is itself left over, so it does
/// not protect its volume), and older than a grace period — from `CreateTime`, or from a
/// `cloudoptim-first-seen` (or cloud-nuke's `cloud-nuke-first-seen`) tag when present — as
/// cloud-nuke does, and recommends a snapshot and deletion.
#[derive(Debug, Clone)]
pub struct ZombieVolumes {
    /// Minimum age in days before a detached volume is reported (default 7).
    pub min_age_days: f64,
}

impl Default for ZombieVolumes {
    fn default() -> Self {
        ZombieVolumes { min_age_days: 7.0 }
    }
}

impl Analyzer for ZombieVolumes {
    fn name(&self) -> &str {
        "zombie-volumes"
    }

    fn description(&self) -> &str {
        "EBS volumes attached to nothing"
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        let mut out = Vec::new();
        for v in &ctx.cluster.aws.volumes {
            if !(v.state == "available" || v.state == "error") || !v.attached_to.is_empty() {
                continue;
            }
            let first_seen = ["cloudoptim-first-seen", "cloud-nuke-first-seen"]
                .iter()
                .find_map(|k| v.tags.get(*k))
                .and_then(|t| t.parse::<jiff::Timestamp>().ok());
            let age_days = first_seen
                .or(v.create_time)
                .map(|t| (ctx.now.as_second() - t.as_second()) as f64 / 86_400.0);
            if age_days.is_some_and(|a| a < self.min_age_days) {
                continue;
            }
            let monthly = ctx.pricing.volume_monthly(v);
            let pv = ctx
                .cluster
                .pvs
                .iter()
                .find(|p| p.volume_id.as_deref() == Some(v.volume_id.as_str()));
            if pv.is_some_and(|p| !matches!(p.phase.as_deref(), Some("Released" | "Failed"))) {
                continue; // a live PV still claims it
            }
            let pvc_tag = v.tags.get("kubernetes.io/created-for/pvc/name").map(|n| {
                format!(
                    "{}/{}",
                    v.tags
                        .get("kubernetes.io/created-for/pvc/namespace")
                        .map(String::as_str)
                        .unwrap_or("?"),
                    n
                )
            });
            let mut target = Target::cluster(&ctx.cluster.name);
            target.volume = Some(v.volume_id.clone());
            let mut reasons = vec![];
            let mut level = RiskLevel::Low;
            if let Some(pvc) = &pvc_tag {
                reasons.push(format!(
                    "it was created for PVC {pvc}; its data may still be wanted: snapshot before deleting"
                ));
                level = RiskLevel::Medium;
            }
            if let Some(pv) = pv {
                reasons.push(format!(
                    "PersistentVolume {} still points at it (phase {}, reclaim policy {})",
                    pv.name,
                    pv.phase.as_deref().unwrap_or("unknown"),
                    pv.reclaim_policy.as_deref().unwrap_or("unknown")
                ));
                level = RiskLevel::Medium;
            }
            if age_days.is_none() {
                reasons.push("its creation time is unknown".into());
                level = level.max(RiskLevel::Medium);
            }
            let mut r = Recommendation::new(RecommendationKind::ZombieVolume, self.name(), target)
                .with_claim(format!("volume:{}", v.volume_id), monthly, 1.0);
            r.title = format!(
                "Delete unattached {} volume {} ({} GiB, −{}/mo)",
                v.volume_type,
                v.volume_id,
                v.size_gib,
                fmt_usd(monthly)
            );
            r.changes = vec![Change::new(
                "state",
                v.state.clone(),
                "snapshot, then delete",
            )];
            r.risk = Risk { level, reasons };
            r.confidence = if pv.is_some() { 0.7 } else { 0.9 };
            r.evidence = vec![
                Evidence::new("size", v.size_gib as f64, "GiB"),
                Evidence::new("monthly_cost", monthly, "usd_per_month"),
            ];
            if let Some(a) = age_days {
                r.evidence
                    .push(Evidence::new("age", (a * 10.0).round() / 10.0, "days"));
            }
            r.explanation = format!(
                "EBS volume {} ({} GiB {}{}) is not attached to any instance{}. It costs {} a month for storage alone. \
                 Take a snapshot (about a quarter of the price per GB) if the data might be needed, then delete it.",
                v.volume_id,
                v.size_gib,
                v.volume_type,
                v.zone
                    .as_deref()
                    .map(|z| format!(" in {z}"))
                    .unwrap_or_default(),
                age_days
                    .map(|a| format!(" and was created {a:.0} days ago"))
                    .unwrap_or_default(),
                fmt_usd(monthly),
            );
            out.push(r);
        }
        Ok(out)
    }
}
