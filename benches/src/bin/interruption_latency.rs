//! Interruption pipeline latency: from the SQS receive call's answer to the cordon request
//! issued to the Kubernetes API, over N spot interruption warnings (default 10,000).
//!
//! Real components: moto's server as SQS (through aws-sdk-sqs), the shared fake Kubernetes API
//! server (`cloudoptim_tests::fake_kube`, real HTTP PATCHes through kube-rs). Cordons go to the
//! API; the other steps of each plan (replacement, evictions) are recorded, not run, so a
//! PDB-bound drain does not hold the queue. Side by side in one run: the consumer as shipped
//! (64 messages at once) and the same consumer handling one message at a time (what a
//! sequential queue processor does).
//!
//! ```sh
//! CARGO_TARGET_DIR=$HOME/.cache/cloudoptim-target \
//!   cargo run --release -p cloudoptim-benches --bin interruption_latency [-- EVENTS]
//! ```

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{Credentials, Region};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use cloudoptim_core::adapters::kube::{ConnectOptions, KubeClient, KubeExecutor};
use cloudoptim_core::adapters::sqs::{Consumer, ConsumerConfig};
use cloudoptim_core::executor::{
    Action, BoxFuture, DryRunExecutor, ExecError, Executor, Status, Step,
};
use cloudoptim_core::spot::pipeline::MessageOutcome;
use cloudoptim_tests::{fake_kube, moto};

/// Cordons through the Kubernetes API (timed), everything else recorded.
struct CordonLive {
    kube: KubeExecutor,
    rest: DryRunExecutor,
    cordon_micros: Mutex<Vec<u64>>,
}

impl Executor for CordonLive {
    fn name(&self) -> &str {
        "cordon-live"
    }

    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status, ExecError>> {
        Box::pin(async move {
            if matches!(step.action, Action::Cordon { .. }) {
                let t = Instant::now();
                let r = self.kube.execute(step).await;
                if let Ok(mut v) = self.cordon_micros.lock() {
                    v.push(t.elapsed().as_micros() as u64);
                }
                r
            } else {
                self.rest.execute(step).await
            }
        })
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn run(
    label: &str,
    client: &Client,
    cluster: &cloudoptim_core::Cluster,
    instances: &[String],
    kubeconfig: &std::path::Path,
    events: usize,
    concurrency: usize,
) -> Result<String, Box<dyn std::error::Error>> {
    let queue = client
        .create_queue()
        .queue_name(moto::unique("latency"))
        .send()
        .await?
        .queue_url
        .ok_or("no queue url")?;
    let kube = KubeClient::connect(ConnectOptions::default().with_kubeconfig(kubeconfig)).await?;
    let exec = Arc::new(CordonLive {
        kube: KubeExecutor::new(kube).with_dry_run(false),
        rest: DryRunExecutor::new(),
        cordon_micros: Mutex::new(Vec::new()),
    });
    let consumer = Consumer::new(
        client.clone(),
        &queue,
        Arc::new(RwLock::new(cluster.clone())),
        exec.clone(),
        ConsumerConfig::default()
            .with_wait(1)
            .with_visibility_timeout(120)
            .with_concurrency(concurrency),
    );
    let firsts = Arc::new(Mutex::new(Vec::<u64>::new()));
    let handled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    // events arrive while the consumer runs, at most 200 waiting (moto's queue scans grow with
    // its length; a real queue of interruption warnings is short too)
    let producer = {
        let client = client.clone();
        let queue = queue.clone();
        let handled = handled.clone();
        let instances = instances.to_vec();
        let label = label.to_string();
        tokio::spawn(async move {
            let mut sent = 0usize;
            while sent < events {
                if sent - handled.load(std::sync::atomic::Ordering::SeqCst).min(sent) > 200 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                let entries: Vec<SendMessageBatchRequestEntry> = (sent..(sent + 10).min(events))
                    .filter_map(|k| {
                        let body = serde_json::json!({
                            "version": "0", "id": format!("{label}-{k}"),
                            "detail-type": "EC2 Spot Instance Interruption Warning", "source": "aws.ec2",
                            "time": "2026-11-26T10:00:00Z", "region": "us-east-1",
                            "detail": {"instance-id": instances[k % instances.len()], "instance-action": "terminate"}
                        });
                        SendMessageBatchRequestEntry::builder()
                            .id(format!("m{k}"))
                            .message_body(body.to_string())
                            .build()
                            .ok()
                    })
                    .collect();
                let n = entries.len();
                if client
                    .send_message_batch()
                    .queue_url(&queue)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .is_ok()
                {
                    sent += n;
                }
            }
        })
    };
    let t_run = Instant::now();
    let sink = firsts.clone();
    let count = handled.clone();
    consumer
        .run(
            async move {
                tokio::select! {
                    _ = rx => {},
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => {},
                }
            },
            move |r| {
                if let (MessageOutcome::Handled { .. }, Some(us)) =
                    (&r.outcome, r.first_action_micros)
                {
                    if let Ok(mut v) = sink.lock() {
                        v.push(us);
                    }
                    if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 >= events
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(());
                    }
                }
            },
        )
        .await?;
    let wall = t_run.elapsed();
    producer.await?;
    let mut f = firsts.lock().map(|v| v.clone()).unwrap_or_default();
    f.sort_unstable();
    let mut c = exec
        .cordon_micros
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    c.sort_unstable();
    Ok(format!(
        "| {label} | {concurrency} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.0} |",
        f.len(),
        pct(&f, 0.5),
        pct(&f, 0.99),
        pct(&f, 1.0),
        pct(&c, 0.5),
        pct(&c, 0.99),
        pct(&c, 1.0),
        f.len() as f64 / wall.as_secs_f64(),
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir()?;
    let fake = fake_kube::FakeKube::start(fake_kube::sample_cluster());
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let dump = fake.write_dump(&dir.path().join("cluster.json"));
    let cluster = cloudoptim_core::loader::load_cluster(&dump)?;
    let instances: Vec<String> = cluster
        .nodes
        .iter()
        .filter_map(|n| n.instance_id.clone())
        .collect();
    if instances.is_empty() {
        return Err("the sample cluster has no node with an instance id".into());
    }
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(Region::new(moto::REGION))
        .endpoint_url(moto::endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "bench"))
        .build();
    let client = Client::from_conf(conf);
    println!(
        "| consumer | messages at once | events | received → cordon issued p50 (ms) | p99 | max | cordon PATCH p50 (ms) | p99 | max | events/s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (label, concurrency) in [("cloudoptim", 64), ("sequential", 1)] {
        let line = run(
            label,
            &client,
            &cluster,
            &instances,
            &kubeconfig,
            events,
            concurrency,
        )
        .await?;
        println!("{line}");
    }
    Ok(())
}
