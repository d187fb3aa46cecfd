//! What the generated C ABI ([`crate::generated`]) is built from: argument conversions (strings, JSON
//! documents, timestamps, enum numbers) and the two call paths of a request/response operation (blocking on
//! the caller's thread, or asynchronous with a completion callback).

use std::ffi::{c_char, c_void, CStr, CString};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ggipc_core::model::Operation;

use crate::client::ggipc_client;
use crate::dispatch::complete_now;
use crate::error::{Error, GGIPC_ERROR_KIND_UNMAPPED};
use crate::ffi::{write_out, UserData};

pub(crate) use crate::ffi::c_string;

/// A JSON document member: the value and its compact text (lent to C).
#[derive(Clone)]
pub(crate) struct Doc {
    pub(crate) value: serde_json::Value,
    pub(crate) text: CString,
}

impl Doc {
    pub(crate) fn from_value(value: serde_json::Value) -> Doc {
        let text = c_string(&value.to_string());
        Doc { value, text }
    }
}

/// Parses an optional JSON text argument (NULL: absent); invalid JSON is an invalid argument.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn doc_arg(ptr: *const c_char, what: &str) -> Result<Option<Doc>, Error> {
    // SAFETY: per the contract above.
    let Some(text) = (unsafe { crate::ffi::opt_str_arg(ptr, what) })? else {
        return Ok(None);
    };
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid_argument(format!("{what} is not valid JSON: {e}")))?;
    Ok(Some(Doc::from_value(value)))
}

/// Copies an optional C string argument (NULL: absent); non-UTF-8 is an invalid argument.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn c_string_arg(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<CString>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: per the contract above.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str()
        .map_err(|_| Error::invalid_argument(format!("{what} is not valid UTF-8")))?;
    Ok(Some(s.to_owned()))
}

/// The Rust string of a stored C string (stored ones were checked as UTF-8, or came from a Rust string).
pub(crate) fn string_of(s: &CString) -> String {
    s.to_string_lossy().into_owned()
}

/// The Rust string of a stored C string, moved out of it (no copy: stored ones were checked as UTF-8, or came
/// from a Rust string; anything else is converted lossily).
pub(crate) fn string_from(s: CString) -> String {
    s.into_string()
        .unwrap_or_else(|e| e.into_cstring().to_string_lossy().into_owned())
}

/// The pointer of an optional stored string, NULL when absent.
pub(crate) fn opt_cstr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

/// Lends an optional buffer: NULL and length 0 when absent, a non-NULL pointer for a present empty one.
///
/// # Safety
/// `len` is NULL or writable.
pub(crate) unsafe fn lend_bytes(b: Option<&[u8]>, len: *mut usize) -> *const u8 {
    let (ptr, n) = match b {
        Some([]) => (b"".as_ptr(), 0),
        Some(v) => (v.as_ptr(), v.len()),
        None => (std::ptr::null(), 0),
    };
    if !len.is_null() {
        // SAFETY: per the contract above.
        unsafe { write_out(len, n) };
    }
    ptr
}

/// A timestamp argument in epoch seconds: finite and not negative.
pub(crate) fn timestamp_arg(seconds: f64) -> Result<f64, Error> {
    if seconds.is_finite() && seconds >= 0.0 {
        Ok(seconds)
    } else {
        Err(Error::invalid_argument(format!(
            "a timestamp is a finite, non-negative number of seconds since the epoch, not {seconds}"
        )))
    }
}

pub(crate) fn timestamp_to_core(seconds: f64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs_f64(seconds.max(0.0))
}

pub(crate) fn timestamp_from_core(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// A C enum number to the core's enum: the number is the value's position in the model; any other number
/// goes through the core's own `parse`, so the error is the nucleus' ("Invalid QoS value: 2").
pub(crate) fn enum_from_c<E: Copy>(
    n: u32,
    all: &[E],
    parse: fn(&str) -> ggipc_core::Result<E>,
) -> Result<E, Error> {
    match all.get(n as usize) {
        Some(v) => Ok(*v),
        None => parse(&n.to_string()).map_err(Error::from),
    }
}

/// The C number of a core enum value (its position in the model).
pub(crate) fn enum_to_c<E: Copy + PartialEq>(v: E, all: &[E]) -> u32 {
    all.iter().position(|x| *x == v).unwrap_or(0) as u32
}

fn encode<Req: serde::Serialize>(request: &Req) -> Result<bytes::Bytes, Error> {
    ggipc_core::model::to_json_bytes(request)
        .map_err(|e| Error::invalid_argument(format!("request cannot be encoded: {e}")))
}

fn decode<Resp: serde::de::DeserializeOwned>(op: &Operation, body: &[u8]) -> Result<Resp, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            GGIPC_ERROR_KIND_UNMAPPED,
            format!("invalid {} body: {e}", op.response),
        )
    })
}

/// The timeout of a call: `timeout_ms`, or the client's operation timeout for 0.
pub(crate) fn timeout_of(client: &ggipc_client, timeout_ms: u64) -> Duration {
    if timeout_ms == 0 {
        client.conn.client().operation_timeout()
    } else {
        Duration::from_millis(timeout_ms)
    }
}

/// Runs a request/response operation on the calling thread through the core's blocking call: the request is
/// written here and this thread reads its own answer (one wake-up per round trip, no runtime hand-off).
pub(crate) fn call_sync<Req, Resp>(
    client: &ggipc_client,
    op: &'static Operation,
    request: &Req,
    timeout_ms: u64,
) -> Result<Resp, Error>
where
    Req: serde::Serialize,
    Resp: serde::de::DeserializeOwned,
{
    let body = encode(request)?;
    let resp = client
        .conn
        .call(op, body, Some(timeout_of(client, timeout_ms)))?;
    decode(op, &resp)
}

/// Starts a request/response operation (written on the calling thread when the socket allows) and delivers
/// its decoded result with `deliver(userdata, result)` on the completion thread; `userdata` is dropped
/// (its `free_userdata` runs) right after.
pub(crate) fn call_async<Req, Resp, D>(
    client: &ggipc_client,
    op: &'static Operation,
    request: &Req,
    userdata: UserData,
    deliver: D,
) -> Result<(), Error>
where
    Req: serde::Serialize,
    Resp: serde::de::DeserializeOwned + Send + 'static,
    D: FnOnce(*mut c_void, Result<Resp, Error>) + Send + 'static,
{
    let body = encode(request)?;
    client.conn.call_async(op, body, None, move |res| {
        complete_now(Box::new(move || {
            let result = res
                .map_err(Error::from)
                .and_then(|body| decode::<Resp>(op, &body));
            deliver(userdata.ptr(), result);
            drop(userdata);
        }));
    });
    Ok(())
}

/// A request/response operation started by a `ggipc_client_<operation>_begin` function: its request was
/// written on the starting thread; whoever waits for it (`ggipc_call_wait`) reads the answer on its own
/// thread (one wake-up per round trip); `ggipc_call_<operation>_response` then gives the outcome. The call
/// completes whether or not anyone waits. Release it with `ggipc_call_free`.
pub struct ggipc_call {
    op: &'static Operation,
    state: std::sync::Mutex<CallState>,
}

enum CallState {
    Pending(ggipc_core::blocking::PendingCall),
    Done(Result<bytes::Bytes, Error>),
}

thread_local! {
    /// The allocation of the last call released on this thread, reused by the next call begun on it: a thread
    /// that begins and finishes its calls one after another (every synchronous C++ operation) allocates no
    /// call. At most one per thread; freed when the thread ends.
    static SPARE_CALL: std::cell::Cell<Option<Box<std::mem::MaybeUninit<ggipc_call>>>> =
        const { std::cell::Cell::new(None) };
}

impl ggipc_call {
    /// Moves `self` into a slot for C, as `call_begin` does (the tests' way to make calls).
    #[cfg(test)]
    fn into_raw(self) -> *mut ggipc_call {
        let mut slot = Self::slot();
        slot.write(self);
        Box::into_raw(slot).cast()
    }

    /// This thread's spare allocation for a call, or a new one.
    #[inline(always)]
    fn slot() -> Box<std::mem::MaybeUninit<ggipc_call>> {
        SPARE_CALL
            .try_with(std::cell::Cell::take)
            .ok()
            .flatten()
            .unwrap_or_else(Box::new_uninit)
    }

    /// Drops a call handed to C (built in a [`ggipc_call::slot`]) where it lies; its allocation becomes this
    /// thread's spare (the one it replaces, if any, is freed).
    ///
    /// # Safety
    /// `ptr` is such a call, live, and not used again.
    unsafe fn release(ptr: *mut ggipc_call) {
        // SAFETY: per the contract, `ptr` is a live call, dropped once, here.
        unsafe { std::ptr::drop_in_place(ptr) };
        // SAFETY: the call's slot; `MaybeUninit<T>` has `T`'s layout, so the box frees it as the one it was
        // made as, and it holds nothing to drop any more.
        let slot: Box<std::mem::MaybeUninit<ggipc_call>> = unsafe { Box::from_raw(ptr.cast()) };
        // A thread whose locals are gone (it is ending) frees the slot with the closure instead.
        let _ = SPARE_CALL.try_with(move |spare| spare.set(Some(slot)));
    }
}

/// Owns a call taken back from C for the rest of a function: released (dropped, its allocation kept as the
/// thread's spare) when it goes out of scope, however the function returns.
struct Released(*mut ggipc_call);

impl Drop for Released {
    fn drop(&mut self) {
        // SAFETY: `Released` is made only from a live call the caller gave up, and dropped once.
        unsafe { ggipc_call::release(self.0) }
    }
}

/// Starts `op` with `request` on `client`'s blocking connection. An encoding failure is returned (nothing
/// was sent); a failure to send is the call's outcome.
pub(crate) fn call_begin<Req: serde::Serialize>(
    client: &ggipc_client,
    op: &'static Operation,
    request: &Req,
) -> Result<*mut ggipc_call, Error> {
    let body = encode(request)?;
    let timeout = client.conn.client().operation_timeout();
    let mut slot = ggipc_call::slot();
    let state = match client.conn.blocking() {
        Some(b) => match b.begin_call(op, body, timeout) {
            Ok(call) => CallState::Pending(call),
            Err(e) => CallState::Done(Err(Error::from(e))),
        },
        None => CallState::Done(Err(Error::new(
            GGIPC_ERROR_KIND_UNMAPPED,
            "the client has no blocking connection",
        ))),
    };
    slot.write(ggipc_call {
        op,
        state: std::sync::Mutex::new(state),
    });
    Ok(Box::into_raw(slot).cast())
}

/// The decoded response of a completed call of `op`.
///
/// # Safety
/// `call` is NULL or a live call.
pub(crate) unsafe fn call_response<Resp: serde::de::DeserializeOwned>(
    call: *const ggipc_call,
    op: &'static Operation,
) -> Result<Resp, Error> {
    // SAFETY: per the contract above.
    let call = unsafe { crate::ffi::try_ref(call, "call") }?;
    // By name: the operation rows are constants, so two references to one row need not be one address.
    if !std::ptr::eq(call.op, op) && call.op.name != op.name {
        return Err(Error::invalid_argument(format!(
            "this call is a {}, not a {}",
            call.op.name, op.name
        )));
    }
    let not_done = || Error::invalid_argument("the call has not completed yet");
    let st = match call.state.try_lock() {
        Ok(st) => st,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return Err(not_done()),
    };
    match &*st {
        CallState::Done(Ok(body)) => decode(op, body),
        CallState::Done(Err(e)) => Err(e.clone()),
        CallState::Pending(_) => Err(not_done()),
    }
}

/// Waits for a call of `op` with no limit of its own (the operation's deadline still applies), frees it and
/// decodes its outcome: `ggipc_call_wait`, `call_response` and `ggipc_call_free` in one, with the call's state
/// taken over rather than locked and stored.
///
/// # Safety
/// `call` is NULL or a live call that the caller owns; it is consumed.
pub(crate) unsafe fn call_finish<Resp: serde::de::DeserializeOwned>(
    call: *mut ggipc_call,
    op: &'static Operation,
) -> Result<Resp, Error> {
    if call.is_null() {
        return Err(Error::null_argument("call"));
    }
    let _release = Released(call);
    // SAFETY: per the contract above: a live call, ours from here on (released when this returns).
    let call = unsafe { &mut *call };
    if !std::ptr::eq(call.op, op) && call.op.name != op.name {
        return Err(Error::invalid_argument(format!(
            "this call is a {}, not a {}",
            call.op.name, op.name
        )));
    }
    // Waited for where it lies: the call's state is not moved out of its allocation.
    let state = call.state.get_mut().unwrap_or_else(|p| p.into_inner());
    let body = match state {
        CallState::Done(r) => std::mem::replace(r, Ok(bytes::Bytes::new()))?,
        // With no limit of its own the wait ends by the operation's deadline at the latest.
        CallState::Pending(pending) => loop {
            if let Some(r) = pending.wait(Duration::MAX) {
                break r?;
            }
        },
    };
    decode(op, &body)
}

/// Waits up to `timeout_ms` milliseconds (`UINT64_MAX` = until done; the client's operation timeout still
/// applies) for a call started by a `ggipc_client_<operation>_begin` function, reading its answer on the
/// calling thread. Returns true once it has completed (successfully or not), false on timeout or a NULL
/// `call`. A timed-out wait leaves the call running; wait again or free it. Threads waiting on one call at
/// once take turns.
#[no_mangle]
pub unsafe extern "C" fn ggipc_call_wait(call: *const ggipc_call, timeout_ms: u64) -> bool {
    crate::ffi::boundary_or(false, || {
        // SAFETY: NULL or a live call.
        let Some(call) = (unsafe { call.as_ref() }) else {
            return false;
        };
        let mut st = call.state.lock().unwrap_or_else(|p| p.into_inner());
        match &mut *st {
            CallState::Done(_) => true,
            CallState::Pending(pending) => match pending.wait(Duration::from_millis(timeout_ms)) {
                Some(r) => {
                    *st = CallState::Done(r.map_err(Error::from));
                    true
                }
                None => false,
            },
        }
    })
}

/// Releases a call; one still in flight goes on without it. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn ggipc_call_free(call: *mut ggipc_call) {
    crate::ffi::boundary_or((), || {
        if !call.is_null() {
            // SAFETY: a call the caller owns, not used after this.
            unsafe { ggipc_call::release(call) };
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts the allocations of each thread, so that a test can tell how many its own code made.
    struct Counting;

    thread_local! {
        static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    }

    // SAFETY: every call is passed on to the system allocator unchanged; the counter is a const-initialized
    // thread local without a destructor, so counting allocates nothing.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            // SAFETY: the caller's contract, passed on.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract, passed on.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    fn allocations() -> usize {
        ALLOCATIONS.with(Cell::get)
    }

    fn done_call() -> ggipc_call {
        ggipc_call {
            op: &ggipc_core::model::PUBLISH_TO_IOT_CORE,
            state: std::sync::Mutex::new(CallState::Done(Ok(bytes::Bytes::from_static(b"{}")))),
        }
    }

    #[test]
    fn calls_begun_and_released_one_after_another_allocate_once() {
        std::thread::spawn(|| {
            let before = allocations();
            for _ in 0..100 {
                let call = done_call().into_raw();
                // SAFETY: made by into_raw just above, live until released below.
                let state = unsafe { &*call }.state.lock().unwrap();
                assert!(matches!(&*state, CallState::Done(Ok(b)) if &b[..] == b"{}"));
                drop(state);
                // SAFETY: made by into_raw just above, released once.
                unsafe { ggipc_call::release(call) };
            }
            assert_eq!(
                allocations() - before,
                1,
                "one allocation, reused by the 99 calls after the first"
            );
            // Two live calls: the spare serves one, the other is allocated; releasing both keeps one spare.
            let (a, b) = (done_call().into_raw(), done_call().into_raw());
            assert_eq!(allocations() - before, 2);
            // SAFETY: as above, each released once.
            unsafe { (ggipc_call::release(a), ggipc_call::release(b)) };
            let c = done_call().into_raw();
            assert_eq!(allocations() - before, 2);
            // SAFETY: as above.
            unsafe { ggipc_call::release(c) };
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_call_released_on_another_thread_becomes_that_threads_spare() {
        let made = done_call().into_raw() as usize;
        std::thread::spawn(move || {
            let before = allocations();
            // SAFETY: made by into_raw on the other thread, released once, here.
            unsafe { ggipc_call::release(made as *mut ggipc_call) };
            let again = done_call().into_raw();
            assert_eq!(again as usize, made);
            assert_eq!(
                allocations(),
                before,
                "the released allocation served the next call"
            );
            // SAFETY: as above.
            unsafe { ggipc_call::release(again) };
        })
        .join()
        .unwrap();
    }
}
