//! One client connection: handshake, the reader task, and routing of responses and events by stream id.

use super::subscription::{SubShared, SubscriptionEvent};
use super::{Inner, LifecycleEvent};
use crate::codec::{self, ByteStr, Limits};
use crate::model::{error_from_body, IoTCoreMessage, Operation};
use crate::rpc::{self, flags, Frame, FrameWriter, MessageType, SendError, WriterClosed};
use crate::{Error, ErrorKind, Result};
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use tokio::net::UnixStream;
use tokio::sync::{oneshot, Notify};

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
    stream: Arc<UnixStream>,
    pub(crate) writer: Arc<FrameWriter>,
    slots: Mutex<HashMap<i32, Slot>>,
    pings: Mutex<VecDeque<oneshot::Sender<Bytes>>>,
    closed: Mutex<Option<Error>>,
    /// The client reconnects: a server-shutdown terminate interrupts a subscription instead of closing it.
    resumable: bool,
    /// Bytes read but not yet decoded. Whoever holds this lock is the connection's reader: the reader task,
    /// or a blocking caller waiting for its own response (which saves a thread wake-up per round trip).
    rbuf: Mutex<BytesMut>,
    limits: Limits,
    /// Signalled when a blocking caller stops reading, so the reader task takes over.
    read_released: Notify,
    /// A failure a blocking caller ran into while reading; the reader task acts on it.
    pending_failure: Mutex<Option<Error>>,
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
        inner: Weak<Inner>,
    ) -> Result<Arc<Connection>> {
        let stream = UnixStream::connect(path).await.map_err(|e| {
            Error::new(
                ErrorKind::ConnectFailed,
                format!("cannot connect to IPC socket {}: {e}", path.display()),
            )
        })?;
        let stream = Arc::new(stream);
        let writer = FrameWriter::spawn(stream.clone(), max_message_size);
        writer
            .send(&rpc::connect_frame(token))
            .map_err(send_error)?;
        let limits = Limits {
            max_message_size,
            ..Limits::default()
        };
        let mut rbuf = BytesMut::with_capacity(16 * 1024);
        let ack = loop {
            match codec::decode(&mut rbuf, &limits) {
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
            let n = read_some(&stream, &mut rbuf).await;
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
        let conn = Arc::new(Connection {
            stream,
            writer,
            slots: Mutex::new(HashMap::new()),
            pings: Mutex::new(VecDeque::new()),
            closed: Mutex::new(None),
            resumable,
            rbuf: Mutex::new(rbuf),
            limits,
            read_released: Notify::new(),
            pending_failure: Mutex::new(None),
            inner,
        });
        tokio::spawn(reader(conn.clone()));
        Ok(conn)
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
        let _ = self.stream_shutdown();
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
    fn read_and_dispatch(&self, buf: &mut BytesMut) -> Result<()> {
        loop {
            if buf.capacity() - buf.len() < 4096 {
                buf.reserve(16 * 1024);
            }
            match self.stream.try_read_buf(buf) {
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
                match codec::decode(buf, &self.limits) {
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

    /// Waits on a plain thread for the reply in `rx` until `deadline` (`None`: timed out). While nobody
    /// else is reading, the caller reads the socket itself, so its response wakes it directly.
    pub(crate) fn wait_blocking(
        &self,
        rx: &mut oneshot::Receiver<Result<Bytes>>,
        deadline: std::time::Instant,
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
            let now = std::time::Instant::now();
            if now >= deadline {
                return None;
            }
            let slice = (deadline - now).min(std::time::Duration::from_millis(50));
            let reading = if self.closed_error().is_none() && lock(&self.pending_failure).is_none()
            {
                self.rbuf.try_lock().ok()
            } else {
                None
            };
            match reading {
                Some(mut buf) => {
                    // The previous reader may have delivered our reply just before we took over.
                    let result = match rx.try_recv() {
                        Err(TryRecvError::Empty) if poll_readable(&self.stream, slice) => {
                            self.read_and_dispatch(&mut buf)
                        }
                        Err(TryRecvError::Empty) => Ok(()),
                        Ok(reply) => {
                            drop(buf);
                            self.read_released.notify_one();
                            return Some(reply);
                        }
                        Err(TryRecvError::Closed) => Ok(()),
                    };
                    drop(buf);
                    if let Err(e) = result {
                        *lock(&self.pending_failure) = Some(e);
                    }
                    self.read_released.notify_one();
                }
                None => {
                    // Someone else is reading and will complete `rx`; park until then (briefly, so this
                    // caller can take over reading if the other one leaves).
                    let wait = slice.min(std::time::Duration::from_millis(2));
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

    fn stream_shutdown(&self) -> io::Result<()> {
        let fd = std::os::fd::AsFd::as_fd(&*self.stream);
        let sock = std::os::unix::net::UnixStream::from(fd.try_clone_to_owned()?);
        sock.shutdown(std::net::Shutdown::Both)
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
                let text = String::from_utf8_lossy(&frame.payload);
                let msg = serde_json::from_slice::<serde_json::Value>(&frame.payload)
                    .ok()
                    .and_then(|v| {
                        v.get("message")
                            .and_then(|m| m.as_str())
                            .map(str::to_string)
                    })
                    .unwrap_or_else(|| text.into_owned());
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
                    match serde_json::from_slice::<IoTCoreMessage>(&frame.payload) {
                        Ok(m) => SubscriptionEvent::Message(m),
                        Err(e) => SubscriptionEvent::Error(Error::new(
                            ErrorKind::Unmapped,
                            format!("invalid event body: {e}"),
                        )),
                    }
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

/// The error an APPLICATION_ERROR carries (modeled when it has a known `service-model-type`).
fn error_of(frame: &Frame) -> Error {
    match &frame.service_model_type {
        Some(shape) => error_from_body(shape, &frame.payload),
        None => {
            let text = String::from_utf8_lossy(&frame.payload);
            let detail = serde_json::from_slice::<serde_json::Value>(&frame.payload)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or_else(|| text.into_owned());
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

async fn read_some(stream: &UnixStream, buf: &mut BytesMut) -> io::Result<usize> {
    loop {
        stream.readable().await?;
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(16 * 1024);
        }
        match stream.try_read_buf(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

async fn reader(conn: Arc<Connection>) {
    let reason = loop {
        if let Some(e) = lock(&conn.pending_failure).take() {
            break e;
        }
        if lock(&conn.closed).is_some() {
            return;
        }
        if let Err(e) = conn.stream.readable().await {
            break Error::new(ErrorKind::ConnectionClosed, format!("connection lost: {e}"));
        }
        let Ok(mut buf) = conn.rbuf.try_lock() else {
            // A blocking caller is reading; it signals when it stops.
            conn.read_released.notified().await;
            continue;
        };
        if let Err(e) = conn.read_and_dispatch(&mut buf) {
            break e;
        }
    };
    match conn.inner.upgrade() {
        Some(inner) => inner.connection_lost(&conn, reason),
        None => {
            conn.fail(reason, false);
        }
    }
}

/// Waits up to `timeout` for the socket to have data (or be closed); true when it does.
fn poll_readable(stream: &UnixStream, timeout: std::time::Duration) -> bool {
    use std::os::fd::AsRawFd;
    let mut fds = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd, for the duration of the call.
    let n = unsafe { libc::poll(&mut fds, 1, ms) };
    n > 0
}
