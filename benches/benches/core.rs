//! Loader, quantity, demo and analysis benchmarks, each beside a baseline run in the same
//! process so the ratio is meaningful on any machine (see docs/benchmarks.md).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn quantities(c: &mut Criterion) {
    let inputs = [
        "100m",
        "1.5",
        "1Gi",
        "1e3",
        "129M",
        "31127824Ki",
        "144965184n",
        "7910m",
    ];
    let mut g = c.benchmark_group("quantity");
    g.bench_function("cloudoptim::Quantity::parse", |b| {
        b.iter(|| {
            for s in inputs {
                black_box(cloudoptim_core::quantity::Quantity::parse(black_box(s)).ok());
            }
        })
    });
    // baseline: parsing the same strings as plain floats (what a naive tool does, and gets wrong)
    g.bench_function("baseline::f64::parse", |b| {
        b.iter(|| {
            for s in inputs {
                black_box(
                    black_box(s)
                        .trim_end_matches(char::is_alphabetic)
                        .parse::<f64>()
                        .ok(),
                );
            }
        })
    });
    g.finish();
}

fn loading(c: &mut Criterion) {
    let pods = cloudoptim_tests::data("k8s/honeycomb-eks-pods.json");
    let text = std::fs::read_to_string(&pods).unwrap_or_default();
    let mut g = c.benchmark_group("load_pods_162KB");
    g.bench_function("cloudoptim::load_cluster", |b| {
        b.iter(|| black_box(cloudoptim_core::loader::load_cluster(black_box(&pods)).ok()))
    });
    // baseline: reading the file and parsing it into untyped JSON, nothing else
    g.bench_function("baseline::read+serde_json::Value", |b| {
        b.iter(|| {
            let t = std::fs::read_to_string(black_box(&pods)).unwrap_or_default();
            black_box(serde_json::from_str::<serde_json::Value>(&t).ok())
        })
    });
    g.finish();
    black_box(text);
}

fn analysis(c: &mut Criterion) {
    let mut g = c.benchmark_group("demo");
    g.sample_size(20);
    g.bench_function("demo_cluster", |b| {
        b.iter(|| black_box(cloudoptim_core::demo::demo_cluster()))
    });
    let cluster = cloudoptim_core::demo::demo_cluster();
    g.bench_function("analyze", |b| {
        b.iter(|| black_box(cloudoptim_core::analyze(black_box(&cluster), Default::default()).ok()))
    });
    g.finish();
}

criterion_group!(benches, quantities, loading, analysis);
criterion_main!(benches);
