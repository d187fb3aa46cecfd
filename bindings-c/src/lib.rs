//! `libggipc`: the C ABI of ggipc, the Greengrass v2 Core IPC client.
//!
//! Layout:
//! * [`ffi`] — the panic boundary, pointer casts, C strings, `userdata` ownership;
//! * [`error`] — `ggipc_error` objects and the stable `GGIPC_ERROR_KIND_*` numbers;
//! * [`generated`] — generated from the model (`cargo xtask codegen`): every enum, shape
//!   (opaque handle with accessors) and operation of the Greengrass model, and the error kinds;
//! * [`support`] — the conversions and call paths the generated code is built from;
//! * [`mqtt_api`] — generated too: the seed's MQTT API (`ggipc_publish_request`, `ggipc_message`,
//!   `ggipc_client_publish`, `ggipc_client_subscribe`, ...), the model's types under their first names and
//!   thin wrappers of the generated functions;
//! * [`client`] — options, connect/close/free, lifecycle callbacks;
//! * [`subscription`] — the stream handle every streaming operation returns and its callbacks;
//! * [`dispatch`] — which thread runs which callback, and how callbacks are stopped;
//! * [`testing`] — `ggipc_test_nucleus`, the core's test nucleus for C and C++ tests.
//!
//! The header `include/ggipc.h` is generated from these doc comments by
//! `generate-header.sh` (cbindgen) and committed; the C++ wrapper in
//! `include/ggipc/*.hpp` is written over it.
//!
//! API conventions (the contract of every function):
//! * handles are opaque; `ggipc_<type>_free(NULL)` is a no-op; double free is UB;
//! * fallible functions return `ggipc_error *` (NULL = success) and write their
//!   out-parameters only on success;
//! * every pointer argument is checked; NULL or invalid input yields an error
//!   of kind `GGIPC_ERROR_KIND_INVALID_ARGUMENT`, never a crash;
//! * strings are NUL-terminated UTF-8, borrowed for the call only; buffers are
//!   `(pointer, length)` pairs, borrowed for the call only;
//! * no panic crosses the boundary: it becomes `GGIPC_ERROR_KIND_INTERNAL`;
//! * callbacks take `void *userdata` first; an optional `free_userdata` runs once
//!   when the library drops it; callbacks never run on a runtime worker and may call
//!   back into the library.

#![allow(non_camel_case_types)]
// Every entry point checks its pointers; `unsafe extern "C"` marks the caller's
// duty to pass live objects, documented per function in the header.
#![allow(clippy::missing_safety_doc)]

pub mod client;
pub mod dispatch;
pub mod error;
pub mod ffi;
pub mod generated;
pub mod mqtt_api;
pub mod subscription;
pub(crate) mod support;
pub mod testing;
#[cfg(test)]
mod view_tests;

use std::ffi::c_char;

/// The process-wide runtime shared by every client (the core's lazily created one).
pub(crate) fn runtime() -> Result<tokio::runtime::Handle, error::Error> {
    ggipc_core::runtime::handle().map_err(error::Error::from)
}

/// Maps a core lifecycle event to the C event number and its reason.
pub(crate) fn lifecycle_event(
    ev: &ggipc_core::LifecycleEvent,
) -> (
    Option<client::ggipc_lifecycle_event>,
    Option<&ggipc_core::Error>,
) {
    use ggipc_core::LifecycleEvent as E;
    match ev {
        E::Connected => (Some(client::GGIPC_LIFECYCLE_CONNECTED), None),
        E::Disconnected(reason) => (Some(client::GGIPC_LIFECYCLE_DISCONNECTED), Some(reason)),
        E::Reconnecting { .. } => (Some(client::GGIPC_LIFECYCLE_RECONNECTING), None),
        E::ReconnectFailed(reason) => (Some(client::GGIPC_LIFECYCLE_ERROR), Some(reason)),
        _ => (None, None),
    }
}

/// Returns the library version as a static NUL-terminated string ("MAJOR.MINOR.PATCH"),
/// the same as `GGIPC_VERSION` in the header the program was compiled with if both
/// come from the same release. Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn ggipc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
