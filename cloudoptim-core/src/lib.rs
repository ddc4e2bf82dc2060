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

pub mod adapters;
pub mod analyzers;
pub mod catalog;
pub mod cost;
pub mod demo;
pub mod executor;
pub mod gitops;
pub mod iac;
pub mod loader;
pub mod model;
pub mod packing;
pub mod pipeline;
pub mod quantity;
pub mod recommend;
pub mod report;
pub mod source;
pub mod spot;

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
    /// Consolidation settings were invalid or the LP failed.
    #[error(transparent)]
    Packing(#[from] packing::PackingError),
    /// The IaC engine could not run or could not verify its edit.
    #[error(transparent)]
    Iac(#[from] iac::IacError),
    /// An executor refused or failed an action.
    #[error(transparent)]
    Exec(#[from] executor::ExecError),
    /// A live source (the Kubernetes API) could not be read.
    #[error(transparent)]
    Source(#[from] source::SourceError),
    /// The interruption queue could not be read or written.
    #[cfg(feature = "sqs")]
    #[error(transparent)]
    Queue(#[from] adapters::sqs::SqsError),
    /// A GitOps step (git, the pull request API) failed.
    #[error(transparent)]
    GitOps(#[from] gitops::GitOpsError),
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

impl Error {
    /// A stable, machine-readable code for the failure kind, shared by the Python exceptions
    /// and the Node error codes: `io`, `syntax`, `field`, `unrecognized`,
    /// `symlink_outside_tree`, `empty_input`, `catalog`, `unknown_instance_type`,
    /// `unknown_analyzer`, `analyzer_config`, `analyzer_failed`, `quantity`, `invalid_change`,
    pub fn code(&self) -> &'static str {
        use analyzers::AnalyzeError as A;
        use catalog::CatalogError as C;
        use loader::LoadError as L;
        match self {
            Error::Load(L::Io { .. }) => "io",
            Error::Load(L::Syntax { .. }) => "syntax",
            Error::Load(L::Field { .. }) => "field",
            Error::Load(L::Unrecognized { .. }) => "unrecognized",
            Error::Load(L::SymlinkOutsideTree { .. }) => "symlink_outside_tree",
            Error::Load(L::Empty { .. }) => "empty_input",
            Error::Catalog(C::UnknownInstanceType(_)) => "unknown_instance_type",
            Error::Catalog(_) => "catalog",
            Error::Analyze(A::UnknownAnalyzer { .. }) => "unknown_analyzer",
            Error::Analyze(A::Config { .. }) => "analyzer_config",
            Error::Analyze(_) => "analyzer_failed",
            Error::Quantity(_) => "quantity",
            Error::Packing(_) => "packing",
            Error::Iac(iac::IacError::InvalidChange(_)) => "invalid_change",
            Error::Iac(iac::IacError::Io { .. }) => "io",
            Error::Iac(iac::IacError::NotADirectory(_)) => "not_a_directory",
            Error::Iac(iac::IacError::Verification { .. }) => "verification",
            Error::Exec(e) => e.code(),
            Error::Source(e) => e.code(),
            #[cfg(feature = "sqs")]
            Error::Queue(_) => "queue",
            Error::GitOps(g) => match g {
                gitops::GitOpsError::Config(_) => "gitops_config",
                gitops::GitOpsError::Git { .. } => "git",
                gitops::GitOpsError::BranchModified { .. } => "branch_modified",
                gitops::GitOpsError::Auth(_) => "auth",
                gitops::GitOpsError::RateLimited { .. } => "rate_limited",
                gitops::GitOpsError::Api { .. } => "forge_api",
            },
        }
    }

    /// Structured details (`path`, `object`, `field`, `line`, `column`, `name`) for bindings to
    /// attach to their exceptions. `name` is the instance type or the analyzer (unknown,
    /// misconfigured or failed).
    pub fn details(&self) -> Vec<(&'static str, String)> {
        use loader::LoadError as L;
        let mut d = Vec::new();
        match self {
            Error::Load(L::Io { path, .. })
            | Error::Load(L::Unrecognized { path, .. })
            | Error::Load(L::Empty { path }) => d.push(("path", path.display().to_string())),
            Error::Load(L::Syntax {
                path, line, column, ..
            }) => {
                d.push(("path", path.display().to_string()));
                d.push(("line", line.to_string()));
                d.push(("column", column.to_string()));
            }
            Error::Load(L::Field {
                path,
                object,
                field,
                ..
            }) => {
                d.push(("path", path.display().to_string()));
                d.push(("object", object.clone()));
                d.push(("field", field.clone()));
            }
            Error::Load(L::SymlinkOutsideTree { path, .. }) => {
                d.push(("path", path.display().to_string()))
            }
            Error::Catalog(catalog::CatalogError::UnknownInstanceType(n)) => {
                d.push(("name", n.clone()))
            }
            Error::Analyze(analyzers::AnalyzeError::UnknownAnalyzer { name, .. }) => {
                d.push(("name", name.clone()))
            }
            Error::Analyze(
                analyzers::AnalyzeError::Config { analyzer, .. }
                | analyzers::AnalyzeError::Failed { analyzer, .. },
            ) => d.push(("name", analyzer.clone())),
            _ => {}
        }
        d
    }
}

/// The Rust walkthrough in `docs/rust.md`, whose examples run as doctests so the page cannot
/// drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../docs/rust.md")]
pub struct RustWalkthrough;
