//! An in-process broker with MQTT topic matching: a stand-in for AWS IoT Core in tests and embedded use.
//! Publishes are delivered to every matching subscription (a component receives its own messages, as with
//! IoT Core), recorded for inspection, and retained messages are kept per topic.

use super::broker::{
    BoxFuture, Broker, BrokerError, BrokerPublish, Delivery, MessageSink, SubscriptionId,
};
use super::topic::filter_matches;
use crate::model::{MqttMessage, Qos};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;

/// How many publishes [`MemoryBroker::recorded`] keeps (oldest dropped first).
pub const RECORD_LIMIT: usize = 100_000;

/// In-memory broker. See the module docs.
pub struct MemoryBroker {
    subs: RwLock<Vec<(SubscriptionId, String, MessageSink)>>,
    next_id: AtomicU64,
    retained: Mutex<HashMap<String, MqttMessage>>,
    recorded: Mutex<VecDeque<Arc<BrokerPublish>>>,
    tap: broadcast::Sender<BrokerPublish>,
    dropped: AtomicU64,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        MemoryBroker {
            subs: RwLock::new(Vec::new()),
            next_id: AtomicU64::new(1),
            retained: Mutex::new(HashMap::new()),
            recorded: Mutex::new(VecDeque::new()),
            tap: broadcast::channel(4096).0,
            dropped: AtomicU64::new(0),
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
        self.fan_out(&msg)
    }

    fn retain(&self, msg: &MqttMessage) {
        let mut r = self.retained.lock().unwrap_or_else(|e| e.into_inner());
        if msg.payload_bytes().is_empty() {
            r.remove(msg.topic());
        } else {
            r.insert(msg.topic().to_string(), msg.clone());
        }
    }

    fn fan_out(&self, msg: &MqttMessage) -> usize {
        let mut delivered = 0;
        let mut closed = Vec::new();
        {
            let subs = self.subs.read().unwrap_or_else(|e| e.into_inner());
            for (id, filter, sink) in subs.iter() {
                if filter_matches(filter, msg.topic()) {
                    match sink.deliver(msg) {
                        Delivery::Delivered => delivered += 1,
                        Delivery::Dropped => {
                            self.dropped.fetch_add(1, Ordering::Relaxed);
                        }
                        Delivery::Closed => closed.push(*id),
                    }
                }
            }
        }
        for id in closed {
            self.unsubscribe(id);
        }
        delivered
    }

    /// Publishes made by components, oldest first (at most [`RECORD_LIMIT`]).
    pub fn recorded(&self) -> Vec<BrokerPublish> {
        self.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|p| (**p).clone())
            .collect()
    }

    /// Forgets the recorded publishes.
    pub fn clear_recorded(&self) {
        self.recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// A live feed of publishes made by components (lagging receivers lose the oldest).
    pub fn tap(&self) -> broadcast::Receiver<BrokerPublish> {
        self.tap.subscribe()
    }

    /// Active subscription filters.
    pub fn subscriptions(&self) -> Vec<String> {
        self.subs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, f, _)| f.clone())
            .collect()
    }

    /// Messages subscribers were too slow to take.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Broker for MemoryBroker {
    fn publish(&self, publish: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>> {
        if publish.message.retain == Some(true) {
            self.retain(&publish.message);
        }
        self.fan_out(&publish.message);
        let publish = Arc::new(publish);
        {
            let mut rec = self.recorded.lock().unwrap_or_else(|e| e.into_inner());
            if rec.len() >= RECORD_LIMIT {
                rec.pop_front();
            }
            rec.push_back(publish.clone());
        }
        if self.tap.receiver_count() > 0 {
            let _ = self.tap.send((*publish).clone());
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn subscribe(
        &self,
        filter: &str,
        _qos: Qos,
        sink: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        let id = SubscriptionId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.subs.write().unwrap_or_else(|e| e.into_inner()).push((
            id,
            filter.to_string(),
            sink.clone(),
        ));
        let retained: Vec<MqttMessage> = self
            .retained
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|m| filter_matches(filter, m.topic()))
            .cloned()
            .collect();
        for m in retained {
            sink.deliver(&m);
        }
        Box::pin(std::future::ready(Ok(id)))
    }

    fn unsubscribe(&self, id: SubscriptionId) {
        self.subs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(i, _, _)| *i != id);
    }
}
