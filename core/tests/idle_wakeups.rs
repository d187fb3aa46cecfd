//! An idle blocking client does not wake its CPU: its reader thread sleeps in poll(2) until there is input, a
//! close or a failure. (It used to wake every 500 ms; 1,000 idle components on one device then woke the machine
//! 2,000 times a second.) Alone in its test binary, so no other test's threads are counted.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use common::*;
use ggipc::model::*;
use std::time::{Duration, Instant};

/// Voluntary context switches of every `ggipc-reader` thread of this process, and how many there are.
fn reader_switches() -> (u64, usize) {
    let mut total = 0;
    let mut threads = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != "ggipc-reader" {
            continue;
        }
        threads += 1;
        let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
                total += v.trim().parse::<u64>().unwrap();
            }
        }
    }
    (total, threads)
}

#[test]
fn an_idle_blocking_client_sleeps_until_it_is_needed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fx = rt.block_on(Fixture::start());
    let token = fx.component("c", &["*"], &["*"]);
    let client = ggipc::blocking::Client::builder()
        .socket_path(fx.path())
        .auth_token(token)
        .connect_blocking()
        .unwrap();
    let mut sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("idle/+", Qos::AtMostOnce))
        .unwrap();
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new("idle/x", Qos::AtMostOnce, "a"))
        .unwrap();
    assert!(matches!(
        sub.recv_timeout(Duration::from_secs(10)).unwrap(),
        Some(ggipc::SubscriptionEvent::Message(_))
    ));
    // Let the reader settle into its idle poll (it stays out of the way for a moment after a caller read).
    std::thread::sleep(Duration::from_millis(100));
    let (before, threads) = reader_switches();
    assert_eq!(threads, 1, "one reader thread for the one connection");
    let idle = Instant::now();
    while idle.elapsed() < Duration::from_millis(1600) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let (after, _) = reader_switches();
    // The old reader woke every 500 ms: at least 3 switches in 1.6 s.
    assert!(
        after - before <= 1,
        "the idle reader woke {} times in 1.6 s",
        after - before
    );
    // And it still wakes for input.
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new("idle/y", Qos::AtMostOnce, "b"))
        .unwrap();
    assert!(matches!(
        sub.recv_timeout(Duration::from_secs(10)).unwrap(),
        Some(ggipc::SubscriptionEvent::Message(_))
    ));
    drop(sub);
    drop(client);
}
