//! The event sink of one server stream: where a service delivers the events of a streaming operation.
//!
//! Until the stream's response is sent, events are kept (up to `pending_events_limit`) and sent right after
//! it; then they go straight to the connection's writer. A connection that stops reading gets its events
//! dropped and counted instead of buffered without bound (docs/DESIGN.md, "Bounded everything").

use super::broker::Delivery;
use super::Shared;
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

/// Delivers the events of one stream, as the operation's event shape.
pub(crate) struct EventSink {
    shared: Arc<Shared>,
    writer: Arc<FrameWriter>,
    stream_id: i32,
    /// The `service-model-type` of the events (the operation's event shape).
    event_shape: &'static str,
    phase: Mutex<Phase>,
    closed: AtomicBool,
}

impl EventSink {
    pub(crate) fn new(
        shared: Arc<Shared>,
        writer: Arc<FrameWriter>,
        stream_id: i32,
        event_shape: &'static str,
    ) -> Self {
        EventSink {
            shared,
            writer,
            stream_id,
            event_shape,
            phase: Mutex::new(Phase::Pending(Vec::new())),
            closed: AtomicBool::new(false),
        }
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers one event whose JSON body is `body`. Never blocks.
    pub(crate) fn deliver(&self, body: Bytes) -> Delivery {
        if self.closed.load(Ordering::Acquire) {
            return Delivery::Closed;
        }
        let frame = Frame::json(
            MessageType::ApplicationMessage,
            0,
            self.stream_id,
            self.event_shape,
            body,
        );
        let mut phase = self.phase();
        let result = match &mut *phase {
            Phase::Closed => return Delivery::Closed,
            Phase::Pending(q) if q.len() < self.shared.config.pending_events_limit => {
                q.push(frame);
                Delivery::Delivered
            }
            Phase::Pending(_) => Delivery::Dropped,
            Phase::Ready if self.writer.is_congested() => Delivery::Dropped,
            Phase::Ready => match self.writer.send(&frame) {
                Ok(()) => Delivery::Delivered,
                Err(rpc::SendError::Closed(_)) => {
                    *phase = Phase::Closed;
                    return Delivery::Closed;
                }
                Err(rpc::SendError::Frame(e)) => {
                    tracing::warn!(error = %e, "event cannot be encoded; dropped");
                    Delivery::Dropped
                }
            },
        };
        let counter = match result {
            Delivery::Delivered => &self.shared.counters.events_delivered,
            _ => {
                tracing::warn!(
                    stream = self.stream_id,
                    "subscriber is not keeping up; event dropped"
                );
                &self.shared.counters.events_dropped
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Delivers one event, serializing `event` as its body.
    pub(crate) fn deliver_json<T: serde::Serialize>(&self, event: &T) -> Delivery {
        match crate::json::to_vec(event) {
            Ok(body) => self.deliver(body.into()),
            Err(e) => {
                tracing::warn!(error = %e, "event cannot be serialized; dropped");
                self.shared
                    .counters
                    .events_dropped
                    .fetch_add(1, Ordering::Relaxed);
                Delivery::Dropped
            }
        }
    }

    /// The stream's response is out: send what arrived meanwhile, then deliver directly.
    pub(crate) fn activate(&self) {
        let mut phase = self.phase();
        if let Phase::Pending(q) = std::mem::replace(&mut *phase, Phase::Ready) {
            for f in q {
                let _ = self.writer.send(&f);
            }
        }
    }

    /// The stream ended: drop whatever is still offered.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        *self.phase() = Phase::Closed;
    }
}
