//! Local publish/subscribe through the typed client: delivery, receive modes, authorization and every bad
//! input, with the Java nucleus' error classes and messages.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::Fixture;
use ggipc::model::*;
use ggipc::server::{AccessControl, LocalMessage};
use ggipc::{ErrorKind, SubscriptionEvent};
use serde_json::json;
use std::time::Duration;

const PUBSUB: &str = "aws.greengrass.ipc.pubsub";

fn component(fx: &Fixture, name: &str, resources: &[&str]) -> String {
    let ac = AccessControl::from_rules(&[(PUBSUB, &["*"], resources)]).unwrap();
    fx.server.components().register(name, ac)
}

fn json_publish(topic: &str, message: serde_json::Value) -> PublishToTopicRequest {
    PublishToTopicRequest {
        topic: Some(topic.into()),
        publish_message: Some(PublishMessage {
            json_message: Some(JsonMessage {
                message: Some(message),
                context: None,
            }),
            binary_message: None,
        }),
    }
}

fn binary_publish(topic: &str, bytes: &[u8]) -> PublishToTopicRequest {
    PublishToTopicRequest {
        topic: Some(topic.into()),
        publish_message: Some(PublishMessage {
            json_message: None,
            binary_message: Some(BinaryMessage {
                message: Some(bytes.to_vec()),
                context: None,
            }),
        }),
    }
}

fn subscribe_request(topic: &str, mode: Option<ReceiveMode>) -> SubscribeToTopicRequest {
    SubscribeToTopicRequest {
        topic: Some(topic.into()),
        receive_mode: mode,
    }
}

async fn next_message(
    sub: &mut ggipc::Subscription<SubscriptionResponseMessage>,
) -> SubscriptionResponseMessage {
    match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
        Ok(Some(SubscriptionEvent::Message(m))) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Nothing more is queued after a publish round trip to a marker topic the subscriber also sees.
async fn assert_nothing_before_marker(
    sub: &mut ggipc::Subscription<SubscriptionResponseMessage>,
    marker_topic: &str,
) {
    let m = next_message(sub).await;
    assert_eq!(
        m.json_message
            .and_then(|j| j.context)
            .and_then(|c| c.topic)
            .as_deref(),
        Some(marker_topic),
        "a message arrived that should not have"
    );
}

#[tokio::test]
async fn json_and_binary_messages_reach_subscribers_in_order_with_their_topic() {
    let fx = Fixture::start().await;
    let a = fx.client(&component(&fx, "a", &["*"])).await;
    let b = fx.client(&component(&fx, "b", &["*"])).await;
    let mut sub = b
        .subscribe_to_topic(subscribe_request("sensors/+/temp", None))
        .await
        .unwrap();
    for i in 0..50 {
        a.publish_to_topic(json_publish("sensors/s1/temp", json!({ "i": i })))
            .await
            .unwrap();
    }
    a.publish_to_topic(binary_publish("sensors/s2/temp", &[0, 255, 7]))
        .await
        .unwrap();
    for i in 0..50 {
        let m = next_message(&mut sub).await;
        let j = m.json_message.unwrap();
        assert_eq!(j.message, Some(json!({ "i": i })));
        assert_eq!(j.context.unwrap().topic.as_deref(), Some("sensors/s1/temp"));
        assert!(m.binary_message.is_none());
    }
    let m = next_message(&mut sub).await;
    let bin = m.binary_message.unwrap();
    assert_eq!(bin.message.as_deref(), Some(&[0u8, 255, 7][..]));
    assert_eq!(
        bin.context.unwrap().topic.as_deref(),
        Some("sensors/s2/temp")
    );
    // Not matching: nothing.
    a.publish_to_topic(json_publish("sensors/s1/humidity", json!({})))
        .await
        .unwrap();
    a.publish_to_topic(json_publish("sensors/marker/temp", json!({})))
        .await
        .unwrap();
    assert_nothing_before_marker(&mut sub, "sensors/marker/temp").await;
}

#[tokio::test]
async fn receive_mode_defaults_follow_the_nucleus() {
    let fx = Fixture::start().await;
    let c = fx.client(&component(&fx, "self", &["*"])).await;
    let other = fx.client(&component(&fx, "other", &["*"])).await;
    // No wildcard: RECEIVE_ALL_MESSAGES, so a component hears itself.
    let mut exact = c
        .subscribe_to_topic(subscribe_request("t/1", None))
        .await
        .unwrap();
    c.publish_to_topic(json_publish("t/1", json!({"from": "self"})))
        .await
        .unwrap();
    let m = next_message(&mut exact).await;
    assert_eq!(
        m.json_message.unwrap().message,
        Some(json!({"from": "self"}))
    );
    // A wildcard: RECEIVE_MESSAGES_FROM_OTHERS, so its own message is skipped and the next one (from another
    // component) is the first it gets.
    let mut wild = c
        .subscribe_to_topic(subscribe_request("t/+", None))
        .await
        .unwrap();
    c.publish_to_topic(json_publish("t/2", json!({"from": "self"})))
        .await
        .unwrap();
    other
        .publish_to_topic(json_publish("t/2", json!({"from": "other"})))
        .await
        .unwrap();
    let m = next_message(&mut wild).await;
    assert_eq!(
        m.json_message.unwrap().message,
        Some(json!({"from": "other"}))
    );
    // Explicit modes override the default.
    let mut all = c
        .subscribe_to_topic(subscribe_request(
            "u/+",
            Some(ReceiveMode::ReceiveAllMessages),
        ))
        .await
        .unwrap();
    let mut others = c
        .subscribe_to_topic(subscribe_request(
            "u/1",
            Some(ReceiveMode::ReceiveMessagesFromOthers),
        ))
        .await
        .unwrap();
    c.publish_to_topic(json_publish("u/1", json!({"n": 1})))
        .await
        .unwrap();
    other
        .publish_to_topic(json_publish("u/1", json!({"n": 2})))
        .await
        .unwrap();
    assert_eq!(
        next_message(&mut all).await.json_message.unwrap().message,
        Some(json!({"n": 1}))
    );
    assert_eq!(
        next_message(&mut others)
            .await
            .json_message
            .unwrap()
            .message,
        Some(json!({"n": 2}))
    );
}

#[tokio::test]
async fn local_and_iot_core_messages_stay_apart() {
    let fx = Fixture::start().await;
    let ac = AccessControl::from_rules(&[(PUBSUB, &["*"], &["*"]), (common::MQTT, &["*"], &["*"])])
        .unwrap();
    let c = fx
        .client(&fx.server.components().register("both", ac))
        .await;
    let mut local = c
        .subscribe_to_topic(subscribe_request("x/#", None))
        .await
        .unwrap();
    let mut cloud = c
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("x/#", Qos::AtLeastOnce))
        .await
        .unwrap();
    c.publish_to_topic(json_publish("x/local", json!({})))
        .await
        .unwrap();
    c.publish_to_iot_core(PublishToIoTCoreRequest::new(
        "x/cloud",
        Qos::AtLeastOnce,
        "c",
    ))
    .await
    .unwrap();
    // The broker saw only the IoT Core publish; the local subscriber gets only... nothing of the cloud one.
    let recorded: Vec<String> = fx
        .broker
        .recorded()
        .iter()
        .map(|p| p.message.topic().to_string())
        .collect();
    assert_eq!(recorded, vec!["x/cloud".to_string()]);
    match tokio::time::timeout(Duration::from_secs(5), cloud.next()).await {
        Ok(Some(SubscriptionEvent::Message(m))) => {
            assert_eq!(m.message.unwrap().topic(), "x/cloud")
        }
        other => panic!("{other:?}"),
    }
    // "x/local" is skipped for its own publisher under the wildcard default; a marker from the server
    // shows nothing else was queued for the local subscriber.
    assert_eq!(
        fx.server
            .publish_local("tool", "x/marker", LocalMessage::Json(Some(json!({})))),
        1
    );
    assert_nothing_before_marker(&mut local, "x/marker").await;
}

#[tokio::test]
async fn bad_input_gets_the_nucleus_answers() {
    let fx = Fixture::start().await;
    let c = fx.client(&component(&fx, "c", &["allowed/*"])).await;
    let err = |r: ggipc::Result<PublishToTopicResponse>| {
        let e = r.unwrap_err();
        (e.kind(), e.message().to_string())
    };
    // Authorization first, with standard matching: `+` and `#` in a topic are just characters.
    assert_eq!(
        err(c.publish_to_topic(json_publish("denied/x", json!({}))).await),
        (
            ErrorKind::UnauthorizedError,
            "Principal c is not authorized to perform aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource denied/x".into()
        )
    );
    assert_eq!(
        err(c.publish_to_topic(json_publish("", json!({}))).await),
        (
            ErrorKind::UnauthorizedError,
            "Resource cannot be empty".into()
        )
    );
    assert_eq!(
        err(c
            .publish_to_topic(PublishToTopicRequest {
                topic: None,
                ..json_publish("", json!({}))
            })
            .await)
        .0,
        ErrorKind::UnauthorizedError
    );
    assert_eq!(
        err(c
            .publish_to_topic(json_publish("allowed/+", json!({})))
            .await),
        (
            ErrorKind::InvalidArgumentsError,
            "Publish topic must not contain a wildcard.".into()
        )
    );
    assert_eq!(
        err(c
            .publish_to_topic(json_publish("allowed/x*", json!({})))
            .await)
        .1,
        "Publish topic must not contain a wildcard."
    );
    let no_message = PublishToTopicRequest {
        topic: Some("allowed/x".into()),
        publish_message: None,
    };
    assert_eq!(
        err(c.publish_to_topic(no_message).await),
        (
            ErrorKind::InvalidArgumentsError,
            "Publish message is required".into()
        )
    );
    let mut both = json_publish("allowed/x", json!({}));
    both.publish_message.as_mut().unwrap().binary_message = Some(BinaryMessage::default());
    assert_eq!(
        err(c.publish_to_topic(both).await).1,
        "Publish message must have exactly one of jsonMessage and binaryMessage"
    );
    let empty = PublishToTopicRequest {
        topic: Some("allowed/x".into()),
        publish_message: Some(PublishMessage::default()),
    };
    assert_eq!(
        err(c.publish_to_topic(empty).await).0,
        ErrorKind::InvalidArgumentsError
    );
    assert_eq!(
        err(c
            .publish_to_topic(json_publish("allowed/x", json!([1, 2])))
            .await),
        (
            ErrorKind::InvalidArgumentsError,
            "Invalid jsonMessage: message must be a JSON object".into()
        )
    );
    for no_value in [None, Some(serde_json::Value::Null)] {
        let mut r = json_publish("allowed/x", json!({}));
        r.publish_message
            .as_mut()
            .unwrap()
            .json_message
            .as_mut()
            .unwrap()
            .message = no_value;
        assert_eq!(
            err(c.publish_to_topic(r).await),
            (
                ErrorKind::InvalidArgumentsError,
                "Invalid jsonMessage: message is required".into()
            )
        );
    }
    // Malformed JSON and a bad receive mode, through the raw transport.
    let raw = c
        .call(
            &PUBLISH_TO_TOPIC,
            bytes::Bytes::from_static(b"{\"topic\": "),
        )
        .await
        .unwrap_err();
    assert_eq!(raw.kind(), ErrorKind::InvalidArgumentsError);
    assert!(raw.message().starts_with("Invalid request: "), "{raw}");
    let bad_mode = c
        .open_subscription::<ggipc::RawEvent>(
            &SUBSCRIBE_TO_TOPIC,
            bytes::Bytes::from_static(br#"{"topic": "allowed/x", "receiveMode": "SOMETIMES"}"#),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (bad_mode.kind(), bad_mode.message()),
        (
            ErrorKind::InvalidArgumentsError,
            "Invalid ReceiveMode value: SOMETIMES"
        )
    );
    let e = c
        .subscribe_to_topic(subscribe_request("", None))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::UnauthorizedError, "Resource cannot be empty")
    );
    let e = c
        .subscribe_to_topic(subscribe_request("other/#", None))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnauthorizedError);
    // A policy `allowed/*` matches the filter text `allowed/#` as a string (standard matching).
    c.subscribe_to_topic(subscribe_request("allowed/#", None))
        .await
        .unwrap();
    // The connection still works after every refusal.
    c.publish_to_topic(json_publish("allowed/ok", json!({"ok": true})))
        .await
        .unwrap();
}

#[tokio::test]
async fn closing_a_subscription_or_its_connection_removes_it() {
    let fx = Fixture::start().await;
    let token = component(&fx, "c", &["*"]);
    let c = fx.client(&token).await;
    let sub = c
        .subscribe_to_topic(subscribe_request("a", None))
        .await
        .unwrap();
    let _sub2 = c
        .subscribe_to_topic(subscribe_request("b", None))
        .await
        .unwrap();
    assert_eq!(fx.server.local_subscriptions(), 2);
    sub.close();
    // The terminate is processed before the next request on the same connection.
    c.publish_to_topic(json_publish("a", json!({})))
        .await
        .unwrap();
    assert_eq!(fx.server.local_subscriptions(), 1);
    c.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while fx.server.local_subscriptions() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscription outlived its connection"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_slow_subscriber_does_not_stop_the_others() {
    // The publisher waits for the stuck subscriber this long once, then goes on without it.
    let fx = Fixture::start_with(|c| c.subscriber_stall_timeout = Duration::from_millis(500)).await;
    let publisher = fx.client(&component(&fx, "p", &["*"])).await;
    // The slow one never reads its socket (a raw peer that subscribed and stopped).
    let slow_token = component(&fx, "slow", &["*"]);
    let mut slow = common::Raw::handshake(&fx.path(), &slow_token).await;
    slow.send(&common::Raw::activation(
        "aws.greengrass#SubscribeToTopic",
        "aws.greengrass#SubscribeToTopicRequest",
        1,
        r#"{"topic": "load"}"#,
    ))
    .await;
    let _ = slow.recv().await.unwrap();
    let fast = fx.client(&component(&fx, "fast", &["*"])).await;
    let mut sub = fast
        .subscribe_to_topic(subscribe_request("load", None))
        .await
        .unwrap();
    let big = "x".repeat(64 * 1024);
    let n = 200; // 12.8 MiB for the slow subscriber: well past what the server queues for it
    for i in 0..n {
        publisher
            .publish_to_topic(json_publish("load", json!({ "i": i, "pad": big })))
            .await
            .unwrap();
        let m = next_message(&mut sub).await;
        assert_eq!(m.json_message.unwrap().message.unwrap()["i"], json!(i));
    }
    let stats = fx.server.stats();
    assert!(
        stats.events_dropped > 0,
        "the stuck subscriber's events were not dropped"
    );
    assert_eq!(stats.lag_episodes, 1, "{stats:?}");
}
