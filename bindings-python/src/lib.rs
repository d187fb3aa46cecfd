//! `ggipc._ggipc`: the native part of the `ggipc` Python package.
//!
//! Thin by design: it moves requests, responses and events as JSON (blob members as bytes, base64 only on the
//! wire), calls the `ggipc` core client and server, maps errors to the
//! Python classes defined in `python/ggipc`, and runs Python callbacks on its own threads:
//!
//! * every blocking wait releases the GIL;
//! * async completions run on one completion thread ([`runtime::complete`]), all queued ones in one
//!   GIL acquisition;
//! * subscription events run on the subscription's dispatcher thread, in order, delivered in batches;
//! * nothing panics across the boundary: panics in completions are caught and reported.

mod client;
mod errors;
mod json;
mod nucleus;
mod runtime;

use pyo3::prelude::*;

/// `_ggipc.component_socket_path()`: the IPC socket path the nucleus gives a component, as the core reads it
/// (`None` when the variable is unset or empty).
#[pyfunction]
fn component_socket_path() -> Option<String> {
    ggipc_bridge::component_socket_path().map(|p| p.to_string_lossy().into_owned())
}

/// `_ggipc.component_auth_token()`: the component's auth token (SVCUID), as the core reads it (`None` when the
/// variable is unset or empty).
#[pyfunction]
fn component_auth_token() -> Option<String> {
    ggipc_bridge::component_auth_token()
}

#[pymodule]
fn _ggipc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ERROR_KINDS", errors::kinds_dict(m.py())?)?;
    m.add_function(wrap_pyfunction!(errors::_set_error_factory, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(component_socket_path, m)?)?;
    m.add_function(wrap_pyfunction!(component_auth_token, m)?)?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::Subscription>()?;
    m.add_class::<json::Blob>()?;
    m.add_class::<nucleus::Nucleus>()?;
    Ok(())
}
