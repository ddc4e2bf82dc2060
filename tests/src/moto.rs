//! A real AWS API for tests: moto's server (`pip install "moto[server]"`), one per test
//! process, on a free loopback port.
//!
//! `endpoint()` returns its URL, starting it on first use: `$MOTO_ENDPOINT` when set (a server
//! someone else runs), else `$MOTO_SERVER_BIN` or `moto_server` on `PATH`, started with a
//! watchdog that stops it when the test process ends. A missing moto fails the test with a
//! message saying how to install it: these tests never skip.
//!
//! moto keeps one state per server, shared by every test of the process: name queues, tags and
//! other resources uniquely per test (`unique("name")`).

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Region every test uses.
pub const REGION: &str = "us-east-1";

/// The endpoint URL of the moto server (started on first call).
pub fn endpoint() -> String {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT
        .get_or_init(|| {
            if let Ok(e) = std::env::var("MOTO_ENDPOINT") {
                return e;
            }
            start()
        })
        .clone()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

// the watchdog shell outlives no one: it ends with this process, so it is never waited for
#[allow(clippy::zombie_processes)]
fn start() -> String {
    let bin = std::env::var("MOTO_SERVER_BIN").unwrap_or_else(|_| "moto_server".into());
    let port = free_port();
    let log = std::env::temp_dir().join(format!("cloudoptim-moto-{port}.log"));
    // the watchdog stops moto when this process is gone (tests cannot run destructors at exit)
    let script = format!(
        "'{bin}' -H 127.0.0.1 -p {port} >'{}' 2>&1 & m=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; kill $m 2>/dev/null",
        log.display(),
        parent = std::process::id()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sh to start moto_server");
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return format!("http://127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let printed = std::fs::read_to_string(&log).unwrap_or_default();
    panic!(
        "moto_server did not start on port {port} (binary `{bin}`; install it with \
         `pip install \"moto[server]\"` or set MOTO_SERVER_BIN / MOTO_ENDPOINT). It printed:\n{printed}"
    );
}

/// Environment for an SDK client talking to moto: fake credentials, region, endpoint.
/// Clients built by the tests set these on their config directly; this is for child
/// processes (the CLI).
pub fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
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
