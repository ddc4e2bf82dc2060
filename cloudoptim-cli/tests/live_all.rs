//! The same analysis from the three live sources together — the Kubernetes API (the fake API
//! server), Prometheus (Debian's, backfilled) and EC2 (moto's server) — and from dumps of the
//! same state: `kubectl get -o json`, `query_range` JSON, the AWS CLI's JSON (botocore).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use cloudoptim_core::adapters::aws::aws_sdk_ec2;
use cloudoptim_tests::fake_kube::{FakeKube, sample_cluster};
use cloudoptim_tests::moto;
use cloudoptim_tests::prometheus::{Prometheus, write_container_usage};

const STEP: i64 = 300;
const SCRAPE: i64 = 120;

/// Two days of usage for every container of the fake cluster's pods, ending `end`.
fn openmetrics(objects: &[serde_json::Value], end: i64) -> String {
    let mut om = String::new();
    let first = end - 2 * 86_400;
    let mut i = 0.0f64;
    for p in objects.iter().filter(|o| o["kind"] == "Pod") {
        let (ns, pod) = (
            p["metadata"]["namespace"].as_str().unwrap(),
            p["metadata"]["name"].as_str().unwrap(),
        );
        for c in p["spec"]["containers"].as_array().unwrap() {
            i += 1.0;
            let labels = format!(
                "namespace=\"{ns}\",pod=\"{pod}\",container=\"{}\"",
                c["name"].as_str().unwrap()
            );
            let cores = |t: i64| 0.02 * i * (1.2 + ((t as f64) / 5400.0 + i).sin());
            let mem = |t: i64| {
                ((40.0 + 15.0 * i) * 1_048_576.0 * (1.1 + ((t as f64) / 7200.0).cos() / 10.0))
                    .round()
            };
            write_container_usage(&mut om, &labels, (first, end, SCRAPE), cores, mem);
        }
    }
    om.push_str("# EOF\n");
    om
}

fn analyze(args: &[&str]) -> (serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudoptim"))
        .arg("analyze")
        .args(args)
        .args(["--cluster-name", "honeycomb", "--format", "json"])
        .envs(moto::env())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    (serde_json::from_str(&stdout).unwrap(), stderr.into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_live_sources_give_the_same_recommendations_as_their_dumps() {
    // EC2: a node-less instance of the cluster and an unattached volume, in a region of its own
    let region = "ca-central-1";
    let c = moto::ec2_client(region);
    let ami = c
        .describe_images()
        .send()
        .await
        .unwrap()
        .images()
        .iter()
        .filter_map(|i| i.image_id())
        .min()
        .unwrap()
        .to_string();
    c.run_instances()
        .image_id(&ami)
        .instance_type(aws_sdk_ec2::types::InstanceType::M5Large)
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                .tags(
                    aws_sdk_ec2::types::Tag::builder()
                        .key("kubernetes.io/cluster/honeycomb")
                        .value("owned")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.create_volume()
        .availability_zone(format!("{region}a"))
        .size(100)
        .send()
        .await
        .unwrap();

    // Kubernetes and Prometheus
    let objects = sample_cluster();
    let fake = FakeKube::start(objects.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let end = (now - 3600) / 3600 * 3600;
    let prom = Prometheus::start_with_openmetrics(&openmetrics(&objects, end));

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let (live, progress) = analyze(&[
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--prometheus",
        prom.url(),
        "--days",
        "3",
        "--region",
        region,
    ]);

    let cluster = fake.write_dump(&dir.path().join("cluster.json"));
    let usage = dir.path().join("usage");
    let aws = dir.path().join("aws");
    std::fs::create_dir_all(&usage).unwrap();
    std::fs::create_dir_all(&aws).unwrap();
    prom.dump_usage((end - 3 * 86_400, end + 3600, STEP), &usage);
    moto::write_cli_json(&moto::endpoint(), region, &aws, true);
    // every live source was read
    assert!(
        progress.contains("aws: ")
            && !progress.contains("aws: 0 instances")
            && progress.contains("prometheus: "),
        "{progress}"
    );
    let (offline, _) = analyze(&[
        "--cluster",
        cluster.to_str().unwrap(),
        "--usage",
        usage.to_str().unwrap(),
        "--aws",
        aws.to_str().unwrap(),
        "--region",
        region,
    ]);

    let recs = |r: &serde_json::Value| r["recommendations"].clone();
    let kinds: std::collections::BTreeSet<String> = recs(&live)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.contains("workload_rightsizing"),
        "no rightsizing from Prometheus: {kinds:?}"
    );
    assert_eq!(recs(&live), recs(&offline));
    assert_eq!(live["totals"], offline["totals"]);
}
