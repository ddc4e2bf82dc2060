//! Analyze a kubectl dump with optional AWS CLI output and Prometheus exports.
//!
//! ```text
//! kubectl get nodes,pods,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs,hpa,pvc,pv,pdb,namespaces -A -o json > cluster.json
//! aws ec2 describe-volumes > aws/volumes.json
//! cargo run -p cloudoptim-examples --example analyze_files -- cluster.json aws/
//! ```

use std::path::PathBuf;

use cloudoptim_core::loader::LoadOptions;
use cloudoptim_core::pipeline::{self, PricingOptions};

fn main() -> cloudoptim_core::Result<()> {
    let mut args = std::env::args().skip(1).map(PathBuf::from);
    let Some(cluster) = args.next() else {
        eprintln!("usage: analyze_files CLUSTER.json [AWS_PATH...]");
        std::process::exit(2);
    };
    let aws: Vec<PathBuf> = args.collect();
    let loaded = pipeline::load_snapshot(&cluster, &aws, &[], &LoadOptions::default())?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    let report = pipeline::analyze_with(&loaded.cluster, &PricingOptions::default(), None)?;
    print!("{}", report.to_table());
    Ok(())
}
