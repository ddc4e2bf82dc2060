//! The queue-independent half of the interruption pipeline: what to do with one message (act,
//! skip a duplicate, leave another cluster's message alone, quarantine garbage), the executor
//! steps of a response plan, and the bounded de-duplication memory. The SQS consumer
//! (`adapters::sqs`, feature `sqs`) runs this for every message it receives.

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::events::{Action, Parsed, ResponsePlan, plan_response};
use crate::executor::{Outcome, Step};
use crate::model::Cluster;

/// What to do with malformed or unknown messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum QuarantinePolicy {
    /// Leave them in the queue so its redrive policy moves them to the dead-letter queue
    /// (default: nothing is lost, someone can read them).
    #[default]
    DeadLetter,
    /// Log and delete them (for queues without a dead-letter queue).
    Delete,
}

/// Remembers the event ids already handled, the oldest forgotten first once `capacity` is
/// reached (SQS redelivers within the retention period; a few hours of ids is plenty).
#[derive(Debug, Clone)]
pub struct Dedup {
    capacity: usize,
    order: VecDeque<String>,
    ids: HashSet<String>,
}

impl Dedup {
    /// A memory of at most `capacity` ids (at least 1).
    pub fn new(capacity: usize) -> Self {
        Dedup {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            ids: HashSet::new(),
        }
    }

    /// Records an id; `false` when it was already there (a duplicate).
    pub fn insert(&mut self, id: &str) -> bool {
        if self.ids.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.ids.remove(&old);
        }
        self.order.push_back(id.to_string());
        self.ids.insert(id.to_string());
        true
    }

    /// Forgets an id (its handling failed, so a redelivery must be handled again).
    pub fn remove(&mut self, id: &str) {
        if self.ids.remove(id) {
            self.order.retain(|x| x != id);
        }
    }

    /// Whether an id is remembered.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The decision for one message, before anything is executed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// Run these steps, then delete the message.
    Act {
        /// The event id.
        event_id: String,
        /// The plan.
        plan: Box<ResponsePlan>,
        /// Its executor steps (queue actions removed), each tagged with the event id.
        steps: Vec<Step>,
    },
    /// An event already handled (SQS delivers at least once): delete without acting.
    Duplicate {
        /// The event id.
        event_id: String,
    },
    /// Well-formed but nothing to do: delete.
    Ignore {
        /// Why.
        reason: String,
    },
    /// About instances of another cluster: leave the message alone.
    Foreign {
        /// Why.
        reason: String,
    },
    /// Malformed or unknown: quarantine by policy.
    Quarantine {
        /// Why.
        reason: String,
    },
}

/// Decides what to do with one message body. An event is claimed in `seen` when the decision
/// is to act, so a duplicate arriving while it is being handled is skipped; call
/// [`Dedup::remove`] when handling fails so a redelivery is handled again.
pub fn decide(cluster: &Cluster, body: &str, seen: &mut Dedup) -> Decision {
    let plan = plan_response(cluster, body);
    match &plan.parsed {
        Parsed::Quarantine { reason } => Decision::Quarantine {
            reason: reason.clone(),
        },
        Parsed::Ignore { reason } => Decision::Ignore {
            reason: reason.clone(),
        },
        Parsed::Event(e) => {
            if let Some(Action::LeaveMessage { reason }) = plan.actions.first() {
                return Decision::Foreign {
                    reason: reason.clone(),
                };
            }
            if !seen.insert(&e.id) {
                return Decision::Duplicate {
                    event_id: e.id.clone(),
                };
            }
            let event_id = e.id.clone();
            let steps = plan_steps(&plan, &event_id);
            Decision::Act {
                event_id,
                plan: Box::new(plan),
                steps,
            }
        }
    }
}

/// The executor steps of a response plan: every action but the queue's own (delete or leave
/// the message), with the event's kind as the reason and its id as the origin.
pub fn plan_steps(plan: &ResponsePlan, event_id: &str) -> Vec<Step> {
    let why = match &plan.parsed {
        Parsed::Event(e) => format!(
            "{} for {}",
            serde_json::to_value(&e.kind)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_else(|| "event".into()),
            e.instance_ids.join(", ")
        ),
        _ => String::new(),
    };
    plan.actions
        .iter()
        .filter(|a| !matches!(a, Action::DeleteMessage | Action::LeaveMessage { .. }))
        .map(|a| Step::new(a.clone(), why.clone(), Some(event_id.to_string())))
        .collect()
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageOutcome {
    /// The plan ran and the message was deleted.
    Handled {
        /// Event id.
        event_id: String,
        /// Nodes of this cluster it was about.
        nodes: Vec<String>,
        /// Each step and what became of it.
        steps: Vec<Outcome>,
    },
    /// A step failed: the message was left in the queue to be retried after its visibility
    /// timeout (and reaches the dead-letter queue if it keeps failing).
    Failed {
        /// Event id.
        event_id: String,
        /// Each step and what became of it.
        steps: Vec<Outcome>,
    },
    /// Already handled: deleted without acting.
    Duplicate {
        /// Event id.
        event_id: String,
    },
    /// Nothing to do: deleted.
    Ignored {
        /// Why.
        reason: String,
    },
    /// Another cluster's: left in the queue untouched.
    Foreign {
        /// Why.
        reason: String,
    },
    /// Malformed or unknown: left for the dead-letter queue, or deleted by policy.
    Quarantined {
        /// Why.
        reason: String,
        /// Whether it was deleted (policy `delete`).
        deleted: bool,
    },
}

/// One message's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MessageReport {
    /// The queue's message id.
    pub message_id: String,
    /// What became of it.
    #[serde(flatten)]
    pub outcome: MessageOutcome,
    /// Microseconds from the receive call's answer to the first step handed to the executor
    /// (for a spot warning, the cordon), when any step ran.
    pub first_action_micros: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_is_bounded_and_forgets_the_oldest() {
        let mut d = Dedup::new(2);
        assert!(d.insert("a") && d.insert("b"));
        assert!(!d.insert("a"));
        assert!(d.insert("c"));
        assert!(!d.contains("a") && d.contains("b") && d.contains("c"));
        assert_eq!(d.len(), 2);
        d.remove("b");
        assert!(d.insert("b"));
    }

    #[test]
    fn decisions() {
        let cluster = crate::demo::demo_cluster();
        let (_, plan) = super::super::replay_interruption(&cluster).unwrap();
        let node = &plan.nodes[0];
        let id = cluster
            .nodes
            .iter()
            .find(|n| &n.name == node)
            .and_then(|n| n.instance_id.clone())
            .unwrap();
        let body = |event: &str, instance: &str| {
            serde_json::json!({"version":"0","id":event,"detail-type":"EC2 Spot Instance Interruption Warning",
                "source":"aws.ec2","time":"2026-01-01T00:00:00Z","region":"us-east-1",
                "detail":{"instance-id":instance,"instance-action":"terminate"}})
            .to_string()
        };
        let mut seen = Dedup::new(10);
        let Decision::Act { steps, .. } = decide(&cluster, &body("e1", &id), &mut seen) else {
            panic!("act")
        };
        assert!(matches!(&steps[0].action, Action::Cordon { node: n } if n == node));
        assert!(
            steps
                .iter()
                .all(|s| s.recommendation_id.as_deref() == Some("e1"))
        );
        assert!(steps[0].why.contains("spot interruption") && steps[0].why.contains(&id));
        assert!(
            steps
                .iter()
                .all(|s| !matches!(s.action, Action::DeleteMessage))
        );
        assert_eq!(
            decide(&cluster, &body("e1", &id), &mut seen),
            Decision::Duplicate {
                event_id: "e1".into()
            }
        );
        assert!(matches!(
            decide(&cluster, &body("e2", "i-0notours"), &mut seen),
            Decision::Foreign { .. }
        ));
        // a foreign message does not claim its id: another cluster may own it
        assert!(!seen.contains("e2"));
        assert!(matches!(
            decide(&cluster, "{not json", &mut seen),
            Decision::Quarantine { .. }
        ));
    }
}
