//! Rightsizing quality on a real trace (see docs/rightsizing-quality.md): the Bitbrains GWA-T-12
//! "Rnd" trace (Shen, van Beek, Iosup, "Statistical Characterization of Business-Critical
//! Workloads Hosted in Cloud Datacenters", CCGrid 2015), 10 VMs sampled every 5 minutes for a
//! month, replayed as one container each.
//!
//! Each strategy sees the first week and recommends a CPU and memory request; the request is then
//! held over weeks 2–4, where the program measures the slack (request − usage) and the share of
//! 5-minute samples in which usage exceeded the request. Strategies:
//! - `default`: cloudoptim's default, `PercentileStrategy` (P95 of CPU from the log-linear
//!   histogram, memory peak × 1.15);
//! - `krr-simple`: KRR's "simple" strategy computed exactly as KRR does: the P95 of the raw
//!   samples with linear interpolation between closest ranks (`numpy.percentile`'s default and
//!   Prometheus' `quantile_over_time`), memory peak × 1.15;
//! - `vpa`: `VpaStrategy`, the VPA recommender's estimator constants (24 h half-life, P90 CPU,
//!   P90 of daily memory peaks, + 15 %);
//! - `provisioned`: the VM's own allocation, for reference.
//!
//! `cargo run --release -p cloudoptim-benches --bin bitbrains_replay [-- --train-days 7
//! --eval-days 21]`. The trace is read from the shared data folder
//! (`cloudoptim_tests::shared_data()`, `$CLOUDOPTIM_SHARED_DATA`); it is never copied. Prints
//! Markdown tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cloudoptim_core::analyzers::strategy::{PercentileStrategy, RightsizingStrategy, VpaStrategy};
use cloudoptim_core::model::ContainerUsage;

/// The trace's citation.
const CITATION: &str = "Shen, van Beek, Iosup, \"Statistical Characterization of Business-Critical Workloads Hosted in Cloud Datacenters\", CCGrid 2015";
/// The trace, relative to the shared data folder.
const TRACE: &str = "bitbrains/bitbrains-rnd-2013-7-10vms.csv";
const DAY: i64 = 86_400;
const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One VM of the trace as a container.
#[derive(Debug, Clone, Default)]
struct Vm {
    id: u32,
    /// CPU in cores (`cpu_usage_mhz / (capacity_mhz / cores)`), memory in bytes (KB × 1024).
    usage: ContainerUsage,
    /// Largest provisioned cores and memory bytes.
    cores: f64,
    mem_capacity: f64,
}

/// Parses the trace's CSV (header names, any column order); VMs in id order, samples in time
/// order.
fn parse(text: &str) -> Result<Vec<Vm>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or(format!("no column {name}"))
    };
    let [vm, ts, cores, cap_mhz, use_mhz, mem_cap, mem_use] = [
        "vm_id",
        "timestamp_s",
        "cpu_cores",
        "cpu_capacity_provisioned_mhz",
        "cpu_usage_mhz",
        "mem_capacity_provisioned_kb",
        "mem_usage_kb",
    ]
    .map(col);
    let (vm, ts, cores, cap_mhz, use_mhz, mem_cap, mem_use) =
        (vm?, ts?, cores?, cap_mhz?, use_mhz?, mem_cap?, mem_use?);
    let mut vms: BTreeMap<u32, Vm> = BTreeMap::new();
    for (n, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let num = |i: usize| -> Result<f64, String> {
            f.get(i)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .ok_or(format!("line {}: bad field {}", n + 2, header[i]))
        };
        let id = num(vm)? as u32;
        let t = num(ts)? as i64;
        let c = num(cores)?;
        let cap = num(cap_mhz)?;
        let v = vms.entry(id).or_insert_with(|| Vm {
            id,
            ..Vm::default()
        });
        let cpu = if cap > 0.0 {
            num(use_mhz)? / (cap / c)
        } else {
            0.0
        };
        v.usage.cpu.push((t, cpu));
        v.usage.memory.push((t, num(mem_use)? * 1024.0));
        v.cores = v.cores.max(c);
        v.mem_capacity = v.mem_capacity.max(num(mem_cap)? * 1024.0);
    }
    let mut vms: Vec<Vm> = vms.into_values().collect();
    for v in &mut vms {
        v.usage.cpu.sort_by_key(|s| s.0);
        v.usage.memory.sort_by_key(|s| s.0);
    }
    Ok(vms)
}

/// Exact percentile as `numpy.percentile` (default method) and Prometheus' `quantile_over_time`
/// compute it: rank `p/100 × (n − 1)`, linear interpolation between the two closest samples.
/// `p` in 0–100; NaN for no samples.
fn exact_percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut x = values.to_vec();
    x.sort_by(f64::total_cmp);
    let rank = (x.len() - 1) as f64 * (p / 100.0).clamp(0.0, 1.0);
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(x.len() - 1);
    x[lo] + (rank - lo as f64) * (x[hi] - x[lo])
}

/// KRR's "simple" strategy (robusta-dev/krr `robusta_krr/strategies/simple.py`, defaults since
/// 2024: `cpu_percentile` 95, `memory_buffer_percentage` 15), computed exactly.
fn krr_simple(u: &ContainerUsage) -> (f64, f64) {
    let cpu: Vec<f64> = u.cpu.iter().map(|s| s.1).collect();
    let peak = u.memory.iter().map(|s| s.1).fold(f64::NAN, f64::max);
    (exact_percentile(&cpu, 95.0), peak * 1.15)
}

/// The strategies compared, in table order.
const STRATEGIES: [&str; 4] = ["default", "krr-simple", "vpa", "provisioned"];

fn recommend(strategy: &str, vm: &Vm, train: &ContainerUsage, now: i64) -> (f64, f64) {
    match strategy {
        "default" => PercentileStrategy::default().recommend(&[train], now),
        "krr-simple" => krr_simple(train),
        "vpa" => VpaStrategy::default().recommend(&[train], now),
        _ => (vm.cores, vm.mem_capacity),
    }
}

/// Slack and overruns of a fixed request over an evaluation window (sums, so they merge).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Score {
    cpu_samples: u64,
    cpu_usage: f64,
    cpu_slack: f64,
    cpu_over: u64,
    mem_samples: u64,
    mem_usage: f64,
    mem_slack: f64,
    mem_over: u64,
}

impl Score {
    fn of(cpu_req: f64, mem_req: f64, eval: &ContainerUsage) -> Score {
        let mut s = Score::default();
        for &(_, u) in &eval.cpu {
            s.cpu_samples += 1;
            s.cpu_usage += u;
            s.cpu_slack += cpu_req - u;
            s.cpu_over += u64::from(u > cpu_req);
        }
        for &(_, u) in &eval.memory {
            s.mem_samples += 1;
            s.mem_usage += u;
            s.mem_slack += mem_req - u;
            s.mem_over += u64::from(u > mem_req);
        }
        s
    }

    fn add(&mut self, o: &Score) {
        self.cpu_samples += o.cpu_samples;
        self.cpu_usage += o.cpu_usage;
        self.cpu_slack += o.cpu_slack;
        self.cpu_over += o.cpu_over;
        self.mem_samples += o.mem_samples;
        self.mem_usage += o.mem_usage;
        self.mem_slack += o.mem_slack;
        self.mem_over += o.mem_over;
    }

    fn mean(sum: f64, n: u64) -> f64 {
        if n == 0 { f64::NAN } else { sum / n as f64 }
    }

    /// Mean CPU usage and slack (cores), slack as % of usage, % of samples over the request.
    fn cpu(&self) -> (f64, f64, f64, f64) {
        (
            Self::mean(self.cpu_usage, self.cpu_samples),
            Self::mean(self.cpu_slack, self.cpu_samples),
            pct(self.cpu_slack, self.cpu_usage),
            pct(self.cpu_over as f64, self.cpu_samples as f64),
        )
    }

    /// The same for memory (bytes).
    fn mem(&self) -> (f64, f64, f64, f64) {
        (
            Self::mean(self.mem_usage, self.mem_samples),
            Self::mean(self.mem_slack, self.mem_samples),
            pct(self.mem_slack, self.mem_usage),
            pct(self.mem_over as f64, self.mem_samples as f64),
        )
    }
}

fn pct(a: f64, b: f64) -> f64 {
    if b > 0.0 { 100.0 * a / b } else { f64::NAN }
}

/// One VM's result: its requests (cores, bytes) and scores, by strategy in `STRATEGIES` order.
#[derive(Debug, Clone)]
struct VmResult {
    id: u32,
    requests: [(f64, f64); 4],
    scores: [Score; 4],
}

fn window(u: &ContainerUsage, from: i64, to: i64) -> ContainerUsage {
    let keep = |s: &&(i64, f64)| s.0 >= from && s.0 < to;
    ContainerUsage {
        cpu: u.cpu.iter().filter(keep).copied().collect(),
        memory: u.memory.iter().filter(keep).copied().collect(),
    }
}

/// Trains on `[t0, t0 + train_days)` and scores on the `eval_days` after it, `t0` being the
/// first sample of the trace.
fn replay(vms: &[Vm], train_days: i64, eval_days: i64) -> Vec<VmResult> {
    let t0 = vms
        .iter()
        .filter_map(|v| v.usage.cpu.first().map(|s| s.0))
        .min()
        .unwrap_or(0);
    let train_end = t0 + train_days * DAY;
    let eval_end = train_end + eval_days * DAY;
    vms.iter()
        .map(|vm| {
            let train = window(&vm.usage, t0, train_end);
            let eval = window(&vm.usage, train_end, eval_end);
            let requests = STRATEGIES.map(|s| recommend(s, vm, &train, train_end));
            let scores = requests.map(|(c, m)| Score::of(c, m, &eval));
            VmResult {
                id: vm.id,
                requests,
                scores,
            }
        })
        .collect()
}

fn fmt_pct(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}%")
    } else {
        "–".into()
    }
}

fn fmt_pct_of_usage(x: f64) -> String {
    if !x.is_finite() {
        "–".into()
    } else if x.abs() >= 100_000.0 {
        ">1000×".into()
    } else if x.abs() >= 1000.0 {
        format!("{:.0}×", x / 100.0)
    } else {
        format!("{x:.0}%")
    }
}

/// The Markdown report.
fn report(results: &[VmResult], train_days: i64, eval_days: i64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Trace: {TRACE} ({CITATION}); {} VMs; trained on days 0–{train_days}, scored on days {train_days}–{}. CPU in millicores (m), memory in GiB; slack = request − usage, averaged over the scored 5-minute samples (negative when usage is above the request).\n",
        results.len(),
        train_days + eval_days
    );
    let _ = writeln!(out, "### All VMs\n");
    let _ = writeln!(
        out,
        "| strategy | CPU requested (Σ m) | mean CPU slack (m/VM) | CPU slack, % of usage | CPU samples above request | memory requested (Σ GiB) | mean memory slack (GiB/VM) | memory slack, % of usage | memory samples above request |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for (k, name) in STRATEGIES.iter().enumerate() {
        let mut total = Score::default();
        let (mut cpu_req, mut mem_req) = (0.0, 0.0);
        for r in results {
            total.add(&r.scores[k]);
            cpu_req += r.requests[k].0;
            mem_req += r.requests[k].1;
        }
        let (_, cs, cp, co) = total.cpu();
        let (_, ms, mp, mo) = total.mem();
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.1} | {} | {} | {:.2} | {:.3} | {} | {} |",
            cpu_req * 1e3,
            cs * 1e3,
            fmt_pct_of_usage(cp),
            fmt_pct(co),
            mem_req / GIB,
            ms / GIB,
            fmt_pct_of_usage(mp),
            fmt_pct(mo)
        );
    }
    let _ = writeln!(out, "\n### Per VM\n");
    let _ = writeln!(
        out,
        "| VM | strategy | CPU request (m) | mean CPU usage (m) | mean CPU slack (m) | CPU slack, % of usage | CPU samples above | memory request (GiB) | mean memory usage (GiB) | mean memory slack (GiB) | memory slack, % of usage | memory samples above |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in results {
        for (k, name) in STRATEGIES.iter().enumerate() {
            let (cu, cs, cp, co) = r.scores[k].cpu();
            let (mu, ms, mp, mo) = r.scores[k].mem();
            let _ = writeln!(
                out,
                "| {} | {name} | {:.1} | {:.1} | {:.1} | {} | {} | {:.3} | {:.3} | {:.3} | {} | {} |",
                r.id,
                r.requests[k].0 * 1e3,
                cu * 1e3,
                cs * 1e3,
                fmt_pct_of_usage(cp),
                fmt_pct(co),
                r.requests[k].1 / GIB,
                mu / GIB,
                ms / GIB,
                fmt_pct_of_usage(mp),
                fmt_pct(mo)
            );
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str, default: i64| -> i64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (train_days, eval_days) = (arg("--train-days", 7), arg("--eval-days", 21));
    let path = cloudoptim_tests::data(TRACE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let vms = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let results = replay(&vms, train_days, eval_days);
    print!("{}", report(&results, train_days, eval_days));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_percentile_is_numpys_linear_method() {
        // numpy.percentile([1, 2, 3, 4], 95) == 3.85; ([15, 20, 35, 40, 50], 40) == 29
        assert!((exact_percentile(&[4.0, 1.0, 3.0, 2.0], 95.0) - 3.85).abs() < 1e-12);
        assert!((exact_percentile(&[15.0, 20.0, 35.0, 40.0, 50.0], 40.0) - 29.0).abs() < 1e-12);
        assert_eq!(exact_percentile(&[7.0], 95.0), 7.0);
        assert_eq!(exact_percentile(&[1.0, 9.0], 100.0), 9.0);
        assert!(exact_percentile(&[], 95.0).is_nan());
    }

    #[test]
    fn replay_on_a_slice_of_the_trace_gives_finite_numbers() {
        let text = std::fs::read_to_string(cloudoptim_tests::data(TRACE)).expect("the trace");
        let mut vms = parse(&text).expect("parses");
        assert_eq!(vms.len(), 10);
        // a slice: three VMs, three days of training, three days scored
        vms.truncate(3);
        let results = replay(&vms, 3, 3);
        assert_eq!(results.len(), 3);
        for r in &results {
            for (k, s) in r.scores.iter().enumerate() {
                let (cpu_req, mem_req) = r.requests[k];
                assert!(cpu_req.is_finite() && cpu_req >= 0.0, "{r:?}");
                assert!(mem_req.is_finite() && mem_req > 0.0, "{r:?}");
                assert!(s.cpu_samples > 500 && s.mem_samples > 500, "{s:?}");
                let (cu, cs, _, co) = s.cpu();
                let (mu, ms, mp, mo) = s.mem();
                for x in [cu, cs, co, mu, ms, mp, mo] {
                    assert!(x.is_finite(), "{r:?}");
                }
                assert!((0.0..=100.0).contains(&co) && (0.0..=100.0).contains(&mo));
            }
            // the histogram's P95 (upper edge of a bucket 1/32 wide) is close to the exact one
            let (ours, krr) = (r.requests[0].0, r.requests[1].0);
            assert!((ours - krr).abs() <= 0.04 * krr + 1e-6, "{r:?}");
            // both memory requests are the same peak × 1.15
            assert!((r.requests[0].1 - r.requests[1].1).abs() <= 1e-6 * r.requests[1].1);
        }
        let md = report(&results, 3, 3);
        assert!(md.contains("| krr-simple |") && !md.contains("NaN"), "{md}");
    }
}
