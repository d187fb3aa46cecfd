//! The process-wide tokio runtime used by the blocking API and the bindings: created on first use, one
//! worker thread by default (`GGIPC_WORKER_THREADS` overrides), recreated in a forked child (a runtime does
//! not survive `fork`).

use crate::{Error, ErrorKind, Result};
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::task::{Context, Poll, Waker};
use tokio::runtime::{Handle, Runtime};
use tokio::task::Unconstrained;

static RUNTIME: PerProcess<Runtime> = PerProcess::new();

fn build() -> std::io::Result<Runtime> {
    let workers = std::env::var("GGIPC_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("ggipc-rt")
        .enable_all()
        .build()
}

/// A handle to the shared runtime (created on first call, and on the first call in a forked child).
pub fn handle() -> Result<Handle> {
    RUNTIME
        .get_or_make(build, Runtime::shutdown_background)
        .map(|rt| rt.handle().clone())
        .map_err(|e| {
            Error::new(
                ErrorKind::Internal,
                format!("cannot start the ggipc runtime: {e}"),
            )
        })
}

/// A value made once per process, and made anew in a forked child, for the threads a process owns (the
/// runtime, a binding's completion thread): a child has none of its parent's threads, so it must not use the
/// parent's value.
///
/// It takes no lock. A lock would be inherited by the child in whatever state the parent's other threads left
/// it at the moment of `fork`: held forever when one of them was inside. Values are leaked, never dropped
/// (the parent's value belongs to threads that do not exist in the child, and other threads of this process
/// may still be reading a replaced one); only a fork or a replacement leaves one behind.
#[doc(hidden)]
pub struct PerProcess<T: 'static> {
    slot: AtomicPtr<Entry<T>>,
}

struct Entry<T> {
    pid: u32,
    value: T,
}

impl<T: Send + Sync + 'static> PerProcess<T> {
    /// Empty: the first [`get_or_make`](Self::get_or_make) makes the value.
    pub const fn new() -> Self {
        PerProcess {
            slot: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// This process' value, made with `make` if there is none yet (first use, or first use in a forked child).
    /// When two threads make one at once, one value is kept for both and the other is given to `discard`.
    pub fn get_or_make<E>(
        &self,
        make: impl FnOnce() -> std::result::Result<T, E>,
        discard: impl FnOnce(T),
    ) -> std::result::Result<&'static T, E> {
        let pid = std::process::id();
        let current = self.slot.load(Ordering::Acquire);
        if let Some(value) = Self::of(current, pid) {
            return Ok(value);
        }
        let new = Box::into_raw(Box::new(Entry {
            pid,
            value: make()?,
        }));
        match self
            .slot
            .compare_exchange(current, new, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `new` came from `Box::into_raw` above and is now published; it is never freed.
            Ok(_) => Ok(unsafe { &(*new).value }),
            Err(winner) => {
                // SAFETY: `new` was not published (the exchange failed), so this thread still owns it alone.
                let lost = unsafe { Box::from_raw(new) };
                discard(lost.value);
                // Another thread of this process installed its value first (a forked child has one thread
                // at the moment it starts, so the winner is this process' own).
                Ok(
                    Self::of(winner, pid)
                        .expect("the value that won the exchange is this process'"),
                )
            }
        }
    }

    /// Forgets `value` (one [`get_or_make`](Self::get_or_make) gave), so that the next call makes a new one:
    /// for a value found unusable, such as a channel whose thread is gone. Does nothing if it was already
    /// replaced.
    pub fn forget(&self, value: &'static T) {
        let current = self.slot.load(Ordering::Acquire);
        // SAFETY: entries are never freed, so any non-null pointer the slot held is still valid.
        if !current.is_null() && ptr::eq(unsafe { &(*current).value }, value) {
            let _ = self.slot.compare_exchange(
                current,
                ptr::null_mut(),
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        }
    }

    fn of(entry: *mut Entry<T>, pid: u32) -> Option<&'static T> {
        // SAFETY: entries are published once fully built (release) and never freed, so a non-null pointer
        // loaded with acquire ordering points to a live, initialised entry.
        let entry = unsafe { entry.as_ref() }?;
        (entry.pid == pid).then_some(&entry.value)
    }
}

impl<T: Send + Sync + 'static> Default for PerProcess<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// True when the calling thread is running inside a tokio runtime (where blocking would stall it).
pub fn in_async_context() -> bool {
    Handle::try_current().is_ok()
}

/// Runs `fut` to completion on the calling thread, with the shared runtime driving I/O and timers.
/// Refused with `InvalidArgument` inside an async context, where blocking would stall every task there.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output> {
    if in_async_context() {
        return Err(blocking_in_async_error());
    }
    Ok(handle()?.block_on(fut))
}

/// Polls `fut` once, now, with a waker that is not kept: what it does before it first waits (taking its turn
/// at a semaphore, queueing a request) happens in the caller's order. The poll is outside tokio's cooperative
/// budget, so a caller inside a task that has used its budget (a connection task reading a burst of requests)
/// does not see `Pending` only for that. On `Pending`, the caller spawns what is returned (still outside the
/// budget: it is one request's future) to finish it.
pub fn poll_on_arrival<F: Future + Unpin>(
    fut: F,
) -> std::result::Result<F::Output, Unconstrained<F>> {
    let mut fut = tokio::task::unconstrained(fut);
    match Pin::new(&mut fut).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err(fut),
    }
}

pub(crate) fn blocking_in_async_error() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "a blocking ggipc call was made from inside an async runtime; use the async ggipc::Client there",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;
    use tokio::task::coop::{consume_budget, has_budget_remaining};

    /// Spends the current task's cooperative budget without yielding.
    async fn spend_budget() {
        while has_budget_remaining() {
            consume_budget().await;
        }
    }

    #[tokio::test]
    async fn a_first_poll_is_not_refused_for_a_spent_budget() {
        let sem = Semaphore::new(1);
        spend_budget().await;
        // The plain poll a budget applies to is Pending although a permit is free...
        let mut plain = Box::pin(sem.acquire());
        assert!(plain
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        drop(plain);
        // ...the poll on arrival takes it.
        let permit = poll_on_arrival(Box::pin(sem.acquire()));
        assert!(matches!(permit, Ok(Ok(_))));
    }

    #[tokio::test]
    async fn a_future_that_waits_is_handed_back_and_finishes_when_spawned() {
        let sem = std::sync::Arc::new(Semaphore::new(0));
        let s = sem.clone();
        let rest = poll_on_arrival(Box::pin(async move { s.acquire().await.is_ok() }))
            .expect_err("no permit yet: the future waits");
        let task = tokio::spawn(rest);
        sem.add_permits(1);
        assert!(task.await.unwrap());
    }
}
