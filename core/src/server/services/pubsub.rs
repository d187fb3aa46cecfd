//! Local publish/subscribe (`aws.greengrass.ipc.pubsub`): PublishToTopic and SubscribeToTopic between the
//! components of one nucleus, with the Java nucleus' rules (its `PubSubIPCEventStreamAgent`):
//!
//! - authorization first, with standard resource matching (`*` globs; `+` and `#` in a policy are literal), the
//!   filter of a subscription matched as text; refusals say "Principal <c> is not authorized to perform
//!   aws.greengrass.ipc.pubsub:<operation> on resource <topic>", an empty topic "Resource cannot be empty";
//! - a publish topic must be present ("Publish topic must not be null") and free of `+`, `#` and `*` ("Publish
//!   topic must not contain a wildcard."); a subscribe topic must not be empty ("Subscribe topic must not be
//!   empty") and may use MQTT wildcards;
//! - the receive mode defaults to RECEIVE_MESSAGES_FROM_OTHERS for a filter with a wildcard and
//!   RECEIVE_ALL_MESSAGES otherwise; in the first mode a component does not receive its own messages;
//! - a publish nobody is subscribed to succeeds.
//!
//! Where we differ (README, "The server"): a publish without a message, with both a JSON and a binary message,
//! or with a JSON message that is not an object, is an `InvalidArgumentsError` naming the problem (the nucleus
//! fails the first with a Java NullPointerException text as a `ServiceError`, delivers both members of the
//! second, and cannot read the third into its `Map`); an unknown receive mode is `InvalidArgumentsError:
//! Invalid ReceiveMode value: <v>`.
//!
//! Messages are delivered to each subscriber in publish order; local messages never leave the nucleus and MQTT
//! messages never reach local subscribers (the two buses are separate).

use super::{parse_request, Outcome, Refusal, Request, StreamGuard, WireEnum, EMPTY};
use crate::model::{ReceiveMode, PUBSUB_SERVICE};
use crate::server::sink::EventSink;
use crate::server::topic_index::TopicIndex;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// One local subscription.
struct LocalSub {
    id: u64,
    filter: String,
    component: Arc<str>,
    mode: ReceiveMode,
    sink: Arc<EventSink>,
}

/// The nucleus' local message bus: every SubscribeToTopic stream of every connection.
pub(crate) struct LocalBus {
    /// By filter, keyed by subscription id (ids grow: key order is subscription order).
    subs: RwLock<TopicIndex<LocalSub>>,
    next_id: AtomicU64,
    /// Bumped (and `changed` notified) whenever a subscription comes or goes, for [`LocalBus::wait_for`].
    generation: std::sync::Mutex<u64>,
    changed: std::sync::Condvar,
    /// PublishToTopic requests pass one at a time, in arrival order, while they wait for slow subscribers.
    gate: tokio::sync::Semaphore,
}

impl Default for LocalBus {
    fn default() -> Self {
        LocalBus {
            subs: RwLock::default(),
            next_id: AtomicU64::new(0),
            generation: std::sync::Mutex::new(0),
            changed: std::sync::Condvar::new(),
            gate: tokio::sync::Semaphore::new(1),
        }
    }
}

/// A local message, as published.
#[derive(Clone, Debug)]
pub enum LocalMessage {
    /// A JSON object (`None`: the publisher sent no `message` member).
    Json(Option<serde_json::Value>),
    Binary(Vec<u8>),
}

impl LocalBus {
    fn add(&self, sub: LocalSub) {
        let (id, filter) = (sub.id, sub.filter.clone());
        self.subs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, &filter, sub);
        self.bump();
    }

    fn bump(&self) {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.changed.notify_all();
    }

    /// Filters of the open local subscriptions, oldest first.
    pub(crate) fn filters(&self) -> Vec<String> {
        self.subs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, filter, _)| (id, filter.to_string()))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_values()
            .collect()
    }

    /// Blocks the calling thread until `done(filters)` holds or `timeout` passes; returns whether it held.
    pub(crate) fn wait_for(
        &self,
        timeout: std::time::Duration,
        done: impl Fn(&[String]) -> bool,
    ) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done(&self.filters()) {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            generation = self
                .changed
                .wait_timeout(generation, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn remove(&self, id: u64) {
        self.subs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        self.bump();
    }

    /// Delivers `message` published on `topic` by `publisher` to every matching subscription; returns how
    /// many took it.
    pub(crate) fn publish(&self, publisher: &str, topic: &str, message: &LocalMessage) -> usize {
        let body = match event_body(topic, message) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "local message cannot be serialized; dropped");
                return 0;
            }
        };
        let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
        let mut delivered = 0;
        for (_, _, s) in subs.matches(topic) {
            if s.mode == ReceiveMode::ReceiveMessagesFromOthers && &*s.component == publisher {
                continue;
            }
            if s.sink.deliver(body.clone()) == crate::server::Delivery::Delivered {
                delivered += 1;
            }
        }
        delivered
    }

    /// The sinks a publish of `publisher` on `topic` goes to that cannot take it without waiting.
    fn behind(&self, publisher: &str, topic: &str) -> Vec<Arc<EventSink>> {
        let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
        subs.matches(topic)
            .into_iter()
            .filter(|(_, _, s)| {
                let own =
                    s.mode == ReceiveMode::ReceiveMessagesFromOthers && &*s.component == publisher;
                !own && !s.sink.has_capacity()
            })
            .map(|(_, _, s)| s.sink.clone())
            .collect()
    }

    /// Open local subscriptions.
    pub(crate) fn len(&self) -> usize {
        self.subs.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[derive(Serialize)]
struct Context<'a> {
    topic: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
enum EventRef<'a> {
    JsonMessage {
        #[serde(skip_serializing_if = "Option::is_none")]
        message: &'a Option<serde_json::Value>,
        context: Context<'a>,
    },
    BinaryMessage {
        #[serde(serialize_with = "crate::json::serialize_blob")]
        message: &'a [u8],
        context: Context<'a>,
    },
}

/// The `SubscriptionResponseMessage` body for a message on `topic`.
fn event_body(topic: &str, message: &LocalMessage) -> serde_json::Result<bytes::Bytes> {
    let context = Context { topic };
    let event = match message {
        LocalMessage::Json(v) => EventRef::JsonMessage {
            message: v,
            context,
        },
        LocalMessage::Binary(b) => EventRef::BinaryMessage {
            message: b,
            context,
        },
    };
    let capacity = match message {
        LocalMessage::Binary(b) => crate::json::capacity_for_blob(b.len()),
        LocalMessage::Json(_) => 256,
    };
    crate::json::to_bytes_with_capacity(&event, capacity)
}

#[derive(Deserialize)]
struct RawJsonMessage {
    message: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawBinaryMessage {
    message: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublishMessage {
    json_message: Option<RawJsonMessage>,
    binary_message: Option<RawBinaryMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublish {
    topic: Option<String>,
    publish_message: Option<RawPublishMessage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubscribe {
    topic: Option<String>,
    receive_mode: Option<WireEnum>,
}

/// The nucleus' authorization of a local pub/sub request (standard matching on the topic text).
fn authorize(req: &Request<'_>, topic: Option<&str>) -> Result<(), Refusal> {
    let unauthorized = |resource: &str| {
        Refusal::new(
            crate::ErrorKind::UnauthorizedError,
            format!(
                "Principal {} is not authorized to perform {PUBSUB_SERVICE}:{} on resource {resource}",
                req.component, req.op.name
            ),
        )
    };
    match topic {
        Some("") => Err(Refusal::new(
            crate::ErrorKind::UnauthorizedError,
            "Resource cannot be empty",
        )),
        // The nucleus matches a missing topic as a resource only `*` covers.
        None if req.authorized("*", false) => Ok(()),
        None => Err(unauthorized("null")),
        Some(t) if req.authorized(t, false) => Ok(()),
        Some(t) => Err(unauthorized(t)),
    }
}

fn has_wildcard(topic: &str) -> bool {
    topic.contains(['+', '#', '*'])
}

/// Validates a publish in the nucleus' order; returns the topic and the message.
fn prepare_publish(req: &Request<'_>, body: &[u8]) -> Result<(String, LocalMessage), Refusal> {
    let raw: RawPublish = parse_request(body)?;
    authorize(req, raw.topic.as_deref())?;
    let message = match raw.publish_message {
        None => return Err(Refusal::invalid("Publish message is required")),
        Some(RawPublishMessage {
            json_message: Some(_),
            binary_message: Some(_),
        }) => {
            return Err(Refusal::invalid(
                "Publish message must have exactly one of jsonMessage and binaryMessage",
            ))
        }
        Some(RawPublishMessage {
            json_message: Some(j),
            ..
        }) => match j.message {
            Some(serde_json::Value::Object(m)) => {
                LocalMessage::Json(Some(serde_json::Value::Object(m)))
            }
            // The nucleus reads an absent (or null) message as a Java null and fails on it.
            None | Some(serde_json::Value::Null) => {
                return Err(Refusal::invalid("Invalid jsonMessage: message is required"))
            }
            Some(_) => {
                return Err(Refusal::invalid(
                    "Invalid jsonMessage: message must be a JSON object",
                ))
            }
        },
        Some(RawPublishMessage {
            binary_message: Some(b),
            ..
        }) => {
            let bytes = match b.message {
                None => Vec::new(),
                Some(b64) => crate::json::decode_base64(b64.as_bytes())
                    .map_err(|_| Refusal::invalid("Invalid binaryMessage: not standard base64"))?,
            };
            LocalMessage::Binary(bytes)
        }
        Some(_) => {
            return Err(Refusal::invalid(
                "Publish message must have exactly one of jsonMessage and binaryMessage",
            ))
        }
    };
    let topic = raw
        .topic
        .ok_or_else(|| Refusal::invalid("Publish topic must not be null"))?;
    if has_wildcard(&topic) {
        return Err(Refusal::invalid(
            "Publish topic must not contain a wildcard.",
        ));
    }
    Ok((topic, message))
}

/// PublishToTopic: delivered to every matching subscription before the answer. A subscriber whose connection
/// is behind is waited for (at most `ServerConfig::subscriber_stall_timeout`), so a slow subscriber slows the
/// publisher instead of losing messages; publishes keep their order meanwhile.
pub(super) fn publish(req: Request<'_>, body: &[u8]) -> Outcome {
    let (topic, message) = match prepare_publish(&req, body) {
        Ok(v) => v,
        Err(r) => return Outcome::Done(Err(r)),
    };
    let shared = req.shared.clone();
    let component = req.component.clone();
    Outcome::Later(Box::pin(async move {
        let _turn = shared.bus.gate.acquire().await;
        // All of them within one stall timeout.
        let deadline = tokio::time::Instant::now() + shared.config.subscriber_stall_timeout;
        for sink in shared.bus.behind(&component, &topic) {
            sink.ready_until(deadline).await;
        }
        let n = shared.bus.publish(&component, &topic, &message);
        tracing::debug!(component = %component, topic = %topic, subscribers = n, "local publish");
        shared.counters.publishes.fetch_add(1, Ordering::Relaxed);
        Ok(EMPTY)
    }))
}

/// SubscribeToTopic: in place at once; each matching local message becomes a `SubscriptionResponseMessage`.
pub(super) fn subscribe(req: Request<'_>, body: &[u8]) -> Outcome {
    let prepared = (|| {
        let raw: RawSubscribe = parse_request(body)?;
        authorize(&req, raw.topic.as_deref())?;
        let filter = raw
            .topic
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Refusal::invalid("Subscribe topic must not be empty"))?;
        let mode = match raw.receive_mode {
            Some(m) => ReceiveMode::parse(&m.0)?,
            None if filter.contains(['+', '#']) => ReceiveMode::ReceiveMessagesFromOthers,
            None => ReceiveMode::ReceiveAllMessages,
        };
        Ok((filter, mode))
    })();
    let (filter, mode) = match prepared {
        Ok(v) => v,
        Err(r) => return Outcome::Done(Err(r)),
    };
    let Some(sink) = req.sink.clone() else {
        return Outcome::Done(Err(Refusal::service("stream without an event sink")));
    };
    let shared = req.shared.clone();
    let id = shared.bus.next_id.fetch_add(1, Ordering::Relaxed);
    shared.bus.add(LocalSub {
        id,
        filter,
        component: req.component.clone(),
        mode,
        sink,
    });
    Outcome::Stream(Box::pin(async move {
        Ok((EMPTY, StreamGuard::new(move || shared.bus.remove(id))))
    }))
}
