//! `ggipc nucleus`, `ggipc run`, `ggipc env`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use ggipc_nucleus::config::Config;
use ggipc_nucleus::launcher::{stage_artifacts, Launch, Outcome};
use ggipc_nucleus::node::{absolute, read_registration, Nucleus, NucleusOptions};
use ggipc_nucleus::recipe::Variables;
use tokio::signal::unix::{signal, SignalKind};

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

async fn stop_signal() -> &'static str {
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}

pub async fn nucleus(args: NucleusArgs, recipes: Vec<PathBuf>) -> Result<ExitCode, String> {
    let root = args.root.clone().ok_or("--root is required")?;
    let mut a = args.clone();
    a.root = Some(root);
    let (n, _cfg) = start(&a, recipes, ".ggipc").await?;
    for c in &n.components {
        println!(
            "ggipc: registered {} (ggipc env --root {} {})",
            c.name,
            n.root.display(),
            c.name
        );
    }
    let sig = stop_signal().await;
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
    let (n, cfg) = start(&args.nucleus, args.recipes.clone(), ".ggipc").await?;
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
    let mut tasks = tokio::task::JoinSet::new();
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
            configuration: spec.configuration.clone(),
        };
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
        let name = c.name.clone();
        let rx = stop_rx.clone();
        tasks.spawn(async move { (name, launch.run(rx).await) });
    }

    let mut results: Vec<(String, Outcome)> = Vec::new();
    let total = tasks.len();
    let sig = stop_signal();
    tokio::pin!(sig);
    let mut stopping = false;
    while results.len() < total {
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
                results.push((name, outcome));
            }
            s = &mut sig, if !stopping => {
                println!("ggipc: {s} received, stopping components");
                stopping = true;
                let _ = stop_tx.send(true);
            }
        }
        if !args.exit_when_done && results.len() == total && !stopping {
            // Everything exited by itself: keep serving until a signal, like the nucleus.
            println!("ggipc: all components exited; nucleus keeps running (Ctrl-C to stop)");
            let s = (&mut sig).await;
            println!("ggipc: {s} received");
        }
    }
    n.stop().await;
    let ok = results.iter().all(|(_, o)| o.success());
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
    }
    if let Some(e) = v.get("embedded") {
        println!(
            "  embedded broker: {} subscriptions, {} messages dropped for MQTT clients that did not keep up",
            e["subscriptions"], e["dropped"]
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
