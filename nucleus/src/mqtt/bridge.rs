//! Bridge to a real MQTT broker (`mqtt://` / `mqtts://`), with the Greengrass nucleus' client semantics (docs/PROTOCOL.md §5.6):
//!
//! * a spooler bounded in bytes (default 2.5 MiB) that holds publishes while offline and while in flight;
//!   QoS 0 publishes are refused while offline unless `keepQos0WhenOffline`; when full, queued QoS 0 messages are
//!   evicted first; the nucleus' error texts;
//! * at most `maxInFlightPublishes` unacknowledged QoS 1 publishes; a publish whose connection drops before its
//!   PUBACK goes back to the head of the spool and is sent again after reconnecting, up to `maxPublishRetry` times;
//! * reconnect with exponential back-off and re-subscription of every active filter; overlapping subscriptions are
//!   de-duplicated (a filter covered by an existing broker subscription of at least the same QoS is served from it);
//! * a publish is acknowledged to IPC when it is accepted into the spool, or — [`AckMode::Puback`] — for QoS 1 only
//!   once the broker's PUBACK arrived.
//!
//! * persistent sessions: the first connection starts clean, later ones resume the session (MQTT 5 session
//!   expiry; MQTT 3.1.1 clean once, then clean session false), so QoS 1 messages sent while offline arrive after a
//!   reconnect; a resumed session keeps its broker subscriptions;
//! * flow control: a QoS 1 PUBLISH from the broker is held (the connection not read, the PUBACK not sent) until
//!   its IPC subscribers can take it ([`ggipc::server::ready_all`]); Receive Maximum tells the broker how many it
//!   may send unacknowledged;
//! * a subscription while the broker is unreachable is answered at once ([`OfflineSubscribe`]);
//! * publish quotas per connection (AWS IoT Core's 100 publishes/s and 512 KiB/s): token buckets; a publish
//!   over them waits in the spool;
//! * a disk spool (`mqtt.spooler.storageType: Disk`, [`SpoolFile`]): QoS 1 publishes are also written to
//!   `<root>/spool/spool.log` before they are answered, removed from it at their PUBACK, and the ones left after
//!   a crash or kill are sent first after the restart.
//!
//! The session logic is ours (so packet ids, in-flight and retries are exactly known); rumqttc supplies the packet
//! codec.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use rumqttc::mqttbytes::v4;
use rumqttc::v5::mqttbytes::v5;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{oneshot, watch, Notify};

use super::msg::Msg;
use super::spool_file::SpoolFile;
use super::topic;

/// MQTT protocol version spoken to the broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MqttVersion {
    V311,
    V5,
}

/// When a QoS 1 publish is answered to the component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AckMode {
    /// When accepted into the spool (the Java nucleus' behaviour).
    #[default]
    Spool,
    /// After the broker's PUBACK.
    Puback,
}

/// How a subscription is answered while the broker is unreachable (`mqtt.subscribeWhileOffline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OfflineSubscribe {
    /// Accepted at once; the broker subscription is made when the connection is up (the connection status
    /// tells when), messages flow from then on.
    #[default]
    Pending,
    /// Refused at once with the cause (the broker is unreachable, and why).
    Error,
}

/// TLS material for `mqtts://` (PEM files).
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub ca: Option<std::path::PathBuf>,
    pub cert: Option<std::path::PathBuf>,
    pub key: Option<std::path::PathBuf>,
}

/// Everything the bridge needs; see `config.rs` for the file keys.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    pub host: String,
    pub port: u16,
    pub tls: Option<TlsFiles>,
    pub client_id: String,
    pub version: MqttVersion,
    pub keep_alive: Duration,
    pub username: Option<String>,
    pub password: Option<String>,
    pub spool_max_bytes: usize,
    pub keep_qos0_when_offline: bool,
    /// −1 = unlimited.
    pub max_publish_retry: i64,
    pub max_in_flight: usize,
    pub ack_mode: AckMode,
    pub offline_subscribe: OfflineSubscribe,
    /// Persistent sessions (the nucleus' behaviour): the first connection starts clean, later ones resume the
    /// session, so QoS 1 messages sent to the device while it was offline arrive after it reconnects. MQTT 5
    /// asks the broker to keep the session `session_expiry` seconds (`mqtt.sessionExpirySeconds`); MQTT 3.1.1
    /// connects clean once, disconnects, and from then on connects with clean session false.
    pub persistent_session: bool,
    pub session_expiry: u32,
    /// Receive Maximum announced to the broker (MQTT 5, `mqtt.receiveMaximum`).
    pub receive_maximum: u16,
    pub connect_timeout: Duration,
    pub operation_timeout: Duration,
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
    pub max_packet: usize,
    /// With a disk spool: answer a QoS 1 publish only once an `fdatasync` covers its record (one sync for every
    /// publish waiting at that moment), so it survives a power cut; `false` (`mqtt.spooler.fsync: never`): the
    /// record is written to the kernel before the answer, which survives the nucleus being killed, not a power
    /// cut.
    pub spool_fsync: bool,
    /// Publishes per second sent on the connection (AWS IoT Core's 100 per connection); 0 = no limit.
    pub max_publishes_per_second: u32,
    /// Publish bytes (topic + payload) per second sent on the connection (IoT Core's 512 KiB); 0 = no limit.
    pub max_publish_bytes_per_second: u32,
}

/// Token buckets for the per-connection publish quotas, one second of burst each: a publish waits in the spool
/// until both buckets have room (a message larger than a second's bytes goes when the bucket is full).
#[derive(Debug)]
struct Throttle {
    rate: f64,
    byte_rate: f64,
    tokens: f64,
    bytes: f64,
    at: tokio::time::Instant,
}

impl Throttle {
    fn new(cfg: &BridgeConfig) -> Self {
        Throttle {
            rate: f64::from(cfg.max_publishes_per_second),
            byte_rate: f64::from(cfg.max_publish_bytes_per_second),
            tokens: f64::from(cfg.max_publishes_per_second),
            bytes: f64::from(cfg.max_publish_bytes_per_second),
            at: tokio::time::Instant::now(),
        }
    }

    /// Takes room for a publish of `size` bytes now, or says when there will be some.
    fn take(&mut self, size: usize) -> Result<(), tokio::time::Instant> {
        let now = tokio::time::Instant::now();
        let dt = now.duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.rate);
        self.bytes = (self.bytes + dt * self.byte_rate).min(self.byte_rate);
        let need = (size as f64).min(self.byte_rate);
        let mut wait: f64 = 0.0;
        if self.rate > 0.0 && self.tokens < 1.0 {
            wait = wait.max((1.0 - self.tokens) / self.rate);
        }
        if self.byte_rate > 0.0 && self.bytes < need {
            wait = wait.max((need - self.bytes) / self.byte_rate);
        }
        if wait > 0.0 {
            return Err(now + Duration::from_secs_f64(wait));
        }
        if self.rate > 0.0 {
            self.tokens -= 1.0;
        }
        if self.byte_rate > 0.0 {
            self.bytes -= size as f64;
        }
        Ok(())
    }
}

impl BridgeConfig {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        use crate::config::defaults as d;
        BridgeConfig {
            host: host.into(),
            port,
            tls: None,
            client_id: format!("ggipc-{}", std::process::id()),
            version: MqttVersion::V5,
            keep_alive: Duration::from_millis(d::KEEP_ALIVE_MS),
            username: None,
            password: None,
            spool_max_bytes: d::SPOOLER_MAX_SIZE_IN_BYTES,
            keep_qos0_when_offline: d::KEEP_QOS0_WHEN_OFFLINE,
            max_publish_retry: d::MAX_PUBLISH_RETRY,
            max_in_flight: d::MAX_IN_FLIGHT_PUBLISHES,
            ack_mode: AckMode::Spool,
            offline_subscribe: OfflineSubscribe::Pending,
            persistent_session: true,
            session_expiry: d::SESSION_EXPIRY_SECONDS,
            receive_maximum: d::RECEIVE_MAXIMUM,
            connect_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_millis(d::OPERATION_TIMEOUT_MS),
            reconnect_min: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(10),
            max_packet: 256 * 1024 * 1024,
            spool_fsync: true,
            max_publishes_per_second: 0,
            max_publish_bytes_per_second: 0,
        }
    }
}

/// Callback for messages arriving from the broker. Must not block.
pub type Sink = Arc<dyn Fn(&Msg) + Send + Sync>;

/// Identifies one IPC-side subscription on the bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BridgeSubId(pub u64);

/// Resolves when a [`AckMode::Puback`] publish is acknowledged (or definitively failed).
pub type PubackWait = oneshot::Receiver<Result<(), String>>;

struct SpoolEntry {
    msg: Msg,
    retries: i64,
    done: Option<oneshot::Sender<Result<(), String>>>,
    /// Its record in the disk spool, if there is one.
    disk: Option<u64>,
}

struct LocalSub {
    id: u64,
    filter: String,
    sink: Sink,
    /// Flow control of a QoS 1 IPC subscription: a QoS 1 message from the broker waits for it.
    flow: Option<ggipc::server::MessageSink>,
}

struct SubRequest {
    filter: String,
    qos: u8,
    done: oneshot::Sender<Result<(), SubscribeError>>,
}

/// Why a subscription failed. A refusal by the broker carries the SUBACK reason (for the `ServiceError` context
/// `{"reasonString": …, "reasonCode": n}` the nucleus sends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscribeError {
    /// The reason code's name (`NOT_AUTHORIZED`, …) for a refusal, else what went wrong.
    pub message: String,
    pub reason_code: Option<u8>,
    pub reason_string: Option<String>,
}

impl SubscribeError {
    fn other(message: impl Into<String>) -> Self {
        SubscribeError {
            message: message.into(),
            reason_code: None,
            reason_string: None,
        }
    }
}

impl std::fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Default)]
struct State {
    connected: bool,
    spool: VecDeque<SpoolEntry>,
    spool_bytes: usize,
    inflight: HashMap<u16, SpoolEntry>,
    next_pkid: u16,
    local_subs: Vec<LocalSub>,
    /// Filters subscribed on the broker (confirmed by SUBACK), with their granted QoS.
    cloud_subs: HashMap<String, u8>,
    /// Subscriptions to send (new, or to restore after reconnect).
    sub_queue: VecDeque<SubRequest>,
    /// SUBSCRIBE sent, waiting for SUBACK.
    sub_wait: HashMap<u16, SubRequest>,
    unsub_queue: Vec<String>,
    last_error: Option<String>,
    /// The disk spool (`storageType: Disk`): every QoS 1 entry of `spool` and `inflight` has its record there.
    disk: Option<SpoolFile>,
}

impl State {
    /// A spooled publish is done with (acknowledged, refused, given up): its disk record goes.
    fn disk_done(&mut self, seq: Option<u64>) {
        if let (Some(d), Some(seq)) = (self.disk.as_mut(), seq) {
            if let Err(e) = d.ack(seq) {
                tracing::error!(file = %d.path().display(), "cannot update the spool file: {e}");
            }
        }
    }
}

/// Counters, for logs, tests and benchmarks.
#[derive(Default, Debug)]
pub struct BridgeStats {
    pub published: AtomicU64,
    pub acked: AtomicU64,
    pub retried: AtomicU64,
    pub dropped: AtomicU64,
    pub received: AtomicU64,
    pub connects: AtomicU64,
}

struct Inner {
    cfg: BridgeConfig,
    state: Mutex<State>,
    wake: Notify,
    /// Signalled when publishes leave the spool (room for waiting publishers).
    room: Notify,
    connected: watch::Sender<bool>,
    next_id: AtomicU64,
    stats: BridgeStats,
    /// Disk spool records covered by the last `fdatasync` (group commit: one sync for all waiting publishes).
    synced: tokio::sync::Mutex<u64>,
}

/// The bridge handle; cheap to clone. Dropping every clone does not stop the connection task: call
/// [`Bridge::shutdown`].
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
    task: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Bridge {
    /// Starts the connection task (it keeps reconnecting until [`Bridge::shutdown`]). Never fails: an unreachable
    /// broker is logged and retried while the rest of the nucleus keeps serving.
    pub fn start(cfg: BridgeConfig) -> Self {
        Self::start_with_disk_spool(cfg, None)
    }

    /// [`start`](Self::start) with a disk spool: `spool` is the opened file and `replayed` what it held (from
    /// [`SpoolFile::open`]), queued first, in order, and sent once connected.
    pub fn start_with_disk_spool(
        cfg: BridgeConfig,
        spool: Option<(SpoolFile, Vec<(u64, Msg)>)>,
    ) -> Self {
        let (connected, _) = watch::channel(false);
        let mut state = State::default();
        if let Some((file, replayed)) = spool {
            for (seq, msg) in replayed {
                state.spool_bytes += msg.cost();
                state.spool.push_back(SpoolEntry {
                    msg,
                    retries: 0,
                    done: None,
                    disk: Some(seq),
                });
            }
            state.disk = Some(file);
        }
        let inner = Arc::new(Inner {
            cfg,
            state: Mutex::new(state),
            wake: Notify::new(),
            room: Notify::new(),
            connected,
            next_id: AtomicU64::new(1),
            stats: BridgeStats::default(),
            synced: tokio::sync::Mutex::new(0),
        });
        let task = tokio::spawn(run(inner.clone()));
        Bridge {
            inner,
            task: Arc::new(Mutex::new(Some(task))),
        }
    }

    /// Stops the connection (sends DISCONNECT when connected) and fails whatever waits on it.
    pub async fn shutdown(&self) {
        let task = self.task.lock().expect("bridge poisoned").take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
        let mut st = self.inner.state.lock().expect("bridge poisoned");
        st.connected = false;
        for (_, e) in st.inflight.drain() {
            if let Some(d) = e.done {
                let _ = d.send(Err("nucleus is shutting down".into()));
            }
        }
        for e in st.spool.drain(..) {
            if let Some(d) = e.done {
                let _ = d.send(Err("nucleus is shutting down".into()));
            }
        }
    }

    pub fn stats(&self) -> &BridgeStats {
        &self.inner.stats
    }

    pub fn is_connected(&self) -> bool {
        *self.inner.connected.borrow()
    }

    /// A receiver that follows the connection state.
    pub fn connection_state(&self) -> watch::Receiver<bool> {
        self.inner.connected.subscribe()
    }

    /// The last connection error, if the bridge is offline because of one.
    pub fn last_error(&self) -> Option<String> {
        self.inner
            .state
            .lock()
            .expect("bridge poisoned")
            .last_error
            .clone()
    }

    /// Filters currently subscribed on the broker (sorted).
    pub fn broker_subscriptions(&self) -> Vec<String> {
        let st = self.inner.state.lock().expect("bridge poisoned");
        let mut v: Vec<String> = st.cloud_subs.keys().cloned().collect();
        v.sort();
        v
    }

    /// Bytes currently held by the spool (queued, not counting in-flight).
    pub fn spool_bytes(&self) -> usize {
        self.inner
            .state
            .lock()
            .expect("bridge poisoned")
            .spool_bytes
    }

    /// Queues a publish. `Ok(None)`: accepted (answer the component now). `Ok(Some(wait))`: QoS 1 in PUBACK mode,
    /// answer when `wait` resolves. `Err(reason)`: refused, with the nucleus' reason text.
    pub fn publish(&self, msg: Msg) -> Result<Option<PubackWait>, String> {
        let cfg = &self.inner.cfg;
        let size = msg.cost();
        let mut st = self.inner.state.lock().expect("bridge poisoned");
        if !st.connected && msg.qos == 0 && !cfg.keep_qos0_when_offline {
            return Err("Device is offline. Dropping QoS 0 message.".into());
        }
        if size > cfg.spool_max_bytes {
            return Err("Message is larger than the size of message spool.".into());
        }
        while st.spool_bytes + size > cfg.spool_max_bytes {
            // Evict the oldest queued QoS 0 message, if any.
            let Some(pos) = st.spool.iter().position(|e| e.msg.qos == 0) else {
                return Err(Self::SPOOL_FULL.into());
            };
            let e = st.spool.remove(pos).expect("position is in range");
            st.spool_bytes -= e.msg.cost();
            self.inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic = %e.msg.topic, "spool full: evicted a queued QoS 0 message");
        }
        let (done, wait) = if msg.qos == 1 && cfg.ack_mode == AckMode::Puback {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let disk = match st.disk.as_mut() {
            Some(d) if msg.qos == 1 => Some(
                d.append(&msg)
                    .map_err(|e| format!("cannot write the spool file: {e}"))?,
            ),
            _ => None,
        };
        st.spool_bytes += size;
        st.spool.push_back(SpoolEntry {
            msg,
            retries: 0,
            done,
            disk,
        });
        drop(st);
        self.inner.wake.notify_one();
        Ok(wait)
    }

    /// With a disk spool and `spool_fsync`, waits until every record written so far is on disk (`fdatasync`):
    /// publishes waiting at the same time share one sync. Without, returns at once.
    pub async fn spool_durable(&self) -> Result<(), String> {
        if !self.inner.cfg.spool_fsync {
            return Ok(());
        }
        let target = {
            let st = self.inner.state.lock().expect("bridge poisoned");
            match &st.disk {
                Some(d) => d.sync_point().1,
                None => return Ok(()),
            }
        };
        let mut synced = self.inner.synced.lock().await;
        if *synced >= target {
            return Ok(());
        }
        // Everything written up to now (later publishes join this sync for free).
        let (file, upto) = {
            let st = self.inner.state.lock().expect("bridge poisoned");
            match &st.disk {
                Some(d) => d.sync_point(),
                None => return Ok(()),
            }
        };
        tokio::task::spawn_blocking(move || file.sync_data())
            .await
            .map_err(|e| format!("spool file sync failed: {e}"))?
            .map_err(|e| format!("spool file sync failed: {e}"))?;
        *synced = upto;
        Ok(())
    }

    /// Messages in the disk spool file (queued or in flight), if there is one.
    pub fn disk_spool_len(&self) -> Option<usize> {
        let st = self.inner.state.lock().expect("bridge poisoned");
        st.disk.as_ref().map(SpoolFile::live)
    }

    /// The nucleus' refusal of a publish the spool has no room for.
    pub const SPOOL_FULL: &'static str = "Message spool is full. Message could not be added.";

    /// Queues a QoS 1 publish like [`publish`](Self::publish), but when the spool is full waits (until
    /// `deadline`) for the bridge to send enough to make room, instead of refusing at once: a publisher faster
    /// than the connection is slowed down rather than failed. Past `deadline`, or while offline, the nucleus'
    /// refusal stands.
    pub async fn publish_waiting(
        &self,
        msg: Msg,
        deadline: tokio::time::Instant,
    ) -> Result<Option<PubackWait>, String> {
        loop {
            let room = self.inner.room.notified();
            match self.publish(msg.clone()) {
                // Offline nothing drains the spool: the nucleus' refusal at once.
                Err(e) if e == Self::SPOOL_FULL && msg.qos == 1 && self.is_connected() => {
                    if tokio::time::timeout_at(deadline, room).await.is_err() {
                        return Err(e);
                    }
                }
                other => return other,
            }
        }
    }

    /// Adds a subscription. Returns when the broker confirmed it (or immediately when an existing broker
    /// subscription covers `filter`), at most the operation timeout. While the broker is unreachable it is
    /// answered at once, per [`OfflineSubscribe`]: accepted (subscribed when connected) or refused.
    pub async fn subscribe(
        &self,
        filter: &str,
        qos: u8,
        sink: Sink,
    ) -> Result<BridgeSubId, SubscribeError> {
        self.subscribe_with_flow(filter, qos, sink, None).await
    }

    /// [`subscribe`](Self::subscribe) with flow control: before a QoS 1 message for this subscription is taken
    /// from the broker, the bridge waits for `flow` to be ready (and stops reading its connection meanwhile, so
    /// the broker keeps what it has not sent).
    pub async fn subscribe_with_flow(
        &self,
        filter: &str,
        qos: u8,
        sink: Sink,
        flow: Option<ggipc::server::MessageSink>,
    ) -> Result<BridgeSubId, SubscribeError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let rx = {
            let mut st = self.inner.state.lock().expect("bridge poisoned");
            st.local_subs.push(LocalSub {
                id,
                filter: filter.to_owned(),
                sink,
                flow,
            });
            let covered = st
                .cloud_subs
                .iter()
                .any(|(f, q)| *q >= qos && topic::covers(f, filter));
            if covered {
                return Ok(BridgeSubId(id));
            }
            if !st.connected {
                match self.inner.cfg.offline_subscribe {
                    OfflineSubscribe::Pending => {
                        // Sent when the connection is up (the queue survives reconnects).
                        let (tx, _rx) = oneshot::channel();
                        st.sub_queue.push_back(SubRequest {
                            filter: filter.to_owned(),
                            qos,
                            done: tx,
                        });
                        drop(st);
                        tracing::info!(
                            filter,
                            "broker unreachable: subscription accepted, made when connected"
                        );
                        return Ok(BridgeSubId(id));
                    }
                    OfflineSubscribe::Error => {
                        st.local_subs.retain(|s| s.id != id);
                        let why = st
                            .last_error
                            .clone()
                            .unwrap_or_else(|| "not connected yet".into());
                        return Err(SubscribeError::other(format!(
                            "the MQTT broker is unreachable ({why})"
                        )));
                    }
                }
            }
            let (tx, rx) = oneshot::channel();
            st.sub_queue.push_back(SubRequest {
                filter: filter.to_owned(),
                qos,
                done: tx,
            });
            rx
        };
        self.inner.wake.notify_one();
        let res = match tokio::time::timeout(self.inner.cfg.operation_timeout, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(SubscribeError::other("the MQTT connection task stopped")),
            Err(_) => {
                let why = self
                    .last_error()
                    .unwrap_or_else(|| "no SUBACK received".into());
                Err(SubscribeError::other(format!(
                    "timed out after {:?} waiting for the broker ({why})",
                    self.inner.cfg.operation_timeout
                )))
            }
        };
        if let Err(e) = res {
            self.unsubscribe(BridgeSubId(id));
            return Err(e);
        }
        Ok(BridgeSubId(id))
    }

    /// Removes a subscription; the broker subscription goes when no other subscription needs it.
    pub fn unsubscribe(&self, id: BridgeSubId) {
        let mut st = self.inner.state.lock().expect("bridge poisoned");
        let Some(pos) = st.local_subs.iter().position(|s| s.id == id.0) else {
            return;
        };
        let sub = st.local_subs.remove(pos);
        // A broker filter is kept while any remaining subscription is served by it.
        let orphaned: Vec<String> = st
            .cloud_subs
            .keys()
            .filter(|f| !st.local_subs.iter().any(|s| topic::covers(f, &s.filter)))
            .cloned()
            .collect();
        for f in orphaned {
            st.cloud_subs.remove(&f);
            st.unsub_queue.push(f);
        }
        drop(st);
        tracing::debug!(filter = %sub.filter, "bridge subscription removed");
        self.inner.wake.notify_one();
    }
}

type Io = Box<dyn AsyncReadWrite>;
trait AsyncReadWrite: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncReadWrite for T {}

async fn run(inner: Arc<Inner>) {
    let cfg = inner.cfg.clone();
    let mut backoff = cfg.reconnect_min;
    let mut logged_down = false;
    // Until a first connection succeeded, connections start clean (the nucleus' "reset the session on initial
    // connect, resume it on reconnect").
    let mut connected_once = false;
    loop {
        let attempt = if !cfg.persistent_session {
            connect(&cfg, true).await
        } else if connected_once {
            connect(&cfg, false).await
        } else if cfg.version == MqttVersion::V311 {
            // MQTT 3.1.1 keeps no session after a clean one: clear it, then start the persistent one.
            match connect(&cfg, true).await {
                Ok((mut io, _, _)) => {
                    let mut out = BytesMut::new();
                    let _ = v4::Disconnect.write(&mut out);
                    let _ = io.write_all(&out).await;
                    let _ = io.shutdown().await;
                    connect(&cfg, false).await
                }
                Err(e) => Err(e),
            }
        } else {
            connect(&cfg, true).await
        };
        match attempt {
            Ok((io, rest, session_present)) => {
                connected_once = true;
                backoff = cfg.reconnect_min;
                logged_down = false;
                inner.stats.connects.fetch_add(1, Ordering::Relaxed);
                tracing::info!(host = %cfg.host, port = cfg.port, session_present, "connected to MQTT broker");
                let reason = session(&inner, io, rest, session_present).await;
                on_disconnect(&inner, &reason);
                tracing::warn!(host = %cfg.host, port = cfg.port, "MQTT connection lost: {reason}; reconnecting");
            }
            Err(e) => {
                inner.state.lock().expect("bridge poisoned").last_error = Some(e.clone());
                if logged_down {
                    tracing::debug!("MQTT broker still unreachable: {e}");
                } else {
                    tracing::error!(
                        "cannot connect to MQTT broker {}:{}: {e}; local IPC keeps working, publishes are spooled \
                         and the connection is retried",
                        cfg.host,
                        cfg.port
                    );
                    logged_down = true;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(cfg.reconnect_max);
    }
}

fn on_disconnect(inner: &Inner, reason: &str) {
    let mut st = inner.state.lock().expect("bridge poisoned");
    st.connected = false;
    st.last_error = Some(reason.to_owned());
    // In-flight publishes go back to the head of the spool, oldest first.
    let mut ids: Vec<u16> = st.inflight.keys().copied().collect();
    ids.sort_unstable();
    let mut back: Vec<SpoolEntry> = ids
        .into_iter()
        .filter_map(|id| st.inflight.remove(&id))
        .collect();
    back.reverse();
    for mut e in back {
        e.retries += 1;
        let max = inner.cfg.max_publish_retry;
        if max >= 0 && e.retries > max {
            inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic = %e.msg.topic, retries = e.retries, "publish dropped after maxPublishRetry");
            st.disk_done(e.disk);
            if let Some(d) = e.done {
                let _ = d.send(Err(format!("publish not acknowledged after {max} retries")));
            }
            continue;
        }
        inner.stats.retried.fetch_add(1, Ordering::Relaxed);
        st.spool_bytes += e.msg.cost();
        st.spool.push_front(e);
    }
    // Subscriptions waiting for SUBACK are sent again; confirmed ones are restored on reconnect.
    let waiting: Vec<SubRequest> = st.sub_wait.drain().map(|(_, r)| r).collect();
    for r in waiting {
        st.sub_queue.push_front(r);
    }
    if !inner.cfg.persistent_session {
        // A persistent session keeps broker subscriptions across the outage: those no longer needed still go.
        st.unsub_queue.clear();
    }
    drop(st);
    inner.connected.send_replace(false);
}

/// Connects and reads the CONNACK; returns the connection, what followed the CONNACK, and whether the broker
/// resumed a session.
async fn connect(cfg: &BridgeConfig, clean: bool) -> Result<(Io, BytesMut, bool), String> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    let tcp = tokio::time::timeout(cfg.connect_timeout, tokio::net::TcpStream::connect(&addr))
        .await
        .map_err(|_| format!("TCP connect to {addr} timed out"))?
        .map_err(|e| format!("TCP connect to {addr} failed: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let mut io: Io = match &cfg.tls {
        None => Box::new(tcp),
        Some(files) => Box::new(tls_connect(cfg, files, tcp).await?),
    };
    let mut out = BytesMut::new();
    match cfg.version {
        MqttVersion::V311 => {
            let mut c = v4::Connect::new(cfg.client_id.clone());
            c.keep_alive = cfg.keep_alive.as_secs() as u16;
            c.clean_session = clean;
            if let Some(u) = &cfg.username {
                c.login = Some(v4::Login::new(
                    u.clone(),
                    cfg.password.clone().unwrap_or_default(),
                ));
            }
            c.write(&mut out).map_err(|e| e.to_string())?;
        }
        MqttVersion::V5 => {
            // Receive Maximum: the broker keeps QoS 1 messages beyond this many unacknowledged ones, which
            // is where they wait while an IPC subscriber is behind (flow control stops reading meanwhile).
            let properties = v5::ConnectProperties {
                receive_maximum: Some(cfg.receive_maximum),
                session_expiry_interval: cfg.persistent_session.then_some(cfg.session_expiry),
                ..v5::ConnectProperties::new()
            };
            let mut c = v5::Connect {
                keep_alive: cfg.keep_alive.as_secs() as u16,
                client_id: cfg.client_id.clone(),
                clean_start: clean,
                properties: Some(properties),
            };
            c.keep_alive = cfg.keep_alive.as_secs() as u16;
            let login = cfg.username.as_ref().map(|u| v5::Login {
                username: u.clone(),
                password: cfg.password.clone().unwrap_or_default(),
            });
            v5::Packet::Connect(c, None, login)
                .write(&mut out, None)
                .map_err(|e| e.to_string())?;
        }
    }
    io.write_all(&out)
        .await
        .map_err(|e| format!("sending CONNECT failed: {e}"))?;
    let mut buf = BytesMut::with_capacity(4096);
    let ack = tokio::time::timeout(cfg.connect_timeout, async {
        loop {
            match cfg.version {
                MqttVersion::V311 => match v4::Packet::read(&mut buf, cfg.max_packet) {
                    Ok(v4::Packet::ConnAck(a)) => {
                        return if a.code == v4::ConnectReturnCode::Success {
                            Ok(a.session_present)
                        } else {
                            Err(format!(
                                "broker refused the connection: {}",
                                super::reason::connack4_name(&a.code)
                            ))
                        }
                    }
                    Ok(other) => return Err(format!("expected CONNACK, got {other:?}")),
                    Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => {}
                    Err(e) => return Err(format!("invalid CONNACK: {e}")),
                },
                MqttVersion::V5 => match v5::Packet::read(&mut buf, Some(cfg.max_packet as u32)) {
                    Ok(v5::Packet::ConnAck(a)) => {
                        return if a.code == v5::ConnectReturnCode::Success {
                            Ok(a.session_present)
                        } else {
                            Err(format!(
                                "broker refused the connection: {}",
                                super::reason::describe(super::reason::connack_code(&a.code))
                            ))
                        }
                    }
                    Ok(other) => return Err(format!("expected CONNACK, got {other:?}")),
                    Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => {}
                    Err(e) => return Err(format!("invalid CONNACK: {e}")),
                },
            }
            let n = io
                .read_buf(&mut buf)
                .await
                .map_err(|e| format!("reading CONNACK failed: {e}"))?;
            if n == 0 {
                return Err("broker closed the connection before CONNACK".to_owned());
            }
        }
    })
    .await
    .map_err(|_| "no CONNACK within the connect timeout".to_owned())?;
    let session_present = ack?;
    Ok((io, buf, session_present))
}

async fn tls_connect(
    cfg: &BridgeConfig,
    files: &TlsFiles,
    tcp: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    use tokio_rustls::rustls;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = &files.ca {
        let pem =
            std::fs::read(ca).map_err(|e| format!("cannot read CA file {}: {e}", ca.display()))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| format!("invalid CA file {}: {e}", ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("invalid CA certificate in {}: {e}", ca.display()))?;
        }
    } else {
        return Err("mqtts:// needs a CA certificate (mqtt.rootCaPath / --ca)".into());
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let pem = std::fs::read(cert)
                .map_err(|e| format!("cannot read certificate {}: {e}", cert.display()))?;
            let chain = rustls_pemfile::certs(&mut pem.as_slice())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("invalid certificate {}: {e}", cert.display()))?;
            let kpem = std::fs::read(key)
                .map_err(|e| format!("cannot read private key {}: {e}", key.display()))?;
            let k = rustls_pemfile::private_key(&mut kpem.as_slice())
                .map_err(|e| format!("invalid private key {}: {e}", key.display()))?
                .ok_or_else(|| format!("no private key in {}", key.display()))?;
            builder
                .with_client_auth_cert(chain, k)
                .map_err(|e| format!("client certificate/key rejected: {e}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("a client certificate needs both a certificate and a key file".into()),
    };
    let name = rustls::pki_types::ServerName::try_from(cfg.host.clone())
        .map_err(|e| format!("invalid TLS server name {}: {e}", cfg.host))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    tokio::time::timeout(cfg.connect_timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_owned())?
        .map_err(|e| format!("TLS handshake failed: {e}"))
}

// One decoded packet at a time, never stored: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
enum Pkt {
    V4(v4::Packet),
    V5(v5::Packet),
}

/// Runs one connected session until it fails; returns why.
async fn session(inner: &Arc<Inner>, io: Io, mut buf: BytesMut, session_present: bool) -> String {
    let cfg = &inner.cfg;
    let (mut rd, mut wr) = tokio::io::split(io);
    {
        // Restore every broker subscription still needed (deduplicated), then mark connected. A resumed session
        // still has them on the broker (the nucleus resubscribes only without one).
        let mut st = inner.state.lock().expect("bridge poisoned");
        let restore: Vec<(String, u8)> = if session_present {
            Vec::new()
        } else {
            st.cloud_subs.drain().collect()
        };
        for (filter, qos) in restore {
            let (tx, _rx) = oneshot::channel();
            st.sub_queue.push_front(SubRequest {
                filter,
                qos,
                done: tx,
            });
        }
        st.connected = true;
        st.last_error = None;
    }
    // `send_replace`, not `send`: the state must change even while nobody watches it (`send` keeps the old
    // value when no receiver exists, and later watchers and `is_connected` would see "disconnected").
    inner.connected.send_replace(true);
    let ping_every = if cfg.keep_alive.is_zero() {
        Duration::from_secs(3600)
    } else {
        cfg.keep_alive
    };
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    // After a stall, wait a full period again rather than firing missed ticks back to back (the second would
    // look like a missing PINGRESP).
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut awaiting_pingresp = false;
    let mut out = BytesMut::with_capacity(16 * 1024);
    // A PUBLISH from the broker held back until its IPC subscribers can take it, and that wait.
    let mut held: Option<Pkt> = None;
    let mut waiting: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> = None;
    let mut throttle = Throttle::new(cfg);
    loop {
        // Send whatever is ready: unsubscribes, subscribes, spooled publishes (bounded by max in-flight and the
        // publish quotas).
        let throttled = match fill_outgoing(inner, &mut out, &mut throttle) {
            Ok(t) => t,
            Err(e) => return e,
        };
        if !out.is_empty() {
            if let Err(e) = wr.write_all(&out).await {
                return format!("write failed: {e}");
            }
            out.clear();
        }
        // Handle every complete packet already buffered.
        loop {
            if waiting.is_some() {
                break;
            }
            let p = match held.take() {
                Some(p) => p,
                None => match cfg.version {
                    MqttVersion::V311 => match v4::Packet::read(&mut buf, cfg.max_packet) {
                        Ok(p) => Pkt::V4(p),
                        Err(rumqttc::mqttbytes::Error::InsufficientBytes(_)) => break,
                        Err(e) => return format!("malformed packet from broker: {e}"),
                    },
                    MqttVersion::V5 => {
                        match v5::Packet::read(&mut buf, Some(cfg.max_packet as u32)) {
                            Ok(p) => Pkt::V5(p),
                            Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => break,
                            Err(e) => return format!("malformed packet from broker: {e}"),
                        }
                    }
                },
            };
            // Flow control: a QoS 1 message waits until its IPC subscribers can take it. Meanwhile the
            // connection is not read (the broker keeps what it has not sent, its Receive Maximum counting our
            // missing PUBACKs) while publishes, pings and PUBACKs owed so far still go out.
            if let Some(topic) = qos1_topic(&p) {
                let flows = behind(inner, &topic);
                if !flows.is_empty() {
                    held = Some(p);
                    waiting = Some(Box::pin(ggipc::server::ready_all(flows)));
                    break;
                }
            }
            match handle_incoming(inner, p, &mut out, &mut awaiting_pingresp) {
                Ok(()) => {}
                Err(e) => return e,
            }
        }
        if !out.is_empty() {
            continue;
        }
        let mut ready = false;
        tokio::select! {
            r = rd.read_buf(&mut buf), if held.is_none() => match r {
                Ok(0) => return "broker closed the connection".into(),
                Ok(_) => {}
                Err(e) => return format!("read failed: {e}"),
            },
            _ = async { if let Some(w) = waiting.as_mut() { w.await } }, if waiting.is_some() => {
                ready = true;
            }
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep_until(throttled.unwrap_or_else(tokio::time::Instant::now)), if throttled.is_some() => {}
            _ = ping.tick() => {
                if awaiting_pingresp {
                    return "no PINGRESP from broker (keep-alive)".into();
                }
                awaiting_pingresp = true;
                match cfg.version {
                    MqttVersion::V311 => { let _ = v4::PingReq.write(&mut out); }
                    MqttVersion::V5 => { let _ = v5::PingReq::write(&mut out); }
                }
            }
        }
        if ready {
            waiting = None;
        }
    }
}

/// The topic of a QoS 1 (or 2) PUBLISH.
fn qos1_topic(p: &Pkt) -> Option<String> {
    match p {
        Pkt::V4(v4::Packet::Publish(p)) if p.qos != rumqttc::QoS::AtMostOnce => {
            Some(p.topic.clone())
        }
        Pkt::V5(v5::Packet::Publish(p)) if p.qos != rumqttc::v5::mqttbytes::QoS::AtMostOnce => {
            Some(String::from_utf8_lossy(&p.topic).into_owned())
        }
        _ => None,
    }
}

/// The flow handles of the subscriptions matching `topic` that cannot take a message without waiting.
fn behind(inner: &Inner, topic: &str) -> Vec<ggipc::server::MessageSink> {
    let st = inner.state.lock().expect("bridge poisoned");
    st.local_subs
        .iter()
        .filter_map(|s| {
            s.flow
                .as_ref()
                .filter(|f| !f.has_capacity())
                .map(|f| (s, f))
        })
        .filter(|(s, _)| topic::matches(&s.filter, topic))
        .map(|(_, f)| f.clone())
        .collect()
}

fn next_pkid(st: &mut State) -> u16 {
    loop {
        st.next_pkid = st.next_pkid.wrapping_add(1);
        if st.next_pkid == 0 {
            continue;
        }
        if !st.inflight.contains_key(&st.next_pkid) && !st.sub_wait.contains_key(&st.next_pkid) {
            return st.next_pkid;
        }
    }
}

fn qos4(q: u8) -> rumqttc::QoS {
    if q == 0 {
        rumqttc::QoS::AtMostOnce
    } else {
        rumqttc::QoS::AtLeastOnce
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    if q == 0 {
        rumqttc::v5::mqttbytes::QoS::AtMostOnce
    } else {
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce
    }
}

/// Encodes what is ready to go into `out`; returns when the publish quotas next allow a publish, if one waits
/// for them.
fn fill_outgoing(
    inner: &Inner,
    out: &mut BytesMut,
    throttle: &mut Throttle,
) -> Result<Option<tokio::time::Instant>, String> {
    let cfg = &inner.cfg;
    let mut st = inner.state.lock().expect("bridge poisoned");
    for f in std::mem::take(&mut st.unsub_queue) {
        let pkid = next_pkid(&mut st);
        let r = match cfg.version {
            MqttVersion::V311 => {
                let mut u = v4::Unsubscribe::new(f);
                u.pkid = pkid;
                u.write(out).map(|_| ()).map_err(|e| e.to_string())
            }
            MqttVersion::V5 => {
                let mut u = v5::Unsubscribe::new(f, None);
                u.pkid = pkid;
                u.write(out).map(|_| ()).map_err(|e| e.to_string())
            }
        };
        r.map_err(|e| format!("encoding UNSUBSCRIBE failed: {e}"))?;
    }
    while let Some(req) = st.sub_queue.pop_front() {
        // Already covered by a confirmed or pending broker subscription?
        if st
            .cloud_subs
            .iter()
            .any(|(f, q)| *q >= req.qos && topic::covers(f, &req.filter))
        {
            let _ = req.done.send(Ok(()));
            continue;
        }
        let pkid = next_pkid(&mut st);
        match cfg.version {
            MqttVersion::V311 => {
                let mut s = v4::Subscribe::new(req.filter.clone(), qos4(req.qos));
                s.pkid = pkid;
                s.write(out)
                    .map_err(|e| format!("encoding SUBSCRIBE failed: {e}"))?;
            }
            MqttVersion::V5 => {
                let mut s =
                    v5::Subscribe::new(v5::Filter::new(req.filter.clone(), qos5(req.qos)), None);
                s.pkid = pkid;
                s.write(out)
                    .map_err(|e| format!("encoding SUBSCRIBE failed: {e}"))?;
            }
        }
        st.sub_wait.insert(pkid, req);
    }
    let mut throttled = None;
    while st.inflight.len() < cfg.max_in_flight.max(1) {
        let Some(size) = st
            .spool
            .front()
            .map(|e| e.msg.topic.len() + e.msg.payload.len())
        else {
            break;
        };
        if let Err(until) = throttle.take(size) {
            throttled = Some(until);
            break;
        }
        let Some(e) = st.spool.pop_front() else { break };
        st.spool_bytes -= e.msg.cost();
        inner.room.notify_waiters();
        let pkid = if e.msg.qos == 1 {
            next_pkid(&mut st)
        } else {
            0
        };
        let res = match cfg.version {
            MqttVersion::V311 => {
                let mut p = v4::Publish::from_bytes(
                    e.msg.topic.clone(),
                    qos4(e.msg.qos),
                    e.msg.payload.clone(),
                );
                p.pkid = pkid;
                p.retain = e.msg.retain;
                p.dup = e.retries > 0 && e.msg.qos == 1;
                p.write(out).map(|_| ()).map_err(|e| e.to_string())
            }
            MqttVersion::V5 => {
                let mut p = v5::Publish::new(
                    e.msg.topic.clone(),
                    qos5(e.msg.qos),
                    e.msg.payload.clone(),
                    e.msg.to_v5_properties(),
                );
                p.pkid = pkid;
                p.retain = e.msg.retain;
                p.dup = e.retries > 0 && e.msg.qos == 1;
                p.write(out).map(|_| ()).map_err(|e| e.to_string())
            }
        };
        inner.stats.published.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = res {
            tracing::warn!(topic = %e.msg.topic, "cannot encode publish: {err}");
            st.disk_done(e.disk);
            if let Some(d) = e.done {
                let _ = d.send(Err(err));
            }
            continue;
        }
        if e.msg.qos == 1 {
            st.inflight.insert(pkid, e);
        } else if let Some(d) = e.done {
            let _ = d.send(Ok(()));
        }
        if out.len() > 256 * 1024 {
            break;
        }
    }
    Ok(throttled)
}

fn handle_incoming(
    inner: &Inner,
    p: Pkt,
    out: &mut BytesMut,
    awaiting_pingresp: &mut bool,
) -> Result<(), String> {
    match p {
        Pkt::V4(p) => match p {
            v4::Packet::Publish(p) => {
                if p.qos == rumqttc::QoS::AtLeastOnce {
                    let _ = v4::PubAck::new(p.pkid).write(out);
                } else if p.qos == rumqttc::QoS::ExactlyOnce {
                    let _ = v4::PubRec::new(p.pkid).write(out);
                }
                let msg = Msg {
                    topic: p.topic,
                    payload: p.payload,
                    qos: (p.qos as u8).min(1),
                    retain: p.retain,
                    props: Default::default(),
                };
                deliver(inner, &msg);
            }
            v4::Packet::PubRel(r) => {
                let _ = v4::PubComp::new(r.pkid).write(out);
            }
            v4::Packet::PubAck(a) => puback(inner, a.pkid, None),
            v4::Packet::SubAck(a) => {
                let ok = a
                    .return_codes
                    .iter()
                    .all(|c| matches!(c, v4::SubscribeReasonCode::Success(_)));
                suback(
                    inner,
                    a.pkid,
                    if ok {
                        Ok(granted4(&a.return_codes))
                    } else {
                        Err(SubscribeError {
                            message: "FAILURE".into(),
                            reason_code: Some(0x80),
                            reason_string: None,
                        })
                    },
                );
            }
            v4::Packet::UnsubAck(_) => {}
            v4::Packet::PingResp => *awaiting_pingresp = false,
            v4::Packet::Disconnect => return Err("broker sent DISCONNECT".into()),
            other => return Err(format!("unexpected packet from broker: {other:?}")),
        },
        Pkt::V5(p) => match p {
            v5::Packet::Publish(p) => {
                if p.qos == rumqttc::v5::mqttbytes::QoS::AtLeastOnce {
                    let _ = v5::PubAck::new(p.pkid, None).write(out);
                } else if p.qos == rumqttc::v5::mqttbytes::QoS::ExactlyOnce {
                    let _ = v5::PubRec::new(p.pkid, None).write(out);
                }
                let topic_name = String::from_utf8_lossy(&p.topic).into_owned();
                let props = Msg::props_from_v5(p.properties.as_ref());
                let msg = Msg {
                    topic: topic_name,
                    payload: p.payload,
                    qos: (p.qos as u8).min(1),
                    retain: p.retain,
                    props,
                };
                deliver(inner, &msg);
            }
            v5::Packet::PubRel(r) => {
                let _ = v5::PubComp::new(r.pkid, None).write(out);
            }
            v5::Packet::PubAck(a) => {
                let failed = !matches!(
                    a.reason,
                    v5::PubAckReason::Success | v5::PubAckReason::NoMatchingSubscribers
                );
                puback(
                    inner,
                    a.pkid,
                    failed.then(|| super::reason::describe(super::reason::puback_code(&a.reason))),
                );
            }
            v5::Packet::SubAck(a) => {
                let failed = a
                    .return_codes
                    .iter()
                    .find(|c| !matches!(c, v5::SubscribeReasonCode::Success(_)));
                match failed {
                    None => {
                        let granted = a
                            .return_codes
                            .iter()
                            .map(|c| match c {
                                v5::SubscribeReasonCode::Success(q) => *q as u8,
                                _ => 0,
                            })
                            .collect();
                        suback(inner, a.pkid, Ok(granted))
                    }
                    Some(c) => suback(
                        inner,
                        a.pkid,
                        Err(SubscribeError {
                            message: reason_name(c),
                            reason_code: Some(reason_code(c)),
                            reason_string: a
                                .properties
                                .as_ref()
                                .and_then(|p| p.reason_string.clone()),
                        }),
                    ),
                }
            }
            v5::Packet::UnsubAck(_) => {}
            v5::Packet::PingResp(_) => *awaiting_pingresp = false,
            v5::Packet::Disconnect(d) => {
                return Err(format!(
                    "broker sent DISCONNECT ({})",
                    super::reason::describe(d.reason_code as u8)
                ))
            }
            other => return Err(format!("unexpected packet from broker: {other:?}")),
        },
    }
    Ok(())
}

fn reason_name(c: &v5::SubscribeReasonCode) -> String {
    // The nucleus reports the MQTT 5 reason code's name, e.g. NOT_AUTHORIZED.
    super::reason::name(reason_code(c)).to_string()
}

fn granted4(codes: &[v4::SubscribeReasonCode]) -> Vec<u8> {
    codes
        .iter()
        .map(|c| match c {
            v4::SubscribeReasonCode::Success(q) => *q as u8,
            v4::SubscribeReasonCode::Failure => 0,
        })
        .collect()
}

fn puback(inner: &Inner, pkid: u16, failure: Option<String>) {
    let mut st = inner.state.lock().expect("bridge poisoned");
    if let Some(e) = st.inflight.remove(&pkid) {
        st.disk_done(e.disk);
        drop(st);
        match failure {
            None => {
                inner.stats.acked.fetch_add(1, Ordering::Relaxed);
                if let Some(d) = e.done {
                    let _ = d.send(Ok(()));
                }
            }
            Some(reason) => {
                // Non-success PUBACK reason codes are not retried (the nucleus drops them too).
                inner.stats.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic = %e.msg.topic, "broker refused publish: {reason}");
                if let Some(d) = e.done {
                    let _ = d.send(Err(format!("broker refused the publish: {reason}")));
                }
            }
        }
        inner.wake.notify_one();
    }
}

fn reason_code(c: &v5::SubscribeReasonCode) -> u8 {
    super::reason::suback_code(c)
}

fn suback(inner: &Inner, pkid: u16, result: Result<Vec<u8>, SubscribeError>) {
    let mut st = inner.state.lock().expect("bridge poisoned");
    let Some(req) = st.sub_wait.remove(&pkid) else {
        return;
    };
    match result {
        Ok(granted) => {
            let q = granted.first().copied().unwrap_or(0).min(req.qos);
            st.cloud_subs.insert(req.filter.clone(), q);
            let _ = req.done.send(Ok(()));
        }
        Err(reason) => {
            tracing::warn!(filter = %req.filter, "broker refused subscription: {reason}");
            let _ = req.done.send(Err(reason));
        }
    }
}

fn deliver(inner: &Inner, msg: &Msg) {
    inner.stats.received.fetch_add(1, Ordering::Relaxed);
    let sinks: Vec<Sink> = {
        let st = inner.state.lock().expect("bridge poisoned");
        st.local_subs
            .iter()
            .filter(|s| topic::matches(&s.filter, &msg.topic))
            .map(|s| s.sink.clone())
            .collect()
    };
    for s in sinks {
        s(msg);
    }
}
