//! `ggipc config get|set|reset` and `ggipc deploy --simulate`: requests to a running nucleus' control socket.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ggipc_nucleus::control;
use serde_json::{json, Value};

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print a component's configuration, or the value at KEYPATH (`a/b`).
    Get {
        #[arg(long, default_value = ".ggipc")]
        root: PathBuf,
        component: String,
        keypath: Option<String>,
    },
    /// Merge VALUE (JSON) at KEYPATH (`a/b`; `/` for the whole configuration, VALUE then an object), as a
    /// deployment's MERGE: validators are asked first, subscribers get their events.
    Set {
        #[arg(long, default_value = ".ggipc")]
        root: PathBuf,
        component: String,
        keypath: String,
        value: String,
    },
    /// Reset KEYPATH (or everything) to the recipe's DefaultConfiguration, as a deployment's RESET.
    Reset {
        #[arg(long, default_value = ".ggipc")]
        root: PathBuf,
        component: String,
        keypath: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// Send the deployment's events to the running nucleus' components (required: there is no cloud).
    #[arg(long, required = true)]
    pub simulate: bool,
    #[arg(long, default_value = ".ggipc")]
    pub root: PathBuf,
    /// Configuration updates (`{"COMPONENT": {"MERGE": {…}, "RESET": ["/key"]}}`, JSON or YAML).
    #[arg(long)]
    pub config_update: Option<PathBuf>,
    /// Seconds deferrals (DeferComponentUpdate) may postpone the deployment in all before it fails.
    #[arg(long, default_value_t = ggipc_nucleus::deploy::DEFER_LIMIT.as_secs())]
    pub defer_limit: u64,
    /// Seconds a component's validators have to answer (the nucleus' default: 20).
    #[arg(long, default_value_t = ggipc_nucleus::deploy::VALIDATION_TIMEOUT.as_secs())]
    pub validation_timeout: u64,
    /// Components the deployment targets (their configuration unchanged unless --config-update says so).
    pub components: Vec<String>,
}

fn key_path(k: &str) -> Vec<String> {
    k.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Prints a deployment's answer; success only if it was applied.
fn report(answer: &Value) -> ExitCode {
    for line in answer["log"].as_array().into_iter().flatten() {
        println!("ggipc: {}", line.as_str().unwrap_or_default());
    }
    if answer["ok"] == true {
        println!(
            "ggipc: deployment {} succeeded",
            answer["deploymentId"].as_str().unwrap_or_default()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "ggipc: deployment {}failed: {}",
            answer["deploymentId"]
                .as_str()
                .map(|d| format!("{d} "))
                .unwrap_or_default(),
            answer["error"].as_str().unwrap_or_default()
        );
        ExitCode::FAILURE
    }
}

pub async fn config(args: ConfigArgs) -> Result<ExitCode, String> {
    match args.command {
        ConfigCommand::Get {
            root,
            component,
            keypath,
        } => {
            let path = keypath.as_deref().map(key_path).unwrap_or_default();
            let answer = control::request(
                &root,
                &json!({"get": {"component": component, "keyPath": path}}),
            )
            .await?;
            if answer["ok"] != true {
                return Err(answer["error"].as_str().unwrap_or("refused").to_owned());
            }
            println!(
                "{}",
                serde_json::to_string_pretty(&answer["value"]).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Set {
            root,
            component,
            keypath,
            value,
        } => {
            let value: Value = serde_json::from_str(&value).map_err(|e| {
                format!("VALUE {value:?} is not JSON: {e} (a string is written with quotes: '\"text\"')")
            })?;
            let path = key_path(&keypath);
            let merge = path.iter().rev().fold(value, |v, k| json!({ k: v }));
            if !merge.is_object() {
                return Err(
                    "VALUE for the whole configuration (KEYPATH /) must be a JSON object".into(),
                );
            }
            let answer = control::request(
                &root,
                &json!({"deploy": {"updates": {component: {"MERGE": merge}}}}),
            )
            .await?;
            Ok(report(&answer))
        }
        ConfigCommand::Reset {
            root,
            component,
            keypath,
        } => {
            let p = keypath
                .as_deref()
                .map(|k| pointer(&key_path(k)))
                .unwrap_or_default();
            let answer = control::request(
                &root,
                &json!({"deploy": {"updates": {component: {"RESET": [p]}}}}),
            )
            .await?;
            Ok(report(&answer))
        }
    }
}

pub async fn deploy(args: DeployArgs) -> Result<ExitCode, String> {
    let updates = match &args.config_update {
        Some(p) => {
            let value = ggipc::server::Recipe::read_document(p).map_err(|e| e.to_string())?;
            // Checked here too, so a bad file is reported before anything is sent.
            ggipc_nucleus::deploy::read_updates(p)?;
            value
        }
        None => json!({}),
    };
    let answer = control::request(
        &args.root,
        &json!({"deploy": {
            "updates": updates,
            "components": args.components,
            "deferLimitSecs": args.defer_limit,
            "validationTimeoutSecs": args.validation_timeout,
        }}),
    )
    .await?;
    Ok(report(&answer))
}
