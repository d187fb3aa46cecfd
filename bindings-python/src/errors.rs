//! ggipc errors to Python exceptions.
//!
//! The exception classes live in Python (`ggipc/_core.py`, the modeled ones generated from the model); the
//! package hands this module a factory `factory(kind, code, message, context_json, body_json) -> exception` at
//! import. Without a factory (the native
//! module imported on its own) a `RuntimeError` carrying the same text is raised.

use ggipc::{Error, ErrorKind};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;

static FACTORY: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

/// `_ggipc._set_error_factory(factory)`.
#[pyfunction]
pub fn _set_error_factory(factory: Py<PyAny>) {
    *FACTORY.lock().unwrap_or_else(|p| p.into_inner()) = Some(factory);
}

/// The exception object for `err`.
pub fn exception(py: Python<'_>, err: &Error) -> Py<PyAny> {
    let kind = err.kind();
    let context = err.context().map(|c| c.to_string());
    // A modeled error the server sent keeps its whole JSON body (every member of the error shape).
    let body = if kind.is_modeled() {
        err.body().map(|b| b.to_string())
    } else {
        None
    };
    let message = if err.message().is_empty() && kind.is_modeled() {
        None
    } else {
        Some(err.message().to_string())
    };
    let factory = FACTORY
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|f| f.clone_ref(py));
    if let Some(factory) = factory {
        match factory.call1(py, (kind.name(), kind.code(), message, context, body)) {
            Ok(exc) => return exc,
            Err(e) => e.print(py),
        }
    }
    PyRuntimeError::new_err(err.to_string())
        .into_value(py)
        .into_any()
}

/// `err` as a `PyErr` to return from a Python-facing function.
pub fn to_pyerr(py: Python<'_>, err: &Error) -> PyErr {
    PyErr::from_value(exception(py, err).into_bound(py))
}

/// Shorthand for an error of the binding itself.
pub fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message)
}

/// `_ggipc.ERROR_KINDS`: kind name -> stable code.
pub fn kinds_dict(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    for k in ErrorKind::ALL {
        d.set_item(k.name(), k.code())?;
    }
    Ok(d)
}
