//! The `cloudoptim` command line, as a library so the Python wheel's `cloudoptim` script runs
//! exactly the same code. It only parses arguments and prints; the work is in `cloudoptim-core`.
#![deny(missing_docs)]

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};
use cloudoptim_core::loader::{LoadOptions, Loaded};
use cloudoptim_core::pipeline::{self, PricingOptions};
use cloudoptim_core::{Report, analyzers, demo};

#[cfg(any(feature = "prometheus", feature = "aws"))]
pub mod live_sources;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A report for people.
    Table,
    /// JSON matching docs/schema/report.schema.json.
    Json,
}

#[derive(Debug, Parser)]
#[command(
    name = "cloudoptim",
    version,
    about = "Find and fix Kubernetes waste on AWS EKS",
    long_about = "Find and fix Kubernetes waste on AWS EKS.\n\nReads kubectl dumps, AWS CLI JSON and Prometheus exports (or the embedded demo cluster) and prints what to change, what it saves and why."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
enum Command {
    /// Analyze the embedded demo cluster (33 nodes, 245 pods, a week of usage) and plan its consolidation.
    Demo {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Analyze a cluster from files or from the Kubernetes API.
    Analyze {
        #[command(flatten)]
        input: ClusterArgs,
        #[command(flatten)]
        aws: AwsArgs,
        #[command(flatten)]
        usage: UsageArgs,
        /// Traffic matrix: CSV `source,destination,bytes[,window_seconds]` or Prometheus JSON with Istio labels (repeatable).
        #[arg(long, value_name = "PATH")]
        traffic: Vec<PathBuf>,
        /// Cluster name (default: from node labels or instance tags, else the file name).
        #[arg(long)]
        cluster_name: Option<String>,
        /// On-demand price table CSV (`instance_type,od_linux_usd_per_hour`) for the region.
        #[arg(long, value_name = "CSV")]
        prices: Option<PathBuf>,
        /// Spot Advisor JSON to use instead of the embedded snapshot.
        #[arg(long, value_name = "JSON")]
        spot_advisor: Option<PathBuf>,
        /// Analyzers to run, comma-separated (default: all built-ins; see `cloudoptim analyzers`).
        #[arg(long, value_delimiter = ',')]
        analyzers: Option<Vec<String>>,
        /// Only these namespaces (globs, comma-separated).
        #[arg(long, value_delimiter = ',')]
        include_namespace: Vec<String>,
        /// Never these namespaces (globs, comma-separated).
        #[arg(long, value_delimiter = ',')]
        exclude_namespace: Vec<String>,
        /// Never these workloads (`namespace/name` globs, comma-separated).
        #[arg(long, value_delimiter = ',')]
        exclude_workload: Vec<String>,
        /// Never these node groups or NodePools (globs, comma-separated).
        #[arg(long, value_delimiter = ',')]
        exclude_node_group: Vec<String>,
        /// Leave out findings that save less than this many USD a month.
        #[arg(long, value_name = "USD")]
        min_saving: Option<f64>,
        /// Rightsizing strategy: `percentile` (KRR-like, default) or `vpa` (VPA's estimator).
        #[arg(long, value_parser = ["percentile", "vpa"])]
        strategy: Option<String>,
        /// Limits policy: `keep-ratio` (default), `unset-cpu`, `memory-equals-request`.
        #[arg(long, value_parser = ["keep-ratio", "unset-cpu", "memory-equals-request"])]
        limits: Option<String>,
        /// Extra rightsizing headroom for a namespace or `namespace/workload` glob, as
        /// `PATTERN=CPU,MEMORY` fractions: `payments=0.25,0.1` is +25 % CPU, +10 % memory over
        /// the strategy's target (repeatable; the first match wins).
        #[arg(long, value_name = "PATTERN=CPU,MEMORY", value_parser = parse_buffer)]
        buffer: Vec<cloudoptim_core::analyzers::Buffer>,
        /// The workload or namespace label naming the owning team (default `team`).
        #[arg(long, value_name = "LABEL")]
        team_label: Option<String>,
        /// The same settings from a JSON or YAML file (flags add to it).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Change a value in an infrastructure repository (Terraform, Helm, Kustomize, eksctl,
    /// Karpenter): only the bytes of the one place that controls it. Exit 0 patched, 3
    /// ambiguous, 4 not found, 2 bad input.
    Patch(PatchArgs),
    /// Like `patch`, but only reports where the change would go.
    Locate(PatchArgs),
    /// Plan consolidation: remove nodes whose pods fit elsewhere, or re-pack onto the cheapest
    /// mix of kept and new nodes; every plan reports its LP lower bound.
    Consolidate {
        #[command(flatten)]
        input: ClusterArgs,
        #[command(flatten)]
        aws: AwsArgs,
        /// `remove` or `replace`.
        #[arg(long, default_value = "replace", value_parser = ["remove", "replace"])]
        mode: String,
        /// Instance types allowed for new nodes, comma-separated patterns (`m5.*,m6i.*,c6g.*`).
        #[arg(long, value_delimiter = ',')]
        allow_types: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Propose the repository changes behind the recommendations as pull requests: one per
    /// recommendation or namespace, on branches `cloudoptim/<kind>/<target>` that later runs
    /// update. With --dry-run, print each branch, title, body and diff, touching no remote.
    /// The token comes from GITHUB_TOKEN. Exit 0 done, 1 when an item failed or met a branch
    /// someone else committed to, 2 bad input.
    Propose(ProposeArgs),
    /// Spot: risk scores per instance type.
    #[command(subcommand)]
    Spot(SpotCommand),
    /// Interruption and maintenance events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Run an action plan (cordon, evict, scale, patch resources, …) through the executor.
    /// Dry run unless --yes: nothing is sent to the cluster, every step is printed.
    Apply {
        /// The plan: JSON `{"steps": [{"action": "cordon", "node": "…", "why": "…"}, …]}`.
        #[arg(long, value_name = "FILE")]
        plan: PathBuf,
        /// Really change the cluster (and allow destructive steps).
        #[arg(long)]
        yes: bool,
        /// Go on after a failed step (default: stop and skip the rest).
        #[arg(long)]
        keep_going: bool,
        #[command(flatten)]
        live: LiveArgs,
        #[command(flatten)]
        ec2: Ec2ExecArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List the built-in analyzers.
    Analyzers,
    /// Print the JSON Schema of the report.
    Schema,
}

/// The live Kubernetes API instead of a dump.
#[derive(Debug, Clone, Default, clap::Args)]
struct LiveArgs {
    /// Read the cluster from the Kubernetes API with this kubeconfig (tokens, client
    /// certificates, exec credentials such as `aws eks get-token`); read-only.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current context).
    #[arg(long, value_name = "NAME", requires = "kubeconfig")]
    context: Option<String>,
    /// Timeout of one API request, in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 30,
        requires = "kubeconfig"
    )]
    request_timeout: u64,
}

/// Where the cluster comes from: a dump, the live API, or the demo cluster (one of them).
#[derive(Debug, Clone, Default, clap::Args)]
struct ClusterArgs {
    /// `kubectl get … -o json|yaml` output: a file or a folder (cluster-info dump folders too);
    /// or --kubeconfig for the live API, or --demo.
    #[arg(
        long,
        value_name = "PATH",
        required_unless_present_any = ["demo", "kubeconfig"],
        conflicts_with_all = ["kubeconfig", "demo"]
    )]
    cluster: Option<PathBuf>,
    /// Use the embedded demo cluster (33 nodes, 245 pods, a week of usage).
    #[arg(long, conflicts_with = "kubeconfig")]
    demo: bool,
    #[command(flatten)]
    live: LiveArgs,
}

impl ClusterArgs {
    /// The snapshot and the loader's warnings.
    fn load(
        &self,
        options: &LoadOptions,
    ) -> cloudoptim_core::Result<(cloudoptim_core::Cluster, Vec<String>)> {
        if self.demo {
            return Ok((demo::demo_cluster(), Vec::new()));
        }
        let loaded = load_input(self.cluster.as_deref(), &self.live, options)?;
        Ok((loaded.cluster, loaded.warnings))
    }
}

/// The EC2 inventory: AWS CLI JSON files, or the live API.
#[derive(Debug, Clone, Default, clap::Args)]
struct AwsArgs {
    /// AWS CLI JSON: describe-instances, describe-volumes, describe-spot-price-history (file or
    /// folder; repeatable).
    #[arg(long, value_name = "PATH")]
    aws: Vec<PathBuf>,
    /// Region: read the EC2 inventory live from it (instances, volumes, spot price history;
    /// the standard AWS credential chain, AWS_ENDPOINT_URL for another endpoint) and price in
    /// it. With --aws files or --demo, only the region to price in.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Read the EC2 inventory live from the AWS configuration's region (as --region does with
    /// a region named).
    #[arg(long, conflicts_with = "aws")]
    aws_live: bool,
}

impl AwsArgs {
    /// `Some(region)` when the inventory is to be read live (`Some(None)`: the chain's region).
    fn live_region(&self, demo: bool) -> Option<Option<String>> {
        if !self.aws.is_empty() || (demo && !self.aws_live) {
            return None;
        }
        if self.aws_live || self.region.is_some() {
            Some(self.region.clone())
        } else {
            None
        }
    }
}

/// Usage history: Prometheus query_range files, or a live Prometheus.
#[derive(Debug, Clone, clap::Args)]
struct UsageArgs {
    /// Prometheus query_range JSON for container CPU and memory (file or folder; repeatable).
    #[arg(long, value_name = "PATH")]
    usage: Vec<PathBuf>,
    /// Read container CPU and memory history live from this Prometheus (query_range, by day
    /// and namespace).
    #[arg(long, value_name = "URL")]
    prometheus: Option<String>,
    /// Days of history to read from --prometheus.
    #[arg(long, default_value_t = 7, value_name = "N")]
    days: u32,
    /// Seconds to wait for one Prometheus answer before retrying, then failing.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    prometheus_timeout: u64,
}

/// What replacement capacity is launched from (`launch_replacement` steps, EC2 executor).
#[derive(Debug, Clone, Default, clap::Args)]
struct LaunchArgs {
    /// Launch replacements from this launch template: `NAME|ID[:VERSION]` (default version
    /// `$Default`). Spot first, on demand when spot capacity is short.
    #[arg(long, value_name = "NAME|ID[:VERSION]")]
    launch_template: Option<String>,
    /// Launch replacements from this AMI (when no launch template gives one).
    #[arg(long, value_name = "AMI")]
    image_id: Option<String>,
    /// Subnet for replacements (repeatable): the one in the replaced node's zone is used, else
    /// the first.
    #[arg(long, value_name = "ID")]
    subnet: Vec<String>,
    /// The tag instances must carry to be terminated, put on launched instances too:
    /// `KEY[=VALUE]` (default `kubernetes.io/cluster/<cluster name>`).
    #[arg(long, value_name = "KEY[=VALUE]")]
    cluster_tag: Option<String>,
}

impl LaunchArgs {
    /// Whether replacements can be launched.
    #[cfg_attr(not(feature = "sqs"), allow(dead_code))]
    fn can_launch(&self) -> bool {
        self.launch_template.is_some() || self.image_id.is_some()
    }

    /// A note on how a `launch_replacement` step would be carried out.
    fn describe(&self) -> String {
        match (&self.launch_template, &self.image_id) {
            (Some(t), _) => format!(
                "EC2 RunInstances from launch template {t}{}; spot first, on demand if spot capacity is short",
                if self.subnet.is_empty() {
                    String::new()
                } else {
                    format!(" in subnet(s) {}", self.subnet.join(", "))
                }
            ),
            (None, Some(i)) => {
                format!("EC2 RunInstances of {i}; spot first, on demand if spot capacity is short")
            }
            (None, None) => {
                "not launched: give --launch-template (or --image-id) for the EC2 executor".into()
            }
        }
    }
}

/// The EC2 executor of `apply`: terminate, delete volumes, launch replacements.
#[derive(Debug, Clone, Default, clap::Args)]
struct Ec2ExecArgs {
    /// Region of the EC2 steps (default: the AWS configuration's).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Cluster name for the default cluster tag.
    #[arg(long, value_name = "NAME")]
    cluster_name: Option<String>,
    #[command(flatten)]
    launch: LaunchArgs,
}

/// The live Kubernetes API (cargo feature `kube`, on by default).
#[cfg(feature = "kube")]
mod live {
    use super::LiveArgs;
    use cloudoptim_core::adapters::kube::{ConnectOptions, KubeClient, KubeExecutor, KubeSource};
    use cloudoptim_core::executor::Executor;
    use cloudoptim_core::loader::{LoadOptions, Loaded};
    use cloudoptim_core::source::ClusterSource;

    fn connect_options(args: &LiveArgs) -> ConnectOptions {
        let mut o = ConnectOptions::default()
            .with_request_timeout(std::time::Duration::from_secs(args.request_timeout.max(1)));
        if let Some(k) = &args.kubeconfig {
            o = o.with_kubeconfig(k);
        }
        if let Some(c) = &args.context {
            o = o.with_context(c);
        }
        o
    }

    /// Runs a future on a fresh Tokio runtime (the Kubernetes client needs one).
    fn block_on<F: std::future::Future>(fut: F) -> cloudoptim_core::Result<F::Output> {
        cloudoptim_core::adapters::kube::block_on(fut).map_err(|source| {
            cloudoptim_core::Error::Load(cloudoptim_core::loader::LoadError::Io {
                path: std::path::PathBuf::from("<async runtime>"),
                source,
            })
        })
    }

    /// Reads the cluster from the API.
    pub fn load(args: &LiveArgs, options: &LoadOptions) -> cloudoptim_core::Result<Loaded> {
        block_on(async {
            let src = KubeSource::connect(connect_options(args), options.clone()).await?;
            src.load().await
        })?
    }

    /// The Kubernetes executor (a dry run unless `yes`; forced deletes at interruption
    /// deadlines only when `force_delete`). Call it inside the runtime that runs the plan.
    #[cfg_attr(not(any(feature = "sqs", feature = "aws")), allow(dead_code))]
    pub async fn executor(
        args: &LiveArgs,
        yes: bool,
        force_delete: bool,
    ) -> cloudoptim_core::Result<Box<dyn Executor>> {
        let client = KubeClient::connect(connect_options(args)).await?;
        Ok(Box::new(
            KubeExecutor::new(client)
                .with_dry_run(!yes)
                .with_force_delete(force_delete),
        ))
    }
}

/// This build has no live Kubernetes support.
#[cfg(not(feature = "kube"))]
mod live {
    use super::LiveArgs;
    use cloudoptim_core::executor::Executor;
    use cloudoptim_core::loader::{LoadOptions, Loaded};

    fn unsupported() -> cloudoptim_core::Error {
        cloudoptim_core::Error::Source(cloudoptim_core::source::SourceError::Config {
            message: "this build of cloudoptim has no live Kubernetes support (cargo feature `kube` of cloudoptim-cli); use the `cloudoptim` command, or --cluster with a dump".into(),
        })
    }

    pub fn load(_: &LiveArgs, _: &LoadOptions) -> cloudoptim_core::Result<Loaded> {
        Err(unsupported())
    }

    #[allow(dead_code)]
    pub async fn executor(
        _: &LiveArgs,
        _: bool,
        _: bool,
    ) -> cloudoptim_core::Result<Box<dyn Executor>> {
        Err(unsupported())
    }
}

/// Parses `KEY[=VALUE]`.
#[cfg(feature = "aws")]
fn cluster_tag(
    launch: &LaunchArgs,
    cluster_name: Option<&str>,
) -> Option<cloudoptim_core::adapters::aws::TagMatch> {
    use cloudoptim_core::adapters::aws::TagMatch;
    match &launch.cluster_tag {
        Some(t) => Some(match t.split_once('=') {
            Some((k, v)) => TagMatch {
                key: k.to_string(),
                value: Some(v.to_string()),
            },
            None => TagMatch {
                key: t.clone(),
                value: None,
            },
        }),
        None => cluster_name.map(TagMatch::cluster),
    }
}

/// The EC2 executor for `launch_replacement`, `terminate_instance` and `delete_volume` (a
/// dry run unless `yes`, which also confirms destructive steps). Call it inside the runtime
/// that runs the plan.
#[cfg(feature = "aws")]
async fn ec2_executor(
    region: Option<&str>,
    cluster_name: Option<&str>,
    launch: &LaunchArgs,
    yes: bool,
) -> cloudoptim_core::Result<Box<dyn cloudoptim_core::executor::Executor>> {
    use cloudoptim_core::adapters::aws::{AwsExecutor, AwsExecutorConfig, LaunchSpec};
    let Some(tag) = cluster_tag(launch, cluster_name) else {
        return Err(config_error(
            "EC2 steps need the tag that marks the cluster's instances: --cluster-tag KEY[=VALUE] or --cluster-name NAME",
        ));
    };
    let mut spec = match (&launch.launch_template, &launch.image_id) {
        (Some(t), _) => LaunchSpec::with_launch_template(t.clone()),
        (None, Some(i)) => LaunchSpec::with_image(i.clone()),
        (None, None) => LaunchSpec::default(),
    };
    if launch.launch_template.is_some() {
        spec.image_id = launch.image_id.clone();
    }
    let spec = spec.with_subnet_ids(launch.subnet.clone());
    let cfg = AwsExecutorConfig::new(tag)
        .with_dry_run(!yes)
        .with_confirmed(yes)
        .with_launch(spec);
    Ok(Box::new(AwsExecutor::from_env(region, cfg).await))
}

#[cfg(not(feature = "aws"))]
async fn ec2_executor(
    _: Option<&str>,
    _: Option<&str>,
    _: &LaunchArgs,
    _: bool,
) -> cloudoptim_core::Result<Box<dyn cloudoptim_core::executor::Executor>> {
    Err(config_error(
        "this build of cloudoptim has no EC2 support (cargo feature `aws` of cloudoptim-cli)",
    ))
}

/// Runs a plan on the live systems: Kubernetes steps through the API (`--kubeconfig`), then
/// EC2 steps through the EC2 executor; every destructive step needs `yes` (the guard) and
/// passes the executors' own checks. Kubernetes steps are a dry run without a kubeconfig.
#[cfg(any(feature = "kube", feature = "aws"))]
fn run_live_plan(
    live_args: &LiveArgs,
    ec2: &Ec2ExecArgs,
    ec2_steps: bool,
    plan: &cloudoptim_core::executor::ActionPlan,
    yes: bool,
    keep_going: bool,
) -> cloudoptim_core::Result<Vec<cloudoptim_core::executor::Outcome>> {
    use cloudoptim_core::executor::{self, Chain, Confirm, DryRunExecutor, Executor};
    let rt = cloudoptim_core::adapters::runtime().map_err(|source| {
        cloudoptim_core::Error::Load(cloudoptim_core::loader::LoadError::Io {
            path: PathBuf::from("<async runtime>"),
            source,
        })
    })?;
    rt.block_on(async {
        let mut chain: Vec<Box<dyn Executor>> = Vec::new();
        if live_args.kubeconfig.is_some() {
            // evictions force past a disruption budget only when a step asks for it
            chain.push(live::executor(live_args, yes, true).await?);
        }
        if ec2_steps {
            chain.push(
                ec2_executor(
                    ec2.region.as_deref(),
                    ec2.cluster_name.as_deref(),
                    &ec2.launch,
                    yes,
                )
                .await?,
            );
        }
        if live_args.kubeconfig.is_none() {
            chain.push(Box::new(DryRunExecutor::new()));
        }
        let chain = Chain(chain);
        Ok(executor::run_plan(&Confirm::new(&chain, yes), plan, keep_going).await)
    })
}

#[cfg(not(any(feature = "kube", feature = "aws")))]
fn run_live_plan(
    _: &LiveArgs,
    _: &Ec2ExecArgs,
    _: bool,
    _: &cloudoptim_core::executor::ActionPlan,
    _: bool,
    _: bool,
) -> cloudoptim_core::Result<Vec<cloudoptim_core::executor::Outcome>> {
    Err(config_error(
        "this build of cloudoptim has neither live Kubernetes nor EC2 support (cargo features `kube`, `aws` of cloudoptim-cli)",
    ))
}

fn config_error(message: &str) -> cloudoptim_core::Error {
    cloudoptim_core::Error::Source(cloudoptim_core::source::SourceError::Config {
        message: message.to_string(),
    })
}

/// Reads the cluster from `--kubeconfig` when given, else from the dump at `cluster`.
fn load_input(
    cluster: Option<&Path>,
    live: &LiveArgs,
    options: &LoadOptions,
) -> cloudoptim_core::Result<Loaded> {
    if live.kubeconfig.is_some() {
        return live::load(live, options);
    }
    Ok(cloudoptim_core::loader::load_cluster_with(
        cluster.unwrap_or(Path::new("")),
        options,
    )?)
}

/// Loads the cluster (dump, API or demo) and adds the EC2 inventory and the usage history, from
/// files or live. `Ok(Err(message))` when a live source failed (printed as such, exit 1).
fn load_all(
    input: &ClusterArgs,
    aws: &AwsArgs,
    usage: Option<&UsageArgs>,
    options: &LoadOptions,
    err: &mut dyn Write,
) -> cloudoptim_core::Result<Result<cloudoptim_core::Cluster, String>> {
    let (mut cluster, warnings) = input.load(options)?;
    pipeline::add_aws(&mut cluster, &aws.aws)?;
    if let Some(u) = usage {
        for p in &u.usage {
            cluster.usage.merge(cloudoptim_core::loader::load_usage(p)?);
        }
    }
    let live_region = aws.live_region(input.demo);
    let prometheus = usage.and_then(|u| u.prometheus.clone());
    if prometheus.is_some() || live_region.is_some() {
        let (days, timeout) = usage
            .map(|u| (u.days, u.prometheus_timeout))
            .unwrap_or((7, 30));
        if let Err(message) =
            read_live_sources(prometheus, days, timeout, live_region, &mut cluster, err)
        {
            return Ok(Err(message));
        }
    }
    for w in &warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    Ok(Ok(cluster))
}

#[derive(Debug, clap::Args)]
struct ProposeArgs {
    #[command(flatten)]
    input: ClusterArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    usage: UsageArgs,
    /// The infrastructure repository: an HTTPS or file:// URL, or a folder (a plain folder is
    /// enough for --dry-run).
    #[arg(long, value_name = "URL|DIR")]
    repo: String,
    /// Base branch (default: the repository's default branch).
    #[arg(long)]
    base: Option<String>,
    /// Print branch, title, body and diff of each pull request; push nothing.
    #[arg(long)]
    dry_run: bool,
    /// One pull request per recommendation (`none`) or per namespace.
    #[arg(long, default_value = "none", value_parser = ["none", "namespace"])]
    group: String,
    /// GitHub repository `owner/name` (default: from --repo).
    #[arg(long, value_name = "OWNER/NAME")]
    github_repo: Option<String>,
    /// GitHub API URL, for GitHub Enterprise (`https://HOST/api/v3`).
    #[arg(long, value_name = "URL")]
    github_api_url: Option<String>,
    /// Labels for the pull requests (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "cloudoptim")]
    label: Vec<String>,
    /// Reviewers to request (GitHub logins, comma-separated).
    #[arg(long, value_delimiter = ',')]
    reviewer: Vec<String>,
    /// Open pull requests as drafts.
    #[arg(long)]
    draft: bool,
    /// Propose again what a person closed without merging.
    #[arg(long)]
    reopen_closed: bool,
    /// Commit author name.
    #[arg(long, default_value = "cloudoptim")]
    author_name: String,
    /// Commit author email; a commit by anyone else on a cloudoptim branch stops the bot there.
    #[arg(long, default_value = "cloudoptim@users.noreply.github.com")]
    author_email: String,
    /// Only these namespaces (globs, comma-separated).
    #[arg(long, value_delimiter = ',')]
    include_namespace: Vec<String>,
    /// Never these namespaces (globs, comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude_namespace: Vec<String>,
    /// Never these workloads (`namespace/name` globs, comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude_workload: Vec<String>,
    /// Never these node groups or NodePools (globs, comma-separated).
    #[arg(long, value_delimiter = ',')]
    exclude_node_group: Vec<String>,
    /// Leave out findings that save less than this many USD a month.
    #[arg(long, value_name = "USD")]
    min_saving: Option<f64>,
    /// Analysis settings from a JSON or YAML file (flags add to it).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn propose(
    args: ProposeArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> cloudoptim_core::Result<i32> {
    use cloudoptim_core::gitops::{Grouping, ProposeOptions};
    let mut filters = match &args.config {
        Some(c) => pipeline::filters_from_file(c)?,
        None => cloudoptim_core::report::Filters::default(),
    };
    filters.include_namespaces.extend(args.include_namespace);
    filters.exclude_namespaces.extend(args.exclude_namespace);
    filters.exclude_workloads.extend(args.exclude_workload);
    filters.exclude_node_groups.extend(args.exclude_node_group);
    if let Some(m) = args.min_saving {
        filters.min_monthly_savings = m;
    }
    let cluster = match load_all(
        &args.input,
        &args.aws,
        Some(&args.usage),
        &LoadOptions::default(),
        err,
    )? {
        Ok(c) => c,
        Err(message) => {
            let _ = writeln!(err, "error: {message}");
            return Ok(1);
        }
    };
    let mut options = ProposeOptions::default()
        .with_dry_run(args.dry_run)
        .with_group(Grouping::parse(&args.group)?)
        .with_labels(args.label.into_iter().filter(|l| !l.is_empty()).collect())
        .with_reviewers(args.reviewer)
        .with_draft(args.draft)
        .with_reopen_closed(args.reopen_closed)
        .with_author(args.author_name, args.author_email);
    if let Some(b) = args.base {
        options = options.with_base(b);
    }
    let mut forge = pipeline::ForgeOptions::default();
    if let Some(r) = args.github_repo {
        forge = forge.with_github_repo(r);
    }
    if let Some(u) = args.github_api_url {
        forge = forge.with_api_url(u);
    }
    let report = pipeline::propose(&cluster, &filters, &args.repo, &forge, &options, None)?;
    let text = match args.format {
        Format::Json => format!("{}\n", report.to_json()),
        Format::Table => report.to_text(),
    };
    let _ = write!(out, "{text}");
    Ok(if report.has_failures() { 1 } else { 0 })
}

#[derive(Debug, Subcommand)]
enum SpotCommand {
    /// Spot readiness of every workload and the node groups that could move to spot, over a
    /// diversified set of instance types, with the on-demand fallback and the saving.
    Plan {
        #[command(flatten)]
        input: ClusterArgs,
        #[command(flatten)]
        aws: AwsArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Score instance types: risk = 0.60·rate + 0.25·volatility + 0.10·gap + 0.05·time.
    Score {
        /// Region (default us-east-1).
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Instance types, a pattern such as `m5.*` or `*.xlarge`.
        #[arg(long, default_value = "*")]
        types: String,
        /// Spot Advisor JSON instead of the embedded snapshot.
        #[arg(long, value_name = "FILE")]
        advisor: Option<PathBuf>,
        /// describe-spot-price-history JSON (file or folder).
        #[arg(long, value_name = "FILE")]
        prices: Option<PathBuf>,
        /// Show at most this many (table only).
        #[arg(long, default_value_t = 25)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Subcommand)]
enum EventsCommand {
    /// Plan the response to one SQS message (offline; nothing is changed).
    Handle {
        #[command(flatten)]
        input: ClusterArgs,
        #[command(flatten)]
        launch: LaunchArgs,
        /// The message body: an EventBridge event, an SQS record or an SNS envelope.
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Consume EC2 interruption events from an SQS queue and respond: cordon, replacement,
    /// drain, then delete the message. A dry run unless --yes: every step is printed, nothing
    /// is changed. Other clusters' messages are left in the queue. Stops on Ctrl-C.
    Watch(WatchArgs),
}

/// Arguments of `events watch`.
#[derive(Debug, clap::Args)]
struct WatchArgs {
    /// The queue URL.
    #[arg(long, value_name = "URL")]
    queue_url: String,
    #[command(flatten)]
    input: ClusterArgs,
    #[command(flatten)]
    launch: LaunchArgs,
    /// Never delete a pod its disruption budget protects, even at the deadline (default: an
    /// interruption drain deletes it at the deadline minus its grace period).
    #[arg(long)]
    no_force_delete: bool,
    /// AWS region of the queue and of replacement instances (default: the AWS configuration's).
    #[arg(long)]
    region: Option<String>,
    /// Another endpoint for SQS (a local SQS-compatible server).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Really act: cordon and drain through the Kubernetes API given by --kubeconfig, launch
    /// replacements with EC2 (default: dry run).
    #[arg(long, requires = "kubeconfig", conflicts_with = "dry_run")]
    yes: bool,
    /// Only print the plans (the default; kept for scripts that say it).
    #[arg(long)]
    dry_run: bool,
    /// Malformed or unknown messages: leave them for the dead-letter queue, or delete them.
    #[arg(long, default_value = "dead-letter", value_parser = ["dead-letter", "delete"])]
    quarantine: String,
    /// Visibility timeout while a message is handled, seconds (renewed as it runs).
    #[arg(long, default_value_t = 60)]
    visibility_timeout: i32,
    /// Long-poll wait, seconds (0–20).
    #[arg(long, default_value_t = 20)]
    wait: i32,
    /// Stop after this many messages (default: run until Ctrl-C).
    #[arg(long, value_name = "N")]
    max_messages: Option<usize>,
    /// Stop after this many seconds without a message.
    #[arg(long, value_name = "SECONDS")]
    idle_exit: Option<u64>,
    /// Output: one line per message (`table`) or one JSON object per line (`json`).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// `events watch` (cargo feature `sqs`, on by default).
#[cfg(feature = "sqs")]
mod watch {
    use std::io::Write;
    use std::sync::{Arc, RwLock};
    use std::time::{Duration, Instant};

    use cloudoptim_core::adapters::sqs::{Consumer, ConsumerConfig};
    use cloudoptim_core::executor::{Chain, DryRunExecutor, Executor, Status};
    use cloudoptim_core::spot::pipeline::{MessageOutcome, MessageReport, QuarantinePolicy};

    use super::{Format, WatchArgs};

    /// One line for a person.
    fn line(r: &MessageReport) -> String {
        let status = |steps: &[cloudoptim_core::executor::Outcome]| {
            let dry = steps.iter().filter(|o| o.status == Status::DryRun).count();
            let done = steps
                .iter()
                .filter(|o| matches!(o.status, Status::Done { .. }))
                .count();
            let failed = steps
                .iter()
                .filter(|o| matches!(o.status, Status::Failed { .. }))
                .count();
            format!(
                "{} step(s): {dry} dry run, {done} done, {failed} failed",
                steps.len()
            )
        };
        match &r.outcome {
            MessageOutcome::Handled {
                event_id,
                nodes,
                steps,
            } => {
                let mut s = format!(
                    "handled {event_id} on {}: {}",
                    nodes.join(", "),
                    status(steps)
                );
                for o in steps {
                    s.push_str(&format!("\n    {}", o.step.log_line()));
                }
                s
            }
            MessageOutcome::Failed { event_id, steps } => format!(
                "failed {event_id}: {} (left in the queue for a retry)",
                status(steps)
            ),
            MessageOutcome::Duplicate { event_id } => {
                format!("duplicate {event_id}: already handled, deleted")
            }
            MessageOutcome::Ignored { reason } => format!("ignored: {reason}; deleted"),
            MessageOutcome::Foreign { reason } => format!("left for another cluster: {reason}"),
            MessageOutcome::Quarantined { reason, deleted } => format!(
                "quarantined: {reason}; {}",
                if *deleted {
                    "deleted"
                } else {
                    "left for the dead-letter queue"
                }
            ),
            _ => "handled".into(),
        }
    }

    pub fn run(
        args: WatchArgs,
        cluster: cloudoptim_core::Cluster,
        out: &mut dyn Write,
    ) -> cloudoptim_core::Result<i32> {
        let rt = cloudoptim_core::adapters::runtime().map_err(|source| {
            cloudoptim_core::Error::Load(cloudoptim_core::loader::LoadError::Io {
                path: std::path::PathBuf::from("<async runtime>"),
                source,
            })
        })?;
        let config = ConsumerConfig::default()
            .with_wait(args.wait)
            .with_visibility_timeout(args.visibility_timeout)
            .with_quarantine(if args.quarantine == "delete" {
                QuarantinePolicy::Delete
            } else {
                QuarantinePolicy::DeadLetter
            });
        let cluster_name = cluster.name.clone();
        let cluster = Arc::new(RwLock::new(cluster));
        let mut failed = 0usize;
        let mut write_error = None;
        let result = rt.block_on(async {
            // Kubernetes steps through the API (or a dry run without --kubeconfig), EC2 steps
            // through the EC2 executor when replacements can be launched.
            let mut chain: Vec<Box<dyn Executor>> = Vec::new();
            if args.input.live.kubeconfig.is_some() {
                chain.push(
                    super::live::executor(&args.input.live, args.yes, !args.no_force_delete)
                        .await?,
                );
            }
            if args.launch.can_launch() {
                chain.push(
                    super::ec2_executor(
                        args.region.as_deref(),
                        Some(&cluster_name),
                        &args.launch,
                        args.yes,
                    )
                    .await?,
                );
            }
            if args.input.live.kubeconfig.is_none() {
                chain.push(Box::new(DryRunExecutor::new()));
            }
            let executor: Arc<dyn Executor> = Arc::new(Chain(chain));
            let client = Consumer::client(args.region.clone(), args.endpoint_url.clone()).await;
            let consumer = Consumer::new(client, &args.queue_url, cluster, executor, config);
            let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let last = Arc::new(std::sync::Mutex::new(Instant::now()));
            let stop = {
                let seen = seen.clone();
                let last = last.clone();
                let max = args.max_messages;
                let idle = args.idle_exit.map(Duration::from_secs);
                async move {
                    loop {
                        tokio::select! {
                            _ = tokio::signal::ctrl_c() => return,
                            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                        }
                        let n = seen.load(std::sync::atomic::Ordering::SeqCst);
                        if max.is_some_and(|m| n >= m) {
                            return;
                        }
                        let quiet = last.lock().map(|l| l.elapsed()).unwrap_or_default();
                        if idle.is_some_and(|i| quiet >= i) {
                            return;
                        }
                    }
                }
            };
            consumer
                .run(stop, |r| {
                    seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if let Ok(mut l) = last.lock() {
                        *l = Instant::now();
                    }
                    if matches!(r.outcome, MessageOutcome::Failed { .. }) {
                        failed += 1;
                    }
                    let text = match args.format {
                        Format::Json => serde_json::to_string(&r).unwrap_or_default(),
                        Format::Table => line(&r),
                    };
                    if let Err(e) = writeln!(out, "{text}").and_then(|_| out.flush()) {
                        write_error.get_or_insert(e);
                    }
                })
                .await?;
            Ok::<(), cloudoptim_core::Error>(())
        });
        result?;
        if let Some(source) = write_error {
            return Err(cloudoptim_core::Error::Load(
                cloudoptim_core::loader::LoadError::Io {
                    path: std::path::PathBuf::from("<stdout>"),
                    source,
                },
            ));
        }
        Ok(if failed > 0 { 1 } else { 0 })
    }
}

#[cfg(not(feature = "sqs"))]
mod watch {
    use super::WatchArgs;

    pub fn run(
        _: WatchArgs,
        _: cloudoptim_core::Cluster,
        _: &mut dyn std::io::Write,
    ) -> cloudoptim_core::Result<i32> {
        Err(cloudoptim_core::Error::Source(
            cloudoptim_core::source::SourceError::Config {
                message: "this build of cloudoptim has no SQS support (cargo feature `sqs` of cloudoptim-cli); use the `cloudoptim` command".into(),
            },
        ))
    }
}

#[derive(Debug, clap::Args)]
struct PatchArgs {
    /// The repository (a folder).
    #[arg(long, value_name = "DIR")]
    repo: PathBuf,
    /// A change object (`{"target": …, "set": …}`) or a corpus `case.json`, as a JSON file.
    #[arg(long, value_name = "FILE")]
    change: PathBuf,
    /// Report the diff without writing.
    #[arg(long)]
    dry_run: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn patch(args: PatchArgs, locate_only: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    use cloudoptim_core::iac::{Change, Engine, Outcome};
    let change = match std::fs::read_to_string(&args.change) {
        Ok(text) => Change::from_json(&text),
        Err(e) => {
            let _ = writeln!(err, "error: {}: {e}", args.change.display());
            return 2;
        }
    };
    let change = match change {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(err, "error: {}: {e}", args.change.display());
            return 2;
        }
    };
    let engine = Engine::default();
    let report = if locate_only {
        engine.locate(&args.repo, &change)
    } else {
        engine.patch(&args.repo, &change, args.dry_run)
    };
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return if matches!(
                e,
                cloudoptim_core::iac::IacError::InvalidChange(_)
                    | cloudoptim_core::iac::IacError::NotADirectory(_)
            ) {
                2
            } else {
                1
            };
        }
    };
    match args.format {
        Format::Json => {
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            );
        }
        Format::Table => {
            let _ = writeln!(
                out,
                "{}: {}",
                serde_json::to_value(report.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                report.explanation
            );
            for c in &report.changes {
                let _ = writeln!(out, "  {} lines {:?}", c.file, c.lines);
                for e in &c.explanations {
                    let _ = writeln!(out, "    why: {e}");
                }
            }
            for c in &report.candidates {
                let _ = writeln!(out, "  candidate {}:{}: {}", c.file, c.line, c.reason);
            }
            if !report.diff.is_empty() {
                let _ = write!(out, "\n{}", report.diff);
            }
        }
    }
    for w in &report.warnings {
        let _ = writeln!(err, "warning: {w}");
    }
    match report.outcome {
        Outcome::Patched => 0,
        Outcome::Ambiguous => 3,
        _ => 4,
    }
}

fn print_report(out: &mut dyn Write, report: &Report, format: Format) -> std::io::Result<()> {
    match format {
        Format::Table => write!(out, "{}", report.to_table()),
        Format::Json => writeln!(out, "{}", report.to_json()),
    }
}

fn execute(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> cloudoptim_core::Result<i32> {
    let io = |e: std::io::Error| {
        cloudoptim_core::Error::Load(cloudoptim_core::loader::LoadError::Io {
            path: PathBuf::from("<stdout>"),
            source: e,
        })
    };
    match cli.command {
        Command::Patch(args) => return Ok(patch(args, false, out, err)),
        Command::Locate(args) => return Ok(patch(args, true, out, err)),
        Command::Propose(args) => return propose(args, out, err),
        Command::Demo { format } => {
            let cluster = demo::demo_cluster();
            let report = cloudoptim_core::analyze(&cluster, Default::default())?;
            print_report(out, &report, format).map_err(io)?;
            if format == Format::Table {
                let plan = pipeline::consolidate_cluster(
                    &cluster,
                    &PricingOptions::default(),
                    "replace",
                    &[],
                )?;
                writeln!(out).map_err(io)?;
                write!(out, "{}", plan.to_table()).map_err(io)?;
                writeln!(out, "  (JSON: cloudoptim consolidate --demo --format json)")
                    .map_err(io)?;
                let pricing = pipeline::pricing_for(&cluster, &PricingOptions::default())?;
                writeln!(out, "\nSpot: risk of the types the spot nodes use (0.60·rate + 0.25·volatility + 0.10·gap + 0.05·time)").map_err(io)?;
                for s in cloudoptim_core::spot::score_cluster_spot_types(&cluster, &pricing) {
                    writeln!(
                        out,
                        "  {:<14} risk {:.2}  interruption {:<7} saving {:>3.0}%",
                        s.instance_type,
                        s.risk,
                        s.interruption.as_deref().unwrap_or("?"),
                        s.savings_ratio.unwrap_or(0.0) * 100.0
                    )
                    .map_err(io)?;
                }
                if let Some((node, plan)) = cloudoptim_core::spot::replay_interruption(&cluster) {
                    let evictions = plan
                        .actions
                        .iter()
                        .filter(|a| matches!(a, cloudoptim_core::spot::Action::Evict { .. }))
                        .count();
                    writeln!(out, "  replayed interruption of {node}: cordon, on-demand replacement, {evictions} eviction(s) within 96 s, then the message is deleted (cloudoptim events handle)").map_err(io)?;
                }
            }
        }
        Command::Analyze {
            input,
            aws,
            usage,
            traffic,
            cluster_name,
            prices,
            spot_advisor,
            analyzers,
            include_namespace,
            exclude_namespace,
            exclude_workload,
            exclude_node_group,
            min_saving,
            strategy,
            limits,
            buffer,
            team_label,
            config,
            format,
        } => {
            let mut filters = match &config {
                Some(c) => pipeline::filters_from_file(c)?,
                None => cloudoptim_core::report::Filters::default(),
            };
            filters.include_namespaces.extend(include_namespace);
            filters.exclude_namespaces.extend(exclude_namespace);
            filters.exclude_workloads.extend(exclude_workload);
            filters.exclude_node_groups.extend(exclude_node_group);
            if let Some(m) = min_saving {
                filters.min_monthly_savings = m;
            }
            if strategy.is_some() {
                filters.strategy = strategy;
            }
            if limits.is_some() {
                filters.limits = limits;
            }
            // flags first: the first matching rule wins
            filters.buffers.splice(0..0, buffer);
            if team_label.is_some() {
                filters.team_label = team_label;
            }
            let mut opts = LoadOptions::default();
            if let Some(n) = cluster_name {
                opts = opts.with_cluster_name(n);
            }
            let mut cluster = match load_all(&input, &aws, Some(&usage), &opts, err)? {
                Ok(c) => c,
                Err(message) => {
                    let _ = writeln!(err, "error: {message}");
                    return Ok(1);
                }
            };
            pipeline::add_traffic(&mut cluster, &traffic)?;
            let mut p = PricingOptions::default();
            if let Some(r) = aws.region.clone() {
                p = p.with_region(r);
            }
            if let Some(t) = prices {
                p = p.with_price_table(t);
            }
            if let Some(a) = spot_advisor {
                p = p.with_spot_advisor(a);
            }
            let report = pipeline::analyze_filtered(&cluster, &p, analyzers.as_deref(), &filters)?;
            print_report(out, &report, format).map_err(io)?;
        }
        Command::Consolidate {
            input,
            aws,
            mode,
            allow_types,
            format,
        } => {
            let snapshot = match load_all(&input, &aws, None, &LoadOptions::default(), err)? {
                Ok(c) => c,
                Err(message) => {
                    let _ = writeln!(err, "error: {message}");
                    return Ok(1);
                }
            };
            let mut p = PricingOptions::default();
            if let Some(r) = aws.region.clone() {
                p = p.with_region(r);
            }
            let plan = pipeline::consolidate_cluster(&snapshot, &p, &mode, &allow_types)?;
            match format {
                Format::Json => writeln!(out, "{}", plan.to_json()).map_err(io)?,
                Format::Table => write!(out, "{}", plan.to_table()).map_err(io)?,
            }
        }
        Command::Spot(SpotCommand::Plan { input, aws, format }) => {
            let snapshot = match load_all(&input, &aws, None, &LoadOptions::default(), err)? {
                Ok(c) => c,
                Err(message) => {
                    let _ = writeln!(err, "error: {message}");
                    return Ok(1);
                }
            };
            let ready = cloudoptim_core::spot::readiness(&snapshot);
            let report = pipeline::analyze_with(
                &snapshot,
                &PricingOptions::default(),
                Some(&["spot-migration".to_string()]),
            )?;
            match format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "workloads": ready,
                        "recommendations": report.recommendations,
                        "monthly_savings_usd": report.totals.monthly_savings_usd,
                    }))
                    .unwrap_or_default()
                )
                .map_err(io)?,
                Format::Table => {
                    let n_ready = ready.iter().filter(|r| r.ready).count();
                    writeln!(
                        out,
                        "Spot readiness: {n_ready} of {} workload(s) can run on spot",
                        ready.len()
                    )
                    .map_err(io)?;
                    for r in &ready {
                        writeln!(
                            out,
                            "  {:<5} {:<44} {:<12} {:>3} pod(s)  {}",
                            if r.ready { "ready" } else { "no" },
                            r.workload,
                            r.kind,
                            r.pods,
                            r.reason.as_deref().unwrap_or("")
                        )
                        .map_err(io)?;
                    }
                    writeln!(out).map_err(io)?;
                    if report.recommendations.is_empty() {
                        writeln!(out, "No node group can move to spot.").map_err(io)?;
                    }
                    for r in &report.recommendations {
                        writeln!(out, "{}", r.title).map_err(io)?;
                        writeln!(out, "  {}", r.explanation).map_err(io)?;
                    }
                }
            }
        }
        Command::Spot(SpotCommand::Score {
            region,
            types,
            advisor,
            prices,
            limit,
            format,
        }) => {
            let mut p = PricingOptions::default().with_region(region);
            if let Some(a) = advisor {
                p = p.with_spot_advisor(a);
            }
            let scores = pipeline::spot_scores(&types, &p, prices.as_deref())?;
            match format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&scores).unwrap_or_default()
                )
                .map_err(io)?,
                Format::Table => {
                    writeln!(
                        out,
                        "{:<18} {:>5} {:>6} {:>6} {:>6} {:>6}  {:<8} {:>9} {:>8}",
                        "type",
                        "risk",
                        "rate",
                        "vol",
                        "gap",
                        "time",
                        "interr.",
                        "spot $/h",
                        "saving"
                    )
                    .map_err(io)?;
                    for s in scores.iter().take(limit) {
                        writeln!(
                            out,
                            "{:<18} {:>5.2} {:>6.2} {:>6.2} {:>6.2} {:>6.2}  {:<8} {:>9} {:>7.0}%",
                            s.instance_type,
                            s.risk,
                            s.rate,
                            s.volatility,
                            s.gap,
                            s.time,
                            s.interruption.as_deref().unwrap_or("?"),
                            s.spot_hourly
                                .map(|x| format!("{x:.4}"))
                                .unwrap_or_else(|| "?".into()),
                            s.savings_ratio.unwrap_or(0.0) * 100.0
                        )
                        .map_err(io)?;
                    }
                    writeln!(
                        out,
                        "({} of {} types shown; lowest risk first)",
                        scores.len().min(limit),
                        scores.len()
                    )
                    .map_err(io)?;
                }
            }
        }
        Command::Events(EventsCommand::Handle {
            input,
            launch,
            event,
            format,
        }) => {
            let (snapshot, _) = input.load(&LoadOptions::default())?;
            let body = std::fs::read_to_string(&event).map_err(|source| {
                cloudoptim_core::Error::Load(cloudoptim_core::loader::LoadError::Io {
                    path: event.clone(),
                    source,
                })
            })?;
            let plan = cloudoptim_core::spot::plan_response(&snapshot, &body);
            match format {
                Format::Json => writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&plan).unwrap_or_default()
                )
                .map_err(io)?,
                Format::Table => {
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string(&plan.parsed).unwrap_or_default()
                    )
                    .map_err(io)?;
                    for a in &plan.actions {
                        writeln!(out, "  {}", serde_json::to_string(a).unwrap_or_default())
                            .map_err(io)?;
                        if matches!(
                            a,
                            cloudoptim_core::executor::Action::LaunchReplacement { .. }
                        ) {
                            writeln!(out, "    replacement: {}", launch.describe()).map_err(io)?;
                        }
                    }
                }
            }
        }
        Command::Events(EventsCommand::Watch(args)) => {
            let (snapshot, _) = args.input.load(&LoadOptions::default())?;
            return watch::run(args, snapshot, out);
        }
        Command::Apply {
            plan,
            yes,
            keep_going,
            live,
            ec2,
            format,
        } => return apply(&plan, yes, keep_going, &live, &ec2, format, out, err),
        Command::Analyzers => {
            for a in analyzers::builtin() {
                writeln!(out, "{:<24} {}", a.name(), a.description()).map_err(io)?;
            }
        }
        Command::Schema => {
            let s = serde_json::to_string_pretty(&cloudoptim_core::report::report_schema())
                .unwrap_or_default();
            writeln!(out, "{s}").map_err(io)?;
        }
    }
    Ok(0)
}

/// Runs an action plan as `cloudoptim apply --plan` does: through the Kubernetes API of
/// `kubeconfig` (its `context`, or the current one; `request_timeout` seconds per request) when
/// given, EC2 steps through the AWS configuration's region, else through the dry-run executor.
/// A dry run unless `yes`; destructive steps are refused unless `yes`; the first failed step
/// skips the rest unless `keep_going`.
pub fn run_action_plan(
    plan: &cloudoptim_core::executor::ActionPlan,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    request_timeout: u64,
    yes: bool,
    keep_going: bool,
) -> cloudoptim_core::Result<Vec<cloudoptim_core::executor::Outcome>> {
    let live = LiveArgs {
        kubeconfig,
        context,
        request_timeout,
    };
    run_plan_with(plan, &live, &Ec2ExecArgs::default(), yes, keep_going)
}

fn run_plan_with(
    plan: &cloudoptim_core::executor::ActionPlan,
    live_args: &LiveArgs,
    ec2: &Ec2ExecArgs,
    yes: bool,
    keep_going: bool,
) -> cloudoptim_core::Result<Vec<cloudoptim_core::executor::Outcome>> {
    use cloudoptim_core::executor::{self, Action, Confirm, DryRunExecutor};
    // EC2 steps that reach the EC2 executor (without --yes, destructive ones are refused first)
    let ec2_steps = plan.steps.iter().any(|s| match s.action {
        Action::LaunchReplacement { .. } => true,
        Action::TerminateInstance { .. } | Action::DeleteVolume { .. } => yes,
        _ => false,
    });
    Ok(if live_args.kubeconfig.is_none() && !ec2_steps {
        let dry = DryRunExecutor::new();
        executor::block_on(executor::run_plan(
            &Confirm::new(&dry, yes),
            plan,
            keep_going,
        ))
    } else {
        run_live_plan(live_args, ec2, ec2_steps, plan, yes, keep_going)?
    })
}

#[allow(clippy::too_many_arguments)]
fn apply(
    plan_path: &Path,
    yes: bool,
    keep_going: bool,
    live_args: &LiveArgs,
    ec2: &Ec2ExecArgs,
    format: Format,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> cloudoptim_core::Result<i32> {
    use cloudoptim_core::executor::{ActionPlan, Status};
    let text = std::fs::read_to_string(plan_path).map_err(|source| {
        cloudoptim_core::Error::Load(cloudoptim_core::loader::LoadError::Io {
            path: plan_path.to_path_buf(),
            source,
        })
    })?;
    let plan = ActionPlan::from_json(&plan_path.display().to_string(), &text)?;
    if yes && live_args.kubeconfig.is_none() {
        let _ = writeln!(
            err,
            "warning: no --kubeconfig: Kubernetes steps cannot be changed, showing their dry run"
        );
    }
    let outcomes = run_plan_with(&plan, live_args, ec2, yes, keep_going)?;
    let io = |e: std::io::Error| {
        cloudoptim_core::Error::Load(cloudoptim_core::loader::LoadError::Io {
            path: PathBuf::from("<stdout>"),
            source: e,
        })
    };
    match format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&outcomes).unwrap_or_default()
        )
        .map_err(io)?,
        Format::Table => {
            if !yes {
                writeln!(out, "dry run: nothing is changed (add --yes to apply)").map_err(io)?;
            }
            for o in &outcomes {
                let (tag, note) = match &o.status {
                    Status::DryRun => ("dry-run", String::new()),
                    Status::Done { detail } => ("done", detail.clone()),
                    Status::Skipped { reason } => ("skipped", reason.clone()),
                    Status::Failed { error, .. } => ("FAILED", error.clone()),
                    _ => ("?", String::new()),
                };
                writeln!(out, "{tag:<8} {}", o.step.log_line()).map_err(io)?;
                if !note.is_empty() {
                    writeln!(out, "         {note}").map_err(io)?;
                }
            }
        }
    }
    Ok(
        if outcomes
            .iter()
            .any(|o| matches!(o.status, Status::Failed { .. }))
        {
            1
        } else {
            0
        },
    )
}

/// Reads `--prometheus` and `--aws-live` into the cluster (cargo features `prometheus`, `aws`).
fn read_live_sources(
    prometheus: Option<String>,
    days: u32,
    prometheus_timeout: u64,
    aws_region: Option<Option<String>>,
    cluster: &mut cloudoptim_core::Cluster,
    err: &mut dyn Write,
) -> Result<(), String> {
    #[cfg(not(feature = "prometheus"))]
    if prometheus.is_some() {
        return Err("this build of cloudoptim has no live Prometheus support (cargo feature `prometheus` of cloudoptim-cli); use --usage with query_range JSON".into());
    }
    #[cfg(not(feature = "aws"))]
    if aws_region.is_some() {
        return Err("this build of cloudoptim has no live AWS support (cargo feature `aws` of cloudoptim-cli); use --aws with AWS CLI JSON".into());
    }
    #[cfg(any(feature = "prometheus", feature = "aws"))]
    {
        let input = live_sources::LiveInput {
            prometheus,
            days,
            prometheus_timeout,
            aws_region,
        };
        live_sources::read(&input, cluster, err)
    }
    #[cfg(not(any(feature = "prometheus", feature = "aws")))]
    {
        let _ = (days, prometheus_timeout, cluster, err);
        Ok(())
    }
}

/// Runs the command with these arguments (the first is the program name), writing to the given
/// streams. Returns the exit code: 0 on success, 1 on a failure, 2 on a usage error.
pub fn run_with<I, T>(args: I, out: &mut dyn Write, err: &mut dyn Write) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = if e.use_stderr() {
                write!(err, "{}", e.render())
            } else {
                write!(out, "{}", e.render())
            };
            return code;
        }
    };
    match execute(cli, out, err) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "error: {}", pipeline::error_message(&e));
            1
        }
    }
}

/// Runs the command with these arguments against stdout and stderr.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    run_with(args, &mut out, &mut err)
}

/// Parses `PATTERN=CPU,MEMORY` into a buffer rule.
fn parse_buffer(s: &str) -> Result<cloudoptim_core::analyzers::Buffer, String> {
    let (pattern, fractions) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected PATTERN=CPU,MEMORY, e.g. payments=0.25,0.1"))?;
    let (cpu, memory) = fractions
        .split_once(',')
        .ok_or_else(|| format!("`{s}`: expected two fractions CPU,MEMORY after `=`"))?;
    let num = |v: &str, what: &str| {
        v.trim()
            .parse::<f64>()
            .map_err(|_| format!("`{s}`: {what} `{v}` is not a number"))
    };
    let b = cloudoptim_core::analyzers::Buffer {
        pattern: pattern.trim().to_string(),
        cpu: num(cpu, "cpu")?,
        memory: num(memory, "memory")?,
    };
    if b.pattern.is_empty() {
        return Err(format!("`{s}`: empty pattern"));
    }
    b.validate()?;
    Ok(b)
}
