//! The MQTT proxy service (`aws.greengrass.ipc.mqttproxy`): PublishToIoTCore and SubscribeToIoTCore, validated
//! in the nucleus' order with its messages (docs/PROTOCOL.md §5.4–5.5), then handed to the [`Broker`]; and
//! SubscribeToIoTCoreConnectionStatus, which follows the broker's connection.
//!
//! [`Broker`]: crate::server::Broker

use super::{parse_request, Outcome, Refusal, Request, StreamGuard, WireEnum, EMPTY};
use crate::json::Base64Text;
use crate::model::{MqttMessage, PayloadFormat, Qos, UserProperty};
use crate::server::broker::{BrokerPublish, MessageRef, MessageSink};
use crate::server::topic::{validate_filter, validate_iot_core_topic, TopicUse};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublish<'a> {
    topic_name: Option<String>,
    qos: Option<WireEnum>,
    #[serde(borrow)]
    payload: Option<Base64Text<'a>>,
    retain: Option<bool>,
    user_properties: Option<Vec<UserProperty>>,
    message_expiry_interval_seconds: Option<i64>,
    #[serde(borrow)]
    correlation_data: Option<Base64Text<'a>>,
    response_topic: Option<String>,
    payload_format: Option<WireEnum>,
    content_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubscribe {
    topic_name: Option<String>,
    qos: Option<WireEnum>,
}

fn require_qos(qos: Option<WireEnum>) -> Result<Qos, Refusal> {
    let qos = qos.ok_or_else(|| Refusal::invalid("QoS is required"))?;
    Ok(Qos::parse(&qos.0)?)
}

fn decode_blob(b64: &Base64Text<'_>, member: &str) -> Result<Vec<u8>, Refusal> {
    b64.decode()
        .map_err(|_| Refusal::invalid(format!("Invalid {member}: not standard base64")))
}

/// Checks a request's topic the nucleus' way: present ("Topic is required"), then authorized.
fn check_topic(req: &Request<'_>, topic: Option<String>, filter: bool) -> Result<String, Refusal> {
    let topic = topic.ok_or_else(|| Refusal::invalid("Topic is required"))?;
    if !req.authorized(&topic, filter) {
        return Err(Refusal::unauthorized());
    }
    Ok(topic)
}

/// Validates a publish in the nucleus' order and builds what the broker gets.
fn prepare_publish(req: &Request<'_>, body: &[u8]) -> Result<BrokerPublish, Refusal> {
    let raw: RawPublish = parse_request(body)?;
    let topic = check_topic(req, raw.topic_name, false)?;
    let b64 = raw
        .payload
        .ok_or_else(|| Refusal::invalid("Payload is required"))?;
    let qos = require_qos(raw.qos)?;
    let payload_format = raw
        .payload_format
        .map(|p| PayloadFormat::parse(&p.0))
        .transpose()?;
    let payload = decode_blob(&b64, "payload")?;
    let correlation_data = raw
        .correlation_data
        .map(|c| decode_blob(&c, "correlationData"))
        .transpose()?;
    let fail =
        |reason: &str| Refusal::service(format!("Publish to topic {topic} failed: {reason}"));
    let config = &req.shared.config;
    validate_iot_core_topic(&topic, TopicUse::Publish, config.mqtt5).map_err(|r| fail(&r))?;
    let max = config.max_payload_bytes;
    if payload.len() > max {
        return Err(fail(&format!(
            "The publishing message size {} bytes exceeds the configured limit of {max} bytes",
            payload.len()
        )));
    }
    Ok(BrokerPublish {
        component: req.component.clone(),
        qos,
        message: MqttMessage {
            topic_name: Some(topic),
            payload: Some(payload),
            retain: Some(raw.retain.unwrap_or(false)),
            user_properties: raw.user_properties,
            message_expiry_interval_seconds: raw.message_expiry_interval_seconds,
            correlation_data,
            response_topic: raw.response_topic,
            payload_format,
            content_type: raw.content_type,
        },
    })
}

/// PublishToIoTCore: answered when the broker accepted the message (spooled, or acknowledged when so
/// configured).
pub(super) fn publish(req: Request<'_>, body: &[u8]) -> Outcome {
    let publish = match prepare_publish(&req, body) {
        Ok(p) => p,
        Err(r) => return Outcome::Done(Err(r)),
    };
    let topic = publish.message.topic().to_string();
    let shared = req.shared.clone();
    Outcome::Later(Box::pin(async move {
        match shared.broker.publish(publish).await {
            Ok(()) => {
                shared.counters.publishes.fetch_add(1, Ordering::Relaxed);
                Ok(EMPTY)
            }
            Err(e) => Err(Refusal::service(format!(
                "Publish to topic {topic} failed: {}",
                e.message
            ))
            .with_context(e.context)),
        }
    }))
}

/// Validates a subscription in the nucleus' order; returns the filter and QoS.
fn prepare_subscribe(req: &Request<'_>, body: &[u8]) -> Result<(String, Qos), Refusal> {
    let raw: RawSubscribe = parse_request(body)?;
    let filter = check_topic(req, raw.topic_name, true)?;
    let qos = require_qos(raw.qos)?;
    let mqtt5 = req.shared.config.mqtt5;
    validate_filter(&filter)
        .map_err(str::to_string)
        .and_then(|_| validate_iot_core_topic(&filter, TopicUse::Subscribe, mqtt5))
        .map_err(|reason| {
            Refusal::service(format!(
                "Subscribe to topic {filter} failed with error {reason}"
            ))
        })?;
    Ok((filter, qos))
}

/// `IoTCoreMessage` serialized from a borrowed message.
#[derive(Serialize)]
struct EventRef<'a> {
    message: MessageRef<'a>,
}

/// The event for a received message, filled in as the Java nucleus does (`retain` and `payloadFormat` always
/// present).
fn event_body<'a>(m: &MessageRef<'a>) -> EventRef<'a> {
    EventRef {
        message: MessageRef {
            retain: Some(m.retain.unwrap_or(false)),
            payload_format: Some(m.payload_format.unwrap_or(PayloadFormat::Bytes)),
            ..*m
        },
    }
}

/// SubscribeToIoTCore: answered once the broker confirmed the subscription (for a remote broker, its SUBACK);
/// each matching message becomes an `IoTCoreMessage` event.
pub(super) fn subscribe(req: Request<'_>, body: &[u8]) -> Outcome {
    let (filter, qos) = match prepare_subscribe(&req, body) {
        Ok(v) => v,
        Err(r) => return Outcome::Done(Err(r)),
    };
    let Some(sink) = req.sink.clone() else {
        return Outcome::Done(Err(Refusal::service("stream without an event sink")));
    };
    let broker = req.shared.broker.clone();
    let component = req.component.clone();
    Outcome::Stream(Box::pin(async move {
        let flow = sink.clone();
        let subscriber = component.clone();
        let message_sink = MessageSink::with_ref(move |m, q| {
            tracing::trace!(component = %subscriber, topic = %m.topic, bytes = m.payload.len(), "delivered");
            let reliable = q == Qos::AtLeastOnce && qos == Qos::AtLeastOnce;
            // Encoded only when the subscriber takes it: a QoS 0 event for a congested subscriber is dropped
            // (and counted) before its payload is encoded.
            sink.deliver_lazy(reliable, || {
                let capacity = crate::json::capacity_for_blob(m.payload.len());
                // Not failing for a message (every member serializes); a failure counts as a drop.
                crate::json::to_bytes_with_capacity(&event_body(m), capacity).ok()
            })
        });
        // Publishers wait for a QoS 1 subscriber that is behind; a QoS 0 one drops instead.
        let message_sink = if qos == Qos::AtLeastOnce {
            message_sink.with_flow(flow)
        } else {
            message_sink
        };
        match broker.subscribe(&filter, qos, message_sink).await {
            Ok(id) => {
                tracing::debug!(component = %component, filter = %filter, "subscribed");
                let broker = Arc::clone(&broker);
                Ok((EMPTY, StreamGuard::new(move || broker.unsubscribe(id))))
            }
            Err(e) => Err(Refusal::service(format!(
                "Subscribe to topic {filter} failed with error {}",
                e.message
            ))
            .with_context(e.context)),
        }
    }))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusEvent {
    connection_status_event: StatusBody,
}

#[derive(Serialize)]
struct StatusBody {
    status: crate::model::ConnectionStatus,
}

fn status_event(connected: bool) -> StatusEvent {
    use crate::model::ConnectionStatus;
    StatusEvent {
        connection_status_event: StatusBody {
            status: if connected {
                ConnectionStatus::Connected
            } else {
                ConnectionStatus::Disconnected
            },
        },
    }
}

/// SubscribeToIoTCoreConnectionStatus: the current status as the first event, then one event per change of
/// the broker's connection. Authorized when a policy of the component grants the operation (it names no
/// resource); the request has no members, so any body that parses is accepted.
pub(super) fn connection_status(req: Request<'_>, body: &[u8]) -> Outcome {
    if let Err(r) = parse_request::<serde_json::Value>(body) {
        return Outcome::Done(Err(r));
    }
    if !req.allowed() {
        return Outcome::Done(Err(Refusal::unauthorized()));
    }
    let Some(sink) = req.sink.clone() else {
        return Outcome::Done(Err(Refusal::service("stream without an event sink")));
    };
    let mut status = req.shared.broker.connection_status();
    Outcome::Stream(Box::pin(async move {
        // Queued until the response is out, so it is the first event.
        let mut last = *status.borrow_and_update();
        sink.deliver_json(&status_event(last));
        let watcher = tokio::spawn(async move {
            while status.changed().await.is_ok() {
                let now = *status.borrow_and_update();
                if now != last {
                    last = now;
                    if sink.deliver_json(&status_event(now)) == crate::server::Delivery::Closed {
                        return;
                    }
                }
            }
        });
        Ok((EMPTY, StreamGuard::new(move || watcher.abort())))
    }))
}
