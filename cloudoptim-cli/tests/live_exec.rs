//! The command line's executors against the live fakes, as a user runs them: `events watch`
//! and `apply` chaining the Kubernetes executor (the fake API server) and the EC2 executor
//! (moto's server).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use cloudoptim_core::adapters::aws::aws_sdk_ec2;
use cloudoptim_tests::fake_kube::{FakeKube, sample_cluster};
use cloudoptim_tests::moto;

fn cloudoptim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cloudoptim"))
        .args(args)
        .envs(moto::env())
        .output()
        .unwrap()
}

/// The sample cluster with `duckboat-02` on an instance of its own (the public dump gives
/// both nodes the same one).
fn fake_cluster() -> FakeKube {
    let mut objects = sample_cluster();
    for o in &mut objects {
        if o["kind"] == "Node" && o["metadata"]["name"] == "duckboat-02" {
            o["spec"]["providerID"] = serde_json::json!("aws:///us-east-2d/i-0duckboat02");
        }
    }
    FakeKube::start(objects)
}

/// An AMI moto knows, a launch template on it, and a default subnet.
async fn template(c: &aws_sdk_ec2::Client, name: &str) -> (String, String, String) {
    let images = c.describe_images().send().await.unwrap();
    let ami = images
        .images()
        .iter()
        .filter_map(|i| i.image_id())
        .max()
        .unwrap()
        .to_string();
    let lt = c
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(
            aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                .image_id(&ami)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let lt_id = lt
        .launch_template()
        .and_then(|t| t.launch_template_id())
        .unwrap()
        .to_string();
    let subnets = c.describe_subnets().send().await.unwrap();
    let subnet = subnets
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id())
        .min()
        .unwrap()
        .to_string();
    (ami, lt_id, subnet)
}

/// Instances in the region carrying `key=value`.
async fn tagged(
    c: &aws_sdk_ec2::Client,
    key: &str,
    value: &str,
) -> Vec<aws_sdk_ec2::types::Instance> {
    let out = c
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances().iter().cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_yes_cordons_drains_and_launches_the_replacement_from_the_launch_template() {
    let region = "ap-southeast-2";
    let c = moto::ec2_client(region);
    let name = moto::unique("lt-watch");
    let (ami, lt_id, subnet) = template(&c, &name).await;
    let q = moto::sqs_client(region);
    let queue = q
        .create_queue()
        .queue_name(moto::unique("watch-exec"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let event_id = moto::unique("evt");
    // a warning whose deadlines have passed: evictions are tried once, a blocked pod is
    // deleted at once
    let time = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(200);
    let body = serde_json::json!({
        "version": "0", "id": event_id, "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2", "time": time.to_string(), "region": region,
        "detail": {"instance-id": "i-03dc801fd988ab620", "instance-action": "terminate"}
    });
    q.send_message()
        .queue_url(&queue)
        .message_body(body.to_string())
        .send()
        .await
        .unwrap();
    let fake = fake_cluster();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let template_arg = format!("{name}:1");
    let out = cloudoptim(&[
        "events",
        "watch",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--queue-url",
        &queue,
        "--endpoint-url",
        &moto::endpoint(),
        "--region",
        region,
        "--launch-template",
        &template_arg,
        "--subnet",
        &subnet,
        "--yes",
        "--wait",
        "1",
        "--max-messages",
        "1",
        "--idle-exit",
        "30",
        "--format",
        "json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(report["outcome"], "handled", "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    let launch = steps
        .iter()
        .find(|s| s["step"]["action"] == "launch_replacement")
        .unwrap();
    assert_eq!(launch["status"], "done", "{launch:#}");
    assert!(
        launch["detail"]
            .as_str()
            .unwrap()
            .starts_with("launched i-"),
        "{launch:#}"
    );
    // the Kubernetes side: cordoned, drained, kuard (its budget never allows) deleted
    assert_eq!(
        fake.object("Node", "", "duckboat-01").unwrap()["spec"]["unschedulable"],
        true
    );
    let kuard_delete: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(kuard_delete.len(), 1, "{kuard_delete:?}");
    assert!(
        kuard_delete[0]
            .path
            .ends_with("/pods/kuard-6b65d9d8b5-44bbs")
    );
    assert_eq!(kuard_delete[0].query, "gracePeriodSeconds=30");
    // the EC2 side: one instance, from the template (its AMI), in the subnet, tagged
    let launched = tagged(&c, "cloudoptim.io/recommendation", &event_id).await;
    assert_eq!(launched.len(), 1);
    let i = &launched[0];
    assert_eq!(i.image_id(), Some(ami.as_str()));
    assert_eq!(i.subnet_id(), Some(subnet.as_str()));
    assert_eq!(i.instance_type().map(|t| t.as_str()), Some("m6gd.2xlarge"));
    let tags: Vec<(String, String)> = i
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or("").to_string(),
                t.value().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        tags.iter()
            .any(|(k, _)| k.starts_with("kubernetes.io/cluster/")),
        "{tags:?}"
    );
    assert!(
        tags.contains(&("cloudoptim.io/launched-by".into(), "cloudoptim".into())),
        "{tags:?}"
    );
    let _ = lt_id;

    // `events handle` shows how the replacement would be launched
    let event_file = dir.path().join("event.json");
    std::fs::write(&event_file, body.to_string()).unwrap();
    let out = cloudoptim(&[
        "events",
        "handle",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--event",
        event_file.to_str().unwrap(),
        "--launch-template",
        &template_arg,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("launch_replacement")
            && stdout.contains(&format!("from launch template {template_arg}")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_chains_ec2_after_kubernetes_and_its_dry_run_changes_nothing() {
    let region = "eu-north-1";
    let c = moto::ec2_client(region);
    let name = moto::unique("lt-apply");
    let (ami, lt_id, _) = template(&c, &name).await;
    let ghost = c
        .run_instances()
        .image_id(&ami)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("kubernetes.io/cluster/shop-prod")
                        .value("owned")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .instances()[0]
        .instance_id()
        .unwrap()
        .to_string();
    let volume = c
        .create_volume()
        .availability_zone(format!("{region}a"))
        .size(10)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string();
    let rec = moto::unique("rec");
    let plan = serde_json::json!({"steps": [
        {"action": "cordon", "node": "duckboat-02", "why": "consolidation", "recommendation_id": rec},
        {"action": "terminate_instance", "instance_id": ghost, "why": "ghost", "recommendation_id": rec},
        {"action": "delete_volume", "volume_id": volume, "why": "zombie", "recommendation_id": rec},
        {"action": "launch_replacement", "instance_type": "t3.small", "zone": null, "capacity_type": "on-demand", "why": "replace", "recommendation_id": rec}
    ]});
    let fake = fake_cluster();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let plan_file = dir.path().join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).unwrap();
    let base = [
        "apply",
        "--plan",
        plan_file.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--region",
        region,
        "--cluster-name",
        "shop-prod",
        "--launch-template",
        &lt_id,
        "--format",
        "json",
    ];
    let state = |c: aws_sdk_ec2::Client, ghost: String, volume: String| async move {
        let i = c
            .describe_instances()
            .instance_ids(&ghost)
            .send()
            .await
            .unwrap();
        let st = i.reservations()[0].instances()[0]
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap();
        let vols = c.describe_volumes().send().await.unwrap();
        let vol = vols
            .volumes()
            .iter()
            .any(|v| v.volume_id() == Some(volume.as_str()));
        (st, vol)
    };

    // dry run (no --yes), going on past the refused destructive steps
    let mut args = base.to_vec();
    args.push("--keep-going");
    let out = cloudoptim(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let status: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["dry_run", "failed", "failed", "dry_run"], "{v:#}");
    assert_eq!(v[1]["code"], "not_confirmed");
    assert!(fake.requests().iter().all(|r| !r.is_mutating()));
    assert_eq!(
        state(c.clone(), ghost.clone(), volume.clone()).await,
        ("running".to_string(), true)
    );
    assert!(
        tagged(&c, "cloudoptim.io/recommendation", &rec)
            .await
            .is_empty()
    );

    // --yes: the cluster and EC2 change, each step through its executor
    let mut args = base.to_vec();
    args.push("--yes");
    let out = cloudoptim(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        v.as_array().unwrap().iter().all(|o| o["status"] == "done"),
        "{v:#}"
    );
    assert_eq!(
        fake.object("Node", "", "duckboat-02").unwrap()["spec"]["unschedulable"],
        true
    );
    let (st, vol) = state(c.clone(), ghost.clone(), volume.clone()).await;
    assert!(st == "shutting-down" || st == "terminated", "{st}");
    assert!(!vol);
    let launched = tagged(&c, "cloudoptim.io/recommendation", &rec).await;
    assert_eq!(launched.len(), 1);
    assert_eq!(launched[0].image_id(), Some(ami.as_str()));
}
