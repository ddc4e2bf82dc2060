//! Turns classified documents into the cluster model, and resolves owners and HPAs at the end.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use jiff::Timestamp;
use serde_json::Value;

use super::wire::*;
use super::{LoadError, Result, typed};
use crate::model::*;

#[derive(Default)]
pub(crate) struct Builder {
    nodes: Vec<Node>,
    pods: Vec<Pod>,
    workloads: Vec<Workload>,
    hpas: Vec<Hpa>,
    pvcs: Vec<Pvc>,
    pvs: Vec<Pv>,
    pdbs: Vec<Pdb>,
    namespaces: Vec<Namespace>,
    services: Vec<Service>,
    metrics: MetricsSnapshot,
    pub(crate) aws: AwsInventory,
    pub(crate) usage: UsageHistory,
    skipped: BTreeMap<String, usize>,
    warnings: Vec<String>,
}

fn object_id(kind: &str, v: &Value) -> String {
    let meta = v.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>");
    match meta
        .and_then(|m| m.get("namespace"))
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

fn resources(list: &WResourceList) -> Resources {
    let get = |k: &str| list.get(k).map(|q| q.0);
    let gpus = ["nvidia.com/gpu", "amd.com/gpu", "aws.amazon.com/neuron"]
        .iter()
        .filter_map(|k| get(k))
        .map(|q| q.value())
        .sum();
    Resources {
        cpu_milli: get("cpu").map(|q| q.milli_value()).unwrap_or(0),
        memory_bytes: get("memory").map(|q| q.value()).unwrap_or(0),
        ephemeral_storage_bytes: get("ephemeral-storage").map(|q| q.value()).unwrap_or(0),
        gpus,
        pods: get("pods").map(|q| q.value()).unwrap_or(0),
    }
}

/// Parses a Go duration such as `30s`, `1m30s` or `10.114s` into seconds.
pub fn parse_go_duration_seconds(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(total)
}

fn selector(s: Option<WLabelSelector>) -> LabelSelector {
    let s = s.unwrap_or_default();
    LabelSelector {
        match_labels: s.match_labels,
        match_expressions: s.match_expressions.into_iter().map(requirement).collect(),
    }
}

fn requirement(r: WRequirement) -> Requirement {
    Requirement {
        key: r.key,
        operator: r.operator,
        values: r.values,
    }
}

fn node_term(t: WNodeSelectorTerm) -> NodeSelectorTerm {
    NodeSelectorTerm {
        match_expressions: t.match_expressions.into_iter().map(requirement).collect(),
        match_fields: t.match_fields.into_iter().map(requirement).collect(),
    }
}

fn pod_term(t: WPodAffinityTerm, weight: i32) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: selector(t.label_selector),
        topology_key: t.topology_key,
        namespaces: t.namespaces,
        weight,
    }
}

fn affinity(a: Option<WAffinity>) -> Affinity {
    let Some(a) = a else {
        return Affinity::default();
    };
    let mut out = Affinity::default();
    if let Some(na) = a.node_affinity {
        out.node_required = na
            .required_during_scheduling_ignored_during_execution
            .map(|s| s.node_selector_terms.into_iter().map(node_term).collect())
            .unwrap_or_default();
        out.node_preferred = na
            .preferred_during_scheduling_ignored_during_execution
            .into_iter()
            .map(|p| (p.weight, node_term(p.preference)))
            .collect();
    }
    let split = |pa: Option<WPodAffinity>| -> (Vec<PodAffinityTerm>, Vec<PodAffinityTerm>) {
        let Some(pa) = pa else {
            return (vec![], vec![]);
        };
        (
            pa.required_during_scheduling_ignored_during_execution
                .into_iter()
                .map(|t| pod_term(t, 0))
                .collect(),
            pa.preferred_during_scheduling_ignored_during_execution
                .into_iter()
                .map(|w| pod_term(w.pod_affinity_term, w.weight))
                .collect(),
        )
    };
    (out.pod_affinity_required, out.pod_affinity_preferred) = split(a.pod_affinity);
    (
        out.pod_anti_affinity_required,
        out.pod_anti_affinity_preferred,
    ) = split(a.pod_anti_affinity);
    out
}

fn container_spec(c: &WContainer) -> ContainerSpec {
    ContainerSpec {
        name: c.name.clone(),
        requests: resources(&c.resources.requests),
        limits: resources(&c.resources.limits),
        has_cpu_limit: c.resources.limits.contains_key("cpu"),
        has_memory_limit: c.resources.limits.contains_key("memory"),
    }
}

/// Requests default to limits when only limits are set, as the API server does.
fn effective_requests(c: &WContainer) -> Resources {
    let mut req = resources(&c.resources.requests);
    let lim = resources(&c.resources.limits);
    for (key, r, l) in [
        ("cpu", &mut req.cpu_milli, lim.cpu_milli),
        ("memory", &mut req.memory_bytes, lim.memory_bytes),
        (
            "ephemeral-storage",
            &mut req.ephemeral_storage_bytes,
            lim.ephemeral_storage_bytes,
        ),
    ] {
        if !c.resources.requests.contains_key(key) && c.resources.limits.contains_key(key) {
            *r = l;
        }
    }
    if req.gpus == 0 {
        req.gpus = lim.gpus;
    }
    req
}

impl Builder {
    pub(crate) fn is_empty(&self) -> bool {
        self.nodes.is_empty()
            && self.pods.is_empty()
            && self.workloads.is_empty()
            && self.hpas.is_empty()
            && self.pvcs.is_empty()
            && self.pvs.is_empty()
            && self.pdbs.is_empty()
            && self.namespaces.is_empty()
            && self.services.is_empty()
            && self.metrics.nodes.is_empty()
            && self.metrics.containers.is_empty()
            && self.aws.is_empty()
            && self.usage.is_empty()
    }

    fn time(
        &mut self,
        path: &Path,
        object: &str,
        field: &str,
        t: Option<WTime>,
    ) -> Option<Timestamp> {
        let t = t?;
        if t.0.is_empty() {
            return None;
        }
        match t.0.parse::<Timestamp>() {
            Ok(ts) => Some(ts),
            Err(_) => {
                self.warnings.push(format!(
                    "{}: {object}: field `{field}`: {:?} is not an RFC 3339 time; ignored",
                    path.display(),
                    t.0
                ));
                None
            }
        }
    }

    pub(crate) fn add_document(&mut self, path: &Path, index: usize, doc: Value) -> Result<()> {
        let Value::Object(map) = &doc else {
            if let Value::Array(items) = doc {
                for (i, item) in items.into_iter().enumerate() {
                    self.add_document(path, index * 100_000 + i, item)?;
                }
                return Ok(());
            }
            return Err(LoadError::Unrecognized {
                path: path.to_path_buf(),
                message: format!("document {} is {}, not an object", index + 1, kind_of(&doc)),
            });
        };
        if let Some(kind) = map.get("kind").and_then(Value::as_str) {
            let kind = kind.to_string();
            if kind == "List" || kind.ends_with("List") {
                let item_kind = kind.strip_suffix("List").unwrap_or("").to_string();
                let Value::Object(mut map) = doc else {
                    return Ok(());
                };
                let items = match map.remove("items") {
                    Some(Value::Array(items)) => items,
                    Some(Value::Null) | None => vec![],
                    Some(other) => {
                        return Err(LoadError::Field {
                            path: path.to_path_buf(),
                            object: kind,
                            field: "items".into(),
                            message: format!("expected an array, found {}", kind_of(&other)),
                        });
                    }
                };
                for (i, item) in items.into_iter().enumerate() {
                    let k = match item.get("kind").and_then(Value::as_str) {
                        Some(k) => k.to_string(),
                        None if !item_kind.is_empty() => item_kind.clone(),
                        None => {
                            return Err(LoadError::Field {
                                path: path.to_path_buf(),
                                object: format!("{kind} item {i}"),
                                field: "kind".into(),
                                message: "missing: a `List` item must say its kind".into(),
                            });
                        }
                    };
                    self.add_object(path, &k, item)?;
                }
                return Ok(());
            }
            return self.add_object(path, &kind, doc);
        }
        if map.contains_key("Reservations") {
            let w: WDescribeInstances = typed(path, "describe-instances output", doc)?;
            for r in w.reservations {
                for i in r.instances {
                    let object = format!("EC2 instance {}", i.instance_id);
                    let launch = self.time(path, &object, "LaunchTime", i.launch_time);
                    self.aws.instances.push(Ec2Instance {
                        instance_id: i.instance_id,
                        instance_type: i.instance_type,
                        zone: i.placement.availability_zone,
                        state: i.state.name,
                        spot: i.instance_lifecycle.as_deref() == Some("spot"),
                        launch_time: launch,
                        tags: i.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                        private_dns_name: i.private_dns_name.filter(|s| !s.is_empty()),
                        architecture: i.architecture,
                    });
                }
            }
            return Ok(());
        }
        if map.contains_key("Volumes") {
            let w: WDescribeVolumes = typed(path, "describe-volumes output", doc)?;
            for v in w.volumes {
                let object = format!("EBS volume {}", v.volume_id);
                let created = self.time(path, &object, "CreateTime", v.create_time);
                self.aws.volumes.push(EbsVolume {
                    volume_id: v.volume_id,
                    size_gib: v.size,
                    volume_type: v.volume_type,
                    state: v.state,
                    zone: v.availability_zone,
                    iops: v.iops,
                    throughput: v.throughput,
                    create_time: created,
                    attached_to: v
                        .attachments
                        .into_iter()
                        .filter(|a| a.state.as_deref() != Some("detached"))
                        .filter_map(|a| a.instance_id)
                        .collect(),
                    tags: v.tags.into_iter().map(|t| (t.key, t.value)).collect(),
                });
            }
            return Ok(());
        }
        if map.contains_key("SpotPriceHistory") {
            let w: WDescribeSpotPriceHistory =
                typed(path, "describe-spot-price-history output", doc)?;
            for (i, p) in w.spot_price_history.into_iter().enumerate() {
                let ts = p
                    .timestamp
                    .0
                    .parse::<Timestamp>()
                    .map_err(|e| LoadError::Field {
                        path: path.to_path_buf(),
                        object: format!("spot price {} {}", p.instance_type, p.availability_zone),
                        field: format!("SpotPriceHistory[{i}].Timestamp"),
                        message: e.to_string(),
                    })?;
                self.aws.spot_prices.push(SpotPricePoint {
                    instance_type: p.instance_type,
                    zone: p.availability_zone,
                    product: p.product_description,
                    price: p.spot_price.0,
                    timestamp: ts,
                });
            }
            return Ok(());
        }
        if map.contains_key("data") && map.contains_key("status") {
            return self.add_prometheus(path, doc);
        }
        if map.contains_key("node") && map.contains_key("pods") {
            let s: WStatsSummary = typed(path, "kubelet stats summary", doc)?;
            let node_object = format!("stats summary of node {}", s.node.node_name);
            let node_ts = self.time(path, &node_object, "node.cpu.time", s.node.cpu.time);
            self.metrics.nodes.insert(
                s.node.node_name.clone(),
                UsageReading {
                    timestamp: node_ts,
                    window_seconds: None,
                    cpu_milli: nanos_to_milli(s.node.cpu.usage_nano_cores.unwrap_or(0)),
                    memory_bytes: s.node.memory.working_set_bytes.unwrap_or(0) as i64,
                },
            );
            for p in s.pods {
                for c in p.containers {
                    let ts = self.time(
                        path,
                        &node_object,
                        "pods[].containers[].cpu.time",
                        c.cpu.time,
                    );
                    self.metrics.containers.insert(
                        format!("{}/{}/{}", p.pod_ref.namespace, p.pod_ref.name, c.name),
                        UsageReading {
                            timestamp: ts,
                            window_seconds: None,
                            cpu_milli: nanos_to_milli(c.cpu.usage_nano_cores.unwrap_or(0)),
                            memory_bytes: c.memory.working_set_bytes.unwrap_or(0) as i64,
                        },
                    );
                }
            }
            return Ok(());
        }
        Err(LoadError::Unrecognized {
            path: path.to_path_buf(),
            message: format!(
                "document {} has no `kind` and is not AWS CLI, Prometheus or kubelet output",
                index + 1
            ),
        })
    }

    fn add_prometheus(&mut self, path: &Path, doc: Value) -> Result<()> {
        let r: WPromResponse = typed(path, "Prometheus response", doc)?;
        self.add_prometheus_response(path, r)
    }

    /// Reads a whole file as one Prometheus `query_range` response straight from its text,
    /// without the intermediate JSON tree (usage history is most of a large snapshot's bytes).
    /// `Ok(false)` when the text is not one such response: the caller reads it the general way,
    /// which also gives the errors.
    pub(crate) fn try_add_prometheus_text(&mut self, path: &Path, text: &str) -> Result<bool> {
        let head = &text.as_bytes()[..text.len().min(4096)];
        if !text.trim_start().starts_with('{') || !head.windows(12).any(|w| w == b"\"resultType\"")
        {
            return Ok(false);
        }
        match serde_json::from_str::<WPromResponse>(text) {
            Ok(r) => self.add_prometheus_response(path, r).map(|()| true),
            Err(_) => Ok(false),
        }
    }

    fn add_prometheus_response(&mut self, path: &Path, r: WPromResponse) -> Result<()> {
        if r.status != "success" {
            return Err(LoadError::Field {
                path: path.to_path_buf(),
                object: "Prometheus response".into(),
                field: "status".into(),
                message: format!("query did not succeed (status {:?})", r.status),
            });
        }
        if r.data.result_type != "matrix" && r.data.result_type != "vector" {
            return Err(LoadError::Field {
                path: path.to_path_buf(),
                object: "Prometheus response".into(),
                field: "data.resultType".into(),
                message: format!("expected matrix or vector, found {:?}", r.data.result_type),
            });
        }
        let file_name = path
            .file_name()
            .map(|f| f.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        for (i, s) in r.data.result.into_iter().enumerate() {
            let name = s.metric.get("__name__").map(|n| n.to_lowercase());
            let hint = name.as_deref().unwrap_or(&file_name);
            let is_cpu = hint.contains("cpu");
            let is_mem = hint.contains("mem");
            if is_cpu == is_mem {
                return Err(LoadError::Field {
                    path: path.to_path_buf(),
                    object: format!("series {i}"),
                    field: "metric.__name__".into(),
                    message: "cannot tell CPU from memory: keep `__name__`, or name the file *cpu*.json or *memory*.json".into(),
                });
            }
            let (Some(ns), Some(pod)) = (s.metric.get("namespace"), s.metric.get("pod")) else {
                return Err(LoadError::Field {
                    path: path.to_path_buf(),
                    object: format!("series {i}"),
                    field: "metric".into(),
                    message: "a series needs `namespace` and `pod` labels".into(),
                });
            };
            let container = s.metric.get("container").cloned().unwrap_or_default();
            if container.is_empty() || container == "POD" {
                continue; // pod-level cgroup or pause container
            }
            let key = ContainerKey {
                namespace: ns.clone(),
                pod: pod.clone(),
                container,
            };
            let mut samples = Vec::with_capacity(s.values.len());
            for (j, (ts, val)) in s.values.into_iter().chain(s.value).enumerate() {
                let v: f64 = match val {
                    WSample::NotFinite => continue,
                    WSample::Number(x) => x,
                    WSample::Invalid(val) => {
                        return Err(LoadError::Field {
                            path: path.to_path_buf(),
                            object: format!("series {i} ({ns}/{pod})"),
                            field: format!("data.result[{i}].values[{j}]"),
                            message: format!("{val:?} is not a number"),
                        });
                    }
                };
                samples.push((ts as i64, v));
            }
            let mut h = UsageHistory::default();
            let entry = h.containers.entry(key).or_default();
            if is_cpu {
                entry.cpu = samples;
            } else {
                entry.memory = samples;
            }
            self.usage.merge(h);
        }
        Ok(())
    }

    fn add_object(&mut self, path: &Path, kind: &str, v: Value) -> Result<()> {
        let object = object_id(kind, &v);
        match kind {
            "Node" => {
                let n: WNode = typed(path, &object, v)?;
                let node = self.node(path, &object, n);
                self.nodes.push(node);
            }
            "Pod" => {
                let p: WPod = typed(path, &object, v)?;
                let pod = self.pod(path, &object, p);
                self.pods.push(pod);
            }
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob" => {
                let w: WWorkload = typed(path, &object, v)?;
                self.workloads.push(workload(kind, w));
            }
            "HorizontalPodAutoscaler" => {
                let h: WHpa = typed(path, &object, v)?;
                let mut targets: Vec<(String, Option<i32>)> = h
                    .spec
                    .metrics
                    .iter()
                    .filter(|m| m.type_ == "Resource")
                    .filter_map(|m| m.resource.as_ref())
                    .map(|r| (r.name.clone(), r.target.average_utilization))
                    .collect();
                if let Some(p) = h.spec.target_cpu_utilization_percentage {
                    targets.push(("cpu".into(), Some(p)));
                }
                self.hpas.push(Hpa {
                    namespace: h.metadata.namespace.unwrap_or_default(),
                    name: h.metadata.name,
                    target_kind: h.spec.scale_target_ref.kind,
                    target_name: h.spec.scale_target_ref.name,
                    min_replicas: h.spec.min_replicas.unwrap_or(1),
                    max_replicas: h.spec.max_replicas,
                    resource_targets: targets,
                    current_replicas: h.status.current_replicas,
                });
            }
            "PersistentVolumeClaim" => {
                let c: WPvc = typed(path, &object, v)?;
                self.pvcs.push(Pvc {
                    namespace: c.metadata.namespace.unwrap_or_default(),
                    name: c.metadata.name,
                    storage_class: c.spec.storage_class_name,
                    requested_bytes: resources(&c.spec.resources.requests)
                        .ephemeral_storage_bytes
                        .max(
                            c.spec
                                .resources
                                .requests
                                .get("storage")
                                .map(|q| q.0.value())
                                .unwrap_or(0),
                        ),
                    volume_name: c.spec.volume_name.filter(|s| !s.is_empty()),
                    phase: c.status.phase,
                });
            }
            "PersistentVolume" => {
                let p: WPv = typed(path, &object, v)?;
                let (driver, volume_id) = match (&p.spec.csi, &p.spec.aws_elastic_block_store) {
                    (Some(csi), _) => (
                        Some(csi.driver.clone()),
                        (csi.driver == "ebs.csi.aws.com").then(|| csi.volume_handle.clone()),
                    ),
                    (None, Some(ebs)) => (
                        Some("kubernetes.io/aws-ebs".to_string()),
                        ebs.volume_id.rsplit('/').next().map(str::to_string),
                    ),
                    _ => (None, None),
                };
                self.pvs.push(Pv {
                    name: p.metadata.name,
                    capacity_bytes: p
                        .spec
                        .capacity
                        .get("storage")
                        .map(|q| q.0.value())
                        .unwrap_or(0),
                    storage_class: p.spec.storage_class_name,
                    claim: p
                        .spec
                        .claim_ref
                        .map(|c| format!("{}/{}", c.namespace.unwrap_or_default(), c.name)),
                    driver,
                    volume_id,
                    phase: p.status.phase,
                    reclaim_policy: p.spec.persistent_volume_reclaim_policy,
                });
            }
            "PodDisruptionBudget" => {
                let p: WPdb = typed(path, &object, v)?;
                self.pdbs.push(Pdb {
                    namespace: p.metadata.namespace.unwrap_or_default(),
                    name: p.metadata.name,
                    selector: selector(p.spec.selector),
                    min_available: p.spec.min_available.map(|v| v.0),
                    max_unavailable: p.spec.max_unavailable.map(|v| v.0),
                    disruptions_allowed: p.status.disruptions_allowed,
                });
            }
            "Service" => {
                let sv: WService = typed(path, &object, v)?;
                self.services.push(Service {
                    namespace: sv
                        .metadata
                        .namespace
                        .clone()
                        .unwrap_or_else(|| "default".into()),
                    topology_mode: sv
                        .metadata
                        .annotations
                        .get("service.kubernetes.io/topology-mode")
                        .or_else(|| {
                            sv.metadata
                                .annotations
                                .get("service.kubernetes.io/topology-aware-hints")
                        })
                        .cloned(),
                    name: sv.metadata.name,
                    selector: sv.spec.selector,
                    traffic_distribution: sv.spec.traffic_distribution,
                    internal_traffic_policy: sv.spec.internal_traffic_policy,
                });
            }
            "Namespace" => {
                let n: WNamespace = typed(path, &object, v)?;
                self.namespaces.push(Namespace {
                    name: n.metadata.name,
                    labels: n.metadata.labels,
                    annotations: n.metadata.annotations,
                });
            }
            "NodeMetrics" => {
                let m: WNodeMetrics = typed(path, &object, v)?;
                let ts = self.time(path, &object, "timestamp", m.timestamp);
                let r = resources(&m.usage);
                self.metrics.nodes.insert(
                    m.metadata.name,
                    UsageReading {
                        timestamp: ts,
                        window_seconds: m.window.as_deref().and_then(parse_go_duration_seconds),
                        cpu_milli: r.cpu_milli,
                        memory_bytes: r.memory_bytes,
                    },
                );
            }
            "PodMetrics" => {
                let m: WPodMetrics = typed(path, &object, v)?;
                let ts = self.time(path, &object, "timestamp", m.timestamp);
                let ns = m.metadata.namespace.unwrap_or_default();
                for c in m.containers {
                    let r = resources(&c.usage);
                    self.metrics.containers.insert(
                        format!("{ns}/{}/{}", m.metadata.name, c.name),
                        UsageReading {
                            timestamp: ts,
                            window_seconds: m.window.as_deref().and_then(parse_go_duration_seconds),
                            cpu_milli: r.cpu_milli,
                            memory_bytes: r.memory_bytes,
                        },
                    );
                }
            }
            other => {
                *self.skipped.entry(other.to_string()).or_default() += 1;
            }
        }
        Ok(())
    }

    fn node(&mut self, path: &Path, object: &str, n: WNode) -> Node {
        let labels = n.metadata.labels;
        let label = |k: &str| labels.get(k).cloned();
        let instance_type = label("node.kubernetes.io/instance-type")
            .or_else(|| label("beta.kubernetes.io/instance-type"));
        let capacity_type = match label("karpenter.sh/capacity-type")
            .or_else(|| label("eks.amazonaws.com/capacityType"))
            .or_else(|| label("node.kubernetes.io/lifecycle"))
            .or_else(|| label("lifecycle"))
            .map(|s| s.to_ascii_lowercase())
            .as_deref()
        {
            Some("spot" | "ec2spot") => CapacityType::Spot,
            Some("on-demand" | "on_demand" | "ondemand" | "normal") => CapacityType::OnDemand,
            _ => CapacityType::Unknown,
        };
        let owner = if let Some(g) = label("eks.amazonaws.com/nodegroup") {
            NodeOwner::ManagedNodeGroup(g)
        } else if let Some(p) =
            label("karpenter.sh/nodepool").or_else(|| label("karpenter.sh/provisioner-name"))
        {
            NodeOwner::NodePool(p)
        } else if let Some(g) = label("alpha.eksctl.io/nodegroup-name") {
            NodeOwner::EksctlNodeGroup(g)
        } else if let Some(g) = label("node-group").or_else(|| label("nodegroup")) {
            NodeOwner::SelfManaged(g)
        } else {
            NodeOwner::Unknown
        };
        // aws:///us-east-1a/i-0123 → zone and instance id
        let (pid_zone, instance_id) = match n.spec.provider_id.as_deref() {
            Some(pid) if pid.starts_with("aws://") => {
                let parts: Vec<&str> = pid.trim_start_matches("aws://").split('/').collect();
                let id = parts
                    .iter()
                    .rev()
                    .find(|p| p.starts_with("i-"))
                    .map(|s| s.to_string());
                let zone = parts
                    .iter()
                    .find(|p| !p.is_empty() && !p.starts_with("i-"))
                    .map(|s| s.to_string());
                (zone, id)
            }
            _ => (None, None),
        };
        let zone = label("topology.kubernetes.io/zone")
            .or_else(|| label("failure-domain.beta.kubernetes.io/zone"))
            .or(pid_zone);
        let region = label("topology.kubernetes.io/region")
            .or_else(|| label("failure-domain.beta.kubernetes.io/region"))
            .or_else(|| {
                zone.as_ref().map(|z| {
                    z.trim_end_matches(|c: char| c.is_ascii_lowercase())
                        .to_string()
                })
            });
        let arch = label("kubernetes.io/arch")
            .or_else(|| label("beta.kubernetes.io/arch"))
            .or(n.status.node_info.architecture);
        let created = self.time(
            path,
            object,
            "metadata.creationTimestamp",
            n.metadata.creation_timestamp,
        );
        Node {
            name: n.metadata.name,
            instance_type,
            zone,
            region,
            arch,
            capacity_type,
            owner,
            capacity: resources(&n.status.capacity),
            allocatable: resources(&n.status.allocatable),
            taints: n
                .spec
                .taints
                .into_iter()
                .map(|t| Taint {
                    key: t.key,
                    value: t.value.unwrap_or_default(),
                    effect: t.effect,
                })
                .collect(),
            ready: n
                .status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
            labels,
            annotations: n.metadata.annotations,
            provider_id: n.spec.provider_id,
            instance_id,
            created,
            unschedulable: n.spec.unschedulable,
        }
    }

    fn pod(&mut self, path: &Path, object: &str, p: WPod) -> Pod {
        let statuses: HashMap<&str, &WContainerStatus> = p
            .status
            .container_statuses
            .iter()
            .chain(p.status.init_container_statuses.iter())
            .map(|s| (s.name.as_str(), s))
            .collect();
        let mut term_times = Vec::new();
        let mut build = |c: &WContainer, init: bool| {
            let st = statuses.get(c.name.as_str());
            let last = st.and_then(|s| {
                s.last_state.terminated.clone().or_else(|| {
                    // a container that terminated and was not restarted
                    s.state.terminated.clone()
                })
            });
            let last_termination = last.map(|t| {
                term_times.push((c.name.clone(), t.finished_at.clone()));
                Termination {
                    reason: t.reason,
                    exit_code: t.exit_code,
                    finished_at: None,
                }
            });
            let limits = resources(&c.resources.limits);
            Container {
                name: c.name.clone(),
                image: c.image.clone(),
                requests: effective_requests(c),
                limits,
                has_cpu_limit: c.resources.limits.contains_key("cpu"),
                has_memory_limit: c.resources.limits.contains_key("memory"),
                restart_count: st.map(|s| s.restart_count).unwrap_or(0),
                last_termination,
                sidecar: init && c.restart_policy.as_deref() == Some("Always"),
            }
        };
        let mut containers: Vec<Container> =
            p.spec.containers.iter().map(|c| build(c, false)).collect();
        let mut init_containers: Vec<Container> = p
            .spec
            .init_containers
            .iter()
            .map(|c| build(c, true))
            .collect();
        for (name, t) in term_times {
            let ts = self.time(
                path,
                object,
                "status.containerStatuses[].lastState.terminated.finishedAt",
                t,
            );
            for c in containers.iter_mut().chain(init_containers.iter_mut()) {
                if c.name == name
                    && let Some(term) = c.last_termination.as_mut()
                {
                    term.finished_at = ts;
                }
            }
        }
        let local_storage = p.spec.volumes.iter().any(|v| {
            v.host_path.is_some()
                || v.empty_dir
                    .as_ref()
                    .is_some_and(|e| e.medium.as_deref() != Some("Memory"))
        });
        let created = self.time(
            path,
            object,
            "metadata.creationTimestamp",
            p.metadata.creation_timestamp.clone(),
        );
        Pod {
            namespace: p
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            name: p.metadata.name.clone(),
            uid: p.metadata.uid.clone(),
            node_name: p.spec.node_name.filter(|s| !s.is_empty()),
            phase: p.status.phase.unwrap_or_else(|| "Unknown".into()),
            controller: p.metadata.controller(),
            workload: None,
            workload_inferred: false,
            containers,
            init_containers,
            overhead: resources(&p.spec.overhead),
            labels: p.metadata.labels,
            annotations: p.metadata.annotations,
            tolerations: p
                .spec
                .tolerations
                .into_iter()
                .map(|t| Toleration {
                    key: t.key.unwrap_or_default(),
                    operator: t.operator.unwrap_or_else(|| "Equal".into()),
                    value: t.value.unwrap_or_default(),
                    effect: t.effect.unwrap_or_default(),
                })
                .collect(),
            node_selector: p.spec.node_selector,
            affinity: affinity(p.spec.affinity),
            topology_spread: p
                .spec
                .topology_spread_constraints
                .into_iter()
                .map(|t| TopologySpread {
                    max_skew: t.max_skew,
                    topology_key: t.topology_key,
                    when_unsatisfiable: t.when_unsatisfiable,
                    label_selector: selector(t.label_selector),
                    min_domains: t.min_domains,
                })
                .collect(),
            priority: p.spec.priority.unwrap_or(0),
            priority_class: p.spec.priority_class_name,
            local_storage,
            pvc_names: p
                .spec
                .volumes
                .into_iter()
                .filter_map(|v| v.persistent_volume_claim.map(|c| c.claim_name))
                .collect(),
            created,
        }
    }

    pub(crate) fn finish(
        mut self,
        name: Option<String>,
        default_name: String,
    ) -> (Cluster, BTreeMap<String, usize>, Vec<String>) {
        // Owner chains: ReplicaSet → Deployment, Job → CronJob.
        let owners: HashMap<(WorkloadKind, String, String), (String, String)> = self
            .workloads
            .iter()
            .filter_map(|w| {
                w.owner
                    .clone()
                    .map(|o| ((w.kind, w.namespace.clone(), w.name.clone()), o))
            })
            .collect();
        let known: std::collections::HashSet<(WorkloadKind, String, String)> = self
            .workloads
            .iter()
            .map(|w| (w.kind, w.namespace.clone(), w.name.clone()))
            .collect();
        for pod in &mut self.pods {
            let Some((kind, cname)) = pod.controller.clone() else {
                continue;
            };
            let ns = pod.namespace.clone();
            let ckind = WorkloadKind::from_kind(&kind);
            let (wkind, wname, inferred) = match ckind {
                WorkloadKind::ReplicaSet | WorkloadKind::Job => {
                    let key = (ckind, ns.clone(), cname.clone());
                    if let Some((okind, oname)) = owners.get(&key) {
                        (WorkloadKind::from_kind(okind), oname.clone(), false)
                    } else if known.contains(&key) {
                        (ckind, cname.clone(), false)
                    } else {
                        infer_parent(ckind, &cname, &pod.labels)
                    }
                }
                other => (other, cname.clone(), false),
            };
            pod.workload = Some(WorkloadRef {
                kind: wkind,
                namespace: ns,
                name: wname,
            });
            pod.workload_inferred = inferred;
        }
        for h in &self.hpas {
            let kind = WorkloadKind::from_kind(&h.target_kind);
            for w in &mut self.workloads {
                if w.kind == kind && w.namespace == h.namespace && w.name == h.target_name {
                    w.hpa = Some(format!("{}/{}", h.namespace, h.name));
                }
            }
        }
        let inferred_name = self
            .nodes
            .iter()
            .find_map(|n| n.labels.get("alpha.eksctl.io/cluster-name").cloned())
            .or_else(|| {
                self.aws.instances.iter().find_map(|i| {
                    i.tags.get("eks:cluster-name").cloned().or_else(|| {
                        i.tags.keys().find_map(|k| {
                            k.strip_prefix("kubernetes.io/cluster/").map(str::to_string)
                        })
                    })
                })
            });
        let region = self.nodes.iter().find_map(|n| n.region.clone());
        let cluster = Cluster {
            name: name.or(inferred_name).unwrap_or(default_name),
            region,
            nodes: self.nodes,
            pods: self.pods,
            workloads: self.workloads,
            hpas: self.hpas,
            pvcs: self.pvcs,
            pvs: self.pvs,
            pdbs: self.pdbs,
            namespaces: self.namespaces,
            services: self.services,
            traffic: vec![],
            metrics: self.metrics,
            aws: self.aws,
            usage: self.usage,
        };
        (cluster, self.skipped, self.warnings)
    }
}

fn nanos_to_milli(n: u64) -> i64 {
    n.div_ceil(1_000_000) as i64
}

/// When the ReplicaSet or Job is not in the dump, infer its parent from naming:
/// `<deployment>-<pod-template-hash>` and `<cronjob>-<scheduled minute>`.
fn infer_parent(
    kind: WorkloadKind,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> (WorkloadKind, String, bool) {
    if kind == WorkloadKind::ReplicaSet
        && let Some(hash) = labels.get("pod-template-hash")
        && let Some(base) = name.strip_suffix(&format!("-{hash}"))
        && !base.is_empty()
    {
        return (WorkloadKind::Deployment, base.to_string(), true);
    }
    if kind == WorkloadKind::Job
        && let Some((base, suffix)) = name.rsplit_once('-')
        && suffix.len() >= 8
        && suffix.bytes().all(|b| b.is_ascii_digit())
    {
        return (WorkloadKind::CronJob, base.to_string(), true);
    }
    (kind, name.to_string(), false)
}

fn workload(kind: &str, w: WWorkload) -> Workload {
    let wkind = WorkloadKind::from_kind(kind);
    let template = match (&w.spec.job_template, wkind) {
        (Some(jt), WorkloadKind::CronJob) => &jt.spec.template,
        _ => &w.spec.template,
    };
    let containers = template
        .spec
        .containers
        .iter()
        .map(container_spec)
        .collect();
    let replicas = match wkind {
        WorkloadKind::Deployment | WorkloadKind::StatefulSet | WorkloadKind::ReplicaSet => {
            Some(w.spec.replicas.unwrap_or(1))
        }
        _ => None,
    };
    Workload {
        kind: wkind,
        namespace: w
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into()),
        name: w.metadata.name.clone(),
        replicas,
        selector: selector(w.spec.selector.clone()),
        owner: w.metadata.controller(),
        labels: w.metadata.labels,
        annotations: w.metadata.annotations,
        containers,
        schedule: w.spec.schedule,
        hpa: None,
    }
}
