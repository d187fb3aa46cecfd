//! The runtime the binding runs on and its completion thread.
//!
//! The tokio runtime is core's process-wide one ([`ggipc::runtime::handle`]), created on first use and
//! recreated in a forked child. The completion thread is the support layer's [`Completer`], fork-aware the
//! same way.

use ggipc_bridge::Completer;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

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

/// The completion thread (`ggipc-py-complete`): every job already queued runs under one GIL acquisition;
/// while the interpreter exits, jobs are dropped instead (dropping Python references without the GIL is
/// safe: pyo3 defers the decrements).
static COMPLETER: Completer<Job> = Completer::new(
    "ggipc-py-complete",
    |batch| {
        with_python(|_py| batch());
    },
    // Inside the batch's scope the GIL is held, so this attach only counts.
    |job| Python::attach(job),
);

/// Queue `job` on the completion thread (one per process, started on first use, and anew in a forked
/// child). Jobs run in order.
pub fn complete(job: Job) {
    COMPLETER.submit(job);
}

/// Call `callback(arg)`; a Python exception raised by it is printed, never propagated.
pub fn call_quietly(py: Python<'_>, callback: &Py<PyAny>, arg: Py<PyAny>) {
    if let Err(e) = callback.call1(py, (arg,)) {
        e.print(py);
    }
}
