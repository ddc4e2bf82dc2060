//! Integration tests: one binary, several modules.

mod analyze;
mod real_data;
mod schema;
