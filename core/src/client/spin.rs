//! Spin, then sleep: how a blocking caller waits for its reply on the socket.
//!
//! A synchronous call against a local nucleus is answered in a few microseconds, less than it takes to put
//! the caller to sleep in the kernel and wake it again, and far less when the caller's CPU goes idle meanwhile
//! (in a virtual machine waking an idle CPU costs tens of microseconds). So the waiter first polls the socket
//! without sleeping for a short budget, yielding its CPU between polls so that a nucleus on the same CPU runs,
//! and only then sleeps in `poll(2)`. The budget is [`DEFAULT_BUDGET`], or `GGIPC_SPIN_WAIT_US` microseconds
//! (0 turns spinning off, at most [`MAX_BUDGET`]); it is zero on a machine with one CPU online.
//!
//! Replies that take longer than the budget (a QoS 1 publish waiting for the cloud's PUBACK) would only waste
//! it: after [`MISSES_BEFORE_BACKOFF`] waits in a row whose reply did not come within the budget, the next
//! [`BACKOFF_WAITS`] waits of the connection sleep at once, then spinning is tried again.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The spin budget when `GGIPC_SPIN_WAIT_US` is not set.
pub const DEFAULT_BUDGET: Duration = Duration::from_micros(50);
/// The largest budget `GGIPC_SPIN_WAIT_US` can set.
pub const MAX_BUDGET: Duration = Duration::from_millis(1);
/// Consecutive waits whose reply came after the budget before spinning pauses.
pub const MISSES_BEFORE_BACKOFF: u32 = 4;
/// Waits that sleep at once after a pause starts.
pub const BACKOFF_WAITS: u32 = 64;

/// The budget of this process (read once).
pub(crate) fn budget() -> Duration {
    static BUDGET: OnceLock<Duration> = OnceLock::new();
    *BUDGET.get_or_init(|| {
        // CPUs online, not this process' affinity: a caller pinned to one CPU may wait for a nucleus on another.
        // SAFETY: sysconf reads a system value and has no preconditions.
        let one_cpu = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } == 1;
        budget_from(std::env::var("GGIPC_SPIN_WAIT_US").ok().as_deref(), one_cpu)
    })
}

fn budget_from(var: Option<&str>, one_cpu: bool) -> Duration {
    if one_cpu {
        return Duration::ZERO;
    }
    match var.map(str::trim).filter(|v| !v.is_empty()) {
        None => DEFAULT_BUDGET,
        Some(v) => match v.parse::<u64>() {
            Ok(us) => Duration::from_micros(us).min(MAX_BUDGET),
            Err(_) => {
                tracing::warn!(
                    value = v,
                    "GGIPC_SPIN_WAIT_US is not a whole number of microseconds; using the default"
                );
                DEFAULT_BUDGET
            }
        },
    }
}

/// A connection's spinning state: misses in a row, waits left to sleep at once.
#[derive(Debug, Default)]
pub(crate) struct SpinWait {
    misses: AtomicU32,
    skip: AtomicU32,
}

impl SpinWait {
    /// Whether the next wait spins (and counts down a pause).
    fn should_spin(&self, budget: Duration) -> bool {
        if budget.is_zero() {
            return false;
        }
        let skip = self.skip.load(Ordering::Relaxed);
        if skip > 0 {
            self.skip.store(skip - 1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Records how a spin ended: `hit` when the reply came within the budget.
    fn record(&self, hit: bool) {
        if hit {
            self.misses.store(0, Ordering::Relaxed);
            return;
        }
        let misses = self.misses.load(Ordering::Relaxed) + 1;
        if misses >= MISSES_BEFORE_BACKOFF {
            self.misses.store(0, Ordering::Relaxed);
            self.skip.store(BACKOFF_WAITS, Ordering::Relaxed);
        } else {
            self.misses.store(misses, Ordering::Relaxed);
        }
    }

    /// Waits until `sock` is readable: spins for the budget, then sleeps in `poll(2)` for at most `timeout`.
    /// True when readable.
    pub(crate) fn wait_readable(&self, sock: &UnixStream, timeout: Duration) -> bool {
        self.wait_readable_with(sock, timeout, budget())
    }

    fn wait_readable_with(&self, sock: &UnixStream, timeout: Duration, budget: Duration) -> bool {
        if self.should_spin(budget) {
            let end = Instant::now() + budget.min(timeout);
            loop {
                if super::connection::poll_readable(sock, None, Duration::ZERO).0 {
                    self.record(true);
                    return true;
                }
                if Instant::now() >= end {
                    break;
                }
                std::thread::yield_now();
            }
            self.record(false);
        }
        super::connection::poll_readable(sock, None, timeout).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn budget_from_the_environment() {
        assert_eq!(budget_from(None, false), DEFAULT_BUDGET);
        assert_eq!(budget_from(Some(""), false), DEFAULT_BUDGET);
        assert_eq!(budget_from(Some("0"), false), Duration::ZERO);
        assert_eq!(budget_from(Some(" 20 "), false), Duration::from_micros(20));
        assert_eq!(budget_from(Some("5000000"), false), MAX_BUDGET);
        assert_eq!(budget_from(Some("-3"), false), DEFAULT_BUDGET);
        assert_eq!(budget_from(Some("fast"), false), DEFAULT_BUDGET);
        // one CPU: the peer cannot answer while we spin
        assert_eq!(budget_from(Some("50"), true), Duration::ZERO);
        assert_eq!(budget_from(None, true), Duration::ZERO);
    }

    #[test]
    fn misses_in_a_row_pause_spinning_then_it_resumes() {
        let s = SpinWait::default();
        let b = DEFAULT_BUDGET;
        for _ in 0..MISSES_BEFORE_BACKOFF - 1 {
            assert!(s.should_spin(b));
            s.record(false);
        }
        // a hit resets the count
        assert!(s.should_spin(b));
        s.record(true);
        for _ in 0..MISSES_BEFORE_BACKOFF {
            assert!(s.should_spin(b));
            s.record(false);
        }
        for _ in 0..BACKOFF_WAITS {
            assert!(!s.should_spin(b));
        }
        assert!(s.should_spin(b));
        assert!(!s.should_spin(Duration::ZERO));
    }

    #[test]
    fn a_waiting_reply_is_seen_and_silence_times_out() {
        let (mut a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let s = SpinWait::default();
        // nothing to read: every spin misses, then the poll times out
        for _ in 0..MISSES_BEFORE_BACKOFF {
            assert!(!s.wait_readable_with(&b, Duration::from_millis(1), DEFAULT_BUDGET));
        }
        assert_eq!(s.skip.load(Ordering::Relaxed), BACKOFF_WAITS);
        // data before the wait: seen by the sleeping poll while paused, and by the spin otherwise
        a.write_all(b"x").unwrap();
        assert!(s.wait_readable_with(&b, Duration::from_secs(5), DEFAULT_BUDGET));
        assert_eq!(s.skip.load(Ordering::Relaxed), BACKOFF_WAITS - 1);
        s.skip.store(0, Ordering::Relaxed);
        assert!(s.wait_readable_with(&b, Duration::from_secs(5), DEFAULT_BUDGET));
        assert_eq!(s.misses.load(Ordering::Relaxed), 0);
        // a reply written while the caller waits wakes it
        let writer = std::thread::spawn(move || {
            // most likely after the spin budget, so the sleeping poll is the one woken (either way it sees it)
            std::thread::sleep(Duration::from_millis(20));
            a.write_all(b"y").unwrap();
            a
        });
        let mut buf = [0u8; 8];
        let _ = std::io::Read::read(&mut &b, &mut buf);
        assert!(s.wait_readable_with(&b, Duration::from_secs(5), DEFAULT_BUDGET));
        drop(writer.join().unwrap());
    }
}
