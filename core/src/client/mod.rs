//! The IPC client: [`Client`] (async) and [`blocking::Client`].
//!
//! A client holds one connection to the nucleus. Requests are pipelined on it; each gets the next stream id.
//! Every wait has a timeout (connect and per operation, 10 s by default). With a [`ReconnectPolicy`] the
//! client reconnects after the connection is lost, with exponential backoff, re-establishes every open
//! subscription and tells each one (`Interrupted`, then `Resumed`); operations made while it reconnects wait
//! for the new connection within their timeout. Only operations already sent on the lost connection fail
//! (`ConnectionClosed`): by the time one of them has failed, the client is reconnecting. Without one, a lost
//! connection fails pending operations and closes subscriptions with the reason.

pub mod blocking;
mod connection;
mod generated;
mod spin;
mod subscription;

pub(crate) use subscription::decode_event;
pub use subscription::{
    RawEvent, StreamEvent, Subscription, SubscriptionEvent, SubscriptionHandle,
};

use crate::model::Operation;
use crate::{Error, ErrorKind, Result};
use bytes::Bytes;
use connection::{Connection, Slot};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use subscription::SubShared;
use tokio::sync::{broadcast, oneshot, watch};
use tokio::time::Instant;

/// Environment variable holding the socket path the nucleus gives a component (may be relative to the
/// component's working directory).
pub const SOCKET_ENV: &str = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT";
/// Environment variable holding the component's auth token.
pub const TOKEN_ENV: &str = "SVCUID";
/// Default connect and operation timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Reconnection with exponential backoff.
#[derive(Clone, Debug, PartialEq)]
pub struct ReconnectPolicy {
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub multiplier: f64,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl ReconnectPolicy {
    /// Refuses a policy the backoff cannot follow (`InvalidArgument`): a multiplier that is not a finite number
    /// of at least 1, or a maximum delay below the initial one.
    pub fn check(&self) -> Result<()> {
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "reconnect multiplier must be a finite number of at least 1, got {}",
                    self.multiplier
                ),
            ));
        }
        if self.max_delay < self.initial_delay {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "reconnect max_delay ({:?}) is shorter than initial_delay ({:?})",
                    self.max_delay, self.initial_delay
                ),
            ));
        }
        Ok(())
    }

    /// The delay after `delay`.
    fn next_delay(&self, delay: Duration) -> Duration {
        Duration::try_from_secs_f64(delay.as_secs_f64() * self.multiplier)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            multiplier: 2.0,
            max_attempts: None,
        }
    }
}

/// Connection lifecycle notifications ([`Client::lifecycle`]).
#[derive(Clone, Debug, PartialEq)]
pub enum LifecycleEvent {
    Connected,
    /// The connection was lost or closed, with the reason.
    Disconnected(Error),
    /// A reconnect attempt is scheduled after `delay`.
    Reconnecting {
        attempt: u32,
        delay: Duration,
    },
    /// Reconnection gave up (attempts exhausted) or was refused (e.g. the token is no longer valid).
    ReconnectFailed(Error),
    /// The server sent a PING (it is answered automatically).
    Ping {
        payload: Bytes,
    },
}

/// Client settings; see [`Client::builder`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    socket_path: Option<PathBuf>,
    auth_token: Option<String>,
    connect_timeout: Duration,
    operation_timeout: Duration,
    reconnect: Option<ReconnectPolicy>,
    max_message_size: usize,
    subscription_queue: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            socket_path: None,
            auth_token: None,
            connect_timeout: DEFAULT_TIMEOUT,
            operation_timeout: DEFAULT_TIMEOUT,
            reconnect: None,
            max_message_size: crate::codec::DEFAULT_MAX_MESSAGE_SIZE,
            subscription_queue: 10_000,
        }
    }
}

impl ClientBuilder {
    /// Socket path (default: `$AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`). A relative path is
    /// resolved against the working directory at each connect, as the nucleus intends.
    pub fn socket_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket_path = Some(path.into());
        self
    }

    /// Auth token (default: `$SVCUID`).
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Time allowed to connect and complete the handshake (default 10 s).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Time allowed for each operation, from call to response (default 10 s).
    pub fn operation_timeout(mut self, t: Duration) -> Self {
        self.operation_timeout = t;
        self
    }

    /// Reconnect automatically after the connection is lost. A policy [`ReconnectPolicy::check`] refuses makes
    /// `connect` fail with `InvalidArgument`.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// Largest message sent or accepted (default 24 MiB, the official limit).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Messages buffered per subscription for a slow consumer before newer ones are dropped (and reported
    /// as `SubscriptionEvent::Lagged`). Default 10 000.
    pub fn subscription_queue(mut self, messages: usize) -> Self {
        self.subscription_queue = messages;
        self
    }

    fn resolve(self) -> Result<Options> {
        if let Some(p) = &self.reconnect {
            p.check()?;
        }
        // An empty variable counts as unset (it cannot name a socket or a token).
        let socket_path = match self.socket_path {
            Some(p) => p,
            None => component_socket_path().ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{SOCKET_ENV} is not set: run inside a Greengrass component (or `ggipc run`), or give the socket path"),
                )
            })?,
        };
        let auth_token = match self.auth_token {
            Some(t) => t,
            None => component_auth_token().ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{TOKEN_ENV} is not set: run inside a Greengrass component (or `ggipc run`), or give the auth token"),
                )
            })?,
        };
        Ok(Options {
            socket_path,
            auth_token,
            connect_timeout: self.connect_timeout,
            operation_timeout: self.operation_timeout,
            reconnect: self.reconnect,
            max_message_size: self.max_message_size,
            subscription_queue: self.subscription_queue,
        })
    }

    /// Connects (async).
    pub async fn connect(self) -> Result<Client> {
        Client::connect_with(self.resolve()?, connection::ReaderMode::Task).await
    }

    /// Connects on the shared runtime and returns a blocking client. Its connection is read by a thread that
    /// lets a waiting blocking caller read its own response (one thread wake-up per round trip).
    pub fn connect_blocking(self) -> Result<blocking::Client> {
        let opts = self.resolve()?;
        let client = crate::runtime::block_on(async move {
            let rt = crate::runtime::handle()?;
            // The reader task must live on the shared runtime, not on a temporary one.
            rt.spawn(Client::connect_with(opts, connection::ReaderMode::Thread))
                .await
                .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?
        })??;
        Ok(blocking::Client::from_async(client))
    }
}

/// A non-empty environment variable.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The IPC socket path a nucleus gives its components ([`SOCKET_ENV`]), or `None` when the variable is unset,
/// empty (it cannot name a socket) or not Unicode. What [`ClientBuilder`] connects to when given no path.
pub fn component_socket_path() -> Option<PathBuf> {
    env_var(SOCKET_ENV).map(PathBuf::from)
}

/// The component's auth token ([`TOKEN_ENV`], the SVCUID), or `None` when the variable is unset, empty or not
/// Unicode. What [`ClientBuilder`] authenticates with when given no token.
pub fn component_auth_token() -> Option<String> {
    env_var(TOKEN_ENV)
}

#[derive(Clone, Debug)]
struct Options {
    socket_path: PathBuf,
    auth_token: String,
    connect_timeout: Duration,
    operation_timeout: Duration,
    reconnect: Option<ReconnectPolicy>,
    max_message_size: usize,
    subscription_queue: usize,
}

enum ConnState {
    Connected(Arc<Connection>),
    Reconnecting,
    Closed(Error),
}

pub(crate) struct Inner {
    opts: Options,
    reader_mode: connection::ReaderMode,
    /// The runtime the client's tasks run on (reconnection is spawned there from any thread).
    rt: tokio::runtime::Handle,
    state: Mutex<ConnState>,
    /// Bumped whenever `state` changes, to wake operations waiting for a connection.
    changed: watch::Sender<u64>,
    subs: Mutex<HashMap<u64, Arc<SubShared>>>,
    next_sub: AtomicU64,
    lifecycle: broadcast::Sender<LifecycleEvent>,
    closing: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn emit(&self, ev: LifecycleEvent) {
        let _ = self.lifecycle.send(ev);
    }

    fn set_state(&self, s: ConnState) {
        *lock(&self.state) = s;
        self.changed.send_modify(|g| *g += 1);
    }

    pub(crate) fn forget_subscription(&self, id: u64) {
        lock(&self.subs).remove(&id);
    }

    /// The current connection, waiting for a reconnect until `deadline`.
    async fn connection(&self, deadline: Instant) -> Result<Arc<Connection>> {
        let mut changed = self.changed.subscribe();
        loop {
            match &*lock(&self.state) {
                ConnState::Connected(c) => return Ok(c.clone()),
                ConnState::Closed(e) => return Err(e.clone()),
                ConnState::Reconnecting => {}
            }
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "timed out waiting for the IPC connection to come back",
                ));
            }
        }
    }

    /// Called by a connection's reader when it ends.
    fn connection_lost(self: Arc<Self>, conn: &Arc<Connection>, reason: Error) {
        let reconnect = self.opts.reconnect.is_some() && !self.closing.load(Ordering::Acquire);
        // Marked first: a reconnect that has just opened `conn` then does not install it (`install`).
        conn.mark_lost();
        // The state moves on before the connection's calls fail: whoever sees one of them fail finds the
        // client reconnecting (or closed), so an operation made after that waits instead of picking the dead
        // connection again.
        let current = {
            let mut state = lock(&self.state);
            let current = matches!(&*state, ConnState::Connected(c) if Arc::ptr_eq(c, conn));
            if current {
                *state = if reconnect {
                    ConnState::Reconnecting
                } else {
                    ConnState::Closed(reason.clone())
                };
            }
            current
        };
        if current {
            self.changed.send_modify(|g| *g += 1);
        }
        conn.fail(reason.clone(), reconnect);
        if !current {
            return;
        }
        tracing::warn!(error = %reason, "IPC connection lost");
        self.emit(LifecycleEvent::Disconnected(reason.clone()));
        if reconnect {
            let weak = Arc::downgrade(&self);
            self.rt.spawn(reconnect_loop(weak));
        } else {
            for sub in lock(&self.subs).drain().map(|(_, s)| s) {
                sub.queue.push(subscription::SubscriptionEvent::Closed(Some(
                    reason.clone(),
                )));
            }
        }
    }

    /// Makes `conn`, just opened by a reconnect, the current connection: false if it was lost meanwhile or
    /// the client was closed.
    fn install(&self, conn: &Arc<Connection>) -> bool {
        {
            let mut state = lock(&self.state);
            if conn.is_lost() || !matches!(&*state, ConnState::Reconnecting) {
                return false;
            }
            *state = ConnState::Connected(conn.clone());
        }
        self.changed.send_modify(|g| *g += 1);
        true
    }

    async fn open_connection(self: &Arc<Self>) -> Result<Arc<Connection>> {
        let fut = Connection::open(
            &self.opts.socket_path,
            &self.opts.auth_token,
            self.opts.max_message_size,
            self.opts.reconnect.is_some(),
            self.reader_mode,
            Arc::downgrade(self),
        );
        tokio::time::timeout(self.opts.connect_timeout, fut)
            .await
            .map_err(|_| {
                Error::timeout("connecting to the IPC socket", self.opts.connect_timeout)
            })?
    }

    /// Activates a stream for `sub` on `conn` and waits for its response.
    async fn open_stream(
        &self,
        conn: &Arc<Connection>,
        sub: &Arc<SubShared>,
        deadline: Instant,
    ) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        conn.writer.wait_for_capacity().await;
        let sid = conn.activate(
            sub.op,
            sub.body.clone(),
            Slot::Stream {
                sub: sub.clone(),
                reply: Some(tx),
            },
        )?;
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(Ok(_response))) => Ok(()),
            Ok(Ok(Err(e))) => {
                *lock(&sub.location) = None;
                Err(e)
            }
            Ok(Err(_)) => Err(conn
                .closed_error()
                .unwrap_or_else(|| Error::new(ErrorKind::ConnectionClosed, "connection closed"))),
            Err(_) => {
                *lock(&sub.location) = None;
                conn.terminate_stream(sid);
                Err(Error::timeout(sub.op.name, self.opts.operation_timeout))
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let ConnState::Connected(c) = &*lock(&self.state) {
            c.fail(
                Error::new(ErrorKind::ConnectionClosed, "the client was dropped"),
                false,
            );
        }
    }
}

async fn reconnect_loop(weak: Weak<Inner>) {
    let mut attempt = 0u32;
    let mut delay = match weak.upgrade() {
        Some(i) => i.opts.reconnect.clone().unwrap_or_default().initial_delay,
        None => return,
    };
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.closing.load(Ordering::Acquire) {
            return;
        }
        let policy = inner.opts.reconnect.clone().unwrap_or_default();
        attempt += 1;
        inner.emit(LifecycleEvent::Reconnecting { attempt, delay });
        drop(inner);
        tokio::time::sleep(delay).await;
        let Some(inner) = weak.upgrade() else { return };
        if inner.closing.load(Ordering::Acquire) {
            return;
        }
        let opened = match inner.open_connection().await {
            Ok(conn) if !inner.install(&conn) => {
                if inner.closing.load(Ordering::Acquire) {
                    conn.fail(
                        Error::new(ErrorKind::ConnectionClosed, "the client was closed"),
                        false,
                    );
                    return;
                }
                Err(conn.closed_error().unwrap_or_else(|| {
                    Error::new(ErrorKind::ConnectionClosed, "lost as it was opened")
                }))
            }
            opened => opened,
        };
        match opened {
            Ok(conn) => {
                tracing::info!(attempt, "IPC connection re-established");
                inner.emit(LifecycleEvent::Connected);
                let subs: Vec<Arc<SubShared>> = lock(&inner.subs).values().cloned().collect();
                for sub in subs {
                    if sub.closed.load(Ordering::Acquire) {
                        continue;
                    }
                    let deadline = Instant::now() + inner.opts.operation_timeout;
                    match inner.open_stream(&conn, &sub, deadline).await {
                        Ok(()) => sub.queue.push(SubscriptionEvent::Resumed),
                        Err(e) if e.kind() == ErrorKind::ConnectionClosed => break, // lost again; the reader restarts us
                        Err(e) => {
                            inner.forget_subscription(sub.id);
                            sub.queue.push(SubscriptionEvent::Closed(Some(e)));
                        }
                    }
                }
                return;
            }
            Err(e) => {
                let give_up = e.kind() == ErrorKind::AccessDenied
                    || policy.max_attempts.is_some_and(|m| attempt >= m);
                tracing::warn!(attempt, error = %e, "IPC reconnect failed");
                if give_up {
                    inner.emit(LifecycleEvent::ReconnectFailed(e.clone()));
                    for sub in lock(&inner.subs).drain().map(|(_, s)| s) {
                        sub.queue.push(SubscriptionEvent::Closed(Some(e.clone())));
                    }
                    inner.set_state(ConnState::Closed(e));
                    return;
                }
                delay = policy.next_delay(delay);
            }
        }
    }
}

/// An IPC client. `Clone + Send + Sync`; clones share the connection. See the module docs.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("socket_path", &self.inner.opts.socket_path)
            .finish()
    }
}

impl Client {
    /// Settings for a new client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Connects with the component's environment (`SVCUID` and the socket path variable).
    pub async fn connect() -> Result<Client> {
        Client::builder().connect().await
    }

    async fn connect_with(opts: Options, reader_mode: connection::ReaderMode) -> Result<Client> {
        let inner = Arc::new(Inner {
            opts,
            reader_mode,
            rt: tokio::runtime::Handle::current(),
            state: Mutex::new(ConnState::Reconnecting),
            changed: watch::channel(0).0,
            subs: Mutex::new(HashMap::new()),
            next_sub: AtomicU64::new(1),
            lifecycle: broadcast::channel(64).0,
            closing: AtomicBool::new(false),
        });
        let conn = inner.open_connection().await?;
        inner.set_state(ConnState::Connected(conn));
        inner.emit(LifecycleEvent::Connected);
        Ok(Client { inner })
    }

    /// Lifecycle notifications (connected, disconnected with the reason, reconnecting, pings).
    pub fn lifecycle(&self) -> broadcast::Receiver<LifecycleEvent> {
        self.inner.lifecycle.subscribe()
    }

    /// True while a connection is up.
    pub fn is_connected(&self) -> bool {
        matches!(&*lock(&self.inner.state), ConnState::Connected(c) if c.closed_error().is_none())
    }

    /// The configured operation timeout.
    pub fn operation_timeout(&self) -> Duration {
        self.inner.opts.operation_timeout
    }

    /// Runs a request/response operation with a JSON body and returns the response body.
    pub async fn call(&self, op: &'static Operation, body: Bytes) -> Result<Bytes> {
        self.call_with_timeout(op, body, self.inner.opts.operation_timeout)
            .await
    }

    /// [`call`](Self::call) with an explicit timeout.
    pub async fn call_with_timeout(
        &self,
        op: &'static Operation,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes> {
        let deadline = Instant::now() + timeout;
        let conn = self.inner.connection(deadline).await?;
        if conn.writer.is_congested()
            && tokio::time::timeout_at(deadline, conn.writer.wait_for_capacity())
                .await
                .is_err()
        {
            return Err(Error::timeout(op.name, timeout));
        }
        let (tx, rx) = oneshot::channel();
        let sid = conn.activate(op, body, Slot::Call { op, reply: tx })?;
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(conn
                .closed_error()
                .unwrap_or_else(|| Error::new(ErrorKind::ConnectionClosed, "connection closed"))),
            Err(_) => {
                conn.forget_stream(sid);
                Err(Error::timeout(op.name, timeout))
            }
        }
    }

    /// [`call_with_timeout`](Self::call_with_timeout) for a plain (non-runtime) thread: the caller waits for
    /// its response by reading the socket itself when nobody else is.
    pub(crate) fn call_blocking(
        &self,
        op: &'static Operation,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes> {
        let mut call = self.begin_blocking(op, body, timeout)?;
        call.wait(timeout)
            .unwrap_or_else(|| Err(Error::timeout(op.name, timeout)))
    }

    /// The first half of [`call_blocking`](Self::call_blocking): writes the request on the calling thread and
    /// returns the call to wait for later (the reply is kept until then, read by whoever reads the socket).
    pub(crate) fn begin_blocking(
        &self,
        op: &'static Operation,
        body: Bytes,
        timeout: Duration,
    ) -> Result<blocking::PendingCall> {
        if crate::runtime::in_async_context() {
            return Err(crate::runtime::blocking_in_async_error());
        }
        let started = std::time::Instant::now();
        let deadline = Instant::now() + timeout;
        let current = match &*lock(&self.inner.state) {
            ConnState::Connected(c) if c.closed_error().is_none() && !c.writer.is_congested() => {
                Some(c.clone())
            }
            _ => None,
        };
        let conn = match current {
            Some(c) => c,
            None => crate::runtime::block_on(async {
                let conn = self.inner.connection(deadline).await?;
                if tokio::time::timeout_at(deadline, conn.writer.wait_for_capacity())
                    .await
                    .is_err()
                {
                    return Err(Error::timeout(op.name, timeout));
                }
                Ok(conn)
            })??,
        };
        let (tx, rx) = oneshot::channel();
        let sid = conn.activate(op, body, Slot::Call { op, reply: tx })?;
        Ok(blocking::PendingCall {
            conn,
            rx,
            sid,
            op,
            deadline: started + timeout,
            timeout,
        })
    }

    /// Runs a request/response operation of the model: encodes `request`, waits for the response (within
    /// `timeout`, default the operation timeout) and decodes it with the operation's response shape.
    pub(crate) async fn request<Req, Resp>(
        &self,
        op: &'static Operation,
        request: &Req,
        timeout: Option<Duration>,
    ) -> Result<Resp>
    where
        Req: serde::Serialize,
        Resp: serde::de::DeserializeOwned,
    {
        let body = encode_json(request)?;
        let timeout = timeout.unwrap_or(self.inner.opts.operation_timeout);
        let resp = self.call_with_timeout(op, body, timeout).await?;
        decode_json(&resp, op.response)
    }

    /// Opens a streaming operation of the model; its events are decoded as `Ev`.
    pub(crate) async fn stream<Req, Ev>(
        &self,
        op: &'static Operation,
        request: &Req,
        timeout: Option<Duration>,
    ) -> Result<Subscription<Ev>>
    where
        Req: serde::Serialize,
        Ev: StreamEvent,
    {
        let body = encode_json(request)?;
        let timeout = timeout.unwrap_or(self.inner.opts.operation_timeout);
        self.open_subscription(op, body, timeout).await
    }

    /// Opens a streaming operation with a JSON body; its events are decoded as `T` ([`RawEvent`] keeps them
    /// undecoded).
    pub async fn open_subscription<T: StreamEvent>(
        &self,
        op: &'static Operation,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Subscription<T>> {
        let deadline = Instant::now() + timeout;
        let id = self.inner.next_sub.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(SubShared::new(
            id,
            op,
            body,
            self.inner.opts.subscription_queue,
        ));
        lock(&self.inner.subs).insert(id, shared.clone());
        let result = async {
            let conn = self.inner.connection(deadline).await?;
            self.inner.open_stream(&conn, &shared, deadline).await
        }
        .await;
        match result {
            Ok(()) => Ok(Subscription::new(shared, self.clone())),
            Err(e) => {
                self.inner.forget_subscription(id);
                shared.closed.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Sends a PING and waits for the PING_RESPONSE; returns the echoed payload.
    pub async fn ping(&self, payload: Bytes) -> Result<Bytes> {
        let timeout = self.inner.opts.operation_timeout;
        let deadline = Instant::now() + timeout;
        let conn = self.inner.connection(deadline).await?;
        let rx = conn.ping(payload)?;
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(Error::new(
                ErrorKind::ConnectionClosed,
                "connection closed before the ping response",
            )),
            Err(_) => Err(Error::timeout("ping", timeout)),
        }
    }

    /// Closes the connection: pending operations fail, subscriptions end with `Closed(None)`. Idempotent.
    pub async fn close(&self) {
        self.close_now();
    }

    /// [`close`](Self::close) without awaiting (usable from any thread).
    pub fn close_now(&self) {
        if self.inner.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        let reason = Error::new(ErrorKind::ConnectionClosed, "the client was closed");
        for sub in lock(&self.inner.subs).drain().map(|(_, s)| s) {
            sub.close(None);
        }
        let old = std::mem::replace(
            &mut *lock(&self.inner.state),
            ConnState::Closed(reason.clone()),
        );
        self.inner.changed.send_modify(|g| *g += 1);
        if let ConnState::Connected(c) = old {
            c.fail(reason.clone(), false);
            self.inner.emit(LifecycleEvent::Disconnected(reason));
        }
    }
}

fn encode_json<T: serde::Serialize>(v: &T) -> Result<Bytes> {
    crate::json::to_bytes(v).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("request cannot be encoded: {e}"),
        )
    })
}

fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| Error::new(ErrorKind::Unmapped, format!("invalid {shape} body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_policies_are_checked() {
        assert!(ReconnectPolicy::default().check().is_ok());
        for multiplier in [f64::NAN, f64::INFINITY, 0.5, -2.0] {
            let p = ReconnectPolicy {
                multiplier,
                ..Default::default()
            };
            let e = p.check().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert!(e.message().contains("multiplier"), "{e}");
        }
        let p = ReconnectPolicy {
            initial_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        assert!(p.check().is_err());
        let e = Client::builder()
            .socket_path("/nonexistent")
            .auth_token("t")
            .reconnect(ReconnectPolicy {
                multiplier: -1.0,
                ..Default::default()
            })
            .resolve()
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn backoff_grows_to_its_cap_without_overflow() {
        let p = ReconnectPolicy {
            multiplier: 1e300,
            ..Default::default()
        };
        assert_eq!(p.next_delay(Duration::from_secs(1)), p.max_delay);
        let p = ReconnectPolicy::default();
        assert_eq!(
            p.next_delay(Duration::from_millis(100)),
            Duration::from_millis(200)
        );
    }
}
