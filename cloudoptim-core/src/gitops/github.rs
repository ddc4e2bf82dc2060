//! GitHub (and GitHub Enterprise) through octocrab.
//!
//! Requests go through octocrab's raw calls so every response's status and headers are seen:
//! a 403 secondary rate limit or a 429 is waited out (`Retry-After`, else `x-ratelimit-reset`,
//! else an exponential backoff) a bounded number of times, a 401 is a clear
//! [`GitOpsError::Auth`], and the token never appears in an error.

use std::time::Duration;

use http::StatusCode;
use octocrab::Octocrab;
use serde_json::{Value, json};

use super::{
    BoxFuture, GitOpsError, PullRequest, PullRequestProvider, PullRequestSpec, PullState, Result,
    redact,
};

/// Where and how to reach GitHub.
#[derive(Clone)]
#[non_exhaustive]
pub struct GitHubConfig {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// API base URL (`https://api.github.com`, or `https://HOST/api/v3` for GitHub Enterprise).
    pub api_url: String,
    /// The token (default: `GITHUB_TOKEN` from the environment).
    pub token: Option<String>,
    /// Longest single wait for a rate limit.
    pub max_wait: Duration,
    /// How many times a rate-limited request is retried.
    pub max_retries: u32,
}

impl std::fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("api_url", &self.api_url)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl GitHubConfig {
    /// A configuration for `owner/repo` on github.com, with the token from `GITHUB_TOKEN`.
    pub fn new(owner: impl Into<String>, repo: impl Into<String>) -> GitHubConfig {
        GitHubConfig {
            owner: owner.into(),
            repo: repo.into(),
            api_url: "https://api.github.com".to_string(),
            token: std::env::var("GITHUB_TOKEN").ok().filter(|t| !t.is_empty()),
            max_wait: Duration::from_secs(60),
            max_retries: 3,
        }
    }

    /// The owner and name from a repository URL (`https://github.com/o/r.git`,
    /// `git@github.com:o/r.git`) or `o/r`; the API URL follows the host (GitHub Enterprise:
    /// `https://HOST/api/v3`).
    pub fn from_url(url: &str) -> Result<GitHubConfig> {
        let bad = || {
            GitOpsError::Config(format!(
                "cannot tell the GitHub owner and repository from {:?}: pass owner/name",
                redact_url(url)
            ))
        };
        let (host, path) = if let Some(rest) = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
        {
            let (host, path) = rest.split_once('/').ok_or_else(bad)?;
            (Some(host.rsplit('@').next().unwrap_or(host)), path)
        } else if let Some(rest) = url.strip_prefix("git@") {
            let (host, path) = rest.split_once(':').ok_or_else(bad)?;
            (Some(host), path)
        } else if url.contains("://") {
            return Err(bad());
        } else {
            (None, url)
        };
        let path = path.trim_end_matches('/').trim_end_matches(".git");
        let mut parts = path.split('/');
        let (Some(owner), Some(repo), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        if owner.is_empty() || repo.is_empty() {
            return Err(bad());
        }
        let mut c = GitHubConfig::new(owner, repo);
        if let Some(h) = host
            && h != "github.com"
        {
            c.api_url = format!("https://{h}/api/v3");
        }
        Ok(c)
    }

    /// Sets the API base URL.
    #[must_use]
    pub fn with_api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into().trim_end_matches('/').to_string();
        self
    }

    /// Sets the token.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Sets the longest wait for one rate limit.
    #[must_use]
    pub fn with_max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }
}

fn redact_url(url: &str) -> String {
    // `https://user:secret@host/…` → `https://***@host/…`
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(a)) if a > s => format!("{}***{}", &url[..s + 3], &url[a..]),
        _ => url.to_string(),
    }
}

/// Pull requests on GitHub.
pub struct GitHubProvider {
    config: GitHubConfig,
    client: Octocrab,
}

impl std::fmt::Debug for GitHubProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubProvider")
            .field("config", &self.config)
            .finish()
    }
}

struct Answer {
    status: StatusCode,
    body: Value,
}

impl GitHubProvider {
    /// A provider; fails without a token. Must be called inside a tokio runtime.
    pub fn new(config: GitHubConfig) -> Result<GitHubProvider> {
        let token = config.token.clone().ok_or_else(|| {
            GitOpsError::Auth("no GitHub token: set GITHUB_TOKEN or pass a token".to_string())
        })?;
        crate::adapters::ensure_crypto_provider();
        let client = Octocrab::builder()
            .base_uri(config.api_url.as_str())
            .map_err(|e| GitOpsError::Config(format!("bad API URL {:?}: {e}", config.api_url)))?
            .personal_token(token)
            .build()
            .map_err(|e| GitOpsError::Config(redact(&e.to_string(), config.token.as_deref())))?;
        Ok(GitHubProvider { config, client })
    }

    fn route(&self, tail: &str) -> String {
        format!("/repos/{}/{}{tail}", self.config.owner, self.config.repo)
    }

    fn secret(&self) -> Option<&str> {
        self.config.token.as_deref()
    }

    /// One request, with rate limits waited out.
    async fn call(&self, method: &str, route: &str, body: Option<&Value>) -> Result<Answer> {
        let mut attempt = 0u32;
        loop {
            let resp = match method {
                "GET" => self.client._get(route).await,
                "POST" => self.client._post(route, body).await,
                "PATCH" => self.client._patch(route, body).await,
                _ => unreachable!("only GET, POST and PATCH are used"),
            }
            .map_err(|e| GitOpsError::Api {
                status: 0,
                message: redact(
                    &format!("{method} {route}: {}", error_chain(&e)),
                    self.secret(),
                ),
            })?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let text = self.client.body_to_string(resp).await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let message = body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if status == StatusCode::UNAUTHORIZED {
                return Err(GitOpsError::Auth(format!(
                    "GitHub answered 401 {}: check the token (GITHUB_TOKEN) and that it may \
                     push to {}/{} and open pull requests",
                    redact(&message, self.secret()),
                    self.config.owner,
                    self.config.repo
                )));
            }
            let limited = status == StatusCode::TOO_MANY_REQUESTS
                || (status == StatusCode::FORBIDDEN
                    && (headers.contains_key("retry-after")
                        || message.to_lowercase().contains("rate limit")
                        || header_u64(&headers, "x-ratelimit-remaining") == Some(0)));
            if limited {
                attempt += 1;
                let wait = rate_limit_wait(&headers, attempt);
                if wait > self.config.max_wait.as_secs() || attempt > self.config.max_retries {
                    return Err(GitOpsError::RateLimited {
                        wait_seconds: wait,
                        max_seconds: self.config.max_wait.as_secs(),
                    });
                }
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            if !status.is_success() {
                let details = body
                    .get("errors")
                    .map(|e| format!(" {e}"))
                    .unwrap_or_default();
                return Err(GitOpsError::Api {
                    status: status.as_u16(),
                    message: redact(
                        &format!("{method} {route}: {message}{details}"),
                        self.secret(),
                    ),
                });
            }
            return Ok(Answer { status, body });
        }
    }

    async fn decorate(&self, number: u64, spec: &PullRequestSpec) -> Result<()> {
        if !spec.labels.is_empty() {
            self.call(
                "POST",
                &self.route(&format!("/issues/{number}/labels")),
                Some(&json!({"labels": spec.labels})),
            )
            .await?;
        }
        if !spec.reviewers.is_empty() {
            self.call(
                "POST",
                &self.route(&format!("/pulls/{number}/requested_reviewers")),
                Some(&json!({"reviewers": spec.reviewers})),
            )
            .await?;
        }
        Ok(())
    }

    async fn find_impl(&self, branch: &str) -> Result<Vec<PullRequest>> {
        let head = format!("{}:{branch}", self.config.owner);
        let mut out = Vec::new();
        for page in 1..=10 {
            let route = self.route(&format!(
                "/pulls?state=all&per_page=100&page={page}&head={}",
                encode(&head)
            ));
            let a = self.call("GET", &route, None).await?;
            let list = a.body.as_array().cloned().unwrap_or_default();
            let n = list.len();
            out.extend(
                list.iter()
                    .filter_map(parse_pull)
                    .filter(|p| p.head == branch),
            );
            if n < 100 {
                break;
            }
        }
        Ok(out)
    }

    async fn open_impl(&self, spec: &PullRequestSpec) -> Result<PullRequest> {
        let body = json!({
            "title": spec.title, "head": spec.head, "base": spec.base, "body": spec.body,
            "draft": spec.draft, "maintainer_can_modify": true,
        });
        match self.call("POST", &self.route("/pulls"), Some(&body)).await {
            Ok(a) => {
                let pr = parse_pull(&a.body).ok_or_else(|| GitOpsError::Api {
                    status: a.status.as_u16(),
                    message: "the created pull request could not be read".into(),
                })?;
                self.decorate(pr.number, spec).await?;
                Ok(pr)
            }
            // another run opened it meanwhile (Renovate treats this as benign): update that one
            Err(GitOpsError::Api {
                status: 422,
                message,
            }) if message.contains("already exists") => {
                let existing = self.find_impl(&spec.head).await?;
                match existing.into_iter().find(|p| p.state == PullState::Open) {
                    Some(p) => self.update_impl(p.number, spec).await,
                    None => Err(GitOpsError::Api {
                        status: 422,
                        message,
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn update_impl(&self, number: u64, spec: &PullRequestSpec) -> Result<PullRequest> {
        let a = self
            .call(
                "PATCH",
                &self.route(&format!("/pulls/{number}")),
                Some(&json!({"title": spec.title, "body": spec.body})),
            )
            .await?;
        let pr = parse_pull(&a.body).ok_or_else(|| GitOpsError::Api {
            status: a.status.as_u16(),
            message: "the updated pull request could not be read".into(),
        })?;
        self.decorate(number, spec).await?;
        Ok(pr)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn header_u64(h: &http::HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Seconds to wait before retrying a rate-limited request: `Retry-After`, else until
/// `x-ratelimit-reset` when no requests remain, else 2^attempt (secondary limits without a hint).
pub fn rate_limit_wait(h: &http::HeaderMap, attempt: u32) -> u64 {
    if let Some(s) = header_u64(h, "retry-after") {
        return s.max(1);
    }
    if header_u64(h, "x-ratelimit-remaining") == Some(0)
        && let Some(reset) = header_u64(h, "x-ratelimit-reset")
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        return reset.saturating_sub(now).max(1);
    }
    1u64 << attempt.min(6)
}

fn parse_pull(v: &Value) -> Option<PullRequest> {
    Some(PullRequest {
        number: v.get("number")?.as_u64()?,
        url: v
            .get("html_url")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        state: match v.get("state")?.as_str()? {
            "open" => PullState::Open,
            _ => PullState::Closed,
        },
        merged: v.get("merged_at").is_some_and(|m| !m.is_null())
            || v.get("merged").and_then(Value::as_bool) == Some(true),
        head: v
            .get("head")
            .and_then(|h| h.get("ref"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        title: v
            .get("title")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        body: v
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

impl PullRequestProvider for GitHubProvider {
    fn default_branch(&self) -> BoxFuture<'_, Result<String>> {
        Box::pin(async move {
            let a = self.call("GET", &self.route(""), None).await?;
            a.body
                .get("default_branch")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| GitOpsError::Api {
                    status: a.status.as_u16(),
                    message: "the repository has no default_branch".into(),
                })
        })
    }

    fn find<'a>(&'a self, branch: &'a str) -> BoxFuture<'a, Result<Vec<PullRequest>>> {
        Box::pin(self.find_impl(branch))
    }

    fn open<'a>(&'a self, spec: &'a PullRequestSpec) -> BoxFuture<'a, Result<PullRequest>> {
        Box::pin(self.open_impl(spec))
    }

    fn update<'a>(
        &'a self,
        number: u64,
        spec: &'a PullRequestSpec,
    ) -> BoxFuture<'a, Result<PullRequest>> {
        Box::pin(self.update_impl(number, spec))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_repo_from_urls() {
        let c = GitHubConfig::from_url("https://github.com/acme/infra.git").unwrap();
        assert_eq!(
            (c.owner.as_str(), c.repo.as_str(), c.api_url.as_str()),
            ("acme", "infra", "https://api.github.com")
        );
        let c = GitHubConfig::from_url("git@ghe.acme.corp:platform/gitops").unwrap();
        assert_eq!(c.api_url, "https://ghe.acme.corp/api/v3");
        assert_eq!(c.repo, "gitops");
        let c = GitHubConfig::from_url("acme/infra").unwrap();
        assert_eq!(c.owner, "acme");
        let e = GitHubConfig::from_url("https://x:s3cret@github.com/a")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(GitHubConfig::from_url("file:///tmp/x").is_err());
        let dbg = format!("{:?}", GitHubConfig::new("a", "b").with_token("tok-123"));
        assert!(!dbg.contains("tok-123"), "{dbg}");
    }

    #[test]
    fn waits_follow_the_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(rate_limit_wait(&h, 1), 2);
        assert_eq!(rate_limit_wait(&h, 3), 8);
        h.insert("retry-after", http::HeaderValue::from_static("7"));
        assert_eq!(rate_limit_wait(&h, 1), 7);
        let mut h = http::HeaderMap::new();
        h.insert("x-ratelimit-remaining", http::HeaderValue::from_static("0"));
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 30;
        h.insert(
            "x-ratelimit-reset",
            http::HeaderValue::from_str(&reset.to_string()).unwrap(),
        );
        let w = rate_limit_wait(&h, 1);
        assert!((29..=30).contains(&w), "{w}");
        assert_eq!(encode("acme:cloudoptim/a b"), "acme%3Acloudoptim/a%20b");
    }
}
