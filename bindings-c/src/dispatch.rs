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

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;

use ggipc_bridge::Completer;

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

/// The completion thread (`ggipc-completion`), the support layer's [`Completer`]: started on first use, and
/// anew in a forked child.
static COMPLETER: Completer<Job> = Completer::new("ggipc-completion", |batch| batch(), |job| job());

/// Queues `job` on the completion thread, from any thread, without blocking.
pub(crate) fn complete_now(job: Job) {
    COMPLETER.submit(job);
}
