//! A broker that does as little as possible, for benchmarks: publishes are accepted and dropped (nothing is
//! recorded or delivered), except the burst and ack control topics, which drive [`MinimalBroker::burst`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ggipc::model::{MqttMessage, Qos};
use ggipc::server::topic::filter_matches;
use ggipc::server::{BoxFuture, Broker, BrokerError, BrokerPublish, MessageSink, SubscriptionId};
use tokio::sync::Notify;

use crate::{ACK_TOPIC, BURST_TOPIC};

#[derive(Default)]
pub struct MinimalBroker {
    subs: Mutex<Vec<(SubscriptionId, String, MessageSink)>>,
    next_id: AtomicU64,
    acked: AtomicU64,
    ack_changed: Notify,
}

impl MinimalBroker {
    fn sinks_for(&self, topic: &str) -> Vec<MessageSink> {
        self.subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(_, f, _)| filter_matches(f, topic))
            .map(|(_, _, s)| s.clone())
            .collect()
    }

    /// Sends `count` messages of `size` bytes on `topic`, at most `window` unacknowledged (see the binary's
    /// docs); each message waits until every sink can take it (flow control) and is delivered once.
    pub async fn burst(
        self: Arc<Self>,
        count: u64,
        size: usize,
        topic: String,
        window: Option<u64>,
    ) {
        self.acked.store(0, Ordering::Relaxed);
        let sinks = self.sinks_for(&topic);
        for i in 0..count {
            if let Some(w) = window {
                while i >= self.acked.load(Ordering::Acquire) + w {
                    let notified = self.ack_changed.notified();
                    if i < self.acked.load(Ordering::Acquire) + w {
                        break;
                    }
                    if tokio::time::timeout(std::time::Duration::from_secs(10), notified)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
            let mut payload = vec![0u8; size];
            payload[..8].copy_from_slice(&i.to_be_bytes());
            let msg = MqttMessage::new(topic.clone(), payload);
            for sink in &sinks {
                // As a broker that must not lose QoS 1 does: wait until the subscriber can take it, then hand it
                // over once. What a sink still drops (a stalled subscriber) is lost and counted by the server,
                // which tells the subscriber with its next event; offering it again would count it twice.
                if !sink.has_capacity() {
                    sink.ready().await;
                }
                let _ = sink.deliver(&msg);
            }
            if i % 256 == 255 {
                tokio::task::yield_now().await;
            }
        }
    }
}

/// The broker as the server sees it; keeps an `Arc` so that bursts can run as tasks.
pub struct Shared(pub Arc<MinimalBroker>);

impl Broker for Shared {
    fn publish(&self, publish: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>> {
        let topic = publish.message.topic();
        if topic == ACK_TOPIC {
            let n: u64 = String::from_utf8_lossy(publish.message.payload_bytes())
                .trim()
                .parse()
                .unwrap_or(0);
            self.0.acked.fetch_max(n, Ordering::AcqRel);
            self.0.ack_changed.notify_waiters();
        } else if topic == BURST_TOPIC {
            if let Some((count, size, topic, window)) =
                crate::parse_burst(publish.message.payload_bytes())
            {
                tokio::spawn(self.0.clone().burst(count, size, topic, window));
            }
        }
        Box::pin(async { Ok(()) })
    }

    fn subscribe(
        &self,
        filter: &str,
        _qos: Qos,
        sink: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        let id = SubscriptionId(self.0.next_id.fetch_add(1, Ordering::Relaxed));
        self.0
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, filter.to_string(), sink));
        Box::pin(async move { Ok(id) })
    }

    fn unsubscribe(&self, id: SubscriptionId) {
        self.0
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(i, _, _)| *i != id);
    }
}
