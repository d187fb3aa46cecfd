//! A child forked while another thread of the parent was submitting to a completion thread can submit too,
//! and its job runs: the child inherits no lock held by a thread that does not exist in it.
#![cfg(unix)]

use ggipc_bridge::Completer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

static COMPLETER: Completer<Job> = Completer::new("ggipc-fork-test", |batch| batch(), |job| job());

const FORKS: usize = 200;

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
fn a_child_forked_while_another_thread_submits_runs_its_jobs() {
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                COMPLETER.submit(Box::new(|| {}));
            }
        })
    };
    let mut failures = Vec::new();
    for i in 0..FORKS {
        // SAFETY: the child only submits to the completer (whose thread is started anew there) and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let (tx, rx) = mpsc::channel();
            COMPLETER.submit(Box::new(move || {
                let _ = tx.send(std::process::id());
            }));
            let ran_here = rx.recv_timeout(Duration::from_secs(10)) == Ok(std::process::id());
            // SAFETY: ends the child without running the parent's exit handlers or the test harness.
            unsafe { libc::_exit(if ran_here { 0 } else { 1 }) };
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
