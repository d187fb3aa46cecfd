//! The bodies of the server fuzz targets, shared by the libFuzzer binaries (`fuzz_targets/`) and the
//! regression tests that replay every crash found (`regressions/`).
//!
//! - [`server_rpc`]: arbitrary bytes written, in arbitrary chunks, on one connection to an in-process
//!   [`Server`] with a [`MemoryBroker`]. Afterwards the server must not have panicked, a well-formed publish on
//!   a fresh connection must still succeed, and once every connection is closed no broker subscription
//!   may remain.
//! - [`recipe`]: [`Recipe::parse`] on arbitrary JSON or YAML; what parses yields policies whose strict
//!   filter authorization is never wider than literal matching of a concrete topic.

use ggipc::model::{PublishToIoTCoreRequest, Qos};
use ggipc::server::{
    AccessControl, FilterAuthorization, MemoryBroker, Recipe, Server, ServerConfig, ServerHandle,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// The token the seed vectors (`tests/vectors/ipc.json`) connect with.
pub const TOKEN: &str = "TESTTOKEN123";
const MQTT: &str = "aws.greengrass.ipc.mqttproxy";

static PANICS: AtomicUsize = AtomicUsize::new(0);

struct Fixture {
    rt: tokio::runtime::Runtime,
    broker: Arc<MemoryBroker>,
    server: Server,
    _handle: ServerHandle,
    _dir: PathBuf,
}

fn fixture() -> &'static Mutex<Fixture> {
    static F: OnceLock<Mutex<Fixture>> = OnceLock::new();
    F.get_or_init(|| {
        // Count panics on any thread (server tasks included: tokio would otherwise swallow them), then
        // let the previous hook run (libFuzzer's aborts, which is how it records a crash).
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
        // The fixture lives as long as the process (a static is never dropped), so its directory outlives it:
        // each run removes those of runs whose process is gone.
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let broker = Arc::new(MemoryBroker::new());
        let config = ServerConfig {
            connect_timeout: Duration::from_secs(2),
            ..ServerConfig::new(dir.join("ipc.socket"))
        };
        let server = Server::new(config, broker.clone());
        let access = AccessControl::from_rules(&[(
            MQTT,
            &["*"],
            &["test/#", "a/#", "keep/#", "fuzz/#", "+/x"],
        )])
        .expect("policy");
        server
            .components()
            .register_with_token("com.example.Fuzz", access, TOKEN.to_string());
        let handle = rt.block_on(async { server.spawn() }).expect("server");
        Mutex::new(Fixture {
            rt,
            broker,
            server,
            _handle: handle,
            _dir: dir,
        })
    })
}

/// The fixture's directory in the temporary directory: this prefix and the process id.
const DIR_PREFIX: &str = "ggipc-fuzz-";

/// Removes the fixture directories of processes that no longer run.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// One server RPC fuzz case: `data[0]` is the write chunk size (0 = everything at once), the rest is
/// written to a fresh connection. Panics if the server panicked, stopped serving, or leaked a subscription.
pub fn server_rpc(data: &[u8]) {
    let Some((&chunk, bytes)) = data.split_first() else {
        return;
    };
    let f = fixture().lock().unwrap_or_else(|e| e.into_inner());
    let before = PANICS.load(Ordering::SeqCst);
    let path = f.server.config().socket_path.clone();
    let mut subs_before = f.broker.subscriptions();
    subs_before.sort();
    f.rt.block_on(async {
        let mut s = UnixStream::connect(&path).await.expect("connect");
        let step = if chunk == 0 {
            bytes.len().max(1)
        } else {
            usize::from(chunk)
        };
        for piece in bytes.chunks(step) {
            if s.write_all(piece).await.is_err() {
                break; // the server closed the connection: allowed
            }
        }
        let _ = s.shutdown().await;
        // Drain what the server answers until it closes (it must: our side is closed).
        let mut sink = [0u8; 16 * 1024];
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match s.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(
            drained.is_ok(),
            "server kept a half-closed connection open for 5 s: {:?}, broker subscriptions {:?}",
            f.server.stats(),
            f.broker.subscriptions()
        );
        drop(s);

        // Still serving: a well-formed publish on a fresh connection succeeds.
        let client = ggipc::Client::builder()
            .socket_path(&path)
            .auth_token(TOKEN)
            .connect_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("fresh connection after the fuzz case");
        client
            .publish_to_iot_core(PublishToIoTCoreRequest::new(
                "fuzz/health",
                Qos::AtLeastOnce,
                "ok",
            ))
            .await
            .expect("publish after the fuzz case");
        client.close().await;

        // Every connection ends and takes its subscriptions with it (compared with the subscriptions held
        // before this case, so that a leak found by an earlier case is not blamed on this one).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut now = f.broker.subscriptions();
            now.sort();
            if f.server.stats().connections_active == 0 && now == subs_before {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "after every connection closed: {:?}, broker subscriptions {now:?} (before: {subs_before:?})",
                f.server.stats(),
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    f.broker.clear_recorded();
    assert_eq!(PANICS.load(Ordering::SeqCst), before, "the server panicked");
}

/// One recipe fuzz case: `data[0]` selects JSON (even) or YAML (odd), the rest is the text.
pub fn recipe(data: &[u8]) {
    let Some((&kind, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let Ok(r) = Recipe::parse(text, kind % 2 == 0) else {
        return;
    };
    let _ = (r.name(), r.version(), r.default_configuration());
    let ac = r.access_control();
    for p in &ac.policies {
        for res in &p.resources {
            let topic = res.as_str();
            for op in p.operations.iter().map(String::as_str).chain(["*", "x"]) {
                let literal = ac.is_authorized(
                    &p.destination,
                    op,
                    topic,
                    true,
                    FilterAuthorization::Literal,
                );
                let strict =
                    ac.is_authorized(&p.destination, op, topic, true, FilterAuthorization::Strict);
                // A filter without wildcards is exactly one topic: both modes must agree on it.
                if !topic.contains('+') && !topic.contains('#') {
                    assert_eq!(strict, literal, "{topic:?}");
                }
            }
        }
    }
}
