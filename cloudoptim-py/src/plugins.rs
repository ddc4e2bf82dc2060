//! Plug-ins written in Python and called by the core like built-ins: spot risk scorers
//! (`score_spot_types(..., scorer=obj)`) and IaC locators (`patch/locate(..., locators=[obj])`).
//!
//! The core's traits are infallible (`SpotRiskScorer::score` returns a score, `Locator::locate`
//! a list of findings), so a plug-in that raises or returns something unusable is recorded in a
//! shared slot; the binding raises `PluginError` for it once the core returns (with the Python
//! exception as `__cause__`).

use std::sync::{Arc, Mutex};

use cloudoptim_core::cost::Pricing;
use cloudoptim_core::iac::{
    self, Candidate, Finding, Locator, Repo, Resolution, SetKey, Site, Slot, WriteAs,
};
use cloudoptim_core::model::SpotPricePoint;
use cloudoptim_core::spot::{SeedScorer, SpotRiskScorer, SpotScore};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use serde_json::{Value, json};

use super::{PluginError, change_value, format_exception, json_data, to_python};

/// Why a plug-in failed: the message, the field of its answer that was wrong (if any) and the
/// exception it raised (if any).
pub(crate) struct FailureData {
    plugin: String,
    field: Option<String>,
    message: String,
    raised: Option<PyErr>,
}

/// A failure, boxed (it is the error of many small results).
pub(crate) type Failure = Box<FailureData>;

/// The first failure of the plug-ins of one call.
pub(crate) type FailureSlot = Arc<Mutex<Option<Failure>>>;

/// Records a failure unless one is recorded already.
fn record(slot: &FailureSlot, failure: Failure) {
    if let Ok(mut s) = slot.lock() {
        s.get_or_insert(failure);
    }
}

/// Whether a failure is recorded (later calls of the plug-in are then skipped).
fn failed(slot: &FailureSlot) -> bool {
    slot.lock().map(|s| s.is_some()).unwrap_or(true)
}

/// The recorded failure as the exception to raise: `PluginError` with `plugin`, `field` and
/// `__cause__`; an exception that is not an `Exception` (`KeyboardInterrupt`) is re-raised as is.
pub(crate) fn take_error(py: Python<'_>, slot: &FailureSlot) -> Option<PyErr> {
    let failure = *slot.lock().ok().and_then(|mut s| s.take())?;
    if let Some(raised) = &failure.raised
        && !raised.is_instance_of::<pyo3::exceptions::PyException>(py)
    {
        return failure.raised;
    }
    let err = PluginError::new_err(failure.message);
    let value = err.value(py);
    let attrs = || -> PyResult<()> {
        value.setattr("code", "plugin")?;
        value.setattr("plugin", failure.plugin)?;
        value.setattr("field", failure.field.filter(|f| !f.is_empty()))?;
        Ok(())
    };
    if let Err(e) = attrs() {
        return Some(e);
    }
    err.set_cause(py, failure.raised);
    Some(err)
}

/// A plug-in's name: its `name` attribute when a non-empty str, else its class name.
fn plugin_name(object: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Some(n) = object.getattr_opt("name")?
        && let Ok(s) = n.extract::<String>()
        && !s.is_empty()
    {
        return Ok(s);
    }
    Ok(object.get_type().name()?.to_string())
}

/// Checks that `object` has a callable `method`; raises `TypeError` naming `at` and the plug-in.
fn require_method(
    object: &Bound<'_, PyAny>,
    at: &str,
    name: &str,
    signature: &str,
) -> PyResult<()> {
    let method = signature.split('(').next().unwrap_or(signature);
    let callable = object.getattr_opt(method)?.is_some_and(|m| m.is_callable());
    if callable {
        Ok(())
    } else {
        Err(PyTypeError::new_err(format!(
            "{at} ({name}) needs a method `{signature}`"
        )))
    }
}

/// Calls `object.method(arg)` with `arg` built from JSON and returns the answer as JSON, or the
/// failure (the exception's traceback, or why the answer is not JSON data).
fn call_json(
    py: Python<'_>,
    plugin: &str,
    what: &str,
    object: &Py<PyAny>,
    method: &str,
    arg: &Value,
) -> Result<Value, Failure> {
    let fail = |field: Option<String>, message: String, raised: Option<PyErr>| {
        Box::new(FailureData {
            plugin: plugin.to_string(),
            field,
            message,
            raised,
        })
    };
    let arg = to_python(py, serde_json::to_string(arg)).map_err(|e| {
        fail(
            None,
            format!("{what} `{plugin}`: cannot build its input: {e}"),
            None,
        )
    })?;
    let answer = object.bind(py).call_method1(method, (arg,)).map_err(|e| {
        let text = format_exception(py, &e);
        fail(
            None,
            format!("{what} `{plugin}` raised in {method}():\n{text}"),
            Some(e),
        )
    })?;
    json_data(&answer, "", &|m| pyo3::exceptions::PyValueError::new_err(m)).map_err(|e| {
        fail(
            None,
            format!(
                "{what} `{plugin}`: {method}() returned something that is not JSON data: {}",
                e.value(py)
            ),
            None,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Spot risk scorers
// ---------------------------------------------------------------------------------------------

/// A spot risk scorer written in Python: `score(self, request: dict) -> dict`.
pub(crate) struct PyScorer {
    name: String,
    object: Py<PyAny>,
    failure: FailureSlot,
}

impl PyScorer {
    /// Reads the `scorer` argument; raises `TypeError` when it has no `score` method.
    pub(crate) fn new(object: &Bound<'_, PyAny>, failure: &FailureSlot) -> PyResult<PyScorer> {
        let name = plugin_name(object)?;
        require_method(
            object,
            "scorer",
            &name,
            "score(self, request: dict) -> dict",
        )?;
        Ok(PyScorer {
            name,
            object: object.clone().unbind(),
            failure: Arc::clone(failure),
        })
    }

    /// The plug-in's score from its answer, the seed's values filling what it leaves out.
    fn read(&self, t: &str, seed: &SpotScore, answer: &Value) -> Result<SpotScore, Failure> {
        let fail = |field: &str, message: String| {
            Box::new(FailureData {
                plugin: self.name.clone(),
                field: Some(field.to_string()),
                message: format!(
                    "spot scorer `{}` returned an invalid score for {t}: {message}",
                    self.name
                ),
                raised: None,
            })
        };
        let Value::Object(map) = answer else {
            return Err(fail(
                "",
                format!("expected a dict with `risk`, got {}", short(answer)),
            ));
        };
        for key in map.keys() {
            if !["risk", "rate", "volatility", "gap", "time", "explanation"].contains(&key.as_str())
            {
                return Err(fail(
                    key,
                    format!(
                        "unknown key `{key}` (allowed: risk, rate, volatility, gap, time, \
                         explanation)"
                    ),
                ));
            }
        }
        let unit = |key: &str, default: Option<f64>| -> Result<f64, Failure> {
            match (map.get(key), default) {
                (None, Some(d)) => Ok(d),
                (None, None) => Err(fail(key, format!("`{key}` is missing"))),
                (Some(v), _) => match v.as_f64() {
                    Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
                    _ => Err(fail(
                        key,
                        format!("`{key}` must be a number in [0, 1], got {}", short(v)),
                    )),
                },
            }
        };
        let mut score = seed.clone();
        score.risk = unit("risk", None)?;
        score.rate = unit("rate", Some(seed.rate))?;
        score.volatility = unit("volatility", Some(seed.volatility))?;
        score.gap = unit("gap", Some(seed.gap))?;
        score.time = unit("time", Some(seed.time))?;
        score.explanation = match map.get("explanation") {
            None => format!("risk {:.2} from the scorer `{}`", score.risk, self.name),
            Some(Value::String(s)) => s.clone(),
            Some(v) => {
                return Err(fail(
                    "explanation",
                    format!("`explanation` must be a str, got {}", short(v)),
                ));
            }
        };
        Ok(score)
    }
}

/// A value in a message, cut short.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

impl SpotRiskScorer for PyScorer {
    fn name(&self) -> &str {
        &self.name
    }

    fn score(&self, t: &str, pricing: &Pricing, history: &[SpotPricePoint]) -> SpotScore {
        let seed = SeedScorer::default().score(t, pricing, history);
        if failed(&self.failure) {
            return seed;
        }
        let points: Vec<&SpotPricePoint> =
            history.iter().filter(|p| p.instance_type == t).collect();
        let request = json!({
            "instance_type": t,
            "region": seed.region,
            "seed": seed,
            "history": points,
        });
        // the scoring runs with the GIL released: take it back for the Python call only
        let answer = Python::attach(|py| {
            call_json(
                py,
                &self.name,
                "spot scorer",
                &self.object,
                "score",
                &request,
            )
        });
        match answer.and_then(|a| self.read(t, &seed, &a)) {
            Ok(s) => s,
            Err(f) => {
                record(&self.failure, f);
                seed
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// IaC locators
// ---------------------------------------------------------------------------------------------

/// An IaC locator written in Python: `locate(self, request: dict) -> list[dict]`.
pub(crate) struct PyLocator {
    name: String,
    object: Py<PyAny>,
    failure: FailureSlot,
}

impl PyLocator {
    /// Reads one item of `locators`; raises `TypeError` when it has no `locate` method.
    pub(crate) fn new(
        index: usize,
        object: &Bound<'_, PyAny>,
        failure: &FailureSlot,
    ) -> PyResult<PyLocator> {
        let name = plugin_name(object)?;
        require_method(
            object,
            &format!("locators[{index}]"),
            &name,
            "locate(self, request: dict) -> list[dict]",
        )?;
        Ok(PyLocator {
            name,
            object: object.clone().unbind(),
            failure: Arc::clone(failure),
        })
    }

    /// The findings in the plug-in's answer.
    fn read(
        &self,
        repo: &Repo,
        change: &iac::Change,
        answer: &Value,
    ) -> Result<Vec<Finding>, Failure> {
        let fail = |field: String, message: String| {
            Box::new(FailureData {
                plugin: self.name.clone(),
                field: Some(field),
                message: format!(
                    "IaC locator `{}` returned an invalid finding: {message}",
                    self.name
                ),
                raised: None,
            })
        };
        let Value::Array(items) = answer else {
            return Err(fail(
                String::new(),
                format!("expected a list of findings, got {}", short(answer)),
            ));
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let at = format!("[{i}]");
            let str_field = |key: &str| -> Result<String, Failure> {
                match item.get(key) {
                    Some(Value::String(s)) => Ok(s.clone()),
                    other => Err(fail(
                        format!("{at}.{key}"),
                        format!(
                            "`{at}.{key}` must be a str, got {}",
                            other.map(short).unwrap_or_else(|| "nothing".into())
                        ),
                    )),
                }
            };
            let kind = str_field("kind")?;
            match kind.as_str() {
                "candidate" => {
                    let file = str_field("file")?;
                    if repo.find(&file).is_none() {
                        return Err(fail(
                            format!("{at}.file"),
                            format!("`{at}.file`: {file:?} is not a file of the repository"),
                        ));
                    }
                    let line = match item.get("line").and_then(Value::as_u64) {
                        Some(l) if l >= 1 => l as usize,
                        _ => {
                            return Err(fail(
                                format!("{at}.line"),
                                format!("`{at}.line` must be a 1-based line number"),
                            ));
                        }
                    };
                    out.push(Finding::Candidate(Candidate {
                        file,
                        line,
                        reason: str_field("reason")?,
                    }));
                }
                "blocked" => out.push(Finding::Blocked(str_field("reason")?)),
                "resolved" => {
                    let summary = str_field("summary")?;
                    let Some(Value::Array(sites)) = item.get("sites") else {
                        return Err(fail(
                            format!("{at}.sites"),
                            format!("`{at}.sites` must be a list of sites"),
                        ));
                    };
                    let mut resolved = Vec::new();
                    for (j, site) in sites.iter().enumerate() {
                        resolved.push(
                            self.site(repo, change, site, &format!("{at}.sites[{j}]"))
                                .map_err(|(f, m)| fail(f, m))?,
                        );
                    }
                    out.push(Finding::Resolved(Resolution {
                        sites: resolved,
                        summary,
                    }));
                }
                other => {
                    return Err(fail(
                        format!("{at}.kind"),
                        format!(
                            "`{at}.kind` is {other:?}; expected `resolved`, `candidate` or \
                             `blocked`"
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// One site of a `resolved` finding: `file`, `key`, `explanation`, then `path` (and `doc`)
    /// in a YAML file or `span` in an HCL file, and optionally `write`.
    fn site(
        &self,
        repo: &Repo,
        change: &iac::Change,
        site: &Value,
        at: &str,
    ) -> Result<Site, (String, String)> {
        let err = |key: &str, message: String| (format!("{at}.{key}"), message);
        let text_of = |key: &str| -> Result<&str, (String, String)> {
            site.get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| err(key, format!("`{at}.{key}` must be a str")))
        };
        let rel = text_of("file")?;
        let file = repo.find(rel).ok_or_else(|| {
            err(
                "file",
                format!("`{at}.file`: {rel:?} is not a file of the repository"),
            )
        })?;
        let key_text = text_of("key")?;
        let key: SetKey = serde_json::from_value(Value::String(key_text.to_string()))
            .map_err(|_| err("key", format!("`{at}.key`: {key_text:?} is not a setting")))?;
        if !change.set.contains_key(&key) {
            return Err(err(
                "key",
                format!("`{at}.key`: the change does not set {key_text:?}"),
            ));
        }
        let explanation = text_of("explanation")?.to_string();
        let write = match site.get("write").and_then(Value::as_str) {
            None | Some("value") => WriteAs::Value,
            Some("first") => WriteAs::First,
            Some(other) => {
                return Err(err(
                    "write",
                    format!("`{at}.write` is {other:?}; expected `value` or `first`"),
                ));
            }
        };
        let slot = if let Some(docs) = repo.yaml(file) {
            let doc_index = match site.get("doc") {
                None => 0,
                Some(v) => v
                    .as_u64()
                    .map(|d| d as usize)
                    .ok_or_else(|| err("doc", format!("`{at}.doc` must be a document index")))?,
            };
            let doc = docs.get(doc_index).ok_or_else(|| {
                err(
                    "doc",
                    format!("`{at}.doc`: {rel} has no document {doc_index}"),
                )
            })?;
            let Some(Value::Array(path)) = site.get("path") else {
                return Err(err(
                    "path",
                    format!("`{at}.path` must be a list of keys and indexes into {rel}"),
                ));
            };
            let mut node = &doc.root;
            for step in path {
                let next = match step {
                    Value::String(k) => node.get(k),
                    Value::Number(n) => n.as_u64().and_then(|i| node.items().get(i as usize)),
                    _ => None,
                };
                node = next.ok_or_else(|| {
                    err(
                        "path",
                        format!(
                            "`{at}.path`: {} does not lead to a node of {rel}",
                            Value::Array(path.clone())
                        ),
                    )
                })?;
            }
            Slot::Yaml { node: node.clone() }
        } else if repo.hcl(file).is_some() {
            let text = &repo.files[file].text;
            let span = site
                .get("span")
                .and_then(Value::as_array)
                .filter(|s| s.len() == 2)
                .and_then(|s| Some((s[0].as_u64()? as usize, s[1].as_u64()? as usize)))
                .filter(|(a, b)| a < b && *b <= text.len())
                .filter(|(a, b)| text.is_char_boundary(*a) && text.is_char_boundary(*b))
                .ok_or_else(|| {
                    err(
                        "span",
                        format!(
                            "`{at}.span` must be [start, end], byte offsets of an expression in {rel}"
                        ),
                    )
                })?;
            Slot::Hcl {
                span: span.0..span.1,
            }
        } else {
            return Err(err(
                "file",
                format!("`{at}.file`: {rel} is neither YAML nor HCL that parses"),
            ));
        };
        Ok(Site {
            file,
            key,
            slot,
            write,
            explanation,
        })
    }
}

/// The kind of a repository file, as the request names it.
fn file_kind(kind: iac::FileKind) -> &'static str {
    use iac::FileKind as K;
    match kind {
        K::Terraform => "terraform",
        K::TfVars => "tfvars",
        K::Terragrunt => "terragrunt",
        K::Yaml => "yaml",
        K::HelmTemplate => "helm_template",
    }
}

impl Locator for PyLocator {
    fn name(&self) -> &str {
        &self.name
    }

    fn locate(&self, repo: &Repo, change: &iac::Change) -> Vec<Finding> {
        if failed(&self.failure) {
            return Vec::new();
        }
        let files: Vec<Value> = repo
            .files
            .iter()
            .map(|f| json!({"file": f.rel, "kind": file_kind(f.kind), "text": f.text}))
            .collect();
        let request = json!({
            "change": change_value(change).unwrap_or(Value::Null),
            "root": repo.root.to_string_lossy(),
            "files": files,
        });
        let answer = Python::attach(|py| {
            call_json(
                py,
                &self.name,
                "IaC locator",
                &self.object,
                "locate",
                &request,
            )
        });
        match answer.and_then(|a| self.read(repo, change, &a)) {
            Ok(findings) => findings,
            Err(f) => {
                record(&self.failure, f);
                Vec::new()
            }
        }
    }
}
