//! The change to make: a target (node group, NodePool or workload on a cluster) and the values
//! to set. Validated before anything is read or written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{IacError, Result};

/// What kind of thing the change targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TargetKind {
    /// An EKS managed or self-managed node group, an eksctl node group or an ASG.
    NodeGroup,
    /// A Karpenter NodePool.
    NodePool,
    /// A Deployment.
    Deployment,
    /// A StatefulSet.
    StatefulSet,
    /// A DaemonSet.
    DaemonSet,
    /// A CronJob.
    CronJob,
}

impl TargetKind {
    /// Whether this is a workload kind.
    pub fn is_workload(&self) -> bool {
        matches!(
            self,
            TargetKind::Deployment
                | TargetKind::StatefulSet
                | TargetKind::DaemonSet
                | TargetKind::CronJob
        )
    }

    /// The Kubernetes kind name.
    pub fn as_str(&self) -> &'static str {
        match self {
            TargetKind::NodeGroup => "NodeGroup",
            TargetKind::NodePool => "NodePool",
            TargetKind::Deployment => "Deployment",
            TargetKind::StatefulSet => "StatefulSet",
            TargetKind::DaemonSet => "DaemonSet",
            TargetKind::CronJob => "CronJob",
        }
    }
}

/// The target of a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeTarget {
    /// Kind.
    pub kind: TargetKind,
    /// EKS cluster name as AWS reports it.
    pub cluster: String,
    /// Namespace (workloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Node group, NodePool or workload name.
    pub name: String,
    /// Container (workloads; optional with one container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// A setting the change makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SetKey {
    /// `instance_types`.
    #[serde(rename = "instance_types")]
    InstanceTypes,
    /// `capacity_type`.
    #[serde(rename = "capacity_type")]
    CapacityType,
    /// `min_size`.
    #[serde(rename = "min_size")]
    MinSize,
    /// `max_size`.
    #[serde(rename = "max_size")]
    MaxSize,
    /// `desired_size`.
    #[serde(rename = "desired_size")]
    DesiredSize,
    /// `requests.cpu`.
    #[serde(rename = "requests.cpu")]
    RequestsCpu,
    /// `requests.memory`.
    #[serde(rename = "requests.memory")]
    RequestsMemory,
    /// `limits.cpu`.
    #[serde(rename = "limits.cpu")]
    LimitsCpu,
    /// `limits.memory`.
    #[serde(rename = "limits.memory")]
    LimitsMemory,
    /// `replicas`.
    #[serde(rename = "replicas")]
    Replicas,
}

impl SetKey {
    /// The key as written in a change.
    pub fn as_str(&self) -> &'static str {
        match self {
            SetKey::InstanceTypes => "instance_types",
            SetKey::CapacityType => "capacity_type",
            SetKey::MinSize => "min_size",
            SetKey::MaxSize => "max_size",
            SetKey::DesiredSize => "desired_size",
            SetKey::RequestsCpu => "requests.cpu",
            SetKey::RequestsMemory => "requests.memory",
            SetKey::LimitsCpu => "limits.cpu",
            SetKey::LimitsMemory => "limits.memory",
            SetKey::Replicas => "replicas",
        }
    }

    fn parse(s: &str) -> Option<SetKey> {
        Some(match s {
            "instance_types" => SetKey::InstanceTypes,
            "capacity_type" => SetKey::CapacityType,
            "min_size" => SetKey::MinSize,
            "max_size" => SetKey::MaxSize,
            "desired_size" => SetKey::DesiredSize,
            "requests.cpu" => SetKey::RequestsCpu,
            "requests.memory" => SetKey::RequestsMemory,
            "limits.cpu" => SetKey::LimitsCpu,
            "limits.memory" => SetKey::LimitsMemory,
            "replicas" => SetKey::Replicas,
            _ => return None,
        })
    }

    /// For resource keys: (`requests`|`limits`, `cpu`|`memory`).
    pub fn resource_path(&self) -> Option<(&'static str, &'static str)> {
        match self {
            SetKey::RequestsCpu => Some(("requests", "cpu")),
            SetKey::RequestsMemory => Some(("requests", "memory")),
            SetKey::LimitsCpu => Some(("limits", "cpu")),
            SetKey::LimitsMemory => Some(("limits", "memory")),
            _ => None,
        }
    }

    fn for_node_groups(&self) -> bool {
        matches!(
            self,
            SetKey::InstanceTypes
                | SetKey::CapacityType
                | SetKey::MinSize
                | SetKey::MaxSize
                | SetKey::DesiredSize
        )
    }
}

/// A value to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SetValue {
    /// A list of strings (instance types).
    List(Vec<String>),
    /// A string (capacity type, quantity).
    Str(String),
    /// An integer (sizes, replicas).
    Int(i64),
}

impl SetValue {
    /// The strings of a list, or the one string.
    pub fn strings(&self) -> Vec<String> {
        match self {
            SetValue::List(l) => l.clone(),
            SetValue::Str(s) => vec![s.clone()],
            SetValue::Int(i) => vec![i.to_string()],
        }
    }

    /// The first string (a list written where the repo holds a single value).
    pub fn first(&self) -> String {
        self.strings().into_iter().next().unwrap_or_default()
    }
}

/// A validated change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Target.
    pub target: ChangeTarget,
    /// Settings, in a fixed order.
    pub set: BTreeMap<SetKey, SetValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChange {
    target: ChangeTarget,
    set: BTreeMap<String, serde_json::Value>,
}

fn bad(msg: impl Into<String>) -> IacError {
    IacError::InvalidChange(msg.into())
}

impl Change {
    /// Parses and validates a change from JSON: a change object, or a corpus `case.json` whose
    /// `change` key holds one.
    pub fn from_json(text: &str) -> Result<Change> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let v = match v.get("change") {
            Some(c) if v.get("target").is_none() => c.clone(),
            _ => v,
        };
        Change::from_value(v)
    }

    /// Validates a change given as a JSON value.
    pub fn from_value(v: serde_json::Value) -> Result<Change> {
        let raw: RawChange = serde_path_to_error::deserialize(v)
            .map_err(|e| bad(format!("`{}`: {}", e.path(), e.inner())))?;
        let mut set = BTreeMap::new();
        if raw.set.is_empty() {
            return Err(bad("`set` is empty"));
        }
        for (k, v) in raw.set {
            let key = SetKey::parse(&k).ok_or_else(|| {
                bad(format!(
                    "unknown key `set.{k}`: expected instance_types, capacity_type, min_size, max_size, desired_size, requests.cpu, requests.memory, limits.cpu, limits.memory or replicas"
                ))
            })?;
            let wl = raw.target.kind.is_workload();
            if wl == key.for_node_groups() {
                return Err(bad(format!(
                    "`set.{k}` does not apply to a {}",
                    raw.target.kind.as_str()
                )));
            }
            if raw.target.kind == TargetKind::NodePool
                && !matches!(key, SetKey::InstanceTypes | SetKey::CapacityType)
            {
                return Err(bad(format!("`set.{k}` does not apply to a NodePool")));
            }
            let value = match key {
                SetKey::InstanceTypes => {
                    let list: Vec<String> = serde_json::from_value(v.clone()).map_err(|_| {
                        bad(format!(
                            "`set.{k}` must be a list of instance type names, got {v}"
                        ))
                    })?;
                    if list.is_empty() {
                        return Err(bad("`set.instance_types` is empty"));
                    }
                    let cat = crate::catalog::Catalog::embedded();
                    for t in &list {
                        if cat.get(t).is_none() {
                            return Err(bad(format!(
                                "`set.instance_types`: unknown instance type {t:?}"
                            )));
                        }
                    }
                    SetValue::List(list)
                }
                SetKey::CapacityType => match v.as_str() {
                    Some(s @ ("ON_DEMAND" | "SPOT")) => SetValue::Str(s.to_string()),
                    _ => {
                        return Err(bad(format!(
                            "`set.capacity_type` must be \"ON_DEMAND\" or \"SPOT\", got {v}"
                        )));
                    }
                },
                SetKey::MinSize | SetKey::MaxSize | SetKey::DesiredSize | SetKey::Replicas => {
                    match v.as_i64() {
                        Some(i) if i >= 0 => SetValue::Int(i),
                        _ => {
                            return Err(bad(format!(
                                "`set.{k}` must be a non-negative integer, got {v}"
                            )));
                        }
                    }
                }
                _ => {
                    let s = v.as_str().ok_or_else(|| {
                        bad(format!(
                            "`set.{k}` must be a quantity string such as \"500m\", got {v}"
                        ))
                    })?;
                    let q = crate::quantity::Quantity::parse(s)
                        .map_err(|e| bad(format!("`set.{k}`: {e}")))?;
                    if q.is_negative() {
                        return Err(bad(format!("`set.{k}` is negative")));
                    }
                    SetValue::Str(s.to_string())
                }
            };
            set.insert(key, value);
        }
        let sz = |k| match set.get(&k) {
            Some(SetValue::Int(i)) => Some(*i),
            _ => None,
        };
        if let (Some(a), Some(b)) = (sz(SetKey::MinSize), sz(SetKey::MaxSize))
            && a > b
        {
            return Err(bad("`set.min_size` is greater than `set.max_size`"));
        }
        if raw.target.name.is_empty() || raw.target.cluster.is_empty() {
            return Err(bad("`target.name` and `target.cluster` must not be empty"));
        }
        Ok(Change {
            target: raw.target,
            set,
        })
    }
}

impl Change {
    /// The change a recommendation asks for, when it is one the IaC engine can make: container
    /// requests and limits of a workload, a node group's instance types or sizes. `None` for
    /// recommendations that are not repository edits (delete a volume, terminate an instance).
    pub fn from_recommendation(rec: &crate::recommend::Recommendation) -> Option<Result<Change>> {
        let t = &rec.target;
        let (kind, name) = match (&t.workload_kind, &t.workload, &t.node_group) {
            (Some(k), Some(w), _) => (k.as_str(), w.clone()),
            (None, None, Some(g)) => ("NodeGroup", g.clone()),
            _ => return None,
        };
        let mut set = serde_json::Map::new();
        for c in &rec.changes {
            let key = match c.field.as_str() {
                "cpu_request" => "requests.cpu",
                "memory_request" => "requests.memory",
                "cpu_limit" => "limits.cpu",
                "memory_limit" => "limits.memory",
                "replicas" => "replicas",
                "instance_type" | "instance_types" => "instance_types",
                "capacity_type" => "capacity_type",
                "min_size" | "max_size" | "desired_size" => c.field.as_str(),
                _ => continue,
            };
            let value = match key {
                "instance_types" => {
                    serde_json::json!(c.proposed.split(',').map(|x| x.trim()).collect::<Vec<_>>())
                }
                "replicas" | "min_size" | "max_size" | "desired_size" => {
                    match c.proposed.parse::<i64>() {
                        Ok(i) => serde_json::json!(i),
                        Err(_) => {
                            return Some(Err(IacError::InvalidChange(format!(
                                "{}: {:?} is not an integer",
                                c.field, c.proposed
                            ))));
                        }
                    }
                }
                _ => serde_json::json!(c.proposed),
            };
            set.insert(key.to_string(), value);
        }
        if set.is_empty() {
            return None;
        }
        let mut target = serde_json::json!({"kind": kind, "cluster": t.cluster, "name": name});
        if let Some(ns) = &t.namespace {
            target["namespace"] = serde_json::json!(ns);
        }
        if let Some(c) = &t.container {
            target["container"] = serde_json::json!(c);
        }
        Some(Change::from_value(
            serde_json::json!({"target": target, "set": set}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rightsizing_recommendations_become_changes() {
        let report = crate::analyze(&crate::demo::demo_cluster(), Default::default()).unwrap();
        let rec = report
            .recommendations
            .iter()
            .find(|r| {
                r.kind == crate::recommend::RecommendationKind::WorkloadRightsizing
                    && r.target.workload.as_deref() == Some("checkout")
            })
            .unwrap();
        let c = Change::from_recommendation(rec).unwrap().unwrap();
        assert_eq!(c.target.kind, TargetKind::Deployment);
        assert_eq!(
            c.target.namespace.as_deref(),
            Some(rec.target.namespace.as_deref().unwrap())
        );
        assert_eq!(c.target.container, rec.target.container);
        let cpu = rec
            .changes
            .iter()
            .find(|x| x.field == "cpu_request")
            .unwrap();
        assert_eq!(
            c.set[&SetKey::RequestsCpu],
            SetValue::Str(cpu.proposed.clone())
        );
        // a volume deletion is not a repository edit
        let vol = report
            .recommendations
            .iter()
            .find(|r| r.kind == crate::recommend::RecommendationKind::ZombieVolume)
            .unwrap();
        assert!(Change::from_recommendation(vol).is_none());
    }

    #[test]
    fn accepts_corpus_case_files() {
        let c = Change::from_json(r#"{"description":"x","change":{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"main-app"},"set":{"instance_types":["t4g.large"]}},"expect":{"outcome":"patched"}}"#).unwrap();
        assert_eq!(c.target.name, "main-app");
        assert_eq!(
            c.set[&SetKey::InstanceTypes],
            SetValue::List(vec!["t4g.large".into()])
        );
    }

    #[test]
    fn a_change_serialises_in_its_own_input_format() {
        let text = r#"{"target":{"kind":"Deployment","cluster":"c","namespace":"n","name":"w"},"set":{"requests.cpu":"500m","replicas":3}}"#;
        let c = Change::from_json(text).unwrap();
        let again = Change::from_json(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(c, again);
    }

    #[test]
    fn refuses_bad_changes() {
        for (text, needle) in [
            (
                r#"{"target":{"kind":"NodeGroup","cluster":"c","name":"n"},"set":{"instance_typez":["m5.large"]}}"#,
                "unknown key",
            ),
            (
                r#"{"target":{"kind":"NodeGroup","cluster":"c","name":"n"},"set":{"instance_types":"m5.large"}}"#,
                "list",
            ),
            (
                r#"{"target":{"kind":"NodeGroup","cluster":"c","name":"n"},"set":{"instance_types":["m5.huge"]}}"#,
                "unknown instance type",
            ),
            (
                r#"{"target":{"kind":"NodeGroup","cluster":"c","name":"n"},"set":{"capacity_type":"spot"}}"#,
                "SPOT",
            ),
            (
                r#"{"target":{"kind":"Deployment","cluster":"c","name":"n"},"set":{"requests.cpu":"lots"}}"#,
                "requests.cpu",
            ),
            (
                r#"{"target":{"kind":"Deployment","cluster":"c","name":"n"},"set":{"requests.cpu":500}}"#,
                "quantity string",
            ),
            (
                r#"{"target":{"kind":"Deployment","cluster":"c","name":"n"},"set":{"instance_types":["m5.large"]}}"#,
                "does not apply",
            ),
            (
                r#"{"target":{"kind":"Pod","cluster":"c","name":"n"},"set":{"replicas":1}}"#,
                "target.kind",
            ),
            (
                r#"{"target":{"kind":"NodeGroup","cluster":"c","name":"n","extra":1},"set":{"min_size":1}}"#,
                "extra",
            ),
            (
                r#"{"target":{"kind":"NodeGroup","cluster":"c","name":"n"},"set":{"min_size":-1}}"#,
                "non-negative",
            ),
        ] {
            let e = Change::from_json(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
