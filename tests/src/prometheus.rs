//! A real Prometheus for tests, filled with backfilled history.
//!
//! ```no_run
//! let om = "# TYPE m gauge\nm{a=\"b\"} 1 1700000000\n# EOF\n";
//! let prom = cloudoptim_tests::prometheus::Prometheus::start_with_openmetrics(om);
//! let url = prom.url(); // http://127.0.0.1:PORT
//! ```
//!
//! [`Prometheus::start_with_openmetrics`] writes the OpenMetrics text to a file, turns it into
//! TSDB blocks with `promtool tsdb create-blocks-from openmetrics`, starts `prometheus` on a
//! free port of 127.0.0.1 on those blocks (30-day retention, no scrape targets) and waits for
//! `/-/ready`. The server lives until the value is dropped or the test binary ends. Without
//! `prometheus` and `promtool` on `PATH` the test fails and says how to install them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::service::{Service, free_port, http_get, on_path, scratch_dir};

/// The queries a user saves with curl for cloudoptim's usage history, per container: the CPU
/// rate and the memory working set, as (file name, PromQL).
pub const USAGE_QUERIES: [(&str, &str); 2] = [
    (
        "cpu.json",
        "sum by (namespace,pod,container) (rate(container_cpu_usage_seconds_total{container!=\"\",container!=\"POD\"}[5m]))",
    ),
    (
        "memory.json",
        "max by (namespace,pod,container) (container_memory_working_set_bytes{container!=\"\",container!=\"POD\"})",
    ),
];

/// Appends one container's usage to OpenMetrics text: the counter
/// `container_cpu_usage_seconds_total` (the integral of `cores(t)`) and the gauge
/// `container_memory_working_set_bytes` (`memory(t)`), scraped every `scrape` seconds from
/// `first` to `end`, with the series labels `labels` (`namespace="…",pod="…",container="…"`).
pub fn write_container_usage(
    om: &mut String,
    labels: &str,
    (first, end, scrape): (i64, i64, i64),
    cores: impl Fn(i64) -> f64,
    memory: impl Fn(i64) -> f64,
) {
    let mut total = 0.0;
    let mut t = first;
    while t <= end {
        total += cores(t) * scrape as f64;
        let _ = writeln!(
            om,
            "container_cpu_usage_seconds_total{{{labels}}} {total} {t}"
        );
        t += scrape;
    }
    let mut t = first;
    while t <= end {
        let _ = writeln!(
            om,
            "container_memory_working_set_bytes{{{labels}}} {} {t}",
            memory(t)
        );
        t += scrape;
    }
}

/// Percent-encodes a query parameter.
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

/// A running Prometheus.
#[derive(Debug)]
pub struct Prometheus {
    url: String,
    dir: PathBuf,
    service: Service,
}

fn require(program: &str) {
    assert!(
        on_path(program),
        "{program} not found on PATH: install Prometheus with `apt-get install -y prometheus` \
         (the live Prometheus tests run against it)"
    );
}

impl Prometheus {
    /// Backfills `openmetrics` (which must end with `# EOF`) and starts a server on it.
    pub fn start_with_openmetrics(openmetrics: &str) -> Prometheus {
        require("promtool");
        require("prometheus");
        let dir = scratch_dir("cloudoptim-prometheus");
        let input = dir.join("series.om");
        std::fs::write(&input, openmetrics).expect("write OpenMetrics");
        let data = dir.join("data");
        let out = Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&data)
            .arg("--quiet")
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool tsdb create-blocks-from openmetrics failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_file(&input);
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            "global:\n  scrape_interval: 1h\nscrape_configs: []\n",
        )
        .expect("write config");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut service = Service::spawn(
            &[
                "prometheus".into(),
                format!("--config.file={}", config.display()),
                format!("--storage.tsdb.path={}", data.display()),
                "--storage.tsdb.retention.time=30d".into(),
                format!("--web.listen-address={addr}"),
                "--log.level=warn".into(),
            ],
            &[],
            addr.clone(),
            &dir.join("prometheus.log"),
            Some(&dir),
        );
        service.wait_ready("/-/ready", Duration::from_secs(120));
        Prometheus {
            url: format!("http://{addr}"),
            dir,
            service,
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The scratch folder (blocks, config, log).
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// The server's output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.service.log).unwrap_or_default()
    }

    /// What a user would save with curl: one `query_range` per [`USAGE_QUERIES`] entry from
    /// `start` to `end` every `step` seconds, the response body written to `dir` under the
    /// entry's file name. Panics when the server does not answer 200.
    pub fn dump_usage(&self, (start, end, step): (i64, i64, i64), dir: &Path) {
        let host = self.url.trim_start_matches("http://");
        for (file, q) in USAGE_QUERIES {
            let path = format!(
                "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
                encode(q)
            );
            let (status, body) =
                http_get(host, &path, Duration::from_secs(60)).expect("query_range answered");
            assert_eq!(status, 200, "{body}");
            std::fs::write(dir.join(file), body).expect("write the dump");
        }
    }
}
