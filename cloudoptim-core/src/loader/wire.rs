//! Wire shapes of the Kubernetes, metrics and AWS CLI documents, as serde reads them.
//!
//! Only the fields cloudoptim uses are declared; everything else is ignored. Quantities are
//! parsed while deserialising, so a broken one is reported with its exact field path.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::quantity::Quantity;

/// A quantity read from a string (or a bare YAML number, as the API server accepts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WQuantity(pub Quantity);

impl<'de> Deserialize<'de> for WQuantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let text = match &v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                return Err(serde::de::Error::custom(format!(
                    "expected a quantity string, found {}",
                    kind_of(other)
                )));
            }
        };
        Quantity::parse(&text)
            .map(WQuantity)
            .map_err(serde::de::Error::custom)
    }
}

pub(crate) fn kind_of(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A timestamp kept as text; parsed later so that placeholders become warnings, not failures.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub(crate) struct WTime(pub String);

/// A value that may be an integer or a string (`IntOrString`).
#[derive(Debug, Clone)]
pub(crate) struct WIntOrString(pub String);

impl<'de> Deserialize<'de> for WIntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(WIntOrString(s)),
            serde_json::Value::Number(n) if n.is_i64() => Ok(WIntOrString(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected an integer or a percentage string, found {}",
                kind_of(&other)
            ))),
        }
    }
}

pub(crate) type WResourceList = BTreeMap<String, WQuantity>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WOwnerRef {
    pub kind: String,
    pub name: String,
    pub controller: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WMeta {
    pub name: String,
    pub namespace: Option<String>,
    pub uid: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Vec<WOwnerRef>,
    pub creation_timestamp: Option<WTime>,
}

impl WMeta {
    pub fn controller(&self) -> Option<(String, String)> {
        self.owner_references
            .iter()
            .find(|o| o.controller == Some(true))
            .or_else(|| self.owner_references.first())
            .map(|o| (o.kind.clone(), o.name.clone()))
    }
}

// ---------- selectors and scheduling ----------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WRequirement {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WLabelSelector {
    pub match_labels: BTreeMap<String, String>,
    pub match_expressions: Vec<WRequirement>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNodeSelectorTerm {
    pub match_expressions: Vec<WRequirement>,
    pub match_fields: Vec<WRequirement>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNodeSelector {
    pub node_selector_terms: Vec<WNodeSelectorTerm>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPreferredNodeTerm {
    pub weight: i32,
    pub preference: WNodeSelectorTerm,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNodeAffinity {
    pub required_during_scheduling_ignored_during_execution: Option<WNodeSelector>,
    pub preferred_during_scheduling_ignored_during_execution: Vec<WPreferredNodeTerm>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPodAffinityTerm {
    pub label_selector: Option<WLabelSelector>,
    pub topology_key: String,
    pub namespaces: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WWeightedPodAffinityTerm {
    pub weight: i32,
    pub pod_affinity_term: WPodAffinityTerm,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPodAffinity {
    pub required_during_scheduling_ignored_during_execution: Vec<WPodAffinityTerm>,
    pub preferred_during_scheduling_ignored_during_execution: Vec<WWeightedPodAffinityTerm>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WAffinity {
    pub node_affinity: Option<WNodeAffinity>,
    pub pod_affinity: Option<WPodAffinity>,
    pub pod_anti_affinity: Option<WPodAffinity>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WTopologySpread {
    pub max_skew: i32,
    pub topology_key: String,
    pub when_unsatisfiable: String,
    pub label_selector: Option<WLabelSelector>,
    pub min_domains: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WToleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WTaint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

// ---------- pods ----------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WResourceRequirements {
    pub requests: WResourceList,
    pub limits: WResourceList,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WContainer {
    pub name: String,
    pub image: Option<String>,
    pub resources: WResourceRequirements,
    pub restart_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WEmptyDir {
    pub medium: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPvcSource {
    pub claim_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WVolume {
    pub name: String,
    pub empty_dir: Option<WEmptyDir>,
    pub host_path: Option<serde_json::Value>,
    pub persistent_volume_claim: Option<WPvcSource>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPodSpec {
    pub node_name: Option<String>,
    pub containers: Vec<WContainer>,
    pub init_containers: Vec<WContainer>,
    pub overhead: WResourceList,
    pub tolerations: Vec<WToleration>,
    pub node_selector: BTreeMap<String, String>,
    pub affinity: Option<WAffinity>,
    pub topology_spread_constraints: Vec<WTopologySpread>,
    pub priority: Option<i32>,
    pub priority_class_name: Option<String>,
    pub volumes: Vec<WVolume>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WTerminated {
    pub reason: Option<String>,
    pub exit_code: i32,
    pub finished_at: Option<WTime>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WContainerState {
    pub terminated: Option<WTerminated>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WContainerStatus {
    pub name: String,
    pub restart_count: i32,
    pub last_state: WContainerState,
    pub state: WContainerState,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPodStatus {
    pub phase: Option<String>,
    pub container_statuses: Vec<WContainerStatus>,
    pub init_container_statuses: Vec<WContainerStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPod {
    pub metadata: WMeta,
    pub spec: WPodSpec,
    pub status: WPodStatus,
}

// ---------- nodes ----------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNodeSpec {
    #[serde(rename = "providerID")]
    pub provider_id: Option<String>,
    pub taints: Vec<WTaint>,
    pub unschedulable: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNodeInfo {
    pub architecture: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNodeStatus {
    pub capacity: WResourceList,
    pub allocatable: WResourceList,
    pub conditions: Vec<WCondition>,
    pub node_info: WNodeInfo,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNode {
    pub metadata: WMeta,
    pub spec: WNodeSpec,
    pub status: WNodeStatus,
}

// ---------- workloads ----------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPodTemplate {
    pub metadata: WMeta,
    pub spec: WPodSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WWorkloadSpec {
    pub replicas: Option<i32>,
    pub selector: Option<WLabelSelector>,
    pub template: WPodTemplate,
    pub schedule: Option<String>,
    pub job_template: Option<WJobTemplate>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WJobTemplate {
    pub spec: WJobSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WJobSpec {
    pub template: WPodTemplate,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WWorkload {
    pub metadata: WMeta,
    pub spec: WWorkloadSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WScaleTarget {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WMetricTarget {
    pub average_utilization: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WResourceMetric {
    pub name: String,
    pub target: WMetricTarget,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WHpaMetric {
    #[serde(rename = "type")]
    pub type_: String,
    pub resource: Option<WResourceMetric>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WHpaSpec {
    pub scale_target_ref: WScaleTarget,
    pub min_replicas: Option<i32>,
    pub max_replicas: i32,
    pub metrics: Vec<WHpaMetric>,
    #[serde(rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WHpaStatus {
    pub current_replicas: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WHpa {
    pub metadata: WMeta,
    pub spec: WHpaSpec,
    pub status: WHpaStatus,
}

// ---------- storage, PDBs, namespaces ----------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPvcSpec {
    pub storage_class_name: Option<String>,
    pub resources: WResourceRequirements,
    pub volume_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPhase {
    pub phase: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPvc {
    pub metadata: WMeta,
    pub spec: WPvcSpec,
    pub status: WPhase,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WClaimRef {
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WCsi {
    pub driver: String,
    pub volume_handle: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WAwsEbs {
    #[serde(rename = "volumeID")]
    pub volume_id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPvSpec {
    pub capacity: WResourceList,
    pub storage_class_name: Option<String>,
    pub claim_ref: Option<WClaimRef>,
    pub csi: Option<WCsi>,
    pub aws_elastic_block_store: Option<WAwsEbs>,
    pub persistent_volume_reclaim_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPv {
    pub metadata: WMeta,
    pub spec: WPvSpec,
    pub status: WPhase,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPdbSpec {
    pub selector: Option<WLabelSelector>,
    pub min_available: Option<WIntOrString>,
    pub max_unavailable: Option<WIntOrString>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPdbStatus {
    pub disruptions_allowed: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPdb {
    pub metadata: WMeta,
    pub spec: WPdbSpec,
    pub status: WPdbStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WServiceSpec {
    pub selector: BTreeMap<String, String>,
    pub traffic_distribution: Option<String>,
    pub internal_traffic_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WService {
    pub metadata: WMeta,
    pub spec: WServiceSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNamespace {
    pub metadata: WMeta,
}

// ---------- metrics ----------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WNodeMetrics {
    pub metadata: WMeta,
    pub timestamp: Option<WTime>,
    pub window: Option<String>,
    pub usage: WResourceList,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WContainerMetrics {
    pub name: String,
    pub usage: WResourceList,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPodMetrics {
    pub metadata: WMeta,
    pub timestamp: Option<WTime>,
    pub window: Option<String>,
    pub containers: Vec<WContainerMetrics>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WStatsCpu {
    pub time: Option<WTime>,
    pub usage_nano_cores: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WStatsMemory {
    pub working_set_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WStatsContainer {
    pub name: String,
    pub cpu: WStatsCpu,
    pub memory: WStatsMemory,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WStatsNode {
    pub node_name: String,
    pub cpu: WStatsCpu,
    pub memory: WStatsMemory,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WPodRef {
    pub name: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WStatsPod {
    pub pod_ref: WPodRef,
    pub containers: Vec<WStatsContainer>,
}

/// kubelet `/stats/summary`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WStatsSummary {
    pub node: WStatsNode,
    pub pods: Vec<WStatsPod>,
}

// ---------- AWS CLI ----------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct WTag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct WPlacement {
    pub availability_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct WState {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WInstance {
    pub instance_id: String,
    pub instance_type: String,
    #[serde(default)]
    pub placement: WPlacement,
    #[serde(default)]
    pub state: WState,
    #[serde(default)]
    pub instance_lifecycle: Option<String>,
    #[serde(default)]
    pub launch_time: Option<WTime>,
    #[serde(default)]
    pub tags: Vec<WTag>,
    #[serde(default)]
    pub private_dns_name: Option<String>,
    #[serde(default)]
    pub architecture: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct WReservation {
    pub instances: Vec<WInstance>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WDescribeInstances {
    pub reservations: Vec<WReservation>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct WAttachment {
    pub instance_id: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WVolumeAws {
    pub volume_id: String,
    pub size: i64,
    pub volume_type: String,
    pub state: String,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default)]
    pub iops: Option<i64>,
    #[serde(default)]
    pub throughput: Option<i64>,
    #[serde(default)]
    pub create_time: Option<WTime>,
    #[serde(default)]
    pub attachments: Vec<WAttachment>,
    #[serde(default)]
    pub tags: Vec<WTag>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WDescribeVolumes {
    pub volumes: Vec<WVolumeAws>,
}

/// A spot price: the AWS CLI writes it as a string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WPrice(pub f64);

impl<'de> Deserialize<'de> for WPrice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        let parsed = match &v {
            serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
            serde_json::Value::Number(n) => n.as_f64(),
            _ => None,
        };
        match parsed {
            Some(p) if p.is_finite() && p >= 0.0 => Ok(WPrice(p)),
            _ => Err(serde::de::Error::custom(format!(
                "expected a non-negative price, found {v}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WSpotPrice {
    pub availability_zone: String,
    pub instance_type: String,
    #[serde(default)]
    pub product_description: String,
    pub spot_price: WPrice,
    pub timestamp: WTime,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct WDescribeSpotPriceHistory {
    pub spot_price_history: Vec<WSpotPrice>,
}

// ---------- Prometheus ----------

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WPromResponse {
    pub status: String,
    pub data: WPromData,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WPromData {
    pub result_type: String,
    pub result: Vec<WPromSeries>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct WPromSeries {
    pub metric: BTreeMap<String, String>,
    #[serde(default)]
    pub values: Vec<(f64, WSample)>,
    #[serde(default)]
    pub value: Option<(f64, WSample)>,
}

/// A sample value as Prometheus writes it (a string), parsed while reading so a week of
/// samples does not become a string each.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum WSample {
    /// A number.
    Number(f64),
    /// `NaN`, `+Inf`, `-Inf`: no reading.
    NotFinite,
    /// Not a number; kept for the error message.
    Invalid(String),
}

impl<'de> Deserialize<'de> for WSample {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = WSample;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a sample value as a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WSample, E> {
                Ok(match v {
                    "NaN" | "+Inf" | "-Inf" => WSample::NotFinite,
                    other => match other.parse::<f64>() {
                        Ok(x) => WSample::Number(x),
                        Err(_) => WSample::Invalid(other.to_string()),
                    },
                })
            }
        }
        d.deserialize_str(V)
    }
}
