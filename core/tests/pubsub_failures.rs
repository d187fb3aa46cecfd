//! Local publish/subscribe under failure: a 10 MB+ message and one past the frame limit, a subscriber that
//! closes in the middle of a stream of messages, and a nucleus restart under a reconnecting local subscriber.
//! (Malformed JSON, a JSON value that is not an object, both members set and a subscriber that stops reading
//! are in `pubsub.rs`.)
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::Fixture;
use ggipc::model::*;
use ggipc::server::{AccessControl, Server};
use ggipc::{Client, ErrorKind, ReconnectPolicy, SubscriptionEvent};
use serde_json::json;
use std::time::Duration;

const PUBSUB: &str = "aws.greengrass.ipc.pubsub";

fn pubsub_rules() -> AccessControl {
    AccessControl::from_rules(&[(PUBSUB, &["*"], &["*"])]).unwrap()
}

fn component(fx: &Fixture, name: &str) -> String {
    fx.server.components().register(name, pubsub_rules())
}

fn binary_publish(topic: &str, bytes: Vec<u8>) -> PublishToTopicRequest {
    PublishToTopicRequest {
        topic: Some(topic.into()),
        publish_message: Some(PublishMessage {
            json_message: None,
            binary_message: Some(BinaryMessage {
                message: Some(bytes),
                context: None,
            }),
        }),
    }
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

fn subscribe(topic: &str) -> SubscribeToTopicRequest {
    SubscribeToTopicRequest {
        topic: Some(topic.into()),
        receive_mode: None,
    }
}

async fn next_event(
    sub: &mut ggipc::Subscription<SubscriptionResponseMessage>,
) -> Option<SubscriptionEvent<SubscriptionResponseMessage>> {
    tokio::time::timeout(Duration::from_secs(20), sub.next())
        .await
        .expect("no event within 20 s")
}

async fn next_message(
    sub: &mut ggipc::Subscription<SubscriptionResponseMessage>,
) -> SubscriptionResponseMessage {
    match next_event(sub).await {
        Some(SubscriptionEvent::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn json_index(m: SubscriptionResponseMessage) -> i64 {
    m.json_message.unwrap().message.unwrap()["i"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_10_mb_message_is_delivered_intact_and_one_past_the_frame_limit_is_refused() {
    let fx = Fixture::start().await;
    let publisher = fx.client(&component(&fx, "p")).await;
    let subscriber = fx.client(&component(&fx, "s")).await;
    let mut sub = subscriber
        .subscribe_to_topic(subscribe("big"))
        .await
        .unwrap();

    // 10 MB + 1 of bytes (the base64 body is about 13.4 MB, under the 24 MiB event-stream limit): the
    // nucleus has no size limit of its own for local messages, so it is delivered byte for byte.
    let bytes: Vec<u8> = (0..10 * 1024 * 1024 + 1).map(|i| (i % 251) as u8).collect();
    publisher
        .publish_to_topic(binary_publish("big", bytes.clone()))
        .await
        .unwrap();
    let m = next_message(&mut sub).await;
    let b = m.binary_message.unwrap();
    assert_eq!(b.context.unwrap().topic.as_deref(), Some("big"));
    assert!(
        b.message.as_deref() == Some(&bytes[..]),
        "the bytes changed"
    );

    // The same size as a JSON string member.
    let text = "j".repeat(10 * 1024 * 1024 + 1);
    publisher
        .publish_to_topic(json_publish("big", json!({ "text": text })))
        .await
        .unwrap();
    let m = next_message(&mut sub).await;
    assert_eq!(
        m.json_message.unwrap().message.unwrap()["text"]
            .as_str()
            .map(str::len),
        Some(text.len())
    );

    // 20 MiB of bytes is a 26.7 MiB frame, past the 24 MiB limit both ends apply: the client refuses it
    // with a typed error before anything is sent, and the connection goes on working.
    let e = publisher
        .publish_to_topic(binary_publish("big", vec![7; 20 * 1024 * 1024]))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    publisher
        .publish_to_topic(json_publish("big", json!({ "after": true })))
        .await
        .unwrap();
    let m = next_message(&mut sub).await;
    assert_eq!(
        m.json_message.unwrap().message.unwrap(),
        json!({ "after": true })
    );
}

#[tokio::test]
async fn a_frame_past_the_limit_closes_only_the_connection_that_sent_it() {
    let fx = Fixture::start_with(|c| c.max_message_size = 64 * 1024).await;
    let subscriber = fx.client(&component(&fx, "s")).await;
    let mut sub = subscriber.subscribe_to_topic(subscribe("t")).await.unwrap();
    // A raw peer writes a PublishToTopic frame larger than the server's limit: the nucleus drops that
    // connection (the event-stream decoder's answer), nobody else's.
    let token = component(&fx, "raw");
    let mut raw = common::Raw::handshake(&fx.path(), &token).await;
    let body = format!(
        r#"{{"topic":"t","publishMessage":{{"binaryMessage":{{"message":"{}"}}}}}}"#,
        "QUFB".repeat(40 * 1024)
    );
    raw.send(&common::Raw::activation(
        "aws.greengrass#PublishToTopic",
        "aws.greengrass#PublishToTopicRequest",
        1,
        &body,
    ))
    .await;
    assert!(raw.recv().await.is_none(), "the connection stayed open");
    let publisher = fx.client(&component(&fx, "p")).await;
    publisher
        .publish_to_topic(json_publish("t", json!({ "i": 1 })))
        .await
        .unwrap();
    assert_eq!(json_index(next_message(&mut sub).await), 1);
}

#[tokio::test]
async fn a_subscriber_that_closes_mid_stream_does_not_disturb_the_publisher_or_the_others() {
    let fx = Fixture::start().await;
    let publisher = fx.client(&component(&fx, "p")).await;
    let steady = fx.client(&component(&fx, "steady")).await;
    let mut steady_sub = steady.subscribe_to_topic(subscribe("flow")).await.unwrap();
    // One subscriber closes its subscription, another drops its whole connection, both in the middle of
    // the stream.
    let quitter = fx.client(&component(&fx, "quitter")).await;
    let mut quitter_sub = quitter.subscribe_to_topic(subscribe("flow")).await.unwrap();
    let dropper = fx.client(&component(&fx, "dropper")).await;
    let mut dropper_sub = dropper.subscribe_to_topic(subscribe("flow")).await.unwrap();
    assert_eq!(fx.server.local_subscriptions(), 3);

    const N: i64 = 400;
    let publishing = tokio::spawn(async move {
        for i in 0..N {
            publisher
                .publish_to_topic(json_publish("flow", json!({ "i": i })))
                .await
                .unwrap();
        }
        publisher
    });
    for expected in 0..20 {
        assert_eq!(json_index(next_message(&mut quitter_sub).await), expected);
        assert_eq!(json_index(next_message(&mut dropper_sub).await), expected);
    }
    quitter_sub.close();
    dropper.close().await;
    drop(dropper_sub);

    // The steady subscriber gets every message, in order; every publish succeeded.
    for expected in 0..N {
        assert_eq!(json_index(next_message(&mut steady_sub).await), expected);
    }
    let publisher = publishing.await.unwrap();
    common::eventually("the closed subscriptions to be removed", || {
        fx.server.local_subscriptions() == 1
    })
    .await;
    // And later messages still flow.
    publisher
        .publish_to_topic(json_publish("flow", json!({ "i": N })))
        .await
        .unwrap();
    assert_eq!(json_index(next_message(&mut steady_sub).await), N);
    // The closed subscription ends with its last event, nothing after it.
    loop {
        match next_event(&mut quitter_sub).await {
            Some(SubscriptionEvent::Message(_)) => {}
            Some(SubscriptionEvent::Closed(_)) | None => break,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_reconnecting_local_subscriber_resubscribes_after_a_nucleus_restart() {
    let mut fx = Fixture::start().await;
    let token = component(&fx, "s");
    let publisher_token = component(&fx, "p");
    let subscriber = Client::builder()
        .socket_path(fx.path())
        .auth_token(token.clone())
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            ..Default::default()
        })
        .connect()
        .await
        .unwrap();
    let mut sub = subscriber
        .subscribe_to_topic(subscribe("restart/+"))
        .await
        .unwrap();
    let publisher = fx.client(&publisher_token).await;
    publisher
        .publish_to_topic(json_publish("restart/a", json!({ "i": 1 })))
        .await
        .unwrap();
    assert_eq!(json_index(next_message(&mut sub).await), 1);

    fx.stop().await;
    match next_event(&mut sub).await {
        Some(SubscriptionEvent::Interrupted(e)) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionClosed)
        }
        other => panic!("unexpected {other:?}"),
    }
    // The publisher has no reconnect: its publish fails with a typed error, it does not hang.
    let e = publisher
        .publish_to_topic(json_publish("restart/a", json!({ "i": 2 })))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionClosed, "{e}");

    // The nucleus comes back on the same socket with the same components.
    let server = Server::new(Fixture::config(&fx.dir), fx.broker.clone());
    server
        .components()
        .register_with_token("s", pubsub_rules(), token);
    server
        .components()
        .register_with_token("p", pubsub_rules(), publisher_token.clone());
    let _handle = server.spawn().unwrap();
    match next_event(&mut sub).await {
        Some(SubscriptionEvent::Resumed) => {}
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(server.local_subscriptions(), 1, "not resubscribed");
    let publisher = Client::builder()
        .socket_path(fx.path())
        .auth_token(publisher_token)
        .connect()
        .await
        .unwrap();
    for i in 3..6 {
        publisher
            .publish_to_topic(json_publish("restart/b", json!({ "i": i })))
            .await
            .unwrap();
    }
    for i in 3..6 {
        let m = next_message(&mut sub).await;
        let j = m.json_message.unwrap();
        assert_eq!(j.context.unwrap().topic.as_deref(), Some("restart/b"));
        assert_eq!(j.message.unwrap()["i"], json!(i));
    }
}
