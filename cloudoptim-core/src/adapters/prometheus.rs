//! Container CPU and memory history from a live Prometheus, through `query_range`.
//!
//! A week of per-container series from a large cluster is too much for one query (the server
//! refuses or runs out of memory), so the range is cut by time window (one day by default) and
//! by namespace, and at most [`PromConfig::concurrency`] queries run at once. Every request has
//! a timeout and transient failures (HTTP 429 and 5xx, resets, timeouts) are retried with the
//! shared [`RetryPolicy`]. Each answer goes through the same conversion as a `query_range` JSON
//! file given to [`crate::loader::load_usage`], so live and offline input give the same model.
//!
//! The queries (one per namespace `NS`, evaluated every [`PromConfig::step_seconds`]):
//!
//! ```text
//! sum by (namespace,pod,container) (rate(container_cpu_usage_seconds_total{container!="",container!="POD",namespace="NS"}[5m]))
//! max by (namespace,pod,container) (container_memory_working_set_bytes{container!="",container!="POD",namespace="NS"})
//! ```

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::retry::{RetryPolicy, jitter};
use crate::loader::{self, LoadError};
use crate::model::UsageHistory;

/// Errors of the Prometheus source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromError {
    /// The configuration is unusable (a malformed URL, zero days, ...).
    #[error("prometheus: {0}")]
    Config(String),
    /// The server did not answer in time, after the retries.
    #[error(
        "prometheus at {url} did not answer within {seconds} s ({what}); the server is slow or \
         overloaded: raise the timeout, or query smaller windows"
    )]
    Timeout {
        /// The server.
        url: String,
        /// The per-request timeout, in seconds.
        seconds: u64,
        /// Which query.
        what: String,
    },
    /// The server could not be reached.
    #[error("prometheus at {url}: cannot connect ({message})")]
    Connect {
        /// The server.
        url: String,
        /// What failed.
        message: String,
    },
    /// The server answered with an error.
    #[error("prometheus at {url}: HTTP {status} for {what}: {message}")]
    Http {
        /// The server.
        url: String,
        /// HTTP status.
        status: u16,
        /// Which query.
        what: String,
        /// Prometheus' `error`, or the start of the body.
        message: String,
    },
    /// The answer could not be turned into usage history.
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl PromError {
    /// Stable code: `prometheus_config`, `prometheus_timeout`, `prometheus_connect`,
    /// `prometheus_http`, or the loader's code.
    pub fn code(&self) -> &'static str {
        match self {
            PromError::Config(_) => "prometheus_config",
            PromError::Timeout { .. } => "prometheus_timeout",
            PromError::Connect { .. } => "prometheus_connect",
            PromError::Http { .. } => "prometheus_http",
            PromError::Load(_) => "prometheus_load",
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = PromError> = std::result::Result<T, E>;

/// Where and how to query.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PromConfig {
    /// Base URL (`http://prometheus:9090`, or a path prefix such as `.../prometheus`).
    pub url: String,
    /// Days of history (default 7).
    pub days: u32,
    /// Resolution in seconds (default 300).
    pub step_seconds: u64,
    /// Length of one time window in seconds (default one day); rounded down to whole steps.
    pub window_seconds: u64,
    /// End of the range in unix seconds (default: now, rounded down to a step).
    pub end: Option<i64>,
    /// Namespaces to query; `None` asks the server which namespaces have container series.
    pub namespaces: Option<Vec<String>>,
    /// Queries in flight at once (default 4).
    pub concurrency: usize,
    /// Timeout of one request (default 30 s).
    pub timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// A bearer token sent as `Authorization: Bearer …` (managed Prometheus, a proxy).
    pub bearer_token: Option<String>,
}

impl PromConfig {
    /// Defaults for a server: 7 days at 5-minute resolution, one-day windows, 4 at once.
    pub fn new(url: impl Into<String>) -> Self {
        PromConfig {
            url: url.into(),
            days: 7,
            step_seconds: 300,
            window_seconds: 86_400,
            end: None,
            namespaces: None,
            concurrency: 4,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            bearer_token: None,
        }
    }

    /// Sets the days of history.
    #[must_use]
    pub fn with_days(mut self, days: u32) -> Self {
        self.days = days;
        self
    }

    /// Sets the end of the range (unix seconds).
    #[must_use]
    pub fn with_end(mut self, end: i64) -> Self {
        self.end = Some(end);
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the namespaces to query.
    #[must_use]
    pub fn with_namespaces(mut self, namespaces: Vec<String>) -> Self {
        self.namespaces = Some(namespaces);
        self
    }

    /// Sets the time window of one query, in seconds.
    #[must_use]
    pub fn with_window_seconds(mut self, seconds: u64) -> Self {
        self.window_seconds = seconds;
        self
    }

    /// Sets the queries in flight at once.
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }
}

/// Progress of a fetch, as given to the progress callback after each query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Progress {
    /// Queries finished.
    pub done: usize,
    /// Queries in all.
    pub total: usize,
    /// The query just finished (`cpu shop 2024-01-01T00:00:00Z`).
    pub label: String,
}

/// Which metric a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Cpu,
    Memory,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Memory => "memory",
        }
    }
}

/// The PromQL for a metric in a namespace.
pub fn query(metric_is_cpu: bool, namespace: &str) -> String {
    let ns = namespace.replace('\\', "\\\\").replace('"', "\\\"");
    if metric_is_cpu {
        format!(
            "sum by (namespace,pod,container) (rate(container_cpu_usage_seconds_total{{container!=\"\",container!=\"POD\",namespace=\"{ns}\"}}[5m]))"
        )
    } else {
        format!(
            "max by (namespace,pod,container) (container_memory_working_set_bytes{{container!=\"\",container!=\"POD\",namespace=\"{ns}\"}})"
        )
    }
}

/// The `[start, end]` windows covering `[start, end]`, each on the step grid and at most
/// `window` long, not overlapping.
pub fn windows(start: i64, end: i64, step: i64, window: i64) -> Vec<(i64, i64)> {
    let step = step.max(1);
    let window = (window / step).max(1) * step;
    let mut out = Vec::new();
    let mut s = start;
    while s <= end {
        let e = (s + window - step).min(end);
        out.push((s, e));
        s = e + step;
    }
    out
}

struct Client {
    http: reqwest::Client,
    base: String,
    cfg: PromConfig,
}

impl Client {
    fn new(cfg: &PromConfig) -> Result<Self> {
        let base = cfg.url.trim_end_matches('/').to_string();
        reqwest::Url::parse(&base)
            .map_err(|e| PromError::Config(format!("{:?} is not a URL: {e}", cfg.url)))?;
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| PromError::Config(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            cfg: cfg.clone(),
        })
    }

    /// GET `path` with `params`, retried; returns the JSON body of a 200.
    async fn get(&self, path: &str, params: &[(&str, String)], what: &str) -> Result<Value> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| PromError::Config(format!("{:?} is not a URL: {e}", self.base)))?;
        url.query_pairs_mut()
            .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
        let policy = self.cfg.retry;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            let mut req = self.http.get(url.clone());
            if let Some(t) = &self.cfg.bearer_token {
                req = req.bearer_auth(t);
            }
            let (err, retry_after) = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    match resp.bytes().await {
                        Ok(body) if status == 200 => {
                            return serde_json::from_slice(&body).map_err(|e| PromError::Http {
                                url: self.base.clone(),
                                status,
                                what: what.to_string(),
                                message: format!("answer is not JSON: {e}"),
                            });
                        }
                        Ok(body) => {
                            let message = serde_json::from_slice::<Value>(&body)
                                .ok()
                                .and_then(|v| {
                                    v.get("error").and_then(Value::as_str).map(String::from)
                                })
                                .unwrap_or_else(|| {
                                    String::from_utf8_lossy(&body).chars().take(300).collect()
                                });
                            let e = PromError::Http {
                                url: self.base.clone(),
                                status,
                                what: what.to_string(),
                                message,
                            };
                            if !RetryPolicy::retryable_status(status) {
                                return Err(e);
                            }
                            (e, retry_after)
                        }
                        Err(e) => (self.transport_error(&e, what), None),
                    }
                }
                Err(e) => (self.transport_error(&e, what), None),
            };
            attempt += 1;
            if attempt > policy.max_retries {
                return Err(err);
            }
            let delay = policy.delay(attempt, jitter(), retry_after);
            if started.elapsed() + delay >= policy.timeout {
                return Err(err);
            }
            tokio::time::sleep(delay).await;
        }
    }

    fn transport_error(&self, e: &reqwest::Error, what: &str) -> PromError {
        if e.is_timeout() {
            PromError::Timeout {
                url: self.base.clone(),
                seconds: self.cfg.timeout.as_secs().max(1),
                what: what.to_string(),
            }
        } else {
            let mut message = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                message = format!("{message}: {s}");
                src = s.source();
            }
            PromError::Connect {
                url: self.base.clone(),
                message,
            }
        }
    }

    async fn namespaces(&self, start: i64, end: i64) -> Result<Vec<String>> {
        let v = self
            .get(
                "/api/v1/label/namespace/values",
                &[
                    (
                        "match[]",
                        "container_memory_working_set_bytes{container!=\"\"}".to_string(),
                    ),
                    ("start", start.to_string()),
                    ("end", end.to_string()),
                ],
                "namespace list",
            )
            .await?;
        let mut out: Vec<String> = v
            .get("data")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        Ok(out)
    }
}

/// Reads `days` of CPU and memory history per container. `progress` is called after each
/// query (from the task that ran it).
pub async fn fetch_usage(
    cfg: &PromConfig,
    progress: Arc<dyn Fn(Progress) + Send + Sync>,
) -> Result<UsageHistory> {
    if cfg.days == 0 || cfg.step_seconds == 0 {
        return Err(PromError::Config("days and step must be at least 1".into()));
    }
    let client = Arc::new(Client::new(cfg)?);
    let step = cfg.step_seconds as i64;
    let end = match cfg.end {
        Some(e) => e,
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            now - now.rem_euclid(step)
        }
    };
    let start = end - i64::from(cfg.days) * 86_400 + step;
    let namespaces = match &cfg.namespaces {
        Some(n) => n.clone(),
        None => client.namespaces(start, end).await?,
    };
    let wins = windows(start, end, step, cfg.window_seconds as i64);
    let mut jobs = Vec::new();
    for ns in &namespaces {
        for &(s, e) in &wins {
            for m in [Metric::Cpu, Metric::Memory] {
                jobs.push((ns.clone(), s, e, m));
            }
        }
    }
    let total = jobs.len();
    let done = Arc::new(AtomicUsize::new(0));
    let sem = Arc::new(tokio::sync::Semaphore::new(cfg.concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (ns, s, e, m) in jobs {
        let client = client.clone();
        let sem = sem.clone();
        let done = done.clone();
        let progress = progress.clone();
        set.spawn(async move {
            let _permit = sem
                .acquire_owned()
                .await
                .map_err(|e| PromError::Config(format!("internal: query slots closed: {e}")))?;
            let label = format!(
                "{} {ns} {}",
                m.name(),
                jiff::Timestamp::from_second(s)
                    .map(|t| t.to_string())
                    .unwrap_or_else(|_| s.to_string())
            );
            let doc = client
                .get(
                    "/api/v1/query_range",
                    &[
                        ("query", query(m == Metric::Cpu, &ns)),
                        ("start", s.to_string()),
                        ("end", e.to_string()),
                        ("step", step.to_string()),
                    ],
                    &label,
                )
                .await?;
            // The loader tells CPU from memory by the "file" name, as for a dump.
            let source = format!("prometheus/{ns}/{s}-{}", m.name());
            let (_, usage) = loader::from_documents(Path::new(&source), [doc])?;
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(Progress {
                done: n,
                total,
                label,
            });
            Ok::<_, PromError>(usage)
        });
    }
    let mut usage = UsageHistory::default();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(h)) => usage.merge(h),
            Ok(Err(e)) => {
                set.abort_all();
                return Err(e);
            }
            Err(e) => {
                set.abort_all();
                return Err(PromError::Config(format!(
                    "internal: query task failed: {e}"
                )));
            }
        }
    }
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_range_on_the_grid_without_overlap() {
        let w = windows(0, 86_400 * 2, 300, 86_400);
        assert_eq!(w.first().map(|x| x.0), Some(0));
        assert_eq!(w.last().map(|x| x.1), Some(86_400 * 2));
        for pair in w.windows(2) {
            assert_eq!(pair[0].1 + 300, pair[1].0);
        }
        assert!(
            w.iter()
                .all(|(s, e)| s % 300 == 0 && e % 300 == 0 && e - s < 86_400)
        );
        assert_eq!(windows(0, 0, 300, 100), vec![(0, 0)]);
    }

    #[test]
    fn queries_escape_the_namespace() {
        assert!(query(true, "shop").contains("namespace=\"shop\""));
        assert!(query(false, "a\"b").contains("namespace=\"a\\\"b\""));
        assert!(query(true, "x").starts_with("sum by (namespace,pod,container) (rate("));
    }
}
