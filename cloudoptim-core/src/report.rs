//! The analysis report: costs first, then recommendations by savings. Serialised as JSON
//! (schema in `docs/schema/report.schema.json`) or rendered as a readable table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analyzers::{self, Analyzer, Context};
use crate::cost::{ClusterCosts, HOURS_PER_MONTH, PriceSource, Pricing};
use crate::model::{CapacityType, Cluster, ClusterSummary};
use crate::recommend::{
    Recommendation, RecommendationKind, combined_savings, gross_savings, round_cents,
};

/// Version of the report's JSON shape.
pub const SCHEMA_VERSION: &str = "1";

/// Cost of a node group or NodePool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupCost {
    /// Group or pool name (`(none)` for nodes without one).
    pub name: String,
    /// `managed_node_group`, `node_pool`, `eksctl_node_group`, `self_managed` or `unknown`.
    pub kind: String,
    /// Nodes.
    pub nodes: usize,
    /// Instance types with counts, `m5.2xlarge×3`.
    pub instance_types: Vec<String>,
    /// Spot nodes.
    pub spot_nodes: usize,
    /// Monthly cost, USD.
    pub monthly_usd: f64,
    /// Requested CPU over allocatable CPU.
    pub cpu_requested_ratio: f64,
    /// Requested memory over allocatable memory.
    pub memory_requested_ratio: f64,
}

/// A named monthly cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NamedCost {
    /// Name.
    pub name: String,
    /// Monthly cost, USD.
    pub monthly_usd: f64,
}

/// The cost picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CostSummary {
    /// Total monthly cost, USD: nodes, control plane, volumes.
    pub monthly_usd: f64,
    /// Nodes, monthly.
    pub nodes_monthly_usd: f64,
    /// EKS control plane, monthly.
    pub control_plane_monthly_usd: f64,
    /// EBS volumes, monthly.
    pub volumes_monthly_usd: f64,
    /// Node cost no pod is charged for, monthly.
    pub idle_monthly_usd: f64,
    /// Per node group or NodePool.
    pub by_node_group: Vec<GroupCost>,
    /// Per namespace (what its pods are charged), largest first.
    pub by_namespace: Vec<NamedCost>,
    /// Region prices are for.
    pub region: String,
    /// Nodes priced from each source.
    pub price_sources: BTreeMap<String, usize>,
    /// Whether any price is an estimate.
    pub estimated: bool,
}

/// Savings of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KindTotal {
    /// Kind.
    pub kind: RecommendationKind,
    /// Number of recommendations.
    pub count: usize,
    /// Their combined monthly savings, USD.
    pub monthly_savings_usd: f64,
}

/// Totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Totals {
    /// Recommendations.
    pub recommendations: usize,
    /// Monthly savings if all are applied, overlaps combined (not summed), USD.
    pub monthly_savings_usd: f64,
    /// The plain sum of each recommendation's savings, USD (greater when they overlap).
    pub gross_monthly_savings_usd: f64,
    /// Savings over current monthly cost.
    pub savings_ratio: f64,
    /// Per kind.
    pub by_kind: Vec<KindTotal>,
    /// Per namespace (`(cluster)` for node, volume and instance findings), largest first.
    pub by_namespace: Vec<GroupTotal>,
    /// Per team, from the workload's or namespace's team label (`(none)` when neither has
    /// one), largest first.
    pub by_team: Vec<GroupTotal>,
}

/// Savings of a namespace or team, overlaps combined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupTotal {
    /// Namespace or team.
    pub name: String,
    /// Number of recommendations.
    pub count: usize,
    /// Their combined monthly savings, USD.
    pub monthly_savings_usd: f64,
}

/// The label read for the team summary unless [`Filters::team_label`] says otherwise.
pub const DEFAULT_TEAM_LABEL: &str = "team";

/// Groups recommendations by a key and totals each group with overlaps combined, largest
/// saving first.
fn group_totals(
    recs: &[Recommendation],
    key: impl Fn(&Recommendation) -> String,
) -> Vec<GroupTotal> {
    let mut groups: BTreeMap<String, Vec<Recommendation>> = BTreeMap::new();
    for r in recs {
        groups.entry(key(r)).or_default().push(r.clone());
    }
    let mut out: Vec<GroupTotal> = groups
        .into_iter()
        .map(|(name, v)| GroupTotal {
            name,
            count: v.len(),
            monthly_savings_usd: combined_savings(&v),
        })
        .collect();
    out.sort_by(|a, b| {
        b.monthly_savings_usd
            .total_cmp(&a.monthly_savings_usd)
            .then(a.name.cmp(&b.name))
    });
    out
}

/// The team of a recommendation: the team label of its workload, else of its namespace.
pub fn team_of(cluster: &Cluster, r: &Recommendation, label: &str) -> String {
    let t = &r.target;
    let Some(ns) = &t.namespace else {
        return "(cluster)".into();
    };
    let from_workload = t.workload.as_ref().and_then(|w| {
        cluster
            .workloads
            .iter()
            .find(|x| &x.namespace == ns && &x.name == w)
            .and_then(|x| x.labels.get(label).cloned())
    });
    from_workload
        .or_else(|| {
            cluster
                .namespaces
                .iter()
                .find(|n| &n.name == ns)
                .and_then(|n| n.labels.get(label).cloned())
        })
        .unwrap_or_else(|| "(none)".into())
}

impl Report {
    /// Recomputes the team summary with another team label.
    pub fn group_by_team(&mut self, cluster: &Cluster, label: &str) {
        self.totals.by_team = group_totals(&self.recommendations, |r| team_of(cluster, r, label));
    }
}

/// An analysis report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    /// Version of this JSON shape.
    pub schema_version: String,
    /// What was analysed.
    pub cluster: ClusterSummary,
    /// Costs.
    pub costs: CostSummary,
    /// Totals.
    pub totals: Totals,
    /// Recommendations, largest saving first.
    pub recommendations: Vec<Recommendation>,
    /// Analyzers that ran.
    pub analyzers: Vec<String>,
    /// Things the reader should know (estimated prices, missing data).
    pub notes: Vec<String>,
}

/// Which findings to keep: include/exclude by namespace, workload and node group (`*` globs),
/// and a minimum monthly saving. Cost increases that fix reliability (OOM) are always kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Filters {
    /// Only these namespaces (empty: all).
    pub include_namespaces: Vec<String>,
    /// Never these namespaces.
    pub exclude_namespaces: Vec<String>,
    /// Never these workloads (`namespace/name`).
    pub exclude_workloads: Vec<String>,
    /// Never these node groups or NodePools.
    pub exclude_node_groups: Vec<String>,
    /// Drop findings that save less than this a month, USD.
    pub min_monthly_savings: f64,
    /// Rightsizing strategy by name: `percentile` (default) or `vpa`.
    pub strategy: Option<String>,
    /// Limits policy: `keep-ratio` (default), `unset-cpu`, `memory-equals-request`.
    pub limits: Option<String>,
    /// Extra rightsizing headroom per namespace or workload (first match wins).
    pub buffers: Vec<analyzers::Buffer>,
    /// The workload or namespace label that names the owning team, for the savings summary
    /// by team (default `team`).
    pub team_label: Option<String>,
}

/// Whether `s` matches a pattern with `*` wildcards.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(pos) = rest.find(part) else {
                return false;
            };
            rest = &rest[pos + part.len()..];
        }
    }
    true
}

impl Filters {
    /// Whether a recommendation passes.
    pub fn keep(&self, r: &Recommendation) -> bool {
        let t = &r.target;
        if let Some(ns) = &t.namespace {
            if !self.include_namespaces.is_empty()
                && !self.include_namespaces.iter().any(|p| glob(p, ns))
            {
                return false;
            }
            if self.exclude_namespaces.iter().any(|p| glob(p, ns)) {
                return false;
            }
            if let Some(w) = &t.workload
                && self
                    .exclude_workloads
                    .iter()
                    .any(|p| glob(p, &format!("{ns}/{w}")))
            {
                return false;
            }
        }
        if let Some(g) = &t.node_group
            && self.exclude_node_groups.iter().any(|p| glob(p, g))
        {
            return false;
        }
        r.priority == crate::recommend::Priority::High
            || r.monthly_savings_usd >= self.min_monthly_savings
    }

    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        *self == Filters::default()
    }

    /// The built-in analyzers with this strategy and limits policy.
    pub fn builtin_analyzers(&self) -> analyzers::Result<Vec<Box<dyn Analyzer>>> {
        let mut cfg = analyzers::RightsizingConfig::default();
        if let Some(name) = &self.strategy {
            cfg.strategy = analyzers::strategy_by_name(name).ok_or_else(|| {
                analyzers::AnalyzeError::Config {
                    analyzer: "workload-rightsizing".into(),
                    message: format!("unknown strategy {name:?}: percentile or vpa"),
                }
            })?;
        }
        if let Some(l) = &self.limits {
            cfg.limits = match l.as_str() {
                "keep-ratio" => analyzers::LimitsPolicy::KeepRatio,
                "unset-cpu" => analyzers::LimitsPolicy::UnsetCpuLimit,
                "memory-equals-request" => analyzers::LimitsPolicy::MemoryLimitEqualsRequest,
                other => {
                    return Err(analyzers::AnalyzeError::Config {
                        analyzer: "workload-rightsizing".into(),
                        message: format!(
                            "unknown limits policy {other:?}: keep-ratio, unset-cpu or memory-equals-request"
                        ),
                    });
                }
            };
        }
        for b in &self.buffers {
            b.validate()
                .map_err(|message| analyzers::AnalyzeError::Config {
                    analyzer: "workload-rightsizing".into(),
                    message,
                })?;
        }
        cfg.buffers = self.buffers.clone();
        let mut list = analyzers::builtin();
        list[0] = Box::new(analyzers::WorkloadRightsizing { config: cfg });
        Ok(list)
    }
}

/// Options for [`analyze`].
#[derive(Default)]
#[non_exhaustive]
pub struct AnalyzeOptions {
    /// Analyzers to run; the built-ins when `None`.
    pub analyzers: Option<Vec<Box<dyn Analyzer>>>,
    /// Prices; derived from the cluster when `None`.
    pub pricing: Option<Pricing>,
    /// Which findings to keep.
    pub filters: Filters,
}

impl AnalyzeOptions {
    /// Runs these analyzers instead of the built-ins.
    #[must_use]
    pub fn with_analyzers(mut self, analyzers: Vec<Box<dyn Analyzer>>) -> Self {
        self.analyzers = Some(analyzers);
        self
    }

    /// Uses these prices.
    #[must_use]
    pub fn with_pricing(mut self, pricing: Pricing) -> Self {
        self.pricing = Some(pricing);
        self
    }

    /// Keeps only the findings these filters allow.
    #[must_use]
    pub fn with_filters(mut self, filters: Filters) -> Self {
        self.filters = filters;
        self
    }
}

impl std::fmt::Debug for AnalyzeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyzeOptions")
            .field(
                "analyzers",
                &self
                    .analyzers
                    .as_ref()
                    .map(|a| a.iter().map(|x| x.name().to_string()).collect::<Vec<_>>()),
            )
            .field("pricing", &self.pricing.as_ref().map(Pricing::region))
            .finish()
    }
}

/// Runs the analyzers on a cluster and builds the report.
pub fn analyze(cluster: &Cluster, options: AnalyzeOptions) -> analyzers::Result<Report> {
    let pricing = options
        .pricing
        .unwrap_or_else(|| Pricing::for_cluster(cluster));
    let costs = ClusterCosts::compute(cluster, &pricing);
    let index = analyzers::Index::new(cluster, &costs);
    let ctx = Context::new(cluster, &pricing, &costs, &index);
    let list = options.analyzers.unwrap_or_else(analyzers::builtin);
    let mut recs = Vec::new();
    let mut analyzer_notes = Vec::new();
    for a in &list {
        recs.extend(a.analyze(&ctx)?);
        analyzer_notes.extend(a.notes(&ctx));
    }
    let found = recs.len();
    recs.retain(|r| options.filters.keep(r));
    let dropped = found - recs.len();
    let mut report = build_report(
        cluster,
        &pricing,
        &costs,
        list.iter().map(|a| a.name().to_string()).collect(),
        recs,
    );
    report.notes.extend(analyzer_notes);
    if let Some(label) = &options.filters.team_label {
        report.group_by_team(cluster, label);
    }
    if dropped > 0 {
        report
            .notes
            .push(format!("{dropped} finding(s) left out by the filters"));
    }
    Ok(report)
}

fn owner_kind(o: &crate::model::NodeOwner) -> &'static str {
    use crate::model::NodeOwner::*;
    match o {
        ManagedNodeGroup(_) => "managed_node_group",
        NodePool(_) => "node_pool",
        EksctlNodeGroup(_) => "eksctl_node_group",
        SelfManaged(_) => "self_managed",
        _ => "unknown",
    }
}

fn source_name(s: PriceSource) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{s:?}"))
}

/// Assembles a report from recommendations already computed.
pub fn build_report(
    cluster: &Cluster,
    pricing: &Pricing,
    costs: &ClusterCosts,
    analyzer_names: Vec<String>,
    mut recs: Vec<Recommendation>,
) -> Report {
    recs.sort_by(|a, b| {
        b.monthly_savings_usd
            .total_cmp(&a.monthly_savings_usd)
            .then(b.priority.cmp(&a.priority))
            .then(a.id.cmp(&b.id))
    });
    let index = analyzers::Index::new(cluster, costs);
    // node groups
    let mut groups: BTreeMap<String, GroupCost> = BTreeMap::new();
    let mut group_alloc: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    let mut types: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for n in &cluster.nodes {
        let name = n.owner.name().unwrap_or("(none)").to_string();
        let g = groups.entry(name.clone()).or_insert_with(|| GroupCost {
            name: name.clone(),
            kind: owner_kind(&n.owner).into(),
            nodes: 0,
            instance_types: vec![],
            spot_nodes: 0,
            monthly_usd: 0.0,
            cpu_requested_ratio: 0.0,
            memory_requested_ratio: 0.0,
        });
        g.nodes += 1;
        if n.capacity_type == CapacityType::Spot {
            g.spot_nodes += 1;
        }
        g.monthly_usd += index.node_cost(&n.name).map(|c| c.monthly()).unwrap_or(0.0);
        *types
            .entry(name.clone())
            .or_default()
            .entry(n.instance_type.clone().unwrap_or_else(|| "unknown".into()))
            .or_default() += 1;
        let req: crate::model::Resources = index.pods_on(&n.name).map(|p| p.requests()).sum();
        let a = group_alloc.entry(name).or_default();
        a.0 += req.cpu_milli;
        a.1 += n.allocatable.cpu_milli;
        a.2 += req.memory_bytes;
        a.3 += n.allocatable.memory_bytes;
    }
    for (name, g) in groups.iter_mut() {
        if let Some(a) = group_alloc.get(name) {
            g.cpu_requested_ratio = ratio(a.0, a.1);
            g.memory_requested_ratio = ratio(a.2, a.3);
        }
        g.instance_types = types
            .get(name)
            .map(|m| m.iter().map(|(t, c)| format!("{t}×{c}")).collect())
            .unwrap_or_default();
        g.monthly_usd = round_cents(g.monthly_usd);
    }
    let mut by_node_group: Vec<GroupCost> = groups.into_values().collect();
    by_node_group.sort_by(|a, b| {
        b.monthly_usd
            .total_cmp(&a.monthly_usd)
            .then(a.name.cmp(&b.name))
    });
    let mut price_sources: BTreeMap<String, usize> = BTreeMap::new();
    for n in &costs.nodes {
        *price_sources
            .entry(source_name(n.price.source))
            .or_default() += 1;
    }
    let estimated = costs.nodes.iter().any(|n| n.price.source.is_estimate());
    let total = costs.total_monthly();
    let cost_summary = CostSummary {
        monthly_usd: round_cents(total),
        nodes_monthly_usd: round_cents(costs.nodes_hourly() * HOURS_PER_MONTH),
        control_plane_monthly_usd: round_cents(costs.control_plane_hourly * HOURS_PER_MONTH),
        volumes_monthly_usd: round_cents(costs.volumes_monthly.values().sum()),
        idle_monthly_usd: round_cents(costs.idle_monthly()),
        by_node_group,
        by_namespace: costs
            .by_namespace()
            .into_iter()
            .map(|(name, m)| NamedCost {
                name,
                monthly_usd: round_cents(m),
            })
            .collect(),
        region: pricing.region().to_string(),
        price_sources,
        estimated,
    };
    let mut by_kind: BTreeMap<RecommendationKind, Vec<Recommendation>> = BTreeMap::new();
    for r in &recs {
        by_kind.entry(r.kind).or_default().push(r.clone());
    }
    let mut kind_totals: Vec<KindTotal> = by_kind
        .iter()
        .map(|(k, v)| KindTotal {
            kind: *k,
            count: v.len(),
            monthly_savings_usd: combined_savings(v),
        })
        .collect();
    kind_totals.sort_by(|a, b| {
        b.monthly_savings_usd
            .total_cmp(&a.monthly_savings_usd)
            .then(a.kind.cmp(&b.kind))
    });
    let combined = combined_savings(&recs);
    let gross = gross_savings(&recs);
    let mut notes = Vec::new();
    if estimated {
        let spot = costs
            .nodes
            .iter()
            .filter(|n| n.price.source == PriceSource::SpotAdvisorEstimate)
            .count();
        let region = costs
            .nodes
            .iter()
            .filter(|n| n.price.source == PriceSource::OtherRegionEstimate)
            .count();
        let mut parts = Vec::new();
        if spot > 0 {
            parts.push(format!(
                "{spot} spot node price(s) are on-demand less the Spot Advisor's average saving"
            ));
        }
        if region > 0 {
            parts.push(format!(
                "{region} on-demand price(s) are us-east-1 prices used for {}",
                pricing.region()
            ));
        }
        notes.push(format!(
            "estimated prices: {}; pass describe-spot-price-history output (--aws) or a price table (--prices) for exact figures",
            parts.join("; ")
        ));
    }
    let unknown: Vec<&str> = costs
        .nodes
        .iter()
        .filter(|n| n.price.source == PriceSource::Unknown)
        .map(|n| n.node.as_str())
        .collect();
    if !unknown.is_empty() {
        notes.push(format!(
            "no price for {} node(s) ({}): unknown instance type or no instance-type label; counted at $0",
            unknown.len(),
            unknown.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if cluster.usage.is_empty() && cluster.metrics.containers.is_empty() {
        notes.push("no usage history or metrics: rightsizing needs Prometheus query_range exports (--usage)".into());
    }
    if cluster.aws.is_empty() {
        notes.push("no AWS inventory: pass describe-instances and describe-volumes output (--aws) to find ghost instances and unattached volumes".into());
    }
    if combined < gross {
        notes.push(format!(
            "some recommendations touch the same resources: applying all saves ${combined:.2}/mo, not the ${gross:.2}/mo their sum suggests"
        ));
    }
    Report {
        schema_version: SCHEMA_VERSION.into(),
        cluster: cluster.summary(),
        totals: Totals {
            recommendations: recs.len(),
            monthly_savings_usd: combined,
            gross_monthly_savings_usd: gross,
            savings_ratio: if total > 0.0 {
                (combined / total * 10_000.0).round() / 10_000.0
            } else {
                0.0
            },
            by_kind: kind_totals,
            by_namespace: group_totals(&recs, |r| {
                r.target
                    .namespace
                    .clone()
                    .unwrap_or_else(|| "(cluster)".into())
            }),
            by_team: group_totals(&recs, |r| team_of(cluster, r, DEFAULT_TEAM_LABEL)),
        },
        costs: cost_summary,
        recommendations: recs,
        analyzers: analyzer_names,
        notes,
    }
}

fn ratio(a: i64, b: i64) -> f64 {
    if b <= 0 {
        0.0
    } else {
        (a as f64 / b as f64 * 1000.0).round() / 1000.0
    }
}

/// The JSON Schema of [`Report`].
pub fn report_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Report);
    serde_json::to_value(schema).unwrap_or(serde_json::Value::Null)
}

fn money(v: f64) -> String {
    let neg = v < 0.0;
    let cents = (v.abs() * 100.0).round() as u64;
    let dollars = cents / 100;
    let mut s = dollars.to_string();
    let mut i = s.len() as isize - 3;
    while i > 0 {
        s.insert(i as usize, ',');
        i -= 3;
    }
    format!("{}${s}.{:02}", if neg { "-" } else { "" }, cents % 100)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n.saturating_sub(1)).collect();
        format!("{t}…")
    }
}

impl Report {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report as text a platform engineer reads: totals first, then recommendations by savings.
    pub fn to_table(&self) -> String {
        let mut o = String::new();
        let c = &self.cluster;
        let _ = writeln!(
            o,
            "cloudoptim report: cluster {} ({}) — {} nodes, {} pods, {} workloads, {} namespaces",
            c.name, self.costs.region, c.nodes, c.pods, c.workloads, c.namespaces
        );
        let _ = writeln!(o);
        let t = &self.totals;
        let _ = writeln!(
            o,
            "  Monthly cost        {:>12}   (nodes {}, control plane {}, volumes {})",
            money(self.costs.monthly_usd),
            money(self.costs.nodes_monthly_usd),
            money(self.costs.control_plane_monthly_usd),
            money(self.costs.volumes_monthly_usd)
        );
        let _ = writeln!(
            o,
            "  Idle node capacity  {:>12}   (node cost no pod requests or uses)",
            money(self.costs.idle_monthly_usd)
        );
        let _ = writeln!(
            o,
            "  Potential savings   {:>12}   {:.1}% of the bill, from {} recommendation(s){}",
            money(t.monthly_savings_usd),
            t.savings_ratio * 100.0,
            t.recommendations,
            if t.gross_monthly_savings_usd > t.monthly_savings_usd {
                format!(
                    " (overlaps combined; plain sum {})",
                    money(t.gross_monthly_savings_usd)
                )
            } else {
                String::new()
            }
        );
        let _ = writeln!(o);
        if !t.by_kind.is_empty() {
            let _ = writeln!(o, "Savings by kind");
            for k in &t.by_kind {
                let _ = writeln!(
                    o,
                    "  {:<24} {:>4}  {:>12}/mo",
                    k.kind.title(),
                    k.count,
                    money(k.monthly_savings_usd)
                );
            }
            let _ = writeln!(o);
        }
        for (title, groups) in [
            ("Savings by namespace", &t.by_namespace),
            ("Savings by team", &t.by_team),
        ] {
            // a team summary where no recommendation has a team says nothing
            if groups.is_empty()
                || groups
                    .iter()
                    .all(|g| g.name == "(none)" || g.name == "(cluster)")
            {
                continue;
            }
            let _ = writeln!(o, "{title}");
            for g in groups.iter().take(10) {
                let _ = writeln!(
                    o,
                    "  {:<24} {:>4}  {:>12}/mo",
                    truncate(&g.name, 24),
                    g.count,
                    money(g.monthly_savings_usd)
                );
            }
            if groups.len() > 10 {
                let _ = writeln!(o, "  … {} more", groups.len() - 10);
            }
            let _ = writeln!(o);
        }
        let _ = writeln!(o, "Node groups");
        let _ = writeln!(
            o,
            "  {:<22} {:<18} {:>5} {:>5} {:>12} {:>8} {:>8}  types",
            "name", "kind", "nodes", "spot", "monthly", "cpu req", "mem req"
        );
        for g in &self.costs.by_node_group {
            let _ = writeln!(
                o,
                "  {:<22} {:<18} {:>5} {:>5} {:>12} {:>7.0}% {:>7.0}%  {}",
                truncate(&g.name, 22),
                g.kind,
                g.nodes,
                g.spot_nodes,
                money(g.monthly_usd),
                g.cpu_requested_ratio * 100.0,
                g.memory_requested_ratio * 100.0,
                g.instance_types.join(" ")
            );
        }
        let _ = writeln!(o);
        if !self.costs.by_namespace.is_empty() {
            let _ = writeln!(o, "Top namespaces (charged max(request, usage))");
            for n in self.costs.by_namespace.iter().take(8) {
                let _ = writeln!(
                    o,
                    "  {:<28} {:>12}/mo",
                    truncate(&n.name, 28),
                    money(n.monthly_usd)
                );
            }
            let _ = writeln!(o);
        }
        if self.recommendations.is_empty() {
            let _ = writeln!(o, "No recommendations.");
        } else {
            let _ = writeln!(o, "Recommendations (largest saving first)");
            let _ = writeln!(
                o,
                "  {:>3}  {:>11}  {:<6}  {:<20}  what",
                "#", "$/month", "risk", "id"
            );
            for (i, r) in self.recommendations.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "  {:>3}  {:>11}  {:<6}  {:<20}  {}{}",
                    i + 1,
                    money(r.monthly_savings_usd),
                    r.risk.level.as_str(),
                    r.id,
                    truncate(&r.title, 110),
                    if r.priority == crate::recommend::Priority::High {
                        "  [priority]"
                    } else {
                        ""
                    }
                );
            }
            let _ = writeln!(o);
            let _ = writeln!(o, "Top recommendations in detail");
            for r in self.recommendations.iter().take(5) {
                let _ = writeln!(o, "  {} — {}", r.id, r.title);
                for ch in &r.changes {
                    let _ = writeln!(o, "      {}: {} → {}", ch.field, ch.current, ch.proposed);
                }
                let _ = writeln!(o, "      why: {}", r.explanation);
                if !r.risk.reasons.is_empty() {
                    let _ = writeln!(
                        o,
                        "      risk ({}): {}",
                        r.risk.level.as_str(),
                        r.risk.reasons.join("; ")
                    );
                }
                let _ = writeln!(o);
            }
        }
        for n in &self.notes {
            let _ = writeln!(o, "note: {n}");
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_format() {
        assert_eq!(money(1234567.891), "$1,234,567.89");
        assert_eq!(money(-12.5), "-$12.50");
        assert_eq!(money(0.0), "$0.00");
        assert_eq!(money(999.999), "$1,000.00");
    }
}
