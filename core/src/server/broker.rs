//! The MQTT side of the server: the [`Broker`] trait. The server validates and authorizes; a broker only
//! moves messages (to AWS IoT Core, a local MQTT broker, or memory).

use crate::model::{MqttMessage, Qos};
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

type DeliverFn = dyn Fn(&MqttMessage, Qos) -> Delivery + Send + Sync;

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
    /// A sink that treats every message alike.
    pub fn new(f: impl Fn(&MqttMessage) -> Delivery + Send + Sync + 'static) -> Self {
        MessageSink {
            f: Arc::new(move |m, _| f(m)),
            flow: None,
        }
    }

    /// A sink that gets each message's QoS (the lower of the publish's and the subscription's).
    pub fn with_qos(f: impl Fn(&MqttMessage, Qos) -> Delivery + Send + Sync + 'static) -> Self {
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
        (self.f)(msg, Qos::AtLeastOnce)
    }

    /// Hands one message to the subscriber with its QoS: a QoS 0 message is dropped first when the subscriber
    /// is behind.
    pub fn deliver_qos(&self, msg: &MqttMessage, qos: Qos) -> Delivery {
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
