//! The one error type of ggipc: a typed [`ErrorKind`] plus the message, keeping the server's words.

use std::fmt;

pub use crate::error_kind::ErrorKind;

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
