//! Packing and consolidation benchmarks (see docs/benchmarks.md, "Packing and consolidation").
//!
//! 1. The Alibaba openb trace (Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing
//!    Workloads with Fragmentation Gradient Descent", USENIX ATC 2023) as a replace problem:
//!    cost against the LP lower bound and a first-fit-decreasing baseline.
//! 2. Seeded random instances of 50–500 pods against OR-Tools CP-SAT (`benches/cpsat/solve.py`,
//!    skipped with a message when `ortools` is not importable) and first-fit decreasing.
//! 3. Plan time of a 5,000-node, 150,000-pod cluster in both modes (criterion); peak memory is
//!    measured by the `packing-scale` binary in its own process.
//!
//! Which parts run: `PACKING_PARTS` (comma-separated `openb`, `random`, `scale`; default all).
//! `PACKING_RANDOM_INSTANCES` (default 10 per size) and `PACKING_CPSAT_SECONDS` (default 60)
//! size the CP-SAT comparison. Quality figures are printed; timings go through criterion.

use std::hint::black_box;
use std::time::{Duration, Instant};

use cloudoptim_benches::packing::{
    self as pk, CpSatError, Instance, OPENB_CITATION, ffd, openb_problem, random_instance,
    read_openb, scale_problem,
};
use cloudoptim_core::packing::{GreedySolver, Mode, PackingConfig, Plan, Problem, Solver};
use criterion::Criterion;

const SIZES: &[usize] = &[50, 100, 200, 500];

fn env_num<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn replace_cfg() -> PackingConfig {
    PackingConfig::default().with_mode(Mode::Replace)
}

/// Plans and times the plan (best of `runs`).
fn timed_plan(p: &Problem, cfg: &PackingConfig, runs: usize) -> (Plan, Duration) {
    let mut best = Duration::MAX;
    let mut plan = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let r = GreedySolver.plan(p, cfg).expect("the plan succeeds");
        best = best.min(t.elapsed());
        plan = Some(r);
    }
    (plan.expect("at least one run"), best)
}

fn openb() {
    println!("\n== openb: {OPENB_CITATION}");
    println!(
        "| pod list | pods (GPU pods) | zones | offers | ours $/h | LP bound $/h | gap | FFD $/h | ours/FFD | unplaced | plan time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for list in ["default", "cpu100"] {
        let path = cloudoptim_tests::data(&format!("alibaba-openb/openb_pod_list_{list}.csv"));
        let pods = read_openb(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let gpu = pods.iter().filter(|p| p.whole_gpus() > 0).count();
        for zones in [1, 3] {
            let problem = openb_problem(&pods, zones);
            let (plan, t) = timed_plan(&problem, &replace_cfg(), 3);
            let f = ffd(&problem);
            println!(
                "| {list} | {} ({gpu}) | {zones} | {} | {:.2} | {:.2} | {:.2} % | {:.2} | {:.3} | {} | {:.0} ms |",
                pods.len(),
                problem.offers.len(),
                plan.cost_after_hourly,
                plan.lower_bound_hourly,
                plan.gap_to_bound * 100.0,
                f.cost,
                plan.cost_after_hourly / f.cost,
                plan.unplaced.len(),
                t.as_secs_f64() * 1000.0
            );
        }
    }
}

struct Row {
    n: usize,
    ours: f64,
    ours_s: f64,
    ffd: f64,
    bound: f64,
    cpsat: Option<pk::CpSat>,
}

fn random() {
    let per = env_num("PACKING_RANDOM_INSTANCES", 10usize);
    let secs = env_num("PACKING_CPSAT_SECONDS", 60.0f64);
    let cpsat_ok = match pk::cpsat_available() {
        Ok(()) => true,
        Err(CpSatError::Unavailable(m) | CpSatError::Failed(m)) => {
            println!("\nCP-SAT skipped: {m}");
            false
        }
    };
    let dir = std::env::temp_dir().join("cloudoptim-packing-bench");
    std::fs::create_dir_all(&dir).expect("temp dir");
    println!(
        "\n== random instances: {per} per size; CP-SAT {secs} s limit, 1 worker{}",
        if cpsat_ok { "" } else { " (skipped)" }
    );
    println!(
        "| pods | seed | ours $/h | ours ms | LP bound | FFD $/h | CP-SAT $/h | CP-SAT status | CP-SAT bound | CP-SAT s (to best) | ours/CP-SAT | ours/FFD |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for &n in SIZES {
        for seed in 0..per as u64 {
            let inst: Instance = random_instance(n, seed);
            let problem = inst.problem();
            let (plan, t) = timed_plan(&problem, &replace_cfg(), 5);
            assert!(plan.unplaced.is_empty(), "every random pod fits some type");
            let f = ffd(&problem);
            let cpsat = if cpsat_ok {
                let ours_bins = plan.nodes.len();
                let max_bins = ours_bins.max(f.bins);
                let file = dir.join(format!("random-{n}-{seed}.json"));
                std::fs::write(&file, inst.to_json(max_bins, secs, 1)).expect("write instance");
                match pk::run_cpsat(&file) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        println!("CP-SAT failed on {}: {e:?}", file.display());
                        None
                    }
                }
            } else {
                None
            };
            let row = Row {
                n,
                ours: plan.cost_after_hourly,
                ours_s: t.as_secs_f64(),
                ffd: f.cost,
                bound: plan.lower_bound_hourly,
                cpsat,
            };
            let c = row.cpsat.as_ref();
            println!(
                "| {n} | {seed} | {:.4} | {:.2} | {:.4} | {:.4} | {} | {} | {} | {} | {} | {:.3} |",
                row.ours,
                row.ours_s * 1000.0,
                row.bound,
                row.ffd,
                c.and_then(|c| c.cost)
                    .map_or("–".into(), |v| format!("{v:.4}")),
                c.map_or("–".into(), |c| c.status.clone()),
                c.and_then(|c| c.best_bound)
                    .map_or("–".into(), |v| format!("{v:.4}")),
                c.map_or("–".into(), |c| format!(
                    "{:.1} ({})",
                    c.wall_s,
                    c.time_to_best_s.map_or("–".into(), |v| format!("{v:.1}"))
                )),
                c.and_then(|c| c.cost)
                    .map_or("–".into(), |v| format!("{:.4}", row.ours / v)),
                row.ours / row.ffd
            );
            rows.push(row);
        }
    }
    println!(
        "\nsummary per size (geometric means; time ratio = CP-SAT wall time / our plan time):"
    );
    println!(
        "| pods | ours/LP bound | ours/FFD | ours/CP-SAT | ours < = > CP-SAT | CP-SAT/ours time | CP-SAT optimal |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &n in SIZES {
        let rs: Vec<&Row> = rows.iter().filter(|r| r.n == n).collect();
        let gm = |f: &dyn Fn(&Row) -> Option<f64>| {
            let v: Vec<f64> = rs.iter().filter_map(|r| f(r)).collect();
            if v.is_empty() {
                f64::NAN
            } else {
                (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp()
            }
        };
        let vs = |r: &Row| r.cpsat.as_ref().and_then(|c| c.cost).map(|c| r.ours / c);
        let (mut lt, mut eq, mut gt) = (0, 0, 0);
        for r in &rs {
            if let Some(q) = vs(r) {
                if q < 1.0 - 1e-6 {
                    lt += 1;
                } else if q > 1.0 + 1e-6 {
                    gt += 1;
                } else {
                    eq += 1;
                }
            }
        }
        let optimal = rs
            .iter()
            .filter(|r| r.cpsat.as_ref().is_some_and(|c| c.status == "OPTIMAL"))
            .count();
        println!(
            "| {n} | {:.4} | {:.4} | {:.4} | {lt} / {eq} / {gt} | {:.0}× | {optimal}/{} |",
            gm(&|r| Some(r.ours / r.bound)),
            gm(&|r| Some(r.ours / r.ffd)),
            gm(&vs),
            gm(&|r| r.cpsat.as_ref().map(|c| c.wall_s / r.ours_s)),
            rs.len()
        );
    }
}

fn scale(c: &mut Criterion) {
    let problem = scale_problem(5_000, 150_000, 42);
    let mut g = c.benchmark_group("packing_scale_5000_nodes_150000_pods");
    g.sample_size(10);
    for (name, mode) in [("remove", Mode::Remove), ("replace", Mode::Replace)] {
        let cfg = PackingConfig::default().with_mode(mode);
        g.bench_function(name, |b| {
            b.iter(|| black_box(GreedySolver.plan(black_box(&problem), &cfg).ok()))
        });
    }
    g.finish();
}

fn random_timing(c: &mut Criterion) {
    let mut g = c.benchmark_group("packing_random");
    for &n in SIZES {
        let problem = random_instance(n, 0).problem();
        let cfg = replace_cfg();
        g.bench_function(format!("ours_{n}_pods"), |b| {
            b.iter(|| black_box(GreedySolver.plan(black_box(&problem), &cfg).ok()))
        });
        g.bench_function(format!("ffd_{n}_pods"), |b| {
            b.iter(|| black_box(ffd(black_box(&problem))))
        });
    }
    g.finish();
}

fn main() {
    let parts = std::env::var("PACKING_PARTS").unwrap_or_else(|_| "openb,random,scale".into());
    let has = |p: &str| parts.split(',').any(|x| x.trim() == p);
    if has("openb") {
        openb();
    }
    if has("random") {
        random();
    }
    let mut c = Criterion::default().configure_from_args();
    if has("random") {
        random_timing(&mut c);
    }
    if has("scale") {
        scale(&mut c);
    }
    c.final_summary();
}
