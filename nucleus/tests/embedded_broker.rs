//! The embedded broker against real MQTT clients: rumqttc (3.1.1 and 5) and, when installed, mosquitto_pub/sub.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use ggipc_nucleus::mqtt::embedded::EmbeddedBroker;
use ggipc_nucleus::mqtt::msg::Msg;
use rumqttc::v5;
use tokio::sync::mpsc;

async fn start() -> (EmbeddedBroker, u16, tokio::task::JoinHandle<()>) {
    let broker = EmbeddedBroker::new(1 << 20);
    let (addr, task) = broker.listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    (broker, addr.port(), task)
}

#[tokio::test]
async fn v4_pub_sub_and_local_hook() {
    let (broker, port, _task) = start().await;
    let mut opts = rumqttc::MqttOptions::new("t-v4", "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(5));
    let (client, mut el) = rumqttc::AsyncClient::new(opts, 16);
    client
        .subscribe("a/+", rumqttc::QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Local (in-process) subscriber sees what the MQTT client publishes.
    let (ltx, mut lrx) = mpsc::unbounded_channel();
    broker.subscribe_local(
        "a/#",
        1,
        std::sync::Arc::new(move |m: &Msg| {
            let _ = ltx.send(m.clone());
        }),
    );
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                    let _ = tx.send(p);
                }
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                    let _ = tx.send(rumqttc::Publish::new(
                        "suback",
                        rumqttc::QoS::AtMostOnce,
                        vec![],
                    ));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let suback = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(suback.topic, "suback");
    // In-process publish reaches the MQTT client.
    broker.publish(Msg::new("a/b", Bytes::from_static(b"hello"), 1));
    let p = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.topic, "a/b");
    assert_eq!(&p.payload[..], b"hello");
    assert_eq!(p.qos, rumqttc::QoS::AtLeastOnce);
    // MQTT publish reaches both the client itself and the local hook.
    client
        .publish("a/c", rumqttc::QoS::AtLeastOnce, false, "x")
        .await
        .unwrap();
    let p = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.topic, "a/c");
    let l = tokio::time::timeout(Duration::from_secs(5), lrx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.topic, "a/b");
    let l = tokio::time::timeout(Duration::from_secs(5), lrx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.topic, "a/c");
}

#[tokio::test]
async fn v5_properties_and_retained() {
    let (broker, port, _task) = start().await;
    let mut retained = Msg::new("r/t", Bytes::from_static(b"kept"), 1);
    retained.retain = true;
    broker.publish(retained);

    let opts = v5::MqttOptions::new("t-v5", "127.0.0.1", port);
    let (client, mut el) = v5::AsyncClient::new(opts, 16);
    client
        .subscribe("#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(v5::Event::Incoming(v5::Incoming::Publish(p))) => {
                    let _ = tx.send(p);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    let p = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&p.topic[..], b"r/t");
    assert!(
        p.retain,
        "retained message is flagged retained on subscribe"
    );

    let mut m = Msg::new("p/q", Bytes::from_static(b"{}"), 1);
    m.props.content_type = Some("application/json".into());
    m.props.correlation_data = Some(Bytes::from_static(b"\x01\x02"));
    m.props.response_topic = Some("reply/here".into());
    m.props.user_properties = vec![("k".into(), "v".into())];
    m.props.payload_format_utf8 = Some(true);
    m.props.message_expiry_interval = Some(60);
    broker.publish(m.clone());
    let p = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&p.topic[..], b"p/q");
    assert!(!p.retain);
    assert_eq!(Msg::props_from_v5(p.properties.as_ref()), m.props);
}

#[tokio::test]
async fn mosquitto_clients_interoperate() {
    if common::which("mosquitto_sub").is_none() {
        assert!(
            !common::mosquitto_required(),
            "mosquitto-clients are required (GGIPC_REQUIRE_MOSQUITTO) but not installed"
        );
        eprintln!("SKIPPED mosquitto_clients_interoperate: mosquitto-clients not installed (scripts/install-mosquitto.sh)");
        return;
    }
    let (broker, port, _task) = start().await;
    let sub = tokio::process::Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "m/#",
            "-C",
            "1",
            "-v",
            "-q",
            "1",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until mosquitto_sub's subscription is in the routing table.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while broker.subscription_count() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "mosquitto_sub never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (ltx, mut lrx) = mpsc::unbounded_channel();
    broker.subscribe_local(
        "m/#",
        1,
        std::sync::Arc::new(move |m: &Msg| {
            let _ = ltx.send(m.clone());
        }),
    );
    for v in ["3.1.1", "5"] {
        let st = tokio::process::Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "m/x",
                "-m",
                "hi",
                "-q",
                "2",
                "-V",
                if v == "5" { "mqttv5" } else { "mqttv311" },
            ])
            .status()
            .await
            .unwrap();
        assert!(st.success());
        let l = tokio::time::timeout(Duration::from_secs(5), lrx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(l.topic, "m/x");
        assert_eq!(&l.payload[..], b"hi");
    }
    let out = tokio::time::timeout(Duration::from_secs(10), sub.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "m/x hi");
}

#[tokio::test]
async fn garbage_and_slow_clients_do_not_hurt_others() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (broker, port, _task) = start().await;
    // A client sending garbage is disconnected.
    let mut bad = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    bad.write_all(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3])
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), bad.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "garbage CONNECT gets the connection closed");
    // An MQTT 3.1 (level 3) client is refused with "unacceptable protocol version".
    let mut old = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut connect = vec![0x10, 0];
    connect.extend_from_slice(&[
        0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 2, 0, 60, 0, 1, b'x',
    ]);
    connect[1] = (connect.len() - 2) as u8;
    old.write_all(&connect).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), old.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..n], &[0x20, 2, 0, 1]);
    // A subscriber that never reads: deliveries to it are dropped once its queue is full; others still get theirs.
    let mut stuck = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut pkt = bytes::BytesMut::new();
    rumqttc::mqttbytes::v4::Connect::new("stuck")
        .write(&mut pkt)
        .unwrap();
    rumqttc::mqttbytes::v4::Subscribe::new("s/#", rumqttc::QoS::AtMostOnce)
        .write(&mut pkt)
        .unwrap();
    stuck.write_all(&pkt).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while broker.subscription_count() == 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (ltx, mut lrx) = mpsc::unbounded_channel();
    broker.subscribe_local(
        "s/#",
        0,
        std::sync::Arc::new(move |m: &Msg| {
            let _ = ltx.send(m.topic.clone());
        }),
    );
    let big = Bytes::from(vec![0u8; 64 * 1024]);
    let n_msgs = embedded_queue() + 2000;
    for _ in 0..n_msgs {
        broker.publish(Msg::new("s/big", big.clone(), 0));
    }
    let mut local = 0;
    while lrx.try_recv().is_ok() {
        local += 1;
    }
    assert_eq!(local, n_msgs, "the in-process subscriber got everything");
    assert!(
        broker.dropped() > 0,
        "the stuck client's overflow is counted"
    );
    drop(stuck);
}

fn embedded_queue() -> usize {
    ggipc_nucleus::mqtt::embedded::OUTGOING_QUEUE
}

/// In-process subscriptions of every shape receive exactly what `filter_matches` says, in subscription order,
/// and stop receiving once removed (the broker routes through a filter index, not a scan).
#[test]
fn local_routing_equals_filter_matching() {
    use ggipc::server::topic::filter_matches;
    use std::sync::{Arc, Mutex};
    let broker = EmbeddedBroker::new(1 << 20);
    let filters = [
        "a/b", "a/+", "a/#", "#", "+/b", "+", "$SYS/#", "$SYS/+", "a//b", "a/+/#", "a/b", "x/y/z",
    ];
    let got: Arc<Mutex<Vec<(usize, String)>>> = Arc::default();
    let mut ids = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let got = got.clone();
        let (id, _) = broker.subscribe_local(
            f,
            0,
            Arc::new(move |m: &Msg| got.lock().unwrap().push((i, m.topic.clone()))),
        );
        ids.push(id);
    }
    assert_eq!(broker.subscription_count(), filters.len());
    let topics = [
        "a/b", "a", "a/", "a//b", "a/x/y", "$SYS/x", "$SYS", "b", "x/y/z", "q/b",
    ];
    let expect = |live: &dyn Fn(usize) -> bool| -> Vec<(usize, String)> {
        let mut v = Vec::new();
        for t in topics {
            for (i, f) in filters.iter().enumerate() {
                if live(i) && filter_matches(f, t) {
                    v.push((i, t.to_string()));
                }
            }
        }
        v
    };
    for t in topics {
        broker.publish(Msg::new(t, Bytes::from_static(b"x"), 0));
    }
    assert_eq!(*got.lock().unwrap(), expect(&|_| true));
    got.lock().unwrap().clear();
    for i in [0, 3, 6, 11] {
        broker.unsubscribe_local(ids[i]);
    }
    broker.unsubscribe_local(ids[0]); // twice: ignored
    assert_eq!(broker.subscription_count(), filters.len() - 4);
    for t in topics {
        broker.publish(Msg::new(t, Bytes::from_static(b"x"), 0));
    }
    assert_eq!(
        *got.lock().unwrap(),
        expect(&|i| ![0, 3, 6, 11].contains(&i))
    );
}
