//! One completion thread per process and binding: where a binding runs its language's callbacks.

use ggipc::runtime::PerProcess;
use std::sync::mpsc;

/// Most jobs run in one pass of the binding's scope (one GIL acquisition, one JNI attachment).
const BATCH: usize = 256;

/// A process-wide completion thread for jobs of type `J`, started on the first [`submit`](Self::submit) and
/// started anew in a forked child (whose copy of the parent's thread does not exist). Jobs run in the order
/// they were submitted. The thread waits for work outside the binding's scope, then runs every job already
/// queued (at most 256) inside one call of `scope`; a job that panics is reported on stderr and the next one
/// runs. The queue is unbounded: producers are runtime tasks, which must never wait for a user's callback.
/// Submitting takes no lock, so a child forked while another thread was submitting can submit too.
pub struct Completer<J: Send + 'static> {
    name: &'static str,
    scope: fn(&mut dyn FnMut()),
    run: fn(J),
    /// The way to this process' thread.
    thread: PerProcess<mpsc::Sender<J>>,
}

impl<J: Send + 'static> Completer<J> {
    /// A completer whose thread is named `name`, runs each job with `run` and each batch inside `scope`
    /// (`scope` calls its argument once, or not at all when the language can no longer run anything, as while
    /// the interpreter exits; the batch's jobs are then dropped).
    pub const fn new(name: &'static str, scope: fn(&mut dyn FnMut()), run: fn(J)) -> Self {
        Completer {
            name,
            scope,
            run,
            thread: PerProcess::new(),
        }
    }

    /// Queues `job`.
    pub fn submit(&'static self, mut job: J) {
        loop {
            // A thread that lost the race to start the thread drops its sender: its thread then ends.
            let tx = match self.thread.get_or_make(|| self.start(), drop) {
                Ok(tx) => tx,
                // Without a thread the job cannot run: say so rather than lose it silently.
                Err(e) => {
                    eprintln!("ggipc: cannot start the {} thread: {e}", self.name);
                    return;
                }
            };
            match tx.send(job) {
                Ok(()) => return,
                // The thread is gone (it never ends on its own): start another one.
                Err(mpsc::SendError(back)) => {
                    job = back;
                    self.thread.forget(tx);
                }
            }
        }
    }

    fn start(&'static self) -> std::io::Result<mpsc::Sender<J>> {
        let (tx, rx) = mpsc::channel::<J>();
        std::thread::Builder::new()
            .name(self.name.into())
            .spawn(move || self.work(rx))?;
        Ok(tx)
    }

    fn work(&'static self, rx: mpsc::Receiver<J>) {
        while let Ok(first) = rx.recv() {
            let mut first = Some(first);
            (self.scope)(&mut || {
                let mut n = 0;
                while let Some(job) = first
                    .take()
                    .or_else(|| (n < BATCH).then(|| rx.try_recv().ok()).flatten())
                {
                    n += 1;
                    let run = self.run;
                    if let Err(p) =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(job)))
                    {
                        let what = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        eprintln!("ggipc: internal error in a completion: {what}");
                    }
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc::{sync_channel, SyncSender};
    use std::time::Duration;

    type Job = Box<dyn FnOnce() + Send>;

    static SCOPES: AtomicUsize = AtomicUsize::new(0);
    static COMPLETER: Completer<Job> = Completer::new(
        "ggipc-test-complete",
        |batch| {
            SCOPES.fetch_add(1, Ordering::SeqCst);
            batch()
        },
        |job| job(),
    );

    fn send(tx: &SyncSender<usize>, i: usize) {
        let tx = tx.clone();
        COMPLETER.submit(Box::new(move || {
            let _ = tx.send(i);
        }));
    }

    #[test]
    fn runs_in_order_survives_a_panicking_job_and_batches() {
        let (tx, rx) = sync_channel::<usize>(1000);
        // Hold the thread inside a job so that the next ones queue up and run as one batch.
        let (gate_tx, gate_rx) = sync_channel::<()>(0);
        COMPLETER.submit(Box::new(move || {
            let _ = gate_rx.recv_timeout(Duration::from_secs(10));
        }));
        COMPLETER.submit(Box::new(|| panic!("a job that panics")));
        for i in 0..100 {
            send(&tx, i);
        }
        let before = SCOPES.load(Ordering::SeqCst);
        gate_tx.send(()).unwrap();
        let got: Vec<usize> = (0..100)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        // The 100 queued jobs ran in the batch the gate job began (or at most one more).
        assert!(SCOPES.load(Ordering::SeqCst) - before <= 1);
    }
}
