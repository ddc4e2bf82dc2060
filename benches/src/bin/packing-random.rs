//! The random packing instances of `cloudoptim_benches::packing::random_instance` without
//! CP-SAT: our plan's cost, the LP bound, first-fit decreasing, and the best wall and thread
//! CPU time of a few plans, for quick measurements of the solver alone.
//!
//! `packing-random [sizes] [seeds] [runs]` (defaults: `50,100,200,500`, `3`, `5`): seeds
//! `0..seeds` of each size, each planned `runs` times.

use std::time::Instant;

use cloudoptim_benches::packing::{ffd, random_instance, thread_cpu_seconds};
use cloudoptim_core::packing::{GreedySolver, Mode, PackingConfig, Solver};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes: Vec<usize> = args
        .first()
        .map(String::as_str)
        .unwrap_or("50,100,200,500")
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seeds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    let cfg = PackingConfig::default().with_mode(Mode::Replace);
    println!("| pods | seed | ours $/h | LP bound | FFD $/h | best wall ms | best CPU ms |");
    println!("|---|---|---|---|---|---|---|");
    for &n in &sizes {
        for seed in 0..seeds {
            let problem = random_instance(n, seed).problem();
            let (mut wall, mut cpu) = (f64::MAX, f64::MAX);
            let mut last = None;
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                let c0 = thread_cpu_seconds();
                let plan = match GreedySolver.plan(&problem, &cfg) {
                    Ok(p) => p,
                    Err(e) => {
                        eprintln!("{n} pods, seed {seed}: {e}");
                        std::process::exit(1);
                    }
                };
                wall = wall.min(t.elapsed().as_secs_f64());
                if let (Some(a), Some(b)) = (c0, thread_cpu_seconds()) {
                    cpu = cpu.min(b - a);
                }
                last = Some(plan);
            }
            let Some(plan) = last else { continue };
            println!(
                "| {n} | {seed} | {:.4} | {:.4} | {:.4} | {:.1} | {:.1} |",
                plan.cost_after_hourly,
                plan.lower_bound_hourly,
                ffd(&problem).cost,
                wall * 1000.0,
                cpu * 1000.0
            );
        }
    }
}
