//! The Greengrass model for the MQTT proxy service (docs/PROTOCOL.md §4): shapes as serde structs with camelCase JSON
//! members and base64 blobs, the QOS and PayloadFormat enums, the modeled error shapes, and a table of
//! operations.
//!
//! Every member is optional, as in the Smithy model: the server decides what is required and answers with
//! the nucleus' own messages. Absent members are omitted from JSON; `null` is read as absent; unknown
//! members are ignored.

mod blob;
mod operations;

pub use operations::{
    Operation, OPERATIONS, PUBLISH_TO_IOT_CORE, PUBLISH_TO_TOPIC, SUBSCRIBE_TO_IOT_CORE,
    SUBSCRIBE_TO_TOPIC,
};

use crate::error::{Error, ErrorKind};
use serde::{Deserialize, Serialize};

/// Smithy service id, sent as `_service` in error bodies.
pub const SERVICE_ID: &str = "aws.greengrass#GreengrassCoreIPC";
/// Authorization destination of the MQTT proxy operations.
pub const MQTT_PROXY_SERVICE: &str = "aws.greengrass.ipc.mqttproxy";
/// Authorization destination of local publish/subscribe.
pub const PUBSUB_SERVICE: &str = "aws.greengrass.ipc.pubsub";

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// The wire value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            /// Parses a wire value.
            pub fn from_wire(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Accept "0"/"1" and, leniently, the numbers 0/1 (a Gson peer may send them).
                let v = serde_json::Value::deserialize(d)?;
                let s = match &v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => String::new(),
                };
                $name::from_wire(&s).ok_or_else(|| serde::de::Error::custom(format!(
                    concat!("invalid ", stringify!($name), " value: {}"), v)))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// MQTT quality of service (`aws.greengrass#QOS`). There is no QoS 2 in the Greengrass model.
    Qos { AtMostOnce = "0", AtLeastOnce = "1" }
);

wire_enum!(
    /// MQTT 5 payload format indicator (`aws.greengrass#PayloadFormat`).
    PayloadFormat { Bytes = "0", Utf8 = "1" }
);

/// An MQTT 5 user property.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProperty {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub value: String,
}

impl UserProperty {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        UserProperty {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// `aws.greengrass#PublishToIoTCoreRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishToIoTCoreRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<Qos>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "blob")]
    pub payload: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_properties: Option<Vec<UserProperty>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_expiry_interval_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "blob")]
    pub correlation_data: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_format: Option<PayloadFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl PublishToIoTCoreRequest {
    /// A request with topic, QoS and payload set.
    pub fn new(topic: impl Into<String>, qos: Qos, payload: impl Into<Vec<u8>>) -> Self {
        PublishToIoTCoreRequest {
            topic_name: Some(topic.into()),
            qos: Some(qos),
            payload: Some(payload.into()),
            ..Default::default()
        }
    }
}

/// `aws.greengrass#PublishToIoTCoreResponse` (no members).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishToIoTCoreResponse {}

/// `aws.greengrass#SubscribeToIoTCoreRequest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribeToIoTCoreRequest {
    /// A topic filter; `+` and `#` allowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<Qos>,
}

impl SubscribeToIoTCoreRequest {
    pub fn new(topic_filter: impl Into<String>, qos: Qos) -> Self {
        SubscribeToIoTCoreRequest {
            topic_name: Some(topic_filter.into()),
            qos: Some(qos),
        }
    }
}

/// `aws.greengrass#SubscribeToIoTCoreResponse` (no members).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeToIoTCoreResponse {}

/// `aws.greengrass#MQTTMessage`: one received MQTT message with its MQTT 5 properties.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MqttMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "blob")]
    pub payload: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_properties: Option<Vec<UserProperty>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_expiry_interval_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "blob")]
    pub correlation_data: Option<Vec<u8>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_format: Option<PayloadFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl MqttMessage {
    /// A message with topic and payload.
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        MqttMessage {
            topic_name: Some(topic.into()),
            payload: Some(payload.into()),
            ..Default::default()
        }
    }

    /// The message a publish request describes (topic and every MQTT 5 field carried over).
    pub fn from_publish(req: &PublishToIoTCoreRequest) -> Self {
        MqttMessage {
            topic_name: req.topic_name.clone(),
            payload: req.payload.clone(),
            retain: req.retain,
            user_properties: req.user_properties.clone(),
            message_expiry_interval_seconds: req.message_expiry_interval_seconds,
            correlation_data: req.correlation_data.clone(),
            response_topic: req.response_topic.clone(),
            payload_format: req.payload_format,
            content_type: req.content_type.clone(),
        }
    }

    /// Topic name, or "" when absent.
    pub fn topic(&self) -> &str {
        self.topic_name.as_deref().unwrap_or("")
    }

    /// Payload bytes, or empty when absent.
    pub fn payload_bytes(&self) -> &[u8] {
        self.payload.as_deref().unwrap_or(&[])
    }
}

/// `aws.greengrass#IoTCoreMessage`: the stream event of SubscribeToIoTCore (a union with one member).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoTCoreMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<MqttMessage>,
}

/// A modeled error shape (docs/PROTOCOL.md §4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorShape {
    /// Shape id, the `service-model-type` header value.
    pub shape_id: &'static str,
    /// Short name, the `_errorCode` body member.
    pub name: &'static str,
    pub kind: ErrorKind,
    /// The SDK's "server" error type (retryable) as opposed to "client".
    pub is_server_error: bool,
}

macro_rules! error_shapes {
    ($($name:ident: $server:literal),+ $(,)?) => {
        /// Every modeled error shape of the Greengrass service.
        pub const ERROR_SHAPES: &[ErrorShape] = &[$(ErrorShape {
            shape_id: concat!("aws.greengrass#", stringify!($name)),
            name: stringify!($name),
            kind: ErrorKind::$name,
            is_server_error: $server,
        }),+];
    };
}

error_shapes!(
    ServiceError: true,
    UnauthorizedError: false,
    InvalidArgumentsError: false,
    ResourceNotFoundError: false,
    ComponentNotFoundError: false,
    ConflictError: false,
    FailedUpdateConditionCheckError: false,
    InvalidTokenError: true,
    InvalidCredentialError: false,
    InvalidArtifactsDirectoryPathError: false,
    InvalidRecipeDirectoryPathError: false,
    InvalidClientDeviceAuthTokenError: false,
);

/// The shape for a `service-model-type` value.
pub fn error_shape(shape_id: &str) -> Option<&'static ErrorShape> {
    ERROR_SHAPES.iter().find(|s| s.shape_id == shape_id)
}

pub(crate) fn error_shape_for_kind(kind: ErrorKind) -> Option<&'static ErrorShape> {
    ERROR_SHAPES.iter().find(|s| s.kind == kind)
}

/// Builds the [`Error`] for an APPLICATION_ERROR body with the given `service-model-type`. The message is
/// `message`, falling back to `_message` (nucleus-lite sends only the latter).
pub fn error_from_body(shape_id: &str, body: &[u8]) -> Error {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let message = ["message", "_message"]
        .iter()
        .find_map(|k| {
            json.get(*k)
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or("")
        .to_string();
    match error_shape(shape_id) {
        Some(shape) => Error::from_service(shape.kind, shape_id, message, json),
        None => {
            let text = if message.is_empty() {
                String::from_utf8_lossy(body).into_owned()
            } else {
                message
            };
            Error::from_service(
                ErrorKind::Unmapped,
                shape_id,
                format!("unmodeled error {shape_id}: {text}"),
                json,
            )
        }
    }
}

/// The JSON body the Java nucleus sends for a modeled error: `message`, `_service`, `_message`,
/// `_errorCode` (and `context` for `ServiceError` when given).
pub fn error_body(kind: ErrorKind, message: &str, context: Option<&serde_json::Value>) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        message: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        context: Option<&'a serde_json::Value>,
        _service: &'static str,
        _message: &'a str,
        #[serde(rename = "_errorCode")]
        error_code: &'static str,
    }
    let error_code = error_shape_for_kind(kind)
        .map(|s| s.name)
        .unwrap_or("ServiceError");
    let body = Body {
        message,
        context,
        _service: SERVICE_ID,
        _message: message,
        error_code,
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests;
