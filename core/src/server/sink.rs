//! The event sink of one server stream: where a service delivers the events of a streaming operation.
//!
//! Until the stream's response is sent, events are kept (up to `pending_events_limit`) and sent right after
//! it; then they go straight to the connection's writer.
//!
//! Flow control (docs/DESIGN.md, "Flow control"): a source that must not lose messages (a QoS 1 publish, a
//! local publish) waits with [`EventSink::ready`] until the connection's writer is below its high-water mark
//! before it delivers, so a slow subscriber slows its publishers instead of losing their messages. The wait
//! is bounded by `ServerConfig::subscriber_stall_timeout`: past it the subscriber is *stalled* and its events
//! are dropped, without waiting, until its writer has drained to half the mark, so one stalled subscriber
//! holds the others up for at most that long. QoS 0 events are dropped as soon as the writer is over the
//! mark (they are dropped first); reliable events only past a hard limit (twice the mark), which the waits
//! keep them from reaching. Every drop is counted; the next event delivered on the stream carries the count in
//! the [`LAGGED_HEADER`](crate::rpc::LAGGED_HEADER), and the episode is logged once when it starts and once
//! when it ends.

use super::broker::Delivery;
use super::Shared;
use crate::codec::{Header, HeaderValue};
use crate::rpc::Frame;
use crate::rpc::{self, FrameWriter, MessageType};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

enum Phase {
    /// Response not sent yet: keep events to send right after it.
    Pending(Vec<Frame>),
    Ready,
    Closed,
}

struct State {
    phase: Phase,
    /// Events dropped since the last one delivered (told to the subscriber with the next one).
    lagged: u64,
    /// A source gave up waiting for this subscriber: drop without waiting until it drained.
    stalled: bool,
    /// A drop episode is under way (logged once at its start and once at its end).
    episode: bool,
}

/// Delivers the events of one stream, as the operation's event shape.
pub(crate) struct EventSink {
    shared: Arc<Shared>,
    writer: Arc<FrameWriter>,
    stream_id: i32,
    component: Arc<str>,
    /// The `service-model-type` of the events (the operation's event shape).
    event_shape: &'static str,
    state: Mutex<State>,
    closed: AtomicBool,
}

impl EventSink {
    pub(crate) fn new(
        shared: Arc<Shared>,
        writer: Arc<FrameWriter>,
        stream_id: i32,
        component: Arc<str>,
        event_shape: &'static str,
    ) -> Self {
        EventSink {
            shared,
            writer,
            stream_id,
            component,
            event_shape,
            state: Mutex::new(State {
                phase: Phase::Pending(Vec::new()),
                lagged: 0,
                stalled: false,
                episode: false,
            }),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn high_water(&self) -> usize {
        rpc::HIGH_WATER
    }

    /// Delivers one event whose JSON body is `body`, as a reliable event (dropped only past the hard limit
    /// or while the subscriber is stalled). Never blocks.
    pub(crate) fn deliver(&self, body: Bytes) -> Delivery {
        self.deliver_with(body, true)
    }

    /// Delivers one event; `reliable` false (QoS 0) drops it as soon as the connection is congested.
    /// Never blocks.
    pub(crate) fn deliver_with(&self, body: Bytes, reliable: bool) -> Delivery {
        if self.closed.load(Ordering::Acquire) {
            return Delivery::Closed;
        }
        let mut frame = Frame::json(
            MessageType::ApplicationMessage,
            0,
            self.stream_id,
            self.event_shape,
            body,
        );
        let mut st = self.lock();
        let result = match st.phase {
            Phase::Closed => return Delivery::Closed,
            Phase::Pending(ref q) if q.len() >= self.shared.config.pending_events_limit => {
                Delivery::Dropped
            }
            Phase::Pending(_) => {
                self.tell_lag(&mut st, &mut frame);
                if let Phase::Pending(q) = &mut st.phase {
                    q.push(frame);
                }
                Delivery::Delivered
            }
            Phase::Ready => {
                if self.drops_now(&mut st, reliable) {
                    Delivery::Dropped
                } else {
                    self.tell_lag(&mut st, &mut frame);
                    match self.writer.send(&frame) {
                        Ok(()) => Delivery::Delivered,
                        Err(rpc::SendError::Closed(_)) => {
                            st.phase = Phase::Closed;
                            return Delivery::Closed;
                        }
                        Err(rpc::SendError::Frame(e)) => {
                            tracing::warn!(error = %e, "event cannot be encoded; dropped");
                            Delivery::Dropped
                        }
                    }
                }
            }
        };
        match result {
            Delivery::Delivered => {
                self.shared
                    .counters
                    .events_delivered
                    .fetch_add(1, Ordering::Relaxed);
            }
            _ => self.dropped(&mut st),
        }
        result
    }

    /// [`deliver_with`](Self::deliver_with) of a body made by `body` only when the event is not dropped right
    /// away: an event the subscriber cannot take now (QoS 0 on a congested connection, a stalled subscriber) is
    /// counted as dropped without being encoded. `None` from `body` counts as a drop too.
    pub(crate) fn deliver_lazy(
        &self,
        reliable: bool,
        body: impl FnOnce() -> Option<Bytes>,
    ) -> Delivery {
        if self.closed.load(Ordering::Acquire) {
            return Delivery::Closed;
        }
        {
            let mut st = self.lock();
            match st.phase {
                Phase::Closed => return Delivery::Closed,
                Phase::Pending(_) => {}
                Phase::Ready => {
                    if self.drops_now(&mut st, reliable) {
                        self.dropped(&mut st);
                        return Delivery::Dropped;
                    }
                }
            }
        }
        match body() {
            Some(b) => self.deliver_with(b, reliable),
            None => {
                self.dropped(&mut self.lock());
                Delivery::Dropped
            }
        }
    }

    /// Whether an event offered now is dropped (the stream answered): the subscriber is stalled, or the
    /// connection is congested (past the mark for QoS 0, past the hard limit for a reliable event). Ends a
    /// stall once the connection has drained to half the mark.
    fn drops_now(&self, st: &mut State, reliable: bool) -> bool {
        let buffered = self.writer.buffered();
        let hw = self.high_water();
        if st.stalled && buffered <= hw / 2 {
            st.stalled = false;
        }
        st.stalled || (!reliable && buffered > hw) || buffered > 2 * hw
    }

    /// Counts one dropped event; logs the start of an episode.
    fn dropped(&self, st: &mut State) {
        st.lagged += 1;
        self.shared
            .counters
            .events_dropped
            .fetch_add(1, Ordering::Relaxed);
        if !st.episode {
            st.episode = true;
            self.shared
                .counters
                .lag_episodes
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                component = %self.component,
                stream = self.stream_id,
                "subscriber is not keeping up; dropping its events until it catches up"
            );
        }
    }

    /// Adds the lag header to `frame` when events were dropped before it, and ends the episode.
    fn tell_lag(&self, st: &mut State, frame: &mut Frame) {
        if st.lagged == 0 {
            return;
        }
        let n = st.lagged;
        st.lagged = 0;
        st.episode = false;
        frame.other_headers.push(Header::with_static(
            rpc::LAGGED_HEADER,
            HeaderValue::Int64(i64::try_from(n).unwrap_or(i64::MAX)),
        ));
        tracing::info!(
            component = %self.component,
            stream = self.stream_id,
            dropped = n,
            "subscriber caught up; it is told how many events it lost"
        );
    }

    /// Delivers one event, serializing `event` as its body.
    pub(crate) fn deliver_json<T: serde::Serialize>(&self, event: &T) -> Delivery {
        self.deliver_json_with(event, true)
    }

    /// [`deliver_json`](Self::deliver_json), QoS 0 when `reliable` is false.
    pub(crate) fn deliver_json_with<T: serde::Serialize>(
        &self,
        event: &T,
        reliable: bool,
    ) -> Delivery {
        match crate::json::to_bytes(event) {
            Ok(body) => self.deliver_with(body, reliable),
            Err(e) => {
                tracing::warn!(error = %e, "event cannot be serialized; dropped");
                self.dropped(&mut self.lock());
                Delivery::Dropped
            }
        }
    }

    /// True when a reliable event delivered now would be queued within the bounds without waiting: the
    /// connection's writer is below its high-water mark, or the stream is stalled, not yet answered or gone
    /// (nothing to wait for).
    pub(crate) fn has_capacity(&self) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return true;
        }
        let st = self.lock();
        match st.phase {
            // Before the response, events are kept (bounded by `pending_events_limit`), never waited for.
            Phase::Closed | Phase::Pending(_) => true,
            Phase::Ready => st.stalled || self.writer.buffered() <= self.high_water(),
        }
    }

    /// Waits until [`has_capacity`](Self::has_capacity), at most `subscriber_stall_timeout`; past it the
    /// subscriber is stalled (its events dropped until it drains) and this returns.
    pub(crate) async fn ready(&self) {
        self.ready_until(tokio::time::Instant::now() + self.stall_timeout())
            .await
    }

    /// The server's `subscriber_stall_timeout`.
    pub(crate) fn stall_timeout(&self) -> std::time::Duration {
        self.shared.config.subscriber_stall_timeout
    }

    /// [`ready`](Self::ready) with the bound as a deadline, so a source waiting for several subscribers in turn
    /// waits at most the bound for all of them.
    pub(crate) async fn ready_until(&self, deadline: tokio::time::Instant) {
        if self.has_capacity() {
            return;
        }
        let bound = self.stall_timeout();
        let wait = async {
            // Returns once the writer is at or below the mark (or closed), which is what capacity means.
            self.writer.wait_for_capacity().await;
        };
        if tokio::time::timeout_at(deadline, wait).await.is_err() {
            let mut st = self.lock();
            if !st.stalled {
                st.stalled = true;
                tracing::warn!(
                    component = %self.component,
                    stream = self.stream_id,
                    waited = ?bound,
                    "subscriber stalled; its events are dropped until it drains"
                );
            }
        }
    }

    /// The stream's response is out: send what arrived meanwhile, then deliver directly.
    pub(crate) fn activate(&self) {
        let mut st = self.lock();
        if let Phase::Pending(q) = std::mem::replace(&mut st.phase, Phase::Ready) {
            for f in q {
                let _ = self.writer.send(&f);
            }
        }
    }

    /// The stream ended: drop whatever is still offered.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.lock().phase = Phase::Closed;
    }
}
