//! Scratch (not committed).
use std::time::Instant;
use cloudoptim_benches::packing::*;
use cloudoptim_core::packing::{GreedySolver, Mode, PackingConfig, Solver};
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("openb");
    let cfg = PackingConfig::default().with_mode(Mode::Replace);
    match what {
        "openb" => {
            let list = args.get(1).map(String::as_str).unwrap_or("default");
            let z: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
            let pods = read_openb(std::path::Path::new(&format!("/work/shared/data/alibaba-openb/openb_pod_list_{list}.csv"))).unwrap();
            let p = openb_problem(&pods, z);
            let t = Instant::now();
            let plan = GreedySolver.plan(&p, &cfg).unwrap();
            println!("openb {list} z={z}: {:.2} bound {:.2} gap {:.2}% unplaced {} in {:?}", plan.cost_after_hourly, plan.lower_bound_hourly, plan.gap_to_bound*100.0, plan.unplaced.len(), t.elapsed());
        }
        _ => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
            let seeds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
            for seed in 0..seeds {
                let inst = random_instance(n, seed);
                let p = inst.problem();
                let t = Instant::now();
                let plan = GreedySolver.plan(&p, &cfg).unwrap();
                println!("random {n} seed {seed}: {:.4} bound {:.4} gap {:.2}% ffd {:.4} in {:?}", plan.cost_after_hourly, plan.lower_bound_hourly, plan.gap_to_bound*100.0, ffd(&p).cost, t.elapsed());
            }
        }
    }
}
