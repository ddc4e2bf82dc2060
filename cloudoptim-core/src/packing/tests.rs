//! Every constraint on small hand-made clusters: a plan that breaks one fails here.
use std::collections::BTreeMap;

use super::*;
use crate::model::*;

fn node(name: &str, t: &str, zone: &str, group: &str) -> Node {
    let it = crate::catalog::Catalog::embedded().get(t).unwrap();
    let mut labels = BTreeMap::new();
    for (k, v) in [
        ("kubernetes.io/hostname", name),
        ("node.kubernetes.io/instance-type", t),
        ("topology.kubernetes.io/zone", zone),
        ("kubernetes.io/arch", it.arch.as_str()),
        ("eks.amazonaws.com/nodegroup", group),
        ("eks.amazonaws.com/capacityType", "ON_DEMAND"),
    ] {
        labels.insert(k.to_string(), v.to_string());
    }
    Node {
        name: name.into(),
        instance_type: Some(t.into()),
        zone: Some(zone.into()),
        region: Some("us-east-1".into()),
        arch: Some(it.arch.clone()),
        capacity_type: CapacityType::OnDemand,
        owner: NodeOwner::ManagedNodeGroup(group.into()),
        capacity: it.allocatable,
        allocatable: it.allocatable,
        labels,
        annotations: BTreeMap::new(),
        taints: vec![],
        provider_id: None,
        instance_id: None,
        created: None,
        unschedulable: false,
        ready: true,
    }
}

fn pod(name: &str, node: &str, cpu: i64, mem_mi: i64) -> Pod {
    Pod {
        namespace: "app".into(),
        name: name.into(),
        uid: None,
        node_name: Some(node.into()),
        phase: "Running".into(),
        controller: Some(("ReplicaSet".into(), "web-1".into())),
        workload: None,
        workload_inferred: false,
        containers: vec![Container {
            name: "c".into(),
            image: None,
            requests: Resources::new(cpu, mem_mi << 20),
            limits: Resources::default(),
            has_cpu_limit: false,
            has_memory_limit: false,
            restart_count: 0,
            last_termination: None,
            sidecar: false,
        }],
        init_containers: vec![],
        overhead: Resources::default(),
        labels: BTreeMap::from([(
            "app".to_string(),
            name.split('-').next().unwrap_or(name).to_string(),
        )]),
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
    }
}

fn cluster(nodes: Vec<Node>, pods: Vec<Pod>) -> Cluster {
    Cluster {
        name: "t".into(),
        region: Some("us-east-1".into()),
        nodes,
        pods,
        ..Default::default()
    }
}

fn plan(c: &Cluster, mode: Mode) -> Plan {
    let cfg = PackingConfig {
        mode,
        allow_types: vec!["m5.*".into()],
        ..Default::default()
    };
    consolidate(c, &crate::cost::Pricing::new("us-east-1"), &cfg).unwrap()
}

fn node_of<'a>(p: &'a Plan, pod: &str) -> &'a str {
    &p.assignments
        .iter()
        .find(|a| a.pod == format!("app/{pod}"))
        .unwrap_or_else(|| panic!("{pod} unplaced: {:?} {:?}", p.unplaced, p.mode))
        .node
}

fn check_resources(c: &Cluster, p: &Plan) {
    // no node over its allocatable after the plan
    let prob = Problem::from_cluster(
        c,
        &crate::cost::Pricing::new("us-east-1"),
        &PackingConfig::default(),
    )
    .unwrap();
    for n in &p.nodes {
        let cap = crate::catalog::Catalog::embedded()
            .get(&n.instance_type)
            .unwrap()
            .allocatable;
        let used: i64 = p
            .assignments
            .iter()
            .filter(|a| a.node == n.name)
            .map(|a| prob.pods.iter().find(|x| x.id == a.pod).unwrap().req[0])
            .sum();
        assert!(
            used <= cap.cpu_milli,
            "{} over cpu: {used} > {}",
            n.name,
            cap.cpu_milli
        );
    }
}

#[test]
fn remove_empties_and_underused_nodes() {
    let c = cluster(
        vec![
            node("n1", "m5.xlarge", "us-east-1a", "g"),
            node("n2", "m5.xlarge", "us-east-1a", "g"),
            node("n3", "m5.xlarge", "us-east-1a", "g"),
        ],
        vec![pod("a-1", "n1", 1000, 1024), pod("b-1", "n2", 500, 512)],
    );
    let p = plan(&c, Mode::Remove);
    assert_eq!(p.removed.len(), 2, "{:?}", p.removed);
    assert!(
        p.removed.contains(&"n3".to_string()),
        "the empty node goes first"
    );
    assert_eq!(p.steps[0].removed, vec!["n3".to_string()]);
    assert!(p.cost_after_hourly < p.cost_before_hourly);
    assert!(p.lower_bound_hourly <= p.cost_after_hourly + 1e-9);
    assert_eq!(p.assignments.len(), 2);
    check_resources(&c, &p);
}

#[test]
fn pods_that_must_not_move_never_move() {
    let mut bare = pod("bare-1", "n1", 100, 128);
    bare.controller = None;
    let mut dnd = pod("dnd-1", "n2", 100, 128);
    dnd.annotations
        .insert("karpenter.sh/do-not-disrupt".into(), "true".into());
    let mut ste = pod("ste-1", "n3", 100, 128);
    ste.annotations.insert(
        "cluster-autoscaler.kubernetes.io/safe-to-evict".into(),
        "false".into(),
    );
    let mut local = pod("local-1", "n4", 100, 128);
    local.local_storage = true;
    let mut sys = pod("sys-1", "n5", 100, 128);
    sys.namespace = "kube-system".into();
    let mut pdb = pod("pdb-1", "n6", 100, 128);
    pdb.labels.insert("tier".into(), "db".into());
    let mut c = cluster(
        (1..=7)
            .map(|i| node(&format!("n{i}"), "m5.xlarge", "us-east-1a", "g"))
            .collect(),
        vec![
            bare,
            dnd,
            ste,
            local,
            sys,
            pdb,
            pod("free-1", "n7", 100, 128),
        ],
    );
    c.pdbs.push(Pdb {
        namespace: "app".into(),
        name: "db".into(),
        selector: LabelSelector {
            match_labels: BTreeMap::from([("tier".to_string(), "db".to_string())]),
            match_expressions: vec![],
        },
        min_available: Some("1".into()),
        max_unavailable: None,
        disruptions_allowed: Some(0),
    });
    for mode in [Mode::Remove, Mode::Replace] {
        let p = plan(&c, mode);
        for (pod, n) in [
            ("bare-1", "n1"),
            ("dnd-1", "n2"),
            ("ste-1", "n3"),
            ("local-1", "n4"),
            ("pdb-1", "n6"),
        ] {
            assert_eq!(node_of(&p, pod), n, "{mode:?}: {pod} moved");
        }
        assert_eq!(
            p.assignments
                .iter()
                .find(|a| a.pod == "kube-system/sys-1")
                .unwrap()
                .node,
            "n5"
        );
        assert_eq!(p.blocked.len(), 6, "{:?}", p.blocked);
        for reason in [
            "do-not-disrupt",
            "safe-to-evict",
            "bare pod",
            "local storage",
            "kube-system",
            "allows no disruption",
        ] {
            assert!(
                p.blocked.iter().any(|b| b.reason.contains(reason)),
                "{reason} missing"
            );
        }
        assert!(p.removed.contains(&"n7".to_string()) || p.nodes.iter().all(|n| n.name != "n7"));
    }
}

#[test]
fn taints_and_selectors_are_honoured() {
    let mut gpu = node("gpu", "m5.2xlarge", "us-east-1a", "special");
    gpu.taints.push(Taint {
        key: "dedicated".into(),
        value: "special".into(),
        effect: "NoSchedule".into(),
    });
    let mut picky = pod("picky-1", "n1", 500, 512);
    picky
        .node_selector
        .insert("eks.amazonaws.com/nodegroup".into(), "g".into());
    let c = cluster(
        vec![node("n1", "m5.xlarge", "us-east-1a", "g"), gpu],
        vec![picky, pod("plain-1", "n1", 500, 512)],
    );
    let p = plan(&c, Mode::Remove);
    // nothing may move to the tainted node, so n1 stays; the empty tainted node goes
    assert_eq!(node_of(&p, "plain-1"), "n1");
    assert_eq!(p.removed, vec!["gpu".to_string()]);
    let p = plan(&c, Mode::Replace);
    let n = p
        .nodes
        .iter()
        .find(|n| n.name == node_of(&p, "picky-1"))
        .unwrap();
    assert_eq!(
        n.group.as_deref(),
        Some("g"),
        "nodeSelector keeps it in group g"
    );
}

#[test]
fn required_anti_affinity_by_hostname_and_zone() {
    let term = |key: &str| PodAffinityTerm {
        label_selector: LabelSelector {
            match_labels: BTreeMap::from([("app".to_string(), "web".to_string())]),
            match_expressions: vec![],
        },
        topology_key: key.into(),
        namespaces: vec![],
        weight: 0,
    };
    let mut pods = Vec::new();
    for i in 0..3 {
        let mut p = pod(&format!("web-{i}"), &format!("n{i}"), 100, 128);
        p.affinity
            .pod_anti_affinity_required
            .push(term("kubernetes.io/hostname"));
        pods.push(p);
    }
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            node(
                &format!("n{i}"),
                "m5.2xlarge",
                ["us-east-1a", "us-east-1b", "us-east-1c"][i],
                "g",
            )
        })
        .collect();
    let c = cluster(nodes.clone(), pods.clone());
    for mode in [Mode::Remove, Mode::Replace] {
        let p = plan(&c, mode);
        let hosts: std::collections::BTreeSet<&str> =
            (0..3).map(|i| node_of(&p, &format!("web-{i}"))).collect();
        assert_eq!(hosts.len(), 3, "{mode:?}: two web pods share a node");
    }
    for p in &mut pods {
        p.affinity.pod_anti_affinity_required = vec![term("topology.kubernetes.io/zone")];
    }
    let c = cluster(nodes, pods);
    let p = plan(&c, Mode::Replace);
    let zones: std::collections::BTreeSet<String> = (0..3)
        .map(|i| {
            p.nodes
                .iter()
                .find(|n| n.name == node_of(&p, &format!("web-{i}")))
                .unwrap()
                .zone
                .clone()
        })
        .collect();
    assert_eq!(zones.len(), 3, "zone anti-affinity broken");
}

#[test]
fn topology_spread_do_not_schedule() {
    let mut pods = Vec::new();
    let nodes: Vec<Node> = ["us-east-1a", "us-east-1b", "us-east-1c"]
        .iter()
        .enumerate()
        .map(|(i, z)| node(&format!("n{i}"), "m5.4xlarge", z, "g"))
        .collect();
    for i in 0..6 {
        let mut p = pod(&format!("api-{i}"), &format!("n{}", i % 3), 200, 256);
        p.topology_spread.push(TopologySpread {
            max_skew: 1,
            topology_key: "topology.kubernetes.io/zone".into(),
            when_unsatisfiable: "DoNotSchedule".into(),
            label_selector: LabelSelector {
                match_labels: BTreeMap::from([("app".to_string(), "api".to_string())]),
                match_expressions: vec![],
            },
            min_domains: None,
        });
        pods.push(p);
    }
    let c = cluster(nodes, pods);
    for mode in [Mode::Remove, Mode::Replace] {
        let p = plan(&c, mode);
        let mut per_zone: BTreeMap<String, i32> = BTreeMap::new();
        for i in 0..6 {
            let z = p
                .nodes
                .iter()
                .find(|n| n.name == node_of(&p, &format!("api-{i}")))
                .unwrap()
                .zone
                .clone();
            *per_zone.entry(z).or_default() += 1;
        }
        let max = per_zone.values().max().unwrap();
        let min = if per_zone.len() < 3 {
            0
        } else {
            *per_zone.values().min().unwrap()
        };
        assert!(max - min <= 1, "{mode:?}: skew broken {per_zone:?}");
    }
}

#[test]
fn replace_finds_a_cheaper_mix_and_respects_the_bound() {
    let nodes: Vec<Node> = (0..4)
        .map(|i| node(&format!("n{i}"), "m5.4xlarge", "us-east-1a", "g"))
        .collect();
    let pods: Vec<Pod> = (0..16)
        .map(|i| pod(&format!("w-{i}"), &format!("n{}", i % 4), 500, 1024))
        .collect();
    let c = cluster(nodes, pods);
    let p = plan(&c, Mode::Replace);
    assert!(
        p.cost_after_hourly < p.cost_before_hourly * 0.6,
        "{} vs {}",
        p.cost_after_hourly,
        p.cost_before_hourly
    );
    assert!(p.lower_bound_hourly > 0.0 && p.lower_bound_hourly <= p.cost_after_hourly + 1e-9);
    assert_eq!(p.assignments.len(), 16);
    assert!(p.unplaced.is_empty());
    assert!(p.steps[0].approved, "a big saving passes the balanced gate");
    check_resources(&c, &p);
    // every pod is on a node of the plan
    for a in &p.assignments {
        assert!(p.nodes.iter().any(|n| n.name == a.node));
    }
}

#[test]
fn daemonset_overhead_counts_on_every_node() {
    let mut ds = pod("agent-1", "n0", 1500, 512);
    ds.controller = Some(("DaemonSet".into(), "agent".into()));
    ds.tolerations.push(Toleration {
        key: String::new(),
        operator: "Exists".into(),
        value: String::new(),
        effect: String::new(),
    });
    // m5.large allocates 1930m: with a 1500m DaemonSet only 430m is left for a 400m pod
    let c = cluster(
        vec![node("n0", "m5.large", "us-east-1a", "g")],
        vec![ds, pod("app-1", "n0", 400, 256)],
    );
    let prob = Problem::from_cluster(
        &c,
        &crate::cost::Pricing::new("us-east-1"),
        &PackingConfig::default(),
    )
    .unwrap();
    assert_eq!(prob.nodes[0].overhead[0], 1500);
    assert_eq!(
        prob.pods.len(),
        1,
        "DaemonSet pods are overhead, not pods to place"
    );
    assert!(
        prob.offers.iter().all(|o| o.overhead[0] == 1500),
        "new nodes carry the DaemonSet too"
    );
}

#[test]
fn the_gate_refuses_tiny_savings_with_big_disruption() {
    let nodes = vec![
        node("n0", "m5.large", "us-east-1a", "g"),
        node("n1", "m5.24xlarge", "us-east-1a", "g"),
    ];
    let mut pods: Vec<Pod> = (0..40)
        .map(|i| pod(&format!("x-{i}"), "n1", 100, 128))
        .collect();
    pods.push(pod("y-1", "n0", 100, 128));
    let c = cluster(nodes, pods);
    let p = plan(&c, Mode::Remove);
    // removing the small node saves 1/47 of the bill and disrupts 1 pod of 41: approved
    assert!(p.steps.iter().all(|s| s.score > 0.0));
    let cfg = PackingConfig {
        mode: Mode::Remove,
        balanced_k: 0.001,
        ..Default::default()
    };
    let strict = consolidate(&c, &crate::cost::Pricing::new("us-east-1"), &cfg).unwrap();
    assert!(
        strict.steps.iter().any(|s| !s.approved),
        "a strict gate refuses some step: {:?}",
        strict.steps
    );
}
