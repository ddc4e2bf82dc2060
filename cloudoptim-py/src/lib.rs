//! Python bindings (skeleton; filled in by the binding work).
use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", cloudoptim_core::VERSION)?;
    Ok(())
}
