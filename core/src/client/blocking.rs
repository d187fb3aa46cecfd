//! The blocking facade: the same client, with calls that wait on the calling thread. I/O runs on the
//! shared runtime ([`crate::runtime`]); a call never occupies a runtime thread, so it is safe from
//! subscription handlers. Calling it from inside an async runtime is refused with `InvalidArgument`.

use super::{ClientBuilder, StreamEvent, SubscriptionEvent, SubscriptionHandle};
use crate::model::{IoTCoreMessage, Operation};
use crate::runtime::block_on;
use crate::{Error, ErrorKind, Result};
use std::time::Duration;

/// Blocking IPC client. `Clone + Send + Sync`.
#[derive(Clone, Debug)]
pub struct Client {
    inner: super::Client,
}

impl Client {
    /// Connects with the component's environment.
    pub fn connect() -> Result<Client> {
        ClientBuilder::default().connect_blocking()
    }

    /// Settings; finish with [`ClientBuilder::connect_blocking`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Wraps an async client (it must have been connected on the shared runtime to outlive its caller's).
    pub fn from_async(inner: super::Client) -> Client {
        Client { inner }
    }

    /// The async client behind this one.
    pub fn as_async(&self) -> &super::Client {
        &self.inner
    }

    /// Runs a request/response operation of the model on the calling thread.
    pub(crate) fn request<Req, Resp>(
        &self,
        op: &'static Operation,
        request: &Req,
        timeout: Option<Duration>,
    ) -> Result<Resp>
    where
        Req: serde::Serialize,
        Resp: serde::de::DeserializeOwned,
    {
        let body = super::encode_json(request)?;
        let timeout = timeout.unwrap_or(self.inner.operation_timeout());
        let resp = self.inner.call_blocking(op, body, timeout)?;
        super::decode_json(&resp, op.response)
    }

    /// Opens a streaming operation of the model, waiting on the calling thread for the answer.
    pub(crate) fn stream<Req, Ev>(
        &self,
        op: &'static Operation,
        request: &Req,
        timeout: Option<Duration>,
    ) -> Result<Subscription<Ev>>
    where
        Req: serde::Serialize,
        Ev: StreamEvent,
    {
        let inner = block_on(self.inner.stream(op, request, timeout))??;
        Ok(Subscription { inner })
    }

    /// Runs a request/response operation with a JSON body (see [`super::Client::call`]).
    pub fn call(
        &self,
        op: &'static Operation,
        body: bytes::Bytes,
        timeout: Duration,
    ) -> Result<bytes::Bytes> {
        self.inner.call_blocking(op, body, timeout)
    }

    /// Starts a request/response operation with a JSON body: the request is written on the calling thread
    /// and the call is returned to be waited for with [`PendingCall::wait`] (on any plain thread; the waiter
    /// reads the socket itself, so the response wakes it directly). The operation completes whether or not
    /// anyone waits; `timeout` bounds it from now.
    pub fn begin_call(
        &self,
        op: &'static Operation,
        body: bytes::Bytes,
        timeout: Duration,
    ) -> Result<PendingCall> {
        self.inner.begin_blocking(op, body, timeout)
    }

    pub fn ping(&self, payload: &[u8]) -> Result<Vec<u8>> {
        Ok(block_on(self.inner.ping(bytes::Bytes::copy_from_slice(payload)))??.to_vec())
    }

    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    pub fn close(&self) {
        self.inner.close_now();
    }
}

/// A request/response operation started by [`Client::begin_call`], waiting for its response.
pub struct PendingCall {
    pub(super) conn: std::sync::Arc<super::connection::Connection>,
    pub(super) rx: tokio::sync::oneshot::Receiver<Result<bytes::Bytes>>,
    pub(super) sid: i32,
    pub(super) op: &'static Operation,
    pub(super) deadline: std::time::Instant,
    pub(super) timeout: Duration,
}

impl std::fmt::Debug for PendingCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingCall")
            .field("operation", &self.op.name)
            .field("stream", &self.sid)
            .finish()
    }
}

impl PendingCall {
    /// Waits on the calling thread up to `timeout` (and never past the operation's own deadline) for the
    /// response. `None`: not answered within `timeout` while the operation's deadline is still ahead (wait
    /// again later). Once the deadline has passed, the call is abandoned and a timeout error is returned.
    /// Refused (as an error) inside an async runtime.
    pub fn wait(&mut self, timeout: Duration) -> Option<Result<bytes::Bytes>> {
        if crate::runtime::in_async_context() {
            return Some(Err(crate::runtime::blocking_in_async_error()));
        }
        let until = std::time::Instant::now()
            .checked_add(timeout)
            .map_or(self.deadline, |t| t.min(self.deadline));
        match self.conn.wait_blocking(&mut self.rx, until) {
            Some(r) => Some(r),
            None if until >= self.deadline => {
                self.conn.forget_stream(self.sid);
                Some(Err(Error::timeout(self.op.name, self.timeout)))
            }
            None => None,
        }
    }
}

/// Blocking view of a [`Subscription`](super::Subscription).
#[derive(Debug)]
pub struct Subscription<T = IoTCoreMessage> {
    inner: super::Subscription<T>,
}

impl<T: StreamEvent> Subscription<T> {
    /// Waits for the next event; `None` after `Closed` was returned.
    pub fn recv(&mut self) -> Result<Option<SubscriptionEvent<T>>> {
        block_on(self.inner.next())
    }

    /// Waits at most `timeout`; `Err(Timeout)` if nothing arrived.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<SubscriptionEvent<T>>> {
        match block_on(async { tokio::time::timeout(timeout, self.inner.next()).await })? {
            Ok(ev) => Ok(ev),
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!("no subscription event within {timeout:?}"),
            )),
        }
    }

    /// Up to `max` queued events, waiting for at least one.
    pub fn recv_batch(&mut self, max: usize) -> Result<Option<Vec<SubscriptionEvent<T>>>> {
        block_on(self.inner.next_batch(max))
    }

    pub fn try_recv(&mut self) -> Option<SubscriptionEvent<T>> {
        self.inner.try_next()
    }

    pub fn close(&self) {
        self.inner.close();
    }

    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Hands events to `handler` on a dispatcher thread (see [`super::Subscription::with_handler`]).
    pub fn with_handler(
        self,
        handler: impl FnMut(SubscriptionEvent<T>) + Send + 'static,
    ) -> SubscriptionHandle {
        self.inner.with_handler(handler)
    }

    /// Hands batches of events to `handler` on a dispatcher thread.
    pub fn with_batch_handler(
        self,
        handler: impl FnMut(Vec<SubscriptionEvent<T>>) + Send + 'static,
    ) -> SubscriptionHandle {
        self.inner.with_batch_handler(handler)
    }

    /// The async subscription behind this one.
    pub fn into_async(self) -> super::Subscription<T> {
        self.inner
    }
}
