//! The services behind the operation table: one handler per [`OperationId`], chosen by [`dispatch`].
//!
//! A handler gets the request body and a [`Request`] (who asks, where a stream's events go) and returns an
//! [`Outcome`]: an answer now, an answer later (a future the endpoint polls once right away, so brokers see
//! requests in arrival order, and then runs on its own), or a stream. Handlers never write frames; the
//! endpoint (`endpoint.rs`) turns outcomes into responses, errors and terminates with the operation's shapes.
//!
//! Adding an operation: its rows in `model/greengrass-ipc.toml` (then `cargo xtask codegen`), its arm in
//! [`dispatch`], its handler module here, tests.

pub(crate) mod config;
pub(crate) mod deployment;
pub(crate) mod lifecycle;
mod mqttproxy;
pub(crate) mod pubsub;

use super::broker::BoxFuture;
use super::sink::EventSink;
use super::Shared;
use crate::model::{Operation, OperationId};
use crate::ErrorKind;
use bytes::Bytes;
use std::sync::Arc;

/// Who makes a request, and the context a handler needs.
pub(crate) struct Request<'a> {
    pub shared: &'a Arc<Shared>,
    /// The authenticated component.
    pub component: &'a Arc<str>,
    pub op: &'static Operation,
    /// Where the events of a streaming operation go (`None` for request/response operations).
    pub sink: Option<Arc<EventSink>>,
}

impl Request<'_> {
    /// Whether the component's policies grant this operation at all (for operations without a resource).
    pub fn allowed(&self) -> bool {
        self.shared
            .components
            .get(self.component)
            .is_some_and(|c| c.access.allows_operation(self.op.service, self.op.name))
    }

    /// Whether the component's policies allow `resource` for this operation (`filter`: the resource is an MQTT
    /// topic filter, authorized as configured by `ServerConfig::filter_authorization`).
    pub fn authorized(&self, resource: &str, filter: bool) -> bool {
        match self.shared.components.get(self.component) {
            Some(c) => c.access.is_authorized(
                self.op.service,
                self.op.name,
                resource,
                filter,
                self.shared.config.filter_authorization,
            ),
            None => false,
        }
    }
}

/// A request refused with a modeled error and the nucleus' message (and, for `ServiceError`, a context).
#[derive(Debug)]
pub(crate) struct Refusal {
    pub kind: ErrorKind,
    pub message: String,
    pub context: Option<serde_json::Value>,
}

impl Refusal {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            message: message.into(),
            context: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Refusal::new(ErrorKind::InvalidArgumentsError, message)
    }

    pub fn service(message: impl Into<String>) -> Self {
        Refusal::new(ErrorKind::ServiceError, message)
    }

    pub fn unauthorized() -> Self {
        Refusal::new(ErrorKind::UnauthorizedError, "Not Authorized")
    }

    pub fn with_context(mut self, context: Option<serde_json::Value>) -> Self {
        self.context = context;
        self
    }
}

impl From<crate::Error> for Refusal {
    fn from(e: crate::Error) -> Self {
        Refusal::new(e.kind(), e.message())
    }
}

/// A response body, or the refusal.
pub(crate) type Reply = Result<Bytes, Refusal>;

/// Runs when a stream ends (closed by either side or with its connection): undoes what opening it did.
pub(crate) struct StreamGuard(Option<Box<dyn FnOnce() + Send>>);

impl StreamGuard {
    pub fn new(undo: impl FnOnce() + Send + 'static) -> Self {
        StreamGuard(Some(Box::new(undo)))
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if let Some(undo) = self.0.take() {
            undo();
        }
    }
}

/// What a handler made of a request.
pub(crate) enum Outcome {
    /// Answered now.
    Done(Reply),
    /// Answered when the future resolves.
    Later(BoxFuture<'static, Reply>),
    /// A stream: the future resolves with the response once the stream is in place, and the guard that ends
    /// it. Its events go to the request's sink.
    Stream(BoxFuture<'static, Result<(Bytes, StreamGuard), Refusal>>),
}

/// The empty response body.
pub(crate) const EMPTY: Bytes = Bytes::from_static(b"{}");

/// Hands a request to its operation's handler.
pub(crate) fn dispatch(req: Request<'_>, body: &[u8]) -> Outcome {
    match req.op.id {
        OperationId::PublishToIoTCore => mqttproxy::publish(req, body),
        OperationId::SubscribeToIoTCore => mqttproxy::subscribe(req, body),
        OperationId::PublishToTopic => pubsub::publish(req, body),
        OperationId::SubscribeToTopic => pubsub::subscribe(req, body),
        OperationId::SubscribeToIoTCoreConnectionStatus => mqttproxy::connection_status(req, body),
        OperationId::GetConfiguration => config::get(req, body),
        OperationId::UpdateState => config::update_state(req, body),
        OperationId::UpdateConfiguration => config::update(req, body),
        OperationId::SubscribeToConfigurationUpdate => config::subscribe(req, body),
        OperationId::SubscribeToValidateConfigurationUpdates => {
            deployment::subscribe_validate(req, body)
        }
        OperationId::SendConfigurationValidityReport => deployment::report(req, body),
        OperationId::SubscribeToComponentUpdates => deployment::subscribe_updates(req, body),
        OperationId::DeferComponentUpdate => deployment::defer(req, body),
        OperationId::ValidateAuthorizationToken => lifecycle::validate_token(req, body),
        OperationId::RestartComponent => lifecycle::restart(req, body),
        OperationId::StopComponent => lifecycle::stop(req, body),
        OperationId::GetComponentDetails => lifecycle::details(req, body),
        OperationId::ListComponents => lifecycle::list(req, body),
        OperationId::PauseComponent => lifecycle::pause(req, body, true),
        OperationId::ResumeComponent => lifecycle::pause(req, body, false),
    }
}

/// Parses a request body; malformed JSON is an `InvalidArgumentsError` with the parser's words.
/// Members may borrow from `body` (base64 text, say).
pub(crate) fn parse_request<'a, T: serde::Deserialize<'a>>(body: &'a [u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::invalid(format!("Invalid request: {e}")))
}

/// An enum member read as its wire string (JSON numbers accepted too), so an unknown value can be refused with
/// the nucleus' own message rather than a parser error.
pub(crate) struct WireEnum(pub String);

impl<'de> serde::Deserialize<'de> for WireEnum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::model::wire_text(d).map(WireEnum)
    }
}
