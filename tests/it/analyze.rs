//! End to end: dumps in, reports out.

use cloudoptim_core::recommend::RecommendationKind;
use cloudoptim_tests::data;

/// Builds `kubectl get nodes,pods -A -o json` output (a `kind: List`) from the real node and pod lists.
fn nodes_and_pods_list() -> (tempfile::TempDir, std::path::PathBuf) {
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(data(f)).unwrap()).unwrap()
    };
    let mut items = Vec::new();
    for (f, kind) in [
        ("k8s/honeycomb-eks-nodes.json", "Node"),
        ("k8s/honeycomb-eks-pods.json", "Pod"),
    ] {
        for mut it in read(f)["items"].as_array().unwrap().clone() {
            it["kind"] = serde_json::json!(kind);
            it["apiVersion"] = serde_json::json!("v1");
            items.push(it);
        }
    }
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}});
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cluster.json");
    std::fs::write(&p, serde_json::to_string_pretty(&list).unwrap()).unwrap();
    (d, p)
}

#[test]
fn cli_analyze_json_on_a_list_of_only_nodes_and_pods() {
    let (_d, p) = nodes_and_pods_list();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "analyze",
            "--cluster",
            p.to_str().unwrap(),
            "--format",
            "json",
        ],
        &mut out,
        &mut err,
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["cluster"]["nodes"], 2);
    assert_eq!(v["cluster"]["pods"], 11);
    assert_eq!(v["cluster"]["name"], "cluster");
    // m6gd.2xlarge on-demand from the catalog: both nodes priced, exactly
    assert_eq!(v["costs"]["price_sources"]["on_demand_catalog"], 2);
    let nodes_monthly = v["costs"]["nodes_monthly_usd"].as_f64().unwrap();
    let od = cloudoptim_core::catalog::Catalog::embedded()
        .require("m6gd.2xlarge")
        .unwrap()
        .od_price_us_east_1
        .unwrap();
    assert!(
        (nodes_monthly - 2.0 * od * 730.0).abs() < 0.01,
        "{nodes_monthly}"
    );
    // the node with no pods is found empty
    assert!(
        v["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "node_removal")
    );
    crate::schema::assert_valid(&v);
}

#[test]
fn cli_errors_name_the_file_and_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("broken.json");
    std::fs::write(&p, "{\"kind\": \"List\", \"items\": [").unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cloudoptim_cli::run_with(
        ["cloudoptim", "analyze", "--cluster", p.to_str().unwrap()],
        &mut out,
        &mut err,
    );
    assert_eq!(code, 1);
    let e = String::from_utf8_lossy(&err);
    assert!(e.contains("broken.json") && e.contains("line"), "{e}");
    assert!(out.is_empty(), "nothing printed on failure");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "analyze",
            "--cluster",
            p.to_str().unwrap(),
            "--analyzers",
            "nope",
        ],
        &mut out,
        &mut err,
    );
    assert_eq!(code, 1);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        cloudoptim_cli::run_with(["cloudoptim", "analyze"], &mut out, &mut err),
        2,
        "missing --cluster is a usage error"
    );
}

#[test]
fn demo_report_reads_as_a_report() {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    assert_eq!(
        cloudoptim_cli::run_with(["cloudoptim", "demo"], &mut out, &mut err),
        0
    );
    let text = String::from_utf8(out).unwrap();
    let totals = text.find("Potential savings").unwrap();
    let recs = text.find("Recommendations (largest saving first)").unwrap();
    assert!(totals < recs, "totals come first");
    for needle in [
        "Monthly cost",
        "Node groups",
        "Top namespaces",
        "why:",
        "karpenter",
        "note:",
    ] {
        assert!(text.contains(needle), "missing {needle:?}");
    }
}

#[test]
fn demo_is_stable_and_covers_every_analyzer() {
    let a = cloudoptim_core::analyze(&cloudoptim_core::demo::demo_cluster(), Default::default())
        .unwrap();
    let b = cloudoptim_core::analyze(&cloudoptim_core::demo::demo_cluster(), Default::default())
        .unwrap();
    assert_eq!(
        a.to_json(),
        b.to_json(),
        "the same cluster gives the same report"
    );
    for kind in [
        RecommendationKind::WorkloadRightsizing,
        RecommendationKind::NodeRemoval,
        RecommendationKind::ZombieVolume,
        RecommendationKind::GhostInstance,
    ] {
        assert!(
            a.recommendations.iter().any(|r| r.kind == kind),
            "{kind:?} missing from the demo"
        );
    }
    let savings: Vec<f64> = a
        .recommendations
        .iter()
        .map(|r| r.monthly_savings_usd)
        .collect();
    assert!(
        savings.windows(2).all(|w| w[0] >= w[1]),
        "sorted by savings"
    );
    assert!(a.totals.monthly_savings_usd <= a.totals.gross_monthly_savings_usd + 1e-9);
    assert!(
        // the demo cluster is a neglected one: most of its bill can go, but never all of it
        a.totals.savings_ratio > 0.05 && a.totals.savings_ratio < 0.75,
        "{}",
        a.totals.savings_ratio
    );
    // the young scratch volume is inside the grace period
    assert!(
        !a.recommendations
            .iter()
            .any(|r| r.title.contains("(20 GiB"))
    );
    let ids: std::collections::HashSet<&str> =
        a.recommendations.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), a.recommendations.len(), "ids are unique");
}

#[test]
fn overlapping_recommendations_are_not_double_counted() {
    use cloudoptim_core::analyzers::{Analyzer, Context};
    use cloudoptim_core::recommend::{Recommendation, Target};
    struct Half(&'static str);
    impl Analyzer for Half {
        fn name(&self) -> &str {
            self.0
        }
        fn description(&self) -> &str {
            "saves half of every node"
        }
        fn analyze(
            &self,
            ctx: &Context<'_>,
        ) -> cloudoptim_core::analyzers::Result<Vec<Recommendation>> {
            Ok(ctx
                .costs
                .nodes
                .iter()
                .map(|n| {
                    let mut t = Target::cluster(&ctx.cluster.name);
                    t.node = Some(n.node.clone());
                    Recommendation::new(RecommendationKind::Custom, self.0, t).with_claim(
                        format!("node:{}", n.node),
                        n.monthly(),
                        0.5,
                    )
                })
                .collect())
        }
    }
    let cluster = cloudoptim_core::demo::demo_cluster();
    let r = cloudoptim_core::analyze(
        &cluster,
        cloudoptim_core::AnalyzeOptions::default()
            .with_analyzers(vec![Box::new(Half("a")), Box::new(Half("b"))]),
    )
    .unwrap();
    let nodes = r.costs.nodes_monthly_usd;
    assert!(
        (r.totals.gross_monthly_savings_usd - nodes).abs() < 0.5,
        "two halves sum to the whole"
    );
    assert!(
        (r.totals.monthly_savings_usd - 0.75 * nodes).abs() < 0.5,
        "but combine to three quarters"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("touch the same resources"))
    );
}

#[test]
fn cli_consolidate_json_has_the_stable_shape() {
    for mode in ["remove", "replace"] {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = cloudoptim_cli::run_with(
            [
                "cloudoptim",
                "consolidate",
                "--demo",
                "--mode",
                mode,
                "--format",
                "json",
            ],
            &mut out,
            &mut err,
        );
        assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        for k in [
            "mode",
            "cost_before_hourly",
            "cost_after_hourly",
            "lower_bound_hourly",
            "nodes",
            "removed",
            "assignments",
            "unplaced",
            "steps",
        ] {
            assert!(v.get(k).is_some(), "{mode}: missing {k}");
        }
        assert_eq!(v["mode"], mode);
        let before = v["cost_before_hourly"].as_f64().unwrap();
        let after = v["cost_after_hourly"].as_f64().unwrap();
        let bound = v["lower_bound_hourly"].as_f64().unwrap();
        assert!(
            bound <= after + 1e-9 && after < before,
            "{mode}: {bound} {after} {before}"
        );
        for n in v["nodes"].as_array().unwrap() {
            for k in [
                "name",
                "instance_type",
                "zone",
                "capacity_type",
                "hourly_cost",
                "new",
            ] {
                assert!(n.get(k).is_some(), "node lacks {k}");
            }
            assert!(n["capacity_type"] == "on-demand" || n["capacity_type"] == "spot");
        }
        // every pod that is not a DaemonSet pod is assigned (or listed as unplaced)
        let cluster = cloudoptim_core::demo::demo_cluster();
        let expected = cluster
            .pods
            .iter()
            .filter(|p| p.is_active() && !p.is_daemonset())
            .count();
        let got =
            v["assignments"].as_array().unwrap().len() + v["unplaced"].as_array().unwrap().len();
        assert_eq!(got, expected, "{mode}");
        if mode == "remove" {
            assert!(
                v["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|n| n["new"] == false)
            );
        }
    }
}

#[test]
fn filters_from_flags_and_a_config_file() {
    let d = tempfile::tempdir().unwrap();
    let demo_json = d.path().join("demo.json");
    // the demo cluster as a snapshot file is not needed: analyze the demo through the library
    let cluster = cloudoptim_core::demo::demo_cluster();
    let filters: cloudoptim_core::report::Filters = serde_json::from_value(serde_json::json!({
        "exclude_namespaces": ["staging-*", "dev-*"],
        "min_monthly_savings": 50.0
    }))
    .unwrap();
    let r =
        cloudoptim_core::pipeline::analyze_filtered(&cluster, &Default::default(), None, &filters)
            .unwrap();
    assert!(!r.recommendations.is_empty());
    for rec in &r.recommendations {
        let ns = rec.target.namespace.as_deref().unwrap_or("");
        assert!(
            !ns.starts_with("staging-") && !ns.starts_with("dev-"),
            "{}",
            rec.title
        );
        assert!(
            rec.monthly_savings_usd >= 50.0
                || rec.priority == cloudoptim_core::recommend::Priority::High,
            "{}",
            rec.title
        );
    }
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("left out by the filters"))
    );
    // the same from a YAML file, and an unknown key is refused with its name
    let cfg = d.path().join("settings.yaml");
    std::fs::write(
        &cfg,
        "exclude_namespaces: [\"staging-*\"]\nmin_monthly_savings: 50\n",
    )
    .unwrap();
    let f = cloudoptim_core::pipeline::filters_from_file(&cfg).unwrap();
    assert_eq!(f.exclude_namespaces, vec!["staging-*".to_string()]);
    std::fs::write(&cfg, "exclude_namespace: [x]\n").unwrap();
    let e = cloudoptim_core::pipeline::filters_from_file(&cfg)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("settings.yaml") && e.contains("exclude_namespace"),
        "{e}"
    );
    let _ = demo_json;
}

#[test]
fn strategies_and_limits_policies() {
    let cluster = cloudoptim_core::demo::demo_cluster();
    let run = |json: serde_json::Value| {
        let f: cloudoptim_core::report::Filters = serde_json::from_value(json).unwrap();
        cloudoptim_core::pipeline::analyze_filtered(
            &cluster,
            &Default::default(),
            Some(&["workload-rightsizing".to_string()]),
            &f,
        )
        .unwrap()
    };
    let pct = run(serde_json::json!({}));
    let vpa = run(serde_json::json!({"strategy": "vpa"}));
    assert!(!pct.recommendations.is_empty() && !vpa.recommendations.is_empty());
    let cpu = |r: &cloudoptim_core::Report, w: &str| {
        r.recommendations
            .iter()
            .find(|x| {
                x.target.workload.as_deref() == Some(w)
                    && x.target.namespace.as_deref() == Some("shop")
            })
            .and_then(|x| {
                x.evidence
                    .iter()
                    .find(|e| e.name == "cpu_target")
                    .map(|e| e.value)
            })
    };
    assert_ne!(
        cpu(&pct, "checkout"),
        cpu(&vpa, "checkout"),
        "the strategies differ"
    );
    assert!(vpa.recommendations[0].explanation.contains("VPA"));
    let unset = run(serde_json::json!({"limits": "unset-cpu"}));
    let frontend = unset
        .recommendations
        .iter()
        .find(|x| {
            x.target.workload.as_deref() == Some("frontend")
                && x.target.namespace.as_deref() == Some("shop")
        })
        .unwrap();
    assert!(
        frontend
            .changes
            .iter()
            .any(|c| c.field == "cpu_limit" && c.proposed == "unset"),
        "{:?}",
        frontend.changes
    );
    let eq = run(serde_json::json!({"limits": "memory-equals-request"}));
    for r in &eq.recommendations {
        let req = r
            .changes
            .iter()
            .find(|c| c.field == "memory_request")
            .map(|c| c.proposed.clone());
        if let (Some(req), Some(lim)) = (req, r.changes.iter().find(|c| c.field == "memory_limit"))
        {
            assert_eq!(req, lim.proposed, "{}", r.title);
        }
    }
    let f: cloudoptim_core::report::Filters =
        serde_json::from_value(serde_json::json!({"strategy": "magic"})).unwrap();
    assert!(
        cloudoptim_core::pipeline::analyze_filtered(&cluster, &Default::default(), None, &f)
            .is_err()
    );
}

#[test]
fn rightsizing_edge_cases_on_real_pods() {
    // the real honeycomb pods with one sample of usage each: insufficient data, said so
    let mut cluster =
        cloudoptim_core::loader::load_cluster(data("k8s/honeycomb-eks-pods.json")).unwrap();
    for p in &cluster.pods {
        for c in &p.containers {
            cluster.usage.containers.insert(
                cloudoptim_core::model::ContainerKey {
                    namespace: p.namespace.clone(),
                    pod: p.name.clone(),
                    container: c.name.clone(),
                },
                cloudoptim_core::model::ContainerUsage {
                    cpu: vec![(1_700_000_000, 0.01)],
                    memory: vec![(1_700_000_000, 1e6)],
                },
            );
        }
    }
    let r = cloudoptim_core::analyze(&cluster, Default::default()).unwrap();
    assert!(
        !r.recommendations
            .iter()
            .any(|x| x.kind == RecommendationKind::WorkloadRightsizing)
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("insufficient data for")),
        "{:?}",
        r.notes
    );
    // the OOMKilled pod gets a high-priority memory raise: +20 % over its 200Mi limit, at least +100Mi
    let oom =
        cloudoptim_core::loader::load_cluster(data("k8s/flanksource-pod-oomkilled.yaml")).unwrap();
    let r = cloudoptim_core::analyze(&oom, Default::default()).unwrap();
    let rec = r
        .recommendations
        .iter()
        .find(|x| x.kind == RecommendationKind::OomRemediation)
        .unwrap();
    assert_eq!(rec.priority, cloudoptim_core::recommend::Priority::High);
    let lim = rec
        .changes
        .iter()
        .find(|c| c.field == "memory_limit")
        .unwrap();
    assert_eq!(
        (lim.current.as_str(), lim.proposed.as_str()),
        ("200Mi", "300Mi")
    );
    assert!(
        rec.monthly_savings_usd <= 0.0,
        "raising memory is reported as a cost"
    );
}

#[test]
fn cross_az_traffic_from_a_csv_matrix() {
    let cluster = cloudoptim_core::demo::demo_cluster();
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("traffic.csv");
    std::fs::write(
        &csv,
        "source,destination,bytes,window_seconds\nshop/frontend,shop/cart,1e12,604800\n",
    )
    .unwrap();
    let mut c = cluster.clone();
    c.traffic.clear();
    cloudoptim_core::pipeline::add_traffic(&mut c, std::slice::from_ref(&csv)).unwrap();
    assert_eq!(c.traffic.len(), 1);
    let r = cloudoptim_core::pipeline::analyze_with(
        &c,
        &Default::default(),
        Some(&["cross-az-traffic".to_string()]),
    )
    .unwrap();
    let rec = &r.recommendations[0];
    assert_eq!(rec.kind, RecommendationKind::CrossAzTraffic);
    assert!(
        rec.changes
            .iter()
            .any(|ch| ch.field == "trafficDistribution" && ch.proposed == "PreferClose")
    );
    // 1 TB a week ≈ 4345 GB a month; both sides spread over 3 zones → 2/3 crosses; $0.02/GB both ways
    let gb = rec
        .evidence
        .iter()
        .find(|e| e.name == "gb_per_month")
        .unwrap()
        .value;
    assert!(
        (gb - 1e12 / 604_800.0 * 730.0 * 3600.0 / 1e9).abs() < 1.0,
        "{gb}"
    );
    let cost = rec
        .evidence
        .iter()
        .find(|e| e.name == "cost_now")
        .unwrap()
        .value;
    let share = rec
        .evidence
        .iter()
        .find(|e| e.name == "cross_zone_share_now")
        .unwrap()
        .value;
    assert!(
        (cost - gb * share * 0.02).abs() < 0.1,
        "{cost} {gb} {share}"
    );
    // malformed rows name the row and the field
    std::fs::write(
        &csv,
        "source,destination,bytes\nshop/frontend,shop/cart,lots\n",
    )
    .unwrap();
    let e = cloudoptim_core::loader::load_traffic(&csv)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("traffic.csv") && e.contains("row 1") && e.contains("bytes"),
        "{e}"
    );
    std::fs::write(&csv, "source,destination,bytes\nfrontend,shop/cart,1\n").unwrap();
    assert!(
        cloudoptim_core::loader::load_traffic(&csv)
            .unwrap_err()
            .to_string()
            .contains("namespace/name")
    );
    // a Prometheus response with Istio's labels
    let prom = d.path().join("istio.json");
    std::fs::write(&prom, r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"source_workload_namespace":"shop","source_workload":"frontend","destination_service_namespace":"shop","destination_service_name":"cart"},"value":[1700000000,"5e11"]}]}}"#).unwrap();
    let flows = cloudoptim_core::loader::load_traffic(&prom).unwrap();
    assert_eq!(
        (
            flows[0].source.as_str(),
            flows[0].destination.as_str(),
            flows[0].bytes
        ),
        ("shop/frontend", "shop/cart", 5e11)
    );
}

#[test]
fn rightsizing_flags_hpa_and_handles_unset_requests_and_daemonsets() {
    let cluster = cloudoptim_core::demo::demo_cluster();
    let r = cloudoptim_core::pipeline::analyze_with(
        &cluster,
        &Default::default(),
        Some(&["workload-rightsizing".to_string()]),
    )
    .unwrap();
    let find = |ns: &str, w: &str| {
        r.recommendations.iter().find(|x| {
            x.target.namespace.as_deref() == Some(ns) && x.target.workload.as_deref() == Some(w)
        })
    };
    // shop/frontend is scaled by an HPA on CPU utilisation: flagged
    let frontend = find("shop", "frontend").unwrap();
    assert!(
        frontend.risk.reasons.iter().any(|x| x.contains("HPA")),
        "{:?}",
        frontend.risk
    );
    assert_ne!(
        frontend.risk.level,
        cloudoptim_core::recommend::RiskLevel::Low
    );
    // aws-node has no memory request at all: the floor is proposed from "unset"
    let aws_node = find("kube-system", "aws-node").unwrap();
    let mem = aws_node
        .changes
        .iter()
        .find(|c| c.field == "memory_request")
        .unwrap();
    assert_eq!(
        (mem.current.as_str(), mem.proposed.as_str()),
        ("unset", "100Mi")
    );
    // a DaemonSet gets one recommendation, not one per node
    let n = r
        .recommendations
        .iter()
        .filter(|x| x.target.workload.as_deref() == Some("aws-node"))
        .count();
    assert_eq!(n, 1);
    assert_eq!(aws_node.target.workload_kind.as_deref(), Some("DaemonSet"));
    // one recommendation per workload and container, never per pod
    let mut keys: Vec<String> = r.recommendations.iter().map(|x| x.target.key()).collect();
    let total = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), total);
}

#[test]
fn init_containers_and_sidecars_count_toward_requests() {
    let text = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"n","ownerReferences":[{"kind":"ReplicaSet","name":"w-1","controller":true}]},"spec":{"nodeName":"x","initContainers":[{"name":"migrate","resources":{"requests":{"cpu":"2","memory":"64Mi"}}},{"name":"proxy","restartPolicy":"Always","resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}],"containers":[{"name":"app","resources":{"requests":{"cpu":"500m","memory":"256Mi"}}},{"name":"bare"}]},"status":{"phase":"Running"}}"#;
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("pod.json");
    std::fs::write(&p, text).unwrap();
    let c = cloudoptim_core::loader::load_cluster(&p).unwrap();
    let pod = &c.pods[0];
    assert!(
        pod.init_containers[1].sidecar,
        "restartPolicy Always makes a sidecar"
    );
    let r = pod.requests();
    // max(app 500m + sidecar 100m, init 2) = 2 cores; memory max(256+128, 64) = 384Mi
    assert_eq!(r.cpu_milli, 2000);
    assert_eq!(r.memory_bytes, 384 << 20);
    assert_eq!(
        pod.containers[1].requests,
        cloudoptim_core::model::Resources::default(),
        "a container with no requests requests nothing"
    );
}

#[test]
fn buffers_per_namespace_and_workload_raise_targets() {
    let cluster = cloudoptim_core::demo::demo_cluster();
    let run = |json: serde_json::Value| {
        let f: cloudoptim_core::report::Filters = serde_json::from_value(json).unwrap();
        cloudoptim_core::pipeline::analyze_filtered(
            &cluster,
            &Default::default(),
            Some(&["workload-rightsizing".to_string()]),
            &f,
        )
        .unwrap()
    };
    let ev = |r: &cloudoptim_core::Report, ns: &str, w: &str, name: &str| {
        r.recommendations
            .iter()
            .find(|x| {
                x.target.workload.as_deref() == Some(w) && x.target.namespace.as_deref() == Some(ns)
            })
            .and_then(|x| x.evidence.iter().find(|e| e.name == name).map(|e| e.value))
    };
    let base = run(serde_json::json!({}));
    let buffered = run(serde_json::json!({"buffers": [
        {"match": "shop/checkout", "cpu": 0.5, "memory": 0.0},
        {"match": "shop", "cpu": 0.0, "memory": 0.2}
    ]}));
    // the workload rule wins over the namespace rule for checkout
    let (b, c) = (
        ev(&base, "shop", "checkout", "cpu_target").unwrap(),
        ev(&buffered, "shop", "checkout", "cpu_target").unwrap(),
    );
    assert!((c - b * 1.5).abs() <= 0.002, "{b} → {c}");
    assert_eq!(
        ev(&base, "shop", "checkout", "memory_target"),
        ev(&buffered, "shop", "checkout", "memory_target")
    );
    // every other shop workload gets the namespace's memory buffer, other namespaces nothing
    let mut seen = 0;
    for r in &buffered.recommendations {
        let (Some(ns), Some(w)) = (r.target.namespace.as_deref(), r.target.workload.as_deref())
        else {
            continue;
        };
        let before = ev(&base, ns, w, "memory_target");
        let after = ev(&buffered, ns, w, "memory_target");
        if ns == "shop" && w != "checkout" {
            if let (Some(b), Some(a)) = (before, after) {
                assert!((a - b * 1.2).abs() <= 1.0, "{ns}/{w}: {b} → {a}");
                assert!(r.explanation.contains("`shop` buffer"), "{}", r.explanation);
                seen += 1;
            }
        } else if ns != "shop" {
            assert_eq!(before, after, "{ns}/{w}");
            assert!(r.evidence.iter().all(|e| e.name != "memory_buffer"));
        }
    }
    assert!(seen > 0);
    // a negative or absurd buffer is refused with the analyzer's name
    let f: cloudoptim_core::report::Filters =
        serde_json::from_value(serde_json::json!({"buffers": [{"match": "x", "cpu": -1}]}))
            .unwrap();
    let e = cloudoptim_core::pipeline::analyze_filtered(&cluster, &Default::default(), None, &f)
        .unwrap_err();
    assert_eq!(e.code(), "analyzer_config");
    assert!(e.to_string().contains("buffer `x`"), "{e}");
    // the CLI flag parses and bad values are rejected with the value
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "analyze",
            "--cluster",
            "x.json",
            "--buffer",
            "shop=lots,0.1",
        ],
        &mut out,
        &mut err,
    );
    assert_eq!(code, 2);
    assert!(String::from_utf8_lossy(&err).contains("`lots` is not a number"));
}

#[test]
fn savings_grouped_by_namespace_and_team_add_up_without_double_counting() {
    let cluster = cloudoptim_core::demo::demo_cluster();
    let r = cloudoptim_core::analyze(&cluster, Default::default()).unwrap();
    let t = &r.totals;
    let count: usize = t.by_namespace.iter().map(|g| g.count).sum();
    assert_eq!(count, t.recommendations);
    assert_eq!(
        t.by_team.iter().map(|g| g.count).sum::<usize>(),
        t.recommendations
    );
    // each group's total is its own recommendations' combined saving
    for g in &t.by_namespace {
        let mine: Vec<_> = r
            .recommendations
            .iter()
            .filter(|x| x.target.namespace.as_deref().unwrap_or("(cluster)") == g.name)
            .cloned()
            .collect();
        assert_eq!(
            g.monthly_savings_usd,
            cloudoptim_core::recommend::combined_savings(&mine),
            "{}",
            g.name
        );
    }
    // teams come from the namespace label `team` in the demo
    let names: Vec<&str> = t.by_team.iter().map(|g| g.name.as_str()).collect();
    for team in ["storefront", "payments", "data", "platform", "(cluster)"] {
        assert!(names.contains(&team), "{names:?}");
    }
    let storefront: usize = t
        .by_namespace
        .iter()
        .filter(|g| ["shop", "staging-shop", "dev-shop", "search"].contains(&g.name.as_str()))
        .map(|g| g.count)
        .sum();
    assert_eq!(
        t.by_team
            .iter()
            .find(|g| g.name == "storefront")
            .map(|g| g.count),
        Some(storefront)
    );
    // sorted largest first
    assert!(
        t.by_team
            .windows(2)
            .all(|w| w[0].monthly_savings_usd >= w[1].monthly_savings_usd)
    );
    // another label: nothing carries it, so every namespaced finding is `(none)`
    let f: cloudoptim_core::report::Filters =
        serde_json::from_value(serde_json::json!({"team_label": "cost-center"})).unwrap();
    let r2 = cloudoptim_core::pipeline::analyze_filtered(&cluster, &Default::default(), None, &f)
        .unwrap();
    let names: Vec<&str> = r2.totals.by_team.iter().map(|g| g.name.as_str()).collect();
    assert!(
        names.iter().all(|n| *n == "(none)" || *n == "(cluster)"),
        "{names:?}"
    );
    assert!(r.to_table().contains("Savings by team"));
    assert!(!r2.to_table().contains("Savings by team"));
}
