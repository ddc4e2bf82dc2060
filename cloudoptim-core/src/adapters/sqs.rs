//! The SQS consumer of EC2 interruption events (feature `sqs`).
//!
//! Long-polls a queue that EventBridge feeds (batches of up to 10, 20 s waits), decides per
//! message with [`crate::spot::pipeline::decide`], hands the steps to an
//! [`Executor`] while extending the message's visibility, and only then deletes it.
//! Other clusters' messages are left untouched, so one queue can serve several clusters;
//! duplicates (SQS delivers at least once) are deleted without acting; malformed messages are
//! left for the dead-letter queue or deleted, by policy; a failed plan leaves its message to
//! be retried. Messages are handled concurrently (bounded), so one long drain does not delay
//! the next warning's cordon.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// The SQS SDK this adapter is built on, for callers that make their own clients.
pub use aws_sdk_sqs;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::Message;

use crate::executor::{Executor, Outcome, Status};
use crate::model::Cluster;
use crate::spot::pipeline::{Decision, Dedup, MessageOutcome, MessageReport, QuarantinePolicy};

/// Errors of the consumer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SqsError {
    /// An SQS call failed after the SDK's retries.
    #[error("SQS {operation} on {queue}: {message}")]
    Call {
        /// `ReceiveMessage`, `DeleteMessage`, ...
        operation: &'static str,
        /// The queue URL.
        queue: String,
        /// What the service or the network said (never credentials).
        message: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = SqsError> = std::result::Result<T, E>;

/// Settings of the consumer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Messages per receive, 1 to 10 (default 10).
    pub max_messages: i32,
    /// Long-poll wait, seconds, 0 to 20 (default 20).
    pub wait_time_seconds: i32,
    /// Visibility timeout set on receive and renewed while a plan runs, seconds (default 60).
    pub visibility_timeout_seconds: i32,
    /// What to do with malformed or unknown messages.
    pub quarantine: QuarantinePolicy,
    /// Event ids remembered for de-duplication (default 100,000).
    pub dedup_capacity: usize,
    /// Messages handled at once (default 64).
    pub concurrency: usize,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            max_messages: 10,
            wait_time_seconds: 20,
            visibility_timeout_seconds: 60,
            quarantine: QuarantinePolicy::DeadLetter,
            dedup_capacity: 100_000,
            concurrency: 64,
        }
    }
}

impl ConsumerConfig {
    /// Sets the long-poll wait (clamped to 0..=20 s).
    #[must_use]
    pub fn with_wait(mut self, seconds: i32) -> Self {
        self.wait_time_seconds = seconds.clamp(0, 20);
        self
    }

    /// Sets the visibility timeout (at least 1 s).
    #[must_use]
    pub fn with_visibility_timeout(mut self, seconds: i32) -> Self {
        self.visibility_timeout_seconds = seconds.max(1);
        self
    }

    /// Sets the quarantine policy.
    #[must_use]
    pub fn with_quarantine(mut self, policy: QuarantinePolicy) -> Self {
        self.quarantine = policy;
        self
    }

    /// Sets the number of messages handled at once (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

struct Inner {
    client: Client,
    queue_url: String,
    config: ConsumerConfig,
    cluster: Arc<RwLock<Cluster>>,
    executor: Arc<dyn Executor>,
    seen: Mutex<Dedup>,
}

/// Consumes interruption events from one queue for one cluster.
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("queue_url", &self.inner.queue_url)
            .field("executor", &self.inner.executor.name())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// Receive failures in a row after which [`Consumer::run`] gives up (about four minutes of
/// backoff).
pub const MAX_RECEIVE_FAILURES: u32 = 10;

/// Whether a failed call is worth retrying: no answer (network, timeout), throttling, or a
/// server error; not a client error such as a missing queue or denied access.
fn is_transient<E>(
    e: &aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
) -> bool {
    use aws_sdk_sqs::error::SdkError;
    match e {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            status >= 500 || status == 429
        }
        SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => true,
        _ => false,
    }
}

fn call_err<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
    queue: &str,
    e: aws_sdk_sqs::error::SdkError<E>,
) -> SqsError {
    use aws_sdk_sqs::error::DisplayErrorContext;
    SqsError::Call {
        operation,
        queue: queue.to_string(),
        message: DisplayErrorContext(e).to_string(),
    }
}

impl Consumer {
    /// A consumer of `queue_url` for the cluster behind `cluster` (refresh it from the live
    /// source as nodes come and go; instance ids are mapped to nodes through `providerID`).
    pub fn new(
        client: Client,
        queue_url: impl Into<String>,
        cluster: Arc<RwLock<Cluster>>,
        executor: Arc<dyn Executor>,
        config: ConsumerConfig,
    ) -> Self {
        let seen = Mutex::new(Dedup::new(config.dedup_capacity));
        Consumer {
            inner: Arc::new(Inner {
                client,
                queue_url: queue_url.into(),
                config,
                cluster,
                executor,
                seen,
            }),
        }
    }

    /// A client for the region and credentials of the standard AWS chain; `endpoint_url`
    /// overrides the endpoint (a local SQS-compatible server).
    pub async fn client(region: Option<String>, endpoint_url: Option<String>) -> Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r));
        }
        if let Some(e) = endpoint_url {
            loader = loader.endpoint_url(e);
        }
        Client::new(&loader.load().await)
    }

    /// Receives one batch (long polling) and handles its messages concurrently; returns when
    /// all of them are done. An empty batch gives an empty list.
    pub async fn poll_once(&self) -> Result<Vec<MessageReport>> {
        let i = &self.inner;
        let out = i
            .client
            .receive_message()
            .queue_url(&i.queue_url)
            .max_number_of_messages(i.config.max_messages.clamp(1, 10))
            .wait_time_seconds(i.config.wait_time_seconds.clamp(0, 20))
            .visibility_timeout(i.config.visibility_timeout_seconds)
            .send()
            .await
            .map_err(|e| call_err("ReceiveMessage", &i.queue_url, e))?;
        let received = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for m in out.messages.unwrap_or_default() {
            let me = self.clone();
            set.spawn(async move { me.handle(m, received).await });
        }
        let mut reports = Vec::new();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(r) => reports.push(r?),
                Err(e) => {
                    return Err(SqsError::Call {
                        operation: "handle",
                        queue: i.queue_url.clone(),
                        message: format!("a message handler panicked: {e}"),
                    });
                }
            }
        }
        Ok(reports)
    }

    /// Polls until `stop` resolves, handling up to `concurrency` messages at once and passing
    /// each report to `on_report` as it completes. A transient receive failure (network,
    /// throttling, 5xx) is retried with backoff, at most [`MAX_RECEIVE_FAILURES`] times in a
    /// row; a permanent one (no such queue, access denied) ends the loop at once with the
    /// error. Messages in flight are finished before returning either way.
    pub async fn run<F>(&self, stop: F, mut on_report: impl FnMut(MessageReport)) -> Result<()>
    where
        F: std::future::Future<Output = ()>,
    {
        let mut fatal = None;
        let i = &self.inner;
        let permits = Arc::new(tokio::sync::Semaphore::new(i.config.concurrency.max(1)));
        let mut set: tokio::task::JoinSet<Result<MessageReport>> = tokio::task::JoinSet::new();
        let mut failures = 0u32;
        let policy = super::retry::RetryPolicy {
            max_delay: Duration::from_secs(30),
            ..Default::default()
        };
        tokio::pin!(stop);
        loop {
            while let Some(done) = set.try_join_next() {
                if let Ok(Ok(r)) = done {
                    on_report(r);
                }
            }
            // never receive more than can be handled now: the rest stay visible to others
            let free = permits.available_permits().min(10) as i32;
            if free == 0 {
                tokio::select! {
                    _ = &mut stop => break,
                    done = set.join_next() => {
                        if let Some(Ok(Ok(r))) = done { on_report(r); }
                    }
                }
                continue;
            }
            let receive = i
                .client
                .receive_message()
                .queue_url(&i.queue_url)
                .max_number_of_messages(free.min(i.config.max_messages.clamp(1, 10)))
                .wait_time_seconds(i.config.wait_time_seconds.clamp(0, 20))
                .visibility_timeout(i.config.visibility_timeout_seconds)
                .send();
            let out = tokio::select! {
                _ = &mut stop => break,
                r = receive => r,
            };
            match out {
                Ok(out) => {
                    failures = 0;
                    let received = Instant::now();
                    for m in out.messages.unwrap_or_default() {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            break;
                        };
                        let me = self.clone();
                        set.spawn(async move {
                            let r = me.handle(m, received).await;
                            drop(permit);
                            r
                        });
                    }
                }
                Err(e) => {
                    failures += 1;
                    let transient = is_transient(&e);
                    let err = call_err("ReceiveMessage", &i.queue_url, e);
                    if !transient || failures > MAX_RECEIVE_FAILURES {
                        fatal = Some(err);
                        break;
                    }
                    tracing::warn!(queue = %i.queue_url, failures, "receive failed: {err}");
                    let wait = policy.delay(failures.min(8), super::retry::jitter(), None);
                    tokio::select! {
                        _ = &mut stop => break,
                        _ = tokio::time::sleep(wait.max(Duration::from_millis(100))) => {}
                    }
                }
            }
        }
        while let Some(done) = set.join_next().await {
            if let Ok(Ok(r)) = done {
                on_report(r);
            }
        }
        match fatal {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn delete(&self, m: &Message) -> Result<()> {
        let i = &self.inner;
        if let Some(handle) = m.receipt_handle() {
            i.client
                .delete_message()
                .queue_url(&i.queue_url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(|e| call_err("DeleteMessage", &i.queue_url, e))?;
        }
        Ok(())
    }

    /// Handles one message: decide, run the steps with the visibility extended, delete.
    async fn handle(&self, m: Message, received: Instant) -> Result<MessageReport> {
        let i = &self.inner;
        let message_id = m.message_id().unwrap_or_default().to_string();
        let body = m.body().unwrap_or_default();
        let decision = {
            let cluster = i.cluster.read().map_err(|_| SqsError::Call {
                operation: "handle",
                queue: i.queue_url.clone(),
                message: "the cluster view is poisoned".into(),
            })?;
            let mut seen = i.seen.lock().map_err(|_| SqsError::Call {
                operation: "handle",
                queue: i.queue_url.clone(),
                message: "the de-duplication memory is poisoned".into(),
            })?;
            crate::spot::pipeline::decide(&cluster, body, &mut seen)
        };
        let mut first_action_micros = None;
        let outcome = match decision {
            Decision::Act {
                event_id,
                plan,
                steps,
            } => {
                let mut outcomes: Vec<Outcome> = Vec::with_capacity(steps.len());
                let mut failed = false;
                {
                    let run = async {
                        for step in &steps {
                            if first_action_micros.is_none() {
                                first_action_micros = Some(received.elapsed().as_micros() as u64);
                            }
                            let status = match i.executor.execute(step).await {
                                Ok(s) => s,
                                Err(e) => Status::Failed {
                                    error: e.to_string(),
                                    code: e.code().into(),
                                },
                            };
                            if matches!(status, Status::Failed { .. }) {
                                failed = true;
                            }
                            tracing::info!(
                                executor = i.executor.name(),
                                status = ?status,
                                "{}",
                                step.log_line()
                            );
                            outcomes.push(Outcome {
                                step: step.clone(),
                                status,
                            });
                        }
                    };
                    self.with_visibility_extended(&m, run).await;
                }
                if failed {
                    if let Ok(mut seen) = i.seen.lock() {
                        seen.remove(&event_id);
                    }
                    MessageOutcome::Failed {
                        event_id,
                        steps: outcomes,
                    }
                } else {
                    self.delete(&m).await?;
                    MessageOutcome::Handled {
                        event_id,
                        nodes: plan.nodes,
                        steps: outcomes,
                    }
                }
            }
            Decision::Duplicate { event_id } => {
                self.delete(&m).await?;
                MessageOutcome::Duplicate { event_id }
            }
            Decision::Ignore { reason } => {
                self.delete(&m).await?;
                MessageOutcome::Ignored { reason }
            }
            Decision::Foreign { reason } => MessageOutcome::Foreign { reason },
            Decision::Quarantine { reason } => {
                let deleted = i.config.quarantine == QuarantinePolicy::Delete;
                tracing::warn!(
                    message_id = %message_id,
                    deleted,
                    "quarantined: {reason}"
                );
                if deleted {
                    self.delete(&m).await?;
                }
                MessageOutcome::Quarantined { reason, deleted }
            }
        };
        Ok(MessageReport {
            message_id,
            outcome,
            first_action_micros,
        })
    }

    /// Runs `work` while renewing the message's visibility every half timeout, so a long drain
    /// does not let the message reappear for another consumer.
    async fn with_visibility_extended<F: std::future::Future<Output = ()>>(
        &self,
        m: &Message,
        work: F,
    ) {
        let i = &self.inner;
        let every = Duration::from_millis(
            (i.config.visibility_timeout_seconds.max(1) as u64 * 1000 / 2).max(500),
        );
        tokio::pin!(work);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                _ = &mut work => return,
                _ = tick.tick() => {
                    if let Some(handle) = m.receipt_handle() {
                        let r = i
                            .client
                            .change_message_visibility()
                            .queue_url(&i.queue_url)
                            .receipt_handle(handle)
                            .visibility_timeout(i.config.visibility_timeout_seconds)
                            .send()
                            .await;
                        if let Err(e) = r {
                            tracing::warn!("{}", call_err("ChangeMessageVisibility", &i.queue_url, e));
                        }
                    }
                }
            }
        }
    }
}
