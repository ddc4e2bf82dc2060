//! moto's server, for tests of any AWS service (EC2, SQS, ...).
//!
//! ```no_run
//! let endpoint = cloudoptim_tests::moto::shared().endpoint();   // http://127.0.0.1:PORT
//! // point an SDK client at it, with cloudoptim_tests::moto::REGION-style fake credentials:
//! // access key `testing`, secret `testing`, any region.
//! ```
//!
//! [`shared`] starts one `moto_server -p <free port>` per test binary (or uses
//! `$MOTO_ENDPOINT` when set) and waits until it answers. moto keeps state per region and
//! account, so tests sharing the server stay apart by using a region of their own.
//! [`Moto::start_with_env`] starts a private server, for settings that would disturb the others
//! (`INITIAL_NO_AUTH_ACTION_COUNT=0` makes it check credentials, for instance). A missing
//! `moto_server` fails the test with how to install it.

use std::sync::OnceLock;
use std::time::Duration;

use crate::service::{Service, free_port, http_get, on_path, scratch_dir};

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
        assert!(
            on_path("moto_server"),
            "moto_server not found on PATH: install it with `pip install \"moto[server]\"` \
             (the EC2 and SQS tests run against it)"
        );
        let port = free_port();
        let dir = scratch_dir("cloudoptim-moto");
        let mut svc = Service::spawn(
            &[
                "moto_server".into(),
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
