//! `fake-kube-stdio`: the fake Kubernetes API server of [`cloudoptim_tests::fake_kube`] as a process,
//! for tests written in other languages (the Python binding's pytest suite).
//!
//! ```text
//! fake-kube-stdio --dir DIR
//! ```
//!
//! Serves [`cloudoptim_tests::fake_kube::sample_cluster`] on 127.0.0.1 (a port the OS picks),
//! writes `DIR/kubeconfig` (contexts as [`cloudoptim_tests::fake_kube::FakeKube::write_kubeconfig`]
//! writes them) and then `DIR/ready.json` (`{"url": …, "kubeconfig": …}`), and answers
//! commands on standard input, one per line, with one line of JSON on standard output:
//!
//! - `requests`: every request so far (`method`, `path`, `query`, `content_type`, `status`,
//!   `body`);
//! - `object KIND NAMESPACE NAME` (`-` for a cluster-scoped object's namespace): the object as
//!   stored, or `null`.
//!
//! It exits when standard input closes, so a test that dies cannot leave it running.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use cloudoptim_tests::fake_kube::{FakeKube, sample_cluster};
use serde_json::{Value, json};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => dir = args.next().map(PathBuf::from),
            other => {
                eprintln!(
                    "fake-kube-stdio: unknown argument {other:?} (usage: fake-kube-stdio --dir DIR)"
                );
                std::process::exit(2);
            }
        }
    }
    let Some(dir) = dir else {
        eprintln!("fake-kube-stdio: --dir DIR is required");
        std::process::exit(2);
    };
    let fake = FakeKube::start(sample_cluster());
    let kubeconfig = fake.write_kubeconfig(&dir);
    let ready = json!({"url": fake.url(), "kubeconfig": kubeconfig});
    // written under another name first, so a reader never sees half of it
    let tmp = dir.join("ready.json.tmp");
    let write = std::fs::write(&tmp, ready.to_string())
        .and_then(|()| std::fs::rename(&tmp, dir.join("ready.json")));
    if let Err(e) = write {
        eprintln!("fake-kube-stdio: cannot write {}: {e}", dir.display());
        std::process::exit(1);
    }
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer: Value = match words.as_slice() {
            ["requests"] => fake
                .requests()
                .into_iter()
                .map(|r| {
                    json!({
                        "method": r.method,
                        "path": r.path,
                        "query": r.query,
                        "content_type": r.content_type,
                        "status": r.status,
                        "body": r.body,
                    })
                })
                .collect(),
            ["object", kind, namespace, name] => {
                let ns = if *namespace == "-" { "" } else { namespace };
                fake.object(kind, ns, name).unwrap_or(Value::Null)
            }
            _ => json!({"error": format!("unknown command {line:?}")}),
        };
        if writeln!(out, "{answer}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
}
