//! The `cloudoptim` command line, as a library so the Python wheel's `cloudoptim` script runs
//! exactly the same code. It only parses arguments and prints; the work is in `cloudoptim-core`.
#![deny(missing_docs)]

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use cloudoptim_core::loader::LoadOptions;
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
    /// Analyze a cluster from files.
    Analyze {
        /// `kubectl get … -o json|yaml` output: a file or a folder (cluster-info dump folders too).
        #[arg(long, value_name = "PATH")]
        cluster: PathBuf,
        /// AWS CLI JSON: describe-instances, describe-volumes, describe-spot-price-history (file or folder; repeatable).
        #[arg(long, value_name = "PATH")]
        aws: Vec<PathBuf>,
        /// Prometheus query_range JSON for container CPU and memory (file or folder; repeatable).
        #[arg(long, value_name = "PATH")]
        usage: Vec<PathBuf>,
        /// Read container CPU and memory history live from this Prometheus (query_range, by day and namespace).
        #[arg(long, value_name = "URL")]
        prometheus: Option<String>,
        /// Days of history to read from --prometheus.
        #[arg(long, default_value_t = 7, value_name = "N")]
        days: u32,
        /// Seconds to wait for one Prometheus answer before retrying, then failing.
        #[arg(long, default_value_t = 30, value_name = "SECS")]
        prometheus_timeout: u64,
        /// Read the EC2 inventory live (instances, volumes, spot price history) from --region with the standard AWS credential chain.
        #[arg(long)]
        aws_live: bool,
        /// Traffic matrix: CSV `source,destination,bytes[,window_seconds]` or Prometheus JSON with Istio labels (repeatable).
        #[arg(long, value_name = "PATH")]
        traffic: Vec<PathBuf>,
        /// Cluster name (default: from node labels or instance tags, else the file name).
        #[arg(long)]
        cluster_name: Option<String>,
        /// Region to price in, and to read with --aws-live (default: the nodes' region, else us-east-1; --aws-live: the AWS chain's region).
        #[arg(long)]
        region: Option<String>,
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
        /// `kubectl get … -o json|yaml` output (a file or a folder); omit with --demo.
        #[arg(long, value_name = "PATH", required_unless_present = "demo")]
        cluster: Option<PathBuf>,
        /// Plan for the embedded demo cluster.
        #[arg(long)]
        demo: bool,
        /// AWS CLI JSON (spot price history makes spot prices exact).
        #[arg(long, value_name = "PATH")]
        aws: Vec<PathBuf>,
        /// `remove` or `replace`.
        #[arg(long, default_value = "replace", value_parser = ["remove", "replace"])]
        mode: String,
        /// Instance types allowed for new nodes, comma-separated patterns (`m5.*,m6i.*,c6g.*`).
        #[arg(long, value_delimiter = ',')]
        allow_types: Vec<String>,
        /// Region to price in.
        #[arg(long)]
        region: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Spot: risk scores per instance type.
    #[command(subcommand)]
    Spot(SpotCommand),
    /// Interruption and maintenance events.
    #[command(subcommand)]
    Events(EventsCommand),
    /// List the built-in analyzers.
    Analyzers,
    /// Print the JSON Schema of the report.
    Schema,
}

#[derive(Debug, Subcommand)]
enum SpotCommand {
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
        /// The cluster (`kubectl get … -o json`); omit with --demo.
        #[arg(long, value_name = "PATH", required_unless_present = "demo")]
        cluster: Option<PathBuf>,
        /// Use the demo cluster.
        #[arg(long)]
        demo: bool,
        /// The message body: an EventBridge event, an SQS record or an SNS envelope.
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
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
            cluster,
            aws,
            usage,
            prometheus,
            days,
            prometheus_timeout,
            aws_live,
            traffic,
            cluster_name,
            region,
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
            let mut opts = LoadOptions::default();
            if let Some(n) = cluster_name {
                opts = opts.with_cluster_name(n);
            }
            let mut loaded = pipeline::load_snapshot(&cluster, &aws, &usage, &opts)?;
            if (prometheus.is_some() || aws_live)
                && let Err(message) = read_live_sources(
                    prometheus,
                    days,
                    prometheus_timeout,
                    aws_live.then(|| region.clone()),
                    &mut loaded.cluster,
                    err,
                )
            {
                let _ = writeln!(err, "error: {message}");
                return Ok(1);
            }
            pipeline::add_traffic(&mut loaded.cluster, &traffic)?;
            for w in &loaded.warnings {
                let _ = writeln!(err, "warning: {w}");
            }
            let mut p = PricingOptions::default();
            if let Some(r) = region {
                p = p.with_region(r);
            }
            if let Some(t) = prices {
                p = p.with_price_table(t);
            }
            if let Some(a) = spot_advisor {
                p = p.with_spot_advisor(a);
            }
            let report =
                pipeline::analyze_filtered(&loaded.cluster, &p, analyzers.as_deref(), &filters)?;
            print_report(out, &report, format).map_err(io)?;
        }
        Command::Consolidate {
            cluster,
            demo,
            aws,
            mode,
            allow_types,
            region,
            format,
        } => {
            let snapshot = if demo {
                demo::demo_cluster()
            } else {
                let path = cluster.unwrap_or_default();
                let loaded = pipeline::load_snapshot(&path, &aws, &[], &LoadOptions::default())?;
                for w in &loaded.warnings {
                    let _ = writeln!(err, "warning: {w}");
                }
                loaded.cluster
            };
            let mut p = PricingOptions::default();
            if let Some(r) = region {
                p = p.with_region(r);
            }
            let plan = pipeline::consolidate_cluster(&snapshot, &p, &mode, &allow_types)?;
            match format {
                Format::Json => writeln!(out, "{}", plan.to_json()).map_err(io)?,
                Format::Table => write!(out, "{}", plan.to_table()).map_err(io)?,
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
            let history = match prices {
                Some(path) => cloudoptim_core::loader::load_aws(&path)?.spot_prices,
                None => vec![],
            };
            let pricing = pipeline::pricing_for(&cloudoptim_core::Cluster::default(), &p)?
                .with_spot_history(&history);
            let scores = cloudoptim_core::spot::score_types(
                &types,
                &pricing,
                &history,
                &cloudoptim_core::spot::SeedScorer::default(),
            );
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
            cluster,
            demo,
            event,
            format,
        }) => {
            let snapshot = if demo {
                demo::demo_cluster()
            } else {
                pipeline::load_snapshot(
                    &cluster.unwrap_or_default(),
                    &[],
                    &[],
                    &LoadOptions::default(),
                )?
                .cluster
            };
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
                    }
                }
            }
        }
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
