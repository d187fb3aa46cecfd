//! Configuration (`GetConfiguration`) and lifecycle (`UpdateState`) as the Java nucleus answers them (its
//! `ConfigStoreIPCEventStreamAgent` and `LifecycleIPCEventStreamAgent`). Neither needs a policy.
//!
//! A component's configuration is its recipe's `DefaultConfiguration` (accessControl included, as in the
//! nucleus), or what [`Server::set_configuration`](crate::server::Server::set_configuration) put there.
//! GetConfiguration reads any component's configuration (the caller's by default): the whole document for an
//! empty key path, `{"<key>": value}` when the path ends at a value, the object when it ends at an object,
//! and `ResourceNotFoundError: Key not found` for an unknown component or path.
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

/// Configurations and reported states of the registered components.
pub(crate) struct ComponentState {
    configs: RwLock<HashMap<String, Value>>,
    states: Mutex<HashMap<String, ReportedLifecycleState>>,
    reports: broadcast::Sender<(String, ReportedLifecycleState)>,
}

impl Default for ComponentState {
    fn default() -> Self {
        ComponentState {
            configs: RwLock::default(),
            states: Mutex::default(),
            reports: broadcast::channel(256).0,
        }
    }
}

impl ComponentState {
    pub(crate) fn set_configuration(&self, component: &str, config: Value) {
        self.configs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(component.to_string(), config);
    }

    pub(crate) fn configuration(&self, component: &str) -> Option<Value> {
        self.configs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(component)
            .cloned()
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
        tracing::info!(component = %req.component, state = state.as_str(), "component reported its state");
        Ok(EMPTY)
    })();
    Outcome::Done(result)
}
