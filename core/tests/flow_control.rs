//! Flow control: a QoS 1 subscriber that reads slowly slows the publishers instead of losing messages; one that
//! stalls holds the others up at most `subscriber_stall_timeout`, then loses events and is told how many.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use common::*;
use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::rpc::{Frame, MessageType, LAGGED_HEADER};
use ggipc::SubscriptionEvent;
use std::time::{Duration, Instant};

const SUB_REQ: &str = "aws.greengrass#SubscribeToIoTCoreRequest";
const PAYLOAD: usize = 64 * 1024;

/// A raw QoS 1 subscriber on `topic`, its response read; it reads nothing more until told to.
async fn raw_subscriber(fx: &Fixture, token: &str, topic: &str) -> Raw {
    let mut raw = Raw::handshake(&fx.path(), token).await;
    let body = format!(r#"{{"topicName":"{topic}","qos":"1"}}"#);
    raw.send(&Raw::activation(
        SUB,
        SUB_REQ,
        1,
        Box::leak(body.into_boxed_str()),
    ))
    .await;
    let resp = raw.recv().await.unwrap();
    assert_eq!(resp.message_type, MessageType::ApplicationMessage);
    raw
}

/// The sequence number a payload starts with.
fn seq_of(event: &Frame) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    let b64 = v["message"]["payload"].as_str().unwrap();
    use base64::Engine;
    let p = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    u64::from_be_bytes(p[..8].try_into().unwrap())
}

fn message(seq: u64) -> PublishToIoTCoreRequest {
    let mut p = vec![0u8; PAYLOAD];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    PublishToIoTCoreRequest::new("flow", Qos::AtLeastOnce, p)
}

fn lag_of(f: &Frame) -> u64 {
    match f.header(LAGGED_HEADER) {
        Some(ggipc::codec::HeaderValue::Int64(n)) => *n as u64,
        None => 0,
        Some(other) => panic!("lag header of the wrong type: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_qos1_subscriber_slows_the_publisher_and_loses_nothing() {
    let fx = Fixture::start_with(|c| c.subscriber_stall_timeout = Duration::from_secs(60)).await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut slow = raw_subscriber(&fx, &token, "flow").await;
    let publisher = fx.client(&token).await;
    let n = 200u64; // 17 MiB of events: four times what the server queues for a connection
    let task = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            for i in 0..n {
                publisher.publish_to_iot_core(message(i)).await.unwrap();
            }
        })
    };
    // The subscriber does not read: the publisher cannot get through all its publishes.
    let mut task = task;
    assert!(
        tokio::time::timeout(Duration::from_secs(2), &mut task)
            .await
            .is_err(),
        "every publish completed although the subscriber read nothing"
    );
    // Now it reads: every message arrives, in order, none reported lost.
    for i in 0..n {
        let f = slow.recv().await.unwrap();
        assert_eq!(seq_of(&f), i);
        assert_eq!(lag_of(&f), 0);
    }
    task.await.unwrap();
    let stats = fx.server.stats();
    assert_eq!((stats.events_dropped, stats.lag_episodes), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_holds_the_others_up_at_most_the_bound_and_is_told_its_loss() {
    let bound = Duration::from_secs(1);
    let fx = Fixture::start_with(|c| c.subscriber_stall_timeout = bound).await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut stalled = raw_subscriber(&fx, &token, "flow").await;
    let healthy = fx.client(&token).await;
    let mut sub = healthy
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("flow", Qos::AtLeastOnce))
        .await
        .unwrap();
    let publisher = fx.client(&token).await;
    let n = 150u64; // 13 MiB of events
    let mut waits = 0;
    for i in 0..n {
        let t = Instant::now();
        publisher.publish_to_iot_core(message(i)).await.unwrap();
        if t.elapsed() >= bound {
            waits += 1;
        }
        // The healthy subscriber gets every message, in order.
        match sub.next().await {
            Some(SubscriptionEvent::Message(m)) => {
                assert_eq!(&m.message.unwrap().payload.unwrap()[..8], &i.to_be_bytes())
            }
            other => panic!("healthy subscriber got {other:?}"),
        }
    }
    // One publish waited for the stalled subscriber (the bound), the others went through.
    assert_eq!(waits, 1, "publishes that waited for the stalled subscriber");
    let stats = fx.server.stats();
    assert_eq!(stats.lag_episodes, 1, "{stats:?}");
    assert!(stats.events_dropped > 0);
    // The stalled one reads what it was given, then the next message tells it what it lost.
    let mut got = 0u64;
    let mut last = None;
    while got + stats.events_dropped < n {
        let f = stalled.recv().await.unwrap();
        assert_eq!(lag_of(&f), 0);
        let s = seq_of(&f);
        assert!(last.is_none_or(|l| s > l), "out of order");
        last = Some(s);
        got += 1;
    }
    publisher.publish_to_iot_core(message(n)).await.unwrap();
    let f = stalled.recv().await.unwrap();
    assert_eq!(seq_of(&f), n);
    assert_eq!(lag_of(&f), stats.events_dropped);
    assert_eq!(fx.server.stats().events_dropped, stats.events_dropped);
}
