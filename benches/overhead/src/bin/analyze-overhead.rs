//! The Rust side of the bindings overhead benchmark (`benches/overhead/run.sh`): loads the
//! cluster written by `gen-cluster` with its usage history and analyses it, `ROUNDS` times,
//! through the same public functions the Python and Node bindings call, and prints one JSON
//! line per round: `{"lang":"rust","round":i,"load_s":…,"analyze_s":…,"free_s":…,
//! "recommendations":n,"monthly_savings":x}`. `free_s` is the time to drop the round's cluster
//! and report, which Python and Node pay too (when the objects are released or collected).
//! With `LOAD_ON_THREAD` set, each load runs on a thread of its own, as Node's does on a libuv
//! worker (to tell a cost of loading off the main thread from a cost of the bindings).
//!
//! ```text
//! analyze-overhead DIR [ROUNDS]
//! ```

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use cloudoptim_core::pipeline;
use cloudoptim_core::pipeline::PricingOptions;
use cloudoptim_core::report::Filters;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: analyze-overhead DIR [ROUNDS]");
        return ExitCode::FAILURE;
    };
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let dir = Path::new(&dir);
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let usage = vec![path("usage-cpu.json"), path("usage-memory.json")];
    for round in 0..rounds {
        let t0 = Instant::now();
        let cluster_path = path("cluster.json");
        let load = || pipeline::load_snapshot_from_strings(&cluster_path, &[], &usage, None);
        let res = if std::env::var_os("LOAD_ON_THREAD").is_some() {
            std::thread::scope(|s| s.spawn(load).join().expect("load thread"))
        } else {
            load()
        };
        let loaded = match res {
            Ok(l) => l,
            Err(e) => {
                eprintln!("analyze-overhead: {e}");
                return ExitCode::FAILURE;
            }
        };
        let load_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let report = match pipeline::analyze_with_extra(
            &loaded.cluster,
            &PricingOptions::default(),
            None,
            &Filters::default(),
            Vec::new(),
        ) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("analyze-overhead: {e}");
                return ExitCode::FAILURE;
            }
        };
        let savings: f64 = report
            .recommendations
            .iter()
            .map(|r| r.monthly_savings_usd)
            .sum();
        let count = report.recommendations.len();
        let analyze_s = t1.elapsed().as_secs_f64();
        let t2 = Instant::now();
        drop(report);
        drop(loaded);
        let free_s = t2.elapsed().as_secs_f64();
        println!(
            "{{\"lang\":\"rust\",\"round\":{round},\"load_s\":{load_s:.6},\"analyze_s\":{analyze_s:.6},\"free_s\":{free_s:.6},\"recommendations\":{count},\"monthly_savings\":{savings:.2}}}"
        );
    }
    ExitCode::SUCCESS
}
