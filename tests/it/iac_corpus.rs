//! Every case of the shared IaC corpus, through the Rust API: the outcome, the exact bytes of
//! every changed file, and every other file untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cloudoptim_core::iac::{Change, Engine, Outcome, yaml};

pub(crate) fn corpus() -> PathBuf {
    cloudoptim_tests::shared_data().join("../iac-corpus/cases")
}

pub(crate) fn copy_tree(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
            let mut perm = std::fs::metadata(&dst).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dst, perm).unwrap();
        }
    }
}

pub(crate) fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}

fn yaml_value(text: &str) -> serde_json::Value {
    let docs: Vec<serde_json::Value> = serde_yaml_docs(text);
    serde_json::Value::Array(docs)
}

fn serde_yaml_docs(text: &str) -> Vec<serde_json::Value> {
    // the positioned tree is enough to compare data: scalars as strings, maps and lists
    fn conv(n: &yaml::Node) -> serde_json::Value {
        match n {
            yaml::Node::Scalar { value, .. } => serde_json::Value::String(value.clone()),
            yaml::Node::Seq { items, .. } => {
                serde_json::Value::Array(items.iter().map(conv).collect())
            }
            yaml::Node::Map { entries, .. } => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or("").to_string(), conv(v)))
                    .collect(),
            ),
            yaml::Node::Alias { .. } => serde_json::Value::Null,
        }
    }
    yaml::parse(text)
        .unwrap()
        .iter()
        .map(|d| conv(&d.root))
        .collect()
}

/// Checks a patched tree against a case's expectations; returns a description of the first mismatch.
pub(crate) fn check_case(
    case: &Path,
    before: &BTreeMap<String, Vec<u8>>,
    after: &BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap()).unwrap();
    let compare = spec["expect"]["compare"].as_str().unwrap_or("exact");
    let expected = if case.join("expected").exists() {
        files(&case.join("expected"))
    } else {
        BTreeMap::new()
    };
    for (rel, old) in before {
        let new = after.get(rel).ok_or(format!("{rel} disappeared"))?;
        match expected.get(rel) {
            Some(want) if compare == "yaml-semantic" => {
                let (w, n) = (String::from_utf8_lossy(want), String::from_utf8_lossy(new));
                if yaml_value(&w) != yaml_value(&n) {
                    return Err(format!("{rel}: data differs:\n{n}"));
                }
                let mut lines = n.lines();
                for l in String::from_utf8_lossy(old).lines() {
                    if !lines.any(|x| x == l) {
                        return Err(format!("{rel}: original line {l:?} lost or out of order"));
                    }
                }
            }
            Some(want) => {
                if want != new {
                    return Err(format!(
                        "{rel} differs:\n{}",
                        cloudoptim_core::iac::unified_diff(
                            rel,
                            &String::from_utf8_lossy(want),
                            &String::from_utf8_lossy(new)
                        )
                    ));
                }
            }
            None => {
                if old != new {
                    return Err(format!("{rel} changed but must not"));
                }
            }
        }
    }
    Ok(())
}

/// Runs every case folder under `dir` through the Rust API; returns the case count and failures.
pub(crate) fn run_cases(dir: &Path) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let mut n = 0;
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    for case in cases {
        if !case.join("case.json").exists() {
            continue;
        }
        n += 1;
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap())
                .unwrap();
        let d = tempfile::tempdir().unwrap();
        copy_tree(&case.join("repo"), d.path());
        let before = files(d.path());
        let change =
            Change::from_json(&std::fs::read_to_string(case.join("case.json")).unwrap()).unwrap();
        let report = match Engine::default().patch(d.path(), &change, false) {
            Ok(r) => r,
            Err(err) => {
                failures.push(format!("{name}: error {err}"));
                continue;
            }
        };
        let want = match spec["expect"]["outcome"].as_str().unwrap() {
            "patched" => Outcome::Patched,
            "ambiguous" => Outcome::Ambiguous,
            _ => Outcome::NotFound,
        };
        if report.outcome != want {
            failures.push(format!(
                "{name}: {:?}, expected {want:?}: {} {:?}",
                report.outcome, report.explanation, report.candidates
            ));
            continue;
        }
        if let Some(cands) = spec["expect"]["candidates"].as_array() {
            for c in cands {
                let c = c.as_str().unwrap();
                if !report.candidates.iter().any(|x| x.file == c) {
                    failures.push(format!(
                        "{name}: candidate {c} missing from {:?}",
                        report.candidates
                    ));
                }
            }
        }
        if let Err(m) = check_case(&case, &before, &files(d.path())) {
            failures.push(format!("{name}: {m}"));
        }
    }
    (n, failures)
}

#[test]
fn every_corpus_case_through_the_rust_api() {
    let (n, failures) = run_cases(&corpus());
    assert!(n >= 16, "corpus has {n} cases");
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_own_case_through_the_rust_api() {
    let (n, failures) = run_cases(&cloudoptim_tests::repo_root().join("tests/iac-cases"));
    assert!(n >= 15, "only {n} own cases");
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_corpus_and_own_case_through_the_cli() {
    let mut failures = Vec::new();
    for dir in [
        corpus(),
        cloudoptim_tests::repo_root().join("tests/iac-cases"),
    ] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let case = e.unwrap().path();
            if !case.join("case.json").exists() {
                continue;
            }
            let name = case.file_name().unwrap().to_string_lossy().to_string();
            let spec: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap())
                    .unwrap();
            let d = tempfile::tempdir().unwrap();
            copy_tree(&case.join("repo"), d.path());
            let before = files(d.path());
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = cloudoptim_cli::run_with(
                [
                    "cloudoptim",
                    "patch",
                    "--repo",
                    d.path().to_str().unwrap(),
                    "--change",
                    case.join("case.json").to_str().unwrap(),
                    "--format",
                    "json",
                ],
                &mut out,
                &mut err,
            );
            let outcome = spec["expect"]["outcome"].as_str().unwrap();
            let want_code = match outcome {
                "patched" => 0,
                "ambiguous" => 3,
                _ => 4,
            };
            if code != want_code {
                failures.push(format!(
                    "{name}: exit {code}, expected {want_code}: {}",
                    String::from_utf8_lossy(&err)
                ));
                continue;
            }
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            if v["outcome"] != outcome {
                failures.push(format!("{name}: outcome {}", v["outcome"]));
            }
            for k in ["files", "candidates", "warnings", "diff"] {
                if v.get(k).is_none() {
                    failures.push(format!("{name}: JSON lacks `{k}`"));
                }
            }
            if let Err(m) = check_case(&case, &before, &files(d.path())) {
                failures.push(format!("{name}: {m}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn cli_refuses_bad_changes_before_touching_anything() {
    let case = corpus().join("tf-raw-nodegroup");
    let d = tempfile::tempdir().unwrap();
    copy_tree(&case.join("repo"), d.path());
    let before = files(d.path());
    let bad = d.path().join("../bad-change.json");
    for text in [
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"main-app"},"set":{"instance_typez":["t4g.large"]}}"#,
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"main-app"},"set":{"instance_types":"t4g.large"}}"#,
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"main-app"},"set":{"instance_types":["t9.huge"]}}"#,
        "{not json",
    ] {
        std::fs::write(&bad, text).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = cloudoptim_cli::run_with(
            [
                "cloudoptim",
                "patch",
                "--repo",
                d.path().to_str().unwrap(),
                "--change",
                bad.to_str().unwrap(),
            ],
            &mut out,
            &mut err,
        );
        assert_eq!(code, 2, "{text}: {}", String::from_utf8_lossy(&err));
        assert!(
            String::from_utf8_lossy(&err).contains("invalid change"),
            "{}",
            String::from_utf8_lossy(&err)
        );
    }
    assert_eq!(before, files(d.path()), "nothing touched");
    let _ = std::fs::remove_file(bad);
}
