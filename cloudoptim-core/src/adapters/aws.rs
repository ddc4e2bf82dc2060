//! EC2 through the AWS SDK: the live inventory (instances, volumes, spot price history, spot
//! placement scores) and [`AwsExecutor`], which launches replacement capacity, terminates ghost
//! instances and deletes zombie volumes.
//!
//! Region and credentials come from the standard AWS chain (environment, profiles, SSO, web
//! identity, instance metadata); `AWS_ENDPOINT_URL` (or [`AwsSource::from_env`]'s endpoint)
//! points the client at another endpoint. The inventory is read into the AWS CLI's JSON shape
//! ([`AwsSource::describe_instances`] and friends) and goes through the same conversion as
//! `aws ec2 describe-… --output json` files given to [`crate::loader::load_aws`], so live and
//! offline input give the same model.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::primitives::{DateTime, DateTimeFormat};
use aws_sdk_ec2::types::{
    InstanceInterruptionBehavior, InstanceMarketOptionsRequest, InstanceType,
    LaunchTemplateSpecification, MarketType, Placement, ResourceType, SpotInstanceType,
    SpotMarketOptions, Tag, TagSpecification,
};
use serde_json::{Value, json};

use crate::executor::{BoxFuture, ExecError, Executor, Status, Step};
use crate::loader::{self, LoadError};
use crate::model::AwsInventory;

pub use aws_config;
pub use aws_sdk_ec2;

/// Errors of the EC2 adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AwsError {
    /// No usable credentials, or AWS rejected them (expired, unknown, malformed).
    #[error(
        "AWS {operation}: credentials rejected or missing ({message}); check AWS_PROFILE / \
         AWS_ACCESS_KEY_ID, and refresh an expired session (aws sso login, a new STS token)"
    )]
    Credentials {
        /// The API call.
        operation: String,
        /// AWS' message.
        message: String,
    },
    /// The caller lacks a permission (see docs/least-privilege-aws.md).
    #[error(
        "AWS {operation}: not authorized ({message}); see the IAM policy in docs/least-privilege-aws.md"
    )]
    Forbidden {
        /// The API call.
        operation: String,
        /// AWS' message.
        message: String,
    },
    /// The endpoint does not implement this call (some regions, partitions or emulators).
    #[error("AWS {operation}: not supported by this endpoint ({message})")]
    NotSupported {
        /// The API call.
        operation: String,
        /// What the endpoint said.
        message: String,
    },
    /// AWS answered with another error.
    #[error("AWS {operation}: {code} (HTTP {status}): {message}")]
    Api {
        /// The API call.
        operation: String,
        /// HTTP status (0 when unknown).
        status: u16,
        /// AWS error code (`InvalidInstanceID.NotFound`, ...).
        code: String,
        /// AWS' message.
        message: String,
    },
    /// The request did not get an answer (DNS, connection, timeout).
    #[error("AWS {operation}: no answer from the endpoint: {message}")]
    Transport {
        /// The API call.
        operation: String,
        /// What failed.
        message: String,
    },
    /// The answer could not be turned into the model.
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl AwsError {
    /// Stable code: `aws_credentials`, `aws_forbidden`, `aws_not_supported`, `aws_api`,
    /// `aws_transport`, `aws_load`.
    pub fn code(&self) -> &'static str {
        match self {
            AwsError::Credentials { .. } => "aws_credentials",
            AwsError::Forbidden { .. } => "aws_forbidden",
            AwsError::NotSupported { .. } => "aws_not_supported",
            AwsError::Api { .. } => "aws_api",
            AwsError::Transport { .. } => "aws_transport",
            AwsError::Load(_) => "aws_load",
        }
    }

    /// The AWS error code, when AWS answered.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            AwsError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = AwsError> = std::result::Result<T, E>;

const CREDENTIAL_CODES: &[&str] = &[
    "AuthFailure",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
];

/// Classifies an SDK error.
pub fn classify<E>(operation: &str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let operation = operation.to_string();
    match &err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            let status = raw_status(&err);
            if e.code().is_none() && (status == 500 || status == 501) {
                // Emulators answer unimplemented calls with a bare 500 page.
                return AwsError::NotSupported {
                    operation,
                    message: format!("HTTP {status} without an AWS error"),
                };
            }
            let code = e.code().unwrap_or("Unknown").to_string();
            let message = e.message().unwrap_or("").to_string();
            let text = format!("{code} {message}").to_lowercase();
            if CREDENTIAL_CODES.contains(&code.as_str()) {
                AwsError::Credentials {
                    operation,
                    message: format!("{code}: {message}"),
                }
            } else if code == "UnauthorizedOperation" || code == "AccessDenied" {
                AwsError::Forbidden { operation, message }
            } else if code == "InvalidAction"
                || code == "NotImplemented"
                || text.contains("not yet implemented")
                || text.contains("not implemented")
            {
                AwsError::NotSupported {
                    operation,
                    message: format!("{code}: {message}"),
                }
            } else {
                AwsError::Api {
                    operation,
                    status,
                    code,
                    message,
                }
            }
        }
        SdkError::ResponseError(_) => {
            let status = raw_status(&err);
            let message = DisplayErrorContext(&err).to_string();
            if status == 500 || status == 501 {
                // Emulators answer unimplemented calls with a bare 500 page.
                AwsError::NotSupported { operation, message }
            } else {
                AwsError::Api {
                    operation,
                    status,
                    code: "ResponseError".into(),
                    message,
                }
            }
        }
        _ => {
            let message = DisplayErrorContext(&err).to_string();
            let lower = message.to_lowercase();
            if lower.contains("credential") || lower.contains("identity") {
                AwsError::Credentials { operation, message }
            } else {
                AwsError::Transport { operation, message }
            }
        }
    }
}

fn raw_status<E>(err: &SdkError<E, HttpResponse>) -> u16 {
    err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0)
}

fn time(t: Option<&DateTime>) -> Value {
    t.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

fn tags(t: &[Tag]) -> Value {
    Value::Array(
        t.iter()
            .map(|t| json!({"Key": t.key().unwrap_or(""), "Value": t.value().unwrap_or("")}))
            .collect(),
    )
}

fn opt<T: AsRef<str>>(v: Option<T>) -> Value {
    v.map(|s| Value::String(s.as_ref().to_string()))
        .unwrap_or(Value::Null)
}

/// What [`AwsSource::inventory`] reads besides instances and volumes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InventoryOptions {
    /// Days of spot price history (default 7; 0 reads none).
    pub spot_history_days: u32,
    /// Instance types whose spot prices to read; `None` reads those of the instances found.
    pub spot_types: Option<Vec<String>>,
    /// Product descriptions (default `Linux/UNIX`).
    pub products: Vec<String>,
}

impl Default for InventoryOptions {
    fn default() -> Self {
        InventoryOptions {
            spot_history_days: 7,
            spot_types: None,
            products: vec!["Linux/UNIX".into()],
        }
    }
}

impl InventoryOptions {
    /// Sets the instance types of the spot price history.
    #[must_use]
    pub fn with_spot_types(mut self, types: Vec<String>) -> Self {
        self.spot_types = Some(types);
        self
    }

    /// Sets the days of spot price history.
    #[must_use]
    pub fn with_spot_history_days(mut self, days: u32) -> Self {
        self.spot_history_days = days;
        self
    }
}

/// A spot placement score (1–10, how likely a spot request of that size succeeds).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PlacementScore {
    /// Region.
    pub region: Option<String>,
    /// Availability zone id (`use1-az1`) when scored per zone.
    pub zone_id: Option<String>,
    /// Score, 1 to 10.
    pub score: i32,
}

/// Reads the EC2 inventory of one region.
#[derive(Debug, Clone)]
pub struct AwsSource {
    client: Client,
    region: Option<String>,
}

/// Loads the SDK configuration from the standard chain, with an optional region and endpoint.
pub async fn sdk_config(region: Option<&str>, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

impl AwsSource {
    /// A source on an existing client.
    pub fn new(client: Client) -> Self {
        let region = client.config().region().map(|r| r.to_string());
        AwsSource { client, region }
    }

    /// A source from the standard chain; `region` overrides the chain's region and `endpoint`
    /// the endpoint (`AWS_ENDPOINT_URL` works too).
    pub async fn from_env(region: Option<&str>, endpoint: Option<&str>) -> Self {
        let conf = sdk_config(region, endpoint).await;
        AwsSource::new(Client::new(&conf))
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `describe-instances`, all pages, in the AWS CLI's JSON shape.
    pub async fn describe_instances(&self) -> Result<Value> {
        let pages: Vec<_> = self
            .client
            .describe_instances()
            .max_results(1000)
            .into_paginator()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut reservations = Vec::new();
        for page in pages {
            let page = page.map_err(|e| classify("DescribeInstances", e))?;
            for r in page.reservations() {
                let instances: Vec<Value> = r
                    .instances()
                    .iter()
                    .map(|i| {
                        json!({
                            "InstanceId": i.instance_id().unwrap_or(""),
                            "InstanceType": i.instance_type().map(|t| t.as_str()).unwrap_or(""),
                            "Placement": {"AvailabilityZone": opt(i.placement().and_then(|p| p.availability_zone()))},
                            "State": {"Name": i.state().and_then(|s| s.name()).map(|n| n.as_str()).unwrap_or("")},
                            "InstanceLifecycle": opt(i.instance_lifecycle().map(|l| l.as_str())),
                            "LaunchTime": time(i.launch_time()),
                            "Tags": tags(i.tags()),
                            "PrivateDnsName": opt(i.private_dns_name()),
                            "Architecture": opt(i.architecture().map(|a| a.as_str())),
                        })
                    })
                    .collect();
                reservations.push(json!({
                    "ReservationId": r.reservation_id().unwrap_or(""),
                    "Instances": instances,
                }));
            }
        }
        Ok(json!({ "Reservations": reservations }))
    }

    /// `describe-volumes`, all pages, in the AWS CLI's JSON shape.
    pub async fn describe_volumes(&self) -> Result<Value> {
        let pages: Vec<_> = self
            .client
            .describe_volumes()
            .max_results(500)
            .into_paginator()
            .send()
            .collect::<Vec<_>>()
            .await;
        let mut volumes = Vec::new();
        for page in pages {
            let page = page.map_err(|e| classify("DescribeVolumes", e))?;
            for v in page.volumes() {
                let attachments: Vec<Value> = v
                    .attachments()
                    .iter()
                    .map(|a| {
                        json!({
                            "InstanceId": opt(a.instance_id()),
                            "State": opt(a.state().map(|s| s.as_str())),
                        })
                    })
                    .collect();
                volumes.push(json!({
                    "VolumeId": v.volume_id().unwrap_or(""),
                    "Size": v.size().unwrap_or(0),
                    "VolumeType": v.volume_type().map(|t| t.as_str()).unwrap_or(""),
                    "State": v.state().map(|s| s.as_str()).unwrap_or(""),
                    "AvailabilityZone": opt(v.availability_zone()),
                    "Iops": v.iops(),
                    "Throughput": v.throughput(),
                    "CreateTime": time(v.create_time()),
                    "Attachments": attachments,
                    "Tags": tags(v.tags()),
                }));
            }
        }
        Ok(json!({ "Volumes": volumes }))
    }

    /// `describe-spot-price-history` for `types` over the last `days`, all pages, in the AWS
    /// CLI's JSON shape.
    pub async fn describe_spot_price_history(
        &self,
        types: &[String],
        products: &[String],
        days: u32,
    ) -> Result<Value> {
        let now = std::time::SystemTime::now();
        let start = now - std::time::Duration::from_secs(u64::from(days) * 86_400);
        let mut req = self
            .client
            .describe_spot_price_history()
            .start_time(DateTime::from(start))
            .end_time(DateTime::from(now))
            .max_results(1000);
        for t in types {
            req = req.instance_types(InstanceType::from(t.as_str()));
        }
        for p in products {
            req = req.product_descriptions(p.clone());
        }
        let pages: Vec<_> = req.into_paginator().send().collect::<Vec<_>>().await;
        let mut points = Vec::new();
        for page in pages {
            let page = page.map_err(|e| classify("DescribeSpotPriceHistory", e))?;
            for p in page.spot_price_history() {
                points.push(json!({
                    "AvailabilityZone": p.availability_zone().unwrap_or(""),
                    "InstanceType": p.instance_type().map(|t| t.as_str()).unwrap_or(""),
                    "ProductDescription": p.product_description().map(|d| d.as_str()).unwrap_or(""),
                    "SpotPrice": p.spot_price().unwrap_or("0"),
                    "Timestamp": time(p.timestamp()),
                }));
            }
        }
        Ok(json!({ "SpotPriceHistory": points }))
    }

    /// The whole inventory, converted like `load_aws` converts the CLI's files.
    pub async fn inventory(&self, opts: &InventoryOptions) -> Result<AwsInventory> {
        let instances = self.describe_instances().await?;
        let volumes = self.describe_volumes().await?;
        let mut docs = vec![instances, volumes];
        if opts.spot_history_days > 0 {
            let types: Vec<String> = match &opts.spot_types {
                Some(t) => t.clone(),
                None => {
                    let mut t: Vec<String> = docs[0]["Reservations"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|r| r["Instances"].as_array().into_iter().flatten())
                        .filter_map(|i| i["InstanceType"].as_str().map(String::from))
                        .filter(|t| !t.is_empty())
                        .collect();
                    t.sort();
                    t.dedup();
                    t
                }
            };
            if !types.is_empty() {
                docs.push(
                    self.describe_spot_price_history(
                        &types,
                        &opts.products,
                        opts.spot_history_days,
                    )
                    .await?,
                );
            }
        }
        let source = format!("aws:{}", self.region.as_deref().unwrap_or("default-region"));
        let (aws, _) = loader::from_documents(Path::new(&source), docs)?;
        Ok(aws)
    }

    /// Spot placement scores for `types` (`target_capacity` instances), per zone of this
    /// region. Endpoints that do not implement the call give [`AwsError::NotSupported`].
    pub async fn spot_placement_scores(
        &self,
        types: &[String],
        target_capacity: i32,
    ) -> Result<Vec<PlacementScore>> {
        let mut req = self
            .client
            .get_spot_placement_scores()
            .target_capacity(target_capacity)
            .single_availability_zone(true);
        for t in types {
            req = req.instance_types(t.clone());
        }
        if let Some(r) = &self.region {
            req = req.region_names(r.clone());
        }
        let pages: Vec<_> = req.into_paginator().send().collect::<Vec<_>>().await;
        let mut out = Vec::new();
        for page in pages {
            let page = page.map_err(|e| classify("GetSpotPlacementScores", e))?;
            for s in page.spot_placement_scores() {
                out.push(PlacementScore {
                    region: s.region().map(String::from),
                    zone_id: s.availability_zone_id().map(String::from),
                    score: s.score().unwrap_or(0),
                });
            }
        }
        Ok(out)
    }
}

/// A tag an instance (and, when asked, a volume) must carry before cloudoptim destroys it,
/// and that cloudoptim puts on what it launches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagMatch {
    /// Tag key (`kubernetes.io/cluster/prod`, `eks:cluster-name`, ...).
    pub key: String,
    /// Required value; `None` accepts any value.
    pub value: Option<String>,
}

impl TagMatch {
    /// `kubernetes.io/cluster/<cluster>` with any value, as EKS and Karpenter tag nodes.
    pub fn cluster(cluster: &str) -> Self {
        TagMatch {
            key: format!("kubernetes.io/cluster/{cluster}"),
            value: None,
        }
    }

    fn matches(&self, tags: &[Tag]) -> bool {
        tags.iter().any(|t| {
            t.key() == Some(self.key.as_str())
                && self.value.as_deref().is_none_or(|v| t.value() == Some(v))
        })
    }

    fn describe(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.key),
            None => self.key.clone(),
        }
    }
}

/// What [`AwsExecutor`] launches for `launch_replacement`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LaunchSpec {
    /// AMI; needed unless a launch template gives it.
    pub image_id: Option<String>,
    /// Launch template: its id (`lt-…`) or name, optionally `:VERSION` (a number,
    /// `$Latest` or `$Default`; default `$Default`).
    pub launch_template: Option<String>,
    /// Subnet per availability zone.
    pub subnets: BTreeMap<String, String>,
    /// Subnets whose zones are looked up (`DescribeSubnets`, once) when a replacement is
    /// launched: the one in the replaced node's zone is used, else the first.
    pub subnet_ids: Vec<String>,
    /// Security groups.
    pub security_group_ids: Vec<String>,
    /// Tags put on the instance besides the cluster tag and cloudoptim's own.
    pub tags: BTreeMap<String, String>,
    /// Launch on demand when spot capacity is short (on with [`LaunchSpec::with_image`] and
    /// [`AwsExecutorConfig::new`]).
    pub on_demand_fallback: bool,
}

/// Splits `NAME|ID[:VERSION]` into the template and its version (`$Default` when not given).
pub fn parse_launch_template(spec: &str) -> (String, String) {
    match spec.rsplit_once(':') {
        Some((t, v)) if !t.is_empty() && !v.is_empty() => (t.to_string(), v.to_string()),
        _ => (spec.trim_end_matches(':').to_string(), "$Default".into()),
    }
}

/// Whether `s` is a launch template id (`lt-` and hexadecimal digits) rather than a name.
pub fn is_launch_template_id(s: &str) -> bool {
    s.strip_prefix("lt-")
        .is_some_and(|h| h.len() >= 8 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl LaunchSpec {
    /// Launches from a launch template (`NAME|ID[:VERSION]`), with on-demand fallback.
    pub fn with_launch_template(template: impl Into<String>) -> Self {
        LaunchSpec {
            launch_template: Some(template.into()),
            on_demand_fallback: true,
            ..Default::default()
        }
    }

    /// Adds subnets whose zones are looked up at launch.
    #[must_use]
    pub fn with_subnet_ids(mut self, ids: Vec<String>) -> Self {
        self.subnet_ids.extend(ids);
        self
    }

    /// Adds a tag for launched instances.
    #[must_use]
    pub fn with_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }

    /// Launches from an AMI, with on-demand fallback.
    pub fn with_image(image_id: impl Into<String>) -> Self {
        LaunchSpec {
            image_id: Some(image_id.into()),
            on_demand_fallback: true,
            ..Default::default()
        }
    }
}

/// How [`AwsExecutor`] behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AwsExecutorConfig {
    /// Send no mutating call (default true): report what would be done, after the read-only
    /// safety checks.
    pub dry_run: bool,
    /// Explicit confirmation for destructive actions (`--yes`; default false).
    pub confirmed: bool,
    /// The tag an instance must carry to be terminated; also put on launched instances.
    pub cluster_tag: TagMatch,
    /// Require the cluster tag on volumes too before deleting them (default false: a zombie
    /// volume must only be `available`).
    pub volume_needs_tag: bool,
    /// What to launch.
    pub launch: LaunchSpec,
}

impl AwsExecutorConfig {
    /// A dry-run, unconfirmed configuration for a cluster tag.
    pub fn new(cluster_tag: TagMatch) -> Self {
        AwsExecutorConfig {
            dry_run: true,
            confirmed: false,
            cluster_tag,
            volume_needs_tag: false,
            launch: LaunchSpec {
                on_demand_fallback: true,
                ..Default::default()
            },
        }
    }

    /// Sets dry run.
    #[must_use]
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets explicit confirmation of destructive actions.
    #[must_use]
    pub fn with_confirmed(mut self, confirmed: bool) -> Self {
        self.confirmed = confirmed;
        self
    }

    /// Sets what to launch.
    #[must_use]
    pub fn with_launch(mut self, launch: LaunchSpec) -> Self {
        self.launch = launch;
        self
    }

    /// Requires the cluster tag on volumes before deleting them.
    #[must_use]
    pub fn with_volume_needs_tag(mut self, yes: bool) -> Self {
        self.volume_needs_tag = yes;
        self
    }
}

/// Carries out `launch_replacement` (RunInstances, spot with on-demand fallback, tagged at
/// launch), `terminate_instance` (TerminateInstances: confirmation and the cluster tag needed)
/// and `delete_volume` (DeleteVolume: confirmation needed, the volume must be `available`).
/// Every other action is skipped. Every action is logged with what, why and the
/// recommendation id ([`AwsExecutor::log`]).
pub struct AwsExecutor {
    client: Client,
    cfg: AwsExecutorConfig,
    log: Arc<Mutex<Vec<String>>>,
    subnets: Mutex<Option<Vec<(String, String)>>>,
}

/// Spot capacity errors after which the launch is retried on demand.
const CAPACITY_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientCapacity",
    "SpotMaxPriceTooLow",
    "MaxSpotInstanceCountExceeded",
];

fn api(action: &str, e: AwsError) -> ExecError {
    let status = match &e {
        AwsError::Api { status, .. } => *status,
        AwsError::Credentials { .. } => 401,
        AwsError::Forbidden { .. } => 403,
        _ => 0,
    };
    ExecError::Api {
        action: action.to_string(),
        status,
        message: e.to_string(),
    }
}

impl AwsExecutor {
    /// An executor on an existing client.
    pub fn new(client: Client, cfg: AwsExecutorConfig) -> Self {
        AwsExecutor {
            client,
            cfg,
            log: Arc::new(Mutex::new(Vec::new())),
            subnets: Mutex::new(None),
        }
    }

    /// An executor with the standard AWS chain (region override optional).
    pub async fn from_env(region: Option<&str>, cfg: AwsExecutorConfig) -> Self {
        let conf = sdk_config(region, None).await;
        AwsExecutor::new(Client::new(&conf), cfg)
    }

    /// Log lines so far: `[dry-run] terminate_instance i-… — why [rec]: detail`.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn record(&self, step: &Step, detail: &str) {
        let line = format!(
            "{}{}: {detail}",
            if self.cfg.dry_run { "[dry-run] " } else { "" },
            step.log_line()
        );
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }

    async fn launch(
        &self,
        step: &Step,
        instance_type: &str,
        zone: Option<&str>,
        capacity_type: &str,
    ) -> Result<Status, ExecError> {
        let action = step.action.name();
        let spec = &self.cfg.launch;
        if spec.image_id.is_none() && spec.launch_template.is_none() {
            return Err(ExecError::Refused {
                action: action.into(),
                reason: "no AMI or launch template configured for replacement capacity".into(),
            });
        }
        let spot = capacity_type == "spot";
        if self.cfg.dry_run {
            let detail = format!(
                "would launch {instance_type} ({}) in {}{}",
                if spot && spec.on_demand_fallback {
                    "spot, on-demand if spot capacity is short"
                } else if spot {
                    "spot"
                } else {
                    "on-demand"
                },
                zone.unwrap_or("any zone"),
                spec.launch_template
                    .as_deref()
                    .map(|t| format!(" from launch template {t}"))
                    .unwrap_or_default()
            );
            self.record(step, &detail);
            return Ok(Status::DryRun);
        }
        let first = self.run_instances(step, instance_type, zone, spot).await;
        let (id, market) = match first {
            Ok(id) => (id, if spot { "spot" } else { "on-demand" }),
            Err(e)
                if spot
                    && spec.on_demand_fallback
                    && e.aws_code().is_some_and(|c| CAPACITY_CODES.contains(&c)) =>
            {
                self.record(
                    step,
                    &format!("spot capacity short ({e}); falling back to on-demand"),
                );
                let id = self
                    .run_instances(step, instance_type, zone, false)
                    .await
                    .map_err(|e| api(action, e))?;
                (id, "on-demand (spot capacity short)")
            }
            Err(e) => return Err(api(action, e)),
        };
        let detail = format!("launched {id} {instance_type} {market}");
        self.record(step, &detail);
        Ok(Status::Done { detail })
    }

    async fn run_instances(
        &self,
        step: &Step,
        instance_type: &str,
        zone: Option<&str>,
        spot: bool,
    ) -> Result<String> {
        let spec = &self.cfg.launch;
        let mut tag_list = vec![
            Tag::builder()
                .key(&self.cfg.cluster_tag.key)
                .value(self.cfg.cluster_tag.value.as_deref().unwrap_or("owned"))
                .build(),
            Tag::builder()
                .key("cloudoptim.io/launched-by")
                .value("cloudoptim")
                .build(),
        ];
        if let Some(r) = &step.recommendation_id {
            tag_list.push(
                Tag::builder()
                    .key("cloudoptim.io/recommendation")
                    .value(r)
                    .build(),
            );
        }
        for (k, v) in &spec.tags {
            tag_list.push(Tag::builder().key(k).value(v).build());
        }
        let mut req = self
            .client
            .run_instances()
            .min_count(1)
            .max_count(1)
            .instance_type(InstanceType::from(instance_type))
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(tag_list))
                    .build(),
            );
        if let Some(img) = &spec.image_id {
            req = req.image_id(img);
        }
        if let Some(lt) = &spec.launch_template {
            let (template, version) = parse_launch_template(lt);
            let b = LaunchTemplateSpecification::builder().version(version);
            let b = if is_launch_template_id(&template) {
                b.launch_template_id(template)
            } else {
                b.launch_template_name(template)
            };
            req = req.launch_template(b.build());
        }
        let listed = self.subnet_zones().await?;
        let in_zone = zone.and_then(|z| {
            spec.subnets.get(z).cloned().or_else(|| {
                listed
                    .iter()
                    .find(|(_, sz)| sz == z)
                    .map(|(id, _)| id.clone())
            })
        });
        match (in_zone, zone) {
            (Some(subnet), _) => req = req.subnet_id(subnet),
            (None, Some(z)) if listed.is_empty() => {
                req = req.placement(Placement::builder().availability_zone(z).build());
            }
            // no subnet in that zone: the first one given (its zone wins)
            (None, _) => {
                if let Some((id, _)) = listed.first() {
                    req = req.subnet_id(id);
                }
            }
        }
        for sg in &spec.security_group_ids {
            req = req.security_group_ids(sg);
        }
        if spot {
            req = req.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .spot_instance_type(SpotInstanceType::OneTime)
                            .instance_interruption_behavior(InstanceInterruptionBehavior::Terminate)
                            .build(),
                    )
                    .build(),
            );
        }
        let out = req.send().await.map_err(|e| classify("RunInstances", e))?;
        Ok(out
            .instances()
            .iter()
            .filter_map(|i| i.instance_id())
            .collect::<Vec<_>>()
            .join(","))
    }

    /// The configured `subnet_ids` with their zones, in the order given (looked up once).
    async fn subnet_zones(&self) -> Result<Vec<(String, String)>> {
        let ids = &self.cfg.launch.subnet_ids;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if let Ok(cache) = self.subnets.lock()
            && let Some(c) = cache.as_ref()
        {
            return Ok(c.clone());
        }
        let out = self
            .client
            .describe_subnets()
            .set_subnet_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(|e| classify("DescribeSubnets", e))?;
        let zones: BTreeMap<String, String> = out
            .subnets()
            .iter()
            .filter_map(|s| {
                Some((
                    s.subnet_id()?.to_string(),
                    s.availability_zone()?.to_string(),
                ))
            })
            .collect();
        let listed: Vec<(String, String)> = ids
            .iter()
            .map(|id| (id.clone(), zones.get(id).cloned().unwrap_or_default()))
            .collect();
        if let Ok(mut cache) = self.subnets.lock() {
            *cache = Some(listed.clone());
        }
        Ok(listed)
    }

    async fn terminate(&self, step: &Step, instance_id: &str) -> Result<Status, ExecError> {
        let action = step.action.name();
        if !self.cfg.confirmed && !self.cfg.dry_run {
            return Err(ExecError::NotConfirmed {
                action: format!("{action} {instance_id}"),
            });
        }
        let out = self
            .client
            .describe_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| api(action, classify("DescribeInstances", e)))?;
        let Some(inst) = out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .find(|i| i.instance_id() == Some(instance_id))
        else {
            return Err(ExecError::Refused {
                action: format!("{action} {instance_id}"),
                reason: "instance not found".into(),
            });
        };
        if !self.cfg.cluster_tag.matches(inst.tags()) {
            return Err(ExecError::Refused {
                action: format!("{action} {instance_id}"),
                reason: format!(
                    "instance does not carry the cluster tag {}",
                    self.cfg.cluster_tag.describe()
                ),
            });
        }
        let state = inst
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default();
        if state == "terminated" || state == "shutting-down" {
            let reason = format!("already {state}");
            self.record(step, &reason);
            return Ok(Status::Skipped { reason });
        }
        if self.cfg.dry_run {
            self.record(step, &format!("would terminate {instance_id} ({state})"));
            return Ok(Status::DryRun);
        }
        let out = self
            .client
            .terminate_instances()
            .instance_ids(instance_id)
            .send()
            .await
            .map_err(|e| api(action, classify("TerminateInstances", e)))?;
        let now = out
            .terminating_instances()
            .iter()
            .filter_map(|c| c.current_state().and_then(|s| s.name()))
            .map(|n| n.as_str().to_string())
            .next()
            .unwrap_or_else(|| "terminating".into());
        let detail = format!("{instance_id} {state} → {now}");
        self.record(step, &detail);
        Ok(Status::Done { detail })
    }

    async fn delete_volume(&self, step: &Step, volume_id: &str) -> Result<Status, ExecError> {
        let action = step.action.name();
        if !self.cfg.confirmed && !self.cfg.dry_run {
            return Err(ExecError::NotConfirmed {
                action: format!("{action} {volume_id}"),
            });
        }
        let out = self
            .client
            .describe_volumes()
            .volume_ids(volume_id)
            .send()
            .await
            .map_err(|e| {
                let e = classify("DescribeVolumes", e);
                if e.aws_code() == Some("InvalidVolume.NotFound") {
                    ExecError::Refused {
                        action: format!("{action} {volume_id}"),
                        reason: "volume not found".into(),
                    }
                } else {
                    api(action, e)
                }
            })?;
        let Some(vol) = out
            .volumes()
            .iter()
            .find(|v| v.volume_id() == Some(volume_id))
        else {
            return Err(ExecError::Refused {
                action: format!("{action} {volume_id}"),
                reason: "volume not found".into(),
            });
        };
        let state = vol.state().map(|s| s.as_str()).unwrap_or("");
        if state != "available" {
            return Err(ExecError::Refused {
                action: format!("{action} {volume_id}"),
                reason: format!("volume is {state}, not available (it is attached or changing)"),
            });
        }
        if self.cfg.volume_needs_tag && !self.cfg.cluster_tag.matches(vol.tags()) {
            return Err(ExecError::Refused {
                action: format!("{action} {volume_id}"),
                reason: format!(
                    "volume does not carry the cluster tag {}",
                    self.cfg.cluster_tag.describe()
                ),
            });
        }
        if self.cfg.dry_run {
            self.record(step, &format!("would delete {volume_id} (available)"));
            return Ok(Status::DryRun);
        }
        self.client
            .delete_volume()
            .volume_id(volume_id)
            .send()
            .await
            .map_err(|e| api(action, classify("DeleteVolume", e)))?;
        let detail = format!("deleted {volume_id}");
        self.record(step, &detail);
        Ok(Status::Done { detail })
    }
}

impl Executor for AwsExecutor {
    fn name(&self) -> &str {
        "aws"
    }

    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status, ExecError>> {
        use crate::executor::Action;
        Box::pin(async move {
            match &step.action {
                Action::LaunchReplacement {
                    instance_type,
                    zone,
                    capacity_type,
                } => {
                    self.launch(step, instance_type, zone.as_deref(), capacity_type)
                        .await
                }
                Action::TerminateInstance { instance_id } => {
                    self.terminate(step, instance_id).await
                }
                Action::DeleteVolume { volume_id } => self.delete_volume(step, volume_id).await,
                _ => Ok(Status::Skipped {
                    reason: "not an EC2 action".into(),
                }),
            }
        })
    }
}

/// An SDK interceptor that records the EC2 API actions a client sends (`RunInstances`, ...),
/// read from the query-protocol body; for audits and for checking calls against an IAM policy.
#[derive(Debug, Clone, Default)]
pub struct CallRecorder {
    calls: Arc<Mutex<Vec<String>>>,
}

impl CallRecorder {
    /// A new, empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The actions recorded so far, in order (one per attempt).
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl aws_sdk_ec2::config::Intercept for CallRecorder {
    fn name(&self) -> &'static str {
        "cloudoptim-call-recorder"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_ec2::config::RuntimeComponents,
        _cfg: &mut aws_sdk_ec2::config::ConfigBag,
    ) -> std::result::Result<(), aws_sdk_ec2::error::BoxError> {
        let body = context
            .request()
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        if let Some(action) = body
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(String::from)
            && let Ok(mut c) = self.calls.lock()
        {
            c.push(action);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_template_names_ids_and_versions() {
        assert_eq!(
            parse_launch_template("nodes:3"),
            ("nodes".to_string(), "3".to_string())
        );
        assert_eq!(
            parse_launch_template("lt-0abc12345678def90"),
            ("lt-0abc12345678def90".to_string(), "$Default".to_string())
        );
        assert_eq!(
            parse_launch_template("nodes:$Latest"),
            ("nodes".to_string(), "$Latest".to_string())
        );
        assert!(is_launch_template_id("lt-0abc12345678def90"));
        // a name that happens to start with `lt-` is still a name
        assert!(!is_launch_template_id("lt-workers"));
        assert!(!is_launch_template_id("workers"));
    }
}
