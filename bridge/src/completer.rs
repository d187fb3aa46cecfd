//! One completion thread per process and binding: where a binding runs its language's callbacks.

use std::sync::mpsc;
use std::sync::Mutex;

/// Most jobs run in one pass of the binding's scope (one GIL acquisition, one JNI attachment).
const BATCH: usize = 256;

/// A process-wide completion thread for jobs of type `J`, started on the first [`submit`](Self::submit) and
/// started anew in a forked child (whose copy of the parent's thread does not exist). Jobs run in the order
/// they were submitted. The thread waits for work outside the binding's scope, then runs every job already
/// queued (at most 256) inside one call of `scope`; a job that panics is reported on stderr and the next one
/// runs. The queue is unbounded: producers are runtime tasks, which must never wait for a user's callback.
pub struct Completer<J: Send + 'static> {
    name: &'static str,
    scope: fn(&mut dyn FnMut()),
    run: fn(J),
    /// The pid that started the thread, and the way to it.
    slot: Mutex<Option<(u32, mpsc::Sender<J>)>>,
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
            slot: Mutex::new(None),
        }
    }

    /// Queues `job`.
    pub fn submit(&'static self, job: J) {
        let pid = std::process::id();
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let job = match slot.as_ref() {
            Some((p, tx)) if *p == pid => match tx.send(job) {
                Ok(()) => return,
                // The thread is gone (it never ends on its own; only a failed start leaves this state).
                Err(mpsc::SendError(job)) => job,
            },
            _ => job,
        };
        // First use, or first use in a forked child: the parent's thread does not exist here, so its sender
        // is forgotten rather than dropped (nothing of it may be touched), and a new thread is started.
        if let Some(old) = slot.take() {
            std::mem::forget(old);
        }
        let (tx, rx) = mpsc::channel::<J>();
        // The receiver is alive (held just below), so this cannot fail.
        let _ = tx.send(job);
        let spawned = std::thread::Builder::new()
            .name(self.name.into())
            .spawn(move || self.work(rx));
        match spawned {
            Ok(_) => *slot = Some((pid, tx)),
            // Without a thread the job cannot run: say so rather than lose it silently.
            Err(e) => eprintln!("ggipc: cannot start the {} thread: {e}", self.name),
        }
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
