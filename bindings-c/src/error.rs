//! Error objects (`ggipc_error`) and their stable kind numbers.

use std::any::Any;
use std::ffi::{c_char, CString};

use ggipc_core::ErrorKind;

use crate::ffi::{boundary_or, c_string, free_raw, into_raw};

pub use crate::generated::ggipc_error_kind;
pub(crate) use crate::generated::{
    GGIPC_ERROR_KIND_INTERNAL, GGIPC_ERROR_KIND_INVALID_ARGUMENT, GGIPC_ERROR_KIND_UNMAPPED, KINDS,
};

/// Maps a core error kind to its C number (the core's own stable code).
pub(crate) fn kind_of(kind: ErrorKind) -> ggipc_error_kind {
    let code = kind.code();
    if KINDS.iter().any(|(k, _)| *k == code) {
        code
    } else {
        GGIPC_ERROR_KIND_INTERNAL
    }
}

/// An error object. Created by the library, owned by the caller once returned,
/// released with `ggipc_error_free`.
pub struct ggipc_error {
    kind: ggipc_error_kind,
    message: CString,
    service_model_type: Option<CString>,
    context: Option<CString>,
}

/// The library-side error value before it crosses the boundary.
#[derive(Debug, Clone)]
pub(crate) struct Error {
    kind: ggipc_error_kind,
    message: String,
    service_model_type: Option<String>,
    context: Option<String>,
}

impl Error {
    pub(crate) fn new(kind: ggipc_error_kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            service_model_type: None,
            context: None,
        }
    }

    pub(crate) fn null_argument(what: &str) -> Self {
        Self::new(GGIPC_ERROR_KIND_INVALID_ARGUMENT, format!("{what} is NULL"))
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(GGIPC_ERROR_KIND_INVALID_ARGUMENT, message)
    }

    pub(crate) fn from_panic(panic: Box<dyn Any + Send>) -> Self {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Self::new(
            GGIPC_ERROR_KIND_INTERNAL,
            format!("internal error (panic): {what}"),
        )
    }

    pub(crate) fn to_c(&self) -> ggipc_error {
        ggipc_error {
            kind: self.kind,
            message: c_string(&self.message),
            service_model_type: self.service_model_type.as_deref().map(c_string),
            context: self.context.as_deref().map(c_string),
        }
    }

    pub(crate) fn into_raw(self) -> *mut ggipc_error {
        into_raw(self.to_c())
    }
}

impl From<ggipc_core::Error> for Error {
    fn from(e: ggipc_core::Error) -> Self {
        Self {
            kind: kind_of(e.kind()),
            message: e.message().to_string(),
            service_model_type: e.service_model_type().map(str::to_string),
            context: e.context().map(|v| v.to_string()),
        }
    }
}

impl From<&ggipc_core::Error> for Error {
    fn from(e: &ggipc_core::Error) -> Self {
        Self::from(e.clone())
    }
}

/// Returns the kind of `error` (one of the `GGIPC_ERROR_KIND_*` values).
///
/// `error` may be NULL, which yields `GGIPC_ERROR_KIND_INVALID_ARGUMENT`.
/// Thread-safety: may be called from any thread; does not modify `error`.
#[no_mangle]
pub unsafe extern "C" fn ggipc_error_get_kind(error: *const ggipc_error) -> ggipc_error_kind {
    boundary_or(GGIPC_ERROR_KIND_INTERNAL, || {
        // SAFETY: the caller passes NULL or a live error object.
        match unsafe { error.as_ref() } {
            Some(e) => e.kind,
            None => GGIPC_ERROR_KIND_INVALID_ARGUMENT,
        }
    })
}

/// Returns the human-readable message of `error`: the server's message for modeled
/// errors, otherwise a description of what happened. Never NULL.
///
/// The string is owned by `error` and valid until `ggipc_error_free(error)`.
/// If `error` is NULL, returns a static string. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_error_get_message(error: *const ggipc_error) -> *const c_char {
    const NULL_MSG: &[u8] = b"(null error)\0";
    boundary_or(NULL_MSG.as_ptr().cast(), || {
        // SAFETY: the caller passes NULL or a live error object.
        match unsafe { error.as_ref() } {
            Some(e) => e.message.as_ptr(),
            None => NULL_MSG.as_ptr().cast(),
        }
    })
}

/// Returns the `service-model-type` of a modeled error (for example
/// `"aws.greengrass#UnauthorizedError"`), or NULL for other errors or a NULL `error`.
///
/// The string is owned by `error` and valid until `ggipc_error_free(error)`.
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_error_get_service_model_type(
    error: *const ggipc_error,
) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live error object.
        unsafe { error.as_ref() }
            .and_then(|e| e.service_model_type.as_ref())
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Returns the `context` member of a modeled `ServiceError` as compact JSON text,
/// or NULL when absent or when `error` is NULL.
///
/// The string is owned by `error` and valid until `ggipc_error_free(error)`.
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_error_get_context_json(error: *const ggipc_error) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live error object.
        unsafe { error.as_ref() }
            .and_then(|e| e.context.as_ref())
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Returns a copy of `error` that the caller owns (release it with
/// `ggipc_error_free`), or NULL if `error` is NULL. Use it to keep an error that
/// a callback only lends. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_error_clone(error: *const ggipc_error) -> *mut ggipc_error {
    boundary_or(std::ptr::null_mut(), || {
        // SAFETY: the caller passes NULL or a live error object.
        match unsafe { error.as_ref() } {
            Some(e) => into_raw(ggipc_error {
                kind: e.kind,
                message: e.message.clone(),
                service_model_type: e.service_model_type.clone(),
                context: e.context.clone(),
            }),
            None => std::ptr::null_mut(),
        }
    })
}

/// Releases an error object returned by the library. NULL is a no-op; freeing
/// twice is undefined behaviour. Errors passed to callbacks are only lent and must
/// not be freed. Thread-safety: any thread, but not concurrently with other use
/// of the same object.
#[no_mangle]
pub unsafe extern "C" fn ggipc_error_free(error: *mut ggipc_error) {
    boundary_or((), || {
        // SAFETY: the caller passes NULL or an error it owns.
        unsafe { free_raw(error) }
    })
}

/// Returns the symbolic name of an error kind without the `GGIPC_ERROR_KIND_`
/// prefix (for example `"UNAUTHORIZED_ERROR"`), or `"UNKNOWN"`.
///
/// The string is static. Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn ggipc_error_kind_name(kind: ggipc_error_kind) -> *const c_char {
    static NAMES: std::sync::OnceLock<Vec<(ggipc_error_kind, CString)>> =
        std::sync::OnceLock::new();
    const UNKNOWN: &[u8] = b"UNKNOWN\0";
    boundary_or(UNKNOWN.as_ptr().cast(), || {
        let names = NAMES.get_or_init(|| {
            KINDS
                .iter()
                .map(|(k, n)| (*k, CString::new(*n).unwrap_or_default()))
                .collect()
        });
        names
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(UNKNOWN.as_ptr().cast(), |(_, n)| n.as_ptr())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generated::GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR;

    #[test]
    fn every_core_kind_has_its_c_constant() {
        assert_eq!(KINDS.len(), ErrorKind::ALL.len());
        for k in ErrorKind::ALL {
            assert!(
                KINDS.iter().any(|(c, _)| *c == k.code()),
                "{k:?} has no C constant"
            );
            assert_eq!(kind_of(*k), k.code());
        }
    }

    #[test]
    fn header_defines_every_kind() {
        let header = include_str!("../include/ggipc.h");
        for (code, name) in KINDS {
            let line = format!("#define GGIPC_ERROR_KIND_{name} {code}\n");
            assert!(header.contains(&line), "header lacks {line}");
        }
    }

    #[test]
    fn header_version_matches_the_crate() {
        let header = include_str!("../include/ggipc.h");
        let version = env!("CARGO_PKG_VERSION");
        assert!(header.contains(&format!("#define GGIPC_VERSION \"{version}\"")));
        let mut parts = version.split('.');
        for macro_name in ["MAJOR", "MINOR", "PATCH"] {
            let part = parts.next().expect("three version parts");
            assert!(header.contains(&format!("#define GGIPC_VERSION_{macro_name} {part}\n")));
        }
    }

    #[test]
    fn errors_cross_the_boundary_intact() {
        let e = Error::new(GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR, "Not Authorized").into_raw();
        // SAFETY: `e` is a live error made just above.
        unsafe {
            assert_eq!(ggipc_error_get_kind(e), GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR);
            let msg = std::ffi::CStr::from_ptr(ggipc_error_get_message(e));
            assert_eq!(msg.to_str().unwrap(), "Not Authorized");
            assert!(ggipc_error_get_service_model_type(e).is_null());
            ggipc_error_free(e);
        }
    }

    #[test]
    fn panics_become_internal_errors() {
        let e = crate::ffi::boundary(|| panic!("boom"));
        // SAFETY: the boundary returned a live error.
        unsafe {
            assert_eq!(ggipc_error_get_kind(e), GGIPC_ERROR_KIND_INTERNAL);
            let msg = std::ffi::CStr::from_ptr(ggipc_error_get_message(e))
                .to_str()
                .unwrap()
                .to_string();
            assert!(msg.contains("boom"), "{msg}");
            ggipc_error_free(e);
        }
    }

    #[test]
    fn kind_numbers_are_unique_and_sorted() {
        for w in KINDS.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?} then {:?}", w[0], w[1]);
        }
    }
}
