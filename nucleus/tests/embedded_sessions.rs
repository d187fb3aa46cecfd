//! The embedded broker as an MQTT broker with sessions, against real clients: rumqttc (3.1.1 and 5), Mosquitto's
//! `mosquitto_sub`/`mosquitto_pub`, and `ggipc nucleus` with its configuration keys and `ggipc passwd`.
//! QoS 1 in flight and resent with DUP after a reconnect, offline queueing and session expiry, Receive Maximum,
//! Maximum Packet Size, the retained, connection and topic-alias bounds, authentication.
//! Every wait is on an event or a condition with a deadline.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use ggipc_nucleus::mqtt::embedded::{EmbeddedBroker, Limits};
use ggipc_nucleus::mqtt::msg::Msg;
use rumqttc::v5;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(10);

async fn start(limits: Limits) -> (EmbeddedBroker, u16, JoinHandle<()>) {
    let broker = EmbeddedBroker::with_limits(limits);
    let (addr, task) = broker.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (broker, addr.port(), task)
}

/// What a client's event loop saw.
#[derive(Debug)]
enum Ev<P> {
    ConnAck(bool),
    Pub(P),
    Refused(String),
    Closed(String),
}

fn pump4(
    mut el: rumqttc::EventLoop,
) -> (
    mpsc::UnboundedReceiver<Ev<rumqttc::Publish>>,
    JoinHandle<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            let ev = match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(c))) => {
                    Ev::ConnAck(c.session_present)
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => Ev::Pub(p),
                Ok(_) => continue,
                Err(rumqttc::ConnectionError::ConnectionRefused(code)) => {
                    let _ = tx.send(Ev::Refused(format!("{code:?}")));
                    break;
                }
                Err(e) => {
                    let _ = tx.send(Ev::Closed(e.to_string()));
                    break;
                }
            };
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    (rx, task)
}

fn pump5(
    mut el: v5::EventLoop,
) -> (
    mpsc::UnboundedReceiver<Ev<v5::mqttbytes::v5::Publish>>,
    JoinHandle<()>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            let ev = match el.poll().await {
                Ok(v5::Event::Incoming(v5::Incoming::ConnAck(c))) => Ev::ConnAck(c.session_present),
                Ok(v5::Event::Incoming(v5::Incoming::Publish(p))) => Ev::Pub(p),
                Ok(v5::Event::Incoming(v5::Incoming::Disconnect(d))) => {
                    let _ = tx.send(Ev::Closed(format!("DISCONNECT {:?}", d.reason_code)));
                    break;
                }
                Ok(_) => continue,
                Err(v5::ConnectionError::ConnectionRefused(code)) => {
                    let _ = tx.send(Ev::Refused(format!("{code:?}")));
                    break;
                }
                Err(e) => {
                    let _ = tx.send(Ev::Closed(e.to_string()));
                    break;
                }
            };
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    (rx, task)
}

async fn next<P: std::fmt::Debug>(rx: &mut mpsc::UnboundedReceiver<Ev<P>>) -> Ev<P> {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("no event from the client within the deadline")
        .expect("client event loop ended")
}

async fn connack<P: std::fmt::Debug>(rx: &mut mpsc::UnboundedReceiver<Ev<P>>) -> bool {
    match next(rx).await {
        Ev::ConnAck(present) => present,
        other => panic!("expected CONNACK, got {other:?}"),
    }
}

async fn publish<P: std::fmt::Debug>(rx: &mut mpsc::UnboundedReceiver<Ev<P>>) -> P {
    match next(rx).await {
        Ev::Pub(p) => p,
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// Waits until `cond` holds (polled every few ms), with a deadline.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn msg(topic: &str, payload: &str, qos: u8) -> Msg {
    Msg::new(topic, Bytes::copy_from_slice(payload.as_bytes()), qos)
}

fn v5_opts(id: &str, port: u16) -> v5::MqttOptions {
    let mut o = v5::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

fn v4_opts(id: &str, port: u16) -> rumqttc::MqttOptions {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// MQTT 5: QoS 1 messages not acknowledged are sent again, DUP = 1, same packet ids, when the client resumes its
/// session; what was queued while it was offline follows; nothing is in flight once it acknowledged all.
#[tokio::test]
async fn v5_qos1_resent_with_dup_after_reconnect() {
    let (broker, port, _t) = start(Limits::default()).await;
    let mut o = v5_opts("dup5", port);
    o.set_clean_start(false);
    o.set_session_expiry_interval(Some(60));
    o.set_manual_acks(true);
    let (client, el) = v5::AsyncClient::new(o.clone(), 16);
    let (mut rx, task) = pump5(el);
    assert!(!connack(&mut rx).await, "a new session is not present");
    client
        .subscribe("d/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    until("subscription", || broker.subscription_count() == 1).await;
    for i in 0..3 {
        broker.publish(msg("d/x", &format!("m{i}"), 1));
    }
    let mut first = Vec::new();
    for i in 0..3 {
        let p = publish(&mut rx).await;
        assert_eq!(&p.payload[..], format!("m{i}").as_bytes());
        assert!(!p.dup);
        first.push(p.pkid);
    }
    assert_eq!(broker.session("dup5").unwrap().inflight, 3);
    // Gone without DISCONNECT and without acknowledging.
    task.abort();
    drop(client);
    until("session offline", || {
        broker.session("dup5").is_some_and(|s| !s.online)
    })
    .await;
    broker.publish(msg("d/x", "m3", 1));
    broker.publish(msg("d/x", "qos0-not-queued", 0));
    broker.publish(msg("d/x", "m4", 1));
    let s = broker.session("dup5").unwrap();
    assert_eq!((s.inflight, s.queued, s.subscriptions), (3, 2, 1));

    let mut o2 = o.clone();
    o2.set_manual_acks(false);
    let (_client, el) = v5::AsyncClient::new(o2, 16);
    let (mut rx, _task) = pump5(el);
    assert!(connack(&mut rx).await, "the session is resumed");
    for (i, pkid) in first.iter().enumerate() {
        let p = publish(&mut rx).await;
        assert_eq!(&p.payload[..], format!("m{i}").as_bytes());
        assert!(p.dup, "a message sent again has DUP = 1");
        assert_eq!(p.pkid, *pkid, "with its packet id");
    }
    for i in 3..5 {
        let p = publish(&mut rx).await;
        assert_eq!(&p.payload[..], format!("m{i}").as_bytes());
        assert!(!p.dup);
        assert!(
            !first.contains(&p.pkid),
            "no id of a message in flight is reused"
        );
    }
    until("all acknowledged", || {
        broker.session("dup5").unwrap().inflight == 0
    })
    .await;
    assert_eq!(broker.stats().resent, 3);
}

/// MQTT 3.1.1: the same with clean session = 0.
#[tokio::test]
async fn v4_qos1_resent_with_dup_after_reconnect() {
    let (broker, port, _t) = start(Limits::default()).await;
    let mut o = v4_opts("dup4", port);
    o.set_clean_session(false);
    o.set_manual_acks(true);
    let (client, el) = rumqttc::AsyncClient::new(o.clone(), 16);
    let (mut rx, task) = pump4(el);
    assert!(!connack(&mut rx).await);
    client
        .subscribe("d/#", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    until("subscription", || broker.subscription_count() == 1).await;
    broker.publish(msg("d/x", "a", 1));
    broker.publish(msg("d/x", "b", 1));
    let a = publish(&mut rx).await;
    let b = publish(&mut rx).await;
    // Acknowledge only the second.
    client.ack(&b).await.unwrap();
    until("one acknowledged", || {
        broker.session("dup4").unwrap().inflight == 1
    })
    .await;
    task.abort();
    drop(client);
    until("session offline", || {
        broker.session("dup4").is_some_and(|s| !s.online)
    })
    .await;
    let mut o2 = o.clone();
    o2.set_manual_acks(false);
    let (_c, el) = rumqttc::AsyncClient::new(o2, 16);
    let (mut rx, _task) = pump4(el);
    assert!(connack(&mut rx).await, "session present");
    let again = publish(&mut rx).await;
    assert_eq!(&again.payload[..], b"a");
    assert!(again.dup);
    assert_eq!(again.pkid, a.pkid);
    until("acknowledged", || {
        broker.session("dup4").unwrap().inflight == 0
    })
    .await;
}

/// Offline queueing (3.1.1 clean session = 0): QoS 1 messages published while the client is away arrive, in
/// order, when it comes back; the queue bound drops and counts the overflow; a clean session discards it all.
#[tokio::test]
async fn offline_queue_bounded_and_delivered_on_reconnect() {
    let limits = Limits {
        max_queued_messages: 20,
        ..Limits::default()
    };
    let (broker, port, _t) = start(limits).await;
    let mut o = v4_opts("q4", port);
    o.set_clean_session(false);
    let (client, el) = rumqttc::AsyncClient::new(o.clone(), 16);
    let (mut rx, _task) = pump4(el);
    connack(&mut rx).await;
    client
        .subscribe("q/#", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    until("subscription", || broker.subscription_count() == 1).await;
    client.disconnect().await.unwrap();
    until("session offline", || {
        broker.session("q4").is_some_and(|s| !s.online)
    })
    .await;
    for i in 0..25 {
        broker.publish(msg("q/t", &i.to_string(), 1));
    }
    assert_eq!(broker.session("q4").unwrap().queued, 20);
    assert_eq!(broker.stats().dropped, 5, "the overflow is counted");
    assert_eq!(broker.stats().offline_sessions, 1);

    let (client, el) = rumqttc::AsyncClient::new(o.clone(), 16);
    let (mut rx, _task) = pump4(el);
    assert!(connack(&mut rx).await, "session present");
    for i in 0..20 {
        let p = publish(&mut rx).await;
        assert_eq!(
            &p.payload[..],
            i.to_string().as_bytes(),
            "in order, the oldest kept"
        );
    }
    // New messages flow as usual on the resumed subscription.
    broker.publish(msg("q/t", "live", 1));
    assert_eq!(&publish(&mut rx).await.payload[..], b"live");
    client.disconnect().await.unwrap();
    until("session offline", || {
        broker.session("q4").is_some_and(|s| !s.online)
    })
    .await;
    broker.publish(msg("q/t", "discarded", 1));

    // Clean session: the old session, its subscription and its queue are gone.
    let mut clean = o.clone();
    clean.set_clean_session(true);
    let (client, el) = rumqttc::AsyncClient::new(clean, 16);
    let (mut rx, _task) = pump4(el);
    assert!(!connack(&mut rx).await);
    until("clean session", || {
        broker.session("q4").is_some_and(|s| s.online)
    })
    .await;
    let s = broker.session("q4").unwrap();
    assert_eq!((s.queued, s.subscriptions), (0, 0));
    client.disconnect().await.unwrap();
    until("clean session ended", || broker.session("q4").is_none()).await;
}

/// MQTT 5 session expiry: a session is kept for its interval and ends after it; the bound caps it (CONNACK
/// tells the client).
#[tokio::test]
async fn v5_session_expiry_honoured_and_capped() {
    let limits = Limits {
        max_session_expiry_seconds: 1,
        ..Limits::default()
    };
    let (broker, port, _t) = start(limits).await;
    let mut o = v5_opts("exp5", port);
    o.set_clean_start(false);
    o.set_session_expiry_interval(Some(3600));
    let (client, el) = v5::AsyncClient::new(o.clone(), 16);
    let (mut rx, _task) = pump5(el);
    connack(&mut rx).await;
    client
        .subscribe("e/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    until("subscription", || broker.subscription_count() == 1).await;
    assert_eq!(broker.session("exp5").unwrap().expiry_seconds, 1, "capped");
    client.disconnect().await.unwrap();
    until("session offline", || {
        broker.session("exp5").is_some_and(|s| !s.online)
    })
    .await;
    broker.publish(msg("e/x", "lost with the session", 1));
    until("session expired", || broker.session("exp5").is_none()).await;
    assert_eq!(
        broker.subscription_count(),
        0,
        "its subscriptions end with it"
    );
    let (_client, el) = v5::AsyncClient::new(o, 16);
    let (mut rx, _task) = pump5(el);
    assert!(!connack(&mut rx).await, "no session present after expiry");

    // Session expiry 0 (the MQTT 5 default): the session ends with the connection.
    let mut o0 = v5_opts("exp0", port);
    o0.set_clean_start(false);
    let (client, el) = v5::AsyncClient::new(o0, 16);
    let (mut rx, _task) = pump5(el);
    connack(&mut rx).await;
    until("online", || broker.session("exp0").is_some()).await;
    client.disconnect().await.unwrap();
    until("ended with the connection", || {
        broker.session("exp0").is_none()
    })
    .await;
}

/// Receive Maximum: never more QoS 1 messages in flight than the client announced; each PUBACK lets one more go.
#[tokio::test]
async fn v5_receive_maximum_respected() {
    let (broker, port, _t) = start(Limits::default()).await;
    let mut o = v5_opts("rm5", port);
    o.set_receive_maximum(Some(3));
    o.set_manual_acks(true);
    let (client, el) = v5::AsyncClient::new(o, 64);
    let (mut rx, _task) = pump5(el);
    connack(&mut rx).await;
    client
        .subscribe("r/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    until("subscription", || broker.subscription_count() == 1).await;
    for i in 0..10 {
        broker.publish(msg("r/x", &i.to_string(), 1));
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(publish(&mut rx).await);
    }
    let s = broker.session("rm5").unwrap();
    assert_eq!(
        (s.inflight, s.queued),
        (3, 7),
        "three in flight, the rest waits"
    );
    let mut acked = 0;
    while got.len() < 10 {
        client.ack(&got[acked]).await.unwrap();
        acked += 1;
        let p = publish(&mut rx).await;
        got.push(p);
        let s = broker.session("rm5").unwrap();
        assert!(
            s.inflight <= 3,
            "in flight {} > Receive Maximum 3",
            s.inflight
        );
        assert!(got.len() - acked <= 3);
    }
    for (i, p) in got.iter().enumerate() {
        assert_eq!(&p.payload[..], i.to_string().as_bytes());
    }
    let ids: std::collections::HashSet<u16> = got[acked..].iter().map(|p| p.pkid).collect();
    assert_eq!(ids.len(), got.len() - acked, "ids in flight are distinct");
}

/// The server's own bound on messages in flight applies to 3.1.1 clients (which announce none).
#[tokio::test]
async fn v4_inflight_bound() {
    let limits = Limits {
        max_inflight_messages: 2,
        ..Limits::default()
    };
    let (broker, port, _t) = start(limits).await;
    let mut o = v4_opts("if4", port);
    o.set_manual_acks(true);
    let (client, el) = rumqttc::AsyncClient::new(o, 16);
    let (mut rx, _task) = pump4(el);
    connack(&mut rx).await;
    client
        .subscribe("i/#", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    until("subscription", || broker.subscription_count() == 1).await;
    for i in 0..5 {
        broker.publish(msg("i/x", &i.to_string(), 1));
    }
    let a = publish(&mut rx).await;
    let _b = publish(&mut rx).await;
    let s = broker.session("if4").unwrap();
    assert_eq!((s.inflight, s.queued), (2, 3));
    client.ack(&a).await.unwrap();
    assert_eq!(&publish(&mut rx).await.payload[..], b"2");
}

/// Maximum Packet Size: a message too large for the client is not sent to it (counted), the next one is; a
/// QoS 1 one does not stay in flight.
#[tokio::test]
async fn v5_maximum_packet_size_respected() {
    let (broker, port, _t) = start(Limits::default()).await;
    let mut o = v5_opts("mp5", port);
    o.set_max_packet_size(Some(200));
    let (client, el) = v5::AsyncClient::new(o, 16);
    let (mut rx, _task) = pump5(el);
    connack(&mut rx).await;
    client
        .subscribe("p/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    until("subscription", || broker.subscription_count() == 1).await;
    broker.publish(Msg::new("p/big", Bytes::from(vec![b'x'; 500]), 1));
    broker.publish(Msg::new("p/big0", Bytes::from(vec![b'x'; 500]), 0));
    broker.publish(msg("p/small", "fits", 1));
    let p = publish(&mut rx).await;
    assert_eq!(&p.topic[..], b"p/small");
    assert_eq!(broker.stats().oversize_dropped, 2);
    until("nothing in flight", || {
        broker.session("mp5").unwrap().inflight == 0
    })
    .await;
}

/// Retained messages are bounded in count and bytes: past the bound a retained message is delivered but not
/// kept (counted); replacing or clearing a kept topic works at the bound.
#[tokio::test]
async fn retained_bounds() {
    let limits = Limits {
        max_retained_messages: 2,
        max_retained_bytes: 1000,
        ..Limits::default()
    };
    let (broker, port, _t) = start(limits).await;
    let retained = |t: &str, p: &[u8]| {
        let mut m = Msg::new(t, Bytes::copy_from_slice(p), 1);
        m.retain = true;
        m
    };
    broker.publish(retained("k/1", b"one"));
    broker.publish(retained("k/2", b"two"));
    broker.publish(retained("k/3", b"three")); // over the count
    broker.publish(retained("k/1", &[b'y'; 2000])); // over the bytes
    broker.publish(retained("k/2", b"two again")); // a replacement fits
    let st = broker.stats();
    assert_eq!((st.retained, st.retained_refused), (2, 2));
    // A new MQTT subscription gets exactly the kept ones.
    let (client, el) = v5::AsyncClient::new(v5_opts("ret", port), 16);
    let (mut rx, _task) = pump5(el);
    connack(&mut rx).await;
    client
        .subscribe("k/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    let mut got = [publish(&mut rx).await, publish(&mut rx).await];
    got.sort_by(|a, b| a.topic.cmp(&b.topic));
    assert!(got.iter().all(|p| p.retain));
    assert_eq!(
        (&got[0].topic[..], &got[0].payload[..]),
        (&b"k/1"[..], &b"one"[..])
    );
    assert_eq!(
        (&got[1].topic[..], &got[1].payload[..]),
        (&b"k/2"[..], &b"two again"[..])
    );
    // Clearing one makes room.
    broker.publish(retained("k/1", b""));
    broker.publish(retained("k/3", b"three"));
    assert_eq!(broker.stats().retained, 2);
    assert_eq!(broker.stats().retained_refused, 2);
}

/// The connection bound: past it a CONNECT is refused ("server unavailable" in 3.1.1, "quota exceeded" in 5);
/// once a connection ends, a new one is served.
#[tokio::test]
async fn connection_bound() {
    let limits = Limits {
        max_connections: 2,
        ..Limits::default()
    };
    let (broker, port, _t) = start(limits).await;
    let (c1, el) = rumqttc::AsyncClient::new(v4_opts("c1", port), 16);
    let (mut rx1, _t1) = pump4(el);
    connack(&mut rx1).await;
    let (_c2, el) = v5::AsyncClient::new(v5_opts("c2", port), 16);
    let (mut rx2, _t2) = pump5(el);
    connack(&mut rx2).await;
    let (_c3, el) = rumqttc::AsyncClient::new(v4_opts("c3", port), 16);
    let (mut rx3, _t3) = pump4(el);
    match next(&mut rx3).await {
        Ev::Refused(code) => assert_eq!(code, "ServiceUnavailable"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let (_c4, el) = v5::AsyncClient::new(v5_opts("c4", port), 16);
    let (mut rx4, _t4) = pump5(el);
    match next(&mut rx4).await {
        Ev::Refused(code) => assert_eq!(code, "QuotaExceeded"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(broker.stats().connections_refused, 2);
    c1.disconnect().await.unwrap();
    until("a connection ended", || broker.stats().connections == 1).await;
    let (_c5, el) = rumqttc::AsyncClient::new(v4_opts("c5", port), 16);
    let (mut rx5, _t5) = pump4(el);
    connack(&mut rx5).await;
}

/// Topic aliases from a client: within Topic Alias Maximum they work; outside it the connection is closed with
/// "topic alias invalid".
#[tokio::test]
async fn v5_topic_alias_bound() {
    let limits = Limits {
        topic_alias_maximum: 2,
        ..Limits::default()
    };
    let (broker, port, _t) = start(limits).await;
    let (ltx, mut lrx) = mpsc::unbounded_channel();
    broker.subscribe_local(
        "a/#",
        1,
        std::sync::Arc::new(move |m: &Msg| {
            let _ = ltx.send((m.topic.clone(), m.payload.clone()));
        }),
    );
    let (client, el) = v5::AsyncClient::new(v5_opts("alias", port), 16);
    let (mut rx, _task) = pump5(el);
    connack(&mut rx).await;
    let props = |alias: u16| v5::mqttbytes::v5::PublishProperties {
        topic_alias: Some(alias),
        ..Default::default()
    };
    let q = v5::mqttbytes::QoS::AtLeastOnce;
    client
        .publish_with_properties("a/one", q, false, "1", props(2))
        .await
        .unwrap();
    client
        .publish_with_properties("", q, false, "2", props(2))
        .await
        .unwrap();
    for want in ["1", "2"] {
        let (t, p) = tokio::time::timeout(WAIT, lrx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((t.as_str(), &p[..]), ("a/one", want.as_bytes()));
    }
    // rumqttc read our Topic Alias Maximum from CONNACK and refuses alias 3 itself ...
    client
        .publish_with_properties("a/two", q, false, "3", props(3))
        .await
        .unwrap();
    match next(&mut rx).await {
        Ev::Closed(e) => assert!(e.contains("maximum of '2'"), "{e}"),
        other => panic!("expected rumqttc's refusal, got {other:?}"),
    }
    // ... so a raw client sends it: the broker closes the connection with "topic alias invalid" (0x94).
    let publish = v5::mqttbytes::v5::Packet::Publish(v5::mqttbytes::v5::Publish::new(
        "a/two",
        v5::mqttbytes::QoS::AtMostOnce,
        "3",
        Some(props(3)),
    ));
    let (packets, buf) = raw_v5(port, "raw-alias", publish).await;
    assert!(
        matches!(packets[0], v5::mqttbytes::v5::Packet::ConnAck(_)),
        "{packets:?} rest {buf:?}"
    );
    assert!(
        packets.len() == 2
            && matches!(&packets[1], v5::mqttbytes::v5::Packet::Disconnect(d)
            if d.reason_code == v5::mqttbytes::v5::DisconnectReasonCode::TopicAliasInvalid),
        "{packets:?} rest {buf:?}"
    );
    assert!(
        lrx.try_recv().is_err(),
        "the message with a bad alias is not routed"
    );
}

/// A raw MQTT 5 client: CONNECT, then `packet`; returns every packet the broker sent until it closed the
/// connection, and the bytes left over.
async fn raw_v5(
    port: u16,
    id: &str,
    packet: v5::mqttbytes::v5::Packet,
) -> (Vec<v5::mqttbytes::v5::Packet>, bytes::BytesMut) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut out = bytes::BytesMut::new();
    v5::mqttbytes::v5::Packet::Connect(
        v5::mqttbytes::v5::Connect {
            keep_alive: 30,
            client_id: id.into(),
            clean_start: true,
            properties: None,
        },
        None,
        None,
    )
    .write(&mut out, None)
    .unwrap();
    packet.write(&mut out, None).unwrap();
    raw.write_all(&out).await.unwrap();
    let mut buf = bytes::BytesMut::new();
    let mut packets = Vec::new();
    loop {
        match v5::mqttbytes::v5::Packet::read(&mut buf, None) {
            Ok(p) => {
                packets.push(p);
                continue;
            }
            Err(v5::mqttbytes::Error::InsufficientBytes(_)) => {}
            Err(e) => panic!("{e}"),
        }
        // A reset after the broker closed with unread bytes from us counts as the end too.
        let n = tokio::time::timeout(WAIT, raw.read_buf(&mut buf))
            .await
            .unwrap()
            .unwrap_or(0);
        if n == 0 {
            break;
        }
    }
    (packets, buf)
}

/// A packet larger than the broker's Maximum Packet Size (announced in CONNACK) closes the connection with
/// DISCONNECT "packet too large" (MQTT 5).
#[tokio::test]
async fn v5_incoming_packet_too_large() {
    let limits = Limits {
        max_packet_size: 1024,
        ..Limits::default()
    };
    let (_broker, port, _t) = start(limits).await;
    let mut big = v5::mqttbytes::v5::Publish::new(
        "big/x",
        v5::mqttbytes::QoS::AtLeastOnce,
        vec![0u8; 4096],
        None,
    );
    big.pkid = 1;
    let publish = v5::mqttbytes::v5::Packet::Publish(big);
    let (packets, buf) = raw_v5(port, "raw-big", publish).await;
    match &packets[..] {
        [v5::mqttbytes::v5::Packet::ConnAck(c), v5::mqttbytes::v5::Packet::Disconnect(d)] => {
            assert_eq!(c.properties.as_ref().unwrap().max_packet_size, Some(1024));
            assert_eq!(
                d.reason_code,
                v5::mqttbytes::v5::DisconnectReasonCode::PacketTooLarge
            );
        }
        other => panic!("{other:?} rest {buf:?}"),
    }
}

/// Authentication with a password file: the right password connects; a wrong one or an unknown user gets "bad
/// user name or password", none "not authorized", in both protocol versions.
#[tokio::test]
async fn password_file_auth() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    ggipc_nucleus::mqtt::passwd::set_user(&file, "alice", b"s3cret").unwrap();
    let limits = Limits {
        password_file: Some(file.clone()),
        ..Limits::default()
    };
    let (broker, port, _t) = start(limits).await;
    for (user, pass, want) in [
        (Some("alice"), "s3cret", None),
        (
            Some("alice"),
            "wrong",
            Some(("BadUserNamePassword", "BadUserNamePassword")),
        ),
        (
            Some("mallory"),
            "s3cret",
            Some(("BadUserNamePassword", "BadUserNamePassword")),
        ),
        (None, "", Some(("NotAuthorized", "NotAuthorized"))),
    ] {
        let mut o4 = v4_opts("auth4", port);
        let mut o5 = v5_opts("auth5", port);
        if let Some(u) = user {
            o4.set_credentials(u, pass);
            o5.set_credentials(u, pass);
        }
        let (_c, el) = rumqttc::AsyncClient::new(o4, 16);
        let (mut rx, _t4) = pump4(el);
        let got4 = next(&mut rx).await;
        let (_c, el) = v5::AsyncClient::new(o5, 16);
        let (mut rx, _t5) = pump5(el);
        let got5 = next(&mut rx).await;
        match (want, got4, got5) {
            (None, Ev::ConnAck(_), Ev::ConnAck(_)) => {}
            (Some((w4, w5)), Ev::Refused(g4), Ev::Refused(g5)) => {
                assert_eq!((g4.as_str(), g5.as_str()), (w4, w5), "user {user:?}")
            }
            (w, g4, g5) => panic!("user {user:?}: wanted {w:?}, got {g4:?} / {g5:?}"),
        }
    }
    assert_eq!(broker.stats().auth_refused, 6);
}

/// Mosquitto's own clients: `mosquitto_sub -c` (a persistent session, 3.1.1 and 5) receives after it comes back
/// what `mosquitto_pub` published at QoS 1 while it was away.
#[tokio::test]
async fn mosquitto_clients_resume_a_session() {
    if common::which("mosquitto_sub").is_none() {
        assert!(
            !common::mosquitto_required(),
            "mosquitto-clients are required (GGIPC_REQUIRE_MOSQUITTO) but not installed"
        );
        eprintln!("SKIPPED mosquitto_clients_resume_a_session: mosquitto-clients not installed (scripts/install-mosquitto.sh)");
        return;
    }
    let (broker, port, _t) = start(Limits::default()).await;
    let port_s = port.to_string();
    for (version, id) in [("mqttv311", "mosq-sess-4"), ("mqttv5", "mosq-sess-5")] {
        let topic = format!("ms/{id}");
        let sub = |count: &str| {
            let mut args = vec![
                "-h",
                "127.0.0.1",
                "-p",
                &port_s,
                "-V",
                version,
                "-c",
                "-i",
                id,
                "-q",
                "1",
                "-t",
                &topic,
                "-C",
                count,
            ];
            if version == "mqttv5" {
                args.extend(["-x", "600"]); // MQTT 5: the session outlives the connection
            }
            tokio::process::Command::new("mosquitto_sub")
                .args(args)
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        };
        // First connection: subscribe, take one message, disconnect.
        let first = sub("1");
        until("mosquitto_sub subscribed", || {
            broker.session(id).is_some_and(|s| s.subscriptions == 1)
        })
        .await;
        broker.publish(msg(&topic, "first", 1));
        let out = tokio::time::timeout(WAIT, first.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "first");
        until("session offline", || {
            broker.session(id).is_some_and(|s| !s.online)
        })
        .await;
        assert_eq!(
            broker.session(id).unwrap().inflight,
            0,
            "mosquitto_sub acknowledged"
        );
        // While it is away: 20 QoS 1 messages from mosquitto_pub.
        let mut pubp = tokio::process::Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port_s,
                "-V",
                version,
                "-q",
                "1",
                "-t",
                &topic,
                "-l",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use tokio::io::AsyncWriteExt;
            let mut stdin = pubp.stdin.take().unwrap();
            let lines: String = (0..20).map(|i| format!("away-{i}\n")).collect();
            stdin.write_all(lines.as_bytes()).await.unwrap();
        }
        assert!(tokio::time::timeout(WAIT, pubp.wait())
            .await
            .unwrap()
            .unwrap()
            .success());
        assert_eq!(broker.session(id).unwrap().queued, 20);
        // Back: all 20, in order.
        let again = sub("20");
        let out = tokio::time::timeout(WAIT, again.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let want: Vec<String> = (0..20).map(|i| format!("away-{i}")).collect();
        assert_eq!(text.lines().collect::<Vec<_>>(), want, "{version}");
    }
}

/// `ggipc nucleus` with the `mqtt.embedded.*` keys: `ggipc passwd` writes the password file, the nucleus
/// refuses wrong credentials and serves the right ones; without a password file it refuses to listen beyond
/// loopback.
#[tokio::test]
async fn nucleus_config_keys_passwd_and_auth() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mqtt.passwd");
    let mut p = std::process::Command::new(common::ggipc_bin())
        .args(["passwd", file.to_str().unwrap(), "dev"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        p.stdin.take().unwrap().write_all(b"pw-1\n").unwrap();
    }
    let out = p.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("added user dev"));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("dev:$argon2id$") && !text.contains("pw-1"),
        "{text}"
    );

    let cfg = dir.path().join("nucleus.yaml");
    std::fs::write(
        &cfg,
        format!(
            "mqtt:\n  embedded:\n    passwordFile: {}\n    maxConnections: 4\n    maxQueuedMessages: 50\n    topicAliasMaximum: 4\n",
            file.display()
        ),
    )
    .unwrap();
    let root = dir.path().join("root");
    let n = common::NucleusProc::start(&root, &[], &["--config", cfg.to_str().unwrap()]);
    let addr: std::net::SocketAddr = n.mqtt.clone().unwrap().parse().unwrap();
    let port = addr.port();

    let mut bad = v5_opts("n-bad", port);
    bad.set_credentials("dev", "nope");
    let (_c, el) = v5::AsyncClient::new(bad, 16);
    let (mut rx, _t) = pump5(el);
    match next(&mut rx).await {
        Ev::Refused(code) => assert_eq!(code, "BadUserNamePassword"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut good = v5_opts("n-good", port);
    good.set_credentials("dev", "pw-1");
    let (client, el) = v5::AsyncClient::new(good, 16);
    let (mut rx, _t) = pump5(el);
    connack(&mut rx).await;
    // The good client works: its own publish comes back.
    client
        .subscribe("n/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    client
        .publish("n/x", v5::mqttbytes::QoS::AtLeastOnce, false, "hello")
        .await
        .unwrap();
    assert_eq!(&publish(&mut rx).await.payload[..], b"hello");
    drop(n);

    // Beyond loopback without a password file: refused at start, naming the keys.
    let cfg2 = dir.path().join("open.yaml");
    std::fs::write(&cfg2, "mqtt:\n  embedded:\n    host: 0.0.0.0\n").unwrap();
    let root2 = dir.path().join("root2");
    let mut p = common::Proc::spawn(
        &[
            "nucleus",
            "--root",
            root2.to_str().unwrap(),
            "--mqtt-port",
            "0",
            "--config",
            cfg2.to_str().unwrap(),
        ],
        &[],
    );
    let st = p.wait_exit(WAIT);
    assert!(!st.success());
    assert!(
        p.output().contains("mqtt.embedded.passwordFile"),
        "{}",
        p.output()
    );
}
