//! The Prometheus source against a real Prometheus (Debian's package), backfilled with a week
//! of the demo cluster's usage: the same usage history and the same rightsizing as from a
//! `query_range` JSON dump of the same server; slow and failing servers reported clearly.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cloudoptim_core::adapters::prometheus::{self, Progress, PromConfig, PromError};
use cloudoptim_core::adapters::retry::RetryPolicy;
use cloudoptim_core::model::UsageHistory;
use cloudoptim_core::{RecommendationKind, demo};
use cloudoptim_tests::prometheus::{Prometheus, write_container_usage};

const STEP: i64 = 300;
const SCRAPE: i64 = 120;
const CONTAINERS: usize = 24;

struct Fixture {
    prom: Prometheus,
    /// End of the backfilled week, on the 5-minute grid.
    end: i64,
    namespaces: Vec<String>,
}

/// One Prometheus per test binary, with a week of the demo's usage for some containers,
/// shifted so that it ends an hour before now (inside the 30-day retention whatever the date).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let end = (now - 3600) / 3600 * 3600;
        let demo_end: jiff::Timestamp = demo::DEMO_NOW.parse().unwrap();
        let shift = end - demo_end.as_second();
        let cluster = demo::demo_cluster();
        let mut keys: Vec<_> = cluster.usage.containers.keys().cloned().collect();
        keys.sort();
        // A few containers from each namespace, so the namespace split matters.
        let mut picked = Vec::new();
        let mut namespaces: Vec<String> = keys.iter().map(|k| k.namespace.clone()).collect();
        namespaces.dedup();
        'outer: for round in 0..CONTAINERS {
            for ns in &namespaces {
                if let Some(k) = keys.iter().filter(|k| &k.namespace == ns).nth(round) {
                    picked.push(k.clone());
                    if picked.len() == CONTAINERS {
                        break 'outer;
                    }
                }
            }
        }
        let mut om = String::new();
        let first = end - 7 * 86_400 - 960;
        for k in &picked {
            let u = &cluster.usage.containers[k];
            let labels = format!(
                "namespace=\"{}\",pod=\"{}\",container=\"{}\"",
                k.namespace, k.pod, k.container
            );
            // The demo's 15-minute samples as a counter scraped every 2 minutes.
            let cores = |t: i64| -> f64 {
                let idx = u.cpu.partition_point(|s| s.0 + shift < t);
                u.cpu
                    .get(idx.min(u.cpu.len().saturating_sub(1)))
                    .map(|s| s.1)
                    .unwrap_or(0.0)
            };
            let mem = |t: i64| -> f64 {
                let idx = u.memory.partition_point(|s| s.0 + shift < t);
                u.memory
                    .get(idx.min(u.memory.len().saturating_sub(1)))
                    .map(|s| s.1)
                    .unwrap_or(0.0)
            };
            write_container_usage(&mut om, &labels, (first, end, SCRAPE), cores, mem);
        }
        om.push_str("# EOF\n");
        let mut namespaces: Vec<String> = picked.iter().map(|k| k.namespace.clone()).collect();
        namespaces.sort();
        namespaces.dedup();
        Fixture {
            prom: Prometheus::start_with_openmetrics(&om),
            end,
            namespaces,
        }
    })
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// What a user would save with curl: one query_range per metric over the whole week.
fn dump(f: &Fixture, dir: &std::path::Path) {
    f.prom
        .dump_usage((f.end - 7 * 86_400 + STEP, f.end, STEP), dir);
}

#[test]
fn live_prometheus_gives_the_same_usage_and_rightsizing_as_a_dump() {
    let f = fixture();
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s2 = seen.clone();
    let cfg = PromConfig::new(f.prom.url()).with_end(f.end);
    let live = rt()
        .block_on(prometheus::fetch_usage(
            &cfg,
            Arc::new(move |p| s2.lock().unwrap().push(p)),
        ))
        .unwrap_or_else(|e| panic!("{e}\nprometheus log:\n{}", f.prom.log()));
    let dir = tempfile::tempdir().unwrap();
    dump(f, dir.path());
    let offline = cloudoptim_core::loader::load_usage(dir.path()).unwrap();

    assert_eq!(live.containers.len(), CONTAINERS);
    let series = live.containers.values().next().unwrap();
    assert!(series.cpu.len() >= 2000 && series.memory.len() >= 2000);
    assert_eq!(
        live, offline,
        "chunked live fetch differs from the one-query dump"
    );

    // Progress: every query reported, one day and one namespace at a time.
    let seen = seen.lock().unwrap();
    let total = f.namespaces.len() * 7 * 2;
    assert_eq!(seen.len(), total);
    assert!(seen.iter().all(|p| p.total == total));
    assert!(seen.iter().any(|p| p.done == total));

    // The same rightsizing from both.
    let recs = |usage: UsageHistory| {
        let mut c = demo::demo_cluster();
        c.usage = usage;
        let r = cloudoptim_core::analyze(&c, Default::default()).unwrap();
        r.recommendations
            .into_iter()
            .filter(|r| r.kind == RecommendationKind::WorkloadRightsizing)
            .map(|r| serde_json::to_value(r).unwrap())
            .collect::<Vec<_>>()
    };
    let from_live = recs(live);
    assert!(!from_live.is_empty(), "no rightsizing from a week of usage");
    assert_eq!(from_live, recs(offline));
}

#[test]
fn fewer_days_and_an_explicit_namespace_list() {
    let f = fixture();
    let ns = f.namespaces[0].clone();
    let cfg = PromConfig::new(format!("{}/", f.prom.url()))
        .with_end(f.end)
        .with_days(2)
        .with_namespaces(vec![ns.clone()])
        .with_window_seconds(6 * 3600)
        .with_concurrency(1);
    let n = Arc::new(Mutex::new(0usize));
    let n2 = n.clone();
    let usage = rt()
        .block_on(prometheus::fetch_usage(
            &cfg,
            Arc::new(move |_| *n2.lock().unwrap() += 1),
        ))
        .unwrap();
    assert_eq!(*n.lock().unwrap(), 2 * 4 * 2);
    assert!(!usage.containers.is_empty());
    for (k, v) in &usage.containers {
        assert_eq!(k.namespace, ns);
        assert_eq!(v.cpu.len(), 2 * 86_400 / STEP as usize);
        assert_eq!(v.cpu.last().unwrap().0, f.end);
    }
}

#[test]
fn a_server_that_never_answers_times_out_clearly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s); // accept and never answer
        }
    });
    let cfg = PromConfig::new(format!("http://{addr}"))
        .with_namespaces(vec!["shop".into()])
        .with_timeout(Duration::from_secs(1))
        .with_retry(RetryPolicy {
            max_retries: 1,
            base: Duration::from_millis(50),
            max_delay: Duration::from_millis(100),
            timeout: Duration::from_secs(3),
        });
    let started = Instant::now();
    let e = rt()
        .block_on(prometheus::fetch_usage(&cfg, Arc::new(|_| {})))
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(e, PromError::Timeout { .. }), "{e}");
    assert_eq!(e.code(), "prometheus_timeout");
    let msg = e.to_string();
    assert!(
        msg.contains("did not answer within 1 s") && msg.contains(&addr.to_string()),
        "{msg}"
    );
}

#[test]
fn errors_and_refused_connections_are_reported() {
    let f = fixture();
    // A PromQL error (422/400) is not retried and carries Prometheus' message.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = PromConfig::new(format!("http://127.0.0.1:{port}"))
        .with_namespaces(vec!["shop".into()])
        .with_retry(RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            timeout: Duration::from_secs(5),
        });
    let e = rt()
        .block_on(prometheus::fetch_usage(&cfg, Arc::new(|_| {})))
        .unwrap_err();
    assert_eq!(e.code(), "prometheus_connect", "{e}");
    // A path prefix that is not Prometheus: HTTP 404, reported with the status.
    let cfg = PromConfig::new(format!("{}/not-prometheus", f.prom.url()))
        .with_namespaces(vec!["shop".into()]);
    let e = rt()
        .block_on(prometheus::fetch_usage(&cfg, Arc::new(|_| {})))
        .unwrap_err();
    assert!(matches!(e, PromError::Http { status: 404, .. }), "{e}");
    assert!(matches!(
        rt().block_on(prometheus::fetch_usage(
            &PromConfig::new("not a url"),
            Arc::new(|_| {})
        )),
        Err(PromError::Config(_))
    ));
}

fn namespace_only_cluster() -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("cluster.json");
    std::fs::write(
        &p,
        r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}}"#,
    )
    .unwrap();
    (d, p)
}

#[test]
fn cli_reads_prometheus_with_progress_on_stderr() {
    let f = fixture();
    let (_d, p) = namespace_only_cluster();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "analyze",
            "--cluster",
            p.to_str().unwrap(),
            "--prometheus",
            f.prom.url(),
            "--days",
            "2",
            "--format",
            "json",
        ],
        &mut out,
        &mut err,
    );
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, 0, "{err}");
    let total = f.namespaces.len() * 2 * 2;
    assert!(
        err.contains(&format!("prometheus: {total}/{total} queries")),
        "{err}"
    );
    assert!(
        err.contains(&format!("prometheus: {CONTAINERS} containers, 2 days")),
        "{err}"
    );
    let _: serde_json::Value = serde_json::from_slice(&out).unwrap();
}

#[test]
fn cli_reports_a_slow_prometheus_and_exits_1() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    let (_d, p) = namespace_only_cluster();
    let url = format!("http://{addr}");
    let mut out = Vec::new();
    let mut err = Vec::new();
    let started = Instant::now();
    let code = cloudoptim_cli::run_with(
        [
            "cloudoptim",
            "analyze",
            "--cluster",
            p.to_str().unwrap(),
            "--prometheus",
            &url,
            "--prometheus-timeout",
            "1",
        ],
        &mut out,
        &mut err,
    );
    let err = String::from_utf8(err).unwrap();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("did not answer within 1 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// A fake Prometheus that answers 503, then 429 (`Retry-After: 0`), then a small matrix.
fn flaky_server() -> (String, Arc<Mutex<Vec<u16>>>) {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let statuses: Arc<Mutex<Vec<u16>>> = Arc::default();
    let s2 = statuses.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let n = s2.lock().unwrap().len();
            let (status, extra, body) = match n {
                0 => (503, "", r#"{"status":"error","error":"overloaded"}"#.to_string()),
                1 => (429, "Retry-After: 0\r\n", String::new()),
                _ => (
                    200,
                    "",
                    r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"namespace":"shop","pod":"web-1","container":"app"},"values":[[1700000000,"0.25"],[1700000300,"0.5"]]}]}}"#.to_string(),
                ),
            };
            s2.lock().unwrap().push(status);
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{addr}"), statuses)
}

#[test]
fn overload_answers_are_retried() {
    let (url, statuses) = flaky_server();
    let cfg = PromConfig::new(url)
        .with_namespaces(vec!["shop".into()])
        .with_days(1)
        .with_end(1_700_000_300)
        .with_concurrency(1)
        .with_retry(RetryPolicy {
            max_retries: 3,
            base: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            timeout: Duration::from_secs(10),
        });
    let usage = rt()
        .block_on(prometheus::fetch_usage(&cfg, Arc::new(|_| {})))
        .unwrap();
    assert_eq!(statuses.lock().unwrap().as_slice(), &[503, 429, 200, 200]);
    let u = usage.containers.values().next().unwrap();
    assert_eq!(u.cpu, vec![(1_700_000_000, 0.25), (1_700_000_300, 0.5)]);
    assert_eq!(u.memory.len(), 2);
}
