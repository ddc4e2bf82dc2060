//! A fake Kubernetes API server speaking the real wire format, for tests of the live source,
//! the executor and anything else that talks to a cluster (the interruption pipeline, say).
//!
//! ```no_run
//! use cloudoptim_tests::fake_kube::{Fault, FakeKube};
//! let fake = FakeKube::start(cloudoptim_tests::fake_kube::sample_cluster());
//! let dir = tempfile::tempdir().unwrap();
//! let kubeconfig = fake.write_kubeconfig(dir.path()); // context `fake`, bearer token
//! fake.inject(Fault::status(500).times(2).path("/api/v1/nodes"));
//! // … run the code under test against `kubeconfig` …
//! for r in fake.requests() {
//!     println!("{} {} {:?} -> {}", r.method, r.path, r.content_type, r.status);
//! }
//! ```
//!
//! What it serves (HTTP on 127.0.0.1, an ephemeral port; one thread of its own, so it works
//! from sync and async tests alike):
//!
//! - `GET /version`;
//! - lists: `GET /api/v1/nodes`, `/api/v1/pods` (all namespaces),
//!   `/api/v1/namespaces/{ns}/pods`, `/apis/apps/v1/namespaces/{ns}/deployments`, … for
//!   namespaces, nodes, pods, services, PVCs, PVs, Deployments, StatefulSets, DaemonSets,
//!   ReplicaSets, Jobs, CronJobs, HPAs (autoscaling/v2), PDBs (policy/v1) and metrics.k8s.io
//!   NodeMetrics and PodMetrics (404 when [`FakeKube::set_metrics`] is off, as without
//!   metrics-server). A list is `{"kind":"PodList","apiVersion":"v1","metadata":
//!   {"resourceVersion":"N","continue":"…"},"items":[…]}`, sorted by namespace and name, items
//!   without `kind` and `apiVersion` as the real server sends them; `limit` and `continue`
//!   paginate;
//! - `GET` and `PATCH` of one object, with `application/strategic-merge-patch+json` (lists of
//!   objects with a `name` merge by name, as containers do), `application/merge-patch+json`
//!   (RFC 7386) and `application/json-patch+json` (RFC 6902); other content types get 415. A
//!   patch carrying a `metadata.resourceVersion` that is not the current one gets 409
//!   Conflict; `?dryRun=All` changes nothing;
//! - `DELETE` of one object (removed at once, whatever the body's `gracePeriodSeconds`;
//!   the log keeps the body and query to check them);
//! - `POST …/namespaces/{ns}/pods/{name}/eviction` with PodDisruptionBudget accounting: the
//!   PDB's `status.disruptionsAllowed` when given, else computed from `minAvailable` or
//!   `maxUnavailable` and the running pods it selects; 0 allowed gives the real 429
//!   `TooManyRequests` Status, more than one PDB the real 500; an allowed eviction deletes the
//!   pod and counts the disruption;
//! - errors as `Status` objects (404 NotFound, 409 Conflict, 401 Unauthorized, 405, 415, 422);
//! - bearer-token authentication: requests without `Authorization: Bearer <token>` get 401
//!   ([`FakeKube::expire_token`] makes the kubeconfig's token stale);
//! - fault injection ([`Fault`]): N answers with a status (429, 500, 503, …) or N slow answers,
//!   optionally only for a method or a path prefix;
//! - a request log ([`FakeKube::requests`]): method, path, query, content type, status, body,
//!   arrival time, with
//!   the RBAC verb and resource of each ([`Request::rbac`]) for least-privilege checks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The bearer token the fake accepts until [`FakeKube::expire_token`].
pub const TOKEN: &str = "fake-token-for-tests";

/// One served resource type.
#[derive(Debug, Clone, Copy)]
struct Res {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
}

const RESOURCES: &[Res] = &[
    res("", "v1", "namespaces", "Namespace", false),
    res("", "v1", "nodes", "Node", false),
    res("", "v1", "pods", "Pod", true),
    res("", "v1", "services", "Service", true),
    res(
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
    ),
    res("", "v1", "persistentvolumes", "PersistentVolume", false),
    res("apps", "v1", "deployments", "Deployment", true),
    res("apps", "v1", "statefulsets", "StatefulSet", true),
    res("apps", "v1", "daemonsets", "DaemonSet", true),
    res("apps", "v1", "replicasets", "ReplicaSet", true),
    res("batch", "v1", "jobs", "Job", true),
    res("batch", "v1", "cronjobs", "CronJob", true),
    res(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
    ),
    res(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
    ),
    res("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", false),
    res("metrics.k8s.io", "v1beta1", "pods", "PodMetrics", true),
];

const fn res(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
) -> Res {
    Res {
        group,
        version,
        plural,
        kind,
        namespaced,
    }
}

impl Res {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn by_kind(kind: &str) -> Option<&'static Res> {
        RESOURCES.iter().find(|r| r.kind == kind)
    }

    /// `pods`, or `deployments.apps`, as the API server names a resource in messages.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

/// A canned misbehaviour of the server.
#[derive(Debug, Clone)]
pub struct Fault {
    kind: FaultKind,
    times: usize,
    method: Option<String>,
    path: Option<String>,
    query: Option<String>,
}

#[derive(Debug, Clone)]
enum FaultKind {
    Status(u16),
    Delay(Duration),
}

impl Fault {
    /// Answer with this status (a `Status` object; 429 and 5xx as the real server words them).
    pub fn status(code: u16) -> Self {
        Fault {
            kind: FaultKind::Status(code),
            times: 1,
            method: None,
            path: None,
            query: None,
        }
    }

    /// Wait this long before answering normally.
    pub fn delay(d: Duration) -> Self {
        Fault {
            kind: FaultKind::Delay(d),
            times: 1,
            method: None,
            path: None,
            query: None,
        }
    }

    /// For the next `n` matching requests (default 1).
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// Only for requests with this method (`GET`, `PATCH`, `POST`).
    pub fn method(mut self, m: &str) -> Self {
        self.method = Some(m.to_ascii_uppercase());
        self
    }

    /// Only for requests whose path starts with this.
    pub fn path(mut self, prefix: &str) -> Self {
        self.path = Some(prefix.to_string());
        self
    }

    /// Only for requests whose query string contains this (`continue=`, say).
    pub fn query(mut self, part: &str) -> Self {
        self.query = Some(part.to_string());
        self
    }
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `PATCH`, `POST`, …
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The query string (without `?`).
    pub query: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The status answered.
    pub status: u16,
    /// The request body, as text.
    pub body: String,
    /// When the request arrived.
    pub at: std::time::SystemTime,
}

impl Request {
    /// Whether the request would change something (any method but GET, HEAD and OPTIONS).
    pub fn is_mutating(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }

    /// The RBAC `(verb, apiGroup, resource)` this request needs (`resource` with its
    /// subresource, as `pods/eviction`); `None` for non-resource paths such as `/version`.
    pub fn rbac(&self) -> Option<(String, String, String)> {
        let p = parse_path(&self.path)?;
        let resource = match &p.sub {
            Some(s) => format!("{}/{s}", p.res.plural),
            None => p.res.plural.to_string(),
        };
        let verb = match (self.method.as_str(), p.name.is_some(), p.sub.is_some()) {
            ("GET", false, _) => "list",
            ("GET", true, _) => "get",
            ("PATCH", ..) => "patch",
            ("PUT", ..) => "update",
            ("POST", ..) => "create",
            ("DELETE", true, _) => "delete",
            ("DELETE", false, _) => "deletecollection",
            _ => return None,
        };
        Some((verb.into(), p.res.group.into(), resource))
    }
}

#[derive(Debug, Default)]
struct State {
    /// kind → (namespace, name) → object (with kind and apiVersion).
    objects: BTreeMap<String, BTreeMap<(String, String), Value>>,
    rv: u64,
    requests: Vec<Request>,
    faults: Vec<Fault>,
    token: String,
    metrics: bool,
}

/// The running fake server. Dropping it stops the server.
pub struct FakeKube {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeKube {
    /// Starts a server holding these objects: single objects with `kind`, `List`s or typed
    /// lists (`NodeList`, as the API and kubectl write them).
    pub fn start(objects: impl IntoIterator<Item = Value>) -> FakeKube {
        let mut st = State {
            token: TOKEN.into(),
            metrics: true,
            ..State::default()
        };
        for o in objects {
            st.add(o);
        }
        let state = Arc::new(Mutex::new(st));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::Builder::new()
            .name(format!("fake-kube-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let app = axum::Router::new().fallback(
                        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                            let shared = shared.clone();
                            async move { handle(shared, method, uri, headers, body).await }
                        },
                    );
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })
            .expect("spawn fake server");
        FakeKube {
            addr,
            state,
            stop: Some(tx),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Writes a kubeconfig for this server into `dir` and returns its path. Contexts: `fake`
    /// (current; the valid token), `stale` (a token the server rejects with 401), `exec` (an
    /// exec credential plugin, as `aws eks get-token` is, that prints the valid token) and
    /// `exec-fails` (a plugin that exits 1).
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let credential = dir.join("exec-credential.json");
        let cred = json!({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "status": {"token": TOKEN}});
        std::fs::write(&credential, cred.to_string()).expect("write exec credential");
        let text = format!(
            "apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: {url}
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
    namespace: default
- name: stale
  context:
    cluster: fake
    user: stale
- name: exec
  context:
    cluster: fake
    user: exec
- name: exec-fails
  context:
    cluster: fake
    user: exec-fails
current-context: fake
users:
- name: fake
  user:
    token: {TOKEN}
- name: stale
  user:
    token: expired-token
- name: exec
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: /bin/cat
      args:
      - {credential}
      interactiveMode: Never
- name: exec-fails
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: /bin/sh
      args:
      - -c
      - 'echo token service unavailable >&2; exit 1'
      interactiveMode: Never
",
            url = self.url(),
            credential = credential.display()
        );
        let p = dir.join("kubeconfig");
        std::fs::write(&p, text).expect("write kubeconfig");
        p
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut st)
    }

    /// Adds a fault; faults are used in the order added.
    pub fn inject(&self, fault: Fault) {
        self.with(|s| s.faults.push(fault));
    }

    /// Makes the current token invalid (every request then gets 401), as an expired
    /// credential does.
    pub fn expire_token(&self) {
        self.with(|s| s.token = "rotated-token".into());
    }

    /// Serves metrics.k8s.io (default) or answers 404 for it, as without metrics-server.
    pub fn set_metrics(&self, on: bool) {
        self.with(|s| s.metrics = on);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.with(|s| s.requests.clone())
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.with(|s| s.requests.clear());
    }

    /// One object, as stored (with `kind` and `apiVersion`).
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        self.with(|s| {
            s.objects
                .get(kind)
                .and_then(|m| m.get(&(namespace.to_string(), name.to_string())))
                .cloned()
        })
    }

    /// Every object the server holds, in the order the live source lists them (by kind as in
    /// `cloudoptim_core::adapters::kube::LISTED`, then namespace and name).
    pub fn objects(&self) -> Vec<Value> {
        self.with(|s| {
            RESOURCES
                .iter()
                .flat_map(|r| {
                    s.objects
                        .get(r.kind)
                        .map(|m| m.values().cloned().collect::<Vec<_>>())
                        .unwrap_or_default()
                })
                .collect()
        })
    }

    /// Writes everything the server holds as one `kind: List` file (`kubectl get … -o json`
    /// style), in listing order, and returns its path.
    pub fn write_dump(&self, path: &Path) -> PathBuf {
        let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": self.objects()});
        std::fs::write(
            path,
            serde_json::to_string_pretty(&list).unwrap_or_default(),
        )
        .expect("write dump");
        path.to_path_buf()
    }
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl State {
    fn add(&mut self, v: Value) {
        let kind = v
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if kind == "List" || kind.ends_with("List") {
            let item_kind = kind.strip_suffix("List").unwrap_or("").to_string();
            if let Some(items) = v.get("items").and_then(Value::as_array) {
                for mut it in items.clone() {
                    if it.get("kind").is_none()
                        && !item_kind.is_empty()
                        && let Some(o) = it.as_object_mut()
                    {
                        o.insert("kind".into(), Value::String(item_kind.clone()));
                    }
                    self.add(it);
                }
            }
            return;
        }
        let Some(r) = Res::by_kind(&kind) else {
            return;
        };
        let mut v = v;
        let (ns, name) = meta_key(&v);
        let ns = if r.namespaced {
            if ns.is_empty() { "default".into() } else { ns }
        } else {
            String::new()
        };
        self.rv += 1;
        if let Some(o) = v.as_object_mut() {
            o.insert("apiVersion".into(), Value::String(r.api_version()));
            let meta = o
                .entry("metadata")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = meta.as_object_mut() {
                m.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
                if r.namespaced {
                    m.insert("namespace".into(), Value::String(ns.clone()));
                }
            }
        }
        self.objects
            .entry(r.kind.to_string())
            .or_default()
            .insert((ns, name), v);
    }
}

fn meta_key(v: &Value) -> (String, String) {
    let m = v.get("metadata");
    let s = |k: &str| {
        m.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("namespace"), s("name"))
}

struct Parsed {
    res: &'static Res,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Parsed> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let find = |plural: &str| {
        RESOURCES
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    };
    match rest {
        ["namespaces", ns, plural, tail @ ..] if find(plural).is_some_and(|r| r.namespaced) => {
            if tail.len() > 2 {
                return None;
            }
            Some(Parsed {
                res: find(plural)?,
                namespace: Some(ns.to_string()),
                name: tail.first().map(|s| s.to_string()),
                sub: tail.get(1).map(|s| s.to_string()),
            })
        }
        [plural, tail @ ..] if tail.len() <= 2 => Some(Parsed {
            res: find(plural)?,
            namespace: None,
            name: tail.first().map(|s| s.to_string()),
            sub: tail.get(1).map(|s| s.to_string()),
        }),
        _ => None,
    }
}

fn status_body(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut v = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": if code < 300 { "Success" } else { "Failure" },
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(d) = details {
        v["details"] = d;
    }
    if code < 300
        && let Some(o) = v.as_object_mut()
    {
        o.remove("reason");
        o.remove("message");
    }
    v
}

fn reply(code: u16, body: &Value) -> Response {
    let mut r = (
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        serde_json::to_string(body).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (code, status_body(code, reason, message, None))
}

fn not_found(r: &Res, name: &str) -> (u16, Value) {
    (
        404,
        status_body(
            404,
            "NotFound",
            &format!("{} \"{name}\" not found", r.qualified()),
            Some(json!({"name": name, "group": r.group, "kind": r.plural})),
        ),
    )
}

async fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body_in = body.clone();
    let at = std::time::SystemTime::now();
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // a fault, if one matches
    let fault = {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        let m = method.as_str().to_string();
        let idx = st.faults.iter().position(|f| {
            f.times > 0
                && f.method.as_deref().is_none_or(|x| x == m)
                && f.path.as_deref().is_none_or(|p| path.starts_with(p))
                && f.query.as_deref().is_none_or(|q| query.contains(q))
        });
        idx.map(|i| {
            st.faults[i].times -= 1;
            let k = st.faults[i].kind.clone();
            if st.faults[i].times == 0 {
                st.faults.remove(i);
            }
            k
        })
    };
    let (code, body) = match fault {
        Some(FaultKind::Status(c)) => fault_status(c),
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            serve(
                &state,
                &method,
                &path,
                &query,
                content_type.as_deref(),
                auth,
                &body,
            )
        }
        None => serve(
            &state,
            &method,
            &path,
            &query,
            content_type.as_deref(),
            auth,
            &body,
        ),
    };
    {
        let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
        st.requests.push(Request {
            method: method.as_str().to_string(),
            path,
            query,
            content_type,
            status: code,
            body: String::from_utf8_lossy(&body_in).into_owned(),
            at,
        });
    }
    reply(code, &body)
}

fn fault_status(code: u16) -> (u16, Value) {
    match code {
        429 => status(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
        ),
        401 => status(401, "Unauthorized", "Unauthorized"),
        403 => status(403, "Forbidden", "forbidden"),
        410 => status(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        ),
        500 => status(
            500,
            "InternalError",
            "Internal error occurred: injected fault",
        ),
        503 => status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        504 => status(
            504,
            "Timeout",
            "the server was unable to return a response in the time allotted",
        ),
        c => status(c, "InternalError", "injected fault"),
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            let x = (h * 16 + l) as u8;
            out.push(x);
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(
    state: &Arc<Mutex<State>>,
    method: &Method,
    path: &str,
    query: &str,
    content_type: Option<&str>,
    auth: Option<String>,
    body: &[u8],
) -> (u16, Value) {
    let mut st = state.lock().unwrap_or_else(|e| e.into_inner());
    if auth.as_deref() != Some(&format!("Bearer {}", st.token)) {
        return status(401, "Unauthorized", "Unauthorized");
    }
    if path == "/version" {
        return (
            200,
            json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0-fake", "platform": "linux/amd64"}),
        );
    }
    let Some(p) = parse_path(path) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    if p.res.group == "metrics.k8s.io" && !st.metrics {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    let dry_run = query_param(query, "dryRun").is_some_and(|v| v == "All");
    match (method.as_str(), &p.name, p.sub.as_deref()) {
        ("GET", None, _) => st.list(p.res, p.namespace.as_deref(), query),
        ("GET", Some(name), None) => {
            let ns = p.namespace.clone().unwrap_or_default();
            match st
                .objects
                .get(p.res.kind)
                .and_then(|m| m.get(&(ns, name.clone())))
            {
                Some(o) => (200, o.clone()),
                None => not_found(p.res, name),
            }
        }
        ("PATCH", Some(name), None) => {
            let ns = p.namespace.clone().unwrap_or_default();
            st.patch(p.res, &ns, name, content_type, body, dry_run)
        }
        ("DELETE", Some(name), None) => {
            let ns = p.namespace.clone().unwrap_or_default();
            let key = (ns, name.clone());
            let Some(obj) = st
                .objects
                .get(p.res.kind)
                .and_then(|m| m.get(&key))
                .cloned()
            else {
                return not_found(p.res, name);
            };
            if !dry_run && let Some(m) = st.objects.get_mut(p.res.kind) {
                m.remove(&key);
                st.rv += 1;
            }
            (200, obj)
        }
        ("POST", Some(name), Some("eviction")) if p.res.kind == "Pod" => {
            let ns = p.namespace.clone().unwrap_or_default();
            st.evict(&ns, name, body, dry_run)
        }
        (_, Some(_), Some(sub)) => status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({sub})"),
        ),
        (m, ..) => status(
            405,
            "MethodNotAllowed",
            &format!("the server does not allow this method on the requested resource ({m})"),
        ),
    }
}

impl State {
    fn list(&self, r: &Res, namespace: Option<&str>, query: &str) -> (u16, Value) {
        let all: Vec<&Value> = self
            .objects
            .get(r.kind)
            .map(|m| {
                m.iter()
                    .filter(|((ns, _), _)| namespace.is_none_or(|n| n == ns))
                    .map(|(_, v)| v)
                    .collect()
            })
            .unwrap_or_default();
        let start = match query_param(query, "continue") {
            Some(tok) if !tok.is_empty() => {
                match tok
                    .strip_prefix("fake-continue.")
                    .and_then(|t| t.split('.').next())
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) => n,
                    None => {
                        return status(400, "BadRequest", "continue key is not valid");
                    }
                }
            }
            _ => 0,
        };
        let limit = query_param(query, "limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > 0)
            .unwrap_or(usize::MAX);
        let end = start.saturating_add(limit).min(all.len());
        let items: Vec<Value> = all
            .get(start.min(all.len())..end)
            .unwrap_or(&[])
            .iter()
            .map(|v| {
                let mut v = (*v).clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("kind");
                    o.remove("apiVersion");
                }
                v
            })
            .collect();
        let mut meta = json!({"resourceVersion": self.rv.to_string()});
        if end < all.len() {
            meta["continue"] = json!(format!("fake-continue.{end}.{}", self.rv));
            meta["remainingItemCount"] = json!(all.len() - end);
        }
        (
            200,
            json!({"kind": format!("{}List", r.kind), "apiVersion": r.api_version(), "metadata": meta, "items": items}),
        )
    }

    fn patch(
        &mut self,
        r: &Res,
        ns: &str,
        name: &str,
        content_type: Option<&str>,
        body: &[u8],
        dry_run: bool,
    ) -> (u16, Value) {
        let key = (ns.to_string(), name.to_string());
        let Some(current) = self.objects.get(r.kind).and_then(|m| m.get(&key)).cloned() else {
            return not_found(r, name);
        };
        let Ok(patch) = serde_json::from_slice::<Value>(body) else {
            return status(400, "BadRequest", "the patch is not valid JSON");
        };
        let mut obj = current.clone();
        match content_type {
            Some("application/strategic-merge-patch+json") => merge(&mut obj, &patch, true),
            Some("application/merge-patch+json") => merge(&mut obj, &patch, false),
            Some("application/json-patch+json") => {
                if let Err(e) = json_patch(&mut obj, &patch) {
                    return status(422, "Invalid", &format!("the JSON patch failed: {e}"));
                }
            }
            other => {
                return status(
                    415,
                    "UnsupportedMediaType",
                    &format!(
                        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"
                    ),
                );
            }
        }
        let cur_rv = current.pointer("/metadata/resourceVersion").cloned();
        let new_rv = obj.pointer("/metadata/resourceVersion").cloned();
        if new_rv.is_some() && new_rv != cur_rv {
            return (
                409,
                status_body(
                    409,
                    "Conflict",
                    &format!(
                        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                        r.qualified()
                    ),
                    Some(json!({"name": name, "group": r.group, "kind": r.plural})),
                ),
            );
        }
        if dry_run {
            return (200, obj);
        }
        self.rv += 1;
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        }
        if let Some(m) = self.objects.get_mut(r.kind) {
            m.insert(key, obj.clone());
        }
        (200, obj)
    }

    fn evict(&mut self, ns: &str, name: &str, body: &[u8], dry_run: bool) -> (u16, Value) {
        let pod_res = Res::by_kind("Pod").unwrap_or(&RESOURCES[2]);
        let Ok(ev) = serde_json::from_slice::<Value>(body) else {
            return status(400, "BadRequest", "the eviction is not valid JSON");
        };
        if ev.get("kind").and_then(Value::as_str) != Some("Eviction") {
            return status(400, "BadRequest", "expected an Eviction");
        }
        let key = (ns.to_string(), name.to_string());
        let Some(pod) = self.objects.get("Pod").and_then(|m| m.get(&key)).cloned() else {
            return not_found(pod_res, name);
        };
        let labels = pod
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let running = pod.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
        let pdbs: Vec<(String, Value)> = self
            .objects
            .get("PodDisruptionBudget")
            .map(|m| {
                m.iter()
                    .filter(|((pns, _), _)| pns == ns)
                    .filter(|(_, v)| selects(v.pointer("/spec/selector"), &labels))
                    .map(|((_, n), v)| (n.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if pdbs.len() > 1 {
            return status(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            );
        }
        if let (Some((pdb_name, pdb)), true) = (pdbs.first(), running) {
            let allowed = match pdb
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
            {
                Some(a) => a,
                None => self.computed_disruptions(ns, pdb),
            };
            if allowed <= 0 {
                return (
                    429,
                    status_body(
                        429,
                        "TooManyRequests",
                        "Cannot evict pod as it would violate the pod's disruption budget.",
                        Some(
                            json!({"causes": [{"reason": "DisruptionBudget", "message": format!("The disruption budget {pdb_name} needs {} healthy pods and has {} currently", self.healthy(ns, pdb) - allowed, self.healthy(ns, pdb))}]}),
                        ),
                    ),
                );
            }
            if !dry_run {
                self.rv += 1;
                let rv = self.rv.to_string();
                if let Some(p) = self
                    .objects
                    .get_mut("PodDisruptionBudget")
                    .and_then(|m| m.get_mut(&(ns.to_string(), pdb_name.clone())))
                {
                    p["status"]["disruptionsAllowed"] = json!(allowed - 1);
                    p["metadata"]["resourceVersion"] = json!(rv);
                }
            }
        }
        if !dry_run {
            self.rv += 1;
            if let Some(m) = self.objects.get_mut("Pod") {
                m.remove(&key);
            }
        }
        (201, status_body(201, "", "", None))
    }

    fn healthy(&self, ns: &str, pdb: &Value) -> i64 {
        self.objects
            .get("Pod")
            .map(|m| {
                m.iter()
                    .filter(|((pns, _), _)| pns == ns)
                    .filter(|(_, p)| {
                        p.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
                    })
                    .filter(|(_, p)| {
                        let l = p
                            .pointer("/metadata/labels")
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default();
                        selects(pdb.pointer("/spec/selector"), &l)
                    })
                    .count() as i64
            })
            .unwrap_or(0)
    }

    fn computed_disruptions(&self, ns: &str, pdb: &Value) -> i64 {
        let healthy = self.healthy(ns, pdb);
        let amount = |v: &Value| -> Option<i64> {
            match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => {
                    let pct: f64 = s.strip_suffix('%')?.parse().ok()?;
                    Some((pct * healthy as f64 / 100.0).ceil() as i64)
                }
                _ => None,
            }
        };
        if let Some(min) = pdb.pointer("/spec/minAvailable").and_then(amount) {
            return healthy - min;
        }
        if let Some(max) = pdb.pointer("/spec/maxUnavailable").and_then(amount) {
            return max;
        }
        healthy
    }
}

/// Whether a label selector (`matchLabels`, `matchExpressions`) selects these labels; an empty
/// selector selects everything (policy/v1).
fn selects(selector: Option<&Value>, labels: &Map<String, Value>) -> bool {
    let Some(sel) = selector else {
        return false;
    };
    let ok_labels = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let ok_exprs = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .is_none_or(|exprs| {
            exprs.iter().all(|e| {
                let key = e.get("key").and_then(Value::as_str).unwrap_or("");
                let values: Vec<&str> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let have = labels.get(key).and_then(Value::as_str);
                match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                    "In" => have.is_some_and(|h| values.contains(&h)),
                    "NotIn" => have.is_none_or(|h| !values.contains(&h)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
        });
    ok_labels && ok_exprs
}

/// JSON merge patch (RFC 7386); with `strategic`, lists of objects that all have a `name`
/// merge element by element on it (containers, volumes, env), and `$`-directives are ignored.
fn merge(target: &mut Value, patch: &Value, strategic: bool) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(t) = target.as_object_mut() else {
        return;
    };
    for (k, v) in p {
        if strategic && k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        let named = |a: &Value| {
            a.as_array().is_some_and(|a| {
                a.iter()
                    .all(|e| e.get("name").is_some_and(Value::is_string))
            })
        };
        if strategic
            && named(v)
            && let Some(existing) = t.get_mut(k)
            && named(existing)
            && let (Some(list), Some(items)) = (existing.as_array_mut(), v.as_array())
        {
            for item in items {
                match list.iter_mut().find(|e| e.get("name") == item.get("name")) {
                    Some(e) => merge(e, item, true),
                    None => {
                        let mut fresh = Value::Null;
                        merge(&mut fresh, item, true);
                        list.push(fresh);
                    }
                }
            }
            continue;
        }
        let e = t.entry(k.clone()).or_insert(Value::Null);
        merge(e, v, strategic);
    }
}

fn pointer_tokens(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(vec![]);
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!("{p:?} is not a JSON pointer"));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn parent<'a>(doc: &'a mut Value, toks: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t).ok_or_else(|| format!("no {t:?}"))?,
            Value::Array(a) => {
                let i: usize = t.parse().map_err(|_| format!("{t:?} is not an index"))?;
                a.get_mut(i).ok_or_else(|| format!("no index {i}"))?
            }
            _ => return Err(format!("{t:?} is inside a scalar")),
        };
    }
    Ok(cur)
}

fn add_at(doc: &mut Value, path: &str, value: Value, replace: bool) -> Result<(), String> {
    let toks = pointer_tokens(path)?;
    let Some((last, init)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent(doc, init)? {
        Value::Object(m) => {
            if replace && !m.contains_key(last) {
                return Err(format!("{path}: nothing to replace"));
            }
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            if last == "-" && !replace {
                a.push(value);
            } else {
                let i: usize = last
                    .parse()
                    .map_err(|_| format!("{last:?} is not an index"))?;
                if replace {
                    *a.get_mut(i)
                        .ok_or_else(|| format!("{path}: no index {i}"))? = value;
                } else if i <= a.len() {
                    a.insert(i, value);
                } else {
                    return Err(format!("{path}: index {i} out of range"));
                }
            }
        }
        _ => return Err(format!("{path}: parent is a scalar")),
    }
    Ok(())
}

fn remove_at(doc: &mut Value, path: &str) -> Result<Value, String> {
    let toks = pointer_tokens(path)?;
    let Some((last, init)) = toks.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    match parent(doc, init)? {
        Value::Object(m) => m
            .remove(last)
            .ok_or_else(|| format!("{path}: nothing to remove")),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("{last:?} is not an index"))?;
            if i < a.len() {
                Ok(a.remove(i))
            } else {
                Err(format!("{path}: no index {i}"))
            }
        }
        _ => Err(format!("{path}: parent is a scalar")),
    }
}

/// JSON patch (RFC 6902): add, remove, replace, move, copy, test. All or nothing.
fn json_patch(doc: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch is an array of operations")?;
    let mut work = doc.clone();
    for op in ops {
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or("an operation needs a path")?;
        let value = || op.get("value").cloned().ok_or(format!("{path}: no value"));
        let from = || {
            op.get("from")
                .and_then(Value::as_str)
                .ok_or(format!("{path}: no from"))
        };
        match op.get("op").and_then(Value::as_str).unwrap_or("") {
            "add" => add_at(&mut work, path, value()?, false)?,
            "replace" => add_at(&mut work, path, value()?, true)?,
            "remove" => {
                remove_at(&mut work, path)?;
            }
            "move" => {
                let v = remove_at(&mut work, from()?)?;
                add_at(&mut work, path, v, false)?;
            }
            "copy" => {
                let v = work
                    .pointer(from()?)
                    .cloned()
                    .ok_or("copy: nothing at from")?;
                add_at(&mut work, path, v, false)?;
            }
            "test" => {
                if work.pointer(path) != Some(&value()?) {
                    return Err(format!("test failed at {path}"));
                }
            }
            other => return Err(format!("unknown op {other:?}")),
        }
    }
    *doc = work;
    Ok(())
}

/// A small but complete cluster for tests, from the public Honeycomb EKS dump
/// (`shared/data/k8s`: 2 nodes, 11 pods, kubelet stats) plus the objects around those pods:
/// namespaces, the Deployments and ReplicaSets and DaemonSets that own them, a CronJob and its
/// Job, an HPA, a Service, a PVC bound to an EBS PV, NodeMetrics and PodMetrics from the kubelet
/// stats, and two PDBs: `default/kuard` (`minAvailable: 1` over kuard's single pod, so evicting
/// it is always refused) and `olly/grafana` (`maxUnavailable: 1`, no status, so the fake
/// computes that one eviction is allowed).
pub fn sample_cluster() -> Vec<Value> {
    let read = |f: &str| -> Value {
        let text = std::fs::read_to_string(crate::data(f)).expect("shared data");
        serde_json::from_str(&text).expect("shared data is JSON")
    };
    let nodes = read("k8s/honeycomb-eks-nodes.json");
    let pods = read("k8s/honeycomb-eks-pods.json");
    let stats = read("k8s/honeycomb-eks-stats-summary.json");
    let mut out = vec![];
    let mut namespaces = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    for n in nodes["items"].as_array().cloned().unwrap_or_default() {
        let mut n = n;
        n["kind"] = json!("Node");
        out.push(n);
    }
    for p in pods["items"].as_array().cloned().unwrap_or_default() {
        let mut p = p;
        p["kind"] = json!("Pod");
        let ns = p["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        namespaces.insert(ns.clone());
        let mut labels = p["metadata"]["labels"].clone();
        if let Some(l) = labels.as_object_mut() {
            l.remove("pod-template-hash");
            l.remove("controller-revision-hash");
            l.remove("pod-template-generation");
        }
        let template = json!({"metadata": {"labels": labels}, "spec": {"containers": p["spec"]["containers"]}});
        let owner = p["metadata"]["ownerReferences"][0].clone();
        let (okind, oname) = (
            owner["kind"].as_str().unwrap_or("").to_string(),
            owner["name"].as_str().unwrap_or("").to_string(),
        );
        if !seen.insert((okind.clone(), ns.clone(), oname.clone())) {
            out.push(p);
            continue;
        }
        match okind.as_str() {
            "ReplicaSet" => {
                let hash = p["metadata"]["labels"]["pod-template-hash"]
                    .as_str()
                    .unwrap_or("");
                let deploy = oname
                    .strip_suffix(&format!("-{hash}"))
                    .unwrap_or(&oname)
                    .to_string();
                out.push(json!({"kind": "ReplicaSet", "metadata": {"name": oname, "namespace": ns,
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": deploy, "controller": true}]},
                    "spec": {"replicas": 1, "selector": {"matchLabels": p["metadata"]["labels"]}, "template": template}}));
                out.push(json!({"kind": "Deployment", "metadata": {"name": deploy, "namespace": ns},
                    "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": template}}));
            }
            "DaemonSet" => {
                out.push(
                    json!({"kind": "DaemonSet", "metadata": {"name": oname, "namespace": ns},
                    "spec": {"selector": {"matchLabels": labels}, "template": template}}),
                );
            }
            _ => {}
        }
        out.push(p);
    }
    for ns in namespaces {
        out.push(json!({"kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}));
    }
    out.push(json!({"kind": "PodDisruptionBudget", "metadata": {"name": "kuard", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "kuard"}}},
        "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}}));
    out.push(json!({"kind": "PodDisruptionBudget", "metadata": {"name": "grafana", "namespace": "olly"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "grafana"}}}}));
    out.push(json!({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "nginx-ingress-controller", "namespace": "nginx"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx-ingress-controller"},
                 "minReplicas": 1, "maxReplicas": 4,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": {"currentReplicas": 1}}));
    out.push(
        json!({"kind": "Service", "metadata": {"name": "kuard", "namespace": "default"},
        "spec": {"selector": {"app": "kuard"}, "ports": [{"port": 80}]}}),
    );
    out.push(json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "grafana", "namespace": "olly"},
        "spec": {"storageClassName": "gp3", "resources": {"requests": {"storage": "10Gi"}}, "volumeName": "pvc-5f1e0c2a"},
        "status": {"phase": "Bound"}}));
    out.push(json!({"kind": "PersistentVolume", "metadata": {"name": "pvc-5f1e0c2a"},
        "spec": {"capacity": {"storage": "10Gi"}, "storageClassName": "gp3", "persistentVolumeReclaimPolicy": "Delete",
                 "claimRef": {"namespace": "olly", "name": "grafana"},
                 "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0a1b2c3d4e5f60718"}},
        "status": {"phase": "Bound"}}));
    out.push(json!({"kind": "CronJob", "metadata": {"name": "report", "namespace": "default"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "report", "image": "busybox", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}}}));
    out.push(json!({"kind": "Job", "metadata": {"name": "report-29000000", "namespace": "default",
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "report", "controller": true}]},
        "spec": {"template": {"spec": {"containers": [
            {"name": "report", "image": "busybox", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}));
    // metrics.k8s.io from the kubelet's stats summary
    let node = &stats["node"];
    let ts = node["cpu"]["time"]
        .as_str()
        .unwrap_or("2020-09-16T03:30:52Z");
    out.push(json!({"kind": "NodeMetrics", "metadata": {"name": node["nodeName"]}, "timestamp": ts, "window": "10.114s",
        "usage": {"cpu": format!("{}n", node["cpu"]["usageNanoCores"].as_u64().unwrap_or(0)),
                  "memory": format!("{}Ki", node["memory"]["workingSetBytes"].as_u64().unwrap_or(0) / 1024)}}));
    for p in stats["pods"].as_array().cloned().unwrap_or_default() {
        let containers: Vec<Value> = p["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                json!({"name": c["name"], "usage": {
                    "cpu": format!("{}n", c["cpu"]["usageNanoCores"].as_u64().unwrap_or(0)),
                    "memory": format!("{}Ki", c["memory"]["workingSetBytes"].as_u64().unwrap_or(0) / 1024)}})
            })
            .collect();
        out.push(json!({"kind": "PodMetrics", "metadata": {"name": p["podRef"]["name"], "namespace": p["podRef"]["namespace"]},
            "timestamp": ts, "window": "10.114s", "containers": containers}));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategic_merge_by_name_and_json_patch() {
        let mut d = json!({"spec": {"containers": [{"name": "a", "image": "x", "resources": {"limits": {"cpu": "1"}}}, {"name": "b"}]}});
        merge(
            &mut d,
            &json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": null}, "requests": {"cpu": "100m"}}}]}}),
            true,
        );
        assert_eq!(d["spec"]["containers"][0]["image"], "x");
        assert_eq!(
            d["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "100m"
        );
        assert!(
            d["spec"]["containers"][0]["resources"]["limits"]
                .get("cpu")
                .is_none()
        );
        assert_eq!(d["spec"]["containers"][1]["name"], "b");
        let mut m = d.clone();
        merge(
            &mut m,
            &json!({"spec": {"containers": [{"name": "c"}]}}),
            false,
        );
        assert_eq!(m["spec"]["containers"].as_array().map(Vec::len), Some(1));
        json_patch(
            &mut d,
            &json!([{"op": "replace", "path": "/spec/containers/1/name", "value": "bb"},
                    {"op": "add", "path": "/metadata", "value": {"labels": {"a/b": "1"}}},
                    {"op": "test", "path": "/metadata/labels/a~1b", "value": "1"}]),
        )
        .unwrap();
        assert_eq!(d["spec"]["containers"][1]["name"], "bb");
        assert!(
            json_patch(
                &mut d,
                &json!([{"op": "test", "path": "/spec", "value": 1}])
            )
            .is_err()
        );
        assert_eq!(percent_decode("a%2Fb%3D"), "a/b=");
    }
}
