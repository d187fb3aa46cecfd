//! An in-process broker with MQTT topic matching: a stand-in for AWS IoT Core in tests and embedded use.
//! Publishes are delivered to every matching subscription (a component receives its own messages, as with
//! IoT Core), recorded for inspection, and retained messages are kept per topic.

use super::broker::{
    BoxFuture, Broker, BrokerError, BrokerPublish, Delivery, MessageRef, MessageSink,
    SubscriptionId,
};
use super::topic::filter_matches;
use super::topic_index::TopicIndex;
use crate::model::{MqttMessage, Qos};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;

/// How many publishes [`MemoryBroker::recorded`] keeps at most (oldest dropped first).
pub const RECORD_LIMIT: usize = 100_000;
/// How many bytes of publishes (payloads, topics and a fixed overhead each) [`MemoryBroker::recorded`] keeps at
/// most (oldest dropped first), so large payloads cannot grow the record without bound.
pub const RECORD_BYTES_LIMIT: usize = 16 * 1024 * 1024;

fn record_size(p: &BrokerPublish) -> usize {
    64 + p.message.topic().len()
        + p.message.payload_bytes().len()
        + p.message.correlation_data.as_ref().map_or(0, Vec::len)
}

#[derive(Default)]
struct Record {
    publishes: VecDeque<Arc<BrokerPublish>>,
    bytes: usize,
}

/// In-memory broker. See the module docs.
pub struct MemoryBroker {
    /// Subscriptions by filter (a trie: a publish costs its topic's depth, not a pass over all of them).
    subs: RwLock<TopicIndex<MessageSink>>,
    next_id: AtomicU64,
    /// Retained messages per topic, with when they arrived (an MQTT 5 expiry interval counts down from then).
    retained: Mutex<HashMap<String, (MqttMessage, std::time::Instant)>>,
    recorded: Mutex<Record>,
    tap: broadcast::Sender<BrokerPublish>,
    dropped: AtomicU64,
    connected: tokio::sync::watch::Sender<bool>,
    /// Publishes pass one at a time, in the order they were made, while they wait for slow subscribers.
    gate: tokio::sync::Semaphore,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        MemoryBroker {
            subs: RwLock::new(TopicIndex::new()),
            next_id: AtomicU64::new(1),
            retained: Mutex::new(HashMap::new()),
            recorded: Mutex::new(Record::default()),
            tap: broadcast::channel(4096).0,
            dropped: AtomicU64::new(0),
            connected: tokio::sync::watch::channel(true).0,
            gate: tokio::sync::Semaphore::new(1),
        }
    }
}

impl MemoryBroker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Delivers a message "from IoT Core" to every matching subscription; returns how many took it.
    pub fn inject(&self, msg: MqttMessage) -> usize {
        if msg.retain == Some(true) {
            self.retain(&msg);
        }
        self.fan_out(&msg, Qos::AtLeastOnce)
    }

    /// [`inject`](Self::inject) with flow control: waits (each subscriber at most the server's
    /// `subscriber_stall_timeout`) until every matching QoS 1 subscriber can take the message, as a broker
    /// holds back a publisher whose subscribers are behind.
    pub async fn inject_when_ready(&self, msg: MqttMessage) -> usize {
        let _turn = self.gate.acquire().await;
        super::broker::ready_all(self.matching(msg.topic())).await;
        self.inject(msg)
    }

    /// The sinks of the subscriptions matching `topic`.
    fn matching(&self, topic: &str) -> Vec<MessageSink> {
        self.subs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .matches(topic)
            .into_iter()
            .filter(|(_, _, s)| !s.has_capacity())
            .map(|(_, _, s)| s.clone())
            .collect()
    }

    fn retain(&self, msg: &MqttMessage) {
        let mut r = self.retained.lock().unwrap_or_else(|e| e.into_inner());
        if msg.payload_bytes().is_empty() {
            r.remove(msg.topic());
        } else {
            r.insert(
                msg.topic().to_string(),
                (msg.clone(), std::time::Instant::now()),
            );
        }
    }

    fn fan_out(&self, msg: &MqttMessage, qos: Qos) -> usize {
        // Established subscriptions get a retained message as a live one (`retain: false`, as MQTT and the
        // embedded broker do); only new subscriptions get it flagged.
        let mut view = MessageRef::from(msg);
        if view.retain == Some(true) {
            view.retain = Some(false);
        }
        let mut delivered = 0;
        let mut closed = Vec::new();
        {
            let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
            for (id, _, sink) in subs.matches(msg.topic()) {
                match sink.deliver_ref(&view, qos) {
                    Delivery::Delivered => delivered += 1,
                    Delivery::Dropped => {
                        self.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Delivery::Closed => closed.push(SubscriptionId(id)),
                }
            }
        }
        for id in closed {
            self.unsubscribe(id);
        }
        delivered
    }

    /// Publishes made by components, oldest first (at most [`RECORD_LIMIT`] of them and
    /// [`RECORD_BYTES_LIMIT`] bytes).
    pub fn recorded(&self) -> Vec<BrokerPublish> {
        self.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .publishes
            .iter()
            .map(|p| (**p).clone())
            .collect()
    }

    /// Forgets the recorded publishes.
    pub fn clear_recorded(&self) {
        *self.recorded.lock().unwrap_or_else(|e| e.into_inner()) = Record::default();
    }

    /// A live feed of publishes made by components (lagging receivers lose the oldest).
    pub fn tap(&self) -> broadcast::Receiver<BrokerPublish> {
        self.tap.subscribe()
    }

    /// Active subscription filters, oldest first.
    pub fn subscriptions(&self) -> Vec<String> {
        let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<(u64, &str)> = subs.iter().map(|(k, f, _)| (k, f)).collect();
        all.sort_unstable_by_key(|(k, _)| *k);
        all.into_iter().map(|(_, f)| f.to_string()).collect()
    }

    /// Sets the connection status SubscribeToIoTCoreConnectionStatus subscribers see (connected at first), to
    /// simulate AWS IoT Core going away and coming back. Only the status changes: publishes still succeed.
    pub fn set_connected(&self, connected: bool) {
        self.connected.send_replace(connected);
    }

    /// Messages subscribers were too slow to take.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Broker for MemoryBroker {
    fn publish(&self, publish: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(async move {
            // In order, and for QoS 1 only once every matching subscriber can take it (flow control).
            let _turn = self.gate.acquire().await;
            if publish.qos == Qos::AtLeastOnce {
                super::broker::ready_all(self.matching(publish.message.topic())).await;
            }
            self.accept(publish);
            Ok(())
        })
    }

    fn subscribe(
        &self,
        filter: &str,
        _qos: Qos,
        sink: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        let id = SubscriptionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.subs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.0, filter, sink.clone());
        let retained = self.live_retained(filter);
        for m in retained {
            sink.deliver(&m);
        }
        Box::pin(std::future::ready(Ok(id)))
    }

    fn unsubscribe(&self, id: SubscriptionId) {
        self.subs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id.0);
    }

    fn connection_status(&self) -> tokio::sync::watch::Receiver<bool> {
        self.connected.subscribe()
    }
}

impl MemoryBroker {
    /// The retained messages matching `filter`, `retain: true`, each with the expiry interval it has left
    /// (MQTT 5); expired ones are forgotten.
    fn live_retained(&self, filter: &str) -> Vec<MqttMessage> {
        let mut r = self.retained.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        r.retain(|_, (m, at)| {
            let left = m
                .message_expiry_interval_seconds
                .map(|i| i - i64::try_from(at.elapsed().as_secs()).unwrap_or(i64::MAX));
            if left.is_some_and(|l| l <= 0) {
                return false;
            }
            if filter_matches(filter, m.topic()) {
                out.push(MqttMessage {
                    retain: Some(true),
                    message_expiry_interval_seconds: left,
                    ..m.clone()
                });
            }
            true
        });
        out
    }

    /// Routes, records and taps one publish now, without waiting for slow subscribers (what
    /// [`Broker::publish`] does once they can take it).
    pub(crate) fn accept(&self, publish: BrokerPublish) {
        if publish.message.retain == Some(true) {
            self.retain(&publish.message);
        }
        self.fan_out(&publish.message, publish.qos);
        let publish = Arc::new(publish);
        {
            let mut rec = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
            rec.bytes += record_size(&publish);
            rec.publishes.push_back(publish.clone());
            while rec.publishes.len() > RECORD_LIMIT || rec.bytes > RECORD_BYTES_LIMIT {
                let Some(old) = rec.publishes.pop_front() else {
                    break;
                };
                rec.bytes -= record_size(&old);
            }
        }
        if self.tap.receiver_count() > 0 {
            let _ = self.tap.send((*publish).clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(size: usize) -> BrokerPublish {
        BrokerPublish {
            component: Arc::from("c"),
            qos: Qos::AtMostOnce,
            message: MqttMessage::new("t", vec![0u8; size]),
        }
    }

    #[test]
    fn delivers_to_exactly_the_matching_subscriptions_in_subscription_order() {
        let b = MemoryBroker::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut ids = Vec::new();
        let filters = ["a/+/c", "x/#", "a/b/c", "#", "+/b/#", "a/b"];
        for f in filters {
            // Many subscriptions that never match, between the ones that do.
            for i in 0..200 {
                let sink = MessageSink::new(|_| Delivery::Delivered);
                rt.block_on(b.subscribe(&format!("other/{i}/#"), Qos::AtMostOnce, sink))
                    .unwrap();
            }
            let seen = seen.clone();
            let sink = MessageSink::new(move |m| {
                assert!(filter_matches(f, m.topic()));
                seen.lock().unwrap().push(f);
                Delivery::Delivered
            });
            ids.push(rt.block_on(b.subscribe(f, Qos::AtMostOnce, sink)).unwrap());
        }
        let taken = || seen.lock().unwrap().drain(..).collect::<Vec<_>>();
        assert_eq!(b.inject(MqttMessage::new("a/b/c", vec![1])), 4);
        assert_eq!(taken(), ["a/+/c", "a/b/c", "#", "+/b/#"]);
        // `$` topics are not matched by filters starting with a wildcard.
        assert_eq!(b.inject(MqttMessage::new("$aws/b/c", vec![1])), 0);
        b.unsubscribe(ids[3]);
        assert_eq!(b.inject(MqttMessage::new("a/b", vec![1])), 2);
        assert_eq!(taken(), ["+/b/#", "a/b"]);
        assert_eq!(b.subscriptions().len(), 6 * 200 + 5);
        assert_eq!(b.subscriptions()[200], "a/+/c");
    }

    #[test]
    fn the_record_is_bounded_in_bytes_and_count() {
        let b = MemoryBroker::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for _ in 0..300 {
            rt.block_on(b.publish(publish(128 * 1024))).unwrap();
        }
        let kept = b.recorded();
        assert!(kept.len() < 300 && !kept.is_empty(), "{}", kept.len());
        let bytes: usize = kept.iter().map(record_size).sum();
        assert!(bytes <= RECORD_BYTES_LIMIT);
        for _ in 0..(RECORD_LIMIT + 10) {
            rt.block_on(b.publish(publish(0))).unwrap();
        }
        assert_eq!(b.recorded().len(), RECORD_LIMIT);
        b.clear_recorded();
        assert!(b.recorded().is_empty());
    }
}
