//! Live-changing actions and the [`Executor`] trait that carries them out.
//!
//! Every action cloudoptim can take on a live system (cordon, drain, scale, patch, launch
//! replacement capacity, terminate an instance, delete a volume) is an [`Action`]; a [`Step`]
//! adds why it is taken and which recommendation asked for it; an [`ActionPlan`] is an ordered
//! list of steps (what `cloudoptim apply --plan FILE` reads). Executors are pluggable: the
//! built-in [`DryRunExecutor`] only records what it would do, and is the default everywhere;
//! the Kubernetes and AWS executors live with the adapters behind cargo features.
//!
//! The trait is dyn-compatible and async without tying core to a runtime: `execute` returns a
//! boxed `Send` future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// A boxed, `Send` future, as [`Executor::execute`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Errors of an executor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// A destructive action (terminate, delete) was asked for without explicit confirmation.
    #[error("{action} needs explicit confirmation (--yes) and was not run")]
    NotConfirmed {
        /// The action.
        action: String,
    },
    /// A safety check refused the action (a tag check, a production namespace, ...).
    #[error("{action} refused: {reason}")]
    Refused {
        /// The action.
        action: String,
        /// Why.
        reason: String,
    },
    /// The remote API answered with an error.
    #[error("{action}: {status} {message}")]
    Api {
        /// The action.
        action: String,
        /// HTTP status, or 0 when the request did not get an answer.
        status: u16,
        /// The API's message (never credentials).
        message: String,
    },
    /// The action's deadline passed before it could be done (for example an eviction kept
    /// being refused by a PodDisruptionBudget).
    #[error("{action}: deadline passed: {reason}")]
    Deadline {
        /// The action.
        action: String,
        /// The last refusal.
        reason: String,
    },
    /// This executor does not carry out this kind of action.
    #[error("{executor} does not carry out {action}")]
    Unsupported {
        /// The executor.
        executor: String,
        /// The action.
        action: String,
    },
    /// A plan file could not be read.
    #[error("plan {path}: {message}")]
    Plan {
        /// The file.
        path: String,
        /// What is wrong, with the field when known.
        message: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = ExecError> = std::result::Result<T, E>;

/// One live-changing action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Mark the node unschedulable.
    Cordon {
        /// Node.
        node: String,
    },
    /// Mark the node schedulable again.
    Uncordon {
        /// Node.
        node: String,
    },
    /// Launch replacement capacity before draining.
    LaunchReplacement {
        /// Instance type.
        instance_type: String,
        /// Zone.
        zone: Option<String>,
        /// `spot`, or `on-demand` as the fallback.
        capacity_type: String,
    },
    /// Evict a pod through the Eviction API (PDBs respected; 429 retried until the deadline).
    Evict {
        /// `namespace/name`.
        pod: String,
        /// Seconds after the start of the plan (or after the event, see `not_after`) by which
        /// the pod must be gone.
        deadline_seconds: i64,
        /// Why it is this late in the order.
        note: String,
        /// The deadline as an RFC 3339 time (an interruption event's time plus
        /// `deadline_seconds`). When set, the deadline counts from the event, not from when
        /// the executor started the plan, so concurrent messages each keep their own clock.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_after: Option<String>,
        /// The pod's `terminationGracePeriodSeconds`; `None`: read from the pod when a
        /// forced delete may be needed (30 when the pod does not say).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grace_period_seconds: Option<i64>,
        /// What to do when a disruption budget still refuses at the deadline.
        #[serde(default, skip_serializing_if = "ForceDelete::is_never")]
        force: ForceDelete,
    },
    /// Scale a workload (office hours). Scaling to zero records the original replicas in the
    /// `cloudoptim.io/original-replicas` annotation; `replicas: null` restores them.
    Scale {
        /// `namespace/name`.
        workload: String,
        /// `Deployment` or `StatefulSet`.
        kind: String,
        /// Target replicas; `None` restores the recorded original.
        replicas: Option<i32>,
    },
    /// Patch a container's resources (OOM remediation on clusters not managed through Git).
    PatchResources {
        /// `namespace/name`.
        workload: String,
        /// `Deployment`, `StatefulSet` or `DaemonSet`.
        kind: String,
        /// Container.
        container: String,
        /// Requests to set, as Kubernetes quantities (`cpu`, `memory`).
        requests: std::collections::BTreeMap<String, String>,
        /// Limits to set; an empty string removes that limit.
        limits: std::collections::BTreeMap<String, String>,
    },
    /// Terminate an EC2 instance (a ghost). Needs confirmation and a matching tag.
    TerminateInstance {
        /// Instance id.
        instance_id: String,
    },
    /// Delete an EBS volume (a zombie). Needs confirmation and the volume still `available`.
    DeleteVolume {
        /// Volume id.
        volume_id: String,
    },
    /// Complete the ASG lifecycle action.
    CompleteLifecycle {
        /// ASG.
        asg: String,
        /// Hook.
        hook: String,
    },
    /// Delete the message from the queue (done by the queue consumer, not the executor).
    DeleteMessage,
    /// Leave the message for another consumer (an instance of another cluster).
    LeaveMessage {
        /// Why.
        reason: String,
    },
}

impl Action {
    /// The action's name (`cordon`, `evict`, ...), as in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Cordon { .. } => "cordon",
            Action::Uncordon { .. } => "uncordon",
            Action::LaunchReplacement { .. } => "launch_replacement",
            Action::Evict { .. } => "evict",
            Action::Scale { .. } => "scale",
            Action::PatchResources { .. } => "patch_resources",
            Action::TerminateInstance { .. } => "terminate_instance",
            Action::DeleteVolume { .. } => "delete_volume",
            Action::CompleteLifecycle { .. } => "complete_lifecycle",
            Action::DeleteMessage => "delete_message",
            Action::LeaveMessage { .. } => "leave_message",
        }
    }

    /// The object acted on (`node`, `namespace/pod`, instance or volume id), for logs.
    pub fn target(&self) -> String {
        match self {
            Action::Cordon { node } | Action::Uncordon { node } => node.clone(),
            Action::LaunchReplacement {
                instance_type,
                zone,
                capacity_type,
            } => format!(
                "{instance_type} {capacity_type} in {}",
                zone.as_deref().unwrap_or("any zone")
            ),
            Action::Evict { pod, .. } => pod.clone(),
            Action::Scale { workload, kind, .. }
            | Action::PatchResources { workload, kind, .. } => {
                format!("{kind} {workload}")
            }
            Action::TerminateInstance { instance_id } => instance_id.clone(),
            Action::DeleteVolume { volume_id } => volume_id.clone(),
            Action::CompleteLifecycle { asg, hook } => format!("{asg}/{hook}"),
            Action::DeleteMessage | Action::LeaveMessage { .. } => "message".into(),
        }
    }

    /// Whether the action destroys something that cannot be brought back (terminate, delete):
    /// executors run these only with explicit confirmation.
    pub fn is_destructive(&self) -> bool {
        matches!(
            self,
            Action::TerminateInstance { .. } | Action::DeleteVolume { .. }
        )
    }
}

/// What an eviction does when a PodDisruptionBudget keeps refusing it.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ForceDelete {
    /// Never get past a budget: the step fails with [`ExecError::Deadline`] at its deadline
    /// (the default; consolidation, office hours and any plan that does not ask otherwise).
    #[default]
    Never,
    /// Retry the eviction with backoff until (deadline − the pod's grace period), then delete
    /// the pod with that grace period, so it has stopped by the deadline. For interruptions:
    /// the instance goes away at the deadline whatever the budget says.
    AtDeadline,
}

impl ForceDelete {
    /// Whether this is [`ForceDelete::Never`].
    pub fn is_never(&self) -> bool {
        *self == ForceDelete::Never
    }
}

/// The grace period a pod gets when it does not set `terminationGracePeriodSeconds`.
pub const DEFAULT_GRACE_PERIOD_SECONDS: i64 = 30;

/// An action with its reason and the recommendation (or event) that asked for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// What to do.
    #[serde(flatten)]
    pub action: Action,
    /// Why, in words.
    #[serde(default)]
    pub why: String,
    /// The recommendation id or event id this step comes from.
    #[serde(default)]
    pub recommendation_id: Option<String>,
}

impl Step {
    /// A step with a reason and an origin.
    pub fn new(action: Action, why: impl Into<String>, origin: Option<String>) -> Self {
        Step {
            action,
            why: why.into(),
            recommendation_id: origin,
        }
    }

    /// One log line: what, on what, why, and for which recommendation.
    pub fn log_line(&self) -> String {
        format!(
            "{} {} — {}{}",
            self.action.name(),
            self.action.target(),
            if self.why.is_empty() {
                "no reason given"
            } else {
                &self.why
            },
            self.recommendation_id
                .as_deref()
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default()
        )
    }
}

/// An ordered list of steps, as `cloudoptim apply --plan FILE` reads it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActionPlan {
    /// Steps in order.
    pub steps: Vec<Step>,
}

impl ActionPlan {
    /// Parses a plan from JSON; the error names the file and the failing field.
    pub fn from_json(path: &str, text: &str) -> Result<Self> {
        let de = &mut serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| ExecError::Plan {
            path: path.to_string(),
            message: format!("at `{}`: {}", e.path(), e.inner()),
        })
    }

    /// The JSON Schema of a plan file.
    pub fn schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(ActionPlan)).unwrap_or_default()
    }
}

/// What became of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Not run: dry run.
    DryRun,
    /// Done.
    Done {
        /// What the system answered, in words.
        detail: String,
    },
    /// Not needed (already in the wanted state) or not this executor's job.
    Skipped {
        /// Why.
        reason: String,
    },
    /// Failed.
    Failed {
        /// The error.
        error: String,
        /// Its stable code.
        code: String,
    },
}

/// A step and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Outcome {
    /// The step.
    pub step: Step,
    /// What became of it.
    #[serde(flatten)]
    pub status: Status,
}

impl ExecError {
    /// Stable code: `not_confirmed`, `refused`, `api`, `deadline`, `unsupported`, `plan`.
    pub fn code(&self) -> &'static str {
        match self {
            ExecError::NotConfirmed { .. } => "not_confirmed",
            ExecError::Refused { .. } => "refused",
            ExecError::Api { .. } => "api",
            ExecError::Deadline { .. } => "deadline",
            ExecError::Unsupported { .. } => "unsupported",
            ExecError::Plan { .. } => "plan",
        }
    }
}

/// Carries out actions. Implementations must log every action they take (what, why, the
/// recommendation id) and must not run a destructive action (see [`Action::is_destructive`])
/// unless they were built with explicit confirmation.
pub trait Executor: Send + Sync {
    /// A short name for logs (`dry-run`, `kubernetes`, `aws`).
    fn name(&self) -> &str;

    /// Carries out one step. `Ok(Status::Skipped)` for steps that are not this executor's job.
    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status>>;
}

/// The default executor: records every step, changes nothing.
#[derive(Debug, Default)]
pub struct DryRunExecutor {
    log: Mutex<Vec<Step>>,
}

impl DryRunExecutor {
    /// A new, empty dry run.
    pub fn new() -> Self {
        Self::default()
    }

    /// The steps seen so far, in order.
    pub fn steps(&self) -> Vec<Step> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Executor for DryRunExecutor {
    fn name(&self) -> &str {
        "dry-run"
    }

    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status>> {
        Box::pin(async move {
            if let Ok(mut l) = self.log.lock() {
                l.push(step.clone());
            }
            Ok(Status::DryRun)
        })
    }
}

/// Several executors in turn: each step goes to the first one that does not skip it (for
/// example the Kubernetes executor for cordon and evict, then the AWS one for instances).
pub struct Chain(pub Vec<Box<dyn Executor>>);

impl Executor for Chain {
    fn name(&self) -> &str {
        "chain"
    }

    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status>> {
        Box::pin(async move {
            let mut last = Status::Skipped {
                reason: "no executor carries out this action".into(),
            };
            for e in &self.0 {
                match e.execute(step).await? {
                    s @ Status::Skipped { .. } => last = s,
                    s => return Ok(s),
                }
            }
            Ok(last)
        })
    }
}

/// Refuses destructive steps (see [`Action::is_destructive`]: terminate an instance, delete a
/// volume) with [`ExecError::NotConfirmed`] unless `confirmed`, and hands every other step to
/// `inner`. Put it around whatever executor a command line or binding builds, so nothing
/// destructive runs without an explicit `--yes` / `confirm=True`.
pub struct Confirm<'a> {
    inner: &'a dyn Executor,
    confirmed: bool,
}

impl<'a> Confirm<'a> {
    /// Guards `inner`; destructive steps run only when `confirmed`.
    pub fn new(inner: &'a dyn Executor, confirmed: bool) -> Self {
        Confirm { inner, confirmed }
    }

    /// Whether destructive steps are let through.
    pub fn is_confirmed(&self) -> bool {
        self.confirmed
    }
}

impl std::fmt::Debug for Confirm<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirm")
            .field("inner", &self.inner.name())
            .field("confirmed", &self.confirmed)
            .finish()
    }
}

impl Executor for Confirm<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status>> {
        Box::pin(async move {
            if step.action.is_destructive() && !self.confirmed {
                return Err(ExecError::NotConfirmed {
                    action: format!("{} {}", step.action.name(), step.action.target()),
                });
            }
            self.inner.execute(step).await
        })
    }
}

/// Runs a plan in order. A failed step is recorded and the plan goes on only when
/// `keep_going` is set; otherwise the remaining steps are reported as skipped.
pub async fn run_plan(exec: &dyn Executor, plan: &ActionPlan, keep_going: bool) -> Vec<Outcome> {
    let mut out = Vec::with_capacity(plan.steps.len());
    let mut stopped: Option<String> = None;
    for step in &plan.steps {
        let status = if let Some(why) = &stopped {
            Status::Skipped {
                reason: format!("not run: an earlier step failed ({why})"),
            }
        } else {
            match exec.execute(step).await {
                Ok(s) => s,
                Err(e) => {
                    if !keep_going {
                        stopped = Some(step.log_line());
                    }
                    Status::Failed {
                        error: e.to_string(),
                        code: e.code().into(),
                    }
                }
            }
        };
        out.push(Outcome {
            step: step.clone(),
            status,
        });
    }
    out
}

/// Drives a future to completion on the current thread; for callers without an async runtime
/// and executors that do not need one (the dry run).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fails;
    impl Executor for Fails {
        fn name(&self) -> &str {
            "fails"
        }
        fn execute<'a>(&'a self, step: &'a Step) -> BoxFuture<'a, Result<Status>> {
            Box::pin(async move {
                match &step.action {
                    Action::Cordon { .. } => Err(ExecError::Api {
                        action: "cordon".into(),
                        status: 500,
                        message: "boom".into(),
                    }),
                    _ => Ok(Status::Skipped {
                        reason: "not mine".into(),
                    }),
                }
            })
        }
    }

    fn plan() -> ActionPlan {
        ActionPlan {
            steps: vec![
                Step::new(
                    Action::Cordon { node: "n1".into() },
                    "spot interruption",
                    Some("evt-1".into()),
                ),
                Step::new(
                    Action::Evict {
                        pod: "shop/a".into(),
                        deadline_seconds: 90,
                        note: "x".into(),
                        not_after: None,
                        grace_period_seconds: None,
                        force: ForceDelete::Never,
                    },
                    "drain",
                    None,
                ),
            ],
        }
    }

    #[test]
    fn dry_run_records_in_order_and_changes_nothing() {
        let d = DryRunExecutor::new();
        let out = block_on(run_plan(&d, &plan(), false));
        assert!(out.iter().all(|o| o.status == Status::DryRun));
        assert_eq!(d.steps(), plan().steps);
        assert_eq!(
            d.steps()[0].log_line(),
            "cordon n1 — spot interruption [evt-1]"
        );
    }

    #[test]
    fn failure_stops_the_plan_unless_keep_going() {
        let out = block_on(run_plan(&Fails, &plan(), false));
        assert!(matches!(&out[0].status, Status::Failed { code, .. } if code == "api"));
        assert!(
            matches!(&out[1].status, Status::Skipped { reason } if reason.contains("earlier step failed"))
        );
        let out = block_on(run_plan(&Fails, &plan(), true));
        assert!(matches!(&out[1].status, Status::Skipped { reason } if reason == "not mine"));
    }

    #[test]
    fn chain_falls_through_skips() {
        let c = Chain(vec![Box::new(Fails), Box::new(DryRunExecutor::new())]);
        let out = block_on(run_plan(&c, &plan(), true));
        assert_eq!(out[1].status, Status::DryRun);
    }

    #[test]
    fn confirm_refuses_destruction_unless_confirmed() {
        let d = DryRunExecutor::new();
        let destroy = ActionPlan {
            steps: vec![
                Step::new(
                    Action::DeleteVolume {
                        volume_id: "vol-1".into(),
                    },
                    "zombie",
                    None,
                ),
                Step::new(Action::Cordon { node: "n1".into() }, "", None),
            ],
        };
        let out = block_on(run_plan(&Confirm::new(&d, false), &destroy, true));
        assert!(
            matches!(&out[0].status, Status::Failed { code, error } if code == "not_confirmed" && error.contains("delete_volume vol-1"))
        );
        assert_eq!(out[1].status, Status::DryRun);
        assert_eq!(
            d.steps().len(),
            1,
            "the volume step never reached the executor"
        );
        let out = block_on(run_plan(&Confirm::new(&d, true), &destroy, false));
        assert!(out.iter().all(|o| o.status == Status::DryRun));
    }

    #[test]
    fn evict_force_and_event_deadline_are_optional_in_json() {
        let old = r#"{"steps":[{"action":"evict","pod":"a/b","deadline_seconds":9,"note":""}]}"#;
        let p = ActionPlan::from_json("p.json", old).unwrap();
        let Action::Evict {
            force, not_after, ..
        } = &p.steps[0].action
        else {
            panic!()
        };
        assert_eq!((*force, not_after.as_deref()), (ForceDelete::Never, None));
        // the defaults are not written back
        assert!(!serde_json::to_string(&p).unwrap().contains("force"));
        let new = r#"{"steps":[{"action":"evict","pod":"a/b","deadline_seconds":9,"note":"","force":"at_deadline","not_after":"2026-01-01T00:01:36Z","grace_period_seconds":5}]}"#;
        let p = ActionPlan::from_json("p.json", new).unwrap();
        assert!(matches!(
            &p.steps[0].action,
            Action::Evict {
                force: ForceDelete::AtDeadline,
                grace_period_seconds: Some(5),
                ..
            }
        ));
        let bad = r#"{"steps":[{"action":"evict","pod":"a/b","deadline_seconds":9,"note":"","force":"always"}]}"#;
        assert!(ActionPlan::from_json("p.json", bad).is_err());
    }

    #[test]
    fn plan_json_roundtrip_and_field_errors() {
        let p = plan();
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.contains(r#""action":"cordon""#));
        assert_eq!(ActionPlan::from_json("p.json", &text).unwrap(), p);
        let bad =
            r#"{"steps":[{"action":"evict","pod":"a/b","deadline_seconds":"soon","note":""}]}"#;
        let e = ActionPlan::from_json("p.json", bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.json") && e.contains("steps[0]"), "{e}");
        let unknown = r#"{"steps":[{"action":"reboot","node":"n"}]}"#;
        assert!(ActionPlan::from_json("p.json", unknown).is_err());
    }
}
