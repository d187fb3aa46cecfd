//! The MQTT side of the server: the [`Broker`] trait. The server validates and authorizes; a broker only
//! moves messages (to AWS IoT Core, a local MQTT broker, or memory).

use crate::model::{MqttMessage, PayloadFormat, Qos, UserProperty};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed `Send` future, the return type of [`Broker`] methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A publish a component made, already validated and authorized. `message.topic_name` is set.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerPublish {
    /// Name of the publishing component.
    pub component: Arc<str>,
    pub qos: Qos,
    pub message: MqttMessage,
}

/// A broker failure; the server reports it as `ServiceError` with the nucleus' prefix
/// ("Publish to topic … failed: <message>").
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerError {
    pub message: String,
    /// Extra details, e.g. `{"reasonString": …, "reasonCode": n}` for a refused subscription.
    pub context: Option<serde_json::Value>,
}

impl BrokerError {
    pub fn new(message: impl Into<String>) -> Self {
        BrokerError {
            message: message.into(),
            context: None,
        }
    }
}

impl fmt::Display for BrokerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BrokerError {}

/// Identifies a subscription made through [`Broker::subscribe`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub u64);

/// What happened to a message handed to a [`MessageSink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the subscriber.
    Delivered,
    /// The subscriber is too slow; this message was dropped (and counted).
    Dropped,
    /// The subscriber is gone; the broker may forget the subscription.
    Closed,
}

/// A message as a broker delivers it, borrowed from the broker's own representation: delivering it to an IPC
/// subscriber encodes the event straight from these fields, so the payload is not copied on the way (an
/// [`MqttMessage`] would need its own `Vec` of it). Serialized, it is the same JSON as the `MqttMessage` it
/// stands for (see [`to_message`](Self::to_message)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MessageRef<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub retain: Option<bool>,
    pub user_properties: Option<UserProperties<'a>>,
    pub message_expiry_interval_seconds: Option<i64>,
    pub correlation_data: Option<&'a [u8]>,
    pub response_topic: Option<&'a str>,
    pub payload_format: Option<PayloadFormat>,
    pub content_type: Option<&'a str>,
}

/// MQTT 5 user properties of a [`MessageRef`], in whichever form the broker keeps them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UserProperties<'a> {
    /// As the model has them.
    Model(&'a [UserProperty]),
    /// As key/value pairs, in order.
    Pairs(&'a [(String, String)]),
}

impl UserProperties<'_> {
    pub fn len(&self) -> usize {
        match self {
            UserProperties::Model(p) => p.len(),
            UserProperties::Pairs(p) => p.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The properties as the model has them.
    pub fn to_vec(&self) -> Vec<UserProperty> {
        match self {
            UserProperties::Model(p) => p.to_vec(),
            UserProperties::Pairs(p) => p
                .iter()
                .map(|(k, v)| UserProperty {
                    key: k.clone(),
                    value: v.clone(),
                })
                .collect(),
        }
    }
}

impl<'a> MessageRef<'a> {
    /// A message on `topic` with `payload` and nothing else set.
    pub fn new(topic: &'a str, payload: &'a [u8]) -> Self {
        MessageRef {
            topic,
            payload,
            retain: None,
            user_properties: None,
            message_expiry_interval_seconds: None,
            correlation_data: None,
            response_topic: None,
            payload_format: None,
            content_type: None,
        }
    }

    /// The model message this view stands for (copies the payload).
    pub fn to_message(&self) -> MqttMessage {
        MqttMessage {
            topic_name: Some(self.topic.to_string()),
            payload: Some(self.payload.to_vec()),
            retain: self.retain,
            user_properties: self.user_properties.map(|p| p.to_vec()),
            message_expiry_interval_seconds: self.message_expiry_interval_seconds,
            correlation_data: self.correlation_data.map(<[u8]>::to_vec),
            response_topic: self.response_topic.map(str::to_string),
            payload_format: self.payload_format,
            content_type: self.content_type.map(str::to_string),
        }
    }
}

impl<'a> From<&'a MqttMessage> for MessageRef<'a> {
    fn from(m: &'a MqttMessage) -> Self {
        MessageRef {
            topic: m.topic(),
            payload: m.payload_bytes(),
            retain: m.retain,
            user_properties: m.user_properties.as_deref().map(UserProperties::Model),
            message_expiry_interval_seconds: m.message_expiry_interval_seconds,
            correlation_data: m.correlation_data.as_deref(),
            response_topic: m.response_topic.as_deref(),
            payload_format: m.payload_format,
            content_type: m.content_type.as_deref(),
        }
    }
}

/// A blob member, serialized as the model's blobs are (`model::blob`).
struct Blob<'a>(&'a [u8]);

impl Serialize for Blob<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        crate::json::serialize_blob(self.0, s)
    }
}

/// One user property given as a pair, serialized as [`UserProperty`] is.
struct PairRef<'a>(&'a (String, String));

impl Serialize for PairRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("UserProperty", 2)?;
        st.serialize_field("key", &self.0 .0)?;
        st.serialize_field("value", &self.0 .1)?;
        st.end()
    }
}

impl Serialize for UserProperties<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            UserProperties::Model(p) => p.serialize(s),
            UserProperties::Pairs(p) => {
                let mut seq = s.serialize_seq(Some(p.len()))?;
                for pair in p.iter() {
                    seq.serialize_element(&PairRef(pair))?;
                }
                seq.end()
            }
        }
    }
}

/// The same members, names and order as the model's `MqttMessage` (absent members left out); a test holds the
/// two to the same text.
impl Serialize for MessageRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("MqttMessage", 9)?;
        st.serialize_field("topicName", self.topic)?;
        st.serialize_field("payload", &Blob(self.payload))?;
        if let Some(r) = self.retain {
            st.serialize_field("retain", &r)?;
        }
        if let Some(p) = &self.user_properties {
            st.serialize_field("userProperties", p)?;
        }
        if let Some(e) = self.message_expiry_interval_seconds {
            st.serialize_field("messageExpiryIntervalSeconds", &e)?;
        }
        if let Some(c) = self.correlation_data {
            st.serialize_field("correlationData", &Blob(c))?;
        }
        if let Some(t) = self.response_topic {
            st.serialize_field("responseTopic", t)?;
        }
        if let Some(f) = &self.payload_format {
            st.serialize_field("payloadFormat", f)?;
        }
        if let Some(c) = self.content_type {
            st.serialize_field("contentType", c)?;
        }
        st.end()
    }
}

type DeliverFn = dyn Fn(&MessageRef<'_>, Qos) -> Delivery + Send + Sync;

/// Where a broker delivers the messages of one subscription. Cheap to clone; `deliver` never blocks.
///
/// Flow control: a broker that must not lose a QoS 1 message awaits [`ready`](MessageSink::ready) on every
/// sink the message goes to before delivering it, and holds back its source meanwhile (the publisher's
/// publish, the TCP connection it reads, the PUBACK it owes). `ready` waits at most the server's
/// `subscriber_stall_timeout`; past it the subscriber is stalled and drops (and counts) what it is offered until
/// it has drained, so a broker can always go on after `ready`. Sinks made with [`MessageSink::new`] are always
/// ready.
#[derive(Clone)]
pub struct MessageSink {
    f: Arc<DeliverFn>,
    flow: Option<Arc<super::sink::EventSink>>,
}

impl MessageSink {
    /// A sink that treats every message alike. It gets each message as a model message (a copy of the
    /// broker's); [`with_ref`](Self::with_ref) spares that copy.
    pub fn new(f: impl Fn(&MqttMessage) -> Delivery + Send + Sync + 'static) -> Self {
        MessageSink {
            f: Arc::new(move |m, _| f(&m.to_message())),
            flow: None,
        }
    }

    /// A sink that gets each message's QoS (the lower of the publish's and the subscription's), as a model
    /// message.
    pub fn with_qos(f: impl Fn(&MqttMessage, Qos) -> Delivery + Send + Sync + 'static) -> Self {
        MessageSink {
            f: Arc::new(move |m, q| f(&m.to_message(), q)),
            flow: None,
        }
    }

    /// A sink that gets each message as the broker's borrowed view, with its QoS: nothing is copied to call it.
    pub fn with_ref(f: impl Fn(&MessageRef<'_>, Qos) -> Delivery + Send + Sync + 'static) -> Self {
        MessageSink {
            f: Arc::new(f),
            flow: None,
        }
    }

    pub(crate) fn with_flow(mut self, flow: Arc<super::sink::EventSink>) -> Self {
        self.flow = Some(flow);
        self
    }

    /// Hands one message to the subscriber, as QoS 1.
    pub fn deliver(&self, msg: &MqttMessage) -> Delivery {
        (self.f)(&MessageRef::from(msg), Qos::AtLeastOnce)
    }

    /// Hands one message to the subscriber with its QoS: a QoS 0 message is dropped first when the subscriber
    /// is behind.
    pub fn deliver_qos(&self, msg: &MqttMessage, qos: Qos) -> Delivery {
        (self.f)(&MessageRef::from(msg), qos)
    }

    /// [`deliver_qos`](Self::deliver_qos) of a borrowed message: a broker that keeps its messages in its own
    /// form hands them over without building a model message.
    pub fn deliver_ref(&self, msg: &MessageRef<'_>, qos: Qos) -> Delivery {
        (self.f)(msg, qos)
    }

    /// True when a QoS 1 message delivered now stays within the subscriber's bounds (no need to wait).
    pub fn has_capacity(&self) -> bool {
        self.flow.as_ref().is_none_or(|f| f.has_capacity())
    }

    /// Waits until the subscriber can take a QoS 1 message within its bounds, at most the server's
    /// `subscriber_stall_timeout` (see the type's docs).
    pub async fn ready(&self) {
        if let Some(f) = &self.flow {
            f.ready().await;
        }
    }
}

/// Waits until every one of `sinks` can take a QoS 1 message (see [`MessageSink::ready`]), at most the server's
/// `subscriber_stall_timeout` for all of them together: those still behind then are stalled.
pub async fn ready_all(sinks: impl IntoIterator<Item = MessageSink>) {
    let mut deadline = None;
    for s in sinks {
        if let Some(f) = &s.flow {
            let d =
                *deadline.get_or_insert_with(|| tokio::time::Instant::now() + f.stall_timeout());
            f.ready_until(d).await;
        }
    }
}

impl fmt::Debug for MessageSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MessageSink")
    }
}

/// The MQTT side of an IPC server.
///
/// `publish` should do whatever fixes message order (enqueueing into a spooler, say) when it is first
/// polled; the server polls it once in order and only then lets it run on its own. Its result is the
/// publish response: resolve it when the message is accepted (spooled) or, for a broker that confirms
/// delivery, when the broker acknowledged it.
pub trait Broker: Send + Sync + 'static {
    fn publish(&self, publish: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>>;

    /// Starts delivering messages whose topic matches `filter` to `sink`. Resolves when the subscription is
    /// in place (for a remote broker: when the SUBACK arrived).
    fn subscribe(
        &self,
        filter: &str,
        qos: Qos,
        sink: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>>;

    /// Stops a subscription. Unknown ids are ignored.
    fn unsubscribe(&self, id: SubscriptionId);

    /// Follows whether the broker side is connected to AWS IoT Core (for a bridge: to the broker it bridges
    /// to). The default is a broker that is always connected.
    fn connection_status(&self) -> tokio::sync::watch::Receiver<bool> {
        tokio::sync::watch::channel(true).1
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    fn opt<T: std::fmt::Debug + Clone>(
        s: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = Option<T>> {
        prop::option::of(s)
    }

    prop_compose! {
        fn model_message()(
            topic in "[a-z/\"\\\\é]{1,12}",
            payload in proptest::collection::vec(any::<u8>(), 0..600),
            retain in opt(any::<bool>()),
            props in opt(proptest::collection::vec(("[a-z\"\u{0}-\u{1f}]{0,6}", "[a-z€]{0,6}"), 0..3)),
            expiry in opt(any::<i64>()),
            correlation in opt(proptest::collection::vec(any::<u8>(), 0..20)),
            response in opt("[a-z/]{0,8}"),
            format in opt(prop::sample::select(PayloadFormat::ALL.to_vec())),
            content in opt("[a-z/\"]{0,8}"),
        ) -> MqttMessage {
            MqttMessage {
                topic_name: Some(topic),
                payload: Some(payload),
                retain,
                user_properties: props.map(|v| {
                    v.into_iter().map(|(key, value)| UserProperty { key, value }).collect()
                }),
                message_expiry_interval_seconds: expiry,
                correlation_data: correlation,
                response_topic: response,
                payload_format: format,
                content_type: content,
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The borrowed view writes the model message's text (with either JSON writer, user properties in
        /// either form) and converts back to it.
        #[test]
        fn a_message_ref_serializes_as_its_model_message(m in model_message()) {
            let view = MessageRef::from(&m);
            let expected = serde_json::to_vec(&m).unwrap();
            prop_assert_eq!(&serde_json::to_vec(&view).unwrap(), &expected);
            prop_assert_eq!(&crate::json::to_vec(&view).unwrap(), &expected);
            let pairs: Option<Vec<(String, String)>> = m
                .user_properties
                .as_ref()
                .map(|v| v.iter().map(|u| (u.key.clone(), u.value.clone())).collect());
            let as_pairs = MessageRef {
                user_properties: pairs.as_deref().map(UserProperties::Pairs),
                ..view
            };
            prop_assert_eq!(&crate::json::to_vec(&as_pairs).unwrap(), &expected);
            prop_assert_eq!(view.to_message(), m.clone());
            prop_assert_eq!(as_pairs.to_message(), m);
        }
    }

    #[test]
    fn model_sinks_get_the_model_message_and_ref_sinks_the_view() {
        let m = MqttMessage {
            retain: Some(true),
            ..MqttMessage::new("a/b", vec![1, 2, 3])
        };
        let expected = m.clone();
        let sink = MessageSink::with_qos(move |got, q| {
            assert_eq!(got, &expected);
            assert_eq!(q, Qos::AtMostOnce);
            Delivery::Delivered
        });
        assert_eq!(sink.deliver_qos(&m, Qos::AtMostOnce), Delivery::Delivered);
        let payload_at = m.payload_bytes().as_ptr() as usize;
        let sink = MessageSink::with_ref(move |got, _| {
            // The very bytes of the broker's message: not a copy.
            assert_eq!(got.payload.as_ptr() as usize, payload_at);
            Delivery::Dropped
        });
        assert_eq!(sink.deliver(&m), Delivery::Dropped);
    }
}
