//! A small embedded MQTT broker (MQTT 3.1.1 and 5) so that `ggipc nucleus` works with no external broker while
//! external MQTT tools (`mosquitto_pub`/`mosquitto_sub`, any client library) can watch and inject the "IoT Core"
//! side of the traffic.
//!
//! In-process subscribers (the IPC side) attach directly to the routing table, so an IPC publish reaches an IPC
//! subscriber without a network hop, and external clients see the same messages over TCP.
//!
//! Scope, deliberately small: clean sessions only (a `cleanSession=false` / `cleanStart=false` CONNECT is accepted
//! but no state survives the connection; CONNACK always says "no session present"), QoS 0 and 1 delivery (a QoS 2
//! PUBLISH is accepted with the full PUBREC/PUBREL/PUBCOMP handshake and routed as QoS 1; SUBSCRIBE grants at most
//! QoS 1), retained messages, will messages, keep-alive, client-id take-over, MQTT 5 publish properties and topic
//! aliases from clients. No authentication: it listens on loopback by default.
//!
//! Back-pressure: each connection has a bounded outgoing queue ([`OUTGOING_QUEUE`] packets). Before a QoS 1
//! message is routed, the broker waits until every matching QoS 1 subscriber can take it — an in-process
//! subscriber through its flow handle ([`ggipc::server::MessageSink::ready`]), a TCP client until its queue has
//! room, each at most the stall timeout ([`EmbeddedBroker::set_stall_timeout`], 2 s by default) — and stops
//! reading the publishing TCP connection meanwhile, so a slow subscriber slows its publishers instead of losing
//! their messages. A message for a TCP subscriber whose queue is still full is dropped and counted
//! ([`EmbeddedBroker::dropped`]) with a warning, so one stalled client holds the others up at most that long.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::msg::{Msg, Props};
use super::topic;
use ggipc::server::topic_index::TopicIndex;

/// Outgoing packets queued per connection before deliveries to it are dropped.
pub const OUTGOING_QUEUE: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Callback for an in-process subscription. Must not block: it runs on the publisher's task.
pub type LocalSink = Arc<dyn Fn(&Msg) + Send + Sync>;

/// Identifies an in-process subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalSubId(pub u64);

enum Target {
    Remote {
        conn: u64,
        tx: mpsc::Sender<Out>,
        no_local: bool,
    },
    Local {
        sink: LocalSink,
        /// Flow control of an IPC subscription: what a QoS 1 publish waits for.
        flow: Option<ggipc::server::MessageSink>,
    },
}

struct SubEntry {
    qos: u8,
    target: Target,
}

#[derive(Default)]
struct State {
    /// Every subscription by filter, keyed by an id from `Shared::next_id` (so key order is subscription order).
    subs: TopicIndex<SubEntry>,
    retained: BTreeMap<String, Msg>,
    /// When each retained message with an expiry interval arrived (MQTT 5: its remaining interval counts down).
    retained_at: HashMap<String, std::time::Instant>,
    /// client id -> (connection id, take-over signal)
    clients: HashMap<String, (u64, Option<oneshot::Sender<()>>)>,
}

struct Shared {
    state: Mutex<State>,
    next_id: AtomicU64,
    dropped: AtomicU64,
    max_packet: usize,
    /// How long a QoS 1 publish waits for one subscriber that is behind, in milliseconds.
    stall_ms: AtomicU64,
}

/// Handle to the broker's routing table; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedBroker {
    shared: Arc<Shared>,
}

enum Out {
    Packet(Bytes),
    Deliver(Arc<Msg>, u8, bool),
    Close,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Version {
    V4,
    V5,
}

impl EmbeddedBroker {
    /// A broker with no listener yet (see [`EmbeddedBroker::listen`]). `max_packet` bounds every incoming packet.
    pub fn new(max_packet: usize) -> Self {
        EmbeddedBroker {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                next_id: AtomicU64::new(1),
                dropped: AtomicU64::new(0),
                max_packet,
                stall_ms: AtomicU64::new(2000),
            }),
        }
    }

    /// How long a QoS 1 publish waits for one TCP subscriber whose queue is full before that subscriber loses
    /// the message (in-process subscribers follow the IPC server's `subscriber_stall_timeout`).
    pub fn set_stall_timeout(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.shared.stall_ms.store(ms, Ordering::Relaxed);
    }

    /// Waits until every QoS 1 subscriber matching `topic` can take a message without loss (each at most the
    /// stall timeout). A QoS 0 message never waits.
    pub async fn wait_ready(&self, topic: &str, qos: u8) {
        if qos == 0 {
            return;
        }
        let (flows, queues) = {
            let st = self.shared.state.lock().expect("broker state poisoned");
            let mut flows = Vec::new();
            let mut queues = Vec::new();
            for (_, _, s) in st.subs.matches(topic) {
                if s.qos == 0 {
                    continue;
                }
                match &s.target {
                    Target::Local { flow: Some(f), .. } if !f.has_capacity() => {
                        flows.push(f.clone())
                    }
                    Target::Remote { tx, .. } if tx.capacity() == 0 => queues.push(tx.clone()),
                    _ => {}
                }
            }
            (flows, queues)
        };
        ggipc::server::ready_all(flows).await;
        // All TCP subscribers within one stall timeout.
        let stall = Duration::from_millis(self.shared.stall_ms.load(Ordering::Relaxed));
        let deadline = tokio::time::Instant::now() + stall;
        for q in queues {
            // A reserved slot is given back when the permit drops: this only waits for room.
            if tokio::time::timeout_at(deadline, q.reserve())
                .await
                .is_err()
            {
                tracing::warn!(topic, waited = ?stall, "MQTT subscriber stalled; it loses this message");
            }
        }
    }

    /// Messages dropped because a subscriber's queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Binds `addr` (port 0 = ephemeral) and serves MQTT clients in a background task until the returned handle is
    /// dropped or aborted. Returns the bound address.
    pub async fn listen(
        &self,
        addr: SocketAddr,
    ) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        let broker = self.clone();
        let task = tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let b = broker.clone();
                        tokio::spawn(async move {
                            if let Err(e) = b.serve_connection(stream).await {
                                tracing::debug!(%peer, "mqtt connection ended: {e}");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!("embedded broker accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        Ok((local, task))
    }

    /// Routes a message to every matching subscriber (and stores it if retained). `from_conn` is the publishing
    /// connection, for MQTT 5 "no local".
    pub fn publish(&self, msg: Msg) {
        self.route(msg, None);
    }

    fn route(&self, msg: Msg, from_conn: Option<u64>) {
        let mut remote: HashMap<u64, (mpsc::Sender<Out>, u8)> = HashMap::new();
        let mut local: Vec<LocalSink> = Vec::new();
        {
            let mut st = self.shared.state.lock().expect("broker state poisoned");
            if msg.retain {
                if msg.payload.is_empty() {
                    st.retained.remove(&msg.topic);
                    st.retained_at.remove(&msg.topic);
                } else {
                    st.retained.insert(msg.topic.clone(), msg.clone());
                    if msg.props.message_expiry_interval.is_some() {
                        st.retained_at
                            .insert(msg.topic.clone(), std::time::Instant::now());
                    } else {
                        st.retained_at.remove(&msg.topic);
                    }
                }
            }
            for (_, _, s) in st.subs.matches(&msg.topic) {
                match &s.target {
                    Target::Remote { conn, tx, no_local } => {
                        if *no_local && Some(*conn) == from_conn {
                            continue;
                        }
                        let qos = s.qos.min(msg.qos);
                        let e = remote.entry(*conn).or_insert_with(|| (tx.clone(), qos));
                        e.1 = e.1.max(qos);
                    }
                    Target::Local { sink, .. } => local.push(sink.clone()),
                }
            }
        }
        let shared_msg = Arc::new(Msg {
            retain: false,
            ..msg
        });
        for sink in local {
            sink(&shared_msg);
        }
        for (_, (tx, qos)) in remote {
            if tx
                .try_send(Out::Deliver(shared_msg.clone(), qos, false))
                .is_err()
            {
                let n = self.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(topic = %shared_msg.topic, dropped_total = n, "subscriber queue full, message dropped");
            }
        }
    }

    /// Adds an in-process subscription. Returns its id and the retained messages that match the filter (the caller
    /// decides when to deliver them).
    pub fn subscribe_local(
        &self,
        filter: &str,
        qos: u8,
        sink: LocalSink,
    ) -> (LocalSubId, Vec<Msg>) {
        self.subscribe_local_with_flow(filter, qos, sink, None)
    }

    /// [`subscribe_local`](Self::subscribe_local) with flow control: QoS 1 publishes wait for `flow` to be ready.
    pub fn subscribe_local_with_flow(
        &self,
        filter: &str,
        qos: u8,
        sink: LocalSink,
        flow: Option<ggipc::server::MessageSink>,
    ) -> (LocalSubId, Vec<Msg>) {
        let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let mut st = self.shared.state.lock().expect("broker state poisoned");
        st.subs.insert(
            id,
            filter,
            SubEntry {
                qos: qos.min(1),
                target: Target::Local { sink, flow },
            },
        );
        let retained = live_retained(&mut st, filter);
        (LocalSubId(id), retained)
    }

    /// Removes an in-process subscription (no-op if already removed).
    pub fn unsubscribe_local(&self, id: LocalSubId) {
        let mut st = self.shared.state.lock().expect("broker state poisoned");
        if st
            .subs
            .get(id.0)
            .is_some_and(|(_, s)| matches!(s.target, Target::Local { .. }))
        {
            st.subs.remove(id.0);
        }
    }

    /// Number of subscriptions (remote and local), for tests and diagnostics.
    pub fn subscription_count(&self) -> usize {
        self.shared
            .state
            .lock()
            .expect("broker state poisoned")
            .subs
            .len()
    }

    async fn serve_connection(&self, stream: TcpStream) -> Result<(), String> {
        let (mut rd, mut wr) = stream.into_split();
        let mut buf = BytesMut::with_capacity(4096);
        let max = self.shared.max_packet;

        // CONNECT, with a deadline; the protocol level decides the codec.
        let first = tokio::time::timeout(CONNECT_TIMEOUT, async {
            loop {
                if let Some(level) = connect_level(&buf)? {
                    return Ok(level);
                }
                if buf.len() > 64 * 1024 {
                    return Err("no CONNECT in the first 64 KiB".to_owned());
                }
                let n = rd.read_buf(&mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("closed before CONNECT".to_owned());
                }
            }
        })
        .await
        .map_err(|_| "no CONNECT within the connect timeout".to_owned())??;

        let version = match first {
            4 => Version::V4,
            5 => Version::V5,
            other => {
                // MQTT 3.1 (level 3) and unknown levels: refuse with "unacceptable protocol version".
                let mut out = BytesMut::new();
                let _ = v4::ConnAck::new(v4::ConnectReturnCode::RefusedProtocolVersion, false)
                    .write(&mut out);
                let _ = wr.write_all(&out).await;
                return Err(format!("unsupported MQTT protocol level {other}"));
            }
        };

        let conn_id = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let mut session = Session {
            broker: self.clone(),
            version,
            conn_id,
            will: None,
            keep_alive: 0,
            aliases: HashMap::new(),
            qos2_pending: Vec::new(),
            client_id: String::new(),
        };

        // Read the full CONNECT packet.
        let connect = loop {
            match session.read_packet(&mut buf, max) {
                Ok(Some(p)) => break p,
                Ok(None) => {
                    let n = tokio::time::timeout(CONNECT_TIMEOUT, rd.read_buf(&mut buf))
                        .await
                        .map_err(|_| "CONNECT incomplete".to_owned())?
                        .map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Err("closed during CONNECT".to_owned());
                    }
                }
                Err(e) => return Err(format!("invalid CONNECT: {e}")),
            }
        };
        let (tx, rx) = mpsc::channel::<Out>(OUTGOING_QUEUE);
        let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
        let connack = match session.on_connect(connect, kill_tx) {
            Ok(ack) => ack,
            Err(e) => return Err(e),
        };
        wr.write_all(&connack).await.map_err(|e| e.to_string())?;

        let writer = tokio::spawn(writer_task(wr, rx, version, max));

        let keep_alive = if session.keep_alive == 0 {
            None
        } else {
            Some(Duration::from_millis(u64::from(session.keep_alive) * 1500))
        };
        let mut clean_disconnect = false;
        let result: Result<(), String> = 'outer: loop {
            loop {
                match session.read_packet(&mut buf, max) {
                    Ok(Some(p)) => match session.on_packet(p, &tx).await {
                        Ok(true) => {}
                        Ok(false) => {
                            clean_disconnect = true;
                            break 'outer Ok(());
                        }
                        Err(e) => break 'outer Err(e),
                    },
                    Ok(None) => break,
                    Err(e) => break 'outer Err(format!("malformed packet: {e}")),
                }
            }
            let read = rd.read_buf(&mut buf);
            let n = tokio::select! {
                r = async {
                    match keep_alive {
                        Some(d) => tokio::time::timeout(d, read).await.map_err(|_| "keep-alive timeout".to_owned()),
                        None => Ok(read.await),
                    }
                } => match r {
                    Ok(Ok(n)) => n,
                    Ok(Err(e)) => break Err(e.to_string()),
                    Err(e) => break Err(e),
                },
                _ = &mut kill_rx => break Err("session taken over by a new connection with the same client id".into()),
            };
            if n == 0 {
                break Err("connection closed by client without DISCONNECT".to_owned());
            }
        };

        session.cleanup(clean_disconnect);
        let _ = tx.try_send(Out::Close);
        drop(tx);
        let _ = writer.await;
        result
    }
}

/// The protocol level of a CONNECT at the start of `buf`, once enough bytes are there (`Ok(None)` = need more).
/// Anything that cannot be the start of a CONNECT is an error right away.
fn connect_level(buf: &[u8]) -> Result<Option<u8>, String> {
    // Fixed header: 0x10, 1..=4 bytes of remaining length; then the protocol name ("MQTT", or "MQIsdp" for 3.1)
    // as a 2-byte length and bytes, then the level byte.
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    if first != 0x10 {
        return Err(format!("first packet is not CONNECT (byte {first:#04x})"));
    }
    let mut i = 1;
    loop {
        let Some(&b) = buf.get(i) else {
            return Ok(None);
        };
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        if i > 4 {
            return Err("malformed remaining length in CONNECT".to_owned());
        }
    }
    let (Some(&h), Some(&l)) = (buf.get(i), buf.get(i + 1)) else {
        return Ok(None);
    };
    let name_len = u16::from_be_bytes([h, l]) as usize;
    if name_len != 4 && name_len != 6 {
        return Err("CONNECT does not carry the MQTT protocol name".to_owned());
    }
    let Some(name) = buf.get(i + 2..i + 2 + name_len) else {
        return Ok(None);
    };
    if name != b"MQTT" && name != b"MQIsdp" {
        return Err("CONNECT does not carry the MQTT protocol name".to_owned());
    }
    Ok(buf.get(i + 2 + name_len).copied())
}

struct Session {
    broker: EmbeddedBroker,
    version: Version,
    conn_id: u64,
    will: Option<Msg>,
    keep_alive: u16,
    aliases: HashMap<u16, String>,
    qos2_pending: Vec<u16>,
    client_id: String,
}

// One decoded packet at a time, never stored: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Incoming {
    V4(v4::Packet),
    V5(v5::Packet),
}

impl Session {
    fn read_packet(&self, buf: &mut BytesMut, max: usize) -> Result<Option<Incoming>, String> {
        match self.version {
            Version::V4 => match v4::Packet::read(buf, max) {
                Ok(p) => Ok(Some(Incoming::V4(p))),
                Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
            Version::V5 => match v5::Packet::read(buf, Some(max as u32)) {
                Ok(p) => Ok(Some(Incoming::V5(p))),
                Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
        }
    }

    fn on_connect(&mut self, p: Incoming, kill: oneshot::Sender<()>) -> Result<Bytes, String> {
        let mut out = BytesMut::new();
        let (client_id, keep_alive) = match p {
            Incoming::V4(v4::Packet::Connect(c)) => {
                self.will = c.last_will.map(|w| Msg {
                    topic: w.topic,
                    payload: w.message,
                    qos: (w.qos as u8).min(1),
                    retain: w.retain,
                    props: Props::default(),
                });
                let _ = v4::ConnAck::new(v4::ConnectReturnCode::Success, false).write(&mut out);
                (c.client_id, c.keep_alive)
            }
            Incoming::V5(v5::Packet::Connect(c, will, _login)) => {
                self.will = will.map(|w| Msg {
                    topic: String::from_utf8_lossy(&w.topic).into_owned(),
                    payload: w.message,
                    qos: (w.qos as u8).min(1),
                    retain: w.retain,
                    props: w
                        .properties
                        .map(|p| Props {
                            payload_format_utf8: p.payload_format_indicator.map(|v| v == 1),
                            message_expiry_interval: p.message_expiry_interval,
                            content_type: p.content_type,
                            response_topic: p.response_topic,
                            correlation_data: p.correlation_data,
                            user_properties: p.user_properties,
                        })
                        .unwrap_or_default(),
                });
                let assigned = c
                    .client_id
                    .is_empty()
                    .then(|| format!("ggipc-auto-{}", self.conn_id));
                let props = v5::ConnAckProperties {
                    max_qos: None,
                    retain_available: Some(1),
                    max_packet_size: Some(self.broker.shared.max_packet as u32),
                    assigned_client_identifier: assigned.clone(),
                    topic_alias_max: Some(0),
                    wildcard_subscription_available: Some(1),
                    subscription_identifiers_available: Some(0),
                    shared_subscription_available: Some(0),
                    session_expiry_interval: None,
                    receive_max: None,
                    reason_string: None,
                    user_properties: Vec::new(),
                    server_keep_alive: None,
                    response_information: None,
                    server_reference: None,
                    authentication_method: None,
                    authentication_data: None,
                };
                let ack = v5::ConnAck {
                    session_present: false,
                    code: v5::ConnectReturnCode::Success,
                    properties: Some(props),
                };
                let _ = ack.write(&mut out);
                (assigned.unwrap_or(c.client_id), c.keep_alive)
            }
            _ => return Err("first packet is not CONNECT".to_owned()),
        };
        self.keep_alive = keep_alive;
        let client_id = if client_id.is_empty() {
            format!("ggipc-auto-{}", self.conn_id)
        } else {
            client_id
        };
        self.client_id = client_id.clone();
        let mut st = self
            .broker
            .shared
            .state
            .lock()
            .expect("broker state poisoned");
        if let Some((_, Some(old))) = st.clients.insert(client_id, (self.conn_id, Some(kill))) {
            let _ = old.send(());
        }
        Ok(out.freeze())
    }

    async fn send(&self, tx: &mpsc::Sender<Out>, out: BytesMut) -> Result<(), String> {
        tx.send(Out::Packet(out.freeze()))
            .await
            .map_err(|_| "writer closed".to_owned())
    }

    /// Handles one packet after CONNECT. Ok(false) = clean DISCONNECT.
    async fn on_packet(&mut self, p: Incoming, tx: &mpsc::Sender<Out>) -> Result<bool, String> {
        let mut out = BytesMut::new();
        match p {
            Incoming::V4(p) => match p {
                v4::Packet::Publish(p) => {
                    if !topic::valid_topic_name(&p.topic) {
                        return Err(format!("invalid topic name {:?}", p.topic));
                    }
                    let qos = p.qos as u8;
                    let pkid = p.pkid;
                    let msg = Msg {
                        topic: p.topic,
                        payload: p.payload,
                        qos: qos.min(1),
                        retain: p.retain,
                        props: Props::default(),
                    };
                    self.broker.wait_ready(&msg.topic, msg.qos).await;
                    self.publish_in(msg, qos, pkid);
                    match qos {
                        1 => {
                            let _ = v4::PubAck::new(pkid).write(&mut out);
                            self.send(tx, out).await?;
                        }
                        2 => {
                            let _ = v4::PubRec::new(pkid).write(&mut out);
                            self.send(tx, out).await?;
                        }
                        _ => {}
                    }
                }
                v4::Packet::PubRel(r) => {
                    self.qos2_pending.retain(|id| *id != r.pkid);
                    let _ = v4::PubComp::new(r.pkid).write(&mut out);
                    self.send(tx, out).await?;
                }
                v4::Packet::Subscribe(s) => {
                    let mut codes = Vec::new();
                    let mut granted = Vec::new();
                    for f in s.filters {
                        if topic::valid_filter(&f.path) {
                            let q = (f.qos as u8).min(1);
                            codes.push(v4::SubscribeReasonCode::Success(qos_from(q)));
                            granted.push((f.path, q, false));
                        } else {
                            codes.push(v4::SubscribeReasonCode::Failure);
                        }
                    }
                    let _ = v4::SubAck::new(s.pkid, codes).write(&mut out);
                    self.send(tx, out).await?;
                    self.add_subscriptions(granted, tx);
                }
                v4::Packet::Unsubscribe(u) => {
                    self.remove_subscriptions(&u.topics);
                    let _ = v4::UnsubAck::new(u.pkid).write(&mut out);
                    self.send(tx, out).await?;
                }
                v4::Packet::PingReq => {
                    let _ = v4::PingResp.write(&mut out);
                    self.send(tx, out).await?;
                }
                v4::Packet::Disconnect => return Ok(false),
                v4::Packet::PubAck(_) | v4::Packet::PubRec(_) | v4::Packet::PubComp(_) => {}
                v4::Packet::Connect(_) => return Err("second CONNECT".to_owned()),
                other => return Err(format!("unexpected packet from client: {other:?}")),
            },
            Incoming::V5(p) => match p {
                v5::Packet::Publish(p) => {
                    let mut topic_name =
                        String::from_utf8(p.topic.to_vec()).map_err(|_| "topic not UTF-8")?;
                    if let Some(alias) = p.properties.as_ref().and_then(|pp| pp.topic_alias) {
                        if topic_name.is_empty() {
                            topic_name = self
                                .aliases
                                .get(&alias)
                                .cloned()
                                .ok_or("unknown topic alias")?;
                        } else {
                            self.aliases.insert(alias, topic_name.clone());
                        }
                    }
                    if !topic::valid_topic_name(&topic_name) {
                        return Err(format!("invalid topic name {topic_name:?}"));
                    }
                    let qos = p.qos as u8;
                    let pkid = p.pkid;
                    let props = Msg::props_from_v5(p.properties.as_ref());
                    let msg = Msg {
                        topic: topic_name,
                        payload: p.payload,
                        qos: qos.min(1),
                        retain: p.retain,
                        props,
                    };
                    self.broker.wait_ready(&msg.topic, msg.qos).await;
                    self.publish_in(msg, qos, pkid);
                    match qos {
                        1 => {
                            let _ = v5::PubAck::new(pkid, None).write(&mut out);
                            self.send(tx, out).await?;
                        }
                        2 => {
                            let _ = v5::PubRec::new(pkid, None).write(&mut out);
                            self.send(tx, out).await?;
                        }
                        _ => {}
                    }
                }
                v5::Packet::PubRel(r) => {
                    self.qos2_pending.retain(|id| *id != r.pkid);
                    let _ = v5::PubComp::new(r.pkid, None).write(&mut out);
                    self.send(tx, out).await?;
                }
                v5::Packet::Subscribe(s) => {
                    let mut codes = Vec::new();
                    let mut granted = Vec::new();
                    for f in s.filters {
                        if f.path.starts_with("$share/") {
                            codes.push(v5::SubscribeReasonCode::SharedSubscriptionsNotSupported);
                        } else if topic::valid_filter(&f.path) {
                            let q = (f.qos as u8).min(1);
                            codes.push(v5::SubscribeReasonCode::Success(qos5_from(q)));
                            granted.push((f.path, q, f.nolocal));
                        } else {
                            codes.push(v5::SubscribeReasonCode::TopicFilterInvalid);
                        }
                    }
                    let _ = v5::SubAck {
                        pkid: s.pkid,
                        return_codes: codes,
                        properties: None,
                    }
                    .write(&mut out);
                    self.send(tx, out).await?;
                    self.add_subscriptions(granted, tx);
                }
                v5::Packet::Unsubscribe(u) => {
                    self.remove_subscriptions(&u.filters);
                    let reasons = u
                        .filters
                        .iter()
                        .map(|_| v5::UnsubAckReason::Success)
                        .collect();
                    let _ = v5::UnsubAck {
                        pkid: u.pkid,
                        reasons,
                        properties: None,
                    }
                    .write(&mut out);
                    self.send(tx, out).await?;
                }
                v5::Packet::PingReq(_) => {
                    let _ = v5::PingResp::write(&mut out);
                    self.send(tx, out).await?;
                }
                v5::Packet::Disconnect(d) => {
                    // Reason 0x04 = "disconnect with will message".
                    if d.reason_code != v5::DisconnectReasonCode::DisconnectWithWillMessage {
                        self.will = None;
                    }
                    return Ok(false);
                }
                v5::Packet::PubAck(_) | v5::Packet::PubRec(_) | v5::Packet::PubComp(_) => {}
                v5::Packet::Connect(..) => return Err("second CONNECT".to_owned()),
                other => return Err(format!("unexpected packet from client: {other:?}")),
            },
        }
        Ok(true)
    }

    fn publish_in(&mut self, msg: Msg, qos: u8, pkid: u16) {
        if qos == 2 {
            // Exactly-once from the client: a re-sent PUBLISH with a pending id is a duplicate.
            if self.qos2_pending.contains(&pkid) {
                return;
            }
            self.qos2_pending.push(pkid);
        }
        self.broker.route(msg, Some(self.conn_id));
    }

    fn add_subscriptions(&self, granted: Vec<(String, u8, bool)>, tx: &mpsc::Sender<Out>) {
        let mut retained = Vec::new();
        {
            let mut st = self
                .broker
                .shared
                .state
                .lock()
                .expect("broker state poisoned");
            for (filter, qos, no_local) in granted {
                // A new subscription with the same filter replaces the old one (MQTT 3.8.4).
                let conn = self.conn_id;
                for key in st.subs.keys_of_filter(&filter) {
                    if st.subs.get(key).is_some_and(
                        |(_, s)| matches!(s.target, Target::Remote { conn: c, .. } if c == conn),
                    ) {
                        st.subs.remove(key);
                    }
                }
                for m in live_retained(&mut st, &filter) {
                    let q = qos.min(m.qos);
                    retained.push((Arc::new(m), q));
                }
                let key = self.broker.shared.next_id.fetch_add(1, Ordering::Relaxed);
                st.subs.insert(
                    key,
                    &filter,
                    SubEntry {
                        qos,
                        target: Target::Remote {
                            conn,
                            tx: tx.clone(),
                            no_local,
                        },
                    },
                );
            }
        }
        for (m, q) in retained {
            if tx.try_send(Out::Deliver(m, q, true)).is_err() {
                self.broker.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn remove_subscriptions(&self, filters: &[String]) {
        let conn = self.conn_id;
        let mut st = self
            .broker
            .shared
            .state
            .lock()
            .expect("broker state poisoned");
        for filter in filters {
            for key in st.subs.keys_of_filter(filter) {
                if st.subs.get(key).is_some_and(
                    |(_, s)| matches!(s.target, Target::Remote { conn: c, .. } if c == conn),
                ) {
                    st.subs.remove(key);
                }
            }
        }
    }

    fn cleanup(&mut self, clean: bool) {
        let conn = self.conn_id;
        {
            let mut st = self
                .broker
                .shared
                .state
                .lock()
                .expect("broker state poisoned");
            st.subs
                .retain(|_, _, s| !matches!(s.target, Target::Remote { conn: c, .. } if c == conn));
            if st.clients.get(&self.client_id).map(|(c, _)| *c) == Some(conn) {
                st.clients.remove(&self.client_id);
            }
        }
        if clean && self.version == Version::V4 {
            self.will = None;
        }
        if let Some(will) = self.will.take() {
            self.broker.route(will, None);
        }
    }
}

/// The retained messages matching `filter`, each with the expiry interval it has left (MQTT 5 §3.3.2.3.3);
/// expired ones are forgotten. They keep `retain: true`.
fn live_retained(st: &mut State, filter: &str) -> Vec<Msg> {
    let now = std::time::Instant::now();
    let mut out = Vec::new();
    let mut expired = Vec::new();
    for m in st.retained.values() {
        if !topic::matches(filter, &m.topic) {
            continue;
        }
        let mut m = m.clone();
        if let (Some(interval), Some(at)) = (
            m.props.message_expiry_interval,
            st.retained_at.get(&m.topic),
        ) {
            let elapsed = u32::try_from(now.duration_since(*at).as_secs()).unwrap_or(u32::MAX);
            if elapsed >= interval {
                expired.push(m.topic.clone());
                continue;
            }
            m.props.message_expiry_interval = Some(interval - elapsed);
        }
        out.push(m);
    }
    for t in expired {
        st.retained.remove(&t);
        st.retained_at.remove(&t);
    }
    out
}

fn qos_from(q: u8) -> rumqttc::QoS {
    if q == 0 {
        rumqttc::QoS::AtMostOnce
    } else {
        rumqttc::QoS::AtLeastOnce
    }
}

fn qos5_from(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    if q == 0 {
        rumqttc::v5::mqttbytes::QoS::AtMostOnce
    } else {
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce
    }
}

async fn writer_task(
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Out>,
    version: Version,
    max: usize,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut next_pkid: u16 = 0;
    'outer: while let Some(first) = rx.recv().await {
        let mut item = Some(first);
        // Coalesce whatever is already queued into one write.
        while let Some(out) = item.take() {
            match out {
                Out::Packet(b) => buf.extend_from_slice(&b),
                Out::Deliver(m, qos, retained) => {
                    let pkid = if qos > 0 {
                        next_pkid = if next_pkid == u16::MAX {
                            1
                        } else {
                            next_pkid + 1
                        };
                        next_pkid
                    } else {
                        0
                    };
                    let res = match version {
                        Version::V4 => {
                            let mut p = v4::Publish::from_bytes(
                                m.topic.clone(),
                                qos_from(qos),
                                m.payload.clone(),
                            );
                            p.pkid = pkid;
                            p.retain = retained;
                            v4::Packet::Publish(p)
                                .write(&mut buf, max)
                                .map_err(|e| e.to_string())
                        }
                        Version::V5 => {
                            let mut p = v5::Publish::new(
                                m.topic.clone(),
                                qos5_from(qos),
                                m.payload.clone(),
                                m.to_v5_properties(),
                            );
                            p.pkid = pkid;
                            p.retain = retained;
                            v5::Packet::Publish(p)
                                .write(&mut buf, Some(max as u32))
                                .map_err(|e| e.to_string())
                        }
                    };
                    if let Err(e) = res {
                        tracing::warn!(topic = %m.topic, "cannot forward message to MQTT client: {e}");
                    }
                }
                Out::Close => {
                    let _ = wr.write_all(&buf).await;
                    break 'outer;
                }
            }
            if buf.len() < 64 * 1024 {
                item = rx.try_recv().ok();
            }
        }
        if wr.write_all(&buf).await.is_err() {
            break;
        }
        buf.clear();
    }
    let _ = wr.shutdown().await;
}
