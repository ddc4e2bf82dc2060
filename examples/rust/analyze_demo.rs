//! Analyze the embedded demo cluster and print the three largest savings.
//!
//! `cargo run -p cloudoptim-examples --example analyze_demo`

fn main() -> cloudoptim_core::Result<()> {
    let cluster = cloudoptim_core::demo::demo_cluster();
    let report = cloudoptim_core::analyze(&cluster, Default::default())?;
    println!(
        "{}: ${:.2}/month of ${:.2} can go",
        report.cluster.name, report.totals.monthly_savings_usd, report.costs.monthly_usd
    );
    for r in report.recommendations.iter().take(3) {
        println!("  {:>9.2}  {}", r.monthly_savings_usd, r.title);
    }
    Ok(())
}
