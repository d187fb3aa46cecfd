//! Component lifecycle seen from the IPC: the Greengrass CLI's operations (RestartComponent, StopComponent,
//! GetComponentDetails, ListComponents, as the CLI component's `CLIEventStreamAgent` serves them) and the
//! nucleus' ValidateAuthorizationToken (`AuthorizationIPCAgent`).
//!
//! The server does not run processes: it keeps each component's [`LifecycleState`] (set by the server's owner
//! with [`Server::set_lifecycle_state`](crate::server::Server::set_lifecycle_state), and by UpdateState, which
//! sets RUNNING or ERRORED as in the nucleus) and its version, and hands restart and stop requests to the owner
//! ([`Server::lifecycle_commands`](crate::server::Server::lifecycle_commands)), which carries them out.
//!
//! Order and messages, as the CLI answers:
//! 1. an empty or missing component name: `InvalidArgumentsError: Component name cannot be empty`;
//! 2. authorization: `aws.greengrass.Cli` itself and callers whose name starts with `greengrass-cli#` may call
//!    anything; others need an `aws.greengrass.Cli` policy granting the operation on the component (`*` for
//!    ListComponents), else `UnauthorizedError: Principal <caller> is not authorized to perform
//!    aws.greengrass.Cli:aws.greengrass#<Operation> on resource <component>`;
//! 3. an unknown component: `ResourceNotFoundError: Component with name <c> not found in Greengrass`;
//! 4. RestartComponent answers `FAILED` for a component that was never started (state NEW: nobody runs it,
//!    e.g. under `ggipc nucleus`), else `SUCCEEDED` once the owner has been asked; StopComponent answers
//!    `SUCCEEDED`.
//!
//! PauseComponent and ResumeComponent follow the nucleus' `LifecycleIPCEventStreamAgent`: an empty name is
//! `InvalidArgumentsError: Component name is required.`; then an `aws.greengrass.ipc.lifecycle` policy must grant
//! the operation on the component (`UnauthorizedError: Principal <caller> is not authorized to perform
//! aws.greengrass.ipc.lifecycle:aws.greengrass#PauseComponent on resource <component>`); an unknown component is a
//! `ResourceNotFoundError` (the nucleus sends it without a message; ours names the component); a component that is
//! not RUNNING cannot be paused (`InvalidArgumentsError: Component <c> is not running`), one that is not paused
//! cannot be resumed (`… is not paused`); a component nobody runs is `ServiceError: Failed to pause component <c>
//! due to : it is not run by this nucleus`.
//!
//! ValidateAuthorizationToken is served to `aws.greengrass.StreamManager` only (`UnauthorizedError: <caller> is
//! not authorized to perform aws.greengrass#ValidateAuthorizationToken`); a missing token is
//! `InvalidTokenError: Invalid authentication token`, an unknown one `InvalidTokenError: Authentication token
//! not found`, a known one `{"isValid": true}`.

use super::{parse_request, Outcome, Refusal, Request};
use crate::model::{
    ComponentDetails, GetComponentDetailsResponse, LifecycleState, ListComponentsResponse,
    RequestStatus, RestartComponentResponse, StopComponentResponse,
    ValidateAuthorizationTokenResponse,
};
use crate::ErrorKind;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// The Greengrass CLI component's name (the destination of its policies).
pub const CLI_SERVICE: &str = "aws.greengrass.Cli";
/// Callers whose name starts with this are CLI clients, allowed every CLI operation.
pub const CLI_CLIENT_PREFIX: &str = "greengrass-cli#";
/// The only component the nucleus serves ValidateAuthorizationToken to.
pub const STREAM_MANAGER: &str = "aws.greengrass.StreamManager";

/// What RestartComponent and StopComponent ask of the server's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LifecycleCommand {
    /// Stop the component if it runs, then start it again (Startup and Run; Install is not repeated).
    Restart,
    /// Stop the component; it stays FINISHED until restarted.
    Stop,
    /// Pause the component's processes (SIGSTOP).
    Pause,
    /// Resume them (SIGCONT).
    Resume,
}

/// States and versions of the registered components, and the channel to their owner.
pub(crate) struct Lifecycles {
    states: Mutex<HashMap<String, LifecycleState>>,
    versions: Mutex<HashMap<String, String>>,
    paused: Mutex<std::collections::HashSet<String>>,
    commands: broadcast::Sender<(String, LifecycleCommand)>,
    changes: broadcast::Sender<(String, LifecycleState)>,
}

impl Default for Lifecycles {
    fn default() -> Self {
        Lifecycles {
            states: Mutex::default(),
            versions: Mutex::default(),
            paused: Mutex::default(),
            commands: broadcast::channel(64).0,
            changes: broadcast::channel(256).0,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Lifecycles {
    pub(crate) fn set_version(&self, component: &str, version: &str) {
        lock(&self.versions).insert(component.to_string(), version.to_string());
    }

    /// Records a state; returns whether it changed.
    pub(crate) fn set_state(&self, component: &str, state: LifecycleState) -> bool {
        if state != LifecycleState::Running {
            // A restarted process does not inherit the pause.
            lock(&self.paused).remove(component);
        }
        let old = lock(&self.states).insert(component.to_string(), state);
        let changed = old != Some(state);
        if changed {
            let _ = self.changes.send((component.to_string(), state));
        }
        changed
    }

    /// A component's state (NEW until something sets one).
    pub(crate) fn state(&self, component: &str) -> LifecycleState {
        lock(&self.states)
            .get(component)
            .copied()
            .unwrap_or(LifecycleState::New)
    }

    pub(crate) fn commands(&self) -> broadcast::Receiver<(String, LifecycleCommand)> {
        self.commands.subscribe()
    }

    pub(crate) fn changes(&self) -> broadcast::Receiver<(String, LifecycleState)> {
        self.changes.subscribe()
    }

    fn details(&self, req: &Request<'_>, component: &str) -> ComponentDetails {
        ComponentDetails {
            component_name: Some(component.to_string()),
            version: lock(&self.versions).get(component).cloned(),
            state: Some(self.state(component)),
            configuration: req.shared.components_state.configuration(component),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNamed {
    component_name: Option<String>,
}

/// Steps 1 and 2 of the CLI's order: the component name, then the caller's authorization for it.
fn named_and_authorized(req: &Request<'_>, body: &[u8]) -> Result<String, Refusal> {
    let raw: RawNamed = parse_request(body)?;
    let name = raw
        .component_name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Refusal::invalid("Component name cannot be empty"))?;
    authorize(req, &name)?;
    Ok(name)
}

fn authorize(req: &Request<'_>, resource: &str) -> Result<(), Refusal> {
    let caller: &str = req.component;
    if caller.starts_with(CLI_CLIENT_PREFIX) || caller == CLI_SERVICE {
        return Ok(());
    }
    if req.authorized(resource, false) {
        return Ok(());
    }
    Err(Refusal::new(
        ErrorKind::UnauthorizedError,
        format!(
            "Principal {caller} is not authorized to perform {}:{} on resource {resource}",
            req.op.service, req.op.name
        ),
    ))
}

/// Step 3: the component must be registered.
fn located(req: &Request<'_>, name: &str) -> Result<(), Refusal> {
    if req.shared.components.get(name).is_some() {
        return Ok(());
    }
    Err(Refusal::new(
        ErrorKind::ResourceNotFoundError,
        format!("Component with name {name} not found in Greengrass"),
    ))
}

fn encode<T: serde::Serialize>(value: &T) -> super::Reply {
    serde_json::to_vec(value)
        .map(bytes::Bytes::from)
        .map_err(|e| Refusal::service(format!("response cannot be encoded: {e}")))
}

/// RestartComponent.
pub(super) fn restart(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let name = named_and_authorized(&req, body)?;
        located(&req, &name)?;
        let lifecycles = &req.shared.lifecycles;
        let status = if lifecycles.state(&name) == LifecycleState::New
            || lifecycles
                .commands
                .send((name.clone(), LifecycleCommand::Restart))
                .is_err()
        {
            RequestStatus::Failed
        } else {
            tracing::info!(component = %name, by = %req.component, "restart requested");
            RequestStatus::Succeeded
        };
        encode(&RestartComponentResponse {
            restart_status: Some(status),
            message: None,
        })
    })();
    Outcome::Done(result)
}

/// StopComponent.
pub(super) fn stop(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let name = named_and_authorized(&req, body)?;
        located(&req, &name)?;
        // Nobody listening (no launcher) is not an error: there is nothing running to stop.
        let _ = req
            .shared
            .lifecycles
            .commands
            .send((name.clone(), LifecycleCommand::Stop));
        tracing::info!(component = %name, by = %req.component, "stop requested");
        encode(&StopComponentResponse {
            stop_status: Some(RequestStatus::Succeeded),
            message: None,
        })
    })();
    Outcome::Done(result)
}

/// GetComponentDetails.
pub(super) fn details(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let name = named_and_authorized(&req, body)?;
        located(&req, &name)?;
        encode(&GetComponentDetailsResponse {
            component_details: Some(req.shared.lifecycles.details(&req, &name)),
        })
    })();
    Outcome::Done(result)
}

/// ListComponents.
pub(super) fn list(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        parse_request::<serde_json::Value>(body)?;
        authorize(&req, "*")?;
        let mut names: Vec<String> = req
            .shared
            .components
            .list()
            .iter()
            .map(|c| c.name.to_string())
            .collect();
        names.sort();
        let components = names
            .iter()
            .map(|n| req.shared.lifecycles.details(&req, n))
            .collect();
        encode(&ListComponentsResponse {
            components: Some(components),
        })
    })();
    Outcome::Done(result)
}

/// PauseComponent (`pause`) and ResumeComponent.
pub(super) fn pause(req: Request<'_>, body: &[u8], pause: bool) -> Outcome {
    let result = (|| {
        let raw: RawNamed = parse_request(body)?;
        let name = raw
            .component_name
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Refusal::invalid("Component name is required."))?;
        if !req.authorized(&name, false) {
            return Err(Refusal::new(
                ErrorKind::UnauthorizedError,
                format!(
                    "Principal {} is not authorized to perform {}:{} on resource {name}",
                    req.component, req.op.service, req.op.name
                ),
            ));
        }
        if req.shared.components.get(&name).is_none() {
            return Err(Refusal::new(
                ErrorKind::ResourceNotFoundError,
                format!("Component {name} not found"),
            ));
        }
        let lifecycles = &req.shared.lifecycles;
        let mut paused = lock(&lifecycles.paused);
        if pause && lifecycles.state(&name) != LifecycleState::Running {
            return Err(Refusal::invalid(format!("Component {name} is not running")));
        }
        if !pause && !paused.contains(&name) {
            return Err(Refusal::invalid(format!("Component {name} is not paused")));
        }
        let command = if pause {
            LifecycleCommand::Pause
        } else {
            LifecycleCommand::Resume
        };
        if lifecycles.commands.send((name.clone(), command)).is_err() {
            return Err(Refusal::service(format!(
                "Failed to {} component {name} due to : it is not run by this nucleus",
                if pause { "pause" } else { "resume" }
            )));
        }
        if pause {
            paused.insert(name.clone());
        } else {
            paused.remove(&name);
        }
        tracing::info!(component = %name, by = %req.component, pause, "pause/resume requested");
        Ok(super::EMPTY)
    })();
    Outcome::Done(result)
}

#[derive(Deserialize)]
struct RawToken {
    token: Option<String>,
}

/// ValidateAuthorizationToken.
pub(super) fn validate_token(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let raw: RawToken = parse_request(body)?;
        if &**req.component != STREAM_MANAGER {
            return Err(Refusal::new(
                ErrorKind::UnauthorizedError,
                format!(
                    "{} is not authorized to perform {}",
                    req.component, req.op.name
                ),
            ));
        }
        let token = raw.token.ok_or_else(|| {
            Refusal::new(ErrorKind::InvalidTokenError, "Invalid authentication token")
        })?;
        if req.shared.components.authenticate(&token).is_none() {
            return Err(Refusal::new(
                ErrorKind::InvalidTokenError,
                "Authentication token not found",
            ));
        }
        encode(&ValidateAuthorizationTokenResponse {
            is_valid: Some(true),
        })
    })();
    Outcome::Done(result)
}
