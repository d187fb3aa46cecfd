//! Several MQTT connections to one broker, as the Greengrass nucleus opens them for AWS IoT Core (which allows 50
//! subscriptions per connection): the first connection, named with the client id, carries every publish and the
//! first `mqtt.maxSubscriptionsPerConnection` (50) distinct subscription filters; past that, further connections
//! named `<clientId>#2`, `<clientId>#3`, … are opened for the filters that do not fit. An extra connection left
//! without filters is closed (the first one always stays), and its number is reused by the next one opened.
//!
//! Each connection is a [`Bridge`] of its own (session, reconnects, flow control); a message from the broker is
//! delivered only to the subscriptions of the connection it came on, so filters spread over connections are never
//! delivered twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::bridge::{Bridge, BridgeConfig, BridgeSubId, Sink, SubscribeError};

/// One connection and the filters placed on it (filter → number of subscriptions using it).
struct Conn {
    bridge: Bridge,
    filters: HashMap<String, usize>,
}

struct PoolState {
    /// Index i is the connection named `<clientId>` (i = 0) or `<clientId>#<i+1>`; `None` once closed.
    conns: Vec<Option<Conn>>,
    /// Pool subscription id → (connection index, filter, the connection's subscription id).
    subs: HashMap<u64, (usize, String, BridgeSubId)>,
}

/// The connections to one broker; cheap to clone.
#[derive(Clone)]
pub struct BridgePool {
    primary: Bridge,
    base: Arc<BridgeConfig>,
    limit: usize,
    state: Arc<Mutex<PoolState>>,
    next_id: Arc<AtomicU64>,
}

impl BridgePool {
    /// `primary` is the first connection (started by the caller, with the spool); `limit` distinct filters per
    /// connection (0 = unlimited: one connection).
    pub fn new(primary: Bridge, base: BridgeConfig, limit: usize) -> Self {
        BridgePool {
            primary: primary.clone(),
            base: Arc::new(base),
            limit,
            state: Arc::new(Mutex::new(PoolState {
                conns: vec![Some(Conn {
                    bridge: primary,
                    filters: HashMap::new(),
                })],
                subs: HashMap::new(),
            })),
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The first connection: publishes, connection status, spool.
    pub fn primary(&self) -> &Bridge {
        &self.primary
    }

    /// `(client id, connected, distinct filters)` of every open connection, first one first.
    pub fn connections(&self) -> Vec<(String, bool, usize)> {
        let st = self.state.lock().expect("pool poisoned");
        st.conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.as_ref()
                    .map(|c| (self.client_id(i), c.bridge.is_connected(), c.filters.len()))
            })
            .collect()
    }

    fn client_id(&self, index: usize) -> String {
        if index == 0 {
            self.base.client_id.clone()
        } else {
            format!("{}#{}", self.base.client_id, index + 1)
        }
    }

    /// Picks the connection for `filter` and reserves its slot: the one already holding that exact filter, else
    /// the first with room, else a new one. Returns its index and its bridge.
    fn place(&self, filter: &str) -> (usize, Bridge) {
        let mut st = self.state.lock().expect("pool poisoned");
        let fits = |c: &Conn| self.limit == 0 || c.filters.len() < self.limit;
        let found = st
            .conns
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.filters.contains_key(filter)))
            .or_else(|| st.conns.iter().position(|c| c.as_ref().is_some_and(&fits)));
        let index = match found {
            Some(i) => i,
            None => {
                let i = st
                    .conns
                    .iter()
                    .position(Option::is_none)
                    .unwrap_or(st.conns.len());
                let mut cfg = (*self.base).clone();
                cfg.client_id = self.client_id(i);
                tracing::info!(client_id = %cfg.client_id, limit = self.limit,
                    "every connection has its maximum of subscriptions: opening another one");
                let conn = Conn {
                    bridge: Bridge::start(cfg),
                    filters: HashMap::new(),
                };
                if i == st.conns.len() {
                    st.conns.push(Some(conn));
                } else {
                    st.conns[i] = Some(conn);
                }
                i
            }
        };
        let conn = st.conns[index]
            .as_mut()
            .expect("placed on an open connection");
        *conn.filters.entry(filter.to_owned()).or_insert(0) += 1;
        (index, conn.bridge.clone())
    }

    /// Gives back a slot taken by [`place`](Self::place); closes an extra connection left without filters.
    fn release(&self, index: usize, filter: &str) {
        let closed = {
            let mut st = self.state.lock().expect("pool poisoned");
            let Some(Some(conn)) = st.conns.get_mut(index) else {
                return;
            };
            if let Some(n) = conn.filters.get_mut(filter) {
                *n -= 1;
                if *n == 0 {
                    conn.filters.remove(filter);
                }
            }
            if index > 0 && conn.filters.is_empty() {
                st.conns[index].take()
            } else {
                None
            }
        };
        if let Some(c) = closed {
            tracing::info!(client_id = %self.client_id(index), "connection without subscriptions closed");
            tokio::spawn(async move { c.bridge.shutdown().await });
        }
    }

    /// [`Bridge::subscribe_with_flow`] on the connection the filter is placed on.
    pub async fn subscribe_with_flow(
        &self,
        filter: &str,
        qos: u8,
        sink: Sink,
        flow: Option<ggipc::server::MessageSink>,
    ) -> Result<BridgeSubId, SubscribeError> {
        let (index, bridge) = self.place(filter);
        if index > 0 && !bridge.is_connected() && self.primary().is_connected() {
            // The broker is reachable but this connection is still coming up (opened for this filter, or for one
            // placed just before it): give it its connect timeout, so the subscription is made on it now. Answered
            // as "pending" instead, a message published right after the answer would reach the broker before the
            // subscription and be lost to it.
            let mut state = bridge.connection_state();
            let _ = tokio::time::timeout(self.base.connect_timeout, state.wait_for(|up| *up)).await;
        }
        match bridge.subscribe_with_flow(filter, qos, sink, flow).await {
            Ok(inner) => {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                self.state
                    .lock()
                    .expect("pool poisoned")
                    .subs
                    .insert(id, (index, filter.to_owned(), inner));
                Ok(BridgeSubId(id))
            }
            Err(e) => {
                self.release(index, filter);
                Err(e)
            }
        }
    }

    /// Removes a subscription; its slot is free again.
    pub fn unsubscribe(&self, id: BridgeSubId) {
        let found = {
            let mut st = self.state.lock().expect("pool poisoned");
            let Some((index, filter, inner)) = st.subs.remove(&id.0) else {
                return;
            };
            let bridge = st.conns[index].as_ref().map(|c| c.bridge.clone());
            (index, filter, inner, bridge)
        };
        let (index, filter, inner, bridge) = found;
        if let Some(b) = bridge {
            b.unsubscribe(inner);
        }
        self.release(index, &filter);
    }

    /// Shuts every connection down.
    pub async fn shutdown(&self) {
        let all: Vec<Bridge> = {
            let mut st = self.state.lock().expect("pool poisoned");
            st.conns
                .iter_mut()
                .skip(1)
                .filter_map(|c| c.take().map(|c| c.bridge))
                .collect()
        };
        self.primary.shutdown().await;
        for b in all {
            b.shutdown().await;
        }
    }
}
