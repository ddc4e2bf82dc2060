//! One call from input paths to a report, shared by the command line and the bindings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::analyzers::{self, AnalyzeError, Analyzer, Context};
use crate::catalog::{PriceTable, SpotAdvisor};
use crate::cost::HOURS_PER_MONTH;
use crate::cost::Pricing;
use crate::loader::{self, LoadError, LoadOptions, Loaded};
use crate::model::Cluster;
use crate::recommend::{Recommendation, RecommendationKind, Target, round_cents};
use crate::report::{AnalyzeOptions, Report};
use crate::{Error, Result};

/// Where prices come from, beyond the embedded defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PricingOptions {
    /// Region to price in (default: the nodes' region label, else us-east-1).
    pub region: Option<String>,
    /// CSV of on-demand prices (`instance_type,od_linux_usd_per_hour`) for that region.
    pub price_table: Option<PathBuf>,
    /// A Spot Advisor file to use instead of the embedded snapshot.
    pub spot_advisor: Option<PathBuf>,
}

impl PricingOptions {
    /// Sets the region.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Sets the price table file.
    #[must_use]
    pub fn with_price_table(mut self, path: impl Into<PathBuf>) -> Self {
        self.price_table = Some(path.into());
        self
    }

    /// Sets the Spot Advisor file.
    #[must_use]
    pub fn with_spot_advisor(mut self, path: impl Into<PathBuf>) -> Self {
        self.spot_advisor = Some(path.into());
        self
    }
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| {
        Error::Load(LoadError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Builds the prices for a cluster from the options.
pub fn pricing_for(cluster: &Cluster, options: &PricingOptions) -> Result<Pricing> {
    let region = options
        .region
        .clone()
        .or_else(|| cluster.region.clone())
        .unwrap_or_else(|| crate::catalog::EMBEDDED_PRICE_REGION.to_string());
    let mut pricing = Pricing::new(region.clone()).with_spot_history(&cluster.aws.spot_prices);
    if let Some(p) = &options.price_table {
        let text = read(p)?;
        pricing = pricing.with_price_table(PriceTable::from_csv(
            &region,
            &p.display().to_string(),
            &text,
        )?);
    }
    if let Some(p) = &options.spot_advisor {
        let text = read(p)?;
        pricing =
            pricing.with_spot_advisor(SpotAdvisor::from_json(&p.display().to_string(), &text)?);
    }
    Ok(pricing)
}

/// Loads a cluster dump plus optional AWS CLI output and Prometheus exports into one snapshot.
pub fn load_snapshot(
    cluster: &Path,
    aws: &[PathBuf],
    usage: &[PathBuf],
    options: &LoadOptions,
) -> Result<Loaded> {
    let mut loaded = loader::load_cluster_with(cluster, options)?;
    add_inputs(&mut loaded, aws, usage)?;
    Ok(loaded)
}

/// Adds AWS CLI JSON and Prometheus usage files to a snapshot however it was read (a dump or a
/// live source).
pub fn add_inputs(loaded: &mut Loaded, aws: &[PathBuf], usage: &[PathBuf]) -> Result<()> {
    add_aws(&mut loaded.cluster, aws)?;
    loaded.files.extend(aws.iter().cloned());
    for p in usage {
        loaded.cluster.usage.merge(loader::load_usage(p)?);
        loaded.files.push(p.clone());
    }
    Ok(())
}

/// Adds AWS CLI JSON (describe-instances, describe-volumes, describe-spot-price-history; files
/// or folders) to a cluster.
pub fn add_aws(cluster: &mut Cluster, paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        let inv = loader::load_aws(p)?;
        cluster.aws.instances.extend(inv.instances);
        cluster.aws.volumes.extend(inv.volumes);
        cluster.aws.spot_prices.extend(inv.spot_prices);
    }
    Ok(())
}

/// Spot risk scores of the instance types matching `pattern` in the pricing's region, lowest
/// risk first: the embedded Spot Advisor data (or `pricing`'s advisor file), improved by
/// describe-spot-price-history JSON at `prices` when given. What `cloudoptim spot score` prints.
pub fn spot_scores(
    pattern: &str,
    pricing: &PricingOptions,
    prices: Option<&Path>,
) -> Result<Vec<crate::spot::SpotScore>> {
    spot_scores_with(
        pattern,
        pricing,
        prices,
        &crate::spot::SeedScorer::default(),
    )
}

/// [`spot_scores`] with another risk scorer in place of the seed's (a plug-in written in Rust,
/// Python or JavaScript): same inputs, same ordering, the scorer's own terms and explanation.
pub fn spot_scores_with(
    pattern: &str,
    pricing: &PricingOptions,
    prices: Option<&Path>,
    scorer: &dyn crate::spot::SpotRiskScorer,
) -> Result<Vec<crate::spot::SpotScore>> {
    let history = match prices {
        Some(path) => loader::load_aws(path)?.spot_prices,
        None => vec![],
    };
    let pricing = pricing_for(&Cluster::default(), pricing)?.with_spot_history(&history);
    Ok(crate::spot::score_types(
        pattern, &pricing, &history, scorer,
    ))
}

/// Adds traffic matrices (CSV or Prometheus JSON, see [`crate::loader::load_traffic`]) to a snapshot.
pub fn add_traffic(cluster: &mut Cluster, paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        cluster.traffic.extend(loader::load_traffic(p)?);
    }
    Ok(())
}

/// Analyzes a cluster with the given prices and analyzers (built-ins when `None`).
pub fn analyze_with(
    cluster: &Cluster,
    pricing: &PricingOptions,
    analyzer_names: Option<&[String]>,
) -> Result<Report> {
    analyze_filtered(
        cluster,
        pricing,
        analyzer_names,
        &crate::report::Filters::default(),
    )
}

/// Reads filters from a JSON or YAML file (`include_namespaces`, `exclude_namespaces`,
/// `exclude_workloads`, `exclude_node_groups`, `min_monthly_savings`).
pub fn filters_from_file(path: &Path) -> Result<crate::report::Filters> {
    let text = read(path)?;
    let v: serde_json::Value = serde_yaml_ng::from_str(&text).map_err(|e| {
        Error::Load(LoadError::Syntax {
            path: path.to_path_buf(),
            format: "YAML",
            line: e.location().map(|l| l.line()).unwrap_or(0),
            column: e.location().map(|l| l.column()).unwrap_or(0),
            message: e.to_string(),
        })
    })?;
    crate::loader::typed(path, "analysis settings", v).map_err(Error::Load)
}

/// Analysis settings from JSON (the keys of [`crate::report::Filters`], as in a `--config`
/// file); errors name the key and the `what` given (a binding's argument name).
pub fn filters_from_json(what: &str, value: Value) -> Result<crate::report::Filters> {
    crate::loader::typed(Path::new(what), "analysis settings", value).map_err(Error::Load)
}

/// Analyzes with filters applied to the findings.
pub fn analyze_filtered(
    cluster: &Cluster,
    pricing: &PricingOptions,
    analyzer_names: Option<&[String]>,
    filters: &crate::report::Filters,
) -> Result<Report> {
    analyze_with_extra(cluster, pricing, analyzer_names, filters, Vec::new())
}

/// Like [`analyze_filtered`], then runs `extra` analyzers (the bindings' analyzers written in
/// Python or JavaScript) after the selected built-in ones, in order. Two analyzers with the same
/// name are an [`AnalyzeError::Config`] error naming it.
pub fn analyze_with_extra(
    cluster: &Cluster,
    pricing: &PricingOptions,
    analyzer_names: Option<&[String]>,
    filters: &crate::report::Filters,
    extra: Vec<Box<dyn Analyzer>>,
) -> Result<Report> {
    let configured = filters.builtin_analyzers()?;
    let mut list = match analyzer_names {
        Some(names) => {
            let mut pool = configured;
            let mut chosen = Vec::new();
            for n in names {
                let pos = pool.iter().position(|a| a.name() == n).ok_or_else(|| {
                    analyzers::AnalyzeError::UnknownAnalyzer {
                        name: n.clone(),
                        known: analyzers::builtin_names().join(", "),
                    }
                })?;
                chosen.push(pool.remove(pos));
            }
            chosen
        }
        None => configured,
    };
    list.extend(extra);
    let mut seen = BTreeSet::new();
    for a in &list {
        if !seen.insert(a.name()) {
            return Err(AnalyzeError::Config {
                analyzer: a.name().to_string(),
                message: "another analyzer has the same name".to_string(),
            }
            .into());
        }
    }
    let opts = AnalyzeOptions::default()
        .with_pricing(pricing_for(cluster, pricing)?)
        .with_filters(filters.clone())
        .with_analyzers(list);
    Ok(crate::report::analyze(cluster, opts)?)
}

/// What an analyzer written in another language reads, as JSON: `cluster` (the snapshot as
/// [`Cluster`] serialises it, without the `usage` history unless `include_usage`, plus
/// `summary`, the report's cluster counts), `costs` (`region`, `monthly_usd`,
/// `nodes_monthly_usd`, `idle_monthly_usd`, and per `nodes`, `pods`, `namespaces` and `volumes`
/// their monthly USD, unrounded) and `now` (RFC 3339: the snapshot's newest timestamp).
pub fn analyzer_context_json(ctx: &Context<'_>, include_usage: bool) -> Value {
    let c = ctx.cluster;
    let v = |r: serde_json::Result<Value>| r.unwrap_or(Value::Null);
    // every field, so new ones reach the analyzers too; the usage history (the bulk of a
    // snapshot) is dropped before serialising, not after
    let serialised = if include_usage {
        serde_json::to_value(c)
    } else {
        let mut lean = c.clone();
        lean.usage = Default::default();
        serde_json::to_value(&lean)
    };
    let mut cluster = match serialised {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if !include_usage {
        cluster.remove("usage");
    }
    cluster.insert("summary".into(), v(serde_json::to_value(c.summary())));
    let costs = ctx.costs;
    let nodes: Vec<Value> = costs
        .nodes
        .iter()
        .map(|n| {
            json!({
                "node": n.node,
                "group": n.group,
                "hourly_usd": n.price.hourly,
                "monthly_usd": n.monthly(),
                "idle_monthly_usd": n.idle_hourly() * HOURS_PER_MONTH,
                "price_source": n.price.source,
            })
        })
        .collect();
    let pods: Vec<Value> = costs
        .pods
        .iter()
        .map(|p| {
            json!({
                "namespace": p.namespace,
                "pod": p.pod,
                "workload": p.workload,
                "node": p.node,
                "monthly_usd": p.hourly() * HOURS_PER_MONTH,
            })
        })
        .collect();
    let namespaces: Vec<Value> = costs
        .by_namespace()
        .into_iter()
        .map(|(name, monthly)| json!({ "name": name, "monthly_usd": monthly }))
        .collect();
    let volumes: Vec<Value> = costs
        .volumes_monthly
        .iter()
        .map(|(id, monthly)| json!({ "volume": id, "monthly_usd": monthly }))
        .collect();
    json!({
        "cluster": cluster,
        "costs": {
            "region": ctx.pricing.region(),
            "monthly_usd": costs.total_monthly(),
            "nodes_monthly_usd": costs.nodes_hourly() * HOURS_PER_MONTH,
            "idle_monthly_usd": costs.idle_monthly(),
            "nodes": nodes,
            "pods": pods,
            "namespaces": namespaces,
            "volumes": volumes,
        },
        "now": ctx.now.to_string(),
    })
}

/// A recommendation as an analyzer written in another language returns it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecommendationInput {
    kind: Value,
    title: String,
    target: Map<String, Value>,
    monthly_savings_usd: f64,
    #[serde(default)]
    changes: Option<Vec<crate::recommend::Change>>,
    #[serde(default)]
    risk: Option<crate::recommend::Risk>,
    #[serde(default)]
    priority: Option<crate::recommend::Priority>,
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default)]
    evidence: Option<Vec<crate::recommend::Evidence>>,
    #[serde(default)]
    explanation: Option<String>,
    #[serde(default)]
    resource: Option<String>,
    #[serde(default)]
    base_monthly_usd: Option<f64>,
}

/// The JSON names of every [`RecommendationKind`], read from its schema.
fn kind_names() -> Vec<String> {
    fn collect(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("const", Value::String(s)) => out.push(s.clone()),
                        ("enum", Value::Array(items)) => {
                            out.extend(items.iter().filter_map(|i| i.as_str().map(String::from)))
                        }
                        _ => collect(x, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    collect(
        &serde_json::to_value(schemars::schema_for!(RecommendationKind)).unwrap_or(Value::Null),
        &mut out,
    );
    out
}

/// Builds a [`Recommendation`] from the JSON an analyzer written in another language returned,
/// refusing anything malformed with an [`AnalyzeError::Failed`] naming the analyzer.
///
/// Keys: `kind` (a [`RecommendationKind`] JSON name; `custom` for a kind of the caller's own),
/// `title` (not empty), `target` (an object of [`Target`] fields; `cluster` is filled in when
/// missing), `monthly_savings_usd`, and optionally `changes`, `risk` (`{level, reasons}`),
/// `priority`, `confidence` (in [0, 1]), `evidence`, `explanation`, and `resource` with
/// `base_monthly_usd` (the resource's current monthly cost: the saving becomes a claim on it, so
/// overlapping recommendations are not double counted). `null` stands for a missing optional
/// key; unknown keys are refused. The id is derived from kind and target, so it is stable across
/// runs.
pub fn recommendation_from_json(analyzer: &str, cluster: &str, v: Value) -> Result<Recommendation> {
    let fail = |message: String| -> Error {
        AnalyzeError::Failed {
            analyzer: analyzer.to_string(),
            message: format!("invalid recommendation: {message}"),
        }
        .into()
    };
    if !v.is_object() {
        return Err(fail(format!("expected an object, found {}", json_type(&v))));
    }
    let input: RecommendationInput =
        serde_path_to_error::deserialize(v).map_err(|e| match e.path().to_string().as_str() {
            "." => fail(e.inner().to_string()),
            p => fail(format!("`{p}`: {}", e.inner())),
        })?;
    let kind = match &input.kind {
        Value::String(name) => serde_json::from_value::<RecommendationKind>(input.kind.clone())
            .map_err(|_| {
                fail(format!(
                    "unknown kind {name:?}; known: {}",
                    kind_names().join(", ")
                ))
            })?,
        other => {
            return Err(fail(format!(
                "`kind` must be a string, not {}",
                json_type(other)
            )));
        }
    };
    if input.title.trim().is_empty() {
        return Err(fail("`title` is empty".into()));
    }
    // the target: `cluster` filled in, null fields dropped, unknown fields refused
    let mut fields: Map<String, Value> = input
        .target
        .into_iter()
        .filter(|(_, x)| !x.is_null())
        .collect();
    fields
        .entry("cluster")
        .or_insert_with(|| Value::from(cluster));
    let given: Vec<String> = fields.keys().cloned().collect();
    let target: Target = serde_path_to_error::deserialize(Value::Object(fields))
        .map_err(|e| fail(format!("`target.{}`: {}", e.path(), e.inner())))?;
    let known = serde_json::to_value(&target).unwrap_or(Value::Null);
    if let Some(unknown) = given.iter().find(|k| known.get(k.as_str()).is_none()) {
        return Err(fail(format!(
            "`target.{unknown}` is not a target field (cluster, namespace, workload_kind, \
             workload, container, node_group, node, volume, instance)"
        )));
    }
    if let Some(c) = input.confidence
        && !(0.0..=1.0).contains(&c)
    {
        return Err(fail(format!("`confidence` {c} is not in [0, 1]")));
    }
    let mut rec = Recommendation::new(kind, analyzer, target);
    rec.title = input.title;
    rec.changes = input.changes.unwrap_or_default();
    if let Some(risk) = input.risk {
        rec.risk = risk;
    }
    if let Some(p) = input.priority {
        rec.priority = p;
    }
    if let Some(c) = input.confidence {
        rec.confidence = c;
    }
    rec.evidence = input.evidence.unwrap_or_default();
    rec.explanation = input.explanation.unwrap_or_default();
    match (input.resource, input.base_monthly_usd) {
        (Some(resource), Some(base)) if base > 0.0 => {
            Ok(rec.with_claim(resource, base, input.monthly_savings_usd / base))
        }
        (Some(_), Some(base)) => Err(fail(format!("`base_monthly_usd` {base} is not positive"))),
        (Some(_), None) => Err(fail(
            "`resource` needs `base_monthly_usd`, the resource's current monthly cost".into(),
        )),
        (None, Some(_)) => Err(fail("`base_monthly_usd` needs `resource`".into())),
        (None, None) => {
            rec.monthly_savings_usd = round_cents(input.monthly_savings_usd);
            Ok(rec)
        }
    }
}

/// The recommendations an analyzer written in another language returned (a JSON array of
/// objects, see [`recommendation_from_json`]), for its [`Analyzer::analyze`]: anything
/// malformed is an [`AnalyzeError::Failed`] naming the analyzer and the item.
pub fn recommendations_from_json(
    analyzer: &str,
    cluster: &str,
    v: Value,
) -> analyzers::Result<Vec<Recommendation>> {
    let Value::Array(items) = v else {
        return Err(AnalyzeError::Failed {
            analyzer: analyzer.to_string(),
            message: format!(
                "analyze() must return a list of recommendations, not {}",
                json_type(&v)
            ),
        });
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            recommendation_from_json(analyzer, cluster, item).map_err(|e| match e {
                Error::Analyze(AnalyzeError::Failed { analyzer, message }) => {
                    AnalyzeError::Failed {
                        analyzer,
                        message: format!("item {i}: {message}"),
                    }
                }
                Error::Analyze(other) => other,
                other => AnalyzeError::Failed {
                    analyzer: analyzer.to_string(),
                    message: format!("item {i}: {other}"),
                },
            })
        })
        .collect()
}

/// A JSON value's type, for messages.
fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Loads a snapshot given paths as strings (for the bindings): `aws` and `usage` may be empty.
pub fn load_snapshot_from_strings(
    cluster: &str,
    aws: &[String],
    usage: &[String],
    cluster_name: Option<String>,
) -> Result<Loaded> {
    let mut opts = LoadOptions::default();
    if let Some(n) = cluster_name {
        opts = opts.with_cluster_name(n);
    }
    let aws: Vec<PathBuf> = aws.iter().map(PathBuf::from).collect();
    let usage: Vec<PathBuf> = usage.iter().map(PathBuf::from).collect();
    load_snapshot(Path::new(cluster), &aws, &usage, &opts)
}

/// Looks an instance type up in the embedded catalog.
pub fn instance_type(name: &str) -> Result<crate::catalog::InstanceType> {
    Ok(crate::catalog::Catalog::embedded().require(name)?.clone())
}

/// The full text of an error for the bindings: its message, then each `source()` not already
/// part of it on its own `  caused by: …` line (the format of the command line's `error:` line).
pub fn error_message(err: &Error) -> String {
    let mut s = err.to_string();
    let mut src = std::error::Error::source(err);
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(&format!("\n  caused by: {t}"));
        }
        src = c.source();
    }
    s
}

/// Locates (and, unless `dry_run` or `locate_only`, patches) a change in a repository: the one
/// entry point of the IaC engine for the command line and the bindings. `change` is JSON: a
/// change object or a corpus `case.json`.
pub fn patch_repo(
    repo: &Path,
    change_json: &str,
    dry_run: bool,
    locate_only: bool,
) -> Result<crate::iac::PatchReport> {
    patch_repo_with(repo, change_json, dry_run, locate_only, Vec::new())
}

/// [`patch_repo`] with extra locators consulted after the built-in ones (plug-ins written in
/// Rust, Python or JavaScript).
pub fn patch_repo_with(
    repo: &Path,
    change_json: &str,
    dry_run: bool,
    locate_only: bool,
    extra_locators: Vec<Box<dyn crate::iac::Locator + Send>>,
) -> Result<crate::iac::PatchReport> {
    let change = crate::iac::Change::from_json(change_json)?;
    let engine = extra_locators
        .into_iter()
        .fold(crate::iac::Engine::default(), |e, l| {
            e.with_locator(l as Box<dyn crate::iac::Locator>)
        });
    Ok(if locate_only {
        engine.locate(repo, &change)?
    } else {
        engine.patch(repo, &change, dry_run)?
    })
}

/// Where pull requests go: the GitHub repository (`owner/name`, default: from the repository
/// URL), the API URL (GitHub Enterprise) and the token (default: `GITHUB_TOKEN`).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ForgeOptions {
    /// `owner/name` on GitHub.
    pub github_repo: Option<String>,
    /// API base URL (`https://HOST/api/v3` for GitHub Enterprise).
    pub api_url: Option<String>,
    /// The token; never printed.
    pub token: Option<String>,
}

impl ForgeOptions {
    /// Sets `owner/name`.
    #[must_use]
    pub fn with_github_repo(mut self, repo: impl Into<String>) -> Self {
        self.github_repo = Some(repo.into());
        self
    }

    /// Sets the API URL.
    #[must_use]
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Sets the token.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The token given, else `GITHUB_TOKEN`.
    pub fn resolved_token(&self) -> Option<String> {
        self.token
            .clone()
            .or_else(|| std::env::var("GITHUB_TOKEN").ok())
            .filter(|t| !t.is_empty())
    }
}

/// Runs the analyzers on a cluster, keeps what the filters allow, and proposes the repository
/// changes as pull requests on GitHub (or, with `options.dry_run`, only reports them): the one
/// entry point of [`crate::gitops::propose`] for the command line and the bindings. Blocks on
/// its own single-threaded runtime.
#[cfg(all(feature = "git", feature = "github"))]
pub fn propose(
    cluster: &Cluster,
    filters: &crate::report::Filters,
    repo: &str,
    forge: &ForgeOptions,
    options: &crate::gitops::ProposeOptions,
    progress: Option<crate::gitops::batch_progress::Progress<'_>>,
) -> Result<crate::gitops::ProposeReport> {
    use crate::gitops::github::{GitHubConfig, GitHubProvider};
    use crate::gitops::{GitOpsError, PullRequestProvider};
    let report = analyze_filtered(cluster, &PricingOptions::default(), None, filters)?;
    let token = forge.resolved_token();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| GitOpsError::Config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let provider: Option<GitHubProvider> = if options.dry_run {
            None
        } else {
            let mut config = match &forge.github_repo {
                Some(r) => GitHubConfig::from_url(r)?,
                None => GitHubConfig::from_url(repo).map_err(|_| {
                    GitOpsError::Config(
                        "cannot tell the GitHub repository from --repo: pass --github-repo owner/name"
                            .into(),
                    )
                })?,
            };
            if let Some(u) = &forge.api_url {
                config = config.with_api_url(u.clone());
            }
            config.token = token.clone();
            Some(GitHubProvider::new(config)?)
        };
        crate::gitops::propose(
            cluster,
            &report.recommendations,
            repo,
            provider.as_ref().map(|p| p as &dyn PullRequestProvider),
            token.as_deref(),
            options,
            progress,
        )
        .await
    })
}

/// A consolidation plan for a cluster: `mode` is `remove` or `replace`, `allow_types` are
/// instance-type patterns for new nodes (empty: the families already in the cluster).
pub fn consolidate_cluster(
    cluster: &Cluster,
    pricing: &PricingOptions,
    mode: &str,
    allow_types: &[String],
) -> Result<crate::packing::Plan> {
    let mode = match mode {
        "remove" => crate::packing::Mode::Remove,
        "replace" => crate::packing::Mode::Replace,
        other => {
            return Err(Error::Packing(crate::packing::PackingError::Config(
                format!("mode must be remove or replace, not {other:?}"),
            )));
        }
    };
    let config = crate::packing::PackingConfig::default()
        .with_mode(mode)
        .with_allow_types(allow_types.to_vec());
    Ok(crate::packing::consolidate(
        cluster,
        &pricing_for(cluster, pricing)?,
        &config,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_appends_new_causes_only() {
        let e = Error::Load(LoadError::Io {
            path: PathBuf::from("/nope/cluster.json"),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
        });
        // the io error's text is already in the message: no `caused by` line
        assert_eq!(error_message(&e), "/nope/cluster.json: gone");
        let e = Error::Load(LoadError::Io {
            path: PathBuf::from("x"),
            source: std::io::Error::other(Wrapped(std::io::Error::other("root cause"))),
        });
        let m = error_message(&e);
        assert!(m.starts_with("x: wrapped"), "{m}");
        assert!(m.ends_with("\n  caused by: root cause"), "{m}");
    }

    fn demo() -> Cluster {
        crate::demo::demo_cluster()
    }

    #[test]
    fn recommendation_from_json_builds_a_stable_recommendation() {
        let v = json!({
            "kind": "custom",
            "title": "Label namespace shop with a team",
            "target": {"namespace": "shop"},
            "monthly_savings_usd": 12.345,
            "changes": [{"field": "label", "current": "", "proposed": "team=<owner>"}],
            "risk": {"level": "medium", "reasons": ["chargeback"]},
            "priority": "high",
            "confidence": 0.5,
            "evidence": [{"name": "pods", "value": 3, "unit": "count"}],
            "explanation": "Unowned spend.",
            "description": null,
        });
        // an unknown key is refused, even when null
        let e = recommendation_from_json("team-labels", "c1", v.clone()).unwrap_err();
        assert_eq!(e.code(), "analyzer_failed");
        assert!(e.to_string().contains("unknown field `description`"), "{e}");
        let mut v = v;
        if let Some(m) = v.as_object_mut() {
            m.remove("description");
        }
        let r = recommendation_from_json("team-labels", "c1", v.clone()).unwrap();
        assert_eq!(r.kind, RecommendationKind::Custom);
        assert_eq!(r.analyzer, "team-labels");
        assert_eq!(r.target.cluster, "c1");
        assert_eq!(r.target.namespace.as_deref(), Some("shop"));
        assert_eq!(r.id, crate::recommend::stable_id(r.kind, &r.target));
        assert_eq!(r.monthly_savings_usd, 12.35);
        assert!(r.savings_claims.is_empty());
        assert_eq!(r.risk.level, crate::recommend::RiskLevel::Medium);
        assert_eq!(r.priority, crate::recommend::Priority::High);
        assert_eq!((r.confidence, r.evidence[0].value), (0.5, 3.0));
        assert_eq!(r.changes[0].proposed, "team=<owner>");
        // same input, same id; another target, another id
        let again = recommendation_from_json("other", "c1", v.clone()).unwrap();
        assert_eq!(again.id, r.id);
        v["target"]["namespace"] = json!("web");
        assert_ne!(recommendation_from_json("x", "c1", v).unwrap().id, r.id);
    }

    #[test]
    fn recommendation_from_json_claims_a_resource() {
        let v = json!({
            "kind": "node_removal", "title": "t", "target": {"node": "n1", "cluster": "given"},
            "monthly_savings_usd": 25.0, "resource": "node:n1", "base_monthly_usd": 100.0,
        });
        let r = recommendation_from_json("a", "c1", v).unwrap();
        assert_eq!(r.target.cluster, "given");
        assert_eq!(r.monthly_savings_usd, 25.0);
        assert_eq!(r.savings_claims.len(), 1);
        assert_eq!(r.savings_claims[0].resource, "node:n1");
        assert_eq!(r.savings_claims[0].fraction, 0.25);
    }

    #[test]
    fn recommendation_from_json_refuses_what_is_malformed() {
        let base = json!({"kind": "custom", "title": "t", "target": {}, "monthly_savings_usd": 1});
        let with = |key: &str, value: Value| {
            let mut v = base.clone();
            v[key] = value;
            recommendation_from_json("mine", "c", v)
                .unwrap_err()
                .to_string()
        };
        let e = with("kind", json!("cost_cutting"));
        assert!(
            e.starts_with("analyzer mine failed: invalid recommendation: "),
            "{e}"
        );
        assert!(
            e.contains("unknown kind \"cost_cutting\"; known: workload_rightsizing, "),
            "{e}"
        );
        assert!(e.ends_with(", custom"), "{e}");
        assert!(with("kind", json!(3)).contains("`kind` must be a string, not a number"));
        assert!(with("title", json!(" ")).contains("`title` is empty"));
        assert!(with("confidence", json!(1.5)).contains("`confidence` 1.5 is not in [0, 1]"));
        assert!(with("target", json!({"pod": "x"})).contains("`target.pod` is not a target field"));
        assert!(with("target", json!({"node": 3})).contains("`target.node`: invalid type"));
        assert!(
            with(
                "evidence",
                json!([{"name": "x", "value": "high", "unit": "u"}])
            )
            .contains("`evidence[0].value`: invalid type")
        );
        assert!(with("resource", json!("node:n1")).contains("`resource` needs `base_monthly_usd`"));
        assert!(with("base_monthly_usd", json!(3)).contains("`base_monthly_usd` needs `resource`"));
        let mut v = base.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("title");
        }
        let e = recommendation_from_json("mine", "c", v)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `title`"), "{e}");
        let e = recommendation_from_json("mine", "c", json!([1]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected an object, found an array"), "{e}");
        // in a list, the item is named
        let e = recommendations_from_json("mine", "c", json!([base.clone(), {"kind": "nope"}]))
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("analyzer mine failed: item 1: invalid recommendation: "),
            "{e}"
        );
        let e = recommendations_from_json("mine", "c", json!({"a": 1})).unwrap_err();
        assert!(
            e.to_string()
                .contains("must return a list of recommendations, not an object"),
            "{e}"
        );
        assert_eq!(
            recommendations_from_json("mine", "c", json!([base]))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn analyzer_context_holds_the_cluster_without_usage_and_the_costs() {
        let cluster = demo();
        let pricing = Pricing::for_cluster(&cluster);
        let costs = crate::cost::ClusterCosts::compute(&cluster, &pricing);
        let index = crate::analyzers::Index::new(&cluster, &costs);
        let ctx = Context::new(&cluster, &pricing, &costs, &index);
        let v = analyzer_context_json(&ctx, false);
        let Value::Object(whole) = serde_json::to_value(&cluster).unwrap() else {
            panic!("a cluster serialises to an object")
        };
        let mut expected: Vec<String> = whole.keys().filter(|k| *k != "usage").cloned().collect();
        expected.push("summary".into());
        expected.sort();
        let mut keys: Vec<String> = v["cluster"].as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys, expected,
            "every cluster field but usage, plus summary"
        );
        assert_eq!(v["cluster"]["nodes"], whole["nodes"]);
        assert_eq!(v["cluster"]["summary"]["pods"], json!(cluster.pods.len()));
        assert_eq!(
            analyzer_context_json(&ctx, true)["cluster"]["usage"],
            whole["usage"]
        );
        let c = &v["costs"];
        assert_eq!(c["nodes"].as_array().unwrap().len(), cluster.nodes.len());
        let per_ns: f64 = c["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["monthly_usd"].as_f64().unwrap())
            .sum();
        let per_pod: f64 = c["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["monthly_usd"].as_f64().unwrap())
            .sum();
        assert!((per_ns - per_pod).abs() < 1e-6 && per_pod > 0.0);
        assert_eq!(c["region"], "us-east-1");
        assert_eq!(v["now"], json!(ctx.now.to_string()));
    }

    struct Fixed(&'static str);
    impl Analyzer for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn description(&self) -> &str {
            "fixed"
        }
        fn analyze(&self, ctx: &Context<'_>) -> analyzers::Result<Vec<Recommendation>> {
            let v =
                json!([{"kind": "custom", "title": "x", "target": {}, "monthly_savings_usd": 5}]);
            recommendations_from_json(self.0, &ctx.cluster.name, v)
        }
    }

    #[test]
    fn extra_analyzers_run_after_the_selected_ones() {
        let cluster = demo();
        let names = vec!["zombie-volumes".to_string()];
        let filters = crate::report::Filters::default();
        let r = analyze_with_extra(
            &cluster,
            &PricingOptions::default(),
            Some(&names),
            &filters,
            vec![Box::new(Fixed("mine"))],
        )
        .unwrap();
        assert_eq!(r.analyzers, ["zombie-volumes", "mine"]);
        let mine: Vec<_> = r
            .recommendations
            .iter()
            .filter(|x| x.analyzer == "mine")
            .collect();
        assert_eq!(mine.len(), 1);
        let only = analyze_with(&cluster, &PricingOptions::default(), Some(&names)).unwrap();
        assert!(
            (r.totals.monthly_savings_usd - only.totals.monthly_savings_usd - 5.0).abs() < 0.011
        );
        let e = analyze_with_extra(
            &cluster,
            &PricingOptions::default(),
            Some(&names),
            &filters,
            vec![Box::new(Fixed("zombie-volumes"))],
        )
        .unwrap_err();
        assert_eq!(e.code(), "analyzer_config");
        assert!(e.to_string().contains("zombie-volumes"), "{e}");
    }

    #[derive(Debug)]
    struct Wrapped(std::io::Error);
    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("wrapped")
        }
    }
    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }
}
