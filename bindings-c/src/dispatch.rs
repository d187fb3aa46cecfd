//! Where C callbacks run, and how the library stops calling them.
//!
//! * Subscription callbacks run on the core's per-subscription dispatcher thread.
//! * Completion callbacks of asynchronous calls run on one process-wide
//!   completion thread (`ggipc-completion`), in completion order.
//! * Lifecycle callbacks run on one thread per client (`ggipc-lifecycle`).
//!
//! None of them is a runtime worker, so callbacks may block and may call any
//! library function, blocking ones included. A [`Gate`] guards each callback
//! target: once shut, no callback starts, and the shutting thread waits for a
//! callback in progress on another thread to return (never for its own).

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::ThreadId;

use tokio::sync::mpsc;

/// Lets callbacks run until shut; shutting waits for a running callback.
#[derive(Default)]
pub(crate) struct Gate {
    state: Mutex<GateState>,
    idle: Condvar,
}

#[derive(Default)]
struct GateState {
    shut: bool,
    running: Option<ThreadId>,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` unless the gate is shut. No lock is held while `f` runs, so `f`
    /// may shut this gate or call anything else.
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        {
            let mut st = self.lock();
            if st.shut {
                return None;
            }
            st.running = Some(std::thread::current().id());
        }
        struct Leave<'a>(&'a Gate);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.lock().running = None;
                self.0.idle.notify_all();
            }
        }
        let _leave = Leave(self);
        Some(f())
    }

    /// Stops further callbacks. Blocks until a callback running on another thread
    /// returns; returns at once when called from inside the callback.
    pub(crate) fn shut(&self) {
        let me = std::thread::current().id();
        let mut st = self.lock();
        st.shut = true;
        while matches!(st.running, Some(t) if t != me) {
            st = self.idle.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Bound of the completion queue; producers wait (asynchronously) when it is full.
const COMPLETION_QUEUE: usize = 4096;

fn completion_sender() -> &'static mpsc::Sender<Job> {
    static TX: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, mut rx) = mpsc::channel::<Job>(COMPLETION_QUEUE);
        std::thread::Builder::new()
            .name("ggipc-completion".into())
            .spawn(move || {
                while let Some(job) = rx.blocking_recv() {
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })
            .expect("spawning the completion thread");
        tx
    })
}

/// Queues `job` on the completion thread from async code (waits while the queue is full).
pub(crate) async fn complete_async(job: Job) {
    let _ = completion_sender().send(job).await;
}

/// Queues `job` on the completion thread from any thread without blocking: if the
/// queue is full, a runtime task waits for room instead.
pub(crate) fn complete_now(job: Job) {
    match completion_sender().try_send(job) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(job)) => {
            if let Ok(rt) = crate::runtime() {
                rt.spawn(complete_async(job));
            }
        }
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}
