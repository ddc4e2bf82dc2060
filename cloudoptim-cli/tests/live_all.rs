//! The same analysis from the three live sources together — the Kubernetes API (the fake API
//! server), Prometheus (Debian's, backfilled) and EC2 (moto's server) — and from dumps of the
//! same state: `kubectl get -o json`, `query_range` JSON, the AWS CLI's JSON (botocore).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use cloudoptim_core::adapters::aws::aws_sdk_ec2;
use cloudoptim_tests::fake_kube::{FakeKube, sample_cluster};
use cloudoptim_tests::moto;
use cloudoptim_tests::prometheus::Prometheus;
use cloudoptim_tests::service::http_get;

const STEP: i64 = 300;
const SCRAPE: i64 = 120;

fn ec2(region: &str) -> aws_sdk_ec2::Client {
    moto::ec2_client(region)
}

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
                (40.0 + 15.0 * i) * 1_048_576.0 * (1.1 + ((t as f64) / 7200.0).cos() / 10.0)
            };
            let mut total = 0.0;
            let mut t = first;
            while t <= end {
                total += cores(t) * SCRAPE as f64;
                writeln!(
                    om,
                    "container_cpu_usage_seconds_total{{{labels}}} {total} {t}"
                )
                .unwrap();
                t += SCRAPE;
            }
            let mut t = first;
            while t <= end {
                writeln!(
                    om,
                    "container_memory_working_set_bytes{{{labels}}} {} {t}",
                    mem(t).round()
                )
                .unwrap();
                t += SCRAPE;
            }
        }
    }
    om.push_str("# EOF\n");
    om
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What a user would save with curl: one query_range per metric over the whole range.
fn prometheus_dump(prom: &Prometheus, start: i64, end: i64, dir: &std::path::Path) {
    for (file, q) in [
        (
            "cpu.json",
            "sum by (namespace,pod,container) (rate(container_cpu_usage_seconds_total{container!=\"\",container!=\"POD\"}[5m]))",
        ),
        (
            "memory.json",
            "max by (namespace,pod,container) (container_memory_working_set_bytes{container!=\"\",container!=\"POD\"})",
        ),
    ] {
        let path = format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={STEP}",
            encode(q)
        );
        let host = prom.url().trim_start_matches("http://");
        let (status, body) = http_get(host, &path, Duration::from_secs(60)).expect("dump query");
        assert_eq!(status, 200, "{body}");
        std::fs::write(dir.join(file), body).unwrap();
    }
}

/// The AWS CLI's JSON of the region, written by botocore (what the CLI runs on).
fn aws_dump(region: &str, dir: &std::path::Path) {
    let script = r#"
import json, sys, datetime, boto3
endpoint, region, out = sys.argv[1:4]
c = boto3.client("ec2", endpoint_url=endpoint, region_name=region,
                 aws_access_key_id="testing", aws_secret_access_key="testing")
def iso(o):
    if isinstance(o, datetime.datetime):
        return o.isoformat()
    raise TypeError(o)
def dump(name, pages, key):
    items = [x for p in pages for x in p[key]]
    json.dump({key: items}, open(f"{out}/{name}.json", "w"), default=iso, indent=1)
    return items
res = dump("instances", c.get_paginator("describe_instances").paginate(), "Reservations")
dump("volumes", c.get_paginator("describe_volumes").paginate(), "Volumes")
types = sorted({i["InstanceType"] for r in res for i in r["Instances"]})
now = datetime.datetime.now(datetime.timezone.utc)
dump("spot-prices", c.get_paginator("describe_spot_price_history").paginate(
    InstanceTypes=types, ProductDescriptions=["Linux/UNIX"],
    StartTime=now - datetime.timedelta(days=7), EndTime=now), "SpotPriceHistory")
"#;
    let out = Command::new(moto::python_with_boto3())
        .arg("-c")
        .arg(script)
        .arg(moto::endpoint())
        .arg(region)
        .arg(dir)
        .output()
        .expect("run Python");
    assert!(
        out.status.success(),
        "botocore dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    let c = ec2(region);
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
    prometheus_dump(&prom, end - 3 * 86_400, end + 3600, &usage);
    aws_dump(region, &aws);
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
