//! The fake Kubernetes API server as a process, for tests written in other languages.
//!
//! `fake-kube --port-file PATH --kubeconfig PATH` serves [`sample_cluster`] on an ephemeral
//! port of 127.0.0.1, writes a kubeconfig pointing to it (context `fake`, see
//! `FakeKube::write_kubeconfig`), then writes the port number to the port file (so the port
//! file appearing means the server is ready) and runs until killed. `--dir DIR` is short for
//! `--port-file DIR/port --kubeconfig DIR/kubeconfig`.
//!
//! [`sample_cluster`]: cloudoptim_tests::fake_kube::sample_cluster

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cloudoptim_tests::fake_kube::{FakeKube, sample_cluster};

fn usage(message: &str) -> ExitCode {
    eprintln!(
        "fake-kube: {message}\nusage: fake-kube --port-file PATH --kubeconfig PATH | --dir DIR"
    );
    ExitCode::from(2)
}

/// Writes `text` to `path` through a temporary file, so readers never see half of it.
fn write_whole(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-fake-kube");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

fn main() -> ExitCode {
    let mut port_file: Option<PathBuf> = None;
    let mut kubeconfig: Option<PathBuf> = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a.to_str() == Some("--dir") {
            let Some(dir) = args.next().map(PathBuf::from) else {
                return usage("--dir needs a value");
            };
            port_file = Some(dir.join("port"));
            kubeconfig = Some(dir.join("kubeconfig"));
            continue;
        }
        let slot = match a.to_str() {
            Some("--port-file") => &mut port_file,
            Some("--kubeconfig") => &mut kubeconfig,
            _ => return usage(&format!("unknown argument {}", a.to_string_lossy())),
        };
        match args.next() {
            Some(v) => *slot = Some(PathBuf::from(v)),
            None => return usage(&format!("{} needs a value", a.to_string_lossy())),
        }
    }
    let (Some(port_file), Some(kubeconfig)) = (port_file, kubeconfig) else {
        return usage("--port-file and --kubeconfig (or --dir) are required");
    };
    let fake = FakeKube::start(sample_cluster());
    // the kubeconfig (and the exec credential it names) go next to the requested path
    let dir = match kubeconfig.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("fake-kube: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let written = fake.write_kubeconfig(&dir);
    if written != kubeconfig
        && let Err(e) = std::fs::rename(&written, &kubeconfig)
    {
        eprintln!("fake-kube: cannot write {}: {e}", kubeconfig.display());
        return ExitCode::FAILURE;
    }
    let port = fake
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    if let Err(e) = write_whole(&port_file, &format!("{port}\n")) {
        eprintln!("fake-kube: cannot write {}: {e}", port_file.display());
        return ExitCode::FAILURE;
    }
    eprintln!("fake-kube: serving on {}", fake.url());
    loop {
        std::thread::park();
    }
}
