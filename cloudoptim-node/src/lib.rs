//! Node.js bindings of cloudoptim (npm package `cloudoptim`).
//!
//! Conversion only: every function calls `cloudoptim-core` and converts arguments and results.
//! Values shaped like the report JSON cross as plain objects (through `serde_json::Value`, so
//! they deep-equal `JSON.parse` of the Rust JSON); their TypeScript interfaces are in
//! `header.d.ts`, prepended to the generated `index.d.ts`. Loading and analysis run on the libuv
//! thread pool. Every core error becomes a JS `Error` whose `code` is
//! `CLOUDOPTIM_<CORE CODE>`, with the detail fields attached. The IaC engine (`patch`, `locate`)
//! runs on the thread pool too; its report crosses as a plain object typed `PatchReport`.
#![warn(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use cloudoptim_core::iac;
use cloudoptim_core::pipeline::{self, PricingOptions};
use cloudoptim_core::quantity::Quantity;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

type CoreResult<T> = std::result::Result<T, cloudoptim_core::Error>;

/// Converts a serialisation result (never an error for the core's types) into a napi result.
fn json(v: serde_json::Result<Value>) -> Result<Value> {
    v.map_err(|e| {
        Error::new(
            Status::GenericFailure,
            format!("cannot convert to JSON: {e}"),
        )
    })
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

fn one_or_many(v: Option<Either<String, Vec<String>>>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Either::A(one)) => vec![one],
        Some(Either::B(many)) => many,
    }
}

/// Options of `loadCluster`.
#[napi(object)]
#[derive(Default)]
pub struct LoadClusterOptions {
    /// AWS CLI JSON (`describe-instances`, `describe-volumes`, `describe-spot-price-history`):
    /// files or folders.
    pub aws: Option<Either<String, Vec<String>>>,
    /// Prometheus `query_range` JSON for container CPU and memory: files or folders.
    pub usage: Option<Either<String, Vec<String>>>,
    /// Cluster name (default: from node labels or instance tags, else the file name).
    pub cluster_name: Option<String>,
}

/// Options of `analyze`.
#[napi(object)]
#[derive(Default)]
pub struct AnalyzeOptions {
    /// Region to price in (default: the nodes' region, else us-east-1).
    pub region: Option<String>,
    /// On-demand price table CSV (`instance_type,od_linux_usd_per_hour`) for the region.
    pub prices: Option<String>,
    /// Spot Advisor JSON to use instead of the embedded snapshot.
    pub spot_advisor: Option<String>,
    /// Analyzers to run, in order (default: all built-ins; see `analyzerNames()`).
    pub analyzers: Option<Vec<String>>,
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
    pub fn summary(&self) -> Result<Value> {
        json(serde_json::to_value(self.inner.summary()))
    }

    /// The whole snapshot as plain JSON data (also what `JSON.stringify` writes).
    #[napi(js_name = "toJSON", ts_return_type = "ClusterJson")]
    pub fn to_json(&self) -> Result<Value> {
        json(serde_json::to_value(&*self.inner))
    }
}

impl Cluster {
    fn new(cluster: cloudoptim_core::Cluster, warnings: Vec<String>) -> Cluster {
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
    pub fn cluster(&self) -> Result<Value> {
        json(serde_json::to_value(&self.inner.cluster))
    }

    /// The cost picture.
    #[napi(getter, ts_return_type = "CostSummary")]
    pub fn costs(&self) -> Result<Value> {
        json(serde_json::to_value(&self.inner.costs))
    }

    /// Totals: combined savings, per kind.
    #[napi(getter, ts_return_type = "Totals")]
    pub fn totals(&self) -> Result<Value> {
        json(serde_json::to_value(&self.inner.totals))
    }

    /// Recommendations, largest saving first.
    #[napi(getter, ts_return_type = "Recommendation[]")]
    pub fn recommendations(&self) -> Result<Value> {
        json(serde_json::to_value(&self.inner.recommendations))
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
    pub fn to_json(&self) -> Result<Value> {
        json(serde_json::to_value(&self.inner))
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

/// Loads a snapshot on the libuv thread pool.
pub struct LoadTask {
    path: String,
    aws: Vec<String>,
    usage: Vec<String>,
    cluster_name: Option<String>,
}

impl Task for LoadTask {
    type Output = CoreResult<cloudoptim_core::loader::Loaded>;
    type JsValue = Cluster;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(pipeline::load_snapshot_from_strings(
            &self.path,
            &self.aws,
            &self.usage,
            self.cluster_name.take(),
        ))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Cluster> {
        let loaded = output.map_err(|e| js_error(&env, &e))?;
        Ok(Cluster::new(loaded.cluster, loaded.warnings))
    }
}

/// What `analyze` runs on.
enum Input {
    Cluster(Arc<cloudoptim_core::Cluster>),
    Path(String),
}

/// Loads (for a path) and analyzes on the libuv thread pool.
pub struct AnalyzeTask {
    input: Input,
    pricing: PricingOptions,
    analyzers: Option<Vec<String>>,
}

impl Task for AnalyzeTask {
    type Output = CoreResult<cloudoptim_core::Report>;
    type JsValue = Report;

    fn compute(&mut self) -> Result<Self::Output> {
        let run = || -> CoreResult<cloudoptim_core::Report> {
            let loaded;
            let cluster = match &self.input {
                Input::Cluster(c) => c.as_ref(),
                Input::Path(p) => {
                    loaded = pipeline::load_snapshot_from_strings(p, &[], &[], None)?;
                    &loaded.cluster
                }
            };
            pipeline::analyze_with(cluster, &self.pricing, self.analyzers.as_deref())
        };
        Ok(run())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Report> {
        let inner = output.map_err(|e| js_error(&env, &e))?;
        Ok(Report { inner })
    }
}

/// Loads a cluster snapshot from `kubectl get … -o json|yaml` output (a file or a folder,
/// `kubectl cluster-info dump` folders too), plus optional AWS CLI output and Prometheus
/// exports. Reads the files on the libuv thread pool.
///
/// Rejects with an `Error` whose `code` is `CLOUDOPTIM_IO`, `CLOUDOPTIM_SYNTAX`,
/// `CLOUDOPTIM_FIELD`, `CLOUDOPTIM_UNRECOGNIZED`, `CLOUDOPTIM_EMPTY_INPUT`, … .
#[napi(ts_return_type = "Promise<Cluster>")]
pub fn load_cluster(path: String, options: Option<LoadClusterOptions>) -> AsyncTask<LoadTask> {
    let o = options.unwrap_or_default();
    AsyncTask::new(LoadTask {
        path,
        aws: one_or_many(o.aws),
        usage: one_or_many(o.usage),
        cluster_name: o.cluster_name,
    })
}

/// The embedded demo cluster: a mid-size EKS cluster with AWS inventory and a week of usage.
#[napi]
pub fn demo_cluster() -> Cluster {
    Cluster::new(cloudoptim_core::demo::demo_cluster(), Vec::new())
}

/// Analyzes a cluster (or the snapshot at a path, loaded first) on the libuv thread pool.
///
/// Rejects with an `Error` whose `code` is `CLOUDOPTIM_UNKNOWN_ANALYZER`, `CLOUDOPTIM_CATALOG`,
/// a load error's code, … .
#[napi(ts_return_type = "Promise<Report>")]
pub fn analyze(
    cluster: Either<&Cluster, String>,
    options: Option<AnalyzeOptions>,
) -> AsyncTask<AnalyzeTask> {
    let o = options.unwrap_or_default();
    let input = match cluster {
        Either::A(c) => Input::Cluster(Arc::clone(&c.inner)),
        Either::B(path) => Input::Path(path),
    };
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
    AsyncTask::new(AnalyzeTask {
        input,
        pricing,
        analyzers: o.analyzers,
    })
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
pub fn instance_type(env: &Env, name: String) -> Result<Value> {
    let t = pipeline::instance_type(&name).map_err(|e| js_error(env, &e))?;
    json(serde_json::to_value(t))
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
    pub fn target(&self) -> Result<Value> {
        json(serde_json::to_value(&self.inner.target))
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
#[napi(object)]
#[derive(Default)]
pub struct PatchOptions {
    /// Report the diff without writing anything.
    pub dry_run: Option<bool>,
}

/// Locates (and patches) on the libuv thread pool.
pub struct PatchTask {
    repo: String,
    change: String,
    dry_run: bool,
    locate_only: bool,
}

impl<'task> napi::ScopedTask<'task> for PatchTask {
    type Output = CoreResult<iac::PatchReport>;
    type JsValue = Unknown<'task>;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(pipeline::patch_repo(
            std::path::Path::new(&self.repo),
            &self.change,
            self.dry_run,
            self.locate_only,
        ))
    }

    fn resolve(&mut self, env: &'task Env, output: Self::Output) -> Result<Unknown<'task>> {
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
/// Rejects with `CLOUDOPTIM_INVALID_CHANGE` (before reading anything),
/// `CLOUDOPTIM_NOT_A_DIRECTORY`, `CLOUDOPTIM_VERIFICATION` (the edit did not verify; nothing was
/// written) or `CLOUDOPTIM_IO`.
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
    Ok(AsyncTask::new(PatchTask {
        repo,
        change: change_text(env, change)?,
        dry_run: options.unwrap_or_default().dry_run.unwrap_or(false),
        locate_only: false,
    }))
}

/// Like `patch`, but only reports where the change would go: nothing is written, the report
/// still holds the diff. Rejects as `patch` does.
#[napi(
    ts_args_type = "repo: string, change: ChangeInput",
    ts_return_type = "Promise<PatchReport>"
)]
pub fn locate(
    env: &Env,
    repo: String,
    change: Either3<&Change, String, Object>,
) -> Result<AsyncTask<PatchTask>> {
    Ok(AsyncTask::new(PatchTask {
        repo,
        change: change_text(env, change)?,
        dry_run: false,
        locate_only: true,
    }))
}
