//! The embedded MQTT broker (MQTT 3.1.1 and 5), so that `ggipc nucleus` works with no external broker while
//! external MQTT tools (`mosquitto_pub`/`mosquitto_sub`, any client library) can watch and inject the "IoT Core"
//! side of the traffic.
//!
//! In-process subscribers (the IPC side) attach directly to the routing table, so an IPC publish reaches an IPC
//! subscriber without a network hop, and external clients see the same messages over TCP.
//!
//! Towards TCP clients it is an MQTT broker with sessions:
//!
//! - **Sessions** live per client id, in memory (they do not survive a nucleus restart). A clean connection
//!   (3.1.1 clean session = 1, MQTT 5 clean start = 1) discards the old one. A 3.1.1 connection with clean
//!   session = 0 keeps its session for [`Limits::max_session_expiry_seconds`] after it ends; an MQTT 5 one for its
//!   session expiry interval, capped by the same bound (the cap is announced in CONNACK). A resumed session says
//!   "session present" and keeps its subscriptions.
//! - **QoS 1 towards subscribers**: every QoS 1 message sent is in flight until its PUBACK, under a packet id
//!   not in use by another message in flight (ids wrap from 65,535 to 1, skipping ids in use). At most the
//!   client's Receive Maximum (MQTT 5) and at most [`Limits::max_inflight_messages`] are in flight; the rest wait
//!   in the session's queue. When a session is resumed, the messages still in flight are sent again first, with
//!   their packet ids and DUP = 1, then the queue.
//! - **Offline queueing**: while a persistent session has no connection, QoS 1 messages for it are queued (QoS 0
//!   are not), bounded by [`Limits::max_queued_messages`] and [`Limits::max_queued_bytes`]; overflow is dropped,
//!   counted ([`EmbeddedStats::dropped`]) and logged once per episode. The same queue bounds a connected client
//!   that does not keep up.
//! - **Maximum Packet Size** of an MQTT 5 client: a message whose PUBLISH would be larger is not sent to that
//!   client; it is counted ([`EmbeddedStats::oversize_dropped`]), logged, and treated as delivered (MQTT 5
//!   §3.1.2.11.4).
//! - **Bounds**: retained messages ([`Limits::max_retained_messages`], [`Limits::max_retained_bytes`]: a retained
//!   message past them is delivered but not kept, counted and logged), topic aliases from clients (Topic Alias
//!   Maximum announced in CONNACK; an alias outside it closes the connection with "topic alias invalid"), TCP
//!   connections ([`Limits::max_connections`]: past it a CONNECT is refused with "server unavailable" / "quota
//!   exceeded"), packets from clients ([`Limits::max_packet_size`], announced in CONNACK: a larger one closes the
//!   connection, for MQTT 5 with DISCONNECT "packet too large").
//! - **Authentication** (optional): with a password file ([`Limits::password_file`], see [`super::passwd`]),
//!   every CONNECT needs a listed user name and its password: none gives "not authorized", a wrong one "bad user
//!   name or password".
//!
//! Also: QoS 2 PUBLISH from clients with the full PUBREC/PUBREL/PUBCOMP handshake, routed as QoS 1 (SUBSCRIBE
//! grants at most QoS 1); retained messages to every new subscription with the MQTT 5 expiry counted down; will
//! messages; keep-alive; client-id take-over; MQTT 5 publish properties, no-local. Not supported: TLS, shared
//! subscriptions, subscription identifiers, topic aliases towards clients, enhanced authentication.
//!
//! Back-pressure: before a QoS 1 message is routed, the broker waits until every matching QoS 1 subscriber can
//! take it — an in-process subscriber through its flow handle ([`ggipc::server::MessageSink::ready`]), a
//! connected TCP client until its session queue has room, each at most the stall timeout
//! ([`EmbeddedBroker::set_stall_timeout`], 2 s by default) — and stops reading the publishing TCP connection
//! meanwhile, so a slow subscriber slows its publishers instead of losing their messages.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

use super::msg::{Msg, Props};
use super::passwd;
use super::topic;
use crate::config::defaults;
use ggipc::server::topic_index::TopicIndex;

/// Default of [`Limits::max_queued_messages`] (`mqtt.embedded.maxQueuedMessages`).
pub const OUTGOING_QUEUE: usize = defaults::EMBEDDED_MAX_QUEUED_MESSAGES;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Control packets (acknowledgements) a client may have waiting unsent before it is disconnected: it sends
/// requests without reading the answers.
const CONTROL_BACKLOG: usize = 8192;
/// How much the writer takes from a session per socket write.
const WRITE_BATCH: usize = 64 * 1024;

/// The broker's bounds: the `mqtt.embedded.*` configuration keys.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest packet accepted from a client (announced as Maximum Packet Size).
    pub max_packet_size: usize,
    /// TCP connections served at once; past it a CONNECT is refused.
    pub max_connections: usize,
    /// Messages queued per session (connected and not keeping up, or offline); past it they are dropped.
    pub max_queued_messages: usize,
    /// Bytes of messages queued per session (0 = no byte bound).
    pub max_queued_bytes: usize,
    /// QoS 1 messages in flight per client at most (an MQTT 5 client's Receive Maximum may lower it).
    pub max_inflight_messages: u16,
    /// Retained messages kept at most.
    pub max_retained_messages: usize,
    /// Bytes of retained messages kept at most.
    pub max_retained_bytes: usize,
    /// Topic Alias Maximum announced to MQTT 5 clients (0 = aliases refused).
    pub topic_alias_maximum: u16,
    /// The longest an offline session is kept (3.1.1 clean session = 0 sessions are kept this long).
    pub max_session_expiry_seconds: u32,
    /// Password file; `None` = no authentication.
    pub password_file: Option<PathBuf>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_packet_size: defaults::EMBEDDED_MAX_PACKET_SIZE,
            max_connections: defaults::EMBEDDED_MAX_CONNECTIONS,
            max_queued_messages: defaults::EMBEDDED_MAX_QUEUED_MESSAGES,
            max_queued_bytes: defaults::EMBEDDED_MAX_QUEUED_BYTES,
            max_inflight_messages: defaults::EMBEDDED_MAX_INFLIGHT_MESSAGES,
            max_retained_messages: defaults::EMBEDDED_MAX_RETAINED_MESSAGES,
            max_retained_bytes: defaults::EMBEDDED_MAX_RETAINED_BYTES,
            topic_alias_maximum: defaults::EMBEDDED_TOPIC_ALIAS_MAXIMUM,
            max_session_expiry_seconds: defaults::EMBEDDED_MAX_SESSION_EXPIRY_SECONDS,
            password_file: None,
        }
    }
}

/// Counters and sizes, for `ggipc status` and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmbeddedStats {
    /// Messages dropped because a session's queue was full.
    pub dropped: u64,
    /// Messages not sent because they were larger than the client's Maximum Packet Size.
    pub oversize_dropped: u64,
    /// Retained messages delivered but not kept (retained bounds reached).
    pub retained_refused: u64,
    /// CONNECTs refused because of the connection bound.
    pub connections_refused: u64,
    /// CONNECTs refused for missing or wrong credentials.
    pub auth_refused: u64,
    /// Messages sent again with DUP = 1 on a resumed session.
    pub resent: u64,
    pub connections: usize,
    pub sessions: usize,
    pub offline_sessions: usize,
    pub retained: usize,
    pub retained_bytes: usize,
    pub subscriptions: usize,
}

/// One session's state, for tests and diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub online: bool,
    /// Messages waiting to be sent.
    pub queued: usize,
    /// QoS 1 messages sent (or to be sent again) and not acknowledged.
    pub inflight: usize,
    /// Seconds the session outlives its connection.
    pub expiry_seconds: u32,
    pub subscriptions: usize,
}

/// Callback for an in-process subscription. Must not block: it runs on the publisher's task.
pub type LocalSink = Arc<dyn Fn(&Msg) + Send + Sync>;

/// Identifies an in-process subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalSubId(pub u64);

enum Target {
    /// A subscription of a client's session.
    Remote { session: u64, no_local: bool },
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

/// A message waiting in a session's queue.
struct Queued {
    msg: Arc<Msg>,
    qos: u8,
    retain: bool,
    /// When it was queued, for a message with an expiry interval (it counts down while queued).
    at: Option<Instant>,
}

/// A QoS 1 message sent and not acknowledged yet.
struct Flight {
    pkid: u16,
    msg: Arc<Msg>,
    retain: bool,
    /// Written to the current connection; `false` after a reconnect, until sent again with DUP = 1.
    sent: bool,
}

/// The connection currently serving a session.
struct Link {
    conn_id: u64,
    version: Version,
    /// QoS 1 messages in flight at most (the client's Receive Maximum and our bound).
    receive_max: usize,
    /// The client's Maximum Packet Size (MQTT 5).
    max_packet: Option<u32>,
    /// Acknowledgements and other replies, sent before any message.
    ctrl: VecDeque<Bytes>,
    /// The reader ended: the writer sends what is in `ctrl` and stops.
    closing: bool,
    wake: Arc<Notify>,
    kill: Option<oneshot::Sender<()>>,
}

struct Sess {
    client_id: String,
    link: Option<Link>,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    inflight: VecDeque<Flight>,
    ids: HashSet<u16>,
    next_pkid: u16,
    /// Seconds the session outlives its connection (0 = ends with it).
    expiry: u32,
    /// Bumped at every connection, so an expiry timer of an earlier disconnect does nothing.
    generation: u64,
    /// Woken when the queue shrinks (publishers waiting for room).
    room: Arc<Notify>,
    /// Drops of the current overflow episode (logged when it starts and when it ends).
    overflow: u64,
}

impl Sess {
    fn new(client_id: String, expiry: u32) -> Self {
        Sess {
            client_id,
            link: None,
            queue: VecDeque::new(),
            queued_bytes: 0,
            inflight: VecDeque::new(),
            ids: HashSet::new(),
            next_pkid: 0,
            expiry,
            generation: 0,
            room: Arc::new(Notify::new()),
            overflow: 0,
        }
    }

    fn full(&self, limits: &Limits, extra: usize) -> bool {
        self.queue.len() >= limits.max_queued_messages
            || (limits.max_queued_bytes > 0
                && !self.queue.is_empty()
                && self.queued_bytes + extra > limits.max_queued_bytes)
    }

    /// A packet id not in use by a message in flight (1..=65535, wrapping). There is always one: at most
    /// 65,535 messages are in flight (Receive Maximum is a u16).
    fn alloc_pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = if self.next_pkid == u16::MAX {
                1
            } else {
                self.next_pkid + 1
            };
            if !self.ids.contains(&self.next_pkid) {
                return self.next_pkid;
            }
        }
    }
}

#[derive(Default)]
struct State {
    /// Every subscription by filter, keyed by an id from `Shared::next_id` (so key order is subscription order).
    subs: TopicIndex<SubEntry>,
    retained: BTreeMap<String, Msg>,
    retained_bytes: usize,
    /// When each retained message with an expiry interval arrived (MQTT 5: its remaining interval counts down).
    retained_at: HashMap<String, Instant>,
    /// Sessions by session id.
    sessions: HashMap<u64, Sess>,
    /// Client id -> session id.
    by_client: HashMap<String, u64>,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    oversize: AtomicU64,
    retained_refused: AtomicU64,
    connections_refused: AtomicU64,
    auth_refused: AtomicU64,
    resent: AtomicU64,
}

struct Shared {
    state: Mutex<State>,
    next_id: AtomicU64,
    counters: Counters,
    connections: AtomicUsize,
    limits: Limits,
    /// How long a QoS 1 publish waits for one subscriber that is behind, in milliseconds.
    stall_ms: AtomicU64,
}

/// Handle to the broker's routing table; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedBroker {
    shared: Arc<Shared>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Version {
    V4,
    V5,
}

/// What the writer takes out of a session to write.
enum Item {
    Raw(Bytes),
    Publish {
        msg: Arc<Msg>,
        qos: u8,
        pkid: u16,
        dup: bool,
        retain: bool,
    },
}

/// Counts a TCP connection while it lives.
struct ConnGuard(Arc<Shared>);
impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl EmbeddedBroker {
    /// A broker with no listener yet (see [`EmbeddedBroker::listen`]) and the default bounds; `max_packet` bounds
    /// every incoming packet.
    pub fn new(max_packet: usize) -> Self {
        Self::with_limits(Limits {
            max_packet_size: max_packet,
            ..Limits::default()
        })
    }

    /// A broker with these bounds.
    pub fn with_limits(limits: Limits) -> Self {
        EmbeddedBroker {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                next_id: AtomicU64::new(1),
                counters: Counters::default(),
                connections: AtomicUsize::new(0),
                limits,
                stall_ms: AtomicU64::new(2000),
            }),
        }
    }

    /// The bounds in force.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// How long a QoS 1 publish waits for one TCP subscriber whose queue is full before that subscriber loses
    /// the message (in-process subscribers follow the IPC server's `subscriber_stall_timeout`).
    pub fn set_stall_timeout(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.shared.stall_ms.store(ms, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().expect("broker state poisoned")
    }

    /// Waits until every QoS 1 subscriber matching `topic` can take a message without loss (each at most the
    /// stall timeout). A QoS 0 message never waits, nor does a message for an offline session.
    pub async fn wait_ready(&self, topic: &str, qos: u8) {
        if qos == 0 {
            return;
        }
        let (flows, sessions) = {
            let st = self.lock();
            let mut flows = Vec::new();
            let mut sessions = Vec::new();
            for (_, _, s) in st.subs.matches(topic) {
                if s.qos == 0 {
                    continue;
                }
                match &s.target {
                    Target::Local { flow: Some(f), .. } if !f.has_capacity() => {
                        flows.push(f.clone())
                    }
                    Target::Remote { session, .. } => {
                        if let Some(sess) = st.sessions.get(session) {
                            if sess.link.is_some() && sess.full(&self.shared.limits, 0) {
                                sessions.push((*session, sess.room.clone()));
                            }
                        }
                    }
                    _ => {}
                }
            }
            (flows, sessions)
        };
        ggipc::server::ready_all(flows).await;
        // All TCP subscribers within one stall timeout.
        let stall = Duration::from_millis(self.shared.stall_ms.load(Ordering::Relaxed));
        let deadline = tokio::time::Instant::now() + stall;
        for (sid, room) in sessions {
            loop {
                let notified = room.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let has_room = {
                    let st = self.lock();
                    st.sessions
                        .get(&sid)
                        .is_none_or(|s| s.link.is_none() || !s.full(&self.shared.limits, 0))
                };
                if has_room {
                    break;
                }
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    tracing::warn!(topic, waited = ?stall, "MQTT subscriber stalled; it loses this message");
                    break;
                }
            }
        }
    }

    /// Messages dropped because a session's queue was full.
    pub fn dropped(&self) -> u64 {
        self.shared.counters.dropped.load(Ordering::Relaxed)
    }

    /// Counters and sizes.
    pub fn stats(&self) -> EmbeddedStats {
        let c = &self.shared.counters;
        let st = self.lock();
        EmbeddedStats {
            dropped: c.dropped.load(Ordering::Relaxed),
            oversize_dropped: c.oversize.load(Ordering::Relaxed),
            retained_refused: c.retained_refused.load(Ordering::Relaxed),
            connections_refused: c.connections_refused.load(Ordering::Relaxed),
            auth_refused: c.auth_refused.load(Ordering::Relaxed),
            resent: c.resent.load(Ordering::Relaxed),
            connections: self.shared.connections.load(Ordering::Relaxed),
            sessions: st.sessions.len(),
            offline_sessions: st.sessions.values().filter(|s| s.link.is_none()).count(),
            retained: st.retained.len(),
            retained_bytes: st.retained_bytes,
            subscriptions: st.subs.len(),
        }
    }

    /// The session of `client_id`, if there is one.
    pub fn session(&self, client_id: &str) -> Option<SessionInfo> {
        let st = self.lock();
        let sid = *st.by_client.get(client_id)?;
        let s = st.sessions.get(&sid)?;
        let subscriptions = st
            .subs
            .iter()
            .filter(
                |(_, _, e)| matches!(e.target, Target::Remote { session, .. } if session == sid),
            )
            .count();
        Some(SessionInfo {
            online: s.link.is_some(),
            queued: s.queue.len(),
            inflight: s.inflight.len(),
            expiry_seconds: s.expiry,
            subscriptions,
        })
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
                        b.shared.connections.fetch_add(1, Ordering::Relaxed);
                        let guard = ConnGuard(b.shared.clone());
                        tokio::spawn(async move {
                            if let Err(e) = b.serve_connection(stream).await {
                                tracing::debug!(%peer, "mqtt connection ended: {e}");
                            }
                            drop(guard);
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

    /// Routes a message to every matching subscriber (and stores it if retained).
    pub fn publish(&self, msg: Msg) {
        self.route(msg, None);
    }

    /// Keeps (or, with an empty payload, removes) a retained message within the bounds.
    fn retain(&self, st: &mut State, msg: &Msg) {
        if msg.payload.is_empty() {
            if let Some(old) = st.retained.remove(&msg.topic) {
                st.retained_bytes -= old.cost();
            }
            st.retained_at.remove(&msg.topic);
            return;
        }
        let limits = &self.shared.limits;
        let old = st.retained.get(&msg.topic).map(Msg::cost);
        let count_after = st.retained.len() + usize::from(old.is_none());
        let bytes_after = st.retained_bytes - old.unwrap_or(0) + msg.cost();
        if count_after > limits.max_retained_messages || bytes_after > limits.max_retained_bytes {
            let n = self
                .shared
                .counters
                .retained_refused
                .fetch_add(1, Ordering::Relaxed)
                + 1;
            tracing::warn!(
                topic = %msg.topic,
                retained = st.retained.len(),
                retained_bytes = st.retained_bytes,
                max_messages = limits.max_retained_messages,
                max_bytes = limits.max_retained_bytes,
                refused_total = n,
                "retained message delivered but not kept: the retained bounds are reached (mqtt.embedded.maxRetainedMessages / maxRetainedBytes)"
            );
            return;
        }
        st.retained_bytes = bytes_after;
        st.retained.insert(msg.topic.clone(), msg.clone());
        if msg.props.message_expiry_interval.is_some() {
            st.retained_at.insert(msg.topic.clone(), Instant::now());
        } else {
            st.retained_at.remove(&msg.topic);
        }
    }

    /// Routes `msg`; `from_session` is the publishing client's session, for MQTT 5 "no local".
    fn route(&self, msg: Msg, from_session: Option<u64>) {
        let mut local: Vec<LocalSink> = Vec::new();
        let shared_msg;
        {
            let mut guard = self.lock();
            let st = &mut *guard;
            if msg.retain {
                self.retain(st, &msg);
            }
            let mut remote: HashMap<u64, u8> = HashMap::new();
            for (_, _, s) in st.subs.matches(&msg.topic) {
                match &s.target {
                    Target::Remote { session, no_local } => {
                        if *no_local && Some(*session) == from_session {
                            continue;
                        }
                        let qos = s.qos.min(msg.qos);
                        let e = remote.entry(*session).or_insert(qos);
                        *e = (*e).max(qos);
                    }
                    Target::Local { sink, .. } => local.push(sink.clone()),
                }
            }
            shared_msg = Arc::new(Msg {
                retain: false,
                ..msg
            });
            for (sid, qos) in remote {
                if let Some(sess) = st.sessions.get_mut(&sid) {
                    self.enqueue(sess, shared_msg.clone(), qos, false);
                }
            }
        }
        for sink in local {
            sink(&shared_msg);
        }
    }

    /// Puts a message in a session's queue (within its bounds) and wakes its writer.
    fn enqueue(&self, sess: &mut Sess, msg: Arc<Msg>, qos: u8, retain: bool) {
        if sess.link.is_none() && qos == 0 {
            return; // QoS 0 is not queued for an offline session
        }
        let limits = &self.shared.limits;
        let cost = msg.cost();
        if sess.full(limits, cost) {
            let n = self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if sess.overflow == 0 {
                tracing::warn!(
                    client = %sess.client_id,
                    online = sess.link.is_some(),
                    queued = sess.queue.len(),
                    queued_bytes = sess.queued_bytes,
                    dropped_total = n,
                    "MQTT session queue full (mqtt.embedded.maxQueuedMessages / maxQueuedBytes): its messages are dropped until it has room"
                );
            }
            sess.overflow += 1;
            return;
        }
        let at = msg.props.message_expiry_interval.map(|_| Instant::now());
        sess.queued_bytes += cost;
        sess.queue.push_back(Queued {
            msg,
            qos,
            retain,
            at,
        });
        if let Some(link) = &sess.link {
            link.wake.notify_one();
        }
    }

    /// Takes what the connection `conn_id` of session `sid` may send now: replies, messages to send again, then
    /// queued messages within Receive Maximum, up to about [`WRITE_BATCH`] bytes. `false` once the connection
    /// no longer serves the session (after what is returned).
    fn take(&self, sid: u64, conn_id: u64, out: &mut Vec<Item>) -> bool {
        let mut guard = self.lock();
        let Some(sess) = guard.sessions.get_mut(&sid) else {
            return false;
        };
        let Some(link) = sess.link.as_mut().filter(|l| l.conn_id == conn_id) else {
            return false;
        };
        let mut budget = 0usize;
        while let Some(b) = link.ctrl.pop_front() {
            budget += b.len();
            out.push(Item::Raw(b));
        }
        if link.closing {
            return !out.is_empty();
        }
        let receive_max = link.receive_max;
        let mut resent = 0u64;
        for f in sess.inflight.iter_mut().filter(|f| !f.sent) {
            f.sent = true;
            budget += f.msg.payload.len();
            resent += 1;
            out.push(Item::Publish {
                msg: f.msg.clone(),
                qos: 1,
                pkid: f.pkid,
                dup: true,
                retain: f.retain,
            });
        }
        if resent > 0 {
            self.shared
                .counters
                .resent
                .fetch_add(resent, Ordering::Relaxed);
        }
        let mut popped = false;
        while budget < WRITE_BATCH {
            let Some(front) = sess.queue.front() else {
                break;
            };
            if front.qos > 0 && sess.inflight.len() >= receive_max {
                break;
            }
            let Some(q) = sess.queue.pop_front() else {
                break;
            };
            popped = true;
            sess.queued_bytes -= q.msg.cost();
            let mut msg = q.msg;
            if let (Some(at), Some(interval)) = (q.at, msg.props.message_expiry_interval) {
                let waited = u32::try_from(at.elapsed().as_secs()).unwrap_or(u32::MAX);
                if waited >= interval {
                    continue; // expired while queued (MQTT 5 §3.3.2.3.3)
                }
                if waited > 0 {
                    let mut m = (*msg).clone();
                    m.props.message_expiry_interval = Some(interval - waited);
                    msg = Arc::new(m);
                }
            }
            budget += msg.payload.len() + msg.topic.len();
            let pkid = if q.qos > 0 {
                let id = sess.alloc_pkid();
                sess.ids.insert(id);
                sess.inflight.push_back(Flight {
                    pkid: id,
                    msg: msg.clone(),
                    retain: q.retain,
                    sent: true,
                });
                id
            } else {
                0
            };
            out.push(Item::Publish {
                msg,
                qos: q.qos,
                pkid,
                dup: false,
                retain: q.retain,
            });
        }
        if popped {
            sess.room.notify_waiters();
            if sess.overflow > 0 && sess.queue.len() <= self.shared.limits.max_queued_messages / 2 {
                tracing::info!(client = %sess.client_id, dropped = sess.overflow, "MQTT session caught up after an overflow");
                sess.overflow = 0;
            }
        }
        true
    }

    /// A PUBACK (or a message that could not be sent and counts as delivered): the id is free again.
    fn complete(&self, sid: u64, pkid: u16) {
        let mut st = self.lock();
        let Some(sess) = st.sessions.get_mut(&sid) else {
            return;
        };
        let Some(pos) = sess.inflight.iter().position(|f| f.pkid == pkid) else {
            tracing::debug!(client = %sess.client_id, pkid, "PUBACK for a packet id not in flight, ignored");
            return;
        };
        sess.inflight.remove(pos);
        sess.ids.remove(&pkid);
        if let Some(link) = &sess.link {
            if !sess.queue.is_empty() {
                link.wake.notify_one();
            }
        }
    }

    /// Queues a reply for the connection `conn_id` of session `sid`.
    fn reply(&self, sid: u64, conn_id: u64, packet: Bytes) -> Result<(), String> {
        let mut st = self.lock();
        let link = st
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.link.as_mut())
            .filter(|l| l.conn_id == conn_id)
            .ok_or("session taken over by a new connection with the same client id")?;
        if link.ctrl.len() >= CONTROL_BACKLOG {
            return Err(format!(
                "the client does not read its replies ({CONTROL_BACKLOG} unsent)"
            ));
        }
        link.ctrl.push_back(packet);
        link.wake.notify_one();
        Ok(())
    }

    /// Removes a session and its subscriptions.
    fn remove_session(st: &mut State, sid: u64) {
        if let Some(s) = st.sessions.remove(&sid) {
            if st.by_client.get(&s.client_id) == Some(&sid) {
                st.by_client.remove(&s.client_id);
            }
            st.subs.retain(
                |_, _, e| !matches!(e.target, Target::Remote { session, .. } if session == sid),
            );
            // Publishers waiting for room in it go on.
            s.room.notify_waiters();
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
        let mut st = self.lock();
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
        let mut st = self.lock();
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
        self.lock().subs.len()
    }

    async fn serve_connection(&self, stream: TcpStream) -> Result<(), String> {
        let (mut rd, mut wr) = stream.into_split();
        let mut buf = BytesMut::with_capacity(4096);
        let limits = &self.shared.limits;
        let max = limits.max_packet_size;

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
        let mut conn = Conn {
            broker: self.clone(),
            version,
            conn_id,
            sid: 0,
            will: None,
            keep_alive: 0,
            aliases: HashMap::new(),
            qos2_pending: Vec::new(),
            client_id: String::new(),
        };

        // Read the full CONNECT packet.
        let connect = loop {
            match conn.read_packet(&mut buf, max) {
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
        let connect = Connect::from(connect)?;

        // Refusals: the connection bound, then the credentials.
        if self.shared.connections.load(Ordering::Relaxed) > limits.max_connections {
            self.shared
                .counters
                .connections_refused
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                client = %connect.client_id,
                max = limits.max_connections,
                "MQTT connection refused: mqtt.embedded.maxConnections reached"
            );
            let _ = wr.write_all(&refusal(version, Refusal::Busy)).await;
            return Err("connection bound reached".to_owned());
        }
        if let Some(file) = limits.password_file.clone() {
            let user = connect.username.clone();
            let password = connect.password.clone();
            let verdict = tokio::task::spawn_blocking(move || {
                passwd::verify(
                    &file,
                    user.as_deref(),
                    password.as_deref().map(str::as_bytes),
                )
            })
            .await
            .map_err(|e| format!("password check failed: {e}"))?;
            let refused = match verdict {
                Ok(passwd::Verdict::Accepted) => None,
                Ok(passwd::Verdict::NoCredentials) => Some(Refusal::NotAuthorized),
                Ok(passwd::Verdict::BadCredentials) => Some(Refusal::BadCredentials),
                Err(e) => {
                    tracing::error!("embedded broker: {e}");
                    Some(Refusal::Unavailable)
                }
            };
            if let Some(r) = refused {
                self.shared
                    .counters
                    .auth_refused
                    .fetch_add(1, Ordering::Relaxed);
                tracing::warn!(client = %connect.client_id, user = ?connect.username, "MQTT connection refused: {}", r.text());
                let _ = wr.write_all(&refusal(version, r)).await;
                return Err(r.text().to_owned());
            }
        }

        let wake = Arc::new(Notify::new());
        let (kill_tx, mut kill_rx) = oneshot::channel::<()>();
        conn.attach(connect, wake.clone(), kill_tx);

        let mut writer = tokio::spawn(writer_task(
            self.clone(),
            conn.sid,
            conn_id,
            version,
            wr,
            wake.clone(),
        ));

        let keep_alive = if conn.keep_alive == 0 {
            None
        } else {
            Some(Duration::from_millis(u64::from(conn.keep_alive) * 1500))
        };
        let mut clean_disconnect = false;
        let mut writer_done = false;
        let result: Result<(), String> = 'outer: loop {
            loop {
                match conn.read_packet(&mut buf, max) {
                    Ok(Some(p)) => match conn.on_packet(p).await {
                        Ok(true) => {}
                        Ok(false) => {
                            clean_disconnect = true;
                            break 'outer Ok(());
                        }
                        Err(e) => break 'outer Err(e),
                    },
                    Ok(None) => break,
                    Err(e) if conn.version == Version::V5 && is_too_large(&buf, max) => {
                        // MQTT 5 §3.1.2.11.4 (our Maximum Packet Size, announced in CONNACK): "packet too large".
                        let _ = conn.fail_v5(
                            v5::DisconnectReasonCode::PacketTooLarge,
                            format!("packet larger than the maximum packet size {max}: {e}"),
                        );
                        break 'outer Err(format!("packet too large: {e}"));
                    }
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
                _ = &mut writer => { writer_done = true; break Err("cannot write to the client".into()) },
            };
            if n == 0 {
                break Err("connection closed by client without DISCONNECT".to_owned());
            }
        };

        // Let the writer send the last replies, then detach.
        {
            let mut st = self.lock();
            if let Some(link) = st
                .sessions
                .get_mut(&conn.sid)
                .and_then(|s| s.link.as_mut())
                .filter(|l| l.conn_id == conn_id)
            {
                link.closing = true;
                link.wake.notify_one();
            }
        }
        if !writer_done {
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut writer).await;
            writer.abort();
        }
        conn.detach(clean_disconnect);
        result
    }
}

/// The CONNECT fields the broker uses, from either protocol version.
struct Connect {
    client_id: String,
    keep_alive: u16,
    clean: bool,
    /// MQTT 5 session expiry interval (3.1.1: `None`).
    expiry: Option<u32>,
    receive_max: Option<u16>,
    max_packet: Option<u32>,
    username: Option<String>,
    password: Option<String>,
    will: Option<Msg>,
}

impl Connect {
    fn from(p: Incoming) -> Result<Connect, String> {
        match p {
            Incoming::V4(v4::Packet::Connect(c)) => Ok(Connect {
                will: c.last_will.map(|w| Msg {
                    topic: w.topic,
                    payload: w.message,
                    qos: (w.qos as u8).min(1),
                    retain: w.retain,
                    props: Props::default(),
                }),
                client_id: c.client_id,
                keep_alive: c.keep_alive,
                clean: c.clean_session,
                expiry: None,
                receive_max: None,
                max_packet: None,
                username: c.login.as_ref().map(|l| l.username.clone()),
                password: c.login.map(|l| l.password),
            }),
            Incoming::V5(v5::Packet::Connect(c, will, login)) => {
                let props = c.properties.unwrap_or_default();
                Ok(Connect {
                    will: will.map(|w| Msg {
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
                    }),
                    client_id: c.client_id,
                    keep_alive: c.keep_alive,
                    clean: c.clean_start,
                    expiry: Some(props.session_expiry_interval.unwrap_or(0)),
                    receive_max: props.receive_maximum,
                    max_packet: props.max_packet_size,
                    username: login.as_ref().map(|l| l.username.clone()),
                    password: login.map(|l| l.password),
                })
            }
            _ => Err("first packet is not CONNECT".to_owned()),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Refusal {
    Busy,
    NotAuthorized,
    BadCredentials,
    Unavailable,
}

impl Refusal {
    fn text(self) -> &'static str {
        match self {
            Refusal::Busy => "too many connections",
            Refusal::NotAuthorized => "not authorized (no user name or password)",
            Refusal::BadCredentials => "bad user name or password",
            Refusal::Unavailable => "server unavailable (password file unreadable)",
        }
    }
}

/// A CONNACK refusing the connection.
fn refusal(version: Version, r: Refusal) -> Bytes {
    let mut out = BytesMut::new();
    match version {
        Version::V4 => {
            let code = match r {
                Refusal::Busy | Refusal::Unavailable => v4::ConnectReturnCode::ServiceUnavailable,
                Refusal::NotAuthorized => v4::ConnectReturnCode::NotAuthorized,
                Refusal::BadCredentials => v4::ConnectReturnCode::BadUserNamePassword,
            };
            let _ = v4::ConnAck::new(code, false).write(&mut out);
        }
        Version::V5 => {
            let code = match r {
                Refusal::Busy => v5::ConnectReturnCode::QuotaExceeded,
                Refusal::Unavailable => v5::ConnectReturnCode::ServerUnavailable,
                Refusal::NotAuthorized => v5::ConnectReturnCode::NotAuthorized,
                Refusal::BadCredentials => v5::ConnectReturnCode::BadUserNamePassword,
            };
            let _ = v5::ConnAck {
                session_present: false,
                code,
                properties: None,
            }
            .write(&mut out);
        }
    }
    out.freeze()
}

/// Whether the packet at the start of `buf` announces more than `max` bytes (its fixed header's remaining length).
fn is_too_large(buf: &[u8], max: usize) -> bool {
    let mut len = 0usize;
    for (i, b) in buf.iter().skip(1).take(4).enumerate() {
        len |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return len > max;
        }
    }
    false
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

/// One TCP connection's side: its reader state and the session it serves.
struct Conn {
    broker: EmbeddedBroker,
    version: Version,
    conn_id: u64,
    /// The session this connection serves.
    sid: u64,
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

impl Conn {
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

    /// Creates or resumes the client's session, makes this connection serve it (taking it over from an older
    /// connection) and queues the CONNACK as its first packet.
    fn attach(&mut self, c: Connect, wake: Arc<Notify>, kill: oneshot::Sender<()>) {
        let limits = &self.broker.shared.limits;
        self.will = c.will;
        self.keep_alive = c.keep_alive;
        let assigned = (c.client_id.is_empty() && self.version == Version::V5)
            .then(|| format!("ggipc-auto-{}", self.conn_id));
        self.client_id = if c.client_id.is_empty() {
            format!("ggipc-auto-{}", self.conn_id)
        } else {
            c.client_id
        };
        let cap = limits.max_session_expiry_seconds;
        let (expiry, capped) = match c.expiry {
            // MQTT 3.1.1: clean session = 0 keeps the session, as long as we keep offline sessions.
            None => (if c.clean { 0 } else { cap }, false),
            Some(e) => (e.min(cap), e > cap),
        };
        let receive_max = usize::from(
            c.receive_max
                .unwrap_or(u16::MAX)
                .min(limits.max_inflight_messages)
                .max(1),
        );

        let mut st = self.broker.lock();
        let existing = st.by_client.get(&self.client_id).copied();
        let mut session_present = false;
        let sid = match existing {
            Some(sid) if !c.clean && st.sessions.contains_key(&sid) => {
                session_present = true;
                sid
            }
            _ => {
                if let Some(old) = existing {
                    // A clean start discards the old session (and takes over its connection, below).
                    if let Some(s) = st.sessions.get_mut(&old) {
                        if let Some(mut l) = s.link.take() {
                            if let Some(k) = l.kill.take() {
                                let _ = k.send(());
                            }
                            l.wake.notify_one();
                        }
                    }
                    EmbeddedBroker::remove_session(&mut st, old);
                }
                let sid = self.broker.shared.next_id.fetch_add(1, Ordering::Relaxed);
                st.sessions
                    .insert(sid, Sess::new(self.client_id.clone(), expiry));
                st.by_client.insert(self.client_id.clone(), sid);
                sid
            }
        };
        self.sid = sid;
        let mut connack = BytesMut::new();
        match self.version {
            Version::V4 => {
                let _ = v4::ConnAck::new(v4::ConnectReturnCode::Success, session_present)
                    .write(&mut connack);
            }
            Version::V5 => {
                let props = v5::ConnAckProperties {
                    max_qos: None,
                    retain_available: Some(1),
                    max_packet_size: Some(
                        u32::try_from(limits.max_packet_size).unwrap_or(u32::MAX),
                    ),
                    assigned_client_identifier: assigned,
                    topic_alias_max: Some(limits.topic_alias_maximum),
                    wildcard_subscription_available: Some(1),
                    subscription_identifiers_available: Some(0),
                    shared_subscription_available: Some(0),
                    session_expiry_interval: capped.then_some(expiry),
                    receive_max: None,
                    reason_string: None,
                    user_properties: Vec::new(),
                    server_keep_alive: None,
                    response_information: None,
                    server_reference: None,
                    authentication_method: None,
                    authentication_data: None,
                };
                let _ = v5::ConnAck {
                    session_present,
                    code: v5::ConnectReturnCode::Success,
                    properties: Some(props),
                }
                .write(&mut connack);
            }
        }
        let sess = st
            .sessions
            .get_mut(&sid)
            .expect("the session was just found or made");
        sess.expiry = expiry;
        sess.generation += 1;
        sess.overflow = 0;
        // Take over from a connection still serving the session.
        if let Some(mut old) = sess.link.take() {
            if let Some(k) = old.kill.take() {
                let _ = k.send(());
            }
            old.wake.notify_one();
        }
        // What was in flight goes again, DUP = 1, with its packet id.
        for f in sess.inflight.iter_mut() {
            f.sent = false;
        }
        let mut ctrl = VecDeque::new();
        ctrl.push_back(connack.freeze());
        sess.link = Some(Link {
            conn_id: self.conn_id,
            version: self.version,
            receive_max,
            max_packet: c.max_packet,
            ctrl,
            closing: false,
            wake: wake.clone(),
            kill: Some(kill),
        });
        wake.notify_one();
        tracing::debug!(client = %self.client_id, session_present, expiry, "MQTT client connected");
    }

    /// The connection ended: the session goes offline (kept for its expiry interval) or ends; the will is sent
    /// unless the client disconnected cleanly.
    fn detach(&mut self, clean_disconnect: bool) {
        let mut expire_after = None;
        {
            let mut st = self.broker.lock();
            let mine = st
                .sessions
                .get(&self.sid)
                .and_then(|s| s.link.as_ref())
                .is_some_and(|l| l.conn_id == self.conn_id);
            if mine {
                let sess = st.sessions.get_mut(&self.sid).expect("checked above");
                sess.link = None;
                for f in sess.inflight.iter_mut() {
                    f.sent = false;
                }
                if sess.expiry == 0 {
                    EmbeddedBroker::remove_session(&mut st, self.sid);
                } else {
                    // Offline: QoS 0 queued for the connection is gone, QoS 1 stays.
                    let mut bytes = 0;
                    sess.queue.retain(|q| {
                        let keep = q.qos > 0;
                        if !keep {
                            bytes += q.msg.cost();
                        }
                        keep
                    });
                    sess.queued_bytes -= bytes;
                    sess.room.notify_waiters();
                    expire_after = Some((sess.expiry, sess.generation));
                }
            }
        }
        if let Some((secs, generation)) = expire_after {
            let broker = self.broker.clone();
            let sid = self.sid;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(u64::from(secs))).await;
                let mut st = broker.lock();
                let expired = st
                    .sessions
                    .get(&sid)
                    .is_some_and(|s| s.link.is_none() && s.generation == generation);
                if expired {
                    tracing::info!(session = sid, "MQTT session expired");
                    EmbeddedBroker::remove_session(&mut st, sid);
                }
            });
        }
        if clean_disconnect && self.version == Version::V4 {
            self.will = None;
        }
        if let Some(will) = self.will.take() {
            self.broker.route(will, None);
        }
    }

    fn send(&self, out: BytesMut) -> Result<(), String> {
        self.broker.reply(self.sid, self.conn_id, out.freeze())
    }

    /// Sends an MQTT 5 DISCONNECT with `reason` and gives the error that ends the connection.
    fn fail_v5(&self, reason: v5::DisconnectReasonCode, why: String) -> Result<bool, String> {
        let mut out = BytesMut::new();
        // With the reason as a property (a DISCONNECT with a reason code and no property length is valid MQTT 5,
        // but some clients cannot read it).
        let _ = v5::Disconnect {
            reason_code: reason,
            properties: Some(v5::DisconnectProperties {
                session_expiry_interval: None,
                reason_string: Some(why.clone()),
                user_properties: Vec::new(),
                server_reference: None,
            }),
        }
        .write(&mut out);
        let _ = self.send(out);
        Err(why)
    }

    /// Handles one packet after CONNECT. Ok(false) = clean DISCONNECT.
    async fn on_packet(&mut self, p: Incoming) -> Result<bool, String> {
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
                            self.send(out)?;
                        }
                        2 => {
                            let _ = v4::PubRec::new(pkid).write(&mut out);
                            self.send(out)?;
                        }
                        _ => {}
                    }
                }
                v4::Packet::PubRel(r) => {
                    self.qos2_pending.retain(|id| *id != r.pkid);
                    let _ = v4::PubComp::new(r.pkid).write(&mut out);
                    self.send(out)?;
                }
                v4::Packet::PubAck(a) => self.broker.complete(self.sid, a.pkid),
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
                    self.send(out)?;
                    self.add_subscriptions(granted);
                }
                v4::Packet::Unsubscribe(u) => {
                    self.remove_subscriptions(&u.topics);
                    let _ = v4::UnsubAck::new(u.pkid).write(&mut out);
                    self.send(out)?;
                }
                v4::Packet::PingReq => {
                    let _ = v4::PingResp.write(&mut out);
                    self.send(out)?;
                }
                v4::Packet::Disconnect => return Ok(false),
                v4::Packet::PubRec(_) | v4::Packet::PubComp(_) => {}
                v4::Packet::Connect(_) => return Err("second CONNECT".to_owned()),
                other => return Err(format!("unexpected packet from client: {other:?}")),
            },
            Incoming::V5(p) => match p {
                v5::Packet::Publish(p) => {
                    let mut topic_name =
                        String::from_utf8(p.topic.to_vec()).map_err(|_| "topic not UTF-8")?;
                    if let Some(alias) = p.properties.as_ref().and_then(|pp| pp.topic_alias) {
                        let max = self.broker.shared.limits.topic_alias_maximum;
                        if alias == 0 || alias > max {
                            return self.fail_v5(
                                v5::DisconnectReasonCode::TopicAliasInvalid,
                                format!("topic alias {alias} outside 1..={max}"),
                            );
                        }
                        if topic_name.is_empty() {
                            match self.aliases.get(&alias) {
                                Some(t) => topic_name = t.clone(),
                                None => {
                                    return self.fail_v5(
                                        v5::DisconnectReasonCode::ProtocolError,
                                        format!("unknown topic alias {alias}"),
                                    )
                                }
                            }
                        } else {
                            self.aliases.insert(alias, topic_name.clone());
                        }
                    }
                    if !topic::valid_topic_name(&topic_name) {
                        return self.fail_v5(
                            v5::DisconnectReasonCode::TopicNameInvalid,
                            format!("invalid topic name {topic_name:?}"),
                        );
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
                            self.send(out)?;
                        }
                        2 => {
                            let _ = v5::PubRec::new(pkid, None).write(&mut out);
                            self.send(out)?;
                        }
                        _ => {}
                    }
                }
                v5::Packet::PubRel(r) => {
                    self.qos2_pending.retain(|id| *id != r.pkid);
                    let _ = v5::PubComp::new(r.pkid, None).write(&mut out);
                    self.send(out)?;
                }
                v5::Packet::PubAck(a) => self.broker.complete(self.sid, a.pkid),
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
                    self.send(out)?;
                    self.add_subscriptions(granted);
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
                    self.send(out)?;
                }
                v5::Packet::PingReq(_) => {
                    let _ = v5::PingResp::write(&mut out);
                    self.send(out)?;
                }
                v5::Packet::Disconnect(d) => {
                    // Reason 0x04 = "disconnect with will message".
                    if d.reason_code != v5::DisconnectReasonCode::DisconnectWithWillMessage {
                        self.will = None;
                    }
                    // A new session expiry interval (not from 0: MQTT 5 §3.14.2.2.2).
                    if let Some(e) = d.properties.and_then(|p| p.session_expiry_interval) {
                        let cap = self.broker.shared.limits.max_session_expiry_seconds;
                        let mut st = self.broker.lock();
                        if let Some(s) = st.sessions.get_mut(&self.sid) {
                            if s.expiry != 0 {
                                s.expiry = e.min(cap);
                            }
                        }
                    }
                    return Ok(false);
                }
                v5::Packet::PubRec(_) | v5::Packet::PubComp(_) => {}
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
        self.broker.route(msg, Some(self.sid));
    }

    fn add_subscriptions(&self, granted: Vec<(String, u8, bool)>) {
        let mut guard = self.broker.lock();
        let st = &mut *guard;
        let sid = self.sid;
        let mut retained = Vec::new();
        for (filter, qos, no_local) in granted {
            // A new subscription with the same filter replaces the old one (MQTT 3.8.4).
            for key in st.subs.keys_of_filter(&filter) {
                if st.subs.get(key).is_some_and(
                    |(_, s)| matches!(s.target, Target::Remote { session, .. } if session == sid),
                ) {
                    st.subs.remove(key);
                }
            }
            for m in live_retained(st, &filter) {
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
                        session: sid,
                        no_local,
                    },
                },
            );
        }
        if let Some(sess) = st.sessions.get_mut(&sid) {
            for (m, q) in retained {
                self.broker.enqueue(sess, m, q, true);
            }
        }
    }

    fn remove_subscriptions(&self, filters: &[String]) {
        let sid = self.sid;
        let mut st = self.broker.lock();
        for filter in filters {
            for key in st.subs.keys_of_filter(filter) {
                if st.subs.get(key).is_some_and(
                    |(_, s)| matches!(s.target, Target::Remote { session, .. } if session == sid),
                ) {
                    st.subs.remove(key);
                }
            }
        }
    }
}

/// The retained messages matching `filter`, each with the expiry interval it has left (MQTT 5 §3.3.2.3.3);
/// expired ones are forgotten. They keep `retain: true`.
fn live_retained(st: &mut State, filter: &str) -> Vec<Msg> {
    let now = Instant::now();
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
        if let Some(old) = st.retained.remove(&t) {
            st.retained_bytes -= old.cost();
        }
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

/// Writes what the session gives this connection, in order, until the connection no longer serves it.
async fn writer_task(
    broker: EmbeddedBroker,
    sid: u64,
    conn_id: u64,
    version: Version,
    mut wr: tokio::net::tcp::OwnedWriteHalf,
    wake: Arc<Notify>,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut items = Vec::new();
    // The client's Maximum Packet Size, read once (it is fixed for the connection).
    let max_packet = {
        let st = broker.lock();
        st.sessions
            .get(&sid)
            .and_then(|s| s.link.as_ref())
            .filter(|l| l.conn_id == conn_id)
            .and_then(|l| {
                debug_assert_eq!(l.version, version);
                l.max_packet
            })
    };
    loop {
        let open = broker.take(sid, conn_id, &mut items);
        if items.is_empty() {
            if !open {
                break;
            }
            wake.notified().await;
            continue;
        }
        for item in items.drain(..) {
            match item {
                Item::Raw(b) => buf.extend_from_slice(&b),
                Item::Publish {
                    msg,
                    qos,
                    pkid,
                    dup,
                    retain,
                } => {
                    let res = match version {
                        Version::V4 => {
                            let mut p = v4::Publish::from_bytes(
                                msg.topic.clone(),
                                qos_from(qos),
                                msg.payload.clone(),
                            );
                            p.pkid = pkid;
                            p.retain = retain;
                            p.dup = dup;
                            v4::Packet::Publish(p)
                                .write(&mut buf, usize::MAX)
                                .map_err(|e| e.to_string())
                        }
                        Version::V5 => {
                            let mut p = v5::Publish::new(
                                msg.topic.clone(),
                                qos5_from(qos),
                                msg.payload.clone(),
                                msg.to_v5_properties(),
                            );
                            p.pkid = pkid;
                            p.retain = retain;
                            p.dup = dup;
                            match v5::Packet::Publish(p).write(&mut buf, max_packet) {
                                Ok(n) => Ok(n),
                                Err(rumqttc::v5::mqttbytes::Error::OutgoingPacketTooLarge {
                                    pkt_size,
                                    max,
                                }) => {
                                    // MQTT 5 §3.1.2.11.4: discard it and behave as if it was delivered.
                                    let n = broker
                                        .shared
                                        .counters
                                        .oversize
                                        .fetch_add(1, Ordering::Relaxed)
                                        + 1;
                                    tracing::warn!(topic = %msg.topic, size = pkt_size, client_max = max, oversize_total = n,
                                        "message not sent to an MQTT client: larger than its Maximum Packet Size");
                                    if qos > 0 {
                                        broker.complete(sid, pkid);
                                    }
                                    Ok(0)
                                }
                                Err(e) => Err(e.to_string()),
                            }
                        }
                    };
                    if let Err(e) = res {
                        tracing::warn!(topic = %msg.topic, "cannot forward message to MQTT client: {e}");
                        if qos > 0 {
                            broker.complete(sid, pkid);
                        }
                    }
                }
            }
        }
        if wr.write_all(&buf).await.is_err() {
            break;
        }
        buf.clear();
        if !open {
            break;
        }
    }
    let _ = wr.shutdown().await;
}
