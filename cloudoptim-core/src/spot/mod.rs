//! Spot: a risk score per instance type from public data (the Spot Advisor on day zero, price
//! history when given), and the response to interruption events.
//!
//! The SQS consumer and the executor that carries plans out land with the live adapters; the
//! parsing and planning here are what they run.

pub mod events;
pub mod risk;

pub use events::{
    Action, EventKind, InstanceEvent, Parsed, ResponsePlan, parse_message, plan_response,
};
pub use risk::{RiskWeights, SeedScorer, SpotRiskScorer, SpotScore, score_types};
