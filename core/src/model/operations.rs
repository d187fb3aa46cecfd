//! The operation table: adding an operation of the Greengrass service is one row here plus its shapes.

/// One IPC operation: its name (the `operation` header and the authorization operation name), the shape ids
/// of its request, response and stream event, and its authorization destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub request: &'static str,
    pub response: &'static str,
    /// Stream event shape for streaming operations.
    pub event: Option<&'static str>,
    /// Modeled errors the operation declares (clients accept any Greengrass error shape on any operation).
    pub errors: &'static [&'static str],
    /// Authorization destination (IPC service name).
    pub service: &'static str,
}

impl Operation {
    pub fn is_streaming(&self) -> bool {
        self.event.is_some()
    }

    /// The row for an `operation` header value.
    pub fn find(name: &str) -> Option<&'static Operation> {
        OPERATIONS.iter().copied().find(|op| op.name == name)
    }
}

const MQTT_ERRORS: &[&str] = &[
    "aws.greengrass#ServiceError",
    "aws.greengrass#UnauthorizedError",
    "aws.greengrass#InvalidArgumentsError",
];

pub const PUBLISH_TO_IOT_CORE: Operation = Operation {
    name: "aws.greengrass#PublishToIoTCore",
    request: "aws.greengrass#PublishToIoTCoreRequest",
    response: "aws.greengrass#PublishToIoTCoreResponse",
    event: None,
    errors: MQTT_ERRORS,
    service: super::MQTT_PROXY_SERVICE,
};

pub const SUBSCRIBE_TO_IOT_CORE: Operation = Operation {
    name: "aws.greengrass#SubscribeToIoTCore",
    request: "aws.greengrass#SubscribeToIoTCoreRequest",
    response: "aws.greengrass#SubscribeToIoTCoreResponse",
    event: Some("aws.greengrass#IoTCoreMessage"),
    errors: MQTT_ERRORS,
    service: super::MQTT_PROXY_SERVICE,
};

pub const PUBLISH_TO_TOPIC: Operation = Operation {
    name: "aws.greengrass#PublishToTopic",
    request: "aws.greengrass#PublishToTopicRequest",
    response: "aws.greengrass#PublishToTopicResponse",
    event: None,
    errors: MQTT_ERRORS,
    service: super::PUBSUB_SERVICE,
};

pub const SUBSCRIBE_TO_TOPIC: Operation = Operation {
    name: "aws.greengrass#SubscribeToTopic",
    request: "aws.greengrass#SubscribeToTopicRequest",
    response: "aws.greengrass#SubscribeToTopicResponse",
    event: Some("aws.greengrass#SubscriptionResponseMessage"),
    errors: MQTT_ERRORS,
    service: super::PUBSUB_SERVICE,
};

/// Every operation ggipc knows by name. The server implements the MQTT proxy ones and answers the others
/// with a `ServiceError` as the nucleus does for known-but-unsupported operations.
pub const OPERATIONS: &[&Operation] = &[
    &PUBLISH_TO_IOT_CORE,
    &SUBSCRIBE_TO_IOT_CORE,
    &PUBLISH_TO_TOPIC,
    &SUBSCRIBE_TO_TOPIC,
];
