//! The Greengrass model (docs/PROTOCOL.md §4): shapes as serde structs with camelCase JSON members, base64 blobs
//! and epoch-second timestamps, the enums, the modeled error shapes, and the table of operations that both the
//! client and the server run on.
//!
//! The types, enums and table rows are generated from `model/greengrass-ipc.toml` (`generated.rs`, re-exported
//! here); this file holds what the generator does not say: constructors and accessors, error bodies.
//!
//! Every member is optional, as in the Smithy model: the server decides what is required and answers with
//! the nucleus' own messages. Absent members are omitted from JSON; `null` is read as absent; unknown
//! members are ignored.

mod blob;
mod generated;
mod operations;
mod timestamp;

pub use generated::*;
pub use operations::Operation;

use crate::error::{Error, ErrorKind};
use serde::{Deserialize, Serialize};

/// Authorization destination of the MQTT proxy operations.
pub const MQTT_PROXY_SERVICE: &str = "aws.greengrass.ipc.mqttproxy";
/// Authorization destination of local publish/subscribe.
pub const PUBSUB_SERVICE: &str = "aws.greengrass.ipc.pubsub";

/// A shape of the model: its Smithy shape id (the `service-model-type` of a body of this shape).
pub trait Shape {
    const SHAPE_ID: &'static str;
}

/// What a language binding's JSON reader must know of a shape beyond JSON itself, member by member (JSON
/// name, kind): which members are blobs (base64 text that the binding hands over as bytes) or documents (any
/// JSON value, read as the binding's language reads JSON), and which members hold shapes or lists that have
/// such members. Members not listed are plain JSON. [`layout`] gives a shape's list; shapes with none of these
/// members have none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A blob: standard padded base64 text on the wire.
    Blob,
    /// A document: any JSON value.
    Document,
    /// A shape with such members.
    Shape(&'static [(&'static str, Layout)]),
    /// A list whose elements are of this kind.
    List(&'static Layout),
}

/// Serialize/Deserialize/Display for a generated enum: JSON strings of the wire value; JSON numbers are read
/// as their text too (a Gson peer may send them).
macro_rules! wire_enum_impls {
    ($name:ident) => {
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = super::wire_text(d)?;
                $name::from_wire(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("Invalid {} value: {text}", $name::LABEL))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use wire_enum_impls;

/// An enum member as its wire text: a JSON string, or a number's text.
pub(crate) fn wire_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

/// The nucleus' answer to an enum member it does not know: `InvalidArgumentsError: Invalid <label> value: <v>`.
/// The server and every binding that converts an enum value use this one message.
pub fn invalid_enum_value(label: &str, value: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgumentsError,
        format!("Invalid {label} value: {value}"),
    )
}

impl UserProperty {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        UserProperty {
            key: key.into(),
            value: value.into(),
        }
    }
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

impl SubscribeToIoTCoreRequest {
    pub fn new(topic_filter: impl Into<String>, qos: Qos) -> Self {
        SubscribeToIoTCoreRequest {
            topic_name: Some(topic_filter.into()),
            qos: Some(qos),
        }
    }
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

/// Serializes a model value as its JSON body: the same text as `serde_json::to_vec`, with blobs (payloads,
/// correlation data) base64-encoded straight into the body, without an intermediate string or an escape pass.
pub fn to_json_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    crate::json::to_vec(value)
}

/// [`to_json_vec`] as the body of a frame: a large body is encoded into a recycled buffer, which goes back to
/// the pool once the frame has been written (no fresh pages per large message).
pub fn to_json_bytes<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<bytes::Bytes> {
    crate::json::to_bytes(value)
}

/// Serializers for borrowed forms of members, as `#[serde(with = ...)]` paths: a binding that encodes a request
/// straight from its caller's memory (the C views) declares its borrowed struct with the model's names and these,
/// and gets the JSON the owned model gives, with no copy of a payload.
#[doc(hidden)]
pub mod borrowed {
    /// A blob borrowed as `Option<&[u8]>`: base64, encoded into the body as the owned one is.
    pub mod blob {
        pub fn serialize<S: serde::Serializer>(v: &Option<&[u8]>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(b) => crate::json::serialize_blob(b, s),
                None => s.serialize_none(),
            }
        }
    }

    /// A timestamp (`Option<SystemTime>`): epoch seconds, as the owned one.
    pub mod timestamp {
        pub use super::super::timestamp::serialize;
    }
}

/// A copy of `bytes` for a blob member (a binding copying a caller's payload): a large one goes into a recycled
/// buffer, to be given back with [`recycle_blob`] once its request has been encoded.
pub fn blob_from(bytes: &[u8]) -> Vec<u8> {
    let mut v = crate::pool::buffer(bytes.len());
    v.extend_from_slice(bytes);
    v
}

/// Gives a blob's buffer back to the pool of large buffers (a small one is just freed): for a binding that copied
/// a payload with [`blob_from`] and has encoded the request.
pub fn recycle_blob(blob: Option<Vec<u8>>) {
    if let Some(b) = blob {
        crate::pool::give_back(b);
    }
}

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
