//! A nucleus for testing components: the real IPC [`Server`] in this process, with a recording in-memory
//! broker standing in for AWS IoT Core. Every language's test harness (`ggipc.testing` in Python,
//! `ggipc_test_nucleus_*` in C and `ggipc::testing::LocalNucleus` in C++, `io.ggipc.testing.LocalNucleus` in
//! Java) wraps this one type.
//!
//! ```no_run
//! use ggipc::testing::TestNucleus;
//! use std::time::Duration;
//!
//! let policy = r#"{"aws.greengrass.ipc.mqttproxy": {"p": {
//!     "operations": ["aws.greengrass#PublishToIoTCore"], "resources": ["telemetry/#"]}}}"#;
//! let nucleus = TestNucleus::builder("com.example.Forwarder").policy_json(policy)?.start()?;
//! // Code under test connects with nucleus.env() (socket path and SVCUID) …
//! let got = nucleus.wait_for_publishes(Some("telemetry/#"), 1, Duration::from_secs(5))?;
//! assert_eq!(got[0].message.payload_bytes(), b"hello");
//! # Ok::<(), ggipc::Error>(())
//! ```
//!
//! What it simulates, and how it behaves:
//!
//! - **Publishes** a component makes are recorded (bounded: [`RECORD_LIMIT`] messages and
//!   [`RECORD_BYTES_LIMIT`] bytes, oldest dropped first) and delivered to matching IoT Core subscriptions,
//!   as IoT Core echoes them. [`TestNucleus::wait_for_publishes`] waits on a condition variable, never polls.
//! - **Messages from IoT Core**: [`TestNucleus::inject`] delivers to every matching subscription.
//! - **Broker failures**: [`TestNucleus::fail_publishes`] / [`TestNucleus::fail_subscriptions`] make
//!   requests on a topic filter fail; the component gets the nucleus' `ServiceError`
//!   ("Publish to topic … failed: <message>").
//! - **Broker outage**: [`TestNucleus::set_connected`]`(false)` behaves as the local nucleus' MQTT bridge
//!   does while it is offline. SubscribeToIoTCoreConnectionStatus streams see `DISCONNECTED`; a QoS 0
//!   publish is refused with "Device is offline. Dropping QoS 0 message." (unless
//!   [`TestNucleusBuilder::keep_qos0_when_offline`]); a QoS 1 publish is accepted into a spool bounded in
//!   bytes ([`TestNucleusBuilder::spool_max_bytes`], the nucleus' 2.5 MiB by default; queued QoS 0 messages
//!   are evicted first; when nothing can be evicted it is refused with "Message spool is full. Message could
//!   not be added.") and answered as soon as it is spooled, as the nucleus does. Spooled messages are not
//!   "published" yet: they are recorded and delivered, in order, when the connection comes back.
//!   A new subscription waits for the connection up to [`TestNucleusBuilder::offline_subscribe_timeout`] and
//!   then fails; injected messages reach nobody (IoT Core cannot reach the device) and `inject` returns 0.
//! - **Restart**: [`TestNucleus::restart`] stops the server (every stream is terminated, connections close)
//!   and starts a new one on the same socket with the same components, tokens, policies and
//!   configurations, so clients with reconnect enabled come back by themselves.
//! - **Configuration and deployments**: [`TestNucleus::set_configuration`],
//!   [`TestNucleus::update_configuration`] (SubscribeToConfigurationUpdate streams are told),
//!   [`TestNucleus::validate_configuration`], [`TestNucleus::pre_component_update`] /
//!   [`TestNucleus::post_component_update`], [`TestNucleus::reported_state`]; local pub/sub with
//!   [`TestNucleus::publish_local`].
//!
//! Misuse fails with a clear, typed error instead of hanging: every wait has a timeout and its error says
//! what was seen instead (and whether the component's policy allows the operation at all); asking for a
//! component that was never registered names the ones that were.
//!
//! The blocking calls may be made from any thread except a worker of the runtime the server runs on
//! ([`crate::runtime`]'s shared runtime, or the one given to [`TestNucleusBuilder::runtime`]).

use crate::model::{
    ConfigurationValidityReport, DeferComponentUpdateRequest, MqttMessage, Qos,
    ReportedLifecycleState, MQTT_PROXY_SERVICE,
};
use crate::server::topic::filter_matches;
use crate::server::{
    AccessControl, BoxFuture, Broker, BrokerError, BrokerPublish, FilterAuthorization,
    LocalMessage, MemoryBroker, MessageSink, Server, ServerConfig, ServerHandle, SubscriptionId,
};
use crate::{Error, ErrorKind, Result, SOCKET_ENV, TOKEN_ENV};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

pub use crate::server::{RECORD_BYTES_LIMIT, RECORD_LIMIT};

/// The nucleus' default spool size (`spooler.maxSizeInBytes`, 2.5 MiB).
pub const DEFAULT_SPOOL_MAX_BYTES: usize = 2_621_440;
/// How long a subscription made during an outage waits for the connection by default (the nucleus'
/// `mqtt.operationTimeoutMs`, 30 s).
pub const DEFAULT_OFFLINE_SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long stopping the server may take before [`TestNucleus::stop`] reports it.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

const PUBLISH_OP: &str = "aws.greengrass#PublishToIoTCore";
const SUBSCRIBE_OP: &str = "aws.greengrass#SubscribeToIoTCore";
const OFFLINE_QOS0: &str = "Device is offline. Dropping QoS 0 message.";
const SPOOL_TOO_SMALL: &str = "Message is larger than the size of message spool.";
const SPOOL_FULL: &str = "Message spool is full. Message could not be added.";

/// A simulated broker failure: requests on topics matching `filter` (all when `None`) fail with `message`.
#[derive(Clone, Debug)]
struct Failure {
    filter: Option<String>,
    message: String,
}

impl Failure {
    fn applies_to_topic(&self, topic: &str) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|f| filter_matches(f, topic))
    }

    fn applies_to_filter(&self, filter: &str) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|f| f == filter || filter_matches(f, filter))
    }
}

/// What a spooled message costs against the spool bound (as the nucleus' bridge counts it).
fn spool_cost(p: &BrokerPublish) -> usize {
    let m = &p.message;
    m.topic().len()
        + m.payload_bytes().len()
        + m.content_type.as_ref().map_or(0, String::len)
        + m.response_topic.as_ref().map_or(0, String::len)
        + m.correlation_data.as_ref().map_or(0, Vec::len)
        + m.user_properties
            .as_ref()
            .map_or(0, |v| v.iter().map(|u| u.key.len() + u.value.len()).sum())
}

fn record_cost(p: &BrokerPublish) -> usize {
    64 + spool_cost(p)
}

#[derive(Default)]
struct State {
    record: VecDeque<Arc<BrokerPublish>>,
    record_bytes: usize,
    /// Publishes dropped from the front of the record (so indexes stay meaningful).
    record_dropped: u64,
    /// Publishes that reached the broker since the start (or the last clear).
    total: u64,
    subs: BTreeMap<SubscriptionId, String>,
    fail_publish: Option<Failure>,
    fail_subscribe: Option<Failure>,
    connected: bool,
    spool: VecDeque<BrokerPublish>,
    spool_bytes: usize,
    spool_evicted: u64,
}

struct Settings {
    record: bool,
    spool_max_bytes: usize,
    keep_qos0_when_offline: bool,
    offline_subscribe_timeout: Duration,
}

/// The recording broker behind a [`TestNucleus`]: a [`MemoryBroker`] plus records, failures and outages.
struct TestBroker {
    inner: MemoryBroker,
    settings: Settings,
    state: Mutex<State>,
    changed: Condvar,
}

impl TestBroker {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits at most `timeout` until `done(state)`; returns the last state seen and whether it held.
    fn wait<T>(
        &self,
        timeout: Duration,
        done: impl Fn(&State) -> Option<T>,
    ) -> (MutexGuard<'_, State>, Option<T>) {
        let deadline = Instant::now() + timeout;
        let mut st = self.state();
        loop {
            if let Some(v) = done(&st) {
                return (st, Some(v));
            }
            let now = Instant::now();
            if now >= deadline {
                return (st, None);
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Records a publish that reached "IoT Core" and hands it to the memory broker (which delivers it).
    /// Counts and records `publish` (the caller then hands it to the inner broker).
    fn record(&self, st: &mut State, publish: &BrokerPublish) {
        st.total += 1;
        if self.settings.record {
            let p = Arc::new(publish.clone());
            st.record_bytes += record_cost(&p);
            st.record.push_back(p);
            while st.record.len() > RECORD_LIMIT || st.record_bytes > RECORD_BYTES_LIMIT {
                let Some(old) = st.record.pop_front() else {
                    break;
                };
                st.record_bytes -= record_cost(&old);
                st.record_dropped += 1;
            }
        }
    }

    /// Offline: spool `publish` as the nucleus' bridge does, or refuse it with the bridge's reason.
    fn spool(&self, st: &mut State, publish: BrokerPublish) -> std::result::Result<(), String> {
        if publish.qos == Qos::AtMostOnce && !self.settings.keep_qos0_when_offline {
            return Err(OFFLINE_QOS0.into());
        }
        let size = spool_cost(&publish);
        let max = self.settings.spool_max_bytes;
        if size > max {
            return Err(SPOOL_TOO_SMALL.into());
        }
        while st.spool_bytes + size > max {
            let Some(pos) = st.spool.iter().position(|p| p.qos == Qos::AtMostOnce) else {
                return Err(SPOOL_FULL.into());
            };
            if let Some(old) = st.spool.remove(pos) {
                st.spool_bytes -= spool_cost(&old);
                st.spool_evicted += 1;
            }
        }
        st.spool_bytes += size;
        st.spool.push_back(publish);
        Ok(())
    }

    fn set_connected(&self, connected: bool) {
        {
            let mut st = self.state();
            if st.connected == connected {
                return;
            }
            st.connected = connected;
            if connected {
                // Send what was spooled, oldest first, before anything published from now on.
                let spooled: Vec<BrokerPublish> = st.spool.drain(..).collect();
                st.spool_bytes = 0;
                for p in spooled {
                    self.record(&mut st, &p);
                    // In spool order, at once: a reconnecting bridge sends its spool before anything new.
                    self.inner.accept(p);
                }
            }
            self.inner.set_connected(connected);
        }
        self.changed.notify_all();
    }
}

impl Broker for TestBroker {
    fn publish(
        &self,
        publish: BrokerPublish,
    ) -> BoxFuture<'_, std::result::Result<(), BrokerError>> {
        let result = {
            let mut st = self.state();
            let failure = st
                .fail_publish
                .as_ref()
                .filter(|f| f.applies_to_topic(publish.message.topic()))
                .map(|f| f.message.clone());
            match failure {
                Some(message) => Err(BrokerError::new(message)),
                None if st.connected => {
                    self.record(&mut st, &publish);
                    Ok(Some(publish))
                }
                None => self
                    .spool(&mut st, publish)
                    .map(|()| None)
                    .map_err(BrokerError::new),
            }
        };
        self.changed.notify_all();
        Box::pin(async move {
            match result? {
                // The memory broker routes it once every QoS 1 subscriber can take it (flow control).
                Some(publish) => self.inner.publish(publish).await,
                None => Ok(()),
            }
        })
    }

    fn subscribe(
        &self,
        filter: &str,
        qos: Qos,
        sink: MessageSink,
    ) -> BoxFuture<'_, std::result::Result<SubscriptionId, BrokerError>> {
        let filter = filter.to_string();
        let failure = self
            .state()
            .fail_subscribe
            .as_ref()
            .filter(|f| f.applies_to_filter(&filter))
            .map(|f| BrokerError::new(f.message.clone()));
        if let Some(err) = failure {
            return Box::pin(std::future::ready(Err(err)));
        }
        let mut status = self.inner.connection_status();
        let wait = self.settings.offline_subscribe_timeout;
        Box::pin(async move {
            if !*status.borrow_and_update() {
                let back = tokio::time::timeout(wait, status.wait_for(|c| *c)).await;
                if !matches!(back, Ok(Ok(_))) {
                    return Err(BrokerError::new(format!(
                        "timed out after {wait:?} waiting for the broker (the connection to AWS IoT Core is down)"
                    )));
                }
            }
            let id = self.inner.subscribe(&filter, qos, sink).await?;
            self.state().subs.insert(id, filter);
            self.changed.notify_all();
            Ok(id)
        })
    }

    fn unsubscribe(&self, id: SubscriptionId) {
        self.inner.unsubscribe(id);
        self.state().subs.remove(&id);
        self.changed.notify_all();
    }

    fn connection_status(&self) -> tokio::sync::watch::Receiver<bool> {
        self.inner.connection_status()
    }
}

/// A registered component: what a restart registers again.
#[derive(Clone)]
struct Registration {
    name: String,
    token: String,
    access: AccessControl,
}

/// Settings of a [`TestNucleus`]; from [`TestNucleus::builder`].
pub struct TestNucleusBuilder {
    component: String,
    access: AccessControl,
    socket_path: Option<PathBuf>,
    token: Option<String>,
    configuration: Option<serde_json::Value>,
    server: ServerConfig,
    settings: Settings,
    runtime: Option<Handle>,
}

impl TestNucleusBuilder {
    /// The component's `accessControl` (default: none, so every IoT Core request is refused).
    pub fn policy(mut self, access: AccessControl) -> Self {
        self.access = access;
        self
    }

    /// [`policy`](Self::policy) from a recipe's `accessControl` JSON (a whole `{"accessControl": …}` object
    /// is accepted too). Refused with `InvalidArgument` naming the bad field.
    pub fn policy_json(self, access_control: &str) -> Result<Self> {
        let access = parse_policy(access_control)?;
        Ok(self.policy(access))
    }

    /// Every MQTT proxy operation on every topic.
    pub fn allow_all(self) -> Self {
        self.policy(AccessControl::allow_all_mqtt())
    }

    /// Where the socket goes (default: `ipc.socket` in a new private temporary directory, removed on drop).
    pub fn socket_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket_path = Some(path.into());
        self
    }

    /// The component's SVCUID (default: a fresh one, as the nucleus makes them).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The component's configuration (what GetConfiguration reads; default `{}`).
    pub fn configuration(mut self, configuration: serde_json::Value) -> Self {
        self.configuration = Some(configuration);
        self
    }

    /// Largest publish payload accepted (default IoT Core's 131 072 bytes).
    pub fn max_payload_bytes(mut self, bytes: usize) -> Self {
        self.server.max_payload_bytes = bytes;
        self
    }

    /// Authorize subscribe filters literally, as the Java nucleus does (default: strictly, see
    /// [`FilterAuthorization`]).
    pub fn literal_filter_authorization(mut self, literal: bool) -> Self {
        self.server.filter_authorization = if literal {
            FilterAuthorization::Literal
        } else {
            FilterAuthorization::Strict
        };
        self
    }

    /// Record publishes (default true; turn off for long soak runs — waits then see counts only).
    pub fn record(mut self, record: bool) -> Self {
        self.settings.record = record;
        self
    }

    /// Bytes the spool holds during an outage (default [`DEFAULT_SPOOL_MAX_BYTES`]).
    pub fn spool_max_bytes(mut self, bytes: usize) -> Self {
        self.settings.spool_max_bytes = bytes;
        self
    }

    /// Spool QoS 0 publishes during an outage instead of refusing them (the nucleus' `keepQos0WhenOffline`).
    pub fn keep_qos0_when_offline(mut self, keep: bool) -> Self {
        self.settings.keep_qos0_when_offline = keep;
        self
    }

    /// How long a subscription made during an outage waits for the connection before failing.
    pub fn offline_subscribe_timeout(mut self, timeout: Duration) -> Self {
        self.settings.offline_subscribe_timeout = timeout;
        self
    }

    /// Run the server on this runtime instead of ggipc's shared one.
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }

    /// Creates the socket and starts serving; the component is registered before this returns.
    pub fn start(self) -> Result<TestNucleus> {
        let rt = match self.runtime {
            Some(h) => h,
            None => crate::runtime::handle()?,
        };
        let (socket_path, dir) = match self.socket_path {
            Some(p) => (p, None),
            None => {
                let dir = TempDir::new()?;
                (dir.0.join("ipc.socket"), Some(dir))
            }
        };
        let mut server_config = self.server;
        server_config.socket_path = socket_path.clone();
        let broker = Arc::new(TestBroker {
            inner: MemoryBroker::new(),
            settings: self.settings,
            state: Mutex::new(State {
                connected: true,
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let server = Server::new(server_config.clone(), broker.clone());
        let token = self.token.unwrap_or_else(crate::server::generate_svcuid);
        let main = Registration {
            name: self.component.clone(),
            token: token.clone(),
            access: self.access,
        };
        register(&server, &main);
        server.set_configuration(
            &self.component,
            self.configuration.unwrap_or_else(|| serde_json::json!({})),
        );
        let handle = spawn(&rt, &server)?;
        Ok(TestNucleus {
            rt,
            component: self.component,
            socket_path,
            server_config,
            broker,
            live: Mutex::new(Live {
                server,
                handle: Some(handle),
                components: vec![main],
            }),
            pid: std::process::id(),
            _dir: dir,
        })
    }
}

fn register(server: &Server, r: &Registration) {
    server
        .components()
        .register_with_token(&r.name, r.access.clone(), r.token.clone());
}

fn spawn(rt: &Handle, server: &Server) -> Result<ServerHandle> {
    let _guard = rt.enter();
    server.spawn().map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!(
                "cannot serve on {}: {e}",
                server.config().socket_path.display()
            ),
        )
    })
}

/// Parses an `accessControl` JSON document (or a whole `{"accessControl": …}` object).
pub fn parse_policy(access_control: &str) -> Result<AccessControl> {
    let value: serde_json::Value = serde_json::from_str(access_control).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("accessControl is not JSON: {e}"),
        )
    })?;
    let value = match value {
        serde_json::Value::Object(mut m) if m.len() == 1 && m.contains_key("accessControl") => {
            m.remove("accessControl").unwrap_or_default()
        }
        v => v,
    };
    AccessControl::from_json(&value, "accessControl")
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, e.to_string()))
}

/// A private temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::env::temp_dir();
        let mut last = None;
        for _ in 0..16 {
            let name = format!(
                "ggipc-test-{}-{}",
                std::process::id(),
                crate::server::generate_svcuid().to_ascii_lowercase()
            );
            let path = base.join(name);
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(TempDir(path)),
                Err(e) => last = Some(e),
            }
        }
        Err(Error::new(
            ErrorKind::Internal,
            format!(
                "cannot create a directory for the socket in {}: {}",
                base.display(),
                last.map_or_else(|| "unknown error".to_string(), |e| e.to_string())
            ),
        ))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Live {
    server: Server,
    handle: Option<ServerHandle>,
    components: Vec<Registration>,
}

/// An in-process nucleus for tests. See the [module docs](self).
pub struct TestNucleus {
    rt: Handle,
    component: String,
    socket_path: PathBuf,
    server_config: ServerConfig,
    broker: Arc<TestBroker>,
    live: Mutex<Live>,
    pid: u32,
    _dir: Option<TempDir>,
}

impl TestNucleus {
    /// Settings for a nucleus serving `component` (which has no policy until one is given).
    pub fn builder(component: impl Into<String>) -> TestNucleusBuilder {
        TestNucleusBuilder {
            component: component.into(),
            access: AccessControl::default(),
            socket_path: None,
            token: None,
            configuration: None,
            server: ServerConfig::default(),
            settings: Settings {
                record: true,
                spool_max_bytes: DEFAULT_SPOOL_MAX_BYTES,
                keep_qos0_when_offline: false,
                offline_subscribe_timeout: DEFAULT_OFFLINE_SUBSCRIBE_TIMEOUT,
            },
            runtime: None,
        }
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The server now serving (a new one after each [`restart`](Self::restart)).
    pub fn server(&self) -> Server {
        self.live().server.clone()
    }

    /// The component under test.
    pub fn component(&self) -> &str {
        &self.component
    }

    /// Path of the IPC socket.
    pub fn socket_path(&self) -> &Path {
        &self.socket_path
    }

    /// The component under test's SVCUID.
    pub fn token(&self) -> String {
        self.token_of(&self.component)
            .expect("the component under test is registered at start")
    }

    /// A registered component's SVCUID; `InvalidArgument` naming the registered ones if it is unknown.
    pub fn token_of(&self, component: &str) -> Result<String> {
        let live = self.live();
        live.components
            .iter()
            .find(|r| r.name == component)
            .map(|r| r.token.clone())
            .ok_or_else(|| unknown_component(component, &live.components))
    }

    /// The environment a process of `component` needs to connect (socket path and SVCUID, under the
    /// nucleus' variable names).
    pub fn env_of(&self, component: &str) -> Result<BTreeMap<String, String>> {
        let token = self.token_of(component)?;
        Ok(BTreeMap::from([
            (
                SOCKET_ENV.to_string(),
                self.socket_path.to_string_lossy().into_owned(),
            ),
            (TOKEN_ENV.to_string(), token),
        ]))
    }

    /// [`env_of`](Self::env_of) the component under test.
    pub fn env(&self) -> BTreeMap<String, String> {
        self.env_of(&self.component)
            .expect("the component under test is registered at start")
    }

    /// Registers another component (or replaces a registration) with its policy and `token` (fresh if
    /// `None`); returns its SVCUID.
    pub fn add_component(
        &self,
        name: &str,
        access: AccessControl,
        token: Option<String>,
    ) -> String {
        let token = token.unwrap_or_else(crate::server::generate_svcuid);
        let r = Registration {
            name: name.to_string(),
            token: token.clone(),
            access,
        };
        let mut live = self.live();
        register(&live.server, &r);
        if live.server.configuration(name).is_none() {
            live.server.set_configuration(name, serde_json::json!({}));
        }
        live.components.retain(|c| c.name != name);
        live.components.push(r);
        token
    }

    /// Replaces a component's policy; the next request is authorized against it.
    pub fn set_policy(&self, component: &str, access: AccessControl) -> Result<()> {
        let mut live = self.live();
        let Some(pos) = live.components.iter().position(|r| r.name == component) else {
            return Err(unknown_component(component, &live.components));
        };
        live.components[pos].access = access.clone();
        live.server.components().update_policies(component, access);
        Ok(())
    }

    /// From now on publishes to topics matching `topic_filter` (all if `None`) fail with `message`;
    /// `message = None` ends it.
    pub fn fail_publishes(&self, topic_filter: Option<&str>, message: Option<&str>) {
        self.broker.state().fail_publish = message.map(|m| Failure {
            filter: topic_filter.map(str::to_string),
            message: m.to_string(),
        });
    }

    /// Like [`fail_publishes`](Self::fail_publishes), for new subscriptions whose filter `topic_filter`
    /// matches (or equals).
    pub fn fail_subscriptions(&self, topic_filter: Option<&str>, message: Option<&str>) {
        self.broker.state().fail_subscribe = message.map(|m| Failure {
            filter: topic_filter.map(str::to_string),
            message: m.to_string(),
        });
    }

    /// Publishes recorded so far (since the start or [`clear_published`](Self::clear_published)), oldest
    /// first.
    pub fn published(&self) -> Vec<BrokerPublish> {
        self.broker
            .state()
            .record
            .iter()
            .map(|p| (**p).clone())
            .collect()
    }

    /// How many publishes reached the broker (recorded or not, spooled ones once sent).
    pub fn published_count(&self) -> u64 {
        self.broker.state().total
    }

    /// Forgets the recorded publishes (and resets the count).
    pub fn clear_published(&self) {
        let mut st = self.broker.state();
        st.record.clear();
        st.record_bytes = 0;
        st.record_dropped = 0;
        st.total = 0;
    }

    /// Waits until at least `count` recorded publishes match `topic_filter` (an MQTT filter or a plain
    /// topic; every topic if `None`) and returns all matching ones. `Timeout` after `timeout`, saying what
    /// was published instead and whether the component's policy allows publishing there.
    pub fn wait_for_publishes(
        &self,
        topic_filter: Option<&str>,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<BrokerPublish>> {
        let matches =
            |p: &BrokerPublish| topic_filter.is_none_or(|f| filter_matches(f, p.message.topic()));
        let record = self.broker.settings.record;
        let (st, found) = self.broker.wait(timeout, |st| {
            if !record {
                return (st.total >= count as u64).then(Vec::new);
            }
            let n = st.record.iter().filter(|p| matches(p)).count();
            (n >= count).then(|| {
                st.record
                    .iter()
                    .filter(|p| matches(p))
                    .map(|p| (**p).clone())
                    .collect()
            })
        });
        if let Some(v) = found {
            return Ok(v);
        }
        let seen = st.record.iter().filter(|p| matches(p)).count();
        let mut topics: Vec<&str> = Vec::new();
        for p in st.record.iter() {
            let t = p.message.topic();
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
        let what = topic_filter.map_or_else(|| "any topic".to_string(), |f| format!("'{f}'"));
        let mut msg =
            format!("expected {count} publish(es) to {what} within {timeout:?}, got {seen}; ");
        if topics.is_empty() {
            msg.push_str("nothing was published");
        } else {
            let shown: Vec<&str> = topics.iter().take(10).copied().collect();
            msg.push_str(&format!("published to: {}", shown.join(", ")));
            if topics.len() > shown.len() {
                msg.push_str(&format!(" and {} more topics", topics.len() - shown.len()));
            }
        }
        if !st.spool.is_empty() {
            msg.push_str(&format!(
                "; {} publish(es) are spooled while the broker is disconnected",
                st.spool.len()
            ));
        }
        drop(st);
        if let Some(f) = topic_filter {
            msg.push_str(&self.policy_hint(PUBLISH_OP, f, false));
        }
        Err(Error::new(ErrorKind::Timeout, msg))
    }

    /// Why the components' policies would refuse `operation` on `resource`, if they would ("" otherwise).
    fn policy_hint(&self, operation: &str, resource: &str, filter: bool) -> String {
        let mode = self.server_config.filter_authorization;
        let live = self.live();
        let allowed = live.components.iter().any(|r| {
            r.access
                .is_authorized(MQTT_PROXY_SERVICE, operation, resource, filter, mode)
        });
        if allowed {
            return String::new();
        }
        let names: Vec<&str> = live.components.iter().map(|r| r.name.as_str()).collect();
        format!(
            "; note: no registered component ({}) has a policy allowing {operation} on '{resource}', so the nucleus refuses it",
            names.join(", ")
        )
    }

    /// Topic filters of the current IoT Core subscriptions, oldest first.
    pub fn subscriptions(&self) -> Vec<String> {
        self.broker.state().subs.values().cloned().collect()
    }

    /// Waits until a subscription to exactly `topic_filter` (any if `None`) exists; `Timeout` otherwise,
    /// listing the subscriptions there are.
    pub fn wait_for_subscription(
        &self,
        topic_filter: Option<&str>,
        timeout: Duration,
    ) -> Result<()> {
        let (st, found) = self.broker.wait(timeout, |st| match topic_filter {
            None => (!st.subs.is_empty()).then_some(()),
            Some(f) => st.subs.values().any(|s| s == f).then_some(()),
        });
        if found.is_some() {
            return Ok(());
        }
        let subs: Vec<String> = st.subs.values().cloned().collect();
        drop(st);
        let what = topic_filter.map_or_else(|| "any filter".to_string(), |f| format!("'{f}'"));
        let mut msg = format!("no subscription to {what} within {timeout:?}; ");
        if subs.is_empty() {
            msg.push_str("there are no subscriptions");
        } else {
            msg.push_str(&format!("subscriptions: {}", subs.join(", ")));
        }
        if let Some(f) = topic_filter {
            msg.push_str(&self.policy_hint(SUBSCRIBE_OP, f, true));
        }
        Err(Error::new(ErrorKind::Timeout, msg))
    }

    /// Delivers a message "from AWS IoT Core" to every matching subscription; returns how many took it
    /// (0 during an outage).
    pub fn inject(&self, message: MqttMessage) -> usize {
        if !self.broker.state().connected {
            return 0;
        }
        self.broker.inner.inject(message)
    }

    /// Simulates the connection to AWS IoT Core going down (`false`) or coming back (`true`); see the
    /// [module docs](self) for what publishes and subscriptions do meanwhile.
    pub fn set_connected(&self, connected: bool) {
        self.broker.set_connected(connected);
    }

    /// Whether the simulated connection to AWS IoT Core is up.
    pub fn is_connected(&self) -> bool {
        self.broker.state().connected
    }

    /// Publishes held in the spool (during an outage), oldest first.
    pub fn spooled(&self) -> Vec<BrokerPublish> {
        self.broker.state().spool.iter().cloned().collect()
    }

    /// Queued QoS 0 publishes evicted from a full spool so far.
    pub fn spool_evicted(&self) -> u64 {
        self.broker.state().spool_evicted
    }

    /// Publishes a local (PublishToTopic) message on `topic` as `publisher`; returns how many
    /// subscriptions took it.
    pub fn publish_local(&self, publisher: &str, topic: &str, message: LocalMessage) -> usize {
        self.server().publish_local(publisher, topic, message)
    }

    /// Open local (SubscribeToTopic) subscriptions.
    pub fn local_subscriptions(&self) -> usize {
        self.server().local_subscriptions()
    }

    /// Waits until a local (SubscribeToTopic) subscription to exactly `topic_filter` (any if `None`) exists on
    /// the server serving now; `Timeout` otherwise, listing the local subscriptions there are.
    pub fn wait_for_local_subscription(
        &self,
        topic_filter: Option<&str>,
        timeout: Duration,
    ) -> Result<()> {
        let server = self.server();
        let ok = server.wait_for_local_subscriptions(timeout, |filters| match topic_filter {
            None => !filters.is_empty(),
            Some(f) => filters.iter().any(|s| s == f),
        });
        if ok {
            return Ok(());
        }
        let filters = server.local_subscription_filters();
        let what = topic_filter.map_or_else(|| "any topic".to_string(), |f| format!("'{f}'"));
        let have = if filters.is_empty() {
            "there are none".to_string()
        } else {
            format!("there are: {}", filters.join(", "))
        };
        Err(Error::new(
            ErrorKind::Timeout,
            format!("no local subscription to {what} within {timeout:?}; {have}"),
        ))
    }

    /// Replaces a component's configuration (what GetConfiguration reads); no events are sent.
    pub fn set_configuration(
        &self,
        component: &str,
        configuration: serde_json::Value,
    ) -> Result<()> {
        let live = self.live();
        if !live.components.iter().any(|r| r.name == component) {
            return Err(unknown_component(component, &live.components));
        }
        live.server.set_configuration(component, configuration);
        Ok(())
    }

    /// Merges `value` at `key_path` of a component's configuration as UpdateConfiguration does and tells
    /// its SubscribeToConfigurationUpdate streams.
    pub fn update_configuration(
        &self,
        component: &str,
        key_path: &[String],
        value: serde_json::Map<String, serde_json::Value>,
    ) -> Result<()> {
        self.server()
            .update_configuration(component, key_path, value)
    }

    /// A component's configuration.
    pub fn configuration(&self, component: &str) -> Option<serde_json::Value> {
        self.server().configuration(component)
    }

    /// The state a component last reported with UpdateState.
    pub fn reported_state(&self, component: &str) -> Option<ReportedLifecycleState> {
        self.server().reported_state(component)
    }

    /// Asks `component`'s SubscribeToValidateConfigurationUpdates streams about `configuration` and waits up
    /// to `timeout` for its report. `Ok(None)`: the component validates nothing; `Err(Timeout)`: no answer.
    pub fn validate_configuration(
        &self,
        component: &str,
        deployment_id: &str,
        configuration: serde_json::Value,
        timeout: Duration,
    ) -> Result<Option<ConfigurationValidityReport>> {
        let server = self.server();
        let (component, id) = (component.to_string(), deployment_id.to_string());
        self.run(timeout + STOP_TIMEOUT, async move {
            server
                .validate_configuration(&component, &id, configuration, timeout)
                .await
        })?
    }

    /// Tells SubscribeToComponentUpdates streams that a deployment is about to update components and
    /// returns the DeferComponentUpdate requests that arrived within `timeout`.
    pub fn pre_component_update(
        &self,
        deployment_id: &str,
        is_ggc_restarting: bool,
        timeout: Duration,
    ) -> Result<Vec<(String, DeferComponentUpdateRequest)>> {
        let server = self.server();
        let id = deployment_id.to_string();
        self.run(timeout + STOP_TIMEOUT, async move {
            server
                .pre_component_update(&id, is_ggc_restarting, timeout)
                .await
        })
    }

    /// Tells SubscribeToComponentUpdates streams that a deployment updated components.
    pub fn post_component_update(&self, deployment_id: &str) {
        self.server().post_component_update(deployment_id);
    }

    /// Runs `fut` on the server's runtime and waits for it from this thread (any thread but one of that
    /// runtime's workers).
    fn run<T: Send + 'static>(
        &self,
        limit: Duration,
        fut: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv_timeout(limit).map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!("the test nucleus did not answer within {limit:?}"),
            )
        })
    }

    /// Stops serving: every open stream is terminated, connections close, the socket is removed. Stopping
    /// a stopped nucleus does nothing.
    pub fn stop(&self) -> Result<()> {
        let handle = self.live().handle.take();
        self.stop_handle(handle)
    }

    fn stop_handle(&self, handle: Option<ServerHandle>) -> Result<()> {
        let Some(handle) = handle else {
            return Ok(());
        };
        if self.pid != std::process::id() {
            // A copy inherited through fork(): the server runs in the parent, not here.
            std::mem::forget(handle);
            return Ok(());
        }
        self.run(STOP_TIMEOUT, handle.shutdown())?.map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("stopping the test nucleus: {e}"),
            )
        })
    }

    /// Restarts the nucleus under its clients: stops the server (streams terminated, connections closed)
    /// and serves again on the same socket with the same components, tokens, policies and configurations.
    /// Clients with reconnect enabled reconnect and re-subscribe by themselves.
    pub fn restart(&self) -> Result<()> {
        let (old, components, handle) = {
            let mut live = self.live();
            (
                live.server.clone(),
                live.components.clone(),
                live.handle.take(),
            )
        };
        self.stop_handle(handle)?;
        let server = Server::new(self.server_config.clone(), self.broker.clone());
        for r in &components {
            register(&server, r);
            if let Some(c) = old.configuration(&r.name) {
                server.set_configuration(&r.name, c);
            }
        }
        let handle = spawn(&self.rt, &server)?;
        let mut live = self.live();
        live.server = server;
        live.handle = Some(handle);
        Ok(())
    }

    /// Whether the server is serving (not stopped).
    pub fn is_running(&self) -> bool {
        self.live().handle.is_some()
    }
}

fn unknown_component(name: &str, known: &[Registration]) -> Error {
    let names: Vec<&str> = known.iter().map(|r| r.name.as_str()).collect();
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "component '{name}' is not registered with the test nucleus (registered: {}); add it with its policy first",
            names.join(", ")
        ),
    )
}

impl Drop for TestNucleus {
    fn drop(&mut self) {
        let handle = self
            .live
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .handle
            .take();
        if let Some(h) = handle {
            if self.pid == std::process::id() {
                // Wait for the socket to go before the directory holding it is removed.
                let _ = self.stop_handle(Some(h));
            } else {
                std::mem::forget(h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(filter: Option<&str>) -> Failure {
        Failure {
            filter: filter.map(str::to_string),
            message: "m".into(),
        }
    }

    #[test]
    fn failures_match_topics_and_filters() {
        assert!(failure(None).applies_to_topic("any/thing"));
        let f = failure(Some("cloud/#"));
        assert!(f.applies_to_topic("cloud/a/b"));
        assert!(!f.applies_to_topic("local/a"));
        assert!(f.applies_to_filter("cloud/+"));
        assert!(f.applies_to_filter("cloud/#"));
        assert!(!f.applies_to_filter("local/#"));
    }

    #[test]
    fn policies_parse_with_or_without_the_access_control_key() {
        let doc = r#"{"aws.greengrass.ipc.mqttproxy": {"p": {"operations": ["*"], "resources": ["a/#"]}}}"#;
        let a = parse_policy(doc).unwrap();
        let b = parse_policy(&format!(r#"{{"accessControl": {doc}}}"#)).unwrap();
        for p in [a, b] {
            assert!(p.is_authorized(
                MQTT_PROXY_SERVICE,
                PUBLISH_OP,
                "a/b",
                false,
                FilterAuthorization::Strict
            ));
            assert!(!p.is_authorized(
                MQTT_PROXY_SERVICE,
                PUBLISH_OP,
                "b",
                false,
                FilterAuthorization::Strict
            ));
        }
        let e = parse_policy("{nope").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().contains("not JSON"), "{e}");
    }
}
