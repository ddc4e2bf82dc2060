//! Spot risk scores and event plans on the real EventBridge examples and price history.

use cloudoptim_core::spot::{Action, EventKind, Parsed, parse_message, plan_response};
use cloudoptim_tests::data;

fn event(name: &str) -> String {
    std::fs::read_to_string(data(&format!("eventbridge/{name}"))).unwrap()
}

#[test]
fn every_real_event_parses_to_what_it_is() {
    let cases = [
        (
            "spot-interruption-warning.json",
            Some(EventKind::SpotInterruption),
        ),
        (
            "rebalance-recommendation.json",
            Some(EventKind::RebalanceRecommendation),
        ),
        (
            "aws-health-scheduled-change.json",
            Some(EventKind::ScheduledChange),
        ),
        (
            "asg-terminate-lifecycle-action.json",
            Some(EventKind::AsgTermination),
        ),
        ("ec2-instance-state-change.json", None), // state `pending`: nothing to do
        ("aws-health-issue-instance-store-degraded.json", None), // an `issue`, not a scheduled change
    ];
    for (f, kind) in cases {
        match (parse_message(&event(f)), kind) {
            (Parsed::Event(e), Some(k)) => {
                assert_eq!(e.kind, k, "{f}");
                assert!(e.instance_ids.iter().all(|i| i.starts_with("i-")), "{f}");
            }
            (Parsed::Ignore { .. }, None) => {}
            (other, k) => panic!("{f}: {other:?}, expected {k:?}"),
        }
    }
    // truncated events are quarantined, never a crash
    for f in [
        "spot-interruption-warning.json",
        "asg-terminate-lifecycle-action.json",
    ] {
        let text = event(f);
        assert!(matches!(
            parse_message(&text[..text.len() / 2]),
            Parsed::Quarantine { .. }
        ));
    }
}

#[test]
fn a_spot_warning_for_one_of_our_nodes_becomes_a_plan() {
    let mut cluster = cloudoptim_core::demo::demo_cluster();
    let spot_node = cluster
        .nodes
        .iter()
        .position(|n| {
            n.capacity_type == cloudoptim_core::model::CapacityType::Spot
                && cluster
                    .pods_on(&n.name)
                    .filter(|p| !p.is_daemonset())
                    .count()
                    >= 2
        })
        .unwrap();
    cluster.nodes[spot_node].instance_id = Some("i-0b662ef9931388ba0".into());
    let name = cluster.nodes[spot_node].name.clone();
    let plan = plan_response(&cluster, &event("spot-interruption-warning.json"));
    assert_eq!(plan.nodes, vec![name.clone()]);
    assert!(matches!(&plan.actions[0], Action::Cordon { node } if *node == name));
    assert!(
        matches!(&plan.actions[1], Action::LaunchReplacement { capacity_type, .. } if capacity_type == "spot"),
        "spot first; the executor falls back to on-demand when the pool is short"
    );
    let event_time: jiff::Timestamp = match &plan.parsed {
        cloudoptim_core::spot::Parsed::Event(e) => e.time.parse().unwrap(),
        other => panic!("{other:?}"),
    };
    let evictions: Vec<i64> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Evict {
                deadline_seconds,
                not_after,
                force,
                ..
            } => {
                // the deadline counts from the event's own time, and may force at the end
                let at: jiff::Timestamp = not_after.as_deref().unwrap().parse().unwrap();
                assert_eq!(
                    at,
                    event_time + jiff::SignedDuration::from_secs(*deadline_seconds)
                );
                assert_eq!(*force, cloudoptim_core::executor::ForceDelete::AtDeadline);
                Some(*deadline_seconds)
            }
            _ => None,
        })
        .collect();
    assert!(evictions.len() >= 2);
    assert!(
        evictions.windows(2).all(|w| w[0] <= w[1]) && *evictions.last().unwrap() <= 120,
        "{evictions:?}"
    );
    assert_eq!(plan.actions.last(), Some(&Action::DeleteMessage));
    // the same event for an instance that is not ours is left for the other cluster
    let other = plan_response(
        &cloudoptim_core::demo::demo_cluster(),
        &event("spot-interruption-warning.json"),
    );
    assert!(matches!(
        other.actions.as_slice(),
        [Action::LeaveMessage { .. }]
    ));
    // garbage is quarantined: no action, the message stays for the dead-letter queue
    assert!(plan_response(&cluster, "{not json").actions.is_empty());
}

#[test]
fn an_asg_termination_completes_the_lifecycle_action() {
    let mut cluster = cloudoptim_core::demo::demo_cluster();
    cluster.nodes[0].instance_id = Some("i-0633ac2b0d9769723".into());
    let plan = plan_response(&cluster, &event("asg-terminate-lifecycle-action.json"));
    assert!(plan.actions.iter().any(|a| matches!(a, Action::CompleteLifecycle { asg, .. } if asg == "testt1.demo-0a20f32c.kops.sh")));
}

#[test]
fn cli_spot_score_and_events_handle() {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let prices = data("describe-spot-price-history-m5.large-us-east-1.json");
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "spot",
            "score",
            "--types",
            "m5.large",
            "--prices",
            prices.to_str().unwrap(),
            "--format",
            "json",
        ],
        &mut out,
        &mut err,
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let s = &v[0];
    assert_eq!(s["from_history"], true);
    let risk = s["risk"].as_f64().unwrap();
    let expected = 0.6 * s["rate"].as_f64().unwrap()
        + 0.25 * s["volatility"].as_f64().unwrap()
        + 0.1 * s["gap"].as_f64().unwrap()
        + 0.05 * s["time"].as_f64().unwrap();
    assert!((risk - expected).abs() < 2e-3, "{risk} vs {expected}");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let ev = data("eventbridge/rebalance-recommendation.json");
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "events",
            "handle",
            "--demo",
            "--event",
            ev.to_str().unwrap(),
            "--format",
            "json",
        ],
        &mut out,
        &mut err,
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["parsed"]["outcome"], "event");
    assert_eq!(v["actions"][0]["action"], "leave_message");
}

#[test]
fn spot_migration_only_for_groups_whose_every_pod_is_spot_ready() {
    use cloudoptim_core::recommend::RecommendationKind;
    let cluster = cloudoptim_core::demo::demo_cluster();
    let r = cloudoptim_core::pipeline::analyze_with(
        &cluster,
        &Default::default(),
        Some(&["spot-migration".to_string()]),
    )
    .unwrap();
    let groups: Vec<&str> = r
        .recommendations
        .iter()
        .filter(|x| x.kind == RecommendationKind::SpotMigration)
        .filter_map(|x| x.target.node_group.as_deref())
        .collect();
    assert_eq!(
        groups,
        vec!["general"],
        "system (kube-system) and memory-optimized (StatefulSets) are not spot-ready"
    );
    let rec = &r.recommendations[0];
    let types = rec
        .changes
        .iter()
        .find(|c| c.field == "instance_types")
        .unwrap()
        .proposed
        .split(',')
        .count();
    assert!(types >= 10, "{types} types");
    assert!(rec.monthly_savings_usd > 0.0);
    // and the reasons a pod is not spot-ready
    let pricing = cloudoptim_core::cost::Pricing::for_cluster(&cluster);
    let costs = cloudoptim_core::cost::ClusterCosts::compute(&cluster, &pricing);
    let index = cloudoptim_core::analyzers::Index::new(&cluster, &costs);
    let ctx = cloudoptim_core::analyzers::Context::new(&cluster, &pricing, &costs, &index);
    let why = |pred: &dyn Fn(&cloudoptim_core::model::Pod) -> bool| {
        let p = cluster.pods.iter().find(|p| pred(p)).unwrap();
        cloudoptim_core::analyzers::spot_blocker(&ctx, p, &["kube-system".to_string()])
    };
    assert!(
        why(&|p| p.namespace == "kube-system" && !p.is_daemonset())
            .unwrap()
            .contains("kube-system")
    );
    assert!(
        why(&|p| p.name == "debug-shell")
            .unwrap()
            .contains("bare pod")
    );
    assert!(
        why(&|p| p.name.starts_with("postgres-"))
            .unwrap()
            .contains("StatefulSet")
    );
    assert!(
        why(&|p| p.name.starts_with("ledger-sync"))
            .unwrap()
            .contains("not to be disrupted")
    );
    assert!(why(&|p| p.name.starts_with("frontend") && p.namespace == "shop").is_none());
}

#[test]
fn spot_plan_lists_readiness_with_reasons_and_the_migration() {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = cloudoptim_cli::run_with(
        ["cloudoptim", "spot", "plan", "--demo", "--format", "json"],
        &mut out,
        &mut err,
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let w = v["workloads"].as_array().unwrap();
    let find = |name: &str| w.iter().find(|x| x["workload"] == name).unwrap();
    assert_eq!(
        find("default/debug-shell")["reason"],
        "a bare pod with no controller"
    );
    assert!(
        find("kube-system/coredns")["reason"]
            .as_str()
            .unwrap()
            .contains("kube-system")
    );
    assert_eq!(find("data/postgres")["ready"], false);
    assert!(w.iter().any(|x| x["ready"] == true));
    // not ready first
    let first_ready = w.iter().position(|x| x["ready"] == true).unwrap();
    assert!(w[first_ready..].iter().all(|x| x["ready"] == true));
    // DaemonSet pods follow their nodes and are not listed
    assert!(w.iter().all(|x| x["kind"] != "DaemonSet"));
    let recs = v["recommendations"].as_array().unwrap();
    assert!(!recs.is_empty());
    assert!(recs.iter().all(|r| r["kind"] == "spot_migration"));
    assert!(v["monthly_savings_usd"].as_f64().unwrap() > 0.0);
}
