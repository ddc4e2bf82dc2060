//! EventBridge messages as SQS delivers them (the raw event, an SQS message record with a
//! `Body`, or an SNS envelope with a `Message`), and the response plan for one event.

use serde::{Deserialize, Serialize};

use crate::model::Cluster;

/// What an event says is happening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// `EC2 Spot Instance Interruption Warning`: two minutes left.
    SpotInterruption,
    /// `EC2 Instance Rebalance Recommendation`: elevated risk.
    RebalanceRecommendation,
    /// `EC2 Instance State-change Notification` (`stopping`, `stopped`, `shutting-down`, `terminated`).
    StateChange,
    /// `AWS Health Event`, `scheduledChange` for EC2.
    ScheduledChange,
    /// `EC2 Instance-terminate Lifecycle Action` from an ASG lifecycle hook.
    AsgTermination,
}

/// A parsed event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceEvent {
    /// The event id (for de-duplication).
    pub id: String,
    /// Kind.
    pub kind: EventKind,
    /// The instances it is about.
    pub instance_ids: Vec<String>,
    /// Event time.
    pub time: String,
    /// Region.
    pub region: Option<String>,
    /// State for a state change, action for a spot warning.
    pub detail: Option<String>,
    /// ASG name and lifecycle token for ASG terminations.
    pub asg: Option<(String, String, String)>,
}

/// What to do with a message that is not an event cloudoptim acts on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Parsed {
    /// An event to act on.
    Event(InstanceEvent),
    /// A well-formed event that needs no action (a state change to `pending`, a Health `issue`):
    /// delete the message.
    Ignore {
        /// Why.
        reason: String,
    },
    /// Malformed or unknown: quarantine (leave for the dead-letter queue, or log and delete by policy).
    Quarantine {
        /// Why.
        reason: String,
    },
}

fn q(reason: impl Into<String>) -> Parsed {
    Parsed::Quarantine {
        reason: reason.into(),
    }
}

fn strs(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Parses one SQS message body. Never panics: anything unexpected is quarantined with a reason.
pub fn parse_message(body: &str) -> Parsed {
    let v: serde_json::Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return q(format!("not JSON: {e}")),
    };
    parse_value(&v, 0)
}

fn parse_value(v: &serde_json::Value, depth: u8) -> Parsed {
    if depth > 3 {
        return q("envelopes nested too deeply");
    }
    // SQS message record or SNS envelope: the event is a JSON string inside
    for key in ["Body", "Message"] {
        if v.get("detail-type").is_none()
            && let Some(inner) = v.get(key).and_then(|b| b.as_str())
        {
            return match serde_json::from_str::<serde_json::Value>(inner) {
                Ok(iv) => parse_value(&iv, depth + 1),
                Err(e) => q(format!("`{key}` is not JSON: {e}")),
            };
        }
    }
    let Some(dt) = v.get("detail-type").and_then(|x| x.as_str()) else {
        return q("no `detail-type`: not an EventBridge event");
    };
    let id = v
        .get("id")
        .and_then(|x| x.as_str())
        .unwrap_or("")
        .to_string();
    if id.is_empty() {
        return q("no event `id`");
    }
    let time = v
        .get("time")
        .and_then(|x| x.as_str())
        .unwrap_or("")
        .to_string();
    let region = v.get("region").and_then(|x| x.as_str()).map(str::to_string);
    let detail = v.get("detail").cloned().unwrap_or(serde_json::Value::Null);
    let inst = |k: &str| detail.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let mk = |kind, ids: Vec<String>, d: Option<String>, asg| {
        if ids.is_empty() {
            q(format!("`{dt}` without an instance id"))
        } else {
            Parsed::Event(InstanceEvent {
                id: id.clone(),
                kind,
                instance_ids: ids,
                time: time.clone(),
                region: region.clone(),
                detail: d,
                asg,
            })
        }
    };
    match dt {
        "EC2 Spot Instance Interruption Warning" => mk(
            EventKind::SpotInterruption,
            inst("instance-id").into_iter().collect(),
            inst("instance-action"),
            None,
        ),
        "EC2 Instance Rebalance Recommendation" => mk(
            EventKind::RebalanceRecommendation,
            inst("instance-id").into_iter().collect(),
            None,
            None,
        ),
        "EC2 Instance State-change Notification" => {
            let state = inst("state");
            match state.as_deref() {
                Some("stopping" | "stopped" | "shutting-down" | "terminated") => mk(
                    EventKind::StateChange,
                    inst("instance-id").into_iter().collect(),
                    state,
                    None,
                ),
                Some(s) => Parsed::Ignore {
                    reason: format!("state `{s}` needs no action"),
                },
                None => q("state change without a state"),
            }
        }
        "AWS Health Event" => {
            let service = detail.get("service").and_then(|x| x.as_str()).unwrap_or("");
            let category = detail
                .get("eventTypeCategory")
                .and_then(|x| x.as_str())
                .unwrap_or("");
            if service != "EC2" || category != "scheduledChange" {
                return Parsed::Ignore {
                    reason: format!(
                        "Health event for {service}, category {category}: only EC2 scheduled changes are acted on"
                    ),
                };
            }
            let mut ids: Vec<String> = detail
                .get("affectedEntities")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            e.get("entityValue")
                                .and_then(|x| x.as_str())
                                .map(str::to_string)
                        })
                        .collect()
                })
                .unwrap_or_default();
            if ids.is_empty() {
                ids = strs(v.get("resources").unwrap_or(&serde_json::Value::Null))
                    .into_iter()
                    .filter(|r| r.starts_with("i-"))
                    .collect();
            }
            mk(
                EventKind::ScheduledChange,
                ids,
                detail
                    .get("eventTypeCode")
                    .and_then(|x| x.as_str())
                    .map(str::to_string),
                None,
            )
        }
        "EC2 Instance-terminate Lifecycle Action" => {
            let asg = match (
                inst("AutoScalingGroupName"),
                inst("LifecycleHookName"),
                inst("LifecycleActionToken"),
            ) {
                (Some(a), Some(h), Some(t)) => Some((a, h, t)),
                _ => return q("ASG lifecycle action without group, hook or token"),
            };
            mk(
                EventKind::AsgTermination,
                inst("EC2InstanceId").into_iter().collect(),
                inst("LifecycleTransition"),
                asg,
            )
        }
        other => q(format!("unknown detail-type `{other}`")),
    }
}

pub use crate::executor::Action;

/// The response plan for one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResponsePlan {
    /// What the message was.
    pub parsed: Parsed,
    /// Node(s) affected in this cluster.
    pub nodes: Vec<String>,
    /// Actions in order.
    pub actions: Vec<Action>,
}

/// How long a kind of event leaves, in seconds.
fn budget(kind: &EventKind) -> i64 {
    match kind {
        EventKind::SpotInterruption => 120,
        EventKind::AsgTermination => 3600,
        EventKind::RebalanceRecommendation | EventKind::ScheduledChange => 6 * 3600,
        EventKind::StateChange => 30,
    }
}

/// Whether a drain for this kind of event may delete a pod its disruption budget protects at
/// the deadline: yes when the instance goes away then anyway (a spot interruption, a stop or
/// termination, an ASG termination); never for a rebalance recommendation or a scheduled
/// change, which leave hours and may not take the instance at all.
pub fn force_policy(kind: &EventKind) -> crate::executor::ForceDelete {
    match kind {
        EventKind::SpotInterruption | EventKind::StateChange | EventKind::AsgTermination => {
            crate::executor::ForceDelete::AtDeadline
        }
        EventKind::RebalanceRecommendation | EventKind::ScheduledChange => {
            crate::executor::ForceDelete::Never
        }
    }
}

/// Plans the response to one message for this cluster: instance → node through `providerID`;
/// other clusters' messages are left in the queue; cordon, replacement first, drain the least
/// important pods first, complete the lifecycle action, then delete the message.
pub fn plan_response(cluster: &Cluster, body: &str) -> ResponsePlan {
    let parsed = parse_message(body);
    let mut actions = Vec::new();
    let mut nodes = Vec::new();
    match &parsed {
        Parsed::Quarantine { .. } => {}
        Parsed::Ignore { .. } => actions.push(Action::DeleteMessage),
        Parsed::Event(e) => {
            let ours: Vec<&crate::model::Node> = cluster
                .nodes
                .iter()
                .filter(|n| {
                    n.instance_id
                        .as_ref()
                        .is_some_and(|i| e.instance_ids.contains(i))
                })
                .collect();
            if ours.is_empty() {
                actions.push(Action::LeaveMessage {
                    reason: format!(
                        "no node of cluster {} is instance {}",
                        cluster.name,
                        e.instance_ids.join(", ")
                    ),
                });
            } else {
                let deadline = budget(&e.kind);
                // deadlines count from the event, not from when a consumer got to it
                let event_time = e.time.parse::<jiff::Timestamp>().ok();
                let force = force_policy(&e.kind);
                for n in &ours {
                    nodes.push(n.name.clone());
                    actions.push(Action::Cordon {
                        node: n.name.clone(),
                    });
                    if e.kind != EventKind::StateChange
                        && let Some(t) = &n.instance_type
                    {
                        let spot = n.capacity_type == crate::model::CapacityType::Spot;
                        actions.push(Action::LaunchReplacement {
                            instance_type: t.clone(),
                            zone: n.zone.clone(),
                            // same capacity type; a spot launch that meets a short pool falls
                            // back to on-demand in the executor
                            capacity_type: if spot { "spot" } else { "on-demand" }.into(),
                        });
                    }
                    let mut pods: Vec<&crate::model::Pod> = cluster
                        .pods_on(&n.name)
                        .filter(|p| !p.is_daemonset())
                        .collect();
                    pods.sort_by_key(|p| (p.priority, p.name.clone()));
                    let count = pods.len().max(1) as i64;
                    for (i, p) in pods.iter().enumerate() {
                        // spread evictions over the budget; keep 20 % for the last, most important pods
                        let at = (deadline * 8 / 10) * (i as i64 + 1) / count;
                        let at = at.max(1);
                        actions.push(Action::Evict {
                            pod: format!("{}/{}", p.namespace, p.name),
                            deadline_seconds: at,
                            not_after: event_time.map(|t| {
                                t.saturating_add(jiff::SignedDuration::from_secs(at))
                                    .unwrap_or(t)
                                    .to_string()
                            }),
                            grace_period_seconds: None,
                            force,
                            note: format!(
                                "priority {}: {}",
                                p.priority,
                                if i + 1 == pods.len() {
                                    "most important, last"
                                } else {
                                    "less important pods first"
                                }
                            ),
                        });
                    }
                }
                if let Some((asg, hook, _)) = &e.asg {
                    actions.push(Action::CompleteLifecycle {
                        asg: asg.clone(),
                        hook: hook.clone(),
                    });
                }
                actions.push(Action::DeleteMessage);
            }
        }
    }
    ResponsePlan {
        parsed,
        nodes,
        actions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_events_that_take_the_instance_force_at_the_deadline() {
        use crate::executor::ForceDelete;
        assert_eq!(
            force_policy(&EventKind::SpotInterruption),
            ForceDelete::AtDeadline
        );
        assert_eq!(
            force_policy(&EventKind::StateChange),
            ForceDelete::AtDeadline
        );
        assert_eq!(
            force_policy(&EventKind::AsgTermination),
            ForceDelete::AtDeadline
        );
        assert_eq!(
            force_policy(&EventKind::RebalanceRecommendation),
            ForceDelete::Never
        );
        assert_eq!(
            force_policy(&EventKind::ScheduledChange),
            ForceDelete::Never
        );
        // a rebalance plan's evictions never force, and count from the event's time
        let cluster = crate::demo::demo_cluster();
        let (_, warning) = crate::spot::replay_interruption(&cluster).unwrap();
        let id = match &warning.parsed {
            Parsed::Event(e) => e.instance_ids[0].clone(),
            other => panic!("{other:?}"),
        };
        let body = serde_json::json!({"version":"0","id":"r1","detail-type":"EC2 Instance Rebalance Recommendation",
            "source":"aws.ec2","time":"2026-01-01T00:00:00Z","region":"us-east-1","detail":{"instance-id":id}})
        .to_string();
        let plan = plan_response(&cluster, &body);
        let evictions: Vec<_> = plan
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Evict {
                    force,
                    not_after,
                    deadline_seconds,
                    ..
                } => Some((*force, not_after.clone(), *deadline_seconds)),
                _ => None,
            })
            .collect();
        assert!(!evictions.is_empty());
        for (force, not_after, d) in evictions {
            assert_eq!(force, ForceDelete::Never);
            let at: jiff::Timestamp = not_after.unwrap().parse().unwrap();
            assert_eq!(at.as_second(), 1_767_225_600 + d);
        }
    }

    #[test]
    fn envelopes_and_garbage() {
        let ev = r#"{"version":"0","id":"e1","detail-type":"EC2 Spot Instance Interruption Warning","source":"aws.ec2","time":"2021-02-01T00:00:00Z","region":"us-east-1","detail":{"instance-id":"i-1","instance-action":"terminate"}}"#;
        let sqs = serde_json::json!({"MessageId": "m", "Body": ev}).to_string();
        let sns = serde_json::json!({"Type": "Notification", "Message": ev}).to_string();
        for body in [ev.to_string(), sqs, sns] {
            let Parsed::Event(e) = parse_message(&body) else {
                panic!("{body}")
            };
            assert_eq!(
                (e.kind, e.instance_ids),
                (EventKind::SpotInterruption, vec!["i-1".to_string()])
            );
        }
        for bad in [
            "",
            "{",
            "[]",
            r#"{"detail-type":"Nope","id":"x"}"#,
            r#"{"Body":"{oops"}"#,
            r#"{"detail-type":"EC2 Spot Instance Interruption Warning","id":"x","detail":{}}"#,
        ] {
            assert!(
                matches!(parse_message(bad), Parsed::Quarantine { .. }),
                "{bad}"
            );
        }
    }
}
