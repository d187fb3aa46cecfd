//! Nucleus killed (SIGKILL) and restarted while clients with a `ReconnectPolicy` publish QoS 1 and hold
//! subscriptions: every publish is either confirmed or fails with an error (none vanish, none hang), every
//! subscription is told (Interrupted, then Resumed or Closed with a reason), and — when the restarted
//! server still knows the component's token — every subscription comes back and receives again.

use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::server::{AccessControl, MemoryBroker, Server, ServerConfig};
use ggipc::{Client, SubscriptionEvent};
use ggipc_reliability::*;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PUBLISHERS: usize = 4;
const SUBSCRIPTIONS: usize = 8;

#[derive(Default, Debug)]
struct Tally {
    confirmed: AtomicU64,
    failed: AtomicU64,
    errors: Mutex<HashMap<String, u64>>,
}

impl Tally {
    fn record(&self, r: ggipc::Result<()>) {
        match r {
            Ok(()) => {
                self.confirmed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                *self
                    .errors
                    .lock()
                    .unwrap()
                    .entry(format!("{:?}", e.kind()))
                    .or_default() += 1;
            }
        }
    }
}

/// Publishers loop until `stop`; every call's outcome is recorded; returns the number of calls made.
fn spawn_publishers(
    clients: &[Client],
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<u64>> {
    clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (c, tally, stop) = (c.clone(), tally.clone(), stop.clone());
            tokio::spawn(async move {
                let mut calls = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let req = PublishToIoTCoreRequest::new(
                        format!("rel/{i}/x"),
                        Qos::AtLeastOnce,
                        format!("{calls}"),
                    );
                    // A hang would show up here: every call is bounded by the 5 s operation timeout, and a
                    // call outliving it is a failure of the test.
                    let r =
                        tokio::time::timeout(Duration::from_secs(8), c.publish_to_iot_core(req))
                            .await
                            .expect("a publish hung past its timeout");
                    tally.record(r.map(|_| ()));
                    calls += 1;
                }
                calls
            })
        })
        .collect()
}

#[derive(Debug, Default, Clone)]
struct SubLog {
    messages: u64,
    interrupted: u64,
    resumed: u64,
    closed: Option<String>,
}

fn spawn_subscriber(
    mut sub: ggipc::Subscription,
    log: Arc<Mutex<SubLog>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(ev) = sub.next().await {
            let mut l = log.lock().unwrap();
            match ev {
                SubscriptionEvent::Message(_) => l.messages += 1,
                SubscriptionEvent::Interrupted(_) => l.interrupted += 1,
                SubscriptionEvent::Resumed => l.resumed += 1,
                SubscriptionEvent::Closed(reason) => {
                    l.closed = Some(format!("{reason:?}"));
                    return;
                }
                SubscriptionEvent::Error(_) | SubscriptionEvent::Lagged(_) => {}
            }
        }
    })
}

/// Publishers and subscribers with a `ReconnectPolicy` on `socket`; after 2,000 confirmed publishes
/// `kill_and_restart` SIGKILLs the server and starts it again. Every subscription must be interrupted,
/// resume and receive again; every publish call must end confirmed or with an error. Returns what
/// `kill_and_restart` returned (the restarted server, kept alive until the caller drops it).
async fn scenario<R: Send + 'static>(
    what: &str,
    socket: &std::path::Path,
    pub_token: &str,
    sub_token: &str,
    kill_and_restart: impl FnOnce() -> R + Send + 'static,
) -> R {
    let mut pubs = Vec::new();
    for _ in 0..PUBLISHERS {
        pubs.push(client(socket, pub_token, true).await.unwrap());
    }
    let subc = client(socket, sub_token, true).await.unwrap();
    let mut lifecycle = subc.lifecycle();
    let mut logs = Vec::new();
    for i in 0..SUBSCRIPTIONS {
        let filter = if i.is_multiple_of(2) {
            "rel/#".to_string()
        } else {
            format!("rel/{}/+", i % PUBLISHERS)
        };
        let sub = subc
            .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(filter, Qos::AtLeastOnce))
            .await
            .unwrap();
        let log = Arc::new(Mutex::new(SubLog::default()));
        spawn_subscriber(sub, log.clone());
        logs.push(log);
    }
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = spawn_publishers(&pubs, tally.clone(), stop.clone());
    wait_until("publishes before the stop", Duration::from_secs(10), || {
        tally.confirmed.load(Ordering::Relaxed) > 2000
    })
    .await;
    // SIGKILL, then the same server again on the same socket path.
    let killed_at = Instant::now();
    let kept = tokio::task::spawn_blocking(kill_and_restart).await.unwrap();
    let restarted_in = killed_at.elapsed();
    for (i, l) in logs.iter().enumerate() {
        let log = l.clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        while log.lock().unwrap().resumed == 0 {
            assert!(
                Instant::now() < deadline,
                "subscription {i} not resumed within 10 s: {:?}; publishes {:?}; subscriber client connected: {}, lifecycle: {:?}",
                log.lock().unwrap(),
                tally,
                subc.is_connected(),
                {
                    let mut v = Vec::new();
                    while let Ok(e) = lifecycle.try_recv() {
                        v.push(format!("{e:?}"));
                    }
                    v
                }
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let l = l.lock().unwrap();
        assert!(l.closed.is_none(), "subscription {i} closed");
        assert!(
            l.interrupted >= 1,
            "subscription {i} not told of the interruption"
        );
    }
    let confirmed_at_resume = tally.confirmed.load(Ordering::Relaxed);
    wait_until(
        "publishes after the restart",
        Duration::from_secs(10),
        || tally.confirmed.load(Ordering::Relaxed) > confirmed_at_resume + 2000,
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut calls = 0;
    for t in tasks {
        calls += t.await.unwrap();
    }
    let (confirmed, failed) = (
        tally.confirmed.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    assert_eq!(confirmed + failed, calls);
    // Every subscription receives after resuming: counts grow.
    let counts: Vec<u64> = logs.iter().map(|l| l.lock().unwrap().messages).collect();
    let marker = PublishToIoTCoreRequest::new("rel/0/x", Qos::AtLeastOnce, "marker");
    pubs[0].publish_to_iot_core(marker).await.unwrap();
    for (i, l) in logs.iter().enumerate() {
        let (log, before) = (l.clone(), counts[i]);
        let matches = i.is_multiple_of(2) || i.is_multiple_of(PUBLISHERS);
        if matches {
            wait_until("delivery after resume", Duration::from_secs(5), || {
                log.lock().unwrap().messages > before
            })
            .await;
        }
    }
    let errors = tally.errors.lock().unwrap().clone();
    let resumed_in = killed_at.elapsed();
    report(
        "restart",
        &format!(
            "| {what} SIGKILLed and restarted on the same socket, {PUBLISHERS} QoS 1 publishers with `ReconnectPolicy`, {SUBSCRIPTIONS} subscriptions | {calls} publish calls: {confirmed} confirmed, {failed} failed with an error {errors:?}, 0 vanished or hung | restart {} ms; {SUBSCRIPTIONS}/{SUBSCRIPTIONS} subscriptions interrupted, resumed and receiving again (all within {:.1} s of the kill) | nothing |",
            restarted_in.as_millis(),
            resumed_in.as_secs_f64()
        ),
    );
    kept
}

/// The real `ggipc nucleus` (memory broker), SIGKILLed and restarted on the same root: it keeps its tokens
/// (`<root>/tokens.json`), so the clients' reconnects are accepted and every subscription comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nucleus_sigkill_every_subscription_resumes_every_publish_accounted() {
    let dir = TempDir::new("restart");
    let recipes = vec![
        write_recipe(dir.path(), "com.rel.Pub", &["rel/#"], &[]),
        write_recipe(dir.path(), "com.rel.Sub", &[], &["rel/#"]),
    ];
    let nucleus = Nucleus::start(dir.path(), &recipes, &["--broker", "memory"]);
    let socket = nucleus.socket();
    let (pt, st) = (nucleus.token("com.rel.Pub"), nucleus.token("com.rel.Sub"));
    let nucleus = scenario(
        "`ggipc nucleus` (memory broker)",
        &socket,
        &pt,
        &st,
        move || {
            let mut n = nucleus;
            n.restart();
            n
        },
    )
    .await;
    assert_eq!(
        nucleus.token("com.rel.Pub"),
        pt,
        "tokens kept across the restart"
    );
}

/// Not a test on its own: the server process of the next test (this test binary re-executed with
/// `GGR_SERVER_SOCKET` set), so that it can be SIGKILLed like a nucleus.
#[test]
#[ignore = "helper process of server_process_sigkill_same_tokens_every_subscription_resumes"]
fn server_process() {
    let Some(socket) = std::env::var_os("GGR_SERVER_SOCKET") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = Server::new(ServerConfig::new(socket), Arc::new(MemoryBroker::new()));
        for (name, token) in [("com.rel.Pub", "PUBTOKEN"), ("com.rel.Sub", "SUBTOKEN")] {
            server.components().register_with_token(
                name,
                AccessControl::allow_all_mqtt(),
                token.into(),
            );
        }
        server.serve(std::future::pending()).await.unwrap();
    });
}

fn spawn_server_process(socket: &std::path::Path) -> std::process::Child {
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "server_process", "--nocapture"])
        .env("GGR_SERVER_SOCKET", socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until_blocking(
        "the server process to listen",
        Duration::from_secs(20),
        || std::os::unix::net::UnixStream::connect(socket).is_ok(),
    );
    child
}

/// The same on a bare core server process that registers fixed tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_process_sigkill_same_tokens_every_subscription_resumes() {
    let dir = TempDir::new("restart3");
    let socket = dir.path().join("ipc.socket");
    let mut child = spawn_server_process(&socket);
    let s2 = socket.clone();
    let mut child = scenario(
        "core server process",
        &socket,
        "PUBTOKEN",
        "SUBTOKEN",
        move || {
            child.kill().unwrap();
            child.wait().unwrap();
            spawn_server_process(&s2)
        },
    )
    .await;
    child.kill().unwrap();
    child.wait().unwrap();
}
