//! `_ggipc.Nucleus`: [`ggipc::testing::TestNucleus`] for `ggipc.testing`. Conversions only: every behaviour
//! (recording, failures, outages, restarts, configuration) is the core's.

use crate::errors::to_pyerr;
use ggipc::model::{MqttMessage, PayloadFormat, ReportedLifecycleState, UserProperty};
use ggipc::server::{BrokerPublish, LocalMessage};
use ggipc::testing::{parse_policy, TestNucleus};
use ggipc::{Error, ErrorKind};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::sync::Arc;
use std::time::Duration;

/// A DeferComponentUpdate request as Python sees it: (component, message, recheck_after_ms).
type Deferral = (String, Option<String>, Option<i64>);

/// In-process nucleus with a recording in-memory broker.
#[pyclass(module = "ggipc._ggipc")]
pub struct Nucleus {
    inner: Arc<TestNucleus>,
}

fn seconds(py: Python<'_>, value: f64, what: &str) -> PyResult<Duration> {
    ggipc::options::duration_from_secs(value, what).map_err(|e| to_pyerr(py, &e))
}

fn json(py: Python<'_>, text: &str, what: &str) -> PyResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        to_pyerr(
            py,
            &Error::new(
                ErrorKind::InvalidArgument,
                format!("{what} is not JSON: {e}"),
            ),
        )
    })
}

#[pymethods]
impl Nucleus {
    #[new]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (component, access_control_json, socket_path=None, svcuid=None,
                        max_payload_bytes=131072, literal_filter_authorization=false, record=true,
                        spool_max_bytes=None, keep_qos0_when_offline=false,
                        offline_subscribe_timeout=None, configuration_json=None))]
    fn new(
        py: Python<'_>,
        component: String,
        access_control_json: &str,
        socket_path: Option<String>,
        svcuid: Option<String>,
        max_payload_bytes: usize,
        literal_filter_authorization: bool,
        record: bool,
        spool_max_bytes: Option<usize>,
        keep_qos0_when_offline: bool,
        offline_subscribe_timeout: Option<f64>,
        configuration_json: Option<&str>,
    ) -> PyResult<Self> {
        let mut b = TestNucleus::builder(component)
            .policy_json(access_control_json)
            .map_err(|e| to_pyerr(py, &e))?
            .max_payload_bytes(max_payload_bytes)
            .literal_filter_authorization(literal_filter_authorization)
            .record(record)
            .keep_qos0_when_offline(keep_qos0_when_offline);
        if let Some(p) = socket_path {
            b = b.socket_path(p);
        }
        if let Some(t) = svcuid {
            b = b.token(t);
        }
        if let Some(n) = spool_max_bytes {
            b = b.spool_max_bytes(n);
        }
        if let Some(t) = offline_subscribe_timeout {
            b = b.offline_subscribe_timeout(seconds(py, t, "offline_subscribe_timeout")?);
        }
        if let Some(c) = configuration_json {
            b = b.configuration(json(py, c, "configuration")?);
        }
        let inner = py.detach(|| b.start()).map_err(|e| to_pyerr(py, &e))?;
        Ok(Nucleus {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn socket_path(&self) -> String {
        self.inner.socket_path().to_string_lossy().into_owned()
    }

    /// A registered component's SVCUID (KeyError if unknown).
    fn token_of(&self, component: &str) -> PyResult<String> {
        self.inner
            .token_of(component)
            .map_err(|e| PyKeyError::new_err(e.message().to_string()))
    }

    /// Registers another component; returns its SVCUID (``svcuid`` if given).
    #[pyo3(signature = (component, access_control_json, svcuid=None))]
    fn register(
        &self,
        py: Python<'_>,
        component: &str,
        access_control_json: &str,
        svcuid: Option<String>,
    ) -> PyResult<String> {
        let access = parse_policy(access_control_json).map_err(|e| to_pyerr(py, &e))?;
        Ok(self.inner.add_component(component, access, svcuid))
    }

    /// Replaces a component's policies (KeyError if unknown).
    fn set_policy(
        &self,
        py: Python<'_>,
        component: &str,
        access_control_json: &str,
    ) -> PyResult<()> {
        let access = parse_policy(access_control_json).map_err(|e| to_pyerr(py, &e))?;
        self.inner
            .set_policy(component, access)
            .map_err(|e| PyKeyError::new_err(e.message().to_string()))
    }

    #[pyo3(signature = (topic_filter, message))]
    fn fail_publish(&self, topic_filter: Option<&str>, message: Option<&str>) {
        self.inner.fail_publishes(topic_filter, message);
    }

    #[pyo3(signature = (topic_filter, message))]
    fn fail_subscribe(&self, topic_filter: Option<&str>, message: Option<&str>) {
        self.inner.fail_subscriptions(topic_filter, message);
    }

    /// Every recorded publish, oldest first.
    fn published<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.inner
            .published()
            .into_iter()
            .map(|p| published_tuple(py, p))
            .collect()
    }

    fn published_count(&self) -> u64 {
        self.inner.published_count()
    }

    fn clear_published(&self) {
        self.inner.clear_published();
    }

    /// Blocks (GIL released) until ``count`` publishes match ``topic_filter``; returns them.
    #[pyo3(signature = (topic_filter, count, timeout))]
    fn wait_for_publishes<'py>(
        &self,
        py: Python<'py>,
        topic_filter: Option<String>,
        count: usize,
        timeout: f64,
    ) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let timeout = seconds(py, timeout, "timeout")?;
        let inner = self.inner.clone();
        let got = py
            .detach(move || inner.wait_for_publishes(topic_filter.as_deref(), count, timeout))
            .map_err(|e| to_pyerr(py, &e))?;
        got.into_iter().map(|p| published_tuple(py, p)).collect()
    }

    fn subscriptions(&self) -> Vec<String> {
        self.inner.subscriptions()
    }

    #[pyo3(signature = (topic_filter, timeout))]
    fn wait_for_subscription(
        &self,
        py: Python<'_>,
        topic_filter: Option<String>,
        timeout: f64,
    ) -> PyResult<()> {
        let timeout = seconds(py, timeout, "timeout")?;
        let inner = self.inner.clone();
        py.detach(move || inner.wait_for_subscription(topic_filter.as_deref(), timeout))
            .map_err(|e| to_pyerr(py, &e))
    }

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
            Some(s) => PayloadFormat::from_wire(s).ok_or_else(|| {
                to_pyerr(
                    py,
                    &Error::new(
                        ErrorKind::InvalidArgument,
                        format!("invalid payload format: {s}"),
                    ),
                )
            })?,
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
        let inner = self.inner.clone();
        Ok(py.detach(move || inner.inject(msg)))
    }

    /// Simulates the connection to AWS IoT Core going down (False) or coming back (True).
    fn set_connected(&self, py: Python<'_>, connected: bool) {
        let inner = self.inner.clone();
        py.detach(move || inner.set_connected(connected));
    }

    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// Publishes held in the spool during an outage.
    fn spooled<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        self.inner
            .spooled()
            .into_iter()
            .map(|p| published_tuple(py, p))
            .collect()
    }

    /// Publishes a local message (JSON text if ``json`` is true, else bytes) on ``topic`` as ``publisher``.
    fn publish_local(
        &self,
        py: Python<'_>,
        publisher: &str,
        topic: &str,
        payload: Vec<u8>,
        is_json: bool,
    ) -> PyResult<usize> {
        let message = if is_json {
            let text = String::from_utf8_lossy(&payload);
            LocalMessage::Json(Some(json(py, &text, "message")?))
        } else {
            LocalMessage::Binary(payload)
        };
        Ok(self.inner.publish_local(publisher, topic, message))
    }

    fn local_subscriptions(&self) -> usize {
        self.inner.local_subscriptions()
    }

    #[pyo3(signature = (topic_filter, timeout))]
    fn wait_for_local_subscription(
        &self,
        py: Python<'_>,
        topic_filter: Option<String>,
        timeout: f64,
    ) -> PyResult<()> {
        let timeout = seconds(py, timeout, "timeout")?;
        let inner = self.inner.clone();
        py.detach(move || inner.wait_for_local_subscription(topic_filter.as_deref(), timeout))
            .map_err(|e| to_pyerr(py, &e))
    }

    fn set_configuration(
        &self,
        py: Python<'_>,
        component: &str,
        configuration_json: &str,
    ) -> PyResult<()> {
        let value = json(py, configuration_json, "configuration")?;
        self.inner
            .set_configuration(component, value)
            .map_err(|e| to_pyerr(py, &e))
    }

    fn update_configuration(
        &self,
        py: Python<'_>,
        component: &str,
        key_path: Vec<String>,
        value_json: &str,
    ) -> PyResult<()> {
        let serde_json::Value::Object(value) = json(py, value_json, "value")? else {
            return Err(to_pyerr(
                py,
                &Error::new(ErrorKind::InvalidArgument, "value must be a JSON object"),
            ));
        };
        let inner = self.inner.clone();
        let component = component.to_string();
        py.detach(move || inner.update_configuration(&component, &key_path, value))
            .map_err(|e| to_pyerr(py, &e))
    }

    /// A component's configuration as JSON text (None if it has none).
    fn configuration(&self, component: &str) -> Option<String> {
        self.inner.configuration(component).map(|v| v.to_string())
    }

    /// The state a component last reported ("RUNNING"/"ERRORED"), None if it reported none.
    fn reported_state(&self, component: &str) -> Option<&'static str> {
        self.inner
            .reported_state(component)
            .map(ReportedLifecycleState::as_str)
    }

    /// Validation request to ``component``; returns ``(status, message)`` or None when it validates nothing.
    fn validate_configuration(
        &self,
        py: Python<'_>,
        component: String,
        deployment_id: String,
        configuration_json: &str,
        timeout: f64,
    ) -> PyResult<Option<(Option<String>, Option<String>)>> {
        let configuration = json(py, configuration_json, "configuration")?;
        let timeout = seconds(py, timeout, "timeout")?;
        let inner = self.inner.clone();
        let report = py
            .detach(move || {
                inner.validate_configuration(&component, &deployment_id, configuration, timeout)
            })
            .map_err(|e| to_pyerr(py, &e))?;
        Ok(report.map(|r| (r.status.map(|s| s.as_str().to_string()), r.message)))
    }

    /// Pre-update event to every SubscribeToComponentUpdates stream; returns the deferrals
    /// ``(component, message, recheck_after_ms)`` that arrived within ``timeout``.
    fn pre_component_update(
        &self,
        py: Python<'_>,
        deployment_id: String,
        is_ggc_restarting: bool,
        timeout: f64,
    ) -> PyResult<Vec<Deferral>> {
        let timeout = seconds(py, timeout, "timeout")?;
        let inner = self.inner.clone();
        let deferrals = py
            .detach(move || inner.pre_component_update(&deployment_id, is_ggc_restarting, timeout))
            .map_err(|e| to_pyerr(py, &e))?;
        Ok(deferrals
            .into_iter()
            .map(|(c, r)| (c, r.message, r.recheck_after_ms))
            .collect())
    }

    fn post_component_update(&self, deployment_id: &str) {
        self.inner.post_component_update(deployment_id);
    }

    /// Stops serving: open streams are terminated, connections closed, the socket removed.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        py.detach(move || inner.stop())
            .map_err(|e| to_pyerr(py, &e))
    }

    /// Stops and serves again on the same socket with the same components, tokens and policies.
    fn restart(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        py.detach(move || inner.restart())
            .map_err(|e| to_pyerr(py, &e))
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
        &*p.component,
    )
        .into_pyobject(py)
}
