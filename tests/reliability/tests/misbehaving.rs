//! Clients that misbehave against the real `ggipc nucleus`: killed mid-stream (SIGKILL of `ggipc pub` /
//! `ggipc sub` processes), stopped reading while messages flow to them, sent half a frame and stalled, or
//! connected and never said CONNECT. The nucleus frees their resources (open descriptors back to the
//! baseline, resident memory bounded, watched in `/proc/<pid>`), and a well-behaved subscriber on the same
//! topics keeps receiving every message.

use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::SubscriptionEvent;
use ggipc_reliability::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn setup(tag: &str) -> (TempDir, Nucleus) {
    let dir = TempDir::new(tag);
    let recipes = vec![
        write_recipe(dir.path(), "com.rel.Good", &["mis/#"], &["mis/#"]),
        write_recipe(dir.path(), "com.rel.Bad", &["mis/#"], &["mis/#"]),
    ];
    let n = Nucleus::start(dir.path(), &recipes, &["--broker", "memory"]);
    (dir, n)
}

/// Publishes `n` QoS 1 messages on `topic` and checks that `sub` receives exactly those, in order.
async fn check_service(good: &ggipc::Client, sub: &mut ggipc::Subscription, topic: &str, n: usize) {
    for i in 0..n {
        good.publish_to_iot_core(PublishToIoTCoreRequest::new(
            topic,
            Qos::AtLeastOnce,
            format!("{i}"),
        ))
        .await
        .expect("a well-behaved publisher is served");
    }
    for i in 0..n {
        let ev = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("delivery within 5 s");
        match ev {
            Some(SubscriptionEvent::Message(m)) => {
                assert_eq!(
                    m.message.as_ref().unwrap().payload.as_deref(),
                    Some(format!("{i}").as_bytes())
                )
            }
            other => panic!("expected message {i}, got {other:?}"),
        }
    }
}

fn ggipc_cli(n: &Nucleus, component: &str, args: &[&str]) -> std::process::Child {
    ggipc_cli_out(n, component, args, Stdio::null())
}

fn ggipc_cli_out(n: &Nucleus, component: &str, args: &[&str], out: Stdio) -> std::process::Child {
    Command::new(ggipc_bin())
        .args(args)
        .env("SVCUID", n.token(component))
        .env(
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT",
            n.socket(),
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ggipc client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_killed_mid_stream_are_released() {
    let (_dir, n) = setup("killed");
    let good = client(&n.socket(), &n.token("com.rel.Good"), false)
        .await
        .unwrap();
    let mut sub = good
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("mis/good", Qos::AtLeastOnce))
        .await
        .unwrap();
    check_service(&good, &mut sub, "mis/good", 100).await;
    let fd0 = n.fds();
    let rss0 = n.rss_kib();
    const ROUNDS: usize = 5;
    const PER_ROUND: usize = 20;
    let mut killed = 0;
    for _ in 0..ROUNDS {
        let mut children = Vec::new();
        for k in 0..PER_ROUND {
            children.push(if k % 2 == 0 {
                ggipc_cli(
                    &n,
                    "com.rel.Bad",
                    &[
                        "pub",
                        "-t",
                        "mis/flood",
                        "-q",
                        "1",
                        "-m",
                        "x{n}",
                        "-n",
                        "100000000",
                    ],
                )
            } else {
                ggipc_cli_out(
                    &n,
                    "com.rel.Bad",
                    &["sub", "-t", "mis/#", "-q", "1"],
                    Stdio::piped(),
                )
            });
        }
        // Mid-stream: every subscriber has printed a flooded message (so its subscription is established
        // and messages are flowing to it), then SIGKILL them all.
        let pid = n.pid();
        for c in children.iter_mut().filter(|c| c.stdout.is_some()) {
            let out = c.stdout.take().unwrap();
            let first = tokio::task::spawn_blocking(move || {
                use std::io::BufRead;
                let mut line = String::new();
                let n = std::io::BufReader::new(out)
                    .read_line(&mut line)
                    .unwrap_or(0);
                n > 0
            });
            assert!(
                tokio::time::timeout(Duration::from_secs(20), first)
                    .await
                    .expect("a subscriber process received nothing within 20 s")
                    .unwrap(),
                "a subscriber process ended"
            );
        }
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
            killed += 1;
        }
        wait_until(
            "the nucleus to release the killed clients' descriptors",
            Duration::from_secs(10),
            || proc_fds(pid) <= fd0,
        )
        .await;
    }
    check_service(&good, &mut sub, "mis/good", 100).await;
    let rss1 = n.rss_kib();
    // Killed while subscribing: SIGKILL as soon as the connection exists (the window of the known core
    // defect: a subscription set up while its connection ends is leaked with its descriptor). Measured,
    // not asserted (it is a race); the deterministic reproduction is in server_eof.rs.
    let pid = n.pid();
    let mut early = 0;
    for _ in 0..20 {
        // Let the previous one's descriptor go (or stay, if leaked) before watching for the next one.
        let settle = Instant::now() + Duration::from_secs(2);
        let mut last = proc_fds(pid);
        while Instant::now() < settle && last > fd0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
            last = proc_fds(pid);
        }
        let before = last;
        let mut c = ggipc_cli(&n, "com.rel.Bad", &["sub", "-t", "mis/#", "-q", "1"]);
        wait_until("the connection", Duration::from_secs(20), || {
            proc_fds(pid) > before
        })
        .await;
        let _ = c.kill();
        let _ = c.wait();
        early += 1;
    }
    let settle = Instant::now() + Duration::from_secs(5);
    while Instant::now() < settle && proc_fds(pid) > fd0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let leaked = proc_fds(pid).saturating_sub(fd0);
    report(
        "misbehaving",
        &format!(
            "| `ggipc sub` processes SIGKILLed as soon as their connection exists (during CONNECT/subscribe) | {early} processes | descriptors still held by the nucleus 5 s later: {leaked} | {} |",
            if leaked == 0 { "nothing this run (a race)".to_string() } else { format!("**DEFECT**: {leaked} descriptors leaked (the known subscribe/close race)") }
        ),
    );
    report(
        "misbehaving",
        &format!(
            "| clients killed mid-stream (SIGKILL of `ggipc pub -n 1e8` processes flooding and `ggipc sub` processes receiving) | {killed} processes in {ROUNDS} rounds | nucleus fds {fd0} before, back to ≤ {fd0} after each round; RSS {rss0} → {rss1} KiB; a well-behaved subscriber received 200/200 | nothing |"
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_does_not_hurt_others() {
    let (_dir, n) = setup("stuck");
    let socket = n.socket();
    let good = client(&socket, &n.token("com.rel.Good"), false)
        .await
        .unwrap();
    let mut sub = good
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
            "mis/stream",
            Qos::AtLeastOnce,
        ))
        .await
        .unwrap();
    let fd0 = n.fds();
    let rss0 = n.rss_kib();
    // Stuck subscribers: subscribe, then never read a byte again.
    const STUCK: usize = 5;
    let mut stuck = Vec::new();
    for _ in 0..STUCK {
        let (mut s, ok) = raw::handshake(&socket, &n.token("com.rel.Bad")).await;
        assert!(ok);
        s.write_all(&raw::encode(&raw::subscribe(1, "mis/#")))
            .await
            .unwrap();
        stuck.push(s);
    }
    // Flood: 20,000 messages of 1 KiB through the topic they subscribed to, while the good subscriber
    // consumes every one.
    const N: usize = 20_000;
    let payload = vec![b'x'; 1024];
    let publisher = client(&socket, &n.token("com.rel.Good"), false)
        .await
        .unwrap();
    let pubtask = tokio::spawn(async move {
        let mut window = Vec::new();
        for i in 0..N {
            let mut p = payload.clone();
            p[..8].copy_from_slice(&(i as u64).to_be_bytes());
            window.push(publisher.publish_to_iot_core(PublishToIoTCoreRequest::new(
                "mis/stream",
                Qos::AtLeastOnce,
                p,
            )));
            if window.len() == 64 {
                for r in futures_join(std::mem::take(&mut window)).await {
                    r.expect("publish while others are stuck");
                }
            }
        }
        for r in futures_join(window).await {
            r.expect("publish while others are stuck");
        }
    });
    let pid = n.pid();
    let mut peak = rss0;
    let mut got = 0usize;
    let started = Instant::now();
    while got < N {
        let ev = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("the good subscriber starves");
        match ev {
            Some(SubscriptionEvent::Message(m)) => {
                let p = m.message.unwrap().payload.unwrap();
                assert_eq!(
                    u64::from_be_bytes(p[..8].try_into().unwrap()),
                    got as u64,
                    "in order, none lost"
                );
                got += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
        if got.is_multiple_of(1000) {
            peak = peak.max(proc_rss_kib(pid));
        }
    }
    pubtask.await.unwrap();
    let took = started.elapsed();
    peak = peak.max(proc_rss_kib(pid));
    // Bounded: 5 stuck subscribers × 20 MiB of traffic would be 100 MiB if it were all buffered.
    assert!(
        peak < rss0 + 64 * 1024,
        "nucleus RSS grew from {rss0} to {peak} KiB"
    );
    drop(stuck);
    wait_until("descriptors released", Duration::from_secs(10), || {
        proc_fds(pid) <= fd0
    })
    .await;
    report(
        "misbehaving",
        &format!(
            "| {STUCK} subscribers that stop reading while {N} × 1 KiB QoS 1 messages flow to them | {N} messages ({} MiB per stuck subscriber) in {:.1} s | nucleus RSS {rss0} → peak {peak} KiB (bounded), fds back to {fd0} after they close; the good subscriber got {got}/{N} in order | nothing |",
            N / 1024,
            took.as_secs_f64()
        ),
    );
}

async fn futures_join<F: std::future::Future>(fs: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(fs.len());
    let handles: Vec<_> = fs.into_iter().map(Box::pin).collect();
    for h in handles {
        out.push(h.await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_frames_and_silent_connections_are_released() {
    let (_dir, n) = setup("half");
    let socket = n.socket();
    let good = client(&socket, &n.token("com.rel.Good"), false)
        .await
        .unwrap();
    let mut sub = good
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("mis/good", Qos::AtLeastOnce))
        .await
        .unwrap();
    let pid = n.pid();
    let fd0 = n.fds();
    let rss0 = n.rss_kib();
    // 200 connections that complete CONNECT, then send the first half of a frame that announces 16 MiB and
    // stall; 200 more that send half of the CONNECT frame; 100 that never send anything.
    const HALF: usize = 200;
    const SILENT: usize = 100;
    let mut held = Vec::new();
    // A valid prelude announcing an 8 MiB message (CRC correct), then 4 KiB of it: the nucleus has to wait
    // for the rest, and must not reserve the announced size (200 × 8 MiB = 1.6 GB if it did).
    let big = {
        let mut f = Vec::new();
        f.extend_from_slice(&(8u32 << 20).to_be_bytes());
        f.extend_from_slice(&0u32.to_be_bytes());
        let crc = crc32fast::hash(&f);
        f.extend_from_slice(&crc.to_be_bytes());
        f.resize(12 + 8192, b'z');
        f
    };
    for _ in 0..HALF {
        let (mut s, ok) = raw::handshake(&socket, &n.token("com.rel.Bad")).await;
        assert!(ok);
        let _ = s.write_all(&big[..big.len() / 2]).await;
        held.push(s);
    }
    let connect = raw::encode(&ggipc::rpc::connect_frame(&n.token("com.rel.Bad")));
    for _ in 0..HALF {
        let mut s = tokio::net::UnixStream::connect(&socket).await.unwrap();
        s.write_all(&connect[..connect.len() / 2]).await.unwrap();
        held.push(s);
    }
    for _ in 0..SILENT {
        held.push(tokio::net::UnixStream::connect(&socket).await.unwrap());
    }
    let rss_held = proc_rss_kib(pid);
    let fd_held = proc_fds(pid);
    check_service(&good, &mut sub, "mis/good", 100).await;
    assert!(
        rss_held < rss0 + 64 * 1024,
        "RSS {rss0} → {rss_held} KiB with stalled half frames"
    );
    // Connections that never complete CONNECT are closed by the nucleus after its connect timeout (10 s).
    let started = Instant::now();
    let mut closed_by_nucleus = 0;
    let mut stalled_after_connect = Vec::new();
    for (i, mut s) in held.into_iter().enumerate() {
        if i < HALF {
            stalled_after_connect.push(s);
            continue;
        }
        let mut b = [0u8; 256];
        let r = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match s.read(&mut b).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if r.is_ok() {
            closed_by_nucleus += 1;
        }
    }
    let waited = started.elapsed();
    assert_eq!(
        closed_by_nucleus,
        HALF + SILENT,
        "connections without CONNECT closed by the nucleus"
    );
    drop(stalled_after_connect);
    wait_until("descriptors released", Duration::from_secs(10), || {
        proc_fds(pid) <= fd0
    })
    .await;
    check_service(&good, &mut sub, "mis/good", 100).await;
    let rss1 = n.rss_kib();
    report(
        "misbehaving",
        &format!(
            "| {HALF} connections stalled mid-frame after CONNECT (valid prelude announcing 8 MiB, 4 KiB sent), {HALF} stalled mid-CONNECT, {SILENT} silent | {} connections held | nucleus fds {fd0} → {fd_held} → {fd0}; RSS {rss0} → {rss_held} → {rss1} KiB; the {} without CONNECT closed by the nucleus within {:.1} s (connect timeout 10 s); others served 200/200 | nothing |",
            2 * HALF + SILENT,
            HALF + SILENT,
            waited.as_secs_f64()
        ),
    );
}
