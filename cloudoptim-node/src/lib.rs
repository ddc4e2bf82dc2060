//! Node bindings (skeleton; filled in by the binding work).
use napi_derive::napi;

/// The library version.
#[napi]
pub fn version() -> String {
    cloudoptim_core::VERSION.to_string()
}
