//! `ggipc nucleus`, `ggipc run`, `ggipc env`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use ggipc::model::ReportedLifecycleState;
use ggipc::server::LifecycleCommand;
use ggipc_nucleus::config::Config;
use ggipc_nucleus::launcher::{stage_artifacts, Control, Launch, Outcome, Signal};
use ggipc_nucleus::node::{absolute, read_registration, Nucleus, NucleusOptions};
use ggipc_nucleus::recipe::Variables;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc::UnboundedSender;

use crate::{init_logging, NucleusArgs};

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub nucleus: NucleusArgs,
    /// Recipe files (JSON or YAML), or project directories (GDK: with gdk-config.json; else with recipe.yaml).
    #[arg(required = true)]
    pub recipes: Vec<PathBuf>,
    /// Run CMD instead of COMPONENT's recipe Run step (local development); repeatable.
    #[arg(long = "command", value_name = "COMPONENT=CMD")]
    pub commands: Vec<String>,
    /// Artifacts directory laid out as DIR/<component>/<version>/ (default: <root>/packages/artifacts, falling
    /// back to the recipe's own directory).
    #[arg(long)]
    pub artifacts: Option<PathBuf>,
    /// Stop the nucleus once every component's Run has exited; exit status 0 only if all exited with 0.
    #[arg(long, conflicts_with = "watch")]
    pub exit_when_done: bool,
    /// Restart a component (artifacts staged again, whole lifecycle) when its artifacts' sources change.
    #[arg(long)]
    pub watch: bool,
    /// Seconds a component gets between SIGTERM and SIGKILL when stopping.
    #[arg(long, default_value_t = 5)]
    pub stop_timeout: u64,
    /// Configuration updates applied before the components start, as a deployment's configurationUpdate:
    /// `{"COMPONENT": {"MERGE": {…}, "RESET": ["/key"]}}` (JSON or YAML).
    #[arg(long, value_name = "FILE")]
    pub config_update: Option<PathBuf>,
}

fn load_config(args: &NucleusArgs) -> Result<Config, String> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(t) = &args.thing_name {
        cfg.system.thing_name = Some(t.clone());
    }
    if let Some(c) = &args.client_id {
        cfg.mqtt.client_id = Some(c.clone());
    }
    if args.ca.is_some() {
        cfg.system.root_ca_path = args.ca.clone();
    }
    if args.cert.is_some() {
        cfg.system.certificate_file_path = args.cert.clone();
    }
    if args.key.is_some() {
        cfg.system.private_key_path = args.key.clone();
    }
    if let Some(v) = &args.mqtt_version {
        cfg.mqtt.version = if v == "3" {
            "mqtt3".into()
        } else {
            "mqtt5".into()
        };
    }
    if args.ack_after_puback {
        cfg.mqtt.publish_ack_mode = "puback".into();
    }
    cfg.validate()?;
    Ok(cfg)
}

async fn start(
    args: &NucleusArgs,
    recipes: Vec<PathBuf>,
    default_root: &str,
) -> Result<(Nucleus, Config), String> {
    init_logging(&args.log);
    let config = load_config(args)?;
    let root = args
        .root
        .clone()
        .unwrap_or_else(|| PathBuf::from(default_root));
    let opts = NucleusOptions {
        root,
        recipes,
        config: config.clone(),
        broker: args.broker.clone(),
        embedded_port: args.mqtt_port,
    };
    let n = Nucleus::start(opts).await?;
    if let Some(a) = n.embedded_addr {
        println!("ggipc: embedded MQTT broker on {a}");
    }
    println!("ggipc: IPC socket {}", n.socket_path.display());
    Ok((n, config))
}

/// SIGINT and SIGTERM handlers, installed before the nucleus says it is ready (a signal sent right after the
/// announcement must not kill the process with the default action).
struct StopSignals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn install() -> StopSignals {
        StopSignals {
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }

    async fn recv(&mut self) -> &'static str {
        async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.int) => "SIGINT",
            _ = next(&mut self.term) => "SIGTERM",
        }
    }
}

pub async fn nucleus(args: NucleusArgs, recipes: Vec<PathBuf>) -> Result<ExitCode, String> {
    let root = args.root.clone().ok_or("--root is required")?;
    let mut a = args.clone();
    a.root = Some(root);
    let mut signals = StopSignals::install();
    let (n, _cfg) = start(&a, recipes, ".ggipc").await?;
    for c in &n.components {
        println!(
            "ggipc: registered {} (ggipc env --root {} {})",
            c.name,
            n.root.display(),
            c.name
        );
    }
    let sig = signals.recv().await;
    tracing::info!("{sig} received, stopping");
    n.stop().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn run(args: RunArgs) -> Result<ExitCode, String> {
    let mut overrides: BTreeMap<String, String> = BTreeMap::new();
    for c in &args.commands {
        let (name, cmd) = c
            .split_once('=')
            .ok_or_else(|| format!("--command {c:?}: expected COMPONENT=CMD"))?;
        overrides.insert(name.to_owned(), cmd.to_owned());
    }
    // A bad file stops the run before anything starts.
    let updates = match &args.config_update {
        Some(p) => Some(ggipc_nucleus::deploy::read_updates(p)?),
        None => None,
    };
    let mut signals = StopSignals::install();
    let (n, cfg) = start(&args.nucleus, args.recipes.clone(), ".ggipc").await?;
    if let Some(updates) = updates {
        let d = ggipc_nucleus::deploy::Deployment {
            id: ggipc_nucleus::deploy::new_id(),
            updates,
            defaults: n
                .components
                .iter()
                .map(|c| (c.name.clone(), c.spec.configuration.clone()))
                .collect(),
            validation_timeout: ggipc_nucleus::deploy::VALIDATION_TIMEOUT,
            update_policy_timeout: ggipc_nucleus::deploy::UPDATE_POLICY_TIMEOUT,
            defer_limit: ggipc_nucleus::deploy::DEFER_LIMIT,
        };
        match ggipc_nucleus::deploy::deploy(&n.server, &d).await {
            Ok(log) => {
                for l in log {
                    println!("ggipc: {l}");
                }
            }
            Err((_, e)) => {
                n.stop().await;
                return Err(format!("--config-update: {e}"));
            }
        }
    }
    for name in overrides.keys() {
        if !n.components.iter().any(|c| &c.name == name) {
            let known: Vec<String> = n.components.iter().map(|c| c.name.clone()).collect();
            n.stop().await;
            return Err(format!(
                "--command {name}=…: no such component (known: {})",
                known.join(", ")
            ));
        }
    }
    // Artifacts are staged before anything runs: a missing one stops the start with a message naming the recipe.
    let mut staged = Vec::new();
    for c in &n.components {
        match stage_artifacts(&c.spec, &n.root, args.artifacts.as_deref()) {
            Ok(s) => staged.push(s),
            Err(e) => {
                n.stop().await;
                return Err(e);
            }
        }
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut launches: BTreeMap<String, Launch> = BTreeMap::new();
    for (c, art) in n.components.iter().zip(staged) {
        let spec = c.spec.clone();
        let work = n.root.join("work").join(&c.name);
        if args.watch {
            let what: Vec<String> = art
                .sources
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            println!("ggipc: watching {} for {}", what.join(", "), c.name);
        }
        let sources = art.sources.clone();
        let vars = Variables {
            artifacts_path: art.artifacts_path,
            decompressed_path: art.decompressed_path,
            work_path: work.clone(),
            root_path: n.root.clone(),
            thing_name: n.thing_name.clone(),
            // What {configuration:/…} reads: the configuration as deployed (kept, --config-update).
            configuration: n
                .server
                .configuration(&c.name)
                .unwrap_or_else(|| spec.configuration.clone()),
            configuration_at_launch: false,
        };
        // A {configuration:/…} pointer must name something in the configuration as deployed.
        if let Err(e) = spec.check_variables_with(&vars) {
            n.stop().await;
            return Err(format!("{}: {e}", spec.recipe_path.display()));
        }
        let launch = Launch {
            env: n.component_env(c, &cfg),
            run_override: overrides.get(&c.name).cloned(),
            spec,
            vars,
            work_dir: work,
            stop_grace: Duration::from_secs(args.stop_timeout),
            root: n.root.clone(),
            artifacts_dir: args.artifacts.clone(),
            watch: args.watch,
            sources,
        };
        launches.insert(c.name.clone(), launch);
    }

    // Lifecycle requests (RestartComponent, StopComponent) and reported states, from the IPC server.
    let mut commands = n.server.lifecycle_commands();
    let mut reports = n.server.reported_states();
    let mut tasks = tokio::task::JoinSet::new();
    let mut running: BTreeMap<String, UnboundedSender<Signal>> = BTreeMap::new();
    let spawn = |tasks: &mut tokio::task::JoinSet<(String, Outcome)>,
                 name: &str,
                 installed: bool|
     -> Option<UnboundedSender<Signal>> {
        let launch = launches.get(name)?.clone();
        let (tx, signals) = tokio::sync::mpsc::unbounded_channel();
        let server = n.server.clone();
        let who = name.to_owned();
        let control = Control {
            signals,
            report: Box::new(move |state| server.set_lifecycle_state(&who, state)),
            installed,
        };
        let rx = stop_rx.clone();
        let name = name.to_owned();
        tasks.spawn(async move { (name, launch.run_with(rx, control).await) });
        Some(tx)
    };
    for name in launches.keys() {
        if let Some(tx) = spawn(&mut tasks, name, false) {
            running.insert(name.clone(), tx);
        }
    }

    let mut results: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut stopping = false;
    let mut said_idle = false;
    loop {
        if running.is_empty() {
            if stopping || args.exit_when_done {
                break;
            }
            if !said_idle {
                // Everything exited by itself: keep serving until a signal, like the nucleus.
                println!("ggipc: all components exited; nucleus keeps running (Ctrl-C to stop)");
                said_idle = true;
            }
        }
        tokio::select! {
            Some(r) = tasks.join_next() => {
                let (name, outcome) = r.map_err(|e| format!("component task failed: {e}"))?;
                match &outcome {
                    Outcome::Exited(Some(code)) => println!("ggipc: {name} exited with code {code}"),
                    Outcome::Exited(None) => println!("ggipc: {name} was killed by a signal"),
                    Outcome::Stopped => println!("ggipc: {name} stopped"),
                    Outcome::Broken(why) => println!("ggipc: {name} is BROKEN: {why}"),
                    Outcome::NoRun => println!("ggipc: {name} has no Run step (installed only)"),
                }
                running.remove(&name);
                results.insert(name, outcome);
            }
            command = commands.recv(), if !stopping => {
                let Ok((name, command)) = command else { continue };
                let signal = match command {
                    LifecycleCommand::Restart => Signal::Restart,
                    LifecycleCommand::Stop => Signal::Stop,
                    LifecycleCommand::Pause => Signal::Pause,
                    LifecycleCommand::Resume => Signal::Resume,
                };
                if let Some(tx) = running.get(&name) {
                    let _ = tx.send(signal);
                } else if signal == Signal::Restart {
                    // Ended (finished, stopped or BROKEN): start it again, from Startup as the nucleus does.
                    if let Some(tx) = spawn(&mut tasks, &name, true) {
                        println!("ggipc: {name}: starting again on request (RestartComponent)");
                        results.remove(&name);
                        running.insert(name, tx);
                        said_idle = false;
                    }
                }
            }
            report = reports.recv() => {
                let Ok((name, state)) = report else { continue };
                println!("ggipc: {name} reported {}", state.as_str());
                if state == ReportedLifecycleState::Errored {
                    if let Some(tx) = running.get(&name) {
                        let _ = tx.send(Signal::ReportedErrored);
                    }
                }
            }
            s = signals.recv(), if !stopping => {
                println!("ggipc: {s} received, stopping components");
                stopping = true;
                let _ = stop_tx.send(true);
            }
        }
    }
    n.stop().await;
    let ok = results.values().all(|o| o.success());
    println!("ggipc: summary:");
    for (name, o) in &results {
        let what = match o {
            Outcome::Exited(Some(c)) => format!("exited with code {c}"),
            Outcome::Exited(None) => "killed by a signal".to_owned(),
            Outcome::Stopped => "stopped by the nucleus".to_owned(),
            Outcome::Broken(why) => format!("BROKEN: {why}"),
            Outcome::NoRun => "no Run step".to_owned(),
        };
        println!("ggipc:   {name}: {what}");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `ggipc status --root DIR`: the counters the nucleus keeps in `<root>/status.json` (refreshed every 2 s).
pub fn status(root: &Path) -> Result<ExitCode, String> {
    let root = absolute(root)?;
    let path = root.join("status.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (is `ggipc nucleus --root {}` running?)",
            path.display(),
            root.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let pid = i32::try_from(n("pid")).unwrap_or(0);
    // SAFETY: kill(2) with signal 0 only checks that the process exists; it takes plain integers.
    let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
    if !alive {
        return Err(format!(
            "{}: nucleus pid {pid} is not running (is `ggipc nucleus --root {}` running?)",
            path.display(),
            root.display()
        ));
    }
    println!("nucleus pid {pid}");
    println!(
        "  IPC: {} connections, {} subscriptions, {} publishes",
        n("connectionsActive"),
        n("subscriptionsActive"),
        n("publishes")
    );
    println!(
        "  events: {} delivered, {} dropped for subscribers that did not keep up ({} lag episodes)",
        n("eventsDelivered"),
        n("eventsDropped"),
        n("lagEpisodes")
    );
    if let Some(b) = v.get("broker") {
        println!(
            "  broker: {}{}, spool {} bytes, {} published, {} acknowledged, {} dropped, {} received",
            if b["connected"].as_bool() == Some(true) {
                "connected"
            } else {
                "disconnected"
            },
            b["lastError"]
                .as_str()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default(),
            b["spoolBytes"],
            b["published"],
            b["acked"],
            b["dropped"],
            b["received"]
        );
        for c in b["connections"].as_array().into_iter().flatten() {
            println!(
                "    connection {}: {}, {} subscriptions",
                c["clientId"].as_str().unwrap_or("?"),
                if c["connected"].as_bool() == Some(true) {
                    "connected"
                } else {
                    "disconnected"
                },
                c["subscriptions"]
            );
        }
    }
    if let Some(e) = v.get("embedded") {
        println!(
            "  embedded broker: {} subscriptions, {} messages dropped for MQTT clients that did not keep up",
            e["subscriptions"], e["dropped"]
        );
        let n = |k: &str| e.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        println!(
            "    {} connections ({} refused at the bound, {} refused credentials), {} sessions ({} offline), {} resent, {} too large for their client, {} retained ({} bytes; {} not kept at the bound)",
            n("connections"),
            n("connectionsRefused"),
            n("authRefused"),
            n("sessions"),
            n("offlineSessions"),
            n("resent"),
            n("oversizeDropped"),
            n("retained"),
            n("retainedBytes"),
            n("retainedRefused")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn env(root: &Path, component: &str) -> Result<ExitCode, String> {
    let root = absolute(root)?;
    let reg = read_registration(&root)?;
    let socket = reg["socketPath"]
        .as_str()
        .ok_or("components.json: missing socketPath")?;
    let Some(c) = reg["components"].get(component) else {
        let known: Vec<String> = reg["components"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        return Err(format!(
            "component {component} is not registered (registered: {})",
            known.join(", ")
        ));
    };
    let svcuid = c["svcuid"]
        .as_str()
        .ok_or("components.json: missing svcuid")?;
    println!("export SVCUID={}", shell_quote(svcuid));
    println!(
        "export AWS_CONTAINER_AUTHORIZATION_TOKEN={}",
        shell_quote(svcuid)
    );
    println!(
        "export AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT={}",
        shell_quote(socket)
    );
    println!(
        "export AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH={}",
        shell_quote(socket)
    );
    if let Some(m) = reg["mqtt"].as_str() {
        println!("export GGIPC_MQTT_ADDRESS={}", shell_quote(m));
    }
    Ok(ExitCode::SUCCESS)
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}
