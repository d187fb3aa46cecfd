//! One client connection: handshake, the reader, and routing of responses and events by stream id.
//!
//! The socket is a plain non-blocking one. Who reads it depends on how the client was made:
//! - an async client reads on a runtime task (the runtime is woken once per incoming batch, and the waiting
//!   tasks run on the same thread);
//! - a blocking client reads on a reader thread that steps aside while a blocking caller waits for a
//!   response: the caller then reads the socket itself, so a synchronous round trip wakes exactly one thread
//!   (the caller), as a hand-written request/response loop would. The reader thread resumes a short while
//!   after the last caller left, and delivers subscription events meanwhile.

use super::subscription::{SubShared, SubscriptionEvent};
use super::{Inner, LifecycleEvent};
use crate::codec::{ByteStr, HeaderValue, Limits};
use crate::model::{error_from_body, Operation};
use crate::rpc::{self, flags, Frame, FrameWriter, MessageType, SendError, WriterClosed};
use crate::{Error, ErrorKind, Result};
use bytes::Bytes;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::oneshot;

/// How long the reader thread stays out of the way after a blocking caller stopped reading.
const HANDOFF: Duration = Duration::from_millis(2);
/// How long the reader thread of an idle connection sleeps in poll(2) between checks. Everything that needs it
/// awake (input, a close, a failure a caller ran into) wakes it through the socket or the kick pair; this is a
/// safety net only, long enough that idle components do not wake their CPU several times a second.
const IDLE_POLL: Duration = Duration::from_secs(30);

/// Who reads a connection: see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReaderMode {
    Task,
    Thread,
}

/// Reader-thread coordination (thread mode).
struct Lead {
    /// Blocking callers currently waiting for a response.
    callers: usize,
    last_release: Instant,
    /// The reader thread is (about to be) blocked in poll(2); callers kick it out.
    reader_polling: bool,
}

pub(crate) type Reply = oneshot::Sender<Result<Bytes>>;

pub(crate) enum Slot {
    /// A request/response operation waiting for its response.
    Call {
        op: &'static Operation,
        reply: Reply,
    },
    /// A streaming operation; `reply` is taken by the initial response.
    Stream {
        sub: Arc<SubShared>,
        reply: Option<Reply>,
    },
}

pub(crate) struct Connection {
    /// The socket (non-blocking), used to read and to shut down; the writer has its own handle.
    sock: rpc::SharedSocket,
    mode: ReaderMode,
    lead: Mutex<Lead>,
    lead_cv: Condvar,
    /// A socket pair whose far end the reader thread polls too: a byte here wakes it from poll(2).
    kick: (UnixStream, UnixStream),
    pub(crate) writer: Arc<FrameWriter>,
    slots: Mutex<rpc::StreamMap<Slot>>,
    pings: Mutex<VecDeque<oneshot::Sender<Bytes>>>,
    closed: Mutex<Option<Error>>,
    /// The client reconnects: a server-shutdown terminate interrupts a subscription instead of closing it.
    resumable: bool,
    /// Bytes read but not yet decoded. Whoever holds this lock is the connection's reader: the reader task,
    /// or a blocking caller waiting for its own response (which saves a thread wake-up per round trip).
    rbuf: Mutex<rpc::ReadBuf>,
    limits: Limits,
    /// A failure a blocking caller ran into while reading; the reader task acts on it.
    pending_failure: Mutex<Option<Error>>,
    /// How a blocking caller reading its own reply waits for it (spin, then sleep).
    spin: super::spin::SpinWait,
    /// The client has been told this connection is lost (set before anything else happens to it).
    lost: std::sync::atomic::AtomicBool,
    inner: Weak<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn send_error(e: SendError) -> Error {
    match e {
        SendError::Closed(WriterClosed(why)) => Error::new(ErrorKind::ConnectionClosed, why),
        SendError::Frame(f) => Error::new(
            ErrorKind::InvalidArgument,
            format!("request cannot be sent: {f}"),
        ),
    }
}

impl Connection {
    /// Connects, sends CONNECT and waits for CONNECT_ACK (the caller bounds the time), then starts the reader.
    pub(crate) async fn open(
        path: &Path,
        token: &str,
        max_message_size: usize,
        resumable: bool,
        mode: ReaderMode,
        inner: Weak<Inner>,
    ) -> Result<Arc<Connection>> {
        let io_err = |e: io::Error| {
            Error::new(
                ErrorKind::ConnectFailed,
                format!("socket setup failed: {e}"),
            )
        };
        let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
            Error::new(
                ErrorKind::ConnectFailed,
                format!("cannot connect to IPC socket {}: {e}", path.display()),
            )
        })?;
        let sock = stream.into_std().map_err(io_err)?;
        sock.set_nonblocking(true).map_err(io_err)?;
        let _ = rpc::set_send_buffer(&sock, rpc::SEND_BUFFER);
        let sock = Arc::new(sock);
        let writer = FrameWriter::spawn(sock.clone(), max_message_size);
        writer
            .send(&rpc::connect_frame(token))
            .map_err(send_error)?;
        let limits = Limits {
            max_message_size,
            ..Limits::default()
        };
        let mut rbuf = rpc::ReadBuf::new();
        let handshake = rpc::register(sock.clone(), Interest::READABLE).map_err(io_err)?;
        let ack = loop {
            match rbuf.decode(&limits) {
                Ok(Some(msg)) => break msg,
                Ok(None) => {}
                Err(e) => {
                    writer.close(WriterClosed("invalid handshake".into()));
                    return Err(Error::new(
                        ErrorKind::InvalidFrame,
                        format!("invalid CONNECT_ACK: {e}"),
                    ));
                }
            }
            let n = read_async(&handshake, &mut rbuf).await;
            if !matches!(n, Ok(n) if n > 0) {
                writer.close(WriterClosed("closed during handshake".into()));
                let why = match n {
                    Err(e) => e.to_string(),
                    Ok(_) => "the server closed the connection".into(),
                };
                return Err(Error::new(
                    ErrorKind::AccessDenied,
                    format!("connection closed during the handshake ({why}); the auth token may have been rejected"),
                ));
            }
        };
        drop(handshake);
        let frame = Frame::from_message(ack).map_err(|v| {
            Error::new(
                ErrorKind::Protocol,
                format!("invalid first message from the server: {v}"),
            )
        })?;
        if frame.message_type != MessageType::ConnectAck {
            writer.close(WriterClosed("protocol error".into()));
            return Err(Error::new(
                ErrorKind::Protocol,
                format!("expected CONNECT_ACK, received {:?}", frame.message_type),
            ));
        }
        if frame.flags & flags::CONNECTION_ACCEPTED == 0 {
            writer.close(WriterClosed("access denied".into()));
            return Err(Error::new(
                ErrorKind::AccessDenied,
                "Connection access denied to event stream RPC server (the auth token was not accepted)",
            ));
        }
        let kick = UnixStream::pair().map_err(io_err)?;
        kick.0.set_nonblocking(true).map_err(io_err)?;
        kick.1.set_nonblocking(true).map_err(io_err)?;
        let conn = Arc::new(Connection {
            sock,
            mode,
            lead: Mutex::new(Lead {
                callers: 0,
                last_release: Instant::now(),
                reader_polling: false,
            }),
            lead_cv: Condvar::new(),
            kick,
            writer,
            slots: Mutex::new(rpc::StreamMap::default()),
            pings: Mutex::new(VecDeque::new()),
            closed: Mutex::new(None),
            resumable,
            rbuf: Mutex::new(rbuf),
            limits,
            pending_failure: Mutex::new(None),
            lost: std::sync::atomic::AtomicBool::new(false),
            spin: super::spin::SpinWait::default(),
            inner,
        });
        match mode {
            ReaderMode::Task => {
                let fd = rpc::register(conn.sock.clone(), Interest::READABLE).map_err(io_err)?;
                tokio::spawn(reader_task(conn.clone(), fd));
            }
            ReaderMode::Thread => {
                let c = conn.clone();
                std::thread::Builder::new()
                    .name("ggipc-reader".into())
                    .spawn(move || reader_thread(c))
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Internal,
                            format!("cannot start the reader thread: {e}"),
                        )
                    })?;
            }
        }
        Ok(conn)
    }

    /// Marks the connection lost (the client is being told).
    pub(crate) fn mark_lost(&self) {
        self.lost.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether [`mark_lost`](Self::mark_lost) was called.
    pub(crate) fn is_lost(&self) -> bool {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The reason this connection is closed, if it is.
    pub(crate) fn closed_error(&self) -> Option<Error> {
        lock(&self.closed).clone()
    }

    /// Sends an activation on a new stream and registers `slot` for it before anything is written.
    pub(crate) fn activate(
        self: &Arc<Self>,
        op: &'static Operation,
        body: Bytes,
        slot: Slot,
    ) -> Result<i32> {
        if let Some(e) = self.closed_error() {
            return Err(e);
        }
        let sub = match &slot {
            Slot::Stream { sub, .. } => Some(sub.clone()),
            Slot::Call { .. } => None,
        };
        let sid = self
            .writer
            .send_new_stream(
                |id| Frame {
                    operation: Some(ByteStr::from_static(op.name)),
                    ..Frame::json(MessageType::ApplicationMessage, 0, id, op.request, body)
                },
                |id| {
                    lock(&self.slots).insert(id, slot);
                },
            )
            .map_err(send_error)?;
        if let Some(sub) = sub {
            *lock(&sub.location) = Some((Arc::downgrade(self), sid));
        }
        Ok(sid)
    }

    /// Forgets a stream and, unless the server already ended it, sends a bare terminate.
    pub(crate) fn terminate_stream(&self, sid: i32) {
        if lock(&self.slots).remove(&sid).is_some() {
            let _ = self.writer.send(&Frame::bare(
                MessageType::ApplicationMessage,
                flags::TERMINATE_STREAM,
                sid,
            ));
        }
    }

    /// Forgets a stream without telling the server (its response will be ignored).
    pub(crate) fn forget_stream(&self, sid: i32) {
        lock(&self.slots).remove(&sid);
    }

    /// Sends a PING and returns a receiver for the echoed payload.
    pub(crate) fn ping(&self, payload: Bytes) -> Result<oneshot::Receiver<Bytes>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pings).push_back(tx);
        let frame = Frame {
            payload,
            ..Frame::bare(MessageType::Ping, 0, 0)
        };
        self.writer.send(&frame).map_err(send_error)?;
        Ok(rx)
    }

    /// Shuts the connection: pending calls fail with `reason`, streams are interrupted (when `reconnect`)
    /// or closed. Returns false if it was already closed.
    pub(crate) fn fail(&self, reason: Error, reconnect: bool) -> bool {
        {
            let mut closed = lock(&self.closed);
            if closed.is_some() {
                return false;
            }
            *closed = Some(reason.clone());
        }
        self.writer
            .close(WriterClosed(reason.message().to_string()));
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        self.wake_reader();
        let slots: Vec<Slot> = lock(&self.slots).drain().map(|(_, s)| s).collect();
        for slot in slots {
            match slot {
                Slot::Call { reply, .. }
                | Slot::Stream {
                    reply: Some(reply), ..
                } => {
                    let _ = reply.send(Err(reason.clone()));
                }
                Slot::Stream { sub, reply: None } => {
                    *lock(&sub.location) = None;
                    if reconnect {
                        sub.queue
                            .push(SubscriptionEvent::Interrupted(reason.clone()));
                    } else {
                        sub.queue
                            .push(SubscriptionEvent::Closed(Some(reason.clone())));
                    }
                }
            }
        }
        lock(&self.pings).clear();
        true
    }

    /// Reads what the socket has and dispatches every whole message. Call with the `rbuf` lock held.
    fn read_and_dispatch(&self, buf: &mut rpc::ReadBuf) -> Result<()> {
        loop {
            match buf.read_from(&self.sock) {
                Ok(0) => {
                    return Err(Error::new(
                        ErrorKind::ConnectionClosed,
                        "the server closed the connection",
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(Error::new(
                        ErrorKind::ConnectionClosed,
                        format!("connection lost: {e}"),
                    ))
                }
            }
            loop {
                match buf.decode(&self.limits) {
                    Ok(Some(msg)) => match Frame::from_message(msg) {
                        Ok(frame) => {
                            if let Some(e) = self.on_frame(frame, &self.inner) {
                                return Err(e);
                            }
                        }
                        Err(v) => {
                            let _ = self.writer.send(&rpc::connection_error(
                                MessageType::ProtocolError,
                                v.payload(),
                            ));
                            return Err(Error::new(
                                ErrorKind::Protocol,
                                format!("invalid message from the server: {v}"),
                            ));
                        }
                    },
                    Ok(None) => break,
                    Err(e) => {
                        return Err(Error::new(
                            ErrorKind::InvalidFrame,
                            format!("invalid data from the server: {e}"),
                        ))
                    }
                }
            }
        }
    }

    /// Wakes the reader thread wherever it waits (thread mode).
    fn wake_reader(&self) {
        if self.mode == ReaderMode::Thread {
            let _ = (&self.kick.0).write(&[1]);
            self.lead_cv.notify_all();
        }
    }

    /// Waits on a plain thread for the reply in `rx` until `deadline` (`None`: timed out). In thread mode
    /// the caller reads the socket itself while nobody else is, so its response wakes it directly.
    pub(crate) fn wait_blocking(
        &self,
        rx: &mut oneshot::Receiver<Result<Bytes>>,
        deadline: Instant,
    ) -> Option<Result<Bytes>> {
        if self.mode == ReaderMode::Thread {
            let mut lead = lock(&self.lead);
            lead.callers += 1;
            if lead.reader_polling {
                let _ = (&self.kick.0).write(&[1]);
            }
        }
        let result = self.wait_blocking_inner(rx, deadline);
        if self.mode == ReaderMode::Thread {
            let mut lead = lock(&self.lead);
            lead.callers -= 1;
            lead.last_release = Instant::now();
        }
        result
    }

    fn wait_blocking_inner(
        &self,
        rx: &mut oneshot::Receiver<Result<Bytes>>,
        deadline: Instant,
    ) -> Option<Result<Bytes>> {
        use tokio::sync::oneshot::error::TryRecvError;
        let closed = |c: &Self| {
            c.closed_error()
                .unwrap_or_else(|| Error::new(ErrorKind::ConnectionClosed, "connection closed"))
        };
        loop {
            match rx.try_recv() {
                Ok(r) => return Some(r),
                Err(TryRecvError::Closed) => return Some(Err(closed(self))),
                Err(TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let slice = (deadline - now).min(Duration::from_millis(50));
            let reading = if self.mode == ReaderMode::Thread
                && self.closed_error().is_none()
                && lock(&self.pending_failure).is_none()
            {
                self.rbuf.try_lock().ok()
            } else {
                None
            };
            match reading {
                Some(mut buf) => {
                    // The previous reader may have delivered our reply just before we took over.
                    let result = match rx.try_recv() {
                        Err(TryRecvError::Empty) if self.spin.wait_readable(&self.sock, slice) => {
                            self.read_and_dispatch(&mut buf)
                        }
                        Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => Ok(()),
                        Ok(reply) => return Some(reply),
                    };
                    drop(buf);
                    if let Err(e) = result {
                        // Let the reader thread handle the failure (it may reconnect).
                        *lock(&self.pending_failure) = Some(e);
                        self.wake_reader();
                    }
                }
                None => {
                    // Someone else reads and will complete `rx`: park until then (briefly, so this caller
                    // can take over reading if the other one leaves).
                    let wait = if self.mode == ReaderMode::Thread {
                        slice.min(Duration::from_millis(2))
                    } else {
                        slice
                    };
                    let Ok(rt) = crate::runtime::handle() else {
                        return Some(Err(closed(self)));
                    };
                    if let Ok(r) = rt.block_on(async { tokio::time::timeout(wait, &mut *rx).await })
                    {
                        return Some(r.unwrap_or_else(|_| Err(closed(self))));
                    }
                }
            }
        }
    }

    fn on_frame(&self, frame: Frame, inner: &Weak<Inner>) -> Option<Error> {
        match frame.message_type {
            MessageType::ApplicationMessage | MessageType::ApplicationError => {
                self.on_stream_frame(frame);
                None
            }
            MessageType::Ping => {
                if let Some(i) = inner.upgrade() {
                    i.emit(LifecycleEvent::Ping {
                        payload: frame.payload.clone(),
                    });
                }
                let _ = self.writer.send(&rpc::ping_response(&frame));
                None
            }
            MessageType::PingResponse => {
                if let Some(tx) = lock(&self.pings).pop_front() {
                    let _ = tx.send(frame.payload);
                }
                None
            }
            MessageType::ProtocolError | MessageType::InternalError => {
                let msg = message_of(&frame.payload);
                Some(Error::new(
                    ErrorKind::Protocol,
                    format!("the server reported a {:?}: {msg}", frame.message_type),
                ))
            }
            MessageType::Connect | MessageType::ConnectAck => Some(Error::new(
                ErrorKind::Protocol,
                "unexpected CONNECT/CONNECT_ACK after the handshake",
            )),
        }
    }

    fn on_stream_frame(&self, frame: Frame) {
        let sid = frame.stream_id;
        let terminate = frame.is_terminate();
        let mut slots = lock(&self.slots);
        let Some(slot) = slots.get_mut(&sid) else {
            tracing::debug!(
                stream = sid,
                "message for an unknown or closed stream ignored"
            );
            return;
        };
        let is_error = frame.message_type == MessageType::ApplicationError;
        match slot {
            Slot::Call { op, .. } => {
                let op = *op;
                let Some(Slot::Call { reply, .. }) = slots.remove(&sid) else {
                    return;
                };
                drop(slots);
                let _ = reply.send(response_result(op, &frame, is_error));
            }
            Slot::Stream { sub, reply } => {
                let sub = sub.clone();
                if let Some(reply) = reply.take() {
                    let result = response_result(sub.op, &frame, is_error);
                    let failed = result.is_err();
                    if terminate || failed {
                        slots.remove(&sid);
                    }
                    drop(slots);
                    let _ = reply.send(result);
                    if terminate && !failed {
                        sub.queue.push(SubscriptionEvent::Closed(None));
                    }
                    return;
                }
                if terminate && self.resumable && frame.header(rpc::SHUTDOWN_HEADER).is_some() {
                    // The server is going away; the connection loss that follows interrupts the stream.
                    return;
                }
                if terminate {
                    slots.remove(&sid);
                }
                drop(slots);
                if terminate {
                    *lock(&sub.location) = None;
                }
                let event = if is_error {
                    let e = error_of(&frame);
                    if terminate {
                        SubscriptionEvent::Closed(Some(e))
                    } else {
                        SubscriptionEvent::Error(e)
                    }
                } else if frame.service_model_type.is_none() {
                    if terminate {
                        SubscriptionEvent::Closed(None)
                    } else {
                        SubscriptionEvent::Error(Error::new(
                            ErrorKind::Unmapped,
                            "stream message without service-model-type",
                        ))
                    }
                } else if frame.service_model_type.as_deref() == sub.op.event {
                    // The server dropped events of this stream before this one: say how many, first.
                    if let Some(HeaderValue::Int64(n)) = frame.header(rpc::LAGGED_HEADER) {
                        if *n > 0 {
                            sub.queue.push(SubscriptionEvent::Lagged(n.unsigned_abs()));
                        }
                    }
                    // Decoded with the operation's event shape by whoever takes it from the queue.
                    SubscriptionEvent::Message(frame.payload.clone())
                } else {
                    SubscriptionEvent::Error(Error::new(
                        ErrorKind::Unmapped,
                        format!(
                            "unexpected event type {}",
                            frame.service_model_type.as_deref().unwrap_or("")
                        ),
                    ))
                };
                let closes = matches!(event, SubscriptionEvent::Closed(_));
                sub.queue.push(event);
                if terminate && !closes {
                    sub.queue.push(SubscriptionEvent::Closed(None));
                }
            }
        }
    }
}

/// The `message` member of a JSON body, or the body as text.
fn message_of(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned())
}

/// The error an APPLICATION_ERROR carries (modeled when it has a known `service-model-type`).
fn error_of(frame: &Frame) -> Error {
    match &frame.service_model_type {
        Some(shape) => error_from_body(shape, &frame.payload),
        None => {
            let detail = message_of(&frame.payload);
            Error::new(
                ErrorKind::Unmapped,
                format!("the server failed the request without a modeled error: {detail}"),
            )
        }
    }
}

/// Interprets the first message of a stream as the operation's response.
fn response_result(op: &Operation, frame: &Frame, is_error: bool) -> Result<Bytes> {
    if is_error {
        return Err(error_of(frame));
    }
    match frame.service_model_type.as_deref() {
        Some(t) if t == op.response => Ok(frame.payload.clone()),
        None if frame.is_terminate() && frame.header(rpc::SHUTDOWN_HEADER).is_some() => {
            Err(Error::new(
                ErrorKind::ConnectionClosed,
                "the server shut down before responding",
            ))
        }
        None if frame.is_terminate() => Err(Error::new(
            ErrorKind::StreamClosed,
            "the server closed the stream without a response",
        )),
        other => Err(Error::new(
            ErrorKind::Unmapped,
            format!(
                "unexpected response type {:?} for {} (expected {})",
                other.unwrap_or(""),
                op.name,
                op.response
            ),
        )),
    }
}

/// Waits for the socket to be readable, then reads once (`Ok(0)`: closed).
async fn read_async(fd: &AsyncFd<rpc::SharedSocket>, buf: &mut rpc::ReadBuf) -> io::Result<usize> {
    loop {
        let mut ready = fd.readable().await?;
        match ready.try_io(|inner| buf.read_from(inner.get_ref())) {
            Ok(result) => return result,
            Err(_would_block) => continue,
        }
    }
}

/// The reader of an async client: a runtime task.
async fn reader_task(conn: Arc<Connection>, fd: AsyncFd<rpc::SharedSocket>) {
    let reason = loop {
        if let Some(e) = lock(&conn.pending_failure).take() {
            break e;
        }
        if lock(&conn.closed).is_some() {
            return;
        }
        let mut ready = match fd.readable().await {
            Ok(r) => r,
            Err(e) => {
                break Error::new(ErrorKind::ConnectionClosed, format!("connection lost: {e}"))
            }
        };
        // In task mode nobody else reads (blocking callers only wait), so the lock is uncontended.
        let mut buf = lock(&conn.rbuf);
        // Reads until the socket is drained, so the readiness can be cleared.
        let result = conn.read_and_dispatch(&mut buf);
        drop(buf);
        match result {
            Ok(()) => ready.clear_ready(),
            Err(e) => break e,
        }
    };
    conn.lost(reason);
}

/// The reader of a blocking client: a thread that reads while no blocking caller does.
fn reader_thread(conn: Arc<Connection>) {
    let mut kick_buf = [0u8; 64];
    let reason = loop {
        if let Some(e) = lock(&conn.pending_failure).take() {
            break e;
        }
        {
            let mut lead = lock(&conn.lead);
            loop {
                if lock(&conn.closed).is_some() {
                    return;
                }
                if lock(&conn.pending_failure).is_some() {
                    break;
                }
                let since = lead.last_release.elapsed();
                if lead.callers == 0 && since >= HANDOFF {
                    break;
                }
                let wait = if lead.callers > 0 {
                    HANDOFF
                } else {
                    HANDOFF - since
                };
                lead = conn
                    .lead_cv
                    .wait_timeout(lead, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            lead.reader_polling = true;
        }
        let (readable, kicked) = poll_readable(&conn.sock, Some(&conn.kick.1), IDLE_POLL);
        if kicked {
            while matches!((&conn.kick.1).read(&mut kick_buf), Ok(n) if n > 0) {}
        }
        if readable {
            let mut buf = lock(&conn.rbuf);
            if let Err(e) = conn.read_and_dispatch(&mut buf) {
                break e;
            }
        }
        lock(&conn.lead).reader_polling = false;
    };
    lock(&conn.lead).reader_polling = false;
    conn.lost(reason);
}

impl Connection {
    /// The reader found the connection broken: tell the client (which may reconnect).
    fn lost(self: &Arc<Self>, reason: Error) {
        match self.inner.upgrade() {
            Some(inner) => inner.connection_lost(self, reason),
            None => {
                self.fail(reason, false);
            }
        }
    }
}

/// Polls `sock` (and `kick`) for input for at most `timeout` (zero: returns at once). Whether each is readable.
pub(super) fn poll_readable(
    sock: &UnixStream,
    kick: Option<&UnixStream>,
    timeout: Duration,
) -> (bool, bool) {
    use std::os::fd::AsRawFd;
    let mut fds = [
        libc::pollfd {
            fd: sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: kick.map_or(-1, |k| k.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let ms = if timeout.is_zero() {
        0
    } else {
        timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int
    };
    // SAFETY: two valid pollfd entries (a negative fd is ignored by poll), for the duration of the call.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, ms) };
    if n <= 0 {
        return (false, false);
    }
    (fds[0].revents != 0, fds[1].revents != 0)
}
