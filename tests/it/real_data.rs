//! The loaders on every real object in shared/data/k8s and the AWS CLI files.

use cloudoptim_core::loader::{self, LoadError, LoadOptions};
use cloudoptim_core::model::{CapacityType, NodeOwner, WorkloadKind};
use cloudoptim_tests::data;

#[test]
fn honeycomb_nodes() {
    let c = loader::load_cluster(data("k8s/honeycomb-eks-nodes.json")).unwrap();
    assert_eq!(c.nodes.len(), 2);
    let n = &c.nodes[0];
    assert_eq!(n.name, "duckboat-01");
    assert_eq!(n.instance_type.as_deref(), Some("m6gd.2xlarge"));
    assert_eq!(n.capacity_type, CapacityType::OnDemand);
    assert_eq!(n.owner, NodeOwner::ManagedNodeGroup("custom-1".into()));
    assert_eq!(n.instance_id.as_deref(), Some("i-03dc801fd988ab620"));
    assert_eq!(n.zone.as_deref(), Some("us-east-1a"));
    assert_eq!(n.arch.as_deref(), Some("arm64"));
    assert_eq!(n.allocatable.cpu_milli, 7910);
    assert_eq!(n.allocatable.memory_bytes, 31_127_824 * 1024);
    assert_eq!(n.allocatable.pods, 58);
    assert_eq!(n.taints[0].key, "type");
    assert!(n.created.is_some());
    assert_eq!(c.nodes[1].zone.as_deref(), Some("us-east-2d"));
}

#[test]
fn honeycomb_pods_resolve_owners() {
    let c = loader::load_cluster(data("k8s/honeycomb-eks-pods.json")).unwrap();
    assert_eq!(c.pods.len(), 11);
    let grafana = c
        .pods
        .iter()
        .find(|p| p.name.starts_with("grafana-"))
        .unwrap();
    let w = grafana.workload.as_ref().unwrap();
    assert_eq!(
        (w.kind, w.name.as_str()),
        (WorkloadKind::Deployment, "grafana")
    );
    assert!(
        grafana.workload_inferred,
        "no ReplicaSet in the dump: inferred from pod-template-hash"
    );
    let speaker = c
        .pods
        .iter()
        .find(|p| p.name.starts_with("speaker-"))
        .unwrap();
    assert!(speaker.is_daemonset());
    assert_eq!(
        speaker.workload.as_ref().unwrap().kind,
        WorkloadKind::DaemonSet
    );
    let exit_codes: Vec<i32> = c
        .pods
        .iter()
        .flat_map(|p| p.containers.iter())
        .filter_map(|c| c.last_termination.as_ref().map(|t| t.exit_code))
        .collect();
    for code in [1, 137, 255] {
        assert!(
            exit_codes.contains(&code),
            "exit code {code} in {exit_codes:?}"
        );
    }
    assert!(
        c.pods
            .iter()
            .all(|p| p.node_name.as_deref() == Some("duckboat-01"))
    );
    let total_requests: i64 = c.pods.iter().map(|p| p.requests().cpu_milli).sum();
    assert!(total_requests > 0);
}

#[test]
fn flanksource_oomkilled_pod() {
    let l = loader::load_cluster_with(
        data("k8s/flanksource-pod-oomkilled.yaml"),
        &LoadOptions::default(),
    )
    .unwrap();
    let p = &l.cluster.pods[0];
    let c = &p.containers[0];
    assert_eq!(c.restart_count, 9);
    let t = c.last_termination.as_ref().unwrap();
    assert_eq!(t.reason.as_deref(), Some("OOMKilled"));
    assert_eq!(c.limits.memory_bytes, 200 << 20);
    assert_eq!(c.requests.memory_bytes, 100 << 20);
    assert!(p.workload.is_none(), "a bare pod has no workload");
    // "@now-2h" placeholders are not times: a warning naming file, object and field, not a failure
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("flanksource-pod-oomkilled.yaml")
                && w.contains("Pod mission-control/oomkilled-pod")
                && w.contains("finishedAt")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn metrics_lists_and_single_objects() {
    let nm = loader::load_cluster(data("k8s/k8sdocs-nodemetrics-minikube.json")).unwrap();
    let r = &nm.metrics.nodes["minikube"];
    assert_eq!(r.cpu_milli, 488, "487558164n rounds up");
    assert_eq!(r.memory_bytes, 732_212 * 1024);
    assert_eq!(r.window_seconds, Some(30.0));
    let pm = loader::load_cluster(data("k8s/k8sdocs-podmetrics-kube-scheduler.json")).unwrap();
    assert_eq!(pm.metrics.containers.len(), 1);
    let popeye = loader::load_cluster(data("k8s/popeye-podmetrics-list.yaml")).unwrap();
    assert_eq!(
        popeye.metrics.containers["default/p1/c1"].cpu_milli, 20_000,
        "bare 20 is 20 cores"
    );
    assert_eq!(popeye.metrics.containers["default/p3/c1"].cpu_milli, 2000);
    let nodes = loader::load_cluster(data("k8s/popeye-nodemetrics-list.yaml")).unwrap();
    assert!(!nodes.metrics.nodes.is_empty());
    let stats = loader::load_cluster(data("k8s/honeycomb-eks-stats-summary.json")).unwrap();
    assert_eq!(stats.metrics.nodes["duckboat-01"].cpu_milli, 389);
    assert!(
        stats
            .metrics
            .containers
            .keys()
            .any(|k| k.starts_with("mysql/phpmyadmin-"))
    );
}

#[test]
fn the_whole_k8s_folder_loads_at_once() {
    let l = loader::load_cluster_with(data("k8s"), &LoadOptions::default()).unwrap();
    assert_eq!(l.files.len(), 8);
    assert_eq!(l.cluster.nodes.len(), 2);
    assert_eq!(l.cluster.pods.len(), 12);
}

#[test]
fn aws_cli_spot_price_history() {
    let aws =
        loader::load_aws(data("describe-spot-price-history-m5.large-us-east-1.json")).unwrap();
    assert_eq!(aws.spot_prices.len(), 250);
    assert!(
        aws.spot_prices
            .iter()
            .all(|p| p.instance_type == "m5.large" && p.price > 0.0)
    );
    let pricing =
        cloudoptim_core::cost::Pricing::new("us-east-1").with_spot_history(&aws.spot_prices);
    let p = pricing.spot("m5.large", Some("us-east-1f")).unwrap();
    assert_eq!(
        p.source,
        cloudoptim_core::cost::PriceSource::SpotPriceHistory
    );
    let latest = aws
        .spot_prices
        .iter()
        .filter(|x| x.zone == "us-east-1f")
        .max_by_key(|x| x.timestamp)
        .unwrap();
    assert_eq!(p.hourly, latest.price);
}

#[test]
fn other_documents_are_rejected_by_name() {
    let e = loader::load_cluster(data("describe-instance-types-25.json")).unwrap_err();
    assert!(matches!(e, LoadError::Unrecognized { .. }), "{e}");
    assert!(e.to_string().contains("describe-instance-types-25.json"));
}

fn corrupt(src: &str, from: &str, to: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let text = std::fs::read_to_string(data(src)).unwrap();
    assert!(text.contains(from), "fixture no longer contains {from:?}");
    let d = tempfile::tempdir().unwrap();
    let p = d
        .path()
        .join(std::path::Path::new(src).file_name().unwrap());
    std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
    (d, p)
}

#[test]
fn a_broken_quantity_in_a_real_dump_names_file_object_and_field() {
    let (_d, p) = corrupt("k8s/honeycomb-eks-nodes.json", "\"7910m\"", "\"79 10m\"");
    let msg = loader::load_cluster(&p).unwrap_err().to_string();
    assert!(msg.contains("honeycomb-eks-nodes.json"), "{msg}");
    assert!(msg.contains("Node duckboat-01"), "{msg}");
    assert!(
        msg.contains("status.allocatable.cpu") || msg.contains("status.capacity.cpu"),
        "{msg}"
    );
}

#[test]
fn a_wrong_type_in_a_real_dump_names_file_object_and_field() {
    let (_d, p) = corrupt(
        "k8s/honeycomb-eks-pods.json",
        "\"restartCount\": ",
        "\"restartCount\": \"x\", \"ignored\": ",
    );
    let msg = loader::load_cluster(&p).unwrap_err().to_string();
    assert!(
        msg.contains("honeycomb-eks-pods.json")
            && msg.contains("Pod ")
            && msg.contains("restartCount"),
        "{msg}"
    );
}

#[test]
fn truncated_real_files_fail_cleanly() {
    // JSON truncation is always detected. YAML cut at a line boundary can still be valid YAML,
    // so only a cut inside a token is tested for it (see docs/input-formats.md).
    for f in [
        "k8s/honeycomb-eks-pods.json",
        "k8s/honeycomb-eks-nodes.json",
        "describe-spot-price-history-m5.large-us-east-1.json",
    ] {
        let text = std::fs::read_to_string(data(f)).unwrap();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(std::path::Path::new(f).file_name().unwrap());
        std::fs::write(&p, &text[..text.len() * 2 / 3]).unwrap();
        let e = if f.starts_with("describe") {
            loader::load_aws(&p).unwrap_err()
        } else {
            loader::load_cluster(&p).unwrap_err()
        };
        let msg = e.to_string();
        assert!(
            msg.contains(p.file_name().unwrap().to_str().unwrap()),
            "{msg}"
        );
        assert!(
            matches!(e, LoadError::Syntax { .. } | LoadError::Field { .. }),
            "{f}: {msg}"
        );
    }
}

#[test]
fn yaml_cut_inside_a_flow_mapping_is_a_syntax_error() {
    let text = std::fs::read_to_string(data("k8s/popeye-podmetrics-list.yaml")).unwrap();
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cut.yaml");
    std::fs::write(
        &p,
        format!("{text}\n- {{kind: PodMetrics, metadata: {{name: x"),
    )
    .unwrap();
    let e = loader::load_cluster(&p).unwrap_err();
    assert!(matches!(e, LoadError::Syntax { format: "YAML", .. }), "{e}");
}

#[test]
fn a_wrong_typed_aws_file_names_the_field() {
    let (_d, p) = corrupt(
        "describe-spot-price-history-m5.large-us-east-1.json",
        "\"0.043700\"",
        "[1]",
    );
    let msg = loader::load_aws(&p).unwrap_err().to_string();
    assert!(msg.contains("SpotPriceHistory[0].SpotPrice"), "{msg}");
}
