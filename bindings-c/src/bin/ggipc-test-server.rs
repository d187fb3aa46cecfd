//! A small IPC server for the C and C++ test suites, examples and benchmarks: the
//! core server with an in-memory broker (publishes reach matching subscribers,
//! including the publisher itself) and fixed components:
//!
//! | component                          | token              | may                                  |
//! |------------------------------------|--------------------|--------------------------------------|
//! | `com.example.Test`                 | `GGIPCTESTTOKEN01` | publish/subscribe `test/#`, `bench/#` |
//! | `com.example.IoTCorePublisherCpp`  | `GGIPCTESTTOKEN02` | publish anything                     |
//! | `com.example.IoTCoreSubscriberCpp` | `GGIPCTESTTOKEN03` | subscribe anything                   |
//!
//! Usage: `ggipc-test-server --socket PATH [--ready-file PATH]`. Once the socket is
//! listening, writes `ready` to the ready file (created atomically) and prints
//! `READY <socket>`; serves until SIGTERM/SIGINT or until stdin reaches end of file
//! when `--stdin-eof` is given.

use std::path::PathBuf;
use std::sync::Arc;

use ggipc_core::server::{AccessControl, MemoryBroker, Server, ServerConfig};
use tokio::io::AsyncReadExt;

const MQTT: &str = "aws.greengrass.ipc.mqttproxy";
const PUBLISH: &str = "aws.greengrass#PublishToIoTCore";
const SUBSCRIBE: &str = "aws.greengrass#SubscribeToIoTCore";

fn usage() -> ! {
    eprintln!("usage: ggipc-test-server --socket PATH [--ready-file PATH] [--stdin-eof]");
    std::process::exit(2);
}

fn main() {
    let mut socket: Option<PathBuf> = None;
    let mut ready: Option<PathBuf> = None;
    let mut stdin_eof = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--socket" => socket = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--ready-file" => ready = Some(args.next().unwrap_or_else(|| usage()).into()),
            "--stdin-eof" => stdin_eof = true,
            _ => usage(),
        }
    }
    let socket = socket.unwrap_or_else(|| usage());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("test-server")
        .build()
        .expect("building the server runtime");
    if let Err(e) = rt.block_on(run(socket, ready, stdin_eof)) {
        eprintln!("ggipc-test-server: {e}");
        std::process::exit(1);
    }
}

async fn run(socket: PathBuf, ready: Option<PathBuf>, stdin_eof: bool) -> std::io::Result<()> {
    let config = ServerConfig::new(&socket);
    let server = Server::new(config, Arc::new(MemoryBroker::new()));
    let policy = |rules: &[(&str, &[&str], &[&str])]| {
        AccessControl::from_rules(rules).expect("valid test policy")
    };
    let reg = server.components();
    reg.register_with_token(
        "com.example.Test",
        policy(&[(MQTT, &[PUBLISH, SUBSCRIBE], &["test/#", "bench/#"])]),
        "GGIPCTESTTOKEN01".into(),
    );
    reg.register_with_token(
        "com.example.IoTCorePublisherCpp",
        policy(&[(MQTT, &[PUBLISH], &["*"])]),
        "GGIPCTESTTOKEN02".into(),
    );
    reg.register_with_token(
        "com.example.IoTCoreSubscriberCpp",
        policy(&[(MQTT, &[SUBSCRIBE], &["*"])]),
        "GGIPCTESTTOKEN03".into(),
    );
    let bound = server.bind()?;
    if let Some(ready) = ready {
        let tmp = ready.with_extension("tmp");
        std::fs::write(&tmp, "ready\n")?;
        std::fs::rename(&tmp, &ready)?;
    }
    println!("READY {}", socket.display());
    bound
        .run(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            let eof = async {
                if stdin_eof {
                    let mut buf = [0u8; 64];
                    let mut stdin = tokio::io::stdin();
                    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
                } else {
                    std::future::pending::<()>().await
                }
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = eof => {}
            }
        })
        .await
}
