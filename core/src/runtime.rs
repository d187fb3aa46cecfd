//! The process-wide tokio runtime used by the blocking API and the bindings: created on first use, one
//! worker thread by default (`GGIPC_WORKER_THREADS` overrides), recreated in a forked child (a runtime does
//! not survive `fork`).

use crate::{Error, ErrorKind, Result};
use std::future::Future;
use std::sync::Mutex;
use tokio::runtime::{Handle, Runtime};

static RUNTIME: Mutex<Option<(u32, &'static Runtime)>> = Mutex::new(None);

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

/// A handle to the shared runtime (created on first call).
pub fn handle() -> Result<Handle> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    match &*slot {
        Some((p, rt)) if *p == pid => Ok(rt.handle().clone()),
        _ => {
            // First use, or first use in a forked child: the parent's runtime threads do not exist here, so
            // its runtime is leaked rather than dropped, and a fresh one is made.
            let rt = build().map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("cannot start the ggipc runtime: {e}"),
                )
            })?;
            let rt: &'static Runtime = Box::leak(Box::new(rt));
            *slot = Some((pid, rt));
            Ok(rt.handle().clone())
        }
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

pub(crate) fn blocking_in_async_error() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "a blocking ggipc call was made from inside an async runtime; use the async ggipc::Client there",
    )
}
