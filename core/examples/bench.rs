//! Core benchmark: codec rates, a raw Unix-socket ping-pong (the physical limit), and the Rust client against
//! a running ggipc server (sync publish round trips, pipelined publishes, subscription events).
//!
//! ```text
//! cargo run --release -p ggipc --example bench -- SOCKET TOKEN [SECONDS]
//! ```
//! The token's component needs publish and subscribe rights on `bench/#`. Prints one JSON object.
//! `scripts/bench-core.sh` runs it beside the official awsiotsdk against the same server.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

use bytes::{Bytes, BytesMut};
use ggipc::codec::{self, Header, HeaderValue, Limits, Message};
use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::SubscriptionEvent;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn codec_rates(secs: f64) -> (f64, f64) {
    let msg = Message {
        headers: vec![
            Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ),
            Header::new(
                "service-model-type",
                HeaderValue::String("aws.greengrass#PublishToIoTCoreRequest".into()),
            ),
            Header::new(":message-type", HeaderValue::Int32(0)),
            Header::new(":message-flags", HeaderValue::Int32(0)),
            Header::new(":stream-id", HeaderValue::Int32(1)),
            Header::new(
                "operation",
                HeaderValue::String("aws.greengrass#PublishToIoTCore".into()),
            ),
        ],
        payload: Bytes::from_static(
            br#"{"topicName":"bench/t","qos":"0","payload":"aGVsbG8gd29ybGQ="}"#,
        ),
    };
    let mut buf = BytesMut::with_capacity(1 << 16);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..1000 {
            buf.clear();
            codec::encode(&msg, 1 << 20, &mut buf).unwrap();
        }
        n += 1000;
    }
    let enc = rate(n, start.elapsed());
    let one = buf.clone().freeze();
    let limits = Limits::default();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..1000 {
            let mut b = BytesMut::from(&one[..]);
            std::hint::black_box(codec::decode(&mut b, &limits).unwrap());
        }
        n += 1000;
    }
    (enc, rate(n, start.elapsed()))
}

/// Round trips of a 200-byte message between this process and a child echoing over a Unix socket.
fn ping_pong(secs: f64) -> f64 {
    let dir = std::env::temp_dir().join(format!("ggipc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("echo.socket");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .arg("--echo")
        .arg(&path)
        .spawn()
        .unwrap();
    let (mut s, _) = listener.accept().unwrap();
    let msg = [7u8; 200];
    let mut back = [0u8; 200];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        s.write_all(&msg).unwrap();
        s.read_exact(&mut back).unwrap();
        n += 1;
    }
    let r = rate(n, start.elapsed());
    drop(s);
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn echo(path: &str) {
    let mut s = UnixStream::connect(path).unwrap();
    let mut buf = [0u8; 200];
    while s.read_exact(&mut buf).is_ok() {
        if s.write_all(&buf).is_err() {
            break;
        }
    }
}

/// Voluntary + involuntary context switches of every thread of this process (Linux; 0 elsewhere).
fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    let mut total = 0;
    for t in tasks.flatten() {
        if let Ok(status) = std::fs::read_to_string(t.path().join("status")) {
            for line in status.lines() {
                if line.starts_with("voluntary_ctxt_switches")
                    || line.starts_with("nonvoluntary_ctxt_switches")
                {
                    total += line
                        .split_whitespace()
                        .last()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
    }
    total
}

/// Publishes with WINDOW publishes in flight for `secs`; returns how many completed and how long it took.
async fn pipelined_publish(
    client: &ggipc::Client,
    topic: &'static str,
    secs: f64,
) -> (u64, Duration) {
    const WINDOW: usize = 512;
    let start = Instant::now();
    let mut n = 0u64;
    let mut inflight = tokio::task::JoinSet::new();
    while start.elapsed().as_secs_f64() < secs {
        while inflight.len() < WINDOW {
            let c = client.clone();
            inflight.spawn(async move {
                c.publish_to_iot_core(PublishToIoTCoreRequest::new(
                    topic,
                    Qos::AtMostOnce,
                    &b"hello world"[..],
                ))
                .await
            });
        }
        inflight.join_next().await.unwrap().unwrap().unwrap();
        n += 1;
    }
    while let Some(r) = inflight.join_next().await {
        r.unwrap().unwrap();
        n += 1;
    }
    (n, start.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--echo") {
        return echo(&args[1]);
    }
    let (socket, token) = (args[0].clone(), args[1].clone());
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3.0);

    let (enc, dec) = codec_rates(secs / 2.0);
    let pp = ping_pong(secs);

    let client = ggipc::blocking::Client::builder()
        .socket_path(&socket)
        .auth_token(&token)
        .connect_blocking()
        .unwrap();
    let req = || PublishToIoTCoreRequest::new("bench/sync", Qos::AtMostOnce, &b"hello world"[..]);
    for _ in 0..1000 {
        client.publish_to_iot_core(req()).unwrap();
    }
    let switches_before = context_switches();
    let start = Instant::now();
    let mut n = 0u64;
    let mut lat = Vec::with_capacity(1 << 20);
    while start.elapsed().as_secs_f64() < secs {
        let t = Instant::now();
        client.publish_to_iot_core(req()).unwrap();
        lat.push(t.elapsed());
        n += 1;
    }
    let sync = rate(n, start.elapsed());
    let switches_per_sync = (context_switches() - switches_before) as f64 / n as f64;
    lat.sort();
    let pct =
        |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1e6;

    // Pipelined: WINDOW publishes in flight at once from one task.
    // Pipelined and event measurements use an async client (its connection is read by a runtime task).
    let rt = ggipc::runtime::handle().unwrap();
    let aclient = rt
        .block_on(
            ggipc::Client::builder()
                .socket_path(&socket)
                .auth_token(&token)
                .connect(),
        )
        .unwrap();
    let pipelined = rt.block_on(pipelined_publish(&aclient, "bench/pipe", secs));
    let pipelined = rate(pipelined.0, pipelined.1);

    // Events: a second connection subscribes; this one publishes pipelined; count events delivered.
    let sub_client = ggipc::blocking::Client::builder()
        .socket_path(&socket)
        .auth_token(&token)
        .subscription_queue(1_000_000)
        .connect_blocking()
        .unwrap();
    let sub = sub_client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
            "bench/events",
            Qos::AtMostOnce,
        ))
        .unwrap();
    let received = Arc::new(AtomicU64::new(0));
    let r2 = received.clone();
    let handle = sub.with_batch_handler(move |batch| {
        let msgs = batch
            .iter()
            .filter(|e| matches!(e, SubscriptionEvent::Message(_)))
            .count() as u64;
        r2.fetch_add(msgs, Ordering::Relaxed);
    });
    let events = rt.block_on(async {
        let start = Instant::now();
        let (sent, _) = pipelined_publish(&aclient, "bench/events", secs).await;
        // Wait until every event arrived, or none arrived for 200 ms (the server drops events for a
        // subscriber that cannot keep up, and counts them): the rate covers start to last arrival.
        let mut last = received.load(Ordering::Relaxed);
        let mut last_change = Instant::now();
        while last < sent && last_change.elapsed() < Duration::from_millis(200) {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let now = received.load(Ordering::Relaxed);
            if now != last {
                last = now;
                last_change = Instant::now();
            }
        }
        (rate(last, last_change - start), sent, last)
    });
    handle.close();
    println!(
        "{{\"codec_encode_per_s\": {enc:.0}, \"codec_decode_per_s\": {dec:.0}, \"raw_ping_pong_per_s\": {pp:.0}, \
         \"rust_sync_publish_per_s\": {sync:.0}, \"rust_sync_context_switches_per_op\": {switches_per_sync:.2}, \"rust_sync_p50_us\": {:.1}, \"rust_sync_p99_us\": {:.1}, \
         \"rust_pipelined_publish_per_s\": {pipelined:.0}, \"rust_events_per_s\": {:.0}, \"events_sent\": {}, \"events_received\": {}}}",
        pct(0.5),
        pct(0.99),
        events.0,
        events.1,
        events.2
    );
}
