//! Runs a component's lifecycle: `Install` (to completion, with its timeout), `Startup` (to completion), then
//! `Run` (the long-running process) until it exits or the nucleus stops, then `Shutdown`. Each step runs as
//! `sh -c SCRIPT` in the component's work directory, in its own process group, with the environment the nucleus
//! gives components (docs/PROTOCOL.md §5.1) plus `Setenv`. Output lines are prefixed with the component name.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use crate::recipe::{ComponentSpec, Step, Variables};

/// Everything needed to run one component.
#[derive(Clone, Debug)]
pub struct Launch {
    pub spec: ComponentSpec,
    pub vars: Variables,
    /// Environment from the nucleus (SVCUID, socket path, thing name…).
    pub env: BTreeMap<String, String>,
    /// Replaces the recipe's Run script (`ggipc run --command NAME=CMD`).
    pub run_override: Option<String>,
    pub work_dir: PathBuf,
    /// How long a stopping component gets between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
}

/// How a component ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Run exited by itself with this code (None = killed by a signal).
    Exited(Option<i32>),
    /// Stopped by the nucleus.
    Stopped,
    /// A step failed before Run (Install/Startup non-zero, timeout, spawn failure).
    Broken(String),
    /// No Run step.
    NoRun,
}

impl Outcome {
    pub fn success(&self) -> bool {
        matches!(
            self,
            Outcome::Exited(Some(0)) | Outcome::Stopped | Outcome::NoRun
        )
    }
}

fn say(name: &str, line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "[{name}] {line}");
    let _ = out.flush();
}

impl Launch {
    fn command(&self, step: &Step) -> Command {
        let script = self.vars.substitute(&step.script);
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script);
        cmd.current_dir(&self.work_dir);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in self.spec.setenv.iter().chain(step.setenv.iter()) {
            cmd.env(k, self.vars.substitute(v));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.process_group(0);
        cmd.kill_on_drop(true);
        cmd
    }

    fn skip(&self, step: &Step) -> bool {
        let Some(cond) = &step.skip_if else {
            return false;
        };
        let cond = self.vars.substitute(cond);
        let mut parts = cond.split_whitespace();
        match (parts.next(), parts.next()) {
            (Some("onpath"), Some(exe)) => std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(exe).is_file()))
                .unwrap_or(false),
            (Some("exists"), Some(file)) => self.work_dir.join(file).exists(),
            _ => false,
        }
    }

    /// Runs a step to completion (Install, Startup, Shutdown).
    async fn run_to_end(
        &self,
        label: &str,
        step: &Step,
        default_timeout: u64,
    ) -> Result<(), String> {
        let name = &self.spec.name;
        if self.skip(step) {
            say(
                name,
                &format!(
                    "{label} skipped ({})",
                    step.skip_if.as_deref().unwrap_or_default()
                ),
            );
            return Ok(());
        }
        let mut child = self
            .command(step)
            .spawn()
            .map_err(|e| format!("{label}: cannot start sh: {e}"))?;
        let pipes = pipe_output(name, &mut child);
        let limit = Duration::from_secs(step.timeout_secs.unwrap_or(default_timeout));
        let status = match tokio::time::timeout(limit, child.wait()).await {
            Ok(s) => s.map_err(|e| format!("{label}: {e}"))?,
            Err(_) => {
                kill_group(&child, libc::SIGKILL);
                let _ = child.wait().await;
                return Err(format!("{label} timed out after {}s", limit.as_secs()));
            }
        };
        pipes.await;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{label} failed: {status}"))
        }
    }

    /// Runs the whole lifecycle until Run exits or `stop` becomes true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) -> Outcome {
        let name = self.spec.name.clone();
        if let Err(e) = std::fs::create_dir_all(&self.work_dir) {
            return Outcome::Broken(format!(
                "cannot create work dir {}: {e}",
                self.work_dir.display()
            ));
        }
        if let Some(step) = self.spec.install.clone() {
            if let Err(e) = self.run_to_end("Install", &step, 120).await {
                say(&name, &e);
                return Outcome::Broken(e);
            }
        }
        if let Some(step) = self.spec.startup.clone() {
            if let Err(e) = self.run_to_end("Startup", &step, 120).await {
                say(&name, &e);
                return Outcome::Broken(e);
            }
        }
        let run = match (&self.run_override, &self.spec.run) {
            (Some(cmd), _) => Step {
                script: cmd.clone(),
                ..self.spec.run.clone().unwrap_or_default()
            },
            (None, Some(step)) => step.clone(),
            (None, None) => return Outcome::NoRun,
        };
        let stopping = *stop.borrow();
        if stopping {
            return Outcome::Stopped;
        }
        let mut child = match self.command(&run).spawn() {
            Ok(c) => c,
            Err(e) => return Outcome::Broken(format!("Run: cannot start sh: {e}")),
        };
        tracing::info!(component = %name, pid = child.id(), "component started");
        let pipes = pipe_output(&name, &mut child);
        let outcome = tokio::select! {
            status = child.wait() => match status {
                Ok(s) => Outcome::Exited(s.code()),
                Err(e) => Outcome::Broken(format!("Run: {e}")),
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                kill_group(&child, libc::SIGTERM);
                match tokio::time::timeout(self.stop_grace, child.wait()).await {
                    Ok(_) => {}
                    Err(_) => {
                        tracing::warn!(component = %name, "did not stop within {:?}; killing", self.stop_grace);
                        kill_group(&child, libc::SIGKILL);
                        let _ = child.wait().await;
                    }
                }
                Outcome::Stopped
            }
        };
        pipes.await;
        if let Some(step) = self.spec.shutdown.clone() {
            if let Err(e) = self.run_to_end("Shutdown", &step, 15).await {
                say(&name, &e);
            }
        }
        outcome
    }
}

fn kill_group(child: &tokio::process::Child, sig: i32) {
    if let Some(pid) = child.id() {
        // The child leads its own process group (process_group(0)), so this reaches `sh` and what it started.
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        unsafe {
            libc::kill(-(pid as i32), sig);
        }
    }
}

/// Copies the child's stdout and stderr line by line with a `[name]` prefix; the future ends at EOF on both.
fn pipe_output(
    name: &str,
    child: &mut tokio::process::Child,
) -> impl std::future::Future<Output = ()> {
    let out = child.stdout.take();
    let err = child.stderr.take();
    let n1 = name.to_owned();
    let n2 = name.to_owned();
    let a = tokio::spawn(async move {
        if let Some(out) = out {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                say(&n1, &l);
            }
        }
    });
    let b = tokio::spawn(async move {
        if let Some(err) = err {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                say(&n2, &l);
            }
        }
    });
    async move {
        let _ = a.await;
        let _ = b.await;
    }
}
