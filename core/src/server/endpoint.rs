//! One server connection, the protocol endpoint: handshake, stream-id rules, ping, connection errors, and the
//! life of each stream. What an operation does is its service's business (`services/`): the endpoint finds the
//! operation's row in the table, hands the request to [`services::dispatch`] and turns the outcome into the
//! response, error or stream, with the row's shapes.
//!
//! All per-connection state lives in one task; slow work (a broker publish that is not immediately done, a
//! subscribe waiting for its SUBACK) runs on its own task and reports back through a channel, so a slow
//! broker never stops the connection from reading, answering pings, or closing streams.

use super::services::{self, Outcome, Refusal, Reply, Request, StreamGuard};
use super::sink::EventSink;
use super::Shared;
use crate::codec::{self, ByteStr, Limits, Message};
use crate::model::{error_body, Operation};
use crate::rpc::{self, errors, flags, Frame, FrameWriter, MessageType, WriterClosed};
use crate::ErrorKind;
use bytes::Bytes;
use serde::Deserialize;
use std::io;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::sync::mpsc;

/// How long a rejected or misbehaving client gets to read our last message before we close.
const LINGER: Duration = Duration::from_secs(1);

/// A handler's late answer, reported to the connection task.
enum Completion {
    Answered {
        stream_id: i32,
        op: &'static Operation,
        result: Reply,
    },
    Opened {
        stream_id: i32,
        op: &'static Operation,
        result: Result<(Bytes, StreamGuard), Refusal>,
    },
}

enum Stream {
    /// A request/response operation waiting for its answer.
    Pending,
    /// A streaming operation whose response is not out yet.
    Opening(Arc<EventSink>),
    /// A stream in place; dropping the guard ends what the service set up.
    Open(Arc<EventSink>, StreamGuard),
}

/// Why the connection ends.
enum End {
    Eof,
    Io(io::Error),
    Shutdown,
    ConnectTimeout,
    /// We sent a PROTOCOL_ERROR: flush it, then close (as the C library does).
    Flush,
    /// We sent a rejecting CONNECT_ACK: let the client read it before closing (official clients report
    /// "access denied" only if they see the ACK before the close).
    Linger(&'static str),
    /// The peer sent PROTOCOL_ERROR / INTERNAL_ERROR.
    PeerError,
}

struct Conn {
    shared: Arc<Shared>,
    /// The socket, registered with the runtime for readability only (the writer has its own handle).
    stream: AsyncFd<rpc::SharedSocket>,
    writer: Arc<FrameWriter>,
    limits: Limits,
    component: Option<Arc<str>>,
    last_stream_id: i32,
    streams: crate::rpc::StreamMap<Stream>,
    /// Streams in `Stream::Pending` (requests held unanswered; see `ServerConfig::max_pending_requests`).
    pending: usize,
    done_tx: mpsc::Sender<Completion>,
}

pub(super) async fn serve_connection(shared: Arc<Shared>, stream: UnixStream) {
    let split = stream.into_std().and_then(|s| {
        s.set_nonblocking(true)?;
        let s = Arc::new(s);
        Ok((rpc::register(s.clone(), Interest::READABLE)?, s))
    });
    let (stream, write_half) = match split {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!(error = %e, "cannot set up an accepted connection");
            return;
        }
    };
    let writer = FrameWriter::spawn(write_half, shared.config.max_message_size);
    let (done_tx, mut done_rx) = mpsc::channel(shared.config.max_streams_per_connection.max(1));
    let limits = Limits {
        max_message_size: shared.config.max_message_size,
        ..Limits::default()
    };
    shared
        .counters
        .connections_active
        .fetch_add(1, Ordering::Relaxed);
    let mut conn = Conn {
        shared: shared.clone(),
        stream,
        writer,
        limits,
        component: None,
        last_stream_id: 0,
        streams: crate::rpc::StreamMap::default(),
        pending: 0,
        done_tx,
    };
    let end = conn.run(&mut done_rx).await;
    conn.finish(end, done_rx).await;
    shared
        .counters
        .connections_active
        .fetch_sub(1, Ordering::Relaxed);
}

impl Conn {
    async fn run(&mut self, done_rx: &mut mpsc::Receiver<Completion>) -> End {
        let mut shutdown = self.shared.shutdown.subscribe();
        if *shutdown.borrow() {
            return End::Shutdown;
        }
        let connect_deadline = tokio::time::Instant::now() + self.shared.config.connect_timeout;
        let mut rbuf = rpc::ReadBuf::new();
        loop {
            // Answers to everything this read brought in go out together, written by this task.
            self.writer.cork();
            loop {
                match rbuf.decode(&self.limits) {
                    Ok(Some(msg)) => {
                        if let Some(end) = self.on_message(msg) {
                            self.writer.uncork();
                            return end;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        // The C library closes without a reply on a framing error.
                        tracing::warn!(component = self.name(), error = %e, "invalid frame; closing connection");
                        self.shared
                            .counters
                            .protocol_errors
                            .fetch_add(1, Ordering::Relaxed);
                        self.writer.uncork();
                        return End::Io(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
                    }
                }
            }
            self.writer.uncork();
            let congested = self.writer.is_congested();
            // Too many requests held unanswered: read on once one is answered (a completion arrives).
            let held = self.pending >= self.shared.config.max_pending_requests.max(1);
            tokio::select! {
                r = self.stream.readable(), if !congested && !held => {
                    let mut ready = match r {
                        Ok(g) => g,
                        Err(e) => return End::Io(e),
                    };
                    match ready.try_io(|s| rbuf.read_from(s.get_ref())) {
                        Ok(Ok(0)) => return End::Eof,
                        Ok(Ok(_)) | Err(_) => {}
                        Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                        Ok(Err(e)) => return End::Io(e),
                    }
                }
                _ = self.writer.wait_for_capacity(), if congested => {}
                Some(done) = done_rx.recv() => self.on_completion(done),
                _ = shutdown.changed() => return End::Shutdown,
                _ = tokio::time::sleep_until(connect_deadline), if self.component.is_none() => {
                    return End::ConnectTimeout;
                }
            }
        }
    }

    fn name(&self) -> &str {
        self.component.as_deref().unwrap_or("<unauthenticated>")
    }

    fn send(&self, frame: &Frame) {
        if let Err(e) = self.writer.send(frame) {
            tracing::debug!(component = self.name(), error = %e, "send failed");
        }
    }

    fn protocol_error(&self, payload: &'static str) -> Option<End> {
        tracing::warn!(
            component = self.name(),
            error = payload,
            "protocol error; closing connection"
        );
        self.shared
            .counters
            .protocol_errors
            .fetch_add(1, Ordering::Relaxed);
        self.send(&rpc::connection_error(MessageType::ProtocolError, payload));
        Some(End::Flush)
    }

    fn on_message(&mut self, msg: Message) -> Option<End> {
        let frame = match Frame::from_message(msg) {
            Ok(f) => f,
            Err(v) => return self.protocol_error(v.payload()),
        };
        if self.component.is_none() {
            if frame.message_type != MessageType::Connect {
                return self.protocol_error(errors::CONNECT_FIRST);
            }
            return self.on_connect(frame);
        }
        match frame.message_type {
            MessageType::Connect | MessageType::ConnectAck => {
                self.protocol_error(errors::CONNECT_FIRST)
            }
            MessageType::Ping => {
                self.send(&rpc::ping_response(&frame));
                None
            }
            MessageType::PingResponse => None,
            MessageType::ProtocolError | MessageType::InternalError => {
                tracing::warn!(
                    component = self.name(),
                    payload = %String::from_utf8_lossy(&frame.payload),
                    "client reported a connection error"
                );
                Some(End::PeerError)
            }
            MessageType::ApplicationMessage | MessageType::ApplicationError => {
                self.on_stream_message(frame)
            }
        }
    }

    fn on_connect(&mut self, frame: Frame) -> Option<End> {
        #[derive(Deserialize)]
        struct ConnectBody {
            #[serde(rename = "authToken")]
            auth_token: Option<String>,
        }
        let version_ok = frame.header(rpc::names::VERSION).and_then(|v| v.as_str())
            == Some(rpc::PROTOCOL_VERSION);
        let token = serde_json::from_slice::<ConnectBody>(&frame.payload)
            .ok()
            .and_then(|b| b.auth_token);
        let component = if version_ok {
            token
                .as_deref()
                .and_then(|t| self.shared.components.authenticate(t))
        } else {
            None
        };
        match component {
            Some(c) => {
                tracing::info!(component = %c.name, "component connected");
                self.component = Some(Arc::from(c.name.as_str()));
                self.send(&Frame::bare(
                    MessageType::ConnectAck,
                    flags::CONNECTION_ACCEPTED,
                    0,
                ));
                None
            }
            None => {
                let why = if version_ok {
                    "unknown or missing auth token"
                } else {
                    "missing or unsupported :version"
                };
                tracing::warn!(reason = why, "connection rejected");
                self.shared
                    .counters
                    .access_denied
                    .fetch_add(1, Ordering::Relaxed);
                self.send(&Frame::bare(MessageType::ConnectAck, 0, 0));
                Some(End::Linger("access denied"))
            }
        }
    }

    fn on_stream_message(&mut self, frame: Frame) -> Option<End> {
        let sid = frame.stream_id;
        if sid <= self.last_stream_id {
            return match self.streams.contains_key(&sid) {
                true if frame.is_terminate() => {
                    self.close_stream(sid);
                    None
                }
                // Client data on an open stream: no operation of this service takes any.
                true => None,
                false if frame.is_terminate() => None,
                false => self.protocol_error(errors::STREAM_ID_LOWER),
            };
        }
        if sid != self.last_stream_id + 1 {
            return self.protocol_error(errors::STREAM_ID_GAP);
        }
        let Some(op) = frame.operation.clone() else {
            return self.protocol_error(errors::MISSING_OPERATION);
        };
        self.last_stream_id = sid;
        if frame.is_terminate() || frame.message_type != MessageType::ApplicationMessage {
            return None; // the Java server drops such activations silently
        }
        if self.streams.len() >= self.shared.config.max_streams_per_connection {
            let msg = format!(
                "Too many open streams on this connection (limit {})",
                self.shared.config.max_streams_per_connection
            );
            self.send_error(sid, ErrorKind::ServiceError, &msg, None);
            return None;
        }
        match Operation::find(&op) {
            Some(o) => self.dispatch(sid, o, &frame.payload),
            None => self.send_unsupported(sid, &op),
        }
        None
    }

    /// Hands an activation to its operation's service and acts on the outcome.
    fn dispatch(&mut self, sid: i32, op: &'static Operation, body: &[u8]) {
        let Some(component) = self.component.clone() else {
            return;
        };
        let sink = op.event.map(|shape| {
            Arc::new(EventSink::new(
                self.shared.clone(),
                self.writer.clone(),
                sid,
                component.clone(),
                shape,
            ))
        });
        let req = Request {
            shared: &self.shared,
            component: &component,
            op,
            sink: sink.clone(),
        };
        match services::dispatch(req, body) {
            Outcome::Done(result) => self.answer(sid, op, result),
            Outcome::Later(fut) => {
                // Polled once here, so services (and brokers) see requests in the order they arrived, and
                // outside the connection task's cooperative budget, which a burst of requests spends: a
                // service waiting only for that would cost a task of its own (and another worker's wake-up)
                // per request.
                match crate::runtime::poll_on_arrival(fut) {
                    Ok(result) => self.answer(sid, op, result),
                    Err(fut) => {
                        self.streams.insert(sid, Stream::Pending);
                        self.pending += 1;
                        let tx = self.done_tx.clone();
                        tokio::spawn(async move {
                            let result = fut.await;
                            let _ = tx
                                .send(Completion::Answered {
                                    stream_id: sid,
                                    op,
                                    result,
                                })
                                .await;
                        });
                    }
                }
            }
            Outcome::Stream(fut) => {
                let Some(sink) = sink else {
                    return self.answer(
                        sid,
                        op,
                        Err(Refusal::service("not a streaming operation")),
                    );
                };
                self.streams.insert(sid, Stream::Opening(sink));
                let tx = self.done_tx.clone();
                tokio::spawn(async move {
                    let result = fut.await;
                    // If the connection ended meanwhile, the completion is dropped with its guard, which
                    // undoes the stream.
                    let _ = tx
                        .send(Completion::Opened {
                            stream_id: sid,
                            op,
                            result,
                        })
                        .await;
                });
            }
        }
    }

    /// Sends a request/response operation's answer (which ends its stream).
    fn answer(&self, sid: i32, op: &Operation, result: Reply) {
        match result {
            Ok(body) => self.send(&Frame::json(
                MessageType::ApplicationMessage,
                flags::TERMINATE_STREAM,
                sid,
                op.response,
                body,
            )),
            Err(r) => self.send_error(sid, r.kind, &r.message, r.context.as_ref()),
        }
    }

    fn send_unsupported(&self, sid: i32, op: &ByteStr) {
        let quoted = serde_json::to_string(&format!("{op} is an unsupported operation."))
            .unwrap_or_default();
        let payload = format!("{{\"error\": \"Unsupported Operation\", \"message\": {quoted}}}");
        let frame = Frame {
            content_type: Some(ByteStr::from_static(rpc::CONTENT_TYPE_JSON)),
            payload: payload.into(),
            ..Frame::bare(MessageType::ApplicationError, flags::TERMINATE_STREAM, sid)
        };
        self.send(&frame);
    }

    fn send_error(
        &self,
        sid: i32,
        kind: ErrorKind,
        message: &str,
        context: Option<&serde_json::Value>,
    ) {
        let shape = crate::model::error_shape_for_kind(kind)
            .map(|s| s.shape_id)
            .unwrap_or("aws.greengrass#ServiceError");
        let body = error_body(kind, message, context);
        self.send(&Frame::json(
            MessageType::ApplicationError,
            flags::TERMINATE_STREAM,
            sid,
            shape,
            body.into(),
        ));
    }

    fn on_completion(&mut self, done: Completion) {
        match done {
            Completion::Answered {
                stream_id,
                op,
                result,
            } => {
                if let Some(Stream::Pending) = self.streams.remove(&stream_id) {
                    self.pending -= 1;
                    self.answer(stream_id, op, result);
                }
            }
            Completion::Opened {
                stream_id,
                op,
                result,
            } => match (self.streams.remove(&stream_id), result) {
                (Some(Stream::Opening(sink)), Ok((body, guard))) => {
                    self.send(&Frame::json(
                        MessageType::ApplicationMessage,
                        0,
                        stream_id,
                        op.response,
                        body,
                    ));
                    sink.activate();
                    self.shared
                        .counters
                        .subscriptions_active
                        .fetch_add(1, Ordering::Relaxed);
                    self.streams.insert(stream_id, Stream::Open(sink, guard));
                }
                (Some(Stream::Opening(sink)), Err(r)) => {
                    sink.close();
                    self.send_error(stream_id, r.kind, &r.message, r.context.as_ref());
                }
                // Closed by the client meanwhile: dropping the guard undoes the stream.
                (_, _) => {}
            },
        }
    }

    /// The client terminated a stream (or the connection is ending): stop it.
    fn close_stream(&mut self, sid: i32) {
        match self.streams.remove(&sid) {
            Some(Stream::Open(sink, guard)) => {
                sink.close();
                drop(guard);
                self.shared
                    .counters
                    .subscriptions_active
                    .fetch_sub(1, Ordering::Relaxed);
            }
            // Undone when the service's answer arrives (its guard is dropped then).
            Some(Stream::Opening(sink)) => sink.close(),
            Some(Stream::Pending) => self.pending -= 1,
            None => {}
        }
    }

    async fn finish(mut self, end: End, mut done_rx: mpsc::Receiver<Completion>) {
        match &end {
            End::Shutdown => {
                // Terminate every open stream so clients learn the server is going away.
                let open: Vec<i32> = self.streams.keys().copied().collect();
                for sid in open {
                    let mut terminate = Frame::bare(
                        MessageType::ApplicationMessage,
                        flags::TERMINATE_STREAM,
                        sid,
                    );
                    terminate.other_headers.push(codec::Header::with_static(
                        rpc::SHUTDOWN_HEADER,
                        codec::HeaderValue::Bool(true),
                    ));
                    self.send(&terminate);
                }
                let _ = tokio::time::timeout(LINGER, self.writer.flushed()).await;
            }
            End::Linger(why) => {
                tracing::debug!(
                    component = self.name(),
                    reason = why,
                    "closing after a last message"
                );
                // Give the client time to read our last message, then close (sooner if it closes first).
                let _ = tokio::time::timeout(LINGER, async {
                    self.writer.flushed().await;
                    let mut scratch = [0u8; 1024];
                    loop {
                        let Ok(mut ready) = self.stream.readable().await else {
                            return;
                        };
                        match ready.try_io(|s| (&**s.get_ref()).read(&mut scratch)) {
                            Ok(Ok(0)) | Ok(Err(_)) => return,
                            Ok(Ok(_)) | Err(_) => {}
                        }
                    }
                })
                .await;
            }
            End::Flush => {
                let _ = tokio::time::timeout(LINGER, self.writer.flushed()).await;
            }
            End::ConnectTimeout => {
                tracing::warn!("connection closed: no CONNECT within the connect timeout")
            }
            End::Io(e) => tracing::debug!(component = self.name(), error = %e, "connection error"),
            End::Eof | End::PeerError => {}
        }
        let open: Vec<i32> = self.streams.keys().copied().collect();
        for sid in open {
            self.close_stream(sid);
        }
        // Streams a service opened after the loop stopped reading completions: dropping them undoes them. Once
        // the channel is closed, a stream still being opened is undone by its task (see `dispatch`).
        done_rx.close();
        while let Ok(done) = done_rx.try_recv() {
            drop(done);
        }
        if self.component.is_some() {
            tracing::info!(component = self.name(), "component disconnected");
        }
        self.writer.close(WriterClosed("connection closed".into()));
    }
}
