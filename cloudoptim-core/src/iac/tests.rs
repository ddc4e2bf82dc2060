//! Unit tests of the engine on small repositories made here. The shared corpus runs in
//! tests/it/iac_corpus.rs.
use super::*;

fn repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    d
}

fn change(json: &str) -> Change {
    Change::from_json(json).unwrap()
}

#[test]
fn tfvars_through_a_variable() {
    let d = repo(&[
        (
            "main.tf",
            "locals {\n  cluster = \"prod-eks\"\n}\nresource \"aws_eks_node_group\" \"app\" {\n  cluster_name    = local.cluster\n  node_group_name = \"app\"\n  instance_types  = var.app_types\n}\n",
        ),
        (
            "variables.tf",
            "variable \"app_types\" {\n  default = [\"m5.large\"]\n}\n",
        ),
        (
            "terraform.tfvars",
            "app_types = [\"m5.xlarge\"] # sized for peak\n",
        ),
    ]);
    let c = change(
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"app"},"set":{"instance_types":["m6i.xlarge","m6a.xlarge"]}}"#,
    );
    let r = Engine::default().patch(d.path(), &c, false).unwrap();
    assert_eq!(r.outcome, Outcome::Patched, "{r:?}");
    assert_eq!(r.files, vec!["terraform.tfvars"]);
    let text = std::fs::read_to_string(d.path().join("terraform.tfvars")).unwrap();
    assert_eq!(
        text,
        "app_types = [\"m6i.xlarge\", \"m6a.xlarge\"] # sized for peak\n"
    );
    assert!(
        r.changes[0].explanations[0].contains("terraform.tfvars line 1"),
        "{:?}",
        r.changes
    );
}

#[test]
fn a_value_shared_by_two_groups_is_ambiguous() {
    let d = repo(&[(
        "main.tf",
        "variable \"types\" {\n  default = [\"m5.large\"]\n}\nresource \"aws_eks_node_group\" \"a\" {\n  cluster_name    = \"prod-eks\"\n  node_group_name = \"a\"\n  instance_types  = var.types\n}\nresource \"aws_eks_node_group\" \"b\" {\n  cluster_name    = \"prod-eks\"\n  node_group_name = \"b\"\n  instance_types  = var.types\n}\n",
    )]);
    let c = change(
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"a"},"set":{"instance_types":["m6i.large"]}}"#,
    );
    let r = Engine::default().patch(d.path(), &c, false).unwrap();
    assert_eq!(r.outcome, Outcome::Ambiguous, "{r:?}");
    assert!(
        r.candidates[0].reason.contains("also sets b"),
        "{:?}",
        r.candidates
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("main.tf"))
            .unwrap()
            .matches("m5.large")
            .count(),
        1
    );
}

#[test]
fn computed_values_are_not_found() {
    let d = repo(&[(
        "main.tf",
        "resource \"aws_eks_node_group\" \"a\" {\n  cluster_name    = \"prod-eks\"\n  node_group_name = \"a\"\n  instance_types  = var.big ? [\"m5.4xlarge\"] : [\"m5.large\"]\n}\nvariable \"big\" {\n  default = false\n}\n",
    )]);
    let c = change(
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"a"},"set":{"instance_types":["m6i.large"]}}"#,
    );
    let r = Engine::default().locate(d.path(), &c).unwrap();
    assert_eq!(r.outcome, Outcome::NotFound);
    assert!(r.explanation.contains("conditional"), "{}", r.explanation);
}

#[test]
fn syntax_errors_elsewhere_are_warnings() {
    let d = repo(&[
        (
            "a/main.tf",
            "resource \"aws_eks_node_group\" \"a\" {\n  cluster_name    = \"prod-eks\"\n  node_group_name = \"a\"\n  instance_types  = [\"m5.large\"]\n}\n",
        ),
        ("b/broken.tf", "resource \"x\" {\n  = oops\n"),
        ("k8s/broken.yaml", "a: [1, 2\n"),
    ]);
    let c = change(
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"a"},"set":{"instance_types":["m6i.large"]}}"#,
    );
    let r = Engine::default().patch(d.path(), &c, true).unwrap();
    assert_eq!(r.outcome, Outcome::Patched, "{r:?}");
    assert!(!r.written);
    assert!(
        r.warnings.iter().any(|w| w.contains("b/broken.tf")),
        "{:?}",
        r.warnings
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("a/main.tf"))
            .unwrap()
            .matches("m5.large")
            .count(),
        1,
        "dry run writes nothing"
    );
    assert!(
        r.diff.contains("-  instance_types  = [\"m5.large\"]")
            && r.diff.contains("+  instance_types  = [\"m6i.large\"]"),
        "{}",
        r.diff
    );
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_tree_are_never_read_or_written() {
    let outside = repo(&[(
        "evil.tf",
        "resource \"aws_eks_node_group\" \"a\" {\n  cluster_name    = \"prod-eks\"\n  node_group_name = \"a\"\n  instance_types  = [\"m5.large\"]\n}\n",
    )]);
    let d = repo(&[("README.md", "x")]);
    std::os::unix::fs::symlink(outside.path().join("evil.tf"), d.path().join("evil.tf")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("linked")).unwrap();
    let c = change(
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"a"},"set":{"instance_types":["m6i.large"]}}"#,
    );
    let r = Engine::default().patch(d.path(), &c, false).unwrap();
    assert_eq!(r.outcome, Outcome::NotFound);
    assert!(
        r.warnings.iter().any(|w| w.contains("symbolic link")),
        "{:?}",
        r.warnings
    );
    assert!(
        std::fs::read_to_string(outside.path().join("evil.tf"))
            .unwrap()
            .contains("m5.large")
    );
}

#[test]
fn crlf_files_keep_their_line_endings() {
    let d = repo(&[(
        "clusters/prod.yaml",
        "apiVersion: eksctl.io/v1alpha5\r\nkind: ClusterConfig\r\nmetadata:\r\n  name: prod-eks\r\nmanagedNodeGroups:\r\n  - name: app\r\n    instanceType: m5.large # main\r\n    minSize: 2\r\n",
    )]);
    let c = change(
        r#"{"target":{"kind":"NodeGroup","cluster":"prod-eks","name":"app"},"set":{"instance_types":["m6i.large"],"min_size":3}}"#,
    );
    let r = Engine::default().patch(d.path(), &c, false).unwrap();
    assert_eq!(r.outcome, Outcome::Patched, "{r:?}");
    let text = std::fs::read_to_string(d.path().join("clusters/prod.yaml")).unwrap();
    assert_eq!(
        text,
        "apiVersion: eksctl.io/v1alpha5\r\nkind: ClusterConfig\r\nmetadata:\r\n  name: prod-eks\r\nmanagedNodeGroups:\r\n  - name: app\r\n    instanceType: m6i.large # main\r\n    minSize: 3\r\n"
    );
}
