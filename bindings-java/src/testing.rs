//! The natives of `io.ggipc.testing.LocalNucleus` (the `io.ggipc:ggipc-testing` jar): the core's test nucleus
//! ([`ggipc::testing::TestNucleus`]) behind a `long` handle. Conversions only; lists of messages cross as JSON
//! (`[{"topic", "payload" (base64), "qos", "retain", "component"}]`).

use std::time::Duration;

use base64::Engine;
use jni::objects::{JByteArray, JClass, JObject, JString};
use jni::sys::{jboolean, jbyteArray, jint, jlong, jstring};
use jni::JNIEnv;

use ggipc::model::MqttMessage;
use ggipc::server::{BrokerPublish, LocalMessage};
use ggipc::testing::{parse_policy, TestNucleus};
use ggipc::{Error, ErrorKind};

use crate::jvm::{guard, NResult};

fn opt_string(env: &mut JNIEnv, s: &JString) -> NResult<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: `s` is a non-null reference typed `String` by the Java declaration of the native method.
    Ok(Some(unsafe { env.get_string_unchecked(s) }?.into()))
}

fn string(env: &mut JNIEnv, s: &JString, what: &str) -> NResult<String> {
    opt_string(env, s)?
        .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, format!("{what} is null")).into())
}

fn nucleus<'a>(h: jlong) -> NResult<&'a TestNucleus> {
    if h == 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, "the LocalNucleus is closed").into());
    }
    // SAFETY: `h` comes from `nStart` and the Java side frees it only once no call is running (a write lock
    // around `nFree`, read locks around every other call).
    Ok(unsafe { &*(h as *const TestNucleus) })
}

fn millis(ms: jlong, what: &str) -> NResult<Duration> {
    if ms <= 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} must be positive, got {ms} ms"),
        )
        .into());
    }
    Ok(Duration::from_millis(ms as u64))
}

fn json(text: &str, what: &str) -> NResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{what} is not JSON: {e}"),
        )
        .into()
    })
}

fn publishes_json<'l>(env: &mut JNIEnv<'l>, list: &[BrokerPublish]) -> NResult<jbyteArray> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let items: Vec<serde_json::Value> = list
        .iter()
        .map(|p| {
            serde_json::json!({
                "topic": p.message.topic(),
                "payload": b64.encode(p.message.payload_bytes()),
                "qos": p.qos.as_str(),
                "retain": p.message.retain.unwrap_or(false),
                "component": &*p.component,
            })
        })
        .collect();
    let bytes =
        serde_json::to_vec(&items).map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
    Ok(env.byte_array_from_slice(&bytes)?.into_raw())
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nStart<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    component: JString<'l>,
    policy_json: JString<'l>,
    socket_path: JString<'l>,
    token: JString<'l>,
    configuration_json: JString<'l>,
    spool_max_bytes: jlong,
    keep_qos0_when_offline: jboolean,
    offline_subscribe_timeout_ms: jlong,
) -> jlong {
    guard(&mut env, |env| {
        let component = string(env, &component, "component")?;
        let mut b =
            TestNucleus::builder(component).keep_qos0_when_offline(keep_qos0_when_offline != 0);
        if let Some(p) = opt_string(env, &policy_json)? {
            b = b.policy_json(&p)?;
        }
        if let Some(s) = opt_string(env, &socket_path)? {
            b = b.socket_path(s);
        }
        if let Some(t) = opt_string(env, &token)? {
            b = b.token(t);
        }
        if let Some(c) = opt_string(env, &configuration_json)? {
            b = b.configuration(json(&c, "configuration")?);
        }
        if spool_max_bytes >= 0 {
            b = b.spool_max_bytes(spool_max_bytes as usize);
        }
        if offline_subscribe_timeout_ms > 0 {
            b = b.offline_subscribe_timeout(Duration::from_millis(
                offline_subscribe_timeout_ms as u64,
            ));
        }
        Ok(Box::into_raw(Box::new(b.start()?)) as jlong)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nFree<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) {
    guard(&mut env, |_env| {
        if h != 0 {
            // SAFETY: called once, under the Java side's write lock, with a handle from `nStart`.
            drop(unsafe { Box::from_raw(h as *mut TestNucleus) });
        }
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nSocketPath<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) -> jstring {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        Ok(env
            .new_string(n.socket_path().to_string_lossy())?
            .into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nTokenOf<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    component: JString<'l>,
) -> jstring {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let token = match opt_string(env, &component)? {
            Some(c) => n.token_of(&c)?,
            None => n.token(),
        };
        Ok(env.new_string(token)?.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nAddComponent<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    component: JString<'l>,
    policy_json: JString<'l>,
    token: JString<'l>,
) -> jstring {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let component = string(env, &component, "component")?;
        let access = match opt_string(env, &policy_json)? {
            Some(p) => parse_policy(&p)?,
            None => Default::default(),
        };
        let token = opt_string(env, &token)?;
        let token = n.add_component(&component, access, token);
        Ok(env.new_string(token)?.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nSetPolicy<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    component: JString<'l>,
    policy_json: JString<'l>,
) {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let component = string(env, &component, "component")?;
        let access = match opt_string(env, &policy_json)? {
            Some(p) => parse_policy(&p)?,
            None => Default::default(),
        };
        Ok(n.set_policy(&component, access)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nFail<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    subscriptions: jboolean,
    topic_filter: JString<'l>,
    message: JString<'l>,
) {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let filter = opt_string(env, &topic_filter)?;
        let message = opt_string(env, &message)?;
        if subscriptions != 0 {
            n.fail_subscriptions(filter.as_deref(), message.as_deref());
        } else {
            n.fail_publishes(filter.as_deref(), message.as_deref());
        }
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nWaitForPublishes<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    topic_filter: JString<'l>,
    count: jint,
    timeout_ms: jlong,
) -> jbyteArray {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let filter = opt_string(env, &topic_filter)?;
        if count < 1 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("count must be at least 1, got {count}"),
            )
            .into());
        }
        let timeout = millis(timeout_ms, "timeout")?;
        let got = n.wait_for_publishes(filter.as_deref(), count as usize, timeout)?;
        publishes_json(env, &got)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nPublished<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    spooled: jboolean,
) -> jbyteArray {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let list = if spooled != 0 {
            n.spooled()
        } else {
            n.published()
        };
        publishes_json(env, &list)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nPublishedCount<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) -> jlong {
    guard(&mut env, |_env| Ok(nucleus(h)?.published_count() as jlong))
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nClearPublished<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) {
    guard(&mut env, |_env| {
        nucleus(h)?.clear_published();
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nSubscriptions<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    local: jboolean,
) -> jbyteArray {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let subs = if local != 0 {
            n.server().local_subscription_filters()
        } else {
            n.subscriptions()
        };
        let bytes = serde_json::to_vec(&subs)
            .map_err(|e| Error::new(ErrorKind::Internal, e.to_string()))?;
        Ok(env.byte_array_from_slice(&bytes)?.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nWaitForSubscription<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    local: jboolean,
    topic_filter: JString<'l>,
    timeout_ms: jlong,
) {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let filter = opt_string(env, &topic_filter)?;
        let timeout = millis(timeout_ms, "timeout")?;
        if local != 0 {
            n.wait_for_local_subscription(filter.as_deref(), timeout)?;
        } else {
            n.wait_for_subscription(filter.as_deref(), timeout)?;
        }
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nInject<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    payload: JByteArray<'l>,
) -> jint {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let topic = string(env, &topic, "topic")?;
        let payload = if payload.is_null() {
            Vec::new()
        } else {
            env.convert_byte_array(&payload)?
        };
        Ok(n.inject(MqttMessage::new(topic, payload))
            .min(jint::MAX as usize) as jint)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nSetConnected<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    connected: jboolean,
) {
    guard(&mut env, |_env| {
        nucleus(h)?.set_connected(connected != 0);
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nIsConnected<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) -> jboolean {
    guard(&mut env, |_env| Ok(nucleus(h)?.is_connected() as jboolean))
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nPublishLocal<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    publisher: JString<'l>,
    topic: JString<'l>,
    payload: JByteArray<'l>,
    is_json: jboolean,
) -> jint {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let publisher = opt_string(env, &publisher)?.unwrap_or_else(|| "ggipc.testing".into());
        let topic = string(env, &topic, "topic")?;
        let bytes = if payload.is_null() {
            Vec::new()
        } else {
            env.convert_byte_array(&payload)?
        };
        let message = if is_json != 0 {
            let text = String::from_utf8(bytes)
                .map_err(|_| Error::new(ErrorKind::InvalidArgument, "message is not UTF-8"))?;
            LocalMessage::Json(Some(json(&text, "message")?))
        } else {
            LocalMessage::Binary(bytes)
        };
        Ok(n.publish_local(&publisher, &topic, message)
            .min(jint::MAX as usize) as jint)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nSetConfiguration<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    component: JString<'l>,
    configuration_json: JString<'l>,
) {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let component = string(env, &component, "component")?;
        let config = string(env, &configuration_json, "configuration")?;
        Ok(n.set_configuration(&component, json(&config, "configuration")?)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nUpdateConfiguration<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    component: JString<'l>,
    key_path_json: JString<'l>,
    value_json: JString<'l>,
) {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let component = string(env, &component, "component")?;
        let key_path: Vec<String> = serde_json::from_str(&string(env, &key_path_json, "keyPath")?)
            .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("keyPath: {e}")))?;
        let serde_json::Value::Object(value) = json(&string(env, &value_json, "value")?, "value")?
        else {
            return Err(
                Error::new(ErrorKind::InvalidArgument, "value must be a JSON object").into(),
            );
        };
        Ok(n.update_configuration(&component, &key_path, value)?)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nConfiguration<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    component: JString<'l>,
) -> jstring {
    guard(&mut env, |env| {
        let n = nucleus(h)?;
        let component = string(env, &component, "component")?;
        match n.configuration(&component) {
            Some(v) => Ok(env.new_string(v.to_string())?.into_raw()),
            None => Ok(JObject::null().into_raw()),
        }
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nRestart<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) {
    guard(&mut env, |_env| Ok(nucleus(h)?.restart()?))
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_testing_LocalNucleus_nStop<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) {
    guard(&mut env, |_env| Ok(nucleus(h)?.stop()?))
}
