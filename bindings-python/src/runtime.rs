//! The runtime the binding runs on and its completion thread.
//!
//! The tokio runtime is core's process-wide one ([`ggipc::runtime::handle`]), created on first use and
//! recreated in a forked child. The completion thread here is fork-aware the same way: it remembers the
//! pid that started it and is started anew in a child (the parent's thread does not exist there).

use pyo3::prelude::*;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};
use std::time::Duration;
use tokio::runtime::Handle;

/// The shared runtime.
pub fn handle() -> Result<Handle, ggipc::Error> {
    ggipc::runtime::handle()
}

/// Polls `fut` once on the calling thread (inside the runtime's context) and, if it is not done, hands it
/// to the runtime. Work a future does before its first suspension (allocating a stream id and queueing
/// the request, for the client's operations) thus happens in call order, on the caller's thread.
pub fn start<F>(rt: &Handle, fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut fut = Box::pin(fut);
    let _guard = rt.enter();
    let waker = noop_waker();
    let mut cx = Context::from_waker(&waker);
    if Pin::as_mut(&mut fut).poll(&mut cx).is_pending() {
        rt.spawn(fut);
    }
}

fn noop_waker() -> Waker {
    const VTABLE: RawWakerVTable = RawWakerVTable::new(
        |_| RawWaker::new(std::ptr::null(), &VTABLE),
        |_| {},
        |_| {},
        |_| {},
    );
    // SAFETY: every vtable function ignores the (null) data pointer, so the contract holds trivially.
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// ggipc threads inside (or about to enter) Python right now.
static IN_PYTHON: AtomicUsize = AtomicUsize::new(0);

/// Longest `_shutdown` waits for ggipc threads to leave Python.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// `_ggipc._shutdown()`, registered with `atexit`. From now on no ggipc thread enters Python; then it
/// waits (GIL released, at most [`EXIT_GRACE`]) for those already inside or queued for the GIL to leave.
/// A thread still waiting for the GIL when the interpreter finalizes would be ended by it in a way Rust
/// code cannot survive, which is what this prevents.
#[pyfunction]
pub fn _shutdown(py: Python<'_>) {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = std::time::Instant::now() + EXIT_GRACE;
        while IN_PYTHON.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Runs `f` with the GIL from a ggipc thread, unless the interpreter is exiting (then `None`).
pub fn with_python<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            IN_PYTHON.fetch_sub(1, Ordering::SeqCst);
        }
    }
    // Count first, then check: `_shutdown` sets the flag first, then reads the count, so either this
    // thread sees the flag or `_shutdown` sees this thread.
    IN_PYTHON.fetch_add(1, Ordering::SeqCst);
    let _leave = Leave;
    if SHUTTING_DOWN.load(Ordering::SeqCst) {
        return None;
    }
    Some(Python::attach(f))
}

/// A piece of work that needs the GIL, run on the completion thread.
pub type Job = Box<dyn FnOnce(Python<'_>) + Send>;

struct Completer {
    pid: u32,
    tx: mpsc::Sender<Job>,
}

static COMPLETER: Mutex<Option<Completer>> = Mutex::new(None);

/// Most jobs run in one GIL acquisition before the thread lets other Python threads in.
const BATCH: usize = 256;

/// Queue `job` on the completion thread (one per process, started on first use). Jobs run in order;
/// every job already queued runs under one GIL acquisition.
pub fn complete(job: Job) {
    let pid = std::process::id();
    let mut slot = COMPLETER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = slot.as_ref() {
        if c.pid == pid {
            match c.tx.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => {
                    *slot = None;
                    return spawn_completer(&mut slot, pid, job);
                }
            }
        }
        if let Some(old) = slot.take() {
            std::mem::forget(old);
        }
    }
    spawn_completer(&mut slot, pid, job);
}

fn spawn_completer(slot: &mut Option<Completer>, pid: u32, job: Job) {
    let (tx, rx) = mpsc::channel::<Job>();
    let _ = tx.send(job);
    let spawned = std::thread::Builder::new()
        .name("ggipc-py-complete".into())
        .spawn(move || completer_loop(rx));
    match spawned {
        Ok(_) => *slot = Some(Completer { pid, tx }),
        Err(e) => {
            // Without a thread the queued job cannot run; report on stderr rather than lose it silently.
            eprintln!("ggipc: cannot start the completion thread: {e}");
        }
    }
}

fn completer_loop(rx: mpsc::Receiver<Job>) {
    loop {
        // Wait without the GIL. The thread lives as long as the process (the channel's sender is static).
        let first = match rx.recv_timeout(Duration::from_secs(3600)) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        // When the interpreter is exiting the job is dropped instead: dropping Python references
        // without the GIL is safe (pyo3 defers the decrements).
        with_python(|py| {
            run_job(py, first);
            for _ in 1..BATCH {
                match rx.try_recv() {
                    Ok(job) => run_job(py, job),
                    Err(_) => break,
                }
            }
        });
    }
}

fn run_job(py: Python<'_>, job: Job) {
    // A panic in a job must not take the completion thread (and every later completion) with it.
    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(py))) {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!("ggipc: internal error in a completion: {what}");
    }
}

/// Call `callback(arg)`; a Python exception raised by it is printed, never propagated.
pub fn call_quietly(py: Python<'_>, callback: &Py<PyAny>, arg: Py<PyAny>) {
    if let Err(e) = callback.call1(py, (arg,)) {
        e.print(py);
    }
}
