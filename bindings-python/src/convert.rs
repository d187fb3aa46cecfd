//! Conversions between Python values and the ggipc model. Inputs are copied into owned Rust values
//! before any wait, so the GIL can be released.

use crate::errors::error;
use ggipc::model::{MqttMessage, PayloadFormat, PublishToIoTCoreRequest, Qos, UserProperty};
use ggipc::{Error, ErrorKind};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyInt, PyString, PyTuple};

/// Bytes from `bytes`, `bytearray`, `str` (UTF-8) or any object `bytes()` accepts.
pub fn blob(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<u8>>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(b.as_bytes().to_vec()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(s.to_cow()?.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Some(b.to_vec()));
    }
    let b = obj
        .py()
        .import("builtins")?
        .getattr("bytes")?
        .call1((obj,))?;
    Ok(Some(b.cast::<PyBytes>()?.as_bytes().to_vec()))
}

/// An enum argument (`qos`, `payload_format`) as its wire string: a `str`, or an `int` as the official
/// client also accepts (it sends the number, which the nucleus reads as the same value).
pub fn wire_value(what: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<String>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(s.to_cow()?.into_owned()));
    }
    if obj.is_instance_of::<PyInt>() && !obj.is_instance_of::<PyBool>() {
        return Ok(Some(obj.extract::<i64>()?.to_string()));
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be a str such as \"0\" or \"1\", got {}",
        obj.get_type().name()?
    )))
}

/// A QoS wire value; an unknown one is refused with the nucleus' own words.
pub fn qos(v: Option<&str>) -> Result<Option<Qos>, Error> {
    match v {
        None => Ok(None),
        Some(s) => Qos::from_wire(s).map(Some).ok_or_else(|| {
            error(
                ErrorKind::InvalidArgumentsError,
                format!("Invalid QoS value: {s}"),
            )
        }),
    }
}

fn payload_format(v: Option<&str>) -> Result<Option<PayloadFormat>, Error> {
    match v {
        None => Ok(None),
        Some(s) => PayloadFormat::from_wire(s).map(Some).ok_or_else(|| {
            error(
                ErrorKind::InvalidArgumentsError,
                format!("Invalid payload format value: {s}"),
            )
        }),
    }
}

/// The arguments of `publish`/`publish_async`, owned.
#[allow(clippy::too_many_arguments)]
pub fn publish_request(
    topic_name: Option<String>,
    qos_: Option<String>,
    payload: Option<&Bound<'_, PyAny>>,
    retain: Option<bool>,
    user_properties: Option<Vec<(String, String)>>,
    message_expiry_interval_seconds: Option<i64>,
    correlation_data: Option<&Bound<'_, PyAny>>,
    response_topic: Option<String>,
    payload_format_: Option<String>,
    content_type: Option<String>,
) -> PyResult<Result<PublishToIoTCoreRequest, Error>> {
    let payload = blob(payload)?;
    let correlation_data = blob(correlation_data)?;
    let qos = match qos(qos_.as_deref()) {
        Ok(q) => q,
        Err(e) => return Ok(Err(e)),
    };
    let payload_format = match payload_format(payload_format_.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(PublishToIoTCoreRequest {
        topic_name,
        qos,
        payload,
        retain,
        user_properties: user_properties.map(|v| {
            v.into_iter()
                .map(|(k, v)| UserProperty::new(k, v))
                .collect()
        }),
        message_expiry_interval_seconds,
        correlation_data,
        response_topic,
        payload_format,
        content_type,
    }))
}

/// The Python tuple of a received message (field order of `MQTTMessage`).
pub fn message_tuple<'py>(py: Python<'py>, m: MqttMessage) -> PyResult<Bound<'py, PyTuple>> {
    let props = m.user_properties.map(|v| {
        v.into_iter()
            .map(|p| (p.key, p.value))
            .collect::<Vec<(String, String)>>()
    });
    (
        m.topic_name,
        m.payload.map(|p| PyBytes::new(py, &p)),
        m.retain,
        props,
        m.message_expiry_interval_seconds,
        m.correlation_data.map(|p| PyBytes::new(py, &p)),
        m.response_topic,
        m.payload_format.map(|f| f.as_str()),
        m.content_type,
    )
        .into_pyobject(py)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_values() {
        assert_eq!(qos(None).unwrap(), None);
        assert_eq!(qos(Some("0")).unwrap(), Some(Qos::AtMostOnce));
        assert_eq!(qos(Some("1")).unwrap(), Some(Qos::AtLeastOnce));
        let e = qos(Some("2")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgumentsError);
        assert_eq!(e.message(), "Invalid QoS value: 2");
    }

    #[test]
    fn payload_format_values() {
        assert_eq!(
            payload_format(Some("1")).unwrap(),
            Some(PayloadFormat::Utf8)
        );
        assert_eq!(
            payload_format(Some("x")).unwrap_err().kind(),
            ErrorKind::InvalidArgumentsError
        );
    }
}
