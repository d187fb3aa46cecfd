//! The operation row type. The rows themselves ([`OPERATIONS`](super::OPERATIONS), one constant per operation)
//! are generated from the model: the client encodes requests and decodes responses and stream events with a
//! row's shapes, and the server dispatches on its [`OperationId`](super::OperationId).

use super::OperationId;

/// One IPC operation: its name (the `operation` header and the authorization operation name), the shape ids
/// of its request, response and stream event, and its authorization destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub id: OperationId,
    pub name: &'static str,
    pub request: &'static str,
    pub response: &'static str,
    /// Stream event shape for streaming operations.
    pub event: Option<&'static str>,
    /// Modeled errors the operation declares (clients accept any Greengrass error shape on any operation).
    pub errors: &'static [&'static str],
    /// Authorization destination (IPC service name); empty when the operation needs no policy.
    pub service: &'static str,
}

impl Operation {
    pub fn is_streaming(&self) -> bool {
        self.event.is_some()
    }

    /// The row for an `operation` header value.
    pub fn find(name: &str) -> Option<&'static Operation> {
        super::OPERATIONS.iter().copied().find(|op| op.name == name)
    }

    /// The row for an id.
    pub fn get(id: OperationId) -> &'static Operation {
        super::OPERATIONS
            .iter()
            .copied()
            .find(|op| op.id == id)
            .expect("every OperationId has a row")
    }

    /// The operation's short name (`PublishToIoTCore`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('#').next().unwrap_or(self.name)
    }
}
