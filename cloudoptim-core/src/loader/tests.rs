use super::*;
use std::io::Write;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    let mut f = fs::File::create(&p).unwrap();
    f.write_all(text.as_bytes()).unwrap();
    p
}

const NODE: &str = r#"{"kind":"Node","apiVersion":"v1","metadata":{"name":"n1","labels":{"node.kubernetes.io/instance-type":"m5.large","topology.kubernetes.io/zone":"us-east-1a","eks.amazonaws.com/nodegroup":"g1","eks.amazonaws.com/capacityType":"SPOT"}},"spec":{"providerID":"aws:///us-east-1a/i-0abc"},"status":{"allocatable":{"cpu":"1930m","memory":"7068Mi","pods":"29"},"capacity":{"cpu":"2","memory":"8Gi","pods":"29"}}}"#;

#[test]
fn reads_a_list_with_nodes_and_pods() {
    let d = tempfile::tempdir().unwrap();
    let pod = r#"{"kind":"Pod","metadata":{"name":"web-7d9f8c6b5-abcde","namespace":"shop","labels":{"pod-template-hash":"7d9f8c6b5"},"ownerReferences":[{"kind":"ReplicaSet","name":"web-7d9f8c6b5","controller":true}]},"spec":{"nodeName":"n1","containers":[{"name":"app","resources":{"requests":{"cpu":"250m","memory":"1e3"},"limits":{"memory":"512Mi"}}}]},"status":{"phase":"Running"}}"#;
    let p = write(
        d.path(),
        "all.json",
        &format!(r#"{{"kind":"List","items":[{NODE},{pod}]}}"#),
    );
    let c = load_cluster(&p).unwrap();
    assert_eq!(c.nodes.len(), 1);
    let n = &c.nodes[0];
    assert_eq!(n.instance_id.as_deref(), Some("i-0abc"));
    assert_eq!(n.capacity_type, crate::model::CapacityType::Spot);
    assert_eq!(
        n.owner,
        crate::model::NodeOwner::ManagedNodeGroup("g1".into())
    );
    assert_eq!(n.region.as_deref(), Some("us-east-1"));
    assert_eq!(n.allocatable.cpu_milli, 1930);
    let pod = &c.pods[0];
    assert_eq!(pod.containers[0].requests.memory_bytes, 1000);
    assert_eq!(pod.containers[0].limits.memory_bytes, 512 << 20);
    let w = pod.workload.as_ref().unwrap();
    assert_eq!(
        (w.kind, w.name.as_str()),
        (crate::model::WorkloadKind::Deployment, "web")
    );
    assert!(pod.workload_inferred);
}

#[test]
fn resolves_owners_through_replicasets_and_jobs() {
    let d = tempfile::tempdir().unwrap();
    let yaml = r#"
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: api-5f4d, namespace: ns, ownerReferences: [{kind: Deployment, name: api, controller: true}]}
spec: {replicas: 2, template: {spec: {containers: [{name: c}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: report-28000000, namespace: ns, ownerReferences: [{kind: CronJob, name: report, controller: true}]}
spec: {template: {spec: {containers: [{name: c}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: api-5f4d-x, namespace: ns, ownerReferences: [{kind: ReplicaSet, name: api-5f4d, controller: true}]}
spec: {containers: [{name: c, resources: {limits: {cpu: 1}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: report-28000000-y, namespace: ns, ownerReferences: [{kind: Job, name: report-28000000, controller: true}]}
spec: {containers: [{name: c}]}
status: {phase: Succeeded}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: ns}
spec: {scaleTargetRef: {kind: ReplicaSet, name: api-5f4d}, minReplicas: 2, maxReplicas: 5, metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}]}
"#;
    let p = write(d.path(), "objs.yaml", yaml);
    let c = load_cluster(&p).unwrap();
    let api = c.pods.iter().find(|p| p.name == "api-5f4d-x").unwrap();
    assert_eq!(api.workload.as_ref().unwrap().name, "api");
    assert!(!api.workload_inferred);
    assert_eq!(
        api.containers[0].requests.cpu_milli, 1000,
        "requests default to limits"
    );
    let job = c
        .pods
        .iter()
        .find(|p| p.name.starts_with("report"))
        .unwrap();
    assert_eq!(
        job.workload.as_ref().unwrap().kind,
        crate::model::WorkloadKind::CronJob
    );
    assert_eq!(
        c.hpas[0].resource_targets,
        vec![("cpu".to_string(), Some(70))]
    );
    let rs = c.workloads.iter().find(|w| w.name == "api-5f4d").unwrap();
    assert_eq!(rs.hpa.as_deref(), Some("ns/api"));
}

#[test]
fn broken_quantity_names_file_object_and_field() {
    let d = tempfile::tempdir().unwrap();
    let bad = NODE.replace("1930m", "19x30m");
    let p = write(
        d.path(),
        "nodes.json",
        &format!(r#"{{"kind":"NodeList","items":[{bad}]}}"#),
    );
    let e = load_cluster(&p).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, LoadError::Field { .. }), "{msg}");
    assert!(msg.contains("nodes.json"), "{msg}");
    assert!(msg.contains("Node n1"), "{msg}");
    assert!(msg.contains("status.allocatable.cpu"), "{msg}");
}

#[test]
fn wrong_type_names_the_field() {
    let d = tempfile::tempdir().unwrap();
    let pod = r#"{"kind":"Pod","metadata":{"name":"p","namespace":"ns"},"spec":{"containers":[{"name":"c"}],"priority":"high"}}"#;
    let p = write(d.path(), "pod.json", pod);
    let msg = load_cluster(&p).unwrap_err().to_string();
    assert!(
        msg.contains("Pod ns/p") && msg.contains("spec.priority"),
        "{msg}"
    );
}

#[test]
fn truncated_json_is_a_syntax_error_with_position() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "cut.json", &NODE[..NODE.len() / 2]);
    let e = load_cluster(&p).unwrap_err();
    assert!(matches!(e, LoadError::Syntax { format: "JSON", .. }), "{e}");
    assert!(e.to_string().contains("cut.json"));
}

#[test]
fn malformed_yaml_is_a_syntax_error() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "bad.yaml",
        "kind: Pod\nmetadata: {name: [unclosed\n",
    );
    let e = load_cluster(&p).unwrap_err();
    assert!(matches!(e, LoadError::Syntax { format: "YAML", .. }), "{e}");
}

#[test]
fn a_bad_file_in_a_folder_fails_the_whole_load() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a-nodes.json", NODE);
    write(
        d.path(),
        "b-pods.json",
        r#"{"kind":"Pod","metadata":{"name":"p","namespace":"n"},"spec":{"containers":[{"name":"c","resources":{"requests":{"memory":"lots"}}}]}}"#,
    );
    let msg = load_cluster(d.path()).unwrap_err().to_string();
    assert!(
        msg.contains("b-pods.json") && msg.contains("spec.containers[0].resources.requests.memory"),
        "{msg}"
    );
}

#[test]
fn folders_skip_logs_and_unknown_kinds() {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("shop")).unwrap();
    write(
        d.path(),
        "nodes.json",
        &format!(
            r#"{{"kind":"NodeList","items":[{}]}}"#,
            NODE.replace(r#""kind":"Node","apiVersion":"v1","#, "")
        ),
    );
    write(
        &d.path().join("shop"),
        "configmaps.json",
        r#"{"kind":"ConfigMapList","items":[{"metadata":{"name":"s"}}]}"#,
    );
    write(&d.path().join("shop"), "logs.txt", "not json");
    let l = load_cluster_with(d.path(), &LoadOptions::default().with_cluster_name("x")).unwrap();
    assert_eq!(l.cluster.nodes.len(), 1);
    assert_eq!(l.cluster.name, "x");
    assert_eq!(l.skipped.get("ConfigMap"), Some(&1));
    assert_eq!(l.files.len(), 2);
}

#[test]
fn cluster_info_dump_stdout_with_logs() {
    let d = tempfile::tempdir().unwrap();
    let text = format!(
        "{{\"kind\":\"NodeList\",\"items\":[{NODE}]}}\n{{\"kind\":\"EventList\",\"items\":[]}}\n==== START logs for container c of pod ns/p ====\nhello {{ not json\n==== END logs for container c of pod ns/p ====\n{{\"kind\":\"PodList\",\"items\":[]}}\n"
    );
    let p = write(d.path(), "dump.json", &text);
    let c = load_cluster(&p).unwrap();
    assert_eq!(c.nodes.len(), 1);
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_tree_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let target = write(outside.path(), "secret.json", NODE);
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&target, d.path().join("link.json")).unwrap();
    let e = load_cluster(d.path()).unwrap_err();
    assert!(matches!(e, LoadError::SymlinkOutsideTree { .. }), "{e}");
}

#[test]
fn aws_cli_documents() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "instances.json",
        r#"{"Reservations":[{"Instances":[{"InstanceId":"i-1","InstanceType":"m5.large","Placement":{"AvailabilityZone":"us-east-1a"},"State":{"Name":"running"},"InstanceLifecycle":"spot","LaunchTime":"2024-01-01T00:00:00+00:00","Tags":[{"Key":"eks:cluster-name","Value":"prod"}]}]}]}"#,
    );
    write(
        d.path(),
        "volumes.json",
        r#"{"Volumes":[{"VolumeId":"vol-1","Size":100,"VolumeType":"gp3","State":"available","Attachments":[]}]}"#,
    );
    let aws = load_aws(d.path()).unwrap();
    assert_eq!(aws.instances[0].tags["eks:cluster-name"], "prod");
    assert!(aws.instances[0].spot);
    assert_eq!(aws.volumes[0].size_gib, 100);
    write(
        d.path(),
        "prices.json",
        r#"{"SpotPriceHistory":[{"AvailabilityZone":"us-east-1a","InstanceType":"m5.large","ProductDescription":"Linux/UNIX","SpotPrice":"cheap","Timestamp":"2021-02-09T01:40:10+00:00"}]}"#,
    );
    let msg = load_aws(d.path()).unwrap_err().to_string();
    assert!(
        msg.contains("prices.json") && msg.contains("SpotPriceHistory[0].SpotPrice"),
        "{msg}"
    );
}

#[test]
fn prometheus_query_range() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "cpu.json",
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"namespace":"ns","pod":"p","container":"c"},"values":[[1700000000,"0.25"],[1700000060,"0.5"]]},{"metric":{"namespace":"ns","pod":"p","container":"POD"},"values":[[1700000000,"1"]]}]}}"#,
    );
    write(
        d.path(),
        "mem.json",
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"container_memory_working_set_bytes","namespace":"ns","pod":"p","container":"c"},"values":[[1700000000,"1048576"]]}]}}"#,
    );
    let u = load_usage(d.path()).unwrap();
    assert_eq!(u.len(), 1);
    let s = u.containers.values().next().unwrap();
    assert_eq!(s.cpu, vec![(1700000000, 0.25), (1700000060, 0.5)]);
    assert_eq!(s.memory, vec![(1700000000, 1048576.0)]);
    write(
        d.path(),
        "other.json",
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"namespace":"ns","pod":"p","container":"c"},"values":[[1,"2"]]}]}}"#,
    );
    let msg = load_usage(d.path()).unwrap_err().to_string();
    assert!(
        msg.contains("other.json") && msg.contains("CPU from memory"),
        "{msg}"
    );
}

#[test]
fn go_durations() {
    assert_eq!(parse_go_duration_seconds("30s"), Some(30.0));
    assert_eq!(parse_go_duration_seconds("1m30s"), Some(90.0));
    assert_eq!(parse_go_duration_seconds("10.114s"), Some(10.114));
    assert_eq!(parse_go_duration_seconds("x"), None);
}
