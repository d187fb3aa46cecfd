//! SubscribeToIoTCore: the subscription handle and its callbacks.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use ggipc_core::model::SubscribeToIoTCoreRequest;
use ggipc_core::{SubscriptionEvent, SubscriptionHandle};

use crate::client::{ggipc_client, start};
use crate::dispatch::Gate;
use crate::error::{ggipc_error, Error};
use crate::ffi::{
    boundary, boundary_or, ggipc_free_userdata_fn, opt_str_arg, try_ref, write_out, UserData,
};
use crate::model::{ggipc_message, ggipc_qos, qos_arg};

/// Callbacks of a subscription. Any member may be NULL. All of them run on the
/// subscription's own dispatcher thread (never a runtime worker), one at a time and
/// in order; they may call any library function, blocking ones included, and may
/// close or free this very subscription or its client.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ggipc_subscription_handler {
    /// A message arrived. `message` is lent for the call (NULL if the event carried
    /// no message member).
    pub on_message:
        Option<unsafe extern "C" fn(userdata: *mut c_void, message: *const ggipc_message)>,
    /// The server reported an error on the stream (lent for the call). Return true to
    /// close the subscription, false to keep it. NULL member = close.
    pub on_stream_error:
        Option<unsafe extern "C" fn(userdata: *mut c_void, error: *const ggipc_error) -> bool>,
    /// The connection was lost; with reconnect enabled the subscription will be
    /// re-established (`on_resumed`) or closed (`on_closed`). `reason` is lent.
    pub on_interrupted:
        Option<unsafe extern "C" fn(userdata: *mut c_void, reason: *const ggipc_error)>,
    /// The subscription was re-established after a reconnect.
    pub on_resumed: Option<unsafe extern "C" fn(userdata: *mut c_void)>,
    /// `dropped` messages were discarded because callbacks did not keep up with
    /// the bounded per-subscription queue.
    pub on_lagged: Option<unsafe extern "C" fn(userdata: *mut c_void, dropped: u64)>,
    /// The subscription ended; the last callback it makes. `reason` is NULL after a
    /// normal close, otherwise the cause (lent).
    pub on_closed: Option<unsafe extern "C" fn(userdata: *mut c_void, reason: *const ggipc_error)>,
}

enum State {
    Pending { close_requested: bool },
    Active(SubscriptionHandle),
    Failed(Error),
}

struct Shared {
    handler: ggipc_subscription_handler,
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

    fn on_event(&self, ev: SubscriptionEvent) {
        let h = self.handler;
        let ud = self.userdata.ptr();
        let close = self.gate.run(|| match ev {
            SubscriptionEvent::Message(m) => {
                if let Some(cb) = h.on_message {
                    let msg = m.message.map(ggipc_message::from_core);
                    let ptr = msg
                        .as_ref()
                        .map_or(std::ptr::null(), |m| m as *const ggipc_message);
                    // SAFETY: callback and userdata were registered together.
                    unsafe { cb(ud, ptr) };
                }
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

/// A SubscribeToIoTCore stream. Created by `ggipc_client_subscribe` or
/// `ggipc_client_subscribe_begin`, released by `ggipc_subscription_free`.
/// `ggipc_subscription_close`, `_wait` and `_get_result` may be called from any
/// thread and from the subscription's own callbacks.
pub struct ggipc_subscription {
    shared: Arc<Shared>,
}

/// Starts subscribing to `topic_filter` (MQTT wildcards allowed; NULL leaves it out
/// of the request, which the nucleus rejects) with `qos` and
/// returns at once with a handle in `*out`; the activation is written on the calling
/// thread when the socket allows. Use `ggipc_subscription_wait` and
/// `ggipc_subscription_get_result` to learn whether the nucleus accepted it.
///
/// `handler` is copied; `userdata` is passed to every callback; `free_userdata`, if
/// not NULL, runs once when the library no longer needs `userdata` (after the last
/// callback, at the latest when the handle is freed and the stream has ended).
/// Returns NULL on success, or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` (NULL pointer,
/// invalid UTF-8, unknown QoS), in which case nothing was started, `*out` is
/// untouched and `free_userdata` is not called.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_subscribe_begin(
    client: *const ggipc_client,
    topic_filter: *const c_char,
    qos: ggipc_qos,
    handler: *const ggipc_subscription_handler,
    userdata: *mut c_void,
    free_userdata: ggipc_free_userdata_fn,
    out: *mut *mut ggipc_subscription,
) -> *mut ggipc_error {
    boundary(|| {
        // SAFETY: NULL or live objects / valid C string.
        let client = unsafe { try_ref(client, "client") }?;
        // SAFETY: as above.
        let filter = unsafe { opt_str_arg(topic_filter, "topic_filter") }?;
        let qos = qos_arg(qos)?;
        // SAFETY: as above.
        let handler = *unsafe { try_ref(handler, "handler") }?;
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        let shared = Arc::new(Shared {
            handler,
            userdata: UserData::new(userdata, free_userdata),
            gate: Gate::default(),
            state: Mutex::new(State::Pending {
                close_requested: false,
            }),
            changed: Condvar::new(),
        });
        let c = client.inner.clone();
        let req = SubscribeToIoTCoreRequest {
            topic_name: filter.map(str::to_string),
            qos,
        };
        let s = shared.clone();
        start(
            async move { c.subscribe_to_iot_core(req).await },
            move |res| {
                let next = match res {
                    Ok(sub) => {
                        let target = s.clone();
                        let handle = sub.with_handler(move |ev| target.on_event(ev));
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
        // SAFETY: checked non-NULL.
        unsafe { write_out(out, Box::into_raw(Box::new(ggipc_subscription { shared }))) };
        Ok(())
    })
}

/// Subscribes and blocks until the nucleus answers (bounded by the client's
/// operation timeout). Arguments as `ggipc_client_subscribe_begin`.
///
/// On success writes the active subscription to `*out` and returns NULL; callbacks
/// may start before this function returns. On failure returns the error (for
/// example `GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR` with the server's message), leaves
/// `*out` untouched, makes no callback, and does not call `free_userdata`: the
/// caller still owns `userdata`.
#[no_mangle]
pub unsafe extern "C" fn ggipc_client_subscribe(
    client: *const ggipc_client,
    topic_filter: *const c_char,
    qos: ggipc_qos,
    handler: *const ggipc_subscription_handler,
    userdata: *mut c_void,
    free_userdata: ggipc_free_userdata_fn,
    out: *mut *mut ggipc_subscription,
) -> *mut ggipc_error {
    boundary(|| {
        if out.is_null() {
            return Err(Error::null_argument("out"));
        }
        let mut sub: *mut ggipc_subscription = std::ptr::null_mut();
        // SAFETY: arguments forwarded as received.
        let err = unsafe {
            ggipc_client_subscribe_begin(
                client,
                topic_filter,
                qos,
                handler,
                userdata,
                free_userdata,
                &mut sub,
            )
        };
        if !err.is_null() {
            // SAFETY: produced just above; take it back to return it.
            let e = unsafe { Box::from_raw(err) };
            return Err(Error::from_c(&e));
        }
        // SAFETY: `sub` was just written by begin.
        let s = unsafe { Box::from_raw(sub) };
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
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, Box::into_raw(s)) };
        Ok(())
    })
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

/// Closes the subscription: sends the terminate to the nucleus (which removes the
/// MQTT subscription); `on_closed` follows with a NULL reason. Idempotent, non-blocking,
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
