//! Writes a synthetic large cluster as the files a platform team would export: one
//! `kubectl get nodes,deployments,replicasets,pods -A -o json` list (`cluster.json`) and two
//! Prometheus `query_range` responses (`usage-cpu.json`, `usage-memory.json`).
//!
//! Used by the bindings overhead benchmark (`benches/overhead/run.sh`, docs/benchmarks.md):
//!
//! ```text
//! gen-cluster OUT_DIR [--nodes 5000] [--pods-per-node 8] [--hours 24] [--step-minutes 10]
//! ```
//!
//! Deterministic: the same arguments write the same bytes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use cloudoptim_overhead_bench::Rng;

struct Args {
    out: PathBuf,
    nodes: usize,
    pods_per_node: usize,
    hours: usize,
    step_minutes: usize,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        out: PathBuf::new(),
        nodes: 5000,
        pods_per_node: 8,
        hours: 24,
        step_minutes: 10,
    };
    let mut out = None;
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next()
                .ok_or(format!("{name} needs a value"))?
                .parse()
                .map_err(|e| format!("{name}: {e}"))
        };
        match arg.as_str() {
            "--nodes" => a.nodes = num("--nodes")?,
            "--pods-per-node" => a.pods_per_node = num("--pods-per-node")?,
            "--hours" => a.hours = num("--hours")?,
            "--step-minutes" => a.step_minutes = num("--step-minutes")?,
            s if s.starts_with("--") => return Err(format!("unknown option {s}")),
            s => out = Some(PathBuf::from(s)),
        }
    }
    a.out = out.ok_or(
        "usage: gen-cluster OUT_DIR [--nodes N] [--pods-per-node N] [--hours H] [--step-minutes M]",
    )?;
    if a.step_minutes == 0 || a.nodes == 0 {
        return Err("--nodes and --step-minutes must be positive".into());
    }
    Ok(a)
}

/// (instance type, allocatable millicores, allocatable MiB, max pods)
const TYPES: [(&str, u64, u64, u64); 4] = [
    ("m5.2xlarge", 7910, 30400, 58),
    ("m6i.2xlarge", 7910, 30400, 58),
    ("c6i.4xlarge", 15890, 29000, 234),
    ("r6i.2xlarge", 7910, 62000, 58),
];
const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];
const REPLICAS: usize = 10;
/// Epoch seconds of the first sample (2026-11-01T00:00:00Z).
const START: u64 = 1_761_955_200;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let a = parse()?;
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let mut rng = Rng(7);
    let pods = a.nodes * a.pods_per_node;
    let deployments = pods.div_ceil(REPLICAS);
    let namespaces = (deployments / 40).max(1);

    let mut items: Vec<String> = Vec::with_capacity(a.nodes + 2 * deployments + pods);
    for n in 0..a.nodes {
        let (t, cpu, mem, maxp) = TYPES[n % TYPES.len()];
        let zone = ZONES[n % ZONES.len()];
        let spot = n % 5 == 0;
        items.push(format!(
            r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"ip-10-{a}-{b}-{c}.ec2.internal","uid":"node-{n}","creationTimestamp":"2026-10-01T00:00:00Z","labels":{{"node.kubernetes.io/instance-type":"{t}","topology.kubernetes.io/zone":"{zone}","topology.kubernetes.io/region":"us-east-1","kubernetes.io/arch":"amd64","kubernetes.io/os":"linux","eks.amazonaws.com/nodegroup":"ng-{g}","eks.amazonaws.com/capacityType":"{cap}"}}}},"spec":{{"providerID":"aws:///{zone}/i-{n:017x}"}},"status":{{"allocatable":{{"cpu":"{cpu}m","memory":"{mem}Mi","pods":"{maxp}"}},"capacity":{{"cpu":"{cc}","memory":"{cm}Mi","pods":"{maxp}"}}}}}}"#,
            a = n / 65536,
            b = (n / 256) % 256,
            c = n % 256,
            g = n % TYPES.len(),
            cap = if spot { "SPOT" } else { "ON_DEMAND" },
            cc = cpu.div_ceil(1000),
            cm = mem + 1024,
        ));
    }
    // per deployment: requests (millicores, MiB) and the usage as a share of them
    let mut shapes = Vec::with_capacity(deployments);
    for d in 0..deployments {
        let cpu = [100u64, 250, 500, 1000][rng.below(4)];
        let mem = [256u64, 512, 1024, 2048][rng.below(4)];
        let used = 0.15 + 0.8 * rng.unit();
        let ns = format!("team-{}", d % namespaces);
        let name = format!("svc-{d}");
        items.push(format!(
            r#"{{"apiVersion":"apps/v1","kind":"Deployment","metadata":{{"name":"{name}","namespace":"{ns}","uid":"dep-{d}","labels":{{"app":"{name}","team":"{ns}"}}}},"spec":{{"replicas":{REPLICAS},"selector":{{"matchLabels":{{"app":"{name}"}}}},"template":{{"metadata":{{"labels":{{"app":"{name}"}}}},"spec":{{"containers":[{{"name":"app","image":"registry.example/{name}:1","resources":{{"requests":{{"cpu":"{cpu}m","memory":"{mem}Mi"}},"limits":{{"memory":"{mem}Mi"}}}}}}]}}}}}},"status":{{"replicas":{REPLICAS},"readyReplicas":{REPLICAS}}}}}"#
        ));
        items.push(format!(
            r#"{{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{{"name":"{name}-5d8f7c9b4","namespace":"{ns}","uid":"rs-{d}","ownerReferences":[{{"apiVersion":"apps/v1","kind":"Deployment","name":"{name}","uid":"dep-{d}","controller":true}}]}},"spec":{{"replicas":{REPLICAS}}},"status":{{"replicas":{REPLICAS}}}}}"#
        ));
        shapes.push((ns, name, cpu, mem, used));
    }
    for p in 0..pods {
        let d = p / REPLICAS;
        let (ns, name, cpu, mem, _) = &shapes[d];
        let node = (p * 7919) % a.nodes;
        items.push(format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"{name}-5d8f7c9b4-{p:05x}","namespace":"{ns}","uid":"pod-{p}","labels":{{"app":"{name}"}},"ownerReferences":[{{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"{name}-5d8f7c9b4","uid":"rs-{d}","controller":true}}]}},"spec":{{"nodeName":"ip-10-{a}-{b}-{c}.ec2.internal","containers":[{{"name":"app","image":"registry.example/{name}:1","resources":{{"requests":{{"cpu":"{cpu}m","memory":"{mem}Mi"}},"limits":{{"memory":"{mem}Mi"}}}}}}]}},"status":{{"phase":"Running","startTime":"2026-10-01T00:00:00Z"}}}}"#,
            a = node / 65536,
            b = (node / 256) % 256,
            c = node % 256,
        ));
    }
    let mut text = String::from(r#"{"apiVersion":"v1","kind":"List","items":["#);
    text.push_str(&items.join(",\n"));
    text.push_str("]}\n");
    write(&a.out.join("cluster.json"), text.as_bytes())?;
    drop(items);

    let steps = a.hours * 60 / a.step_minutes;
    for (file, metric, memory) in [
        ("usage-cpu.json", "container_cpu_usage_seconds_total", false),
        (
            "usage-memory.json",
            "container_memory_working_set_bytes",
            true,
        ),
    ] {
        let mut s = String::with_capacity(pods * steps * 26);
        s.push_str(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
        for p in 0..pods {
            let (ns, name, cpu, mem, used) = &shapes[p / REPLICAS];
            if p > 0 {
                s.push_str(",\n");
            }
            let _ = write!(
                s,
                r#"{{"metric":{{"__name__":"{metric}","namespace":"{ns}","pod":"{name}-5d8f7c9b4-{p:05x}","container":"app"}},"values":["#
            );
            for i in 0..steps {
                let wave = 0.75 + 0.25 * (i as f64 * std::f64::consts::TAU / 144.0).sin();
                let noise = 0.9 + 0.2 * rng.unit();
                let v = if memory {
                    (*mem as f64 * 1_048_576.0 * used * (0.85 + 0.1 * noise)).round()
                } else {
                    *cpu as f64 / 1000.0 * used * wave * noise
                };
                if i > 0 {
                    s.push(',');
                }
                let t = START + (i * a.step_minutes * 60) as u64;
                if memory {
                    let _ = write!(s, r#"[{t},"{v}"]"#);
                } else {
                    let _ = write!(s, r#"[{t},"{v:.5}"]"#);
                }
            }
            s.push_str("]}");
        }
        s.push_str("]}}\n");
        write(&a.out.join(file), s.as_bytes())?;
    }
    println!(
        "{}: {} nodes, {} deployments, {} pods, {} samples per series",
        a.out.display(),
        a.nodes,
        deployments,
        pods,
        steps
    );
    Ok(())
}

fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    let mut f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}
