//! Integration tests: one binary, several modules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analyze;
mod iac_corpus;
mod live_aws;
mod live_prometheus;
mod real_data;
mod schema;
mod spot;
