//! Error objects (`ggipc_error`) and their stable kind numbers.

use std::any::Any;
use std::ffi::{c_char, CString};

use ggipc_core::ErrorKind;

use crate::ffi::{boundary_or, c_string, free_raw, into_raw};

/// Numeric kind of a `ggipc_error`. Values are stable across releases and never
/// reused; new kinds may be added, so treat unknown values like
/// `GGIPC_ERROR_KIND_INTERNAL`.
pub type ggipc_error_kind = u32;

/// Connecting to the nucleus socket failed (missing socket, refused, timed out
/// before the handshake).
pub const GGIPC_ERROR_KIND_CONNECT_FAILED: ggipc_error_kind = 1;
/// The nucleus rejected the auth token (CONNECT_ACK without "accepted").
pub const GGIPC_ERROR_KIND_ACCESS_DENIED: ggipc_error_kind = 2;
/// The connection is closed (by the peer, by `ggipc_client_close`, or lost).
pub const GGIPC_ERROR_KIND_CONNECTION_CLOSED: ggipc_error_kind = 3;
/// An operation or connect did not complete within its timeout.
pub const GGIPC_ERROR_KIND_TIMEOUT: ggipc_error_kind = 4;
/// The peer violated the event-stream RPC protocol.
pub const GGIPC_ERROR_KIND_PROTOCOL: ggipc_error_kind = 5;
/// A frame could not be decoded (bad CRC, lengths, headers).
pub const GGIPC_ERROR_KIND_INVALID_FRAME: ggipc_error_kind = 6;
/// An argument was rejected before anything was sent (NULL, invalid UTF-8, bad value).
pub const GGIPC_ERROR_KIND_INVALID_ARGUMENT: ggipc_error_kind = 7;
/// The stream was closed before a response arrived.
pub const GGIPC_ERROR_KIND_STREAM_CLOSED: ggipc_error_kind = 8;
/// The server failed the operation without a modeled error shape.
pub const GGIPC_ERROR_KIND_UNMAPPED: ggipc_error_kind = 9;
/// A bug inside the library (including a caught panic); the message says more.
pub const GGIPC_ERROR_KIND_INTERNAL: ggipc_error_kind = 10;
/// Modeled `aws.greengrass#ServiceError`.
pub const GGIPC_ERROR_KIND_SERVICE_ERROR: ggipc_error_kind = 100;
/// Modeled `aws.greengrass#UnauthorizedError`.
pub const GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR: ggipc_error_kind = 101;
/// Modeled `aws.greengrass#InvalidArgumentsError`.
pub const GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR: ggipc_error_kind = 102;
/// Modeled `aws.greengrass#ResourceNotFoundError`.
pub const GGIPC_ERROR_KIND_RESOURCE_NOT_FOUND_ERROR: ggipc_error_kind = 103;
/// Modeled `aws.greengrass#ComponentNotFoundError`.
pub const GGIPC_ERROR_KIND_COMPONENT_NOT_FOUND_ERROR: ggipc_error_kind = 104;
/// Modeled `aws.greengrass#ConflictError`.
pub const GGIPC_ERROR_KIND_CONFLICT_ERROR: ggipc_error_kind = 105;
/// Modeled `aws.greengrass#FailedUpdateConditionCheckError`.
pub const GGIPC_ERROR_KIND_FAILED_UPDATE_CONDITION_CHECK_ERROR: ggipc_error_kind = 106;
/// Modeled `aws.greengrass#InvalidTokenError`.
pub const GGIPC_ERROR_KIND_INVALID_TOKEN_ERROR: ggipc_error_kind = 107;
/// Modeled `aws.greengrass#InvalidCredentialError`.
pub const GGIPC_ERROR_KIND_INVALID_CREDENTIAL_ERROR: ggipc_error_kind = 108;
/// Modeled `aws.greengrass#InvalidArtifactsDirectoryPathError`.
pub const GGIPC_ERROR_KIND_INVALID_ARTIFACTS_DIRECTORY_PATH_ERROR: ggipc_error_kind = 109;
/// Modeled `aws.greengrass#InvalidRecipeDirectoryPathError`.
pub const GGIPC_ERROR_KIND_INVALID_RECIPE_DIRECTORY_PATH_ERROR: ggipc_error_kind = 110;
/// Modeled `aws.greengrass#InvalidClientDeviceAuthTokenError`.
pub const GGIPC_ERROR_KIND_INVALID_CLIENT_DEVICE_AUTH_TOKEN_ERROR: ggipc_error_kind = 111;

/// Every kind with its C name, in numeric order (used by `ggipc_error_kind_name`
/// and by the tests that keep the header, the core and this table in step).
pub(crate) const KINDS: &[(ggipc_error_kind, &str)] = &[
    (GGIPC_ERROR_KIND_CONNECT_FAILED, "CONNECT_FAILED"),
    (GGIPC_ERROR_KIND_ACCESS_DENIED, "ACCESS_DENIED"),
    (GGIPC_ERROR_KIND_CONNECTION_CLOSED, "CONNECTION_CLOSED"),
    (GGIPC_ERROR_KIND_TIMEOUT, "TIMEOUT"),
    (GGIPC_ERROR_KIND_PROTOCOL, "PROTOCOL"),
    (GGIPC_ERROR_KIND_INVALID_FRAME, "INVALID_FRAME"),
    (GGIPC_ERROR_KIND_INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    (GGIPC_ERROR_KIND_STREAM_CLOSED, "STREAM_CLOSED"),
    (GGIPC_ERROR_KIND_UNMAPPED, "UNMAPPED"),
    (GGIPC_ERROR_KIND_INTERNAL, "INTERNAL"),
    (GGIPC_ERROR_KIND_SERVICE_ERROR, "SERVICE_ERROR"),
    (GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR, "UNAUTHORIZED_ERROR"),
    (
        GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR,
        "INVALID_ARGUMENTS_ERROR",
    ),
    (
        GGIPC_ERROR_KIND_RESOURCE_NOT_FOUND_ERROR,
        "RESOURCE_NOT_FOUND_ERROR",
    ),
    (
        GGIPC_ERROR_KIND_COMPONENT_NOT_FOUND_ERROR,
        "COMPONENT_NOT_FOUND_ERROR",
    ),
    (GGIPC_ERROR_KIND_CONFLICT_ERROR, "CONFLICT_ERROR"),
    (
        GGIPC_ERROR_KIND_FAILED_UPDATE_CONDITION_CHECK_ERROR,
        "FAILED_UPDATE_CONDITION_CHECK_ERROR",
    ),
    (GGIPC_ERROR_KIND_INVALID_TOKEN_ERROR, "INVALID_TOKEN_ERROR"),
    (
        GGIPC_ERROR_KIND_INVALID_CREDENTIAL_ERROR,
        "INVALID_CREDENTIAL_ERROR",
    ),
    (
        GGIPC_ERROR_KIND_INVALID_ARTIFACTS_DIRECTORY_PATH_ERROR,
        "INVALID_ARTIFACTS_DIRECTORY_PATH_ERROR",
    ),
    (
        GGIPC_ERROR_KIND_INVALID_RECIPE_DIRECTORY_PATH_ERROR,
        "INVALID_RECIPE_DIRECTORY_PATH_ERROR",
    ),
    (
        GGIPC_ERROR_KIND_INVALID_CLIENT_DEVICE_AUTH_TOKEN_ERROR,
        "INVALID_CLIENT_DEVICE_AUTH_TOKEN_ERROR",
    ),
];

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

    pub(crate) fn from_c(e: &ggipc_error) -> Self {
        Self {
            kind: e.kind,
            message: e.message.to_string_lossy().into_owned(),
            service_model_type: e
                .service_model_type
                .as_ref()
                .map(|s| s.to_string_lossy().into_owned()),
            context: e.context.as_ref().map(|s| s.to_string_lossy().into_owned()),
        }
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
