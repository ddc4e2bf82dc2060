//! Inputs and baselines of the packing benchmark (`benches/packing.rs`, `src/bin/packing-scale.rs`):
//! offers from the EC2 catalog, the Alibaba openb trace as a replace problem, seeded random
//! variable-sized bin-packing instances (and their JSON for the CP-SAT reference in
//! `benches/cpsat/solve.py`), a first-fit-decreasing baseline, and a synthetic cluster of
//! thousands of nodes.
//!
//! The openb trace is Alibaba's: Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing
//! Workloads with Fragmentation Gradient Descent", USENIX ATC 2023. It is read from
//! `cloudoptim_tests::shared_data()` at run time and never copied into the repository.

use std::collections::BTreeMap;
use std::path::Path;

use cloudoptim_core::catalog::{Catalog, InstanceType};
use cloudoptim_core::cost::Pricing;
use cloudoptim_core::model::CapacityType;
use cloudoptim_core::packing::{Blocker, Offer, PNode, PPod, Problem};

/// Resources as the packing module counts them: CPU millicores, memory MiB, pod slots, GPUs,
/// ephemeral storage MiB.
pub type R = [i64; 5];

/// The citation of the openb trace, printed wherever its results are.
pub const OPENB_CITATION: &str = "Alibaba openb trace: Weng et al., \"Beware of Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent\", USENIX ATC 2023";

/// Instance types allowed for the openb problem: current general, compute and memory families,
/// and the GPU families for GPU pods.
pub const OPENB_TYPES: &[&str] = &[
    "m5.*", "m6i.*", "m6a.*", "m7i.*", "c5.*", "c6i.*", "c6a.*", "c7i.*", "r5.*", "r6i.*", "r6a.*",
    "r7i.*", "g4dn.*", "g5.*", "p3*",
];

/// Instance types of the random instances: three families, large to 8xlarge.
pub const RANDOM_TYPES: &[&str] = &[
    "m6i.large",
    "m6i.xlarge",
    "m6i.2xlarge",
    "m6i.4xlarge",
    "m6i.8xlarge",
    "c6i.large",
    "c6i.xlarge",
    "c6i.2xlarge",
    "c6i.4xlarge",
    "c6i.8xlarge",
    "r6i.large",
    "r6i.xlarge",
    "r6i.2xlarge",
    "r6i.4xlarge",
    "r6i.8xlarge",
];

/// SplitMix64: small, fast, the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The first `n` zones of us-east-1 (`us-east-1a`, …).
pub fn zones(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("us-east-1{}", (b'a' + i as u8) as char))
        .collect()
}

/// What a node of the type offers to pods.
pub fn capacity(t: &InstanceType) -> R {
    let a = &t.allocatable;
    [
        a.cpu_milli,
        a.memory_bytes >> 20,
        a.pods,
        a.gpus,
        a.ephemeral_storage_bytes >> 20,
    ]
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((pre, post)) => {
            name.len() >= pre.len() + post.len() && name.starts_with(pre) && name.ends_with(post)
        }
    }
}

/// The catalog's instance types matching any pattern, with a us-east-1 on-demand price, metal
/// sizes left out (same capacity and price as the largest virtual size).
pub fn catalog_types(patterns: &[&str]) -> Vec<&'static InstanceType> {
    Catalog::embedded()
        .iter()
        .filter(|t| patterns.iter().any(|p| matches(p, &t.name)))
        .filter(|t| !t.name.ends_with("metal") && !t.name.contains(".metal"))
        .filter(|t| t.od_price_us_east_1.is_some())
        .collect()
}

/// On-demand offers (us-east-1 prices) for every type matching `patterns` in every zone, for
/// one node group with the given extra labels. Offers dominated by another of the same zone
/// (no dearer and no smaller) are dropped, as `Problem::from_cluster` does.
pub fn catalog_offers(
    patterns: &[&str],
    zones: &[String],
    group: Option<&str>,
    extra_labels: &BTreeMap<String, String>,
) -> Vec<Offer> {
    let pricing = Pricing::new("us-east-1");
    let mut out = Vec::new();
    for t in catalog_types(patterns) {
        for z in zones {
            let Some(price) = pricing.price(&t.name, CapacityType::OnDemand, Some(z)) else {
                continue;
            };
            let mut labels = extra_labels.clone();
            labels.insert("node.kubernetes.io/instance-type".into(), t.name.clone());
            labels.insert("topology.kubernetes.io/zone".into(), z.clone());
            labels.insert("kubernetes.io/arch".into(), t.arch.clone());
            labels.insert("kubernetes.io/os".into(), "linux".into());
            if let Some(g) = group {
                labels.insert("eks.amazonaws.com/nodegroup".into(), g.into());
            }
            out.push(Offer {
                instance_type: t.name.clone(),
                zone: z.clone(),
                capacity_type: "on-demand".into(),
                group: group.map(str::to_string),
                labels,
                taints: vec![],
                cap: capacity(t),
                overhead: [0; 5],
                price: price.hourly,
            });
        }
    }
    prune_dominated(out)
}

/// Drops offers that another offer of the same group and zone dominates (no dearer, no
/// smaller in any dimension, better in one).
pub fn prune_dominated(offers: Vec<Offer>) -> Vec<Offer> {
    let keep: Vec<bool> = offers
        .iter()
        .map(|a| {
            !offers.iter().any(|b| {
                b.group == a.group
                    && b.zone == a.zone
                    && b.price <= a.price
                    && (0..5).all(|d| b.cap[d] >= a.cap[d])
                    && (b.price < a.price || (0..5).any(|d| b.cap[d] > a.cap[d]))
            })
        })
        .collect();
    offers
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(o, _)| o)
        .collect()
}

/// A pending pod with requests `req` and no scheduling constraints.
pub fn pending_pod(id: String, req: R) -> PPod {
    PPod {
        id,
        namespace: "default".into(),
        labels: BTreeMap::new(),
        req,
        node: None,
        blocker: None,
        tolerations: vec![],
        node_selector: BTreeMap::new(),
        node_required: vec![],
        anti: vec![],
        spread: vec![],
        disruption: 1.0,
    }
}

/// One pod of the openb trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenbPod {
    /// Name.
    pub name: String,
    /// CPU request, millicores.
    pub cpu_milli: i64,
    /// Memory request, MiB.
    pub memory_mib: i64,
    /// GPUs in the trace.
    pub num_gpu: i64,
    /// Share of each GPU, thousandths.
    pub gpu_milli: i64,
}

impl OpenbPod {
    /// Whole GPUs on EC2 (no sharing): `num_gpu` when each is used whole, else one.
    pub fn whole_gpus(&self) -> i64 {
        match self.num_gpu {
            0 => 0,
            n if self.gpu_milli >= 1000 => n,
            _ => 1,
        }
    }

    /// Requests as the packing module counts them (one pod slot).
    pub fn req(&self) -> R {
        [self.cpu_milli, self.memory_mib, 1, self.whole_gpus(), 0]
    }
}

/// Reads an openb pod list (`openb_pod_list_*.csv`). Every pod of the list counts, whatever its
/// phase: the list is the workload the trace's simulator schedules.
pub fn read_openb(path: &Path) -> std::io::Result<Vec<OpenbPod>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| {
        header.iter().position(|h| *h == name).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: no column {name}", path.display()),
            )
        })
    };
    let (c_name, c_cpu, c_mem, c_gpu, c_gm) = (
        col("name")?,
        col("cpu_milli")?,
        col("memory_mib")?,
        col("num_gpu")?,
        col("gpu_milli")?,
    );
    let num = |v: Option<&&str>| v.and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or(0);
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            OpenbPod {
                name: f.get(c_name).copied().unwrap_or_default().to_string(),
                cpu_milli: num(f.get(c_cpu)),
                memory_mib: num(f.get(c_mem)),
                num_gpu: num(f.get(c_gpu)),
                gpu_milli: num(f.get(c_gm)),
            }
        })
        .collect())
}

/// The openb pods as a replace problem: no existing nodes, every pod pending, offers of
/// [`OPENB_TYPES`] in `zones` zones of us-east-1, on demand.
pub fn openb_problem(pods: &[OpenbPod], nzones: usize) -> Problem {
    let zs = zones(nzones);
    Problem {
        nodes: vec![],
        pods: pods
            .iter()
            .map(|p| pending_pod(format!("openb/{}", p.name), p.req()))
            .collect(),
        offers: catalog_offers(OPENB_TYPES, &zs, None, &BTreeMap::new()),
        zones: zs,
    }
}

/// What a baseline packing cost.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselinePlan {
    /// USD per hour.
    pub cost: f64,
    /// Nodes opened.
    pub bins: usize,
    /// Pods no offer can hold.
    pub unplaced: usize,
}

fn fits(used: R, req: R, cap: R) -> bool {
    (0..5).all(|d| req[d] == 0 || used[d] + req[d] <= cap[d])
}

/// First-fit decreasing, the textbook baseline: pods by CPU request, largest first; each goes
/// into the first open node with room, else into a new node of the cheapest offer that holds
/// it. Resources only (the pods of the benchmark problems have no other constraints).
pub fn ffd(problem: &Problem) -> BaselinePlan {
    let mut order: Vec<usize> = (0..problem.pods.len()).collect();
    order.sort_by_key(|&i| {
        let r = problem.pods[i].req;
        (std::cmp::Reverse(r[0]), std::cmp::Reverse(r[1]), i)
    });
    let mut offers: Vec<&Offer> = problem.offers.iter().collect();
    offers.sort_by(|a, b| a.price.total_cmp(&b.price));
    let mut bins: Vec<(R, R, f64)> = Vec::new(); // (cap, used, price)
    let mut unplaced = 0;
    for i in order {
        let req = problem.pods[i].req;
        if let Some(b) = bins
            .iter_mut()
            .find(|(cap, used, _)| fits(*used, req, *cap))
        {
            for (u, r) in b.1.iter_mut().zip(req) {
                *u += r;
            }
            continue;
        }
        match offers.iter().find(|o| fits([0; 5], req, o.cap)) {
            Some(o) => bins.push((o.cap, req, o.price)),
            None => unplaced += 1,
        }
    }
    BaselinePlan {
        cost: bins.iter().map(|b| b.2).sum(),
        bins: bins.len(),
        unplaced,
    }
}

/// An instance type of a random instance.
#[derive(Debug, Clone, PartialEq)]
pub struct BinType {
    /// Name.
    pub name: String,
    /// Allocatable CPU, millicores.
    pub cpu: i64,
    /// Allocatable memory, MiB.
    pub mem: i64,
    /// Pod slots.
    pub pods: i64,
    /// USD per hour.
    pub price: f64,
}

/// A random variable-sized bin-packing instance: pods (CPU millicores, memory MiB) and the
/// types of [`RANDOM_TYPES`] at us-east-1 on-demand prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Seed it was made from.
    pub seed: u64,
    /// (CPU millicores, memory MiB) per pod.
    pub pods: Vec<(i64, i64)>,
    /// Bin types.
    pub types: Vec<BinType>,
}

/// A seeded random instance of `n` pods: a third compute-heavy (1–2 GiB per core), a third
/// balanced (3–5 GiB per core), a third memory-heavy (6–9 GiB per core); CPU requests from
/// 100m to 4 cores, small ones more common.
pub fn random_instance(n: usize, seed: u64) -> Instance {
    let mut rng = Rng(seed ^ 0x5EED_0000_0000_0000);
    const CPU: &[i64] = &[
        100, 100, 250, 250, 250, 500, 500, 500, 750, 1000, 1000, 1500, 2000, 3000, 4000,
    ];
    let pods = (0..n)
        .map(|_| {
            let cpu = CPU[rng.below(CPU.len())];
            let (lo, hi) = match rng.below(3) {
                0 => (1.0, 2.0),
                1 => (3.0, 5.0),
                _ => (6.0, 9.0),
            };
            let gib_per_core = lo + (hi - lo) * rng.unit();
            let mem = ((cpu as f64 / 1000.0) * gib_per_core * 1024.0 / 64.0).round() as i64 * 64;
            (cpu, mem.max(64))
        })
        .collect();
    let types = RANDOM_TYPES
        .iter()
        .filter_map(|name| Catalog::embedded().get(name))
        .map(|t| {
            let c = capacity(t);
            BinType {
                name: t.name.clone(),
                cpu: c[0],
                mem: c[1],
                pods: c[2],
                price: t.od_price_us_east_1.unwrap_or(0.0),
            }
        })
        .collect();
    Instance { seed, pods, types }
}

impl Instance {
    /// The instance as a replace problem: one zone, every pod pending, one offer per type.
    pub fn problem(&self) -> Problem {
        let zone = "us-east-1a".to_string();
        Problem {
            nodes: vec![],
            pods: self
                .pods
                .iter()
                .enumerate()
                .map(|(i, &(c, m))| pending_pod(format!("default/p{i}"), [c, m, 1, 0, 0]))
                .collect(),
            offers: self
                .types
                .iter()
                .map(|t| Offer {
                    instance_type: t.name.clone(),
                    zone: zone.clone(),
                    capacity_type: "on-demand".into(),
                    group: None,
                    labels: BTreeMap::from([
                        (
                            "node.kubernetes.io/instance-type".to_string(),
                            t.name.clone(),
                        ),
                        ("topology.kubernetes.io/zone".to_string(), zone.clone()),
                    ]),
                    taints: vec![],
                    cap: [t.cpu, t.mem, t.pods, 0, 0],
                    overhead: [0; 5],
                    price: t.price,
                })
                .collect(),
            zones: vec![zone],
        }
    }

    /// The JSON `benches/cpsat/solve.py` reads.
    pub fn to_json(&self, max_bins: usize, time_limit_s: f64, workers: usize) -> String {
        serde_json::json!({
            "seed": self.seed,
            "pods": self.pods.iter().map(|&(c, m)| serde_json::json!({"cpu": c, "mem": m})).collect::<Vec<_>>(),
            "types": self.types.iter().map(|t| serde_json::json!({
                "name": t.name, "cpu": t.cpu, "mem": t.mem, "pods": t.pods, "price": t.price
            })).collect::<Vec<_>>(),
            "max_bins": max_bins,
            "time_limit_s": time_limit_s,
            "workers": workers,
        })
        .to_string()
    }
}

/// What the CP-SAT script reported.
#[derive(Debug, Clone, PartialEq)]
pub struct CpSat {
    /// `OPTIMAL`, `FEASIBLE`, `UNKNOWN`, …
    pub status: String,
    /// USD per hour of the best solution, if one was found.
    pub cost: Option<f64>,
    /// Solver wall time, model building included, seconds.
    pub wall_s: f64,
    /// When the last improving solution was found, seconds.
    pub time_to_best_s: Option<f64>,
    /// CP-SAT's lower bound, USD per hour.
    pub best_bound: Option<f64>,
}

/// Why CP-SAT could not be run.
#[derive(Debug, Clone, PartialEq)]
pub enum CpSatError {
    /// `ortools` is not importable by the interpreter (the message says how to install it).
    Unavailable(String),
    /// The script failed.
    Failed(String),
}

/// The Python interpreter for CP-SAT: `$CLOUDOPTIM_BENCH_PYTHON`, else the benchmark virtualenv
/// `$HOME/.cache/cloudoptim-bench-venv/bin/python` when it exists, else `python3`.
pub fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("CLOUDOPTIM_BENCH_PYTHON") {
        return p.into();
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = Path::new(&home).join(".cache/cloudoptim-bench-venv/bin/python");
        if venv.is_file() {
            return venv;
        }
    }
    "python3".into()
}

/// Whether `ortools` is importable; the error says how to make it so.
pub fn cpsat_available() -> Result<(), CpSatError> {
    let py = python();
    let out = std::process::Command::new(&py)
        .args(["-c", "import ortools.sat.python.cp_model"])
        .output()
        .map_err(|e| CpSatError::Unavailable(format!("{}: {e}", py.display())))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CpSatError::Unavailable(format!(
            "{} cannot import ortools; python3 -m venv $HOME/.cache/cloudoptim-bench-venv && $HOME/.cache/cloudoptim-bench-venv/bin/pip install ortools (or set CLOUDOPTIM_BENCH_PYTHON)",
            py.display()
        )))
    }
}

/// Runs `benches/cpsat/solve.py` on an instance file.
pub fn run_cpsat(instance_json: &Path) -> Result<CpSat, CpSatError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("cpsat/solve.py");
    let out = std::process::Command::new(python())
        .arg(&script)
        .arg(instance_json)
        .output()
        .map_err(|e| CpSatError::Failed(e.to_string()))?;
    if out.status.code() == Some(3) {
        return Err(CpSatError::Unavailable(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    if !out.status.success() {
        return Err(CpSatError::Failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| CpSatError::Failed(format!("bad output: {e}")))?;
    Ok(CpSat {
        status: v["status"].as_str().unwrap_or_default().to_string(),
        cost: v["cost"].as_f64(),
        wall_s: v["wall_s"].as_f64().unwrap_or(f64::NAN),
        time_to_best_s: v["time_to_best_s"].as_f64(),
        best_bound: v["best_bound"].as_f64(),
    })
}

/// Node types of the synthetic cluster: (group, type, share of the group's nodes).
const SCALE_NODE_TYPES: &[(&str, &str, u32)] = &[
    ("general", "m6i.2xlarge", 30),
    ("general", "m6i.4xlarge", 35),
    ("general", "m5.4xlarge", 15),
    ("general", "c6i.4xlarge", 20),
    ("memory", "r6i.2xlarge", 50),
    ("memory", "r6i.4xlarge", 50),
];

/// Instance-type patterns offered for new nodes of the synthetic cluster.
pub const SCALE_OFFER_TYPES: &[&str] =
    &["m5.*", "m6i.*", "m7i.*", "c6i.*", "c7i.*", "r6i.*", "r7i.*"];

/// A synthetic cluster of `nodes` nodes and `pods` pods as a packing problem.
///
/// Two node groups across three zones: `general` (90 % of the nodes: m6i.2xlarge/4xlarge,
/// m5.4xlarge, c6i.4xlarge) and `memory` (r6i.2xlarge/4xlarge, labelled
/// `workload-class=memory`). Pods come from 300 request shapes (Zipf-like popularity; 25m to
/// 2 cores, 0.5 to 8 GiB per core), placed on random nodes with room, which leaves the
/// cluster about 60 % allocated. 3 % of the pods select the memory group by `nodeSelector`,
/// 1 % select a zone, 0.3 % are bare pods that pin their node. New nodes may be any of
/// [`SCALE_OFFER_TYPES`] in either group and any zone, on demand.
pub fn scale_problem(nodes: usize, pods: usize, seed: u64) -> Problem {
    let mut rng = Rng(seed);
    let zs = zones(3);
    let catalog = Catalog::embedded();
    let pricing = Pricing::new("us-east-1");
    let group_labels = |g: &str| {
        let mut l = BTreeMap::from([("eks.amazonaws.com/nodegroup".to_string(), g.to_string())]);
        if g == "memory" {
            l.insert("workload-class".into(), "memory".into());
        }
        l
    };
    let mut pnodes = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let group = if i % 10 == 9 { "memory" } else { "general" };
        let choices: Vec<_> = SCALE_NODE_TYPES
            .iter()
            .filter(|(g, ..)| *g == group)
            .collect();
        let total: u32 = choices.iter().map(|c| c.2).sum();
        let mut r = rng.below(total as usize) as u32;
        let mut t = choices[0].1;
        for c in &choices {
            if r < c.2 {
                t = c.1;
                break;
            }
            r -= c.2;
        }
        let it = catalog.get(t).expect("scale node types are in the catalog");
        let zone = zs[i % 3].clone();
        let name = format!(
            "ip-10-{}-{}-{}.ec2.internal",
            i / 65536,
            (i / 256) % 256,
            i % 256
        );
        let mut labels = group_labels(group);
        labels.insert("kubernetes.io/hostname".into(), name.clone());
        labels.insert("node.kubernetes.io/instance-type".into(), t.into());
        labels.insert("topology.kubernetes.io/zone".into(), zone.clone());
        labels.insert("kubernetes.io/arch".into(), it.arch.clone());
        labels.insert("kubernetes.io/os".into(), "linux".into());
        let price = pricing
            .price(t, CapacityType::OnDemand, Some(&zone))
            .map(|p| p.hourly)
            .unwrap_or(0.0);
        pnodes.push(PNode {
            name,
            instance_type: t.into(),
            zone,
            capacity_type: "on-demand".into(),
            group: Some(group.into()),
            labels,
            taints: vec![],
            cap: capacity(it),
            // a node-exporter and a CNI DaemonSet on every node
            overhead: [150, 300, 2, 0, 0],
            price,
        });
    }
    // request shapes: (cpu, memory) with Zipf-like popularity
    const CPU: &[i64] = &[
        25, 50, 50, 100, 100, 100, 150, 200, 250, 250, 300, 500, 750, 1000,
    ];
    let shapes: Vec<(i64, i64)> = (0..300)
        .map(|_| {
            let cpu = CPU[rng.below(CPU.len())] * if rng.below(40) == 0 { 2 } else { 1 };
            let gib = 0.5 + 7.5 * rng.unit() * rng.unit();
            let mem = ((cpu as f64 / 1000.0 * gib * 1024.0) / 16.0).round() as i64 * 16;
            (cpu, mem.max(32))
        })
        .collect();
    let weights: Vec<f64> = (0..shapes.len()).map(|k| 1.0 / (k as f64 + 2.0)).collect();
    let wsum: f64 = weights.iter().sum();
    let mut used: Vec<R> = vec![[0; 5]; nodes];
    let mut ppods = Vec::with_capacity(pods);
    for i in 0..pods {
        let mut u = rng.unit() * wsum;
        let mut s = 0;
        while s + 1 < shapes.len() && u >= weights[s] {
            u -= weights[s];
            s += 1;
        }
        let (cpu, mem) = shapes[s];
        let req = [cpu, mem, 1, 0, 0];
        let mut pod = pending_pod(format!("app-{}/pod-{i}", s % 40), req);
        pod.namespace = format!("app-{}", s % 40);
        pod.labels
            .insert("app".into(), format!("shape-{s}-{}", i % 7));
        let roll = rng.below(1000);
        let mut want_group = None;
        let mut want_zone = None;
        if roll < 30 {
            pod.node_selector
                .insert("workload-class".into(), "memory".into());
            want_group = Some("memory");
        } else if roll < 40 {
            let z = zs[rng.below(3)].clone();
            pod.node_selector
                .insert("topology.kubernetes.io/zone".into(), z.clone());
            want_zone = Some(z);
        } else if roll < 43 {
            pod.blocker = Some(Blocker::NoController);
        }
        // a random node with room that its selector allows
        let ok = |n: usize, used: &[R]| {
            let node = &pnodes[n];
            want_group.is_none_or(|g| node.group.as_deref() == Some(g))
                && want_zone.as_ref().is_none_or(|z| &node.zone == z)
                && fits(used[n], req, sub(node.cap, node.overhead))
        };
        let mut placed = None;
        for _ in 0..24 {
            let n = rng.below(nodes);
            if ok(n, &used) {
                placed = Some(n);
                break;
            }
        }
        if placed.is_none() {
            placed = (0..nodes).find(|&n| ok(n, &used));
        }
        if let Some(n) = placed {
            for d in 0..5 {
                used[n][d] += req[d];
            }
            pod.node = Some(n);
        }
        ppods.push(pod);
    }
    let mut offers = catalog_offers(SCALE_OFFER_TYPES, &zs, Some("general"), &BTreeMap::new());
    offers.extend(catalog_offers(
        SCALE_OFFER_TYPES,
        &zs,
        Some("memory"),
        &BTreeMap::from([("workload-class".to_string(), "memory".to_string())]),
    ));
    for o in &mut offers {
        o.overhead = [150, 300, 2, 0, 0];
    }
    Problem {
        nodes: pnodes,
        pods: ppods,
        offers,
        zones: zs,
    }
}

fn sub(a: R, b: R) -> R {
    std::array::from_fn(|d| a[d] - b[d])
}

/// This process's peak resident memory (`VmHWM`), KiB; `None` off Linux.
pub fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU time this thread has run, seconds (`/proc/thread-self/schedstat`, nanoseconds); `None`
/// off Linux. On a shared machine it is what one core spent, whatever the wait for a core.
pub fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffd_packs_everything_it_can() {
        let inst = random_instance(60, 1);
        let p = inst.problem();
        let f = ffd(&p);
        assert_eq!(f.unplaced, 0);
        assert!(f.cost > 0.0 && f.bins > 0);
    }

    #[test]
    fn openb_gpus_are_whole() {
        let p = OpenbPod {
            name: "x".into(),
            cpu_milli: 1,
            memory_mib: 1,
            num_gpu: 1,
            gpu_milli: 460,
        };
        assert_eq!(p.whole_gpus(), 1);
        let p = OpenbPod {
            num_gpu: 4,
            gpu_milli: 1000,
            ..p
        };
        assert_eq!(p.whole_gpus(), 4);
    }

    #[test]
    fn scale_problem_is_consistent() {
        let p = scale_problem(50, 1500, 7);
        assert_eq!(p.nodes.len(), 50);
        assert_eq!(p.pods.len(), 1500);
        assert!(p.pods.iter().filter(|x| x.node.is_some()).count() > 1400);
        assert!(!p.offers.is_empty());
    }
}
