//! The Kubernetes API, remotely and with least privilege: [`KubeSource`] reads what the offline
//! loader reads (a [`crate::source::ClusterSource`]), [`KubeExecutor`] carries out cordon,
//! uncordon, evict, scale and patch-resources steps (an [`crate::executor::Executor`], dry run
//! by default).
//!
//! Connection settings come from kube-rs: a kubeconfig file and context (bearer tokens, client
//! certificates, exec credential plugins such as `aws eks get-token`), `$KUBECONFIG` or
//! `~/.kube/config`, or the in-cluster service account. Every request has its own timeout
//! (default 30 s) and transient failures (429, 500, 502, 503, 504, lost connections) are
//! retried with [`RetryPolicy`] (default 3 retries, exponential backoff with full jitter, 30 s
//! in all). kube-rs's own retry layer is turned off so that only this policy applies.
//!
//! Requests are raw HTTP on kube-rs's client, so the JSON the API sends goes through exactly the
//! conversion code that reads `kubectl get -o json` dumps.

mod executor;
mod source;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::client::Body;
use serde_json::Value;

use crate::adapters::retry::{RetryPolicy, jitter};
use crate::source::SourceError;

pub use executor::{KubeExecutor, ORIGINAL_REPLICAS_ANNOTATION};
pub use source::{KubeSource, LISTED, ListedResource};

/// How to reach the API server.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The kubeconfig file; `None` means `$KUBECONFIG`, `~/.kube/config`, then in-cluster.
    pub kubeconfig: Option<PathBuf>,
    /// The context to use instead of the kubeconfig's current context.
    pub context: Option<String>,
    /// Retries of transient failures; its `timeout` caps one whole operation.
    pub retry: RetryPolicy,
    /// Timeout of one request (default 30 s).
    pub request_timeout: Duration,
    /// Objects per list page (`limit`; default 500).
    pub page_size: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            kubeconfig: None,
            context: None,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(30),
            page_size: 500,
        }
    }
}

impl ConnectOptions {
    /// Uses this kubeconfig file.
    #[must_use]
    pub fn with_kubeconfig(mut self, path: impl Into<PathBuf>) -> Self {
        self.kubeconfig = Some(path.into());
        self
    }

    /// Uses this context.
    #[must_use]
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the timeout of one request.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the list page size (at least 1).
    #[must_use]
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }
}

pub use super::{block_on, runtime};

/// A connection to one API server, shared by the source and the executor.
#[derive(Clone)]
pub struct KubeClient {
    client: kube::Client,
    options: ConnectOptions,
    context: String,
    server: String,
}

impl std::fmt::Debug for KubeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeClient")
            .field("context", &self.context)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// An answer of the API server.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub retry_after: Option<Duration>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The `message` of a `Status` answer, else the start of the body.
    pub fn message(&self) -> String {
        if let Some(m) = self
            .json()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        {
            return m;
        }
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        if text.is_empty() {
            return http::StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no message")
                .to_string();
        }
        text.chars().take(300).collect()
    }
}

/// Why a request got no answer.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// No answer within the timeout.
    Timeout(Duration),
    /// The request could not be sent or the answer not read.
    Transport(String),
    /// The credentials could not be obtained (an exec plugin failed, a token file is missing).
    Auth(String),
}

impl KubeClient {
    /// Connects with kube-rs's configuration handling (kubeconfig, context, exec credentials,
    /// in-cluster). No request is sent yet.
    pub async fn connect(options: ConnectOptions) -> Result<Self, SourceError> {
        let config_err = |m: String| SourceError::Config { message: m };
        let kopts = kube::config::KubeConfigOptions {
            context: options.context.clone(),
            ..Default::default()
        };
        let (mut config, context) = match &options.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| config_err(format!("{}: {e}", path.display())))?;
                let context = options
                    .context
                    .clone()
                    .or_else(|| kc.current_context.clone())
                    .unwrap_or_else(|| "default".into());
                let config = kube::Config::from_custom_kubeconfig(kc, &kopts)
                    .await
                    .map_err(|e| config_err(format!("{}: {e}", path.display())))?;
                (config, context)
            }
            None if options.context.is_some() => {
                let config = kube::Config::from_kubeconfig(&kopts)
                    .await
                    .map_err(|e| config_err(e.to_string()))?;
                (config, options.context.clone().unwrap_or_default())
            }
            None => {
                let config = kube::Config::infer()
                    .await
                    .map_err(|e| config_err(e.to_string()))?;
                (config, "default".to_string())
            }
        };
        config.default_retry = false;
        config.read_timeout = Some(options.request_timeout);
        config.reset_reader_on_write = true;
        config.connect_timeout = Some(options.request_timeout);
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        super::ensure_crypto_provider();
        let client = kube::Client::try_from(config).map_err(|e| config_err(e.to_string()))?;
        Ok(KubeClient {
            client,
            options,
            context,
            server,
        })
    }

    /// The context in use (`default` when none was named).
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The options in use.
    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }

    /// One request, with the per-request timeout capped at `timeout`.
    pub(crate) async fn send_once(
        &self,
        method: &http::Method,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Reply, Failure> {
        let mut b = http::Request::builder()
            .method(method.clone())
            .uri(path)
            .header(http::header::ACCEPT, "application/json");
        if let Some(ct) = content_type {
            b = b.header(http::header::CONTENT_TYPE, ct);
        }
        let req = b
            .body(Body::from(body.to_vec()))
            .map_err(|e| Failure::Transport(e.to_string()))?;
        let fut = async {
            let res = self.client.send(req).await.map_err(|e| match e {
                kube::Error::Auth(a) => Failure::Auth(a.to_string()),
                other => Failure::Transport(other.to_string()),
            })?;
            let status = res.status().as_u16();
            let retry_after = res
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = res
                .into_body()
                .collect_bytes()
                .await
                .map_err(|e| Failure::Transport(e.to_string()))?
                .to_vec();
            Ok(Reply {
                status,
                body,
                retry_after,
            })
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(Failure::Timeout(timeout)),
        }
    }

    /// A request with the bounded retries of the policy on 429, 5xx, timeouts and lost
    /// connections. Returns the last answer or failure.
    pub(crate) async fn send(
        &self,
        method: &http::Method,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Reply, Failure> {
        let policy = self.options.retry;
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            let remaining = policy.timeout.saturating_sub(start.elapsed());
            let timeout = self.options.request_timeout.min(remaining);
            if timeout.is_zero() {
                return Err(Failure::Timeout(policy.timeout));
            }
            let r = self
                .send_once(method, path, content_type, body, timeout)
                .await;
            let retryable = match &r {
                Ok(rep) => RetryPolicy::retryable_status(rep.status),
                Err(Failure::Auth(_)) => false,
                Err(_) => true,
            };
            if !retryable || attempt >= policy.max_retries {
                return r;
            }
            attempt += 1;
            let delay = policy.delay(
                attempt,
                jitter(),
                r.as_ref().ok().and_then(|x| x.retry_after),
            );
            if start.elapsed() + delay >= policy.timeout {
                return r;
            }
            tracing::debug!(
                target: "cloudoptim::kube",
                %method,
                path,
                attempt,
                delay_ms = delay.as_millis() as u64,
                "retrying a transient failure"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

/// Turns an answer that is not a success, or a failure, into a [`SourceError`] naming
/// `resource`.
pub(crate) fn source_error(
    resource: &str,
    r: Result<Reply, Failure>,
) -> Result<Reply, SourceError> {
    match r {
        Ok(rep) if rep.ok() => Ok(rep),
        Ok(rep) if rep.status == 401 || rep.status == 403 => Err(SourceError::Unauthorized {
            resource: resource.to_string(),
            status: rep.status,
            message: rep.message(),
        }),
        Ok(rep) => Err(SourceError::Api {
            resource: resource.to_string(),
            status: rep.status,
            message: rep.message(),
        }),
        Err(Failure::Timeout(d)) => Err(SourceError::Timeout {
            resource: resource.to_string(),
            seconds: d.as_secs().max(1),
        }),
        Err(Failure::Transport(m)) => Err(SourceError::Transport {
            resource: resource.to_string(),
            message: m,
        }),
        Err(Failure::Auth(m)) => Err(SourceError::Config {
            message: format!("{resource}: could not get credentials: {m}"),
        }),
    }
}

/// Percent-encodes a query value (continue tokens, field values).
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a path segment (object names are DNS labels, but be safe).
pub(crate) fn path_escape(s: &str) -> String {
    query_escape(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_messages() {
        assert_eq!(query_escape("a b/c=="), "a%20b%2Fc%3D%3D");
        let r = Reply {
            status: 429,
            body: br#"{"kind":"Status","message":"Cannot evict pod"}"#.to_vec(),
            retry_after: None,
        };
        assert_eq!(r.message(), "Cannot evict pod");
        let r = Reply {
            status: 503,
            body: vec![],
            retry_after: None,
        };
        assert_eq!(r.message(), "Service Unavailable");
        let e = source_error(
            "list nodes",
            Ok(Reply {
                status: 401,
                body: vec![],
                retry_after: None,
            }),
        )
        .unwrap_err();
        assert_eq!(e.code(), "unauthorized");
    }
}
