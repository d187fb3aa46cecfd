//! [`ggipc::server::Broker`] implementations of the nucleus: the embedded broker (in-process hook into its routing
//! table) and the bridge to a remote broker. `--broker memory` uses `ggipc::server::MemoryBroker` directly.

use std::sync::Arc;

use bytes::Bytes;
use ggipc::model::{PayloadFormat, Qos};
use ggipc::server::{
    BoxFuture, Broker, BrokerError, BrokerPublish, MessageRef, MessageSink, SubscriptionId,
    UserProperties,
};

use crate::mqtt::bridge::{Bridge, BridgeSubId};
use crate::mqtt::embedded::{EmbeddedBroker, LocalSubId};
use crate::mqtt::msg::{Msg, Props};
use crate::mqtt::pool::BridgePool;

/// Model message → nucleus message.
pub fn to_msg(p: BrokerPublish) -> Msg {
    let m = p.message;
    Msg {
        topic: m.topic_name.unwrap_or_default(),
        payload: Bytes::from(m.payload.unwrap_or_default()),
        qos: match p.qos {
            Qos::AtMostOnce => 0,
            Qos::AtLeastOnce => 1,
        },
        retain: m.retain.unwrap_or(false),
        props: Props {
            payload_format_utf8: match m.payload_format {
                Some(PayloadFormat::Utf8) => Some(true),
                _ => None,
            },
            message_expiry_interval: m
                .message_expiry_interval_seconds
                .map(|s| u32::try_from(s.max(0)).unwrap_or(u32::MAX)),
            content_type: m.content_type,
            response_topic: m.response_topic,
            correlation_data: m.correlation_data.map(Bytes::from),
            user_properties: m
                .user_properties
                .unwrap_or_default()
                .into_iter()
                .map(|u| (u.key, u.value))
                .collect(),
        },
    }
}

/// Nucleus message → the `MQTTMessage` of an `IoTCoreMessage` event, filled in as the Java nucleus does
/// (`retain` and `payloadFormat` always present, the MQTT 5 fields when present). Borrowed: the event is encoded
/// from the nucleus' message itself, so a delivery copies no payload.
pub fn message_ref(m: &Msg) -> MessageRef<'_> {
    let p = &m.props;
    MessageRef {
        topic: &m.topic,
        payload: &m.payload,
        retain: Some(m.retain),
        user_properties: (!p.user_properties.is_empty())
            .then_some(UserProperties::Pairs(&p.user_properties)),
        message_expiry_interval_seconds: p.message_expiry_interval.map(i64::from),
        correlation_data: p.correlation_data.as_deref(),
        response_topic: p.response_topic.as_deref(),
        payload_format: Some(if p.payload_format_utf8 == Some(true) {
            PayloadFormat::Utf8
        } else {
            PayloadFormat::Bytes
        }),
        content_type: p.content_type.as_deref(),
    }
}

/// The embedded broker as the IPC server's broker: publishes go straight into its routing table, IPC
/// subscriptions are in-process entries of it. MQTT clients of the embedded listener see both.
pub struct EmbeddedIpcBroker {
    broker: EmbeddedBroker,
    /// IPC publishes pass one at a time, in arrival order, while they wait for slow subscribers.
    gate: tokio::sync::Semaphore,
}

impl EmbeddedIpcBroker {
    pub fn new(broker: EmbeddedBroker) -> Self {
        EmbeddedIpcBroker {
            broker,
            gate: tokio::sync::Semaphore::new(1),
        }
    }
}

/// The QoS an IPC subscriber of QoS `sub` gets a message of QoS `msg` with.
fn effective_qos(sub: u8, msg: u8) -> Qos {
    if sub >= 1 && msg >= 1 {
        Qos::AtLeastOnce
    } else {
        Qos::AtMostOnce
    }
}

impl Broker for EmbeddedIpcBroker {
    fn publish(&self, publish: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>> {
        let msg = to_msg(publish);
        // Polled once on arrival: the gate's queue fixes the order; with nobody behind, routing happens then.
        Box::pin(async move {
            let _turn = self.gate.acquire().await;
            self.broker.wait_ready(&msg.topic, msg.qos).await;
            self.broker.publish(msg);
            Ok(())
        })
    }

    fn subscribe(
        &self,
        filter: &str,
        qos: Qos,
        sink: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        let q = if qos == Qos::AtLeastOnce { 1 } else { 0 };
        let flow = sink.clone();
        let deliver = sink.clone();
        let (id, retained) = self.broker.subscribe_local_with_flow(
            filter,
            q,
            Arc::new(move |m: &Msg| {
                deliver.deliver_ref(&message_ref(m), effective_qos(q, m.qos));
            }),
            Some(flow),
        );
        // The matching retained messages, `retain: true`, as the nucleus gives them to a new subscription: the
        // server keeps them until the subscribe response is out, then sends them first.
        for m in &retained {
            sink.deliver_ref(&message_ref(m), effective_qos(q, m.qos));
        }
        Box::pin(async move { Ok(SubscriptionId(id.0)) })
    }

    fn unsubscribe(&self, id: SubscriptionId) {
        self.broker.unsubscribe_local(LocalSubId(id.0));
    }
}

/// The bridge to a remote MQTT broker as the IPC server's broker: publishes on the first connection,
/// subscriptions spread over the pool's connections.
pub struct BridgeIpcBroker {
    bridge: Bridge,
    pool: BridgePool,
    /// How long a QoS 1 publish waits for room in a full spool before it is refused.
    spool_wait: std::time::Duration,
    /// Publishes pass one at a time, in arrival order, while they wait for room in the spool.
    gate: tokio::sync::Semaphore,
}

impl BridgeIpcBroker {
    pub fn new(pool: BridgePool, spool_wait: std::time::Duration) -> Self {
        BridgeIpcBroker {
            bridge: pool.primary().clone(),
            pool,
            spool_wait,
            gate: tokio::sync::Semaphore::new(1),
        }
    }
}

impl Broker for BridgeIpcBroker {
    fn publish(&self, publish: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>> {
        let msg = to_msg(publish);
        let qos1 = msg.qos == 1;
        let deadline = tokio::time::Instant::now() + self.spool_wait;
        Box::pin(async move {
            // Polled once on arrival: with the gate free and room in the spool, spooling happens then (order
            // fixed); otherwise publishes wait in order. A PUBACK-mode wait runs after the gate.
            let res = {
                let _turn = self.gate.acquire().await;
                self.bridge.publish_waiting(msg, deadline).await
            };
            match res {
                // A disk-spooled QoS 1 publish is answered once its record is synced (one sync for every
                // publish waiting then: the gate is released already).
                Ok(None) if qos1 => self.bridge.spool_durable().await.map_err(BrokerError::new),
                Ok(None) => Ok(()),
                Ok(Some(wait)) => match wait.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(BrokerError::new(e)),
                    Err(_) => Err(BrokerError::new("the MQTT connection task stopped")),
                },
                Err(e) => Err(BrokerError::new(e)),
            }
        })
    }

    fn subscribe(
        &self,
        filter: &str,
        qos: Qos,
        sink: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        let q = if qos == Qos::AtLeastOnce { 1 } else { 0 };
        let filter = filter.to_owned();
        let flow = (q == 1).then(|| sink.clone());
        Box::pin(async move {
            let id = self
                .pool
                .subscribe_with_flow(
                    &filter,
                    q,
                    Arc::new(move |m: &Msg| {
                        sink.deliver_ref(&message_ref(m), effective_qos(q, m.qos));
                    }),
                    flow,
                )
                .await
                .map_err(|e| {
                    BrokerError {
                    context: e.reason_code.map(|code| {
                        serde_json::json!({"reasonString": e.reason_string, "reasonCode": code})
                    }),
                    message: e.message,
                }
                })?;
            Ok(SubscriptionId(id.0))
        })
    }

    fn unsubscribe(&self, id: SubscriptionId) {
        self.pool.unsubscribe(BridgeSubId(id.0));
    }

    fn connection_status(&self) -> tokio::sync::watch::Receiver<bool> {
        self.bridge.connection_state()
    }
}
