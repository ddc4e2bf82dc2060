//! Node.js bindings of cloudoptim (npm package `cloudoptim`).
//!
//! Conversion only: every function calls `cloudoptim-core` and converts arguments and results.
//! Values shaped like the report JSON cross as plain objects (results through `to_js`, so
//! they deep-equal `JSON.parse` of the Rust JSON); their TypeScript interfaces are in
//! `header.d.ts`, prepended to the generated `index.d.ts`. Loading and analysis run on the libuv
//! thread pool. Every core error becomes a JS `Error` whose `code` is
//! `CLOUDOPTIM_<CORE CODE>`, with the detail fields attached. The IaC engine (`patch`, `locate`)
//! runs on the thread pool too; its report crosses as a plain object typed `PatchReport`.
//! Consolidation (`consolidate`) runs on the thread pool and returns a `Plan`; so do spot
//! readiness and interruption plans (`spotReadiness`, `planInterruption`): everything that
//! reads files, talks to a network or does heavy work returns a Promise. The live sources
//! (`loadCluster({ kubeconfig, prometheus, awsLive })`) and `apply` are in [`live`].
//!
//! Plug-ins written in JavaScript (a spot risk scorer, IaC locators) follow the JS analyzers'
//! pattern below; see `plugins`. Long calls report progress through `onProgress` callbacks
//! (`progress`): `analyze` after each analyzer, the live load per source and query, `apply` per
//! step, `propose` per item.
//!
//! Analyzers written in JavaScript (`analyze(…, { extraAnalyzers })`) run inside the core's
//! analysis on the thread pool like the built-in ones: each JS `analyze` is wrapped in a
//! `ThreadsafeFunction`, and the worker thread calls it and blocks until the main thread has run
//! it (and, when it returns a Promise, until that settles), so the event loop stays free.
#![warn(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cloudoptim_core::analyzers::{AnalyzeError, Analyzer, Context};
use cloudoptim_core::pipeline::{self, PricingOptions};
use cloudoptim_core::quantity::Quantity;
use cloudoptim_core::{iac, packing};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

pub mod live;
mod plugins;
mod progress;

use plugins::{FailureSlot, JsFunction, JsLocator, JsScorer};
use progress::{JsCallback, Progress};

type CoreResult<T> = std::result::Result<T, cloudoptim_core::Error>;

/// Converts a serialisation result (never an error for the core's types) into a napi result.
fn json<T>(v: serde_json::Result<T>) -> Result<T> {
    v.map_err(|e| {
        Error::new(
            Status::GenericFailure,
            format!("cannot convert to JSON: {e}"),
        )
    })
}

/// Builds the JS value of Rust data shaped like the report JSON: serde_json writes the JSON
/// text and V8's `JSON.parse` builds the objects, which for large results (the recommendations
/// of a 5,000-node cluster are 10 MB of JSON) is much faster than setting every property
/// through N-API. The result deep-equals `JSON.parse` of the Rust JSON.
fn to_js<'e, T: serde::Serialize + ?Sized>(env: &'e Env, value: &T) -> Result<Unknown<'e>> {
    let text = json(serde_json::to_string(value))?;
    let json: Object<'e> = env.get_global()?.get_named_property("JSON")?;
    let parse: Function<'e, String, Unknown<'e>> = json.get_named_property("parse")?;
    parse.apply(json, text)
}

/// Builds the JS `Error` for a core error: message with its cause chain, `code`
/// `CLOUDOPTIM_<CODE>`, the details (`path`, `object`, `field`, `line`, `column`) as properties
/// and all of them, `name` included, under `details`.
fn js_error(env: &Env, err: &cloudoptim_core::Error) -> Error {
    let message = pipeline::error_message(err);
    let code = format!("CLOUDOPTIM_{}", err.code().to_uppercase());
    let build = || -> Result<Error> {
        let mut obj = env.create_error(Error::new(Status::GenericFailure, message.clone()))?;
        obj.set_named_property("code", code.as_str())?;
        let mut details = Object::new(env)?;
        for (key, value) in err.details() {
            let prop = match key {
                "line" | "column" => value
                    .parse::<f64>()
                    .map_or(Value::from(value.clone()), Value::from),
                _ => Value::from(value),
            };
            // `name` would shadow `Error.prototype.name`: it is only under `details`.
            if key != "name" {
                obj.set_named_property(key, &prop)?;
            }
            details.set_named_property(key, prop)?;
        }
        obj.set_named_property("details", details)?;
        Ok(Error::from(obj.to_unknown()))
    };
    build().unwrap_or_else(|_| Error::new(Status::GenericFailure, format!("{code}: {message}")))
}

/// Options of `analyze`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct AnalyzeOptions<'a> {
    /// Region to price in (default: the nodes' region, else us-east-1).
    pub region: Option<String>,
    /// On-demand price table CSV (`instance_type,od_linux_usd_per_hour`) for the region.
    pub prices: Option<String>,
    /// Spot Advisor JSON to use instead of the embedded snapshot.
    pub spot_advisor: Option<String>,
    /// Built-in analyzers to run, in order (default: all; see `analyzerNames()`).
    pub analyzers: Option<Vec<String>>,
    /// Analyzers written in JavaScript, run after the built-in ones: `{ name, description?,
    /// includeUsage?, analyze(context) }`, where `analyze` returns recommendations (or a Promise
    /// of them) as plain objects. See `CustomAnalyzer`.
    #[napi(ts_type = "CustomAnalyzer[]")]
    pub extra_analyzers: Option<Vec<Object<'a>>>,
    /// Analysis settings, with the keys of `cloudoptim analyze --config` (snake_case, as in
    /// the file): `include_namespaces`, `exclude_namespaces`, `exclude_workloads`,
    /// `exclude_node_groups`, `min_monthly_savings`, `strategy`, `limits`, `buffers`,
    /// `team_label`; or the path of such a JSON/YAML file. An unknown key rejects with
    /// `CLOUDOPTIM_FIELD` naming it.
    #[napi(ts_type = "AnalysisSettings | string")]
    pub filters: Option<Value>,
    /// Called after each analyzer (built-in or JavaScript) has run, in order: `{ analyzer,
    /// done, total, recommendations }`.
    #[napi(ts_type = "(event: AnalyzeProgress) => void")]
    pub on_progress: Option<JsCallback<'a>>,
}

/// Options of `consolidate`.
#[napi(object)]
#[derive(Default)]
pub struct ConsolidateOptions {
    /// `replace` (default: re-pack the movable pods onto kept nodes plus the cheapest new ones)
    /// or `remove` (delete nodes whose pods fit on the others).
    #[napi(ts_type = "'remove' | 'replace'")]
    pub mode: Option<String>,
    /// Instance-type patterns for new nodes (`m6i.*`, `c6g.large`; default: the families
    /// already in the cluster).
    pub allow_types: Option<Vec<String>>,
    /// Region to price in (default: the nodes' region, else us-east-1).
    pub region: Option<String>,
}

/// A cluster snapshot: Kubernetes objects, AWS inventory, metrics and usage history.
/// Made by `loadCluster` or `demoCluster`; pass it to `analyze`.
#[napi]
pub struct Cluster {
    inner: Arc<cloudoptim_core::Cluster>,
    warnings: Vec<String>,
}

#[napi]
impl Cluster {
    /// Cluster name.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// Region, when known.
    #[napi(getter)]
    pub fn region(&self) -> Option<String> {
        self.inner.region.clone()
    }

    /// Number of nodes.
    #[napi(getter)]
    pub fn node_count(&self) -> u32 {
        u32::try_from(self.inner.nodes.len()).unwrap_or(u32::MAX)
    }

    /// Number of pods.
    #[napi(getter)]
    pub fn pod_count(&self) -> u32 {
        u32::try_from(self.inner.pods.len()).unwrap_or(u32::MAX)
    }

    /// Non-fatal oddities met while loading (unparsable timestamps, say), each naming file,
    /// object and field.
    #[napi(getter)]
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }

    /// Counts of what the snapshot holds.
    #[napi(ts_return_type = "ClusterSummary")]
    pub fn summary<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.summary())
    }

    /// The whole snapshot as plain JSON data (also what `JSON.stringify` writes).
    #[napi(js_name = "toJSON", ts_return_type = "ClusterJson")]
    pub fn to_json<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &*self.inner)
    }
}

impl Cluster {
    pub(crate) fn new(cluster: cloudoptim_core::Cluster, warnings: Vec<String>) -> Cluster {
        Cluster {
            inner: Arc::new(cluster),
            warnings,
        }
    }
}

/// An analysis report: costs, totals and recommendations by savings (largest first).
///
/// The getters return fresh plain objects on each access: keep one in a variable rather than
/// reading `report.recommendations[i]` in a loop.
#[napi]
pub struct Report {
    inner: cloudoptim_core::Report,
}

#[napi]
impl Report {
    /// Version of the report's JSON shape.
    #[napi(getter)]
    pub fn schema_version(&self) -> String {
        self.inner.schema_version.clone()
    }

    /// What was analysed.
    #[napi(getter, ts_return_type = "ClusterSummary")]
    pub fn cluster<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.cluster)
    }

    /// The cost picture.
    #[napi(getter, ts_return_type = "CostSummary")]
    pub fn costs<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.costs)
    }

    /// Totals: combined savings, per kind.
    #[napi(getter, ts_return_type = "Totals")]
    pub fn totals<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.totals)
    }

    /// Recommendations, largest saving first.
    #[napi(getter, ts_return_type = "Recommendation[]")]
    pub fn recommendations<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.recommendations)
    }

    /// Analyzers that ran.
    #[napi(getter)]
    pub fn analyzers(&self) -> Vec<String> {
        self.inner.analyzers.clone()
    }

    /// Things the reader should know (estimated prices, missing data).
    #[napi(getter)]
    pub fn notes(&self) -> Vec<String> {
        self.inner.notes.clone()
    }

    /// The report as plain JSON data, equal to `JSON.parse(report.toJsonString())`.
    #[napi(js_name = "toJSON", ts_return_type = "ReportJson")]
    pub fn to_json<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner)
    }

    /// The report as pretty JSON text, exactly what `cloudoptim … --format json` prints.
    #[napi]
    pub fn to_json_string(&self) -> String {
        self.inner.to_json()
    }

    /// The report as text a platform engineer reads: totals first, then recommendations.
    #[napi]
    pub fn to_table(&self) -> String {
        self.inner.to_table()
    }
}

/// A consolidation plan: the nodes after it, where every pod runs, the steps with their savings
/// and disruption, and the LP lower bound of the cost. Made by `consolidate`.
///
/// The getters of lists return fresh plain objects on each access.
#[napi]
pub struct Plan {
    inner: packing::Plan,
}

#[napi]
impl Plan {
    /// `remove` or `replace`.
    #[napi(getter)]
    pub fn mode(&self) -> String {
        self.inner.mode.clone()
    }

    /// Node cost before, USD per hour.
    #[napi(getter)]
    pub fn cost_before_hourly(&self) -> f64 {
        self.inner.cost_before_hourly
    }

    /// Node cost after (approved and held-back steps alike), USD per hour.
    #[napi(getter)]
    pub fn cost_after_hourly(&self) -> f64 {
        self.inner.cost_after_hourly
    }

    /// LP lower bound of the cost of the replace problem, USD per hour.
    #[napi(getter)]
    pub fn lower_bound_hourly(&self) -> f64 {
        self.inner.lower_bound_hourly
    }

    /// (after − bound) / bound.
    #[napi(getter)]
    pub fn gap_to_bound(&self) -> f64 {
        self.inner.gap_to_bound
    }

    /// Every node after the plan.
    #[napi(getter, ts_return_type = "PlanNode[]")]
    pub fn nodes<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.nodes)
    }

    /// Names of the nodes removed.
    #[napi(getter)]
    pub fn removed(&self) -> Vec<String> {
        self.inner.removed.clone()
    }

    /// Every non-DaemonSet pod (`namespace/name`) and its node after the plan.
    #[napi(getter, ts_return_type = "Assignment[]")]
    pub fn assignments<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.assignments)
    }

    /// Pods that could not be placed, and why.
    #[napi(getter, ts_return_type = "Unplaced[]")]
    pub fn unplaced<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.unplaced)
    }

    /// Pods that pin their node, with the reason.
    #[napi(getter, ts_return_type = "BlockedNode[]")]
    pub fn blocked<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.blocked)
    }

    /// The steps, with their savings, disruption and whether the gate approves them.
    #[napi(getter, ts_return_type = "Step[]")]
    pub fn steps<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.steps)
    }

    /// The solver that made the plan.
    #[napi(getter)]
    pub fn solver(&self) -> String {
        self.inner.solver.clone()
    }

    /// Monthly saving of the whole plan, USD.
    #[napi(getter)]
    pub fn monthly_saving(&self) -> f64 {
        self.inner.monthly_saving()
    }

    /// The plan as plain JSON data (also what `JSON.stringify` writes); it follows
    /// `planSchema()`.
    #[napi(js_name = "toJSON", ts_return_type = "PlanJson")]
    pub fn to_json<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner)
    }

    /// The plan as pretty JSON text, exactly what `cloudoptim consolidate … --format json`
    /// prints.
    #[napi]
    pub fn to_json_string(&self) -> String {
        self.inner.to_json()
    }

    /// The plan as text: costs and bound, then each step.
    #[napi]
    pub fn to_table(&self) -> String {
        self.inner.to_table()
    }
}

/// What `analyze` runs on.
enum Input {
    Cluster(Arc<cloudoptim_core::Cluster>),
    Path(String),
}

impl Input {
    /// The cluster, loading it first for a path.
    fn with<T>(
        &self,
        run: impl FnOnce(&cloudoptim_core::Cluster) -> CoreResult<T>,
    ) -> CoreResult<T> {
        match self {
            Input::Cluster(c) => run(c),
            Input::Path(p) => {
                run(&pipeline::load_snapshot_from_strings(p, &[], &[], None)?.cluster)
            }
        }
    }
}

impl From<Either<&Cluster, String>> for Input {
    fn from(cluster: Either<&Cluster, String>) -> Input {
        match cluster {
            Either::A(c) => Input::Cluster(Arc::clone(&c.inner)),
            Either::B(path) => Input::Path(path),
        }
    }
}

/// Loads (for a path) and analyzes on the libuv thread pool.
pub struct AnalyzeTask {
    input: Input,
    pricing: PricingOptions,
    analyzers: Option<Vec<String>>,
    extra: Vec<JsAnalyzer>,
    filters: Option<Value>,
    progress: Option<Arc<Progress>>,
}

/// An analyzer that reports when it has run (`onProgress` of `analyze`).
struct Reporting {
    inner: Box<dyn Analyzer>,
    done: usize,
    total: usize,
    progress: Arc<Progress>,
}

impl Analyzer for Reporting {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn description(&self) -> &str {
        self.inner.description()
    }

    fn analyze(
        &self,
        ctx: &Context<'_>,
    ) -> cloudoptim_core::analyzers::Result<Vec<cloudoptim_core::Recommendation>> {
        let out = self.inner.analyze(ctx);
        self.progress.emit(serde_json::json!({
            "analyzer": self.inner.name(),
            "done": self.done,
            "total": self.total,
            "recommendations": out.as_ref().map_or(0, Vec::len),
        }));
        out
    }

    fn notes(&self, ctx: &Context<'_>) -> Vec<String> {
        self.inner.notes(ctx)
    }
}

/// The analyzers `analyze_with_extra` would run (the built-ins chosen by name, then `extra`),
/// each wrapped to report progress.
fn reporting(
    filters: &cloudoptim_core::report::Filters,
    names: Option<&[String]>,
    extra: Vec<Box<dyn Analyzer>>,
    progress: &Arc<Progress>,
) -> CoreResult<Vec<Box<dyn Analyzer>>> {
    let mut pool = filters.builtin_analyzers()?;
    let mut list = match names {
        None => pool,
        Some(names) => {
            let mut chosen = Vec::new();
            for n in names {
                let pos = pool.iter().position(|a| a.name() == n).ok_or_else(|| {
                    AnalyzeError::UnknownAnalyzer {
                        name: n.clone(),
                        known: cloudoptim_core::analyzers::builtin_names().join(", "),
                    }
                })?;
                chosen.push(pool.remove(pos));
            }
            chosen
        }
    };
    list.extend(extra);
    let total = list.len();
    Ok(list
        .into_iter()
        .enumerate()
        .map(|(i, inner)| {
            Box::new(Reporting {
                inner,
                done: i + 1,
                total,
                progress: Arc::clone(progress),
            }) as Box<dyn Analyzer>
        })
        .collect())
}

impl Task for AnalyzeTask {
    type Output = CoreResult<cloudoptim_core::Report>;
    type JsValue = Report;

    fn compute(&mut self) -> Result<Self::Output> {
        // the JS analyzers (and their threadsafe functions) are released when the analysis ends
        let extra: Vec<Box<dyn Analyzer>> = std::mem::take(&mut self.extra)
            .into_iter()
            .map(|a| Box::new(a) as Box<dyn Analyzer>)
            .collect();
        let filters = match self.filters.take() {
            None => Ok(cloudoptim_core::report::Filters::default()),
            Some(Value::String(path)) => pipeline::filters_from_file(std::path::Path::new(&path)),
            Some(v) => pipeline::filters_from_json("filters", v),
        };
        let progress = self.progress.take();
        Ok(filters.and_then(|filters| {
            let (names, extra) = match &progress {
                None => (self.analyzers.as_deref(), extra),
                Some(p) => (
                    Some(&[][..]),
                    reporting(&filters, self.analyzers.as_deref(), extra, p)?,
                ),
            };
            self.input.with(|cluster| {
                pipeline::analyze_with_extra(cluster, &self.pricing, names, &filters, extra)
            })
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Report> {
        let inner = output.map_err(|e| js_error(&env, &e))?;
        Ok(Report { inner })
    }
}

/// The embedded demo cluster: a mid-size EKS cluster with AWS inventory and a week of usage.
#[napi]
pub fn demo_cluster() -> Cluster {
    Cluster::new(cloudoptim_core::demo::demo_cluster(), Vec::new())
}

/// Analyzes a cluster (or the snapshot at a path, loaded first) on the libuv thread pool.
/// `extraAnalyzers` are analyzers written in JavaScript, run after the built-in ones (see
/// `CustomAnalyzer`); their `analyze` is called on the main thread while the analysis waits.
///
/// Rejects with an `Error` whose `code` is `CLOUDOPTIM_UNKNOWN_ANALYZER`, `CLOUDOPTIM_CATALOG`,
/// `CLOUDOPTIM_ANALYZER_FAILED` (a JS analyzer threw, with its stack in the message, or returned
/// an invalid recommendation; `details.name` is the analyzer), `CLOUDOPTIM_ANALYZER_CONFIG` (two
/// analyzers with one name), a load error's code, … . Throws a `TypeError` at once when an item
/// of `extraAnalyzers` is not an analyzer.
#[napi(ts_return_type = "Promise<Report>")]
pub fn analyze(
    env: &Env,
    cluster: Either<&Cluster, String>,
    options: Option<AnalyzeOptions>,
) -> Result<AsyncTask<AnalyzeTask>> {
    let o = options.unwrap_or_default();
    let input = Input::from(cluster);
    let mut extra = Vec::new();
    for (i, obj) in o.extra_analyzers.iter().flatten().enumerate() {
        extra.push(JsAnalyzer::new(env, i, obj)?);
    }
    let mut pricing = PricingOptions::default();
    if let Some(r) = o.region {
        pricing = pricing.with_region(r);
    }
    if let Some(p) = o.prices {
        pricing = pricing.with_price_table(p);
    }
    if let Some(s) = o.spot_advisor {
        pricing = pricing.with_spot_advisor(s);
    }
    Ok(AsyncTask::new(AnalyzeTask {
        input,
        pricing,
        analyzers: o.analyzers,
        extra,
        filters: o.filters,
        progress: Progress::new(env, o.on_progress)?.map(Arc::new),
    }))
}

/// An analyzer written in JavaScript, run by the core like the built-in ones.
pub struct JsAnalyzer {
    name: String,
    description: String,
    include_usage: bool,
    analyze: JsFunction,
}

/// A `TypeError` thrown at once (for arguments that are not what the declarations say).
fn type_error(env: &Env, message: String) -> Error {
    match env.throw_type_error(&message, Some("ERR_INVALID_ARG_TYPE")) {
        Ok(()) => Error::new(Status::PendingException, message),
        Err(e) => e,
    }
}

impl JsAnalyzer {
    /// Reads item `index` of `extraAnalyzers`.
    fn new(env: &Env, index: usize, obj: &Object<'_>) -> Result<JsAnalyzer> {
        let at = format!("extraAnalyzers[{index}]");
        let name = match obj.get_named_property::<Option<String>>("name") {
            Ok(Some(n)) if !n.is_empty() => n,
            _ => {
                return Err(type_error(
                    env,
                    format!("{at} needs a `name` (a non-empty string)"),
                ));
            }
        };
        let description = obj
            .get_named_property::<Option<String>>("description")
            .map_err(|_| {
                type_error(
                    env,
                    format!("{at} ({name}): `description` must be a string"),
                )
            })?
            .unwrap_or_default();
        let include_usage = obj
            .get_named_property::<Option<bool>>("includeUsage")
            .map_err(|_| {
                type_error(
                    env,
                    format!("{at} ({name}): `includeUsage` must be a boolean"),
                )
            })?
            .unwrap_or(false);
        let analyze = obj
            .get_named_property::<Function<'_, Value, Unknown<'static>>>("analyze")
            .map_err(|_| {
                type_error(
                    env,
                    format!(
                        "{at} ({name}) needs a method `analyze(context)` returning recommendations"
                    ),
                )
            })?;
        // `this` is the analyzer object, as in `obj.analyze(context)`; a throw or rejection is
        // described by the `Error`'s stack (which starts with its message)
        let analyze = JsFunction::new(env, analyze.bind(obj)?, "stack")?;
        Ok(JsAnalyzer {
            name,
            description,
            include_usage,
            analyze,
        })
    }
}

impl Analyzer for JsAnalyzer {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn analyze(
        &self,
        ctx: &Context<'_>,
    ) -> cloudoptim_core::analyzers::Result<Vec<cloudoptim_core::Recommendation>> {
        let context = pipeline::analyzer_context_json(ctx, self.include_usage);
        // runs the JS `analyze` on the main thread and waits for what it returns (or its
        // Promise settles to)
        let value = self
            .analyze
            .call(context)
            .map_err(|thrown| AnalyzeError::Failed {
                analyzer: self.name.clone(),
                message: thrown.message,
            })?;
        pipeline::recommendations_from_json(&self.name, &ctx.cluster.name, value)
    }
}

/// Plans a consolidation on the libuv thread pool.
pub struct ConsolidateTask {
    input: Input,
    pricing: PricingOptions,
    mode: String,
    allow_types: Vec<String>,
}

impl Task for ConsolidateTask {
    type Output = CoreResult<packing::Plan>;
    type JsValue = Plan;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(self.input.with(|cluster| {
            pipeline::consolidate_cluster(cluster, &self.pricing, &self.mode, &self.allow_types)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Plan> {
        let inner = output.map_err(|e| js_error(&env, &e))?;
        Ok(Plan { inner })
    }
}

/// Plans the consolidation of a cluster (or the snapshot at a path, loaded first) on the libuv
/// thread pool: `mode` `remove` deletes nodes whose pods fit on the others, `replace` (default)
/// re-packs the movable pods onto kept nodes plus the cheapest new ones; every plan reports the
/// LP lower bound of the cost.
///
/// Rejects with `CLOUDOPTIM_PACKING` for an unknown mode, or a load error's code.
#[napi(ts_return_type = "Promise<Plan>")]
pub fn consolidate(
    cluster: Either<&Cluster, String>,
    options: Option<ConsolidateOptions>,
) -> AsyncTask<ConsolidateTask> {
    let o = options.unwrap_or_default();
    let mut pricing = PricingOptions::default();
    if let Some(r) = o.region {
        pricing = pricing.with_region(r);
    }
    AsyncTask::new(ConsolidateTask {
        input: Input::from(cluster),
        pricing,
        mode: o.mode.unwrap_or_else(|| "replace".to_string()),
        allow_types: o.allow_types.unwrap_or_default(),
    })
}

/// The JSON Schema (draft 2020-12) of a consolidation plan (`Plan.toJSON()`).
#[napi(ts_return_type = "Record<string, unknown>")]
pub fn plan_schema() -> Value {
    packing::plan_schema()
}

/// The JSON Schema (draft 2020-12) of the report JSON.
#[napi(ts_return_type = "Record<string, unknown>")]
pub fn report_schema() -> Value {
    cloudoptim_core::report::report_schema()
}

/// Names of the built-in analyzers, in the order they run.
#[napi]
pub fn analyzer_names() -> Vec<String> {
    cloudoptim_core::analyzers::builtin_names()
}

/// A Kubernetes CPU quantity (`250m`, `1.5`, `2`) in millicores, rounded up as the API server
/// does. Throws `CLOUDOPTIM_QUANTITY` on a malformed quantity.
#[napi]
pub fn cpu_millicores(env: &Env, quantity: String) -> Result<i64> {
    Quantity::parse(&quantity)
        .map(|q| q.milli_value())
        .map_err(|e| js_error(env, &e.into()))
}

/// A Kubernetes memory quantity (`512Mi`, `1G`, `129M`) in bytes, rounded up as the API server
/// does. Throws `CLOUDOPTIM_QUANTITY` on a malformed quantity.
#[napi]
pub fn memory_bytes(env: &Env, quantity: String) -> Result<i64> {
    Quantity::parse(&quantity)
        .map(|q| q.value())
        .map_err(|e| js_error(env, &e.into()))
}

/// An EC2 instance type from the embedded catalog. Throws `CLOUDOPTIM_UNKNOWN_INSTANCE_TYPE`.
#[napi(ts_return_type = "InstanceType")]
pub fn instance_type(env: &Env, name: String) -> Result<Unknown<'_>> {
    let t = pipeline::instance_type(&name).map_err(|e| js_error(env, &e))?;
    to_js(env, &t)
}

/// Options of `scoreSpotTypes`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct SpotScoreOptions<'a> {
    /// Region (default `us-east-1`).
    pub region: Option<String>,
    /// A Spot Advisor JSON file to use instead of the embedded snapshot.
    pub advisor: Option<String>,
    /// describe-spot-price-history JSON (a file or folder): exact volatility and prices.
    pub prices: Option<String>,
    /// A risk scorer written in JavaScript, used instead of the built-in one: a function, or
    /// `{ name, score(input) }`. See `CustomSpotScorer`.
    #[napi(ts_type = "CustomSpotScorer | SpotScoreFunction")]
    pub scorer: Option<Object<'a>>,
}

/// Scores on the libuv thread pool.
pub struct ScoreTask {
    types: String,
    pricing: PricingOptions,
    prices: Option<String>,
    scorer: Option<JsScorer>,
    failure: FailureSlot,
}

impl<'task> napi::ScopedTask<'task> for ScoreTask {
    type Output = CoreResult<Vec<cloudoptim_core::spot::SpotScore>>;
    type JsValue = Unknown<'task>;

    fn compute(&mut self) -> Result<Self::Output> {
        let prices = self.prices.as_deref().map(std::path::Path::new);
        // the JS scorer (and its threadsafe function) is released when the scoring ends
        Ok(match self.scorer.take() {
            None => pipeline::spot_scores(&self.types, &self.pricing, prices),
            Some(scorer) => pipeline::spot_scores_with(&self.types, &self.pricing, prices, &scorer),
        })
    }

    fn resolve(&mut self, env: &'task Env, output: Self::Output) -> Result<Unknown<'task>> {
        if let Some(failure) = plugins::take_failure(&self.failure) {
            return Err(plugins::plugin_error(env, failure));
        }
        let scores = output.map_err(|e| js_error(env, &e))?;
        env.to_js_value(&scores)
    }
}

/// Spot risk scores of the instance types matching `types` (`m5.*`; default all), lowest risk
/// first, as `cloudoptim spot score --format json` prints them, on the libuv thread pool. With
/// `scorer`, a risk scorer written in JavaScript scores every type instead of the built-in one
/// (it is called on the main thread while the scoring waits).
///
/// Rejects with a load error's code when `advisor` or `prices` cannot be read, and with
/// `CLOUDOPTIM_PLUGIN` when the scorer throws (the thrown value is the error's `cause`) or
/// returns something that is not a score (`field` names what is wrong). Throws a `TypeError` at
/// once when `scorer` is not a scorer.
#[napi(ts_return_type = "Promise<SpotScore[]>")]
pub fn score_spot_types(
    env: &Env,
    types: Option<String>,
    options: Option<SpotScoreOptions>,
) -> Result<AsyncTask<ScoreTask>> {
    let o = options.unwrap_or_default();
    let mut pricing =
        PricingOptions::default().with_region(o.region.unwrap_or_else(|| "us-east-1".into()));
    if let Some(a) = o.advisor {
        pricing = pricing.with_spot_advisor(a);
    }
    let failure = FailureSlot::default();
    let scorer = match &o.scorer {
        Some(s) => Some(JsScorer::new(env, s, failure.clone())?),
        None => None,
    };
    Ok(AsyncTask::new(ScoreTask {
        types: types.unwrap_or_else(|| "*".into()),
        pricing,
        prices: o.prices,
        scorer,
        failure,
    }))
}

/// Runs a computation over a cluster on the libuv thread pool; its result crosses as plain
/// JSON data.
pub struct ClusterJsonTask {
    input: Input,
    run: fn(&cloudoptim_core::Cluster, &str) -> serde_json::Result<Value>,
    arg: String,
}

impl<'task> napi::ScopedTask<'task> for ClusterJsonTask {
    type Output = CoreResult<Value>;
    type JsValue = Unknown<'task>;

    fn compute(&mut self) -> Result<Self::Output> {
        let run = self.run;
        let arg = std::mem::take(&mut self.arg);
        Ok(self.input.with(|cluster| {
            run(cluster, &arg).map_err(|e| {
                cloudoptim_core::Error::Load(cloudoptim_core::loader::LoadError::Io {
                    path: std::path::PathBuf::from("<result>"),
                    source: std::io::Error::other(e),
                })
            })
        }))
    }

    fn resolve(&mut self, env: &'task Env, output: Self::Output) -> Result<Unknown<'task>> {
        let value = output.map_err(|e| js_error(env, &e))?;
        env.to_js_value(&value)
    }
}

/// Spot readiness of every workload of a cluster (or the snapshot at a path, loaded first), not
/// ready first, with the reason when not ready; on the libuv thread pool. Rejects with a load
/// error's code.
#[napi(
    ts_args_type = "cluster: Cluster | string",
    ts_return_type = "Promise<SpotReadiness[]>"
)]
pub fn spot_readiness(cluster: Either<&Cluster, String>) -> AsyncTask<ClusterJsonTask> {
    AsyncTask::new(ClusterJsonTask {
        input: cluster.into(),
        run: |c, _| serde_json::to_value(cloudoptim_core::spot::readiness(c)),
        arg: String::new(),
    })
}

/// The response plan for one SQS message body (an EventBridge event, an SQS record or an SNS
/// envelope) on a cluster (or the snapshot at a path, loaded first), as `cloudoptim events
/// handle --format json` prints it; on the libuv thread pool. A malformed message is not an
/// error: it is quarantined with a reason. Rejects with a load error's code.
#[napi(
    ts_args_type = "cluster: Cluster | string, message: string",
    ts_return_type = "Promise<InterruptionPlan>"
)]
pub fn plan_interruption(
    cluster: Either<&Cluster, String>,
    message: String,
) -> AsyncTask<ClusterJsonTask> {
    AsyncTask::new(ClusterJsonTask {
        input: cluster.into(),
        run: |c, m| serde_json::to_value(cloudoptim_core::spot::plan_response(c, m)),
        arg: message,
    })
}

/// The library version.
#[napi]
pub fn version() -> String {
    cloudoptim_core::VERSION.to_string()
}

// ---------------------------------------------------------------------------------------------
// Infrastructure as code
// ---------------------------------------------------------------------------------------------

/// A change as the JSON a change is written in (`{"target": …, "set": {"instance_types": …}}`):
/// the core's own `Serialize` writes the setting keys as Rust variant names.
fn change_value(change: &iac::Change) -> serde_json::Result<Value> {
    let mut set = serde_json::Map::new();
    for (key, value) in &change.set {
        set.insert(key.as_str().to_string(), serde_json::to_value(value)?);
    }
    Ok(serde_json::json!({
        "target": serde_json::to_value(&change.target)?,
        "set": set,
    }))
}

/// A change to make in an infrastructure repository: a `target` (a node group, NodePool or
/// workload on a cluster) and the values to `set`. Validated when made.
#[napi]
pub struct Change {
    inner: iac::Change,
}

#[napi]
impl Change {
    /// Validates `{ target, set }`. Throws `CLOUDOPTIM_INVALID_CHANGE` on an unknown key, a value
    /// of the wrong type, an unknown instance type or a setting that does not apply to the target.
    #[napi(constructor, ts_args_type = "change: ChangeJson")]
    pub fn new(env: Env, change: Value) -> Result<Self> {
        let inner = iac::Change::from_value(change).map_err(|e| js_error(&env, &e.into()))?;
        Ok(Change { inner })
    }

    /// Parses and validates a change from JSON text: a change object, or a corpus `case.json`
    /// whose `change` key holds one. Throws `CLOUDOPTIM_INVALID_CHANGE`.
    #[napi(factory)]
    pub fn from_json(env: Env, text: String) -> Result<Self> {
        let inner = iac::Change::from_json(&text).map_err(|e| js_error(&env, &e.into()))?;
        Ok(Change { inner })
    }

    /// The target: `kind`, `cluster`, `name`, and `namespace` and `container` when given.
    #[napi(getter, ts_return_type = "ChangeTarget")]
    pub fn target<'e>(&self, env: &'e Env) -> Result<Unknown<'e>> {
        to_js(env, &self.inner.target)
    }

    /// The values to set, by key (`instance_types`, `requests.cpu`, …).
    #[napi(getter, ts_return_type = "ChangeSet")]
    pub fn set(&self) -> Result<Value> {
        let mut v = json(change_value(&self.inner))?;
        Ok(v["set"].take())
    }

    /// The change as plain JSON data, `{ target, set }` (also what `JSON.stringify` writes).
    #[napi(js_name = "toJSON", ts_return_type = "ChangeJson")]
    pub fn to_json(&self) -> Result<Value> {
        json(change_value(&self.inner))
    }
}

/// Options of `patch`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct PatchOptions<'a> {
    /// Report the diff without writing anything.
    pub dry_run: Option<bool>,
    /// Locators written in JavaScript, consulted after the built-in ones: functions, or `{
    /// name, locate(input) }`. See `CustomLocator`.
    #[napi(ts_type = "Array<CustomLocator | LocateFunction>")]
    pub locators: Option<Vec<Object<'a>>>,
}

/// Options of `locate`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct LocateOptions<'a> {
    /// Locators written in JavaScript, consulted after the built-in ones: functions, or `{
    /// name, locate(input) }`. See `CustomLocator`.
    #[napi(ts_type = "Array<CustomLocator | LocateFunction>")]
    pub locators: Option<Vec<Object<'a>>>,
}

/// Locates (and patches) on the libuv thread pool.
pub struct PatchTask {
    repo: String,
    change: String,
    dry_run: bool,
    locate_only: bool,
    locators: Vec<JsLocator>,
    failure: FailureSlot,
}

impl PatchTask {
    fn new(
        env: &Env,
        repo: String,
        change: String,
        dry_run: bool,
        locate_only: bool,
        locators: Option<Vec<Object<'_>>>,
    ) -> Result<PatchTask> {
        let failure = FailureSlot::default();
        let locators = locators
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, l)| JsLocator::new(env, i, l, failure.clone()))
            .collect::<Result<Vec<_>>>()?;
        Ok(PatchTask {
            repo,
            change,
            dry_run,
            locate_only,
            locators,
            failure,
        })
    }
}

impl<'task> napi::ScopedTask<'task> for PatchTask {
    type Output = CoreResult<iac::PatchReport>;
    type JsValue = Unknown<'task>;

    fn compute(&mut self) -> Result<Self::Output> {
        // the JS locators (and their threadsafe functions) are released when the run ends
        let extra = std::mem::take(&mut self.locators)
            .into_iter()
            .map(|l| Box::new(l) as Box<dyn iac::Locator + Send>)
            .collect();
        Ok(pipeline::patch_repo_with(
            std::path::Path::new(&self.repo),
            &self.change,
            self.dry_run,
            self.locate_only,
            extra,
        ))
    }

    fn resolve(&mut self, env: &'task Env, output: Self::Output) -> Result<Unknown<'task>> {
        if let Some(failure) = plugins::take_failure(&self.failure) {
            return Err(plugins::plugin_error(env, failure));
        }
        let report = output.map_err(|e| js_error(env, &e))?;
        env.to_js_value(&report)
    }
}

/// The change argument as JSON text for `pipeline::patch_repo`.
fn change_text(env: &Env, change: Either3<&Change, String, Object>) -> Result<String> {
    let value = match change {
        Either3::A(c) => json(change_value(&c.inner))?,
        Either3::B(text) => return Ok(text),
        Either3::C(obj) => env.from_js_value::<Value, _>(obj)?,
    };
    serde_json::to_string(&value).map_err(|e| {
        Error::new(
            Status::GenericFailure,
            format!("cannot convert to JSON: {e}"),
        )
    })
}

/// Finds the one place in the infrastructure repository `repo` (Terraform/Terragrunt, eksctl,
/// Karpenter, plain manifests and Kustomize, Helm) that controls the change's target and changes
/// only those bytes, then verifies the edit by re-reading it; on the libuv thread pool. `change`
/// is a `Change`, a `{ target, set }` object, a corpus case (`{ change: … }`) or JSON text. With
/// `dryRun`, nothing is written but the report holds the diff. An ambiguous or unknown target
/// changes nothing (see `PatchReport.outcome`).
///
/// `locators` are locators written in JavaScript, consulted after the built-in ones like them
/// (see `CustomLocator`); they are called on the main thread while the engine waits.
///
/// Rejects with `CLOUDOPTIM_INVALID_CHANGE` (before reading anything),
/// `CLOUDOPTIM_NOT_A_DIRECTORY`, `CLOUDOPTIM_VERIFICATION` (the edit did not verify; nothing was
/// written), `CLOUDOPTIM_IO`, or `CLOUDOPTIM_PLUGIN` when a JS locator throws (the thrown value
/// is the error's `cause`) or returns something that is not findings (`field` names what is
/// wrong; nothing was written). Throws a `TypeError` at once when an item of `locators` is not
/// a locator.
#[napi(
    ts_args_type = "repo: string, change: ChangeInput, options?: PatchOptions | undefined | null",
    ts_return_type = "Promise<PatchReport>"
)]
pub fn patch(
    env: &Env,
    repo: String,
    change: Either3<&Change, String, Object>,
    options: Option<PatchOptions>,
) -> Result<AsyncTask<PatchTask>> {
    let o = options.unwrap_or_default();
    let change = change_text(env, change)?;
    Ok(AsyncTask::new(PatchTask::new(
        env,
        repo,
        change,
        o.dry_run.unwrap_or(false),
        false,
        o.locators,
    )?))
}

/// Like `patch`, but only reports where the change would go: nothing is written, the report
/// still holds the diff. Takes `locators` and rejects as `patch` does.
#[napi(
    ts_args_type = "repo: string, change: ChangeInput, options?: LocateOptions | undefined | null",
    ts_return_type = "Promise<PatchReport>"
)]
pub fn locate(
    env: &Env,
    repo: String,
    change: Either3<&Change, String, Object>,
    options: Option<LocateOptions>,
) -> Result<AsyncTask<PatchTask>> {
    let change = change_text(env, change)?;
    let o = options.unwrap_or_default();
    Ok(AsyncTask::new(PatchTask::new(
        env, repo, change, false, true, o.locators,
    )?))
}

// ---------------------------------------------------------------------------------------------
// GitOps
// ---------------------------------------------------------------------------------------------

/// Options of `propose`.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ProposeOptions<'a> {
    /// Base branch (default: the repository's default branch).
    pub base: Option<String>,
    /// Report branch, title, body and diff of each pull request; touch no remote.
    pub dry_run: Option<bool>,
    /// `none` (one pull request per recommendation, default) or `namespace`.
    #[napi(ts_type = "'none' | 'namespace'")]
    pub group: Option<String>,
    /// GitHub repository `owner/name` (default: from `repo`).
    pub github_repo: Option<String>,
    /// GitHub API URL, for GitHub Enterprise (`https://HOST/api/v3`).
    pub api_url: Option<String>,
    /// The token (default: `GITHUB_TOKEN`); never part of a message.
    pub token: Option<String>,
    /// Labels (default: `['cloudoptim']`).
    pub labels: Option<Vec<String>>,
    /// Reviewers to request.
    pub reviewers: Option<Vec<String>>,
    /// Open pull requests as drafts.
    pub draft: Option<bool>,
    /// Propose again what a person closed without merging.
    pub reopen_closed: Option<bool>,
    /// Commit author name (default `cloudoptim`).
    pub author_name: Option<String>,
    /// Commit author email; anyone else's commit on a cloudoptim branch stops the bot there.
    pub author_email: Option<String>,
    /// Only these namespaces (globs).
    pub include_namespaces: Option<Vec<String>>,
    /// Never these namespaces (globs).
    pub exclude_namespaces: Option<Vec<String>>,
    /// Never these workloads (`namespace/name` globs).
    pub exclude_workloads: Option<Vec<String>>,
    /// Never these node groups or NodePools (globs).
    pub exclude_node_groups: Option<Vec<String>>,
    /// Leave out findings that save less than this many USD a month.
    pub min_saving: Option<f64>,
    /// Called with each item as soon as it is decided.
    #[napi(ts_type = "(item: ProposeItem) => void")]
    pub on_progress: Option<JsCallback<'a>>,
}

/// Runs a batch on the libuv thread pool.
pub struct ProposeTask {
    input: Input,
    repo: String,
    filters: cloudoptim_core::report::Filters,
    forge: pipeline::ForgeOptions,
    options: cloudoptim_core::gitops::ProposeOptions,
    progress: Option<Progress>,
}

impl<'task> napi::ScopedTask<'task> for ProposeTask {
    type Output = CoreResult<cloudoptim_core::gitops::ProposeReport>;
    type JsValue = Unknown<'task>;

    fn compute(&mut self) -> Result<Self::Output> {
        let progress = self.progress.take();
        let callback = |item: &cloudoptim_core::gitops::ProposeItem| {
            if let (Some(p), Ok(v)) = (&progress, serde_json::to_value(item)) {
                p.emit(v);
            }
        };
        Ok(self.input.with(|cluster| {
            pipeline::propose(
                cluster,
                &self.filters,
                &self.repo,
                &self.forge,
                &self.options,
                Some(&callback),
            )
        }))
    }

    fn resolve(&mut self, env: &'task Env, output: Self::Output) -> Result<Unknown<'task>> {
        let report = output.map_err(|e| js_error(env, &e))?;
        env.to_js_value(&report)
    }
}

/// Proposes the repository changes behind a cluster's recommendations as pull requests, as
/// `cloudoptim propose` does, on the libuv thread pool: the analyzers run on `cluster` (a
/// `Cluster` or a path), the filters keep what they allow, the IaC engine patches a clone of
/// `repo` (an HTTPS or file:// URL, or a folder; a plain folder is enough with `dryRun`), and
/// each recommendation — or namespace with `group: 'namespace'` — becomes a branch
/// `cloudoptim/<kind>/<target>` and a pull request on GitHub. A later run updates the same branch
/// and pull request; a branch with someone else's commit is left alone; a pull request a person
/// closed is not reopened unless `reopenClosed`. `onProgress` is called with each item.
///
/// Rejects with `CLOUDOPTIM_AUTH` (bad token; nothing pushed), `CLOUDOPTIM_GITOPS_CONFIG`,
/// `CLOUDOPTIM_GIT`, `CLOUDOPTIM_RATE_LIMITED`, `CLOUDOPTIM_FORGE_API` or a load error's code.
#[napi(
    ts_args_type = "cluster: Cluster | string, repo: string, options?: ProposeOptions | undefined | null",
    ts_return_type = "Promise<ProposeReport>"
)]
pub fn propose(
    env: &Env,
    cluster: Either<&Cluster, String>,
    repo: String,
    options: Option<ProposeOptions<'_>>,
) -> Result<AsyncTask<ProposeTask>> {
    use cloudoptim_core::gitops::{Grouping, ProposeOptions as Opts};
    let o = options.unwrap_or_default();
    let group = Grouping::parse(o.group.as_deref().unwrap_or("none"))
        .map_err(|e| js_error(env, &e.into()))?;
    let default = Opts::default();
    let mut options = Opts::default()
        .with_dry_run(o.dry_run.unwrap_or(false))
        .with_group(group)
        .with_draft(o.draft.unwrap_or(false))
        .with_reopen_closed(o.reopen_closed.unwrap_or(false))
        .with_author(
            o.author_name.unwrap_or(default.author_name),
            o.author_email.unwrap_or(default.author_email),
        );
    if let Some(b) = o.base {
        options = options.with_base(b);
    }
    if let Some(l) = o.labels {
        options = options.with_labels(l);
    }
    if let Some(r) = o.reviewers {
        options = options.with_reviewers(r);
    }
    let mut forge = pipeline::ForgeOptions::default();
    if let Some(r) = o.github_repo {
        forge = forge.with_github_repo(r);
    }
    if let Some(u) = o.api_url {
        forge = forge.with_api_url(u);
    }
    if let Some(t) = o.token {
        forge = forge.with_token(t);
    }
    let mut filters = cloudoptim_core::report::Filters::default();
    filters.include_namespaces = o.include_namespaces.unwrap_or_default();
    filters.exclude_namespaces = o.exclude_namespaces.unwrap_or_default();
    filters.exclude_workloads = o.exclude_workloads.unwrap_or_default();
    filters.exclude_node_groups = o.exclude_node_groups.unwrap_or_default();
    if let Some(m) = o.min_saving {
        filters.min_monthly_savings = m;
    }
    let progress = Progress::new(env, o.on_progress)?;
    Ok(AsyncTask::new(ProposeTask {
        input: cluster.into(),
        repo,
        filters,
        forge,
        options,
        progress,
    }))
}
