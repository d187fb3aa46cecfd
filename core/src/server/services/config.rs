//! Configuration (`GetConfiguration`) and lifecycle (`UpdateState`) as the Java nucleus answers them (its
//! `ConfigStoreIPCEventStreamAgent` and `LifecycleIPCEventStreamAgent`). Neither needs a policy.
//!
//! A component's configuration is its recipe's `DefaultConfiguration` (accessControl included, as in the
//! nucleus), or what [`Server::set_configuration`](crate::server::Server::set_configuration) put there.
//! GetConfiguration reads any component's configuration (the caller's by default): the whole document for an
//! empty key path, `{"<key>": value}` when the path ends at a value, the object when it ends at an object,
//! and `ResourceNotFoundError: Key not found` for an unknown component or path.
//!
//! UpdateConfiguration merges `valueToMerge` (an object) at a key path, the nucleus' way: each value carries
//! the time it was last set; a value is replaced only by an update whose timestamp is not older; an update
//! whose timestamp is older than the key path's latest change is refused with
//! `FailedUpdateConditionCheckError: Proposed timestamp is older than the config's latest modified timestamp`
//! (what it could merge stays merged, as in the nucleus); a key path that does not exist yet is created and
//! merged at the current time; `accessControl` cannot be changed. SubscribeToConfigurationUpdate sends one
//! `ConfigurationUpdateEvent` per value that changed at or below the watched key path, with the changed key's
//! path (the nucleus' events; nothing is sent for an update that changes nothing).
//!
//! UpdateState records the state a component reports (`RUNNING`, `ERRORED`); launchers follow it through
//! [`Server::reported_states`](crate::server::Server::reported_states). Where we differ: a request without a
//! state is `InvalidArgumentsError: State is required` (the nucleus answers a Java NullPointerException text
//! as a `ServiceError`).

use super::{parse_request, Outcome, Refusal, Request, WireEnum, EMPTY};
use crate::model::{GetConfigurationResponse, ReportedLifecycleState};
use crate::ErrorKind;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use tokio::sync::broadcast;

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One component's configuration: the document, and when each key path was last changed.
#[derive(Clone)]
struct Config {
    value: Value,
    modtimes: HashMap<Vec<String>, i64>,
}

impl Config {
    fn new(value: Value, at: i64) -> Config {
        let mut modtimes = HashMap::new();
        modtimes.insert(Vec::new(), at);
        Config { value, modtimes }
    }

    /// The latest change at or below `path`.
    fn modtime(&self, path: &[String]) -> i64 {
        self.modtimes
            .iter()
            .filter(|(p, _)| p.starts_with(path))
            .map(|(_, t)| *t)
            .max()
            .unwrap_or(0)
    }

    fn node(&self, path: &[String]) -> Option<&Value> {
        path.iter()
            .try_fold(&self.value, |node, key| node.as_object()?.get(key))
    }

    /// The object at `path`, created (as objects, at `at`) where missing.
    fn container(&mut self, path: &[String], at: i64) -> &mut serde_json::Map<String, Value> {
        let mut node = &mut self.value;
        for (i, key) in path.iter().enumerate() {
            if !node.is_object() {
                *node = Value::Object(Default::default());
            }
            let map = node.as_object_mut().expect("made an object above");
            if !map.contains_key(key) {
                self.modtimes.insert(path[..=i].to_vec(), at);
            }
            node = map
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Default::default()));
        }
        if !node.is_object() {
            *node = Value::Object(Default::default());
        }
        node.as_object_mut().expect("made an object above")
    }

    /// Merges `map` into the object at `base`, value by value, where `at` is not older than the value's last
    /// change; returns the key paths whose value changed.
    fn merge(
        &mut self,
        base: &[String],
        map: &serde_json::Map<String, Value>,
        at: i64,
        changed: &mut Vec<Vec<String>>,
    ) {
        for (key, value) in map {
            let mut path = base.to_vec();
            path.push(key.clone());
            if at < self.modtime(&path) && self.node(&path).is_some() {
                continue;
            }
            match value {
                Value::Object(inner) if self.node(&path).is_some_and(Value::is_object) => {
                    self.merge(&path, inner, at, changed);
                }
                Value::Object(inner) => {
                    self.modtimes.retain(|p, _| !p.starts_with(&path));
                    self.container(&path, at);
                    self.modtimes.insert(path.clone(), at);
                    changed.push(path.clone());
                    self.merge(&path, inner, at, changed);
                }
                leaf => {
                    let old = self.node(&path).cloned();
                    self.modtimes.retain(|p, _| !p.starts_with(&path));
                    self.modtimes.insert(path.clone(), at);
                    if old.as_ref() != Some(leaf) {
                        self.container(base, at).insert(key.clone(), leaf.clone());
                        changed.push(path);
                    }
                }
            }
        }
    }
}

/// The key paths where `old` and `new` differ: a leaf set, changed or removed is its own path; objects are
/// compared key by key.
fn diff(
    path: &mut Vec<String>,
    old: Option<&Value>,
    new: Option<&Value>,
    out: &mut Vec<Vec<String>>,
) {
    match (old, new) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                path.push(k.clone());
                diff(path, a.get(k), b.get(k), out);
                path.pop();
            }
        }
        (a, b) if a != b => out.push(path.clone()),
        _ => {}
    }
}

/// A SubscribeToConfigurationUpdate stream.
struct ConfigWatch {
    id: u64,
    component: String,
    path: Vec<String>,
    sink: std::sync::Arc<crate::server::sink::EventSink>,
}

/// Configurations and reported states of the registered components.
pub(crate) struct ComponentState {
    configs: RwLock<HashMap<String, Config>>,
    watches: Mutex<Vec<ConfigWatch>>,
    next_watch: std::sync::atomic::AtomicU64,
    states: Mutex<HashMap<String, ReportedLifecycleState>>,
    reports: broadcast::Sender<(String, ReportedLifecycleState)>,
    /// The component whose configuration changed (for owners that keep configurations).
    changes: broadcast::Sender<String>,
}

impl Default for ComponentState {
    fn default() -> Self {
        ComponentState {
            configs: RwLock::default(),
            watches: Mutex::default(),
            next_watch: Default::default(),
            states: Mutex::default(),
            reports: broadcast::channel(256).0,
            changes: broadcast::channel(1024).0,
        }
    }
}

impl ComponentState {
    pub(crate) fn set_configuration(&self, component: &str, config: Value) {
        self.configs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(component.to_string(), Config::new(config, now_ms()));
        let _ = self.changes.send(component.to_string());
    }

    pub(crate) fn changes(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }

    /// A component's configuration with the time each key path was last changed, as kept on disk:
    /// `{"configuration": {...}, "modified": [[["key", "path"], epoch_ms], ...]}`.
    pub(crate) fn export(&self, component: &str) -> Option<Value> {
        let configs = self.configs.read().unwrap_or_else(|e| e.into_inner());
        let c = configs.get(component)?;
        let mut modified: Vec<(&Vec<String>, &i64)> = c.modtimes.iter().collect();
        modified.sort();
        Some(serde_json::json!({
            "configuration": c.value,
            "modified": modified,
        }))
    }

    /// Puts back what [`export`](Self::export) gave.
    pub(crate) fn restore(&self, component: &str, stored: &Value) -> Result<(), String> {
        #[derive(Deserialize)]
        struct Stored {
            configuration: Value,
            #[serde(default)]
            modified: Vec<(Vec<String>, i64)>,
        }
        let stored = Stored::deserialize(stored).map_err(|e| e.to_string())?;
        if !stored.configuration.is_object() {
            return Err("configuration: expected a JSON object".into());
        }
        let mut config = Config::new(stored.configuration, 0);
        config.modtimes.extend(stored.modified);
        self.configs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(component.to_string(), config);
        Ok(())
    }

    /// Replaces `component`'s whole configuration as a deployment does: each key path whose value changed
    /// (set, changed or removed) gets the current time and one event.
    pub(crate) fn replace(
        &self,
        component: &str,
        new: Value,
        max_bytes: usize,
    ) -> Result<usize, Refusal> {
        if !new.is_object() {
            return Err(Refusal::invalid("A configuration must be a JSON object"));
        }
        let size = serde_json::to_vec(&new).map_or(0, |v| v.len());
        if size > max_bytes {
            return Err(Refusal::invalid(format!(
                "Configuration of {component} would be {size} bytes, more than the limit of {max_bytes} bytes"
            )));
        }
        let mut configs = self.configs.write().unwrap_or_else(|e| e.into_inner());
        let config = configs.get_mut(component).ok_or_else(|| {
            Refusal::invalid(format!(
                "Component config not found for component {component}"
            ))
        })?;
        let mut changed = Vec::new();
        diff(
            &mut Vec::new(),
            Some(&config.value),
            Some(&new),
            &mut changed,
        );
        let now = now_ms();
        for path in &changed {
            config.modtimes.retain(|p, _| !p.starts_with(path));
            config.modtimes.insert(path.clone(), now);
        }
        config.value = new;
        drop(configs);
        if !changed.is_empty() {
            let _ = self.changes.send(component.to_string());
        }
        self.notify(component, &changed);
        Ok(changed.len())
    }

    pub(crate) fn configuration(&self, component: &str) -> Option<Value> {
        self.configs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(component)
            .map(|c| c.value.clone())
    }

    /// Merges `value` (an object) at `path` of `component`'s configuration as UpdateConfiguration does, and
    /// tells the watchers what changed.
    pub(crate) fn update(
        &self,
        component: &str,
        path: &[String],
        value: &serde_json::Map<String, Value>,
        timestamp_ms: Option<i64>,
        max_bytes: usize,
    ) -> Result<(), Refusal> {
        let changed = {
            let mut configs = self.configs.write().unwrap_or_else(|e| e.into_inner());
            let current = configs.get_mut(component).ok_or_else(|| {
                Refusal::invalid(format!(
                    "Component config not found for component {component}"
                ))
            })?;
            // Merged into a copy, kept only if it stays within the bound.
            let mut copy = current.clone();
            let config = &mut copy;
            let mut changed = Vec::new();
            // No timestamp: newer than anything there (a tool's change wins).
            let timestamp_ms = timestamp_ms.unwrap_or_else(|| now_ms().max(config.modtime(path)));
            let update_time = match config.node(path) {
                None => {
                    // A new key path is created, and merged, at the current time.
                    let now = now_ms();
                    config.container(path, now);
                    config.merge(path, value, now, &mut changed);
                    now
                }
                Some(Value::Object(_)) => {
                    config.merge(path, value, timestamp_ms, &mut changed);
                    timestamp_ms
                }
                Some(_) => {
                    let (last, parent) = path.split_last().expect("the root is an object");
                    let single: serde_json::Map<String, Value> =
                        [(last.clone(), Value::Object(value.clone()))]
                            .into_iter()
                            .collect();
                    config.merge(parent, &single, timestamp_ms, &mut changed);
                    timestamp_ms
                }
            };
            let latest = config.modtime(path);
            let size = serde_json::to_vec(&config.value).map_or(0, |v| v.len());
            if size > max_bytes {
                return Err(Refusal::invalid(format!(
                    "Configuration of {component} would be {size} bytes, more than the limit of {max_bytes} bytes"
                )));
            }
            *current = copy;
            if !changed.is_empty() {
                let _ = self.changes.send(component.to_string());
            }
            self.notify(component, &changed);
            if update_time < latest {
                return Err(Refusal::new(
                    ErrorKind::FailedUpdateConditionCheckError,
                    "Proposed timestamp is older than the config's latest modified timestamp",
                ));
            }
            changed
        };
        tracing::debug!(component, changed = changed.len(), "configuration updated");
        Ok(())
    }

    fn notify(&self, component: &str, changed: &[Vec<String>]) {
        if changed.is_empty() {
            return;
        }
        let watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        for w in watches.iter().filter(|w| w.component == component) {
            for path in changed.iter().filter(|p| p.starts_with(&w.path)) {
                let event = crate::model::ConfigurationUpdateEvents {
                    configuration_update_event: Some(crate::model::ConfigurationUpdateEvent {
                        component_name: Some(component.to_string()),
                        key_path: Some(path.clone()),
                    }),
                };
                w.sink.deliver_json(&event);
            }
        }
    }

    pub(crate) fn state(&self, component: &str) -> Option<ReportedLifecycleState> {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(component)
            .copied()
    }

    pub(crate) fn reports(&self) -> broadcast::Receiver<(String, ReportedLifecycleState)> {
        self.reports.subscribe()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawGet {
    component_name: Option<String>,
    key_path: Option<Vec<String>>,
}

fn not_found() -> Refusal {
    Refusal::new(ErrorKind::ResourceNotFoundError, "Key not found")
}

/// GetConfiguration.
pub(super) fn get(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let raw: RawGet = parse_request(body)?;
        let component = raw
            .component_name
            .unwrap_or_else(|| req.component.to_string());
        let config = req
            .shared
            .components_state
            .configuration(&component)
            .ok_or_else(not_found)?;
        let path = raw.key_path.unwrap_or_default();
        let value = match path.split_last() {
            None => config,
            Some((last, _)) => {
                let mut node = &config;
                for key in &path {
                    node = node
                        .as_object()
                        .and_then(|o| o.get(key))
                        .ok_or_else(not_found)?;
                }
                if node.is_object() {
                    node.clone()
                } else {
                    serde_json::json!({ last: node })
                }
            }
        };
        let response = GetConfigurationResponse {
            component_name: Some(component),
            value: Some(value),
        };
        serde_json::to_vec(&response)
            .map(bytes::Bytes::from)
            .map_err(|e| Refusal::service(format!("response cannot be encoded: {e}")))
    })();
    Outcome::Done(result)
}

#[derive(Deserialize)]
struct RawUpdateState {
    state: Option<WireEnum>,
}

/// UpdateState.
pub(super) fn update_state(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let raw: RawUpdateState = parse_request(body)?;
        let state = raw
            .state
            .ok_or_else(|| Refusal::invalid("State is required"))?;
        let state = ReportedLifecycleState::parse(&state.0)?;
        let shared = &req.shared.components_state;
        shared
            .states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(req.component.to_string(), state);
        let _ = shared.reports.send((req.component.to_string(), state));
        // The nucleus' service state follows what the component reports.
        req.shared.lifecycles.set_state(
            req.component,
            match state {
                ReportedLifecycleState::Running => crate::model::LifecycleState::Running,
                ReportedLifecycleState::Errored => crate::model::LifecycleState::Errored,
            },
        );
        tracing::info!(component = %req.component, state = state.as_str(), "component reported its state");
        Ok(EMPTY)
    })();
    Outcome::Done(result)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawUpdate {
    key_path: Option<Vec<String>>,
    timestamp: Option<f64>,
    value_to_merge: Option<Value>,
}

/// Turns every number into a double, as the nucleus' JSON reader does with `valueToMerge` (so `5` comes back as
/// `5.0`): `ServerConfig::configuration_numbers_as_doubles`.
fn numbers_as_doubles(v: &mut Value) {
    match v {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(numbers_as_doubles),
        Value::Object(m) => m.values_mut().for_each(numbers_as_doubles),
        _ => {}
    }
}

/// The top-level keys a component may not change.
const RESTRICTED: &[&str] = &["accessControl"];

/// UpdateConfiguration.
pub(super) fn update(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let raw: RawUpdate = parse_request(body)?;
        let timestamp = raw
            .timestamp
            .filter(|t| t.is_finite())
            .ok_or_else(|| Refusal::invalid("Timestamp is required"))?;
        let value = match raw.value_to_merge {
            None | Some(Value::Null) => return Err(Refusal::invalid("ValueToMerge is required")),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(Refusal::invalid("ValueToMerge must be a JSON object")),
        };
        let path = raw.key_path.unwrap_or_default();
        let restricted = match path.first() {
            None => value.keys().any(|k| RESTRICTED.contains(&k.as_str())),
            Some(first) => RESTRICTED.contains(&first.as_str()),
        };
        if restricted {
            return Err(Refusal::invalid(format!(
                "Config update is not allowed for following fields [{}]",
                RESTRICTED.join(", ")
            )));
        }
        let mut value = Value::Object(value);
        if req.shared.config.configuration_numbers_as_doubles {
            numbers_as_doubles(&mut value);
        }
        let Value::Object(value) = value else {
            return Err(Refusal::service("valueToMerge changed type"));
        };
        req.shared.components_state.update(
            req.component,
            &path,
            &value,
            Some((timestamp * 1000.0) as i64),
            req.shared.config.max_configuration_bytes,
        )?;
        Ok(EMPTY)
    })();
    Outcome::Done(result)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawWatch {
    component_name: Option<String>,
    key_path: Option<Vec<String>>,
}

/// SubscribeToConfigurationUpdate.
pub(super) fn subscribe(req: Request<'_>, body: &[u8]) -> Outcome {
    let prepared = (|| {
        let raw: RawWatch = parse_request(body)?;
        let component = raw
            .component_name
            .unwrap_or_else(|| req.component.to_string());
        let path = raw.key_path.unwrap_or_default();
        let configs = req
            .shared
            .components_state
            .configs
            .read()
            .unwrap_or_else(|e| e.into_inner());
        let config = configs.get(&component).ok_or_else(not_found)?;
        config.node(&path).ok_or_else(not_found)?;
        Ok((component, path))
    })();
    let (component, path) = match prepared {
        Ok(v) => v,
        Err(r) => return Outcome::Done(Err(r)),
    };
    let Some(sink) = req.sink.clone() else {
        return Outcome::Done(Err(Refusal::service("stream without an event sink")));
    };
    let shared = req.shared.clone();
    let state = &shared.components_state;
    let id = state
        .next_watch
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    state
        .watches
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(ConfigWatch {
            id,
            component,
            path,
            sink,
        });
    Outcome::Stream(Box::pin(async move {
        Ok((
            EMPTY,
            super::StreamGuard::new(move || {
                shared
                    .components_state
                    .watches
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|w| w.id != id)
            }),
        ))
    }))
}
