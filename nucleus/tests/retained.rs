//! Retained messages as the nucleus delivers them: whatever the broker (embedded, memory, Mosquitto through the
//! bridge), a new SubscribeToIoTCore subscription gets the matching retained messages with `retain: true`, and an
//! MQTT 5 message expiry interval has counted down (an expired message is not delivered at all).
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use std::time::Duration;

use common::{write_recipe, Mosquitto, NucleusProc};
use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
use ggipc::SubscriptionEvent;

const ALL: &[&str] = &["PublishToIoTCore", "SubscribeToIoTCore"];

async fn next_message(sub: &mut ggipc::Subscription) -> ggipc::model::MqttMessage {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("message in time")
        {
            Some(SubscriptionEvent::Message(m)) => return m.message.unwrap(),
            Some(ev) if ev.is_terminal() => panic!("subscription ended: {ev:?}"),
            Some(_) => {}
            None => panic!("subscription ended"),
        }
    }
}

fn retained(topic: &str, payload: &str, expiry: Option<i64>) -> PublishToIoTCoreRequest {
    let mut r = PublishToIoTCoreRequest::new(topic, Qos::AtLeastOnce, payload.as_bytes().to_vec());
    r.retain = Some(true);
    r.message_expiry_interval_seconds = expiry;
    r
}

async fn retained_messages_reach_new_subscriptions(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "test.Component", ALL, &["*"], None);
    let n = NucleusProc::start(&dir.path().join("root"), &[recipe], extra);
    let client = n.client("test.Component").await;
    // Live subscriptions on the exact topics (a bridge's broker subscription for them does not cover `r/+`,
    // so the new subscription below is a new SUBSCRIBE to the broker, which sends its retained messages).
    let mut live = Vec::new();
    for t in ["r/kept", "r/short"] {
        live.push(
            client
                .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(t, Qos::AtLeastOnce))
                .await
                .unwrap(),
        );
    }
    client
        .publish_to_iot_core(retained("r/kept", "kept", Some(100)))
        .await
        .unwrap();
    client
        .publish_to_iot_core(retained("r/short", "short", Some(1)))
        .await
        .unwrap();
    // Both went through the broker (a live subscriber got them, not flagged retained).
    for sub in &mut live {
        assert_eq!(next_message(sub).await.retain, Some(false));
    }
    // Long enough for the second one's interval to run out, and for the first one's to count down.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut fresh = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("r/+", Qos::AtLeastOnce))
        .await
        .unwrap();
    let m = next_message(&mut fresh).await;
    assert_eq!(m.topic_name.as_deref(), Some("r/kept"));
    assert_eq!(m.payload.as_deref(), Some(&b"kept"[..]));
    assert_eq!(m.retain, Some(true));
    let left = m.message_expiry_interval_seconds.unwrap();
    assert!((90..=98).contains(&left), "expiry left {left}");
    // The expired one is not delivered: the next message is a live marker.
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "r/marker",
            Qos::AtLeastOnce,
            b"m".to_vec(),
        ))
        .await
        .unwrap();
    let m = next_message(&mut fresh).await;
    assert_eq!(m.topic_name.as_deref(), Some("r/marker"));
    assert_eq!(m.retain, Some(false));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_gives_retained_messages_to_new_subscriptions() {
    retained_messages_reach_new_subscriptions(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_broker_gives_retained_messages_to_new_subscriptions() {
    retained_messages_reach_new_subscriptions(&["--broker", "memory"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_through_the_bridge_gives_retained_messages_to_new_subscriptions() {
    let Some(bin) = common::mosquitto_or_skip("retained through mosquitto") else {
        return;
    };
    let m = Mosquitto::start(&bin);
    let url = format!("mqtt://127.0.0.1:{}", m.port);
    // Answered after the PUBACK, so the broker has the retained message before the next step.
    retained_messages_reach_new_subscriptions(&["--broker", &url, "--ack-after-puback"]).await;
}
