//! The packing scale benchmark as its own process, so that peak memory is the plan's alone:
//! builds the synthetic cluster of `cloudoptim_benches::packing::scale_problem` and plans it.
//!
//! `packing-scale [remove|replace|both] [nodes] [pods]` (defaults: both, 5000, 150000). Run it
//! under `/usr/bin/time -v` for the peak RSS as the kernel counts it; it also prints `VmHWM`,
//! and the CPU time of each plan beside its wall time (the solver runs on one thread).

use std::time::Instant;

use cloudoptim_benches::packing::{peak_rss_kib, scale_problem, thread_cpu_seconds};
use cloudoptim_core::packing::{GreedySolver, Mode, PackingConfig, Solver};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("both");
    let nodes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5_000);
    let pods: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(150_000);
    let t = Instant::now();
    let problem = scale_problem(nodes, pods, 42);
    let build = t.elapsed();
    let rss_problem = peak_rss_kib().unwrap_or(0);
    println!(
        "problem: {} nodes, {} pods, {} offers, built in {:.2} s; peak RSS so far {:.1} MiB",
        problem.nodes.len(),
        problem.pods.len(),
        problem.offers.len(),
        build.as_secs_f64(),
        rss_problem as f64 / 1024.0
    );
    let modes: &[Mode] = match which {
        "remove" => &[Mode::Remove],
        "replace" => &[Mode::Replace],
        _ => &[Mode::Remove, Mode::Replace],
    };
    for &mode in modes {
        let cfg = PackingConfig::default().with_mode(mode);
        let t = Instant::now();
        let cpu0 = thread_cpu_seconds();
        let plan = match GreedySolver.plan(&problem, &cfg) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("{mode:?}: {e}");
                std::process::exit(1);
            }
        };
        let secs = t.elapsed().as_secs_f64();
        let cpu = match (cpu0, thread_cpu_seconds()) {
            (Some(a), Some(b)) => format!("{:.3} s", b - a),
            _ => "n/a".into(),
        };
        let added = plan.nodes.iter().filter(|n| n.new).count();
        println!(
            "{:?}: {:.3} s wall, {cpu} CPU; ${:.2}/h -> ${:.2}/h (LP bound ${:.2}/h, gap {:.2} %); {} removed, {} added, {} moves, {} unplaced, {} steps; peak RSS {:.1} MiB",
            mode,
            secs,
            plan.cost_before_hourly,
            plan.cost_after_hourly,
            plan.lower_bound_hourly,
            plan.gap_to_bound * 100.0,
            plan.removed.len(),
            added,
            plan.steps.iter().map(|s| s.moves.len()).sum::<usize>(),
            plan.unplaced.len(),
            plan.steps.len(),
            peak_rss_kib().unwrap_or(0) as f64 / 1024.0
        );
    }
}
