//! The `io.ggipc.internal.Native` entry points: connect, close, and the generic operation calls. A request
//! crosses the boundary as the operation's shape id and the request's JSON; the response and each stream event
//! come back as JSON bytes, read in Java by the generated model classes. Nothing here is per operation.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use jni::objects::{GlobalRef, JByteArray, JClass, JObject, JString, JValue, ReleaseMode};
use jni::sys::{jboolean, jbyteArray, jint, jlong, jstring};
use jni::JNIEnv;

use ggipc::model::Operation;
use ggipc::{Error, ErrorKind, RawEvent};
use ggipc_bridge::{millis, Connection, Settings, CONNECT_TIMEOUT, OPERATION_TIMEOUT};

use crate::completer::{submit, Job};
use crate::jvm::{cache, call_void, callback, error_throwable, guard, NResult};

/// What a Java `NativeClient` owns (boxed; the `jlong` is the box's address).
struct ClientHandle {
    conn: Connection,
}

/// Live native handles, for the leak tests (clients, subscriptions).
static LIVE_CLIENTS: AtomicI64 = AtomicI64::new(0);
static LIVE_SLOTS: AtomicI64 = AtomicI64::new(0);

impl ClientHandle {
    fn new(conn: Connection) -> Self {
        LIVE_CLIENTS.fetch_add(1, Ordering::Relaxed);
        ClientHandle { conn }
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        self.conn.close();
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
    // SAFETY: as for `client_ref`, with `Box<Arc<Slot>>` from `stream`/`streamAsync`.
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

/// The request JSON: the first `len` bytes of `b` (an absent request is an empty object). The Java side writes
/// blobs as their bytes (`JsonWriter.forNative`) into a buffer it does not trim; their base64 is written here
/// ([`ggipc_bridge::blobs::expand_slice`]) straight from the Java array, which is read in place, not copied.
fn request_body(env: &mut JNIEnv, b: &JByteArray, len: jint) -> NResult<Bytes> {
    if b.is_null() {
        return Ok(Bytes::from_static(b"{}"));
    }
    let capacity = env.get_array_length(b)?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= capacity as usize)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("request length {len} is not within its array of {capacity} bytes"),
            )
        })?;
    // SAFETY: between taking the elements and dropping them, nothing here calls JNI or blocks (the critical
    // section the JNI specification allows); `NoCopyBack` because the array is only read.
    let elements = unsafe { env.get_array_elements_critical(b, ReleaseMode::NoCopyBack) }?;
    // SAFETY: `elements` is `capacity` jbytes (i8), readable for as long as it lives; u8 has the same layout,
    // and `len <= capacity`.
    let bytes = unsafe { std::slice::from_raw_parts(elements.as_ptr().cast::<u8>(), len) };
    let json = ggipc_bridge::blobs::expand_slice(bytes);
    drop(elements);
    Ok(Bytes::from(json?))
}

/// The blob and document members of an operation's stream events.
type EventLayout = Option<&'static [(&'static str, ggipc::model::Layout)]>;

fn event_layout(op: &Operation) -> EventLayout {
    op.event.and_then(ggipc::model::layout)
}

/// An event body as Java reads it: the blob members of the event's shape decoded here, as their bytes
/// (`JsonReader.nextBlob`), straight into the Java array (no buffer of our own in between); a body that is not
/// as the layout says goes as it is, for Java to report.
fn event_array<'l>(
    env: &mut JNIEnv<'l>,
    payload: &[u8],
    layout: EventLayout,
) -> jni::errors::Result<JByteArray<'l>> {
    let plan = layout.and_then(|l| ggipc_bridge::blobs::Collapse::plan(payload, l));
    let Some((plan, len)) = plan.and_then(|p| i32::try_from(p.len()).ok().map(|n| (p, n))) else {
        return env.byte_array_from_slice(payload);
    };
    let arr = env.new_byte_array(len)?;
    let written = {
        // SAFETY: between taking the elements and dropping them, nothing here calls JNI or blocks (the critical
        // section the JNI specification allows); `CopyBack` writes them into the array if the JVM copied it.
        let mut elements = unsafe { env.get_array_elements_critical(&arr, ReleaseMode::CopyBack) }?;
        // SAFETY: `elements` is the array's `len` jbytes (i8), writable for as long as it lives; u8 has the same
        // layout.
        let out = unsafe {
            std::slice::from_raw_parts_mut(elements.as_mut_ptr().cast::<u8>(), plan.len())
        };
        plan.write(out).is_some()
    };
    if written {
        return Ok(arr);
    }
    env.delete_local_ref(arr)?;
    env.byte_array_from_slice(payload)
}

/// The operation of the model named by its shape id (`aws.greengrass#PublishToIoTCore`).
fn operation(env: &mut JNIEnv, name: &JString) -> NResult<&'static Operation> {
    if name.is_null() {
        return Err(Error::new(ErrorKind::InvalidArgument, "operation name is null").into());
    }
    // SAFETY: `name` is a non-null reference typed `String` by the Java declaration of the native method.
    let js = unsafe { env.get_string_unchecked(name) }?;
    Ok(ggipc_bridge::operation(js.to_bytes())?)
}

/// A response body for Java: `null` for an empty one (no members), so that nothing is copied or parsed.
pub(crate) fn response_array<'l>(
    env: &mut JNIEnv<'l>,
    body: &[u8],
) -> jni::errors::Result<JByteArray<'l>> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"{}" {
        return Ok(JByteArray::from(JObject::null()));
    }
    env.byte_array_from_slice(body)
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

/// The component's socket path as the core reads it, or Java `null` (unset or empty variable).
#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_componentSocketPath<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
) -> jstring {
    guard(&mut env, |env| {
        match ggipc_bridge::component_socket_path() {
            Some(p) => Ok(env.new_string(p.to_string_lossy())?.into_raw()),
            None => Ok(JObject::null().into_raw()),
        }
    })
}

/// The component's auth token as the core reads it, or Java `null` (unset or empty variable).
#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_componentAuthToken<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
) -> jstring {
    guard(&mut env, |env| match ggipc_bridge::component_auth_token() {
        Some(t) => Ok(env.new_string(t)?.into_raw()),
        None => Ok(JObject::null().into_raw()),
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
    reconnect: jboolean,
    subscription_queue: jint,
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
        let settings = Settings {
            socket_path: Some(socket),
            auth_token: Some(token),
            connect_timeout: millis(connect_timeout_ms, CONNECT_TIMEOUT)?,
            operation_timeout: millis(operation_timeout_ms, OPERATION_TIMEOUT)?,
            reconnect: reconnect != 0,
            subscription_queue: (subscription_queue > 0).then_some(subscription_queue as usize),
        };
        // Connected for blocking use: a waiting sync caller reads its own response (one thread wake-up per
        // round trip); async calls and subscriptions work on it as well.
        let conn = Connection::connect(&settings)?;
        if let Some(bridge) = lifecycle {
            watch_lifecycle(&conn, bridge)?;
        }
        Ok(Box::into_raw(Box::new(ClientHandle::new(conn))) as jlong)
    })
}

/// Forwards the end of the connection to the Java `LifecycleBridge` (see [`ggipc_bridge::watch_lifecycle`]
/// for which event is the last).
fn watch_lifecycle(conn: &Connection, bridge: GlobalRef) -> NResult<()> {
    let mut bridge = Some(bridge);
    ggipc_bridge::watch_lifecycle(conn, move |ev, last| match ev {
        ggipc::LifecycleEvent::Disconnected(reason)
        | ggipc::LifecycleEvent::ReconnectFailed(reason)
            if last =>
        {
            if let Some(bridge) = bridge.take() {
                submit(Job::Disconnected {
                    bridge,
                    reason: Some(reason),
                });
            }
        }
        _ => {}
    })?;
    Ok(())
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_clientClose<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
) {
    guard(&mut env, |_env| {
        client_ref(h)?.conn.close();
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
pub extern "system" fn Java_io_ggipc_internal_Native_call<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    op: JString<'l>,
    request: JByteArray<'l>,
    request_len: jint,
) -> jbyteArray {
    guard(&mut env, |env| {
        let c = client_ref(h)?;
        let op = operation(env, &op)?;
        let body = request_body(env, &request, request_len)?;
        // Waits on this (the Java caller's) thread: one wake-up per round trip.
        let resp = c.conn.call(op, body, None)?;
        Ok(response_array(env, &resp)?.into_raw())
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_callAsync<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    op: JString<'l>,
    request: JByteArray<'l>,
    request_len: jint,
    future: JObject<'l>,
) {
    guard(&mut env, |env| {
        let c = client_ref(h)?;
        let op = operation(env, &op)?;
        let body = request_body(env, &request, request_len)?;
        let future = env.new_global_ref(&future)?;
        // The first poll runs here, so requests from one thread reach the connection in call order.
        c.conn.call_async(op, body, None, move |result| {
            submit(Job::Complete {
                future,
                result: result.map(Some),
            })
        });
        Ok(())
    })
}

/// Delivers a batch of one subscription's events to its Java `StreamBridge` in one attached pass (runs on the
/// subscription's dispatcher thread).
fn deliver_batch(
    bridge: &GlobalRef,
    events: Vec<ggipc::SubscriptionEvent<RawEvent>>,
    layout: EventLayout,
) {
    callback("stream events", |env| {
        for ev in events {
            match ev {
                // The hot path: one byte array per event, no local frame.
                ggipc::SubscriptionEvent::Message(RawEvent { payload }) => {
                    let arr = event_array(env, &payload, layout)?;
                    call_void(
                        env,
                        bridge.as_obj(),
                        cache().bridge_on_event,
                        &[JValue::Object(&arr)],
                    )?;
                    env.delete_local_ref(arr)?;
                }
                other => env.with_local_frame(16, |env| deliver(env, bridge, other, layout))?,
            }
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
    ev: ggipc::SubscriptionEvent<RawEvent>,
    layout: EventLayout,
) -> jni::errors::Result<()> {
    use ggipc::SubscriptionEvent as Ev;
    let c = cache();
    match ev {
        Ev::Message(RawEvent { payload }) => {
            let arr = event_array(env, &payload, layout)?;
            call_void(
                env,
                bridge.as_obj(),
                c.bridge_on_event,
                &[JValue::Object(&arr)],
            )
        }
        // A lost connection that is being re-established (reconnect on): the handler is told of the gap.
        Ev::Error(e) | Ev::Interrupted(e) => {
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
        Ev::Resumed => Ok(()),
    }
}

fn start_handler(
    sub: ggipc::Subscription<RawEvent>,
    bridge: GlobalRef,
    layout: EventLayout,
) -> ggipc::SubscriptionHandle {
    sub.with_batch_handler(move |events| deliver_batch(&bridge, events, layout))
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_stream<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    op: JString<'l>,
    request: JByteArray<'l>,
    request_len: jint,
    bridge: JObject<'l>,
) -> jlong {
    guard(&mut env, |env| {
        let c = client_ref(h)?;
        let op = operation(env, &op)?;
        let body = request_body(env, &request, request_len)?;
        let bridge = env.new_global_ref(&bridge)?;
        let sub = c.conn.open(op, body, None)?;
        let slot = Arc::new(Slot::new());
        slot.activate(start_handler(sub, bridge, event_layout(op)));
        Ok(Box::into_raw(Box::new(slot)) as jlong)
    })
}

#[no_mangle]
pub extern "system" fn Java_io_ggipc_internal_Native_streamAsync<'l>(
    mut env: JNIEnv<'l>,
    _cls: JClass<'l>,
    h: jlong,
    op: JString<'l>,
    request: JByteArray<'l>,
    request_len: jint,
    bridge: JObject<'l>,
    future: JObject<'l>,
) -> jlong {
    guard(&mut env, |env| {
        let c = client_ref(h)?;
        let op = operation(env, &op)?;
        let body = request_body(env, &request, request_len)?;
        let bridge = env.new_global_ref(&bridge)?;
        let future = env.new_global_ref(&future)?;
        let slot = Arc::new(Slot::new());
        let task_slot = slot.clone();
        let layout = event_layout(op);
        c.conn
            .open_async(op, body, None, move |result| match result {
                Ok(sub) => {
                    task_slot.activate(start_handler(sub, bridge, layout));
                    submit(Job::Complete {
                        future,
                        result: Ok(None),
                    });
                }
                Err(e) => {
                    task_slot.fail();
                    submit(Job::Complete {
                        future,
                        result: Err(e),
                    });
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
            // SAFETY: called once by the Java Cleaner with a handle from `stream`/`streamAsync`.
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
