//! Rightsizing throughput (see docs/benchmarks.md, "Rightsizing throughput").
//!
//! 10,000 containers × 7 days of 30-second CPU samples (20,160 a container, 201.6 M in all),
//! each with a diurnal shape, weekend dip, noise and short bursts, generated deterministically.
//! One thread (one core) runs the rightsizing core path on every container: a fresh
//! [`Histogram`], `add_all` of the samples, `percentile(0.95)`, which is what
//! [`PercentileStrategy`] does for CPU. Only that is timed: the samples are generated one day at
//! a time into a reusable buffer before the clock starts, so neither generation time nor the
//! buffer grows with the samples per container, and peak memory (`VmHWM`) is read before and
//! after the pass.
//!
//! In the same run, for context and as the baseline:
//! - the whole `PercentileStrategy::recommend` on a `ContainerUsage` (CPU and memory series as
//!   `(unix s, value)` pairs, the model's layout);
//! - an exact P95 in Rust (`select_nth_unstable` and linear interpolation, what
//!   `numpy.percentile` computes) on the same samples, which also gives the histogram's error;
//! - `numpy.percentile(x, 95)` per container on data of the same shape and size, by
//!   `benches/rightsizing/numpy_baseline.py` in a subprocess with the virtualenv
//!   `$HOME/.cache/cloudoptim-bench-venv` (created and given numpy when missing; skipped with a
//!   message when that fails; `CLOUDOPTIM_BENCH_PYTHON` overrides the interpreter). The
//!   subprocess runs without `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE`, which are set on some
//!   machines and slow numpy down.
//!
//! `cargo bench -p cloudoptim-benches --bench rightsizing`. `RIGHTSIZING_CONTAINERS` (default
//! 10,000), `RIGHTSIZING_DAYS` (default 7) and `RIGHTSIZING_RUNS` (histogram passes, median
//! reported; default 3) size it. Without `--bench` (under `cargo test --benches`) it runs a
//! 20-container smoke test without Python.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cloudoptim_core::analyzers::strategy::{Histogram, PercentileStrategy, RightsizingStrategy};
use cloudoptim_core::model::ContainerUsage;

/// Samples a day at one every 30 seconds.
const PER_DAY: usize = 2_880;
/// Seconds between samples.
const STEP_S: i64 = 30;
/// Start of the generated history (2024-01-01T00:00:00Z, a Monday).
const T0: i64 = 1_704_067_200;

fn env_num<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: small, fast and the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5EED_C0FF_EE00_0000)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// About a standard normal (Irwin–Hall of four 16-bit uniforms, scaled to unit variance).
    fn normal(&mut self) -> f64 {
        let r = self.next();
        let s: u64 = (0..4).map(|i| (r >> (16 * i)) & 0xffff).sum();
        (s as f64 / 65_536.0 - 2.0) * 3f64.sqrt()
    }
}

/// One container's usage pattern.
struct Container {
    rng: Rng,
    /// Mean CPU, cores (log-uniform 0.05–4).
    base: f64,
    /// Daytime swing relative to the base.
    amp: f64,
    /// Samples by which the daily peak is shifted (time zones, batch windows).
    phase: usize,
    /// Relative noise (standard deviation).
    noise: f64,
    /// Weekend level relative to weekdays.
    weekend: f64,
    /// Samples left in the current burst and its factor.
    burst: (u32, f64),
    /// Memory: base bytes and growth over a day.
    mem_base: f64,
    mem_growth: f64,
}

impl Container {
    fn new(i: usize) -> Self {
        let mut rng = Rng::new(i as u64);
        Container {
            base: 0.05 * 80f64.powf(rng.unit()),
            amp: rng.range(0.2, 0.9),
            phase: (rng.next() % PER_DAY as u64) as usize,
            noise: rng.range(0.05, 0.25),
            weekend: rng.range(0.5, 1.0),
            burst: (0, 1.0),
            mem_base: 128.0 * 1024.0 * 1024.0 * 64f64.powf(rng.unit()),
            mem_growth: rng.range(0.0, 0.3),
            rng,
        }
    }

    /// Fills `out` (one day, `PER_DAY` samples) with CPU cores for day `day`.
    fn cpu_day(&mut self, day: usize, diurnal: &[f64], out: &mut [f64]) {
        let level = if day % 7 >= 5 { self.weekend } else { 1.0 };
        for (k, o) in out.iter_mut().enumerate() {
            if self.burst.0 == 0 && self.rng.next().is_multiple_of(2_000) {
                // a burst of 1–10 minutes at 1.5–4×
                self.burst = (2 + (self.rng.next() % 19) as u32, self.rng.range(1.5, 4.0));
            }
            let spike = if self.burst.0 > 0 {
                self.burst.0 -= 1;
                self.burst.1
            } else {
                1.0
            };
            let shape = diurnal[(k + PER_DAY - self.phase) % PER_DAY];
            let v = self.base
                * level
                * (1.0 + self.amp * shape)
                * (1.0 + self.noise * self.rng.normal())
                * spike;
            *o = v.max(0.0);
        }
    }

    /// Memory bytes of sample `k` of day `day`: a daily sawtooth (growth, restart at midnight).
    fn mem(&mut self, k: usize) -> f64 {
        let frac = k as f64 / PER_DAY as f64;
        self.mem_base * (1.0 + self.mem_growth * frac) * (1.0 + 0.01 * self.rng.normal())
    }
}

/// A business-day curve: a daytime bump, a shallower night trough, in [-0.3, 1].
fn diurnal_table() -> Vec<f64> {
    (0..PER_DAY)
        .map(|k| {
            let s = (2.0 * std::f64::consts::PI * k as f64 / PER_DAY as f64).sin();
            if s > 0.0 { s } else { 0.3 * s }
        })
        .collect()
}

/// Exact percentile with linear interpolation between closest ranks (numpy's default), `p` in
/// 0–100; reorders `x`.
fn exact_percentile(x: &mut [f64], p: f64) -> f64 {
    let n = x.len();
    if n == 0 {
        return 0.0;
    }
    let h = (n - 1) as f64 * p / 100.0;
    let lo = h.floor() as usize;
    let (_, &mut a, right) = x.select_nth_unstable_by(lo, f64::total_cmp);
    if lo + 1 >= n {
        return a;
    }
    let b = right.iter().copied().fold(f64::INFINITY, f64::min);
    a + (h - lo as f64) * (b - a)
}

/// This process's peak resident memory (`VmHWM`), KiB; `None` off Linux.
fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// This thread's time on a CPU and waiting for one (`/proc/thread-self/schedstat`), ns; `None`
/// off Linux. A share of waiting well above zero means other processes took the core.
fn sched_ns() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut f = s.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some((f.next()??, f.next()??))
}

/// The share of `[a, b]` this thread spent waiting for a CPU, %.
fn waiting_pct(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> f64 {
    match (a, b) {
        (Some((r0, w0)), Some((r1, w1))) => {
            let (run, wait) = (r1.saturating_sub(r0), w1.saturating_sub(w0));
            100.0 * wait as f64 / (run + wait).max(1) as f64
        }
        _ => f64::NAN,
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One histogram pass over every container: the time in the rightsizing path; the P95 of each
/// container goes to `p95` (cleared first; allocate it before measuring memory).
fn histogram_pass(
    containers: usize,
    days: usize,
    diurnal: &[f64],
    day_buf: &mut [f64],
    p95: &mut Vec<f64>,
) -> Duration {
    p95.clear();
    let mut timed = Duration::ZERO;
    for i in 0..containers {
        let mut c = Container::new(i);
        let t = Instant::now();
        let mut h = Histogram::default();
        timed += t.elapsed();
        for day in 0..days {
            c.cpu_day(day, diurnal, day_buf);
            let t = Instant::now();
            h.add_all(black_box(&*day_buf).iter().copied());
            timed += t.elapsed();
        }
        let t = Instant::now();
        let p = h.percentile(0.95);
        timed += t.elapsed();
        p95.push(black_box(p));
    }
    timed
}

/// `PercentileStrategy::recommend` on the model's layout: time and samples (CPU + memory).
fn strategy_pass(containers: usize, days: usize, diurnal: &[f64]) -> (Duration, u64) {
    let mut day_buf = vec![0.0; PER_DAY];
    let mut u = ContainerUsage::default();
    let strategy = PercentileStrategy::default();
    let mut timed = Duration::ZERO;
    let mut samples = 0u64;
    for i in 0..containers {
        let mut c = Container::new(i);
        u.cpu.clear();
        u.memory.clear();
        for day in 0..days {
            c.cpu_day(day, diurnal, &mut day_buf);
            for (k, &v) in day_buf.iter().enumerate() {
                let ts = T0 + ((day * PER_DAY + k) as i64) * STEP_S;
                u.cpu.push((ts, v));
                u.memory.push((ts, c.mem(k)));
            }
        }
        let now = T0 + (days * PER_DAY) as i64 * STEP_S;
        let t = Instant::now();
        black_box(strategy.recommend(&[black_box(&u)], now));
        timed += t.elapsed();
        samples += (u.cpu.len() + u.memory.len()) as u64;
    }
    (timed, samples)
}

/// Exact P95 in Rust on the whole series: time, and the histogram's relative error against it
/// (lowest, highest and mean over containers).
fn exact_pass(
    containers: usize,
    days: usize,
    diurnal: &[f64],
    p95: &[f64],
) -> (Duration, [f64; 3]) {
    let mut series = vec![0.0; PER_DAY * days];
    let mut timed = Duration::ZERO;
    let (mut min_err, mut max_err, mut sum_err) = (f64::INFINITY, f64::NEG_INFINITY, 0f64);
    for (i, &hist) in p95.iter().enumerate().take(containers) {
        let mut c = Container::new(i);
        for (day, chunk) in series.chunks_exact_mut(PER_DAY).enumerate() {
            c.cpu_day(day, diurnal, chunk);
        }
        let t = Instant::now();
        let exact = exact_percentile(black_box(&mut series), 95.0);
        timed += t.elapsed();
        let err = if exact > 0.0 { hist / exact - 1.0 } else { 0.0 };
        min_err = min_err.min(err);
        max_err = max_err.max(err);
        sum_err += err;
    }
    (
        timed,
        [min_err, max_err, sum_err / containers.max(1) as f64],
    )
}

fn rate(samples: u64, d: Duration) -> f64 {
    samples as f64 / d.as_secs_f64().max(1e-12)
}

/// The Python of the numpy baseline, with numpy importable, or why not.
fn numpy_python() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CLOUDOPTIM_BENCH_PYTHON") {
        return Ok(p.into());
    }
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    let venv = Path::new(&home).join(".cache/cloudoptim-bench-venv");
    let py = venv.join("bin/python");
    let has_numpy = |py: &Path| {
        Command::new(py)
            .args(["-c", "import numpy"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !py.is_file() {
        println!("creating the virtualenv {}", venv.display());
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Err(format!("python3 -m venv {} failed", venv.display()));
        }
    }
    if !has_numpy(&py) {
        println!("installing numpy into {}", venv.display());
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "numpy"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !has_numpy(&py) {
            return Err(format!("{} cannot import numpy", py.display()));
        }
    }
    Ok(py)
}

/// Runs the numpy baseline; its JSON line, or why it did not run.
fn numpy_baseline(containers: usize, samples: usize) -> Result<serde_json::Value, String> {
    let py = numpy_python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("rightsizing/numpy_baseline.py");
    let out = Command::new(&py)
        .arg(&script)
        .args(["--containers", &containers.to_string()])
        .args(["--samples", &samples.to_string()])
        .args(["--per-day", &PER_DAY.to_string()])
        // set on some machines, and they slow numpy down: this subprocess only
        .env_remove("OPENBLAS_CORETYPE")
        .env_remove("OPENBLAS_L2_SIZE")
        .output()
        .map_err(|e| format!("{}: {e}", py.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("bad output {line:?}: {e}"))
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let containers: usize = env_num("RIGHTSIZING_CONTAINERS", if bench { 10_000 } else { 20 });
    let days: usize = env_num("RIGHTSIZING_DAYS", 7);
    let runs: usize = env_num("RIGHTSIZING_RUNS", if bench { 3 } else { 1 });
    let per_container = PER_DAY * days;
    let samples = (containers * per_container) as u64;
    let diurnal = diurnal_table();
    println!(
        "\n== rightsizing throughput: {containers} containers × {days} days × {PER_DAY}/day = {per_container} samples a container, {:.1} M samples, one thread",
        samples as f64 / 1e6
    );

    // 1. the histogram path (the headline), `runs` times; every buffer is allocated and
    // touched by a one-container warm-up before the first memory reading
    let mut day_buf = vec![0.0; PER_DAY];
    let mut p95 = vec![1.0; containers];
    let mut times = Vec::with_capacity(runs.max(1));
    histogram_pass(1, days, &diurnal, &mut day_buf, &mut p95);
    let rss_before = peak_rss_kib().unwrap_or(0);
    let sched_before = sched_ns();
    for _ in 0..runs.max(1) {
        times.push(histogram_pass(
            containers,
            days,
            &diurnal,
            &mut day_buf,
            &mut p95,
        ));
    }
    let rss_after = peak_rss_kib().unwrap_or(0);
    let waited = waiting_pct(sched_before, sched_ns());
    times.sort();
    let median = times[times.len() / 2];
    let hist_rate = rate(samples, median);
    println!(
        "Histogram add_all + percentile(0.95): median {:.3} s of {} runs (min {:.3} s, max {:.3} s) = {:.1} M samples/s/core",
        median.as_secs_f64(),
        times.len(),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64(),
        hist_rate / 1e6
    );
    println!(
        "  waiting for a CPU (other processes): {waited:.1}% of the passes (generation included)"
    );
    println!(
        "  peak RSS (VmHWM): {:.2} MiB before, {:.2} MiB after ({:+} KiB over {:.0} M samples)",
        mib(rss_before),
        mib(rss_after),
        rss_after as i64 - rss_before as i64,
        samples as f64 / 1e6
    );
    let target = 100e6;
    if bench {
        println!(
            "  target ≥ 100 M samples/s/core: {} ({:.2}×)",
            if hist_rate >= target { "met" } else { "MISSED" },
            hist_rate / target
        );
    }

    // 2. the whole strategy on the model's layout
    let (t, n) = strategy_pass(containers, days, &diurnal);
    println!(
        "PercentileStrategy::recommend (CPU P95 + memory peak, (unix s, value) pairs): {:.3} s for {:.1} M samples = {:.1} M samples/s/core",
        t.as_secs_f64(),
        n as f64 / 1e6,
        rate(n, t) / 1e6
    );

    // 3. exact P95 in Rust, and the histogram's error
    let (t, [min_err, max_err, mean_err]) = exact_pass(containers, days, &diurnal, &p95);
    println!(
        "exact P95 in Rust (select_nth_unstable + linear interpolation): {:.3} s = {:.1} M samples/s/core",
        t.as_secs_f64(),
        rate(samples, t) / 1e6
    );
    println!(
        "  histogram P95 vs exact: mean {:+.2}%, from {:+.2}% to {:+.2}% (the upper edge of a bucket 1/32 wide)",
        mean_err * 100.0,
        min_err * 100.0,
        max_err * 100.0
    );

    // 4. numpy
    if !bench {
        println!("numpy baseline: skipped (smoke run; use cargo bench)");
        return;
    }
    match numpy_baseline(containers, per_container) {
        Ok(v) => {
            let np_rate = v["samples_per_s"].as_f64().unwrap_or(f64::NAN);
            println!(
                "numpy {} percentile(x, 95) per container: {:.3} s = {:.1} M samples/s/core (waiting for a CPU {:.1}% of the loop); peak RSS (ru_maxrss) {:.1} MiB before, {:.1} MiB after",
                v["numpy"].as_str().unwrap_or("?"),
                v["timed_s"].as_f64().unwrap_or(f64::NAN),
                np_rate / 1e6,
                v["waiting_pct"].as_f64().unwrap_or(f64::NAN),
                v["maxrss_kib_before"].as_f64().unwrap_or(f64::NAN) / 1024.0,
                v["maxrss_kib_after"].as_f64().unwrap_or(f64::NAN) / 1024.0,
            );
            let ratio = hist_rate / np_rate;
            println!(
                "  histogram / numpy: {ratio:.2}× — target ≥ 3×: {}",
                if ratio >= 3.0 { "met" } else { "MISSED" }
            );
        }
        Err(e) => println!("numpy baseline: skipped ({e})"),
    }
}
