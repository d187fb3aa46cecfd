//! Subscriptions: a bounded per-subscription event queue, the async/blocking consumers, and handler
//! dispatch on a dedicated thread.

use super::Inner;
use crate::model::{IoTCoreMessage, Operation};
use crate::{Client, Error, ErrorKind, Result};
use bytes::Bytes;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

/// The event shape of a streaming operation: how its events are decoded from their JSON body. Implemented by
/// every event shape of the model and by [`RawEvent`].
pub trait StreamEvent: Sized + Send + 'static {
    /// Decodes one event body.
    fn decode(payload: Bytes) -> Result<Self>;
}

/// Decodes an event body of a model shape.
pub(crate) fn decode_event<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T> {
    serde_json::from_slice(payload)
        .map_err(|e| Error::new(ErrorKind::Unmapped, format!("invalid event body: {e}")))
}

/// An event body left undecoded (the JSON the server sent), for callers that decode it themselves — the
/// bindings do, in their own language.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEvent {
    pub payload: Bytes,
}

impl StreamEvent for RawEvent {
    fn decode(payload: Bytes) -> Result<Self> {
        Ok(RawEvent { payload })
    }
}

/// Something that happened on a subscription, in order. `T` is the operation's event shape.
#[derive(Clone, Debug, PartialEq)]
pub enum SubscriptionEvent<T = IoTCoreMessage> {
    /// A message arrived.
    Message(T),
    /// The server reported an error on the stream without closing it.
    Error(Error),
    /// `n` messages were lost because the consumer did not keep up: dropped here (the queue is bounded, see
    /// [`ClientBuilder::subscription_queue`](crate::ClientBuilder::subscription_queue)), or by a ggipc server
    /// that gave up waiting for this subscriber (it says so with the next message, in the
    /// [`LAGGED_HEADER`](crate::rpc::LAGGED_HEADER)).
    Lagged(u64),
    /// The connection was lost; with reconnect enabled the subscription will be re-established. Messages
    /// published meanwhile are not delivered.
    Interrupted(Error),
    /// Re-established after an interruption.
    Resumed,
    /// The last event: closed by this side or the server (`None`), or because of an error.
    Closed(Option<Error>),
}

impl<T> SubscriptionEvent<T> {
    pub fn is_terminal(&self) -> bool {
        matches!(self, SubscriptionEvent::Closed(_))
    }

    /// The same event with its message converted by `f` (an event that fails to convert becomes `Error`).
    pub fn try_map<U>(self, f: impl FnOnce(T) -> Result<U>) -> SubscriptionEvent<U> {
        match self {
            SubscriptionEvent::Message(m) => match f(m) {
                Ok(u) => SubscriptionEvent::Message(u),
                Err(e) => SubscriptionEvent::Error(e),
            },
            SubscriptionEvent::Error(e) => SubscriptionEvent::Error(e),
            SubscriptionEvent::Lagged(n) => SubscriptionEvent::Lagged(n),
            SubscriptionEvent::Interrupted(e) => SubscriptionEvent::Interrupted(e),
            SubscriptionEvent::Resumed => SubscriptionEvent::Resumed,
            SubscriptionEvent::Closed(e) => SubscriptionEvent::Closed(e),
        }
    }
}

/// An event as queued: a message is its undecoded body.
pub(crate) type QueuedEvent = SubscriptionEvent<Bytes>;

fn decode<T: StreamEvent>(ev: QueuedEvent) -> SubscriptionEvent<T> {
    ev.try_map(T::decode)
}

struct QueueState {
    events: VecDeque<QueuedEvent>,
    messages: usize,
    terminal_queued: bool,
    terminal_taken: bool,
}

/// Bounded for messages; control events (errors, lag markers, interruption, close) are always kept.
pub(crate) struct EventQueue {
    state: Mutex<QueueState>,
    notify: Notify,
    capacity: usize,
}

impl EventQueue {
    fn new(capacity: usize) -> Self {
        EventQueue {
            state: Mutex::new(QueueState {
                events: VecDeque::new(),
                messages: 0,
                terminal_queued: false,
                terminal_taken: false,
            }),
            notify: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, ev: QueuedEvent) {
        let mut st = self.lock();
        if st.terminal_queued {
            return;
        }
        match ev {
            SubscriptionEvent::Message(_) if st.messages >= self.capacity => {
                if let Some(SubscriptionEvent::Lagged(n)) = st.events.back_mut() {
                    *n += 1;
                } else {
                    st.events.push_back(SubscriptionEvent::Lagged(1));
                    tracing::warn!("subscription consumer is not keeping up; dropping messages");
                }
            }
            ev => {
                if matches!(ev, SubscriptionEvent::Message(_)) {
                    st.messages += 1;
                }
                st.terminal_queued = ev.is_terminal();
                st.events.push_back(ev);
            }
        }
        drop(st);
        self.notify.notify_one();
    }

    /// Takes up to `max` events; `None` once the terminal event has been taken.
    fn take(&self, max: usize) -> Option<Vec<QueuedEvent>> {
        let mut st = self.lock();
        if st.terminal_taken && st.events.is_empty() {
            return None;
        }
        let n = st.events.len().min(max.max(1));
        let out: Vec<_> = st.events.drain(..n).collect();
        for ev in &out {
            match ev {
                SubscriptionEvent::Message(_) => st.messages -= 1,
                SubscriptionEvent::Closed(_) => st.terminal_taken = true,
                _ => {}
            }
        }
        Some(out)
    }

    async fn next_batch(&self, max: usize) -> Option<Vec<QueuedEvent>> {
        loop {
            let notified = self.notify.notified();
            match self.take(max) {
                None => return None,
                Some(v) if !v.is_empty() => return Some(v),
                Some(_) => notified.await,
            }
        }
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.lock().terminal_queued
    }
}

/// State shared by a subscription, its connection slot and the client (for resubscription).
pub(crate) struct SubShared {
    pub(crate) id: u64,
    pub(crate) op: &'static Operation,
    /// The request body, sent again on resubscription.
    pub(crate) body: Bytes,
    pub(crate) queue: EventQueue,
    /// Where the stream currently lives: connection generation and stream id.
    pub(crate) location: Mutex<Option<(Weak<super::connection::Connection>, i32)>>,
    pub(crate) closed: AtomicBool,
}

impl SubShared {
    pub(crate) fn new(id: u64, op: &'static Operation, body: Bytes, capacity: usize) -> Self {
        SubShared {
            id,
            op,
            body,
            queue: EventQueue::new(capacity),
            location: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// Ends the subscription from this side: terminate the stream (if open), forget it, tell the consumer.
    pub(crate) fn close(&self, inner: Option<&Inner>) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(inner) = inner {
            inner.forget_subscription(self.id);
        }
        let loc = self
            .location
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((conn, sid)) = loc {
            if let Some(conn) = conn.upgrade() {
                conn.terminate_stream(sid);
            }
        }
        self.queue.push(SubscriptionEvent::Closed(None));
    }
}

/// An open stream of a streaming operation, whose events are `T` (the operation's event shape). Read it with
/// [`next`](Subscription::next) (or as a batch), or hand it to a handler with
/// [`with_handler`](Subscription::with_handler). Events are decoded by whoever takes them, not by the
/// connection's reader. Dropping it closes it.
pub struct Subscription<T = IoTCoreMessage> {
    pub(crate) shared: Arc<SubShared>,
    pub(crate) client: Client,
    pub(crate) events: PhantomData<fn() -> T>,
}

impl<T: StreamEvent> Subscription<T> {
    pub(crate) fn new(shared: Arc<SubShared>, client: Client) -> Self {
        Subscription {
            shared,
            client,
            events: PhantomData,
        }
    }

    /// The next event; `None` after the `Closed` event has been returned.
    pub async fn next(&mut self) -> Option<SubscriptionEvent<T>> {
        self.shared
            .queue
            .next_batch(1)
            .await
            .and_then(|mut v| v.pop())
            .map(decode)
    }

    /// Up to `max` events at once (at least one; waits for the first).
    pub async fn next_batch(&mut self, max: usize) -> Option<Vec<SubscriptionEvent<T>>> {
        self.shared
            .queue
            .next_batch(max)
            .await
            .map(|v| v.into_iter().map(decode).collect())
    }

    /// An event if one is queued, without waiting.
    pub fn try_next(&mut self) -> Option<SubscriptionEvent<T>> {
        self.shared
            .queue
            .take(1)
            .and_then(|mut v| v.pop())
            .map(decode)
    }
}

impl<T> Subscription<T> {
    /// Closes the stream (sends a terminate to the server) and queues the final `Closed(None)` event.
    /// Idempotent; safe from any thread, including a handler of this subscription.
    pub fn close(&self) {
        self.shared.close(Some(&self.client.inner));
    }

    /// True once the subscription has ended (closed by either side).
    pub fn is_closed(&self) -> bool {
        self.shared.queue.is_terminated()
    }

    /// The client this subscription belongs to.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl<T: StreamEvent> Subscription<T> {
    /// Runs `handler` for every event on a dedicated thread (never a runtime thread), in order, until the
    /// `Closed` event (which it also receives). The handler may use the client, blocking calls included.
    pub fn with_handler(
        self,
        mut handler: impl FnMut(SubscriptionEvent<T>) + Send + 'static,
    ) -> SubscriptionHandle {
        self.with_batch_handler(move |events| events.into_iter().for_each(&mut handler))
    }

    /// Like [`with_handler`](Self::with_handler) but hands over every event queued at once (for bindings that
    /// pay per call, e.g. taking the Python GIL once per batch).
    pub fn with_batch_handler(
        self,
        mut handler: impl FnMut(Vec<SubscriptionEvent<T>>) + Send + 'static,
    ) -> SubscriptionHandle {
        let shared = self.shared.clone();
        let client = self.client.clone();
        let sub = self;
        let spawned = std::thread::Builder::new()
            .name("ggipc-dispatch".into())
            .spawn(move || {
                let Ok(rt) = crate::runtime::handle() else {
                    return;
                };
                while let Some(batch) = rt.block_on(sub.shared.queue.next_batch(256)) {
                    let last = batch.last().is_some_and(SubscriptionEvent::is_terminal);
                    let batch: Vec<SubscriptionEvent<T>> = batch.into_iter().map(decode).collect();
                    let result =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(batch)));
                    if result.is_err() {
                        tracing::error!(
                            "a subscription handler panicked; closing the subscription"
                        );
                        sub.close();
                    }
                    if last {
                        break;
                    }
                }
                drop(sub);
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a dispatcher thread; closing the subscription");
            shared.close(Some(&client.inner));
        }
        SubscriptionHandle { shared, client }
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.shared.id)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Controls a subscription whose events go to a handler. Dropping the handle does not close the
/// subscription; call [`close`](SubscriptionHandle::close).
#[derive(Clone)]
pub struct SubscriptionHandle {
    shared: Arc<SubShared>,
    client: Client,
}

impl SubscriptionHandle {
    /// Closes the stream; the handler then receives `Closed(None)` and its thread ends.
    pub fn close(&self) {
        self.shared.close(Some(&self.client.inner));
    }

    pub fn is_closed(&self) -> bool {
        self.shared.queue.is_terminated()
    }
}
