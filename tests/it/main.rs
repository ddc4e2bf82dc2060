//! Integration tests: one binary, several modules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analyze;
mod gitops;
mod iac_corpus;
mod kube;
mod live_aws;
mod live_prometheus;
mod real_data;
mod schema;
mod spot;
mod spot_queue;
