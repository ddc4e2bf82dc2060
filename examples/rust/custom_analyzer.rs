//! Plug your own analyzer in beside the built-ins: here, flag namespaces with no owner label.
//!
//! `cargo run -p cloudoptim-examples --example custom_analyzer`

use cloudoptim_core::analyzers::{self, Analyzer, Context};
use cloudoptim_core::recommend::{Recommendation, RecommendationKind, Risk, RiskLevel, Target};

struct UnownedNamespaces;

impl Analyzer for UnownedNamespaces {
    fn name(&self) -> &str {
        "unowned-namespaces"
    }
    fn description(&self) -> &str {
        "Namespaces without a team label, whose cost nobody sees"
    }
    fn analyze(&self, ctx: &Context<'_>) -> analyzers::Result<Vec<Recommendation>> {
        let by_ns = ctx.costs.by_namespace();
        Ok(ctx
            .cluster
            .namespaces
            .iter()
            .filter(|n| !n.labels.contains_key("team"))
            .filter_map(|n| {
                by_ns
                    .iter()
                    .find(|(name, _)| *name == n.name)
                    .map(|(_, m)| (n, *m))
            })
            .map(|(n, monthly)| {
                let mut t = Target::cluster(&ctx.cluster.name);
                t.namespace = Some(n.name.clone());
                let mut r = Recommendation::new(RecommendationKind::Custom, self.name(), t);
                r.title = format!(
                    "Label namespace {} with its team (${monthly:.2}/mo unattributed)",
                    n.name
                );
                r.risk = Risk {
                    level: RiskLevel::Low,
                    reasons: vec![],
                };
                r.explanation = "Cost that no team sees is cost that no team cuts.".into();
                r
            })
            .collect())
    }
}

fn main() -> cloudoptim_core::Result<()> {
    let cluster = cloudoptim_core::demo::demo_cluster();
    let mut list = analyzers::builtin();
    list.push(Box::new(UnownedNamespaces));
    let report = cloudoptim_core::analyze(
        &cluster,
        cloudoptim_core::AnalyzeOptions::default().with_analyzers(list),
    )?;
    for r in report
        .recommendations
        .iter()
        .filter(|r| r.analyzer == "unowned-namespaces")
    {
        println!("{}", r.title);
    }
    Ok(())
}
