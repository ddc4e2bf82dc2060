//! A realistic demo cluster, generated deterministically: 40 nodes in three zones across four
//! managed node groups and a Karpenter NodePool (spot and on-demand), about 300 pods in
//! production, staging and development namespaces, a week of usage history at 15-minute
//! resolution, EBS volumes (some unattached) and an EC2 instance that never joined.
//!
//! The same seed always gives the same cluster, so recommendation ids and figures are stable.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::catalog::Catalog;
use crate::model::*;

/// Name of the demo cluster.
pub const DEMO_CLUSTER_NAME: &str = "acme-prod-use1";
/// End of the demo's usage history (its "now").
pub const DEMO_NOW: &str = "2026-11-23T12:00:00Z";
const SEED: u64 = 0x00c1_0d0b_71aa;
const MI: i64 = 1 << 20;
const GI: i64 = 1 << 30;
const STEP_SECONDS: i64 = 900;
const HISTORY_DAYS: i64 = 7;

struct GroupSpec {
    name: &'static str,
    karpenter: bool,
    types: &'static [&'static str],
    spot: &'static [bool],
    count: usize,
    taint: Option<(&'static str, &'static str)>,
}

const GROUPS: &[GroupSpec] = &[
    GroupSpec {
        name: "system",
        karpenter: false,
        types: &["m6i.large"],
        spot: &[false],
        count: 3,
        taint: Some(("CriticalAddonsOnly", "true")),
    },
    GroupSpec {
        name: "general",
        karpenter: false,
        types: &["m5.2xlarge"],
        spot: &[false],
        count: 9,
        taint: None,
    },
    GroupSpec {
        name: "memory-optimized",
        karpenter: false,
        types: &["r6i.2xlarge"],
        spot: &[false],
        count: 4,
        taint: None,
    },
    GroupSpec {
        name: "batch-spot",
        karpenter: false,
        types: &["c6i.2xlarge", "c5.2xlarge"],
        spot: &[true],
        count: 5,
        taint: Some(("workload", "batch")),
    },
    GroupSpec {
        name: "default",
        karpenter: true,
        types: &["m6i.xlarge", "m6a.xlarge", "c6a.2xlarge", "m5.xlarge"],
        spot: &[true, false, true],
        count: 12,
        taint: None,
    },
];

/// A container template: name, cpu request (m), memory request (Mi), cpu limit (m, 0 = none),
/// memory limit (Mi, 0 = none), mean cpu use as a share of the request, memory use share.
#[derive(Clone, Copy)]
struct C(&'static str, i64, i64, i64, i64, f64, f64);

struct WorkloadSpec {
    ns: &'static str,
    name: &'static str,
    kind: WorkloadKind,
    replicas: usize,
    containers: &'static [C],
    group: &'static str,
    hpa: Option<(i32, i32, i32)>,
    pvc_gib: Option<i64>,
    annotations: &'static [(&'static str, &'static str)],
}

const fn w(
    ns: &'static str,
    name: &'static str,
    kind: WorkloadKind,
    replicas: usize,
    containers: &'static [C],
    group: &'static str,
) -> WorkloadSpec {
    WorkloadSpec {
        ns,
        name,
        kind,
        replicas,
        containers,
        group,
        hpa: None,
        pvc_gib: None,
        annotations: &[],
    }
}

use WorkloadKind::{Deployment as D, StatefulSet as S};

fn workloads() -> Vec<WorkloadSpec> {
    vec![
        // kube-system and platform
        w(
            "kube-system",
            "coredns",
            D,
            2,
            &[C("coredns", 100, 70, 0, 170, 0.3, 0.6)],
            "system",
        ),
        w(
            "kube-system",
            "aws-load-balancer-controller",
            D,
            2,
            &[C("controller", 100, 200, 0, 500, 0.1, 0.5)],
            "system",
        ),
        w(
            "kube-system",
            "metrics-server",
            D,
            1,
            &[C("metrics-server", 100, 200, 0, 0, 0.2, 0.4)],
            "system",
        ),
        w(
            "karpenter",
            "karpenter",
            D,
            2,
            &[C("controller", 1000, 1024, 0, 1024, 0.08, 0.35)],
            "system",
        ),
        w(
            "argocd",
            "argocd-server",
            D,
            2,
            &[C("server", 250, 256, 0, 0, 0.1, 0.5)],
            "default",
        ),
        w(
            "argocd",
            "argocd-repo-server",
            D,
            2,
            &[C("repo-server", 500, 512, 0, 0, 0.15, 0.4)],
            "default",
        ),
        w(
            "argocd",
            "argocd-application-controller",
            S,
            1,
            &[C("controller", 1000, 2048, 0, 0, 0.3, 0.5)],
            "default",
        ),
        WorkloadSpec {
            pvc_gib: Some(200),
            ..w(
                "monitoring",
                "prometheus",
                S,
                2,
                &[
                    C("prometheus", 2000, 8192, 0, 8192, 0.25, 0.62),
                    C("config-reloader", 50, 50, 100, 50, 0.05, 0.4),
                ],
                "memory-optimized",
            )
        },
        w(
            "monitoring",
            "grafana",
            D,
            1,
            &[C("grafana", 250, 512, 0, 0, 0.1, 0.4)],
            "default",
        ),
        w(
            "monitoring",
            "alertmanager",
            D,
            2,
            &[C("alertmanager", 100, 256, 0, 0, 0.05, 0.3)],
            "default",
        ),
        w(
            "monitoring",
            "kube-state-metrics",
            D,
            1,
            &[C("kube-state-metrics", 100, 256, 0, 0, 0.2, 0.5)],
            "default",
        ),
        // production
        WorkloadSpec {
            hpa: Some((4, 16, 70)),
            ..w(
                "shop",
                "frontend",
                D,
                6,
                &[C("web", 500, 512, 1000, 512, 0.3, 0.45)],
                "general",
            )
        },
        w(
            "shop",
            "checkout",
            D,
            4,
            &[
                C("app", 2000, 4096, 0, 4096, 0.09, 0.22),
                C("envoy", 100, 128, 0, 0, 0.2, 0.5),
            ],
            "general",
        ),
        w(
            "shop",
            "cart",
            D,
            4,
            &[C("app", 500, 1024, 0, 1024, 0.3, 0.5)],
            "general",
        ),
        w(
            "shop",
            "catalog",
            D,
            3,
            &[C("app", 1000, 2048, 0, 2048, 0.14, 0.3)],
            "general",
        ),
        w(
            "shop",
            "recommendations",
            D,
            3,
            &[C("model-server", 1500, 3072, 0, 3072, 0.2, 0.34)],
            "general",
        ),
        w(
            "shop",
            "email-worker",
            D,
            2,
            &[C("worker", 250, 512, 0, 0, 0.1, 0.3)],
            "default",
        ),
        WorkloadSpec {
            ..w(
                "payments",
                "payments-api",
                D,
                4,
                &[C("api", 1000, 2048, 2000, 2048, 0.2, 0.4)],
                "general",
            )
        },
        w(
            "payments",
            "fraud-scorer",
            D,
            2,
            &[C("scorer", 2000, 8192, 0, 8192, 0.3, 0.6)],
            "memory-optimized",
        ),
        WorkloadSpec {
            annotations: &[("cluster-autoscaler.kubernetes.io/safe-to-evict", "false")],
            ..w(
                "payments",
                "ledger-sync",
                D,
                1,
                &[C("sync", 500, 1024, 0, 0, 0.1, 0.3)],
                "default",
            )
        },
        WorkloadSpec {
            hpa: Some((3, 10, 60)),
            ..w(
                "search",
                "search-api",
                D,
                3,
                &[C("api", 1000, 2048, 0, 2048, 0.22, 0.35)],
                "default",
            )
        },
        w(
            "search",
            "indexer",
            D,
            2,
            &[C("indexer", 1500, 2048, 0, 2048, 0.4, 0.93)],
            "default",
        ),
        WorkloadSpec {
            pvc_gib: Some(500),
            ..w(
                "data",
                "postgres",
                S,
                3,
                &[C("postgres", 2000, 8192, 0, 8192, 0.18, 0.55)],
                "memory-optimized",
            )
        },
        WorkloadSpec {
            pvc_gib: Some(20),
            ..w(
                "data",
                "redis",
                S,
                3,
                &[C("redis", 500, 2048, 0, 2048, 0.1, 0.3)],
                "default",
            )
        },
        w(
            "data",
            "kafka-connect",
            D,
            2,
            &[C("connect", 1000, 4096, 0, 4096, 0.15, 0.45)],
            "general",
        ),
        // batch on spot
        w(
            "ml-batch",
            "feature-store",
            D,
            2,
            &[C("server", 1000, 2048, 0, 0, 0.35, 0.5)],
            "batch-spot",
        ),
        WorkloadSpec {
            annotations: &[("karpenter.sh/do-not-disrupt", "true")],
            ..w(
                "ml-batch",
                "trainer",
                D,
                2,
                &[C("trainer", 3000, 6144, 0, 0, 0.7, 0.7)],
                "batch-spot",
            )
        },
        // staging and development copies of production
        w(
            "staging-shop",
            "frontend",
            D,
            2,
            &[C("web", 500, 512, 1000, 512, 0.08, 0.4)],
            "default",
        ),
        w(
            "staging-shop",
            "checkout",
            D,
            2,
            &[
                C("app", 2000, 4096, 0, 4096, 0.03, 0.2),
                C("envoy", 100, 128, 0, 0, 0.1, 0.5),
            ],
            "default",
        ),
        w(
            "staging-shop",
            "cart",
            D,
            2,
            &[C("app", 500, 1024, 0, 1024, 0.05, 0.4)],
            "default",
        ),
        w(
            "staging-shop",
            "catalog",
            D,
            2,
            &[C("app", 1000, 2048, 0, 2048, 0.04, 0.25)],
            "default",
        ),
        w(
            "staging-payments",
            "payments-api",
            D,
            2,
            &[C("api", 1000, 2048, 2000, 2048, 0.05, 0.35)],
            "default",
        ),
        w(
            "dev-shop",
            "frontend",
            D,
            1,
            &[C("web", 500, 512, 1000, 512, 0.05, 0.4)],
            "default",
        ),
        w(
            "dev-shop",
            "checkout",
            D,
            1,
            &[C("app", 2000, 4096, 0, 4096, 0.02, 0.15)],
            "default",
        ),
        w(
            "dev-shop",
            "cart",
            D,
            1,
            &[C("app", 500, 1024, 0, 1024, 0.03, 0.3)],
            "default",
        ),
        WorkloadSpec {
            pvc_gib: Some(50),
            ..w(
                "dev-shop",
                "postgres-dev",
                S,
                1,
                &[C("postgres", 1000, 4096, 0, 4096, 0.03, 0.3)],
                "default",
            )
        },
    ]
}

const DAEMONSETS: &[(&str, &str, C)] = &[
    (
        "kube-system",
        "aws-node",
        C("aws-node", 25, 0, 0, 0, 0.8, 0.0),
    ),
    (
        "kube-system",
        "kube-proxy",
        C("kube-proxy", 100, 0, 0, 0, 0.1, 0.0),
    ),
    (
        "kube-system",
        "ebs-csi-node",
        C("ebs-plugin", 30, 120, 0, 256, 0.1, 0.3),
    ),
    (
        "kube-system",
        "fluent-bit",
        C("fluent-bit", 100, 128, 0, 256, 0.3, 0.5),
    ),
    (
        "monitoring",
        "node-exporter",
        C("node-exporter", 50, 64, 0, 128, 0.2, 0.4),
    ),
];

const NAMESPACES: &[(&str, &str)] = &[
    ("default", "production"),
    ("kube-system", "platform"),
    ("karpenter", "platform"),
    ("argocd", "platform"),
    ("monitoring", "platform"),
    ("shop", "production"),
    ("payments", "production"),
    ("search", "production"),
    ("data", "production"),
    ("ml-batch", "production"),
    ("staging-shop", "staging"),
    ("staging-payments", "staging"),
    ("dev-shop", "development"),
];

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn hex(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect()
}

fn pod_suffix(rng: &mut ChaCha8Rng) -> String {
    const ALPHA: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHA[rng.random_range(0..ALPHA.len())] as char)
        .collect()
}

fn container(c: &C, restarts: i32, last: Option<Termination>) -> Container {
    Container {
        name: c.0.to_string(),
        image: Some(format!("registry.example.com/{}:1.4.2", c.0)),
        requests: Resources::new(c.1, c.2 * MI),
        limits: Resources::new(c.3, c.4 * MI),
        has_cpu_limit: c.3 > 0,
        has_memory_limit: c.4 > 0,
        restart_count: restarts,
        last_termination: last,
        sidecar: false,
    }
}

fn container_spec(c: &C) -> ContainerSpec {
    ContainerSpec {
        name: c.0.to_string(),
        requests: Resources::new(c.1, c.2 * MI),
        limits: Resources::new(c.3, c.4 * MI),
        has_cpu_limit: c.3 > 0,
        has_memory_limit: c.4 > 0,
    }
}

#[allow(clippy::too_many_arguments)]
fn bare_pod(
    ns: &str,
    name: &str,
    node: Option<String>,
    containers: Vec<Container>,
    controller: Option<(String, String)>,
    workload: Option<WorkloadRef>,
    labels: BTreeMap<String, String>,
    created: Timestamp,
) -> Pod {
    Pod {
        namespace: ns.into(),
        name: name.into(),
        uid: None,
        phase: if node.is_some() {
            "Running".into()
        } else {
            "Pending".into()
        },
        node_name: node,
        controller,
        workload,
        workload_inferred: false,
        containers,
        init_containers: vec![],
        overhead: Resources::default(),
        labels,
        annotations: BTreeMap::new(),
        tolerations: vec![],
        node_selector: BTreeMap::new(),
        affinity: Affinity::default(),
        topology_spread: vec![],
        priority: 0,
        priority_class: None,
        local_storage: false,
        pvc_names: vec![],
        created: Some(created),
    }
}

/// The demo cluster.
pub fn demo_cluster() -> Cluster {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let catalog = Catalog::embedded();
    #[allow(clippy::expect_used)]
    let now: Timestamp = DEMO_NOW.parse().expect("DEMO_NOW is RFC 3339");
    let zones = ["us-east-1a", "us-east-1b", "us-east-1c"];
    let mut c = Cluster {
        name: DEMO_CLUSTER_NAME.into(),
        region: Some("us-east-1".into()),
        ..Default::default()
    };
    for (name, env) in NAMESPACES {
        let team = match *name {
            "shop" | "staging-shop" | "dev-shop" | "search" => "storefront",
            "payments" | "staging-payments" => "payments",
            "data" | "ml-batch" => "data",
            _ => "platform",
        };
        c.namespaces.push(Namespace {
            name: name.to_string(),
            labels: labels(&[
                ("kubernetes.io/metadata.name", name),
                ("environment", env),
                ("team", team),
            ]),
            annotations: BTreeMap::new(),
        });
    }
    // ---- nodes and their EC2 instances
    let mut node_group: Vec<&'static str> = Vec::new();
    let mut idx = 0usize;
    for g in GROUPS {
        for i in 0..g.count {
            let t = g.types[i % g.types.len()];
            let spot = g.spot[i % g.spot.len()];
            let Some(it) = catalog.get(t) else { continue };
            let zone = zones[idx % 3];
            idx += 1;
            let ip = format!(
                "10.0.{}.{}",
                16 * (1 + idx % 3) + rng.random_range(0..16),
                rng.random_range(2..250)
            );
            let name = format!("ip-{}.ec2.internal", ip.replace('.', "-"));
            let instance_id = format!("i-0{}", hex(&mut rng, 16));
            let age_days = if g.karpenter {
                rng.random_range(1..9)
            } else {
                rng.random_range(12..60)
            };
            let created =
                now - jiff::SignedDuration::from_hours(24 * age_days + rng.random_range(0..24));
            let mut l = labels(&[
                ("kubernetes.io/arch", &it.arch),
                ("kubernetes.io/os", "linux"),
                ("kubernetes.io/hostname", &name),
                ("node.kubernetes.io/instance-type", t),
                ("topology.kubernetes.io/zone", zone),
                ("topology.kubernetes.io/region", "us-east-1"),
            ]);
            let owner = if g.karpenter {
                l.insert("karpenter.sh/nodepool".into(), g.name.into());
                l.insert(
                    "karpenter.sh/capacity-type".into(),
                    if spot { "spot" } else { "on-demand" }.into(),
                );
                l.insert(
                    "karpenter.k8s.aws/instance-family".into(),
                    it.family.clone(),
                );
                NodeOwner::NodePool(g.name.into())
            } else {
                l.insert("eks.amazonaws.com/nodegroup".into(), g.name.into());
                l.insert(
                    "eks.amazonaws.com/capacityType".into(),
                    if spot { "SPOT" } else { "ON_DEMAND" }.into(),
                );
                NodeOwner::ManagedNodeGroup(g.name.into())
            };
            let mut capacity = Resources::new(it.vcpu as i64 * 1000, it.memory_bytes());
            capacity.pods = it.max_pods as i64;
            c.nodes.push(Node {
                name: name.clone(),
                instance_type: Some(t.into()),
                zone: Some(zone.into()),
                region: Some("us-east-1".into()),
                arch: Some(it.arch.clone()),
                capacity_type: if spot {
                    CapacityType::Spot
                } else {
                    CapacityType::OnDemand
                },
                owner,
                capacity,
                allocatable: it.allocatable,
                labels: l,
                annotations: BTreeMap::new(),
                taints: g
                    .taint
                    .map(|(k, v)| {
                        vec![Taint {
                            key: k.into(),
                            value: v.into(),
                            effect: "NoSchedule".into(),
                        }]
                    })
                    .unwrap_or_default(),
                provider_id: Some(format!("aws:///{zone}/{instance_id}")),
                instance_id: Some(instance_id.clone()),
                created: Some(created),
                unschedulable: false,
                ready: true,
            });
            node_group.push(g.name);
            let mut tags = labels(&[
                ("eks:cluster-name", DEMO_CLUSTER_NAME),
                (
                    &format!("kubernetes.io/cluster/{DEMO_CLUSTER_NAME}"),
                    "owned",
                ),
                ("Name", &format!("{DEMO_CLUSTER_NAME}-{}", g.name)),
            ]);
            if g.karpenter {
                tags.insert("karpenter.sh/nodepool".into(), g.name.into());
                tags.insert("eks:eks-cluster-name".into(), DEMO_CLUSTER_NAME.into());
            } else {
                tags.insert("eks:nodegroup-name".into(), g.name.into());
                tags.insert(
                    "aws:autoscaling:groupName".into(),
                    format!("eks-{}-{}", g.name, hex(&mut rng, 8)),
                );
            }
            c.aws.instances.push(Ec2Instance {
                instance_id: instance_id.clone(),
                instance_type: t.into(),
                zone: Some(zone.into()),
                state: "running".into(),
                spot,
                launch_time: Some(created - jiff::SignedDuration::from_secs(90)),
                tags,
                private_dns_name: Some(name.clone()),
                architecture: Some(
                    if it.arch == "arm64" {
                        "arm64"
                    } else {
                        "x86_64"
                    }
                    .into(),
                ),
            });
            c.aws.volumes.push(EbsVolume {
                volume_id: format!("vol-0{}", hex(&mut rng, 16)),
                size_gib: 80,
                volume_type: "gp3".into(),
                state: "in-use".into(),
                zone: Some(zone.into()),
                iops: Some(3000),
                throughput: Some(125),
                create_time: Some(created),
                attached_to: vec![instance_id],
                tags: BTreeMap::new(),
            });
        }
    }
    // ---- free capacity per node, after DaemonSets
    let mut free: Vec<Resources> = c.nodes.iter().map(|n| n.allocatable).collect();
    let tolerate_all = vec![Toleration {
        key: String::new(),
        operator: "Exists".into(),
        value: String::new(),
        effect: String::new(),
    }];
    for (ns, ds, spec) in DAEMONSETS {
        c.workloads.push(Workload {
            kind: WorkloadKind::DaemonSet,
            namespace: ns.to_string(),
            name: ds.to_string(),
            replicas: None,
            selector: LabelSelector {
                match_labels: labels(&[("app.kubernetes.io/name", ds)]),
                match_expressions: vec![],
            },
            labels: labels(&[("app.kubernetes.io/name", ds)]),
            annotations: BTreeMap::new(),
            containers: vec![container_spec(spec)],
            owner: None,
            schedule: None,
            hpa: None,
        });
        for (ni, node) in c.nodes.iter().enumerate() {
            let name = format!("{ds}-{}", pod_suffix(&mut rng));
            let mut p = bare_pod(
                ns,
                &name,
                Some(node.name.clone()),
                vec![container(spec, 0, None)],
                Some(("DaemonSet".into(), ds.to_string())),
                Some(WorkloadRef {
                    kind: WorkloadKind::DaemonSet,
                    namespace: ns.to_string(),
                    name: ds.to_string(),
                }),
                labels(&[("app.kubernetes.io/name", ds)]),
                node.created.unwrap_or(now),
            );
            p.tolerations = tolerate_all.clone();
            p.priority = 2_000_001_000;
            p.priority_class = Some("system-node-critical".into());
            free[ni] = free[ni] - p.requests();
            c.pods.push(p);
        }
    }
    // ---- workloads
    let mut pvc_n = 0usize;
    for spec in workloads() {
        let hash = hex(&mut rng, 10);
        let app_labels = labels(&[
            ("app.kubernetes.io/name", spec.name),
            ("app.kubernetes.io/part-of", spec.ns),
        ]);
        c.workloads.push(Workload {
            kind: spec.kind,
            namespace: spec.ns.into(),
            name: spec.name.into(),
            replicas: Some(spec.replicas as i32),
            selector: LabelSelector {
                match_labels: app_labels.clone(),
                match_expressions: vec![],
            },
            labels: app_labels.clone(),
            annotations: BTreeMap::new(),
            containers: spec.containers.iter().map(container_spec).collect(),
            owner: None,
            schedule: None,
            hpa: spec.hpa.map(|_| format!("{}/{}", spec.ns, spec.name)),
        });
        if let Some((min, max, target)) = spec.hpa {
            c.hpas.push(Hpa {
                namespace: spec.ns.into(),
                name: spec.name.into(),
                target_kind: "Deployment".into(),
                target_name: spec.name.into(),
                min_replicas: min,
                max_replicas: max,
                resource_targets: vec![("cpu".into(), Some(target))],
                current_replicas: Some(spec.replicas as i32),
            });
        }
        let candidates: Vec<usize> = (0..c.nodes.len())
            .filter(|&i| node_group[i] == spec.group)
            .collect();
        for r in 0..spec.replicas {
            let (pod_name, controller) = match spec.kind {
                WorkloadKind::StatefulSet => (
                    format!("{}-{r}", spec.name),
                    ("StatefulSet".to_string(), spec.name.to_string()),
                ),
                _ => (
                    format!("{}-{hash}-{}", spec.name, pod_suffix(&mut rng)),
                    ("ReplicaSet".to_string(), format!("{}-{hash}", spec.name)),
                ),
            };
            let oom = spec.name == "indexer" && spec.ns == "search";
            let containers: Vec<Container> = spec
                .containers
                .iter()
                .map(|cs| {
                    if oom {
                        container(
                            cs,
                            7 + r as i32,
                            Some(Termination {
                                reason: Some("OOMKilled".into()),
                                exit_code: 137,
                                finished_at: Some(
                                    now - jiff::SignedDuration::from_hours(5 + r as i64),
                                ),
                            }),
                        )
                    } else {
                        container(cs, 0, None)
                    }
                })
                .collect();
            let mut pl = app_labels.clone();
            if spec.kind == WorkloadKind::Deployment {
                pl.insert("pod-template-hash".into(), hash.clone());
            }
            let mut p = bare_pod(
                spec.ns,
                &pod_name,
                None,
                containers,
                Some(controller),
                Some(WorkloadRef {
                    kind: spec.kind,
                    namespace: spec.ns.into(),
                    name: spec.name.into(),
                }),
                pl,
                now - jiff::SignedDuration::from_hours(24 * 9 + r as i64),
            );
            for (k, v) in spec.annotations {
                p.annotations.insert(k.to_string(), v.to_string());
            }
            let group_key = if spec.group == "default" {
                "karpenter.sh/nodepool"
            } else {
                "eks.amazonaws.com/nodegroup"
            };
            p.node_selector.insert(group_key.into(), spec.group.into());
            if let Some(g) = GROUPS.iter().find(|g| g.name == spec.group)
                && let Some((k, v)) = g.taint
            {
                p.tolerations.push(Toleration {
                    key: k.into(),
                    operator: "Equal".into(),
                    value: v.into(),
                    effect: "NoSchedule".into(),
                });
            }
            if spec.replicas > 1 {
                p.affinity
                    .pod_anti_affinity_preferred
                    .push(PodAffinityTerm {
                        label_selector: LabelSelector {
                            match_labels: app_labels.clone(),
                            match_expressions: vec![],
                        },
                        topology_key: "kubernetes.io/hostname".into(),
                        namespaces: vec![],
                        weight: 100,
                    });
            }
            if let Some(gib) = spec.pvc_gib {
                let claim = format!("data-{}", pod_name);
                let pv_name = format!(
                    "pvc-{}-{}-{}-{}",
                    hex(&mut rng, 8),
                    hex(&mut rng, 4),
                    hex(&mut rng, 4),
                    hex(&mut rng, 12)
                );
                let vol = format!("vol-0{}", hex(&mut rng, 16));
                c.pvcs.push(Pvc {
                    namespace: spec.ns.into(),
                    name: claim.clone(),
                    storage_class: Some("gp3".into()),
                    requested_bytes: gib * GI,
                    volume_name: Some(pv_name.clone()),
                    phase: Some("Bound".into()),
                });
                c.pvs.push(Pv {
                    name: pv_name.clone(),
                    capacity_bytes: gib * GI,
                    storage_class: Some("gp3".into()),
                    claim: Some(format!("{}/{claim}", spec.ns)),
                    driver: Some("ebs.csi.aws.com".into()),
                    volume_id: Some(vol.clone()),
                    phase: Some("Bound".into()),
                    reclaim_policy: Some("Delete".into()),
                });
                p.pvc_names.push(claim);
                c.aws.volumes.push(EbsVolume {
                    volume_id: vol,
                    size_gib: gib,
                    volume_type: "gp3".into(),
                    state: "in-use".into(),
                    zone: None,
                    iops: Some(3000),
                    throughput: Some(125),
                    create_time: Some(now - jiff::SignedDuration::from_hours(24 * 40)),
                    attached_to: vec![],
                    tags: labels(&[
                        ("CSIVolumeName", &pv_name),
                        ("ebs.csi.aws.com/cluster", "true"),
                    ]),
                });
                pvc_n += 1;
            }
            // the scheduler's default scoring (LeastAllocated): the fitting node with the most free CPU share
            let need = p.requests();
            let chosen = candidates
                .iter()
                .copied()
                .filter(|&ni| {
                    need.fits_in(&free[ni])
                        && !c.nodes[ni]
                            .taints
                            .iter()
                            .any(|t| !p.tolerations.iter().any(|tol| tol.tolerates(t)))
                })
                .max_by(|&a, &b| {
                    let score = |i: usize| {
                        free[i].cpu_milli as f64 / c.nodes[i].allocatable.cpu_milli.max(1) as f64
                            + free[i].memory_bytes as f64
                                / c.nodes[i].allocatable.memory_bytes.max(1) as f64
                    };
                    score(a).total_cmp(&score(b)).then(b.cmp(&a))
                });
            if let Some(ni) = chosen {
                free[ni] = free[ni] - need;
                p.node_name = Some(c.nodes[ni].name.clone());
                p.phase = "Running".into();
                if let Some(pv) = p.pvc_names.first().and_then(|claim| {
                    c.pvs
                        .iter()
                        .find(|pv| pv.claim.as_deref() == Some(&format!("{}/{claim}", spec.ns)))
                }) {
                    let vol = pv.volume_id.clone();
                    let inst = c.nodes[ni].instance_id.clone();
                    let zone = c.nodes[ni].zone.clone();
                    if let Some(v) = c
                        .aws
                        .volumes
                        .iter_mut()
                        .find(|v| Some(&v.volume_id) == vol.as_ref())
                    {
                        v.attached_to = inst.into_iter().collect();
                        v.zone = zone;
                    }
                }
            }
            c.pods.push(p);
        }
    }
    let _ = pvc_n;
    // a finished CronJob run and a bare debugging pod
    c.workloads.push(Workload {
        kind: WorkloadKind::CronJob,
        namespace: "ml-batch".into(),
        name: "nightly-retrain".into(),
        replicas: None,
        selector: LabelSelector::default(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        containers: vec![container_spec(&C("retrain", 4000, 8192, 0, 0, 0.8, 0.6))],
        owner: None,
        schedule: Some("0 2 * * *".into()),
        hpa: None,
    });
    let job_pod = bare_pod(
        "ml-batch",
        &format!("nightly-retrain-29391960-{}", pod_suffix(&mut rng)),
        None,
        vec![container(
            &C("retrain", 4000, 8192, 0, 0, 0.8, 0.6),
            0,
            Some(Termination {
                reason: Some("Completed".into()),
                exit_code: 0,
                finished_at: Some(now - jiff::SignedDuration::from_hours(8)),
            }),
        )],
        Some(("Job".into(), "nightly-retrain-29391960".into())),
        Some(WorkloadRef {
            kind: WorkloadKind::CronJob,
            namespace: "ml-batch".into(),
            name: "nightly-retrain".into(),
        }),
        BTreeMap::new(),
        now - jiff::SignedDuration::from_hours(10),
    );
    c.pods.push(Pod {
        phase: "Succeeded".into(),
        node_name: Some(c.nodes[20].name.clone()),
        ..job_pod
    });
    let debug_node = c
        .nodes
        .iter()
        .position(|n| n.owner == NodeOwner::NodePool("default".into()))
        .unwrap_or(0);
    let mut debug = bare_pod(
        "default",
        "debug-shell",
        Some(c.nodes[debug_node].name.clone()),
        vec![container(&C("shell", 100, 128, 0, 0, 0.01, 0.2), 0, None)],
        None,
        None,
        BTreeMap::new(),
        now - jiff::SignedDuration::from_hours(30),
    );
    debug.local_storage = true;
    c.pods.push(debug);
    // ---- PDBs
    for (ns, name, min, max) in [
        ("payments", "payments-api", Some("3"), None),
        ("data", "postgres", None, Some("1")),
        ("kube-system", "coredns", None, Some("1")),
    ] {
        c.pdbs.push(Pdb {
            namespace: ns.into(),
            name: name.into(),
            selector: LabelSelector {
                match_labels: labels(&[("app.kubernetes.io/name", name)]),
                match_expressions: vec![],
            },
            min_available: min.map(str::to_string),
            max_unavailable: max.map(str::to_string),
            disruptions_allowed: Some(1),
        });
    }
    // ---- leftovers in AWS: unattached volumes and an instance that never joined
    let released_vol = format!("vol-0{}", hex(&mut rng, 16));
    c.pvs.push(Pv {
        name: "pvc-5e1d2c7a-old-elasticsearch-0".into(),
        capacity_bytes: 500 * GI,
        storage_class: Some("gp2".into()),
        claim: Some("search/data-elasticsearch-0".into()),
        driver: Some("kubernetes.io/aws-ebs".into()),
        volume_id: Some(released_vol.clone()),
        phase: Some("Released".into()),
        reclaim_policy: Some("Retain".into()),
    });
    #[allow(clippy::type_complexity)]
    let leftovers: [(String, i64, &str, Option<i64>, i64, Vec<(&str, &str)>); 5] = [
        (
            released_vol,
            500,
            "gp2",
            None,
            140,
            vec![
                ("kubernetes.io/created-for/pvc/name", "data-elasticsearch-0"),
                ("kubernetes.io/created-for/pvc/namespace", "search"),
            ],
        ),
        (
            format!("vol-0{}", hex(&mut rng, 16)),
            1000,
            "st1",
            None,
            95,
            vec![("Name", "log-archive-old")],
        ),
        (
            format!("vol-0{}", hex(&mut rng, 16)),
            200,
            "io1",
            Some(4000),
            61,
            vec![("Name", "perf-test-db")],
        ),
        (
            format!("vol-0{}", hex(&mut rng, 16)),
            100,
            "gp3",
            Some(3000),
            33,
            vec![
                ("ebs.csi.aws.com/cluster", "true"),
                ("CSIVolumeName", "pvc-1f0e9a77-deleted"),
            ],
        ),
        (
            format!("vol-0{}", hex(&mut rng, 16)),
            20,
            "gp3",
            Some(3000),
            2,
            vec![("Name", "scratch")],
        ),
    ];
    for (id, size, vt, iops, age, tags) in leftovers {
        c.aws.volumes.push(EbsVolume {
            volume_id: id,
            size_gib: size,
            volume_type: vt.into(),
            state: "available".into(),
            zone: Some("us-east-1b".into()),
            iops,
            throughput: None,
            create_time: Some(now - jiff::SignedDuration::from_hours(24 * age)),
            attached_to: vec![],
            tags: labels(&tags),
        });
    }
    c.aws.instances.push(Ec2Instance {
        instance_id: format!("i-0{}", hex(&mut rng, 16)),
        instance_type: "m5.2xlarge".into(),
        zone: Some("us-east-1c".into()),
        state: "running".into(),
        spot: false,
        launch_time: Some(now - jiff::SignedDuration::from_hours(24 * 6 + 3)),
        tags: labels(&[
            ("eks:cluster-name", DEMO_CLUSTER_NAME),
            ("eks:nodegroup-name", "general"),
            (
                &format!("kubernetes.io/cluster/{DEMO_CLUSTER_NAME}"),
                "owned",
            ),
            ("aws:autoscaling:groupName", "eks-general-1ac4b0e2"),
        ]),
        private_dns_name: Some("ip-10-0-77-19.ec2.internal".into()),
        architecture: Some("x86_64".into()),
    });
    // ---- Services for the Deployments and StatefulSets, and a week of traffic between them
    for w in &c.workloads {
        if matches!(w.kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet) {
            c.services.push(Service {
                namespace: w.namespace.clone(),
                name: w.name.clone(),
                selector: labels(&[("app.kubernetes.io/name", &w.name)]),
                traffic_distribution: (w.namespace == "shop" && w.name == "catalog")
                    .then(|| "PreferClose".to_string()),
                internal_traffic_policy: None,
                topology_mode: None,
            });
        }
    }
    const TB: f64 = 1e12;
    for (src, dst, tb) in [
        ("shop/frontend", "shop/checkout", 1.2),
        ("shop/frontend", "shop/cart", 2.5),
        ("shop/frontend", "shop/catalog", 4.0),
        ("shop/frontend", "search/search-api", 1.8),
        ("shop/checkout", "payments/payments-api", 0.9),
        ("payments/payments-api", "data/postgres", 3.1),
        ("search/indexer", "data/kafka-connect", 0.4),
        ("shop/recommendations", "data/redis", 2.2),
    ] {
        c.traffic.push(TrafficFlow {
            source: src.into(),
            destination: dst.into(),
            bytes: tb * TB,
            window_seconds: 7.0 * 86_400.0,
        });
    }
    // ---- a week of usage at 15-minute steps
    let start = now.as_second() - HISTORY_DAYS * 86_400;
    let steps = (HISTORY_DAYS * 86_400 / STEP_SECONDS) as usize;
    let shares: BTreeMap<(String, String), (f64, f64)> = workloads()
        .iter()
        .flat_map(|s| {
            s.containers.iter().map(move |cs| {
                (
                    (format!("{}/{}", s.ns, s.name), cs.0.to_string()),
                    (cs.5, cs.6),
                )
            })
        })
        .chain(
            DAEMONSETS
                .iter()
                .map(|(ns, n, cs)| ((format!("{ns}/{n}"), cs.0.to_string()), (cs.5, cs.6))),
        )
        .collect();
    let mut usage = UsageHistory::default();
    for p in &c.pods {
        if p.phase != "Running" {
            continue;
        }
        let Some(wr) = &p.workload else { continue };
        let prod = matches!(
            c.namespace(&p.namespace)
                .and_then(|n| n.labels.get("environment"))
                .map(String::as_str),
            Some("production")
        );
        for ct in &p.containers {
            let Some(&(cpu_share, mem_share)) =
                shares.get(&(format!("{}/{}", wr.namespace, wr.name), ct.name.clone()))
            else {
                continue;
            };
            let cpu_base = ct.requests.cpu_milli.max(50) as f64 / 1000.0 * cpu_share;
            let mem_base = ct.requests.memory_bytes.max(64 * MI) as f64 * mem_share;
            let phase: f64 = rng.random_range(0.0..1.0);
            let mut cu = ContainerUsage {
                cpu: Vec::with_capacity(steps),
                memory: Vec::with_capacity(steps),
            };
            for s in 0..steps {
                let t = start + (s as i64 + 1) * STEP_SECONDS;
                let hour = ((t % 86_400) as f64 / 3600.0 - 5.0).rem_euclid(24.0); // US Eastern
                let weekday = ((t / 86_400 + 3) % 7) < 5; // 1970-01-01 was a Thursday
                let busy = if prod && weekday && (8.0..20.0).contains(&hour) {
                    1.0 + 0.6 * ((hour - 8.0) / 12.0 * std::f64::consts::PI).sin()
                } else {
                    0.7
                };
                let noise: f64 = rng.random_range(0.8..1.25);
                let spike = if rng.random_range(0.0..1.0) < 0.004 {
                    1.8
                } else {
                    1.0
                };
                cu.cpu
                    .push((t, (cpu_base * busy * noise * spike * 1e4).round() / 1e4));
                let wave = 1.0
                    + 0.08
                        * ((s as f64 / steps as f64 * 7.0 + phase) * std::f64::consts::TAU).sin();
                let mnoise: f64 = rng.random_range(0.97..1.03);
                cu.memory.push((t, (mem_base * wave * mnoise).round()));
            }
            usage.containers.insert(
                ContainerKey {
                    namespace: p.namespace.clone(),
                    pod: p.name.clone(),
                    container: ct.name.clone(),
                },
                cu,
            );
        }
    }
    c.usage = usage;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_deterministic_and_realistic() {
        let a = demo_cluster();
        let b = demo_cluster();
        assert_eq!(a, b);
        assert!(
            (30..=60).contains(&a.nodes.len()),
            "{} nodes",
            a.nodes.len()
        );
        let zones: std::collections::BTreeSet<_> =
            a.nodes.iter().filter_map(|n| n.zone.clone()).collect();
        assert_eq!(zones.len(), 3);
        assert!(
            a.nodes
                .iter()
                .any(|n| n.capacity_type == CapacityType::Spot)
        );
        assert!(
            a.nodes
                .iter()
                .any(|n| matches!(n.owner, NodeOwner::NodePool(_)))
        );
        assert!(a.pods.len() >= 200, "{} pods", a.pods.len());
        let pending = a.pods.iter().filter(|p| p.phase == "Pending").count();
        assert_eq!(pending, 0, "every demo pod should be placed");
        for n in &a.nodes {
            let used: Resources = a.pods_on(&n.name).map(|p| p.requests()).sum();
            assert!(
                used.cpu_milli <= n.allocatable.cpu_milli
                    && used.memory_bytes <= n.allocatable.memory_bytes,
                "{} overcommitted",
                n.name
            );
        }
        assert!(a.usage.len() > 200);
        assert!(
            a.aws
                .volumes
                .iter()
                .filter(|v| v.state == "available")
                .count()
                >= 3
        );
    }
}
