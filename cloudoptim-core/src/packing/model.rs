//! The packing problem: nodes, pods, offers and the scheduler's rules.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::{PackingConfig, PackingError, Result};
use crate::cost::Pricing;
use crate::model::{
    CapacityType, Cluster, LabelSelector, NodeOwner, NodeSelectorTerm, Pod, Taint, Toleration,
};

/// Resource dimensions: CPU millicores, memory MiB, pod slots, GPUs, ephemeral storage MiB.
pub type R = [i64; 5];

pub(crate) fn r_of(r: &crate::model::Resources) -> R {
    [
        r.cpu_milli,
        r.memory_bytes >> 20,
        r.pods,
        r.gpus,
        r.ephemeral_storage_bytes >> 20,
    ]
}

pub(crate) fn add(a: R, b: R) -> R {
    [
        a[0] + b[0],
        a[1] + b[1],
        a[2] + b[2],
        a[3] + b[3],
        a[4] + b[4],
    ]
}

pub(crate) fn sub(a: R, b: R) -> R {
    [
        a[0] - b[0],
        a[1] - b[1],
        a[2] - b[2],
        a[3] - b[3],
        a[4] - b[4],
    ]
}

pub(crate) fn fits(used: R, req: R, cap: R) -> bool {
    (0..5).all(|d| req[d] == 0 || used[d] + req[d] <= cap[d])
}

/// Why a pod pins its node (it may not be moved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Blocker {
    /// `karpenter.sh/do-not-disrupt`.
    DoNotDisrupt,
    /// `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"`.
    SafeToEvictFalse,
    /// A bare pod: nothing would recreate it.
    NoController,
    /// emptyDir or hostPath data would be lost.
    LocalStorage,
    /// A kube-system pod without a PDB.
    KubeSystemWithoutPdb,
    /// A PDB that allows no disruption now.
    PdbExhausted(String),
}

impl Blocker {
    /// The reason in words.
    pub fn reason(&self) -> String {
        match self {
            Blocker::DoNotDisrupt => "annotated karpenter.sh/do-not-disrupt".into(),
            Blocker::SafeToEvictFalse => {
                "annotated cluster-autoscaler.kubernetes.io/safe-to-evict: \"false\"".into()
            }
            Blocker::NoController => {
                "a bare pod with no controller: nothing would recreate it".into()
            }
            Blocker::LocalStorage => {
                "uses local storage (emptyDir or hostPath) that would be lost".into()
            }
            Blocker::KubeSystemWithoutPdb => {
                "a kube-system pod without a PodDisruptionBudget".into()
            }
            Blocker::PdbExhausted(p) => format!("PodDisruptionBudget {p} allows no disruption now"),
        }
    }
}

/// Where anti-affinity or spread applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `kubernetes.io/hostname`.
    Host,
    /// `topology.kubernetes.io/zone`.
    Zone,
}

fn scope_of(key: &str) -> Option<Scope> {
    match key {
        "kubernetes.io/hostname" => Some(Scope::Host),
        "topology.kubernetes.io/zone" | "failure-domain.beta.kubernetes.io/zone" => {
            Some(Scope::Zone)
        }
        _ => None,
    }
}

/// A pod to place.
#[derive(Debug, Clone)]
pub struct PPod {
    /// `namespace/name`.
    pub id: String,
    /// Namespace.
    pub namespace: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Requests.
    pub req: R,
    /// Current node (index into `Problem::nodes`).
    pub node: Option<usize>,
    /// Why it may not move, if it may not.
    pub blocker: Option<Blocker>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// nodeSelector.
    pub node_selector: BTreeMap<String, String>,
    /// Required node affinity (terms ORed).
    pub node_required: Vec<NodeSelectorTerm>,
    /// Required anti-affinity: scope, selector, namespaces.
    pub anti: Vec<(Scope, LabelSelector, Vec<String>)>,
    /// DoNotSchedule topology spread: scope, max skew, selector.
    pub spread: Vec<(Scope, i32, LabelSelector)>,
    /// Karpenter's eviction cost.
    pub disruption: f64,
}

/// An existing node.
#[derive(Debug, Clone)]
pub struct PNode {
    /// Name.
    pub name: String,
    /// Instance type.
    pub instance_type: String,
    /// Zone.
    pub zone: String,
    /// `on-demand` or `spot`.
    pub capacity_type: String,
    /// Group or pool.
    pub group: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<Taint>,
    /// Allocatable.
    pub cap: R,
    /// DaemonSet pods' requests on it.
    pub overhead: R,
    /// USD per hour.
    pub price: f64,
}

/// A kind of node the plan may add.
#[derive(Debug, Clone)]
pub struct Offer {
    /// Instance type.
    pub instance_type: String,
    /// Zone.
    pub zone: String,
    /// `on-demand` or `spot`.
    pub capacity_type: String,
    /// Group or pool the node joins.
    pub group: Option<String>,
    /// Labels a node of this offer carries.
    pub labels: BTreeMap<String, String>,
    /// Taints of the group.
    pub taints: Vec<Taint>,
    /// Allocatable.
    pub cap: R,
    /// DaemonSet overhead expected on it.
    pub overhead: R,
    /// USD per hour.
    pub price: f64,
}

/// The packing problem.
#[derive(Debug, Clone, Default)]
pub struct Problem {
    /// Existing nodes.
    pub nodes: Vec<PNode>,
    /// Pods that are not DaemonSet pods.
    pub pods: Vec<PPod>,
    /// Offers for new nodes.
    pub offers: Vec<Offer>,
    /// Zones of the cluster.
    pub zones: Vec<String>,
}

/// Karpenter's eviction cost of a pod.
fn disruption_cost(p: &Pod) -> f64 {
    let deletion: f64 = p
        .annotations
        .get("controller.kubernetes.io/pod-deletion-cost")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (1.0 + deletion / 2f64.powi(27) + p.priority as f64 / 2f64.powi(25)).clamp(-10.0, 10.0)
}

/// Whether `pattern` (`m5.*`, `c6g.large`, `*.xlarge`) matches an instance type.
pub fn type_matches(pattern: &str, t: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == t,
        Some((pre, post)) => {
            t.len() >= pre.len() + post.len() && t.starts_with(pre) && t.ends_with(post)
        }
    }
}

fn blocker(cluster: &Cluster, p: &Pod, allow_kube_system: bool) -> Option<Blocker> {
    if p.do_not_disrupt() {
        return Some(Blocker::DoNotDisrupt);
    }
    let safe = p.safe_to_evict();
    if safe == Some(false) {
        return Some(Blocker::SafeToEvictFalse);
    }
    if p.controller.is_none() {
        return Some(Blocker::NoController);
    }
    if p.local_storage && safe != Some(true) {
        return Some(Blocker::LocalStorage);
    }
    let pdbs: Vec<_> = cluster
        .pdbs
        .iter()
        .filter(|b| {
            b.namespace == p.namespace && !b.selector.is_empty() && b.selector.matches(&p.labels)
        })
        .collect();
    if let Some(b) = pdbs.iter().find(|b| b.disruptions_allowed == Some(0)) {
        return Some(Blocker::PdbExhausted(format!("{}/{}", b.namespace, b.name)));
    }
    if p.namespace == "kube-system" && pdbs.is_empty() && !allow_kube_system && safe != Some(true) {
        return Some(Blocker::KubeSystemWithoutPdb);
    }
    None
}

/// Node-side constraints: taints, nodeSelector, required node affinity.
pub(crate) fn node_ok(
    p: &PPod,
    labels: &BTreeMap<String, String>,
    taints: &[Taint],
    name: &str,
) -> bool {
    for t in taints {
        if (t.effect == "NoSchedule" || t.effect == "NoExecute")
            && !p.tolerations.iter().any(|tol| tol.tolerates(t))
        {
            return false;
        }
    }
    if !p
        .node_selector
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    if !p.node_required.is_empty() {
        let ok = p.node_required.iter().any(|term| {
            term.match_expressions.iter().all(|r| r.matches(labels))
                && term.match_fields.iter().all(|r| {
                    let mut f = BTreeMap::new();
                    f.insert("metadata.name".to_string(), name.to_string());
                    r.matches(&f)
                })
        });
        if !ok {
            return false;
        }
    }
    true
}

impl Problem {
    /// Builds the problem from a cluster: nodes priced, DaemonSet overhead subtracted, pods with
    /// their constraints and blockers, offers from the catalog for each node group.
    pub fn from_cluster(
        cluster: &Cluster,
        pricing: &Pricing,
        config: &PackingConfig,
    ) -> Result<Problem> {
        if config.balanced_k < 0.0 {
            return Err(PackingError::Config("balanced_k must be ≥ 0".into()));
        }
        let mut nodes = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for n in &cluster.nodes {
            let price = pricing.node_price(n).hourly;
            let cap_type = match n.capacity_type {
                CapacityType::Spot => "spot",
                _ => "on-demand",
            };
            index.insert(n.name.as_str(), nodes.len());
            nodes.push(PNode {
                name: n.name.clone(),
                instance_type: n.instance_type.clone().unwrap_or_default(),
                zone: n.zone.clone().unwrap_or_default(),
                capacity_type: cap_type.into(),
                group: n.owner.name().map(str::to_string),
                labels: n.labels.clone(),
                taints: n.taints.clone(),
                cap: r_of(&n.allocatable),
                overhead: [0; 5],
                price,
            });
        }
        let mut pods = Vec::new();
        let mut ds_templates: BTreeMap<String, &Pod> = BTreeMap::new();
        for p in &cluster.pods {
            if !p.is_active() {
                continue;
            }
            let node = p.node_name.as_deref().and_then(|n| index.get(n).copied());
            if p.is_daemonset() || p.controller.as_ref().is_some_and(|(k, _)| k == "Node") {
                if let Some(ni) = node {
                    nodes[ni].overhead = add(nodes[ni].overhead, r_of(&p.requests()));
                }
                if let Some((_, name)) = &p.controller {
                    ds_templates
                        .entry(format!("{}/{name}", p.namespace))
                        .or_insert(p);
                }
                continue;
            }
            let mut anti = Vec::new();
            for t in &p.affinity.pod_anti_affinity_required {
                if let Some(s) = scope_of(&t.topology_key) {
                    anti.push((s, t.label_selector.clone(), t.namespaces.clone()));
                }
            }
            let spread = p
                .topology_spread
                .iter()
                .filter(|t| t.when_unsatisfiable == "DoNotSchedule")
                .filter_map(|t| {
                    scope_of(&t.topology_key)
                        .map(|s| (s, t.max_skew.max(1), t.label_selector.clone()))
                })
                .collect();
            pods.push(PPod {
                id: format!("{}/{}", p.namespace, p.name),
                namespace: p.namespace.clone(),
                labels: p.labels.clone(),
                req: r_of(&p.requests()),
                node,
                blocker: blocker(cluster, p, config.allow_kube_system),
                tolerations: p.tolerations.clone(),
                node_selector: p.node_selector.clone(),
                node_required: p.affinity.node_required.clone(),
                anti,
                spread,
                disruption: disruption_cost(p),
            });
        }
        let zones: Vec<String> = nodes
            .iter()
            .map(|n| n.zone.clone())
            .filter(|z| !z.is_empty())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let offers = offers(cluster, pricing, config, &nodes, &zones, &ds_templates);
        Ok(Problem {
            nodes,
            pods,
            offers,
            zones,
        })
    }
}

/// A node group's shared labels, taints, capacity types, and whether it is a Karpenter pool.
type GroupTemplate = (BTreeMap<String, String>, Vec<Taint>, BTreeSet<String>, bool);

const NODE_SPECIFIC: &[&str] = &[
    "kubernetes.io/hostname",
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
    "topology.ebs.csi.aws.com/zone",
    "kubernetes.io/arch",
    "beta.kubernetes.io/arch",
    "karpenter.sh/capacity-type",
    "eks.amazonaws.com/capacityType",
    "karpenter.k8s.aws/instance-family",
    "karpenter.k8s.aws/instance-size",
    "karpenter.k8s.aws/instance-category",
    "karpenter.k8s.aws/instance-generation",
    "karpenter.k8s.aws/instance-cpu",
    "karpenter.k8s.aws/instance-memory",
    "node.kubernetes.io/lifecycle",
];

fn offers(
    cluster: &Cluster,
    pricing: &Pricing,
    config: &PackingConfig,
    nodes: &[PNode],
    zones: &[String],
    ds: &BTreeMap<String, &Pod>,
) -> Vec<Offer> {
    let catalog = pricing.catalog();
    let families: BTreeSet<String> = nodes
        .iter()
        .filter_map(|n| catalog.get(&n.instance_type).map(|t| t.family.clone()))
        .collect();
    let arches: BTreeSet<String> = if config.allow_arch.is_empty() {
        nodes
            .iter()
            .filter_map(|n| catalog.get(&n.instance_type).map(|t| t.arch.clone()))
            .collect()
    } else {
        config.allow_arch.iter().cloned().collect()
    };
    let allowed = |t: &crate::catalog::InstanceType| {
        let by_pattern = if config.allow_types.is_empty() {
            families.contains(&t.family)
        } else {
            config.allow_types.iter().any(|p| type_matches(p, &t.name))
        };
        by_pattern && arches.contains(&t.arch) && t.od_price_us_east_1.is_some()
    };
    // one template per group: the labels every node of the group shares, minus node-specific ones
    let mut groups: BTreeMap<Option<String>, GroupTemplate> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        let owner = &cluster.nodes[i].owner;
        let karpenter = matches!(owner, NodeOwner::NodePool(_));
        let e = groups.entry(n.group.clone()).or_insert_with(|| {
            let l: BTreeMap<String, String> = n
                .labels
                .iter()
                .filter(|(k, _)| !NODE_SPECIFIC.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (l, n.taints.clone(), BTreeSet::new(), karpenter)
        });
        e.0.retain(|k, v| n.labels.get(k) == Some(v));
        e.2.insert(n.capacity_type.clone());
    }
    let mut out = Vec::new();
    for (group, (labels, taints, caps, karpenter)) in groups {
        let caps: Vec<String> = if config.capacity_types.is_empty() {
            caps.into_iter().collect()
        } else {
            config.capacity_types.clone()
        };
        for t in catalog.iter().filter(|t| allowed(t)) {
            for zone in zones {
                for cap in &caps {
                    let ct = if cap == "spot" {
                        CapacityType::Spot
                    } else {
                        CapacityType::OnDemand
                    };
                    let Some(price) = pricing.price(&t.name, ct, Some(zone)) else {
                        continue;
                    };
                    let mut l = labels.clone();
                    l.insert("node.kubernetes.io/instance-type".into(), t.name.clone());
                    l.insert("topology.kubernetes.io/zone".into(), zone.clone());
                    l.insert("kubernetes.io/arch".into(), t.arch.clone());
                    l.insert("kubernetes.io/os".into(), "linux".into());
                    if karpenter {
                        l.insert("karpenter.sh/capacity-type".into(), cap.clone());
                        l.insert("karpenter.k8s.aws/instance-family".into(), t.family.clone());
                    } else {
                        l.insert(
                            "eks.amazonaws.com/capacityType".into(),
                            if cap == "spot" { "SPOT" } else { "ON_DEMAND" }.into(),
                        );
                    }
                    // DaemonSets whose pods would land on such a node
                    let overhead = ds
                        .values()
                        .filter(|p| {
                            let pp = PPod {
                                tolerations: p.tolerations.clone(),
                                node_selector: p.node_selector.clone(),
                                node_required: p.affinity.node_required.clone(),
                                ..pod_shell()
                            };
                            node_ok(&pp, &l, &taints, "new")
                        })
                        .fold([0; 5], |a, p| add(a, r_of(&p.requests())));
                    out.push(Offer {
                        instance_type: t.name.clone(),
                        zone: zone.clone(),
                        capacity_type: cap.clone(),
                        group: group.clone(),
                        labels: l,
                        taints: taints.clone(),
                        cap: r_of(&t.allocatable),
                        overhead,
                        price: price.hourly,
                    });
                }
            }
        }
    }
    // drop dominated offers: another offer of the same group and zone that is no dearer and no smaller
    let mut keep = vec![true; out.len()];
    let mut by_key: BTreeMap<(Option<String>, String, String), Vec<usize>> = BTreeMap::new();
    for (i, o) in out.iter().enumerate() {
        by_key
            .entry((
                o.group.clone(),
                o.zone.clone(),
                o.labels
                    .get("kubernetes.io/arch")
                    .cloned()
                    .unwrap_or_default(),
            ))
            .or_default()
            .push(i);
    }
    for idxs in by_key.values() {
        for &i in idxs {
            let a = &out[i];
            let net_a = sub(a.cap, a.overhead);
            for &j in idxs {
                if i == j || !keep[j] {
                    continue;
                }
                let b = &out[j];
                let net_b = sub(b.cap, b.overhead);
                let dominates = b.price <= a.price
                    && (0..5).all(|d| net_b[d] >= net_a[d])
                    && (b.price < a.price || (0..5).any(|d| net_b[d] > net_a[d]));
                if dominates && b.capacity_type == a.capacity_type {
                    keep[i] = false;
                    break;
                }
            }
        }
    }
    out.into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(o, _)| o)
        .collect()
}

pub(crate) fn pod_shell() -> PPod {
    PPod {
        id: String::new(),
        namespace: String::new(),
        labels: BTreeMap::new(),
        req: [0; 5],
        node: None,
        blocker: None,
        tolerations: vec![],
        node_selector: BTreeMap::new(),
        node_required: vec![],
        anti: vec![],
        spread: vec![],
        disruption: 0.0,
    }
}
