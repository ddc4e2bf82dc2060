//! Office hours: non-production namespaces scaled to zero outside working hours, emitted as a
//! kube-green `SleepInfo` or kube-downscaler annotations.

use std::collections::BTreeMap;

use super::{AnalyzeError, Analyzer, Context, Result, fmt_usd};
use crate::cost::HOURS_PER_MONTH;
use crate::model::WorkloadKind;
use crate::recommend::*;

/// How the schedule is written for the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OfficeHoursOutput {
    /// A kube-green `SleepInfo` per namespace.
    KubeGreen,
    /// kube-downscaler `downscaler/uptime` annotation on the namespace.
    KubeDownscaler,
}

/// Settings of [`OfficeHours`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OfficeHoursConfig {
    /// Working days, 1 = Monday … 7 = Sunday (default Monday–Friday).
    pub weekdays: Vec<u8>,
    /// Start hour (default 9).
    pub start_hour: u8,
    /// End hour (default 18).
    pub end_hour: u8,
    /// IANA time zone (default `UTC`).
    pub time_zone: String,
    /// Which environments count as non-production (values of the `environment`/`env` label,
    /// and name prefixes or suffixes): default dev, development, staging, stage, test, qa, sandbox, preview.
    pub non_prod: Vec<String>,
    /// Namespaces allowed even when they look like production (never by default).
    pub allow_production: Vec<String>,
    /// Output.
    pub output: OfficeHoursOutput,
}

impl Default for OfficeHoursConfig {
    fn default() -> Self {
        OfficeHoursConfig {
            weekdays: vec![1, 2, 3, 4, 5],
            start_hour: 9,
            end_hour: 18,
            time_zone: "UTC".into(),
            non_prod: [
                "dev",
                "development",
                "staging",
                "stage",
                "test",
                "qa",
                "sandbox",
                "preview",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            allow_production: vec![],
            output: OfficeHoursOutput::KubeGreen,
        }
    }
}

/// Recommends scaling non-production namespaces to zero outside working hours.
#[derive(Debug, Clone, Default)]
pub struct OfficeHours {
    /// Settings.
    pub config: OfficeHoursConfig,
}

const PROD_WORDS: &[&str] = &["prod", "production", "prd", "live"];
const SYSTEM: &[&str] = &[
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "karpenter",
    "argocd",
    "flux-system",
    "monitoring",
    "cert-manager",
    "ingress-nginx",
];

impl OfficeHours {
    /// The share of the week outside working hours.
    pub fn off_fraction(&self) -> f64 {
        let c = &self.config;
        let hours = c.end_hour.saturating_sub(c.start_hour) as f64 * c.weekdays.len() as f64;
        1.0 - hours / 168.0
    }

    /// Whether a namespace is non-production, and why.
    fn classify(&self, name: &str, labels: &BTreeMap<String, String>) -> Option<String> {
        let env = labels
            .get("environment")
            .or_else(|| labels.get("env"))
            .map(|s| s.to_lowercase());
        if let Some(e) = &env {
            if PROD_WORDS.contains(&e.as_str())
                && !self.config.allow_production.iter().any(|a| a == name)
            {
                return None;
            }
            if self.config.non_prod.contains(e) {
                return Some(format!("its label environment={e}"));
            }
        }
        let lower = name.to_lowercase();
        let tokens: Vec<&str> = lower.split(['-', '_']).collect();
        if tokens.iter().any(|t| PROD_WORDS.contains(t))
            && !self.config.allow_production.iter().any(|a| a == name)
        {
            return None;
        }
        self.config
            .non_prod
            .iter()
            .find(|w| tokens.first() == Some(&w.as_str()) || tokens.last() == Some(&w.as_str()))
            .map(|w| format!("its name marks it as {w}"))
    }

    fn artifact(&self, ns: &str) -> String {
        let c = &self.config;
        let days = if c.weekdays == [1, 2, 3, 4, 5] {
            "1-5".to_string()
        } else {
            c.weekdays
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        match c.output {
            OfficeHoursOutput::KubeGreen => format!(
                "apiVersion: kube-green.com/v1alpha1\nkind: SleepInfo\nmetadata:\n  name: office-hours\n  namespace: {ns}\nspec:\n  weekdays: \"{days}\"\n  sleepAt: \"{:02}:00\"\n  wakeUpAt: \"{:02}:00\"\n  timeZone: \"{}\"\n  suspendCronJobs: true\n",
                c.end_hour, c.start_hour, c.time_zone
            ),
            OfficeHoursOutput::KubeDownscaler => {
                let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                let first = c
                    .weekdays
                    .first()
                    .map(|d| names[(*d as usize).clamp(1, 7) - 1])
                    .unwrap_or("Mon");
                let last = c
                    .weekdays
                    .last()
                    .map(|d| names[(*d as usize).clamp(1, 7) - 1])
                    .unwrap_or("Fri");
                format!(
                    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  annotations:\n    downscaler/uptime: \"{first}-{last} {:02}:00-{:02}:00 {}\"\n",
                    c.start_hour, c.end_hour, c.time_zone
                )
            }
        }
    }
}

impl Analyzer for OfficeHours {
    fn name(&self) -> &str {
        "office-hours"
    }

    fn description(&self) -> &str {
        "Non-production namespaces scaled to zero outside working hours"
    }

    fn analyze(&self, ctx: &Context<'_>) -> Result<Vec<Recommendation>> {
        let c = &self.config;
        if c.start_hour >= c.end_hour
            || c.end_hour > 24
            || c.weekdays.iter().any(|d| !(1..=7).contains(d))
        {
            return Err(AnalyzeError::Config {
                analyzer: self.name().into(),
                message: "hours must satisfy start < end ≤ 24 and weekdays 1–7".into(),
            });
        }
        if jiff::tz::TimeZone::get(&c.time_zone).is_err() {
            return Err(AnalyzeError::Config {
                analyzer: self.name().into(),
                message: format!("unknown IANA time zone {:?}", c.time_zone),
            });
        }
        let off = self.off_fraction();
        // namespaces: declared ones, plus any a pod runs in
        let mut names: BTreeMap<String, BTreeMap<String, String>> = ctx
            .cluster
            .namespaces
            .iter()
            .map(|n| (n.name.clone(), n.labels.clone()))
            .collect();
        for p in &ctx.cluster.pods {
            names.entry(p.namespace.clone()).or_default();
        }
        let mut out = Vec::new();
        for (ns, labels) in names {
            if SYSTEM.contains(&ns.as_str()) {
                continue;
            }
            let Some(why) = self.classify(&ns, &labels) else {
                continue;
            };
            // what sleeps: Deployments and StatefulSets scale to zero, CronJobs are suspended
            let pods: Vec<_> = ctx
                .costs
                .pods
                .iter()
                .filter(|p| {
                    p.namespace == ns
                        && p.workload.as_ref().is_some_and(|w| {
                            matches!(
                                w.kind,
                                WorkloadKind::Deployment
                                    | WorkloadKind::StatefulSet
                                    | WorkloadKind::CronJob
                            )
                        })
                })
                .collect();
            if pods.is_empty() {
                continue;
            }
            let monthly_cost: f64 = pods.iter().map(|p| p.hourly()).sum::<f64>() * HOURS_PER_MONTH;
            let saving = monthly_cost * off;
            if saving < 1.0 {
                continue;
            }
            let workloads: std::collections::BTreeSet<String> = pods
                .iter()
                .filter_map(|p| {
                    p.workload
                        .as_ref()
                        .map(|w| format!("{}/{}", w.kind.as_str(), w.name))
                })
                .collect();
            let mut target = Target::cluster(&ctx.cluster.name);
            target.namespace = Some(ns.clone());
            let mut r = Recommendation::new(RecommendationKind::OfficeHours, self.name(), target);
            // the capacity the sleeping pods hold is freed on their nodes for the off-hours share
            let mut per_node: BTreeMap<String, f64> = BTreeMap::new();
            for p in &pods {
                *per_node.entry(p.node.clone()).or_default() += p.hourly() * HOURS_PER_MONTH * off;
            }
            r = super::claim_on_nodes(r, ctx, &per_node);
            r.title = format!(
                "Sleep namespace {ns} outside {:02}:00–{:02}:00 {} ({} workloads, −{}/mo)",
                c.start_hour,
                c.end_hour,
                if c.weekdays == [1, 2, 3, 4, 5] {
                    "Mon–Fri".to_string()
                } else {
                    format!("days {:?}", c.weekdays)
                },
                workloads.len(),
                fmt_usd(saving)
            );
            r.changes = vec![Change::new(
                "schedule",
                "always on",
                format!(
                    "{:02}:00–{:02}:00 {} on weekdays {:?}",
                    c.start_hour, c.end_hour, c.time_zone, c.weekdays
                ),
            )];
            r.risk = Risk {
                level: RiskLevel::Low,
                reasons: vec!["people working outside the schedule find the environment asleep; kube-green wakes it on schedule, or scale it up by hand".into()],
            };
            r.confidence = 0.8;
            r.evidence = vec![
                Evidence::new("off_hours_share", (off * 1000.0).round() / 1000.0, "ratio"),
                Evidence::new(
                    "namespace_monthly_cost",
                    (monthly_cost * 100.0).round() / 100.0,
                    "usd_per_month",
                ),
                Evidence::new("workloads", workloads.len() as f64, "count"),
            ];
            r.explanation = format!(
                "Namespace {ns} is non-production ({why}). Its {} workloads cost {} a month in node capacity. Asleep {:.0}% of the week \
                 (outside {:02}:00–{:02}:00 {}, weekdays {:?}), that capacity is freed for consolidation: about {} a month. \
                 Apply this {}:\n\n{}",
                workloads.len(),
                fmt_usd(monthly_cost),
                off * 100.0,
                c.start_hour,
                c.end_hour,
                c.time_zone,
                c.weekdays,
                fmt_usd(saving),
                match c.output {
                    OfficeHoursOutput::KubeGreen => "kube-green SleepInfo",
                    OfficeHoursOutput::KubeDownscaler => "kube-downscaler annotation",
                },
                self.artifact(&ns)
            );
            out.push(r);
        }
        Ok(out)
    }
}
