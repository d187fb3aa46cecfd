//! Streams: the subscription handle every streaming operation returns and its callbacks (the MQTT API's
//! subscribe functions are generated in `mqtt_api`).

use std::ffi::c_void;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use ggipc_core::model::Operation;
use ggipc_core::{StreamEvent, SubscriptionEvent, SubscriptionHandle};

use crate::client::{ggipc_client, start};
use crate::dispatch::Gate;
use crate::error::{ggipc_error, Error};
use crate::ffi::{boundary, boundary_or, try_ref, UserData};

/// The callbacks every stream has besides its typed event callback (see the `ggipc_<op>_handler` structs).
#[derive(Clone, Copy)]
pub(crate) struct StreamCallbacks {
    pub(crate) on_stream_error:
        Option<unsafe extern "C" fn(userdata: *mut c_void, error: *const ggipc_error) -> bool>,
    pub(crate) on_interrupted:
        Option<unsafe extern "C" fn(userdata: *mut c_void, reason: *const ggipc_error)>,
    pub(crate) on_resumed: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    pub(crate) on_lagged: Option<unsafe extern "C" fn(userdata: *mut c_void, dropped: u64)>,
    pub(crate) on_closed:
        Option<unsafe extern "C" fn(userdata: *mut c_void, reason: *const ggipc_error)>,
}

enum State {
    Pending { close_requested: bool },
    Active(SubscriptionHandle),
    Failed(Error),
}

struct Shared {
    callbacks: StreamCallbacks,
    userdata: UserData,
    gate: Gate,
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn close(&self) {
        let mut st = self.lock();
        match &mut *st {
            State::Pending { close_requested } => *close_requested = true,
            State::Active(h) => h.close(),
            State::Failed(_) => {}
        }
    }

    fn on_event<T>(&self, ev: SubscriptionEvent<T>, deliver: &impl Fn(*mut c_void, T)) {
        let h = self.callbacks;
        let ud = self.userdata.ptr();
        let close = self.gate.run(|| match ev {
            SubscriptionEvent::Message(m) => {
                deliver(ud, m);
                false
            }
            SubscriptionEvent::Error(e) => {
                let e = Error::from(e).to_c();
                match h.on_stream_error {
                    // SAFETY: as above.
                    Some(cb) => unsafe { cb(ud, &e) },
                    None => true,
                }
            }
            SubscriptionEvent::Interrupted(e) => {
                if let Some(cb) = h.on_interrupted {
                    let e = Error::from(e).to_c();
                    // SAFETY: as above.
                    unsafe { cb(ud, &e) };
                }
                false
            }
            SubscriptionEvent::Resumed => {
                if let Some(cb) = h.on_resumed {
                    // SAFETY: as above.
                    unsafe { cb(ud) };
                }
                false
            }
            SubscriptionEvent::Lagged(n) => {
                if let Some(cb) = h.on_lagged {
                    // SAFETY: as above.
                    unsafe { cb(ud, n) };
                }
                false
            }
            SubscriptionEvent::Closed(reason) => {
                if let Some(cb) = h.on_closed {
                    let e = reason.map(|e| Error::from(e).to_c());
                    let ptr = e
                        .as_ref()
                        .map_or(std::ptr::null(), |e| e as *const ggipc_error);
                    // SAFETY: as above.
                    unsafe { cb(ud, ptr) };
                }
                false
            }
        });
        if close == Some(true) {
            self.close();
        }
    }
}

/// A stream of any streaming operation. Created by `ggipc_client_subscribe`,
/// `ggipc_client_subscribe_begin` or a generated `ggipc_client_subscribe_to_*` function,
/// released by `ggipc_subscription_free`.
/// `ggipc_subscription_close`, `_wait` and `_get_result` may be called from any
/// thread and from the subscription's own callbacks.
pub struct ggipc_subscription {
    shared: Arc<Shared>,
}

/// Starts the streaming operation `op` with the JSON `body` (written on the calling thread when the socket
/// allows); events are decoded as `T` and handed to `deliver(userdata, event)` on the dispatcher thread.
fn begin<T, D>(
    client: &ggipc_client,
    op: &'static Operation,
    body: bytes::Bytes,
    callbacks: StreamCallbacks,
    userdata: UserData,
    deliver: D,
) -> Result<Box<ggipc_subscription>, Error>
where
    T: StreamEvent,
    D: Fn(*mut c_void, T) + Send + 'static,
{
    let shared = Arc::new(Shared {
        callbacks,
        userdata,
        gate: Gate::default(),
        state: Mutex::new(State::Pending {
            close_requested: false,
        }),
        changed: Condvar::new(),
    });
    let c = client.conn.client().clone();
    let timeout = c.operation_timeout();
    let s = shared.clone();
    start(
        async move { c.open_subscription::<T>(op, body, timeout).await },
        move |res| {
            let next = match res {
                Ok(sub) => {
                    let target = s.clone();
                    let handle = sub.with_handler(move |ev| target.on_event(ev, &deliver));
                    State::Active(handle)
                }
                Err(e) => State::Failed(Error::from(e)),
            };
            let mut st = s.lock();
            let close_requested = matches!(
                &*st,
                State::Pending {
                    close_requested: true
                }
            );
            *st = next;
            if close_requested {
                if let State::Active(h) = &mut *st {
                    h.close();
                }
            }
            drop(st);
            s.changed.notify_all();
        },
    )?;
    Ok(Box::new(ggipc_subscription { shared }))
}

/// Waits until the nucleus answered a started subscription; on a refusal the caller keeps `userdata`
/// (its `free_userdata` will not run) and no callback is made.
pub(crate) fn answered(s: Box<ggipc_subscription>) -> Result<Box<ggipc_subscription>, Error> {
    let failed = {
        let st = s.shared.lock();
        let st = s
            .shared
            .changed
            .wait_while(st, |st| matches!(st, State::Pending { .. }))
            .unwrap_or_else(|p| p.into_inner());
        match &*st {
            State::Failed(e) => Some(e.clone()),
            _ => None,
        }
    };
    if let Some(e) = failed {
        s.shared.userdata.disarm();
        s.shared.gate.shut();
        return Err(e);
    }
    Ok(s)
}

fn encode<Req: serde::Serialize>(request: &Req) -> Result<bytes::Bytes, Error> {
    serde_json::to_vec(request)
        .map(bytes::Bytes::from)
        .map_err(|e| Error::invalid_argument(format!("request cannot be encoded: {e}")))
}

/// Opens the streaming operation `op` and blocks until the nucleus answers (bounded by the client's
/// operation timeout); the generated `ggipc_client_<op>` stream functions are built on it.
pub(crate) fn open_blocking<T, D>(
    client: &ggipc_client,
    op: &'static Operation,
    request: &impl serde::Serialize,
    callbacks: StreamCallbacks,
    userdata: UserData,
    deliver: D,
) -> Result<*mut ggipc_subscription, Error>
where
    T: StreamEvent,
    D: Fn(*mut c_void, T) + Send + 'static,
{
    let s = open::<T, D>(client, op, request, callbacks, userdata, deliver)?;
    Ok(Box::into_raw(answered(s)?))
}

/// Starts the streaming operation `op` and returns at once (the request is written on the calling thread
/// when the socket allows); `ggipc_subscription_wait` / `_get_result` give the nucleus' answer. The
/// generated `ggipc_client_<op>_begin` stream functions and the MQTT API's subscribe are built on it.
pub(crate) fn open<T, D>(
    client: &ggipc_client,
    op: &'static Operation,
    request: &impl serde::Serialize,
    callbacks: StreamCallbacks,
    userdata: UserData,
    deliver: D,
) -> Result<Box<ggipc_subscription>, Error>
where
    T: StreamEvent,
    D: Fn(*mut c_void, T) + Send + 'static,
{
    begin::<T, D>(client, op, encode(request)?, callbacks, userdata, deliver)
}

/// Waits up to `timeout_ms` milliseconds (`UINT64_MAX` = until answered, bounded by
/// the operation timeout) for the nucleus to answer the subscribe. Returns true once
/// answered (accepted or failed), false on timeout or a NULL `subscription`.
#[no_mangle]
pub unsafe extern "C" fn ggipc_subscription_wait(
    subscription: *const ggipc_subscription,
    timeout_ms: u64,
) -> bool {
    boundary_or(false, || {
        // SAFETY: NULL or a live subscription.
        let Some(s) = (unsafe { subscription.as_ref() }) else {
            return false;
        };
        let st = s.shared.lock();
        let pending = |st: &mut State| matches!(st, State::Pending { .. });
        if timeout_ms == u64::MAX {
            let st = s
                .shared
                .changed
                .wait_while(st, pending)
                .unwrap_or_else(|p| p.into_inner());
            !matches!(&*st, State::Pending { .. })
        } else {
            let (st, _) = s
                .shared
                .changed
                .wait_timeout_while(st, Duration::from_millis(timeout_ms), pending)
                .unwrap_or_else(|p| p.into_inner());
            !matches!(&*st, State::Pending { .. })
        }
    })
}

/// Returns NULL if the nucleus accepted the subscription, a new error object
/// (caller frees) if it refused or the request failed, or an error of kind
/// `GGIPC_ERROR_KIND_INVALID_ARGUMENT` while no answer has arrived yet.
#[no_mangle]
pub unsafe extern "C" fn ggipc_subscription_get_result(
    subscription: *const ggipc_subscription,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: NULL or a live subscription.
        let s = unsafe { try_ref(subscription, "subscription") }?;
        let st = s.shared.lock();
        match &*st {
            State::Pending { .. } => Err(Error::invalid_argument(
                "the subscribe has not been answered yet",
            )),
            State::Active(_) => Ok(()),
            State::Failed(e) => Err(e.clone()),
        }
    })
}

/// Closes the subscription: sends the terminate to the nucleus (which ends the
/// stream, removing an MQTT or local subscription); `on_closed` follows with a NULL reason. Idempotent, non-blocking,
/// safe from any thread and from inside this subscription's callbacks. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ggipc_subscription_close(subscription: *const ggipc_subscription) {
    boundary_or((), || {
        // SAFETY: NULL or a live subscription.
        if let Some(s) = unsafe { subscription.as_ref() } {
            s.shared.close();
        }
    })
}

/// Stops all callbacks of the subscription without closing it or releasing the
/// handle: when this returns, no callback is running on another thread and none
/// will start. Safe from inside the subscription's own callback. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ggipc_subscription_stop_callbacks(
    subscription: *const ggipc_subscription,
) {
    boundary_or((), || {
        // SAFETY: NULL or a live subscription.
        if let Some(s) = unsafe { subscription.as_ref() } {
            s.shared.gate.shut();
        }
    })
}

/// Closes the subscription (if still open) and releases the handle. When this
/// returns, no callback of this subscription is running on another thread and none
/// will start (so `userdata` may be destroyed right after; `on_closed` is not
/// delivered for a free). May be called from inside the subscription's own callback,
/// in which case the current callback is the last one. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ggipc_subscription_free(subscription: *mut ggipc_subscription) {
    boundary_or((), || {
        if subscription.is_null() {
            return;
        }
        // SAFETY: a subscription the caller owns.
        let s = unsafe { Box::from_raw(subscription) };
        s.shared.gate.shut();
        s.shared.close();
    })
}
