//! Live sources and the executor, as the CLI's flags reach them: the Kubernetes API
//! (`kubeconfig`, `context`), usage history from Prometheus (`prometheus`, `days`), the EC2
//! inventory from AWS (`awsLive`, `region`), and `apply` of an action plan (a dry run unless
//! `yes`). All of it runs on the libuv thread pool, each call on an async runtime of its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cloudoptim_core::adapters::aws::{AwsSource, InventoryOptions};
use cloudoptim_core::adapters::kube::{ConnectOptions, KubeClient, KubeExecutor, KubeSource};
use cloudoptim_core::adapters::prometheus::{self, PromConfig};
use cloudoptim_core::executor::{
    self, ActionPlan, BoxFuture, DryRunExecutor, ExecError, Executor, Outcome,
    Status as StepStatus, Step,
};
use cloudoptim_core::loader::{LoadOptions, Loaded};
use cloudoptim_core::source::ClusterSource;
use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{Value, json};

use crate::progress::{JsCallback, Progress, emit};
use crate::{Cluster, js_error};

/// Why a load or an apply failed: a core error, or a live source's (Prometheus, AWS) with its
/// stable code.
#[non_exhaustive]
pub enum Failure {
    /// A core error.
    Core(cloudoptim_core::Error),
    /// A live source's error: stable code (`prometheus_connect`, `aws_api`, …) and message.
    Live {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
}

impl From<cloudoptim_core::Error> for Failure {
    fn from(e: cloudoptim_core::Error) -> Failure {
        Failure::Core(e)
    }
}

impl From<cloudoptim_core::source::SourceError> for Failure {
    fn from(e: cloudoptim_core::source::SourceError) -> Failure {
        Failure::Core(e.into())
    }
}

impl Failure {
    fn runtime(source: std::io::Error) -> Failure {
        Failure::Core(cloudoptim_core::Error::Load(
            cloudoptim_core::loader::LoadError::Io {
                path: PathBuf::from("<async runtime>"),
                source,
            },
        ))
    }

    /// The JS `Error`: `code` `CLOUDOPTIM_<CODE>`.
    pub(crate) fn into_js(self, env: &Env) -> Error {
        match self {
            Failure::Core(e) => js_error(env, &e),
            Failure::Live { code, message } => {
                let code = format!("CLOUDOPTIM_{}", code.to_uppercase());
                let build = || -> Result<Error> {
                    let mut obj =
                        env.create_error(Error::new(Status::GenericFailure, message.clone()))?;
                    obj.set_named_property("code", code.as_str())?;
                    obj.set_named_property("details", Object::new(env)?)?;
                    Ok(Error::from(obj.to_unknown()))
                };
                build().unwrap_or_else(|_| {
                    Error::new(Status::GenericFailure, format!("{code}: {message}"))
                })
            }
        }
    }
}

/// Options of `loadCluster`; the names are the CLI's flags.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct LoadClusterOptions<'a> {
    /// AWS CLI JSON (`describe-instances`, `describe-volumes`, `describe-spot-price-history`):
    /// files or folders.
    pub aws: Option<Either<String, Vec<String>>>,
    /// Prometheus `query_range` JSON for container CPU and memory: files or folders.
    pub usage: Option<Either<String, Vec<String>>>,
    /// Cluster name (default: from node labels or instance tags, else the file name).
    pub cluster_name: Option<String>,
    /// Read the cluster from the Kubernetes API with this kubeconfig (tokens, client
    /// certificates, exec credentials such as `aws eks get-token`), instead of from a dump;
    /// read-only.
    pub kubeconfig: Option<String>,
    /// The kubeconfig context (default: its current context).
    pub context: Option<String>,
    /// Timeout of one Kubernetes API request, in seconds (default 30).
    pub request_timeout: Option<u32>,
    /// Read container CPU and memory history live from this Prometheus (`query_range`, by day
    /// and namespace).
    pub prometheus: Option<String>,
    /// Days of history to read from `prometheus` (default 7).
    pub days: Option<u32>,
    /// Seconds to wait for one Prometheus answer before retrying, then failing (default 30).
    pub prometheus_timeout: Option<u32>,
    /// Read the EC2 inventory live (instances, volumes, spot price history) with the standard
    /// AWS credential chain, from `region`.
    pub aws_live: Option<bool>,
    /// Region for `awsLive` (default: the AWS chain's region).
    pub region: Option<String>,
    /// Called with each step of a live load: `{ source: 'kubernetes', … }` when the API has
    /// been read, `{ source: 'prometheus', done, total, label }` after each query,
    /// `{ source: 'aws', instances, volumes, spotPrices }` when the inventory has been read.
    #[napi(ts_type = "(event: LoadProgress) => void")]
    pub on_progress: Option<JsCallback<'a>>,
}

/// What `loadCluster` reads.
struct LoadPlan {
    path: Option<String>,
    aws: Vec<String>,
    usage: Vec<String>,
    cluster_name: Option<String>,
    kube: Option<ConnectOptions>,
    prometheus: Option<PromConfig>,
    aws_live: Option<Option<String>>,
}

/// Loads a snapshot (files, or the Kubernetes API) and the live sources on the libuv thread
/// pool.
pub struct LoadTask {
    plan: LoadPlan,
    progress: Option<Arc<Progress>>,
}

fn one_or_many(v: Option<Either<String, Vec<String>>>) -> Vec<String> {
    match v {
        None => Vec::new(),
        Some(Either::A(one)) => vec![one],
        Some(Either::B(many)) => many,
    }
}

impl LoadTask {
    fn load(&self) -> std::result::Result<Loaded, Failure> {
        let p = &self.plan;
        let progress = self.progress.as_deref();
        let mut loaded = match (&p.kube, &p.path) {
            (Some(connect), _) => {
                let mut opts = LoadOptions::default();
                if let Some(n) = &p.cluster_name {
                    opts = opts.with_cluster_name(n.clone());
                }
                let connect = connect.clone();
                let mut loaded = cloudoptim_core::adapters::block_on(async move {
                    let src = KubeSource::connect(connect, opts).await?;
                    src.load().await
                })
                .map_err(Failure::runtime)??;
                let aws: Vec<PathBuf> = p.aws.iter().map(PathBuf::from).collect();
                let usage: Vec<PathBuf> = p.usage.iter().map(PathBuf::from).collect();
                cloudoptim_core::pipeline::add_inputs(&mut loaded, &aws, &usage)?;
                emit(progress, || {
                    json!({
                        "source": "kubernetes",
                        "nodes": loaded.cluster.nodes.len(),
                        "pods": loaded.cluster.pods.len(),
                    })
                });
                loaded
            }
            (None, path) => cloudoptim_core::pipeline::load_snapshot_from_strings(
                path.as_deref().unwrap_or(""),
                &p.aws,
                &p.usage,
                p.cluster_name.clone(),
            )?,
        };
        if let Some(cfg) = &p.prometheus {
            let sink = self.progress.clone();
            let report: Arc<dyn Fn(prometheus::Progress) + Send + Sync> = Arc::new(
                move |q: prometheus::Progress| {
                    emit(
                        sink.as_deref(),
                        || json!({"source": "prometheus", "done": q.done, "total": q.total, "label": q.label}),
                    );
                },
            );
            let usage = cloudoptim_core::adapters::block_on(prometheus::fetch_usage(cfg, report))
                .map_err(Failure::runtime)?
                .map_err(|e| Failure::Live {
                    code: e.code(),
                    message: e.to_string(),
                })?;
            loaded.cluster.usage.merge(usage);
        }
        if let Some(region) = &p.aws_live {
            let inv = cloudoptim_core::adapters::block_on(async {
                let src = AwsSource::from_env(region.as_deref(), None).await;
                src.inventory(&InventoryOptions::default()).await
            })
            .map_err(Failure::runtime)?
            .map_err(|e| Failure::Live {
                code: e.code(),
                message: e.to_string(),
            })?;
            emit(progress, || {
                json!({
                    "source": "aws",
                    "instances": inv.instances.len(),
                    "volumes": inv.volumes.len(),
                    "spotPrices": inv.spot_prices.len(),
                })
            });
            loaded.cluster.aws.instances.extend(inv.instances);
            loaded.cluster.aws.volumes.extend(inv.volumes);
            loaded.cluster.aws.spot_prices.extend(inv.spot_prices);
        }
        Ok(loaded)
    }
}

impl Task for LoadTask {
    type Output = std::result::Result<Loaded, Failure>;
    type JsValue = Cluster;

    fn compute(&mut self) -> Result<Self::Output> {
        let out = self.load();
        // the callback is released on the main thread's next turn either way
        self.progress = None;
        Ok(out)
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Cluster> {
        let loaded = output.map_err(|e| e.into_js(&env))?;
        Ok(Cluster::new(loaded.cluster, loaded.warnings))
    }
}

fn connect_options(
    kubeconfig: &str,
    context: Option<&str>,
    request_timeout: Option<u32>,
) -> ConnectOptions {
    let mut o = ConnectOptions::default()
        .with_kubeconfig(kubeconfig)
        .with_request_timeout(Duration::from_secs(
            u64::from(request_timeout.unwrap_or(30)).max(1),
        ));
    if let Some(c) = context {
        o = o.with_context(c);
    }
    o
}

/// A `TypeError` thrown at once, for arguments that are not what the declarations say.
fn type_error(env: &Env, message: String) -> Error {
    match env.throw_type_error(&message, Some("ERR_INVALID_ARG_TYPE")) {
        Ok(()) => Error::new(Status::PendingException, message),
        Err(e) => e,
    }
}

/// Loads a cluster snapshot from `kubectl get … -o json|yaml` output (a file or a folder,
/// `kubectl cluster-info dump` folders too), or from the Kubernetes API (`{ kubeconfig,
/// context }`, then without a path), plus AWS CLI output and Prometheus exports, and the live
/// sources: `prometheus`/`days` for usage, `awsLive`/`region` for the EC2 inventory. Runs on the
/// libuv thread pool.
///
/// Rejects with an `Error` whose `code` is `CLOUDOPTIM_IO`, `CLOUDOPTIM_SYNTAX`,
/// `CLOUDOPTIM_FIELD`, `CLOUDOPTIM_UNRECOGNIZED`, `CLOUDOPTIM_EMPTY_INPUT`, a live source's
/// (`CLOUDOPTIM_KUBE_…`, `CLOUDOPTIM_PROMETHEUS_…`, `CLOUDOPTIM_AWS_…`), … .
#[napi(
    ts_args_type = "pathOrOptions: string | LoadClusterOptions, options?: LoadClusterOptions | undefined | null",
    ts_return_type = "Promise<Cluster>"
)]
pub fn load_cluster<'a>(
    env: &'a Env,
    path_or_options: Either<String, Object<'a>>,
    options: Option<LoadClusterOptions<'a>>,
) -> Result<AsyncTask<LoadTask>> {
    let (path, o) = match path_or_options {
        Either::A(path) => (Some(path), options.unwrap_or_default()),
        Either::B(obj) => {
            if options.is_some() {
                return Err(type_error(
                    env,
                    "loadCluster(options) takes no second argument; give the path first".into(),
                ));
            }
            // SAFETY: `obj` is a live object of this call
            let o = unsafe { LoadClusterOptions::from_napi_value(env.raw(), obj.raw()) }?;
            (None, o)
        }
    };
    if path.is_none() && o.kubeconfig.is_none() {
        return Err(type_error(
            env,
            "loadCluster needs a path, or `kubeconfig` to read the Kubernetes API".into(),
        ));
    }
    if path.is_some() && o.kubeconfig.is_some() {
        return Err(type_error(
            env,
            "loadCluster reads either a path or the Kubernetes API (`kubeconfig`), not both".into(),
        ));
    }
    if o.context.is_some() && o.kubeconfig.is_none() {
        return Err(type_error(env, "`context` needs `kubeconfig`".into()));
    }
    let kube = o
        .kubeconfig
        .as_deref()
        .map(|k| connect_options(k, o.context.as_deref(), o.request_timeout));
    let prometheus = o.prometheus.map(|url| {
        PromConfig::new(url)
            .with_days(o.days.unwrap_or(7))
            .with_timeout(Duration::from_secs(
                u64::from(o.prometheus_timeout.unwrap_or(30)).max(1),
            ))
    });
    let aws_live = o.aws_live.unwrap_or(false).then(|| o.region.clone());
    Ok(AsyncTask::new(LoadTask {
        plan: LoadPlan {
            path,
            aws: one_or_many(o.aws),
            usage: one_or_many(o.usage),
            cluster_name: o.cluster_name,
            kube,
            prometheus,
            aws_live,
        },
        progress: Progress::new(env, o.on_progress)?.map(Arc::new),
    }))
}

// ---------------------------------------------------------------------------------------------
// apply
// ---------------------------------------------------------------------------------------------

/// Options of `apply`; the names are the CLI's flags.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ApplyOptions<'a> {
    /// Really change the cluster (and allow destructive steps). Default: a dry run.
    pub yes: Option<bool>,
    /// Go on after a failed step (default: stop and skip the rest).
    pub keep_going: Option<bool>,
    /// The Kubernetes API to act on. Without it nothing can be changed: every step is a dry
    /// run.
    pub kubeconfig: Option<String>,
    /// The kubeconfig context (default: its current context).
    pub context: Option<String>,
    /// Timeout of one Kubernetes API request, in seconds (default 30).
    pub request_timeout: Option<u32>,
    /// Called with each step's outcome as soon as the step has run.
    #[napi(ts_type = "(event: ApplyProgress) => void")]
    pub on_progress: Option<JsCallback<'a>>,
}

/// Refuses destructive steps unless confirmed, hands the others on, and reports each outcome.
struct Guard<'a> {
    inner: &'a dyn Executor,
    yes: bool,
    progress: Option<&'a Progress>,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
}

impl Executor for Guard<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, executor::Result<StepStatus>> {
        Box::pin(async move {
            let r = if step.action.is_destructive() && !self.yes {
                Err(ExecError::NotConfirmed {
                    action: format!("{} {}", step.action.name(), step.action.target()),
                })
            } else {
                self.inner.execute(step).await
            };
            let index = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            emit(self.progress, || {
                let status = match &r {
                    Ok(s) => s.clone(),
                    Err(e) => StepStatus::Failed {
                        error: e.to_string(),
                        code: e.code().into(),
                    },
                };
                let mut v = serde_json::to_value(Outcome {
                    step: step.clone(),
                    status,
                })
                .unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("index".into(), json!(index));
                    o.insert("total".into(), json!(self.total));
                }
                v
            });
            r
        })
    }
}

/// Runs an action plan on the libuv thread pool.
pub struct ApplyTask {
    plan: String,
    yes: bool,
    keep_going: bool,
    kube: Option<ConnectOptions>,
    progress: Option<Progress>,
}

impl ApplyTask {
    fn guard<'a>(&'a self, inner: &'a dyn Executor, total: usize) -> Guard<'a> {
        Guard {
            inner,
            yes: self.yes,
            progress: self.progress.as_ref(),
            total,
            done: 0.into(),
        }
    }

    fn run(&self) -> std::result::Result<Vec<Outcome>, Failure> {
        let plan =
            ActionPlan::from_json("plan", &self.plan).map_err(|e| Failure::Core(e.into()))?;
        let total = plan.steps.len();
        match &self.kube {
            Some(connect) => {
                let connect = connect.clone();
                cloudoptim_core::adapters::block_on(async {
                    let client = KubeClient::connect(connect).await?;
                    let kube = KubeExecutor::new(client).with_dry_run(!self.yes);
                    Ok::<_, Failure>(
                        executor::run_plan(&self.guard(&kube, total), &plan, self.keep_going).await,
                    )
                })
                .map_err(Failure::runtime)?
            }
            None => {
                let dry = DryRunExecutor::new();
                Ok(executor::block_on(executor::run_plan(
                    &self.guard(&dry, total),
                    &plan,
                    self.keep_going,
                )))
            }
        }
    }
}

impl<'task> napi::ScopedTask<'task> for ApplyTask {
    type Output = std::result::Result<Vec<Outcome>, Failure>;
    type JsValue = Unknown<'task>;

    fn compute(&mut self) -> Result<Self::Output> {
        let out = self.run();
        self.progress = None;
        Ok(out)
    }

    fn resolve(&mut self, env: &'task Env, output: Self::Output) -> Result<Unknown<'task>> {
        let outcomes = output.map_err(|e| e.into_js(env))?;
        env.to_js_value(&outcomes)
    }
}

/// Runs an action plan (cordon, evict, scale, patch resources, …; `{ steps: [{ action, …, why
/// }] }` as `cloudoptim apply --plan` reads it, or its JSON text) through the executor, on the
/// libuv thread pool, and resolves to each step's outcome. A dry run unless `yes`: nothing is
/// sent to the cluster, and destructive steps (terminate, delete) fail with `not_confirmed`.
/// With `kubeconfig` the steps go to that Kubernetes API (as server-side dry runs without
/// `yes`); without it every step is a dry run.
///
/// Rejects with `CLOUDOPTIM_PLAN` (the plan is malformed, naming the field) or a Kubernetes
/// connection error's code; a step that fails is an outcome with `status: 'failed'`.
#[napi(
    ts_args_type = "plan: ActionPlanJson | string, options?: ApplyOptions | undefined | null",
    ts_return_type = "Promise<StepOutcome[]>"
)]
pub fn apply(
    env: &Env,
    plan: Either<String, Object>,
    options: Option<ApplyOptions>,
) -> Result<AsyncTask<ApplyTask>> {
    let text = match plan {
        Either::A(text) => text,
        Either::B(obj) => env.from_js_value::<Value, _>(obj)?.to_string(),
    };
    let o = options.unwrap_or_default();
    if o.context.is_some() && o.kubeconfig.is_none() {
        return Err(type_error(env, "`context` needs `kubeconfig`".into()));
    }
    Ok(AsyncTask::new(ApplyTask {
        plan: text,
        yes: o.yes.unwrap_or(false),
        keep_going: o.keep_going.unwrap_or(false),
        kube: o
            .kubeconfig
            .as_deref()
            .map(|k| connect_options(k, o.context.as_deref(), o.request_timeout)),
        progress: Progress::new(env, o.on_progress)?,
    }))
}
