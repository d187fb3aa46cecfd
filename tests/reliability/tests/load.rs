//! Sustained load through the real `ggipc nucleus` (embedded broker): many publishers, many subscribers with
//! overlapping wildcard filters, for a fixed time (`LOAD_SECS`, default 10). Every confirmed QoS 1 publish
//! is delivered exactly once to every subscription whose filter matches it (none lost, none duplicated,
//! none unexpected), and the publish → delivery latency is reported per second as percentiles.

use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::server::topic::filter_matches;
use ggipc::SubscriptionEvent;
use ggipc_reliability::*;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PUBLISHERS: usize = 8;
/// Publishes in flight per publisher (each its own task doing sequential calls).
const WINDOW: usize = 4;
/// (subscriber client, filter): overlapping wildcards, two clients holding overlapping filters twice.
const FILTERS: &[(usize, &str)] = &[
    (0, "load/#"),
    (0, "load/+/a"),
    (1, "load/+/+"),
    (1, "load/3/#"),
    (2, "load/1/b"),
    (2, "load/+/b"),
    (3, "+/+/a"),
    (3, "load/7/+"),
];

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

#[derive(Default)]
struct Received {
    ids: HashSet<(u32, u64)>,
    duplicates: u64,
    unexpected: u64,
    lagged: u64,
    /// (send second, latency µs)
    latency: Vec<(u64, u64)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_load_every_message_accounted_for() {
    let secs: u64 = std::env::var("LOAD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = TempDir::new("load");
    let recipes = vec![
        write_recipe(dir.path(), "com.load.Pub", &["load/#"], &[]),
        write_recipe(dir.path(), "com.load.Sub", &[], &["load/#", "+/+/a"]),
    ];
    let n = Nucleus::start(dir.path(), &recipes, &["--mqtt-port", "0"]);
    let socket = n.socket();
    let sub_clients: Vec<_> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(
                client(&socket, &n.token("com.load.Sub"), false)
                    .await
                    .unwrap(),
            );
        }
        v
    };
    let received: Vec<Arc<Mutex<Received>>> = FILTERS.iter().map(|_| Arc::default()).collect();
    let mut readers = Vec::new();
    for (k, (ci, filter)) in FILTERS.iter().enumerate() {
        let mut sub = sub_clients[*ci]
            .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(*filter, Qos::AtLeastOnce))
            .await
            .unwrap();
        let (rec, filter) = (received[k].clone(), filter.to_string());
        readers.push(tokio::spawn(async move {
            while let Some(batch) = sub.next_batch(256).await {
                let t = now_us();
                let mut r = rec.lock().unwrap();
                for ev in batch {
                    match ev {
                        SubscriptionEvent::Message(m) => {
                            let msg = m.message.unwrap();
                            let topic = msg.topic_name.clone().unwrap_or_default();
                            let p = msg.payload.unwrap();
                            let publisher = u32::from_be_bytes(p[0..4].try_into().unwrap());
                            let seq = u64::from_be_bytes(p[4..12].try_into().unwrap());
                            let sent = u64::from_be_bytes(p[12..20].try_into().unwrap());
                            if !filter_matches(&filter, &topic) {
                                r.unexpected += 1;
                            } else if !r.ids.insert((publisher, seq)) {
                                r.duplicates += 1;
                            }
                            r.latency.push((sent / 1_000_000, t.saturating_sub(sent)));
                        }
                        SubscriptionEvent::Lagged(k) => r.lagged += k,
                        SubscriptionEvent::Closed(_) => return,
                        _ => {}
                    }
                }
            }
        }));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let confirmed: Arc<Mutex<Vec<(u32, u64, String)>>> = Arc::default();
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut pubs = Vec::new();
    for p in 0..PUBLISHERS {
        let c = client(&socket, &n.token("com.load.Pub"), false)
            .await
            .unwrap();
        for w in 0..WINDOW {
            let (c, stop, confirmed, failed) =
                (c.clone(), stop.clone(), confirmed.clone(), failed.clone());
            pubs.push(tokio::spawn(async move {
                let mut seq = w as u64;
                let mut mine = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let topic =
                        format!("load/{p}/{}", if seq.is_multiple_of(2) { "a" } else { "b" });
                    let mut payload = Vec::with_capacity(64);
                    payload.extend_from_slice(&(p as u32).to_be_bytes());
                    payload.extend_from_slice(&seq.to_be_bytes());
                    payload.extend_from_slice(&now_us().to_be_bytes());
                    payload.resize(64, b'.');
                    match c
                        .publish_to_iot_core(PublishToIoTCoreRequest::new(
                            &topic,
                            Qos::AtLeastOnce,
                            payload,
                        ))
                        .await
                    {
                        Ok(_) => mine.push((p as u32, seq, topic)),
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    seq += WINDOW as u64;
                }
                confirmed.lock().unwrap().extend(mine);
            }));
        }
    }
    let started = Instant::now();
    let pid = n.pid();
    let mut rss_peak = 0;
    while started.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        rss_peak = rss_peak.max(proc_rss_kib(pid));
    }
    stop.store(true, Ordering::Relaxed);
    for p in pubs {
        p.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let confirmed = confirmed.lock().unwrap().clone();
    let failed = failed.load(Ordering::Relaxed);
    // Expected deliveries per subscription.
    let expected: Vec<usize> = FILTERS
        .iter()
        .map(|(_, f)| {
            confirmed
                .iter()
                .filter(|(_, _, t)| filter_matches(f, t))
                .count()
        })
        .collect();
    let total_expected: usize = expected.iter().sum();
    let rec = received.clone();
    let exp = expected.clone();
    wait_until("every expected delivery", Duration::from_secs(30), || {
        rec.iter()
            .zip(&exp)
            .all(|(r, e)| r.lock().unwrap().ids.len() >= *e)
    })
    .await;
    let mut lost = 0usize;
    let (mut dup, mut unexpected, mut lagged, mut delivered) = (0, 0, 0, 0);
    for (k, r) in received.iter().enumerate() {
        let r = r.lock().unwrap();
        let want: HashSet<(u32, u64)> = confirmed
            .iter()
            .filter(|(_, _, t)| filter_matches(FILTERS[k].1, t))
            .map(|(p, s, _)| (*p, *s))
            .collect();
        lost += want.difference(&r.ids).count();
        dup += r.duplicates;
        unexpected += r.unexpected;
        lagged += r.lagged;
        delivered += r.ids.len();
    }
    // Latency percentiles per second of sending.
    let mut all: Vec<(u64, u64)> = received
        .iter()
        .flat_map(|r| r.lock().unwrap().latency.clone())
        .collect();
    all.sort();
    let first = all.first().map(|x| x.0).unwrap_or(0);
    let mut per_second = Vec::new();
    let mut i = 0;
    while i < all.len() {
        let s = all[i].0;
        let mut lat: Vec<u64> = all[i..]
            .iter()
            .take_while(|x| x.0 == s)
            .map(|x| x.1)
            .collect();
        i += lat.len();
        lat.sort_unstable();
        per_second.push(format!(
            "| {} | {} | {} | {} | {} | {} |",
            s - first,
            lat.len(),
            percentile(&lat, 50.0),
            percentile(&lat, 90.0),
            percentile(&lat, 99.0),
            lat.last().copied().unwrap_or(0)
        ));
    }
    let mut lat: Vec<u64> = all.iter().map(|x| x.1).collect();
    lat.sort_unstable();
    report(
        "load",
        &format!(
            "| fan-out load, embedded broker: {PUBLISHERS} publishers × {WINDOW} in flight, {} subscriptions on 4 connections with overlapping wildcards, 64-byte QoS 1, {secs} s | {} publishes confirmed ({:.0}/s), {failed} failed; {delivered} deliveries expected {total_expected} ({:.0}/s) | lost {lost}, duplicated {dup}, unexpected {unexpected}, lagged {lagged}; latency p50 {} µs, p99 {} µs, max {} µs; nucleus peak RSS {rss_peak} KiB | nothing |",
            FILTERS.len(),
            confirmed.len(),
            confirmed.len() as f64 / elapsed,
            delivered as f64 / elapsed,
            percentile(&lat, 50.0),
            percentile(&lat, 99.0),
            lat.last().copied().unwrap_or(0)
        ),
    );
    report("load-latency", &per_second.join("\n"));
    assert_eq!((lost, dup, unexpected, lagged, failed), (0, 0, 0, 0, 0));
    assert_eq!(delivered, total_expected);
}
