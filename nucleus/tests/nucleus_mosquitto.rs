//! `ggipc nucleus --broker mqtt://…` against a real Mosquitto: IPC ↔ MQTT in both directions with MQTT 5 fields,
//! a broker outage in the middle of a QoS 1 stream, QoS 0 while offline, an unreachable broker.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{write_recipe, Mosquitto, NucleusProc};
use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest, UserProperty};
use ggipc::{ErrorKind, SubscriptionEvent};
use rumqttc::v5;
use tokio::sync::mpsc;

const ALL: &[&str] = &["PublishToIoTCore", "SubscribeToIoTCore"];

fn mqtt5_client(
    port: u16,
    id: &str,
) -> (
    v5::AsyncClient,
    mpsc::UnboundedReceiver<v5::mqttbytes::v5::Publish>,
    mpsc::UnboundedReceiver<()>,
) {
    let opts = v5::MqttOptions::new(id, "127.0.0.1", port);
    let (client, mut el) = v5::AsyncClient::new(opts, 64);
    let (tx, rx) = mpsc::unbounded_channel();
    let (atx, arx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(v5::Event::Incoming(v5::Incoming::Publish(p))) => {
                    let _ = tx.send(p);
                }
                Ok(v5::Event::Incoming(v5::Incoming::SubAck(_))) => {
                    let _ = atx.send(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    (client, rx, arx)
}

async fn next_message(
    sub: &mut ggipc::Subscription,
    within: Duration,
) -> Option<ggipc::model::MqttMessage> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(SubscriptionEvent::Message(m))) => return m.message,
            Ok(Some(ev)) if ev.is_terminal() => panic!("subscription ended: {ev:?}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("subscription ended"),
            Err(_) => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipc_and_mqtt_through_mosquitto() {
    let Some(bin) = common::mosquitto_or_skip("ipc_and_mqtt_through_mosquitto") else {
        return;
    };
    let mosq = Mosquitto::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "m.Component", ALL, &["*"], None);
    let url = format!("mqtt://127.0.0.1:{}", mosq.port);
    let mut n = NucleusProc::start(&dir.path().join("root"), &[recipe], &["--broker", &url]);
    n.proc_
        .wait_line("connected to MQTT broker", Duration::from_secs(20));
    let client = n.client("m.Component").await;

    // IPC publish arrives at an MQTT subscriber on Mosquitto, MQTT 5 fields included.
    let (mq, mut incoming, mut subacks) = mqtt5_client(mosq.port, "watcher");
    mq.subscribe("to/cloud/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), subacks.recv())
        .await
        .unwrap()
        .unwrap();
    let mut req = PublishToIoTCoreRequest::new("to/cloud/a", Qos::AtLeastOnce, b"up".to_vec());
    req.content_type = Some("text/plain".into());
    req.response_topic = Some("to/device/reply".into());
    req.user_properties = Some(vec![UserProperty {
        key: "u".into(),
        value: "1".into(),
    }]);
    client.publish_to_iot_core(req).await.unwrap();
    let p = tokio::time::timeout(Duration::from_secs(10), incoming.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&p.topic[..], b"to/cloud/a");
    assert_eq!(&p.payload[..], b"up");
    let props = p.properties.expect("properties");
    assert_eq!(props.content_type.as_deref(), Some("text/plain"));
    assert_eq!(props.response_topic.as_deref(), Some("to/device/reply"));
    assert_eq!(
        props.user_properties,
        vec![("u".to_owned(), "1".to_owned())]
    );

    // An MQTT publish reaches an IPC subscriber, MQTT 5 fields included.
    let mut sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
            "to/device/#",
            Qos::AtLeastOnce,
        ))
        .await
        .unwrap();
    let props = v5::mqttbytes::v5::PublishProperties {
        content_type: Some("application/octet-stream".into()),
        correlation_data: Some(bytes::Bytes::from_static(b"42")),
        ..Default::default()
    };
    mq.publish_with_properties(
        "to/device/b",
        v5::mqttbytes::QoS::AtLeastOnce,
        false,
        "down",
        props,
    )
    .await
    .unwrap();
    let m = next_message(&mut sub, Duration::from_secs(10))
        .await
        .expect("message from MQTT");
    assert_eq!(m.topic_name.as_deref(), Some("to/device/b"));
    assert_eq!(m.payload.as_deref(), Some(&b"down"[..]));
    assert_eq!(m.content_type.as_deref(), Some("application/octet-stream"));
    assert_eq!(m.correlation_data.as_deref(), Some(&b"42"[..]));
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_outage_mid_stream() {
    let Some(bin) = common::mosquitto_or_skip("mosquitto_outage_mid_stream") else {
        return;
    };
    let mut mosq = Mosquitto::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "o.Component", ALL, &["*"], None);
    let url = format!("mqtt://127.0.0.1:{}", mosq.port);
    let mut n = NucleusProc::start(&dir.path().join("root"), &[recipe], &["--broker", &url]);
    n.proc_
        .wait_line("connected to MQTT broker", Duration::from_secs(20));
    let publisher = n.client("o.Component").await;
    let subscriber = n.client("o.Component").await;
    let mut sub = subscriber
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("o/#", Qos::AtLeastOnce))
        .await
        .unwrap();

    const N: usize = 150;
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for i in 0..N {
        if i == 50 {
            mosq.stop();
            n.proc_
                .wait_line("MQTT connection lost", Duration::from_secs(20));
            // QoS 0 while offline is refused with the nucleus' message.
            let err = publisher
                .publish_to_iot_core(PublishToIoTCoreRequest::new(
                    "o/q0",
                    Qos::AtMostOnce,
                    b"x".to_vec(),
                ))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ServiceError);
            assert!(
                err.message()
                    .contains("Device is offline. Dropping QoS 0 message."),
                "{}",
                err.message()
            );
        }
        if i == 100 {
            mosq.restart();
        }
        // QoS 1 publishes succeed throughout: they are spooled while the broker is away.
        publisher
            .publish_to_iot_core(PublishToIoTCoreRequest::new(
                "o/x",
                Qos::AtLeastOnce,
                i.to_string().into_bytes(),
            ))
            .await
            .unwrap();
        while let Some(SubscriptionEvent::Message(m)) = sub.try_next() {
            seen.insert(String::from_utf8(m.message.unwrap().payload.unwrap()).unwrap());
            total += 1;
        }
    }
    // After reconnecting, the subscription is back without the component doing anything and the spool drains.
    while seen.len() < N {
        let Some(m) = next_message(&mut sub, Duration::from_secs(30)).await else {
            let missing: Vec<usize> = (0..N).filter(|i| !seen.contains(&i.to_string())).collect();
            panic!("messages lost: {missing:?}\n{}", n.proc_.output());
        };
        seen.insert(String::from_utf8(m.payload.unwrap()).unwrap());
        total += 1;
    }
    assert!(
        total - N <= 5,
        "{} duplicates (QoS 1 allows only the in-flight ones)",
        total - N
    );
    publisher.close().await;
    subscriber.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_keeps_local_ipc_serving() {
    let port = common::free_port();
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "u.Component", ALL, &["*"], None);
    let url = format!("mqtt://127.0.0.1:{port}");
    let mut n = NucleusProc::start(&dir.path().join("root"), &[recipe], &["--broker", &url]);
    let line = n
        .proc_
        .wait_line("cannot connect to MQTT broker", Duration::from_secs(20));
    assert!(
        line.contains(&format!("127.0.0.1:{port}")) && line.contains("refused"),
        "{line}"
    );
    let client = n.client("u.Component").await;
    // QoS 1 is spooled (accepted), QoS 0 refused as the nucleus does.
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "u/a",
            Qos::AtLeastOnce,
            b"1".to_vec(),
        ))
        .await
        .unwrap();
    let err = client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "u/a",
            Qos::AtMostOnce,
            b"0".to_vec(),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.message(),
        "Publish to topic u/a failed: Device is offline. Dropping QoS 0 message."
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_after_puback_waits_for_the_broker() {
    let Some(bin) = common::mosquitto_or_skip("ack_after_puback_waits_for_the_broker") else {
        return;
    };
    let mut mosq = Mosquitto::start(&bin);
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "p.Component", ALL, &["*"], None);
    let url = format!("mqtt://127.0.0.1:{}", mosq.port);
    let mut n = NucleusProc::start(
        &dir.path().join("root"),
        &[recipe],
        &["--broker", &url, "--ack-after-puback"],
    );
    n.proc_
        .wait_line("connected to MQTT broker", Duration::from_secs(20));
    let client = n.client("p.Component").await;
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "p/a",
            Qos::AtLeastOnce,
            b"1".to_vec(),
        ))
        .await
        .unwrap();

    mosq.stop();
    n.proc_
        .wait_line("MQTT connection lost", Duration::from_secs(20));
    let c2 = client.clone();
    let mut pending = tokio::spawn(async move {
        c2.publish_to_iot_core(PublishToIoTCoreRequest::new(
            "p/a",
            Qos::AtLeastOnce,
            b"2".to_vec(),
        ))
        .await
    });
    // Without a broker there is no PUBACK, so no answer yet.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), &mut pending)
            .await
            .is_err()
    );
    mosq.restart();
    // Answered once the broker took it.
    tokio::time::timeout(Duration::from_secs(9), pending)
        .await
        .expect("answered after reconnect")
        .unwrap()
        .unwrap();
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_subscription_reports_reason_code() {
    // The remote broker here is our embedded broker on its own listener: it refuses shared subscriptions with
    // reason 0x9E, which the nucleus reports as the reason's name plus a context with the code.
    let remote = ggipc_nucleus::mqtt::embedded::EmbeddedBroker::new(1 << 20);
    let (addr, _task) = remote.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "r.Component", ALL, &["*"], None);
    let url = format!("mqtt://{addr}");
    let mut n = NucleusProc::start(&dir.path().join("root"), &[recipe], &["--broker", &url]);
    n.proc_
        .wait_line("connected to MQTT broker", Duration::from_secs(20));
    let client = n.client("r.Component").await;
    client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("fine/x", Qos::AtLeastOnce))
        .await
        .unwrap();
    let err = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
            "$share/g/x",
            Qos::AtLeastOnce,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceError);
    assert_eq!(
        err.message(),
        "Subscribe to topic $share/g/x failed with error SHARED_SUBSCRIPTIONS_NOT_SUPPORTED"
    );
    assert_eq!(
        err.context()
            .and_then(|c| c.get("reasonCode"))
            .and_then(|c| c.as_u64()),
        Some(0x9E)
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_while_the_broker_is_down_is_answered_at_once() {
    let Some(bin) = common::mosquitto_or_skip("offline subscribe") else {
        return;
    };
    let mut m = Mosquitto::start(&bin);
    m.stop();
    let url = format!("mqtt://127.0.0.1:{}", m.port);
    let dir = tempfile::tempdir().unwrap();
    let ops = [
        "PublishToIoTCore",
        "SubscribeToIoTCore",
        "SubscribeToIoTCoreConnectionStatus",
    ];
    let recipe = write_recipe(dir.path(), "o.Component", &ops, &["*"], None);

    // `error`: a ServiceError at once, naming the cause.
    let cfg = dir.path().join("error.yaml");
    std::fs::write(&cfg, "mqtt:\n  subscribeWhileOffline: error\n").unwrap();
    let n = NucleusProc::start(
        &dir.path().join("root-e"),
        std::slice::from_ref(&recipe),
        &["--broker", &url, "--config", cfg.to_str().unwrap()],
    );
    let client = n.client("o.Component").await;
    let started = std::time::Instant::now();
    let err = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("o/t", Qos::AtLeastOnce))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(err.kind(), ErrorKind::ServiceError);
    assert!(
        err.message().starts_with(
            "Subscribe to topic o/t failed with error the MQTT broker is unreachable ("
        ),
        "{err}"
    );
    client.close().await;
    drop(n);

    // `pending` (the default): accepted at once, live once the broker is there.
    let n = NucleusProc::start(&dir.path().join("root-p"), &[recipe], &["--broker", &url]);
    let client = n.client("o.Component").await;
    let started = std::time::Instant::now();
    let mut sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("o/t", Qos::AtLeastOnce))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    m.restart();
    let mut status = client
        .subscribe_to_iot_core_connection_status(Default::default())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Some(SubscriptionEvent::Message(e)) = status.next().await {
                if e.connection_status_event.and_then(|e| e.status)
                    == Some(ggipc::model::ConnectionStatus::Connected)
                {
                    return;
                }
            }
        }
    })
    .await
    .expect("connected");
    // The broker subscription is made right after connecting, but may be in place after a first publish: publish
    // until one comes back through the subscription.
    let got = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            client
                .publish_to_iot_core(PublishToIoTCoreRequest::new(
                    "o/t",
                    Qos::AtLeastOnce,
                    b"up".to_vec(),
                ))
                .await
                .unwrap();
            if let Ok(Some(SubscriptionEvent::Message(m))) =
                tokio::time::timeout(Duration::from_millis(500), sub.next()).await
            {
                return m.message.unwrap();
            }
        }
    })
    .await
    .expect("a message through the subscription made while offline");
    assert_eq!(got.payload.as_deref(), Some(&b"up"[..]));
    client.close().await;
}

/// A TCP relay to a broker that can cut the device off (drop its connections, refuse new ones) and let it back.
struct Relay {
    port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl Relay {
    async fn start(target: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, rx) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if !*rx.borrow() {
                    continue; // dropped: the device is offline
                }
                let mut down = rx.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    tokio::select! {
                        _ = tokio::io::copy(&mut cr, &mut sw) => {}
                        _ = tokio::io::copy(&mut sr, &mut cw) => {}
                        _ = down.wait_for(|u| !*u) => {}
                    }
                });
            }
        });
        Relay { port, up }
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

async fn wait_status(
    status: &mut ggipc::Subscription<ggipc::model::IoTCoreConnectionStatusEvent>,
    want: ggipc::model::ConnectionStatus,
) {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match status.next().await {
                Some(SubscriptionEvent::Message(e)) => {
                    if e.connection_status_event.and_then(|e| e.status) == Some(want) {
                        return;
                    }
                }
                Some(_) => {}
                None => panic!("status stream ended"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {want:?} status"));
}

/// The device is offline while 1,000 QoS 1 messages are published to it; its persistent session keeps them and
/// they all reach the IPC subscriber after it reconnects.
async fn offline_messages_arrive_after_reconnect(config: &str) {
    let Some(bin) = common::mosquitto_or_skip("persistent session") else {
        return;
    };
    let m = Mosquitto::start(&bin);
    let relay = Relay::start(m.port).await;
    let dir = tempfile::tempdir().unwrap();
    let ops = [
        "PublishToIoTCore",
        "SubscribeToIoTCore",
        "SubscribeToIoTCoreConnectionStatus",
    ];
    let recipe = write_recipe(dir.path(), "s.Component", &ops, &["*"], None);
    let cfg = dir.path().join("config.yaml");
    std::fs::write(&cfg, config).unwrap();
    let url = format!("mqtt://127.0.0.1:{}", relay.port);
    let n = NucleusProc::start(
        &dir.path().join("root"),
        &[recipe],
        &["--broker", &url, "--config", cfg.to_str().unwrap()],
    );
    let client = n.client("s.Component").await;
    let mut status = client
        .subscribe_to_iot_core_connection_status(Default::default())
        .await
        .unwrap();
    wait_status(&mut status, ggipc::model::ConnectionStatus::Connected).await;
    let mut sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("s/t", Qos::AtLeastOnce))
        .await
        .unwrap();
    relay.set_up(false);
    wait_status(&mut status, ggipc::model::ConnectionStatus::Disconnected).await;

    // 1,000 QoS 1 messages to the device while it is offline, each acknowledged by the broker.
    let count = 1000u32;
    let opts = v5::MqttOptions::new("s-publisher", "127.0.0.1", m.port);
    let (publisher, mut el) = v5::AsyncClient::new(opts, 100);
    let acks = tokio::spawn(async move {
        let mut acked = 0;
        while acked < count {
            if let v5::Event::Incoming(v5::Incoming::PubAck(_)) = el.poll().await.unwrap() {
                acked += 1;
            }
        }
    });
    for i in 0..count {
        publisher
            .publish(
                "s/t",
                v5::mqttbytes::QoS::AtLeastOnce,
                false,
                i.to_be_bytes().to_vec(),
            )
            .await
            .unwrap();
    }
    tokio::time::timeout(Duration::from_secs(30), acks)
        .await
        .expect("the broker acknowledged every publish")
        .unwrap();

    relay.set_up(true);
    let mut seen = BTreeSet::new();
    while seen.len() < count as usize {
        let m = next_message(&mut sub, Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("only {} of {count} arrived", seen.len()));
        let p = m.payload.unwrap();
        seen.insert(u32::from_be_bytes(p[..4].try_into().unwrap()));
    }
    assert_eq!(seen, (0..count).collect::<BTreeSet<_>>());
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_persistent_session_keeps_offline_messages() {
    offline_messages_arrive_after_reconnect("mqtt:\n  version: mqtt5\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt3_persistent_session_keeps_offline_messages() {
    offline_messages_arrive_after_reconnect("mqtt:\n  version: mqtt3\n").await;
}
