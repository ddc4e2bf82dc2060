//! Prices and the cost model.
//!
//! - Node hourly price: on-demand from the catalog (us-east-1) or a caller-supplied price table
//!   (other regions); spot from `describe-spot-price-history` when given (latest price of the
//!   type in the node's zone, else the mean of the latest per zone), else on-demand × (1 −
//!   Spot Advisor savings). Every price says where it came from and whether it is an estimate.
//! - Monthly = hourly × 730.
//! - Each node's price is split between CPU and memory as OpenCost does: GPUs first, then
//!   `ram = price / (vcpu × ratio + ram_gb)`, `cpu = ram × ratio`, with the ratio of OpenCost's
//!   default per-vCPU and per-GB prices (0.031611 / 0.004237 ≈ 7.46).
//! - A pod is charged for max(request, usage) of CPU and memory at its node's unit prices; what
//!   no pod is charged for is the node's idle cost.
//! - The EKS control plane costs $0.10 per hour; EBS volumes are priced per GB-month by type.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, EMBEDDED_PRICE_REGION, PriceTable, SpotAdvisor};
use crate::model::{CapacityType, Cluster, EbsVolume, Node, Pod, SpotPricePoint, WorkloadRef};

/// Hours in a month, as AWS and Kubecost count them.
pub const HOURS_PER_MONTH: f64 = 730.0;
/// EKS control-plane fee, USD per hour (standard support).
pub const EKS_CONTROL_PLANE_HOURLY: f64 = 0.10;
/// OpenCost default on-demand price of one vCPU-hour.
pub const OPENCOST_CPU_HOURLY: f64 = 0.031611;
/// OpenCost default on-demand price of one GB-hour of RAM.
pub const OPENCOST_RAM_GB_HOURLY: f64 = 0.004237;
/// OpenCost default price of one GPU-hour, taken off a GPU node's price before the split.
pub const OPENCOST_GPU_HOURLY: f64 = 0.95;

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PriceSource {
    /// The embedded us-east-1 on-demand price.
    OnDemandCatalog,
    /// A caller-supplied on-demand price table.
    OnDemandTable,
    /// `describe-spot-price-history`.
    SpotPriceHistory,
    /// On-demand × (1 − Spot Advisor savings): an estimate.
    SpotAdvisorEstimate,
    /// The us-east-1 price used for another region: an estimate.
    OtherRegionEstimate,
    /// No price known: the node is counted at zero.
    Unknown,
}

impl PriceSource {
    /// Whether prices from this source are estimates.
    pub fn is_estimate(&self) -> bool {
        matches!(
            self,
            PriceSource::SpotAdvisorEstimate
                | PriceSource::OtherRegionEstimate
                | PriceSource::Unknown
        )
    }
}

/// An hourly price with its source.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// USD per hour.
    pub hourly: f64,
    /// Where it came from.
    pub source: PriceSource,
}

/// Prices for a region: catalog, optional price table, Spot Advisor and spot history.
#[derive(Debug, Clone)]
pub struct Pricing {
    region: String,
    catalog: &'static Catalog,
    table: Option<PriceTable>,
    advisor: SpotAdvisor,
    // (type, zone) → latest price
    spot_latest: HashMap<(String, String), (jiff::Timestamp, f64)>,
}

impl Pricing {
    /// Pricing for a region with the embedded catalog and Spot Advisor snapshot.
    pub fn new(region: impl Into<String>) -> Pricing {
        Pricing {
            region: region.into(),
            catalog: Catalog::embedded(),
            table: None,
            advisor: SpotAdvisor::embedded().clone(),
            spot_latest: HashMap::new(),
        }
    }

    /// Uses a caller-supplied on-demand price table (for regions other than us-east-1, or negotiated prices).
    #[must_use]
    pub fn with_price_table(mut self, table: PriceTable) -> Self {
        self.table = Some(table);
        self
    }

    /// Uses a caller-supplied Spot Advisor file instead of the embedded snapshot.
    #[must_use]
    pub fn with_spot_advisor(mut self, advisor: SpotAdvisor) -> Self {
        self.advisor = advisor;
        self
    }

    /// Uses spot price history (the latest price per type and zone wins).
    #[must_use]
    pub fn with_spot_history(mut self, points: &[SpotPricePoint]) -> Self {
        for p in points {
            if !p.product.is_empty() && !p.product.starts_with("Linux/UNIX") {
                continue;
            }
            let key = (p.instance_type.clone(), p.zone.clone());
            let newer = self
                .spot_latest
                .get(&key)
                .is_none_or(|(ts, _)| p.timestamp > *ts);
            if newer {
                self.spot_latest.insert(key, (p.timestamp, p.price));
            }
        }
        self
    }

    /// Pricing for a cluster: its region (default us-east-1) and the spot history it carries.
    pub fn for_cluster(cluster: &Cluster) -> Pricing {
        let region = cluster
            .region
            .clone()
            .unwrap_or_else(|| EMBEDDED_PRICE_REGION.to_string());
        Pricing::new(region).with_spot_history(&cluster.aws.spot_prices)
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The catalog.
    pub fn catalog(&self) -> &'static Catalog {
        self.catalog
    }

    /// The Spot Advisor data in use.
    pub fn advisor(&self) -> &SpotAdvisor {
        &self.advisor
    }

    /// On-demand price of a type in this region.
    pub fn on_demand(&self, instance_type: &str) -> Option<Price> {
        if let Some(t) = &self.table
            && let Some(p) = t.get(instance_type)
        {
            return Some(Price {
                hourly: p,
                source: PriceSource::OnDemandTable,
            });
        }
        let p = self.catalog.get(instance_type)?.od_price_us_east_1?;
        Some(Price {
            hourly: p,
            source: if self.region == EMBEDDED_PRICE_REGION {
                PriceSource::OnDemandCatalog
            } else {
                PriceSource::OtherRegionEstimate
            },
        })
    }

    /// Spot price of a type, in a zone when known.
    pub fn spot(&self, instance_type: &str, zone: Option<&str>) -> Option<Price> {
        if let Some(z) = zone
            && let Some((_, p)) = self
                .spot_latest
                .get(&(instance_type.to_string(), z.to_string()))
        {
            return Some(Price {
                hourly: *p,
                source: PriceSource::SpotPriceHistory,
            });
        }
        let zones: Vec<f64> = self
            .spot_latest
            .iter()
            .filter(|((t, _), _)| t == instance_type)
            .map(|(_, (_, p))| *p)
            .collect();
        if !zones.is_empty() {
            return Some(Price {
                hourly: zones.iter().sum::<f64>() / zones.len() as f64,
                source: PriceSource::SpotPriceHistory,
            });
        }
        let od = self.on_demand(instance_type)?;
        let adv = self.advisor.linux(&self.region, instance_type)?;
        Some(Price {
            hourly: od.hourly * (1.0 - adv.savings_pct as f64 / 100.0),
            source: PriceSource::SpotAdvisorEstimate,
        })
    }

    /// Price of a type for a capacity type.
    pub fn price(
        &self,
        instance_type: &str,
        capacity: CapacityType,
        zone: Option<&str>,
    ) -> Option<Price> {
        match capacity {
            CapacityType::Spot => self.spot(instance_type, zone),
            _ => self.on_demand(instance_type),
        }
    }

    /// Hourly price of a node.
    pub fn node_price(&self, node: &Node) -> Price {
        node.instance_type
            .as_deref()
            .and_then(|t| self.price(t, node.capacity_type, node.zone.as_deref()))
            .unwrap_or(Price {
                hourly: 0.0,
                source: PriceSource::Unknown,
            })
    }

    /// Monthly price of an EBS volume (us-east-1 list prices; other regions are estimates).
    pub fn volume_monthly(&self, v: &EbsVolume) -> f64 {
        let gb = v.size_gib as f64;
        match v.volume_type.as_str() {
            "gp3" => {
                let iops_extra = (v.iops.unwrap_or(3000) - 3000).max(0) as f64 * 0.005;
                let tp_extra = (v.throughput.unwrap_or(125) - 125).max(0) as f64 * 0.04;
                gb * 0.08 + iops_extra + tp_extra
            }
            "gp2" => gb * 0.10,
            "io1" | "io2" => gb * 0.125 + v.iops.unwrap_or(0) as f64 * 0.065,
            "st1" => gb * 0.045,
            "sc1" => gb * 0.015,
            "standard" => gb * 0.05,
            _ => gb * 0.10,
        }
    }
}

/// Cost of one node, split between CPU, memory and GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCost {
    /// Node name.
    pub node: String,
    /// Group or pool name.
    pub group: Option<String>,
    /// Hourly price.
    pub price: Price,
    /// USD per vCPU-hour.
    pub cpu_core_hourly: f64,
    /// USD per GiB-hour of memory.
    pub memory_gib_hourly: f64,
    /// USD per hour for GPUs.
    pub gpu_hourly: f64,
    /// Sum of what the node's pods are charged, per hour.
    pub allocated_hourly: f64,
}

impl NodeCost {
    /// Monthly price.
    pub fn monthly(&self) -> f64 {
        self.price.hourly * HOURS_PER_MONTH
    }

    /// Idle hourly cost: the part no pod is charged for.
    pub fn idle_hourly(&self) -> f64 {
        (self.price.hourly - self.allocated_hourly).max(0.0)
    }
}

/// Cost of one pod.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PodCost {
    /// Namespace.
    pub namespace: String,
    /// Pod.
    pub pod: String,
    /// Workload.
    pub workload: Option<WorkloadRef>,
    /// Node.
    pub node: String,
    /// Hourly cost of its CPU share.
    pub cpu_hourly: f64,
    /// Hourly cost of its memory share.
    pub memory_hourly: f64,
}

impl PodCost {
    /// Total hourly cost.
    pub fn hourly(&self) -> f64 {
        self.cpu_hourly + self.memory_hourly
    }
}

/// Costs of a whole cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterCosts {
    /// Per node.
    pub nodes: Vec<NodeCost>,
    /// Per pod.
    pub pods: Vec<PodCost>,
    /// EBS volumes, monthly, by volume id.
    pub volumes_monthly: BTreeMap<String, f64>,
    /// Control-plane fee, hourly.
    pub control_plane_hourly: f64,
}

impl ClusterCosts {
    /// Computes the costs of a cluster.
    pub fn compute(cluster: &Cluster, pricing: &Pricing) -> ClusterCosts {
        let ratio = OPENCOST_CPU_HOURLY / OPENCOST_RAM_GB_HOURLY;
        let mut nodes = Vec::with_capacity(cluster.nodes.len());
        let mut unit: HashMap<&str, (f64, f64)> = HashMap::new();
        for n in &cluster.nodes {
            let price = pricing.node_price(n);
            let it = n
                .instance_type
                .as_deref()
                .and_then(|t| pricing.catalog().get(t));
            let vcpu = it
                .map(|t| t.vcpu as f64)
                .unwrap_or(n.capacity.cpu_milli as f64 / 1000.0)
                .max(0.001);
            let ram_gb = it
                .map(|t| t.memory_mib as f64 / 1024.0)
                .unwrap_or(n.capacity.memory_bytes as f64 / (1u64 << 30) as f64)
                .max(0.001);
            let gpus = it
                .map(|t| t.gpu_count as f64)
                .unwrap_or(n.capacity.gpus as f64);
            let gpu_hourly = (gpus * OPENCOST_GPU_HOURLY).min(price.hourly * 0.8);
            let rest = price.hourly - gpu_hourly;
            let ram_price = rest / (vcpu * ratio + ram_gb);
            let cpu_price = ram_price * ratio;
            unit.insert(n.name.as_str(), (cpu_price, ram_price));
            nodes.push(NodeCost {
                node: n.name.clone(),
                group: n.owner.name().map(str::to_string),
                price,
                cpu_core_hourly: cpu_price,
                memory_gib_hourly: ram_price,
                gpu_hourly,
                allocated_hourly: 0.0,
            });
        }
        let mut pods = Vec::new();
        let mut allocated: HashMap<&str, f64> = HashMap::new();
        for p in &cluster.pods {
            let Some(node) = p.node_name.as_deref() else {
                continue;
            };
            if !p.is_active() {
                continue;
            }
            let Some(&(cpu_price, ram_price)) = unit.get(node) else {
                continue;
            };
            let (cpu_milli, mem_bytes) = allocation(cluster, p);
            let pc = PodCost {
                namespace: p.namespace.clone(),
                pod: p.name.clone(),
                workload: p.workload.clone(),
                node: node.to_string(),
                cpu_hourly: cpu_milli as f64 / 1000.0 * cpu_price,
                memory_hourly: mem_bytes as f64 / (1u64 << 30) as f64 * ram_price,
            };
            *allocated.entry(node).or_default() += pc.hourly();
            pods.push(pc);
        }
        for n in &mut nodes {
            n.allocated_hourly = allocated.get(n.node.as_str()).copied().unwrap_or(0.0);
        }
        let volumes_monthly = cluster
            .aws
            .volumes
            .iter()
            .map(|v| (v.volume_id.clone(), pricing.volume_monthly(v)))
            .collect();
        ClusterCosts {
            nodes,
            pods,
            volumes_monthly,
            control_plane_hourly: if cluster.nodes.is_empty() {
                0.0
            } else {
                EKS_CONTROL_PLANE_HOURLY
            },
        }
    }

    /// Cost of a node.
    pub fn node(&self, name: &str) -> Option<&NodeCost> {
        self.nodes.iter().find(|n| n.node == name)
    }

    /// Hourly cost of all nodes.
    pub fn nodes_hourly(&self) -> f64 {
        self.nodes.iter().map(|n| n.price.hourly).sum()
    }

    /// Monthly cost of a workload (all its pods).
    pub fn workload_monthly(&self, w: &WorkloadRef) -> f64 {
        self.pods
            .iter()
            .filter(|p| p.workload.as_ref() == Some(w))
            .map(|p| p.hourly())
            .sum::<f64>()
            * HOURS_PER_MONTH
    }

    /// Monthly cost by namespace, largest first.
    pub fn by_namespace(&self) -> Vec<(String, f64)> {
        let mut m: BTreeMap<&str, f64> = BTreeMap::new();
        for p in &self.pods {
            *m.entry(p.namespace.as_str()).or_default() += p.hourly() * HOURS_PER_MONTH;
        }
        let mut v: Vec<(String, f64)> = m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Total monthly cost: nodes, control plane and volumes.
    pub fn total_monthly(&self) -> f64 {
        (self.nodes_hourly() + self.control_plane_hourly) * HOURS_PER_MONTH
            + self.volumes_monthly.values().sum::<f64>()
    }

    /// Monthly idle cost of nodes.
    pub fn idle_monthly(&self) -> f64 {
        self.nodes.iter().map(NodeCost::idle_hourly).sum::<f64>() * HOURS_PER_MONTH
    }
}

/// What a pod is charged for: max(request, usage) of CPU (millicores) and memory (bytes).
/// Usage is the metrics.k8s.io reading when present, else the mean of its usage history.
pub fn allocation(cluster: &Cluster, p: &Pod) -> (i64, i64) {
    let req = p.requests();
    let mut cpu_use = 0i64;
    let mut mem_use = 0i64;
    for c in &p.containers {
        let key = format!("{}/{}/{}", p.namespace, p.name, c.name);
        if let Some(r) = cluster.metrics.containers.get(&key) {
            cpu_use += r.cpu_milli;
            mem_use += r.memory_bytes;
        } else if let Some(u) = cluster.usage.containers.get(&crate::model::ContainerKey {
            namespace: p.namespace.clone(),
            pod: p.name.clone(),
            container: c.name.clone(),
        }) {
            if !u.cpu.is_empty() {
                cpu_use +=
                    (u.cpu.iter().map(|s| s.1).sum::<f64>() / u.cpu.len() as f64 * 1000.0) as i64;
            }
            if !u.memory.is_empty() {
                mem_use +=
                    (u.memory.iter().map(|s| s.1).sum::<f64>() / u.memory.len() as f64) as i64;
            }
        }
    }
    (req.cpu_milli.max(cpu_use), req.memory_bytes.max(mem_use))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn node(name: &str, t: &str, cap: CapacityType) -> Node {
        Node {
            name: name.into(),
            instance_type: Some(t.into()),
            zone: Some("us-east-1a".into()),
            region: Some("us-east-1".into()),
            arch: Some("amd64".into()),
            capacity_type: cap,
            owner: NodeOwner::ManagedNodeGroup("g".into()),
            capacity: Resources::new(2000, 8 << 30),
            allocatable: Resources::new(1930, 6903 << 20),
            labels: Default::default(),
            annotations: Default::default(),
            taints: vec![],
            provider_id: None,
            instance_id: None,
            created: None,
            unschedulable: false,
            ready: true,
        }
    }

    #[test]
    fn on_demand_and_spot_prices() {
        let p = Pricing::new("us-east-1");
        let od = p.on_demand("m5.large").unwrap();
        assert_eq!(od.hourly, 0.096);
        assert!(!od.source.is_estimate());
        let spot = p.spot("m5.large", Some("us-east-1a")).unwrap();
        assert_eq!(spot.source, PriceSource::SpotAdvisorEstimate);
        assert!(spot.hourly < od.hourly);
        let ts: jiff::Timestamp = "2021-02-09T01:40:10Z".parse().unwrap();
        let older: jiff::Timestamp = "2021-02-08T01:40:10Z".parse().unwrap();
        let p = p.with_spot_history(&[
            SpotPricePoint {
                instance_type: "m5.large".into(),
                zone: "us-east-1a".into(),
                product: "Linux/UNIX".into(),
                price: 0.04,
                timestamp: older,
            },
            SpotPricePoint {
                instance_type: "m5.large".into(),
                zone: "us-east-1a".into(),
                product: "Linux/UNIX".into(),
                price: 0.0437,
                timestamp: ts,
            },
            SpotPricePoint {
                instance_type: "m5.large".into(),
                zone: "us-east-1b".into(),
                product: "Linux/UNIX".into(),
                price: 0.05,
                timestamp: ts,
            },
        ]);
        assert_eq!(
            p.spot("m5.large", Some("us-east-1a")).unwrap().hourly,
            0.0437
        );
        let avg = p.spot("m5.large", Some("us-east-1f")).unwrap();
        assert!((avg.hourly - 0.04685).abs() < 1e-9);
        assert_eq!(avg.source, PriceSource::SpotPriceHistory);
    }

    #[test]
    fn other_regions_are_estimates_unless_a_table_is_given() {
        let p = Pricing::new("eu-west-1");
        assert_eq!(
            p.on_demand("m5.large").unwrap().source,
            PriceSource::OtherRegionEstimate
        );
        let table = PriceTable::from_csv(
            "eu-west-1",
            "t",
            "instance_type,od_linux_usd_per_hour\nm5.large,0.107\n",
        )
        .unwrap();
        let p = p.with_price_table(table);
        let price = p.on_demand("m5.large").unwrap();
        assert_eq!(price.hourly, 0.107);
        assert_eq!(price.source, PriceSource::OnDemandTable);
    }

    #[test]
    fn opencost_split_adds_up() {
        let cluster = Cluster {
            nodes: vec![node("n1", "m5.large", CapacityType::OnDemand)],
            ..Default::default()
        };
        let costs = ClusterCosts::compute(&cluster, &Pricing::new("us-east-1"));
        let n = &costs.nodes[0];
        let total = n.cpu_core_hourly * 2.0 + n.memory_gib_hourly * 8.0;
        assert!((total - 0.096).abs() < 1e-12);
        let ratio = n.cpu_core_hourly / n.memory_gib_hourly;
        assert!((ratio - 7.4607).abs() < 0.001);
        assert!((costs.total_monthly() - (0.096 + 0.10) * 730.0).abs() < 1e-9);
        assert!((costs.idle_monthly() - 0.096 * 730.0).abs() < 1e-9);
    }
}
