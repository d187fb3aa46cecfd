//! The deployment side of the IPC: configuration validation (SubscribeToValidateConfigurationUpdates,
//! SendConfigurationValidityReport) and component updates (SubscribeToComponentUpdates,
//! DeferComponentUpdate), with the Java nucleus' rules and messages. A deployment is driven from the
//! server's owner: [`Server::validate_configuration`](crate::server::Server::validate_configuration),
//! [`Server::pre_component_update`](crate::server::Server::pre_component_update) and
//! [`Server::post_component_update`](crate::server::Server::post_component_update).

use super::{parse_request, Outcome, Refusal, Request, StreamGuard, EMPTY};
use crate::model::{
    ComponentUpdatePolicyEvents, ConfigurationValidityReport, DeferComponentUpdateRequest,
    PostComponentUpdateEvent, PreComponentUpdateEvent, ValidateConfigurationUpdateEvent,
    ValidateConfigurationUpdateEvents,
};
use crate::server::sink::EventSink;
use crate::server::Delivery;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

type Key = (String, String);

/// The streams of one kind: (id, component, sink).
type Streams = Mutex<Vec<(u64, Arc<str>, Arc<EventSink>)>>;

/// Open streams and the answers deployments wait for.
#[derive(Default)]
pub(crate) struct Deployments {
    next_id: AtomicU64,
    validators: Streams,
    updates: Streams,
    reports: Mutex<HashMap<Key, oneshot::Sender<ConfigurationValidityReport>>>,
    defers: Mutex<HashMap<Key, oneshot::Sender<DeferComponentUpdateRequest>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Deployments {
    /// Asks `component`'s validators about `configuration`; `Ok(None)` when it has none, the report when one
    /// answered within `timeout`.
    pub(crate) async fn validate(
        &self,
        component: &str,
        deployment_id: &str,
        configuration: serde_json::Value,
        timeout: Duration,
    ) -> crate::Result<Option<ConfigurationValidityReport>> {
        let sinks: Vec<Arc<EventSink>> = lock(&self.validators)
            .iter()
            .filter(|(_, c, _)| &**c == component)
            .map(|(_, _, s)| s.clone())
            .collect();
        if sinks.is_empty() {
            return Ok(None);
        }
        let (tx, rx) = oneshot::channel();
        let key = (component.to_string(), deployment_id.to_string());
        lock(&self.reports).insert(key.clone(), tx);
        let event = ValidateConfigurationUpdateEvents {
            validate_configuration_update_event: Some(ValidateConfigurationUpdateEvent {
                configuration: Some(configuration),
                deployment_id: Some(deployment_id.to_string()),
            }),
        };
        for s in &sinks {
            s.deliver_json(&event);
        }
        let answer = tokio::time::timeout(timeout, rx).await;
        lock(&self.reports).remove(&key);
        match answer {
            Ok(Ok(report)) => Ok(Some(report)),
            _ => Err(crate::Error::new(
                crate::ErrorKind::Timeout,
                format!("{component} did not report on the configuration of deployment {deployment_id} within {timeout:?}"),
            )),
        }
    }

    /// Sends a pre-update event to every component subscribed to component updates, and collects the
    /// deferrals that arrive within `timeout`.
    pub(crate) async fn pre_update(
        &self,
        deployment_id: &str,
        is_ggc_restarting: bool,
        timeout: Duration,
    ) -> Vec<(String, DeferComponentUpdateRequest)> {
        let subs: Vec<(Arc<str>, Arc<EventSink>)> = lock(&self.updates)
            .iter()
            .map(|(_, c, s)| (c.clone(), s.clone()))
            .collect();
        let event = ComponentUpdatePolicyEvents {
            pre_update_event: Some(PreComponentUpdateEvent {
                deployment_id: Some(deployment_id.to_string()),
                is_ggc_restarting: Some(is_ggc_restarting),
            }),
            post_update_event: None,
        };
        let mut waits = Vec::new();
        for (component, sink) in subs {
            let (tx, rx) = oneshot::channel();
            let key = (component.to_string(), deployment_id.to_string());
            lock(&self.defers).insert(key.clone(), tx);
            if sink.deliver_json(&event) == Delivery::Delivered {
                waits.push((key, rx));
            } else {
                lock(&self.defers).remove(&key);
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        let mut deferred = Vec::new();
        for (key, rx) in waits {
            if let Ok(Ok(req)) = tokio::time::timeout_at(deadline, rx).await {
                deferred.push((key.0.clone(), req));
            }
            lock(&self.defers).remove(&key);
        }
        deferred
    }

    /// Sends a post-update event to every component subscribed to component updates.
    pub(crate) fn post_update(&self, deployment_id: &str) {
        let event = ComponentUpdatePolicyEvents {
            pre_update_event: None,
            post_update_event: Some(PostComponentUpdateEvent {
                deployment_id: Some(deployment_id.to_string()),
            }),
        };
        for (_, _, s) in lock(&self.updates).iter() {
            s.deliver_json(&event);
        }
    }
}

fn stream(req: &Request<'_>, list: fn(&Deployments) -> &Streams) -> Outcome {
    let Some(sink) = req.sink.clone() else {
        return Outcome::Done(Err(Refusal::service("stream without an event sink")));
    };
    let shared = req.shared.clone();
    let id = shared.deployments.next_id.fetch_add(1, Ordering::Relaxed);
    lock(list(&shared.deployments)).push((id, req.component.clone(), sink));
    Outcome::Stream(Box::pin(async move {
        Ok((
            EMPTY,
            StreamGuard::new(move || lock(list(&shared.deployments)).retain(|(i, _, _)| *i != id)),
        ))
    }))
}

/// SubscribeToValidateConfigurationUpdates.
pub(super) fn subscribe_validate(req: Request<'_>, body: &[u8]) -> Outcome {
    if let Err(r) = parse_request::<serde_json::Value>(body) {
        return Outcome::Done(Err(r));
    }
    stream(&req, |d| &d.validators)
}

/// SubscribeToComponentUpdates.
pub(super) fn subscribe_updates(req: Request<'_>, body: &[u8]) -> Outcome {
    if let Err(r) = parse_request::<serde_json::Value>(body) {
        return Outcome::Done(Err(r));
    }
    stream(&req, |d| &d.updates)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReport {
    configuration_validity_report: Option<ConfigurationValidityReport>,
}

/// SendConfigurationValidityReport.
pub(super) fn report(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let raw: RawReport = parse_request(body)?;
        let report = raw
            .configuration_validity_report
            .ok_or_else(|| Refusal::invalid("Configuration validity report is required"))?;
        let deployment = report.deployment_id.clone().ok_or_else(|| {
            Refusal::invalid(
                "Cannot accept configuration validity report, the deployment ID provided was null",
            )
        })?;
        let waiting =
            lock(&req.shared.deployments.reports).remove(&(req.component.to_string(), deployment));
        match waiting {
            Some(tx) => {
                let _ = tx.send(report);
                Ok(EMPTY)
            }
            None => Err(Refusal::invalid(
                "Validation request either timed out or was never made",
            )),
        }
    })();
    Outcome::Done(result)
}

/// DeferComponentUpdate.
pub(super) fn defer(req: Request<'_>, body: &[u8]) -> Outcome {
    let result = (|| {
        let raw: DeferComponentUpdateRequest = parse_request(body)?;
        let d = &req.shared.deployments;
        if !lock(&d.updates).iter().any(|(_, c, _)| c == req.component) {
            return Err(Refusal::invalid(
                "Component is not subscribed to component update events",
            ));
        }
        let deployment = raw.deployment_id.clone().ok_or_else(|| {
            Refusal::invalid("Cannot defer the update, the deployment ID provided was null")
        })?;
        match lock(&d.defers).remove(&(req.component.to_string(), deployment)) {
            Some(tx) => {
                let _ = tx.send(raw);
                Ok(EMPTY)
            }
            None => Err(Refusal::service(
                "Time limit to respond to PreComponentUpdateEvent exceeded",
            )),
        }
    })();
    Outcome::Done(result)
}
