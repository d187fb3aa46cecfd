//! Publish requests (`ggipc_publish_request`) and received messages (`ggipc_message`),
//! with every MQTT 5 field of the Greengrass model.

use std::ffi::{c_char, CString};

use ggipc_core::model::{MqttMessage, PayloadFormat, PublishToIoTCoreRequest, Qos, UserProperty};

use crate::error::{ggipc_error, Error};
use crate::ffi::{
    boundary, boundary_or, c_string, free_raw, into_raw, opt_bytes_arg, opt_str_arg, str_arg,
    try_mut, write_out,
};

pub use crate::generated::{ggipc_payload_format, ggipc_qos};
use crate::generated::{payload_format_from_c, payload_format_to_c, qos_from_c};

/// Leaves the QoS out of the request; the nucleus then answers with
/// `InvalidArgumentsError` (useful only to exercise that path).
pub const GGIPC_QOS_UNSET: ggipc_qos = 0xFFFF_FFFF;

/// A QoS argument of the MQTT API: a `GGIPC_QOS_*` constant, `GGIPC_QOS_UNSET` (left
/// out), or any other number, refused with the nucleus' own error ("Invalid QoS value: 2").
pub(crate) fn qos_arg(qos: ggipc_qos) -> Result<Option<Qos>, Error> {
    if qos == GGIPC_QOS_UNSET {
        return Ok(None);
    }
    qos_from_c(qos).map(Some)
}

fn payload_format_arg(format: ggipc_payload_format) -> Result<PayloadFormat, Error> {
    payload_format_from_c(format)
}

/// A PublishToIoTCore request under construction. Created with
/// `ggipc_publish_request_new`, released with `ggipc_publish_request_free`.
/// Not thread-safe: do not modify it while another thread uses it.
pub struct ggipc_publish_request {
    pub(crate) inner: PublishToIoTCoreRequest,
}

/// Creates a publish request for `topic` with `qos` and the payload
/// `payload[0..payload_len)` (copied). A NULL `topic` or NULL `payload` leaves that
/// member out of the request (the nucleus then rejects it with
/// `InvalidArgumentsError`); an empty payload is a non-NULL pointer with length 0.
///
/// On success writes a new request to `*out` (free it with
/// `ggipc_publish_request_free`) and returns NULL. On failure returns an error
/// (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for NULL pointers, invalid UTF-8 or an
/// unknown QoS) and leaves `*out` untouched. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_new(
    topic: *const c_char,
    qos: ggipc_qos,
    payload: *const u8,
    payload_len: usize,
    out: *mut *mut ggipc_publish_request,
) -> *mut ggipc_error {
    boundary(|| {
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        // SAFETY: the caller passes a C string or NULL, and a valid buffer.
        let topic = unsafe { opt_str_arg(topic, "topic") }?;
        let qos = qos_arg(qos)?;
        // SAFETY: as above.
        let payload = unsafe { opt_bytes_arg(payload, payload_len, "payload") }?;
        let inner = PublishToIoTCoreRequest {
            topic_name: topic.map(str::to_string),
            qos,
            payload,
            ..Default::default()
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, into_raw(ggipc_publish_request { inner })) };
        Ok(())
    })
}

/// Releases a publish request. NULL is a no-op. Thread-safety: not concurrently
/// with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_free(request: *mut ggipc_publish_request) {
    boundary_or((), || {
        // SAFETY: the caller passes NULL or a request it owns.
        unsafe { free_raw(request) }
    })
}

/// Runs `f` on the `request` behind a C pointer inside the panic boundary.
fn with_request(
    request: *mut ggipc_publish_request,
    f: impl FnOnce(&mut ggipc_publish_request) -> Result<(), Error>,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: the caller passes NULL or an object it owns.
        let o = unsafe { try_mut(request, "request") }?;
        f(o)
    })
}

/// Replaces the topic (copied).
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_topic(
    request: *mut ggipc_publish_request,
    topic: *const c_char,
) -> *mut ggipc_error {
    with_request(request, |req| {
        // SAFETY: the caller passes a C string or NULL.
        let topic = unsafe { str_arg(topic, "topic") }?;
        req.inner.topic_name = Some(topic.to_string());
        Ok(())
    })
}

/// Replaces the QoS.
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_qos(
    request: *mut ggipc_publish_request,
    qos: ggipc_qos,
) -> *mut ggipc_error {
    with_request(request, |req| {
        req.inner.qos = qos_arg(qos)?;
        Ok(())
    })
}

/// Replaces the payload with a copy of `payload[0..payload_len)`; NULL removes it.
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_payload(
    request: *mut ggipc_publish_request,
    payload: *const u8,
    payload_len: usize,
) -> *mut ggipc_error {
    with_request(request, |req| {
        // SAFETY: the caller passes a valid buffer.
        req.inner.payload = unsafe { opt_bytes_arg(payload, payload_len, "payload") }?;
        Ok(())
    })
}

/// Sets the MQTT retain flag.
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_retain(
    request: *mut ggipc_publish_request,
    retain: bool,
) -> *mut ggipc_error {
    with_request(request, |req| {
        req.inner.retain = Some(retain);
        Ok(())
    })
}

/// Appends an MQTT 5 user property (key and value copied).
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_add_user_property(
    request: *mut ggipc_publish_request,
    key: *const c_char,
    value: *const c_char,
) -> *mut ggipc_error {
    with_request(request, |req| {
        // SAFETY: the caller passes C strings or NULL.
        let key = unsafe { str_arg(key, "key") }?;
        // SAFETY: as above.
        let value = unsafe { str_arg(value, "value") }?;
        req.inner
            .user_properties
            .get_or_insert_with(Vec::new)
            .push(UserProperty {
                key: key.to_string(),
                value: value.to_string(),
            });
        Ok(())
    })
}

/// Sets the MQTT 5 message expiry interval in seconds.
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_message_expiry_interval_seconds(
    request: *mut ggipc_publish_request,
    seconds: i64,
) -> *mut ggipc_error {
    with_request(request, |req| {
        req.inner.message_expiry_interval_seconds = Some(seconds);
        Ok(())
    })
}

/// Sets the MQTT 5 correlation data (copied); NULL removes it.
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_correlation_data(
    request: *mut ggipc_publish_request,
    data: *const u8,
    data_len: usize,
) -> *mut ggipc_error {
    with_request(request, |req| {
        // SAFETY: the caller passes a valid buffer.
        req.inner.correlation_data = unsafe { opt_bytes_arg(data, data_len, "data") }?;
        Ok(())
    })
}

/// Sets the MQTT 5 response topic (copied).
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_response_topic(
    request: *mut ggipc_publish_request,
    topic: *const c_char,
) -> *mut ggipc_error {
    with_request(request, |req| {
        // SAFETY: the caller passes a C string or NULL.
        let topic = unsafe { str_arg(topic, "topic") }?;
        req.inner.response_topic = Some(topic.to_string());
        Ok(())
    })
}

/// Sets the MQTT 5 payload format indicator.
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_payload_format(
    request: *mut ggipc_publish_request,
    format: ggipc_payload_format,
) -> *mut ggipc_error {
    with_request(request, |req| {
        req.inner.payload_format = Some(payload_format_arg(format)?);
        Ok(())
    })
}

/// Sets the MQTT 5 content type (copied).
///
/// Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a
/// NULL `request`, invalid strings or unknown enum values) leaving the request
/// unchanged. Thread-safety: not concurrently with other use of the same request.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_request_set_content_type(
    request: *mut ggipc_publish_request,
    content_type: *const c_char,
) -> *mut ggipc_error {
    with_request(request, |req| {
        // SAFETY: the caller passes a C string or NULL.
        let content_type = unsafe { str_arg(content_type, "content_type") }?;
        req.inner.content_type = Some(content_type.to_string());
        Ok(())
    })
}

/// A received MQTT message (the `message` member of an `IoTCoreMessage` event).
///
/// Messages passed to `on_message` are lent for the duration of the callback;
/// use `ggipc_message_clone` to keep one. Every accessor accepts NULL and then
/// reports the field as absent. Read-only, so any thread may read it concurrently.
pub struct ggipc_message {
    topic: Option<CString>,
    payload: Option<Vec<u8>>,
    retain: Option<bool>,
    user_properties: Option<Vec<(CString, CString)>>,
    message_expiry_interval_seconds: Option<i64>,
    correlation_data: Option<Vec<u8>>,
    response_topic: Option<CString>,
    payload_format: Option<ggipc_payload_format>,
    content_type: Option<CString>,
}

impl ggipc_message {
    pub(crate) fn from_core(m: MqttMessage) -> Self {
        Self {
            topic: m.topic_name.as_deref().map(c_string),
            payload: m.payload,
            retain: m.retain,
            user_properties: m.user_properties.map(|v| {
                v.iter()
                    .map(|p| (c_string(&p.key), c_string(&p.value)))
                    .collect()
            }),
            message_expiry_interval_seconds: m.message_expiry_interval_seconds,
            correlation_data: m.correlation_data,
            response_topic: m.response_topic.as_deref().map(c_string),
            payload_format: m.payload_format.map(payload_format_to_c),
            content_type: m.content_type.as_deref().map(c_string),
        }
    }

    fn deep_clone(&self) -> Self {
        Self {
            topic: self.topic.clone(),
            payload: self.payload.clone(),
            retain: self.retain,
            user_properties: self.user_properties.clone(),
            message_expiry_interval_seconds: self.message_expiry_interval_seconds,
            correlation_data: self.correlation_data.clone(),
            response_topic: self.response_topic.clone(),
            payload_format: self.payload_format,
            content_type: self.content_type.clone(),
        }
    }
}

fn with_msg<T>(msg: *const ggipc_message, default: T, f: impl FnOnce(&ggipc_message) -> T) -> T
where
    T: Copy,
{
    boundary_or(default, || {
        // SAFETY: the caller passes NULL or a live message.
        match unsafe { msg.as_ref() } {
            Some(m) => f(m),
            None => default,
        }
    })
}

fn opt_cstr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

fn opt_bytes(b: &Option<Vec<u8>>, len: *mut usize) -> *const u8 {
    let (ptr, n) = match b {
        // A non-NULL pointer even for an empty but present buffer.
        Some(v) if v.is_empty() => (b"".as_ptr(), 0),
        Some(v) => (v.as_ptr(), v.len()),
        None => (std::ptr::null(), 0),
    };
    if !len.is_null() {
        // SAFETY: the caller passes NULL or a writable size_t.
        unsafe { write_out(len, n) };
    }
    ptr
}

/// Returns the topic the message was published on (NUL-terminated), or NULL if absent.
/// Owned by the message.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_topic(message: *const ggipc_message) -> *const c_char {
    with_msg(message, std::ptr::null(), |m| opt_cstr(&m.topic))
}

/// Returns the payload and writes its length to `*len` (if `len` is not NULL).
/// Returns NULL (and length 0) when the message has no payload; a present but empty
/// payload gives a non-NULL pointer and length 0. Owned by the message.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_payload(
    message: *const ggipc_message,
    len: *mut usize,
) -> *const u8 {
    with_msg(message, std::ptr::null(), |m| opt_bytes(&m.payload, len))
}

/// Writes the retain flag to `*out` and returns true, or returns false (leaving
/// `*out` untouched) when absent or when `out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_retain(
    message: *const ggipc_message,
    out: *mut bool,
) -> bool {
    with_msg(message, false, |m| match (m.retain, out.is_null()) {
        (Some(v), false) => {
            // SAFETY: checked non-NULL.
            unsafe { write_out(out, v) };
            true
        }
        _ => false,
    })
}

/// Returns the number of MQTT 5 user properties (0 when absent).
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_user_property_count(
    message: *const ggipc_message,
) -> usize {
    with_msg(message, 0, |m| {
        m.user_properties.as_ref().map_or(0, Vec::len)
    })
}

/// Writes the key and value of user property `index` (NUL-terminated, owned by
/// the message) and returns true; returns false if `index` is out of range or an
/// out-pointer is NULL.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_user_property(
    message: *const ggipc_message,
    index: usize,
    key: *mut *const c_char,
    value: *mut *const c_char,
) -> bool {
    with_msg(message, false, |m| {
        if key.is_null() || value.is_null() {
            return false;
        }
        match m.user_properties.as_ref().and_then(|v| v.get(index)) {
            Some((k, v)) => {
                // SAFETY: checked non-NULL.
                unsafe {
                    write_out(key, k.as_ptr());
                    write_out(value, v.as_ptr());
                }
                true
            }
            None => false,
        }
    })
}

/// Writes the MQTT 5 message expiry interval (seconds) to `*out` and returns
/// true, or returns false when absent or when `out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_message_expiry_interval_seconds(
    message: *const ggipc_message,
    out: *mut i64,
) -> bool {
    with_msg(message, false, |m| {
        match (m.message_expiry_interval_seconds, out.is_null()) {
            (Some(v), false) => {
                // SAFETY: checked non-NULL.
                unsafe { write_out(out, v) };
                true
            }
            _ => false,
        }
    })
}

/// Returns the MQTT 5 correlation data and its length (as `ggipc_message_get_payload`).
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_correlation_data(
    message: *const ggipc_message,
    len: *mut usize,
) -> *const u8 {
    with_msg(message, std::ptr::null(), |m| {
        opt_bytes(&m.correlation_data, len)
    })
}

/// Returns the MQTT 5 response topic, or NULL if absent. Owned by the message.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_response_topic(
    message: *const ggipc_message,
) -> *const c_char {
    with_msg(message, std::ptr::null(), |m| opt_cstr(&m.response_topic))
}

/// Writes the MQTT 5 payload format to `*out` and returns true, or returns false
/// when absent or when `out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_payload_format(
    message: *const ggipc_message,
    out: *mut ggipc_payload_format,
) -> bool {
    with_msg(message, false, |m| {
        match (m.payload_format, out.is_null()) {
            (Some(v), false) => {
                // SAFETY: checked non-NULL.
                unsafe { write_out(out, v) };
                true
            }
            _ => false,
        }
    })
}

/// Returns the MQTT 5 content type, or NULL if absent. Owned by the message.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_get_content_type(
    message: *const ggipc_message,
) -> *const c_char {
    with_msg(message, std::ptr::null(), |m| opt_cstr(&m.content_type))
}

/// Returns a deep copy of `message` owned by the caller (release it with
/// `ggipc_message_free`), or NULL if `message` is NULL. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_clone(message: *const ggipc_message) -> *mut ggipc_message {
    boundary_or(std::ptr::null_mut(), || {
        // SAFETY: the caller passes NULL or a live message.
        match unsafe { message.as_ref() } {
            Some(m) => into_raw(m.deep_clone()),
            None => std::ptr::null_mut(),
        }
    })
}

/// Releases a message obtained from `ggipc_message_clone`. NULL is a no-op.
/// Never free a message lent to a callback.
#[no_mangle]
pub unsafe extern "C" fn ggipc_message_free(message: *mut ggipc_message) {
    boundary_or((), || {
        // SAFETY: the caller passes NULL or a message it owns.
        unsafe { free_raw(message) }
    })
}
