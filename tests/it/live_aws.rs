//! The EC2 adapter against moto's server: the live inventory equals `load_aws` of the AWS CLI's
//! JSON of the same state, the executor launches, tags, terminates and deletes only with the
//! confirmation and tag checks, dry run sends no mutating call, rejected credentials are
//! reported clearly, and every call made is in the documented IAM policy.
//!
//! Each test works in a region of its own: moto keeps state per region, so the tests can share
//! one server.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::{Arc, Mutex};

use cloudoptim_core::adapters::aws::aws_sdk_ec2::{self, Client};
use cloudoptim_core::adapters::aws::{
    AwsError, AwsExecutor, AwsExecutorConfig, AwsSource, CallRecorder, InventoryOptions,
    LaunchSpec, TagMatch,
};
use cloudoptim_core::executor::{Action, ExecError, Executor, Status, Step};
use cloudoptim_tests::moto;

use aws_sdk_ec2::types::{InstanceStateName, ResourceType, Tag, TagSpecification, VolumeType};

const CLUSTER_TAG: &str = "kubernetes.io/cluster/shop-prod";

fn client_at(endpoint: &str, region: &str, recorder: Option<&CallRecorder>) -> Client {
    let mut b = moto::ec2_config(endpoint, region);
    if let Some(r) = recorder {
        b = b.interceptor(r.clone());
    }
    Client::from_conf(b.build())
}

fn client(region: &str, recorder: Option<&CallRecorder>) -> Client {
    client_at(moto::shared().endpoint(), region, recorder)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn image(c: &Client) -> String {
    let out = c.describe_images().send().await.unwrap();
    out.images()
        .iter()
        .filter_map(|i| i.image_id())
        .min()
        .expect("moto lists images")
        .to_string()
}

async fn launch(c: &Client, ami: &str, itype: &str, tags: &[(&str, &str)]) -> String {
    let mut req = c
        .run_instances()
        .image_id(ami)
        .instance_type(itype.into())
        .min_count(1)
        .max_count(1);
    if !tags.is_empty() {
        let t: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
            .collect();
        req = req.tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(t))
                .build(),
        );
    }
    let out = req.send().await.unwrap();
    out.instances()[0].instance_id().unwrap().to_string()
}

async fn volume(c: &Client, zone: &str, gib: i32) -> String {
    c.create_volume()
        .availability_zone(zone)
        .size(gib)
        .volume_type(VolumeType::Gp3)
        .send()
        .await
        .unwrap()
        .volume_id()
        .unwrap()
        .to_string()
}

async fn state(c: &Client, id: &str) -> InstanceStateName {
    let out = c
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
    out.reservations()[0].instances()[0]
        .state()
        .unwrap()
        .name()
        .unwrap()
        .clone()
}

async fn volume_exists(c: &Client, id: &str) -> bool {
    c.describe_volumes()
        .send()
        .await
        .unwrap()
        .volumes()
        .iter()
        .any(|v| v.volume_id() == Some(id))
}

fn step(action: Action) -> Step {
    Step::new(action, "test", Some("rec-1".into()))
}

#[test]
fn inventory_from_moto_equals_load_aws_of_the_cli_json() {
    let region = "eu-west-1";
    let c = client(region, None);
    let rec = CallRecorder::new();
    let src = AwsSource::new(client(region, Some(&rec)));
    let rt = rt();
    let (live, ids) = rt.block_on(async {
        let ami = image(&c).await;
        let a = launch(
            &c,
            &ami,
            "m5.large",
            &[(CLUSTER_TAG, "owned"), ("Name", "node-a")],
        )
        .await;
        let b = launch(&c, &ami, "c5.xlarge", &[]).await;
        let v1 = volume(&c, "eu-west-1a", 100).await;
        let v2 = volume(&c, "eu-west-1b", 20).await;
        c.attach_volume()
            .volume_id(&v2)
            .instance_id(&a)
            .device("/dev/sdf")
            .send()
            .await
            .unwrap();
        let inv = src
            .inventory(&InventoryOptions::default().with_spot_history_days(0))
            .await
            .unwrap();
        (inv, (a, b, v1, v2))
    });
    let dir = tempfile::tempdir().unwrap();
    moto::write_cli_json(moto::shared().endpoint(), region, dir.path(), false);
    let offline = cloudoptim_core::loader::load_aws(dir.path()).unwrap();

    let mut li = live.instances.clone();
    let mut oi = offline.instances.clone();
    li.sort_by(|x, y| x.instance_id.cmp(&y.instance_id));
    oi.sort_by(|x, y| x.instance_id.cmp(&y.instance_id));
    assert_eq!(li, oi);
    let mut lv = live.volumes.clone();
    let mut ov = offline.volumes.clone();
    lv.sort_by(|x, y| x.volume_id.cmp(&y.volume_id));
    ov.sort_by(|x, y| x.volume_id.cmp(&y.volume_id));
    assert_eq!(lv, ov);

    let (a, b, v1, v2) = ids;
    let ia = li.iter().find(|i| i.instance_id == a).unwrap();
    assert_eq!(ia.instance_type, "m5.large");
    assert_eq!(ia.tags.get(CLUSTER_TAG).map(String::as_str), Some("owned"));
    assert!(ia.launch_time.is_some() && ia.zone.is_some());
    assert!(li.iter().any(|i| i.instance_id == b && i.tags.is_empty()));
    let vol1 = lv.iter().find(|v| v.volume_id == v1).unwrap();
    assert_eq!((vol1.size_gib, vol1.state.as_str()), (100, "available"));
    let vol2 = lv.iter().find(|v| v.volume_id == v2).unwrap();
    assert_eq!(vol2.attached_to, vec![a.clone()]);
    assert_eq!(
        rec.calls(),
        vec![
            "DescribeInstances".to_string(),
            "DescribeVolumes".to_string()
        ]
    );
}

#[test]
fn spot_price_history_is_paginated_and_placement_scores_degrade_gracefully() {
    let region = "us-east-2";
    let src = AwsSource::new(client(region, None));
    let rt = rt();
    let types = vec!["m5.large".to_string(), "c5.xlarge".to_string()];
    let inv = rt
        .block_on(
            src.inventory(
                &InventoryOptions::default()
                    .with_spot_types(types.clone())
                    .with_spot_history_days(7),
            ),
        )
        .unwrap();
    assert!(
        !inv.spot_prices.is_empty(),
        "moto answers spot price history"
    );
    assert!(
        inv.spot_prices
            .iter()
            .all(|p| types.contains(&p.instance_type) && p.price > 0.0),
        "{:?}",
        &inv.spot_prices[..3.min(inv.spot_prices.len())]
    );
    // moto does not implement GetSpotPlacementScores: a clear NotSupported, not a crash.
    match rt.block_on(src.spot_placement_scores(&types, 10)) {
        Ok(scores) => assert!(scores.iter().all(|s| (1..=10).contains(&s.score))),
        Err(e) => {
            assert!(matches!(e, AwsError::NotSupported { .. }), "{e}");
            assert!(e.to_string().contains("GetSpotPlacementScores"), "{e}");
        }
    }
}

fn exec_config(ami: &str) -> AwsExecutorConfig {
    AwsExecutorConfig::new(TagMatch {
        key: CLUSTER_TAG.into(),
        value: None,
    })
    .with_launch(LaunchSpec::with_image(ami))
}

#[test]
fn executor_launches_terminates_and_deletes_only_past_the_checks() {
    let region = "us-west-2";
    let c = client(region, None);
    let rec = CallRecorder::new();
    let rt = rt();
    rt.block_on(async {
        let ami = image(&c).await;
        let unconfirmed = AwsExecutor::new(
            client(region, Some(&rec)),
            exec_config(&ami).with_dry_run(false),
        );
        let exec = AwsExecutor::new(
            client(region, Some(&rec)),
            exec_config(&ami).with_dry_run(false).with_confirmed(true),
        );

        // Launch: spot, tagged at launch with the cluster tag and the recommendation.
        let st = exec
            .execute(&step(Action::LaunchReplacement {
                instance_type: "m5.large".into(),
                zone: Some("us-west-2a".into()),
                capacity_type: "spot".into(),
            }))
            .await
            .unwrap();
        let Status::Done { detail } = st else {
            panic!("{st:?}")
        };
        let id = detail.split_whitespace().nth(1).unwrap().to_string();
        assert!(id.starts_with("i-"), "{detail}");
        let out = c
            .describe_instances()
            .instance_ids(&id)
            .send()
            .await
            .unwrap();
        let inst = &out.reservations()[0].instances()[0];
        let tags: BTreeSet<(String, String)> = inst
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().into(), t.value().unwrap().into()))
            .collect();
        assert!(
            tags.contains(&(CLUSTER_TAG.into(), "owned".into())),
            "{tags:?}"
        );
        assert!(tags.contains(&("cloudoptim.io/recommendation".into(), "rec-1".into())));
        assert_eq!(inst.instance_type().unwrap().as_str(), "m5.large");
        assert_eq!(
            inst.placement().and_then(|p| p.availability_zone()),
            Some("us-west-2a")
        );

        // Terminate: not without confirmation, not without the cluster tag.
        let term = step(Action::TerminateInstance {
            instance_id: id.clone(),
        });
        let e = unconfirmed.execute(&term).await.unwrap_err();
        assert!(matches!(e, ExecError::NotConfirmed { .. }), "{e}");
        assert_eq!(state(&c, &id).await, InstanceStateName::Running);
        let stranger = launch(&c, &ami, "t3.micro", &[("Name", "someone-else")]).await;
        let e = exec
            .execute(&step(Action::TerminateInstance {
                instance_id: stranger.clone(),
            }))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ExecError::Refused { reason, .. } if reason.contains(CLUSTER_TAG)),
            "{e}"
        );
        assert_eq!(state(&c, &stranger).await, InstanceStateName::Running);
        let e = exec
            .execute(&step(Action::TerminateInstance {
                instance_id: "i-0123456789abcdef0".into(),
            }))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ExecError::Refused { .. } | ExecError::Api { .. }),
            "{e}"
        );
        let st = exec.execute(&term).await.unwrap();
        assert!(matches!(st, Status::Done { .. }), "{st:?}");
        assert!(matches!(
            state(&c, &id).await,
            InstanceStateName::ShuttingDown | InstanceStateName::Terminated
        ));
        // Again: already gone, skipped.
        assert!(matches!(
            exec.execute(&term).await.unwrap(),
            Status::Skipped { .. }
        ));

        // Delete volume: not without confirmation, not while attached.
        let free = volume(&c, "us-west-2a", 50).await;
        let busy = volume(&c, "us-west-2a", 50).await;
        c.attach_volume()
            .volume_id(&busy)
            .instance_id(&stranger)
            .device("/dev/sdf")
            .send()
            .await
            .unwrap();
        let del = step(Action::DeleteVolume {
            volume_id: free.clone(),
        });
        let e = unconfirmed.execute(&del).await.unwrap_err();
        assert!(matches!(e, ExecError::NotConfirmed { .. }), "{e}");
        assert!(volume_exists(&c, &free).await);
        let e = exec
            .execute(&step(Action::DeleteVolume {
                volume_id: busy.clone(),
            }))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ExecError::Refused { reason, .. } if reason.contains("in-use")),
            "{e}"
        );
        assert!(volume_exists(&c, &busy).await);
        let tagged_only = AwsExecutor::new(
            client(region, Some(&rec)),
            exec_config(&ami)
                .with_dry_run(false)
                .with_confirmed(true)
                .with_volume_needs_tag(true),
        );
        let e = tagged_only.execute(&del).await.unwrap_err();
        assert!(matches!(e, ExecError::Refused { .. }), "{e}");
        assert!(matches!(
            exec.execute(&del).await.unwrap(),
            Status::Done { .. }
        ));
        assert!(!volume_exists(&c, &free).await);

        // Not an EC2 action: skipped.
        let st = exec
            .execute(&step(Action::Cordon { node: "n1".into() }))
            .await
            .unwrap();
        assert!(matches!(st, Status::Skipped { .. }));
        assert!(
            exec.log()
                .iter()
                .any(|l| l.starts_with("terminate_instance") && l.contains("[rec-1]")),
            "{:?}",
            exec.log()
        );
    });
    assert_calls_in_policy(&rec.calls());
}

#[test]
fn dry_run_sends_no_mutating_request() {
    let region = "ap-southeast-1";
    let c = client(region, None);
    let rec = CallRecorder::new();
    let rt = rt();
    rt.block_on(async {
        let ami = image(&c).await;
        let node = launch(&c, &ami, "m5.large", &[(CLUSTER_TAG, "owned")]).await;
        let vol = volume(&c, "ap-southeast-1a", 10).await;
        let before = c.describe_instances().send().await.unwrap();
        let n_before: usize = before
            .reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum();
        let dry = AwsExecutor::new(
            client(region, Some(&rec)),
            exec_config(&ami).with_confirmed(true),
        );
        for action in [
            Action::LaunchReplacement {
                instance_type: "m5.large".into(),
                zone: None,
                capacity_type: "spot".into(),
            },
            Action::TerminateInstance {
                instance_id: node.clone(),
            },
            Action::DeleteVolume {
                volume_id: vol.clone(),
            },
        ] {
            assert_eq!(dry.execute(&step(action)).await.unwrap(), Status::DryRun);
        }
        assert_eq!(state(&c, &node).await, InstanceStateName::Running);
        assert!(volume_exists(&c, &vol).await);
        let after = c.describe_instances().send().await.unwrap();
        let n_after: usize = after
            .reservations()
            .iter()
            .map(|r| r.instances().len())
            .sum();
        assert_eq!(n_before, n_after);
        assert!(dry.log().iter().all(|l| l.starts_with("[dry-run] ")));
    });
    let calls = rec.calls();
    assert!(!calls.is_empty());
    assert!(
        calls.iter().all(|c| c.starts_with("Describe")),
        "dry run sent {calls:?}"
    );
}

#[test]
fn rejected_credentials_are_reported_clearly() {
    // A private server that checks credentials from the first call on.
    let strict = moto::Moto::start_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let src = AwsSource::new(client_at(strict.endpoint(), "us-east-1", None));
    let e = rt()
        .block_on(src.inventory(&InventoryOptions::default()))
        .unwrap_err();
    assert!(matches!(e, AwsError::Credentials { .. }), "{e}");
    assert_eq!(e.code(), "aws_credentials");
    let msg = e.to_string();
    assert!(
        msg.contains("DescribeInstances") && msg.contains("credentials"),
        "{msg}"
    );
}

/// A one-shot fake EC2 endpoint: spot RunInstances fail with InsufficientInstanceCapacity,
/// on-demand ones succeed; records the request bodies.
fn fake_ec2_without_spot_capacity() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let b2 = bodies.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body).into_owned();
            b2.lock().unwrap().push(body.clone());
            let (status, xml) = if body.contains("InstanceMarketOptions") {
                (
                    "500 Internal Server Error",
                    "<Response><Errors><Error><Code>InsufficientInstanceCapacity</Code><Message>We currently do not have sufficient m5.large capacity.</Message></Error></Errors><RequestID>1</RequestID></Response>".to_string(),
                )
            } else {
                (
                    "200 OK",
                    "<RunInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>2</requestId><reservationId>r-1</reservationId><ownerId>1</ownerId><instancesSet><item><instanceId>i-0ondemand</instanceId><instanceType>m5.large</instanceType></item></instancesSet></RunInstancesResponse>".to_string(),
                )
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                xml.len()
            );
        }
    });
    (format!("http://{addr}"), bodies)
}

#[test]
fn spot_capacity_shortage_falls_back_to_on_demand() {
    let (endpoint, bodies) = fake_ec2_without_spot_capacity();
    let exec = AwsExecutor::new(
        client_at(&endpoint, "us-east-1", None),
        exec_config("ami-12345678").with_dry_run(false),
    );
    let st = rt()
        .block_on(exec.execute(&step(Action::LaunchReplacement {
            instance_type: "m5.large".into(),
            zone: None,
            capacity_type: "spot".into(),
        })))
        .unwrap();
    assert_eq!(
        st,
        Status::Done {
            detail: "launched i-0ondemand m5.large on-demand (spot capacity short)".into()
        }
    );
    let bodies = bodies.lock().unwrap();
    assert!(bodies.iter().any(|b| b.contains("InstanceMarketOptions")));
    assert!(!bodies.last().unwrap().contains("InstanceMarketOptions"));
    assert!(
        exec.log()
            .iter()
            .any(|l| l.contains("falling back to on-demand"))
    );
}

/// The EC2 actions granted by the policies (```json blocks) of docs/least-privilege-aws.md.
fn policy_actions() -> BTreeSet<String> {
    let doc =
        std::fs::read_to_string(cloudoptim_tests::repo_root().join("docs/least-privilege-aws.md"))
            .unwrap();
    let mut out = BTreeSet::new();
    for block in doc.split("```json").skip(1) {
        let json = block.split("```").next().unwrap();
        let policy: serde_json::Value = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("a policy in docs/least-privilege-aws.md is not JSON: {e}"));
        for st in policy["Statement"].as_array().unwrap() {
            assert_eq!(st["Effect"], "Allow");
            let actions = match &st["Action"] {
                serde_json::Value::String(a) => vec![a.clone()],
                serde_json::Value::Array(a) => {
                    a.iter().map(|x| x.as_str().unwrap().to_string()).collect()
                }
                other => panic!("Action {other}"),
            };
            for a in actions {
                if let Some(ec2) = a.strip_prefix("ec2:") {
                    out.insert(ec2.to_string());
                }
            }
        }
    }
    out
}

fn assert_calls_in_policy(calls: &[String]) {
    let allowed = policy_actions();
    assert!(allowed.contains("DescribeInstances"), "{allowed:?}");
    for c in calls {
        assert!(
            allowed.contains(c),
            "the code calls ec2:{c}, which docs/least-privilege-aws.md does not grant"
        );
    }
}

#[test]
fn every_call_is_in_the_documented_policy() {
    let region = "ca-central-1";
    let rec = CallRecorder::new();
    let c = client(region, None);
    let rt = rt();
    rt.block_on(async {
        let src = AwsSource::new(client(region, Some(&rec)));
        src.inventory(
            &InventoryOptions::default()
                .with_spot_types(vec!["m5.large".into()])
                .with_spot_history_days(1),
        )
        .await
        .unwrap();
        let _ = src.spot_placement_scores(&["m5.large".into()], 1).await;
        let ami = image(&c).await;
        let exec = AwsExecutor::new(
            client(region, Some(&rec)),
            exec_config(&ami).with_dry_run(false).with_confirmed(true),
        );
        let st = exec
            .execute(&step(Action::LaunchReplacement {
                instance_type: "m5.large".into(),
                zone: None,
                capacity_type: "on-demand".into(),
            }))
            .await
            .unwrap();
        let Status::Done { detail } = st else {
            panic!("{st:?}")
        };
        let id = detail.split_whitespace().nth(1).unwrap().to_string();
        exec.execute(&step(Action::TerminateInstance { instance_id: id }))
            .await
            .unwrap();
        let v = volume(&c, "ca-central-1a", 5).await;
        exec.execute(&step(Action::DeleteVolume { volume_id: v }))
            .await
            .unwrap();
    });
    let calls: BTreeSet<String> = rec.calls().into_iter().collect();
    for expected in [
        "DescribeInstances",
        "DescribeVolumes",
        "DescribeSpotPriceHistory",
        "GetSpotPlacementScores",
        "RunInstances",
        "TerminateInstances",
        "DeleteVolume",
    ] {
        assert!(calls.contains(expected), "{expected} not called: {calls:?}");
    }
    assert_calls_in_policy(&calls.into_iter().collect::<Vec<_>>());
}
