//! `_ggipc.Nucleus`: the core IPC server with an in-memory broker, for `ggipc.testing`.
//!
//! A thin wrapper around [`MemoryBroker`] records what components publish (bounded) and which
//! subscriptions exist, with condition variables so Python can wait for either without polling.

use crate::errors::to_pyerr;
use crate::runtime::handle;
use ggipc::model::{MqttMessage, PayloadFormat, Qos, UserProperty};
use ggipc::server::topic::filter_matches;
use ggipc::server::{
    AccessControl, BoxFuture, Broker, BrokerError, BrokerPublish, FilterAuthorization,
    MemoryBroker, MessageSink, Server, ServerConfig, ServerHandle, SubscriptionId,
};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// Publishes kept for `take_published` (oldest dropped first).
const RECORD_LIMIT: usize = 1_000_000;

/// A broker failure to simulate: publishes to topics matching `filter` (or subscriptions whose filter
/// matches it literally) fail with `message`.
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

#[derive(Default)]
struct State {
    published: VecDeque<BrokerPublish>,
    total: u64,
    subs: BTreeMap<SubscriptionId, String>,
    fail_publish: Option<Failure>,
    fail_subscribe: Option<Failure>,
}

struct RecordingBroker {
    inner: MemoryBroker,
    record: bool,
    state: Mutex<State>,
    changed: Condvar,
}

impl RecordingBroker {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits (at most `timeout`) until `done(state)`; returns whether it became true.
    fn wait(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state();
        loop {
            if done(&st) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Broker for RecordingBroker {
    fn publish(&self, publish: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>> {
        {
            let mut st = self.state();
            if let Some(f) = &st.fail_publish {
                if f.applies_to_topic(publish.message.topic()) {
                    let err = BrokerError::new(f.message.clone());
                    return Box::pin(std::future::ready(Err(err)));
                }
            }
            st.total += 1;
            if self.record {
                if st.published.len() >= RECORD_LIMIT {
                    st.published.pop_front();
                }
                st.published.push_back(publish.clone());
            }
        }
        self.changed.notify_all();
        self.inner.publish(publish)
    }

    fn subscribe(
        &self,
        filter: &str,
        qos: Qos,
        sink: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
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
        Box::pin(async move {
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
}

/// In-process IPC server with an in-memory broker.
#[pyclass(module = "ggipc._ggipc")]
pub struct Nucleus {
    rt: Handle,
    pid: u32,
    server: Server,
    broker: Arc<RecordingBroker>,
    handle: Mutex<Option<ServerHandle>>,
    socket_path: String,
}

#[pymethods]
impl Nucleus {
    #[new]
    fn new(
        py: Python<'_>,
        socket_path: String,
        max_payload_bytes: usize,
        literal_filter_authorization: bool,
        record: bool,
    ) -> PyResult<Self> {
        let rt = handle().map_err(|e| to_pyerr(py, &e))?;
        let broker = Arc::new(RecordingBroker {
            inner: MemoryBroker::new(),
            record,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let mut config = ServerConfig::new(&socket_path);
        config.max_payload_bytes = max_payload_bytes;
        config.filter_authorization = if literal_filter_authorization {
            FilterAuthorization::Literal
        } else {
            FilterAuthorization::Strict
        };
        let server = Server::new(config, broker.clone());
        let handle = py.detach(|| {
            let _guard = rt.enter();
            server.spawn()
        });
        let handle = handle
            .map_err(|e| PyOSError::new_err(format!("cannot serve on {socket_path}: {e}")))?;
        Ok(Nucleus {
            rt,
            pid: std::process::id(),
            server,
            broker,
            handle: Mutex::new(Some(handle)),
            socket_path,
        })
    }

    #[getter]
    fn socket_path(&self) -> &str {
        &self.socket_path
    }

    /// Registers `component` with its `accessControl` (JSON) and the given SVCUID (a fresh one if None);
    /// returns its SVCUID.
    #[pyo3(signature = (component, access_control_json, svcuid=None))]
    fn register(
        &self,
        component: &str,
        access_control_json: &str,
        svcuid: Option<String>,
    ) -> PyResult<String> {
        let access = parse_access(access_control_json)?;
        let registry = self.server.components();
        Ok(match svcuid {
            Some(token) => registry.register_with_token(component, access, token),
            None => registry.register(component, access),
        })
    }

    /// Replaces a registered component's policies (live: the next request uses them); false if unknown.
    fn set_policy(&self, component: &str, access_control_json: &str) -> PyResult<bool> {
        let access = parse_access(access_control_json)?;
        Ok(self.server.components().update_policies(component, access))
    }

    /// From now on, publishes to topics matching `topic_filter` (all if None) fail with `message`
    /// (the client gets the nucleus' ServiceError); `message=None` stops failing.
    #[pyo3(signature = (topic_filter, message))]
    fn fail_publish(&self, topic_filter: Option<String>, message: Option<String>) {
        self.broker.state().fail_publish = message.map(|message| Failure {
            filter: topic_filter,
            message,
        });
    }

    /// Like `fail_publish`, for new subscriptions whose filter is matched by `topic_filter`.
    #[pyo3(signature = (topic_filter, message))]
    fn fail_subscribe(&self, topic_filter: Option<String>, message: Option<String>) {
        self.broker.state().fail_subscribe = message.map(|message| Failure {
            filter: topic_filter,
            message,
        });
    }

    /// Publishes recorded since the last call.
    fn take_published<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let taken: Vec<BrokerPublish> = self.broker.state().published.drain(..).collect();
        taken.into_iter().map(|p| published_tuple(py, p)).collect()
    }

    /// Blocks (GIL released) until more than `seen` publishes happened in total, or `timeout` seconds.
    fn wait_published(&self, py: Python<'_>, seen: u64, timeout: f64) -> bool {
        let timeout = duration(timeout);
        let broker = self.broker.clone();
        py.detach(move || broker.wait(timeout, |st| st.total > seen))
    }

    /// Topic filters of the current subscriptions, oldest first.
    fn subscriptions(&self) -> Vec<String> {
        self.broker.state().subs.values().cloned().collect()
    }

    /// Blocks (GIL released) until a subscription to `topic_filter` (any if None) exists.
    #[pyo3(signature = (topic_filter, timeout))]
    fn wait_subscribed(&self, py: Python<'_>, topic_filter: Option<String>, timeout: f64) -> bool {
        let timeout = duration(timeout);
        let broker = self.broker.clone();
        py.detach(move || {
            broker.wait(timeout, |st| match &topic_filter {
                None => !st.subs.is_empty(),
                Some(f) => st.subs.values().any(|s| s == f),
            })
        })
    }

    /// Delivers a message "from IoT Core" to every matching subscription; returns how many took it.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (topic, payload, retain, user_properties, message_expiry_interval_seconds,
                        correlation_data, response_topic, payload_format, content_type))]
    fn inject(
        &self,
        py: Python<'_>,
        topic: String,
        payload: Vec<u8>,
        retain: bool,
        user_properties: Option<Vec<(String, String)>>,
        message_expiry_interval_seconds: Option<i64>,
        correlation_data: Option<Vec<u8>>,
        response_topic: Option<String>,
        payload_format: Option<String>,
        content_type: Option<String>,
    ) -> PyResult<usize> {
        let payload_format = match payload_format.as_deref() {
            None => PayloadFormat::Bytes,
            Some(s) => PayloadFormat::from_wire(s)
                .ok_or_else(|| PyValueError::new_err(format!("invalid payload format: {s}")))?,
        };
        let msg = MqttMessage {
            topic_name: Some(topic),
            payload: Some(payload),
            retain: Some(retain),
            user_properties: user_properties.map(|v| {
                v.into_iter()
                    .map(|(k, v)| UserProperty::new(k, v))
                    .collect()
            }),
            message_expiry_interval_seconds,
            correlation_data,
            response_topic,
            payload_format: Some(payload_format),
            content_type,
        };
        let broker = self.broker.clone();
        Ok(py.detach(move || broker.inner.inject(msg)))
    }

    /// Stops serving: open streams are terminated, connections closed, the socket removed.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(handle) = handle else { return Ok(()) };
        if self.pid != std::process::id() {
            // A copy inherited through fork(): the server runs in the parent, not here.
            std::mem::forget(handle);
            return Ok(());
        }
        let rt = self.rt.clone();
        py.detach(move || rt.block_on(handle.shutdown()))
            .map_err(|e| PyRuntimeError::new_err(format!("stopping the nucleus: {e}")))
    }
}

impl Drop for Nucleus {
    fn drop(&mut self) {
        let handle = self
            .handle
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(h) = handle {
            if self.pid == std::process::id() {
                drop(h); // signals the server task to stop
            } else {
                std::mem::forget(h);
            }
        }
    }
}

fn parse_access(access_control_json: &str) -> PyResult<AccessControl> {
    let value: serde_json::Value = serde_json::from_str(access_control_json)
        .map_err(|e| PyValueError::new_err(format!("accessControl is not JSON: {e}")))?;
    AccessControl::from_json(&value, "accessControl")
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

fn duration(seconds: f64) -> Duration {
    if seconds.is_finite() && seconds > 0.0 {
        Duration::from_secs_f64(seconds.min(1e9))
    } else {
        Duration::ZERO
    }
}

fn published_tuple(py: Python<'_>, p: BrokerPublish) -> PyResult<Bound<'_, PyTuple>> {
    let m = p.message;
    let props: Vec<(String, String)> = m
        .user_properties
        .unwrap_or_default()
        .into_iter()
        .map(|u| (u.key, u.value))
        .collect();
    (
        m.topic_name.unwrap_or_default(),
        PyBytes::new(py, m.payload.as_deref().unwrap_or(&[])),
        p.qos.as_str(),
        m.retain.unwrap_or(false),
        props,
        m.message_expiry_interval_seconds,
        m.correlation_data.map(|c| PyBytes::new(py, &c)),
        m.response_topic,
        m.payload_format.map(|f| f.as_str()),
        m.content_type,
    )
        .into_pyobject(py)
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
    fn durations() {
        assert_eq!(duration(1.5), Duration::from_millis(1500));
        assert_eq!(duration(-1.0), Duration::ZERO);
        assert_eq!(duration(f64::NAN), Duration::ZERO);
    }
}
