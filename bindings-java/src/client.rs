//! The `io.ggipc.internal.Native` entry points: connect, publish, subscribe, close.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;

use jni::objects::{GlobalRef, JByteArray, JClass, JObject, JObjectArray, JString, JValue};
use jni::sys::{jboolean, jint, jlong, jstring};
use jni::JNIEnv;

use ggipc::model::{
    IoTCoreMessage, PayloadFormat, PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest,
    UserProperty,
};
use ggipc::{Error, ErrorKind};

use crate::completer::{submit, Job};
use crate::jvm::{cache, call_void, callback, error_throwable, guard, NResult};

/// What a Java `NativeClient` owns (boxed; the `jlong` is the box's address).
struct ClientHandle {
    client: ggipc::Client,
    /// The same client's blocking facade (sync calls wait on the Java caller's thread).
    blocking: ggipc::blocking::Client,
}

/// Live native handles, for the leak tests (clients, subscriptions).
static LIVE_CLIENTS: AtomicI64 = AtomicI64::new(0);
static LIVE_SLOTS: AtomicI64 = AtomicI64::new(0);

impl ClientHandle {
    fn new(client: ggipc::Client, blocking: ggipc::blocking::Client) -> Self {
        LIVE_CLIENTS.fetch_add(1, Ordering::Relaxed);
        ClientHandle { client, blocking }
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        self.client.close_now();
        LIVE_CLIENTS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The state of one subscription, shared by its Java handle and the task that starts it.
struct Slot {
    state: Mutex<SlotState>,
}

/// Where a subscription is in its life.
enum SlotState {
    /// Not accepted yet.
    Pending,
    /// Not accepted yet, and closed meanwhile: close it as soon as it is.
    PendingClosed,
    Active(ggipc::SubscriptionHandle),
    /// Refused by the server.
    Closed,
}

impl Slot {
    fn new() -> Self {
        LIVE_SLOTS.fetch_add(1, Ordering::Relaxed);
        Slot {
            state: Mutex::new(SlotState::Pending),
        }
    }

    /// Closes the stream, now or as soon as it is accepted. Idempotent.
    fn close(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &*st {
            SlotState::Pending => *st = SlotState::PendingClosed,
            SlotState::Active(h) => h.close(),
            SlotState::PendingClosed | SlotState::Closed => {}
        }
    }

    /// Installs the running subscription (closing it at once if a close came first).
    fn activate(&self, h: ggipc::SubscriptionHandle) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(&*st, SlotState::PendingClosed) {
            h.close();
        }
        *st = SlotState::Active(h);
    }

    fn fail(&self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *st = SlotState::Closed;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        LIVE_SLOTS.fetch_sub(1, Ordering::Relaxed);
    }
}

fn client_ref<'a>(h: jlong) -> NResult<&'a ClientHandle> {
    if h == 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, "null client handle").into());
    }
    // SAFETY: a non-zero handle is a live `Box<ClientHandle>` from `clientConnect`; the Java side frees it only
    // through its Cleaner, once no Java code can call with it any more.
    Ok(unsafe { &*(h as *const ClientHandle) })
}

fn slot_ref<'a>(h: jlong) -> NResult<&'a Arc<Slot>> {
    if h == 0 {
        return Err(Error::new(ErrorKind::InvalidArgument, "null subscription handle").into());
    }
    // SAFETY: as for `client_ref`, with `Box<Arc<Slot>>` from `subscribe`/`subscribeAsync`.
    Ok(unsafe { &*(h as *const Arc<Slot>) })
}

/// A Java string argument as a Rust string. Every caller passes a `java.lang.String` (the native methods'
/// signatures say so), so the checked `get_string`, which looks the class up on every call, is not needed.
fn opt_string(env: &mut JNIEnv, s: &JString) -> NResult<Option<String>> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: `s` is a non-null reference typed `String` by the Java declaration of the native method, or an
    // element of a `String[]`.
    Ok(Some(unsafe { env.get_string_unchecked(s) }?.into()))
}

fn opt_bytes(env: &mut JNIEnv, b: &JByteArray) -> NResult<Option<Vec<u8>>> {
    if b.is_null() {
        return Ok(None);
    }
    Ok(Some(env.convert_byte_array(b)?))
}

fn qos(q: jint) -> NResult<Option<Qos>> {
    match q {
        -1 => Ok(None),
        0 => Ok(Some(Qos::AtMostOnce)),
        1 => Ok(Some(Qos::AtLeastOnce)),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            "invalid QoS: use QOS.AT_MOST_ONCE or AT_LEAST_ONCE",
        )
        .into()),
    }
}

fn payload_format(f: jint) -> NResult<Option<PayloadFormat>> {
    match f {
        -1 => Ok(None),
        0 => Ok(Some(PayloadFormat::Bytes)),
        1 => Ok(Some(PayloadFormat::Utf8)),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            "invalid payload format: use PayloadFormat.BYTES or UTF8",
        )
        .into()),
    }
}

fn user_properties(env: &mut JNIEnv, a: &JObjectArray) -> NResult<Option<Vec<UserProperty>>> {
    if a.is_null() {
        return Ok(None);
    }
    let n = env.get_array_length(a)?;
    let mut out = Vec::with_capacity((n / 2) as usize);
    let mut i = 0;
    while i + 1 < n {
        let k = JString::from(env.get_object_array_element(a, i)?);
        let v = JString::from(env.get_object_array_element(a, i + 1)?);
        let key = opt_string(env, &k)?.unwrap_or_default();
        let value = opt_string(env, &v)?.unwrap_or_default();
        env.delete_local_ref(k)?;
        env.delete_local_ref(v)?;
        out.push(UserProperty { key, value });
        i += 2;
    }
    Ok(Some(out))
}

#[allow(clippy::too_many_arguments)]
fn publish_request(
    env: &mut JNIEnv,
    topic: &JString,
    q: jint,
    payload: &JByteArray,
    retain: jint,
    props: &JObjectArray,
    expiry: jlong,
    has_expiry: jboolean,
    correlation: &JByteArray,
    response_topic: &JString,
    format: jint,
    content_type: &JString,
) -> NResult<PublishToIoTCoreRequest> {
    Ok(PublishToIoTCoreRequest {
        topic_name: opt_string(env, topic)?,
        qos: qos(q)?,
        payload: opt_bytes(env, payload)?,
        retain: match retain {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        },
        user_properties: user_properties(env, props)?,
        message_expiry_interval_seconds: (has_expiry != 0).then_some(expiry),
        correlation_data: opt_bytes(env, correlation)?,
        response_topic: opt_string(env, response_topic)?,
        payload_format: payload_format(format)?,
        content_type: opt_string(env, content_type)?,
    })
}

fn millis(ms: jlong) -> Option<Duration> {
    (ms > 0).then(|| Duration::from_millis(ms as u64))
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_version<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
) -> jstring {
    guard(&mut env, |env| {
        Ok(env.new_string(env!("CARGO_PKG_VERSION"))?.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_clientConnect<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    socket: JString<'l>,
    token: JString<'l>,
    connect_timeout_ms: jlong,
    operation_timeout_ms: jlong,
    lifecycle: JObject<'l>,
) -> jlong {
    guard(&mut env, |env| {
        let socket = opt_string(env, &socket)?
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "socket path is null"))?;
        let token = opt_string(env, &token)?
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "auth token is null"))?;
        let lifecycle = if lifecycle.is_null() {
            None
        } else {
            Some(env.new_global_ref(&lifecycle)?)
        };
        let mut builder = ggipc::Client::builder()
            .socket_path(socket)
            .auth_token(token);
        if let Some(d) = millis(connect_timeout_ms) {
            builder = builder.connect_timeout(d);
        }
        if let Some(d) = millis(operation_timeout_ms) {
            builder = builder.operation_timeout(d);
        }
        // A connection made for blocking use: its reader lets a waiting sync caller read its own response (one
        // thread wake-up per round trip); async calls and subscriptions work on it as well.
        let blocking = builder.connect_blocking()?;
        let client = blocking.as_async().clone();
        if let Some(bridge) = lifecycle {
            watch_lifecycle(&client, bridge);
        }
        Ok(Box::into_raw(Box::new(ClientHandle::new(client, blocking))) as jlong)
    })
}

/// Forwards the end of the connection to the Java `LifecycleBridge`.
fn watch_lifecycle(client: &ggipc::Client, bridge: GlobalRef) {
    let mut rx = client.lifecycle();
    let Ok(rt) = ggipc::runtime::handle() else {
        return;
    };
    rt.spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            match rx.recv().await {
                Ok(ggipc::LifecycleEvent::Disconnected(reason)) => {
                    submit(Job::Disconnected {
                        bridge,
                        reason: Some(reason),
                    });
                    return;
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => {
                    submit(Job::Disconnected {
                        bridge,
                        reason: None,
                    });
                    return;
                }
            }
        }
    });
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_clientClose<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) {
    guard(&mut env, |_env| {
        let c = client_ref(h)?;
        c.client.close_now();
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_clientFree<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) {
    guard(&mut env, |_env| {
        if h != 0 {
            // SAFETY: called once by the Java Cleaner with a handle from `clientConnect`.
            drop(unsafe { Box::from_raw(h as *mut ClientHandle) });
        }
        Ok(())
    })
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_ggipc_internal_Native_publish<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    q: jint,
    payload: JByteArray<'l>,
    retain: jint,
    props: JObjectArray<'l>,
    expiry: jlong,
    has_expiry: jboolean,
    correlation: JByteArray<'l>,
    response_topic: JString<'l>,
    format: jint,
    content_type: JString<'l>,
) {
    guard(&mut env, |env| {
        let c = client_ref(h)?;
        let req = publish_request(
            env,
            &topic,
            q,
            &payload,
            retain,
            &props,
            expiry,
            has_expiry,
            &correlation,
            &response_topic,
            format,
            &content_type,
        )?;
        c.blocking.publish_to_iot_core(req)?;
        Ok(())
    })
}

#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_ggipc_internal_Native_publishAsync<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    q: jint,
    payload: JByteArray<'l>,
    retain: jint,
    props: JObjectArray<'l>,
    expiry: jlong,
    has_expiry: jboolean,
    correlation: JByteArray<'l>,
    response_topic: JString<'l>,
    format: jint,
    content_type: JString<'l>,
    future: JObject<'l>,
) {
    guard(&mut env, |env| {
        let c = client_ref(h)?;
        let req = publish_request(
            env,
            &topic,
            q,
            &payload,
            retain,
            &props,
            expiry,
            has_expiry,
            &correlation,
            &response_topic,
            format,
            &content_type,
        )?;
        let future = env.new_global_ref(&future)?;
        let client = c.client.clone();
        // The first poll runs here, so requests from one thread reach the connection in call order.
        start_on_caller(
            async move { client.publish_to_iot_core(req).await.map(|_| ()) },
            move |result| submit(Job::Complete { future, result }),
        )?;
        Ok(())
    })
}

fn noop_waker() -> Waker {
    fn clone(_: *const ()) -> RawWaker {
        RawWaker::new(std::ptr::null(), &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
    // SAFETY: the vtable's functions ignore the data pointer and uphold the RawWaker contract trivially.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

/// Polls `fut` once on the calling thread (inside the runtime's context), so that whatever it does first —
/// allocating a stream id and queueing the request — happens in the caller's order; the rest runs as a task.
fn start_on_caller<F>(fut: F, done: impl FnOnce(F::Output) + Send + 'static) -> NResult<()>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let rt = ggipc::runtime::handle()?;
    let _entered = rt.enter();
    let mut fut = Box::pin(fut);
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => done(v),
        Poll::Pending => {
            rt.spawn(async move { done(fut.await) });
        }
    }
    Ok(())
}

/// Delivers a batch of one subscription's events to its Java `StreamBridge` in one attached pass (runs on the
/// subscription's dispatcher thread).
fn deliver_batch(bridge: &GlobalRef, events: Vec<ggipc::SubscriptionEvent>) {
    callback("stream events", |env| {
        for ev in events {
            env.with_local_frame(16, |env| deliver(env, bridge, ev))?;
            if env.exception_check()? {
                env.exception_describe()?;
                env.exception_clear()?;
            }
        }
        Ok(())
    });
}

fn deliver(
    env: &mut JNIEnv,
    bridge: &GlobalRef,
    ev: ggipc::SubscriptionEvent,
) -> jni::errors::Result<()> {
    use ggipc::SubscriptionEvent as Ev;
    let c = cache();
    match ev {
        Ev::Message(IoTCoreMessage { message }) => {
            let m = message.unwrap_or_default();
            let topic = match &m.topic_name {
                Some(t) => env.new_string(t)?,
                None => JString::from(JObject::null()),
            };
            let payload = match &m.payload {
                Some(p) => env.byte_array_from_slice(p)?,
                None => JByteArray::from(JObject::null()),
            };
            let props = match &m.user_properties {
                Some(props) => {
                    let arr = env.new_object_array(
                        (props.len() * 2) as i32,
                        <&JClass>::from(c.string_class.as_obj()),
                        JObject::null(),
                    )?;
                    for (i, p) in props.iter().enumerate() {
                        let k = env.new_string(&p.key)?;
                        let v = env.new_string(&p.value)?;
                        env.set_object_array_element(&arr, (2 * i) as i32, &k)?;
                        env.set_object_array_element(&arr, (2 * i + 1) as i32, &v)?;
                    }
                    arr
                }
                None => JObjectArray::from(JObject::null()),
            };
            let corr = match &m.correlation_data {
                Some(p) => env.byte_array_from_slice(p)?,
                None => JByteArray::from(JObject::null()),
            };
            let resp = match &m.response_topic {
                Some(t) => env.new_string(t)?,
                None => JString::from(JObject::null()),
            };
            let ct = match &m.content_type {
                Some(t) => env.new_string(t)?,
                None => JString::from(JObject::null()),
            };
            call_void(
                env,
                bridge.as_obj(),
                c.bridge_on_message,
                &[
                    JValue::Object(&topic),
                    JValue::Object(&payload),
                    JValue::Int(match m.retain {
                        Some(true) => 1,
                        Some(false) => 0,
                        None => -1,
                    }),
                    JValue::Object(&props),
                    JValue::Long(m.message_expiry_interval_seconds.unwrap_or(0)),
                    JValue::Bool(m.message_expiry_interval_seconds.is_some() as jboolean),
                    JValue::Object(&corr),
                    JValue::Object(&resp),
                    JValue::Int(match m.payload_format {
                        Some(PayloadFormat::Bytes) => 0,
                        Some(PayloadFormat::Utf8) => 1,
                        None => -1,
                    }),
                    JValue::Object(&ct),
                ],
            )
        }
        Ev::Error(e) => {
            let t = error_throwable(env, &e)?;
            call_void(
                env,
                bridge.as_obj(),
                c.bridge_on_error,
                &[JValue::Object(&t)],
            )
        }
        Ev::Lagged(n) => call_void(
            env,
            bridge.as_obj(),
            c.bridge_on_dropped,
            &[JValue::Long(n.min(i64::MAX as u64) as i64)],
        ),
        Ev::Closed(reason) => {
            let t = match &reason {
                Some(e) => error_throwable(env, e)?,
                None => JObject::null(),
            };
            call_void(
                env,
                bridge.as_obj(),
                c.bridge_on_closed,
                &[JValue::Object(&t)],
            )
        }
        // Reconnect is not enabled by this binding, so there are no interruptions to report.
        Ev::Interrupted(_) | Ev::Resumed => Ok(()),
    }
}

fn subscribe_request(
    env: &mut JNIEnv,
    topic: &JString,
    q: jint,
) -> NResult<SubscribeToIoTCoreRequest> {
    Ok(SubscribeToIoTCoreRequest {
        topic_name: opt_string(env, topic)?,
        qos: qos(q)?,
    })
}

fn start_handler(sub: ggipc::Subscription, bridge: GlobalRef) -> ggipc::SubscriptionHandle {
    sub.with_batch_handler(move |events| deliver_batch(&bridge, events))
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_subscribe<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    q: jint,
    bridge: JObject<'l>,
) -> jlong {
    guard(&mut env, |env| {
        let c = client_ref(h)?;
        let req = subscribe_request(env, &topic, q)?;
        let bridge = env.new_global_ref(&bridge)?;
        let sub = c.blocking.subscribe_to_iot_core(req)?.into_async();
        let slot = Arc::new(Slot::new());
        slot.activate(start_handler(sub, bridge));
        Ok(Box::into_raw(Box::new(slot)) as jlong)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_subscribeAsync<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    topic: JString<'l>,
    q: jint,
    bridge: JObject<'l>,
    future: JObject<'l>,
) -> jlong {
    guard(&mut env, |env| {
        let c = client_ref(h)?;
        let req = subscribe_request(env, &topic, q)?;
        let bridge = env.new_global_ref(&bridge)?;
        let future = env.new_global_ref(&future)?;
        let slot = Arc::new(Slot::new());
        let task_slot = slot.clone();
        let client = c.client.clone();
        ggipc::runtime::handle()?.spawn(async move {
            match client.subscribe_to_iot_core(req).await {
                Ok(sub) => {
                    task_slot.activate(start_handler(sub, bridge));
                    submit(Job::Complete {
                        future,
                        result: Ok(()),
                    });
                }
                Err(e) => {
                    task_slot.fail();
                    submit(Job::Complete {
                        future,
                        result: Err(e),
                    });
                }
            }
        });
        Ok(Box::into_raw(Box::new(slot)) as jlong)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_subscriptionClose<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    s: jlong,
) {
    guard(&mut env, |_env| {
        slot_ref(s)?.close();
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_subscriptionFree<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    s: jlong,
) {
    guard(&mut env, |_env| {
        if s != 0 {
            // SAFETY: called once by the Java Cleaner with a handle from `subscribe`/`subscribeAsync`.
            drop(unsafe { Box::from_raw(s as *mut Arc<Slot>) });
        }
        Ok(())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_testPanic<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
) {
    guard(&mut env, |_env| -> NResult<()> {
        panic!("deliberate panic (test hook)");
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_errorCodes<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
) -> jni::sys::jintArray {
    guard(&mut env, |env| {
        let codes: Vec<jint> = ErrorKind::ALL.iter().map(|k| k.code() as jint).collect();
        let arr = env.new_int_array(codes.len() as i32)?;
        env.set_int_array_region(&arr, 0, &codes)?;
        Ok(arr.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_liveHandles<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
) -> jni::sys::jlongArray {
    guard(&mut env, |env| {
        let live = [
            LIVE_CLIENTS.load(Ordering::Relaxed),
            LIVE_SLOTS.load(Ordering::Relaxed),
        ];
        let arr = env.new_long_array(2)?;
        env.set_long_array_region(&arr, 0, &live)?;
        Ok(arr.into_raw())
    })
}
