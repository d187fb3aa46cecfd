//! One server connection: handshake, stream bookkeeping, request dispatch and event delivery.
//!
//! All per-connection state lives in one task; slow work (a broker publish that is not immediately done, a
//! subscribe waiting for its SUBACK) runs on its own task and reports back through a channel, so a slow
//! broker never stops the connection from reading, answering pings, or closing streams.

use super::broker::{BrokerError, BrokerPublish, Delivery, MessageSink, SubscriptionId};
use super::topic::{validate_filter, validate_iot_core_topic, TopicUse};
use super::Shared;
use crate::codec::{self, ByteStr, Limits, Message};
use crate::model::{
    error_body, MqttMessage, Operation, PayloadFormat, Qos, UserProperty, MQTT_PROXY_SERVICE,
    PUBLISH_TO_IOT_CORE, SUBSCRIBE_TO_IOT_CORE,
};
use crate::rpc::{self, errors, flags, Frame, FrameWriter, MessageType, WriterClosed};
use crate::ErrorKind;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::io::Read;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::net::UnixStream;
use tokio::sync::mpsc;

const EMPTY_JSON: Bytes = Bytes::from_static(b"{}");
/// How long a rejected or misbehaving client gets to read our last message before we close.
const LINGER: Duration = Duration::from_secs(1);

enum Completion {
    Published {
        stream_id: i32,
        topic: String,
        result: Result<(), BrokerError>,
    },
    Subscribed {
        stream_id: i32,
        filter: String,
        result: Result<SubscriptionId, BrokerError>,
    },
}

enum Stream {
    /// Activated; the response has not been sent yet.
    Pending,
    Subscribing(Arc<EventSink>),
    Subscribed(Arc<EventSink>, SubscriptionId),
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
    streams: HashMap<i32, Stream>,
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
        streams: HashMap::new(),
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
        let mut rbuf = BytesMut::with_capacity(16 * 1024);
        loop {
            // Answers to everything this read brought in go out together, written by this task.
            self.writer.cork();
            loop {
                match codec::decode(&mut rbuf, &self.limits) {
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
            tokio::select! {
                r = self.stream.readable(), if !congested => {
                    let mut ready = match r {
                        Ok(g) => g,
                        Err(e) => return End::Io(e),
                    };
                    match ready.try_io(|s| rpc::read_buf(s.get_ref(), &mut rbuf)) {
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
            Some(o) if o.name == PUBLISH_TO_IOT_CORE.name => self.publish(sid, &frame.payload),
            Some(o) if o.name == SUBSCRIBE_TO_IOT_CORE.name => self.subscribe(sid, &frame.payload),
            Some(o) => {
                let msg = format!("Operation {} is not supported by Greengrass", o.name);
                self.send_error(sid, ErrorKind::ServiceError, &msg, None);
            }
            None => self.send_unsupported(sid, &op),
        }
        None
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

    fn authorized(&self, op: &Operation, resource: &str, filter: bool) -> bool {
        let Some(name) = &self.component else {
            return false;
        };
        match self.shared.components.get(name) {
            Some(c) => c.access.is_authorized(
                MQTT_PROXY_SERVICE,
                op.name,
                resource,
                filter,
                self.shared.config.filter_authorization,
            ),
            None => false,
        }
    }

    /// Checks a request's topic the nucleus' way: present ("Topic is required"), then authorized.
    fn check_topic(
        &self,
        op: &Operation,
        topic: Option<String>,
        filter: bool,
    ) -> Result<String, Refusal> {
        let topic = topic.ok_or_else(|| Refusal::invalid("Topic is required"))?;
        if !self.authorized(op, &topic, filter) {
            return Err(Refusal(
                ErrorKind::UnauthorizedError,
                "Not Authorized".into(),
            ));
        }
        Ok(topic)
    }

    /// Validates a publish in the nucleus' order and builds what the broker gets.
    fn prepare_publish(&self, payload: &[u8]) -> Result<BrokerPublish, Refusal> {
        let req: RawPublish = parse_request(payload)?;
        let topic = self.check_topic(&PUBLISH_TO_IOT_CORE, req.topic_name, false)?;
        let b64 = req
            .payload
            .ok_or_else(|| Refusal::invalid("Payload is required"))?;
        let qos = require_qos(req.qos)?;
        let payload_format = match req.payload_format {
            None => None,
            Some(p) => Some(PayloadFormat::from_wire(&p.0).ok_or_else(|| {
                Refusal::invalid(format!("Invalid PayloadFormat value: {}", p.0))
            })?),
        };
        let payload = decode_blob(&b64, "payload")?;
        let correlation_data = req
            .correlation_data
            .map(|c| decode_blob(&c, "correlationData"))
            .transpose()?;
        let fail = |reason: &str| {
            Refusal(
                ErrorKind::ServiceError,
                format!("Publish to topic {topic} failed: {reason}"),
            )
        };
        validate_iot_core_topic(&topic, TopicUse::Publish, self.shared.config.mqtt5)
            .map_err(|r| fail(&r))?;
        let max = self.shared.config.max_payload_bytes;
        if payload.len() > max {
            return Err(fail(&format!(
                "The publishing message size {} bytes exceeds the configured limit of {max} bytes",
                payload.len()
            )));
        }
        Ok(BrokerPublish {
            component: self.component.clone().unwrap_or_else(|| Arc::from("")),
            qos,
            message: MqttMessage {
                topic_name: Some(topic),
                payload: Some(payload),
                retain: Some(req.retain.unwrap_or(false)),
                user_properties: req.user_properties,
                message_expiry_interval_seconds: req.message_expiry_interval_seconds,
                correlation_data,
                response_topic: req.response_topic,
                payload_format,
                content_type: req.content_type,
            },
        })
    }

    fn publish(&mut self, sid: i32, payload: &[u8]) {
        let publish = match self.prepare_publish(payload) {
            Ok(p) => p,
            Err(Refusal(kind, msg)) => return self.send_error(sid, kind, &msg, None),
        };
        let topic = publish.message.topic().to_string();
        // Poll once here, so brokers see publishes in the order they arrived; finish on a task if needed.
        let broker = self.shared.broker.clone();
        let mut fut: Pin<Box<dyn Future<Output = Result<(), BrokerError>> + Send>> =
            Box::pin(async move { broker.publish(publish).await });
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(result) => self.publish_done(sid, &topic, result),
            Poll::Pending => {
                self.streams.insert(sid, Stream::Pending);
                let tx = self.done_tx.clone();
                tokio::spawn(async move {
                    let result = fut.await;
                    let _ = tx
                        .send(Completion::Published {
                            stream_id: sid,
                            topic,
                            result,
                        })
                        .await;
                });
            }
        }
    }

    fn publish_done(&self, sid: i32, topic: &str, result: Result<(), BrokerError>) {
        match result {
            Ok(()) => {
                self.shared
                    .counters
                    .publishes
                    .fetch_add(1, Ordering::Relaxed);
                self.send(&Frame::json(
                    MessageType::ApplicationMessage,
                    flags::TERMINATE_STREAM,
                    sid,
                    PUBLISH_TO_IOT_CORE.response,
                    EMPTY_JSON,
                ));
            }
            Err(e) => {
                let msg = format!("Publish to topic {topic} failed: {}", e.message);
                self.send_error(sid, ErrorKind::ServiceError, &msg, e.context.as_ref());
            }
        }
    }

    /// Validates a subscription in the nucleus' order; returns the filter and QoS.
    fn prepare_subscribe(&self, payload: &[u8]) -> Result<(String, Qos), Refusal> {
        let req: RawSubscribe = parse_request(payload)?;
        let filter = self.check_topic(&SUBSCRIBE_TO_IOT_CORE, req.topic_name, true)?;
        let qos = require_qos(req.qos)?;
        validate_filter(&filter)
            .map_err(str::to_string)
            .and_then(|_| {
                validate_iot_core_topic(&filter, TopicUse::Subscribe, self.shared.config.mqtt5)
            })
            .map_err(|reason| {
                Refusal(
                    ErrorKind::ServiceError,
                    format!("Subscribe to topic {filter} failed with error {reason}"),
                )
            })?;
        Ok((filter, qos))
    }

    fn subscribe(&mut self, sid: i32, payload: &[u8]) {
        let (filter, qos) = match self.prepare_subscribe(payload) {
            Ok(v) => v,
            Err(Refusal(kind, msg)) => return self.send_error(sid, kind, &msg, None),
        };
        let sink = Arc::new(EventSink {
            shared: self.shared.clone(),
            writer: self.writer.clone(),
            stream_id: sid,
            phase: Mutex::new(Phase::Pending(Vec::new())),
            closed: AtomicBool::new(false),
        });
        self.streams.insert(sid, Stream::Subscribing(sink.clone()));
        let broker = self.shared.broker.clone();
        let tx = self.done_tx.clone();
        let message_sink = MessageSink::new(move |m| sink.deliver(m));
        tokio::spawn(async move {
            let result = broker.subscribe(&filter, qos, message_sink).await;
            let id = result.as_ref().ok().copied();
            let done = Completion::Subscribed {
                stream_id: sid,
                filter,
                result,
            };
            if tx.send(done).await.is_err() {
                // The connection ended while the broker was subscribing: undo it here.
                if let Some(id) = id {
                    broker.unsubscribe(id);
                }
            }
        });
    }

    fn on_completion(&mut self, done: Completion) {
        match done {
            Completion::Published {
                stream_id,
                topic,
                result,
            } => {
                if let Some(Stream::Pending) = self.streams.remove(&stream_id) {
                    self.publish_done(stream_id, &topic, result);
                }
            }
            Completion::Subscribed {
                stream_id,
                filter,
                result,
            } => match (self.streams.remove(&stream_id), result) {
                (Some(Stream::Subscribing(sink)), Ok(id)) => {
                    self.send(&Frame::json(
                        MessageType::ApplicationMessage,
                        0,
                        stream_id,
                        SUBSCRIBE_TO_IOT_CORE.response,
                        EMPTY_JSON,
                    ));
                    sink.activate();
                    self.shared
                        .counters
                        .subscriptions_active
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(component = self.name(), filter = %filter, "subscribed");
                    self.streams.insert(stream_id, Stream::Subscribed(sink, id));
                }
                (Some(Stream::Subscribing(sink)), Err(e)) => {
                    sink.close();
                    let msg = format!(
                        "Subscribe to topic {filter} failed with error {}",
                        e.message
                    );
                    self.send_error(stream_id, ErrorKind::ServiceError, &msg, e.context.as_ref());
                }
                (_, Ok(id)) => self.shared.broker.unsubscribe(id),
                (_, Err(_)) => {}
            },
        }
    }

    /// The client terminated a stream (or the connection is ending): stop its subscription.
    fn close_stream(&mut self, sid: i32) {
        match self.streams.remove(&sid) {
            Some(Stream::Subscribed(sink, id)) => {
                sink.close();
                self.shared.broker.unsubscribe(id);
                self.shared
                    .counters
                    .subscriptions_active
                    .fetch_sub(1, Ordering::Relaxed);
            }
            Some(Stream::Subscribing(sink)) => sink.close(), // unsubscribed when the subscribe completes
            Some(Stream::Pending) | None => {}
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
        // Subscriptions the broker completed after the loop stopped reading completions: undo them. Once the
        // channel is closed, a subscribe still in progress undoes itself (see `subscribe`).
        done_rx.close();
        while let Ok(done) = done_rx.try_recv() {
            if let Completion::Subscribed { result: Ok(id), .. } = done {
                self.shared.broker.unsubscribe(id);
            }
        }
        if self.component.is_some() {
            tracing::info!(component = self.name(), "component disconnected");
        }
        self.writer.close(WriterClosed("connection closed".into()));
    }
}

enum Phase {
    /// Subscribe response not sent yet: keep events to send right after it.
    Pending(Vec<Frame>),
    Ready,
    Closed,
}

/// Delivers a subscription's messages as `IoTCoreMessage` events on its stream.
struct EventSink {
    shared: Arc<Shared>,
    writer: Arc<FrameWriter>,
    stream_id: i32,
    phase: Mutex<Phase>,
    closed: AtomicBool,
}

/// `IoTCoreMessage` serialized from a borrowed message.
#[derive(Serialize)]
struct EventRef<'a> {
    message: &'a MqttMessage,
}

impl EventSink {
    fn frame(&self, m: &MqttMessage) -> Frame {
        let filled;
        let m = if m.retain.is_none() || m.payload_format.is_none() {
            filled = MqttMessage {
                retain: Some(m.retain.unwrap_or(false)),
                payload_format: Some(m.payload_format.unwrap_or(PayloadFormat::Bytes)),
                ..m.clone()
            };
            &filled
        } else {
            m
        };
        let body = serde_json::to_vec(&EventRef { message: m }).unwrap_or_default();
        Frame::json(
            MessageType::ApplicationMessage,
            0,
            self.stream_id,
            "aws.greengrass#IoTCoreMessage",
            body.into(),
        )
    }

    fn deliver(&self, m: &MqttMessage) -> Delivery {
        if self.closed.load(Ordering::Acquire) {
            return Delivery::Closed;
        }
        let frame = self.frame(m);
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
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

    /// The subscribe response is out: send what arrived meanwhile, then deliver directly.
    fn activate(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if let Phase::Pending(q) = std::mem::replace(&mut *phase, Phase::Ready) {
            for f in q {
                let _ = self.writer.send(&f);
            }
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        *self.phase.lock().unwrap_or_else(|e| e.into_inner()) = Phase::Closed;
    }
}

/// An enum member read as its wire string; JSON numbers are accepted too.
struct WireEnum(String);

impl<'de> Deserialize<'de> for WireEnum {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(WireEnum(s)),
            other => Ok(WireEnum(other.to_string())),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPublish {
    topic_name: Option<String>,
    qos: Option<WireEnum>,
    payload: Option<String>,
    retain: Option<bool>,
    user_properties: Option<Vec<UserProperty>>,
    message_expiry_interval_seconds: Option<i64>,
    correlation_data: Option<String>,
    response_topic: Option<String>,
    payload_format: Option<WireEnum>,
    content_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubscribe {
    topic_name: Option<String>,
    qos: Option<WireEnum>,
}

/// A request refused with a modeled error and the nucleus' message.
struct Refusal(ErrorKind, String);

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Refusal(ErrorKind::InvalidArgumentsError, message.into())
    }
}

fn parse_request<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(payload).map_err(|e| Refusal::invalid(format!("Invalid request: {e}")))
}

fn require_qos(qos: Option<WireEnum>) -> Result<Qos, Refusal> {
    let qos = qos.ok_or_else(|| Refusal::invalid("QoS is required"))?;
    Qos::from_wire(&qos.0).ok_or_else(|| Refusal::invalid(format!("Invalid QoS value: {}", qos.0)))
}

fn decode_blob(b64: &str, member: &str) -> Result<Vec<u8>, Refusal> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map_err(|_| Refusal::invalid(format!("Invalid {member}: not standard base64")))
}
