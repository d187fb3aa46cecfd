//! The Rust client against the server over a real Unix socket.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use common::*;
use ggipc::model::*;
use ggipc::server::{
    BoxFuture, Broker, BrokerError, BrokerPublish, MessageSink, Server, SubscriptionId,
};
use ggipc::{Client, ErrorKind, LifecycleEvent, ReconnectPolicy, SubscriptionEvent};
use std::sync::Arc;
use std::time::Duration;

async fn next_message(sub: &mut ggipc::Subscription) -> MqttMessage {
    match tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("no event within 5 s")
    {
        Some(SubscriptionEvent::Message(m)) => m.message.unwrap(),
        other => panic!("unexpected event {other:?}"),
    }
}

#[tokio::test]
async fn publish_qos0_and_qos1_reach_the_broker() {
    let fx = Fixture::start().await;
    let token = fx.component("pub", &[PUB], &["t/*"]);
    let c = fx.client(&token).await;
    c.publish_to_iot_core(PublishToIoTCoreRequest::new("t/0", Qos::AtMostOnce, "zero"))
        .await
        .unwrap();
    c.publish_to_iot_core(PublishToIoTCoreRequest::new("t/1", Qos::AtLeastOnce, "one"))
        .await
        .unwrap();
    let rec = fx.broker.recorded();
    assert_eq!(rec.len(), 2);
    assert_eq!(
        (&*rec[0].component, rec[0].qos, rec[0].message.topic()),
        ("pub", Qos::AtMostOnce, "t/0")
    );
    assert_eq!(
        (rec[1].qos, rec[1].message.payload_bytes()),
        (Qos::AtLeastOnce, &b"one"[..])
    );
    assert_eq!(fx.server.stats().publishes, 2);
}

#[tokio::test]
async fn wildcard_subscriber_gets_another_components_messages_with_every_mqtt5_field() {
    let fx = Fixture::start().await;
    let p = fx
        .client(&fx.component("pub", &[PUB], &["sensors/#"]))
        .await;
    let s = fx
        .client(&fx.component("sub", &[SUB], &["sensors/+/temp"]))
        .await;
    let mut sub = s
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
            "sensors/+/temp",
            Qos::AtLeastOnce,
        ))
        .await
        .unwrap();
    let req = PublishToIoTCoreRequest {
        topic_name: Some("sensors/k1/temp".into()),
        qos: Some(Qos::AtLeastOnce),
        payload: Some((0u8..=255).collect()),
        retain: Some(false),
        user_properties: Some(vec![
            UserProperty::new("unit", "C"),
            UserProperty::new("unit", "K"),
        ]),
        message_expiry_interval_seconds: Some(60),
        correlation_data: Some(vec![0, 1, 2, 255]),
        response_topic: Some("replies/k1".into()),
        payload_format: Some(PayloadFormat::Bytes),
        content_type: Some("application/octet-stream".into()),
    };
    p.publish_to_iot_core(req.clone()).await.unwrap();
    p.publish_to_iot_core(PublishToIoTCoreRequest::new(
        "sensors/k1/humidity",
        Qos::AtMostOnce,
        "x",
    ))
    .await
    .unwrap();
    p.publish_to_iot_core(PublishToIoTCoreRequest::new(
        "sensors/k2/temp",
        Qos::AtMostOnce,
        "second",
    ))
    .await
    .unwrap();
    let m = next_message(&mut sub).await;
    assert_eq!(m, MqttMessage::from_publish(&req));
    let m = next_message(&mut sub).await;
    assert_eq!(
        (m.topic(), m.payload_bytes()),
        ("sensors/k2/temp", &b"second"[..])
    );
    // Defaults the nucleus always fills in.
    assert_eq!(
        (m.retain, m.payload_format),
        (Some(false), Some(PayloadFormat::Bytes))
    );
    assert!(sub.try_next().is_none());
}

#[tokio::test]
async fn payload_limit_is_128_kib_with_the_nucleus_message() {
    let fx = Fixture::start().await;
    let c = fx.client(&fx.component("c", &["*"], &["*"])).await;
    c.publish_to_iot_core(PublishToIoTCoreRequest::new(
        "big",
        Qos::AtLeastOnce,
        vec![7u8; 131072],
    ))
    .await
    .unwrap();
    let e = c
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "big",
            Qos::AtLeastOnce,
            vec![7u8; 131073],
        ))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServiceError);
    assert_eq!(
        e.message(),
        "Publish to topic big failed: The publishing message size 131073 bytes exceeds the configured limit of 131072 bytes"
    );
    assert_eq!(e.service_model_type(), Some("aws.greengrass#ServiceError"));
}

#[tokio::test]
async fn unauthorized_publish_and_subscribe() {
    let fx = Fixture::start().await;
    let c = fx.client(&fx.component("c", &[PUB, SUB], &["ok/+"])).await;
    let e = c
        .publish_to_iot_core(PublishToIoTCoreRequest::new("denied", Qos::AtMostOnce, "x"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::UnauthorizedError, "Not Authorized")
    );
    // a/+ grants a/b, not a/# (every topic of the filter must be granted).
    c.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("ok/+", Qos::AtMostOnce))
        .await
        .unwrap();
    let e = c
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("ok/#", Qos::AtMostOnce))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::UnauthorizedError, "Not Authorized")
    );
    // The connection is still usable.
    c.publish_to_iot_core(PublishToIoTCoreRequest::new("ok/1", Qos::AtMostOnce, "x"))
        .await
        .unwrap();
}

#[tokio::test]
async fn literal_filter_authorization_reproduces_the_nucleus() {
    let fx = Fixture::start_with(|c| {
        c.filter_authorization = ggipc::server::FilterAuthorization::Literal
    })
    .await;
    let c = fx.client(&fx.component("c", &[SUB], &["ok/+"])).await;
    c.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("ok/#", Qos::AtMostOnce))
        .await
        .unwrap();
}

#[tokio::test]
async fn invalid_arguments_in_the_nucleus_order() {
    let fx = Fixture::start().await;
    let c = fx.client(&fx.component("c", &["*"], &["t"])).await;
    let call = |body: &'static str| {
        let c = c.clone();
        async move { c.call(&PUBLISH_TO_IOT_CORE, body.into()).await.unwrap_err() }
    };
    for (body, kind, msg) in [
        (
            r#"{"qos":"1","payload":""}"#,
            ErrorKind::InvalidArgumentsError,
            "Topic is required",
        ),
        (
            r#"{"topicName":"other","qos":"1"}"#,
            ErrorKind::UnauthorizedError,
            "Not Authorized",
        ),
        (
            r#"{"topicName":"t","qos":"1"}"#,
            ErrorKind::InvalidArgumentsError,
            "Payload is required",
        ),
        (
            r#"{"topicName":"t","payload":""}"#,
            ErrorKind::InvalidArgumentsError,
            "QoS is required",
        ),
        (
            r#"{"topicName":"t","payload":"","qos":"2"}"#,
            ErrorKind::InvalidArgumentsError,
            "Invalid QoS value: 2",
        ),
        (
            r#"{"topicName":"t","payload":"!!","qos":"0"}"#,
            ErrorKind::InvalidArgumentsError,
            "Invalid payload: not standard base64",
        ),
    ] {
        let e = call(body).await;
        assert_eq!((e.kind(), e.message()), (kind, msg), "{body}");
    }
    let e = call("not json").await;
    assert_eq!(e.kind(), ErrorKind::InvalidArgumentsError);
    assert!(e.message().starts_with("Invalid request:"), "{e}");
    let e = c
        .call(&SUBSCRIBE_TO_IOT_CORE, r#"{"qos":"0"}"#.into())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::InvalidArgumentsError, "Topic is required")
    );
    // Topic rules of IoT Core, as ServiceError with the nucleus' prefix.
    let c2 = fx.client(&fx.component("c2", &["*"], &["*"])).await;
    let e = c2
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "a/b/c/d/e/f/g/h/i",
            Qos::AtMostOnce,
            "",
        ))
        .await
        .unwrap_err();
    assert_eq!(e.message(), "Publish to topic a/b/c/d/e/f/g/h/i failed: The request topic must have no more than 7 forward slashes (/)");
    let e = c2
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("a/#/b", Qos::AtMostOnce))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ServiceError);
    assert!(
        e.message()
            .starts_with("Subscribe to topic a/#/b failed with error"),
        "{e}"
    );
}

#[tokio::test]
async fn bad_token_is_access_denied() {
    let fx = Fixture::start().await;
    fx.component("c", &["*"], &["*"]);
    let e = Client::builder()
        .socket_path(fx.path())
        .auth_token("WRONG")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    let e = Client::builder()
        .socket_path(fx.dir.path().join("nope.socket"))
        .auth_token("x")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectFailed);
    assert!(e.message().contains("nope.socket"), "{e}");
    assert_eq!(fx.server.stats().access_denied, 1);
}

/// A broker whose publishes never complete.
struct Stuck;

impl Broker for Stuck {
    fn publish(&self, _: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>> {
        Box::pin(std::future::pending())
    }
    fn subscribe(
        &self,
        _: &str,
        _: Qos,
        _: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        Box::pin(std::future::pending())
    }
    fn unsubscribe(&self, _: SubscriptionId) {}
}

#[tokio::test]
async fn operation_and_connect_timeouts_fire() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(Fixture::config(&dir), Arc::new(Stuck));
    let token = server
        .components()
        .register("c", ggipc::server::AccessControl::allow_all_mqtt());
    let _h = server.spawn().unwrap();
    let c = Client::builder()
        .socket_path(dir.path().join("ipc.socket"))
        .auth_token(token)
        .operation_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let e = c
        .publish_to_iot_core(PublishToIoTCoreRequest::new("t", Qos::AtLeastOnce, "x"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(started.elapsed() < Duration::from_secs(3));
    let e = c
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("t", Qos::AtLeastOnce))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    // Still connected and answering pings.
    assert_eq!(&c.ping("p".into()).await.unwrap()[..], b"p");

    // A socket that accepts but never answers CONNECT.
    let silent = dir.path().join("silent.socket");
    let _listener = tokio::net::UnixListener::bind(&silent).unwrap();
    let e = Client::builder()
        .socket_path(&silent)
        .auth_token("x")
        .connect_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn reconnects_after_server_restart_and_resubscribes() {
    let mut fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    let c = Client::builder()
        .socket_path(fx.path())
        .auth_token(token.clone())
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            ..Default::default()
        })
        .connect()
        .await
        .unwrap();
    let mut events = c.lifecycle();
    let mut sub = c
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("r/#", Qos::AtLeastOnce))
        .await
        .unwrap();
    fx.stop().await;
    // The server terminated the stream on shutdown; with reconnect on, it is interrupted, not closed.
    match tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
    {
        Some(SubscriptionEvent::Interrupted(e)) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionClosed)
        }
        other => panic!("unexpected {other:?}"),
    }
    // Restart on the same path with the same registration.
    let server = Server::new(Fixture::config(&fx.dir), fx.broker.clone());
    server.components().register_with_token(
        "c",
        ggipc::server::AccessControl::allow_all_mqtt(),
        token,
    );
    let _h = server.spawn().unwrap();
    match tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap()
    {
        Some(SubscriptionEvent::Resumed) => {}
        other => panic!("unexpected {other:?}"),
    }
    c.publish_to_iot_core(PublishToIoTCoreRequest::new(
        "r/1",
        Qos::AtLeastOnce,
        "after",
    ))
    .await
    .unwrap();
    assert_eq!(next_message(&mut sub).await.payload_bytes(), b"after");
    let mut seen = Vec::new();
    while let Ok(ev) = events.try_recv() {
        seen.push(ev);
    }
    assert!(
        seen.iter()
            .any(|e| matches!(e, LifecycleEvent::Disconnected(_))),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(e, LifecycleEvent::Reconnecting { .. })),
        "{seen:?}"
    );
}

#[tokio::test]
async fn without_reconnect_a_lost_connection_closes_subscriptions_with_the_reason() {
    let mut fx = Fixture::start().await;
    let c = fx.client(&fx.component("c", &["*"], &["*"])).await;
    let mut sub = c
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("x", Qos::AtMostOnce))
        .await
        .unwrap();
    fx.stop().await;
    // Graceful shutdown terminates the stream first.
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap(),
        Some(SubscriptionEvent::Closed(None))
    );
    assert_eq!(sub.next().await, None);
    eventually("client notices", || !c.is_connected()).await;
    let e = c
        .publish_to_iot_core(PublishToIoTCoreRequest::new("x", Qos::AtMostOnce, ""))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionClosed);
}

#[tokio::test]
async fn closing_a_subscription_unsubscribes_on_the_server() {
    let fx = Fixture::start().await;
    let c = fx.client(&fx.component("c", &["*"], &["*"])).await;
    let mut sub = c
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("a/+", Qos::AtMostOnce))
        .await
        .unwrap();
    assert_eq!(fx.broker.subscriptions(), vec!["a/+".to_string()]);
    sub.close();
    assert_eq!(sub.next().await, Some(SubscriptionEvent::Closed(None)));
    eventually("broker subscription removed", || {
        fx.broker.subscriptions().is_empty()
    })
    .await;
    drop(
        c.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("b", Qos::AtMostOnce))
            .await
            .unwrap(),
    );
    eventually("dropped subscription removed", || {
        fx.broker.subscriptions().is_empty()
    })
    .await;
    assert_eq!(fx.server.stats().subscriptions_active, 0);
}

#[tokio::test]
async fn many_pipelined_publishes_keep_order() {
    let fx = Fixture::start().await;
    let c = fx.client(&fx.component("c", &["*"], &["*"])).await;
    let mut tasks = Vec::new();
    for i in 0..2000 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.publish_to_iot_core(PublishToIoTCoreRequest::new(
                "p",
                Qos::AtMostOnce,
                i.to_string(),
            ))
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fx.broker.recorded().len(), 2000);
}

#[test]
fn blocking_client_calls_back_from_inside_a_handler() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fx = rt.block_on(Fixture::start());
    let token = fx.component("c", &["*"], &["*"]);
    let client = ggipc::blocking::Client::builder()
        .socket_path(fx.path())
        .auth_token(token)
        .connect_blocking()
        .unwrap();
    let sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("ping/+", Qos::AtLeastOnce))
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let c2 = client.clone();
    let handle = sub.with_handler(move |ev| {
        if let SubscriptionEvent::Message(m) = ev {
            let m = m.message.unwrap();
            let n: u32 = std::str::from_utf8(m.payload_bytes())
                .unwrap()
                .parse()
                .unwrap();
            if n < 50 {
                // A blocking publish from inside the handler: the SDKs deadlock here.
                c2.publish_to_iot_core(PublishToIoTCoreRequest::new(
                    "ping/x",
                    Qos::AtLeastOnce,
                    (n + 1).to_string(),
                ))
                .unwrap();
                // And a blocking subscribe + close.
                let s = c2
                    .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("other", Qos::AtMostOnce))
                    .unwrap();
                s.close();
            } else {
                tx.send(n).unwrap();
            }
        }
    });
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "ping/x",
            Qos::AtLeastOnce,
            "0",
        ))
        .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 50);
    handle.close();
    assert!(handle.is_closed());
    // Blocking calls are refused (not deadlocked) on a runtime thread.
    let e = rt.block_on(async {
        client.publish_to_iot_core(PublishToIoTCoreRequest::new("ping/x", Qos::AtMostOnce, ""))
    });
    assert_eq!(e.unwrap_err().kind(), ErrorKind::InvalidArgument);
    client.close();
    rt.block_on(async { drop(fx) });
}

#[tokio::test]
async fn connects_from_the_environment() {
    let fx = Fixture::start().await;
    let token = fx.component("env", &["*"], &["*"]);
    // Relative socket path, as the nucleus gives when the absolute path is too long.
    std::env::set_current_dir(fx.dir.path()).unwrap();
    // SAFETY: no other test of this binary reads or writes these variables (set_var is unsound only when
    // another thread touches the environment at the same time).
    unsafe {
        std::env::set_var(ggipc::SOCKET_ENV, "./ipc.socket");
        std::env::set_var(ggipc::TOKEN_ENV, &token);
    }
    let c = Client::connect().await.unwrap();
    c.publish_to_iot_core(PublishToIoTCoreRequest::new("e", Qos::AtMostOnce, ""))
        .await
        .unwrap();
    // SAFETY: as above.
    unsafe {
        std::env::remove_var(ggipc::SOCKET_ENV);
    }
    let e = Client::connect().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains(ggipc::SOCKET_ENV));
}

#[tokio::test]
async fn slow_consumer_is_reported_not_silent() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    let c = Client::builder()
        .socket_path(fx.path())
        .auth_token(token)
        .subscription_queue(10)
        .connect()
        .await
        .unwrap();
    let mut sub = c
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("f", Qos::AtMostOnce))
        .await
        .unwrap();
    for i in 0..25 {
        c.publish_to_iot_core(PublishToIoTCoreRequest::new(
            "f",
            Qos::AtMostOnce,
            i.to_string(),
        ))
        .await
        .unwrap();
    }
    // The 25 events are in flight; wait until the client has queued what it can.
    c.ping("sync".into()).await.unwrap();
    let mut got = Vec::new();
    while let Some(ev) = sub.try_next() {
        got.push(ev);
    }
    assert_eq!(got.len(), 11, "{got:?}");
    assert_eq!(got[10], SubscriptionEvent::Lagged(15));
}

#[test]
fn blocking_client_survives_a_server_restart() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut fx = rt.block_on(Fixture::start());
    let token = fx.component("c", &["*"], &["*"]);
    let client = ggipc::blocking::Client::builder()
        .socket_path(fx.path())
        .auth_token(token.clone())
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            ..Default::default()
        })
        .connect_blocking()
        .unwrap();
    let mut sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("b/#", Qos::AtLeastOnce))
        .unwrap();
    for i in 0..100 {
        client
            .publish_to_iot_core(PublishToIoTCoreRequest::new(
                "b/x",
                Qos::AtLeastOnce,
                format!("{i}"),
            ))
            .unwrap();
    }
    for _ in 0..100 {
        assert!(matches!(
            sub.recv_timeout(Duration::from_secs(5)).unwrap(),
            Some(SubscriptionEvent::Message(_))
        ));
    }
    rt.block_on(fx.stop());
    match sub.recv_timeout(Duration::from_secs(5)).unwrap() {
        Some(SubscriptionEvent::Interrupted(e)) => {
            assert_eq!(e.kind(), ErrorKind::ConnectionClosed)
        }
        other => panic!("unexpected {other:?}"),
    }
    let server = Server::new(Fixture::config(&fx.dir), fx.broker.clone());
    server.components().register_with_token(
        "c",
        ggipc::server::AccessControl::allow_all_mqtt(),
        token,
    );
    let _h = rt.block_on(async { server.spawn().unwrap() });
    assert_eq!(
        sub.recv_timeout(Duration::from_secs(5)).unwrap(),
        Some(SubscriptionEvent::Resumed)
    );
    // A blocking publish made while reconnecting waits for the new connection.
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "b/y",
            Qos::AtLeastOnce,
            "after",
        ))
        .unwrap();
    match sub.recv_timeout(Duration::from_secs(5)).unwrap() {
        Some(SubscriptionEvent::Message(m)) => {
            assert_eq!(m.message.unwrap().payload_bytes(), b"after")
        }
        other => panic!("unexpected {other:?}"),
    }
    client.close();
    assert_eq!(
        sub.recv_timeout(Duration::from_secs(5)).unwrap(),
        Some(SubscriptionEvent::Closed(None))
    );
}

/// A broker whose publishes never complete, and which says when one arrives.
struct Gate(std::sync::Mutex<std::sync::mpsc::Sender<()>>);

impl Broker for Gate {
    fn publish(&self, _: BrokerPublish) -> BoxFuture<'_, Result<(), BrokerError>> {
        let _ = self.0.lock().unwrap().send(());
        Box::pin(std::future::pending())
    }
    fn subscribe(
        &self,
        _: &str,
        _: Qos,
        _: MessageSink,
    ) -> BoxFuture<'_, Result<SubscriptionId, BrokerError>> {
        Box::pin(std::future::pending())
    }
    fn unsubscribe(&self, _: SubscriptionId) {}
}

#[test]
fn blocking_caller_learns_of_a_dead_server_at_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (arrived_tx, arrived) = std::sync::mpsc::channel();
    let server = Server::new(
        Fixture::config(&dir),
        Arc::new(Gate(std::sync::Mutex::new(arrived_tx))),
    );
    let token = server
        .components()
        .register("c", ggipc::server::AccessControl::allow_all_mqtt());
    let handle = rt.block_on(async { server.spawn().unwrap() });
    let client = ggipc::blocking::Client::builder()
        .socket_path(dir.path().join("ipc.socket"))
        .auth_token(token)
        .connect_blocking()
        .unwrap();
    let c2 = client.clone();
    let waiter = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let r = c2.publish_to_iot_core(PublishToIoTCoreRequest::new("t", Qos::AtLeastOnce, "x"));
        (r, started.elapsed())
    });
    // The publish is in flight (the broker never answers) when the server goes away.
    arrived.recv_timeout(Duration::from_secs(5)).unwrap();
    rt.block_on(handle.shutdown()).unwrap();
    let (r, took) = waiter.join().unwrap();
    let e = r.unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::ConnectionClosed,
            "the server shut down before responding"
        )
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    // The connection loss itself follows the terminate.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while client.is_connected() {
        assert!(
            std::time::Instant::now() < deadline,
            "the client did not notice the closed connection"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let e = client
        .publish_to_iot_core(PublishToIoTCoreRequest::new("t", Qos::AtLeastOnce, "x"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionClosed);
}

#[test]
fn client_types_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Client>();
    check::<ggipc::blocking::Client>();
    check::<ggipc::SubscriptionHandle>();
    fn send<T: Send + 'static>() {}
    send::<ggipc::Subscription>();
    send::<ggipc::blocking::Subscription>();
}

/// Large bodies are encoded and decoded in recycled buffers (`json::pool`): a message never carries bytes or a
/// length left over from an earlier one, whatever the order of sizes, whether publishes are in flight together,
/// and whether the subscriber keeps what it receives.
#[tokio::test]
async fn large_payloads_of_varying_sizes_arrive_intact_through_recycled_buffers() {
    let fx = Fixture::start().await;
    let p = fx.client(&fx.component("pub", &[PUB], &["big/#"])).await;
    let s = fx.client(&fx.component("sub", &[SUB], &["big/#"])).await;
    let mut sub = s
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("big/#", Qos::AtLeastOnce))
        .await
        .unwrap();
    // Shrinking and growing sizes around the pool's 64 KiB threshold, each with its own content.
    let sizes = [
        131072usize,
        70_000,
        65_536,
        131_000,
        100_001,
        65_535,
        120_000,
        131_072,
    ];
    let payload = |i: usize, n: usize| -> Vec<u8> {
        (0..n).map(|k| (k.wrapping_mul(31) ^ i) as u8).collect()
    };
    for (i, &n) in sizes.iter().enumerate() {
        p.publish_to_iot_core(PublishToIoTCoreRequest::new(
            "big/one",
            Qos::AtLeastOnce,
            payload(i, n),
        ))
        .await
        .unwrap();
    }
    // The same, all in flight at once.
    let calls: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let p = p.clone();
            let req =
                PublishToIoTCoreRequest::new("big/many", Qos::AtLeastOnce, payload(i + 100, n));
            tokio::spawn(async move { p.publish_to_iot_core(req).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    let mut kept = Vec::new();
    for (round, base) in [(0, 0), (1, 100)] {
        let mut got: Vec<Vec<u8>> = Vec::new();
        for _ in 0..sizes.len() {
            got.push(next_message(&mut sub).await.payload.unwrap());
        }
        // In flight together they may be delivered in any order; one at a time, in order.
        let mut want: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| payload(i + base, n))
            .collect();
        if round == 1 {
            got.sort();
            want.sort();
        }
        assert!(got == want, "round {round}: payloads differ");
        kept.extend(got);
    }
    assert_eq!(kept.len(), 2 * sizes.len());
}
