//! A local IPC server for the Java binding's tests and benchmark: `ggipc::server` over a broker.
//!
//! ```text
//! ggipc-test-server <socket path> [--minimal-broker]
//! ```
//!
//! Registers two components and prints one JSON line, then serves until its standard input closes (so it never
//! outlives the process that started it):
//! `{"socket":"…","full":"<svcuid>","limited":"<svcuid>"}`
//! - `full` may publish and subscribe on every IoT Core topic, and locally on `blobs/*`;
//! - `limited` may publish and subscribe only on `allowed/#`.
//!
//! By default the broker is ggipc's `MemoryBroker`, which delivers every message a component publishes to the
//! matching subscriptions (a component receives its own messages, as with IoT Core). `--minimal-broker` (for
//! benchmarks) accepts publishes and drops them, so that the server's own bookkeeping does not dominate a
//! comparison of clients.
//!
//! With either broker, a publish to `ggipc/test/burst` with payload `<count> <size> <topic> [<window>]` makes
//! the server deliver `count` messages of `size` bytes on `topic` (the first 8 bytes of each payload hold its
//! big-endian sequence number), for event-throughput tests. With `window`, the server keeps at most `window`
//! messages unacknowledged: the receiver publishes the number it has received so far (ASCII) to
//! `ggipc/test/ack` from time to time. This keeps a burst within the client's bounded subscription queue.

mod minimal_broker;

use std::io::{BufRead, Write};
use std::sync::Arc;

use ggipc::model::MqttMessage;
use ggipc::server::{AccessControl, Broker, BrokerPublish, MemoryBroker, Server, ServerConfig};
use tokio::sync::broadcast::{self, error::RecvError};

const BURST_TOPIC: &str = "ggipc/test/burst";
const ACK_TOPIC: &str = "ggipc/test/ack";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let minimal = args.iter().any(|a| a == "--minimal-broker");
    let Some(socket) = args.iter().find(|a| !a.starts_with("--")).cloned() else {
        eprintln!("usage: ggipc-test-server <socket path> [--minimal-broker]");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(serve(socket, minimal));
}

/// `<count> <size> <topic> [<window>]`
fn parse_burst(spec: &[u8]) -> Option<(u64, usize, String, Option<u64>)> {
    let spec = String::from_utf8_lossy(spec);
    let mut parts = spec.split_whitespace();
    let count = parts.next()?.parse().ok()?;
    let size = parts.next()?.parse::<usize>().ok()?.max(8);
    let topic = parts.next()?.to_string();
    let window = parts.next().and_then(|s| s.parse().ok());
    Some((count, size, topic, window))
}

async fn serve(socket: String, minimal: bool) {
    let memory = Arc::new(MemoryBroker::new());
    let broker: Arc<dyn Broker> = if minimal {
        Arc::new(minimal_broker::Shared(Arc::default()))
    } else {
        memory.clone()
    };
    let server = Server::new(ServerConfig::new(socket.clone()), broker);
    // Every IoT Core topic, and local publish/subscribe on `blobs/*` only (for the blob round trips; other
    // local topics stay refused).
    let full_policy = AccessControl::from_rules(&[
        ("aws.greengrass.ipc.mqttproxy", &["*"], &["*"]),
        ("aws.greengrass.ipc.pubsub", &["*"], &["blobs/*"]),
    ])
    .expect("valid policy");
    let full = server.components().register("test.full", full_policy);
    let limited_policy = AccessControl::from_rules(&[(
        "aws.greengrass.ipc.mqttproxy",
        &[
            "aws.greengrass#PublishToIoTCore",
            "aws.greengrass#SubscribeToIoTCore",
        ],
        &["allowed/#"],
    )])
    .expect("valid policy");
    let limited = server.components().register("test.limited", limited_policy);
    let bound = server.bind().expect("bind the IPC socket");

    if !minimal {
        // Run bursts on request.
        let mut tap = memory.tap();
        tokio::spawn(async move {
            loop {
                match tap.recv().await {
                    Ok(p) => {
                        if p.message.topic() == BURST_TOPIC {
                            if let Some((count, size, topic, window)) =
                                parse_burst(p.message.payload_bytes())
                            {
                                burst(&memory, count, size, topic, window, &mut tap).await;
                            }
                        }
                    }
                    // Publishes from a benchmark can outrun the tap; only burst requests matter here.
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }

    println!(
        "{}",
        serde_json::json!({ "socket": socket, "full": full, "limited": limited })
    );
    let _ = std::io::stdout().flush();

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            if line.is_err() {
                break;
            }
        }
        let _ = stop_tx.send(());
    });
    if let Err(e) = bound
        .run(async {
            let _ = stop_rx.await;
        })
        .await
    {
        eprintln!("ggipc-test-server: {e}");
    }
    let _ = std::fs::remove_file(&socket);
}

/// A burst through the memory broker; acks are read from its tap.
async fn burst(
    broker: &MemoryBroker,
    count: u64,
    size: usize,
    topic: String,
    window: Option<u64>,
    tap: &mut broadcast::Receiver<BrokerPublish>,
) {
    let mut acked = 0u64;
    for i in 0..count {
        if let Some(w) = window {
            while i >= acked + w {
                let wait =
                    tokio::time::timeout(std::time::Duration::from_secs(10), tap.recv()).await;
                match wait {
                    Ok(Ok(p)) if p.message.topic() == ACK_TOPIC => {
                        let n = String::from_utf8_lossy(p.message.payload_bytes())
                            .trim()
                            .parse()
                            .unwrap_or(0);
                        acked = acked.max(n);
                    }
                    Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
                    // No ack for 10 s (or the tap is gone): the receiver is gone, stop.
                    Ok(Err(RecvError::Closed)) | Err(_) => return,
                }
            }
        }
        let mut payload = vec![0u8; size];
        payload[..8].copy_from_slice(&i.to_be_bytes());
        // The memory broker drops messages for a subscriber that is too slow; pace the burst so that
        // every message is delivered (the benchmark measures the client, not the drop policy). Give up on a
        // subscriber that takes nothing for 10 s.
        let started = std::time::Instant::now();
        loop {
            let dropped = broker.dropped();
            let taken = broker.inject(MqttMessage::new(topic.clone(), payload.clone()));
            if taken > 0 || broker.dropped() == dropped || started.elapsed().as_secs() >= 10 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
        if i % 256 == 255 {
            tokio::task::yield_now().await;
        }
    }
}
