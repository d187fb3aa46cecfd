//! The IPC server: what the Greengrass nucleus does for the MQTT proxy service, over a Unix socket.
//!
//! - [`Server`] listens on a socket (a stale socket file is replaced, a path held by a live server is
//!   refused, permissions are restrictive by default), authenticates each connection by its SVCUID
//!   ([`ComponentRegistry`]), authorizes each request against the component's `accessControl`
//!   ([`AccessControl`], from a [`Recipe`]), validates it in the nucleus' order with its exact messages, and
//!   hands it to a [`Broker`] — AWS IoT Core, any MQTT broker, or the in-process [`MemoryBroker`].
//! - Limits: connections, open streams per connection, frame size, time to CONNECT, payload size.
//! - Shutdown terminates every open stream, flushes, and closes.

mod broker;
mod endpoint;
mod memory;
mod policy;
mod recipe;
mod registry;
mod services;
mod sink;
pub mod topic;
pub mod topic_index;

pub use broker::{
    ready_all, BoxFuture, Broker, BrokerError, BrokerPublish, Delivery, MessageRef, MessageSink,
    SubscriptionId, UserProperties,
};
pub use memory::{MemoryBroker, RECORD_BYTES_LIMIT, RECORD_LIMIT};
pub use policy::{AccessControl, FilterAuthorization, Policy, PolicyError, ResourcePattern};
pub use recipe::{get_ci, Recipe, RecipeError};
pub use registry::{generate_svcuid, Component, ComponentRegistry};
pub use services::lifecycle::LifecycleCommand;
pub use services::pubsub::LocalMessage;

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

/// Server settings. `Default` gives the nucleus' limits with restrictive socket permissions.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Where the socket is created.
    pub socket_path: PathBuf,
    /// File mode of the socket (default `0o600`: only the server's user; the nucleus uses `0o666`).
    pub socket_mode: u32,
    /// Connections served at once; further connections are closed right away.
    pub max_connections: usize,
    /// Streams open at once on one connection; further activations get a `ServiceError`.
    pub max_streams_per_connection: usize,
    /// Largest event-stream message accepted or sent.
    pub max_message_size: usize,
    /// Time a new connection has to send CONNECT.
    pub connect_timeout: Duration,
    /// Largest publish payload (the nucleus' `mqtt.maxMessageSizeInBytes`, default 131 072).
    pub max_payload_bytes: usize,
    /// How subscribe filters are authorized (see [`FilterAuthorization`]).
    pub filter_authorization: FilterAuthorization,
    /// Validate topics as for an MQTT 5 connection (the nucleus default) rather than MQTT 3.1.1.
    pub mqtt5: bool,
    /// Events buffered for a subscription whose response is not yet sent; beyond it they are dropped.
    pub pending_events_limit: usize,
    /// Largest configuration a component may have, as JSON bytes (default 10 MB, the nucleus' limit for a
    /// deployment document); an UpdateConfiguration that would make it larger is refused.
    pub max_configuration_bytes: usize,
    /// Store the numbers UpdateConfiguration merges as doubles, so `5` is read back as `5.0`, as the Java nucleus
    /// does (its JSON reader makes every number of `valueToMerge` a double). Default `false`: numbers are kept
    /// as sent.
    pub configuration_numbers_as_doubles: bool,
    /// How long a QoS 1 (or local) publish waits for a subscriber whose connection is more than
    /// `rpc::HIGH_WATER` bytes behind before that subscriber counts as stalled: its events are then dropped and
    /// counted (and it is told, with the next event it gets) until it has drained, and publishers go on without
    /// it. This bounds how long one stalled subscriber holds up the others. Default 2 s, well below the clients'
    /// default operation timeout of 10 s.
    pub subscriber_stall_timeout: Duration,
    /// Requests of one connection the server holds unanswered (a publish waiting for a slow subscriber, a
    /// broker's acknowledgment or a subscription's SUBACK) before it stops reading that connection until one is
    /// answered: with the payload limit, this bounds the memory one fast publisher can take. Default 64.
    pub max_pending_requests: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            socket_path: PathBuf::from("ipc.socket"),
            socket_mode: 0o600,
            max_connections: 4096,
            max_streams_per_connection: 4096,
            max_message_size: crate::codec::DEFAULT_MAX_MESSAGE_SIZE,
            connect_timeout: Duration::from_secs(10),
            max_payload_bytes: 128 * 1024,
            filter_authorization: FilterAuthorization::Strict,
            mqtt5: true,
            pending_events_limit: 1024,
            max_configuration_bytes: 10 * 1000 * 1000,
            configuration_numbers_as_doubles: false,
            subscriber_stall_timeout: Duration::from_secs(2),
            max_pending_requests: 64,
        }
    }
}

impl ServerConfig {
    pub fn new(socket_path: impl Into<PathBuf>) -> Self {
        ServerConfig {
            socket_path: socket_path.into(),
            ..Default::default()
        }
    }
}

/// Counters of a running server.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    connections_accepted: AtomicU64,
    connections_active: AtomicU64,
    connections_refused: AtomicU64,
    access_denied: AtomicU64,
    protocol_errors: AtomicU64,
    publishes: AtomicU64,
    subscriptions_active: AtomicU64,
    events_delivered: AtomicU64,
    events_dropped: AtomicU64,
    lag_episodes: AtomicU64,
}

/// A snapshot of the server's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub connections_accepted: u64,
    pub connections_active: u64,
    /// Connections closed at once because `max_connections` were open.
    pub connections_refused: u64,
    /// CONNECTs rejected for a bad token or version.
    pub access_denied: u64,
    /// Connections closed for breaking the protocol.
    pub protocol_errors: u64,
    /// Publishes accepted by the broker.
    pub publishes: u64,
    pub subscriptions_active: u64,
    pub events_delivered: u64,
    /// Events dropped because a subscriber's connection was not reading (see `ServerConfig`).
    pub events_dropped: u64,
    /// Times a subscriber started dropping events (each such episode is logged once and ends when the
    /// subscriber is told the count with its next event).
    pub lag_episodes: u64,
}

pub(crate) struct Shared {
    config: ServerConfig,
    components: ComponentRegistry,
    broker: Arc<dyn Broker>,
    /// Local publish/subscribe between components.
    bus: services::pubsub::LocalBus,
    /// Components' configurations and reported states.
    components_state: services::config::ComponentState,
    /// Validation and component-update streams, and the answers deployments wait for.
    deployments: services::deployment::Deployments,
    /// Components' lifecycle states and versions, and the restart/stop requests for their owner.
    lifecycles: services::lifecycle::Lifecycles,
    counters: Counters,
    shutdown: watch::Sender<bool>,
}

/// An IPC server. Cheap to clone; clones share registrations and counters.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

impl Server {
    pub fn new(config: ServerConfig, broker: Arc<dyn Broker>) -> Self {
        Server {
            shared: Arc::new(Shared {
                config,
                components: ComponentRegistry::new(),
                broker,
                bus: Default::default(),
                components_state: Default::default(),
                deployments: Default::default(),
                lifecycles: Default::default(),
                counters: Counters::default(),
                shutdown: watch::channel(false).0,
            }),
        }
    }

    /// Registered components; register before clients connect.
    pub fn components(&self) -> &ComponentRegistry {
        &self.shared.components
    }

    /// Registers a recipe's component with its policies and its default configuration; returns its SVCUID.
    pub fn register_recipe(&self, recipe: &Recipe) -> String {
        self.register_recipe_with_token(recipe, generate_svcuid())
    }

    /// [`register_recipe`](Self::register_recipe) with a given token (kept across restarts, fixed in tests).
    pub fn register_recipe_with_token(&self, recipe: &Recipe, token: String) -> String {
        let config = recipe
            .default_configuration()
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        self.shared
            .components_state
            .set_configuration(recipe.name(), config);
        self.shared
            .lifecycles
            .set_version(recipe.name(), recipe.version_or_default());
        self.shared.components.register_with_token(
            recipe.name(),
            recipe.access_control().clone(),
            token,
        )
    }

    /// Replaces a component's configuration (what GetConfiguration reads).
    pub fn set_configuration(&self, component: &str, config: serde_json::Value) {
        self.shared
            .components_state
            .set_configuration(component, config);
    }

    /// Merges `value` at `key_path` of a component's configuration as UpdateConfiguration does, with a
    /// timestamp newer than anything there (so it always wins), telling SubscribeToConfigurationUpdate streams what changed. Fails with the nucleus'
    /// error for an unknown component.
    pub fn update_configuration(
        &self,
        component: &str,
        key_path: &[String],
        value: serde_json::Map<String, serde_json::Value>,
    ) -> crate::Result<()> {
        self.shared
            .components_state
            .update(
                component,
                key_path,
                &value,
                None,
                self.shared.config.max_configuration_bytes,
            )
            .map_err(|r| crate::Error::new(r.kind, r.message))
    }

    /// Asks `component`'s SubscribeToValidateConfigurationUpdates streams about `configuration` for
    /// `deployment_id` and waits up to `timeout` for its SendConfigurationValidityReport. `Ok(None)`: the
    /// component validates nothing; `Err(Timeout)`: it did not answer in time.
    pub async fn validate_configuration(
        &self,
        component: &str,
        deployment_id: &str,
        configuration: serde_json::Value,
        timeout: Duration,
    ) -> crate::Result<Option<crate::model::ConfigurationValidityReport>> {
        self.shared
            .deployments
            .validate(component, deployment_id, configuration, timeout)
            .await
    }

    /// Tells every SubscribeToComponentUpdates stream that `deployment_id` is about to update components and
    /// returns the DeferComponentUpdate requests that arrived within `timeout` (component, request).
    pub async fn pre_component_update(
        &self,
        deployment_id: &str,
        is_ggc_restarting: bool,
        timeout: Duration,
    ) -> Vec<(String, crate::model::DeferComponentUpdateRequest)> {
        self.shared
            .deployments
            .pre_update(deployment_id, is_ggc_restarting, timeout)
            .await
    }

    /// Tells every SubscribeToComponentUpdates stream that `deployment_id` updated components.
    pub fn post_component_update(&self, deployment_id: &str) {
        self.shared.deployments.post_update(deployment_id);
    }

    /// Replaces a component's whole configuration as a deployment does, after validation: every key path whose
    /// value is set, changed or removed gets one SubscribeToConfigurationUpdate event. Returns how many changed.
    /// Refused (nothing changed) for an unknown component, a value that is not an object, or one larger than
    /// `max_configuration_bytes`.
    pub fn replace_configuration(
        &self,
        component: &str,
        configuration: serde_json::Value,
    ) -> crate::Result<usize> {
        self.shared
            .components_state
            .replace(
                component,
                configuration,
                self.shared.config.max_configuration_bytes,
            )
            .map_err(|r| crate::Error::new(r.kind, r.message))
    }

    /// Every configuration change from now on (the component's name), from UpdateConfiguration,
    /// [`update_configuration`](Self::update_configuration), [`set_configuration`](Self::set_configuration) and
    /// registration: what an owner that keeps configurations (the local nucleus) listens to.
    pub fn configuration_changes(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.shared.components_state.changes()
    }

    /// A component's configuration with the time each key path last changed, in the form the local nucleus keeps
    /// on disk: `{"configuration": {...}, "modified": [[["key", "path"], epoch_ms], ...]}`.
    pub fn export_configuration(&self, component: &str) -> Option<serde_json::Value> {
        self.shared.components_state.export(component)
    }

    /// Replaces a component's configuration with what [`export_configuration`](Self::export_configuration)
    /// gave (timestamps included, so older updates stay refused after a restart). Nobody is notified.
    pub fn restore_configuration(
        &self,
        component: &str,
        stored: &serde_json::Value,
    ) -> Result<(), String> {
        self.shared.components_state.restore(component, stored)
    }

    /// A component's configuration.
    pub fn configuration(&self, component: &str) -> Option<serde_json::Value> {
        self.shared.components_state.configuration(component)
    }

    /// The state a component last reported with UpdateState.
    pub fn reported_state(&self, component: &str) -> Option<crate::model::ReportedLifecycleState> {
        self.shared.components_state.state(component)
    }

    /// Every UpdateState from now on: (component, state).
    pub fn reported_states(
        &self,
    ) -> tokio::sync::broadcast::Receiver<(String, crate::model::ReportedLifecycleState)> {
        self.shared.components_state.reports()
    }

    /// Sets a component's lifecycle state (what GetComponentDetails and ListComponents answer; UpdateState
    /// sets RUNNING and ERRORED itself). A component nobody set a state for is NEW, and RestartComponent
    /// answers FAILED for it.
    pub fn set_lifecycle_state(&self, component: &str, state: crate::model::LifecycleState) {
        self.shared.lifecycles.set_state(component, state);
    }

    /// A component's lifecycle state.
    pub fn lifecycle_state(&self, component: &str) -> crate::model::LifecycleState {
        self.shared.lifecycles.state(component)
    }

    /// Every lifecycle state change from now on (set by the owner or by UpdateState): (component, state).
    pub fn lifecycle_changes(
        &self,
    ) -> tokio::sync::broadcast::Receiver<(String, crate::model::LifecycleState)> {
        self.shared.lifecycles.changes()
    }

    /// The RestartComponent and StopComponent requests from now on: (component, command). The owner that
    /// runs the components carries them out; while nobody listens, RestartComponent answers FAILED.
    pub fn lifecycle_commands(
        &self,
    ) -> tokio::sync::broadcast::Receiver<(String, LifecycleCommand)> {
        self.shared.lifecycles.commands()
    }

    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    pub fn broker(&self) -> &Arc<dyn Broker> {
        &self.shared.broker
    }

    /// Publishes a local message on `topic` as `publisher` (for test harnesses and tools), bypassing
    /// authorization; returns how many subscriptions took it.
    pub fn publish_local(&self, publisher: &str, topic: &str, message: LocalMessage) -> usize {
        self.shared.bus.publish(publisher, topic, &message)
    }

    /// Open local (SubscribeToTopic) subscriptions.
    pub fn local_subscriptions(&self) -> usize {
        self.shared.bus.len()
    }

    /// Filters of the open local (SubscribeToTopic) subscriptions, oldest first.
    pub fn local_subscription_filters(&self) -> Vec<String> {
        self.shared.bus.filters()
    }

    /// Blocks the calling thread (never call it on a runtime worker) until `done` holds for the filters of the
    /// open local subscriptions, or `timeout` passes; returns whether it held. For test harnesses.
    pub fn wait_for_local_subscriptions(
        &self,
        timeout: Duration,
        done: impl Fn(&[String]) -> bool,
    ) -> bool {
        self.shared.bus.wait_for(timeout, done)
    }

    pub fn stats(&self) -> ServerStats {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServerStats {
            connections_accepted: l(&c.connections_accepted),
            connections_active: l(&c.connections_active),
            connections_refused: l(&c.connections_refused),
            access_denied: l(&c.access_denied),
            protocol_errors: l(&c.protocol_errors),
            publishes: l(&c.publishes),
            subscriptions_active: l(&c.subscriptions_active),
            events_delivered: l(&c.events_delivered),
            events_dropped: l(&c.events_dropped),
            lag_episodes: l(&c.lag_episodes),
        }
    }

    /// Creates the socket. Must run inside a tokio runtime. A leftover socket file nobody listens on is
    /// replaced; a socket a live server answers on, or a path that is not a socket, is refused.
    pub fn bind(&self) -> io::Result<BoundServer> {
        let path = self.shared.config.socket_path.clone();
        prepare_socket_path(&path)?;
        let listener = UnixListener::bind(&path)?;
        std::fs::set_permissions(
            &path,
            std::fs::Permissions::from_mode(self.shared.config.socket_mode),
        )?;
        tracing::info!(socket = %path.display(), "IPC server listening");
        Ok(BoundServer {
            server: self.clone(),
            listener,
            path,
        })
    }

    /// Binds and serves until `shutdown` completes.
    pub async fn serve(&self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        self.bind()?.run(shutdown).await
    }

    /// Binds, then serves on a background task until [`ServerHandle::shutdown`].
    pub fn spawn(&self) -> io::Result<ServerHandle> {
        let bound = self.bind()?;
        let path = bound.path.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(bound.run(async move {
            let _ = rx.await;
        }));
        Ok(ServerHandle {
            path,
            stop: Some(tx),
            task: Some(task),
            server: self.clone(),
        })
    }
}

fn prepare_socket_path(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is held by a running server", path.display()),
                ));
            }
            tracing::info!(socket = %path.display(), "replacing stale socket file");
            std::fs::remove_file(path)
        }
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket; refusing to replace it",
                path.display()
            ),
        )),
    }
}

/// A server with its socket created, ready to [`run`](BoundServer::run).
pub struct BoundServer {
    server: Server,
    listener: UnixListener,
    path: PathBuf,
}

impl BoundServer {
    pub fn socket_path(&self) -> &Path {
        &self.path
    }

    /// Accepts connections until `shutdown` completes, then terminates every open stream, waits for the
    /// connections to close, and removes the socket file.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let shared = self.server.shared.clone();
        let slots = Arc::new(Semaphore::new(shared.config.max_connections));
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                accepted = self.listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            // Out of file descriptors and the like: back off instead of spinning.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    shared.counters.connections_accepted.fetch_add(1, Ordering::Relaxed);
                    let _ = crate::rpc::set_send_buffer(&stream, crate::rpc::SEND_BUFFER);
                    let Ok(permit) = slots.clone().try_acquire_owned() else {
                        shared.counters.connections_refused.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(limit = shared.config.max_connections, "connection limit reached; closing new connection");
                        drop(stream);
                        continue;
                    };
                    let shared = shared.clone();
                    tasks.spawn(async move {
                        endpoint::serve_connection(shared, stream).await;
                        drop(permit);
                    });
                }
            }
        }
        let _ = shared.shutdown.send(true);
        while tasks.join_next().await.is_some() {}
        drop(self.listener);
        let _ = std::fs::remove_file(&self.path);
        tracing::info!(socket = %self.path.display(), "IPC server stopped");
        Ok(())
    }
}

/// A server running on a background task.
pub struct ServerHandle {
    path: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<io::Result<()>>>,
    server: Server,
}

impl ServerHandle {
    pub fn socket_path(&self) -> &Path {
        &self.path
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Stops the server gracefully and waits until it has.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(t) => t.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[cfg(test)]
mod tests;
