//! More than 50 subscriptions through the bridge, as the Greengrass nucleus does for AWS IoT Core: past
//! `mqtt.maxSubscriptionsPerConnection` (50) distinct filters the bridge opens `<clientId>#2`, `#3`, …; every
//! filter receives its messages; unsubscribing frees slots, and an extra connection left empty is closed.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use std::time::{Duration, Instant};

use common::{write_recipe, Mosquitto, NucleusProc};
use ggipc::model::{Qos, SubscribeToIoTCoreRequest};
use ggipc::SubscriptionEvent;
use rumqttc::v5;

const ALL: &[&str] = &["PublishToIoTCore", "SubscribeToIoTCore"];

/// Waits until `status.json` lists connections with exactly these filter counts; returns their client ids.
async fn wait_connections(n: &NucleusProc, want: &[usize]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = serde_json::Value::Null;
    loop {
        if let Ok(text) = std::fs::read_to_string(n.root.join("status.json")) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                let conns = v["broker"]["connections"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let counts: Vec<usize> = conns
                    .iter()
                    .map(|c| c["subscriptions"].as_u64().unwrap() as usize)
                    .collect();
                let up = conns.iter().all(|c| c["connected"] == true);
                if counts == want && up {
                    return conns
                        .iter()
                        .map(|c| c["clientId"].as_str().unwrap().to_owned())
                        .collect();
                }
                last = v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "connections never became {want:?}; last status: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until Mosquitto's log has a line containing every needle.
async fn wait_log(mosq: &Mosquitto, needles: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = mosq.log();
        if needles.iter().all(|n| log.contains(n.as_str())) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "Mosquitto's log lacks {needles:?}:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn subscribe(client: &ggipc::Client, filter: &str) -> ggipc::Subscription {
    client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(filter, Qos::AtLeastOnce))
        .await
        .unwrap()
}

/// Publishes one message per topic from an MQTT client on Mosquitto and checks each subscription gets exactly
/// its own.
async fn each_receives_its_own(port: u16, subs: &mut [(String, ggipc::Subscription)]) {
    let opts = v5::MqttOptions::new("pool-publisher", "127.0.0.1", port);
    let (mq, mut el) = v5::AsyncClient::new(opts, 256);
    let driver = tokio::spawn(async move { while el.poll().await.is_ok() {} });
    for (topic, _) in subs.iter() {
        mq.publish(
            topic.clone(),
            v5::mqttbytes::QoS::AtLeastOnce,
            false,
            topic.clone().into_bytes(),
        )
        .await
        .unwrap();
    }
    for (topic, sub) in subs.iter_mut() {
        let m = loop {
            match tokio::time::timeout(Duration::from_secs(20), sub.next()).await {
                Ok(Some(SubscriptionEvent::Message(m))) => break m.message.unwrap(),
                Ok(Some(ev)) if ev.is_terminal() => panic!("{topic}: subscription ended: {ev:?}"),
                Ok(Some(_)) => {}
                Ok(None) => panic!("{topic}: subscription ended"),
                Err(_) => panic!("{topic}: no message"),
            }
        };
        assert_eq!(m.topic_name.as_deref(), Some(topic.as_str()));
        assert_eq!(m.payload.as_deref(), Some(topic.as_bytes()));
        assert!(sub.try_next().is_none(), "{topic}: a second message");
    }
    let _ = mq.disconnect().await;
    driver.abort();
}

/// A Mosquitto, a nucleus bridged to it with `config` (YAML), and a client of its one component.
struct Pool {
    mosq: Mosquitto,
    _dir: tempfile::TempDir,
    n: NucleusProc,
    client: ggipc::Client,
}

impl Pool {
    /// None when Mosquitto is not installed (the test is skipped).
    async fn start(test: &str, config: &str) -> Option<Pool> {
        let bin = common::mosquitto_or_skip(test)?;
        let mosq = Mosquitto::start(&bin);
        let dir = tempfile::tempdir().unwrap();
        let recipe = write_recipe(dir.path(), "p.Component", ALL, &["*"], None);
        let config_file = dir.path().join("config.yaml");
        std::fs::write(&config_file, config).unwrap();
        let url = format!("mqtt://127.0.0.1:{}", mosq.port);
        let mut n = NucleusProc::start(
            &dir.path().join("root"),
            &[recipe],
            &["--broker", &url, "--config", config_file.to_str().unwrap()],
        );
        n.proc_
            .wait_line("connected to MQTT broker", Duration::from_secs(20));
        let client = n.client("p.Component").await;
        Some(Pool {
            mosq,
            _dir: dir,
            n,
            client,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_50_filters_the_bridge_opens_numbered_connections() {
    let Some(Pool {
        mosq,
        _dir,
        n,
        client,
    }) = Pool::start(
        "past_50_filters_the_bridge_opens_numbered_connections",
        "mqtt:\n  clientId: pool-test\n",
    )
    .await
    else {
        return;
    };

    // 120 distinct filters: 50 + 50 + 20.
    let mut subs = Vec::new();
    for i in 0..120 {
        let topic = format!("pool/a/{i}");
        let sub = subscribe(&client, &topic).await;
        subs.push((topic, sub));
    }
    let ids = wait_connections(&n, &[50, 50, 20]).await;
    assert_eq!(ids, ["pool-test", "pool-test#2", "pool-test#3"]);
    // The broker saw the three client ids connect, and no fourth.
    wait_log(
        &mosq,
        &[
            " as pool-test ".to_owned(),
            " as pool-test#2 ".to_owned(),
            " as pool-test#3 ".to_owned(),
        ],
    )
    .await;
    assert!(!mosq.log().contains("pool-test#4"), "{}", mosq.log());
    each_receives_its_own(mosq.port, &mut subs).await;

    // Unsubscribing frees slots: 60 go (all 50 of the first connection, 10 of the second), 60 new filters fill
    // them (50 on the first, 10 on the second), still three connections.
    for (_, sub) in subs.drain(..60) {
        sub.close();
    }
    wait_connections(&n, &[0, 40, 20]).await;
    let mut fresh = Vec::new();
    for i in 0..60 {
        let topic = format!("pool/b/{i}");
        let sub = subscribe(&client, &topic).await;
        fresh.push((topic, sub));
    }
    wait_connections(&n, &[50, 50, 20]).await;
    assert!(!mosq.log().contains("pool-test#4"), "{}", mosq.log());
    each_receives_its_own(mosq.port, &mut fresh).await;
    each_receives_its_own(mosq.port, &mut subs).await;

    // The third connection's 20 filters go: it is closed; the others keep working.
    for (_, sub) in subs.drain(40..) {
        sub.close();
    }
    wait_connections(&n, &[50, 50]).await;
    wait_log(&mosq, &["Client pool-test#3 ".to_owned()]).await;
    each_receives_its_own(mosq.port, &mut fresh).await;
    client.close().await;
}

/// Subscriptions placed on an extra connection while it is still coming up are answered once they are made on
/// it, not at once as "pending": a message published right after the answer arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_on_a_connection_still_coming_up_gets_the_next_message() {
    let Some(Pool {
        mosq: _mosq,
        _dir,
        mut n,
        client,
    }) = Pool::start(
        "a_subscription_on_a_connection_still_coming_up_gets_the_next_message",
        "mqtt:\n  clientId: rising\n  maxSubscriptionsPerConnection: 2\n",
    )
    .await
    else {
        return;
    };
    // The first connection's two slots.
    let mut subs = vec![
        ("rise/0".to_owned(), subscribe(&client, "rise/0").await),
        ("rise/1".to_owned(), subscribe(&client, "rise/1").await),
    ];
    // Four at once: the first opens `rising#2`, the second lands on it while it connects, the next two open
    // and join `rising#3` the same way.
    let (a, b, c, d) = tokio::join!(
        subscribe(&client, "rise/2"),
        subscribe(&client, "rise/3"),
        subscribe(&client, "rise/4"),
        subscribe(&client, "rise/5"),
    );
    for (i, s) in [a, b, c, d].into_iter().enumerate() {
        subs.push((format!("rise/{}", i + 2), s));
    }
    // Published through the nucleus right after the answers: each subscription gets its own message.
    for (topic, _) in &subs {
        client
            .publish_to_iot_core(ggipc::model::PublishToIoTCoreRequest::new(
                topic.as_str(),
                Qos::AtLeastOnce,
                topic.clone().into_bytes(),
            ))
            .await
            .unwrap();
    }
    for (topic, sub) in subs.iter_mut() {
        let m = match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
            Ok(Some(SubscriptionEvent::Message(m))) => m.message.unwrap(),
            other => panic!("{topic}: no message ({other:?})"),
        };
        assert_eq!(m.payload.as_deref(), Some(topic.as_bytes()));
    }
    client.close().await;
    // None of them was answered as pending: the broker was reachable all along.
    n.proc_.signal(libc::SIGTERM);
    n.proc_.wait_exit(Duration::from_secs(20));
    let log = n.proc_.output();
    assert!(
        log.contains("rising#3"),
        "a third connection was opened:\n{log}"
    );
    assert!(
        !log.contains("subscription accepted, made when connected"),
        "a subscription was answered before it was made:\n{log}"
    );
}
