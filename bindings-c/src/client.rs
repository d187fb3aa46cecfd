//! Connection options, the client handle and lifecycle callbacks (the MQTT API's publish functions are
//! generated in `mqtt_api`).

use std::ffi::{c_char, c_void};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ggipc_core::Client;
use tokio::sync::oneshot;

use crate::dispatch::Gate;
use crate::error::{ggipc_error, Error};
use crate::ffi::{
    boundary, boundary_or, free_raw, ggipc_free_userdata_fn, into_raw, str_arg, try_mut, write_out,
    UserData,
};
use crate::runtime;

/// Options for `ggipc_client_connect`. Created with `ggipc_client_options_new`,
/// released with `ggipc_client_options_free`; may be reused for several connects.
/// Not thread-safe while being modified.
pub struct ggipc_client_options {
    settings: ggipc_bridge::Settings,
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
            settings: ggipc_bridge::Settings::default(),
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
        o.settings.socket_path = Some(unsafe { str_arg(path, "path") }?.to_string());
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
        o.settings.auth_token = Some(unsafe { str_arg(token, "token") }?.to_string());
        Ok(())
    })
}

/// Sets how long connecting (socket plus handshake) may take; 0 keeps the default.
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL
/// `options` or a negative timeout ("connect timeout must be a positive, finite
/// number of seconds, got -1"), leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_connect_timeout_ms(
    options: *mut ggipc_client_options,
    timeout_ms: i64,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.settings.connect_timeout = timeout_arg(timeout_ms, ggipc_bridge::CONNECT_TIMEOUT)?;
        Ok(())
    })
}

/// Sets how long each operation may wait for its response; 0 keeps the default.
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL
/// `options` or a negative timeout, leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_operation_timeout_ms(
    options: *mut ggipc_client_options,
    timeout_ms: i64,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.settings.operation_timeout = timeout_arg(timeout_ms, ggipc_bridge::OPERATION_TIMEOUT)?;
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
        o.settings.reconnect = enabled;
        Ok(())
    })
}

/// Sets how many messages each subscription buffers for a slow callback before newer
/// ones are dropped and reported (`on_lagged` with the count); 0 keeps the default
/// (10 000, the same in every ggipc binding).
///
/// Returns NULL on success or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL
/// `options`, leaving the options unchanged.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_options_set_subscription_queue(
    options: *mut ggipc_client_options,
    messages: usize,
) -> *mut ggipc_error {
    with_options(options, |o| {
        o.settings.subscription_queue = (messages > 0).then_some(messages);
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
    pub(crate) conn: ggipc_bridge::Connection,
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
        let settings = opts.map(|o| o.settings.clone()).unwrap_or_default();
        // Connected for blocking use: its reader thread lets a caller waiting on a blocking call read its
        // own answer (one thread wake-up per round trip); async use works the same on it. The socket path
        // and token not set here come from the environment (an empty variable counts as unset).
        let conn = ggipc_bridge::Connection::connect(&settings)?;
        let inner = conn.client().clone();
        let lifecycle = opts
            .and_then(|o| o.lifecycle.clone())
            .map(|(cb, ud)| LifecycleThread::start(&inner, cb, ud));
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, into_raw(ggipc_client { conn, lifecycle })) };
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
            c.conn.close();
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
        c.conn.close();
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
    ggipc_bridge::start(fut, done).map_err(Error::from)
}

/// A timeout option in milliseconds: 0 keeps the default, a negative one is refused with the core's words.
fn timeout_arg(ms: i64, what: &str) -> Result<Option<Duration>, Error> {
    Ok(ggipc_bridge::millis(ms, what)?)
}
