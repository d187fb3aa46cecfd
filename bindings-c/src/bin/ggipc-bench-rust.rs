//! The Rust client's side of the C++ benchmark (bench/cpp/run.sh runs both against the same
//! server in the same run). Same workloads as `bench/cpp/bench.cpp`:
//!   rust_sync_publish_per_s  blocking publishes, one at a time (`ggipc::blocking::Client`)
//!   rust_sync_wakeups_per_publish
//!                            voluntary context switches (thread wake-ups) of the whole process per
//!                            synchronous publish (summed over /proc/self/task/*/status)
//!   rust_events_per_s        events delivered to a handler on a dispatcher thread while a second
//!                            connection publishes with up to 128 publishes in flight
//! Usage: `ggipc-bench-rust SOCKET TOKEN [COUNT] [sync]` ("sync": the synchronous publish figures only).
//! The timed synchronous loop is a function of its own (`sync_publish_loop`), so that
//! `valgrind --tool=callgrind --toggle-collect='*sync_publish_loop*'` counts the instructions of that loop.
// A benchmark program: a failure ends it, so `unwrap` is its error handling.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ggipc_core::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc_core::{blocking, Client, SubscriptionEvent};

/// Voluntary context switches of every thread of this process so far.
fn voluntary_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .filter_map(|n| n.trim().parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// `count` blocking publishes, one at a time (the request is cloned for each: the call takes it by value).
#[inline(never)]
fn sync_publish_loop(client: &blocking::Client, request: &PublishToIoTCoreRequest, count: usize) {
    for _ in 0..count {
        client
            .publish_to_iot_core(request.clone())
            .expect("publish");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ggipc-bench-rust SOCKET TOKEN [COUNT]");
        std::process::exit(2);
    }
    let count: usize = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(20_000);
    let builder = || Client::builder().socket_path(&args[1]).auth_token(&args[2]);
    let client: blocking::Client = builder().connect_blocking().expect("connect");
    let subscriber: blocking::Client = builder().connect_blocking().expect("connect");

    let request = PublishToIoTCoreRequest::new("bench/sync", Qos::AtMostOnce, vec![b'x'; 64]);
    // Warm-up: at least 500 publishes and 0.3 s (as the C++ side does).
    let warm = Instant::now();
    let mut n = 0;
    while n < 500 || warm.elapsed() < Duration::from_millis(300) {
        client
            .publish_to_iot_core(request.clone())
            .expect("publish");
        n += 1;
    }
    let switches = voluntary_switches();
    let start = Instant::now();
    sync_publish_loop(&client, &request, count);
    println!(
        "rust_sync_publish_per_s {:.0}",
        count as f64 / start.elapsed().as_secs_f64()
    );
    println!(
        "rust_sync_wakeups_per_publish {:.2}",
        voluntary_switches().saturating_sub(switches) as f64 / count as f64
    );
    if args.get(4).is_some_and(|a| a == "sync") {
        return;
    }

    // (events received, when the last one arrived)
    let received = Arc::new((Mutex::new((0usize, Instant::now())), Condvar::new()));
    let r = received.clone();
    let sub = subscriber
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
            "bench/events/#",
            Qos::AtMostOnce,
        ))
        .expect("subscribe");
    let _handle = sub.with_handler(move |ev| {
        if let SubscriptionEvent::Message(_) = ev {
            let (m, cv) = &*r;
            let mut g = m.lock().unwrap();
            *g = (g.0 + 1, Instant::now());
            cv.notify_all();
        }
    });
    let event = PublishToIoTCoreRequest::new("bench/events/x", Qos::AtMostOnce, vec![b'x'; 64]);
    let async_client = client.as_async().clone();
    let start = Instant::now();
    ggipc_core::runtime::block_on(async move {
        let mut set: tokio::task::JoinSet<ggipc_core::Result<()>> = tokio::task::JoinSet::new();
        for _ in 0..count {
            while set.len() >= 128 {
                set.join_next()
                    .await
                    .expect("task")
                    .expect("join")
                    .expect("publish");
            }
            let c = async_client.clone();
            let e = event.clone();
            set.spawn(async move { c.publish_to_iot_core(e).await.map(|_| ()) });
        }
        while let Some(r) = set.join_next().await {
            r.expect("join").expect("publish");
        }
    })
    .expect("runtime");
    let (m, cv) = &*received;
    // Waits for every event, or until none has arrived for 2 s (the server drops events for a
    // subscriber that falls behind, and says so in its counters): the rate is then over the events
    // that arrived, until the last arrival, and the shortfall is printed.
    let mut g = m.lock().unwrap();
    while g.0 < count {
        let (next, timeout) = cv.wait_timeout(g, Duration::from_secs(2)).unwrap();
        g = next;
        if timeout.timed_out() && g.1.elapsed() >= Duration::from_secs(2) {
            break;
        }
    }
    let (n, last) = *g;
    if n < count {
        eprintln!("events: got {n} of {count}");
        println!("rust_events_dropped {}", count - n);
    }
    println!(
        "rust_events_per_s {:.0}",
        n as f64 / last.duration_since(start).as_secs_f64().max(1e-9)
    );
}
