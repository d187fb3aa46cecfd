//! A stand-alone IPC server with the in-memory broker, for interop tests and benchmarks.
//!
//! ```text
//! cargo run -p ggipc --example ipc_server -- SOCKET RECIPE [RECIPE ...]
//! ```
//! Registers each recipe's component, prints one line `TOKEN <component> <svcuid>` per component and then
//! `READY`, and serves until its standard input closes (or SIGINT/SIGTERM). A component whose recipe sets
//! `ComponentConfiguration.DefaultConfiguration.svcuid` gets that token instead of a random one. Every component
//! gets its recipe's `DefaultConfiguration` as its configuration; nobody runs components here, so their
//! lifecycle state is NEW (RestartComponent answers FAILED).
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

use ggipc::server::{MemoryBroker, Recipe, Server, ServerConfig};
use std::io::{BufRead, Write};
use std::sync::Arc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: ipc_server SOCKET RECIPE [RECIPE ...]");
        std::process::exit(2);
    }
    let server = Server::new(ServerConfig::new(&args[0]), Arc::new(MemoryBroker::new()));
    let mut out = std::io::stdout().lock();
    for path in &args[1..] {
        let recipe = match Recipe::load(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        };
        let fixed = recipe
            .default_configuration()
            .and_then(|c| c.get("svcuid"))
            .and_then(|v| v.as_str());
        let token = match fixed {
            Some(t) => server.register_recipe_with_token(&recipe, t.into()),
            None => server.register_recipe(&recipe),
        };
        writeln!(out, "TOKEN {} {}", recipe.name(), token).unwrap();
    }
    let handle = match server.spawn() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cannot serve {}: {e}", args[0]);
            std::process::exit(1);
        }
    };
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    drop(out);
    let stdin_closed = tokio::task::spawn_blocking(|| for _ in std::io::stdin().lock().lines() {});
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    tokio::select! {
        _ = stdin_closed => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    let stats = handle.server().stats();
    handle.shutdown().await.unwrap();
    eprintln!("{stats:?}");
}
