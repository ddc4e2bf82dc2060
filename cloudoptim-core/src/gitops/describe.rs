//! Branch names, titles, bodies and markers: what a reviewer reads.

use std::fmt::Write as _;

use crate::iac::PatchReport;
use crate::recommend::{Recommendation, RecommendationKind};

/// One recommendation applied to a repository: what the IaC engine did for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The recommendation.
    pub recommendation: Recommendation,
    /// The engine's report (files, lines, explanations, warnings).
    pub report: PatchReport,
    /// Warnings from the cluster (an HPA scaling the workload).
    pub cluster_warnings: Vec<String>,
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    // git refuses `..`, a leading or trailing dot and `.lock` endings
    while out.contains("..") {
        out = out.replace("..", ".");
    }
    let out = out.trim_matches(|c| c == '-' || c == '.').to_string();
    let out = out.strip_suffix(".lock").map(str::to_string).unwrap_or(out);
    if out.is_empty() { "x".to_string() } else { out }
}

/// The branch of a recommendation: `cloudoptim/<kind>/<target>`, stable across runs for the same
/// finding (the values are not part of it), so a second run updates the same branch.
///
/// ```
/// let report = cloudoptim_core::analyze(&cloudoptim_core::demo::demo_cluster(), Default::default()).unwrap();
/// let rec = report.recommendations.iter().find(|r| r.target.workload.as_deref() == Some("checkout")).unwrap();
/// assert_eq!(cloudoptim_core::gitops::branch_name(rec), "cloudoptim/workload-rightsizing/shop-checkout-app");
/// ```
pub fn branch_name(rec: &Recommendation) -> String {
    let t = &rec.target;
    let target = if let Some(w) = &t.workload {
        let mut parts = vec![t.namespace.clone().unwrap_or_default(), w.clone()];
        if let Some(c) = &t.container {
            parts.push(c.clone());
        }
        parts.retain(|p| !p.is_empty());
        parts.join("-")
    } else if let Some(g) = &t.node_group {
        g.clone()
    } else if let Some(ns) = &t.namespace {
        ns.clone()
    } else {
        rec.id.clone()
    };
    format!(
        "cloudoptim/{}/{}",
        rec.kind.as_str().replace('_', "-"),
        slug(&target)
    )
}

/// The branch of a group: `cloudoptim/<by>/<name>` (`cloudoptim/namespace/shop`).
pub fn group_branch_name(by: &str, name: &str) -> String {
    format!("cloudoptim/{}/{}", slug(by), slug(name))
}

/// The hidden marker a body carries for each recommendation, so later runs find it.
pub fn marker(id: &str) -> String {
    format!("<!-- cloudoptim:rec={id} -->")
}

/// The recommendation ids in a body's markers, in order.
pub fn parse_markers(body: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<!-- cloudoptim:rec=") {
        rest = &rest[i + "<!-- cloudoptim:rec=".len()..];
        let end = rest.find("-->").unwrap_or(rest.len());
        let id = rest[..end].trim();
        if !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            ids.push(id.to_string());
        }
        rest = &rest[end..];
    }
    ids
}

pub(crate) fn target_label(rec: &Recommendation) -> String {
    let t = &rec.target;
    if let Some(w) = &t.workload {
        let mut s = format!("{}/{}", t.namespace.as_deref().unwrap_or("-"), w);
        if let Some(c) = &t.container {
            s.push_str(&format!(" ({c})"));
        }
        return s;
    }
    if let Some(g) = &t.node_group {
        return format!("node group {g}");
    }
    t.display()
}

fn short_list(v: &str) -> String {
    let items: Vec<&str> = v.split(',').map(str::trim).collect();
    if items.len() > 3 {
        format!("{} +{} more", items[..2].join(", "), items.len() - 2)
    } else {
        items.join(", ")
    }
}

/// `cpu 2 → 500m, memory 4Gi → 1Gi`: the changes in a few words; a limit that moves with its
/// request is not repeated.
pub(crate) fn changes_summary(rec: &Recommendation) -> String {
    let get = |f: &str| rec.changes.iter().find(|c| c.field == f);
    let mut parts = Vec::new();
    for c in &rec.changes {
        let label = match c.field.as_str() {
            "cpu_request" => "cpu",
            "memory_request" => "memory",
            "cpu_limit" | "memory_limit" => {
                let req = if c.field == "cpu_limit" {
                    "cpu_request"
                } else {
                    "memory_request"
                };
                if get(req).is_some_and(|r| r.current == c.current && r.proposed == c.proposed) {
                    continue;
                }
                if c.field == "cpu_limit" {
                    "cpu limit"
                } else {
                    "memory limit"
                }
            }
            "instance_types" | "instance_type" => "instance type",
            "capacity_type" => "capacity",
            other => other,
        };
        parts.push(format!(
            "{label} {} → {}",
            short_list(&c.current),
            short_list(&c.proposed)
        ));
    }
    parts.join(", ")
}

fn money(usd: f64) -> String {
    let a = usd.abs();
    let s = if a >= 10.0 {
        format!("${a:.0}")
    } else {
        format!("${a:.2}")
    };
    if usd < 0.0 {
        format!("+{s}/mo")
    } else {
        format!("−{s}/mo")
    }
}

fn verb(kind: RecommendationKind) -> &'static str {
    match kind {
        RecommendationKind::WorkloadRightsizing | RecommendationKind::NodeRightsizing => {
            "Right-size"
        }
        RecommendationKind::OomRemediation => "Raise memory of",
        RecommendationKind::SpotMigration => "Move to spot",
        RecommendationKind::OfficeHours => "Scale down outside office hours:",
        _ => "Change",
    }
}

/// The title: the change and the saving, e.g.
/// `Right-size shop/checkout (app): cpu 2 → 325m, memory 4Gi → 1153Mi (−$188/mo)`; for a group,
/// `Right-size namespace shop: 4 workloads (−$310/mo)`.
pub fn title_for(recs: &[&Recommendation], group_label: Option<&str>) -> String {
    let total: f64 = recs.iter().map(|r| r.monthly_savings_usd).sum();
    match (recs, group_label) {
        ([one], None) if one.kind == RecommendationKind::SpotMigration => format!(
            "Move {} to spot: {} ({})",
            target_label(one),
            changes_summary(one)
                .split(", ")
                .filter(|p| !p.starts_with("capacity "))
                .collect::<Vec<_>>()
                .join(", "),
            money(one.monthly_savings_usd)
        ),
        ([one], None) => format!(
            "{} {}: {} ({})",
            verb(one.kind),
            target_label(one),
            changes_summary(one),
            money(one.monthly_savings_usd)
        ),
        (_, label) => {
            let label = label.unwrap_or("several targets");
            let all_same = recs.windows(2).all(|w| w[0].kind == w[1].kind);
            let v = match recs.first() {
                Some(r) if all_same => verb(r.kind),
                _ => "Change",
            };
            format!("{v} {label}: {} changes ({})", recs.len(), money(total))
        }
    }
}

/// The commit message: the title, a blank line, one line per recommendation.
pub fn commit_message(title: &str, applied: &[Applied]) -> String {
    let mut s = format!("{title}\n\n");
    for a in applied {
        let r = &a.recommendation;
        let _ = writeln!(
            s,
            "- {}: {} ({})",
            target_label(r),
            changes_summary(r),
            r.id
        );
    }
    s.push_str("\nProposed by cloudoptim.\n");
    s
}

fn evidence_value(value: f64, unit: &str) -> String {
    match unit {
        "bytes" => crate::quantity::format_memory_bytes(value.round() as i64),
        "cores" => format!("{value} cores"),
        "ratio" => format!("{:.0}%", value * 100.0),
        "hours" => format!("{value} h"),
        "days" => format!("{value} days"),
        "count" => format!("{value}"),
        "usd_per_month" => format!("${value:.2}/month"),
        "usd_per_hour" => format!("${value:.4}/h"),
        other => format!("{value} {other}"),
    }
}

fn lines_label(lines: &[(usize, usize)]) -> String {
    lines
        .iter()
        .map(|(a, b)| {
            if a == b {
                format!("{a}")
            } else {
                format!("{a}–{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn section(s: &mut String, a: &Applied, heading: &str) {
    let r = &a.recommendation;
    let _ = writeln!(s, "{heading} What changes\n");
    let _ = writeln!(s, "| setting | current | proposed |\n|---|---|---|");
    for c in &r.changes {
        let _ = writeln!(s, "| `{}` | `{}` | `{}` |", c.field, c.current, c.proposed);
    }
    let _ = writeln!(s, "\nWhere:\n");
    for f in &a.report.changes {
        let first = f.lines.first().map(|l| l.0).unwrap_or(1);
        let one = matches!(f.lines.as_slice(), [(a, b)] if a == b);
        let _ = writeln!(
            s,
            "- `{}:{}` ({} {})",
            f.file,
            first,
            if one { "line" } else { "lines" },
            lines_label(&f.lines)
        );
    }
    let _ = writeln!(s, "\n{heading} Why\n\n{}\n", r.explanation);
    if !r.evidence.is_empty() {
        let _ = writeln!(s, "| evidence | value |\n|---|---|");
        for e in &r.evidence {
            let _ = writeln!(s, "| {} | {} |", e.name, evidence_value(e.value, &e.unit));
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "Confidence {:.0}%. Monthly saving: **${:.2}**{}.\n",
        r.confidence * 100.0,
        r.monthly_savings_usd,
        if r.monthly_savings_usd < 0.0 {
            " (a cost increase, for reliability)"
        } else {
            ""
        }
    );
    let _ = writeln!(s, "{heading} Risk: {}\n", r.risk.level.as_str());
    if r.risk.reasons.is_empty() {
        let _ = writeln!(s, "No specific risk was found.\n");
    } else {
        for reason in &r.risk.reasons {
            let _ = writeln!(s, "- {reason}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(s, "{heading} Why this file\n\n{}\n", a.report.explanation);
    for f in &a.report.changes {
        for e in &f.explanations {
            let _ = writeln!(s, "- `{}`: {e}", f.file);
        }
    }
    let warnings: Vec<&String> = a
        .report
        .warnings
        .iter()
        .chain(a.cluster_warnings.iter())
        .collect();
    if !warnings.is_empty() {
        let _ = writeln!(s, "\n{heading} Warnings\n");
        for w in warnings {
            let _ = writeln!(s, "> [!WARNING]\n> {w}\n");
        }
    }
    let _ = writeln!(s);
}

/// The Markdown body: what changes and where (file:line), why (the evidence), the monthly saving,
/// the risk and how to roll back, why this file, warnings, and one hidden marker per
/// recommendation.
pub fn describe(applied: &[Applied], cluster: &str) -> String {
    let mut s = String::new();
    for a in applied {
        s.push_str(&marker(&a.recommendation.id));
        s.push('\n');
    }
    let total: f64 = applied
        .iter()
        .map(|a| a.recommendation.monthly_savings_usd)
        .sum();
    let _ = writeln!(
        s,
        "cloudoptim proposes this change for cluster `{cluster}`: an estimated **${total:.2} a month** \
         saved at on-demand prices. Only the lines below change.\n"
    );
    if let [one] = applied {
        section(&mut s, one, "###");
    } else {
        for a in applied {
            let _ = writeln!(
                s,
                "## {} — {}\n",
                target_label(&a.recommendation),
                changes_summary(&a.recommendation)
            );
            section(&mut s, a, "####");
        }
    }
    let _ = writeln!(
        s,
        "### Rollback\n\nRevert this pull request (or the merge commit) and let the usual \
         deployment apply it: the previous values are in the tables above. Watch the workload's \
         restarts, OOM kills and latency for a day after the rollout.\n"
    );
    let ids: Vec<&str> = applied
        .iter()
        .map(|a| a.recommendation.id.as_str())
        .collect();
    let _ = writeln!(
        s,
        "---\n<sub>Recommendation {}. Close this pull request without merging and cloudoptim will \
         not propose it again; push a commit of your own to the branch and cloudoptim will leave \
         the branch to you.</sub>",
        ids.iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}

/// Warnings from the cluster for a recommendation: an HPA that scales the workload on a resource
/// whose request changes.
pub fn cluster_warnings(cluster: &crate::Cluster, rec: &Recommendation) -> Vec<String> {
    let t = &rec.target;
    let (Some(ns), Some(w)) = (&t.namespace, &t.workload) else {
        return vec![];
    };
    let mut out = Vec::new();
    for h in &cluster.hpas {
        if &h.namespace != ns || &h.target_name != w {
            continue;
        }
        for (res, pct) in &h.resource_targets {
            let field = format!("{res}_request");
            if rec.changes.iter().any(|c| c.field == field) {
                out.push(format!(
                    "HPA {} scales {ns}/{w} on {res} utilisation{}: a new {res} request changes \
                     that ratio, so the replica count ({}–{}) will move after this change.",
                    h.name,
                    pct.map(|p| format!(" (target {p}%)")).unwrap_or_default(),
                    h.min_replicas,
                    h.max_replicas
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_rec(workload: &str, container: &str) -> Recommendation {
        let report = crate::analyze(&crate::demo::demo_cluster(), Default::default()).unwrap();
        report
            .recommendations
            .into_iter()
            .find(|r| {
                r.target.workload.as_deref() == Some(workload)
                    && r.target.container.as_deref() == Some(container)
                    && r.target.namespace.as_deref() == Some("shop")
            })
            .unwrap()
    }

    #[test]
    fn branch_names_are_stable_and_safe() {
        let r = demo_rec("checkout", "app");
        assert_eq!(
            branch_name(&r),
            "cloudoptim/workload-rightsizing/shop-checkout-app"
        );
        let mut other = r.clone();
        other.changes[0].proposed = "1".into();
        assert_eq!(branch_name(&other), branch_name(&r), "values are not in it");
        assert_eq!(slug("A b..c.lock"), "a-b.c");
        assert_eq!(slug("..."), "x");
        assert_eq!(
            group_branch_name("namespace", "dev shop"),
            "cloudoptim/namespace/dev-shop"
        );
    }

    #[test]
    fn titles_say_the_change_and_the_saving() {
        let r = demo_rec("checkout", "app");
        let t = title_for(&[&r], None);
        assert!(
            t.starts_with("Right-size shop/checkout (app): cpu 2 → "),
            "{t}"
        );
        assert!(t.contains(", memory 4Gi → "), "{t}");
        assert!(
            !t.contains("memory limit"),
            "a limit equal to the request: {t}"
        );
        assert!(t.ends_with("/mo)") && t.contains("(−$"), "{t}");
        let e = demo_rec("checkout", "envoy");
        let g = title_for(&[&r, &e], Some("namespace shop"));
        assert!(
            g.starts_with("Right-size namespace shop: 2 changes (−$"),
            "{g}"
        );
        assert_eq!(money(-15.14), "+$15/mo");
        assert_eq!(money(5.5), "−$5.50/mo");
        assert_eq!(short_list("a,b,c,d,e"), "a, b +3 more");
    }

    #[test]
    fn markers_round_trip() {
        let body = format!(
            "{}\n{}\ntext <!-- cloudoptim:rec=bad id --> <!-- cloudoptim:rec=",
            marker("co-1"),
            marker("co-2")
        );
        assert_eq!(parse_markers(&body), ["co-1", "co-2"]);
        assert!(parse_markers("no marker").is_empty());
    }

    #[test]
    fn body_has_every_part() {
        let r = demo_rec("checkout", "app");
        let report = PatchReport {
            outcome: crate::iac::Outcome::Patched,
            files: vec!["apps/shop/checkout.yaml".into()],
            candidates: vec![],
            warnings: vec!["arch change".into()],
            diff: String::new(),
            changes: vec![crate::iac::FileChange {
                file: "apps/shop/checkout.yaml".into(),
                lines: vec![(21, 21), (24, 25)],
                explanations: vec!["container app of Deployment checkout".into()],
            }],
            explanation: "one manifest sets it".into(),
            written: true,
        };
        let a = Applied {
            recommendation: r.clone(),
            report,
            cluster_warnings: vec!["HPA x".into()],
        };
        let body = describe(std::slice::from_ref(&a), "acme");
        for needle in [
            &marker(&r.id),
            "`apps/shop/checkout.yaml:21` (lines 21, 24–25)",
            "### Why",
            &r.explanation,
            "| memory_peak |",
            "### Risk: medium",
            "### Rollback",
            "### Why this file",
            "one manifest sets it",
            "container app of Deployment checkout",
            "arch change",
            "HPA x",
        ] {
            assert!(body.contains(needle), "{needle} missing from\n{body}");
        }
        assert_eq!(parse_markers(&body), vec![r.id.clone()]);
        let msg = commit_message("T", std::slice::from_ref(&a));
        assert!(
            msg.starts_with("T\n\n- shop/checkout (app): cpu 2 → "),
            "{msg}"
        );
    }

    #[test]
    fn hpa_warnings_name_the_hpa() {
        let cluster = crate::demo::demo_cluster();
        let report = crate::analyze(&cluster, Default::default()).unwrap();
        let with_hpa = report.recommendations.iter().find(|r| {
            cluster.hpas.iter().any(|h| {
                Some(&h.target_name) == r.target.workload.as_ref()
                    && Some(&h.namespace) == r.target.namespace.as_ref()
                    && h.resource_targets.iter().any(|(res, _)| {
                        r.changes
                            .iter()
                            .any(|c| c.field == format!("{res}_request"))
                    })
            })
        });
        if let Some(r) = with_hpa {
            let w = cluster_warnings(&cluster, r);
            assert!(!w.is_empty() && w[0].starts_with("HPA "), "{w:?}");
        }
    }
}
