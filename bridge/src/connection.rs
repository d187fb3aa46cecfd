//! A connected client, its call paths, and its lifecycle events.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ggipc::model::Operation;
use ggipc::{Client, Error, ErrorKind, LifecycleEvent, RawEvent, Result, Subscription};
use tokio::sync::Notify;

use crate::Settings;

/// A connection to the nucleus as a binding holds it.
pub struct Connection {
    client: Client,
    /// Present when the connection is read by the core's reader thread, which lets a blocking caller read its
    /// own answer (one thread wake-up per synchronous round trip instead of two).
    blocking: Option<ggipc::blocking::Client>,
    reconnect: bool,
    closed: Arc<Closed>,
}

/// Set once the binding's user closed the connection.
#[derive(Default)]
struct Closed {
    flag: AtomicBool,
    notify: Notify,
}

impl Connection {
    /// Connects on the calling thread (a plain thread, never a runtime worker), for at most the connect
    /// timeout; synchronous calls then take the one-wake-up path.
    pub fn connect(settings: &Settings) -> Result<Connection> {
        let blocking = settings.builder().connect_blocking()?;
        Ok(Connection {
            client: blocking.as_async().clone(),
            blocking: Some(blocking),
            reconnect: settings.reconnect,
            closed: Arc::default(),
        })
    }

    /// Connects from async code (a runtime task). Synchronous calls on such a connection wait for the
    /// runtime's reader; it suits callers that only make asynchronous calls.
    pub async fn connect_async(settings: &Settings) -> Result<Connection> {
        Ok(Connection {
            client: settings.builder().connect().await?,
            blocking: None,
            reconnect: settings.reconnect,
            closed: Arc::default(),
        })
    }

    /// The core client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The blocking facade of a connection made with [`connect`](Self::connect), for a binding that splits
    /// a blocking call into its start and its wait ([`ggipc::blocking::Client::begin_call`]).
    pub fn blocking(&self) -> Option<&ggipc::blocking::Client> {
        self.blocking.as_ref()
    }

    /// Runs a request/response operation and blocks the calling thread for its answer, within `timeout`
    /// (`None`: the operation timeout). The calling thread writes the request and, when nobody else is
    /// reading the socket, reads its own answer. Refused with `InvalidArgument` from inside a runtime.
    pub fn call(
        &self,
        op: &'static Operation,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Bytes> {
        let timeout = timeout.unwrap_or_else(|| self.client.operation_timeout());
        match &self.blocking {
            Some(b) => b.call(op, body, timeout),
            None => ggipc::runtime::block_on(self.client.call_with_timeout(op, body, timeout))?,
        }
    }

    /// Starts a request/response operation (see [`start`]); `done` gets its answer (or the failure to start
    /// it), on the calling thread or on a runtime worker, and must not block (it hands the result to the
    /// binding's [`Completer`](crate::Completer)).
    pub fn call_async(
        &self,
        op: &'static Operation,
        body: Bytes,
        timeout: Option<Duration>,
        done: impl FnOnce(Result<Bytes>) + Send + 'static,
    ) {
        let client = self.client.clone();
        let timeout = timeout.unwrap_or_else(|| client.operation_timeout());
        start_or_fail(
            async move { client.call_with_timeout(op, body, timeout).await },
            done,
        )
    }

    /// Opens a stream of a streaming operation, blocking the calling thread until the server accepted or
    /// refused it (within `timeout`, `None`: the operation timeout). Its events stay undecoded ([`RawEvent`]):
    /// the binding's generated model reads them.
    pub fn open(
        &self,
        op: &'static Operation,
        body: Bytes,
        timeout: Option<Duration>,
    ) -> Result<Subscription<RawEvent>> {
        let timeout = timeout.unwrap_or_else(|| self.client.operation_timeout());
        ggipc::runtime::block_on(self.client.open_subscription::<RawEvent>(op, body, timeout))?
    }

    /// [`open`](Self::open) without waiting: `done` gets the subscription or the refusal (as for
    /// [`call_async`](Self::call_async)).
    pub fn open_async(
        &self,
        op: &'static Operation,
        body: Bytes,
        timeout: Option<Duration>,
        done: impl FnOnce(Result<Subscription<RawEvent>>) + Send + 'static,
    ) {
        let client = self.client.clone();
        let timeout = timeout.unwrap_or_else(|| client.operation_timeout());
        start_or_fail(
            async move {
                client
                    .open_subscription::<RawEvent>(op, body, timeout)
                    .await
            },
            done,
        )
    }

    /// Closes the connection now: pending operations fail with `ConnectionClosed`, subscriptions end, and
    /// lifecycle forwarding ([`watch_lifecycle`]) ends after the events emitted so far. Idempotent.
    pub fn close(&self) {
        self.closed.flag.store(true, Ordering::Release);
        self.client.close_now();
        self.closed.notify.notify_one();
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed.flag.load(Ordering::Acquire)
    }
}

/// Runs `fut` until it first waits, on the calling thread inside the runtime's context, then lets a runtime
/// task finish it; `done` runs once with the output, on the calling thread or on a runtime worker. What an
/// operation does before it first waits (allocating a stream id, queueing the request) thus happens in the
/// caller's order, on the caller's thread.
pub fn start<T, F, D>(fut: F, done: D) -> Result<()>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
    D: FnOnce(T) + Send + 'static,
{
    let rt = ggipc::runtime::handle()?;
    let _entered = rt.enter();
    // The first poll's waker is not kept: the task spawned below polls again and registers its own.
    match ggipc::runtime::poll_on_arrival(Box::pin(fut)) {
        Ok(v) => done(v),
        Err(fut) => {
            rt.spawn(async move { done(fut.await) });
        }
    }
    Ok(())
}

/// [`start`] for a fallible future: when it cannot be started (no runtime), `done` gets that error.
fn start_or_fail<T, F, D>(fut: F, done: D)
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
    D: FnOnce(Result<T>) + Send + 'static,
{
    match ggipc::runtime::handle() {
        // With a runtime at hand, `start` cannot fail.
        Ok(_) => {
            let _ = start(fut, done);
        }
        Err(e) => done(Err(e)),
    }
}

/// The operation of the model with this shape id (`aws.greengrass#PublishToIoTCore`).
pub fn operation(name: &[u8]) -> Result<&'static Operation> {
    ggipc::model::OPERATIONS
        .iter()
        .copied()
        .find(|op| op.name.as_bytes() == name)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("unknown operation {}", String::from_utf8_lossy(name)),
            )
        })
}

/// Forwards `conn`'s lifecycle events to `forward(event, last)` from a runtime task, until the last one:
/// a disconnect when the connection does not reconnect or was closed by the user, or reconnection giving up.
/// After [`Connection::close`] the events emitted up to then are forwarded and forwarding ends, so that a
/// binding's callback (which may refer back to the connection) does not keep it alive; the last event is
/// always a disconnect (`ConnectionClosed` when the close found no connection up) or a reconnect failure. `forward` must not
/// block (it hands the event to the binding's completer).
pub fn watch_lifecycle(
    conn: &Connection,
    mut forward: impl FnMut(LifecycleEvent, bool) + Send + 'static,
) -> Result<()> {
    let mut rx = conn.client.lifecycle();
    let closed = conn.closed.clone();
    let reconnect = conn.reconnect;
    let rt = ggipc::runtime::handle()?;
    let mut one = move |ev: LifecycleEvent| {
        let last = match &ev {
            LifecycleEvent::Disconnected(_) => !reconnect || closed.flag.load(Ordering::Acquire),
            LifecycleEvent::ReconnectFailed(_) => true,
            _ => false,
        };
        forward(ev, last);
        last
    };
    let closed = conn.closed.clone();
    rt.spawn(async move {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        let mut stop = pin!(closed.notify.notified());
        loop {
            tokio::select! {
                biased;
                ev = rx.recv() => match ev {
                    Ok(ev) => if one(ev) { return },
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                },
                _ = &mut stop => {
                    loop {
                        match rx.try_recv() {
                            Ok(ev) => if one(ev) { return },
                            Err(TryRecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        }
                    }
                    break;
                }
            }
        }
        // Closed while no connection was up (reconnecting), or the client is gone: the binding still hears
        // the end.
        one(LifecycleEvent::Disconnected(Error::new(
            ErrorKind::ConnectionClosed,
            "the client was closed",
        )));
    });
    Ok(())
}
