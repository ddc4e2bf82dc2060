//! Examples live in `rust/*.rs`: `cargo run -p cloudoptim-examples --example analyze_demo`.
