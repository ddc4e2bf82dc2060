//! The IaC engine on a generated 20,000-file monorepo, side by side with `rg` over the same tree
//! in the same run (see docs/benchmarks.md, "IaC engine on a 20,000-file monorepo").
//!
//! Measured, page cache warm:
//! - `cloudoptim::Engine::patch(dry_run)`: scan + locate + edit in memory + verify;
//! - `phase::Repo::scan` and `phase::scan+locators` (scan, then every built-in locator's
//!   findings, without deciding, editing or verifying), to split the time;
//! - `baseline::rg -l instance_types`: `rg --no-messages -l instance_types <root>` as a
//!   subprocess (skipped, with a message, when `rg` is not installed).
//!
//! `CLOUDOPTIM_BENCH_FILES` changes the size of the tree (default 20000).
//! `CLOUDOPTIM_BENCH_DIR=/some/new/folder` generates the tree there and keeps it, with the change
//! beside it as `/some/new/folder.change.json`, for `hyperfine` runs of the CLI and `rg`.

use std::cell::RefCell;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cloudoptim_benches::generate_monorepo;
use cloudoptim_core::iac::{Engine, Finding, Outcome, Repo, builtin_locators};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

fn files() -> usize {
    std::env::var("CLOUDOPTIM_BENCH_FILES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000)
}

fn rg(root: &Path) -> Option<std::process::Output> {
    Command::new("rg")
        .args(["--no-messages", "-l", "instance_types"])
        .arg(root)
        .output()
        .ok()
}

fn median(v: &[Duration]) -> Option<Duration> {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied()
}

/// Times each iteration itself and keeps the times, so the summary's medians come from the
/// same runs criterion reports.
fn timed<T>(
    samples: &RefCell<Vec<Duration>>,
    mut f: impl FnMut() -> T,
) -> impl FnMut(u64) -> Duration {
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            let t = Instant::now();
            black_box(f());
            let d = t.elapsed();
            samples.borrow_mut().push(d);
            total += d;
        }
        total
    }
}

fn iac(c: &mut Criterion) {
    let (_tmp, root) = match std::env::var_os("CLOUDOPTIM_BENCH_DIR") {
        Some(d) => {
            let root = std::path::PathBuf::from(d);
            let empty = std::fs::read_dir(&root).map_or(true, |mut e| e.next().is_none());
            assert!(
                empty,
                "CLOUDOPTIM_BENCH_DIR={} must be a new or empty folder",
                root.display()
            );
            (None, root)
        }
        None => {
            let tmp = tempfile::tempdir().expect("a temporary folder");
            let root = tmp.path().to_path_buf();
            (Some(tmp), root)
        }
    };
    let t = Instant::now();
    let g = generate_monorepo(&root, files());
    if std::env::var_os("CLOUDOPTIM_BENCH_DIR").is_some() {
        let mut p = root.clone().into_os_string();
        p.push(".change.json");
        std::fs::write(&p, &g.change_json).expect("writing the change");
        eprintln!(
            "kept the tree; the change is in {}",
            std::path::Path::new(&p).display()
        );
    }
    eprintln!(
        "generated {} files ({:.1} MB; {} .gitignored; {} .tf/.tfvars/.hcl/.yaml/.yml outside it) in {:.1?} at {}",
        g.files,
        g.bytes as f64 / 1e6,
        g.gitignored_files,
        g.iac_files,
        t.elapsed(),
        root.display()
    );
    let change = g.change();
    let engine = Engine::default();

    // check the answer before timing it; the first run is also the cold-ish one
    let t = Instant::now();
    let report = engine.patch(&root, &change, true).expect("the engine runs");
    let first = t.elapsed();
    assert_eq!(report.outcome, Outcome::Patched, "{report:#?}");
    assert_eq!(report.files, vec![g.target_file.clone()]);
    let t = Instant::now();
    let repo = Repo::scan(&root).expect("scan");
    let scan_once = t.elapsed();
    let read_bytes: usize = repo.files.iter().map(|f| f.text.len()).sum();
    eprintln!(
        "engine: {:?} -> {} ({}); first run {first:.1?}; scan reads {} files ({:.1} MB) in {scan_once:.1?}",
        report.outcome,
        report.files.join(", "),
        report.explanation,
        repo.files.len(),
        read_bytes as f64 / 1e6,
    );
    drop(repo);

    let rg_ok = match rg(&root) {
        Some(out) if out.status.success() => {
            let hits = String::from_utf8_lossy(&out.stdout).lines().count();
            let searched = Command::new("rg")
                .arg("--files")
                .arg(&root)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
                .unwrap_or(0);
            let version = Command::new("rg")
                .arg("--version")
                .output()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .unwrap_or_default();
            eprintln!("rg ({version}): searches {searched} files, {hits} contain instance_types");
            true
        }
        Some(out) => {
            eprintln!(
                "rg ran but failed ({}): skipping the rg baseline",
                out.status
            );
            false
        }
        None => {
            eprintln!(
                "rg (ripgrep) is not installed: skipping the rg baseline; the engine is still measured. \
                 Install it (apt-get install ripgrep, brew install ripgrep, cargo install ripgrep) for the comparison."
            );
            false
        }
    };

    let engine_t = RefCell::new(Vec::new());
    let scan_t = RefCell::new(Vec::new());
    let locate_t = RefCell::new(Vec::new());
    let rg_t = RefCell::new(Vec::new());
    let mut grp = c.benchmark_group(format!("iac_monorepo_{}_files", g.files));
    grp.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    grp.bench_function("cloudoptim::Engine::patch(dry_run)", |b| {
        b.iter_custom(timed(&engine_t, || engine.patch(&root, &change, true)))
    });
    grp.bench_function("phase::Repo::scan", |b| {
        b.iter_custom(timed(&scan_t, || Repo::scan(&root)))
    });
    let locators = builtin_locators();
    grp.bench_function("phase::scan+locators", |b| {
        b.iter_custom(timed(&locate_t, || {
            let repo = Repo::scan(&root).expect("scan");
            locators
                .iter()
                .flat_map(|l| l.locate(&repo, &change))
                .collect::<Vec<Finding>>()
        }))
    });
    if rg_ok {
        grp.bench_function("baseline::rg -l instance_types", |b| {
            b.iter_custom(timed(&rg_t, || rg(&root)))
        });
    }
    grp.finish();

    let (Some(e), Some(s), Some(l)) = (
        median(&engine_t.borrow()),
        median(&scan_t.borrow()),
        median(&locate_t.borrow()),
    ) else {
        return;
    };
    eprintln!("\nsummary ({} files, medians of every timed run):", g.files);
    eprintln!("  engine patch (dry run)   {e:>10.1?}");
    eprintln!("    scan                   {s:>10.1?}");
    eprintln!("    parse + locate         {:>10.1?}", l.saturating_sub(s));
    eprintln!(
        "    decide + edit + verify {:>10.1?}  (verify re-parses and re-locates the edited repository)",
        e.saturating_sub(l)
    );
    match median(&rg_t.borrow()) {
        Some(r) => {
            let ratio = e.as_secs_f64() / r.as_secs_f64();
            eprintln!("  rg -l instance_types     {r:>10.1?}");
            eprintln!(
                "  ratio engine / rg        {ratio:>9.1}x  (target <= 2x: {})",
                if ratio <= 2.0 { "met" } else { "NOT met" }
            );
        }
        None => eprintln!("  rg baseline skipped (rg not installed)"),
    }
    if rg_ok {
        // engine and rg alternating, so both see the same load from anything else on the machine
        let (mut es, mut rs) = (Vec::new(), Vec::new());
        for _ in 0..INTERLEAVED {
            let t = Instant::now();
            black_box(engine.patch(&root, &change, true).ok());
            es.push(t.elapsed());
            let t = Instant::now();
            black_box(rg(&root));
            rs.push(t.elapsed());
        }
        if let (Some(e), Some(r)) = (median(&es), median(&rs)) {
            eprintln!(
                "  interleaved, {INTERLEAVED} pairs: engine {e:.1?}, rg {r:.1?}, ratio {:.1}x",
                e.as_secs_f64() / r.as_secs_f64()
            );
        }
    }
}

/// Engine/rg pairs run alternately after the criterion group.
const INTERLEAVED: usize = 15;

criterion_group!(benches, iac);
criterion_main!(benches);
