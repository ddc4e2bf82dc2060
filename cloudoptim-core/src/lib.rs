//! # cloudoptim-core
//!
//! Cuts Kubernetes cost on AWS EKS. This crate holds the pure logic: the cluster model and its
//! loaders, the EC2 instance catalog and cost model, the analyzers and the report. It does no
//! network I/O; live adapters (Kubernetes API, AWS, Git, GitHub) sit behind cargo features.
//!
//! ```
//! let cluster = cloudoptim_core::demo::demo_cluster();
//! let report = cloudoptim_core::analyze(&cluster, Default::default()).unwrap();
//! assert!(report.totals.monthly_savings_usd > 0.0);
//! println!("{}", report.to_table());
//! ```
//!
//! Offline input in the formats users already have:
//!
//! ```no_run
//! let mut cluster = cloudoptim_core::loader::load_cluster("cluster.json")?;
//! cluster.aws = cloudoptim_core::loader::load_aws("aws/")?;
//! cluster.usage = cloudoptim_core::loader::load_usage("prometheus/")?;
//! let report = cloudoptim_core::analyze(&cluster, Default::default())?;
//! # Ok::<(), cloudoptim_core::Error>(())
//! ```
#![deny(missing_docs)]

pub mod analyzers;
pub mod catalog;
pub mod cost;
pub mod demo;
pub mod loader;
pub mod model;
pub mod quantity;
pub mod recommend;
pub mod report;

pub use analyzers::{Analyzer, Context};
pub use model::Cluster;
pub use recommend::{Recommendation, RecommendationKind};
pub use report::{AnalyzeOptions, Report, analyze};

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Loading input failed.
    #[error(transparent)]
    Load(#[from] loader::LoadError),
    /// Catalog or price data was rejected.
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    /// An analyzer failed.
    #[error(transparent)]
    Analyze(#[from] analyzers::AnalyzeError),
    /// A quantity was malformed.
    #[error(transparent)]
    Quantity(#[from] quantity::QuantityError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
