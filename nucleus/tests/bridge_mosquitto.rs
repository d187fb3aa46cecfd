//! The MQTT bridge against a real Mosquitto: round trip with MQTT 5 properties, an outage in the middle of a
//! QoS 1 stream (nothing lost, subscriptions restored), QoS 0 while offline, spool limits, PUBACK ack mode.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ggipc_nucleus::mqtt::bridge::{AckMode, Bridge, BridgeConfig, MqttVersion};
use ggipc_nucleus::mqtt::msg::Msg;
use tokio::sync::mpsc;

fn config(port: u16, id: &str) -> BridgeConfig {
    let mut c = BridgeConfig::new("127.0.0.1", port);
    c.client_id = id.to_owned();
    c.reconnect_min = Duration::from_millis(50);
    c.reconnect_max = Duration::from_millis(200);
    c.operation_timeout = Duration::from_secs(10);
    c
}

async fn wait_connected(b: &Bridge, want: bool) {
    let mut rx = b.connection_state();
    tokio::time::timeout(Duration::from_secs(15), rx.wait_for(|c| *c == want))
        .await
        .expect("connection state")
        .unwrap();
}

fn sink() -> (
    ggipc_nucleus::mqtt::bridge::Sink,
    mpsc::UnboundedReceiver<Msg>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        Arc::new(move |m: &Msg| {
            let _ = tx.send(m.clone());
        }),
        rx,
    )
}

#[tokio::test]
async fn round_trip_with_mqtt5_properties() {
    let Some(bin) = common::mosquitto_or_skip("round_trip_with_mqtt5_properties") else {
        return;
    };
    let mosq = common::Mosquitto::start(&bin);
    for version in [MqttVersion::V5, MqttVersion::V311] {
        let mut cfg = config(mosq.port, &format!("rt-{version:?}"));
        cfg.version = version;
        let bridge = Bridge::start(cfg);
        wait_connected(&bridge, true).await;
        let (s, mut rx) = sink();
        bridge.subscribe("rt/#", 1, s).await.unwrap();
        let mut m = Msg::new("rt/a", Bytes::from_static(b"payload"), 1);
        m.props.content_type = Some("text/plain".into());
        m.props.response_topic = Some("rt/reply".into());
        m.props.correlation_data = Some(Bytes::from_static(b"corr"));
        m.props.user_properties = vec![("a".into(), "1".into()), ("b".into(), "2".into())];
        m.props.payload_format_utf8 = Some(true);
        m.props.message_expiry_interval = Some(120);
        bridge.publish(m.clone()).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.topic, "rt/a");
        assert_eq!(got.payload, m.payload);
        if version == MqttVersion::V5 {
            // Mosquitto counts the expiry down; everything else must be identical.
            let mut expect = m.props.clone();
            expect.message_expiry_interval = got.props.message_expiry_interval;
            assert!(got.props.message_expiry_interval.unwrap() <= 120);
            assert_eq!(got.props, expect);
        } else {
            assert!(got.props.is_empty(), "MQTT 3.1.1 carries no properties");
        }
        bridge.shutdown().await;
    }
}

#[tokio::test]
async fn outage_keeps_qos1_and_restores_subscriptions() {
    let Some(bin) = common::mosquitto_or_skip("outage_keeps_qos1_and_restores_subscriptions")
    else {
        return;
    };
    let mut mosq = common::Mosquitto::start(&bin);
    let bridge = Bridge::start(config(mosq.port, "outage"));
    wait_connected(&bridge, true).await;
    let (s, mut rx) = sink();
    bridge.subscribe("out/#", 1, s).await.unwrap();

    const N: usize = 300;
    let mut seen = BTreeSet::new();
    let mut total = 0usize;
    for i in 0..N {
        if i == 100 {
            mosq.stop();
            wait_connected(&bridge, false).await;
            // QoS 0 while offline is refused with the nucleus' message.
            let err = bridge
                .publish(Msg::new("out/q0", Bytes::from_static(b"x"), 0))
                .unwrap_err();
            assert_eq!(err, "Device is offline. Dropping QoS 0 message.");
        }
        if i == 200 {
            assert!(
                bridge.spool_bytes() > 0,
                "publishes during the outage are spooled"
            );
            mosq.restart();
            wait_connected(&bridge, true).await;
        }
        bridge
            .publish(Msg::new("out/x", Bytes::from(format!("{i}")), 1))
            .unwrap();
        while let Ok(m) = rx.try_recv() {
            seen.insert(String::from_utf8_lossy(&m.payload).into_owned());
            total += 1;
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < N {
        let m = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("all messages after reconnect")
            .unwrap();
        seen.insert(String::from_utf8_lossy(&m.payload).into_owned());
        total += 1;
    }
    let missing: Vec<usize> = (0..N).filter(|i| !seen.contains(&i.to_string())).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
    // QoS 1 allows duplicates only for messages in flight when the connection dropped.
    assert!(total - N <= 5, "{} duplicates", total - N);
    assert!(
        bridge
            .stats()
            .connects
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
    bridge.shutdown().await;
}

#[tokio::test]
async fn qos0_offline_kept_when_configured_and_spool_limits() {
    let Some(bin) = common::mosquitto_or_skip("qos0_offline_kept_when_configured_and_spool_limits")
    else {
        return;
    };
    let mut mosq = common::Mosquitto::start(&bin);
    let mut cfg = config(mosq.port, "keepq0");
    cfg.keep_qos0_when_offline = true;
    cfg.spool_max_bytes = 1000;
    let bridge = Bridge::start(cfg);
    wait_connected(&bridge, true).await;
    let (s, mut rx) = sink();
    bridge.subscribe("k/#", 1, s).await.unwrap();
    mosq.stop();
    wait_connected(&bridge, false).await;
    // "k/0" + 100 bytes = 103 bytes per message: 9 fit.
    for i in 0..9 {
        bridge
            .publish(Msg::new(format!("k/{i}"), Bytes::from(vec![b'a'; 100]), 0))
            .unwrap();
    }
    // A 10th QoS 1 message evicts the oldest QoS 0 one.
    bridge
        .publish(Msg::new("k/9", Bytes::from(vec![b'b'; 100]), 1))
        .unwrap();
    assert_eq!(
        bridge
            .publish(Msg::new("k/big", Bytes::from(vec![0u8; 2000]), 1))
            .unwrap_err(),
        "Message is larger than the size of message spool."
    );
    for i in 10..18 {
        bridge
            .publish(Msg::new(format!("k/{i}"), Bytes::from(vec![b'c'; 100]), 1))
            .unwrap();
    }
    // Now the spool holds only QoS 1 messages: nothing left to evict.
    assert_eq!(
        bridge
            .publish(Msg::new("k/x", Bytes::from(vec![b'd'; 100]), 1))
            .unwrap_err(),
        "Message spool is full. Message could not be added."
    );
    mosq.restart();
    wait_connected(&bridge, true).await;
    let mut topics = BTreeSet::new();
    while topics.len() < 9 {
        let m = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .unwrap()
            .unwrap();
        topics.insert(m.topic);
    }
    assert!(topics.contains("k/9") && topics.contains("k/17"));
    bridge.shutdown().await;
}

#[tokio::test]
async fn puback_mode_waits_for_broker() {
    let Some(bin) = common::mosquitto_or_skip("puback_mode_waits_for_broker") else {
        return;
    };
    let mut mosq = common::Mosquitto::start(&bin);
    let mut cfg = config(mosq.port, "puback");
    cfg.ack_mode = AckMode::Puback;
    let bridge = Bridge::start(cfg);
    wait_connected(&bridge, true).await;
    let wait = bridge
        .publish(Msg::new("p/a", Bytes::from_static(b"1"), 1))
        .unwrap()
        .expect("QoS 1 waits");
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // QoS 0 is answered at once.
    assert!(bridge
        .publish(Msg::new("p/a", Bytes::from_static(b"0"), 0))
        .unwrap()
        .is_none());
    // While the broker is down the ack stays pending, and completes after reconnecting.
    mosq.stop();
    wait_connected(&bridge, false).await;
    let mut wait = bridge
        .publish(Msg::new("p/a", Bytes::from_static(b"2"), 1))
        .unwrap()
        .unwrap();
    assert!(wait.try_recv().is_err());
    mosq.restart();
    tokio::time::timeout(Duration::from_secs(15), wait)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    bridge.shutdown().await;
}

#[tokio::test]
async fn unreachable_broker_is_reported_and_retried() {
    let port = common::free_port();
    let bridge = Bridge::start(config(port, "nobody"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let err = loop {
        if let Some(e) = bridge.last_error() {
            break e;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("failed"),
        "{err}"
    );
    // QoS 1 is spooled, QoS 0 refused.
    assert!(bridge
        .publish(Msg::new("u/a", Bytes::from_static(b"1"), 1))
        .is_ok());
    assert!(bridge
        .publish(Msg::new("u/a", Bytes::from_static(b"1"), 0))
        .is_err());
    bridge.shutdown().await;
}

#[tokio::test]
async fn mutual_tls_like_iot_core() {
    let Some(bin) = common::mosquitto_or_skip("mutual_tls_like_iot_core") else {
        return;
    };
    let mosq = common::Mosquitto::start_tls(&bin);
    let d = mosq.dir().to_owned();
    let tls = |cert: &str, key: &str| ggipc_nucleus::mqtt::bridge::TlsFiles {
        ca: Some(d.join("ca.pem")),
        cert: Some(d.join(cert)),
        key: Some(d.join(key)),
    };
    let mut cfg = BridgeConfig::new("localhost", mosq.port);
    cfg.client_id = "thing-1".into();
    cfg.tls = Some(tls("client.pem", "client.key"));
    cfg.reconnect_min = Duration::from_millis(50);
    let bridge = Bridge::start(cfg.clone());
    wait_connected(&bridge, true).await;
    let (s, mut rx) = sink();
    bridge.subscribe("tls/#", 1, s).await.unwrap();
    bridge
        .publish(Msg::new("tls/a", Bytes::from_static(b"secure"), 1))
        .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&m.payload[..], b"secure");
    bridge.shutdown().await;

    // A client certificate from another CA is refused, and the error says so.
    cfg.tls = Some(tls("other.pem", "other.key"));
    cfg.client_id = "intruder".into();
    let bad = Bridge::start(cfg);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let err = loop {
        if let Some(e) = bad.last_error() {
            break e;
        }
        assert!(tokio::time::Instant::now() < deadline, "no error reported");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!bad.is_connected());
    assert!(
        err.contains("TLS") || err.contains("closed") || err.contains("CONNACK"),
        "{err}"
    );
    bad.shutdown().await;
}

#[tokio::test]
async fn overlapping_subscriptions_share_one_broker_subscription() {
    let Some(bin) =
        common::mosquitto_or_skip("overlapping_subscriptions_share_one_broker_subscription")
    else {
        return;
    };
    let mosq = common::Mosquitto::start(&bin);
    let bridge = Bridge::start(config(mosq.port, "dedup"));
    wait_connected(&bridge, true).await;
    let (sa, mut ra) = sink();
    let (sb, mut rb) = sink();
    let a = bridge.subscribe("d/#", 1, sa).await.unwrap();
    let b = bridge.subscribe("d/x", 1, sb).await.unwrap();
    assert_eq!(bridge.broker_subscriptions(), vec!["d/#".to_owned()]);
    bridge
        .publish(Msg::new("d/x", Bytes::from_static(b"1"), 1))
        .unwrap();
    bridge
        .publish(Msg::new("d/y", Bytes::from_static(b"2"), 1))
        .unwrap();
    let got_a: Vec<_> = [
        ra.recv().await.unwrap().topic,
        ra.recv().await.unwrap().topic,
    ]
    .into();
    assert_eq!(got_a, vec!["d/x".to_owned(), "d/y".to_owned()]);
    assert_eq!(rb.recv().await.unwrap().topic, "d/x");
    // d/# stays while d/x still needs it; it goes with the last user.
    bridge.unsubscribe(a);
    assert_eq!(bridge.broker_subscriptions(), vec!["d/#".to_owned()]);
    bridge.unsubscribe(b);
    assert!(bridge.broker_subscriptions().is_empty());
    // Each sink saw each message exactly once.
    assert!(ra.try_recv().is_err() && rb.try_recv().is_err());
    bridge.shutdown().await;
}

#[tokio::test]
async fn publish_quotas_delay_publishes_in_order() {
    let Some(bin) = common::mosquitto_or_skip("publish_quotas_delay_publishes_in_order") else {
        return;
    };
    let mosq = common::Mosquitto::start(&bin);
    // (publishes/s, bytes/s, messages, payload bytes): each run is at least 2 s beyond its one-second burst.
    for (rate, byte_rate, n, size) in [(20u32, 0u32, 60usize, 10usize), (0, 10 * 1024, 30, 1024)] {
        let mut cfg = config(mosq.port, &format!("quota-{rate}-{byte_rate}"));
        cfg.max_publishes_per_second = rate;
        cfg.max_publish_bytes_per_second = byte_rate;
        cfg.max_in_flight = 100;
        let bridge = Bridge::start(cfg);
        wait_connected(&bridge, true).await;
        let (s, mut rx) = sink();
        bridge.subscribe("quota/#", 1, s).await.unwrap();
        let started = std::time::Instant::now();
        for i in 0..n {
            let mut payload = vec![b'x'; size];
            payload[..4].copy_from_slice(&(i as u32).to_be_bytes());
            bridge
                .publish(Msg::new("quota/t", Bytes::from(payload), 1))
                .unwrap();
        }
        for i in 0..n {
            let m = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(m.payload[..4], (i as u32).to_be_bytes(), "order");
        }
        let took = started.elapsed().as_secs_f64();
        let bytes_each = (size + "quota/t".len()) as f64;
        let floor = if rate > 0 {
            (n as f64 - f64::from(rate)) / f64::from(rate)
        } else {
            (n as f64 * bytes_each - f64::from(byte_rate)) / f64::from(byte_rate)
        };
        eprintln!(
            "{n} publishes at {rate}/s, {byte_rate} B/s: {took:.2} s (quota floor {floor:.2} s)"
        );
        // Timers may fire a little early on a busy machine, never a whole publish's worth.
        assert!(
            took >= floor * 0.95,
            "{took:.2} s < {floor:.2} s: quota not applied"
        );
        bridge.shutdown().await;
    }
}
