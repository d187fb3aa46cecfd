//! `ggipc::testing::TestNucleus`: what users' tests rely on, driven through the blocking client as the
//! bindings drive it.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

use ggipc::blocking::Client;
use ggipc::model::*;
use ggipc::testing::{parse_policy, TestNucleus};
use ggipc::{ErrorKind, ReconnectPolicy, SubscriptionEvent};
use std::time::{Duration, Instant};

const COMPONENT: &str = "com.example.Forwarder";
const POLICY: &str = r#"{"aws.greengrass.ipc.mqttproxy": {"fwd": {
    "operations": ["aws.greengrass#PublishToIoTCore", "aws.greengrass#SubscribeToIoTCore",
                   "aws.greengrass#SubscribeToIoTCoreConnectionStatus"],
    "resources": ["telemetry/#", "commands/#"]}}}"#;
const T: Duration = Duration::from_secs(5);

fn nucleus() -> TestNucleus {
    TestNucleus::builder(COMPONENT)
        .policy_json(POLICY)
        .unwrap()
        .start()
        .unwrap()
}

fn client(n: &TestNucleus) -> Client {
    Client::builder()
        .socket_path(n.socket_path())
        .auth_token(n.token())
        .connect_blocking()
        .unwrap()
}

fn publish(c: &Client, topic: &str, qos: Qos, payload: &[u8]) -> ggipc::Result<()> {
    c.publish_to_iot_core(PublishToIoTCoreRequest {
        topic_name: Some(topic.into()),
        qos: Some(qos),
        payload: Some(payload.to_vec()),
        ..Default::default()
    })
    .map(|_| ())
}

fn subscribe(
    c: &Client,
    filter: &str,
) -> ggipc::Result<ggipc::blocking::Subscription<IoTCoreMessage>> {
    c.subscribe_to_iot_core(SubscribeToIoTCoreRequest {
        topic_name: Some(filter.into()),
        qos: Some(Qos::AtLeastOnce),
    })
}

fn next_message(sub: &mut ggipc::blocking::Subscription<IoTCoreMessage>) -> MqttMessage {
    loop {
        match sub.recv_timeout(T).unwrap() {
            Some(SubscriptionEvent::Message(m)) => return m.message.unwrap(),
            Some(SubscriptionEvent::Interrupted(_)) | Some(SubscriptionEvent::Resumed) => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[test]
fn publishes_are_recorded_and_waited_for() {
    let n = nucleus();
    let env = n.env();
    assert_eq!(env[ggipc::SOCKET_ENV], n.socket_path().to_string_lossy());
    assert_eq!(env[ggipc::TOKEN_ENV], n.token());
    let c = client(&n);
    publish(&c, "telemetry/a", Qos::AtLeastOnce, b"one").unwrap();
    publish(&c, "telemetry/b", Qos::AtMostOnce, b"two").unwrap();
    let got = n.wait_for_publishes(Some("telemetry/#"), 2, T).unwrap();
    let payloads: Vec<&[u8]> = got.iter().map(|p| p.message.payload_bytes()).collect();
    assert_eq!(payloads, [b"one".as_slice(), b"two"]);
    assert_eq!(&*got[0].component, COMPONENT);
    assert_eq!(got[1].qos, Qos::AtMostOnce);
    assert_eq!(
        n.wait_for_publishes(Some("telemetry/b"), 1, T)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(n.published_count(), 2);
    n.clear_published();
    assert!(n.published().is_empty());
}

#[test]
fn a_wait_nobody_satisfies_times_out_saying_what_happened() {
    let n = nucleus();
    let c = client(&n);
    publish(&c, "telemetry/x", Qos::AtLeastOnce, b"x").unwrap();
    let start = Instant::now();
    let e = n
        .wait_for_publishes(Some("telemetry/y"), 1, Duration::from_millis(200))
        .unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        e.message().contains("got 0; published to: telemetry/x"),
        "{e}"
    );
    assert!(!e.message().contains("note:"), "{e}");
    // A topic the policy does not allow: the message says so.
    let e = n
        .wait_for_publishes(Some("other/t"), 1, Duration::from_millis(100))
        .unwrap_err();
    assert!(
        e.message().contains("no registered component (com.example.Forwarder) has a policy allowing aws.greengrass#PublishToIoTCore on 'other/t'"),
        "{e}"
    );
    let e = n
        .wait_for_subscription(Some("commands/#"), Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.message().contains("there are no subscriptions"), "{e}");
}

#[test]
fn a_component_without_a_policy_is_refused_and_the_wait_says_why() {
    let n = TestNucleus::builder("com.example.NoPolicy")
        .start()
        .unwrap();
    let c = client(&n);
    let e = publish(&c, "telemetry/a", Qos::AtLeastOnce, b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnauthorizedError);
    let e = n
        .wait_for_publishes(Some("telemetry/a"), 1, Duration::from_millis(100))
        .unwrap_err();
    assert!(e.message().contains("nothing was published"), "{e}");
    assert!(
        e.message()
            .contains("no registered component (com.example.NoPolicy)"),
        "{e}"
    );
    let e = n.env_of("com.example.Other").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(
        e.message()
            .contains("'com.example.Other' is not registered")
            && e.message().contains("com.example.NoPolicy"),
        "{e}"
    );
    assert_eq!(
        n.set_policy("com.example.Other", Default::default())
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn bad_policies_are_refused_with_the_field() {
    let e = TestNucleus::builder(COMPONENT)
        .policy_json(r#"{"aws.greengrass.ipc.mqttproxy": {"p": {"operations": 3}}}"#)
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("accessControl"), "{e}");
}

#[test]
fn injected_messages_reach_subscribers_and_denied_topics_are_refused() {
    let n = nucleus();
    let c = client(&n);
    let mut sub = subscribe(&c, "commands/#").unwrap();
    n.wait_for_subscription(Some("commands/#"), T).unwrap();
    assert_eq!(n.subscriptions(), ["commands/#"]);
    assert_eq!(n.inject(MqttMessage::new("commands/go", b"go".to_vec())), 1);
    assert_eq!(next_message(&mut sub).payload_bytes(), b"go");
    assert_eq!(n.inject(MqttMessage::new("elsewhere", b"x".to_vec())), 0);
    let e = publish(&c, "secret/t", Qos::AtLeastOnce, b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnauthorizedError);
    // A policy change applies to the next request.
    n.set_policy(COMPONENT, parse_policy(r#"{"aws.greengrass.ipc.mqttproxy": {"p": {"operations": ["*"], "resources": ["secret/t"]}}}"#).unwrap())
        .unwrap();
    publish(&c, "secret/t", Qos::AtLeastOnce, b"ok").unwrap();
    assert_eq!(
        publish(&c, "telemetry/a", Qos::AtLeastOnce, b"x")
            .unwrap_err()
            .kind(),
        ErrorKind::UnauthorizedError
    );
}

#[test]
fn simulated_failures_reach_the_client_as_service_errors() {
    let n = nucleus();
    let c = client(&n);
    n.fail_publishes(Some("telemetry/bad/#"), Some("broker says no"));
    let e = publish(&c, "telemetry/bad/1", Qos::AtLeastOnce, b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServiceError);
    assert!(e.message().contains("broker says no"), "{e}");
    publish(&c, "telemetry/good", Qos::AtLeastOnce, b"x").unwrap();
    n.fail_publishes(None, None);
    publish(&c, "telemetry/bad/1", Qos::AtLeastOnce, b"x").unwrap();
    n.fail_subscriptions(Some("commands/#"), Some("no subs"));
    let e = subscribe(&c, "commands/+").err().unwrap();
    assert_eq!(e.kind(), ErrorKind::ServiceError);
    assert!(e.message().contains("no subs"), "{e}");
    subscribe(&c, "telemetry/#").unwrap();
}

#[test]
fn an_outage_flips_the_status_refuses_qos0_and_spools_qos1_until_it_ends() {
    let n = TestNucleus::builder(COMPONENT)
        .policy_json(POLICY)
        .unwrap()
        .spool_max_bytes(64)
        .offline_subscribe_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let c = client(&n);
    let mut status = c
        .subscribe_to_iot_core_connection_status(Default::default())
        .unwrap();
    let mut next_status = || match status.recv_timeout(T).unwrap() {
        Some(SubscriptionEvent::Message(e)) => e.connection_status_event.unwrap().status.unwrap(),
        other => panic!("expected a status, got {other:?}"),
    };
    assert_eq!(next_status(), ConnectionStatus::Connected);
    let mut echo = subscribe(&c, "telemetry/#").unwrap();
    n.set_connected(false);
    assert!(!n.is_connected());
    assert_eq!(next_status(), ConnectionStatus::Disconnected);

    let e = publish(&c, "telemetry/q0", Qos::AtMostOnce, b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServiceError);
    assert!(
        e.message()
            .contains("Device is offline. Dropping QoS 0 message."),
        "{e}"
    );
    // Accepted into the spool (answered at once), not yet published.
    publish(&c, "telemetry/q1", Qos::AtLeastOnce, b"first").unwrap();
    publish(&c, "telemetry/q1", Qos::AtLeastOnce, b"second").unwrap();
    assert_eq!(n.spooled().len(), 2);
    assert_eq!(n.published_count(), 0);
    let e = publish(&c, "telemetry/q1", Qos::AtLeastOnce, &[0u8; 40]).unwrap_err();
    assert!(
        e.message()
            .contains("Message spool is full. Message could not be added."),
        "{e}"
    );
    let e = publish(&c, "telemetry/q1", Qos::AtLeastOnce, &[0u8; 100]).unwrap_err();
    assert!(
        e.message()
            .contains("Message is larger than the size of message spool."),
        "{e}"
    );
    // IoT Core cannot reach the device; a new subscription waits for the connection, then fails.
    assert_eq!(n.inject(MqttMessage::new("telemetry/in", b"x".to_vec())), 0);
    let e = subscribe(&c, "commands/#").err().unwrap();
    assert_eq!(e.kind(), ErrorKind::ServiceError);
    assert!(e.message().contains("waiting for the broker"), "{e}");
    let e = n
        .wait_for_publishes(Some("telemetry/q1"), 1, Duration::from_millis(50))
        .unwrap_err();
    assert!(e.message().contains("2 publish(es) are spooled"), "{e}");

    n.set_connected(true);
    assert_eq!(next_status(), ConnectionStatus::Connected);
    let sent = n.wait_for_publishes(Some("telemetry/q1"), 2, T).unwrap();
    let payloads: Vec<&[u8]> = sent.iter().map(|p| p.message.payload_bytes()).collect();
    assert_eq!(payloads, [b"first".as_slice(), b"second"]);
    assert!(n.spooled().is_empty());
    assert_eq!(next_message(&mut echo).payload_bytes(), b"first");
    assert_eq!(next_message(&mut echo).payload_bytes(), b"second");
    publish(&c, "telemetry/q0", Qos::AtMostOnce, b"x").unwrap();
}

#[test]
fn a_subscription_made_during_an_outage_completes_when_it_ends() {
    let n = nucleus();
    let c = client(&n);
    n.set_connected(false);
    let waiter = std::thread::spawn({
        let c = c.clone();
        move || subscribe(&c, "commands/#").map(|_| ())
    });
    // Nothing subscribes while the broker is away.
    assert!(n
        .wait_for_subscription(Some("commands/#"), Duration::from_millis(200))
        .is_err());
    n.set_connected(true);
    n.wait_for_subscription(Some("commands/#"), T).unwrap();
    waiter.join().unwrap().unwrap();
}

#[test]
fn qos0_can_be_kept_while_offline() {
    let n = TestNucleus::builder(COMPONENT)
        .policy_json(POLICY)
        .unwrap()
        .keep_qos0_when_offline(true)
        .start()
        .unwrap();
    let c = client(&n);
    n.set_connected(false);
    publish(&c, "telemetry/q0", Qos::AtMostOnce, b"kept").unwrap();
    n.set_connected(true);
    assert_eq!(
        n.wait_for_publishes(Some("telemetry/q0"), 1, T).unwrap()[0]
            .message
            .payload_bytes(),
        b"kept"
    );
}

#[test]
fn a_restart_keeps_socket_tokens_and_policies_for_reconnecting_clients() {
    let n = nucleus();
    let other = n.add_component(
        "com.example.Other",
        Default::default(),
        Some("OTHERTOKEN".into()),
    );
    assert_eq!(other, "OTHERTOKEN");
    let c = Client::builder()
        .socket_path(n.socket_path())
        .auth_token(n.token())
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            ..Default::default()
        })
        .connect_blocking()
        .unwrap();
    let mut sub = subscribe(&c, "commands/#").unwrap();
    n.wait_for_subscription(Some("commands/#"), T).unwrap();
    let token = n.token();
    n.restart().unwrap();
    assert!(n.is_running());
    assert_eq!(n.token(), token);
    assert_eq!(n.token_of("com.example.Other").unwrap(), "OTHERTOKEN");
    // The client re-subscribes by itself on the same socket with the same token.
    n.wait_for_subscription(Some("commands/#"), T).unwrap();
    assert_eq!(
        n.inject(MqttMessage::new("commands/after", b"after".to_vec())),
        1
    );
    assert_eq!(next_message(&mut sub).payload_bytes(), b"after");
    publish(&c, "telemetry/t", Qos::AtLeastOnce, b"x").unwrap();
    n.wait_for_publishes(Some("telemetry/t"), 1, T).unwrap();
    n.stop().unwrap();
    assert!(!n.is_running());
    assert!(!n.socket_path().exists());
    n.stop().unwrap();
}

#[test]
fn configuration_survives_a_restart_and_updates_reach_subscribers() {
    let n = TestNucleus::builder(COMPONENT)
        .policy_json(
            r#"{"aws.greengrass.ipc.config": {"p": {"operations": ["*"], "resources": ["*"]}}}"#,
        )
        .unwrap()
        .configuration(serde_json::json!({"interval": 5}))
        .start()
        .unwrap();
    let c = client(&n);
    let value = c
        .get_configuration(GetConfigurationRequest::default())
        .unwrap()
        .value;
    assert_eq!(value, Some(serde_json::json!({"interval": 5})));
    let mut updates = c
        .subscribe_to_configuration_update(SubscribeToConfigurationUpdateRequest::default())
        .unwrap();
    let mut value = serde_json::Map::new();
    value.insert("interval".into(), serde_json::json!(7));
    n.update_configuration(COMPONENT, &[], value).unwrap();
    match updates.recv_timeout(T).unwrap() {
        Some(SubscriptionEvent::Message(e)) => {
            let e = e.configuration_update_event.unwrap();
            assert_eq!(e.key_path, Some(vec!["interval".to_string()]));
        }
        other => panic!("expected an update, got {other:?}"),
    }
    assert_eq!(n.configuration(COMPONENT).unwrap()["interval"], 7);
    n.restart().unwrap();
    assert_eq!(n.configuration(COMPONENT).unwrap()["interval"], 7);
    assert!(n
        .set_configuration("com.example.Unknown", serde_json::json!({}))
        .is_err());
    n.set_configuration(COMPONENT, serde_json::json!({"interval": 9}))
        .unwrap();
    assert_eq!(n.configuration(COMPONENT).unwrap()["interval"], 9);
    // Nobody validates: no report; no component-update subscribers: no deferrals.
    assert_eq!(
        n.validate_configuration(
            COMPONENT,
            "d1",
            serde_json::json!({}),
            Duration::from_millis(100)
        )
        .unwrap(),
        None
    );
    assert!(n
        .pre_component_update("d1", false, Duration::from_millis(50))
        .unwrap()
        .is_empty());
    n.post_component_update("d1");
}

#[test]
fn local_subscriptions_are_waited_for_and_local_messages_delivered() {
    let n = TestNucleus::builder(COMPONENT)
        .policy_json(
            r#"{"aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["*"]}}}"#,
        )
        .unwrap()
        .start()
        .unwrap();
    let e = n
        .wait_for_local_subscription(Some("commands/#"), Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.message().contains("there are none"), "{e}");
    let c = client(&n);
    let waiter = std::thread::spawn({
        let c = c.clone();
        move || {
            c.subscribe_to_topic(SubscribeToTopicRequest {
                topic: Some("commands/#".into()),
                ..Default::default()
            })
            .unwrap()
        }
    });
    n.wait_for_local_subscription(Some("commands/#"), T)
        .unwrap();
    let mut sub = waiter.join().unwrap();
    assert_eq!(n.local_subscriptions(), 1);
    let delivered = n.publish_local(
        "com.example.Other",
        "commands/go",
        ggipc::server::LocalMessage::Binary(b"go".to_vec()),
    );
    assert_eq!(delivered, 1);
    match sub.recv_timeout(T).unwrap() {
        Some(SubscriptionEvent::Message(m)) => {
            assert_eq!(m.binary_message.unwrap().message, Some(b"go".to_vec()))
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn a_restart_leaves_one_local_subscription_per_stream_and_publishing_works() {
    let policy = r#"{"aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["*"]}},
                     "aws.greengrass.ipc.mqttproxy": {"m": {"operations": ["*"], "resources": ["*"]}}}"#;
    let n = TestNucleus::builder(COMPONENT)
        .policy_json(policy)
        .unwrap()
        .start()
        .unwrap();
    let c = Client::builder()
        .socket_path(n.socket_path())
        .auth_token(n.token())
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            ..Default::default()
        })
        .connect_blocking()
        .unwrap();
    let mut sub = c
        .subscribe_to_topic(SubscribeToTopicRequest {
            topic: Some("commands/#".into()),
            ..Default::default()
        })
        .unwrap();
    n.restart().unwrap();
    n.wait_for_local_subscription(Some("commands/#"), T)
        .unwrap();
    assert_eq!(n.local_subscriptions(), 1);
    assert_eq!(
        n.publish_local(
            "x",
            "commands/a",
            ggipc::server::LocalMessage::Binary(b"a".to_vec())
        ),
        1
    );
    loop {
        match sub.recv_timeout(T).unwrap() {
            Some(SubscriptionEvent::Message(_)) => break,
            Some(SubscriptionEvent::Interrupted(_)) | Some(SubscriptionEvent::Resumed) => continue,
            other => panic!("{other:?}"),
        }
    }
    // Once the subscription is back, the connection is: a publish goes through at the first attempt.
    publish(&c, "telemetry/after", Qos::AtLeastOnce, b"x").unwrap();
}

#[test]
fn after_a_restart_only_an_operation_made_before_the_client_noticed_fails() {
    let n = nucleus();
    let c = Client::builder()
        .socket_path(n.socket_path())
        .auth_token(n.token())
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            ..Default::default()
        })
        .connect_blocking()
        .unwrap();
    for round in 0..20 {
        publish(&c, "telemetry/before", Qos::AtLeastOnce, b"x").unwrap();
        n.restart().unwrap();
        // The first publish may still go out on the connection the restart closed; once it has failed the
        // client is reconnecting, so the next one waits for the new connection.
        let topic = format!("telemetry/after/{round}");
        if let Err(e) = publish(&c, &topic, Qos::AtLeastOnce, b"x") {
            assert_eq!(e.kind(), ErrorKind::ConnectionClosed, "round {round}: {e}");
            publish(&c, &topic, Qos::AtLeastOnce, b"x")
                .unwrap_or_else(|e| panic!("round {round}: a second publish failed: {e}"));
        }
        n.wait_for_publishes(Some(&topic), 1, T).unwrap();
    }
}
