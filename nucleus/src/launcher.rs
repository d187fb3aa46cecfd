//! Runs a component's lifecycle: `Install` (to completion, with its timeout), `Startup` (to completion), then
//! `Run` (the long-running process) until it exits or the nucleus stops, then `Shutdown`. Each step runs as
//! `sh -c SCRIPT` in the component's work directory, in its own process group, with the environment the nucleus
//! gives components (docs/PROTOCOL.md §5.1) plus `Setenv`. Output lines are prefixed with the component name.
//!
//! Errors and restarts, as the nucleus does: a step that fails (non-zero exit, timeout, cannot start) or a `Run`
//! that exits non-zero puts the component in ERRORED: `Recover` runs if the recipe has one, then the failed phase
//! starts again (Install if Install failed, else Startup and Run). The third error within an hour makes the
//! component BROKEN and the launcher gives up on it, saying why. A `Run` that exits 0 is finished.
//!
//! Control ([`Launch::run_with`]): a RestartComponent request stops Run (then Shutdown) and starts Startup and
//! Run again, not counted as an error; a StopComponent request stops it for good (FINISHED); a component that
//! reports `UpdateState ERRORED` is handled as a failed Run (stopped, Recover, restarted; the third error in an
//! hour makes it BROKEN), as the nucleus does. Each state change (INSTALLED, STARTING, RUNNING, STOPPING,
//! FINISHED, ERRORED, BROKEN) is reported through the control's callback.
//!
//! Artifacts: [`stage_artifacts`] lays out the recipe's `Artifacts` under the root as the nucleus does
//! (`packages/artifacts/<name>/<version>/`, ZIPs unarchived into `packages/artifacts-unarchived/…`), taking each
//! from the project instead of its URI. With `watch`, a change in the artifacts' sources restarts the component
//! (artifacts staged again, then the whole lifecycle).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::watch;

use crate::recipe::{ComponentSpec, Step, Variables};
use ggipc::model::LifecycleState;

/// What the nucleus tells a running lifecycle, besides stopping it with the nucleus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// RestartComponent: stop Run, then Startup and Run again.
    Restart,
    /// StopComponent: stop Run and end the lifecycle (FINISHED).
    Stop,
    /// The component reported ERRORED with UpdateState.
    ReportedErrored,
    /// PauseComponent: stop the Run process group (SIGSTOP).
    Pause,
    /// ResumeComponent: let it go on (SIGCONT).
    Resume,
}

/// How the nucleus steers one lifecycle and hears about its states.
pub struct Control {
    pub signals: tokio::sync::mpsc::UnboundedReceiver<Signal>,
    /// Called at each state change.
    pub report: Box<dyn Fn(LifecycleState) + Send + Sync>,
    /// Install already ran (a restart of a component that had ended): start at Startup.
    pub installed: bool,
}

impl Control {
    /// No signals, states not reported.
    pub fn none() -> Control {
        let (_tx, signals) = tokio::sync::mpsc::unbounded_channel();
        Control {
            signals,
            report: Box::new(|_| {}),
            installed: false,
        }
    }

    /// The next signal (never, once the sender is gone).
    async fn next(&mut self) -> Signal {
        match self.signals.recv().await {
            Some(s) => s,
            None => std::future::pending().await,
        }
    }

    /// The next signal that ends a Run whose process group is `pgid`; pauses and resumes it meanwhile.
    async fn next_for(&mut self, pgid: Option<u32>) -> Signal {
        loop {
            let sig = match self.next().await {
                Signal::Pause => libc::SIGSTOP,
                Signal::Resume => libc::SIGCONT,
                other => return other,
            };
            if let Some(pid) = pgid {
                // SAFETY: kill(2) with a negative pid signals that process group; no memory is involved.
                unsafe {
                    libc::kill(-(pid as i32), sig);
                }
            }
        }
    }
}

/// Errors within [`ERROR_WINDOW`] after which a component is BROKEN (the nucleus' rule).
pub const ERRORS_BEFORE_BROKEN: usize = 3;
/// The window in which errors are counted.
pub const ERROR_WINDOW: Duration = Duration::from_secs(3600);
/// How often `--watch` looks at the artifacts' sources.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(250);

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
    /// The nucleus root (artifacts are staged under it).
    pub root: PathBuf,
    /// `--artifacts DIR`.
    pub artifacts_dir: Option<PathBuf>,
    /// Restart the component when its artifacts' sources change.
    pub watch: bool,
    /// What the artifacts were staged from ([`Staged::sources`]), watched in watch mode.
    pub sources: Vec<PathBuf>,
}

/// How a component ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Run exited by itself with this code (None = killed by a signal).
    Exited(Option<i32>),
    /// Stopped by the nucleus.
    Stopped,
    /// The launcher gave up: a step kept failing, or the component could not be set up.
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

/// Lifecycle messages of the launcher itself (not the component's output).
fn note(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ggipc: {line}");
    let _ = out.flush();
}

/// Where a component's artifacts are, once staged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Staged {
    pub artifacts_path: PathBuf,
    pub decompressed_path: PathBuf,
    /// The sources to watch for changes.
    pub sources: Vec<PathBuf>,
}

/// Lays out the component's artifacts. With no `Artifacts` in the recipe: `--artifacts DIR/<name>/<version>/`,
/// else `<root>/packages/artifacts/<name>/<version>/` if it exists, else the project (GDK) or the recipe's
/// directory. With `Artifacts`: each is looked for, by the file name of its URI, in `--artifacts
/// DIR/<name>/<version>/`, `<root>/packages/artifacts/<name>/<version>/` (put there by you), the project itself for
/// a GDK zip build's archive (the project directory is what the zip would hold, so edits are live),
/// `greengrass-build/artifacts/<name>/<version>/`, then the project or recipe directory; it is linked into
/// `<root>/packages/artifacts/…` and, with `Unarchive: ZIP`, unarchived into
/// `<root>/packages/artifacts-unarchived/<name>/<version>/<archive name without .zip>/`.
pub fn stage_artifacts(
    spec: &ComponentSpec,
    root: &Path,
    artifacts_dir: Option<&Path>,
) -> Result<Staged, String> {
    let abs = |p: &Path| crate::node::absolute(p).unwrap_or_else(|_| p.to_owned());
    let user_dir = artifacts_dir.map(|a| abs(a).join(&spec.name).join(&spec.version));
    let art = root
        .join("packages/artifacts")
        .join(&spec.name)
        .join(&spec.version);
    let dec = root
        .join("packages/artifacts-unarchived")
        .join(&spec.name)
        .join(&spec.version);
    let source_dir = match &spec.project {
        Some(p) => p.dir.clone(),
        None => abs(&spec.recipe_dir()),
    };
    if spec.artifacts.is_empty() {
        let dir = [user_dir, Some(art)]
            .into_iter()
            .flatten()
            .find(|d| d.is_dir())
            .unwrap_or(source_dir);
        return Ok(Staged {
            artifacts_path: dir.clone(),
            decompressed_path: dir.clone(),
            sources: vec![dir],
        });
    }
    let recipe = spec.recipe_path.display();
    for d in [&art, &dec] {
        std::fs::create_dir_all(d)
            .map_err(|e| format!("{recipe}: cannot create {}: {e}", d.display()))?;
    }
    let mut sources = Vec::new();
    for a in &spec.artifacts {
        let file = a.file_name();
        let stem = file
            .strip_suffix(".zip")
            .or_else(|| file.strip_suffix(".ZIP"))
            .unwrap_or(file);
        let staged = art.join(file);
        let mut looked = Vec::new();
        let mut found: Option<PathBuf> = None;
        let mut live_dir: Option<PathBuf> = None;
        let mut consider = |p: PathBuf, looked: &mut Vec<String>| -> bool {
            let ok = p.is_file();
            looked.push(p.display().to_string());
            if ok {
                found = Some(p);
            }
            ok
        };
        let done = user_dir
            .as_ref()
            .is_some_and(|d| consider(d.join(file), &mut looked))
            // A file you put in the root's artifacts directory yourself (not a link this launcher made).
            || (std::fs::symlink_metadata(&staged).is_ok_and(|m| m.is_file())
                && consider(staged.clone(), &mut looked));
        if !done {
            if let Some(p) = spec
                .project
                .as_ref()
                .filter(|p| p.build_system == "zip" && a.unzip && stem == p.zip_name)
            {
                live_dir = Some(p.dir.clone());
            } else {
                let _ = spec
                    .project
                    .as_ref()
                    .is_some_and(|p| consider(p.build_artifacts().join(file), &mut looked))
                    || consider(source_dir.join(file), &mut looked);
            }
        }
        if let Some(dir) = live_dir {
            let target = dec.join(stem);
            relink(&target, &dir).map_err(|e| {
                format!(
                    "{recipe}: {}: cannot link {}: {e}",
                    a.field,
                    target.display()
                )
            })?;
            sources.push(dir);
            continue;
        }
        let Some(src) = found else {
            return Err(format!(
                "{recipe}: {} ({}): artifact {file} not found; looked in: {}",
                a.field,
                a.uri,
                looked.join(", ")
            ));
        };
        if src != staged {
            relink(&staged, &src).map_err(|e| {
                format!(
                    "{recipe}: {}: cannot link {}: {e}",
                    a.field,
                    staged.display()
                )
            })?;
        }
        if a.unzip {
            let target = dec.join(stem);
            unzip(&src, &target)
                .map_err(|e| format!("{recipe}: {} ({file}): cannot unarchive: {e}", a.field))?;
        }
        sources.push(src);
    }
    Ok(Staged {
        artifacts_path: art,
        decompressed_path: dec,
        sources,
    })
}

/// Makes `link` a symbolic link to `target`, replacing what was there.
fn relink(link: &Path, target: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(link)?,
        Ok(_) => std::fs::remove_file(link)?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link)
}

/// Unarchives `zip` into `dir` (emptied first) with `unzip`, or Python's `zipfile` where `unzip` is missing.
fn unzip(zip: &Path, dir: &Path) -> Result<(), String> {
    if std::fs::symlink_metadata(dir).is_ok() {
        relink_clear(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tries: [(&str, Vec<&std::ffi::OsStr>); 2] = [
        (
            "unzip",
            vec![
                "-qo".as_ref(),
                zip.as_os_str(),
                "-d".as_ref(),
                dir.as_os_str(),
            ],
        ),
        (
            "python3",
            vec![
                "-m".as_ref(),
                "zipfile".as_ref(),
                "-e".as_ref(),
                zip.as_os_str(),
                dir.as_os_str(),
            ],
        ),
    ];
    let mut why = Vec::new();
    for (prog, args) in tries {
        match std::process::Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) if o.status.success() => return Ok(()),
            Ok(o) => why.push(format!(
                "{prog}: {} {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => why.push(format!("{prog}: {e}")),
        }
    }
    Err(why.join("; "))
}

fn relink_clear(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(_) => Ok(()),
    }
}

/// A fingerprint of the files under `paths` (paths, sizes, modification times). Hidden entries and build,
/// cache and virtual-environment directories are skipped.
pub fn snapshot(paths: &[PathBuf]) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    const SKIP: &[&str] = &[
        "__pycache__",
        "greengrass-build",
        "node_modules",
        "target",
        "venv",
        "build",
    ];
    const MAX_FILES: usize = 20_000;
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        if out.len() >= MAX_FILES {
            break;
        }
        let Ok(m) = std::fs::metadata(&p) else {
            out.push((p, u64::MAX, None));
            continue;
        };
        if m.is_dir() {
            if let Ok(rd) = std::fs::read_dir(&p) {
                for e in rd.flatten() {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with('.') || SKIP.contains(&name.as_ref()) {
                        continue;
                    }
                    stack.push(e.path());
                }
            }
        } else {
            out.push((p, m.len(), m.modified().ok()));
        }
    }
    out.sort();
    out
}

/// How one pass of the lifecycle ended.
enum Pass {
    /// Run exited 0 (or there is none: `no_run`).
    Finished { no_run: bool },
    /// The nucleus is stopping.
    Stopped,
    /// Artifacts changed (watch mode).
    Changed,
    /// A step failed: the message names the recipe, the step and the reason; `installed` says whether Install
    /// had succeeded (a restart then skips it).
    Error { message: String, installed: bool },
    /// RestartComponent.
    Restart,
    /// StopComponent.
    Halted,
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

    /// `recipe: Manifests[0].Lifecycle.Run: reason`.
    fn failure(&self, step: &Step, reason: impl std::fmt::Display) -> String {
        format!(
            "{}: {}: {reason}",
            self.spec.recipe_path.display(),
            step.field
        )
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

    fn spawn(&self, label: &str, step: &Step) -> Result<tokio::process::Child, Option<String>> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if step.requires_privilege && unsafe { libc::geteuid() } != 0 {
            note(&format!(
                "{}: {}: RequiresPrivilege: running as the current user (ggipc does not switch users)",
                self.spec.name, step.field
            ));
        }
        self.command(step)
            .spawn()
            .map_err(|e| Some(self.failure(step, format!("{label}: cannot start sh: {e}"))))
    }

    /// Runs a step to completion (Install, Startup, Shutdown, Recover). With `stop`, the step is stopped (and
    /// `Err(None)` returned) when the nucleus stops.
    async fn run_to_end(
        &self,
        label: &str,
        step: &Step,
        default_timeout: u64,
        stop: Option<&mut watch::Receiver<bool>>,
    ) -> Result<(), Option<String>> {
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
        let mut child = self.spawn(label, step)?;
        let pipes = pipe_output(name, &mut child);
        let secs = step.timeout_secs.unwrap_or(default_timeout);
        let stopping = async {
            match stop {
                Some(rx) => {
                    let _ = rx.wait_for(|s| *s).await;
                }
                None => std::future::pending().await,
            }
        };
        let status = tokio::select! {
            s = tokio::time::timeout(Duration::from_secs(secs), child.wait()) => s,
            _ = stopping => {
                self.terminate(&mut child).await;
                pipes.await;
                return Err(None);
            }
        };
        let status = match status {
            Ok(s) => s.map_err(|e| Some(self.failure(step, e)))?,
            Err(_) => {
                kill_group(&child, libc::SIGKILL);
                let _ = child.wait().await;
                return Err(Some(self.failure(
                    step,
                    format!(
                        "timed out after {secs} s ({})",
                        if step.timeout_secs.is_some() {
                            "its Timeout"
                        } else {
                            "the default timeout"
                        }
                    ),
                )));
            }
        };
        pipes.await;
        if status.success() {
            Ok(())
        } else {
            Err(Some(self.failure(step, describe(status))))
        }
    }

    /// Stages the artifacts again (watch mode) and updates the variables.
    fn restage(&mut self) -> Result<(), String> {
        let s = stage_artifacts(&self.spec, &self.root, self.artifacts_dir.as_deref())?;
        self.vars.artifacts_path = s.artifacts_path;
        self.vars.decompressed_path = s.decompressed_path;
        self.sources = s.sources;
        Ok(())
    }

    /// Waits until the watched sources differ from `baseline` (never returns without watch mode).
    async fn changed(&self, baseline: &[(PathBuf, u64, Option<SystemTime>)]) {
        if !self.watch {
            std::future::pending::<()>().await;
        }
        let sources = self.sources.clone();
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            let s = sources.clone();
            let now = tokio::task::spawn_blocking(move || snapshot(&s))
                .await
                .unwrap_or_default();
            if now != baseline {
                return;
            }
        }
    }

    async fn baseline(&self) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
        if !self.watch {
            return Vec::new();
        }
        let s = self.sources.clone();
        tokio::task::spawn_blocking(move || snapshot(&s))
            .await
            .unwrap_or_default()
    }

    /// One pass: Install (unless `installed`), Startup, Run until it exits, the nucleus stops or (watch mode)
    /// the artifacts change; then Shutdown.
    async fn pass(
        &self,
        installed: bool,
        stop: &mut watch::Receiver<bool>,
        control: &mut Control,
    ) -> Pass {
        if !installed {
            if let Some(step) = &self.spec.install {
                match self
                    .run_to_end(
                        "Install",
                        step,
                        crate::recipe::INSTALL_TIMEOUT_SECS,
                        Some(&mut *stop),
                    )
                    .await
                {
                    Ok(()) => {}
                    Err(None) => return Pass::Stopped,
                    Err(Some(message)) => {
                        return Pass::Error {
                            message,
                            installed: false,
                        }
                    }
                }
            }
            (control.report)(LifecycleState::Installed);
        }
        if *stop.borrow() {
            return Pass::Stopped;
        }
        (control.report)(LifecycleState::Starting);
        if let Some(step) = &self.spec.startup {
            match self
                .run_to_end(
                    "Startup",
                    step,
                    crate::recipe::STARTUP_TIMEOUT_SECS,
                    Some(&mut *stop),
                )
                .await
            {
                Ok(()) => {}
                Err(None) => return Pass::Stopped,
                Err(Some(message)) => {
                    return Pass::Error {
                        message,
                        installed: true,
                    }
                }
            }
        }
        let run = match (&self.run_override, &self.spec.run) {
            (Some(cmd), _) => Step {
                script: cmd.clone(),
                field: self
                    .spec
                    .run
                    .as_ref()
                    .map(|r| format!("{} (--command)", r.field))
                    .unwrap_or_else(|| "Run (--command)".to_owned()),
                ..self.spec.run.clone().unwrap_or_default()
            },
            (None, Some(step)) => step.clone(),
            (None, None) => return Pass::Finished { no_run: true },
        };
        if *stop.borrow() {
            return Pass::Stopped;
        }
        let name = &self.spec.name;
        // Taken after Install and Startup, so that what they write does not count as a change.
        let baseline = self.baseline().await;
        let mut child = match self.spawn("Run", &run) {
            Ok(c) => c,
            Err(message) => {
                return Pass::Error {
                    message: message.unwrap_or_default(),
                    installed: true,
                }
            }
        };
        tracing::info!(component = %name, pid = child.id(), "component started");
        (control.report)(LifecycleState::Running);
        let pipes = pipe_output(name, &mut child);
        let limit = async {
            match run.timeout_secs {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        let pgid = child.id();
        let pass = tokio::select! {
            status = child.wait() => match status {
                Ok(s) if s.success() => Pass::Finished { no_run: false },
                Ok(s) => Pass::Error { message: self.failure(&run, describe(s)), installed: true },
                Err(e) => Pass::Error { message: self.failure(&run, e), installed: true },
            },
            _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                self.terminate(&mut child).await;
                Pass::Stopped
            }
            _ = self.changed(&baseline) => {
                self.terminate(&mut child).await;
                Pass::Changed
            }
            signal = control.next_for(pgid) => {
                (control.report)(LifecycleState::Stopping);
                self.terminate(&mut child).await;
                match signal {
                    Signal::Restart => Pass::Restart,
                    Signal::Stop => Pass::Halted,
                    Signal::ReportedErrored => Pass::Error {
                        message: format!("{}: the component reported ERRORED (UpdateState)", self.spec.recipe_path.display()),
                        installed: true,
                    },
                    // Taken by next_for.
                    Signal::Pause | Signal::Resume => Pass::Stopped,
                }
            }
            _ = limit => {
                self.terminate(&mut child).await;
                Pass::Error {
                    message: self.failure(&run, format!("timed out after {} s (its Timeout)", run.timeout_secs.unwrap_or_default())),
                    installed: true,
                }
            }
        };
        pipes.await;
        if let Some(step) = &self.spec.shutdown {
            if let Err(e) = self
                .run_to_end("Shutdown", step, crate::recipe::SHUTDOWN_TIMEOUT_SECS, None)
                .await
            {
                note(&format!("{name}: {}", e.unwrap_or_default()));
            }
        }
        if let Pass::Finished { no_run: false } = pass {
            if self.watch {
                // Finished: wait for a change (or the stop) before going again.
                let pass = tokio::select! {
                    _ = async { let _ = stop.wait_for(|s| *s).await; } => Pass::Stopped,
                    _ = self.changed(&baseline) => Pass::Changed,
                };
                return match pass {
                    Pass::Stopped => Pass::Finished { no_run: false },
                    other => other,
                };
            }
        }
        pass
    }

    async fn terminate(&self, child: &mut tokio::process::Child) {
        kill_group(child, libc::SIGTERM);
        // A paused (stopped) group gets the SIGTERM only once it runs again.
        kill_group(child, libc::SIGCONT);
        if tokio::time::timeout(self.stop_grace, child.wait())
            .await
            .is_err()
        {
            tracing::warn!(component = %self.spec.name, "did not stop within {:?}; killing", self.stop_grace);
            kill_group(child, libc::SIGKILL);
            let _ = child.wait().await;
        }
    }

    /// Runs the lifecycle, with restarts after errors, until Run finishes, the component is BROKEN or `stop`
    /// becomes true.
    pub async fn run(self, stop: watch::Receiver<bool>) -> Outcome {
        self.run_with(stop, Control::none()).await
    }

    /// [`run`](Self::run), steered by `control` (restart, stop, reported errors) and reporting its states.
    pub async fn run_with(self, stop: watch::Receiver<bool>, mut control: Control) -> Outcome {
        let outcome = self.lifecycle(stop, &mut control).await;
        (control.report)(match &outcome {
            Outcome::Broken(_) => LifecycleState::Broken,
            Outcome::Exited(Some(0)) | Outcome::Stopped | Outcome::NoRun => {
                LifecycleState::Finished
            }
            Outcome::Exited(_) => LifecycleState::Errored,
        });
        outcome
    }

    async fn lifecycle(
        mut self,
        mut stop: watch::Receiver<bool>,
        control: &mut Control,
    ) -> Outcome {
        let name = self.spec.name.clone();
        if let Err(e) = std::fs::create_dir_all(&self.work_dir) {
            return Outcome::Broken(format!(
                "cannot create work dir {}: {e}",
                self.work_dir.display()
            ));
        }
        let mut errors: Vec<Instant> = Vec::new();
        let mut installed = control.installed;
        loop {
            match self.pass(installed, &mut stop, control).await {
                Pass::Stopped => return Outcome::Stopped,
                Pass::Halted => {
                    note(&format!("{name}: stopped on request (StopComponent)"));
                    return Outcome::Stopped;
                }
                Pass::Restart => {
                    note(&format!("{name}: restarting on request (RestartComponent)"));
                    installed = true;
                }
                Pass::Finished { no_run: true } => return Outcome::NoRun,
                Pass::Finished { no_run: false } => return Outcome::Exited(Some(0)),
                Pass::Changed => {
                    note(&format!("{name}: artifacts changed; restarting"));
                    if let Err(e) = self.restage() {
                        return Outcome::Broken(e);
                    }
                    errors.clear();
                    installed = false;
                }
                Pass::Error {
                    message,
                    installed: ok,
                } => {
                    installed = ok;
                    (control.report)(LifecycleState::Errored);
                    let now = Instant::now();
                    errors.retain(|t| now.duration_since(*t) < ERROR_WINDOW);
                    errors.push(now);
                    if errors.len() >= ERRORS_BEFORE_BROKEN {
                        let why = format!(
                            "{message} (error {ERRORS_BEFORE_BROKEN} of {ERRORS_BEFORE_BROKEN} within an hour: giving up, as the nucleus does)"
                        );
                        if !self.watch {
                            return Outcome::Broken(why);
                        }
                        // Watch mode: BROKEN until the artifacts change (the fix), then from Install again.
                        // The baseline is taken before saying so: a change made after the message counts.
                        let baseline = self.baseline().await;
                        note(&format!(
                            "{name} is BROKEN: {why}; waiting for its artifacts to change"
                        ));
                        tokio::select! {
                            _ = async { let _ = stop.wait_for(|s| *s).await; } => return Outcome::Broken(why),
                            _ = self.changed(&baseline) => {}
                        }
                        note(&format!("{name}: artifacts changed; restarting"));
                        if let Err(e) = self.restage() {
                            return Outcome::Broken(e);
                        }
                        errors.clear();
                        installed = false;
                        continue;
                    }
                    note(&format!(
                        "{name} errored: {message} (error {} of {ERRORS_BEFORE_BROKEN}; {}restarting)",
                        errors.len(),
                        if self.spec.recover.is_some() {
                            "running Recover, then "
                        } else {
                            ""
                        }
                    ));
                    if let Some(step) = &self.spec.recover {
                        if let Err(Some(e)) = self
                            .run_to_end(
                                "Recover",
                                step,
                                crate::recipe::RECOVER_TIMEOUT_SECS,
                                Some(&mut stop),
                            )
                            .await
                        {
                            note(&format!("{name}: {e}"));
                        }
                    }
                    if *stop.borrow() {
                        return Outcome::Stopped;
                    }
                }
            }
        }
    }
}

fn describe(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

fn kill_group(child: &tokio::process::Child, sig: i32) {
    if let Some(pid) = child.id() {
        // The child leads its own process group (process_group(0)), so this reaches `sh` and what it started.
        // SAFETY: kill takes plain integers; a stale pid at worst fails with ESRCH.
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
