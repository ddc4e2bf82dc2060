//! The live Kubernetes source and executor against the fake API server.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use cloudoptim_core::adapters::kube::{
    ConnectOptions, KubeClient, KubeExecutor, KubeSource, LISTED, ORIGINAL_REPLICAS_ANNOTATION,
    block_on,
};
use cloudoptim_core::adapters::retry::RetryPolicy;
use cloudoptim_core::executor::{Action, ActionPlan, Executor, Status, Step, run_plan};
use cloudoptim_core::loader::{LoadOptions, Loaded, load_cluster_with};
use cloudoptim_core::source::ClusterSource;
use cloudoptim_tests::fake_kube::{FakeKube, Fault, Request, sample_cluster};

const KUARD_POD: &str = "default/kuard-6b65d9d8b5-44bbs";
const GRAFANA_POD: &str = "olly/grafana-7db5dff8ff-vwrnf";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        base: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        timeout: Duration::from_secs(10),
    }
}

struct Setup {
    fake: FakeKube,
    dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

fn setup() -> Setup {
    let fake = FakeKube::start(sample_cluster());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    Setup {
        fake,
        dir,
        kubeconfig,
    }
}

fn connect(kubeconfig: &Path) -> ConnectOptions {
    ConnectOptions::default()
        .with_kubeconfig(kubeconfig)
        .with_retry(fast_retry())
        .with_page_size(4)
}

fn load_live(options: ConnectOptions) -> cloudoptim_core::Result<Loaded> {
    block_on(async {
        let src = KubeSource::connect(
            options,
            LoadOptions::default().with_cluster_name("honeycomb"),
        )
        .await?;
        src.load().await
    })
    .unwrap()
}

fn executor(kubeconfig: &Path, dry_run: bool) -> (tokio::runtime::Runtime, KubeExecutor) {
    let rt = cloudoptim_core::adapters::kube::runtime().unwrap();
    let client = rt
        .block_on(KubeClient::connect(connect(kubeconfig)))
        .unwrap();
    (rt, KubeExecutor::new(client).with_dry_run(dry_run))
}

fn step(action: Action) -> Step {
    Step::new(action, "test", Some("rec-1".into()))
}

fn evict(pod: &str, deadline_seconds: i64) -> Action {
    serde_json::from_value(serde_json::json!({
        "action": "evict", "pod": pod, "deadline_seconds": deadline_seconds, "note": ""
    }))
    .unwrap()
}

fn scale(workload: &str, replicas: Option<i32>) -> Action {
    serde_json::from_value(serde_json::json!({
        "action": "scale", "workload": workload, "kind": "Deployment", "replicas": replicas
    }))
    .unwrap()
}

fn cordon(node: &str) -> Action {
    serde_json::from_value(serde_json::json!({"action": "cordon", "node": node})).unwrap()
}

fn uncordon(node: &str) -> Action {
    serde_json::from_value(serde_json::json!({"action": "uncordon", "node": node})).unwrap()
}

fn patch_resources() -> Action {
    serde_json::from_value(serde_json::json!({
        "action": "patch_resources", "workload": "default/kuard", "kind": "Deployment",
        "container": "kuard", "requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"cpu": ""}
    }))
    .unwrap()
}

fn run(cli: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut args = vec!["cloudoptim"];
    args.extend_from_slice(cli);
    let code = cloudoptim_cli::run_with(args, &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

#[test]
fn live_source_builds_the_same_cluster_and_report_as_the_dump() {
    let s = setup();
    let live = load_live(connect(&s.kubeconfig)).unwrap();
    let dump = s.fake.write_dump(&s.dir.path().join("dump.json"));
    let offline = load_cluster_with(
        &dump,
        &LoadOptions::default().with_cluster_name("honeycomb"),
    )
    .unwrap();
    assert_eq!(live.cluster, offline.cluster);
    let c = &live.cluster;
    assert_eq!((c.nodes.len(), c.pods.len()), (2, 11));
    assert_eq!(c.pdbs.len(), 2);
    assert_eq!(c.hpas.len(), 1);
    assert_eq!((c.pvcs.len(), c.pvs.len()), (1, 1));
    assert!(!c.metrics.containers.is_empty() && !c.metrics.nodes.is_empty());
    assert!(c.workloads.iter().any(|w| w.name == "kuard"));
    // paginated: 11 pods at 4 a page is 3 requests, the last two with a continue token
    let pods: Vec<Request> = s
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods")
        .collect();
    assert_eq!(pods.len(), 3, "{pods:?}");
    assert!(pods[0].query.contains("limit=4") && !pods[0].query.contains("continue"));
    assert!(pods[1].query.contains("continue=fake-continue.4"));
    // only reads
    assert!(s.fake.requests().iter().all(|r| !r.is_mutating()));

    let a = cloudoptim_core::analyze(&live.cluster, Default::default()).unwrap();
    let b = cloudoptim_core::analyze(&offline.cluster, Default::default()).unwrap();
    assert_eq!(a.to_json(), b.to_json());
    assert!(!a.recommendations.is_empty());

    // and through the command line
    let (code, from_live, err) = run(&[
        "analyze",
        "--kubeconfig",
        s.kubeconfig.to_str().unwrap(),
        "--cluster-name",
        "honeycomb",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, from_dump, err) = run(&[
        "analyze",
        "--cluster",
        dump.to_str().unwrap(),
        "--cluster-name",
        "honeycomb",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(from_live, from_dump);
    let v: serde_json::Value = serde_json::from_str(&from_live).unwrap();
    let ids: Vec<&str> = v["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert!(!ids.is_empty());
}

#[test]
fn cli_consolidate_and_events_take_a_kubeconfig() {
    let s = setup();
    let k = s.kubeconfig.to_str().unwrap();
    let (code, out, err) = run(&["consolidate", "--kubeconfig", k, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.trim_start().starts_with('{'));
    let event = cloudoptim_tests::data("eventbridge/spot-interruption-warning.json");
    let (code, out, err) = run(&[
        "events",
        "handle",
        "--kubeconfig",
        k,
        "--event",
        event.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("parsed"), "{out}");
    assert!(s.fake.requests().iter().all(|r| !r.is_mutating()));
    let (code, _, err) = run(&["analyze", "--kubeconfig", k, "--cluster", "x.json"]);
    assert_eq!(code, 2, "--cluster and --kubeconfig conflict: {err}");
    let (code, _, err) = run(&["analyze", "--context", "fake"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn bursts_of_429_and_500_are_retried() {
    let s = setup();
    s.fake
        .inject(Fault::status(429).times(3).path("/api/v1/nodes"));
    s.fake
        .inject(Fault::status(500).times(2).path("/api/v1/pods"));
    s.fake.inject(
        Fault::status(503)
            .times(1)
            .path("/apis/apps/v1/deployments"),
    );
    let live = load_live(connect(&s.kubeconfig)).unwrap();
    assert_eq!(live.cluster.nodes.len(), 2);
    assert_eq!(live.cluster.pods.len(), 11);
    let statuses = |p: &str| -> Vec<u16> {
        s.fake
            .requests()
            .iter()
            .filter(|r| r.path == p)
            .map(|r| r.status)
            .collect()
    };
    assert_eq!(statuses("/api/v1/nodes"), vec![429, 429, 429, 200]);
    assert_eq!(&statuses("/api/v1/pods")[..3], &[500, 500, 200]);

    // a burst longer than the retries is reported, naming the resource and the status
    s.fake
        .inject(Fault::status(500).times(10).path("/api/v1/nodes"));
    let e = load_live(connect(&s.kubeconfig)).unwrap_err();
    assert_eq!(e.code(), "source_api");
    let msg = e.to_string();
    assert!(msg.contains("nodes") && msg.contains("500"), "{msg}");
}

#[test]
fn expired_credentials_are_reported_clearly_and_not_retried() {
    let s = setup();
    let e = load_live(connect(&s.kubeconfig).with_context("stale")).unwrap_err();
    assert_eq!(e.code(), "unauthorized");
    let msg = e.to_string();
    assert!(msg.contains("401") && msg.contains("expired"), "{msg}");
    assert!(msg.contains("namespaces"), "names the resource: {msg}");
    assert!(
        !msg.contains("expired-token"),
        "no secrets in messages: {msg}"
    );
    assert_eq!(s.fake.requests().len(), 1, "a 401 is not retried");

    // the token expires between two steps of a plan
    let (rt, exec) = executor(&s.kubeconfig, false);
    s.fake.expire_token();
    let out = rt.block_on(exec.execute(&step(cordon("duckboat-02"))));
    let e = out.unwrap_err();
    assert!(e.to_string().contains("401"), "{e}");

    // an unknown context is a configuration error
    let e = load_live(connect(&s.kubeconfig).with_context("nope")).unwrap_err();
    assert_eq!(e.code(), "source_config");
}

#[test]
fn exec_credentials_and_expired_continue_tokens() {
    let s = setup();
    // an exec credential plugin (the shape of `aws eks get-token`) gives the token
    let live = load_live(connect(&s.kubeconfig).with_context("exec")).unwrap();
    assert_eq!(live.cluster.nodes.len(), 2);
    // a plugin that fails is a configuration error, and nothing reaches the server
    s.fake.clear_requests();
    let e = load_live(connect(&s.kubeconfig).with_context("exec-fails")).unwrap_err();
    assert_eq!(e.code(), "source_config", "{e}");
    assert!(s.fake.requests().is_empty());
    // a continue token that expired (410) restarts that list once
    s.fake
        .inject(Fault::status(410).path("/api/v1/pods").query("continue="));
    let live = load_live(connect(&s.kubeconfig)).unwrap();
    assert_eq!(live.cluster.pods.len(), 11);
    assert!(s.fake.requests().iter().any(|r| r.status == 410));
}

#[test]
fn a_slow_server_times_out_instead_of_hanging() {
    let s = setup();
    s.fake
        .inject(Fault::delay(Duration::from_secs(5)).times(20));
    let started = Instant::now();
    let opts = connect(&s.kubeconfig)
        .with_request_timeout(Duration::from_millis(300))
        .with_retry(RetryPolicy {
            timeout: Duration::from_secs(1),
            ..fast_retry()
        });
    let e = load_live(opts).unwrap_err();
    assert_eq!(e.code(), "timeout", "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(e.to_string().contains("namespaces"), "{e}");
}

#[test]
fn missing_metrics_api_is_not_an_error() {
    let s = setup();
    s.fake.set_metrics(false);
    let live = load_live(connect(&s.kubeconfig)).unwrap();
    assert!(live.cluster.metrics.nodes.is_empty() && live.cluster.metrics.containers.is_empty());
    assert_eq!(live.cluster.pods.len(), 11);
    assert!(
        live.warnings.iter().any(|w| w.contains("metrics.k8s.io")),
        "{:?}",
        live.warnings
    );
}

#[test]
fn drain_never_evicts_past_a_pdb() {
    let s = setup();
    let (rt, exec) = executor(&s.kubeconfig, false);
    let started = Instant::now();
    let r = rt.block_on(exec.execute(&step(evict(KUARD_POD, 1))));
    let e = r.unwrap_err();
    assert_eq!(e.code(), "deadline", "{e}");
    assert!(e.to_string().contains("disruption budget"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // the pod is still there, and nothing but evictions was tried
    assert!(
        s.fake
            .object("Pod", "default", "kuard-6b65d9d8b5-44bbs")
            .is_some()
    );
    let reqs = s.fake.requests();
    assert!(reqs.len() >= 2, "retried: {reqs:?}");
    assert!(reqs.iter().all(|r| r.method == "POST"
        && r.path == "/api/v1/namespaces/default/pods/kuard-6b65d9d8b5-44bbs/eviction"
        && r.status == 429));
    assert!(exec.log().iter().any(|l| l.contains("retrying")));

    // grafana's PDB allows one disruption: evicted, and the budget is spent
    let r = rt.block_on(exec.execute(&step(evict(GRAFANA_POD, 30))));
    assert!(matches!(r, Ok(Status::Done { .. })), "{r:?}");
    assert!(
        s.fake
            .object("Pod", "olly", "grafana-7db5dff8ff-vwrnf")
            .is_none()
    );
    let pdb = s
        .fake
        .object("PodDisruptionBudget", "olly", "grafana")
        .unwrap();
    assert_eq!(pdb["status"]["disruptionsAllowed"], 0);
    // evicting a pod that is gone is skipped
    let r = rt.block_on(exec.execute(&step(evict(GRAFANA_POD, 30))));
    assert!(matches!(r, Ok(Status::Skipped { .. })), "{r:?}");
}

#[test]
fn a_pdb_that_frees_up_lets_the_eviction_through_before_the_deadline() {
    let s = setup();
    let (rt, exec) = executor(&s.kubeconfig, false);
    s.fake.inject(Fault::status(429).times(3).method("POST"));
    let r = rt.block_on(exec.execute(&step(evict(GRAFANA_POD, 10))));
    match r {
        Ok(Status::Done { detail }) => assert!(detail.contains("3 refusal"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dry_run_never_sends_a_mutating_request() {
    let s = setup();
    let (rt, exec) = executor(&s.kubeconfig, true);
    assert!(exec.is_dry_run());
    let plan = ActionPlan {
        steps: vec![
            step(cordon("duckboat-01")),
            step(evict(KUARD_POD, 5)),
            step(scale("default/kuard", Some(0))),
            step(patch_resources()),
            step(uncordon("duckboat-01")),
        ],
    };
    let out = rt.block_on(run_plan(&exec, &plan, false));
    assert!(out.iter().all(|o| o.status == Status::DryRun), "{out:?}");
    assert!(s.fake.requests().iter().all(|r| !r.is_mutating()));
    assert_eq!(exec.log().len(), 5);
    assert!(exec.log()[0].contains("dry run: would cordon duckboat-01"));

    // the command line without --yes: a dry run too
    let plan_file = s.dir.path().join("plan.json");
    std::fs::write(&plan_file, serde_json::to_string(&plan).unwrap()).unwrap();
    let (code, out, err) = run(&[
        "apply",
        "--plan",
        plan_file.to_str().unwrap(),
        "--kubeconfig",
        s.kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("dry run") && out.contains("dry-run  cordon duckboat-01"),
        "{out}"
    );
    assert!(s.fake.requests().iter().all(|r| !r.is_mutating()));
    assert!(
        s.fake.object("Node", "", "duckboat-01").unwrap()["spec"]
            .get("unschedulable")
            .is_none()
    );
}

#[test]
fn cli_apply_with_yes_changes_the_cluster_and_refuses_unconfirmed_destruction() {
    let s = setup();
    let plan = serde_json::json!({"steps": [
        {"action": "cordon", "node": "duckboat-02", "why": "consolidation", "recommendation_id": "r-1"},
        {"action": "scale", "workload": "default/kuard", "kind": "Deployment", "replicas": 0, "why": "office hours"}
    ]});
    let plan_file = s.dir.path().join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    let k = s.kubeconfig.to_str().unwrap();
    let (code, out, err) = run(&[
        "apply",
        "--plan",
        plan_file.to_str().unwrap(),
        "--kubeconfig",
        k,
        "--yes",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}\n{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["status"], "done");
    assert_eq!(
        s.fake.object("Node", "", "duckboat-02").unwrap()["spec"]["unschedulable"],
        true
    );
    assert_eq!(
        s.fake.object("Deployment", "default", "kuard").unwrap()["spec"]["replicas"],
        0
    );

    let destructive = s.dir.path().join("destroy.json");
    std::fs::write(
        &destructive,
        r#"{"steps":[{"action":"delete_volume","volume_id":"vol-1","why":"zombie"}]}"#,
    )
    .unwrap();
    let (code, out, _) = run(&["apply", "--plan", destructive.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("needs explicit confirmation"), "{out}");
    let (code, _, err) = run(&["apply", "--plan", "/nonexistent/plan.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("plan.json"), "{err}");
}

#[test]
fn cordon_scale_and_patch_resources_live() {
    let s = setup();
    let (rt, exec) = executor(&s.kubeconfig, false);
    let node = |n: &str| s.fake.object("Node", "", n).unwrap();
    let r = rt.block_on(exec.execute(&step(cordon("duckboat-02"))));
    assert!(matches!(r, Ok(Status::Done { .. })), "{r:?}");
    assert_eq!(node("duckboat-02")["spec"]["unschedulable"], true);
    let patch = s
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap();
    assert_eq!(patch.path, "/api/v1/nodes/duckboat-02");
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
    assert_eq!(patch.body, r#"{"spec":{"unschedulable":true}}"#);
    rt.block_on(exec.execute(&step(uncordon("duckboat-02"))))
        .unwrap();
    assert_eq!(node("duckboat-02")["spec"]["unschedulable"], false);
    let e = rt
        .block_on(exec.execute(&step(cordon("no-such-node"))))
        .unwrap_err();
    assert!(
        e.to_string().contains("404") && e.to_string().contains("not found"),
        "{e}"
    );

    // scale to zero records the original; a concurrent change (409) is read again
    let deploy = || s.fake.object("Deployment", "default", "kuard").unwrap();
    s.fake.inject(Fault::status(409).method("PATCH"));
    let r = rt.block_on(exec.execute(&step(scale("default/kuard", Some(0)))));
    assert!(matches!(r, Ok(Status::Done { .. })), "{r:?}");
    assert_eq!(deploy()["spec"]["replicas"], 0);
    assert_eq!(
        deploy()["metadata"]["annotations"][ORIGINAL_REPLICAS_ANNOTATION],
        "1"
    );
    // scaling again keeps the first original
    rt.block_on(exec.execute(&step(scale("default/kuard", Some(2)))))
        .unwrap();
    assert_eq!(
        deploy()["metadata"]["annotations"][ORIGINAL_REPLICAS_ANNOTATION],
        "1"
    );
    // wake-up restores it and removes the annotation
    rt.block_on(exec.execute(&step(scale("default/kuard", None))))
        .unwrap();
    assert_eq!(deploy()["spec"]["replicas"], 1);
    assert!(
        deploy()["metadata"]["annotations"]
            .get(ORIGINAL_REPLICAS_ANNOTATION)
            .is_none()
    );
    let r = rt.block_on(exec.execute(&step(scale("default/kuard", None))));
    assert!(matches!(r, Ok(Status::Skipped { .. })), "{r:?}");

    // resources: one container, by name, limits removed with an empty value
    rt.block_on(exec.execute(&step(patch_resources()))).unwrap();
    let c = &deploy()["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["name"], "kuard");
    assert_eq!(c["resources"]["requests"]["cpu"], "50m");
    assert_eq!(c["resources"]["requests"]["memory"], "96Mi");
    assert!(c["resources"]["limits"].get("cpu").is_none(), "{c}");
    assert!(
        c.get("image").is_some(),
        "the rest of the container is kept: {c}"
    );

    // steps for other systems are not this executor's
    let r = rt.block_on(
        exec.execute(&step(
            serde_json::from_value(
                serde_json::json!({"action": "terminate_instance", "instance_id": "i-1"}),
            )
            .unwrap(),
        )),
    );
    assert!(matches!(r, Ok(Status::Skipped { .. })));
    // every step is logged with why and the recommendation id
    assert!(
        exec.log()
            .iter()
            .any(|l| l.contains("cordon duckboat-02 — test [rec-1]"))
    );
}

/// `(verb, group, resource)` triples granted by the ClusterRoles in docs/least-privilege.md,
/// by role name.
fn documented_roles() -> std::collections::BTreeMap<String, BTreeSet<(String, String, String)>> {
    let doc =
        std::fs::read_to_string(cloudoptim_tests::repo_root().join("docs/least-privilege.md"))
            .unwrap();
    let mut roles = std::collections::BTreeMap::new();
    let mut rest = doc.as_str();
    while let Some(i) = rest.find("```yaml\n") {
        let block = &rest[i + 8..];
        let end = block.find("```").unwrap();
        let y: serde_json::Value = serde_yaml_ng::from_str(&block[..end]).unwrap();
        rest = &block[end..];
        if y["kind"] != "ClusterRole" {
            continue;
        }
        let mut grants = BTreeSet::new();
        for rule in y["rules"].as_array().unwrap() {
            for g in rule["apiGroups"].as_array().unwrap() {
                for r in rule["resources"].as_array().unwrap() {
                    for v in rule["verbs"].as_array().unwrap() {
                        grants.insert((
                            v.as_str().unwrap().to_string(),
                            g.as_str().unwrap().to_string(),
                            r.as_str().unwrap().to_string(),
                        ));
                    }
                }
            }
        }
        roles.insert(y["metadata"]["name"].as_str().unwrap().to_string(), grants);
    }
    roles
}

fn used(fake: &FakeKube) -> BTreeSet<(String, String, String)> {
    let u = fake.requests().iter().filter_map(Request::rbac).collect();
    fake.clear_requests();
    u
}

#[test]
fn calls_are_covered_by_the_documented_cluster_roles() {
    let roles = documented_roles();
    let role = |n: &str| {
        roles
            .get(n)
            .cloned()
            .unwrap_or_else(|| panic!("no role {n}"))
    };
    // the read-only role is exactly what the source lists
    let listed: BTreeSet<_> = LISTED
        .iter()
        .map(|r| {
            (
                "list".to_string(),
                r.group.to_string(),
                r.plural.to_string(),
            )
        })
        .collect();
    assert_eq!(role("cloudoptim-read"), listed);

    let s = setup();
    load_live(connect(&s.kubeconfig)).unwrap();
    let read = used(&s.fake);
    assert!(read.is_subset(&role("cloudoptim-read")), "{read:?}");
    assert_eq!(read, listed, "every documented grant is used");

    let (rt, exec) = executor(&s.kubeconfig, false);
    let check = |role_name: &str, action: Action| {
        let _ = rt.block_on(exec.execute(&step(action)));
        let u = used(&s.fake);
        assert!(!u.is_empty());
        let granted = role(role_name);
        assert!(
            u.is_subset(&granted),
            "{role_name} lacks {:?}",
            u.difference(&granted).collect::<Vec<_>>()
        );
    };
    check("cloudoptim-cordon", cordon("duckboat-02"));
    check("cloudoptim-cordon", uncordon("duckboat-02"));
    check("cloudoptim-drain", evict(GRAFANA_POD, 5));
    let past = (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60)).to_string();
    check(
        "cloudoptim-drain-interruption",
        serde_json::from_value(serde_json::json!({
            "action": "evict", "pod": KUARD_POD, "deadline_seconds": 96, "note": "",
            "not_after": past, "force": "at_deadline"
        }))
        .unwrap(),
    );
    check("cloudoptim-scale", scale("default/kuard", Some(0)));
    check("cloudoptim-scale", scale("default/kuard", None));
    check("cloudoptim-patch-resources", patch_resources());
}

/// The sample cluster with `duckboat-02` on an instance of its own, `phpmyadmin` moved there,
/// and short grace periods on the
/// two pods whose evictions are refused (kuard by its PDB, phpmyadmin by injected 429s).
fn interruption_setup() -> Setup {
    let mut objects = sample_cluster();
    for o in &mut objects {
        let name = o["metadata"]["name"].as_str().unwrap_or("").to_string();
        // the public dump gives both nodes the same instance; make them two
        if o["kind"] == "Node" && name == "duckboat-02" {
            o["spec"]["providerID"] = serde_json::json!("aws:///us-east-2d/i-0duckboat02");
        }
        if o["kind"] == "Pod" && name == "phpmyadmin-54c7cdbdc7-8qnbr" {
            o["spec"]["nodeName"] = serde_json::json!("duckboat-02");
        }
        if o["kind"] == "Pod"
            && (name == "phpmyadmin-54c7cdbdc7-8qnbr" || name.starts_with("kuard-"))
        {
            o["spec"]["terminationGracePeriodSeconds"] = serde_json::json!(1);
        }
    }
    let fake = FakeKube::start(objects);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    Setup {
        fake,
        dir,
        kubeconfig,
    }
}

fn spot_warning(id: &str, instance: &str, time: jiff::Timestamp) -> String {
    serde_json::json!({
        "version": "0", "id": id, "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2", "time": time.to_string(), "region": "us-east-1",
        "detail": {"instance-id": instance, "instance-action": "terminate"}
    })
    .to_string()
}

const PHPMYADMIN_EVICTION: &str =
    "/api/v1/namespaces/mysql/pods/phpmyadmin-54c7cdbdc7-8qnbr/eviction";

#[test]
fn interruption_drains_count_from_each_events_time_and_force_delete_at_deadline_minus_grace() {
    use cloudoptim_core::spot::pipeline::{Decision, Dedup, decide};
    let s = interruption_setup();
    // phpmyadmin's evictions are always refused, as by a budget that never allows
    s.fake
        .inject(Fault::status(429).times(100_000).path(PHPMYADMIN_EVICTION));
    let cluster = load_live(connect(&s.kubeconfig)).unwrap().cluster;
    let instance = |node: &str| {
        cluster
            .nodes
            .iter()
            .find(|n| n.name == node)
            .and_then(|n| n.instance_id.clone())
            .unwrap()
    };
    let now = jiff::Timestamp::now();
    // message A: a warning whose deadlines have all passed; message B: one whose single
    // eviction (deadline 96 s after the event) falls 3 s from now
    let t_a = now - jiff::SignedDuration::from_secs(200);
    let t_b = now - jiff::SignedDuration::from_secs(93);
    let mut seen = Dedup::new(10);
    let steps = |body: String, seen: &mut Dedup| match decide(&cluster, &body, seen) {
        Decision::Act { steps, .. } => steps,
        other => panic!("{other:?}"),
    };
    let a = steps(
        spot_warning("evt-a", &instance("duckboat-01"), t_a),
        &mut seen,
    );
    let b = steps(
        spot_warning("evt-b", &instance("duckboat-02"), t_b),
        &mut seen,
    );
    let b_evict = b
        .iter()
        .find_map(|s| match &s.action {
            Action::Evict {
                pod,
                deadline_seconds,
                not_after,
                force,
                ..
            } => Some((pod.clone(), *deadline_seconds, not_after.clone(), *force)),
            _ => None,
        })
        .unwrap();
    assert_eq!(b_evict.0, "mysql/phpmyadmin-54c7cdbdc7-8qnbr");
    assert_eq!(b_evict.1, 96);
    let b_deadline: jiff::Timestamp = b_evict.2.unwrap().parse().unwrap();
    assert_eq!(b_deadline, t_b + jiff::SignedDuration::from_secs(96));
    assert_eq!(
        b_evict.3,
        cloudoptim_core::executor::ForceDelete::AtDeadline
    );

    s.fake.clear_requests();
    let (rt, exec) = executor(&s.kubeconfig, false);
    let exec = std::sync::Arc::new(exec);
    let run = |steps: Vec<Step>| {
        let exec = exec.clone();
        async move {
            let mut out = Vec::new();
            for st in &steps {
                out.push((st.action.clone(), exec.execute(st).await));
            }
            out
        }
    };
    let (ra, rb) = rt.block_on(async { tokio::join!(run(a), run(b)) });
    for (action, r) in ra.iter().chain(rb.iter()) {
        assert!(r.is_ok(), "{action:?}: {r:?}");
    }
    let detail = |rs: &[(Action, cloudoptim_core::executor::Result<Status>)], pod: &str| {
        rs.iter()
            .find_map(|(a, r)| match (a, r) {
                (Action::Evict { pod: p, .. }, Ok(Status::Done { detail })) if p == pod => {
                    Some(detail.clone())
                }
                _ => None,
            })
            .unwrap_or_default()
    };
    assert!(
        detail(&ra, KUARD_POD).contains("force-deleted with a 1 s grace period"),
        "{ra:?}"
    );
    assert!(
        detail(&rb, "mysql/phpmyadmin-54c7cdbdc7-8qnbr").contains("force-deleted"),
        "{rb:?}"
    );
    // non-critical pods of message A were evicted, not deleted
    assert!(detail(&ra, GRAFANA_POD).contains("evicted"), "{ra:?}");

    let reqs = s.fake.requests();
    let of = |path: &str| -> Vec<Request> {
        reqs.iter()
            .filter(|r| r.path.starts_with(path))
            .cloned()
            .collect()
    };
    let kuard = of("/api/v1/namespaces/default/pods/kuard-6b65d9d8b5-44bbs");
    let php = of("/api/v1/namespaces/mysql/pods/phpmyadmin-54c7cdbdc7-8qnbr");
    let deletes = |rs: &[Request]| -> Vec<Request> {
        rs.iter()
            .filter(|r| r.method == "DELETE")
            .cloned()
            .collect()
    };
    let evictions = |rs: &[Request]| rs.iter().filter(|r| r.path.ends_with("/eviction")).count();
    let (kd, pd) = (deletes(&kuard), deletes(&php));
    assert_eq!((kd.len(), pd.len()), (1, 1), "{kuard:?}\n{php:?}");
    for d in [&kd[0], &pd[0]] {
        assert_eq!(d.query, "gracePeriodSeconds=1");
        let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
        assert_eq!(body["gracePeriodSeconds"], 1);
        assert_eq!(body["kind"], "DeleteOptions");
    }
    // A's deadline had passed: one refused eviction, then the delete at once
    assert_eq!(evictions(&kuard), 1, "{kuard:?}");
    assert_eq!(kuard.last().unwrap().method, "DELETE");
    // B's pod: evictions retried with backoff until (deadline − grace), then deleted, not before
    assert!(evictions(&php) >= 2, "{php:?}");
    assert_eq!(php.last().unwrap().method, "DELETE");
    assert!(
        php[..php.len() - 1]
            .iter()
            .filter(|r| r.method != "GET")
            .all(|r| r.method == "POST" && r.status == 429),
        "{php:?}"
    );
    let force_at = std::time::SystemTime::from(b_deadline - jiff::SignedDuration::from_secs(1));
    assert!(
        pd[0].at + Duration::from_millis(20) >= force_at,
        "deleted {:?} before {force_at:?}",
        pd[0].at
    );
    // each message on its own clock: A's pod went long before B's
    assert!(kd[0].at < pd[0].at);
    assert!(
        s.fake
            .object("Pod", "mysql", "phpmyadmin-54c7cdbdc7-8qnbr")
            .is_none()
    );
}

#[test]
fn drains_that_may_not_force_never_delete() {
    let s = interruption_setup();
    let deadline = (jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500)).to_string();
    let step_with = |force: &str| {
        step(
            serde_json::from_value(serde_json::json!({
                "action": "evict", "pod": KUARD_POD, "deadline_seconds": 96, "note": "",
                "not_after": deadline, "force": force
            }))
            .unwrap(),
        )
    };
    // a consolidation drain (no force asked) fails at the deadline
    let (rt, exec) = executor(&s.kubeconfig, false);
    let e = rt.block_on(exec.execute(&step_with("never"))).unwrap_err();
    assert_eq!(e.code(), "deadline", "{e}");
    // an interruption drain on an executor that forbids forcing: the same
    let (rt, exec) = executor(&s.kubeconfig, false);
    let exec = exec.with_force_delete(false);
    let e = rt
        .block_on(exec.execute(&step_with("at_deadline")))
        .unwrap_err();
    assert_eq!(e.code(), "deadline", "{e}");
    assert!(s.fake.requests().iter().all(|r| r.method != "DELETE"));
    assert!(
        s.fake
            .object("Pod", "default", "kuard-6b65d9d8b5-44bbs")
            .is_some()
    );
    // a bad deadline is refused, naming the field
    let bad = step(
        serde_json::from_value(serde_json::json!({
            "action": "evict", "pod": KUARD_POD, "deadline_seconds": 96, "note": "",
            "not_after": "soon"
        }))
        .unwrap(),
    );
    let e = rt.block_on(exec.execute(&bad)).unwrap_err();
    assert!(e.to_string().contains("not_after"), "{e}");
}
