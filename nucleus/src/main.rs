//! `ggipc`: run and test Greengrass components locally. See `nucleus/README.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod cli_bench;
mod cli_client;
mod cli_config;
mod cli_passwd;
mod cli_run;

#[derive(Parser, Debug)]
#[command(
    name = "ggipc",
    version,
    about = "A local Greengrass nucleus: IPC server, MQTT broker/bridge, component launcher"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by `nucleus` and `run`.
#[derive(Args, Debug, Clone)]
pub struct NucleusArgs {
    /// Nucleus root directory: `ipc.socket`, `components.json`, `work/<component>`.
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Broker: `embedded` (default), `memory`, `mqtt://HOST:PORT`, `mqtts://HOST:PORT`.
    #[arg(long)]
    pub broker: Option<String>,
    /// Configuration file (YAML or JSON; nucleus-style `system.*` and `mqtt.*` keys).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Port of the embedded MQTT broker (default 1883; 0 = any free port, printed at start).
    #[arg(long = "mqtt-port")]
    pub mqtt_port: Option<u16>,
    /// Thing name (`{iot:thingName}`, AWS_IOT_THING_NAME, default MQTT client id).
    #[arg(long)]
    pub thing_name: Option<String>,
    /// MQTT client id for a remote broker.
    #[arg(long)]
    pub client_id: Option<String>,
    /// CA certificate (PEM) for mqtts://.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM) for mqtts://.
    #[arg(long)]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM) for mqtts://.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// MQTT protocol version for a remote broker: 5 (default) or 3 (3.1.1).
    #[arg(long = "mqtt-version", value_parser = ["3", "5"])]
    pub mqtt_version: Option<String>,
    /// Answer QoS 1 publishes only after the broker's PUBACK (mqtt.publishAckMode: puback).
    #[arg(long)]
    pub ack_after_puback: bool,
    /// Log filter (tracing syntax), e.g. `debug` or `ggipc_nucleus=debug`. RUST_LOG also works.
    #[arg(long, default_value = "info")]
    pub log: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve IPC for the given recipes' components until SIGINT/SIGTERM (components are started by you).
    Nucleus {
        #[command(flatten)]
        args: NucleusArgs,
        /// Recipe file (JSON or YAML); repeatable.
        #[arg(long = "recipe", required = false)]
        recipes: Vec<PathBuf>,
    },
    /// Nucleus plus a local deployment: run each recipe's lifecycle.
    Run(cli_run::RunArgs),
    /// Print `export` lines for a component registered with a running nucleus.
    Env {
        #[arg(long)]
        root: PathBuf,
        component: String,
    },
    /// Counters of a running nucleus: connections, subscriptions, events delivered and dropped, lag episodes, the
    /// broker side.
    Status {
        #[arg(long)]
        root: PathBuf,
    },
    /// Publish to IoT Core through IPC (identity from SVCUID and the socket variable, like a component).
    Pub(cli_client::PubArgs),
    /// Subscribe to IoT Core through IPC and print messages.
    Sub(cli_client::SubArgs),
    /// Benchmarks: end-to-end IPC → broker → IPC throughput and latency; nucleus memory.
    Bench(cli_client::BenchArgs),
    /// Read or change a component's configuration in a running nucleus (validators asked, subscribers told).
    Config(cli_config::ConfigArgs),
    /// Send a local deployment's events (validation, component updates with deferrals) to a running nucleus.
    Deploy(cli_config::DeployArgs),
    /// Add a user to the embedded broker's password file (`mqtt.embedded.passwordFile`), or change its password.
    /// The password is read from standard input (asked twice, without echo, on a terminal); the file keeps an
    /// Argon2id hash of it.
    Passwd {
        /// The password file (created, mode 0600, when missing).
        file: PathBuf,
        /// The user name.
        user: String,
    },
}

pub fn init_logging(filter: &str) {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| filter.to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Keeps large message buffers in the heap. glibc maps every allocation above its (adaptive) mmap threshold
/// afresh and gives freed heap tops back to the kernel, so each 100 KiB-sized message buffer cost a round of page
/// faults on first touch: measured, about a fifth of the CPU of a 128 KiB publish. With these settings buffers
/// of up to 4 MiB come from the heap, and up to 16 MiB of freed heap stays mapped for reuse.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 16 << 20);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A nucleus serving many components needs more descriptors than the common soft limit of 1,024.
    cli_bench::raise_fd_limit();
    tune_allocator();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ggipc: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Nucleus { args, recipes } => rt.block_on(cli_run::nucleus(args, recipes)),
        Command::Run(args) => rt.block_on(cli_run::run(args)),
        Command::Env { root, component } => cli_run::env(&root, &component),
        Command::Status { root } => cli_run::status(&root),
        Command::Pub(args) => rt.block_on(cli_client::publish(args)),
        Command::Sub(args) => rt.block_on(cli_client::subscribe(args)),
        Command::Bench(args) => rt.block_on(cli_client::bench(args)),
        Command::Config(args) => rt.block_on(cli_config::config(args)),
        Command::Deploy(args) => rt.block_on(cli_config::deploy(args)),
        Command::Passwd { file, user } => cli_passwd::passwd(&file, &user),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ggipc: {e}");
            ExitCode::from(2)
        }
    }
}
