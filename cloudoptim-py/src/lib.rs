//! Python bindings of cloudoptim: the `cloudoptim._native` extension module.
//!
//! This crate only converts between Python and `cloudoptim-core`: every analysis, loading and
//! formatting decision is made in the core crate (most calls go through
//! `cloudoptim_core::pipeline`, the same entry points the command line uses). Public Python
//! names are re-exported by `python/cloudoptim/__init__.py`; their types are described in
//! `python/cloudoptim/_native.pyi`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use cloudoptim_core::analyzers::{AnalyzeError, Analyzer, Context};
use cloudoptim_core::pipeline::{self, PricingOptions};
use cloudoptim_core::quantity::Quantity;
use cloudoptim_core::{analyzers, demo, iac, packing, report};
use pyo3::exceptions::{
    PyException, PyLookupError, PyNotADirectoryError, PyRuntimeError, PyTypeError, PyUserWarning,
    PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use pyo3::{IntoPyObjectExt, PyTypeInfo};

mod live;
mod plugins;

// ---------------------------------------------------------------------------------------------
// Exceptions
// ---------------------------------------------------------------------------------------------

pyo3::create_exception!(
    cloudoptim,
    CloudOptimError,
    PyException,
    "Base class of every error cloudoptim raises. `code` is the stable machine-readable kind \
     (`io`, `syntax`, `field`, …) shared with the Node binding."
);
pyo3::create_exception!(
    cloudoptim,
    InputError,
    CloudOptimError,
    "An input file or folder could not be used (code `io` when it could not be read). \
     `path` names it."
);
pyo3::create_exception!(
    cloudoptim,
    ParseError,
    InputError,
    "An input file is not valid JSON or YAML (code `syntax`); `line` and `column` are 1-based \
     (0 when unknown)."
);
pyo3::create_exception!(
    cloudoptim,
    FieldError,
    InputError,
    "An object in an input file has a field with a wrong type or value (code `field`); \
     `object` is `Kind namespace/name` and `field` the field path."
);
pyo3::create_exception!(
    cloudoptim,
    UnrecognizedInputError,
    InputError,
    "An input is none of the formats cloudoptim reads (code `unrecognized`), or holds nothing \
     loadable (code `empty_input`)."
);
pyo3::create_exception!(
    cloudoptim,
    UnsafePathError,
    InputError,
    "A symbolic link points outside the folder being loaded (code `symlink_outside_tree`)."
);
pyo3::create_exception!(
    cloudoptim,
    CatalogError,
    CloudOptimError,
    "Catalog or price data was rejected (code `catalog`)."
);
pyo3::create_exception!(
    cloudoptim,
    AnalyzerError,
    CloudOptimError,
    "An analyzer is unknown (code `unknown_analyzer`), misconfigured (`analyzer_config`) or \
     failed (`analyzer_failed`; for an analyzer written in Python, the message holds its \
     traceback and `__cause__` is the exception it raised); `name` is the analyzer."
);

pyo3::create_exception!(
    cloudoptim,
    VerificationError,
    CloudOptimError,
    "An IaC edit did not verify (code `verification`): re-reading the edited files did not give \
     the requested values, so nothing was written."
);

pyo3::create_exception!(
    cloudoptim,
    GitOpsError,
    CloudOptimError,
    "A GitOps step of `propose()` failed: bad options (code `gitops_config`), a git operation \
     (`git`), refused credentials (`auth`), a rate limit longer than allowed (`rate_limited`) or \
     another API error (`forge_api`). The message never holds the token."
);

pyo3::create_exception!(
    cloudoptim,
    PluginError,
    CloudOptimError,
    "A plug-in written in Python (a spot risk scorer or an IaC locator) raised or returned \
     something unusable (code `plugin`): `plugin` names it, `field` is the key of its answer \
     that was wrong (None when it raised or returned the wrong type), and `__cause__` is the \
     exception it raised, if any."
);

pyo3::create_exception!(
    cloudoptim,
    LiveSourceError,
    CloudOptimError,
    "A live source could not be read: the Kubernetes API (codes `source_config`, \
     `unauthorized`, `forbidden`, `source_api`, `timeout`, `transport`), Prometheus \
     (`prometheus_*`) or AWS (`aws_*`)."
);

const UNKNOWN_INSTANCE_TYPE_DOC: &str =
    "An instance type is not in the catalog (code `unknown_instance_type`); `name` is the type.";
const QUANTITY_ERROR_DOC: &str =
    "A Kubernetes quantity string is malformed or out of range (code `quantity`).";
const INVALID_CHANGE_DOC: &str = "An IaC change is malformed (code `invalid_change`): an unknown \
     key, a value of the wrong type, an unknown instance type, a setting that does not apply to \
     the target. Raised before any file is read.";
const REPOSITORY_ERROR_DOC: &str =
    "The repository given to `patch()` or `locate()` is not a directory (code `not_a_directory`).";

/// `UnknownInstanceTypeError(CatalogError, LookupError)`, created on first use.
static UNKNOWN_INSTANCE_TYPE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
/// `QuantityError(CloudOptimError, ValueError)`, created on first use.
static QUANTITY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
/// `InvalidChangeError(CloudOptimError, ValueError)`, created on first use.
static INVALID_CHANGE_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
/// `RepositoryError(CloudOptimError, NotADirectoryError)`, created on first use.
static REPOSITORY_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Creates an exception class with two bases (which `create_exception!` cannot), as
/// `type(name, bases, {...})` does in Python.
fn two_base_exception(
    py: Python<'_>,
    name: &str,
    doc: &str,
    bases: (Bound<'_, PyType>, Bound<'_, PyType>),
) -> PyResult<Py<PyType>> {
    let dict = PyDict::new(py);
    dict.set_item("__module__", "cloudoptim")?;
    dict.set_item("__doc__", doc)?;
    let ty = py.get_type::<PyType>().call1((name, bases, dict))?;
    Ok(ty.cast_into::<PyType>()?.unbind())
}

fn unknown_instance_type_error(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    UNKNOWN_INSTANCE_TYPE_ERROR
        .get_or_try_init(py, || {
            two_base_exception(
                py,
                "UnknownInstanceTypeError",
                UNKNOWN_INSTANCE_TYPE_DOC,
                (
                    CatalogError::type_object(py),
                    PyLookupError::type_object(py),
                ),
            )
        })
        .map(|t| t.bind(py).clone())
}

fn quantity_error(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    QUANTITY_ERROR
        .get_or_try_init(py, || {
            two_base_exception(
                py,
                "QuantityError",
                QUANTITY_ERROR_DOC,
                (
                    CloudOptimError::type_object(py),
                    PyValueError::type_object(py),
                ),
            )
        })
        .map(|t| t.bind(py).clone())
}

fn invalid_change_error(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    INVALID_CHANGE_ERROR
        .get_or_try_init(py, || {
            two_base_exception(
                py,
                "InvalidChangeError",
                INVALID_CHANGE_DOC,
                (
                    CloudOptimError::type_object(py),
                    PyValueError::type_object(py),
                ),
            )
        })
        .map(|t| t.bind(py).clone())
}

fn repository_error(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    REPOSITORY_ERROR
        .get_or_try_init(py, || {
            two_base_exception(
                py,
                "RepositoryError",
                REPOSITORY_ERROR_DOC,
                (
                    CloudOptimError::type_object(py),
                    PyNotADirectoryError::type_object(py),
                ),
            )
        })
        .map(|t| t.bind(py).clone())
}

/// The exception class for an error code of `cloudoptim_core::Error::code()`.
fn exception_type<'py>(py: Python<'py>, code: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(match code {
        "io" => InputError::type_object(py),
        "syntax" => ParseError::type_object(py),
        "field" => FieldError::type_object(py),
        "unrecognized" | "empty_input" => UnrecognizedInputError::type_object(py),
        "symlink_outside_tree" => UnsafePathError::type_object(py),
        "unknown_instance_type" => unknown_instance_type_error(py)?,
        "catalog" => CatalogError::type_object(py),
        "unknown_analyzer" | "analyzer_config" | "analyzer_failed" => {
            AnalyzerError::type_object(py)
        }
        "quantity" => quantity_error(py)?,
        "invalid_change" => invalid_change_error(py)?,
        "not_a_directory" => repository_error(py)?,
        "verification" => VerificationError::type_object(py),
        "gitops_config" | "git" | "branch_modified" | "auth" | "rate_limited" | "forge_api" => {
            GitOpsError::type_object(py)
        }
        "source_config" | "unauthorized" | "forbidden" | "source_api" | "timeout" | "transport" => {
            LiveSourceError::type_object(py)
        }
        // a code added to the core later still raises a CloudOptimError
        _ => CloudOptimError::type_object(py),
    })
}

/// The text of every `source()` level below `err`, outermost first.
fn cause_chain(err: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut src = err.source();
    while let Some(c) = src {
        out.push(c.to_string());
        src = c.source();
    }
    out
}

/// Sets `causes` (the text of each `source()` level below the error, outermost first) on `err`
/// and chains them as `__cause__`s: `err.__cause__` is a `CloudOptimError` with the first
/// level's text (and the same `code`), whose `__cause__` is the next level, and so on.
fn attach_causes(py: Python<'_>, err: &PyErr, code: &str, causes: Vec<String>) -> PyResult<()> {
    let mut below: Option<PyErr> = None;
    for text in causes.iter().rev() {
        let level = CloudOptimError::new_err(text.clone());
        level.value(py).setattr("code", code)?;
        level.value(py).setattr("causes", PyTuple::empty(py))?;
        level.set_cause(py, below.take());
        below = Some(level);
    }
    err.value(py).setattr("causes", PyTuple::new(py, causes)?)?;
    err.set_cause(py, below);
    Ok(())
}

/// Converts a core error into the matching Python exception: the message is the error with its
/// causes, `code` is `Error::code()`, `causes` the text of each `source()` level below it (also
/// chained as `__cause__`s, see `attach_causes`), and
/// every pair of `Error::details()` becomes an attribute (`line` and `column` as integers).
fn to_py_err(e: cloudoptim_core::Error) -> PyErr {
    Python::attach(|py| {
        let build = || -> PyResult<PyErr> {
            let code = e.code();
            let err = PyErr::from_type(exception_type(py, code)?, (pipeline::error_message(&e),));
            let value = err.value(py);
            value.setattr("code", code)?;
            attach_causes(py, &err, code, cause_chain(&e))?;
            for (key, text) in e.details() {
                match key {
                    "line" | "column" => match text.parse::<u64>() {
                        Ok(n) => value.setattr(key, n)?,
                        Err(_) => value.setattr(key, text)?,
                    },
                    _ => value.setattr(key, text)?,
                }
            }
            Ok(err)
        };
        build().unwrap_or_else(|failure| failure)
    })
}

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

/// Serialisation failed (not expected for the core's types).
fn json_err(e: serde_json::Error) -> PyErr {
    PyRuntimeError::new_err(format!("cannot serialise to JSON: {e}"))
}

/// A core value's JSON (`serde_json::to_string(&value)`) as plain Python data (dicts, lists,
/// str, int, float, bool, None), so it matches `to_json()` exactly.
fn to_python(py: Python<'_>, json: serde_json::Result<String>) -> PyResult<Bound<'_, PyAny>> {
    static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    LOADS
        .import(py, "json", "loads")?
        .call1((json.map_err(json_err)?,))
}

/// Python's `repr()` of a value, for readable `__repr__`s.
fn py_repr<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> PyResult<String> {
    Ok(value.into_bound_py_any(py)?.repr()?.to_string())
}

/// A path argument (`str` or `os.PathLike`) as the UTF-8 string the core's string API takes.
fn path_string(path: PathBuf) -> PyResult<String> {
    path.into_os_string()
        .into_string()
        .map_err(|raw| PyValueError::new_err(format!("path {raw:?} is not valid UTF-8")))
}

/// `None`, one path, or a sequence of paths.
fn path_list(value: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<String>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    if value.is_none() {
        return Ok(Vec::new());
    }
    if let Ok(one) = value.extract::<PathBuf>() {
        return Ok(vec![path_string(one)?]);
    }
    let many: Vec<PathBuf> = value.extract().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "expected None, a path (str or os.PathLike) or a sequence of paths",
        )
    })?;
    many.into_iter().map(path_string).collect()
}

/// Issues the loader's non-fatal warnings as Python `UserWarning`s.
fn warn_all(py: Python<'_>, warnings: &[String]) -> PyResult<()> {
    static WARN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    if warnings.is_empty() {
        return Ok(());
    }
    let warn = WARN.import(py, "warnings", "warn")?;
    let category = PyUserWarning::type_object(py);
    for w in warnings {
        warn.call1((w.as_str(), &category, 1))?;
    }
    Ok(())
}

/// Loads a snapshot with the GIL released, then reports the loader's warnings.
fn load(
    py: Python<'_>,
    path: String,
    aws: Vec<String>,
    usage: Vec<String>,
    cluster_name: Option<String>,
) -> PyResult<Cluster> {
    let loaded = py
        .detach(move || pipeline::load_snapshot_from_strings(&path, &aws, &usage, cluster_name))
        .map_err(to_py_err)?;
    warn_all(py, &loaded.warnings)?;
    Ok(Cluster {
        inner: Arc::new(loaded.cluster),
    })
}

/// The `cluster` argument of `analyze()` and `consolidate()`: a `Cluster`, or a path loaded
/// with `load_cluster(path)`.
fn cluster_arg(
    py: Python<'_>,
    cluster: &Bound<'_, PyAny>,
) -> PyResult<Arc<cloudoptim_core::Cluster>> {
    if let Ok(c) = cluster.cast::<Cluster>() {
        return Ok(Arc::clone(&c.get().inner));
    }
    let path: PathBuf = cluster.extract().map_err(|_| {
        PyTypeError::new_err("cluster must be a Cluster or a path (str or os.PathLike)")
    })?;
    Ok(load(py, path_string(path)?, vec![], vec![], None)?.inner)
}

// ---------------------------------------------------------------------------------------------
// Classes
// ---------------------------------------------------------------------------------------------

/// A cluster snapshot: Kubernetes objects, AWS inventory, metrics and usage history.
///
/// Made by `load_cluster()` or `demo_cluster()`; immutable.
#[pyclass(frozen, eq, module = "cloudoptim", name = "Cluster")]
#[derive(PartialEq)]
struct Cluster {
    inner: Arc<cloudoptim_core::Cluster>,
}

#[pymethods]
impl Cluster {
    /// Cluster name.
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// Region, when known.
    #[getter]
    fn region(&self) -> Option<&str> {
        self.inner.region.as_deref()
    }

    /// Number of nodes.
    #[getter]
    fn node_count(&self) -> usize {
        self.inner.nodes.len()
    }

    /// Number of pods.
    #[getter]
    fn pod_count(&self) -> usize {
        self.inner.pods.len()
    }

    /// Counts of what the snapshot holds (the report's `cluster` section).
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.summary()))
    }

    /// The whole snapshot as plain Python data.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&*self.inner))
    }

    /// The whole snapshot as pretty JSON.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&*self.inner).map_err(json_err)
    }

    /// A readable summary.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Cluster(name={}, region={}, nodes={}, pods={})",
            py_repr(py, self.inner.name.as_str())?,
            py_repr(py, self.inner.region.as_deref())?,
            self.inner.nodes.len(),
            self.inner.pods.len()
        ))
    }

    /// Pickle support: rebuilt from its JSON by `_from_json`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        reduce(py, "Cluster", serde_json::to_string(&*self.inner))
    }
}

/// An analysis report: costs, totals, and recommendations by savings, largest first.
#[pyclass(frozen, eq, module = "cloudoptim", name = "Report")]
#[derive(PartialEq)]
struct Report {
    inner: Arc<cloudoptim_core::Report>,
}

#[pymethods]
impl Report {
    /// Totals: `recommendations`, `monthly_savings_usd` (overlaps combined),
    /// `gross_monthly_savings_usd`, `savings_ratio`, `by_kind`.
    #[getter]
    fn totals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.totals))
    }

    /// The cost picture: monthly cost, idle cost, per node group and per namespace.
    #[getter]
    fn costs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.costs))
    }

    /// What was analysed: counts of the snapshot's objects.
    #[getter]
    fn cluster<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.cluster))
    }

    /// Things the reader should know (estimated prices, missing data).
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.inner.notes.clone()
    }

    /// Names of the analyzers that ran.
    #[getter]
    fn analyzers(&self) -> Vec<String> {
        self.inner.analyzers.clone()
    }

    /// The recommendations, largest saving first.
    #[getter]
    fn recommendations(&self) -> Vec<Recommendation> {
        (0..self.inner.recommendations.len())
            .map(|index| Recommendation {
                inner: RecommendationRef::InReport {
                    report: Arc::clone(&self.inner),
                    index,
                },
            })
            .collect()
    }

    /// The report as plain Python data (the parsed `to_json()`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&*self.inner))
    }

    /// The report as pretty JSON, exactly as `cloudoptim … --format json` prints it (without the
    /// final newline). It follows `report_schema()`.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// The report as text a platform engineer reads, as `cloudoptim … --format table` prints it.
    fn to_table(&self) -> String {
        self.inner.to_table()
    }

    /// Number of recommendations.
    fn __len__(&self) -> usize {
        self.inner.recommendations.len()
    }

    /// The recommendations as a pandas DataFrame, one row per recommendation (see the stubs for
    /// the columns). Needs pandas (`pip install "cloudoptim[pandas]"`).
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        display(slf.as_any(), "report_frame", &[])
    }

    /// The report as an HTML table, for Jupyter.
    fn _repr_html_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        display(slf.as_any(), "report_html", &[])
    }

    /// A readable summary.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Report(cluster={}, recommendations={}, monthly_savings_usd={})",
            py_repr(py, self.inner.cluster.name.as_str())?,
            self.inner.recommendations.len(),
            py_repr(py, PyFloat::new(py, self.inner.totals.monthly_savings_usd))?
        ))
    }

    /// Pickle support: rebuilt from its JSON by `_from_json`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        reduce(py, "Report", serde_json::to_string(&*self.inner))
    }
}

/// One recommendation: what to change, what it saves, its risk and why.
#[pyclass(frozen, eq, module = "cloudoptim", name = "Recommendation")]
#[derive(PartialEq)]
struct Recommendation {
    inner: RecommendationRef,
}

/// A recommendation inside the report it came from (so reading `report.recommendations` copies
/// nothing), or one of its own (unpickled).
enum RecommendationRef {
    InReport {
        report: Arc<cloudoptim_core::Report>,
        index: usize,
    },
    Owned(Arc<cloudoptim_core::Recommendation>),
}

impl std::ops::Deref for RecommendationRef {
    type Target = cloudoptim_core::Recommendation;

    fn deref(&self) -> &cloudoptim_core::Recommendation {
        match self {
            // the index was taken from this report's recommendations, which never change
            RecommendationRef::InReport { report, index } => &report.recommendations[*index],
            RecommendationRef::Owned(r) => r,
        }
    }
}

impl PartialEq for RecommendationRef {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

#[pymethods]
impl Recommendation {
    /// Stable id (`co-…`): the same finding on the same cluster gets the same id across runs.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.id
    }

    /// Kind, snake_case (`workload_rightsizing`, `node_removal`, …).
    #[getter]
    fn kind(&self) -> &'static str {
        self.inner.kind.as_str()
    }

    /// The analyzer that produced it.
    #[getter]
    fn analyzer(&self) -> &str {
        &self.inner.analyzer
    }

    /// A one-line summary.
    #[getter]
    fn title(&self) -> &str {
        &self.inner.title
    }

    /// What it is about: `cluster` plus the fields that apply (`namespace`, `workload`, `node`, …).
    #[getter]
    fn target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.target))
    }

    /// Current → proposed values: dicts with `field`, `current`, `proposed`.
    #[getter]
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.changes))
    }

    /// Monthly savings in USD (negative when the change costs money, as OOM fixes do).
    #[getter]
    fn monthly_savings_usd(&self) -> f64 {
        self.inner.monthly_savings_usd
    }

    /// Risk: `level` (`low`, `medium`, `high`) and `reasons`.
    #[getter]
    fn risk<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.risk))
    }

    /// Priority: `normal` or `high`.
    #[getter]
    fn priority<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.priority))
    }

    /// Confidence in [0, 1].
    #[getter]
    fn confidence(&self) -> f64 {
        self.inner.confidence
    }

    /// The numbers it rests on: dicts with `name`, `value`, `unit`.
    #[getter]
    fn evidence<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.evidence))
    }

    /// A paragraph a reviewer can read.
    #[getter]
    fn explanation(&self) -> &str {
        &self.inner.explanation
    }

    /// The recommendation as plain Python data (its JSON form in the report).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&*self.inner))
    }

    /// The recommendation as pretty JSON.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&*self.inner).map_err(json_err)
    }

    /// A readable summary.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Recommendation(id={}, kind={}, monthly_savings_usd={}, title={})",
            py_repr(py, self.inner.id.as_str())?,
            py_repr(py, self.inner.kind.as_str())?,
            py_repr(py, PyFloat::new(py, self.inner.monthly_savings_usd))?,
            py_repr(py, self.inner.title.as_str())?
        ))
    }

    /// Pickle support: rebuilt from its JSON by `_from_json`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        reduce(py, "Recommendation", serde_json::to_string(&*self.inner))
    }
}

/// A consolidation plan: the nodes after it, where every pod runs, the steps with their savings
/// and disruption, and the LP lower bound of the cost. Made by `consolidate()`; immutable.
#[pyclass(frozen, eq, module = "cloudoptim", name = "Plan")]
#[derive(PartialEq)]
struct Plan {
    inner: Arc<packing::Plan>,
}

#[pymethods]
impl Plan {
    /// `remove` or `replace`.
    #[getter]
    fn mode(&self) -> &str {
        &self.inner.mode
    }

    /// Node cost before, USD per hour.
    #[getter]
    fn cost_before_hourly(&self) -> f64 {
        self.inner.cost_before_hourly
    }

    /// Node cost after (approved and held-back steps alike), USD per hour.
    #[getter]
    fn cost_after_hourly(&self) -> f64 {
        self.inner.cost_after_hourly
    }

    /// LP lower bound of the cost of the replace problem, USD per hour.
    #[getter]
    fn lower_bound_hourly(&self) -> f64 {
        self.inner.lower_bound_hourly
    }

    /// (after − bound) / bound.
    #[getter]
    fn gap_to_bound(&self) -> f64 {
        self.inner.gap_to_bound
    }

    /// Every node after the plan: dicts with `name`, `instance_type`, `zone`, `capacity_type`,
    /// `hourly_cost`, `new` and `group`.
    #[getter]
    fn nodes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.nodes))
    }

    /// Names of the nodes removed.
    #[getter]
    fn removed(&self) -> Vec<String> {
        self.inner.removed.clone()
    }

    /// Every non-DaemonSet pod and its node after the plan: dicts with `pod`
    /// (`namespace/name`) and `node`.
    #[getter]
    fn assignments<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.assignments))
    }

    /// Pods that could not be placed: dicts with `pod` and `reason`.
    #[getter]
    fn unplaced<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.unplaced))
    }

    /// Pods that pin their node: dicts with `node`, `pod` and `reason`.
    #[getter]
    fn blocked<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.blocked))
    }

    /// The steps: dicts with `action`, `removed`, `added`, `moves`, `hourly_saving`,
    /// `monthly_saving`, `disruption_cost`, `score` and `approved`.
    #[getter]
    fn steps<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.steps))
    }

    /// The solver that made the plan.
    #[getter]
    fn solver(&self) -> &str {
        &self.inner.solver
    }

    /// Monthly saving of the whole plan, USD.
    #[getter]
    fn monthly_saving(&self) -> f64 {
        self.inner.monthly_saving()
    }

    /// The plan as plain Python data (the parsed `to_json()`); it follows `plan_schema()`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&*self.inner))
    }

    /// The plan as pretty JSON, exactly as `cloudoptim consolidate … --format json` prints it
    /// (without the final newline).
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// The plan as text: costs and bound, then each step.
    fn to_table(&self) -> String {
        self.inner.to_table()
    }

    /// One table of the plan as a pandas DataFrame: `nodes` (every node after the plan, with
    /// the removed ones), `assignments` (pod → node) or `steps`. Needs pandas
    /// (`pip install "cloudoptim[pandas]"`).
    #[pyo3(signature = (table = "nodes"))]
    fn to_pandas<'py>(slf: &Bound<'py, Self>, table: &str) -> PyResult<Bound<'py, PyAny>> {
        let table = PyString::new(slf.py(), table).into_any();
        display(slf.as_any(), "plan_frame", &[table])
    }

    /// The plan as HTML tables, for Jupyter.
    fn _repr_html_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        display(slf.as_any(), "plan_html", &[])
    }

    /// A readable summary.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let p = &*self.inner;
        Ok(format!(
            "Plan(mode={}, cost_before_hourly={}, cost_after_hourly={}, removed={}, added={}, \
             unplaced={})",
            py_repr(py, p.mode.as_str())?,
            py_repr(py, PyFloat::new(py, p.cost_before_hourly))?,
            py_repr(py, PyFloat::new(py, p.cost_after_hourly))?,
            p.removed.len(),
            p.nodes.iter().filter(|n| n.new).count(),
            p.unplaced.len()
        ))
    }

    /// Pickle support: rebuilt from its JSON by `_from_json`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        reduce(py, "Plan", serde_json::to_string(&*self.inner))
    }
}

/// Calls `cloudoptim._display.<function>(obj, *args)`: the HTML and DataFrame views are written
/// in Python (pandas is an optional dependency).
fn display<'py>(
    obj: &Bound<'py, PyAny>,
    function: &str,
    args: &[Bound<'py, PyAny>],
) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let module = py.import("cloudoptim._display")?;
    let mut all = vec![obj.clone()];
    all.extend(args.iter().cloned());
    module.getattr(function)?.call1(PyTuple::new(py, all)?)
}

/// `(cloudoptim._native._from_json, (kind, json))` for pickling.
fn reduce<'py>(
    py: Python<'py>,
    kind: &str,
    json: serde_json::Result<String>,
) -> PyResult<Bound<'py, PyTuple>> {
    static FROM_JSON: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let json = json.map_err(json_err)?;
    let restore = FROM_JSON.import(py, "cloudoptim._native", "_from_json")?;
    let args = PyTuple::new(py, [kind, json.as_str()])?;
    PyTuple::new(py, [restore.clone().into_any(), args.into_any()])
}

/// Rebuilds a `Cluster`, `Report`, `Recommendation`, `PatchReport` or `Plan` from the JSON its
/// `__reduce__` wrote (used by pickle).
#[pyfunction]
fn _from_json<'py>(py: Python<'py>, kind: &str, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let invalid = |e: serde_json::Error| PyValueError::new_err(format!("invalid {kind} JSON: {e}"));
    match kind {
        "Cluster" => Ok(Bound::new(
            py,
            Cluster {
                inner: Arc::new(serde_json::from_str(text).map_err(invalid)?),
            },
        )?
        .into_any()),
        "Report" => Ok(Bound::new(
            py,
            Report {
                inner: Arc::new(serde_json::from_str(text).map_err(invalid)?),
            },
        )?
        .into_any()),
        "Recommendation" => Ok(Bound::new(
            py,
            Recommendation {
                inner: RecommendationRef::Owned(Arc::new(
                    serde_json::from_str(text).map_err(invalid)?,
                )),
            },
        )?
        .into_any()),
        "PatchReport" => Ok(Bound::new(
            py,
            PatchReport {
                inner: Arc::new(serde_json::from_str(text).map_err(invalid)?),
            },
        )?
        .into_any()),
        "Plan" => Ok(Bound::new(
            py,
            Plan {
                inner: Arc::new(serde_json::from_str(text).map_err(invalid)?),
            },
        )?
        .into_any()),
        _ => Err(PyValueError::new_err(format!("unknown kind {kind:?}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// Infrastructure as code: changes and patch reports
// ---------------------------------------------------------------------------------------------

/// An `InvalidChangeError` with this message (as the core words its own).
fn invalid_change(message: String) -> PyErr {
    to_py_err(iac::IacError::InvalidChange(message).into())
}

/// Plain Python data (dict with str keys, list, tuple, str, int, float, bool, None) as JSON, for
/// the core to validate. Anything else raises `InvalidChangeError` naming where it is.
fn json_value(value: &Bound<'_, PyAny>, at: &str) -> PyResult<serde_json::Value> {
    json_data(value, at, &invalid_change)
}

/// Plain Python data as JSON; anything else is `invalid(message naming where it is)`.
fn json_data(
    value: &Bound<'_, PyAny>,
    at: &str,
    invalid: &dyn Fn(String) -> PyErr,
) -> PyResult<serde_json::Value> {
    use serde_json::Value;
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(invalid(format!("`{at}`: integer out of range")));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return serde_json::Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| invalid(format!("`{at}`: {} is not a JSON number", f.value())));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_string()));
    }
    if let Ok(d) = value.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| invalid(format!("`{at}`: key {} is not a str", py_repr_lossy(&k))))?;
            let key = key.to_str()?.to_string();
            let inner = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            map.insert(key, json_data(&v, &inner, invalid)?);
        }
        return Ok(Value::Object(map));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, v) in value.try_iter()?.enumerate() {
            items.push(json_data(&v?, &format!("{at}[{i}]"), invalid)?);
        }
        return Ok(Value::Array(items));
    }
    Err(invalid(format!(
        "`{at}`: a {} is not JSON data",
        value.get_type().name()?
    )))
}

/// `repr(value)`, or `?` when even that fails.
fn py_repr_lossy(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".to_string())
}

/// A change as the JSON a change is written in (`{"target": …, "set": {"instance_types": …}}`):
/// the core's own `Serialize` writes the setting keys as Rust variant names.
fn change_value(change: &iac::Change) -> serde_json::Result<serde_json::Value> {
    let mut set = serde_json::Map::new();
    for (key, value) in &change.set {
        set.insert(key.as_str().to_string(), serde_json::to_value(value)?);
    }
    Ok(serde_json::json!({
        "target": serde_json::to_value(&change.target)?,
        "set": set,
    }))
}

/// The change argument of `patch()`/`locate()` as JSON text for `pipeline::patch_repo`: a
/// `Change`, a dict (a change, or a corpus case with a `change` key) or JSON text.
fn change_text(change: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(c) = change.cast::<Change>() {
        return serde_json::to_string(&change_value(&c.get().inner).map_err(json_err)?)
            .map_err(json_err);
    }
    if let Ok(s) = change.cast::<PyString>() {
        return Ok(s.to_str()?.to_string());
    }
    if change.is_instance_of::<PyDict>() {
        return serde_json::to_string(&json_value(change, "")?).map_err(json_err);
    }
    Err(PyTypeError::new_err(
        "change must be a Change, a dict or a JSON str",
    ))
}

/// A change to make in an infrastructure repository: a `target` (a node group, NodePool or
/// workload on a cluster) and the values to `set`. Validated when made; immutable.
#[pyclass(frozen, eq, module = "cloudoptim", name = "Change")]
#[derive(PartialEq)]
struct Change {
    inner: iac::Change,
}

#[pymethods]
impl Change {
    /// Validates `target` (`kind`, `cluster`, `name`, optional `namespace` and `container`) and
    /// `set` (`instance_types`, `capacity_type`, `min_size`, … or `requests.cpu`, …, `replicas`).
    /// Raises `InvalidChangeError` when they are not a valid change.
    #[new]
    fn new(target: &Bound<'_, PyDict>, set: &Bound<'_, PyDict>) -> PyResult<Self> {
        let value = serde_json::json!({
            "target": json_value(target.as_any(), "target")?,
            "set": json_value(set.as_any(), "set")?,
        });
        let inner = iac::Change::from_value(value).map_err(|e| to_py_err(e.into()))?;
        Ok(Change { inner })
    }

    /// Parses and validates a change from JSON text: a change object, or a corpus `case.json`
    /// whose `change` key holds one. Raises `InvalidChangeError`.
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Change> {
        let inner = iac::Change::from_json(text).map_err(|e| to_py_err(e.into()))?;
        Ok(Change { inner })
    }

    /// The target: `kind`, `cluster`, `name`, and `namespace` and `container` when given.
    #[getter]
    fn target<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.target))
    }

    /// The values to set, by key (`instance_types`, `requests.cpu`, …).
    #[getter]
    fn set<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let value = change_value(&self.inner).map_err(json_err)?;
        to_python(py, serde_json::to_string(&value["set"]))
    }

    /// The change as plain Python data: `{"target": …, "set": …}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(
            py,
            change_value(&self.inner).and_then(|v| serde_json::to_string(&v)),
        )
    }

    /// The change as pretty JSON, which `Change.from_json()` reads back.
    fn to_json(&self) -> PyResult<String> {
        change_value(&self.inner)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .map_err(json_err)
    }

    /// A readable summary.
    fn __repr__<'py>(&self, py: Python<'py>) -> PyResult<String> {
        Ok(format!(
            "Change(target={}, set={})",
            self.target(py)?.repr()?,
            self.set(py)?.repr()?
        ))
    }

    /// Pickle support: rebuilt by the constructor.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let args = PyTuple::new(py, [self.target(py)?, self.set(py)?])?;
        PyTuple::new(py, [py.get_type::<Change>().into_any(), args.into_any()])
    }
}

/// What `patch()` or `locate()` did: the outcome, the files changed with the unified diff and
/// why, or the candidates when the target is ambiguous or not found.
#[pyclass(frozen, eq, module = "cloudoptim", name = "PatchReport")]
#[derive(PartialEq)]
struct PatchReport {
    inner: Arc<iac::PatchReport>,
}

#[pymethods]
impl PatchReport {
    /// `patched` (the files were, or with `dry_run` would be, changed), `ambiguous` (more than
    /// one place could be meant; nothing changed) or `not_found` (nothing in the repository
    /// controls the target; nothing changed).
    #[getter]
    fn outcome(&self) -> PyResult<String> {
        match serde_json::to_value(self.inner.outcome).map_err(json_err)? {
            serde_json::Value::String(s) => Ok(s),
            other => Ok(other.to_string()),
        }
    }

    /// Files changed, relative to the repository.
    #[getter]
    fn files(&self) -> Vec<String> {
        self.inner.files.clone()
    }

    /// Candidates (ambiguous) or the places considered (not found): dicts with `file`, `line`
    /// (1-based) and `reason`.
    #[getter]
    fn candidates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.candidates))
    }

    /// Warnings: unparsable files, architecture changes, skipped links.
    #[getter]
    fn warnings(&self) -> Vec<String> {
        self.inner.warnings.clone()
    }

    /// The unified diff of every change (empty when nothing changes).
    #[getter]
    fn diff(&self) -> &str {
        &self.inner.diff
    }

    /// Per changed file: dicts with `file`, `lines` (changed 1-based inclusive ranges in the new
    /// file, as `[first, last]` lists) and `explanations`.
    #[getter]
    fn changes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&self.inner.changes))
    }

    /// The answer in words.
    #[getter]
    fn explanation(&self) -> &str {
        &self.inner.explanation
    }

    /// Whether files were written (false for `dry_run`, `locate()` and when nothing changes).
    #[getter]
    fn written(&self) -> bool {
        self.inner.written
    }

    /// The report as plain Python data (the parsed `to_json()`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, serde_json::to_string(&*self.inner))
    }

    /// The report as pretty JSON, as `cloudoptim patch … --format json` prints it (without the
    /// final newline).
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&*self.inner).map_err(json_err)
    }

    /// The report as HTML (outcome, files, candidates, the diff), for Jupyter.
    fn _repr_html_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        display(slf.as_any(), "patch_html", &[])
    }

    /// A readable summary.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PatchReport(outcome={}, files={}, candidates={}, written={})",
            py_repr(py, self.outcome()?)?,
            py_repr(py, self.inner.files.clone())?,
            self.inner.candidates.len(),
            py_repr(py, self.inner.written)?
        ))
    }

    /// Pickle support: rebuilt from its JSON by `_from_json`.
    fn __reduce__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        reduce(py, "PatchReport", serde_json::to_string(&*self.inner))
    }
}

/// Runs `pipeline::patch_repo_with` with the GIL released, with the Python `locators` after
/// the built-in ones. With locators, a real patch is rehearsed as a dry run first, so a locator
/// that fails stops it before anything is written.
fn run_patch(
    py: Python<'_>,
    repo: PathBuf,
    change: &Bound<'_, PyAny>,
    dry_run: bool,
    locate_only: bool,
    locators: Option<&Bound<'_, PyAny>>,
) -> PyResult<PatchReport> {
    let text = change_text(change)?;
    let failure = plugins::FailureSlot::default();
    let mut objects = Vec::new();
    if let Some(list) = locators.filter(|l| !l.is_none()) {
        let items = list
            .try_iter()
            .map_err(|_| PyTypeError::new_err("locators must be a sequence of locator objects"))?;
        for (i, item) in items.enumerate() {
            let item = item?;
            // validated now, so a bad locator fails before the repository is read
            plugins::PyLocator::new(i, &item, &failure)?;
            objects.push(item.unbind());
        }
    }
    let make = |py: Python<'_>| -> PyResult<Vec<Box<dyn iac::Locator + Send>>> {
        let mut out: Vec<Box<dyn iac::Locator + Send>> = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            out.push(Box::new(plugins::PyLocator::new(i, o.bind(py), &failure)?));
        }
        Ok(out)
    };
    let rehearse = !objects.is_empty() && !dry_run && !locate_only;
    let passes: &[bool] = if rehearse { &[true, false] } else { &[dry_run] };
    let mut last = None;
    for &pass_dry_run in passes {
        let extra = make(py)?;
        let repo = repo.clone();
        let text = text.clone();
        let result = py.detach(move || {
            pipeline::patch_repo_with(&repo, &text, pass_dry_run, locate_only, extra)
        });
        if let Some(e) = plugins::take_error(py, &failure) {
            return Err(e);
        }
        last = Some(result.map_err(to_py_err)?);
    }
    let report = last.ok_or_else(|| PyRuntimeError::new_err("no patch pass ran"))?;
    Ok(PatchReport {
        inner: Arc::new(report),
    })
}

// ---------------------------------------------------------------------------------------------
// Functions
// ---------------------------------------------------------------------------------------------

/// Loads a cluster snapshot from `kubectl get … -o json|yaml` output (a file or a folder),
/// plus optional AWS CLI JSON (`aws`: describe-instances, describe-volumes,
/// describe-spot-price-history) and Prometheus `query_range` exports (`usage`), each `None`, a
/// path or a list of paths. Non-fatal oddities are issued as `UserWarning`s. Raises an
/// `InputError` subclass when an input cannot be used.
///
/// Live sources, with the names of the command line's flags: `kubeconfig` (and `context`, the
/// kubeconfig context, default its current one; `request_timeout` seconds per request) reads
/// the cluster from the Kubernetes API instead of `path` (read-only); `prometheus` (a base URL)
/// adds `days` of container CPU and memory history (`prometheus_timeout` seconds per query);
/// `aws_live=True` adds the EC2 inventory (instances, volumes, spot price history) read with the
/// standard AWS credential chain from `region` (default: the chain's region). Raises
/// `LiveSourceError` when a live source cannot be read. Runs with the GIL released.
#[pyfunction]
#[pyo3(signature = (
    path = None, *, aws = None, usage = None, cluster_name = None, kubeconfig = None,
    context = None, request_timeout = 30, prometheus = None, days = 7, prometheus_timeout = 30,
    aws_live = false, region = None
))]
#[allow(clippy::too_many_arguments)]
fn load_cluster(
    py: Python<'_>,
    path: Option<PathBuf>,
    aws: Option<&Bound<'_, PyAny>>,
    usage: Option<&Bound<'_, PyAny>>,
    cluster_name: Option<String>,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    request_timeout: u64,
    prometheus: Option<String>,
    days: u32,
    prometheus_timeout: u64,
    aws_live: bool,
    region: Option<String>,
) -> PyResult<Cluster> {
    let aws = path_list(aws)?;
    let usage = path_list(usage)?;
    let live_args = live::LiveArgs {
        prometheus,
        days,
        prometheus_timeout,
        aws_region: aws_live.then_some(region),
    };
    let mut cluster = match (path, kubeconfig) {
        (Some(_), Some(_)) => {
            return Err(PyValueError::new_err(
                "give either path (a dump) or kubeconfig (the live API), not both",
            ));
        }
        (None, None) => {
            return Err(PyTypeError::new_err(
                "load_cluster() needs path (a dump) or kubeconfig= (the live API)",
            ));
        }
        (Some(path), None) => load(py, path_string(path)?, aws, usage, cluster_name)?.inner,
        (None, Some(kubeconfig)) => {
            let args = live::KubeArgs {
                kubeconfig,
                context,
                request_timeout,
            };
            let mut options = cloudoptim_core::loader::LoadOptions::default();
            if let Some(n) = cluster_name {
                options = options.with_cluster_name(n);
            }
            let aws: Vec<PathBuf> = aws.into_iter().map(PathBuf::from).collect();
            let usage: Vec<PathBuf> = usage.into_iter().map(PathBuf::from).collect();
            let loaded = py
                .detach(move || -> Result<_, live::Failure> {
                    let mut loaded = live::load_kube(&args, &options)?;
                    pipeline::add_inputs(&mut loaded, &aws, &usage)?;
                    Ok(loaded)
                })
                .map_err(live::Failure::into_py)?;
            warn_all(py, &loaded.warnings)?;
            Arc::new(loaded.cluster)
        }
    };
    if live_args.any() {
        cluster = with_live(py, &cluster, &live_args)?;
    }
    Ok(Cluster { inner: cluster })
}

/// A copy of `cluster` with what the live sources add (GIL released).
fn with_live(
    py: Python<'_>,
    cluster: &Arc<cloudoptim_core::Cluster>,
    args: &live::LiveArgs,
) -> PyResult<Arc<cloudoptim_core::Cluster>> {
    let mut copy = (**cluster).clone();
    let args = args.clone();
    py.detach(move || live::read(&args, &mut copy).map(|()| copy))
        .map(Arc::new)
        .map_err(live::Failure::into_py)
}

/// The embedded demo cluster (40 nodes, ~300 pods, a week of usage), as `cloudoptim demo` uses.
#[pyfunction]
fn demo_cluster(py: Python<'_>) -> Cluster {
    Cluster {
        inner: Arc::new(py.detach(demo::demo_cluster)),
    }
}

/// An analyzer written in Python, run by the core like the built-in ones: an object with a
/// `name`, an optional `description` and `include_usage`, and `analyze(context) -> list[dict]`.
struct PyAnalyzer {
    name: String,
    description: String,
    include_usage: bool,
    object: Py<PyAny>,
    /// The exception an analyzer raised, shared by the analyzers of one `analyze()` call so it
    /// can become the `__cause__` of the `AnalyzerError` (or be re-raised when it is not an
    /// `Exception`, as `KeyboardInterrupt` is not).
    raised: Arc<Mutex<Option<PyErr>>>,
}

impl PyAnalyzer {
    /// Reads one item of `extra_analyzers`; raises `TypeError` when it is not an analyzer.
    fn new(
        index: usize,
        object: &Bound<'_, PyAny>,
        raised: &Arc<Mutex<Option<PyErr>>>,
    ) -> PyResult<PyAnalyzer> {
        let at = format!("extra_analyzers[{index}]");
        let name: String = object
            .getattr("name")
            .and_then(|n| n.extract::<String>())
            .map_err(|_| PyTypeError::new_err(format!("{at} needs a `name` str attribute")))?;
        if name.is_empty() {
            return Err(PyValueError::new_err(format!("{at}: `name` is empty")));
        }
        let description = match object.getattr_opt("description")? {
            Some(d) if !d.is_none() => d.extract::<String>().map_err(|_| {
                PyTypeError::new_err(format!("{at} ({name}): `description` must be a str"))
            })?,
            _ => String::new(),
        };
        let include_usage = match object.getattr_opt("include_usage")? {
            Some(u) => u.is_truthy()?,
            None => false,
        };
        let callable = object
            .getattr_opt("analyze")?
            .is_some_and(|a| a.is_callable());
        if !callable {
            return Err(PyTypeError::new_err(format!(
                "{at} ({name}) needs a method `analyze(self, context: dict) -> list[dict]`"
            )));
        }
        Ok(PyAnalyzer {
            name,
            description,
            include_usage,
            object: object.clone().unbind(),
            raised: Arc::clone(raised),
        })
    }

    /// Calls the Python `analyze` with the context and converts what it returns to JSON.
    fn call(
        &self,
        py: Python<'_>,
        context: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let context = to_python(py, serde_json::to_string(context))
            .map_err(|e| format!("cannot build the context: {e}"))?;
        let result = self
            .object
            .bind(py)
            .call_method1("analyze", (context,))
            .map_err(|e| {
                let text = format_exception(py, &e);
                if let Ok(mut slot) = self.raised.lock() {
                    slot.get_or_insert(e);
                }
                text
            })?;
        json_data(&result, "result", &|m| PyValueError::new_err(m)).map_err(|e| {
            format!(
                "analyze() returned something that is not JSON data: {}",
                e.value(py)
            )
        })
    }
}

impl Analyzer for PyAnalyzer {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn analyze(
        &self,
        ctx: &Context<'_>,
    ) -> analyzers::Result<Vec<cloudoptim_core::Recommendation>> {
        let context = pipeline::analyzer_context_json(ctx, self.include_usage);
        // the analysis runs with the GIL released: take it back for the Python call only
        let value = Python::attach(|py| self.call(py, &context)).map_err(|message| {
            AnalyzeError::Failed {
                analyzer: self.name.clone(),
                message,
            }
        })?;
        pipeline::recommendations_from_json(&self.name, &ctx.cluster.name, value)
    }
}

/// An exception as Python prints it: the traceback, then `Type: message`.
fn format_exception(py: Python<'_>, e: &PyErr) -> String {
    static FORMAT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let formatted = FORMAT
        .import(py, "traceback", "format_exception")
        .and_then(|f| f.call1((e.get_type(py), e.value(py), e.traceback(py))))
        .and_then(|lines| lines.extract::<Vec<String>>());
    match formatted {
        Ok(lines) => lines.concat().trim_end().to_string(),
        Err(_) => py_repr_lossy(e.value(py)),
    }
}

/// Analyzes a cluster (a `Cluster`, or a path loaded with `load_cluster(path)`) and returns the
/// report. `region` overrides the nodes' region; `prices` is an on-demand price table CSV
/// (`instance_type,od_linux_usd_per_hour`) for that region; `spot_advisor` a Spot Advisor JSON
/// to use instead of the embedded one; `analyzers` the names of the built-in analyzers to run,
/// in order (default: all, see `analyzer_names()`); `extra_analyzers` analyzers written in
/// Python, run after them: objects with a `name`, an optional `description`, an optional
/// `include_usage` (put the usage history in the context) and a method
/// `analyze(self, context: dict) -> list[dict]`. The context holds `cluster` (the snapshot as
/// `Cluster.to_dict()` without `usage`, plus `summary`), `costs` (`nodes`, `pods`, `namespaces`
/// and `volumes` with their `monthly_usd`) and `now`. Each returned dict is a recommendation:
/// `kind` (a report kind, `custom` for your own), `title`, `target` (`cluster` is filled in),
/// `monthly_savings_usd`, and optionally `changes`, `risk`, `priority`, `confidence`,
/// `evidence`, `explanation`, and `resource` with `base_monthly_usd` (the resource's monthly
/// cost, so overlapping savings are combined, not added). `filters` holds the analysis
/// settings (a dict, or the path of a JSON/YAML file, with the keys of `cloudoptim analyze
/// --config`: `include_namespaces`, `exclude_namespaces`, `exclude_workloads`,
/// `exclude_node_groups`, `min_monthly_savings`, `strategy`, `limits`, `buffers`,
/// `team_label`); an unknown key raises `FieldError` naming it. Raises `AnalyzerError` when an
/// analyzer raises (with its traceback; `__cause__` is the exception) or returns an invalid
/// recommendation. Live sources as `load_cluster()` takes them: `prometheus` (with `days`,
/// `prometheus_timeout`) adds usage history, `aws_live=True` the EC2 inventory of `region`;
/// they raise `LiveSourceError`.
#[pyfunction]
#[pyo3(signature = (
    cluster, *, region = None, prices = None, spot_advisor = None, analyzers = None,
    extra_analyzers = None, filters = None, prometheus = None, days = 7,
    prometheus_timeout = 30, aws_live = false
))]
#[allow(clippy::too_many_arguments)]
fn analyze(
    py: Python<'_>,
    cluster: &Bound<'_, PyAny>,
    region: Option<String>,
    prices: Option<PathBuf>,
    spot_advisor: Option<PathBuf>,
    analyzers: Option<Vec<String>>,
    extra_analyzers: Option<&Bound<'_, PyAny>>,
    filters: Option<&Bound<'_, PyAny>>,
    prometheus: Option<String>,
    days: u32,
    prometheus_timeout: u64,
    aws_live: bool,
) -> PyResult<Report> {
    let mut snapshot = cluster_arg(py, cluster)?;
    let live_args = live::LiveArgs {
        prometheus,
        days,
        prometheus_timeout,
        aws_region: aws_live.then(|| region.clone()),
    };
    if live_args.any() {
        snapshot = with_live(py, &snapshot, &live_args)?;
    }
    let filters = match filters.filter(|f| !f.is_none()) {
        None => report::Filters::default(),
        Some(f) if f.is_instance_of::<PyDict>() => {
            pipeline::filters_from_json("filters", json_value(f, "")?).map_err(to_py_err)?
        }
        Some(f) => {
            let path: PathBuf = f.extract().map_err(|_| {
                PyTypeError::new_err("filters must be a dict or the path of a JSON/YAML file")
            })?;
            pipeline::filters_from_file(&path).map_err(to_py_err)?
        }
    };
    let mut pricing = PricingOptions::default();
    if let Some(r) = region {
        pricing = pricing.with_region(r);
    }
    if let Some(p) = prices {
        pricing = pricing.with_price_table(p);
    }
    if let Some(p) = spot_advisor {
        pricing = pricing.with_spot_advisor(p);
    }
    let raised = Arc::new(Mutex::new(None));
    let mut extra: Vec<Box<dyn Analyzer>> = Vec::new();
    if let Some(list) = extra_analyzers.filter(|l| !l.is_none()) {
        let items = list.try_iter().map_err(|_| {
            PyTypeError::new_err("extra_analyzers must be a sequence of analyzer objects")
        })?;
        for (i, item) in items.enumerate() {
            extra.push(Box::new(PyAnalyzer::new(i, &item?, &raised)?));
        }
    }
    let result = py.detach(move || {
        pipeline::analyze_with_extra(&snapshot, &pricing, analyzers.as_deref(), &filters, extra)
    });
    match result {
        Ok(report) => Ok(Report {
            inner: Arc::new(report),
        }),
        Err(e) => {
            let cause = raised.lock().ok().and_then(|mut slot| slot.take());
            match cause {
                // KeyboardInterrupt, SystemExit: not an analyzer failure
                Some(c) if !c.is_instance_of::<PyException>(py) => Err(c),
                cause => {
                    let err = to_py_err(e);
                    err.set_cause(py, cause);
                    Err(err)
                }
            }
        }
    }
}

/// Plans the consolidation of a cluster (a `Cluster`, or a path loaded with
/// `load_cluster(path)`): `mode` `remove` deletes nodes whose pods fit on the others, `replace`
/// re-packs the movable pods onto kept nodes plus the cheapest new ones. `allow_types` are
/// instance-type patterns for new nodes (`m6i.*`, `c6g.large`; default: the families already in
/// the cluster); `region` overrides the nodes' region for prices. Runs with the GIL released.
/// Raises `CloudOptimError` (code `packing`) for an unknown mode.
#[pyfunction]
#[pyo3(signature = (cluster, *, mode = "replace", allow_types = None, region = None))]
fn consolidate(
    py: Python<'_>,
    cluster: &Bound<'_, PyAny>,
    mode: &str,
    allow_types: Option<Vec<String>>,
    region: Option<String>,
) -> PyResult<Plan> {
    let snapshot = cluster_arg(py, cluster)?;
    let mut pricing = PricingOptions::default();
    if let Some(r) = region {
        pricing = pricing.with_region(r);
    }
    let mode = mode.to_string();
    let allow_types = allow_types.unwrap_or_default();
    let plan = py
        .detach(move || pipeline::consolidate_cluster(&snapshot, &pricing, &mode, &allow_types))
        .map_err(to_py_err)?;
    Ok(Plan {
        inner: Arc::new(plan),
    })
}

/// The JSON Schema of a consolidation plan (what `Plan.to_dict()` follows).
#[pyfunction]
fn plan_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_python(py, serde_json::to_string(&packing::plan_schema()))
}

/// The JSON Schema of the report (what `Report.to_dict()` follows).
#[pyfunction]
fn report_schema(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_python(py, serde_json::to_string(&report::report_schema()))
}

/// Names of the built-in analyzers, in the order they run.
#[pyfunction]
fn analyzer_names() -> Vec<String> {
    analyzers::builtin_names()
}

/// A Kubernetes CPU quantity (`100m`, `1.5`, `2`) in millicores, rounded up as the API server
/// does. Raises `QuantityError` when malformed.
#[pyfunction]
fn cpu_millicores(q: &str) -> PyResult<i64> {
    Quantity::parse(q)
        .map(|v| v.milli_value())
        .map_err(|e| to_py_err(e.into()))
}

/// A Kubernetes memory quantity (`1Gi`, `129M`, `1e3`) in bytes, rounded up as the API server
/// does. Raises `QuantityError` when malformed.
#[pyfunction]
fn memory_bytes(q: &str) -> PyResult<i64> {
    Quantity::parse(q)
        .map(|v| v.value())
        .map_err(|e| to_py_err(e.into()))
}

/// An EC2 instance type from the embedded catalog (vCPUs, memory, architecture, EKS allocatable,
/// max pods, us-east-1 on-demand price). Raises `UnknownInstanceTypeError` when not found.
#[pyfunction]
fn instance_type<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let it = pipeline::instance_type(name).map_err(to_py_err)?;
    to_python(py, serde_json::to_string(&it))
}

/// Finds the one place in the infrastructure repository `repo` (Terraform/Terragrunt, eksctl,
/// Karpenter, plain manifests and Kustomize, Helm) that controls the change's target and changes
/// only those bytes, then verifies the edit by re-reading it. `change` is a `Change`, a dict (a
/// change, or a corpus case with a `change` key) or JSON text. With `dry_run`, nothing is
/// written but the report holds the diff. An ambiguous or unknown target changes nothing (see
/// `PatchReport.outcome`). Raises `InvalidChangeError` before reading anything when the change
/// is malformed, `RepositoryError` when `repo` is not a directory, `VerificationError` when the
/// edit does not verify (nothing is written), `InputError` when a file cannot be read or written.
///
/// `locators` are IaC locators written in Python, consulted after the built-in ones: objects
/// with an optional `name` and a method `locate(self, request: dict) -> list[dict]`. The request
/// holds `change` (`target` and `set`, as `Change.to_dict()`), `root` and `files` (each `file`,
/// relative, `kind` — `terraform`, `tfvars`, `terragrunt`, `yaml`, `helm_template` — and
/// `text`). Each finding is a dict: `{"kind": "candidate", "file", "line", "reason"}`,
/// `{"kind": "blocked", "reason"}` or `{"kind": "resolved", "summary", "sites": [...]}` where a
/// site is `file`, `key` (a setting of the change), `explanation`, optionally `write` (`value`,
/// or `first` to write the first of a list) and where the value is: in a YAML file `path` (keys
/// and list indexes from the root of document `doc`, default 0), in an HCL file `span` (the
/// `[start, end]` byte offsets of the expression). A locator is asked again after the edit (to
/// verify it), with the edited texts. Raises `PluginError` (naming the locator and the field;
/// `__cause__` is what it raised) when a locator raises or answers something else; nothing is
/// written then.
#[pyfunction]
#[pyo3(signature = (repo, change, *, dry_run = false, locators = None))]
fn patch(
    py: Python<'_>,
    repo: PathBuf,
    change: &Bound<'_, PyAny>,
    dry_run: bool,
    locators: Option<&Bound<'_, PyAny>>,
) -> PyResult<PatchReport> {
    run_patch(py, repo, change, dry_run, false, locators)
}

/// Like `patch()`, but only reports where the change would go: nothing is written, the report
/// still holds the diff. Takes `locators` and raises as `patch()` does.
#[pyfunction]
#[pyo3(signature = (repo, change, *, locators = None))]
fn locate(
    py: Python<'_>,
    repo: PathBuf,
    change: &Bound<'_, PyAny>,
    locators: Option<&Bound<'_, PyAny>>,
) -> PyResult<PatchReport> {
    run_patch(py, repo, change, false, true, locators)
}

/// Proposes the repository changes behind a cluster's recommendations as pull requests, as
/// `cloudoptim propose` does: the analyzers run on `cluster` (a `Cluster` or a path), the
/// filters keep what they allow, the IaC engine patches a clone of `repo` (an HTTPS or file://
/// URL, or a folder; a plain folder is enough with `dry_run`), and each recommendation — or each
/// namespace with `group="namespace"` — becomes a branch `cloudoptim/<kind>/<target>` and a
/// pull request on GitHub (`github_repo` `owner/name`, default from the URL; `api_url` for
/// GitHub Enterprise; `token`, default `GITHUB_TOKEN`). A later run updates the same branch and
/// pull request; a branch with someone else's commit is left alone; a pull request a person
/// closed is not reopened unless `reopen_closed`. With `dry_run`, nothing remote is touched and
/// each item holds the branch, title, body and diff. `progress` is called with each item (a dict)
/// as it is decided. Returns the report as a dict (`repository`, `base`, `dry_run`, `items`).
/// Runs with the GIL released. Raises `GitOpsError` (its `code` says which step) and the usual
/// input errors.
#[pyfunction]
#[pyo3(signature = (
    cluster, repo, *, base = None, dry_run = false, group = "none", github_repo = None,
    api_url = None, token = None, labels = None, reviewers = None, draft = false,
    reopen_closed = false, author_name = None, author_email = None, include_namespaces = None,
    exclude_namespaces = None, exclude_workloads = None, exclude_node_groups = None,
    min_saving = None, progress = None
))]
#[allow(clippy::too_many_arguments)]
fn propose<'py>(
    py: Python<'py>,
    cluster: &Bound<'py, PyAny>,
    repo: &Bound<'py, PyAny>,
    base: Option<String>,
    dry_run: bool,
    group: &str,
    github_repo: Option<String>,
    api_url: Option<String>,
    token: Option<String>,
    labels: Option<Vec<String>>,
    reviewers: Option<Vec<String>>,
    draft: bool,
    reopen_closed: bool,
    author_name: Option<String>,
    author_email: Option<String>,
    include_namespaces: Option<Vec<String>>,
    exclude_namespaces: Option<Vec<String>>,
    exclude_workloads: Option<Vec<String>>,
    exclude_node_groups: Option<Vec<String>>,
    min_saving: Option<f64>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    use cloudoptim_core::gitops::{Grouping, ProposeItem, ProposeOptions};
    let snapshot = cluster_arg(py, cluster)?;
    let repo: String = match repo.extract::<PathBuf>() {
        Ok(p) => p.to_string_lossy().into_owned(),
        Err(_) => repo.extract::<String>()?,
    };
    let mut options = ProposeOptions::default()
        .with_dry_run(dry_run)
        .with_group(Grouping::parse(group).map_err(|e| to_py_err(e.into()))?)
        .with_draft(draft)
        .with_reopen_closed(reopen_closed);
    if let Some(b) = base {
        options = options.with_base(b);
    }
    if let Some(l) = labels {
        options = options.with_labels(l);
    }
    if let Some(r) = reviewers {
        options = options.with_reviewers(r);
    }
    let default = ProposeOptions::default();
    options = options.with_author(
        author_name.unwrap_or(default.author_name),
        author_email.unwrap_or(default.author_email),
    );
    let mut forge = pipeline::ForgeOptions::default();
    if let Some(r) = github_repo {
        forge = forge.with_github_repo(r);
    }
    if let Some(u) = api_url {
        forge = forge.with_api_url(u);
    }
    if let Some(t) = token {
        forge = forge.with_token(t);
    }
    let mut filters = report::Filters::default();
    filters.include_namespaces = include_namespaces.unwrap_or_default();
    filters.exclude_namespaces = exclude_namespaces.unwrap_or_default();
    filters.exclude_workloads = exclude_workloads.unwrap_or_default();
    filters.exclude_node_groups = exclude_node_groups.unwrap_or_default();
    if let Some(m) = min_saving {
        filters.min_monthly_savings = m;
    }
    let raised: Mutex<Option<PyErr>> = Mutex::new(None);
    let callback = |item: &ProposeItem| {
        let Some(cb) = &progress else { return };
        Python::attach(|py| {
            let r = to_python(py, serde_json::to_string(item)).and_then(|d| cb.call1(py, (d,)));
            if let Err(e) = r
                && let Ok(mut slot) = raised.lock()
                && slot.is_none()
            {
                *slot = Some(e);
            }
        });
    };
    let result = py.detach(|| {
        pipeline::propose(
            &snapshot,
            &filters,
            &repo,
            &forge,
            &options,
            Some(&callback),
        )
    });
    if let Some(e) = raised.lock().ok().and_then(|mut s| s.take()) {
        return Err(e);
    }
    let report = result.map_err(to_py_err)?;
    to_python(py, serde_json::to_string(&report))
}

/// Spot risk scores of the instance types matching `types` (a pattern such as `m5.*`) in
/// `region`, lowest risk first, as `cloudoptim spot score --format json` prints them: each a
/// dict with `instance_type`, `risk`, its four terms, the advisor's interruption band, prices
/// and an explanation in words. `advisor` is a Spot Advisor JSON to use instead of the embedded
/// one; `prices` describe-spot-price-history JSON (a file or folder) that makes volatility and
/// prices exact.
///
/// `scorer` is a spot risk scorer written in Python, used instead of the built-in one: an object
/// with an optional `name` and a method `score(self, request: dict) -> dict`. The request holds
/// `instance_type`, `region`, `seed` (the built-in score, a dict as in the result) and `history`
/// (the type's price points: `instance_type`, `zone`, `product`, `price`, `timestamp`). The
/// answer holds `risk` (a number in [0, 1]) and optionally `rate`, `volatility`, `gap`, `time`
/// (numbers in [0, 1]) and `explanation` (a str); what it leaves out comes from `seed`. Raises
/// `PluginError` (naming the scorer and the field; `__cause__` is what it raised) when the
/// scorer raises or answers something else.
#[pyfunction]
#[pyo3(signature = (
    types = "*", *, region = "us-east-1", advisor = None, prices = None, scorer = None
))]
fn score_spot_types<'py>(
    py: Python<'py>,
    types: &str,
    region: &str,
    advisor: Option<PathBuf>,
    prices: Option<PathBuf>,
    scorer: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut p = PricingOptions::default().with_region(region.to_string());
    if let Some(a) = advisor {
        p = p.with_spot_advisor(a);
    }
    let types = types.to_string();
    let failure = plugins::FailureSlot::default();
    let plugin = match scorer.filter(|s| !s.is_none()) {
        Some(s) => Some(plugins::PyScorer::new(s, &failure)?),
        None => None,
    };
    let scores = py.detach(move || match &plugin {
        Some(scorer) => pipeline::spot_scores_with(&types, &p, prices.as_deref(), scorer),
        None => pipeline::spot_scores(&types, &p, prices.as_deref()),
    });
    if let Some(e) = plugins::take_error(py, &failure) {
        return Err(e);
    }
    to_python(py, serde_json::to_string(&scores.map_err(to_py_err)?))
}

/// Spot readiness of every workload of a cluster (a `Cluster` or a path), not ready first: dicts
/// with `workload`, `kind`, `pods`, `ready` and the `reason` when not ready.
#[pyfunction]
fn spot_readiness<'py>(py: Python<'py>, cluster: &Bound<'_, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let snapshot = cluster_arg(py, cluster)?;
    let ready = py.detach(move || cloudoptim_core::spot::readiness(&snapshot));
    to_python(py, serde_json::to_string(&ready))
}

/// The response plan for one SQS message body (an EventBridge event, an SQS record or an SNS
/// envelope) on this cluster, as `cloudoptim events handle --format json` prints it: `parsed`
/// (the event, or why it is ignored or quarantined), `nodes` and the ordered `actions`. Never
/// raises for a malformed message: it is quarantined with a reason.
#[pyfunction]
fn plan_interruption<'py>(
    py: Python<'py>,
    cluster: &Bound<'_, PyAny>,
    message: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let snapshot = cluster_arg(py, cluster)?;
    let body = message.to_string();
    let plan = py.detach(move || cloudoptim_core::spot::plan_response(&snapshot, &body));
    to_python(py, serde_json::to_string(&plan))
}

/// Runs an action plan through the executor, as `cloudoptim apply --plan` does: `plan` is the
/// plan as a dict (`{"steps": [{"action": "cordon", "node": "…", "why": "…"}, …]}`), JSON text,
/// or the path of a JSON file (`os.PathLike`). Through the Kubernetes API of `kubeconfig`
/// (`context`, `request_timeout` as for `load_cluster()`) when given, else through the dry-run
/// executor. A dry run unless `yes=True`, which also allows destructive steps; the first failed
/// step skips the rest unless `keep_going`. Returns one dict per step: `step` (`action`, its
/// fields, `why`) and `status` (`dry_run`, `done` with `detail`, `skipped` with `reason`,
/// `failed` with `error` and `code`). Raises `InputError`/`CloudOptimError` (code `plan`) for a
/// malformed plan and `LiveSourceError` when the API cannot be reached. Runs with the GIL
/// released.
#[pyfunction]
#[pyo3(signature = (
    plan, *, yes = false, keep_going = false, kubeconfig = None, context = None,
    request_timeout = 30
))]
fn apply<'py>(
    py: Python<'py>,
    plan: &Bound<'py, PyAny>,
    yes: bool,
    keep_going: bool,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    request_timeout: u64,
) -> PyResult<Bound<'py, PyAny>> {
    use cloudoptim_core::executor::ActionPlan;
    let (name, text) = if plan.is_instance_of::<PyDict>() {
        let value = json_data(plan, "plan", &|m| PyValueError::new_err(m))?;
        ("plan".to_string(), value.to_string())
    } else if let Ok(s) = plan.cast::<PyString>() {
        ("plan".to_string(), s.to_str()?.to_string())
    } else if let Ok(path) = plan.extract::<PathBuf>() {
        let text = std::fs::read_to_string(&path).map_err(|source| {
            to_py_err(cloudoptim_core::Error::Load(
                cloudoptim_core::loader::LoadError::Io {
                    path: path.clone(),
                    source,
                },
            ))
        })?;
        (path.display().to_string(), text)
    } else {
        return Err(PyTypeError::new_err(
            "plan must be a dict, JSON text or the path of a JSON file (os.PathLike)",
        ));
    };
    let plan = ActionPlan::from_json(&name, &text).map_err(|e| to_py_err(e.into()))?;
    let outcomes = py
        .detach(move || {
            cloudoptim_cli::run_action_plan(
                &plan,
                kubeconfig,
                context,
                request_timeout,
                yes,
                keep_going,
            )
        })
        .map_err(to_py_err)?;
    to_python(py, serde_json::to_string(&outcomes))
}

/// Runs the `cloudoptim` command line with these arguments (the first is the program name),
/// writing to `sys.stdout` and `sys.stderr`; returns the exit code (0 success, 1 failure,
/// 2 usage error).
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<OsString>) -> PyResult<i32> {
    let (code, out, err) = py.detach(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = cloudoptim_cli::run_with(argv, &mut out, &mut err);
        (code, out, err)
    });
    let sys = py.import("sys")?;
    for (name, bytes) in [("stderr", err), ("stdout", out)] {
        if bytes.is_empty() {
            continue;
        }
        let stream = sys.getattr(name)?;
        if stream.is_none() {
            continue;
        }
        stream.call_method1("write", (String::from_utf8_lossy(&bytes),))?;
        stream.call_method0("flush")?;
    }
    Ok(code)
}

// ---------------------------------------------------------------------------------------------
// Module
// ---------------------------------------------------------------------------------------------

/// The native part of the `cloudoptim` package; use `cloudoptim` itself.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", cloudoptim_core::VERSION)?;
    m.add_class::<Cluster>()?;
    m.add_class::<Report>()?;
    m.add_class::<Recommendation>()?;
    m.add_class::<Change>()?;
    m.add_class::<PatchReport>()?;
    m.add_class::<Plan>()?;
    for f in [
        wrap_pyfunction!(load_cluster, m)?,
        wrap_pyfunction!(demo_cluster, m)?,
        wrap_pyfunction!(analyze, m)?,
        wrap_pyfunction!(report_schema, m)?,
        wrap_pyfunction!(consolidate, m)?,
        wrap_pyfunction!(plan_schema, m)?,
        wrap_pyfunction!(analyzer_names, m)?,
        wrap_pyfunction!(cpu_millicores, m)?,
        wrap_pyfunction!(memory_bytes, m)?,
        wrap_pyfunction!(instance_type, m)?,
        wrap_pyfunction!(patch, m)?,
        wrap_pyfunction!(locate, m)?,
        wrap_pyfunction!(propose, m)?,
        wrap_pyfunction!(score_spot_types, m)?,
        wrap_pyfunction!(spot_readiness, m)?,
        wrap_pyfunction!(plan_interruption, m)?,
        wrap_pyfunction!(apply, m)?,
        wrap_pyfunction!(cli_main, m)?,
        wrap_pyfunction!(_from_json, m)?,
    ] {
        m.add_function(f)?;
    }
    m.add("CloudOptimError", CloudOptimError::type_object(py))?;
    m.add("InputError", InputError::type_object(py))?;
    m.add("ParseError", ParseError::type_object(py))?;
    m.add("FieldError", FieldError::type_object(py))?;
    m.add(
        "UnrecognizedInputError",
        UnrecognizedInputError::type_object(py),
    )?;
    m.add("UnsafePathError", UnsafePathError::type_object(py))?;
    m.add("CatalogError", CatalogError::type_object(py))?;
    m.add("UnknownInstanceTypeError", unknown_instance_type_error(py)?)?;
    m.add("AnalyzerError", AnalyzerError::type_object(py))?;
    m.add("QuantityError", quantity_error(py)?)?;
    m.add("InvalidChangeError", invalid_change_error(py)?)?;
    m.add("RepositoryError", repository_error(py)?)?;
    m.add("VerificationError", VerificationError::type_object(py))?;
    m.add("GitOpsError", GitOpsError::type_object(py))?;
    m.add("PluginError", PluginError::type_object(py))?;
    m.add("LiveSourceError", LiveSourceError::type_object(py))?;
    // set on every instance raised for a core error; the class defaults cover the rest
    CloudOptimError::type_object(py).setattr("causes", PyTuple::empty(py))?;
    PluginError::type_object(py).setattr("plugin", py.None())?;
    PluginError::type_object(py).setattr("field", py.None())?;
    // `name` is set on instances naming an analyzer: default it to None on the class
    AnalyzerError::type_object(py).setattr("name", py.None())?;
    Ok(())
}
