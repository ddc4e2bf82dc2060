//! moto's server, for tests of any AWS service (EC2, SQS, ...).
//!
//! ```no_run
//! let endpoint = cloudoptim_tests::moto::endpoint(); // http://127.0.0.1:PORT
//! // point an SDK client at it with fake credentials (ACCESS_KEY / SECRET_KEY) and a region
//! ```
//!
//! [`shared`] (and [`endpoint`]) starts one `moto_server -p <free port>` per test binary
//! (`$MOTO_SERVER_BIN` or `moto_server` on `PATH`; or uses `$MOTO_ENDPOINT` when set) and waits
//! until it answers. A watchdog stops it when the test process ends. moto keeps state per
//! region and account, shared by every test of the process: tests stay apart by using a region
//! of their own, or by naming their resources uniquely ([`unique`]).
//! [`Moto::start_with_env`] starts a private server, for settings that would disturb the others
//! (`INITIAL_NO_AUTH_ACTION_COUNT=0` makes it check credentials, for instance). A missing
//! `moto_server` fails the test with how to install it.

use std::sync::OnceLock;

use cloudoptim_core::adapters::aws::aws_sdk_ec2;
use cloudoptim_core::adapters::sqs::aws_sdk_sqs;
use std::time::Duration;

use crate::service::{Service, free_port, http_get, on_path, scratch_dir};

/// The region tests use unless they need a state of their own.
pub const REGION: &str = "us-east-1";

/// The fake access key id moto accepts (any value works while auth is off).
pub const ACCESS_KEY: &str = "testing";
/// The fake secret key.
pub const SECRET_KEY: &str = "testing";

/// A running moto server (or an external one from `$MOTO_ENDPOINT`).
#[derive(Debug)]
pub struct Moto {
    endpoint: String,
    _service: Option<Service>,
}

impl Moto {
    /// Starts a private moto server with extra environment variables.
    pub fn start_with_env(env: &[(&str, &str)]) -> Moto {
        let bin = std::env::var("MOTO_SERVER_BIN").unwrap_or_else(|_| "moto_server".into());
        assert!(
            on_path(&bin) || std::path::Path::new(&bin).is_file(),
            "moto_server not found on PATH: install it with `pip install \"moto[server]\"` \
             (the EC2 and SQS tests run against it), or set MOTO_SERVER_BIN / MOTO_ENDPOINT"
        );
        let port = free_port();
        let dir = scratch_dir("cloudoptim-moto");
        let mut svc = Service::spawn(
            &[
                bin,
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ],
            env,
            format!("127.0.0.1:{port}"),
            &dir.join("moto.log"),
            Some(&dir),
        );
        svc.wait_ready("/moto-api/", Duration::from_secs(60));
        Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            _service: Some(svc),
        }
    }

    /// Starts a private moto server.
    pub fn start() -> Moto {
        Moto::start_with_env(&[])
    }

    /// The endpoint URL (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `host:port` of the endpoint.
    pub fn host_port(&self) -> &str {
        self.endpoint
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
    }

    /// moto's whole state as JSON (`GET /moto-api/data.json`), to check what a test changed.
    pub fn state(&self) -> String {
        http_get(
            self.host_port(),
            "/moto-api/data.json",
            Duration::from_secs(30),
        )
        .map(|(_, b)| b)
        .unwrap_or_default()
    }
}

/// A Python interpreter with boto3 (which `moto[server]` installs): the one `moto_server`
/// runs on when its script names it, else `python3`. Tests use it to write the AWS CLI's JSON
/// of moto's state with botocore, the library the AWS CLI is built on.
pub fn python_with_boto3() -> String {
    let mut candidates = Vec::new();
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let script = d.join("moto_server");
            if let Ok(text) = std::fs::read_to_string(&script)
                && let Some(first) = text.lines().next()
                && let Some(interp) = first.strip_prefix("#!")
                && interp.contains("python")
            {
                let parts: Vec<&str> = interp.split_whitespace().collect();
                let prog = if parts.first().is_some_and(|p| p.ends_with("/env")) {
                    parts.get(1)
                } else {
                    parts.first()
                };
                if let Some(p) = prog {
                    candidates.push((*p).to_string());
                }
            }
        }
    }
    candidates.push("python3".into());
    for c in &candidates {
        let ok = std::process::Command::new(c)
            .args(["-c", "import boto3"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return c.clone();
        }
    }
    panic!(
        "no Python with boto3 found (tried {candidates:?}): install it with `pip install \"moto[server]\"`"
    )
}

/// Writes the AWS CLI's JSON of the EC2 state of `region` on the moto server at `endpoint`,
/// with botocore (the library the CLI is built on): `instances.json` (`describe-instances`)
/// and `volumes.json` (`describe-volumes`) in `dir`, and with `spot_prices` also
/// `spot-prices.json` (`describe-spot-price-history` of the last week, Linux, for the instance
/// types running). Panics when the script fails.
pub fn write_cli_json(endpoint: &str, region: &str, dir: &std::path::Path, spot_prices: bool) {
    let script = r#"
import json, sys, datetime, boto3
endpoint, region, out, spot = sys.argv[1:5]
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
if spot == "1":
    types = sorted({i["InstanceType"] for r in res for i in r["Instances"]})
    now = datetime.datetime.now(datetime.timezone.utc)
    dump("spot-prices", c.get_paginator("describe_spot_price_history").paginate(
        InstanceTypes=types, ProductDescriptions=["Linux/UNIX"],
        StartTime=now - datetime.timedelta(days=7), EndTime=now), "SpotPriceHistory")
"#;
    let out = std::process::Command::new(python_with_boto3())
        .arg("-c")
        .arg(script)
        .arg(endpoint)
        .arg(region)
        .arg(dir)
        .arg(if spot_prices { "1" } else { "0" })
        .output()
        .expect("run Python");
    assert!(
        out.status.success(),
        "botocore dump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The moto server shared by every test of this binary: `$MOTO_ENDPOINT`, else one started on
/// first use.
pub fn shared() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| match std::env::var("MOTO_ENDPOINT") {
        Ok(e) if !e.is_empty() => Moto {
            endpoint: e.trim_end_matches('/').to_string(),
            _service: None,
        },
        _ => Moto::start(),
    })
}

/// The endpoint URL of the shared server (started on first call).
pub fn endpoint() -> String {
    shared().endpoint().to_string()
}

/// Environment for an SDK client talking to the shared server: fake credentials, region,
/// endpoint. Clients built by the tests set these on their config directly; this is for child
/// processes (the CLI).
pub fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ("AWS_SESSION_TOKEN", "testing".into()),
        ("AWS_DEFAULT_REGION", REGION.into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// A name unique in this process and across runs, for queues and tags.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{t}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// An EC2 client configuration for the moto server at `endpoint` in `region`, with moto's
/// credentials; add interceptors before `build()`.
pub fn ec2_config(endpoint: &str, region: &str) -> aws_sdk_ec2::config::Builder {
    aws_sdk_ec2::Config::builder()
        .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
        .region(aws_sdk_ec2::config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
}

/// An EC2 client of the [`shared`] server in `region`.
pub fn ec2_client(region: &str) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(ec2_config(&endpoint(), region).build())
}

/// An SQS client of the [`shared`] server in `region`.
pub fn sqs_client(region: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new(region.to_string()))
        .endpoint_url(endpoint())
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            ACCESS_KEY, SECRET_KEY, None, None, "tests",
        ))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}
