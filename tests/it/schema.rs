//! The published JSON Schema matches the code, and reports validate against it.

use cloudoptim_core::report::report_schema;
use cloudoptim_tests::repo_root;

fn published() -> serde_json::Value {
    let p = repo_root().join("docs/schema/report.schema.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn published_schema_is_current() {
    assert_eq!(
        published(),
        report_schema(),
        "docs/schema/report.schema.json is stale: regenerate with `cloudoptim schema > docs/schema/report.schema.json`"
    );
}

pub(crate) fn assert_valid(report_json: &serde_json::Value) {
    let schema = published();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report_json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn demo_report_validates() {
    let report =
        cloudoptim_core::analyze(&cloudoptim_core::demo::demo_cluster(), Default::default())
            .unwrap();
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_valid(&v);
}

#[test]
fn schema_rejects_a_broken_report() {
    let report =
        cloudoptim_core::analyze(&cloudoptim_core::demo::demo_cluster(), Default::default())
            .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    v["recommendations"][0]["monthly_savings_usd"] = serde_json::json!("lots");
    let schema = published();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(!validator.is_valid(&v));
}
