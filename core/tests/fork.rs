//! A child forked while another thread of the parent was getting the shared runtime can use the runtime: the
//! child inherits no lock held by a thread that does not exist in it.
#![cfg(unix)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FORKS: usize = 200;

/// Waits for `pid` to exit, at most `limit`; a child still running then is killed and reported as hung.
fn wait_child(pid: libc::pid_t, limit: Duration) -> Result<i32, String> {
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: `pid` is our own child; `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(libc::WEXITSTATUS(status));
        }
        if r < 0 {
            return Err(format!("waitpid: {}", std::io::Error::last_os_error()));
        }
        if Instant::now() > deadline {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!("the child did not finish within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_child_forked_while_another_thread_uses_the_runtime_gets_its_own() {
    ggipc::runtime::handle().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = ggipc::runtime::handle();
            }
        })
    };
    let mut failures = Vec::new();
    for i in 0..FORKS {
        // SAFETY: the child only uses ggipc's runtime (which is made anew there) and then `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let ok = ggipc::runtime::block_on(async {
                tokio::task::spawn(async { 7 }).await.unwrap_or(0)
            });
            // SAFETY: ends the child without running the parent's exit handlers or the test harness.
            unsafe { libc::_exit(if matches!(ok, Ok(7)) { 0 } else { 1 }) };
        }
        match wait_child(pid, Duration::from_secs(10)) {
            Ok(0) => {}
            Ok(code) => failures.push(format!("fork {i}: the child exited with {code}")),
            Err(e) => failures.push(format!("fork {i}: {e}")),
        }
        if failures.len() >= 3 {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    assert!(failures.is_empty(), "{failures:#?}");
}
