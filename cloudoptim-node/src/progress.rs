//! Progress callbacks (`onProgress`): a JS function called on the main thread with one event at
//! a time. The worker thread waits until the callback has run, so events arrive in order and
//! all of them before the call's Promise settles.

use std::sync::mpsc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use serde_json::Value;

/// Calls the JS progress callback on the main thread; the worker waits until it has run.
type ProgressFn =
    ThreadsafeFunction<(Value, mpsc::Sender<()>), Unknown<'static>, (), Status, false, true>;

/// A JS `onProgress` callback that worker threads can call.
pub(crate) struct Progress(ProgressFn);

/// A JS callback as it arrives in an options object.
pub(crate) type JsCallback<'a> = Function<'a, Value, Unknown<'static>>;

impl Progress {
    /// Wraps `callback` (if any) so worker threads can call it. Weak: a pending call keeps the
    /// event loop alive, the callback alone does not.
    pub(crate) fn new(env: &Env, callback: Option<JsCallback<'_>>) -> Result<Option<Progress>> {
        let Some(f) = callback else {
            return Ok(None);
        };
        let f = f.create_ref()?;
        // the function the threadsafe function calls does nothing (`Function.prototype`): the
        // callback calls the user's function and then lets the worker go on
        let noop = env
            .get_global()?
            .get_named_property::<Function<'_, (), Unknown<'static>>>("Function")?
            .get_named_property::<Function<'_, (), Unknown<'static>>>("prototype")?;
        let tsfn = noop
            .build_threadsafe_function::<(Value, mpsc::Sender<()>)>()
            .weak::<true>()
            .build_callback(move |ctx| {
                let (event, done) = ctx.value;
                let f = f.borrow_back(&ctx.env)?;
                let r = f.call(event);
                let _ = done.send(());
                r.map(|_| ())
            })?;
        Ok(Some(Progress(tsfn)))
    }

    /// Calls the callback with `event` on the main thread and waits until it has run.
    pub(crate) fn emit(&self, event: Value) {
        let (tx, rx) = mpsc::channel();
        if self
            .0
            .call((event, tx), ThreadsafeFunctionCallMode::Blocking)
            == Status::Ok
        {
            let _ = rx.recv();
        }
    }
}

/// Emits to an optional callback.
pub(crate) fn emit(progress: Option<&Progress>, event: impl FnOnce() -> Value) {
    if let Some(p) = progress {
        p.emit(event());
    }
}
