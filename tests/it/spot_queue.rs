//! The interruption pipeline against a real SQS API (moto's server): the consumer receives,
//! acts through an executor, deletes; duplicates, garbage, other clusters' messages, failures
//! and long plans.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use cloudoptim_core::adapters::sqs::{Consumer, ConsumerConfig};
use cloudoptim_core::executor::{
    Action, BoxFuture, DryRunExecutor, ExecError, Executor, Status, Step,
};
use cloudoptim_core::spot::pipeline::{MessageOutcome, MessageReport, QuarantinePolicy};
use cloudoptim_tests::moto;

fn client() -> Client {
    moto::sqs_client(moto::REGION)
}

/// A queue with a dead-letter queue (`max_receives` before a message moves there).
async fn queues(c: &Client, visibility: u32, max_receives: u32) -> (String, String) {
    let dlq = c
        .create_queue()
        .queue_name(moto::unique("dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let arn = c
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let q = c
        .create_queue()
        .queue_name(moto::unique("events"))
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility.to_string(),
        )
        .attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": arn, "maxReceiveCount": max_receives})
                .to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (q, dlq)
}

async fn send_all(c: &Client, queue: &str, bodies: &[String]) {
    for (k, chunk) in bodies.chunks(10).enumerate() {
        let entries: Vec<SendMessageBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{k}-{i}"))
                    .message_body(b)
                    .build()
                    .unwrap()
            })
            .collect();
        let out = c
            .send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(out.failed.is_empty(), "{:?}", out.failed);
    }
}

/// Every body left in a queue (received with a long visibility so each is seen once).
async fn drain(c: &Client, queue: &str) -> Vec<String> {
    let mut all = Vec::new();
    loop {
        let out = c
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap();
        let msgs = out.messages.unwrap_or_default();
        if msgs.is_empty() {
            return all;
        }
        all.extend(msgs.into_iter().filter_map(|m| m.body));
    }
}

fn event(kind: &str, id: &str, instance: &str) -> String {
    let (detail_type, detail) = match kind {
        "rebalance" => (
            "EC2 Instance Rebalance Recommendation",
            serde_json::json!({"instance-id": instance}),
        ),
        _ => (
            "EC2 Spot Instance Interruption Warning",
            serde_json::json!({"instance-id": instance, "instance-action": "terminate"}),
        ),
    };
    serde_json::json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": "aws.ec2",
        "account": "123456789012", "time": "2026-11-26T10:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:ec2:us-east-1:123456789012:instance/{instance}")],
        "detail": detail
    })
    .to_string()
}

fn demo() -> (Arc<RwLock<cloudoptim_core::Cluster>>, Vec<String>) {
    let cluster = cloudoptim_core::demo::demo_cluster();
    let ids: Vec<String> = cluster
        .nodes
        .iter()
        .filter_map(|n| n.instance_id.clone())
        .collect();
    assert!(ids.len() > 10);
    (Arc::new(RwLock::new(cluster)), ids)
}

const GARBAGE: &[&str] = &[
    "",
    "{",
    "[1,2]",
    "null",
    r#"{"detail-type":"Nope","id":"x"}"#,
    r#"{"Body":"{oops"}"#,
    r#"{"detail-type":"EC2 Spot Instance Interruption Warning","id":"x","detail":{}}"#,
    r#"{"Type":"Notification","Message":"not json"}"#,
    "\u{0}\u{1}binary-ish",
    r#"{"version":"0","id":"t","detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2","detail":{"instance-id":"#,
];

/// Runs the consumer until `done` says so (or 180 s pass), collecting every report.
async fn run_until(
    consumer: &Consumer,
    done: impl Fn(&[MessageReport]) -> bool + Send + Sync + 'static,
) -> Vec<MessageReport> {
    let reports = Arc::new(Mutex::new(Vec::<MessageReport>::new()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Arc::new(Mutex::new(Some(tx)));
    let sink = reports.clone();
    let deadline = tokio::time::sleep(Duration::from_secs(180));
    let stop = async move {
        tokio::select! {
            _ = rx => {},
            _ = deadline => {},
        }
    };
    consumer
        .run(stop, move |r| {
            let mut all = sink.lock().unwrap();
            all.push(r);
            if done(&all)
                && let Some(tx) = tx.lock().unwrap().take()
            {
                let _ = tx.send(());
            }
        })
        .await
        .unwrap();
    let all = reports.lock().unwrap();
    all.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_messages_with_duplicates_garbage_and_other_clusters_lose_nothing() {
    let c = client();
    let (queue, dlq) = queues(&c, 10, 2).await;
    let (cluster, ids) = demo();
    // 800 events for this cluster's instances, 100 redeliveries of some of them, 50 pieces of
    // garbage (5 %), 50 events for another cluster's instances
    let mut bodies = Vec::new();
    let mut valid = BTreeSet::new();
    for k in 0..800 {
        let id = format!("evt-{k}");
        let kind = if k % 4 == 0 { "rebalance" } else { "spot" };
        bodies.push(event(kind, &id, &ids[k % ids.len()]));
        valid.insert(id);
    }
    for k in 0..100 {
        let id = format!("evt-{}", k * 7);
        bodies.push(event("spot", &id, &ids[(k * 7) % ids.len()]));
    }
    for k in 0..50 {
        bodies.push(format!(
            "{}{}",
            GARBAGE[k % GARBAGE.len()],
            " ".repeat(k / 10)
        ));
    }
    let mut foreign = BTreeSet::new();
    for k in 0..50 {
        let body = event("spot", &format!("other-{k}"), &format!("i-0other{k:08}"));
        foreign.insert(body.clone());
        bodies.push(body);
    }
    // shuffle deterministically so kinds interleave
    let n = bodies.len();
    for i in 0..n {
        bodies.swap(i, (i * 7919 + 13) % n);
    }
    assert_eq!(n, 1000);
    send_all(&c, &queue, &bodies).await;

    let exec = Arc::new(DryRunExecutor::new());
    let consumer = Consumer::new(
        c.clone(),
        &queue,
        cluster,
        exec.clone(),
        ConsumerConfig::default()
            .with_wait(1)
            .with_visibility_timeout(10),
    );
    // done when every message but the other cluster's has been seen (a message keeps its id
    // when SQS redelivers it)
    let reports = run_until(&consumer, |all| {
        let ours: BTreeSet<&str> = all
            .iter()
            .filter(|r| !matches!(r.outcome, MessageOutcome::Foreign { .. }))
            .map(|r| r.message_id.as_str())
            .collect();
        ours.len() == 950
    })
    .await;

    // every valid event handled exactly once: one cordon per event id
    let mut cordons: BTreeMap<String, usize> = BTreeMap::new();
    for s in exec.steps() {
        if matches!(s.action, Action::Cordon { .. }) {
            *cordons
                .entry(s.recommendation_id.clone().unwrap())
                .or_default() += 1;
        }
    }
    assert_eq!(cordons.len(), 800);
    assert!(cordons.values().all(|n| *n == 1));
    assert_eq!(cordons.keys().cloned().collect::<BTreeSet<_>>(), valid);
    let count = |f: fn(&MessageOutcome) -> bool| reports.iter().filter(|r| f(&r.outcome)).count();
    assert_eq!(count(|o| matches!(o, MessageOutcome::Handled { .. })), 800);
    // the 100 redeliveries sent (by message id: SQS may redeliver one itself too)
    let duplicates: BTreeSet<&str> = reports
        .iter()
        .filter(|r| matches!(r.outcome, MessageOutcome::Duplicate { .. }))
        .map(|r| r.message_id.as_str())
        .collect();
    assert!(duplicates.len() >= 100);
    assert_eq!(count(|o| matches!(o, MessageOutcome::Failed { .. })), 0);
    // garbage was quarantined, never deleted: it is in the dead-letter queue
    let quarantined: BTreeSet<&str> = reports
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                MessageOutcome::Quarantined { deleted: false, .. }
            )
        })
        .map(|r| r.message_id.as_str())
        .collect();
    assert_eq!(quarantined.len(), 50);
    // a message whose delete came after its visibility ran out (the server was slow) comes
    // back: the consumer recognises it and deletes it without acting again
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut empty = 0;
    while empty < 2 {
        let more = consumer.poll_once().await.unwrap();
        if more
            .iter()
            .all(|r| matches!(r.outcome, MessageOutcome::Foreign { .. }))
        {
            empty += 1;
        }
        for r in &more {
            assert!(
                matches!(
                    r.outcome,
                    MessageOutcome::Duplicate { .. }
                        | MessageOutcome::Foreign { .. }
                        | MessageOutcome::Quarantined { .. }
                ),
                "{r:?}"
            );
        }
    }
    let again = exec
        .steps()
        .iter()
        .filter(|s| matches!(s.action, Action::Cordon { .. }))
        .count();
    assert_eq!(again, 800, "nothing is handled twice");
    // nothing lost: what was not handled is still in the queue or in the dead-letter queue
    tokio::time::sleep(Duration::from_secs(11)).await;
    let mut left = drain(&c, &queue).await;
    let in_dlq = drain(&c, &dlq).await;
    left.extend(in_dlq);
    let left_foreign = left.iter().filter(|b| foreign.contains(*b)).count();
    assert_eq!(
        left_foreign, 50,
        "another cluster's messages are never deleted"
    );
    let left_garbage = left
        .iter()
        .filter(|b| !foreign.contains(*b) && !b.contains("evt-"))
        .count();
    assert_eq!(left_garbage, 50);
    assert!(
        left.iter().all(|b| !b.contains("\"evt-")),
        "handled events are deleted"
    );
    // the plans: cordon first, then the replacement, evictions, for this cluster's node
    let first = reports
        .iter()
        .find_map(|r| match &r.outcome {
            MessageOutcome::Handled { steps, nodes, .. } if !nodes.is_empty() => Some(steps),
            _ => None,
        })
        .unwrap();
    assert!(matches!(first[0].step.action, Action::Cordon { .. }));
    assert!(first.iter().all(|o| o.status == Status::DryRun));
}

/// Fails every cordon the first `fail` times, then records.
struct Flaky {
    fail: usize,
    calls: AtomicUsize,
    done: Mutex<Vec<Step>>,
}

impl Executor for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status, ExecError>> {
        Box::pin(async move {
            if matches!(step.action, Action::Cordon { .. })
                && self.calls.fetch_add(1, Ordering::SeqCst) < self.fail
            {
                return Err(ExecError::Api {
                    action: "cordon".into(),
                    status: 503,
                    message: "the API server is unavailable".into(),
                });
            }
            self.done.lock().unwrap().push(step.clone());
            Ok(Status::Done {
                detail: "ok".into(),
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_plan_leaves_the_message_and_is_retried_until_it_works() {
    let c = client();
    let (queue, _dlq) = queues(&c, 1, 10).await;
    let (cluster, ids) = demo();
    send_all(&c, &queue, &[event("spot", "retry-me", &ids[0])]).await;
    let exec = Arc::new(Flaky {
        fail: 2,
        calls: AtomicUsize::new(0),
        done: Mutex::new(Vec::new()),
    });
    let consumer = Consumer::new(
        c.clone(),
        &queue,
        cluster,
        exec.clone(),
        ConsumerConfig::default()
            .with_wait(1)
            .with_visibility_timeout(1),
    );
    let reports = run_until(&consumer, |all| {
        all.iter()
            .any(|r| matches!(r.outcome, MessageOutcome::Handled { .. }))
    })
    .await;
    let failed = reports
        .iter()
        .filter(|r| matches!(r.outcome, MessageOutcome::Failed { .. }))
        .count();
    assert_eq!(failed, 2, "{reports:?}");
    let MessageOutcome::Failed { steps, .. } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert!(
        matches!(&steps[0].status, Status::Failed { code, error } if code == "api" && error.contains("503"))
    );
    // the successful run did every step once, and the message is gone
    let cordons = exec
        .done
        .lock()
        .unwrap()
        .iter()
        .filter(|s| matches!(s.action, Action::Cordon { .. }))
        .count();
    assert_eq!(cordons, 1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(drain(&c, &queue).await.is_empty());
}

/// Takes `delay` over every step.
struct Slow(Duration);

impl Executor for Slow {
    fn name(&self) -> &str {
        "slow"
    }
    fn execute<'a>(&'a self, _step: &'a Step) -> BoxFuture<'a, Result<Status, ExecError>> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Ok(Status::Done {
                detail: "slow".into(),
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visibility_is_extended_while_a_long_plan_runs() {
    let c = client();
    let (queue, _dlq) = queues(&c, 1, 10).await;
    let (cluster, ids) = demo();
    send_all(&c, &queue, &[event("spot", "long-drain", &ids[1])]).await;
    // a plan of several steps at 400 ms each far outlasts the 1 s visibility timeout
    let consumer = Consumer::new(
        c.clone(),
        &queue,
        cluster.clone(),
        Arc::new(Slow(Duration::from_millis(400))),
        ConsumerConfig::default()
            .with_wait(0)
            .with_visibility_timeout(1),
    );
    let worker = tokio::spawn(async move { consumer.poll_once().await });
    // meanwhile another consumer polls the same queue: it must never see the message
    let other = Consumer::new(
        c.clone(),
        &queue,
        cluster,
        Arc::new(DryRunExecutor::new()),
        ConsumerConfig::default()
            .with_wait(1)
            .with_visibility_timeout(1),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut seen_by_other = 0;
    while !worker.is_finished() {
        seen_by_other += other.poll_once().await.unwrap().len();
    }
    let reports = worker.await.unwrap().unwrap();
    assert_eq!(reports.len(), 1);
    let MessageOutcome::Handled { steps, .. } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert!(steps.len() >= 4, "a plan long enough to need extending");
    assert_eq!(
        seen_by_other, 0,
        "the message reappeared while being handled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_deleted_when_the_policy_says_so_and_ignorable_events_are_deleted() {
    let c = client();
    let (queue, dlq) = queues(&c, 1, 1).await;
    let (cluster, _) = demo();
    let pending = serde_json::json!({"version":"0","id":"sc-1","detail-type":"EC2 Instance State-change Notification",
        "source":"aws.ec2","time":"2026-11-26T10:00:00Z","region":"us-east-1",
        "detail":{"instance-id":"i-123","state":"pending"}})
    .to_string();
    send_all(&c, &queue, &["{broken".to_string(), pending]).await;
    let consumer = Consumer::new(
        c.clone(),
        &queue,
        cluster,
        Arc::new(DryRunExecutor::new()),
        ConsumerConfig::default()
            .with_wait(1)
            .with_quarantine(QuarantinePolicy::Delete),
    );
    let reports = run_until(&consumer, |all| all.len() >= 2).await;
    assert!(reports.iter().any(|r| matches!(
        &r.outcome,
        MessageOutcome::Quarantined { deleted: true, reason } if reason.contains("not JSON")
    )));
    assert!(
        reports
            .iter()
            .any(|r| matches!(r.outcome, MessageOutcome::Ignored { .. }))
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(drain(&c, &queue).await.is_empty());
    assert!(drain(&c, &dlq).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_queue_is_an_error_naming_it() {
    let (cluster, _) = demo();
    let url = format!("{}/123456789012/no-such-queue", moto::endpoint());
    let consumer = Consumer::new(
        client(),
        &url,
        cluster,
        Arc::new(DryRunExecutor::new()),
        ConsumerConfig::default().with_wait(0),
    );
    let e = consumer.poll_once().await.unwrap_err().to_string();
    assert!(
        e.contains("ReceiveMessage") && e.contains("no-such-queue"),
        "{e}"
    );
}
