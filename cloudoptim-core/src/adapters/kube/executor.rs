//! The Kubernetes executor: cordon, uncordon, evict, scale and patch resources.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::{Failure, KubeClient, Reply, path_escape};
use crate::adapters::retry::{RetryPolicy, jitter};
use crate::executor::{
    Action, BoxFuture, DEFAULT_GRACE_PERIOD_SECONDS, ExecError, Executor, ForceDelete, Result,
    Status, Step,
};

/// The deadline fields of an `evict` step.
struct Evict<'a> {
    deadline_seconds: i64,
    not_after: Option<&'a str>,
    grace_period_seconds: Option<i64>,
    force: ForceDelete,
}

/// The annotation that records a workload's replicas before cloudoptim scaled it, so that a
/// `Scale` step with `replicas: null` restores them.
pub const ORIGINAL_REPLICAS_ANNOTATION: &str = "cloudoptim.io/original-replicas";

const STRATEGIC: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";

/// Carries out Kubernetes steps. Dry run by default: until [`KubeExecutor::with_dry_run`]
/// `(false)`, no request at all is sent, and every step is logged and reported as
/// [`Status::DryRun`]. Steps for other systems (EC2, the queue) are [`Status::Skipped`].
///
/// - cordon / uncordon: `PATCH` the node's `spec.unschedulable` (strategic merge patch);
/// - evict: `POST` the pod's `eviction` subresource (policy/v1). A 429 (a PodDisruptionBudget
///   refuses) is retried with backoff until the step's deadline: its `not_after` time (an
///   interruption's event time plus the budget, so concurrent messages keep their own
///   clocks), else `deadline_seconds` after the first step this executor ran (or
///   [`KubeExecutor::start_plan`]). Then, by default, it fails with [`ExecError::Deadline`].
///   A step with [`ForceDelete::AtDeadline`] (interruption drains; unless
///   [`KubeExecutor::with_force_delete`]`(false)`) instead stops evicting at (deadline − the
///   pod's `terminationGracePeriodSeconds`, 30 when unset; read with a `GET` of the pod) and
///   `DELETE`s the pod with that grace period, so it has stopped by the deadline;
/// - scale: `GET` the Deployment or StatefulSet, then one merge `PATCH` that sets
///   `spec.replicas`, records the original in [`ORIGINAL_REPLICAS_ANNOTATION`] (when not
///   already recorded) and carries the `resourceVersion` read, so a concurrent change makes it
///   fail with 409 and it is read and tried again. `replicas: null` restores the recorded value
///   and removes the annotation;
/// - patch resources: a strategic merge patch of one container's requests and limits in the
///   pod template (an empty value removes that entry).
pub struct KubeExecutor {
    client: KubeClient,
    dry_run: bool,
    force_delete: bool,
    started: Mutex<Option<Instant>>,
    log: Mutex<Vec<String>>,
}

impl std::fmt::Debug for KubeExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeExecutor")
            .field("client", &self.client)
            .field("dry_run", &self.dry_run)
            .finish_non_exhaustive()
    }
}

impl KubeExecutor {
    /// An executor on this connection, in dry-run mode.
    pub fn new(client: KubeClient) -> Self {
        KubeExecutor {
            client,
            dry_run: true,
            force_delete: true,
            started: Mutex::new(None),
            log: Mutex::new(Vec::new()),
        }
    }

    /// Sets dry-run mode; `false` makes the executor change the cluster.
    #[must_use]
    pub fn with_dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Whether `evict` steps that ask for it ([`ForceDelete::AtDeadline`], interruption
    /// drains) may delete a pod its disruption budget still protects at (deadline − grace
    /// period). On by default; `false` makes every eviction respect budgets to the end.
    /// Steps without the request (consolidation, plans that do not say) never force.
    #[must_use]
    pub fn with_force_delete(mut self, allowed: bool) -> Self {
        self.force_delete = allowed;
        self
    }

    /// Whether nothing is sent.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Restarts the clock that eviction deadlines count from (a new plan).
    pub fn start_plan(&self) {
        if let Ok(mut s) = self.started.lock() {
            *s = Some(Instant::now());
        }
    }

    /// Every line logged so far: each step as received, and what became of it.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn record(&self, line: String) {
        tracing::info!(target: "cloudoptim::kube", dry_run = self.dry_run, "{line}");
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }

    fn plan_start(&self) -> Instant {
        match self.started.lock() {
            Ok(mut s) => *s.get_or_insert_with(Instant::now),
            Err(_) => Instant::now(),
        }
    }

    async fn run(&self, step: &Step) -> Result<Status> {
        let what = format!("{} {}", step.action.name(), step.action.target());
        match &step.action {
            Action::Cordon { node } => self.set_unschedulable(&what, node, true).await,
            Action::Uncordon { node } => self.set_unschedulable(&what, node, false).await,
            Action::Evict {
                pod,
                deadline_seconds,
                not_after,
                grace_period_seconds,
                force,
                ..
            } => {
                let e = Evict {
                    deadline_seconds: *deadline_seconds,
                    not_after: not_after.as_deref(),
                    grace_period_seconds: *grace_period_seconds,
                    force: *force,
                };
                self.evict(&what, pod, &e).await
            }
            Action::Scale {
                workload,
                kind,
                replicas,
            } => self.scale(&what, workload, kind, *replicas).await,
            Action::PatchResources {
                workload,
                kind,
                container,
                requests,
                limits,
            } => {
                self.patch_resources(&what, workload, kind, container, requests, limits)
                    .await
            }
            _ => Ok(Status::Skipped {
                reason: "not a Kubernetes action".into(),
            }),
        }
    }

    async fn request(
        &self,
        what: &str,
        method: http::Method,
        path: &str,
        content_type: Option<&str>,
        body: &Value,
    ) -> Result<Reply> {
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            serde_json::to_vec(body).unwrap_or_default()
        };
        self.client
            .send(&method, path, content_type, &bytes)
            .await
            .map_err(|f| failure(what, f))
    }

    async fn set_unschedulable(&self, what: &str, node: &str, on: bool) -> Result<Status> {
        let path = format!("/api/v1/nodes/{}", path_escape(node));
        let body = json!({"spec": {"unschedulable": on}});
        let rep = self
            .request(what, http::Method::PATCH, &path, Some(STRATEGIC), &body)
            .await?;
        if !rep.ok() {
            return Err(api(what, &rep));
        }
        Ok(Status::Done {
            detail: format!(
                "node {node} {}",
                if on {
                    "cordoned (unschedulable)"
                } else {
                    "uncordoned (schedulable)"
                }
            ),
        })
    }

    /// When the step's deadline falls: `not_after` (the event's clock) when given, else
    /// `deadline_seconds` after the plan started.
    fn deadline(
        &self,
        what: &str,
        deadline_seconds: i64,
        not_after: Option<&str>,
    ) -> Result<Instant> {
        let now = Instant::now();
        match not_after {
            Some(t) => {
                let at: jiff::Timestamp = t.trim().parse().map_err(|e| ExecError::Refused {
                    action: what.to_string(),
                    reason: format!("`not_after` {t:?} is not an RFC 3339 time: {e}"),
                })?;
                let left = at.duration_since(jiff::Timestamp::now());
                Ok(match Duration::try_from(left) {
                    Ok(d) => now + d,
                    // already past
                    Err(_) => now,
                })
            }
            None => Ok(self.plan_start() + Duration::from_secs(deadline_seconds.max(0) as u64)),
        }
    }

    /// The pod's `terminationGracePeriodSeconds` (30 when unset); `None` when the pod is gone.
    async fn grace_period(&self, what: &str, ns: &str, name: &str) -> Result<Option<i64>> {
        let path = format!(
            "/api/v1/namespaces/{}/pods/{}",
            path_escape(ns),
            path_escape(name)
        );
        let rep = self
            .request(what, http::Method::GET, &path, None, &Value::Null)
            .await?;
        if rep.status == 404 {
            return Ok(None);
        }
        if !rep.ok() {
            return Err(api(what, &rep));
        }
        Ok(Some(
            rep.json()
                .and_then(|v| v.pointer("/spec/terminationGracePeriodSeconds")?.as_i64())
                .unwrap_or(DEFAULT_GRACE_PERIOD_SECONDS)
                .max(0),
        ))
    }

    async fn evict(&self, what: &str, pod: &str, e: &Evict<'_>) -> Result<Status> {
        let (ns, name) = split(what, pod)?;
        let deadline = self.deadline(what, e.deadline_seconds, e.not_after)?;
        let force = e.force == ForceDelete::AtDeadline && self.force_delete;
        // With a forced delete allowed, evictions are tried until (deadline − grace period),
        // so a pod deleted then has its whole grace period before the deadline.
        let grace = if force {
            match e.grace_period_seconds {
                Some(g) => Some(g.max(0)),
                None => match self.grace_period(what, ns, name).await? {
                    Some(g) => Some(g),
                    None => {
                        return Ok(Status::Skipped {
                            reason: format!("pod {pod} is already gone"),
                        });
                    }
                },
            }
        } else {
            None
        };
        let stop = match grace {
            Some(g) => deadline
                .checked_sub(Duration::from_secs(g as u64))
                .unwrap_or_else(Instant::now),
            None => deadline,
        };
        let path = format!(
            "/api/v1/namespaces/{}/pods/{}/eviction",
            path_escape(ns),
            path_escape(name)
        );
        let body = json!({
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": ns},
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let policy = self.client.options().retry;
        let mut blocked = 0u32;
        let mut transient = 0u32;
        loop {
            let now = Instant::now();
            let remaining = stop.saturating_duration_since(now);
            let timeout = self
                .client
                .options()
                .request_timeout
                .min(remaining.max(Duration::from_millis(500)));
            let r = self
                .client
                .send_once(
                    &http::Method::POST,
                    &path,
                    Some("application/json"),
                    &bytes,
                    timeout,
                )
                .await;
            let mut refused = false;
            let reason = match r {
                Ok(rep) if rep.ok() => {
                    return Ok(Status::Done {
                        detail: format!(
                            "pod {pod} evicted{}",
                            if blocked > 0 {
                                format!(" after {blocked} refusal(s) by its disruption budget")
                            } else {
                                String::new()
                            }
                        ),
                    });
                }
                Ok(rep) if rep.status == 404 => {
                    return Ok(Status::Skipped {
                        reason: format!("pod {pod} is already gone"),
                    });
                }
                Ok(rep) if rep.status == 429 => {
                    blocked += 1;
                    refused = true;
                    let m = rep.message();
                    let delay = policy.delay(blocked, jitter(), rep.retry_after);
                    (m, delay)
                }
                Ok(rep) if RetryPolicy::retryable_status(rep.status) => {
                    transient += 1;
                    if transient > policy.max_retries {
                        return Err(api(what, &rep));
                    }
                    (
                        rep.message(),
                        policy.delay(transient, jitter(), rep.retry_after),
                    )
                }
                Ok(rep) => return Err(api(what, &rep)),
                Err(Failure::Auth(m)) => return Err(failure(what, Failure::Auth(m))),
                Err(f) => {
                    transient += 1;
                    if transient > policy.max_retries {
                        return Err(failure(what, f));
                    }
                    let m = match f {
                        Failure::Timeout(d) => format!("no answer within {} ms", d.as_millis()),
                        Failure::Transport(m) | Failure::Auth(m) => m,
                    };
                    (m, policy.delay(transient, jitter(), None))
                }
            };
            let (message, delay) = reason;
            let left = stop.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if let (Some(g), true) = (grace, refused) {
                    return self.force_delete(what, pod, ns, name, g, blocked).await;
                }
                return Err(ExecError::Deadline {
                    action: what.to_string(),
                    reason: format!(
                        "{message} (refused {blocked} time(s) by a disruption budget; the pod was not deleted)"
                    ),
                });
            }
            self.record(format!("{what}: {message}; retrying"));
            // Wait at least a little (a PDB refusal without Retry-After), never past the
            // deadline (or the moment of the forced delete).
            let wait = delay.max(Duration::from_millis(50)).min(left);
            tokio::time::sleep(wait).await;
        }
    }

    /// Deletes a pod its disruption budget still protects at (deadline − grace period), with
    /// that grace period.
    async fn force_delete(
        &self,
        what: &str,
        pod: &str,
        ns: &str,
        name: &str,
        grace: i64,
        blocked: u32,
    ) -> Result<Status> {
        let path = format!(
            "/api/v1/namespaces/{}/pods/{}?gracePeriodSeconds={grace}",
            path_escape(ns),
            path_escape(name)
        );
        let body = json!({
            "apiVersion": "v1",
            "kind": "DeleteOptions",
            "gracePeriodSeconds": grace,
        });
        self.record(format!(
            "{what}: still refused by its disruption budget at the deadline minus its {grace} s grace period; deleting the pod"
        ));
        let rep = self
            .request(
                what,
                http::Method::DELETE,
                &path,
                Some("application/json"),
                &body,
            )
            .await?;
        if rep.status == 404 {
            return Ok(Status::Skipped {
                reason: format!("pod {pod} is already gone"),
            });
        }
        if !rep.ok() {
            return Err(api(what, &rep));
        }
        Ok(Status::Done {
            detail: format!(
                "pod {pod} force-deleted with a {grace} s grace period at the deadline minus its grace period, after {blocked} refusal(s) by its disruption budget"
            ),
        })
    }

    async fn scale(
        &self,
        what: &str,
        workload: &str,
        kind: &str,
        replicas: Option<i32>,
    ) -> Result<Status> {
        let (ns, name) = split(what, workload)?;
        let plural = match kind {
            "Deployment" => "deployments",
            "StatefulSet" => "statefulsets",
            other => {
                return Err(ExecError::Refused {
                    action: what.to_string(),
                    reason: format!("{other} cannot be scaled (Deployment or StatefulSet only)"),
                });
            }
        };
        let path = format!(
            "/apis/apps/v1/namespaces/{}/{plural}/{}",
            path_escape(ns),
            path_escape(name)
        );
        let mut conflicts = 0;
        loop {
            let rep = self
                .request(what, http::Method::GET, &path, None, &Value::Null)
                .await?;
            if !rep.ok() {
                return Err(api(what, &rep));
            }
            let obj = rep.json().unwrap_or(Value::Null);
            let current = obj
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let recorded = obj
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(ORIGINAL_REPLICAS_ANNOTATION))
                .and_then(Value::as_str)
                .map(str::to_string);
            let rv = obj
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(Value::Null);
            let (target, annotation, detail) = match replicas {
                Some(n) => {
                    if i64::from(n) == current {
                        return Ok(Status::Skipped {
                            reason: format!("{kind} {workload} already has {n} replicas"),
                        });
                    }
                    let keep = recorded.clone().unwrap_or_else(|| current.to_string());
                    (
                        i64::from(n),
                        Value::String(keep.clone()),
                        format!(
                            "{kind} {workload} scaled from {current} to {n} replicas (original {keep} recorded in {ORIGINAL_REPLICAS_ANNOTATION})"
                        ),
                    )
                }
                None => {
                    let Some(text) = recorded else {
                        return Ok(Status::Skipped {
                            reason: format!(
                                "{kind} {workload} has no {ORIGINAL_REPLICAS_ANNOTATION} annotation: nothing to restore"
                            ),
                        });
                    };
                    let Ok(orig) = text.trim().parse::<i64>() else {
                        return Err(ExecError::Refused {
                            action: what.to_string(),
                            reason: format!(
                                "{ORIGINAL_REPLICAS_ANNOTATION} is {text:?}, not a number"
                            ),
                        });
                    };
                    (
                        orig,
                        Value::Null,
                        format!("{kind} {workload} restored from {current} to {orig} replicas"),
                    )
                }
            };
            let mut annotations = Map::new();
            annotations.insert(ORIGINAL_REPLICAS_ANNOTATION.into(), annotation);
            let patch = json!({
                "metadata": {"resourceVersion": rv, "annotations": annotations},
                "spec": {"replicas": target},
            });
            let rep = self
                .request(what, http::Method::PATCH, &path, Some(MERGE), &patch)
                .await?;
            if rep.status == 409 && conflicts < 3 {
                conflicts += 1;
                self.record(format!("{what}: changed meanwhile (409); reading it again"));
                continue;
            }
            if !rep.ok() {
                return Err(api(what, &rep));
            }
            return Ok(Status::Done { detail });
        }
    }

    async fn patch_resources(
        &self,
        what: &str,
        workload: &str,
        kind: &str,
        container: &str,
        requests: &std::collections::BTreeMap<String, String>,
        limits: &std::collections::BTreeMap<String, String>,
    ) -> Result<Status> {
        let (ns, name) = split(what, workload)?;
        let plural = match kind {
            "Deployment" => "deployments",
            "StatefulSet" => "statefulsets",
            "DaemonSet" => "daemonsets",
            other => {
                return Err(ExecError::Refused {
                    action: what.to_string(),
                    reason: format!(
                        "{other} has no pod template to patch (Deployment, StatefulSet or DaemonSet)"
                    ),
                });
            }
        };
        let to_map = |m: &std::collections::BTreeMap<String, String>| -> Map<String, Value> {
            m.iter()
                .map(|(k, v)| {
                    let v = if v.trim().is_empty() {
                        Value::Null
                    } else {
                        Value::String(v.clone())
                    };
                    (k.clone(), v)
                })
                .collect()
        };
        let mut resources = Map::new();
        if !requests.is_empty() {
            resources.insert("requests".into(), Value::Object(to_map(requests)));
        }
        if !limits.is_empty() {
            resources.insert("limits".into(), Value::Object(to_map(limits)));
        }
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": container, "resources": resources}
        ]}}}});
        let path = format!(
            "/apis/apps/v1/namespaces/{}/{plural}/{}",
            path_escape(ns),
            path_escape(name)
        );
        let rep = self
            .request(what, http::Method::PATCH, &path, Some(STRATEGIC), &patch)
            .await?;
        if !rep.ok() {
            return Err(api(what, &rep));
        }
        Ok(Status::Done {
            detail: format!(
                "{kind} {workload} container {container}: requests {requests:?}, limits {limits:?}"
            ),
        })
    }
}

impl Executor for KubeExecutor {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status>> {
        Box::pin(async move {
            let kube_action = matches!(
                step.action,
                Action::Cordon { .. }
                    | Action::Uncordon { .. }
                    | Action::Evict { .. }
                    | Action::Scale { .. }
                    | Action::PatchResources { .. }
            );
            if !kube_action {
                return Ok(Status::Skipped {
                    reason: "not a Kubernetes action".into(),
                });
            }
            self.plan_start();
            if self.dry_run {
                self.record(format!("dry run: would {}", step.log_line()));
                return Ok(Status::DryRun);
            }
            self.record(step.log_line());
            let r = self.run(step).await;
            match &r {
                Ok(Status::Done { detail }) => self.record(format!("done: {detail}")),
                Ok(Status::Skipped { reason }) => self.record(format!("skipped: {reason}")),
                Ok(_) => {}
                Err(e) => self.record(format!("failed: {e}")),
            }
            r
        })
    }
}

fn split<'a>(what: &str, id: &'a str) -> Result<(&'a str, &'a str)> {
    match id.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns, name))
        }
        _ => Err(ExecError::Refused {
            action: what.to_string(),
            reason: format!("{id:?} is not `namespace/name`"),
        }),
    }
}

fn api(what: &str, rep: &Reply) -> ExecError {
    ExecError::Api {
        action: what.to_string(),
        status: rep.status,
        message: rep.message(),
    }
}

fn failure(what: &str, f: Failure) -> ExecError {
    ExecError::Api {
        action: what.to_string(),
        status: 0,
        message: match f {
            Failure::Timeout(d) => format!("no answer within {} ms", d.as_millis()),
            Failure::Transport(m) => m,
            Failure::Auth(m) => format!("could not get credentials: {m}"),
        },
    }
}
