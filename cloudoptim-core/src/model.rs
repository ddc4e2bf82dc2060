//! The cluster model: what the analyzers, the solver and the cost model read.
//!
//! It is built by the loaders (from `kubectl … -o json` dumps, AWS CLI output and metrics)
//! or by the demo generator, and is independent of where the data came from.

use std::collections::{BTreeMap, HashMap};
use std::ops::{Add, AddAssign, Sub};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A vector of resources in integer units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_milli: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Ephemeral storage in bytes.
    #[serde(default)]
    pub ephemeral_storage_bytes: i64,
    /// GPUs (`nvidia.com/gpu`, `amd.com/gpu`, `aws.amazon.com/neuron`).
    #[serde(default)]
    pub gpus: i64,
    /// Pod slots.
    #[serde(default)]
    pub pods: i64,
}

impl Resources {
    /// A vector with only CPU and memory set.
    pub fn new(cpu_milli: i64, memory_bytes: i64) -> Self {
        Resources {
            cpu_milli,
            memory_bytes,
            ..Default::default()
        }
    }

    /// Component-wise maximum.
    pub fn max(self, other: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli.max(other.cpu_milli),
            memory_bytes: self.memory_bytes.max(other.memory_bytes),
            ephemeral_storage_bytes: self
                .ephemeral_storage_bytes
                .max(other.ephemeral_storage_bytes),
            gpus: self.gpus.max(other.gpus),
            pods: self.pods.max(other.pods),
        }
    }

    /// Whether every component of `self` is at most the one of `other`.
    pub fn fits_in(&self, other: &Resources) -> bool {
        self.cpu_milli <= other.cpu_milli
            && self.memory_bytes <= other.memory_bytes
            && self.ephemeral_storage_bytes <= other.ephemeral_storage_bytes
            && self.gpus <= other.gpus
            && self.pods <= other.pods
    }
}

impl Add for Resources {
    type Output = Resources;
    fn add(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli + o.cpu_milli,
            memory_bytes: self.memory_bytes + o.memory_bytes,
            ephemeral_storage_bytes: self.ephemeral_storage_bytes + o.ephemeral_storage_bytes,
            gpus: self.gpus + o.gpus,
            pods: self.pods + o.pods,
        }
    }
}

impl AddAssign for Resources {
    fn add_assign(&mut self, o: Resources) {
        *self = *self + o;
    }
}

impl Sub for Resources {
    type Output = Resources;
    fn sub(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli - o.cpu_milli,
            memory_bytes: self.memory_bytes - o.memory_bytes,
            ephemeral_storage_bytes: self.ephemeral_storage_bytes - o.ephemeral_storage_bytes,
            gpus: self.gpus - o.gpus,
            pods: self.pods - o.pods,
        }
    }
}

impl std::iter::Sum for Resources {
    fn sum<I: Iterator<Item = Resources>>(iter: I) -> Resources {
        iter.fold(Resources::default(), |a, b| a + b)
    }
}

/// How a node is billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CapacityType {
    /// On-demand pricing.
    OnDemand,
    /// Spot pricing.
    Spot,
    /// Not known from the labels.
    Unknown,
}

/// Who provisions a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NodeOwner {
    /// An EKS managed node group (`eks.amazonaws.com/nodegroup`).
    ManagedNodeGroup(String),
    /// A Karpenter NodePool (`karpenter.sh/nodepool`, or the older `karpenter.sh/provisioner-name`).
    NodePool(String),
    /// An eksctl node group (`alpha.eksctl.io/nodegroup-name`).
    EksctlNodeGroup(String),
    /// A self-managed group known only by a label (`node-group`, `nodegroup`).
    SelfManaged(String),
    /// Nothing says.
    Unknown,
}

impl NodeOwner {
    /// The group or pool name, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            NodeOwner::ManagedNodeGroup(n)
            | NodeOwner::NodePool(n)
            | NodeOwner::EksctlNodeGroup(n)
            | NodeOwner::SelfManaged(n) => Some(n),
            NodeOwner::Unknown => None,
        }
    }
}

/// A node taint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taint {
    /// Taint key.
    pub key: String,
    /// Taint value (empty when absent).
    #[serde(default)]
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// A pod toleration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Toleration {
    /// Key (empty with `Exists` tolerates everything).
    #[serde(default)]
    pub key: String,
    /// `Equal` (default) or `Exists`.
    pub operator: String,
    /// Value for `Equal`.
    #[serde(default)]
    pub value: String,
    /// Effect (empty matches all effects).
    #[serde(default)]
    pub effect: String,
}

impl Toleration {
    /// Whether this toleration tolerates `taint`, with the scheduler's rules.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if self.key.is_empty() {
            return self.operator == "Exists";
        }
        if self.key != taint.key {
            return false;
        }
        match self.operator.as_str() {
            "Exists" => true,
            _ => self.value == taint.value,
        }
    }
}

/// One requirement of a label selector or node selector term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// Label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt`, `Lt`.
    pub operator: String,
    /// Values.
    #[serde(default)]
    pub values: Vec<String>,
}

impl Requirement {
    /// Whether `labels` satisfy the requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.key);
        match self.operator.as_str() {
            "In" => v.is_some_and(|v| self.values.contains(v)),
            "NotIn" => v.is_none_or(|v| !self.values.contains(v)),
            "Exists" => v.is_some(),
            "DoesNotExist" => v.is_none(),
            "Gt" | "Lt" => {
                let (Some(v), Some(bound)) = (
                    v.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|b| b.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.operator == "Gt" {
                    v > bound
                } else {
                    v < bound
                }
            }
            _ => false,
        }
    }
}

/// A label selector (`matchLabels` and `matchExpressions`, ANDed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSelector {
    /// Exact label matches.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions.
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    /// Whether `labels` match. An empty selector matches everything.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Whether the selector has no terms.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// A required node-affinity term (terms are ORed, requirements inside are ANDed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSelectorTerm {
    /// Requirements on node labels.
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
    /// Requirements on node fields (`metadata.name`).
    #[serde(default)]
    pub match_fields: Vec<Requirement>,
}

/// A pod (anti-)affinity term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodAffinityTerm {
    /// Which pods the term is about.
    pub label_selector: LabelSelector,
    /// Topology domain key (`kubernetes.io/hostname`, `topology.kubernetes.io/zone`).
    pub topology_key: String,
    /// Namespaces the selector applies to (empty: the pod's own).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Weight for preferred terms (0 for required).
    #[serde(default)]
    pub weight: i32,
}

/// Scheduling constraints of a pod, as the scheduler reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affinity {
    /// `requiredDuringSchedulingIgnoredDuringExecution` node selector terms (ORed).
    #[serde(default)]
    pub node_required: Vec<NodeSelectorTerm>,
    /// Preferred node terms with weights.
    #[serde(default)]
    pub node_preferred: Vec<(i32, NodeSelectorTerm)>,
    /// Required pod affinity.
    #[serde(default)]
    pub pod_affinity_required: Vec<PodAffinityTerm>,
    /// Preferred pod affinity.
    #[serde(default)]
    pub pod_affinity_preferred: Vec<PodAffinityTerm>,
    /// Required pod anti-affinity.
    #[serde(default)]
    pub pod_anti_affinity_required: Vec<PodAffinityTerm>,
    /// Preferred pod anti-affinity.
    #[serde(default)]
    pub pod_anti_affinity_preferred: Vec<PodAffinityTerm>,
}

/// A topology spread constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologySpread {
    /// Maximum allowed skew.
    pub max_skew: i32,
    /// Topology key.
    pub topology_key: String,
    /// `DoNotSchedule` or `ScheduleAnyway`.
    pub when_unsatisfiable: String,
    /// Which pods are counted.
    pub label_selector: LabelSelector,
    /// Minimum number of domains, if set.
    #[serde(default)]
    pub min_domains: Option<i32>,
}

/// A node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Node name.
    pub name: String,
    /// EC2 instance type (`node.kubernetes.io/instance-type`).
    pub instance_type: Option<String>,
    /// Availability zone.
    pub zone: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// CPU architecture (`amd64`, `arm64`).
    pub arch: Option<String>,
    /// How the node is billed.
    pub capacity_type: CapacityType,
    /// Node group or NodePool.
    pub owner: NodeOwner,
    /// Raw capacity.
    pub capacity: Resources,
    /// Allocatable resources.
    pub allocatable: Resources,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// `spec.providerID`.
    pub provider_id: Option<String>,
    /// EC2 instance id from the provider id.
    pub instance_id: Option<String>,
    /// Creation time.
    pub created: Option<Timestamp>,
    /// Cordoned.
    pub unschedulable: bool,
    /// Ready condition true.
    pub ready: bool,
}

/// The last termination of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Termination {
    /// Reason (`OOMKilled`, `Error`, `Completed`).
    pub reason: Option<String>,
    /// Exit code.
    pub exit_code: i32,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
}

/// A container with its resources and status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// Name.
    pub name: String,
    /// Image.
    pub image: Option<String>,
    /// Requests (unset components are zero).
    pub requests: Resources,
    /// Limits (unset components are zero).
    pub limits: Resources,
    /// Which limits are set.
    pub has_cpu_limit: bool,
    /// Whether a memory limit is set.
    pub has_memory_limit: bool,
    /// Restart count.
    pub restart_count: i32,
    /// The last termination, if any.
    pub last_termination: Option<Termination>,
    /// Whether this is a restartable init container (a sidecar).
    #[serde(default)]
    pub sidecar: bool,
}

/// A reference to a controller or workload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkloadRef {
    /// Kind (`Deployment`, `StatefulSet`, …).
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind.as_str(), self.name)
    }
}

/// A pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pod {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID.
    pub uid: Option<String>,
    /// Node it runs on.
    pub node_name: Option<String>,
    /// Phase (`Running`, `Pending`, `Succeeded`, `Failed`).
    pub phase: String,
    /// Direct controller (`ownerReferences` with `controller: true`).
    pub controller: Option<(String, String)>,
    /// The workload that owns it, resolved through ReplicaSets and Jobs.
    pub workload: Option<WorkloadRef>,
    /// Whether `workload` was inferred from naming because the ReplicaSet or Job was not in the dump.
    #[serde(default)]
    pub workload_inferred: bool,
    /// Containers.
    pub containers: Vec<Container>,
    /// Init containers.
    pub init_containers: Vec<Container>,
    /// `spec.overhead`.
    pub overhead: Resources,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// `spec.nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// Affinity.
    pub affinity: Affinity,
    /// Topology spread constraints.
    pub topology_spread: Vec<TopologySpread>,
    /// Priority.
    pub priority: i32,
    /// Priority class name.
    pub priority_class: Option<String>,
    /// Uses local storage (`emptyDir` not in memory, or `hostPath`).
    pub local_storage: bool,
    /// Names of PVCs it mounts.
    pub pvc_names: Vec<String>,
    /// Creation time.
    pub created: Option<Timestamp>,
}

impl Pod {
    /// Effective requests as the scheduler computes them:
    /// max(sum of containers + sidecars, largest init container) + overhead, plus one pod slot.
    pub fn requests(&self) -> Resources {
        let sidecars: Resources = self
            .init_containers
            .iter()
            .filter(|c| c.sidecar)
            .map(|c| c.requests)
            .sum();
        let app: Resources = self
            .containers
            .iter()
            .map(|c| c.requests)
            .sum::<Resources>()
            + sidecars;
        let init = self
            .init_containers
            .iter()
            .filter(|c| !c.sidecar)
            .map(|c| c.requests)
            .fold(Resources::default(), Resources::max);
        let mut r = app.max(init) + self.overhead;
        r.pods = 1;
        r
    }

    /// `karpenter.sh/do-not-disrupt: "true"` (or a duration) is set.
    pub fn do_not_disrupt(&self) -> bool {
        self.annotations
            .get("karpenter.sh/do-not-disrupt")
            .is_some_and(|v| !v.is_empty() && v != "false")
    }

    /// `cluster-autoscaler.kubernetes.io/safe-to-evict`, when set.
    pub fn safe_to_evict(&self) -> Option<bool> {
        self.annotations
            .get("cluster-autoscaler.kubernetes.io/safe-to-evict")
            .map(|v| v == "true")
    }

    /// Whether the pod is a DaemonSet pod.
    pub fn is_daemonset(&self) -> bool {
        self.controller
            .as_ref()
            .is_some_and(|(k, _)| k == "DaemonSet")
    }

    /// Whether the pod is still running or waiting to run.
    pub fn is_active(&self) -> bool {
        self.phase != "Succeeded" && self.phase != "Failed"
    }
}

/// Kinds of workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// apps/v1 ReplicaSet not owned by a Deployment.
    ReplicaSet,
    /// batch/v1 Job not owned by a CronJob.
    Job,
    /// batch/v1 CronJob.
    CronJob,
    /// A pod with no controller.
    Pod,
    /// A controller kind cloudoptim does not model (an operator's CRD).
    Other,
}

impl WorkloadKind {
    /// The Kubernetes kind name.
    pub fn as_str(&self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Other => "Other",
        }
    }

    /// Parses a Kubernetes kind name; unknown kinds become `Other`.
    pub fn from_kind(kind: &str) -> WorkloadKind {
        match kind {
            "Deployment" => WorkloadKind::Deployment,
            "StatefulSet" => WorkloadKind::StatefulSet,
            "DaemonSet" => WorkloadKind::DaemonSet,
            "ReplicaSet" => WorkloadKind::ReplicaSet,
            "Job" => WorkloadKind::Job,
            "CronJob" => WorkloadKind::CronJob,
            "Pod" => WorkloadKind::Pod,
            _ => WorkloadKind::Other,
        }
    }
}

/// A container template of a workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Name.
    pub name: String,
    /// Requests.
    pub requests: Resources,
    /// Limits.
    pub limits: Resources,
    /// Whether a CPU limit is set.
    pub has_cpu_limit: bool,
    /// Whether a memory limit is set.
    pub has_memory_limit: bool,
}

/// A workload (Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Kind.
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Desired replicas (None for DaemonSets, Jobs and CronJobs).
    pub replicas: Option<i32>,
    /// Pod selector.
    pub selector: LabelSelector,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Containers of the pod template.
    pub containers: Vec<ContainerSpec>,
    /// Controller owning this object (a Deployment for a ReplicaSet, a CronJob for a Job).
    pub owner: Option<(String, String)>,
    /// CronJob schedule.
    pub schedule: Option<String>,
    /// The HPA that scales it, if any (`namespace/name`).
    pub hpa: Option<String>,
}

impl Workload {
    /// The reference to this workload.
    pub fn reference(&self) -> WorkloadRef {
        WorkloadRef {
            kind: self.kind,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// A HorizontalPodAutoscaler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hpa {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Scale target kind and name.
    pub target_kind: String,
    /// Scale target name.
    pub target_name: String,
    /// Minimum replicas.
    pub min_replicas: i32,
    /// Maximum replicas.
    pub max_replicas: i32,
    /// Resource metrics it scales on (`cpu`, `memory`) with target average utilisation in percent.
    pub resource_targets: Vec<(String, Option<i32>)>,
    /// Current replicas.
    pub current_replicas: Option<i32>,
}

/// A PersistentVolumeClaim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pvc {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Requested bytes.
    pub requested_bytes: i64,
    /// Bound PV name.
    pub volume_name: Option<String>,
    /// Phase.
    pub phase: Option<String>,
}

/// A PersistentVolume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pv {
    /// Name.
    pub name: String,
    /// Capacity in bytes.
    pub capacity_bytes: i64,
    /// Storage class.
    pub storage_class: Option<String>,
    /// Bound claim (`namespace/name`).
    pub claim: Option<String>,
    /// CSI driver or in-tree plugin (`ebs.csi.aws.com`, `kubernetes.io/aws-ebs`).
    pub driver: Option<String>,
    /// EBS volume id, when the PV is an EBS volume.
    pub volume_id: Option<String>,
    /// Phase (`Bound`, `Released`, `Available`, `Failed`).
    pub phase: Option<String>,
    /// Reclaim policy.
    pub reclaim_policy: Option<String>,
}

/// A PodDisruptionBudget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pdb {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Selector.
    pub selector: LabelSelector,
    /// `minAvailable` as written (`2` or `50%`).
    pub min_available: Option<String>,
    /// `maxUnavailable` as written.
    pub max_unavailable: Option<String>,
    /// `status.disruptionsAllowed`, when the status was captured.
    pub disruptions_allowed: Option<i32>,
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Namespace {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A point-in-time usage reading (metrics.k8s.io).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageReading {
    /// When.
    pub timestamp: Option<Timestamp>,
    /// Averaging window in seconds.
    pub window_seconds: Option<f64>,
    /// CPU millicores (rounded up from nanocores).
    pub cpu_milli: i64,
    /// Memory working set bytes.
    pub memory_bytes: i64,
}

/// metrics.k8s.io readings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsSnapshot {
    /// Per node.
    pub nodes: BTreeMap<String, UsageReading>,
    /// Per container: `namespace/pod/container`.
    pub containers: BTreeMap<String, UsageReading>,
}

/// Usage history of one container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerUsage {
    /// `(unix seconds, cores)` samples.
    pub cpu: Vec<(i64, f64)>,
    /// `(unix seconds, bytes)` samples.
    pub memory: Vec<(i64, f64)>,
}

/// Key of a container in usage history.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContainerKey {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
}

/// Usage history, from Prometheus or generated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageHistory {
    /// Per container.
    #[serde(with = "container_map")]
    pub containers: HashMap<ContainerKey, ContainerUsage>,
}

mod container_map {
    use super::{ContainerKey, ContainerUsage};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::{BTreeMap, HashMap};

    pub fn serialize<S: Serializer>(
        m: &HashMap<ContainerKey, ContainerUsage>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let sorted: BTreeMap<String, &ContainerUsage> = m
            .iter()
            .map(|(k, v)| (format!("{}/{}/{}", k.namespace, k.pod, k.container), v))
            .collect();
        sorted.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<HashMap<ContainerKey, ContainerUsage>, D::Error> {
        let raw = BTreeMap::<String, ContainerUsage>::deserialize(d)?;
        let mut out = HashMap::new();
        for (k, v) in raw {
            let mut parts = k.splitn(3, '/');
            let (Some(ns), Some(pod), Some(c)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(serde::de::Error::custom(format!(
                    "usage key {k:?} is not namespace/pod/container"
                )));
            };
            out.insert(
                ContainerKey {
                    namespace: ns.into(),
                    pod: pod.into(),
                    container: c.into(),
                },
                v,
            );
        }
        Ok(out)
    }
}

impl UsageHistory {
    /// Number of containers with history.
    pub fn len(&self) -> usize {
        self.containers.len()
    }

    /// Whether there is no history.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
    }

    /// Merges another history into this one (samples appended, then sorted and deduplicated).
    pub fn merge(&mut self, other: UsageHistory) {
        for (k, v) in other.containers {
            let e = self.containers.entry(k).or_default();
            e.cpu.extend(v.cpu);
            e.memory.extend(v.memory);
            e.cpu.sort_by_key(|s| s.0);
            e.cpu.dedup_by_key(|s| s.0);
            e.memory.sort_by_key(|s| s.0);
            e.memory.dedup_by_key(|s| s.0);
        }
    }
}

/// An EC2 instance from `describe-instances`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ec2Instance {
    /// Instance id.
    pub instance_id: String,
    /// Instance type.
    pub instance_type: String,
    /// Availability zone.
    pub zone: Option<String>,
    /// State (`running`, `stopped`, …).
    pub state: String,
    /// `spot` when `InstanceLifecycle` says so.
    pub spot: bool,
    /// Launch time.
    pub launch_time: Option<Timestamp>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
    /// Private DNS name (the node name on EKS with the default naming).
    pub private_dns_name: Option<String>,
    /// Architecture as EC2 names it (`x86_64`, `arm64`).
    pub architecture: Option<String>,
}

/// An EBS volume from `describe-volumes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EbsVolume {
    /// Volume id.
    pub volume_id: String,
    /// Size in GiB.
    pub size_gib: i64,
    /// Type (`gp2`, `gp3`, `io1`, `io2`, `st1`, `sc1`, `standard`).
    pub volume_type: String,
    /// State (`available` means unattached).
    pub state: String,
    /// Availability zone.
    pub zone: Option<String>,
    /// Provisioned IOPS.
    pub iops: Option<i64>,
    /// Provisioned throughput (MiB/s).
    pub throughput: Option<i64>,
    /// Creation time.
    pub create_time: Option<Timestamp>,
    /// Instances it is attached to.
    pub attached_to: Vec<String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// One spot price record from `describe-spot-price-history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotPricePoint {
    /// Instance type.
    pub instance_type: String,
    /// Availability zone.
    pub zone: String,
    /// Product description (`Linux/UNIX`).
    pub product: String,
    /// USD per hour.
    pub price: f64,
    /// When the price took effect.
    pub timestamp: Timestamp,
}

/// AWS-side inventory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AwsInventory {
    /// EC2 instances.
    pub instances: Vec<Ec2Instance>,
    /// EBS volumes.
    pub volumes: Vec<EbsVolume>,
    /// Spot price history.
    pub spot_prices: Vec<SpotPricePoint>,
}

impl AwsInventory {
    /// Whether nothing was loaded.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.volumes.is_empty() && self.spot_prices.is_empty()
    }
}

/// A Service: which pods it selects and how it routes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Pod selector (empty: no selector, endpoints managed by hand).
    pub selector: BTreeMap<String, String>,
    /// `spec.trafficDistribution` (`PreferClose`).
    pub traffic_distribution: Option<String>,
    /// `spec.internalTrafficPolicy` (`Local`, `Cluster`).
    pub internal_traffic_policy: Option<String>,
    /// The `service.kubernetes.io/topology-mode` annotation (`Auto`).
    pub topology_mode: Option<String>,
}

/// Bytes sent from a workload to a Service over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrafficFlow {
    /// Source `namespace/workload`.
    pub source: String,
    /// Destination `namespace/service`.
    pub destination: String,
    /// Bytes over the window (both directions).
    pub bytes: f64,
    /// Window in seconds.
    pub window_seconds: f64,
}

/// A whole cluster snapshot: Kubernetes objects, AWS inventory, metrics and usage history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Cluster name (from the caller, the `alpha.eksctl.io/cluster-name` or
    /// `eks:cluster-name` tags, or the file name).
    pub name: String,
    /// Region, when known.
    pub region: Option<String>,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Pods.
    pub pods: Vec<Pod>,
    /// Workloads.
    pub workloads: Vec<Workload>,
    /// HPAs.
    pub hpas: Vec<Hpa>,
    /// PVCs.
    pub pvcs: Vec<Pvc>,
    /// PVs.
    pub pvs: Vec<Pv>,
    /// PDBs.
    pub pdbs: Vec<Pdb>,
    /// Namespaces.
    pub namespaces: Vec<Namespace>,
    /// metrics.k8s.io readings.
    pub metrics: MetricsSnapshot,
    /// AWS inventory.
    pub aws: AwsInventory,
    /// Usage history.
    pub usage: UsageHistory,
    /// Services.
    #[serde(default)]
    pub services: Vec<Service>,
    /// Traffic between workloads and Services.
    #[serde(default)]
    pub traffic: Vec<TrafficFlow>,
}

impl Cluster {
    /// Node by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Active pods on a node.
    pub fn pods_on<'a>(&'a self, node: &'a str) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods
            .iter()
            .filter(move |p| p.is_active() && p.node_name.as_deref() == Some(node))
    }

    /// Workload by reference.
    pub fn workload(&self, r: &WorkloadRef) -> Option<&Workload> {
        self.workloads
            .iter()
            .find(|w| w.kind == r.kind && w.namespace == r.namespace && w.name == r.name)
    }

    /// Namespace by name.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.name == name)
    }

    /// A short count of what the snapshot holds.
    pub fn summary(&self) -> ClusterSummary {
        ClusterSummary {
            name: self.name.clone(),
            region: self.region.clone(),
            nodes: self.nodes.len(),
            pods: self.pods.len(),
            workloads: self.workloads.len(),
            namespaces: self.namespaces.len(),
            hpas: self.hpas.len(),
            pvcs: self.pvcs.len(),
            pvs: self.pvs.len(),
            pdbs: self.pdbs.len(),
            ec2_instances: self.aws.instances.len(),
            ebs_volumes: self.aws.volumes.len(),
            spot_price_points: self.aws.spot_prices.len(),
            containers_with_usage: self.usage.len(),
        }
    }
}

/// Counts of what a cluster snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterSummary {
    /// Cluster name.
    pub name: String,
    /// Region.
    pub region: Option<String>,
    /// Nodes.
    pub nodes: usize,
    /// Pods.
    pub pods: usize,
    /// Workloads.
    pub workloads: usize,
    /// Namespaces.
    pub namespaces: usize,
    /// HPAs.
    pub hpas: usize,
    /// PVCs.
    pub pvcs: usize,
    /// PVs.
    pub pvs: usize,
    /// PDBs.
    pub pdbs: usize,
    /// EC2 instances.
    pub ec2_instances: usize,
    /// EBS volumes.
    pub ebs_volumes: usize,
    /// Spot price records.
    pub spot_price_points: usize,
    /// Containers with usage history.
    pub containers_with_usage: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn toleration_rules() {
        let taint = Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        };
        let eq = Toleration {
            key: "dedicated".into(),
            operator: "Equal".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        };
        assert!(eq.tolerates(&taint));
        let wrong = Toleration {
            value: "cpu".into(),
            ..eq.clone()
        };
        assert!(!wrong.tolerates(&taint));
        let all = Toleration {
            key: String::new(),
            operator: "Exists".into(),
            value: String::new(),
            effect: String::new(),
        };
        assert!(all.tolerates(&taint));
        let other_effect = Toleration {
            effect: "NoExecute".into(),
            ..eq
        };
        assert!(!other_effect.tolerates(&taint));
    }

    #[test]
    fn selector_rules() {
        let sel = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![
                Requirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: vec!["a".into(), "b".into()],
                },
                Requirement {
                    key: "size".into(),
                    operator: "Gt".into(),
                    values: vec!["3".into()],
                },
            ],
        };
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "b"), ("size", "4")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "c"), ("size", "4")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "a"), ("size", "3")])));
        assert!(LabelSelector::default().matches(&labels(&[])));
    }

    #[test]
    fn pod_requests_follow_scheduler_rules() {
        let c = |cpu, mem, sidecar| Container {
            name: "c".into(),
            image: None,
            requests: Resources::new(cpu, mem),
            limits: Resources::default(),
            has_cpu_limit: false,
            has_memory_limit: false,
            restart_count: 0,
            last_termination: None,
            sidecar,
        };
        let pod = Pod {
            namespace: "ns".into(),
            name: "p".into(),
            uid: None,
            node_name: None,
            phase: "Running".into(),
            controller: None,
            workload: None,
            workload_inferred: false,
            containers: vec![c(100, 100, false), c(200, 50, false)],
            init_containers: vec![c(500, 10, false), c(50, 20, true)],
            overhead: Resources::new(10, 0),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            tolerations: vec![],
            node_selector: BTreeMap::new(),
            affinity: Affinity::default(),
            topology_spread: vec![],
            priority: 0,
            priority_class: None,
            local_storage: false,
            pvc_names: vec![],
            created: None,
        };
        let r = pod.requests();
        assert_eq!(r.cpu_milli, 510);
        assert_eq!(r.memory_bytes, 170);
        assert_eq!(r.pods, 1);
    }
}
