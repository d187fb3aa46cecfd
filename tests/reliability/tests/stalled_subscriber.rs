//! Fan-out through the real `ggipc nucleus` with one stalled subscriber: the healthy subscribers keep their
//! rate and lose no QoS 1 message; the stalled one, once it reads again, is told how many it lost (the
//! `ggipc-lagged` header on its next event), and what it received plus what it was told it lost is exactly
//! what was published.

use ggipc::codec::HeaderValue;
use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::rpc::{Frame, MessageType, LAGGED_HEADER};
use ggipc::SubscriptionEvent;
use ggipc_reliability::*;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

const HEALTHY: usize = 3;
const TOPIC: &str = "fan/t";

/// Publishes `n` numbered QoS 1 messages of `size` bytes, 64 in flight, and has every healthy subscriber
/// receive all of them in order; returns the messages per second the healthy subscribers got.
async fn flood(
    publisher: &ggipc::Client,
    healthy: &mut Vec<ggipc::Subscription>,
    first: u64,
    n: usize,
    size: usize,
) -> f64 {
    let started = Instant::now();
    let pubs = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let mut window = Vec::new();
            for i in 0..n as u64 {
                let mut p = vec![b'x'; size];
                p[..8].copy_from_slice(&(first + i).to_be_bytes());
                window.push(publisher.publish_to_iot_core(PublishToIoTCoreRequest::new(
                    TOPIC,
                    Qos::AtLeastOnce,
                    p,
                )));
                if window.len() == 64 {
                    for f in std::mem::take(&mut window) {
                        f.await.expect("publish while a subscriber is stalled");
                    }
                }
            }
            for f in window {
                f.await.expect("publish while a subscriber is stalled");
            }
        })
    };
    // Every healthy subscriber reads on its own task, all at once.
    let mut readers = Vec::new();
    for (k, mut sub) in std::mem::take(healthy).into_iter().enumerate() {
        readers.push(tokio::spawn(async move {
            for i in 0..n as u64 {
                let ev = tokio::time::timeout(Duration::from_secs(20), sub.next())
                    .await
                    .unwrap_or_else(|_| panic!("healthy subscriber {k} starves at {i}"));
                match ev {
                    Some(SubscriptionEvent::Message(m)) => {
                        let p = m.message.unwrap().payload.unwrap();
                        assert_eq!(
                            u64::from_be_bytes(p[..8].try_into().unwrap()),
                            first + i,
                            "healthy subscriber {k}: in order, none lost"
                        );
                    }
                    other => panic!("healthy subscriber {k}: unexpected {other:?}"),
                }
            }
            sub
        }));
    }
    for r in readers {
        healthy.push(r.await.unwrap());
    }
    pubs.await.unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_is_told_its_losses_and_slows_nobody() {
    let dir = TempDir::new("stalled");
    let recipes = vec![write_recipe(
        dir.path(),
        "com.rel.Fan",
        &["fan/#"],
        &["fan/#"],
    )];
    let n = Nucleus::start(dir.path(), &recipes, &["--mqtt-port", "0"]);
    let socket = n.socket();
    let token = n.token("com.rel.Fan");
    let mut healthy = Vec::new();
    for _ in 0..HEALTHY {
        let c = client(&socket, &token, false).await.unwrap();
        healthy.push(
            c.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(TOPIC, Qos::AtLeastOnce))
                .await
                .unwrap(),
        );
    }
    let publisher = client(&socket, &token, false).await.unwrap();

    // Baseline: the healthy subscribers alone.
    const BASE: usize = 5_000;
    const SIZE: usize = 1024;
    let base_rate = flood(&publisher, &mut healthy, 0, BASE, SIZE).await;

    // A subscriber that subscribes, then stops reading (a raw connection: nothing reads for it either).
    // It reads the subscribe response first: what is published before the subscription is in force is not
    // its to count.
    let (mut stalled, ok) = raw::handshake(&socket, &token).await;
    assert!(ok);
    let response = raw::subscribe_and_wait(&mut stalled, 1, TOPIC).await;
    assert_eq!(response.message_type, MessageType::ApplicationMessage);
    assert!(!response.is_terminate(), "the subscription is accepted");
    // 20 MiB towards it: far beyond the nucleus' 4 MiB per connection.
    const N: usize = 20_000;
    let stalled_rate = flood(&publisher, &mut healthy, BASE as u64, N, SIZE).await;

    // It reads again. Markers, one every 100 ms, carry whatever loss is still unreported: the first that
    // reaches it ends the count (the ones before it fell into the same episode and are counted as lost).
    const MARK: u64 = 1 << 62;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let end = {
        let publisher = publisher.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut j = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                publisher
                    .publish_to_iot_core(PublishToIoTCoreRequest::new(
                        TOPIC,
                        Qos::AtLeastOnce,
                        (MARK + j).to_be_bytes().to_vec(),
                    ))
                    .await
                    .unwrap();
                j += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let markers_lost;
    let (mut received, mut lagged, mut lag_reports) = (0u64, 0u64, 0u64);
    let mut buf = bytes::BytesMut::new();
    let mut last_seen: Option<u64> = None;
    let deadline = Instant::now() + Duration::from_secs(60);
    'read: loop {
        while let Some(m) =
            ggipc::codec::decode(&mut buf, &ggipc::codec::Limits::default()).unwrap()
        {
            let f = Frame::from_message(m).unwrap();
            if f.stream_id != 1 || f.message_type != MessageType::ApplicationMessage {
                continue;
            }
            if let Some(HeaderValue::Int64(k)) = f.header(LAGGED_HEADER) {
                lagged += k.unsigned_abs();
                lag_reports += 1;
            }
            let body: serde_json::Value = serde_json::from_slice(&f.payload).unwrap();
            let Some(payload) = body["message"]["payload"].as_str() else {
                continue; // the subscribe response
            };
            use base64::Engine as _;
            let p = base64::engine::general_purpose::STANDARD
                .decode(payload)
                .unwrap();
            let id = u64::from_be_bytes(p[..8].try_into().unwrap());
            if id >= MARK {
                markers_lost = id - MARK;
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                break 'read;
            }
            if let Some(prev) = last_seen {
                assert!(id > prev, "the stalled subscriber's messages in order");
            }
            last_seen = Some(id);
            if id >= BASE as u64 {
                received += 1;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the stalled subscriber never drained"
        );
        let mut chunk = vec![0u8; 64 * 1024];
        let k = tokio::time::timeout(Duration::from_secs(20), stalled.read(&mut chunk))
            .await
            .expect("the stalled subscriber gets its events")
            .unwrap();
        assert!(
            k > 0,
            "the nucleus closed the stalled subscriber's connection"
        );
        buf.extend_from_slice(&chunk[..k]);
    }
    end.await.unwrap();
    let lagged = lagged - markers_lost;
    report(
        "stalled",
        &format!(
            "| fan-out, embedded broker: {HEALTHY} healthy QoS 1 subscribers and one that stops reading while {N} × 1 KiB QoS 1 messages are published (64 in flight) | healthy: {BASE} before at {base_rate:.0} msgs/s each, {N} with the stalled one at {stalled_rate:.0} msgs/s each, every one in order | stalled one: received {received}, told it lost {lagged} in {lag_reports} report(s): {} of {N} accounted for | nothing |",
            received + lagged
        ),
    );
    assert!(
        lagged > 0,
        "20 MiB to a subscriber that does not read: some must be dropped"
    );
    assert_eq!(
        received + lagged,
        N as u64,
        "received + reported lost = published"
    );
    // One stall timeout (2 s) at most is paid once per episode; the healthy keep the better part of their rate.
    assert!(
        stalled_rate > base_rate / 4.0,
        "healthy subscribers slowed from {base_rate:.0} to {stalled_rate:.0} msgs/s"
    );
}
