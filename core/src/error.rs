//! The one error type of ggipc: a typed [`ErrorKind`] plus the message, keeping the server's words.

use std::fmt;

/// What went wrong. Every kind has a stable number ([`ErrorKind::code`]) that bindings expose; numbers are
/// never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The socket could not be reached (missing path, refused, permission denied on the file).
    ConnectFailed,
    /// The server rejected the CONNECT (unknown or missing auth token).
    AccessDenied,
    /// The connection closed (by the peer, by a failure, or by `close()`); pending operations fail with this.
    ConnectionClosed,
    /// A connect or operation timeout fired.
    Timeout,
    /// The peer broke the RPC protocol, or sent a PROTOCOL_ERROR / INTERNAL_ERROR.
    Protocol,
    /// Bytes that are not a valid event-stream message.
    InvalidFrame,
    /// A value rejected before it was sent (missing configuration, message too large to encode, …).
    InvalidArgument,
    /// The stream was closed before the expected response or event arrived.
    StreamClosed,
    /// The server answered with data the model does not describe (an unmodeled failure, a wrong shape).
    Unmapped,
    /// A bug or an unexpected failure inside ggipc (including a caught panic in a binding).
    Internal,
    ServiceError,
    UnauthorizedError,
    InvalidArgumentsError,
    ResourceNotFoundError,
    ComponentNotFoundError,
    ConflictError,
    FailedUpdateConditionCheckError,
    InvalidTokenError,
    InvalidCredentialError,
    InvalidArtifactsDirectoryPathError,
    InvalidRecipeDirectoryPathError,
    InvalidClientDeviceAuthTokenError,
}

impl ErrorKind {
    /// Every kind, in code order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::ConnectFailed,
        ErrorKind::AccessDenied,
        ErrorKind::ConnectionClosed,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
        ErrorKind::InvalidFrame,
        ErrorKind::InvalidArgument,
        ErrorKind::StreamClosed,
        ErrorKind::Unmapped,
        ErrorKind::Internal,
        ErrorKind::ServiceError,
        ErrorKind::UnauthorizedError,
        ErrorKind::InvalidArgumentsError,
        ErrorKind::ResourceNotFoundError,
        ErrorKind::ComponentNotFoundError,
        ErrorKind::ConflictError,
        ErrorKind::FailedUpdateConditionCheckError,
        ErrorKind::InvalidTokenError,
        ErrorKind::InvalidCredentialError,
        ErrorKind::InvalidArtifactsDirectoryPathError,
        ErrorKind::InvalidRecipeDirectoryPathError,
        ErrorKind::InvalidClientDeviceAuthTokenError,
    ];

    /// Stable number: transport kinds 1–10, modeled service errors from 100.
    pub fn code(self) -> u32 {
        match self {
            ErrorKind::ConnectFailed => 1,
            ErrorKind::AccessDenied => 2,
            ErrorKind::ConnectionClosed => 3,
            ErrorKind::Timeout => 4,
            ErrorKind::Protocol => 5,
            ErrorKind::InvalidFrame => 6,
            ErrorKind::InvalidArgument => 7,
            ErrorKind::StreamClosed => 8,
            ErrorKind::Unmapped => 9,
            ErrorKind::Internal => 10,
            ErrorKind::ServiceError => 100,
            ErrorKind::UnauthorizedError => 101,
            ErrorKind::InvalidArgumentsError => 102,
            ErrorKind::ResourceNotFoundError => 103,
            ErrorKind::ComponentNotFoundError => 104,
            ErrorKind::ConflictError => 105,
            ErrorKind::FailedUpdateConditionCheckError => 106,
            ErrorKind::InvalidTokenError => 107,
            ErrorKind::InvalidCredentialError => 108,
            ErrorKind::InvalidArtifactsDirectoryPathError => 109,
            ErrorKind::InvalidRecipeDirectoryPathError => 110,
            ErrorKind::InvalidClientDeviceAuthTokenError => 111,
        }
    }

    /// The kind with this code.
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.code() == code)
    }

    /// A short stable name (`"ConnectionClosed"`, `"UnauthorizedError"`, …).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectFailed => "ConnectFailed",
            ErrorKind::AccessDenied => "AccessDenied",
            ErrorKind::ConnectionClosed => "ConnectionClosed",
            ErrorKind::Timeout => "Timeout",
            ErrorKind::Protocol => "Protocol",
            ErrorKind::InvalidFrame => "InvalidFrame",
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::StreamClosed => "StreamClosed",
            ErrorKind::Unmapped => "Unmapped",
            ErrorKind::Internal => "Internal",
            other => crate::model::error_shape_for_kind(other)
                .map(|s| s.name)
                .unwrap_or("Unknown"),
        }
    }

    /// True for the modeled Greengrass service errors (those with a `service-model-type`).
    pub fn is_modeled(self) -> bool {
        self.code() >= 100
    }

    /// True where retrying may help: `ServiceError`, `InvalidTokenError` (the SDK's "server" errors),
    /// connection loss and timeouts.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::ServiceError
                | ErrorKind::InvalidTokenError
                | ErrorKind::ConnectionClosed
                | ErrorKind::Timeout
                | ErrorKind::ConnectFailed
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A ggipc error: a kind, a human-readable message (the server's own words for modeled errors) and, for
/// errors the server sent, the shape id and the whole JSON body.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    service_model_type: Option<String>,
    body: Option<serde_json::Value>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            service_model_type: None,
            body: None,
        }
    }

    /// An error the server sent with a `service-model-type` and a JSON body.
    pub fn from_service(
        kind: ErrorKind,
        shape: &str,
        message: String,
        body: serde_json::Value,
    ) -> Self {
        Error {
            kind,
            message,
            service_model_type: Some(shape.to_string()),
            body: Some(body),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message: for modeled errors exactly what the server said (`"Not Authorized"`), may be empty.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `service-model-type` the server sent, e.g. `aws.greengrass#UnauthorizedError`.
    pub fn service_model_type(&self) -> Option<&str> {
        self.service_model_type.as_deref()
    }

    /// The error body as the server sent it.
    pub fn body(&self) -> Option<&serde_json::Value> {
        self.body.as_ref()
    }

    /// `ServiceError.context` (e.g. `{"reasonString": …, "reasonCode": n}` on a failed SUBACK).
    pub fn context(&self) -> Option<&serde_json::Value> {
        self.body
            .as_ref()
            .and_then(|b| b.get("context"))
            .filter(|c| !c.is_null())
    }

    pub(crate) fn timeout(what: &str, after: std::time::Duration) -> Self {
        Error::new(
            ErrorKind::Timeout,
            format!("{what} timed out after {after:?}"),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

impl std::error::Error for Error {}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
