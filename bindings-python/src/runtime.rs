//! The process-wide tokio runtime and completion thread of the binding, both fork-aware.
//!
//! A forked child inherits neither threads nor a usable runtime. Both singletons remember the pid
//! that created them; in a child they are abandoned (leaked, never dropped, since their threads do
//! not exist there) and created anew on first use. Clients opened before the fork refuse to work in
//! the child with a clear error (see `client.rs`).

use pyo3::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Threads the binding currently runs (for tests of thread leaks).
pub static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Counts a thread for as long as it lives.
pub struct ThreadGuard;

impl ThreadGuard {
    pub fn new() -> Self {
        THREADS.fetch_add(1, Ordering::SeqCst);
        ThreadGuard
    }
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        THREADS.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct Runtime {
    pub pid: u32,
    pub rt: tokio::runtime::Runtime,
}

static RUNTIME: Mutex<Option<Arc<Runtime>>> = Mutex::new(None);

/// The runtime of this process, created on first use (and again in a forked child).
pub fn runtime() -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rt) = slot.as_ref() {
        if rt.pid == pid {
            return Ok(rt.clone());
        }
        // Inherited through fork(): its worker threads do not exist here, so it must never be dropped.
        if let Some(old) = slot.take() {
            std::mem::forget(old);
        }
        THREADS.store(0, Ordering::SeqCst);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ggipc-py-rt")
        .on_thread_start(|| {
            THREADS.fetch_add(1, Ordering::SeqCst);
        })
        .on_thread_stop(|| {
            THREADS.fetch_sub(1, Ordering::SeqCst);
        })
        .enable_all()
        .build()
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(format!("ggipc: cannot start runtime: {e}")))?;
    let rt = Arc::new(Runtime { pid, rt });
    *slot = Some(rt.clone());
    Ok(rt)
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
    let _guard = ThreadGuard::new();
    loop {
        // Wait without the GIL. The thread lives as long as the process (the channel's sender is static).
        let first = match rx.recv_timeout(Duration::from_secs(3600)) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        Python::attach(|py| {
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
