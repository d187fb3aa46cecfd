//! Churn: 1,000 components connect, subscribe, publish to themselves, receive, and disconnect, over and
//! over for a bounded time (`CHURN_SECS`, default 20) against the real `ggipc nucleus`. The nucleus' open
//! descriptors return to the baseline and its resident memory stays flat (compared after the first
//! thousand cycles, so allocator warm-up is not counted as growth). With Mosquitto installed the nucleus
//! bridges to it, and Mosquitto's own subscription count (`$SYS/broker/subscriptions/count`) shows that no
//! subscription leaks; without it, the in-memory broker is used.

use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::SubscriptionEvent;
use ggipc_reliability::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const COMPONENTS: usize = 1000;
const CONCURRENCY: usize = 50;

/// `$SYS/broker/subscriptions/count` of a Mosquitto, read with mosquitto_sub.
fn mosquitto_subscriptions(port: u16) -> Option<u64> {
    let out = std::process::Command::new("mosquitto_sub")
        .args([
            "-p",
            &port.to_string(),
            "-t",
            "$SYS/broker/subscriptions/count",
            "-C",
            "1",
            "-W",
            "5",
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_of_a_thousand_components() {
    let secs: u64 = std::env::var("CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = TempDir::new("churn");
    let recipes: Vec<_> = (0..COMPONENTS)
        .map(|i| {
            let name = format!("com.churn.C{i}");
            let own = format!("churn/{i}/#");
            write_recipe(dir.path(), &name, &[&own], &[&own])
        })
        .collect();
    let mosquitto = Mosquitto::start(dir.path());
    let args = match &mosquitto {
        Some(m) => vec!["--broker".to_string(), m.url()],
        None => vec!["--broker".to_string(), "memory".to_string()],
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let n = Nucleus::start(dir.path(), &recipes, &args);
    let socket = n.socket();
    let tokens: Arc<Vec<String>> = Arc::new(
        (0..COMPONENTS)
            .map(|i| n.token(&format!("com.churn.C{i}")))
            .collect(),
    );
    let pid = n.pid();
    let fd0 = n.fds();
    let rss0 = n.rss_kib();
    let subs0 = mosquitto
        .as_ref()
        .and_then(|m| mosquitto_subscriptions(m.port));

    let cycles = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut samples: Vec<(f64, u64, usize)> = Vec::new();
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..CONCURRENCY {
        let (socket, tokens, cycles) = (socket.clone(), tokens.clone(), cycles.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < deadline {
                let c = client(&socket, &tokens[i], false).await.expect("connect");
                let topic = format!("churn/{i}/t");
                let mut sub = c
                    .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
                        format!("churn/{i}/#"),
                        Qos::AtLeastOnce,
                    ))
                    .await
                    .expect("subscribe");
                c.publish_to_iot_core(PublishToIoTCoreRequest::new(
                    &topic,
                    Qos::AtLeastOnce,
                    "ping",
                ))
                .await
                .expect("publish");
                match tokio::time::timeout(Duration::from_secs(10), sub.next())
                    .await
                    .expect("own message")
                {
                    Some(SubscriptionEvent::Message(_)) => {}
                    other => panic!("component {i}: {other:?}"),
                }
                // Alternate: close the subscription first, or just drop the connection with it open.
                if i.is_multiple_of(2) {
                    sub.close();
                }
                c.close().await;
                cycles.fetch_add(1, Ordering::Relaxed);
                i = (i + CONCURRENCY) % COMPONENTS;
            }
        }));
    }
    let mut warm: Option<(u64, usize)> = None;
    let mut subs_during = 0;
    let mut ticks = 0u32;
    while Instant::now() < deadline {
        ticks += 1;
        if let (Some(m), 0) = (mosquitto.as_ref(), ticks % 4) {
            let port = m.port;
            let n = tokio::task::spawn_blocking(move || mosquitto_subscriptions(port))
                .await
                .unwrap()
                .unwrap_or(0);
            subs_during = subs_during.max(n);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let c = cycles.load(Ordering::Relaxed);
        let (rss, fds) = (proc_rss_kib(pid), proc_fds(pid));
        samples.push((started.elapsed().as_secs_f64(), rss, fds));
        if warm.is_none() && c >= COMPONENTS as u64 {
            warm = Some((rss, fds));
        }
    }
    for w in workers {
        w.await.unwrap();
    }
    let total = cycles.load(Ordering::Relaxed);
    wait_until(
        "descriptors back to the baseline",
        Duration::from_secs(10),
        || proc_fds(pid) <= fd0,
    )
    .await;
    let rss_end = proc_rss_kib(pid);
    let (rss_warm, _) = warm.expect("at least a thousand cycles (every component once)");
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(rss_end);
    let leaked = if let (Some(m), Some(s0)) = (mosquitto.as_ref(), subs0) {
        // Wait for `$SYS` to show the count back at the baseline (updated every second).
        let port = m.port;
        let mut last = None;
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(15) {
            last = tokio::task::spawn_blocking(move || mosquitto_subscriptions(port))
                .await
                .unwrap();
            if last == Some(s0) {
                break;
            }
        }
        assert_eq!(
            last,
            Some(s0),
            "Mosquitto subscriptions after the churn (baseline {s0})"
        );
        assert!(
            subs_during > s0,
            "the bridge's subscriptions were never seen during the churn"
        );
        format!(
            "Mosquitto subscriptions {s0} before, up to {subs_during} during, {s0} after (no leak)"
        )
    } else {
        "in-memory broker (no subscription count visible from outside)".to_string()
    };
    // Flat: after warm-up, RSS may move by allocator noise but not grow with cycles.
    assert!(
        rss_end <= rss_warm + 8 * 1024,
        "RSS grew from {rss_warm} KiB (warm) to {rss_end} KiB"
    );
    report(
        "churn",
        &format!(
            "| churn: {COMPONENTS} components, {CONCURRENCY} at a time, connect + subscribe + publish + receive + disconnect, {secs} s, broker {} | {total} cycles ({:.0}/s) | nucleus fds {fd0} → {fd0} after; RSS {rss0} KiB idle, {rss_warm} after the first {COMPONENTS} cycles, peak {peak}, {rss_end} at the end; {leaked} | nothing |",
            if mosquitto.is_some() { "Mosquitto (bridge)" } else { "memory" },
            total as f64 / secs as f64
        ),
    );
    let series: Vec<String> = samples
        .iter()
        .step_by(10)
        .map(|(t, r, f)| format!("{t:.0}s {r} KiB {f} fds"))
        .collect();
    report("churn-series", &series.join("; "));
}
