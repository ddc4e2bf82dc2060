//! Starting and stopping local server processes for tests (moto, Prometheus, ...).
//!
//! A server started here lives as long as the test binary: a small shell watchdog kills it
//! (and removes its scratch folder) once the test process is gone, so a shared server kept in
//! a `static` does not outlive the run.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released; another process may take it in between,
/// which the caller's readiness wait reports).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local address").port()
}

/// Whether `program` is on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// One plain HTTP/1.0 GET; returns the status and the body, or `None` when nothing answered.
pub fn http_get(host_port: &str, path: &str, timeout: Duration) -> Option<(u16, String)> {
    let addr = host_port.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.set_write_timeout(Some(timeout)).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host_port}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Some((status, body))
}

/// A unique scratch folder under the system temp folder.
pub fn scratch_dir(prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("create scratch folder");
    d
}

/// A server process with its watchdog.
#[derive(Debug)]
pub struct Service {
    /// The shell running the server and its watchdog.
    child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// The server's output (stdout and stderr), for failure messages.
    pub log: PathBuf,
}

impl Service {
    /// Starts `argv` (with `env` added) under a watchdog that ends it when this process ends
    /// and then removes `cleanup` if given. The server's output goes to `log`.
    pub fn spawn(
        argv: &[String],
        env: &[(&str, &str)],
        addr: String,
        log: &Path,
        cleanup: Option<&Path>,
    ) -> Service {
        let quoted: Vec<String> = argv
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
            .collect();
        let rm = cleanup
            .map(|p| format!("rm -rf '{}'", p.display()))
            .unwrap_or_else(|| "true".into());
        let script = format!(
            "{} >'{}' 2>&1 & srv=$!; trap 'kill $srv 2>/dev/null; {rm}; exit 0' TERM INT; \
             while kill -0 {} 2>/dev/null && kill -0 $srv 2>/dev/null; do sleep 1; done; \
             kill $srv 2>/dev/null; sleep 1; kill -9 $srv 2>/dev/null; {rm}",
            quoted.join(" "),
            log.display(),
            std::process::id()
        );
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn sh");
        Service {
            child,
            addr,
            log: log.to_path_buf(),
        }
    }

    /// Waits until `GET path` answers 200, panicking with the server's output after `limit`.
    pub fn wait_ready(&mut self, path: &str, limit: Duration) {
        let started = Instant::now();
        loop {
            if let Some((200, _)) = http_get(&self.addr, path, Duration::from_secs(2)) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "server on {} exited ({status}) before it was ready; its output:\n{}",
                    self.addr,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if started.elapsed() > limit {
                panic!(
                    "server on {} not ready after {:?}; its output:\n{}",
                    self.addr,
                    limit,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Stops the server now (the watchdog kills it and cleans up).
    pub fn stop(&mut self) {
        // SIGTERM to the watchdog shell; it kills the server and removes the scratch folder.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}
