//! `ggipc nucleus` with the embedded broker, driven as a user would: IPC clients, MQTT clients on the embedded
//! listener, `ggipc env`, `ggipc pub` / `ggipc sub`, bad input, signals.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{write_recipe, NucleusProc, Proc};
use ggipc::model::{
    PayloadFormat, PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest, UserProperty,
};
use ggipc::{ErrorKind, SubscriptionEvent};
use rumqttc::v5;
use tokio::sync::mpsc;

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

fn mqtt5_client(
    addr: &str,
    id: &str,
) -> (
    v5::AsyncClient,
    mpsc::UnboundedReceiver<v5::mqttbytes::v5::Publish>,
    mpsc::UnboundedReceiver<()>,
) {
    let (host, port) = addr.rsplit_once(':').unwrap();
    let opts = v5::MqttOptions::new(id, host, port.parse().unwrap());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_both_directions_with_mqtt5_fields() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "test.Component", ALL, &["e/*"], None);
    let n = NucleusProc::start(&dir.path().join("root"), &[recipe], &[]);
    let addr = n.mqtt.clone().expect("embedded broker address");
    let client = n.client("test.Component").await;

    // MQTT client → IPC subscriber, MQTT 5 fields included (contentType too).
    let mut sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("e/in/#", Qos::AtLeastOnce))
        .await
        .unwrap();
    let (mq, mut incoming, mut subacks) = mqtt5_client(&addr, "ext");
    let props = v5::mqttbytes::v5::PublishProperties {
        content_type: Some("application/json".into()),
        response_topic: Some("e/reply".into()),
        correlation_data: Some(Bytes::from_static(b"c-1")),
        user_properties: vec![("k".into(), "v".into())],
        payload_format_indicator: Some(1),
        message_expiry_interval: Some(30),
        ..Default::default()
    };
    mq.publish_with_properties(
        "e/in/1",
        v5::mqttbytes::QoS::AtLeastOnce,
        false,
        "{\"a\":1}",
        props,
    )
    .await
    .unwrap();
    let m = next_message(&mut sub).await;
    assert_eq!(m.topic_name.as_deref(), Some("e/in/1"));
    assert_eq!(m.payload.as_deref(), Some(&b"{\"a\":1}"[..]));
    assert_eq!(m.content_type.as_deref(), Some("application/json"));
    assert_eq!(m.response_topic.as_deref(), Some("e/reply"));
    assert_eq!(m.correlation_data.as_deref(), Some(&b"c-1"[..]));
    assert_eq!(
        m.user_properties,
        Some(vec![UserProperty {
            key: "k".into(),
            value: "v".into()
        }])
    );
    assert_eq!(m.payload_format, Some(PayloadFormat::Utf8));
    assert_eq!(m.message_expiry_interval_seconds, Some(30));
    assert_eq!(m.retain, Some(false));

    // IPC publish → MQTT subscriber, with MQTT 5 fields.
    mq.subscribe("e/out/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), subacks.recv())
        .await
        .unwrap()
        .unwrap();
    let mut req = PublishToIoTCoreRequest::new("e/out/2", Qos::AtLeastOnce, b"hello".to_vec());
    req.content_type = Some("text/plain".into());
    req.user_properties = Some(vec![UserProperty {
        key: "a".into(),
        value: "b".into(),
    }]);
    req.correlation_data = Some(b"xyz".to_vec());
    client.publish_to_iot_core(req).await.unwrap();
    let p = tokio::time::timeout(Duration::from_secs(10), incoming.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&p.topic[..], b"e/out/2");
    assert_eq!(&p.payload[..], b"hello");
    let pp = p.properties.expect("MQTT 5 properties");
    assert_eq!(pp.content_type.as_deref(), Some("text/plain"));
    assert_eq!(pp.user_properties, vec![("a".to_owned(), "b".to_owned())]);
    assert_eq!(pp.correlation_data.as_deref(), Some(&b"xyz"[..]));

    // The policy allows e/* only.
    let err = client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "other/x",
            Qos::AtLeastOnce,
            b"no".to_vec(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnauthorizedError);
    assert_eq!(err.message(), "Not Authorized");
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_pub_sub_commands_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "cli.Component", ALL, &["*"], None);
    let root = dir.path().join("root");
    let mut n = NucleusProc::start(&root, &[recipe], &[]);

    // ggipc env prints the component's identity.
    let out = std::process::Command::new(common::ggipc_bin())
        .args(["env", "--root", root.to_str().unwrap(), "cli.Component"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("export SVCUID={}", n.svcuids["cli.Component"])),
        "{text}"
    );
    assert!(text.contains(&format!(
        "export AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT={}",
        n.socket.display()
    )));
    let missing = std::process::Command::new(common::ggipc_bin())
        .args(["env", "--root", root.to_str().unwrap(), "no.Such"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no.Such is not registered"));

    // ggipc sub / ggipc pub with that environment.
    let svcuid = n.svcuids["cli.Component"].clone();
    let sock = n.socket.display().to_string();
    let env = [
        ("SVCUID", svcuid.as_str()),
        (
            "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT",
            sock.as_str(),
        ),
    ];
    let mut sub = Proc::spawn(&["sub", "-t", "cli/#", "-C", "3", "-v"], &env);
    sub.wait_line("ggipc sub: subscribed to cli/#", Duration::from_secs(10));
    let mut publ = Proc::spawn(&["pub", "-t", "cli/t", "-m", "msg {n}", "-n", "3"], &env);
    assert!(
        publ.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        publ.output()
    );
    assert!(
        sub.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        sub.output()
    );
    for i in 0..3 {
        assert!(
            sub.seen.iter().any(|l| l == &format!("cli/t msg {i}")),
            "{}",
            sub.output()
        );
    }
    // MQTT 5 options of `ggipc pub` arrive intact (`ggipc sub --json` prints every field).
    let mut sub = Proc::spawn(&["sub", "-t", "cli/json", "-C", "1", "--json"], &env);
    sub.wait_line("ggipc sub: subscribed to cli/json", Duration::from_secs(10));
    let mut publ = Proc::spawn(
        &[
            "pub",
            "-t",
            "cli/json",
            "-m",
            "{}",
            "--content-type",
            "application/json",
            "-u",
            "a=b",
            "--correlation-data",
            "c1",
            "--response-topic",
            "cli/reply",
            "--payload-format",
            "utf8",
            "--expiry",
            "60",
            "-q",
            "0",
        ],
        &env,
    );
    assert!(
        publ.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        publ.output()
    );
    assert!(
        sub.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        sub.output()
    );
    let line = sub
        .seen
        .iter()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{}", sub.output()));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["topicName"], "cli/json");
    assert_eq!(v["payloadText"], "{}");
    assert_eq!(v["contentType"], "application/json");
    assert_eq!(v["responseTopic"], "cli/reply");
    assert_eq!(v["correlationData"], "YzE=");
    assert_eq!(v["payloadFormat"], "1");
    assert_eq!(v["messageExpiryIntervalSeconds"], 60);
    assert_eq!(
        v["userProperties"],
        serde_json::json!([{"key": "a", "value": "b"}])
    );

    // A publish the server refuses makes `ggipc pub` fail with the reason.
    let mut bad = Proc::spawn(&["pub", "-t", "cli/#", "-m", "x"], &env);
    assert!(!bad.wait_exit(Duration::from_secs(20)).success());
    assert!(bad.output().contains("wildcard"), "{}", bad.output());

    // SIGTERM stops the nucleus cleanly and removes the registration file.
    n.proc_.signal(libc::SIGTERM);
    assert!(n.proc_.wait_exit(Duration::from_secs(20)).success());
    assert!(!root.join("components.json").exists());
    assert!(!root.join("ipc.socket").exists());
}

#[test]
fn bad_recipes_and_configs_name_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let root_s = root.to_str().unwrap();

    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"ComponentName": "x", "Manifests": [{"Lifecycle": {"Run": 5}}]}"#,
    )
    .unwrap();
    let mut p = Proc::spawn(
        &[
            "nucleus",
            "--root",
            root_s,
            "--recipe",
            bad.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(20)).code(), Some(2));
    assert!(
        p.output().contains("bad.json") && p.output().contains("Manifests[0].Lifecycle.Run"),
        "{}",
        p.output()
    );

    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "ComponentName: y\nComponentConfiguration:\n  DefaultConfiguration:\n    accessControl:\n      aws.greengrass.ipc.mqttproxy:\n        p1:\n          operations: 7\n",
    )
    .unwrap();
    let mut p = Proc::spawn(
        &[
            "nucleus",
            "--root",
            root_s,
            "--recipe",
            policy.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(20)).code(), Some(2));
    assert!(
        p.output().contains("policy.yaml") && p.output().contains("operations"),
        "{}",
        p.output()
    );

    let missing = dir.path().join("missing.yaml");
    let mut p = Proc::spawn(
        &[
            "nucleus",
            "--root",
            root_s,
            "--recipe",
            missing.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(20)).code(), Some(2));
    assert!(p.output().contains("missing.yaml"), "{}", p.output());

    let cfg = dir.path().join("nucleus.yaml");
    std::fs::write(&cfg, "mqtt:\n  spooler:\n    maxSizeInByte: 10\n").unwrap();
    let mut p = Proc::spawn(
        &[
            "nucleus",
            "--root",
            root_s,
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(20)).code(), Some(2));
    assert!(
        p.output().contains("nucleus.yaml") && p.output().contains("mqtt.spooler"),
        "{}",
        p.output()
    );

    let cfg = dir.path().join("nucleus.json");
    std::fs::write(&cfg, r#"{"mqtt": {"maxInFlightPublishes": "many"}}"#).unwrap();
    let mut p = Proc::spawn(
        &[
            "nucleus",
            "--root",
            root_s,
            "--config",
            cfg.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(p.wait_exit(Duration::from_secs(20)).code(), Some(2));
    assert!(
        p.output().contains("nucleus.json") && p.output().contains("mqtt.maxInFlightPublishes"),
        "{}",
        p.output()
    );

    let mut p = Proc::spawn(&["nucleus", "--root", root_s, "--broker", "tcp://x:1"], &[]);
    assert_eq!(p.wait_exit(Duration::from_secs(20)).code(), Some(2));
    assert!(p.output().contains("--broker"), "{}", p.output());
}

/// Tokens survive a restart of the nucleus, so a client with a reconnect policy gets its subscription back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_nucleus_keeps_tokens_and_clients_resume() {
    use ggipc::ReconnectPolicy;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let recipe = write_recipe(
        dir.path(),
        "com.t.Keep",
        &["PublishToIoTCore", "SubscribeToIoTCore"],
        &["k/#"],
        None,
    );
    let first = NucleusProc::start(
        &root,
        std::slice::from_ref(&recipe),
        &["--broker", "memory"],
    );
    let token = first.svcuids["com.t.Keep"].clone();
    let client = ggipc::Client::builder()
        .socket_path(&first.socket)
        .auth_token(token.clone())
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            ..Default::default()
        })
        .connect()
        .await
        .unwrap();
    let mut sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("k/#", Qos::AtLeastOnce))
        .await
        .unwrap();
    drop(first); // kills the nucleus
    assert!(matches!(
        next_event(&mut sub).await,
        Some(SubscriptionEvent::Interrupted(_))
    ));
    let second = NucleusProc::start(&root, &[recipe], &["--broker", "memory"]);
    assert_eq!(second.svcuids["com.t.Keep"], token);
    assert_eq!(next_event(&mut sub).await, Some(SubscriptionEvent::Resumed));
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "k/1",
            Qos::AtLeastOnce,
            "again",
        ))
        .await
        .unwrap();
    match next_event(&mut sub).await {
        Some(SubscriptionEvent::Message(m)) => {
            assert_eq!(m.message.unwrap().payload_bytes(), b"again")
        }
        other => panic!("unexpected {other:?}"),
    }
}

async fn next_event(sub: &mut ggipc::Subscription) -> Option<SubscriptionEvent> {
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("no event within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_prints_the_counters_of_a_running_nucleus() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = write_recipe(dir.path(), "st.Component", ALL, &["*"], None);
    let root = dir.path().join("root");
    let n = NucleusProc::start(&root, &[recipe], &[]);
    let client = n.client("st.Component").await;
    let _sub = client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("st/t", Qos::AtLeastOnce))
        .await
        .unwrap();
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "st/t",
            Qos::AtLeastOnce,
            b"1".to_vec(),
        ))
        .await
        .unwrap();
    // The file is refreshed every 2 s: wait for the publish to show.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let out = std::process::Command::new(common::ggipc_bin())
            .args(["status", "--root", root.to_str().unwrap()])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && text.contains("1 publishes") {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "status never showed the publish: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        text.contains("IPC: 1 connections, 1 subscriptions, 1 publishes"),
        "{text}"
    );
    assert!(text.contains("events: 1 delivered, 0 dropped"), "{text}");
    assert!(text.contains("(0 lag episodes)"), "{text}");
    assert!(text.contains("embedded broker: 1 subscriptions"), "{text}");
    client.close().await;
    drop(n);
    // No nucleus: a clear error.
    let out = std::process::Command::new(common::ggipc_bin())
        .args(["status", "--root", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `ggipc nucleus --root"));
}
