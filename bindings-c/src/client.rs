//! Connection options, the client handle, lifecycle callbacks and publishing.

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use ggipc_core::model::{PublishToIoTCoreRequest, PublishToIoTCoreResponse, PUBLISH_TO_IOT_CORE};
use ggipc_core::Client;
use tokio::sync::oneshot;

use crate::dispatch::{complete_now, Gate};
use crate::error::{ggipc_error, Error};
use crate::ffi::{
    boundary, boundary_or, bytes_arg, free_raw, ggipc_free_userdata_fn, into_raw, str_arg, try_mut,
    try_ref, write_out, UserData,
};
use crate::model::{ggipc_publish_request, ggipc_qos, qos_arg};
use crate::runtime;
use crate::support::call_sync;

/// Options for `ggipc_client_connect`. Created with `ggipc_client_options_new`,
/// released with `ggipc_client_options_free`; may be reused for several connects.
/// Not thread-safe while being modified.
pub struct ggipc_client_options {
    socket_path: Option<String>,
    auth_token: Option<String>,
    connect_timeout: Option<Duration>,
    operation_timeout: Option<Duration>,
    reconnect: bool,
    lifecycle: Option<(ggipc_lifecycle_fn, Arc<UserData>)>,
}

/// Kind of a connection lifecycle event.
pub type ggipc_lifecycle_event = u32;
/// The connection is established (after connect, and after each reconnect).
pub const GGIPC_LIFECYCLE_CONNECTED: ggipc_lifecycle_event = 1;
/// The connection was lost or closed; `reason` says why.
pub const GGIPC_LIFECYCLE_DISCONNECTED: ggipc_lifecycle_event = 2;
/// Reconnecting failed for good (attempts exhausted, or the token was refused); `reason` says why.
pub const GGIPC_LIFECYCLE_ERROR: ggipc_lifecycle_event = 3;
/// A reconnect attempt is scheduled (reconnect enabled only).
pub const GGIPC_LIFECYCLE_RECONNECTING: ggipc_lifecycle_event = 4;

/// Lifecycle callback: `userdata` as registered, the event, and for
/// `GGIPC_LIFECYCLE_DISCONNECTED`/`GGIPC_LIFECYCLE_ERROR` the reason (lent for the
/// call, NULL otherwise). Runs on the client's lifecycle thread, one event at a
/// time; may call any library function, including `ggipc_client_free` on its own
/// client.
pub type ggipc_lifecycle_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        event: ggipc_lifecycle_event,
        reason: *const ggipc_error,
    ),
>;

/// Creates an options object with the defaults: socket path from
/// `AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`, auth token from `SVCUID`,
/// the core's default connect and operation timeouts, no reconnect, no lifecycle
/// callback. Returns NULL only if allocation fails. Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn ggipc_client_options_new() -> *mut ggipc_client_options {
    boundary_or(std::ptr::null_mut(), || {
        into_raw(ggipc_client_options {
            socket_path: None,
            auth_token: None,
            connect_timeout: None,
            operation_timeout: None,
            reconnect: false,
            lifecycle: None,
        })
    })
}

/// Releases an options object. NULL is a no-op. A lifecycle `free_userdata` runs
/// once neither the options nor any client connected with them use it.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_free(options: *mut ggipc_client_options) {
    boundary_or((), || {
        // SAFETY: the caller passes NULL or options it owns.
        unsafe { free_raw(options) }
    })
}

/// Runs `f` on the `options` behind a C pointer inside the panic boundary.
fn with_options(
    options: *mut ggipc_client_options,
    f: impl FnOnce(&mut ggipc_client_options) -> Result<(), Error>,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: the caller passes NULL or an object it owns.
        let o = unsafe { try_mut(options, "options") }?;
        f(o)
    })
}

/// Sets the nucleus socket path (copied), overriding the environment.
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL `options`,
/// NULL or non-UTF-8 string), leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_socket_path(
    options: *mut ggipc_client_options,
    path: *const c_char,
) -> *mut ggipc_error {
    with_options(options, |o| {
        // SAFETY: C string or NULL.
        o.socket_path = Some(unsafe { str_arg(path, "path") }?.to_string());
        Ok(())
    })
}

/// Sets the auth token (the component's SVCUID, copied), overriding the environment.
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL `options`,
/// NULL or non-UTF-8 string), leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_auth_token(
    options: *mut ggipc_client_options,
    token: *const c_char,
) -> *mut ggipc_error {
    with_options(options, |o| {
        // SAFETY: C string or NULL.
        o.auth_token = Some(unsafe { str_arg(token, "token") }?.to_string());
        Ok(())
    })
}

/// Sets how long connecting (socket plus handshake) may take; 0 keeps the default.
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL
/// `options`, leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_connect_timeout_ms(
    options: *mut ggipc_client_options,
    timeout_ms: u64,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.connect_timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms));
        Ok(())
    })
}

/// Sets how long each operation may wait for its response; 0 keeps the default.
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL
/// `options`, leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_operation_timeout_ms(
    options: *mut ggipc_client_options,
    timeout_ms: u64,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.operation_timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms));
        Ok(())
    })
}

/// Enables (true) or disables (false, the default) automatic reconnection with
/// the core's default backoff; subscriptions are re-established and told so
/// through `on_interrupted`/`on_resumed`.
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL
/// `options`, leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_reconnect(
    options: *mut ggipc_client_options,
    enabled: bool,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.reconnect = enabled;
        Ok(())
    })
}

/// Registers a lifecycle callback (NULL `callback` removes it). `free_userdata`,
/// if not NULL, is called once with `userdata` when neither these options nor
/// any client connected with them need it any more.
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL
/// `options`, leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_lifecycle_callback(
    options: *mut ggipc_client_options,
    callback: ggipc_lifecycle_fn,
    userdata: *mut c_void,
    free_userdata: ggipc_free_userdata_fn,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.lifecycle =
            callback.map(|cb| (Some(cb), Arc::new(UserData::new(userdata, free_userdata))));
        Ok(())
    })
}

/// A connection to the nucleus. Created by `ggipc_client_connect`, released by
/// `ggipc_client_free`. Every function taking a `const ggipc_client *` may be
/// called from any number of threads at once (including from callbacks), but not
/// concurrently with `ggipc_client_free` on the same client.
pub struct ggipc_client {
    pub(crate) inner: Client,
    /// The same connection, for calls that wait on the caller's thread.
    pub(crate) blocking: ggipc_core::blocking::Client,
    lifecycle: Option<LifecycleThread>,
}

struct LifecycleThread {
    gate: Arc<Gate>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LifecycleThread {
    fn start(client: &Client, cb: ggipc_lifecycle_fn, userdata: Arc<UserData>) -> Self {
        let gate = Arc::new(Gate::default());
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let mut events = client.lifecycle();
        let thread_gate = gate.clone();
        let thread = std::thread::Builder::new()
            .name("ggipc-lifecycle".into())
            .spawn(move || {
                let call = |event: ggipc_lifecycle_event, reason: Option<&ggipc_core::Error>| {
                    let Some(cb) = cb else { return };
                    let reason = reason.map(|e| Error::from(e).to_c());
                    thread_gate.run(|| {
                        let ptr = reason
                            .as_ref()
                            .map_or(std::ptr::null(), |r| r as *const ggipc_error);
                        // SAFETY: the callback and userdata were registered together.
                        unsafe { cb(userdata.ptr(), event, ptr) }
                    });
                };
                call(GGIPC_LIFECYCLE_CONNECTED, None);
                let Ok(rt) = runtime() else { return };
                loop {
                    let next = rt.block_on(async {
                        tokio::select! {
                            _ = &mut stop_rx => None,
                            ev = events.recv() => Some(ev),
                        }
                    });
                    match next {
                        None => break,
                        Some(Ok(ev)) => {
                            let (kind, reason) = crate::lifecycle_event(&ev);
                            if let Some(kind) = kind {
                                call(kind, reason);
                            }
                        }
                        Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => continue,
                        Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => break,
                    }
                }
            })
            .expect("spawning the lifecycle thread");
        Self {
            gate,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn stop(&mut self) {
        self.gate.shut();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// Connects to the nucleus and performs the handshake, blocking the calling thread
/// for at most the connect timeout.
///
/// `options` may be NULL for the defaults (environment variables). On success writes
/// the new client to `*out` and returns NULL. On failure returns the error
/// (`GGIPC_ERROR_KIND_CONNECT_FAILED`, `GGIPC_ERROR_KIND_ACCESS_DENIED`,
/// `GGIPC_ERROR_KIND_TIMEOUT`, `GGIPC_ERROR_KIND_INVALID_ARGUMENT` when `out` is NULL
/// or the environment lacks the socket path or token) and leaves `*out` untouched.
///
/// All clients of the process share one runtime (a multi-thread tokio runtime
/// created lazily on first use, threads named `ggipc-*`); blocking functions run
/// their I/O on the calling thread where possible. Call blocking functions from
/// ordinary threads or from library callbacks, never from inside a tokio runtime.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_connect(
    options: *const ggipc_client_options,
    out: *mut *mut ggipc_client,
) -> *mut ggipc_error {
    boundary(|| {
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        // SAFETY: the caller passes NULL or live options.
        let opts = unsafe { options.as_ref() };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let socket_path = opts
            .and_then(|o| o.socket_path.clone())
            .or_else(|| env("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"))
            .ok_or_else(|| {
                Error::invalid_argument(
                    "no socket path: set AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT or the socket_path option",
                )
            })?;
        let auth_token = opts
            .and_then(|o| o.auth_token.clone())
            .or_else(|| env("SVCUID"))
            .ok_or_else(|| {
                Error::invalid_argument("no auth token: set SVCUID or the auth_token option")
            })?;
        let mut builder = Client::builder()
            .socket_path(socket_path)
            .auth_token(auth_token);
        if let Some(o) = opts {
            if let Some(t) = o.connect_timeout {
                builder = builder.connect_timeout(t);
            }
            if let Some(t) = o.operation_timeout {
                builder = builder.operation_timeout(t);
            }
            if o.reconnect {
                builder = builder.reconnect(ggipc_core::ReconnectPolicy::default());
            }
        }
        // A blocking connection: its reader thread lets a caller waiting on a blocking call read
        // its own answer (one thread wake-up per round trip); async use works the same on it.
        let blocking = builder.connect_blocking()?;
        let inner = blocking.as_async().clone();
        let lifecycle = opts
            .and_then(|o| o.lifecycle.clone())
            .map(|(cb, ud)| LifecycleThread::start(&inner, cb, ud));
        // SAFETY: checked non-NULL above.
        unsafe {
            write_out(
                out,
                into_raw(ggipc_client {
                    inner,
                    blocking,
                    lifecycle,
                }),
            )
        };
        Ok(())
    })
}

/// Closes the connection: pending operations fail with
/// `GGIPC_ERROR_KIND_CONNECTION_CLOSED`, open subscriptions receive `on_closed`
/// with that reason. Blocks until the socket is closed. Idempotent; the handle stays
/// valid (operations on it then fail) until `ggipc_client_free`. NULL is a no-op.
/// Safe to call from any callback.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_close(client: *const ggipc_client) {
    boundary_or((), || {
        // SAFETY: the caller passes NULL or a live client.
        if let Some(c) = unsafe { client.as_ref() } {
            c.inner.close_now();
        }
    })
}

/// Stops the lifecycle callbacks of `client` without closing it: when this returns,
/// no lifecycle callback is running on another thread and none will start. Safe
/// from inside a lifecycle callback. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_stop_lifecycle_callbacks(client: *const ggipc_client) {
    boundary_or((), || {
        // SAFETY: NULL or a live client.
        if let Some(lc) = unsafe { client.as_ref() }.and_then(|c| c.lifecycle.as_ref()) {
            lc.gate.shut();
        }
    })
}

/// Closes the connection (as `ggipc_client_close`) and releases the client. After it
/// returns no lifecycle callback of this client runs any more (if called from
/// another thread while one runs, it waits for it to return). Subscriptions
/// opened on this client stay valid handles and must still be freed; they receive
/// `on_closed`. NULL is a no-op; may be called from inside any callback.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_free(client: *mut ggipc_client) {
    boundary_or((), || {
        if client.is_null() {
            return;
        }
        // SAFETY: the caller passes a client it owns.
        let mut c = unsafe { Box::from_raw(client) };
        if let Some(lc) = c.lifecycle.as_mut() {
            lc.gate.shut();
        }
        c.inner.close_now();
        if let Some(lc) = c.lifecycle.as_mut() {
            lc.stop();
        }
    })
}

/// Runs `fut` until it first waits, on the calling thread (so a request is written
/// without a thread hand-off), then lets a runtime task finish it; `done` runs once
/// with the result, on the calling thread or on a runtime worker.
pub(crate) fn start<T, F, D>(fut: F, done: D) -> Result<(), Error>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
    D: FnOnce(T) + Send + 'static,
{
    let rt = runtime()?;
    let mut fut: Pin<Box<F>> = Box::pin(fut);
    let first = if ggipc_core::runtime::in_async_context() {
        // Inside a runtime (not a supported caller, but harmless here): no first poll.
        Poll::Pending
    } else {
        rt.block_on(std::future::poll_fn(|cx| {
            Poll::Ready(fut.as_mut().poll(cx))
        }))
    };
    match first {
        Poll::Ready(v) => done(v),
        Poll::Pending => {
            rt.spawn(async move { done(fut.await) });
        }
    }
    Ok(())
}

async fn publish(client: Client, req: PublishToIoTCoreRequest) -> Result<(), Error> {
    client
        .publish_to_iot_core(req)
        .await
        .map(|_| ())
        .map_err(Error::from)
}

/// Publishes `request` and blocks the calling thread until the nucleus accepts it.
/// The request is written and its answer read on the calling thread (one wake-up
/// per round trip, as `ggipc_client_publish_to_iot_core`).
///
/// `timeout_ms` bounds the wait (0 = the client's operation timeout). Returns NULL
/// when the nucleus accepted the message, or the error: the server's modeled errors
/// (`GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR`, `GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR`,
/// `GGIPC_ERROR_KIND_SERVICE_ERROR`) keep its message; transport failures say what
/// happened. `request` is only read (borrowed for the call).
/// Thread-safety: any number of threads may publish on one client at once.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_publish(
    client: *const ggipc_client,
    request: *const ggipc_publish_request,
    timeout_ms: u64,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: NULL or live objects.
        let client = unsafe { try_ref(client, "client") }?;
        // SAFETY: as above.
        let request = unsafe { try_ref(request, "request") }?;
        let _: PublishToIoTCoreResponse =
            call_sync(client, &PUBLISH_TO_IOT_CORE, &request.inner, timeout_ms)?;
        Ok(())
    })
}

/// Shorthand for a publish with only topic, QoS and payload (copied); blocks as
/// `ggipc_client_publish` with the client's operation timeout.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_publish_bytes(
    client: *const ggipc_client,
    topic: *const c_char,
    qos: ggipc_qos,
    payload: *const u8,
    payload_len: usize,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: NULL or live objects, valid C string and buffer.
        let client = unsafe { try_ref(client, "client") }?;
        // SAFETY: as above.
        let topic = unsafe { str_arg(topic, "topic") }?;
        let qos = qos_arg(qos)?;
        // SAFETY: as above.
        let payload = unsafe { bytes_arg(payload, payload_len, "payload") }?;
        let req = PublishToIoTCoreRequest {
            topic_name: Some(topic.to_string()),
            qos,
            payload: Some(payload),
            ..Default::default()
        };
        let _: PublishToIoTCoreResponse = call_sync(client, &PUBLISH_TO_IOT_CORE, &req, 0)?;
        Ok(())
    })
}

/// Completion callback of an asynchronous call: `userdata` as given and the
/// result, NULL for success or an error lent for the duration of the call.
pub type ggipc_completion_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, error: *const ggipc_error)>;

/// Publishes `request` without blocking for the response: the request is written
/// on the calling thread when the socket allows, and `callback` runs exactly once
/// with the result on the library's completion thread (`ggipc-completion`, shared
/// by all clients, callbacks in completion order). The callback may call any
/// library function, including blocking ones; a callback that blocks delays the
/// other completions. `callback` may be NULL (fire and forget).
///
/// Returns NULL when the publish was started (then the callback will run), or an
/// error for invalid arguments (then neither `callback` nor `free_userdata` runs).
/// `free_userdata`, if not NULL, runs once after the callback.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_publish_async(
    client: *const ggipc_client,
    request: *const ggipc_publish_request,
    callback: ggipc_completion_fn,
    userdata: *mut c_void,
    free_userdata: ggipc_free_userdata_fn,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: NULL or live objects.
        let client = unsafe { try_ref(client, "client") }?;
        // SAFETY: as above.
        let request = unsafe { try_ref(request, "request") }?;
        let ud = UserData::new(userdata, free_userdata);
        start(
            publish(client.inner.clone(), request.inner.clone()),
            move |res| {
                complete_now(Box::new(move || {
                    if let Some(cb) = callback {
                        let err = res.err().map(|e| e.to_c());
                        let ptr = err
                            .as_ref()
                            .map_or(std::ptr::null(), |e| e as *const ggipc_error);
                        // SAFETY: the callback and userdata were registered together.
                        unsafe { cb(ud.ptr(), ptr) };
                    }
                    drop(ud);
                }));
            },
        )
    })
}

/// An in-flight publish started by `ggipc_client_publish_begin`. Wait for it with
/// `ggipc_publish_operation_wait`, read the outcome with
/// `ggipc_publish_operation_get_result`, release it with `ggipc_publish_operation_free`.
/// May be waited on from any thread; the waiting thread reads the answer itself.
pub struct ggipc_publish_operation {
    state: Mutex<OpState>,
}

enum OpState {
    Pending(ggipc_core::blocking::PendingCall),
    Done(Result<(), Error>),
}

fn publish_result(r: ggipc_core::Result<bytes::Bytes>) -> Result<(), Error> {
    let body = r?;
    serde_json::from_slice::<PublishToIoTCoreResponse>(&body)
        .map(|_| ())
        .map_err(|e| {
            Error::new(
                crate::error::GGIPC_ERROR_KIND_UNMAPPED,
                format!("invalid {} body: {e}", PUBLISH_TO_IOT_CORE.response),
            )
        })
}

/// Starts publishing `request`: it is written on the calling thread (which waits only
/// while the connection is being re-established or its socket is full, within the
/// operation timeout) and the call returns with an operation handle in `*out`. The
/// publish completes whether or not anyone waits. Returns NULL on success, or an error
/// for invalid arguments (then `*out` is untouched); a failure to send is the
/// operation's result.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_publish_begin(
    client: *const ggipc_client,
    request: *const ggipc_publish_request,
    out: *mut *mut ggipc_publish_operation,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: NULL or live objects.
        let client = unsafe { try_ref(client, "client") }?;
        // SAFETY: as above.
        let request = unsafe { try_ref(request, "request") }?;
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        let body = ggipc_core::model::to_json_vec(&request.inner)
            .map_err(|e| Error::invalid_argument(format!("request cannot be encoded: {e}")))?;
        let state = match client.blocking.begin_call(
            &PUBLISH_TO_IOT_CORE,
            body.into(),
            client.inner.operation_timeout(),
        ) {
            Ok(call) => OpState::Pending(call),
            Err(e) => OpState::Done(Err(Error::from(e))),
        };
        let op = ggipc_publish_operation {
            state: Mutex::new(state),
        };
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, into_raw(op)) };
        Ok(())
    })
}

/// Waits up to `timeout_ms` milliseconds (`UINT64_MAX` = until done; the client's
/// operation timeout still applies) for the publish to complete, reading the answer
/// on the calling thread. Returns true once it has completed (successfully or not),
/// false on timeout or a NULL `operation`. A timed-out wait leaves the operation
/// running; wait again or free it. Threads waiting on one operation at once take
/// turns.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_operation_wait(
    operation: *const ggipc_publish_operation,
    timeout_ms: u64,
) -> bool {
    boundary_or(false, || {
        // SAFETY: NULL or a live operation.
        let Some(op) = (unsafe { operation.as_ref() }) else {
            return false;
        };
        let mut st = op.state.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *st {
            OpState::Done(_) => true,
            OpState::Pending(call) => match call.wait(Duration::from_millis(timeout_ms)) {
                Some(r) => {
                    *st = OpState::Done(publish_result(r));
                    true
                }
                None => false,
            },
        }
    })
}

/// Returns the outcome of a completed publish: NULL if the nucleus accepted it,
/// otherwise a new error object (caller frees). While the publish has not been
/// waited for to completion (`ggipc_publish_operation_wait` returned true), returns an
/// error of kind `GGIPC_ERROR_KIND_INVALID_ARGUMENT` saying so.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_operation_get_result(
    operation: *const ggipc_publish_operation,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: NULL or a live operation.
        let op = unsafe { try_ref(operation, "operation") }?;
        let st = match op.state.try_lock() {
            Ok(st) => st,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                return Err(Error::invalid_argument("the publish has not completed yet"))
            }
        };
        match &*st {
            OpState::Done(res) => res.clone(),
            OpState::Pending(_) => {
                Err(Error::invalid_argument("the publish has not completed yet"))
            }
        }
    })
}

/// Releases a publish operation; a publish still in flight goes on without it.
/// NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ggipc_publish_operation_free(operation: *mut ggipc_publish_operation) {
    boundary_or((), || {
        // SAFETY: NULL or an operation the caller owns.
        unsafe { free_raw(operation) }
    })
}
