//! `cloudoptim events watch` against a real SQS API (moto's server), as a user runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{Credentials, Region};
use cloudoptim_tests::moto;

fn event(id: &str, instance: &str) -> String {
    serde_json::json!({
        "version": "0", "id": id, "detail-type": "EC2 Spot Instance Interruption Warning",
        "source": "aws.ec2", "time": "2026-11-26T10:00:00Z", "region": "us-east-1",
        "detail": {"instance-id": instance, "instance-action": "terminate"}
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_one_line_per_message_and_leaves_other_clusters_messages() {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(moto::endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    let c = Client::from_conf(conf);
    let queue = c
        .create_queue()
        .queue_name(moto::unique("watch"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let demo = cloudoptim_core::demo::demo_cluster();
    let (_, plan) = cloudoptim_core::spot::replay_interruption(&demo).unwrap();
    let node = plan.nodes[0].clone();
    let ours = demo
        .nodes
        .iter()
        .find(|n| n.name == node)
        .and_then(|n| n.instance_id.clone())
        .unwrap();
    for body in [
        event("w-1", &ours),
        event("w-1", &ours),
        event("w-2", "i-0someoneelse"),
        "{garbage".to_string(),
    ] {
        c.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_cloudoptim"))
        .args([
            "events",
            "watch",
            "--demo",
            "--queue-url",
            &queue,
            "--endpoint-url",
            &moto::endpoint(),
            "--region",
            moto::REGION,
            "--wait",
            "1",
            "--max-messages",
            "4",
            "--idle-exit",
            "20",
            "--format",
            "json",
        ])
        .envs(moto::env())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let outcomes: Vec<&str> = lines
        .iter()
        .map(|l| l["outcome"].as_str().unwrap())
        .collect();
    for o in ["handled", "duplicate", "foreign", "quarantined"] {
        assert!(outcomes.contains(&o), "{outcomes:?}");
    }
    let handled = lines.iter().find(|l| l["outcome"] == "handled").unwrap();
    assert_eq!(handled["steps"][0]["step"]["action"], "cordon");
    assert_eq!(handled["steps"][0]["step"]["node"], node.as_str());
    assert_eq!(handled["steps"][0]["status"], "dry_run");
    // the other cluster's message and the garbage are still there (not visible right now)
    let attrs = c
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let total: i64 = attrs.values().map(|v| v.parse::<i64>().unwrap()).sum();
    assert_eq!(total, 2, "{attrs:?}");
    // a bad queue is a clear error naming it, exit 1
    let bad = Command::new(env!("CARGO_BIN_EXE_cloudoptim"))
        .args([
            "events",
            "watch",
            "--demo",
            "--queue-url",
            &format!("{}/123456789012/missing-queue", moto::endpoint()),
            "--endpoint-url",
            &moto::endpoint(),
            "--wait",
            "0",
            "--idle-exit",
            "3",
        ])
        .envs(moto::env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("missing-queue"), "{stderr}");
}
