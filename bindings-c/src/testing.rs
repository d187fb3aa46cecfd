//! `ggipc_test_nucleus`: the core's test nucleus (`ggipc::testing::TestNucleus`) for C and C++ tests.
//! Conversions only; what each call does is the core's.

use std::ffi::{c_char, CString};
use std::time::Duration;

use ggipc_core::model::MqttMessage;
use ggipc_core::server::LocalMessage;
use ggipc_core::testing::{parse_policy, TestNucleus, TestNucleusBuilder};

use crate::error::{ggipc_error, Error};
use crate::ffi::{
    boundary, boundary_or, bytes_arg, c_string, free_raw, into_raw, opt_str_arg, str_arg, try_ref,
    write_out,
};
use crate::generated::{
    ggipc_configuration_validity_report, ggipc_defer_component_update_request,
    ggipc_reported_lifecycle_state, reported_lifecycle_state_to_c,
};
use crate::mqtt_api::ggipc_message;

/// An in-process nucleus for tests: the real IPC server on a private Unix socket, with a recording
/// in-memory broker standing in for AWS IoT Core. Created with `ggipc_test_nucleus_start`, released
/// (and stopped) with `ggipc_test_nucleus_free`. Thread-safe: every function may be called from any
/// thread, concurrently, except `ggipc_test_nucleus_free`.
pub struct ggipc_test_nucleus {
    inner: TestNucleus,
    socket_path: CString,
    token: CString,
}

fn with_nucleus(
    nucleus: *const ggipc_test_nucleus,
    f: impl FnOnce(&ggipc_test_nucleus) -> Result<(), Error>,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: the caller passes NULL or a live nucleus.
        let n = unsafe { try_ref(nucleus, "nucleus") }?;
        f(n)
    })
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn json_arg(text: &str, what: &str) -> Result<serde_json::Value, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("{what} is not JSON: {e}")))
}

/// Settings of a test nucleus beyond its component and policy, for
/// `ggipc_test_nucleus_start_with_options`. Created with `ggipc_test_nucleus_options_new` (every setting
/// at its default), released with `ggipc_test_nucleus_options_free`. Not thread-safe: set it up on one
/// thread, then it may be read by any.
#[derive(Default)]
pub struct ggipc_test_nucleus_options {
    max_payload_bytes: Option<usize>,
    literal_filter_authorization: Option<bool>,
    record: Option<bool>,
    spool_max_bytes: Option<usize>,
    keep_qos0_when_offline: Option<bool>,
    offline_subscribe_timeout: Option<Duration>,
    configuration: Option<serde_json::Value>,
}

impl ggipc_test_nucleus_options {
    fn apply(&self, mut b: TestNucleusBuilder) -> TestNucleusBuilder {
        if let Some(v) = self.max_payload_bytes {
            b = b.max_payload_bytes(v);
        }
        if let Some(v) = self.literal_filter_authorization {
            b = b.literal_filter_authorization(v);
        }
        if let Some(v) = self.record {
            b = b.record(v);
        }
        if let Some(v) = self.spool_max_bytes {
            b = b.spool_max_bytes(v);
        }
        if let Some(v) = self.keep_qos0_when_offline {
            b = b.keep_qos0_when_offline(v);
        }
        if let Some(v) = self.offline_subscribe_timeout {
            b = b.offline_subscribe_timeout(v);
        }
        if let Some(v) = &self.configuration {
            b = b.configuration(v.clone());
        }
        b
    }
}

fn with_options(
    options: *mut ggipc_test_nucleus_options,
    f: impl FnOnce(&mut ggipc_test_nucleus_options) -> Result<(), Error>,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: the caller passes NULL or live options it does not use elsewhere meanwhile.
        match unsafe { options.as_mut() } {
            Some(o) => f(o),
            None => Err(Error::null_argument("options")),
        }
    })
}

/// New test nucleus options, every setting at its default. Returns NULL only if allocation fails.
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn ggipc_test_nucleus_options_new() -> *mut ggipc_test_nucleus_options {
    boundary_or(std::ptr::null_mut(), || {
        into_raw(ggipc_test_nucleus_options::default())
    })
}

/// Releases options; NULL is a no-op. Thread-safety: not concurrently with other use of them.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_options_free(options: *mut ggipc_test_nucleus_options) {
    boundary_or((), || {
        // SAFETY: the caller passes NULL or options it owns.
        unsafe { free_raw(options) }
    })
}

/// Largest publish payload accepted, in bytes (default IoT Core's 131 072). Errors:
/// `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for NULL `options`.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_options_set_max_payload_bytes(
    options: *mut ggipc_test_nucleus_options,
    bytes: usize,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.max_payload_bytes = Some(bytes);
        Ok(())
    })
}

/// Authorize subscribe filters literally, as the Java nucleus does (default false: strictly, a filter
/// only where the policy allows every topic it matches). Errors: as above.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_options_set_literal_filter_authorization(
    options: *mut ggipc_test_nucleus_options,
    literal: bool,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.literal_filter_authorization = Some(literal);
        Ok(())
    })
}

/// Record publishes (default true; false for long soak runs: waits then see counts only). Errors: as
/// above.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_options_set_record(
    options: *mut ggipc_test_nucleus_options,
    record: bool,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.record = Some(record);
        Ok(())
    })
}

/// Bytes the spool holds during a broker outage (default 2.5 MiB, the nucleus' default). Errors: as
/// above.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_options_set_spool_max_bytes(
    options: *mut ggipc_test_nucleus_options,
    bytes: usize,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.spool_max_bytes = Some(bytes);
        Ok(())
    })
}

/// Spool QoS 0 publishes during an outage instead of refusing them (the nucleus'
/// `keepQos0WhenOffline`; default false). Errors: as above.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_options_set_keep_qos0_when_offline(
    options: *mut ggipc_test_nucleus_options,
    keep: bool,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.keep_qos0_when_offline = Some(keep);
        Ok(())
    })
}

/// How long a subscription made during an outage waits for the connection before failing, in
/// milliseconds (0 = the default, 30 s). Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for NULL `options`
/// or a negative value (the core's message, as for every timeout).
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_options_set_offline_subscribe_timeout_ms(
    options: *mut ggipc_test_nucleus_options,
    timeout_ms: i64,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.offline_subscribe_timeout =
            ggipc_bridge::millis(timeout_ms, "offline subscribe timeout")?;
        Ok(())
    })
}

/// The component under test's configuration (what GetConfiguration reads; default `{}`) as the text of
/// a JSON object; NULL removes it. Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL `options`, not JSON,
/// not an object); the options are then unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_options_set_configuration(
    options: *mut ggipc_test_nucleus_options,
    configuration_json: *const c_char,
) -> *mut ggipc_error {
    with_options(options, |o| {
        // SAFETY: the caller passes a C string or NULL.
        o.configuration = match unsafe { opt_str_arg(configuration_json, "configuration_json") }? {
            None => None,
            Some(text) => match json_arg(text, "configuration_json")? {
                v @ serde_json::Value::Object(_) => Some(v),
                _ => {
                    return Err(Error::invalid_argument(
                        "configuration_json must be a JSON object",
                    ))
                }
            },
        };
        Ok(())
    })
}

/// Starts a test nucleus serving `component` with the policy `access_control_json` (a recipe's
/// `accessControl` object as JSON, or a whole `{"accessControl": …}`; NULL = no policy, so every IoT Core
/// request of the component is refused). `socket_path` NULL puts the socket in a new private temporary
/// directory (removed on free); `token` NULL generates the component's SVCUID.
///
/// On success writes the nucleus to `*out` and returns NULL. Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT`
/// (NULL `component`/`out`, a policy that is not JSON or not a valid `accessControl`, naming the field),
/// `GGIPC_ERROR_KIND_INTERNAL` (the socket cannot be created). Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_start(
    component: *const c_char,
    access_control_json: *const c_char,
    socket_path: *const c_char,
    token: *const c_char,
    out: *mut *mut ggipc_test_nucleus,
) -> *mut ggipc_error {
    // SAFETY: the caller's arguments are passed on unchanged, with no options.
    unsafe {
        ggipc_test_nucleus_start_with_options(
            component,
            access_control_json,
            socket_path,
            token,
            std::ptr::null(),
            out,
        )
    }
}

/// `ggipc_test_nucleus_start` with settings (`options` NULL = every default; only read, the caller keeps
/// and frees it). Errors as for `ggipc_test_nucleus_start`. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_start_with_options(
    component: *const c_char,
    access_control_json: *const c_char,
    socket_path: *const c_char,
    token: *const c_char,
    options: *const ggipc_test_nucleus_options,
    out: *mut *mut ggipc_test_nucleus,
) -> *mut ggipc_error {
    boundary(|| {
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        // SAFETY: the caller passes C strings or NULL.
        let component = unsafe { str_arg(component, "component") }?;
        // SAFETY: as above.
        let policy = unsafe { opt_str_arg(access_control_json, "access_control_json") }?;
        // SAFETY: as above.
        let socket_path = unsafe { opt_str_arg(socket_path, "socket_path") }?;
        // SAFETY: as above.
        let token = unsafe { opt_str_arg(token, "token") }?;
        let mut b = TestNucleus::builder(component);
        if let Some(p) = policy {
            b = b.policy_json(p)?;
        }
        if let Some(s) = socket_path {
            b = b.socket_path(s);
        }
        if let Some(t) = token {
            b = b.token(t);
        }
        // SAFETY: the caller passes NULL or live options.
        if let Some(o) = unsafe { options.as_ref() } {
            b = o.apply(b);
        }
        let inner = b.start()?;
        let n = ggipc_test_nucleus {
            socket_path: c_string(&inner.socket_path().to_string_lossy()),
            token: c_string(&inner.token()),
            inner,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, into_raw(n)) };
        Ok(())
    })
}

/// Stops the nucleus (open streams are terminated, connections closed, the socket removed) and
/// releases it. NULL is a no-op. Thread-safety: not concurrently with other use of the same nucleus.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_free(nucleus: *mut ggipc_test_nucleus) {
    boundary_or((), || {
        // SAFETY: the caller passes NULL or a nucleus it owns.
        unsafe { free_raw(nucleus) }
    })
}

/// The socket path (owned by the nucleus, valid until it is freed); NULL for a NULL nucleus.
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_socket_path(
    nucleus: *const ggipc_test_nucleus,
) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live nucleus.
        unsafe { nucleus.as_ref() }.map_or(std::ptr::null(), |n| n.socket_path.as_ptr())
    })
}

/// The SVCUID of the component under test (owned by the nucleus, valid until it is freed; it stays the
/// same across restarts); NULL for a NULL nucleus. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_token(
    nucleus: *const ggipc_test_nucleus,
) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or a live nucleus.
        unsafe { nucleus.as_ref() }.map_or(std::ptr::null(), |n| n.token.as_ptr())
    })
}

/// Sets `AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT` and `SVCUID` in this process's
/// environment to `component`'s (NULL = the component under test), so code under test connects with
/// the SDK's usual `connect()`. Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for an unregistered
/// component (the message names the registered ones). Thread-safety: changes the process environment;
/// call it while no other thread reads or writes the environment.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_setenv(
    nucleus: *const ggipc_test_nucleus,
    component: *const c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes a C string or NULL.
        let component = unsafe { opt_str_arg(component, "component") }?;
        let env = match component {
            Some(c) => n.inner.env_of(c)?,
            None => n.inner.env(),
        };
        for (k, v) in env {
            std::env::set_var(k, v);
        }
        Ok(())
    })
}

/// Registers another component with its policy (as for `ggipc_test_nucleus_start`) and SVCUID `token`
/// (required: tests choose it), replacing an earlier registration of that name.
/// Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL arguments, bad policy). Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_add_component(
    nucleus: *const ggipc_test_nucleus,
    component: *const c_char,
    access_control_json: *const c_char,
    token: *const c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes C strings or NULL.
        let component = unsafe { str_arg(component, "component") }?;
        // SAFETY: as above.
        let policy = unsafe { opt_str_arg(access_control_json, "access_control_json") }?;
        // SAFETY: as above.
        let token = unsafe { str_arg(token, "token") }?;
        let access = policy.map(parse_policy).transpose()?.unwrap_or_default();
        n.inner
            .add_component(component, access, Some(token.to_string()));
        Ok(())
    })
}

/// Replaces a component's policy (NULL = none); the next request is authorized against it.
/// Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (unregistered component, bad policy).
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_set_policy(
    nucleus: *const ggipc_test_nucleus,
    component: *const c_char,
    access_control_json: *const c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes C strings or NULL.
        let component = unsafe { str_arg(component, "component") }?;
        // SAFETY: as above.
        let policy = unsafe { opt_str_arg(access_control_json, "access_control_json") }?;
        let access = policy.map(parse_policy).transpose()?.unwrap_or_default();
        n.inner.set_policy(component, access)?;
        Ok(())
    })
}

/// From now on publishes to topics matching `topic_filter` (NULL = all) fail with `message`: the
/// component gets the nucleus' `ServiceError` ("Publish to topic … failed: <message>"). `message` NULL
/// ends the failure. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_fail_publishes(
    nucleus: *const ggipc_test_nucleus,
    topic_filter: *const c_char,
    message: *const c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes C strings or NULL.
        let filter = unsafe { opt_str_arg(topic_filter, "topic_filter") }?;
        // SAFETY: as above.
        let message = unsafe { opt_str_arg(message, "message") }?;
        n.inner.fail_publishes(filter, message);
        Ok(())
    })
}

/// Like `ggipc_test_nucleus_fail_publishes`, for new subscriptions whose filter `topic_filter` matches.
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_fail_subscriptions(
    nucleus: *const ggipc_test_nucleus,
    topic_filter: *const c_char,
    message: *const c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes C strings or NULL.
        let filter = unsafe { opt_str_arg(topic_filter, "topic_filter") }?;
        // SAFETY: as above.
        let message = unsafe { opt_str_arg(message, "message") }?;
        n.inner.fail_subscriptions(filter, message);
        Ok(())
    })
}

/// Waits up to `timeout_ms` until `count` recorded publishes match `topic_filter` (a topic or an MQTT
/// filter; NULL = any). On success writes the last matching message to `*out` if `out` is not NULL
/// (free it with `ggipc_message_free`) and returns NULL. Errors: `GGIPC_ERROR_KIND_TIMEOUT` with a
/// message saying what was published instead and whether any policy allows the topic;
/// `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a zero `count`. Thread-safety: any thread (it blocks).
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_wait_for_publish(
    nucleus: *const ggipc_test_nucleus,
    topic_filter: *const c_char,
    count: usize,
    timeout_ms: u64,
    out: *mut *mut ggipc_message,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes a C string or NULL.
        let filter = unsafe { opt_str_arg(topic_filter, "topic_filter") }?;
        if count == 0 {
            return Err(Error::invalid_argument("count must be at least 1"));
        }
        let got = n
            .inner
            .wait_for_publishes(filter, count, millis(timeout_ms))?;
        if !out.is_null() {
            if let Some(last) = got.into_iter().last() {
                let m = ggipc_message::from_core(last.message);
                // SAFETY: checked non-NULL above.
                unsafe { write_out(out, into_raw(m)) };
            }
        }
        Ok(())
    })
}

/// Publishes that reached "IoT Core" so far (spooled ones once sent); 0 for a NULL nucleus.
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_published_count(
    nucleus: *const ggipc_test_nucleus,
) -> u64 {
    boundary_or(0, || {
        // SAFETY: the caller passes NULL or a live nucleus.
        unsafe { nucleus.as_ref() }.map_or(0, |n| n.inner.published_count())
    })
}

/// Forgets the recorded publishes (and resets the count). Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_clear_published(
    nucleus: *const ggipc_test_nucleus,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        n.inner.clear_published();
        Ok(())
    })
}

/// Waits up to `timeout_ms` until a subscription to exactly `topic_filter` (NULL = any) exists.
/// Errors: `GGIPC_ERROR_KIND_TIMEOUT` listing the subscriptions there are. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_wait_for_subscription(
    nucleus: *const ggipc_test_nucleus,
    topic_filter: *const c_char,
    timeout_ms: u64,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes a C string or NULL.
        let filter = unsafe { opt_str_arg(topic_filter, "topic_filter") }?;
        n.inner.wait_for_subscription(filter, millis(timeout_ms))?;
        Ok(())
    })
}

/// Delivers a message "from AWS IoT Core" on `topic` with the payload `payload[0..payload_len)` to every
/// matching subscription; writes how many took it to `*delivered` if not NULL (0 during an outage).
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_inject(
    nucleus: *const ggipc_test_nucleus,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    delivered: *mut usize,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes a C string and a valid buffer.
        let topic = unsafe { str_arg(topic, "topic") }?;
        // SAFETY: as above.
        let payload = unsafe { bytes_arg(payload, payload_len, "payload") }?;
        let count = n.inner.inject(MqttMessage::new(topic, payload));
        if !delivered.is_null() {
            // SAFETY: checked non-NULL above.
            unsafe { write_out(delivered, count) };
        }
        Ok(())
    })
}

/// Simulates the connection to AWS IoT Core going down (`false`) or coming back (`true`), as the
/// nucleus' MQTT bridge sees it. While it is down, SubscribeToIoTCoreConnectionStatus streams see
/// DISCONNECTED; QoS 0 publishes fail ("Device is offline. Dropping QoS 0 message."); QoS 1 publishes are
/// answered once spooled (2.5 MiB; beyond it "Message spool is full. Message could not be added.") and
/// are published, in order, when the connection is back; new subscriptions wait for it (30 s); injected
/// messages reach nobody. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_set_connected(
    nucleus: *const ggipc_test_nucleus,
    connected: bool,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        n.inner.set_connected(connected);
        Ok(())
    })
}

/// Publishes held in the spool during an outage; 0 for a NULL nucleus. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_spooled_count(
    nucleus: *const ggipc_test_nucleus,
) -> usize {
    boundary_or(0, || {
        // SAFETY: the caller passes NULL or a live nucleus.
        unsafe { nucleus.as_ref() }.map_or(0, |n| n.inner.spooled().len())
    })
}

/// Restarts the nucleus under its clients: every stream is terminated and every connection closed,
/// then it serves again on the same socket with the same components, tokens, policies and
/// configurations; clients with reconnect enabled come back by themselves. Errors:
/// `GGIPC_ERROR_KIND_INTERNAL` if the socket cannot be created again. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_restart(
    nucleus: *const ggipc_test_nucleus,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| Ok(n.inner.restart()?))
}

/// Stops serving (as `ggipc_test_nucleus_free` does, without releasing the object); stopping twice
/// does nothing. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_stop(
    nucleus: *const ggipc_test_nucleus,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| Ok(n.inner.stop()?))
}

/// Replaces a component's configuration (`configuration_json`, what GetConfiguration reads; no
/// events are sent). Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (not JSON, unregistered component).
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_set_configuration(
    nucleus: *const ggipc_test_nucleus,
    component: *const c_char,
    configuration_json: *const c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes C strings or NULL.
        let component = unsafe { str_arg(component, "component") }?;
        // SAFETY: as above.
        let config = unsafe { str_arg(configuration_json, "configuration_json") }?;
        n.inner
            .set_configuration(component, json_arg(config, "configuration_json")?)?;
        Ok(())
    })
}

/// Merges the JSON object `value_json` at the key path `key_path[0..key_path_len)` of a component's
/// configuration, as UpdateConfiguration does, and sends its SubscribeToConfigurationUpdate streams
/// their events. Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (not a JSON object, NULL strings), the
/// nucleus' error for an unknown component. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_update_configuration(
    nucleus: *const ggipc_test_nucleus,
    component: *const c_char,
    key_path: *const *const c_char,
    key_path_len: usize,
    value_json: *const c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes C strings or NULL.
        let component = unsafe { str_arg(component, "component") }?;
        // SAFETY: as above.
        let value = unsafe { str_arg(value_json, "value_json") }?;
        let serde_json::Value::Object(value) = json_arg(value, "value_json")? else {
            return Err(Error::invalid_argument("value_json must be a JSON object"));
        };
        if key_path.is_null() && key_path_len > 0 {
            return Err(Error::null_argument("key_path"));
        }
        let mut path = Vec::with_capacity(key_path_len);
        for i in 0..key_path_len {
            // SAFETY: the caller passes `key_path_len` readable pointers.
            let p = unsafe { *key_path.add(i) };
            // SAFETY: each is a C string or NULL.
            path.push(unsafe { str_arg(p, "key_path element") }?.to_string());
        }
        n.inner.update_configuration(component, &path, value)?;
        Ok(())
    })
}

/// Publishes a local (PublishToTopic) message on `topic` as `publisher` (NULL = "ggipc.testing"):
/// `message[0..message_len)` as a JSON message if `json` (it must then be a JSON object's text), else as a
/// binary message. Writes how many subscriptions took it to `*delivered` if not NULL.
/// Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (not JSON, NULL arguments). Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_publish_local(
    nucleus: *const ggipc_test_nucleus,
    publisher: *const c_char,
    topic: *const c_char,
    message: *const u8,
    message_len: usize,
    json: bool,
    delivered: *mut usize,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes C strings or NULL.
        let publisher = unsafe { opt_str_arg(publisher, "publisher") }?.unwrap_or("ggipc.testing");
        // SAFETY: as above.
        let topic = unsafe { str_arg(topic, "topic") }?;
        // SAFETY: the caller passes a valid buffer.
        let bytes = unsafe { bytes_arg(message, message_len, "message") }?;
        let message = if json {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| Error::invalid_argument("message is not valid UTF-8"))?;
            LocalMessage::Json(Some(json_arg(text, "message")?))
        } else {
            LocalMessage::Binary(bytes)
        };
        let count = n.inner.publish_local(publisher, topic, message);
        if !delivered.is_null() {
            // SAFETY: checked non-NULL above.
            unsafe { write_out(delivered, count) };
        }
        Ok(())
    })
}

/// Waits up to `timeout_ms` until a local (SubscribeToTopic) subscription to exactly `topic_filter`
/// (NULL = any) exists. Errors: `GGIPC_ERROR_KIND_TIMEOUT` listing the local subscriptions there are.
/// Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_wait_for_local_subscription(
    nucleus: *const ggipc_test_nucleus,
    topic_filter: *const c_char,
    timeout_ms: u64,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes a C string or NULL.
        let filter = unsafe { opt_str_arg(topic_filter, "topic_filter") }?;
        n.inner
            .wait_for_local_subscription(filter, millis(timeout_ms))?;
        Ok(())
    })
}

/// How many local (SubscribeToTopic) subscriptions are open; 0 for a NULL nucleus. Thread-safety: any
/// thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_local_subscription_count(
    nucleus: *const ggipc_test_nucleus,
) -> usize {
    boundary_or(0, || {
        // SAFETY: the caller passes NULL or a live nucleus.
        unsafe { nucleus.as_ref() }.map_or(0, |n| n.inner.local_subscriptions())
    })
}

/// Whether the simulated connection to AWS IoT Core is up (see `ggipc_test_nucleus_set_connected`);
/// false for a NULL nucleus. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_is_connected(
    nucleus: *const ggipc_test_nucleus,
) -> bool {
    boundary_or(false, || {
        // SAFETY: the caller passes NULL or a live nucleus.
        unsafe { nucleus.as_ref() }.is_some_and(|n| n.inner.is_connected())
    })
}

/// Spooled publishes evicted to make room during outages (QoS 0 first, as the nucleus' spooler does);
/// 0 for a NULL nucleus. Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_spool_evicted(
    nucleus: *const ggipc_test_nucleus,
) -> u64 {
    boundary_or(0, || {
        // SAFETY: the caller passes NULL or a live nucleus.
        unsafe { nucleus.as_ref() }.map_or(0, |n| n.inner.spool_evicted())
    })
}

/// A string the test nucleus returned (e.g. by `ggipc_test_nucleus_configuration`); NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_string_free(text: *mut c_char) {
    boundary_or((), || {
        if !text.is_null() {
            // SAFETY: `text` came from `CString::into_raw` in this library and is freed once.
            drop(unsafe { CString::from_raw(text) });
        }
    })
}

/// Writes a component's configuration as the text of a JSON object to `*out` (free it with
/// `ggipc_test_nucleus_string_free`), or NULL if the component has none. Errors:
/// `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL arguments). Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_configuration(
    nucleus: *const ggipc_test_nucleus,
    component: *const c_char,
    out: *mut *mut c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes a C string or NULL.
        let component = unsafe { str_arg(component, "component") }?;
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        let text = n
            .inner
            .configuration(component)
            .map_or(std::ptr::null_mut(), |v| {
                c_string(&v.to_string()).into_raw()
            });
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, text) };
        Ok(())
    })
}

/// The state `component` last reported with UpdateState: writes it to `*out` (a
/// `GGIPC_REPORTED_LIFECYCLE_STATE_*` constant) and returns true, or returns false if it reported none
/// (or for NULL arguments). Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_reported_state(
    nucleus: *const ggipc_test_nucleus,
    component: *const c_char,
    out: *mut ggipc_reported_lifecycle_state,
) -> bool {
    boundary_or(false, || {
        // SAFETY: the caller passes NULL or a live nucleus.
        let Some(n) = (unsafe { nucleus.as_ref() }) else {
            return false;
        };
        // SAFETY: the caller passes a C string or NULL.
        let Ok(component) = (unsafe { str_arg(component, "component") }) else {
            return false;
        };
        match n.inner.reported_state(component) {
            Some(state) if !out.is_null() => {
                // SAFETY: checked non-NULL.
                unsafe { write_out(out, reported_lifecycle_state_to_c(state)) };
                true
            }
            _ => false,
        }
    })
}

/// Sends `component`'s SubscribeToValidateConfigurationUpdates streams a validation event for the
/// configuration `configuration_json` (a JSON object's text) of deployment `deployment_id`, and waits up
/// to `timeout_ms` for the component's SendConfigurationValidityReport. Writes the report to `*out`
/// (free it with `ggipc_configuration_validity_report_free`), or NULL when the component has no such
/// stream (it validates nothing). Errors: `GGIPC_ERROR_KIND_TIMEOUT` when no report came in time,
/// `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL arguments, not JSON). Thread-safety: any thread but a
/// callback of a client of this nucleus (it blocks).
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_validate_configuration(
    nucleus: *const ggipc_test_nucleus,
    component: *const c_char,
    deployment_id: *const c_char,
    configuration_json: *const c_char,
    timeout_ms: u64,
    out: *mut *mut ggipc_configuration_validity_report,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes C strings or NULL.
        let component = unsafe { str_arg(component, "component") }?;
        // SAFETY: as above.
        let deployment_id = unsafe { str_arg(deployment_id, "deployment_id") }?;
        // SAFETY: as above.
        let config = unsafe { str_arg(configuration_json, "configuration_json") }?;
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        let report = n.inner.validate_configuration(
            component,
            deployment_id,
            json_arg(config, "configuration_json")?,
            millis(timeout_ms),
        )?;
        let report = report.map_or(std::ptr::null_mut(), |r| {
            into_raw(ggipc_configuration_validity_report::from_core(r))
        });
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, report) };
        Ok(())
    })
}

/// The DeferComponentUpdate requests a simulated deployment received
/// (`ggipc_test_nucleus_pre_component_update`), in arrival order. Released with
/// `ggipc_test_deferrals_free`; read-only, so any thread may read it.
pub struct ggipc_test_deferrals {
    items: Vec<(CString, ggipc_defer_component_update_request)>,
}

/// Tells every SubscribeToComponentUpdates stream that deployment `deployment_id` is about to update
/// components (`is_ggc_restarting` as the event carries it) and collects the DeferComponentUpdate
/// requests that arrive within `timeout_ms` (it waits the whole time: a component may defer at any
/// point of it). Writes them to `*out`. Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL arguments).
/// Thread-safety: any thread but a callback of a client of this nucleus (it blocks).
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_pre_component_update(
    nucleus: *const ggipc_test_nucleus,
    deployment_id: *const c_char,
    is_ggc_restarting: bool,
    timeout_ms: u64,
    out: *mut *mut ggipc_test_deferrals,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes a C string or NULL.
        let deployment_id = unsafe { str_arg(deployment_id, "deployment_id") }?;
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        let items = n
            .inner
            .pre_component_update(deployment_id, is_ggc_restarting, millis(timeout_ms))?
            .into_iter()
            .map(|(c, r)| {
                (
                    c_string(&c),
                    ggipc_defer_component_update_request::from_core(r),
                )
            })
            .collect();
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, into_raw(ggipc_test_deferrals { items })) };
        Ok(())
    })
}

/// Tells every SubscribeToComponentUpdates stream that deployment `deployment_id` updated components.
/// Errors: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL arguments). Thread-safety: any thread.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_nucleus_post_component_update(
    nucleus: *const ggipc_test_nucleus,
    deployment_id: *const c_char,
) -> *mut ggipc_error {
    with_nucleus(nucleus, |n| {
        // SAFETY: the caller passes a C string or NULL.
        let deployment_id = unsafe { str_arg(deployment_id, "deployment_id") }?;
        n.inner.post_component_update(deployment_id);
        Ok(())
    })
}

/// How many deferrals there are; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_deferrals_len(deferrals: *const ggipc_test_deferrals) -> usize {
    boundary_or(0, || {
        // SAFETY: the caller passes NULL or live deferrals.
        unsafe { deferrals.as_ref() }.map_or(0, |d| d.items.len())
    })
}

/// The component that sent deferral `index` (owned by `deferrals`); NULL if out of range or NULL.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_deferrals_component(
    deferrals: *const ggipc_test_deferrals,
    index: usize,
) -> *const c_char {
    boundary_or(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or live deferrals.
        unsafe { deferrals.as_ref() }
            .and_then(|d| d.items.get(index))
            .map_or(std::ptr::null(), |(c, _)| c.as_ptr())
    })
}

/// The DeferComponentUpdate request of deferral `index` (lent: owned by `deferrals`, read it with the
/// `ggipc_defer_component_update_request_get_*` functions); NULL if out of range or NULL.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_deferrals_request(
    deferrals: *const ggipc_test_deferrals,
    index: usize,
) -> *const ggipc_defer_component_update_request {
    boundary_or(std::ptr::null(), || {
        // SAFETY: the caller passes NULL or live deferrals.
        unsafe { deferrals.as_ref() }
            .and_then(|d| d.items.get(index))
            .map_or(std::ptr::null(), |(_, r)| r as *const _)
    })
}

/// Releases deferrals; NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ggipc_test_deferrals_free(deferrals: *mut ggipc_test_deferrals) {
    boundary_or((), || {
        // SAFETY: the caller passes NULL or deferrals it owns.
        unsafe { free_raw(deferrals) }
    })
}
