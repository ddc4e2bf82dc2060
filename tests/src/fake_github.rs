//! A fake GitHub REST API on 127.0.0.1 that speaks the real shapes: repositories, git refs, pull
//! requests (create, list, update), issue labels and requested reviewers; 422 "A pull request
//! already exists", 403 secondary rate limits with `Retry-After`, and 401 "Bad credentials" as
//! GitHub writes them. Every request is recorded.
//!
//! When given a bare repository, `GET …/git/ref/heads/{branch}` answers from it and a pull
//! request whose head branch does not exist there is refused with 422, as GitHub does.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// Body text.
    pub body: String,
    /// The status answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct State {
    token: String,
    owner: String,
    repo: String,
    default_branch: String,
    git: Option<PathBuf>,
    base_url: String,
    pulls: Vec<Value>,
    requests: Vec<Recorded>,
    rate_limited: u32,
}

/// The running fake; stops when dropped.
pub struct FakeGitHub {
    /// Base URL of the API (`http://127.0.0.1:PORT`).
    pub url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

fn gh_error(status: StatusCode, message: &str, doc: &str) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        json!({"message": message, "documentation_url": doc, "status": status.as_u16().to_string()})
            .to_string(),
    )
        .into_response()
}

fn json_response(status: StatusCode, v: Value) -> Response {
    (
        status,
        [
            ("content-type", "application/json; charset=utf-8"),
            ("x-ratelimit-limit", "5000"),
            ("x-ratelimit-remaining", "4999"),
        ],
        v.to_string(),
    )
        .into_response()
}

impl FakeGitHub {
    /// Starts the fake for `owner/repo` accepting only `token`; `git` is the bare repository
    /// the pushes go to, if any.
    pub fn start(owner: &str, repo: &str, token: &str, git: Option<PathBuf>) -> FakeGitHub {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port on 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let url = format!("http://{addr}");
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            owner: owner.to_string(),
            repo: repo.to_string(),
            default_branch: "main".to_string(),
            git,
            base_url: url.clone(),
            ..Default::default()
        }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let st = st.clone();
                        async move { handle(&st, method, uri, headers, body) }
                    },
                );
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        FakeGitHub {
            url,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// Answers the next `n` requests with a 403 secondary rate limit and `Retry-After: 1`.
    pub fn rate_limit_next(&self, n: u32) {
        lock(&self.state).rate_limited = n;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    /// Every pull request, as the API returns them.
    pub fn pulls(&self) -> Vec<Value> {
        lock(&self.state).pulls.clone()
    }

    /// Closes a pull request as a person would (merged or not).
    pub fn close(&self, number: u64, merged: bool) {
        let mut s = lock(&self.state);
        for p in s.pulls.iter_mut() {
            if p["number"] == json!(number) {
                p["state"] = json!("closed");
                p["closed_at"] = json!("2026-01-02T00:00:00Z");
                if merged {
                    p["merged_at"] = json!("2026-01-02T00:00:00Z");
                }
            }
        }
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(
    state: &Mutex<State>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = lock(state);
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = String::from_utf8_lossy(&body).to_string();
    let resp = route(&mut s, &method, &uri, authorization.as_deref(), &text);
    s.requests.push(Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        authorization,
        body: text,
        status: resp.status().as_u16(),
    });
    resp
}

fn query_param(uri: &Uri, key: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| v.replace("%3A", ":").replace("%2F", "/"))
    })
}

fn branch_sha(s: &State, branch: &str) -> Option<String> {
    let repo = git2::Repository::open_bare(s.git.as_ref()?).ok()?;
    let r = repo.find_reference(&format!("refs/heads/{branch}")).ok()?;
    r.target().map(|o| o.to_string())
}

fn route(s: &mut State, method: &Method, uri: &Uri, auth: Option<&str>, body: &str) -> Response {
    let good = [format!("Bearer {}", s.token), format!("token {}", s.token)];
    if !auth.is_some_and(|a| good.iter().any(|g| g == a)) {
        return gh_error(
            StatusCode::UNAUTHORIZED,
            "Bad credentials",
            "https://docs.github.com/rest",
        );
    }
    if s.rate_limited > 0 {
        s.rate_limited -= 1;
        return (
            StatusCode::FORBIDDEN,
            [
                ("content-type", "application/json; charset=utf-8"),
                ("retry-after", "1"),
                ("x-ratelimit-remaining", "4990"),
            ],
            json!({
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": "403"
            })
            .to_string(),
        )
            .into_response();
    }
    let prefix = format!("/repos/{}/{}", s.owner, s.repo);
    let Some(rest) = uri.path().strip_prefix(&prefix) else {
        return gh_error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "https://docs.github.com/rest",
        );
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let input: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let html = format!("{}/{}/{}", s.base_url, s.owner, s.repo);
    match (method.as_str(), parts.as_slice()) {
        ("GET", []) => json_response(
            StatusCode::OK,
            json!({
                "id": 1, "name": s.repo, "full_name": format!("{}/{}", s.owner, s.repo),
                "private": true, "default_branch": s.default_branch,
                "owner": {"login": s.owner, "type": "Organization"},
                "html_url": html,
            }),
        ),
        ("GET", ["git", "ref", "heads", branch @ ..]) => {
            let branch = branch.join("/");
            match branch_sha(s, &branch) {
                Some(sha) => json_response(
                    StatusCode::OK,
                    json!({
                        "ref": format!("refs/heads/{branch}"),
                        "node_id": "REF_1",
                        "url": format!("{}{prefix}/git/refs/heads/{branch}", s.base_url),
                        "object": {"type": "commit", "sha": sha,
                                   "url": format!("{}{prefix}/git/commits/{sha}", s.base_url)},
                    }),
                ),
                None => gh_error(
                    StatusCode::NOT_FOUND,
                    "Not Found",
                    "https://docs.github.com/rest/git/refs#get-a-reference",
                ),
            }
        }
        ("GET", ["pulls"]) => {
            let state = query_param(uri, "state").unwrap_or_else(|| "open".into());
            let head = query_param(uri, "head");
            let list: Vec<Value> = s
                .pulls
                .iter()
                .filter(|p| state == "all" || p["state"] == json!(state))
                .filter(|p| head.as_ref().is_none_or(|h| p["head"]["label"] == json!(h)))
                .cloned()
                .collect();
            json_response(StatusCode::OK, Value::Array(list))
        }
        ("POST", ["pulls"]) => {
            let head = input["head"].as_str().unwrap_or("").to_string();
            let label = format!("{}:{head}", s.owner);
            if s.pulls
                .iter()
                .any(|p| p["head"]["label"] == json!(label) && p["state"] == "open")
            {
                return json_response(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({
                        "message": "Validation Failed",
                        "errors": [{"resource": "PullRequest", "code": "custom",
                                    "message": format!("A pull request already exists for {label}.")}],
                        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                        "status": "422"
                    }),
                );
            }
            let sha = if s.git.is_some() {
                match branch_sha(s, &head) {
                    Some(sha) => sha,
                    None => {
                        return json_response(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            json!({
                                "message": "Validation Failed",
                                "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
                                "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
                                "status": "422"
                            }),
                        );
                    }
                }
            } else {
                "0".repeat(40)
            };
            let number = s.pulls.len() as u64 + 1;
            let base = input["base"].as_str().unwrap_or("main").to_string();
            let pr = json!({
                "url": format!("{}{prefix}/pulls/{number}", s.base_url),
                "id": 1000 + number, "node_id": format!("PR_{number}"),
                "html_url": format!("{html}/pull/{number}"),
                "number": number, "state": "open", "locked": false,
                "title": input["title"], "body": input["body"],
                "user": {"login": "cloudoptim-bot", "type": "Bot"},
                "labels": [], "requested_reviewers": [],
                "draft": input["draft"].as_bool().unwrap_or(false),
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
                "closed_at": null, "merged_at": null,
                "head": {"label": label, "ref": head, "sha": sha,
                         "repo": {"full_name": format!("{}/{}", s.owner, s.repo)}},
                "base": {"label": format!("{}:{base}", s.owner), "ref": base,
                         "repo": {"full_name": format!("{}/{}", s.owner, s.repo)}},
                "maintainer_can_modify": input["maintainer_can_modify"],
            });
            s.pulls.push(pr.clone());
            json_response(StatusCode::CREATED, pr)
        }
        ("PATCH", ["pulls", n]) => {
            let Some(p) = s
                .pulls
                .iter_mut()
                .find(|p| p["number"].as_u64().map(|x| x.to_string()).as_deref() == Some(*n))
            else {
                return gh_error(
                    StatusCode::NOT_FOUND,
                    "Not Found",
                    "https://docs.github.com/rest",
                );
            };
            for k in ["title", "body", "state", "base"] {
                if let Some(v) = input.get(k) {
                    p[k] = v.clone();
                }
            }
            p["updated_at"] = json!("2026-01-03T00:00:00Z");
            json_response(StatusCode::OK, p.clone())
        }
        ("POST", ["issues", n, "labels"]) => {
            let Some(p) = s
                .pulls
                .iter_mut()
                .find(|p| p["number"].as_u64().map(|x| x.to_string()).as_deref() == Some(*n))
            else {
                return gh_error(
                    StatusCode::NOT_FOUND,
                    "Not Found",
                    "https://docs.github.com/rest",
                );
            };
            let mut labels: Vec<Value> = p["labels"].as_array().cloned().unwrap_or_default();
            for l in input["labels"].as_array().cloned().unwrap_or_default() {
                if !labels.iter().any(|x| x["name"] == l) {
                    labels.push(json!({"id": labels.len() + 1, "name": l, "color": "ededed", "default": false}));
                }
            }
            p["labels"] = Value::Array(labels.clone());
            json_response(StatusCode::OK, Value::Array(labels))
        }
        ("POST", ["pulls", n, "requested_reviewers"]) => {
            let Some(p) = s
                .pulls
                .iter_mut()
                .find(|p| p["number"].as_u64().map(|x| x.to_string()).as_deref() == Some(*n))
            else {
                return gh_error(
                    StatusCode::NOT_FOUND,
                    "Not Found",
                    "https://docs.github.com/rest",
                );
            };
            let reviewers: Vec<Value> = input["reviewers"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|l| json!({"login": l, "type": "User"}))
                .collect();
            p["requested_reviewers"] = Value::Array(reviewers);
            json_response(StatusCode::CREATED, p.clone())
        }
        _ => gh_error(
            StatusCode::NOT_FOUND,
            "Not Found",
            "https://docs.github.com/rest",
        ),
    }
}
