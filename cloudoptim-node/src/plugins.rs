//! Plug-ins written in JavaScript that the Rust engine calls like its own parts: spot risk
//! scorers (`scoreSpotTypes(…, { scorer })`, a `SpotRiskScorer`) and IaC locators
//! (`locate`/`patch(…, { locators })`, a `Locator`).
//!
//! They follow the JS analyzers' pattern: the plug-in's function is wrapped in a
//! `ThreadsafeFunction`; the worker thread calls it and blocks until the main thread has run it
//! (and, when it returns a Promise, until that settles), so the event loop stays free. The core's
//! traits cannot fail, so the first failure (a thrown error, or an answer that is not what the
//! plug-in must return) is kept in a [`FailureSlot`], the plug-in is not called again, and the
//! call rejects with `CLOUDOPTIM_PLUGIN` naming the plug-in and the field, the thrown value as
//! the error's `cause`.

use std::sync::{Arc, Mutex, mpsc};

use cloudoptim_core::iac::{
    self, Candidate, Change, Finding, Repo, Resolution, SetKey, Site, Slot, WriteAs,
};
use cloudoptim_core::model::SpotPricePoint;
use cloudoptim_core::spot::{SeedScorer, SpotRiskScorer, SpotScore};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use serde_json::{Value, json};

/// A JS value kept alive across threads (a `napi_ref`), to become an error's `cause` on the
/// main thread.
pub(crate) struct JsValueRef(napi::sys::napi_ref);

// SAFETY: the reference is only created and read on the main thread (in callbacks and in a
// task's `resolve`); other threads only move it.
unsafe impl Send for JsValueRef {}

impl JsValueRef {
    /// A strong reference to `value` (main thread).
    fn new(env: &Env, value: &Unknown<'_>) -> Option<JsValueRef> {
        let mut r = std::ptr::null_mut();
        // SAFETY: env and value are live handles of the current callback scope
        let status = unsafe { napi::sys::napi_create_reference(env.raw(), value.raw(), 1, &mut r) };
        (status == napi::sys::Status::napi_ok).then_some(JsValueRef(r))
    }

    /// The value, releasing the reference (main thread).
    fn take<'e>(self, env: &'e Env) -> Option<Unknown<'e>> {
        let mut v = std::ptr::null_mut();
        // SAFETY: the reference was created on this env and is deleted exactly once, here
        let ok = unsafe { napi::sys::napi_get_reference_value(env.raw(), self.0, &mut v) }
            == napi::sys::Status::napi_ok;
        // SAFETY: as above
        unsafe { napi::sys::napi_delete_reference(env.raw(), self.0) };
        if !ok || v.is_null() {
            return None;
        }
        // SAFETY: v is a live value of this env
        unsafe { Unknown::from_napi_value(env.raw(), v) }.ok()
    }
}

/// Why a JS function gave no answer.
pub(crate) struct Thrown {
    /// The error's message or stack (the `property` of `JsFunction::new`), or the value as text.
    pub(crate) message: String,
    /// The thrown (or rejected) value itself.
    value: Option<JsValueRef>,
}

type Answer = std::result::Result<Value, Thrown>;

type CallFn =
    ThreadsafeFunction<(Value, mpsc::Sender<Answer>), Unknown<'static>, (), Status, false, true>;

/// A JS function that worker threads can call with JSON and wait for its JSON answer.
pub(crate) struct JsFunction {
    start: CallFn,
}

/// A thrown or rejected JS value as text: the `Error`'s `property` (`message`, or `stack`,
/// which starts with the message), else the value as a string.
fn thrown_text(value: &Unknown<'_>, property: &str) -> String {
    let text = value
        .is_error()
        .ok()
        .filter(|is| *is)
        .and_then(|_| value.coerce_to_object().ok())
        .and_then(|o| {
            o.get_named_property::<Option<String>>(property)
                .ok()
                .flatten()
        });
    match text {
        Some(m) => m,
        None => value
            .coerce_to_string()
            .and_then(|s| s.into_utf8())
            .and_then(|s| s.into_owned())
            .unwrap_or_else(|_| "a value that cannot be shown".to_string()),
    }
}

/// On the main thread: `Promise.resolve(input).then(f)`, so whatever `f` does (return a value
/// or a Promise, throw anything) settles one Promise, whose outcome is sent back: its JSON, or
/// why there is none (not JSON data, or the rejected value described by its `property`).
fn start_call(
    env: &Env,
    f: &FunctionRef<Value, Unknown<'static>>,
    input: Value,
    answer: mpsc::Sender<Answer>,
    property: &'static str,
) -> Result<()> {
    let f = f.borrow_back(env)?;
    let promise_class = env
        .get_global()?
        .get_named_property::<Function<'_, (), Unknown<'static>>>("Promise")?;
    let resolve = promise_class.get_named_property::<Function<'_, Value, Object>>("resolve")?;
    let started = resolve.apply(promise_class, input)?;
    let then = started.get_named_property::<Function<
        '_,
        Function<'_, Value, Unknown<'static>>,
        PromiseRaw<'_, Unknown<'_>>,
    >>("then")?;
    let settled = then.apply(started, f)?;
    let rejected = answer.clone();
    settled
        .then(move |ctx: CallbackContext<Unknown<'_>>| {
            let json = ctx
                .env
                .from_js_value::<Value, _>(ctx.value)
                .map_err(|e| Thrown {
                    message: format!("returned something that is not JSON data: {}", e.reason),
                    value: None,
                });
            let _ = answer.send(json);
            Ok(())
        })?
        .catch(move |ctx: CallbackContext<Unknown<'_>>| {
            let _ = rejected.send(Err(Thrown {
                message: thrown_text(&ctx.value, property),
                value: JsValueRef::new(&ctx.env, &ctx.value),
            }));
            Ok(())
        })?;
    Ok(())
}

impl JsFunction {
    /// Wraps `f` (already bound to its `this`). Weak: a pending call keeps the event loop alive,
    /// the function alone does not. A thrown `Error` is described by its `property`
    /// (`message`, or `stack`, which starts with the message).
    pub(crate) fn new(
        env: &Env,
        f: Function<'_, Value, Unknown<'static>>,
        property: &'static str,
    ) -> Result<JsFunction> {
        let f = f.create_ref()?;
        let noop = env
            .get_global()?
            .get_named_property::<Function<'_, (), Unknown<'static>>>("Function")?
            .get_named_property::<Function<'_, (), Unknown<'static>>>("prototype")?;
        let start = noop
            .build_threadsafe_function::<(Value, mpsc::Sender<Answer>)>()
            .weak::<true>()
            .build_callback(move |ctx| {
                let (input, answer) = ctx.value;
                if let Err(e) = start_call(&ctx.env, &f, input, answer.clone(), property) {
                    let _ = answer.send(Err(Thrown {
                        message: format!("cannot be called: {}", e.reason),
                        value: None,
                    }));
                }
                Ok(())
            })?;
        Ok(JsFunction { start })
    }

    /// Calls the function on the main thread and waits for its answer.
    pub(crate) fn call(&self, input: Value) -> Answer {
        let (tx, rx) = mpsc::channel();
        let status = self
            .start
            .call((input, tx), ThreadsafeFunctionCallMode::Blocking);
        if status != Status::Ok {
            return Err(Thrown {
                message: format!("cannot call into JavaScript ({status})"),
                value: None,
            });
        }
        rx.recv().unwrap_or_else(|_| {
            Err(Thrown {
                message: "the JavaScript function did not answer".into(),
                value: None,
            })
        })
    }
}

/// The first failure of a plug-in during one call.
pub(crate) struct PluginFailure {
    /// `scorer` or `locator`.
    role: &'static str,
    /// The plug-in's name.
    plugin: String,
    /// The field of its answer that is wrong, when it answered.
    field: Option<String>,
    /// What went wrong.
    message: String,
    /// The value it threw, when it threw.
    cause: Option<JsValueRef>,
}

/// Where the plug-ins of one call keep their first failure.
pub(crate) type FailureSlot = Arc<Mutex<Option<PluginFailure>>>;

fn failed(slot: &FailureSlot) -> bool {
    slot.lock().map(|s| s.is_some()).unwrap_or(true)
}

fn record(slot: &FailureSlot, failure: PluginFailure) {
    if let Ok(mut s) = slot.lock()
        && s.is_none()
    {
        *s = Some(failure);
    }
}

/// Takes the failure recorded in `slot`, if any.
pub(crate) fn take_failure(slot: &FailureSlot) -> Option<PluginFailure> {
    slot.lock().ok().and_then(|mut s| s.take())
}

/// The JS `Error` for a plug-in failure: `code` `CLOUDOPTIM_PLUGIN`, `plugin`, `role`, `field`
/// (when the answer was wrong) as properties and under `details`, the thrown value as `cause`.
pub(crate) fn plugin_error(env: &Env, failure: PluginFailure) -> Error {
    let message = format!(
        "{} plug-in {:?}: {}",
        failure.role, failure.plugin, failure.message
    );
    let build = |failure: PluginFailure| -> Result<Error> {
        let mut obj = env.create_error(Error::new(Status::GenericFailure, message.clone()))?;
        obj.set_named_property("code", "CLOUDOPTIM_PLUGIN")?;
        let mut details = Object::new(env)?;
        obj.set_named_property("plugin", failure.plugin.as_str())?;
        details.set_named_property("plugin", failure.plugin.as_str())?;
        obj.set_named_property("role", failure.role)?;
        details.set_named_property("role", failure.role)?;
        if let Some(f) = &failure.field {
            obj.set_named_property("field", f.as_str())?;
            details.set_named_property("field", f.as_str())?;
        }
        obj.set_named_property("details", details)?;
        if let Some(cause) = failure.cause.and_then(|c| c.take(env)) {
            obj.set_named_property("cause", cause)?;
        }
        Ok(Error::from(obj.to_unknown()))
    };
    build(failure).unwrap_or_else(|_| {
        Error::new(
            Status::GenericFailure,
            format!("CLOUDOPTIM_PLUGIN: {message}"),
        )
    })
}

/// A `TypeError` thrown at once, for a plug-in that is not one.
fn type_error(env: &Env, message: String) -> Error {
    match env.throw_type_error(&message, Some("ERR_INVALID_ARG_TYPE")) {
        Ok(()) => Error::new(Status::PendingException, message),
        Err(e) => e,
    }
}

/// Reads a plug-in: a function (named by its `name`, else `fallback`) or an object with a
/// `name` and the method `method`, bound to the object.
fn read_plugin<'e>(
    env: &'e Env,
    value: &Object<'e>,
    at: &str,
    method: &str,
) -> Result<(String, JsFunction)> {
    let is_function = value.to_unknown().get_type()? == ValueType::Function;
    if is_function {
        // SAFETY: the value was just checked to be a function
        let f: Function<'_, Value, Unknown<'static>> =
            unsafe { Function::from_napi_value(env.raw(), value.raw()) }?;
        let name = value
            .get_named_property::<Option<String>>("name")
            .ok()
            .flatten()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| at.to_string());
        return Ok((name, JsFunction::new(env, f, "message")?));
    }
    let name = match value.get_named_property::<Option<String>>("name") {
        Ok(Some(n)) if !n.is_empty() => n,
        _ => {
            return Err(type_error(
                env,
                format!("{at} needs a `name` (a non-empty string), or must be a function"),
            ));
        }
    };
    let f = value
        .get_named_property::<Function<'_, Value, Unknown<'static>>>(method)
        .map_err(|_| type_error(env, format!("{at} ({name}) needs a method `{method}`")))?;
    Ok((name, JsFunction::new(env, f.bind(value)?, "message")?))
}

// ---------------------------------------------------------------------------------------------
// Spot risk scorers
// ---------------------------------------------------------------------------------------------

/// A spot risk scorer written in JavaScript: `score(input)` gets the instance type, region,
/// the built-in score and the type's price history, and returns `{ risk, explanation?, rate?,
/// volatility?, gap?, time? }`; the fields it leaves out keep the built-in values.
pub(crate) struct JsScorer {
    name: String,
    score: JsFunction,
    failure: FailureSlot,
    builtin: SeedScorer,
}

/// The fields a scorer may return.
const SCORE_FIELDS: &[&str] = &["risk", "explanation", "rate", "volatility", "gap", "time"];

impl JsScorer {
    /// Reads `scorer` (a function or `{ name, score }`).
    pub(crate) fn new(env: &Env, scorer: &Object<'_>, failure: FailureSlot) -> Result<JsScorer> {
        let (name, score) = read_plugin(env, scorer, "scorer", "score")?;
        Ok(JsScorer {
            name,
            score,
            failure,
            builtin: SeedScorer::default(),
        })
    }

    /// The built-in score with the plug-in's answer on top, or the field that is wrong.
    fn merge(
        mut score: SpotScore,
        answer: &Value,
    ) -> std::result::Result<SpotScore, (Option<String>, String)> {
        let Some(obj) = answer.as_object() else {
            return Err((
                None,
                format!(
                    "score() must return an object like {{ risk, explanation }}, not {}",
                    short(answer)
                ),
            ));
        };
        if let Some(k) = obj.keys().find(|k| !SCORE_FIELDS.contains(&k.as_str())) {
            return Err((
                Some(k.clone()),
                format!(
                    "unknown field `{k}` (the fields are {})",
                    SCORE_FIELDS.join(", ")
                ),
            ));
        }
        let unit = |key: &str, required: bool| -> std::result::Result<Option<f64>, _> {
            match obj.get(key) {
                None | Some(Value::Null) if !required => Ok(None),
                None | Some(Value::Null) => Err((
                    Some(key.to_string()),
                    format!("`{key}` is missing: a number from 0 (safest) to 1"),
                )),
                Some(v) => match v.as_f64() {
                    Some(x) if (0.0..=1.0).contains(&x) => Ok(Some(x)),
                    _ => Err((
                        Some(key.to_string()),
                        format!("`{key}` must be a number from 0 to 1, not {}", short(v)),
                    )),
                },
            }
        };
        if let Some(r) = unit("risk", true)? {
            score.risk = r;
        }
        for (key, slot) in [
            ("rate", &mut score.rate),
            ("volatility", &mut score.volatility),
            ("gap", &mut score.gap),
            ("time", &mut score.time),
        ] {
            if let Some(x) = unit(key, false)? {
                *slot = x;
            }
        }
        match obj.get("explanation") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => score.explanation = s.clone(),
            Some(v) => {
                return Err((
                    Some("explanation".into()),
                    format!("`explanation` must be a string, not {}", short(v)),
                ));
            }
        }
        Ok(score)
    }
}

/// A JSON value shortened for a message.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

impl SpotRiskScorer for JsScorer {
    fn name(&self) -> &str {
        &self.name
    }

    fn score(
        &self,
        instance_type: &str,
        pricing: &cloudoptim_core::cost::Pricing,
        history: &[SpotPricePoint],
    ) -> SpotScore {
        let builtin = self.builtin.score(instance_type, pricing, history);
        if failed(&self.failure) {
            return builtin;
        }
        let points: Vec<&SpotPricePoint> = history
            .iter()
            .filter(|p| p.instance_type == instance_type)
            .collect();
        let input = json!({
            "instanceType": instance_type,
            "region": pricing.region(),
            "builtin": serde_json::to_value(&builtin).unwrap_or(Value::Null),
            "history": serde_json::to_value(points).unwrap_or(Value::Null),
        });
        let failure = match self.score.call(input) {
            Ok(answer) => match JsScorer::merge(builtin.clone(), &answer) {
                Ok(score) => return score,
                Err((field, message)) => PluginFailure {
                    role: "scorer",
                    plugin: self.name.clone(),
                    field,
                    message: format!("invalid score for {instance_type}: {message}"),
                    cause: None,
                },
            },
            Err(thrown) => PluginFailure {
                role: "scorer",
                plugin: self.name.clone(),
                field: None,
                message: format!("score() failed for {instance_type}: {}", thrown.message),
                cause: thrown.value,
            },
        };
        record(&self.failure, failure);
        builtin
    }
}

// ---------------------------------------------------------------------------------------------
// IaC locators
// ---------------------------------------------------------------------------------------------

/// An IaC locator written in JavaScript: `locate(input)` gets `{ root, change, files }` (every
/// file the engine scanned, with its text) and returns findings; see `CustomLocator` in
/// `header.d.ts`.
pub(crate) struct JsLocator {
    name: String,
    locate: JsFunction,
    failure: FailureSlot,
}

impl JsLocator {
    /// Reads item `index` of `locators`.
    pub(crate) fn new(
        env: &Env,
        index: usize,
        locator: &Object<'_>,
        failure: FailureSlot,
    ) -> Result<JsLocator> {
        let (name, locate) = read_plugin(env, locator, &format!("locators[{index}]"), "locate")?;
        Ok(JsLocator {
            name,
            locate,
            failure,
        })
    }
}

fn kind_name(kind: iac::FileKind) -> &'static str {
    match kind {
        iac::FileKind::Terraform => "terraform",
        iac::FileKind::TfVars => "tfvars",
        iac::FileKind::Terragrunt => "terragrunt",
        iac::FileKind::Yaml => "yaml",
        iac::FileKind::HelmTemplate => "helm-template",
    }
}

/// The byte offset of UTF-16 index `index` of `text` (a JS string index), if on a character.
fn byte_offset(text: &str, index: u64) -> Option<usize> {
    let mut units = 0u64;
    for (i, c) in text.char_indices() {
        if units == index {
            return Some(i);
        }
        units += c.len_utf16() as u64;
        if units > index {
            return None;
        }
    }
    (units == index).then_some(text.len())
}

/// The YAML node (a scalar or a list) spanning exactly `span`.
fn yaml_node(node: &iac::yaml::Node, span: &std::ops::Range<usize>) -> Option<iac::yaml::Node> {
    use iac::yaml::Node;
    let own = match node {
        Node::Scalar { .. } | Node::Seq { .. } => node.span() == *span,
        _ => false,
    };
    if own {
        return Some(node.clone());
    }
    match node {
        Node::Seq { items, .. } => items.iter().find_map(|n| yaml_node(n, span)),
        Node::Map { entries, .. } => entries.iter().find_map(|(_, v)| yaml_node(v, span)),
        _ => None,
    }
}

type Wrong = (String, String);

fn field_str<'v>(
    obj: &'v serde_json::Map<String, Value>,
    at: &str,
    key: &str,
) -> std::result::Result<Option<&'v str>, Wrong> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err((
            format!("{at}.{key}"),
            format!("must be a string, not {}", short(v)),
        )),
    }
}

fn field_index(
    obj: &serde_json::Map<String, Value>,
    at: &str,
    key: &str,
) -> std::result::Result<u64, Wrong> {
    obj.get(key).and_then(Value::as_u64).ok_or_else(|| {
        (
            format!("{at}.{key}"),
            format!(
                "must be a non-negative integer (an index into the file's text), not {}",
                obj.get(key).map_or("nothing".into(), short)
            ),
        )
    })
}

fn site(
    repo: &Repo,
    change: &Change,
    v: &Value,
    at: &str,
    summary: &str,
) -> std::result::Result<Site, Wrong> {
    let obj = v.as_object().ok_or_else(|| {
        (
            at.to_string(),
            format!(
                "a site must be an object {{ file, start, end, key?, explanation? }}, not {}",
                short(v)
            ),
        )
    })?;
    let rel = field_str(obj, at, "file")?.ok_or_else(|| {
        (
            format!("{at}.file"),
            "is missing: the file's `path` as given in `input.files`".to_string(),
        )
    })?;
    let file = repo.find(rel).ok_or_else(|| {
        (
            format!("{at}.file"),
            format!("{rel:?} is not one of the repository's files (see `input.files`)"),
        )
    })?;
    let text = &repo.files[file].text;
    let (start, end) = (field_index(obj, at, "start")?, field_index(obj, at, "end")?);
    let (Some(start), Some(end)) = (byte_offset(text, start), byte_offset(text, end)) else {
        return Err((
            format!("{at}.end"),
            format!("start..end is not a range of characters of {rel}"),
        ));
    };
    if start >= end {
        return Err((
            format!("{at}.end"),
            format!("must be after `start` ({rel})"),
        ));
    }
    let key = match field_str(obj, at, "key")? {
        Some(k) => serde_json::from_value::<SetKey>(Value::String(k.to_string()))
            .ok()
            .filter(|k| change.set.contains_key(k))
            .ok_or_else(|| {
                (
                    format!("{at}.key"),
                    format!(
                        "{k:?} is not a key the change sets ({})",
                        change
                            .set
                            .keys()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?,
        None => match change.set.keys().collect::<Vec<_>>().as_slice() {
            [only] => **only,
            _ => {
                return Err((
                    format!("{at}.key"),
                    "is missing, and the change sets more than one key".to_string(),
                ));
            }
        },
    };
    let write = match field_str(obj, at, "write")? {
        None | Some("value") => WriteAs::Value,
        Some("first") => WriteAs::First,
        Some(other) => {
            return Err((
                format!("{at}.write"),
                format!("must be `value` or `first`, not {other:?}"),
            ));
        }
    };
    let span = start..end;
    let slot = match repo.files[file].kind {
        iac::FileKind::Terraform | iac::FileKind::TfVars | iac::FileKind::Terragrunt => {
            Slot::Hcl { span }
        }
        iac::FileKind::Yaml => {
            let node = repo
                .yaml(file)
                .and_then(|docs| docs.iter().find_map(|d| yaml_node(&d.root, &span)))
                .ok_or_else(|| {
                    (
                        format!("{at}.start"),
                        format!("start..end in {rel} is not exactly a YAML scalar or list"),
                    )
                })?;
            Slot::Yaml { node }
        }
        _ => {
            return Err((
                format!("{at}.file"),
                format!(
                    "{rel} is a Helm template: only Terraform/HCL and YAML files can be edited"
                ),
            ));
        }
    };
    let explanation = field_str(obj, at, "explanation")?.unwrap_or(summary);
    Ok(Site {
        file,
        key,
        slot,
        write,
        explanation: explanation.to_string(),
    })
}

fn finding(
    repo: &Repo,
    change: &Change,
    v: &Value,
    at: &str,
) -> std::result::Result<Finding, Wrong> {
    let obj = v.as_object().ok_or_else(|| {
        (
            at.to_string(),
            format!(
                "a finding must be an object with `kind` resolved, candidate or blocked, not {}",
                short(v)
            ),
        )
    })?;
    match field_str(obj, at, "kind")? {
        Some("resolved") => {
            let summary = field_str(obj, at, "summary")?.unwrap_or_default();
            let sites = obj
                .get("sites")
                .and_then(Value::as_array)
                .filter(|s| !s.is_empty());
            let Some(sites) = sites else {
                return Err((
                    format!("{at}.sites"),
                    "must be a non-empty array of sites".to_string(),
                ));
            };
            let sites = sites
                .iter()
                .enumerate()
                .map(|(j, s)| site(repo, change, s, &format!("{at}.sites[{j}]"), summary))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(Finding::Resolved(Resolution {
                sites,
                summary: summary.to_string(),
            }))
        }
        Some("candidate") => serde_json::from_value::<Candidate>(json!({
            "file": obj.get("file"),
            "line": obj.get("line"),
            "reason": obj.get("reason").cloned().unwrap_or(Value::String(String::new())),
        }))
        .map(Finding::Candidate)
        .map_err(|e| {
            (
                at.to_string(),
                format!("a candidate is {{ kind, file, line, reason }}: {e}"),
            )
        }),
        Some("blocked") => Ok(Finding::Blocked(
            field_str(obj, at, "reason")?
                .ok_or_else(|| (format!("{at}.reason"), "is missing".to_string()))?
                .to_string(),
        )),
        other => Err((
            format!("{at}.kind"),
            format!("must be `resolved`, `candidate` or `blocked`, not {other:?}"),
        )),
    }
}

impl iac::Locator for JsLocator {
    fn name(&self) -> &str {
        &self.name
    }

    fn locate(&self, repo: &Repo, change: &Change) -> Vec<Finding> {
        if failed(&self.failure) {
            return vec![];
        }
        let files: Vec<Value> = repo
            .files
            .iter()
            .map(|f| json!({"path": f.rel, "kind": kind_name(f.kind), "text": f.text}))
            .collect();
        let input = json!({
            "root": repo.root.display().to_string(),
            "change": crate::change_value(change).unwrap_or(Value::Null),
            "files": files,
        });
        let failure = match self.locate.call(input) {
            Ok(Value::Null) => return vec![],
            Ok(Value::Array(items)) => {
                let found: std::result::Result<Vec<Finding>, Wrong> = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| finding(repo, change, v, &format!("findings[{i}]")))
                    .collect();
                match found {
                    Ok(f) => return f,
                    Err((field, message)) => PluginFailure {
                        role: "locator",
                        plugin: self.name.clone(),
                        field: Some(field.clone()),
                        message: format!("invalid answer: `{field}` {message}"),
                        cause: None,
                    },
                }
            }
            Ok(other) => PluginFailure {
                role: "locator",
                plugin: self.name.clone(),
                field: None,
                message: format!(
                    "locate() must return an array of findings (or nothing), not {}",
                    short(&other)
                ),
                cause: None,
            },
            Err(thrown) => PluginFailure {
                role: "locator",
                plugin: self.name.clone(),
                field: None,
                message: format!("locate() failed: {}", thrown.message),
                cause: thrown.value,
            },
        };
        record(&self.failure, failure);
        vec![]
    }
}
