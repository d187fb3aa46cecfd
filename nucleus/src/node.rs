//! A running local nucleus: IPC server on `<root>/ipc.socket`, the chosen broker, registered components, and the
//! registration file `<root>/components.json` that `ggipc env` reads.
//!
//! `control.socket` (mode 0600) takes `ggipc config` and `ggipc deploy` requests (see [`crate::control`]).
//!
//! `config/<component>.json` keeps each component's configuration across restarts (see [`crate::store`]).
//!
//! `tokens.json` (mode 0600) keeps each component's SVCUID across restarts of the nucleus, so clients that
//! reconnect are recognized again; delete it to issue new tokens.
//!
//! `components.json` (mode 0600, removed at shutdown):
//! ```json
//! {"pid": 1234, "socketPath": "/abs/root/ipc.socket", "mqtt": "127.0.0.1:1883",
//!  "components": {"com.example.Publisher": {"svcuid": "K3M7…", "recipe": "/abs/recipe.yaml"}}}
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ggipc::server::{Broker, MemoryBroker, Server, ServerConfig};
use serde_json::{json, Value};

use crate::brokers::{BridgeIpcBroker, EmbeddedIpcBroker};
use crate::config::{BrokerChoice, Config};
use crate::mqtt::bridge::{AckMode, Bridge, BridgeConfig, MqttVersion, OfflineSubscribe, TlsFiles};
use crate::mqtt::embedded::{EmbeddedBroker, Limits};
use crate::mqtt::pool::BridgePool;
use crate::mqtt::spool_file::SpoolFile;

/// Options from the command line, applied over the config file.
#[derive(Clone, Debug, Default)]
pub struct NucleusOptions {
    pub root: PathBuf,
    pub recipes: Vec<PathBuf>,
    pub config: Config,
    /// Overrides `mqtt.broker`.
    pub broker: Option<String>,
    /// Overrides `mqtt.embedded.port`.
    pub embedded_port: Option<u16>,
}

/// One registered component.
#[derive(Clone, Debug)]
pub struct Registered {
    pub name: String,
    pub svcuid: String,
    pub recipe_path: PathBuf,
    /// The lifecycle and configuration (with `{iot:thingName}` substituted in the configuration).
    pub spec: crate::recipe::ComponentSpec,
}

/// The running nucleus.
pub struct Nucleus {
    pub root: PathBuf,
    pub socket_path: PathBuf,
    pub components: Vec<Registered>,
    /// Where the embedded broker listens (embedded mode only).
    pub embedded_addr: Option<SocketAddr>,
    pub bridge: Option<Bridge>,
    /// The bridge's connections (the first is `bridge`).
    pub pool: Option<BridgePool>,
    pub embedded: Option<EmbeddedBroker>,
    pub memory: Option<Arc<MemoryBroker>>,
    pub thing_name: String,
    /// The IPC server (configurations, lifecycle states and requests of the components).
    pub server: Server,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server_task: Option<tokio::task::JoinHandle<()>>,
    listener_task: Option<tokio::task::JoinHandle<()>>,
    saver_task: Option<tokio::task::JoinHandle<()>>,
    control_task: Option<tokio::task::JoinHandle<()>>,
    status_task: Option<tokio::task::JoinHandle<()>>,
    registration_file: PathBuf,
}

impl Nucleus {
    /// Loads recipes, starts the broker side and the IPC server, writes the registration file.
    pub async fn start(opts: NucleusOptions) -> Result<Nucleus, String> {
        let cfg = &opts.config;
        let root = absolute(&opts.root)?;
        let socket_path = root.join("ipc.socket");
        // sockaddr_un holds 108 bytes including the terminating NUL.
        let len = socket_path.as_os_str().len();
        if len > 107 {
            return Err(format!(
                "socket path {} is {len} bytes; Unix sockets allow at most 107: use a shorter --root",
                socket_path.display()
            ));
        }
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot create root {}: {e}", root.display()))?;
        let thing_name = cfg
            .system
            .thing_name
            .clone()
            .unwrap_or_else(|| crate::config::defaults::THING_NAME.to_owned());

        // Recipes first: a bad recipe stops everything before anything listens.
        let mut recipes = Vec::new();
        for path in &opts.recipes {
            let (recipe, spec) = crate::recipe::ComponentSpec::load(path, &thing_name)?;
            recipes.push((path.clone(), recipe, spec));
        }

        let choice = match opts.broker.as_deref().or(cfg.mqtt.broker.as_deref()) {
            Some(s) => BrokerChoice::parse(s).map_err(|e| format!("--broker: {e}"))?,
            None => BrokerChoice::Embedded,
        };
        let mut embedded_addr = None;
        let mut listener_task = None;
        let mut bridge = None;
        let mut pool = None;
        let mut embedded = None;
        let mut memory = None;
        let broker: Arc<dyn Broker> = match &choice {
            BrokerChoice::Embedded => {
                let e = &cfg.mqtt.embedded;
                let port = opts.embedded_port.unwrap_or(e.port);
                let addr: SocketAddr = format!("{}:{}", e.host, port)
                    .parse()
                    .map_err(|err| format!("mqtt.embedded.host: {err}"))?;
                match &e.password_file {
                    Some(f) => {
                        let n = crate::mqtt::passwd::check_file(f)
                            .map_err(|err| format!("mqtt.embedded.passwordFile: {err}"))?;
                        tracing::info!("embedded MQTT broker: {n} users in {}", f.display());
                    }
                    None if !addr.ip().is_loopback() && !e.allow_anonymous => {
                        return Err(format!(
                            "embedded MQTT broker on {addr} (not loopback) without authentication: set \
                             mqtt.embedded.passwordFile (ggipc passwd FILE USER) or mqtt.embedded.allowAnonymous: true"
                        ));
                    }
                    None => {}
                }
                let b = EmbeddedBroker::with_limits(Limits {
                    max_packet_size: e.max_packet_size,
                    max_connections: e.max_connections,
                    max_queued_messages: e.max_queued_messages,
                    max_queued_bytes: e.max_queued_bytes,
                    max_inflight_messages: e.max_inflight_messages,
                    max_retained_messages: e.max_retained_messages,
                    max_retained_bytes: e.max_retained_bytes,
                    topic_alias_maximum: e.topic_alias_maximum,
                    max_session_expiry_seconds: e.max_session_expiry_seconds,
                    password_file: e.password_file.clone(),
                });
                b.set_stall_timeout(Duration::from_millis(cfg.mqtt.subscriber_stall_timeout_ms));
                let (bound, task) = b
                    .listen(addr)
                    .await
                    .map_err(|e| format!("embedded MQTT broker cannot listen on {addr}: {e} (use --mqtt-port 0 for a free port)"))?;
                tracing::info!("embedded MQTT broker listening on {bound}");
                embedded_addr = Some(bound);
                listener_task = Some(task);
                embedded = Some(b.clone());
                Arc::new(EmbeddedIpcBroker::new(b))
            }
            BrokerChoice::Memory => {
                let m = Arc::new(MemoryBroker::new());
                memory = Some(m.clone());
                m
            }
            BrokerChoice::Remote { tls, host, port } => {
                let m = &cfg.mqtt;
                let mut bc = BridgeConfig::new(host.clone(), *port);
                bc.client_id = m
                    .client_id
                    .clone()
                    .or_else(|| cfg.system.thing_name.clone())
                    .unwrap_or(bc.client_id);
                bc.version = if m.version == "mqtt3" {
                    MqttVersion::V311
                } else {
                    MqttVersion::V5
                };
                bc.keep_alive = Duration::from_millis(m.keep_alive_timeout_ms);
                bc.operation_timeout = Duration::from_millis(m.operation_timeout_ms);
                bc.spool_max_bytes = m.spooler.max_size_in_bytes;
                bc.keep_qos0_when_offline = m.spooler.keep_qos0_when_offline;
                bc.max_publish_retry = m.max_publish_retry;
                bc.max_in_flight = m.max_in_flight_publishes;
                bc.ack_mode = if m.publish_ack_mode == "puback" {
                    AckMode::Puback
                } else {
                    AckMode::Spool
                };
                bc.offline_subscribe = if m.subscribe_while_offline == "error" {
                    OfflineSubscribe::Error
                } else {
                    OfflineSubscribe::Pending
                };
                bc.session_expiry = m.session_expiry_seconds;
                bc.receive_maximum = m.receive_maximum.max(1);
                bc.username = m.username.clone();
                bc.password = m.password.clone();
                if *tls {
                    bc.tls = Some(TlsFiles {
                        ca: cfg.system.root_ca_path.clone(),
                        cert: cfg.system.certificate_file_path.clone(),
                        key: cfg.system.private_key_path.clone(),
                    });
                }
                bc.spool_fsync = m.spooler.fsync == "always";
                // IoT Core's per-connection publish quotas by default towards IoT Core only.
                let iot = crate::config::is_iot_core(host);
                bc.max_publishes_per_second = m.max_publishes_per_second.unwrap_or(if iot {
                    crate::config::defaults::IOT_CORE_PUBLISHES_PER_SECOND
                } else {
                    0
                });
                bc.max_publish_bytes_per_second =
                    m.max_publish_bytes_per_second.unwrap_or(if iot {
                        crate::config::defaults::IOT_CORE_PUBLISH_BYTES_PER_SECOND
                    } else {
                        0
                    });
                let disk = if m.spooler.is_disk() {
                    Some(open_disk_spool(&root)?)
                } else {
                    None
                };
                tracing::info!(client_id = %bc.client_id, "bridging to MQTT broker {host}:{port}");
                let b = Bridge::start_with_disk_spool(bc.clone(), disk);
                bridge = Some(b.clone());
                let p = BridgePool::new(b, bc, m.max_subscriptions_per_connection);
                pool = Some(p.clone());
                Arc::new(BridgeIpcBroker::new(
                    p,
                    Duration::from_millis(m.subscriber_stall_timeout_ms),
                ))
            }
        };

        if bridge.is_none() && cfg.mqtt.spooler.is_disk() {
            tracing::warn!("mqtt.spooler.storageType: Disk applies to a bridged broker (mqtt://, mqtts://) only");
        }
        let server_config = ServerConfig {
            socket_path: socket_path.clone(),
            max_payload_bytes: cfg.mqtt.max_message_size_in_bytes,
            mqtt5: cfg.mqtt.version != "mqtt3",
            configuration_numbers_as_doubles: cfg.configuration_numbers_as_doubles,
            subscriber_stall_timeout: Duration::from_millis(cfg.mqtt.subscriber_stall_timeout_ms),
            ..ServerConfig::default()
        };
        let server = Server::new(server_config, broker);
        // Tokens are kept under the root across restarts, so components (and `ggipc env` shells) that
        // reconnect after the nucleus restarts are still recognized.
        let tokens_file = root.join("tokens.json");
        let mut tokens: BTreeMap<String, String> = std::fs::read(&tokens_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut components = Vec::new();
        for (path, recipe, spec) in recipes {
            let svcuid = tokens
                .entry(recipe.name().to_owned())
                .or_insert_with(ggipc::server::generate_svcuid)
                .clone();
            let svcuid = server.register_recipe_with_token(&recipe, svcuid);
            if crate::store::restore(&root, &server, recipe.name())? {
                tracing::info!(component = %recipe.name(), "configuration restored from {}", crate::store::path(&root, recipe.name()).display());
            }
            tracing::info!(component = %recipe.name(), recipe = %path.display(), "component registered");
            components.push(Registered {
                name: recipe.name().to_owned(),
                svcuid,
                recipe_path: absolute(&spec.recipe_path)?,
                spec,
            });
        }
        let saver_task = crate::store::spawn_saver(root.clone(), server.clone());
        let defaults = components
            .iter()
            .map(|c: &Registered| (c.name.clone(), c.spec.configuration.clone()))
            .collect();
        let control_task = crate::control::serve(&root, server.clone(), defaults)?;
        let bound = server
            .bind()
            .map_err(|e| format!("cannot listen on {}: {e}", socket_path.display()))?;
        tracing::info!("IPC socket {}", socket_path.display());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server_task = tokio::spawn(async move {
            let stopped = bound
                .run(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = stopped {
                tracing::error!("IPC server stopped with an error: {e}");
            }
        });

        write_private(
            &tokens_file,
            &serde_json::to_vec_pretty(&tokens).expect("json"),
        )?;
        let registration_file = root.join("components.json");
        let mut comps = serde_json::Map::new();
        for c in &components {
            comps.insert(
                c.name.clone(),
                json!({"svcuid": c.svcuid, "recipe": c.recipe_path}),
            );
        }
        let reg = json!({
            "pid": std::process::id(),
            "socketPath": socket_path,
            "mqtt": embedded_addr.map(|a| a.to_string()),
            "components": comps,
        });
        write_private(
            &registration_file,
            &serde_json::to_vec_pretty(&reg).expect("json"),
        )?;
        release_free_memory();
        let status_task = Some(spawn_status(
            root.join("status.json"),
            server.clone(),
            pool.clone(),
            embedded.clone(),
        ));

        Ok(Nucleus {
            root,
            socket_path,
            components,
            embedded_addr,
            bridge,
            pool,
            embedded,
            memory,
            thing_name,
            server,
            shutdown: Some(tx),
            server_task: Some(server_task),
            listener_task,
            saver_task: Some(saver_task),
            control_task: Some(control_task),
            status_task,
            registration_file,
        })
    }

    /// The environment a component gets (docs/PROTOCOL.md §5.1).
    pub fn component_env(&self, c: &Registered, cfg: &Config) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        let sock = self.socket_path.display().to_string();
        env.insert("SVCUID".into(), c.svcuid.clone());
        env.insert("AWS_CONTAINER_AUTHORIZATION_TOKEN".into(), c.svcuid.clone());
        let for_component = if sock.len() >= 108 {
            "../../ipc.socket".to_owned()
        } else {
            sock.clone()
        };
        env.insert(
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT".into(),
            for_component,
        );
        env.insert("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH".into(), sock);
        env.insert(
            "GG_ROOT_CA_PATH".into(),
            cfg.system
                .root_ca_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        );
        env.insert("AWS_IOT_THING_NAME".into(), self.thing_name.clone());
        let region = cfg.aws_region.clone().unwrap_or_else(|| "us-east-1".into());
        env.insert("AWS_REGION".into(), region.clone());
        env.insert("AWS_DEFAULT_REGION".into(), region);
        env.insert(
            "GGC_VERSION".into(),
            cfg.ggc_version.clone().unwrap_or_else(|| "2.14.0".into()),
        );
        if let Some(a) = self.embedded_addr {
            // Ours: where the embedded broker listens, for components' tests that want to watch MQTT.
            env.insert("GGIPC_MQTT_ADDRESS".into(), a.to_string());
        }
        env
    }

    /// Stops the IPC server (terminating streams), the broker side, and removes the registration file.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.server_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        self.bridge.take();
        if let Some(p) = self.pool.take() {
            p.shutdown().await;
        }
        if let Some(t) = self.listener_task.take() {
            t.abort();
        }
        if let Some(t) = self.saver_task.take() {
            t.abort();
        }
        if let Some(t) = self.control_task.take() {
            t.abort();
            let _ = std::fs::remove_file(crate::control::socket_path(&self.root));
        }
        // Whatever the saver had not written yet.
        for c in &self.components {
            if let Err(e) = crate::store::save(&self.root, &self.server, &c.name) {
                tracing::error!("{e}");
            }
        }
        if let Some(t) = self.status_task.take() {
            t.abort();
        }
        let _ = std::fs::remove_file(&self.registration_file);
        let _ = std::fs::remove_file(self.root.join("status.json"));
    }
}

/// Keeps `status_file` (mode 0600) up to date with the nucleus' counters, every 2 s when they changed; `ggipc
/// status` prints it.
fn spawn_status(
    status_file: PathBuf,
    server: Server,
    pool: Option<BridgePool>,
    embedded: Option<EmbeddedBroker>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = String::new();
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            let s = server.stats();
            let mut v = json!({
                "pid": std::process::id(),
                "connectionsActive": s.connections_active,
                "subscriptionsActive": s.subscriptions_active,
                "publishes": s.publishes,
                "eventsDelivered": s.events_delivered,
                "eventsDropped": s.events_dropped,
                "lagEpisodes": s.lag_episodes,
            });
            if let Some(p) = &pool {
                use std::sync::atomic::Ordering::Relaxed;
                let b = p.primary();
                let st = b.stats();
                v["broker"] = json!({
                    "connected": b.is_connected(),
                    "lastError": b.last_error(),
                    "spoolBytes": b.spool_bytes(),
                    "published": st.published.load(Relaxed),
                    "acked": st.acked.load(Relaxed),
                    "dropped": st.dropped.load(Relaxed),
                    "received": st.received.load(Relaxed),
                    "connections": p.connections().into_iter().map(|(id, up, filters)| {
                        json!({"clientId": id, "connected": up, "subscriptions": filters})
                    }).collect::<Vec<_>>(),
                });
            }
            if let Some(e) = &embedded {
                let st = e.stats();
                v["embedded"] = json!({
                    "dropped": st.dropped,
                    "subscriptions": st.subscriptions,
                    "connections": st.connections,
                    "sessions": st.sessions,
                    "offlineSessions": st.offline_sessions,
                    "oversizeDropped": st.oversize_dropped,
                    "resent": st.resent,
                    "retained": st.retained,
                    "retainedBytes": st.retained_bytes,
                    "retainedRefused": st.retained_refused,
                    "connectionsRefused": st.connections_refused,
                    "authRefused": st.auth_refused,
                });
            }
            let text = serde_json::to_string_pretty(&v).unwrap_or_default();
            if text != last {
                if let Err(e) = write_private(&status_file, text.as_bytes()) {
                    tracing::debug!("status file: {e}");
                }
                last = text;
            }
        }
    })
}

impl Drop for Nucleus {
    fn drop(&mut self) {
        if let Some(t) = self.listener_task.take() {
            t.abort();
        }
        if let Some(t) = self.control_task.take() {
            t.abort();
        }
        if let Some(t) = self.status_task.take() {
            t.abort();
        }
        if self.shutdown.is_some() {
            let _ = std::fs::remove_file(&self.registration_file);
        }
    }
}

/// Gives memory freed after start-up (recipe parsing) back to the system, so an idle nucleus stays small.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Absolute form of `p` (relative to the current directory), without requiring it to exist.
/// Opens `<root>/spool/spool.log` and replays it: the publishes left by the last run, oldest first. Damage in
/// the file (a torn last record, a flipped byte) is logged with the count of records lost; the nucleus starts.
fn open_disk_spool(root: &Path) -> Result<(SpoolFile, Vec<(u64, crate::mqtt::msg::Msg)>), String> {
    let dir = root.join("spool");
    let started = std::time::Instant::now();
    let (file, rec) = SpoolFile::open(&dir)
        .map_err(|e| format!("cannot open the disk spool in {}: {e}", dir.display()))?;
    if rec.records_skipped > 0 || !rec.problems.is_empty() {
        tracing::error!(
            file = %file.path().display(),
            records_skipped = rec.records_skipped,
            "disk spool damaged: {} record(s) skipped ({}); the intact ones are kept",
            rec.records_skipped,
            rec.problems.join("; ")
        );
    }
    tracing::info!(
        file = %file.path().display(),
        messages = rec.messages.len(),
        "disk spool opened: {} message(s) to send from the last run (read in {:?})",
        rec.messages.len(),
        started.elapsed()
    );
    Ok((file, rec.messages))
}

pub fn absolute(p: &Path) -> Result<PathBuf, String> {
    if p.is_absolute() {
        Ok(p.to_owned())
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .map_err(|e| format!("current directory: {e}"))
    }
}

pub(crate) fn write_private(path: &Path, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    f.write_all(data)
        .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads `<root>/components.json` written by a running nucleus.
pub fn read_registration(root: &Path) -> Result<Value, String> {
    let path = root.join("components.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (is `ggipc nucleus --root {}` running?)",
            path.display(),
            root.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
