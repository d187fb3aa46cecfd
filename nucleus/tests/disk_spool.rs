//! `mqtt.spooler.storageType: Disk` end to end: QoS 1 publishes spooled while the broker is unreachable survive a
//! SIGKILL of the nucleus and reach Mosquitto after the restart, in order, each once.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{write_recipe, Mosquitto, NucleusProc};
use ggipc::model::{PublishToIoTCoreRequest, Qos};
use rumqttc::v5;
use tokio::sync::mpsc;

const ALL: &[&str] = &["PublishToIoTCore", "SubscribeToIoTCore"];

/// An MQTT 5 subscriber on Mosquitto: its publishes, and a signal per SUBACK.
fn subscriber(
    port: u16,
) -> (
    v5::AsyncClient,
    mpsc::UnboundedReceiver<v5::mqttbytes::v5::Publish>,
    mpsc::UnboundedReceiver<()>,
) {
    let opts = v5::MqttOptions::new("spool-watcher", "127.0.0.1", port);
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

fn payload(i: usize) -> Vec<u8> {
    // 100 bytes, numbered.
    format!("{i:06}:{}", "x".repeat(93)).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_spool_survives_sigkill_and_delivers_every_message_once() {
    let Some(bin) = common::mosquitto_or_skip("disk_spool_survives_sigkill") else {
        return;
    };
    // Mosquitto's port, with nothing listening on it while the nucleus spools.
    let mut mosq = Mosquitto::start(&bin);
    mosq.stop();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let recipe = write_recipe(dir.path(), "s.Component", ALL, &["*"], None);
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "mqtt:\n  clientId: spool-test\n  spooler:\n    storageType: Disk\n",
    )
    .unwrap();
    let url = format!("mqtt://127.0.0.1:{}", mosq.port);
    let args = [
        "--broker",
        url.as_str(),
        "--config",
        config.to_str().unwrap(),
    ];

    const N: usize = 1000;
    let mut n = NucleusProc::start(&root, std::slice::from_ref(&recipe), &args);
    n.proc_
        .wait_line("cannot connect to MQTT broker", Duration::from_secs(20));
    let client = n.client("s.Component").await;
    let started = Instant::now();
    for i in 0..N {
        client
            .publish_to_iot_core(PublishToIoTCoreRequest::new(
                "spool/t",
                Qos::AtLeastOnce,
                payload(i),
            ))
            .await
            .unwrap();
    }
    let spooled_in = started.elapsed();
    eprintln!(
        "{N} QoS 1 publishes answered (each after its fdatasync) in {spooled_in:?}: {:.0}/s",
        N as f64 / spooled_in.as_secs_f64()
    );
    // Every publish is answered, so every one is in the file. Kill without any chance to clean up.
    let spool = root.join("spool").join("spool.log");
    let size = std::fs::metadata(&spool).unwrap().len();
    assert!(size >= (N * 100) as u64, "spool file is {size} bytes");
    n.proc_.signal(libc::SIGKILL);
    let status = n.proc_.wait_exit(Duration::from_secs(10));
    assert!(!status.success());
    drop(client);

    // A torn append at the end (a write cut short): reported, skipped, nothing else lost.
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&spool)
            .unwrap();
        f.write_all(b"GGS1\x40\x00\x00\x00garbage").unwrap();
    }

    // The broker is back; a subscriber waits on it.
    mosq.restart();
    let (mq, mut incoming, mut subacks) = subscriber(mosq.port);
    mq.subscribe("spool/#", v5::mqttbytes::QoS::AtLeastOnce)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), subacks.recv())
        .await
        .unwrap()
        .unwrap();

    let restarted = Instant::now();
    let mut n = NucleusProc::start(&root, &[recipe], &args);
    let damaged = n
        .proc_
        .wait_line("disk spool damaged", Duration::from_secs(20));
    assert!(damaged.contains("1 record(s) skipped"), "{damaged}");
    let opened = n
        .proc_
        .wait_line("disk spool opened", Duration::from_secs(20));
    assert!(opened.contains(&format!("{N} message(s)")), "{opened}");

    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut order = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while counts.len() < N {
        let Ok(Some(p)) = tokio::time::timeout_at(deadline, incoming.recv()).await else {
            panic!(
                "{} of {N} arrived after the restart\n{}",
                counts.len(),
                n.proc_.output()
            );
        };
        let c = counts.entry(p.payload.to_vec()).or_insert(0);
        if *c == 0 {
            order.push(p.payload.to_vec());
        }
        *c += 1;
    }
    let replayed_in = restarted.elapsed();
    // A marker published after the replay arrives after every earlier message (one connection, in order).
    let client = n.client("s.Component").await;
    client
        .publish_to_iot_core(PublishToIoTCoreRequest::new(
            "spool/end",
            Qos::AtLeastOnce,
            b"end".to_vec(),
        ))
        .await
        .unwrap();
    loop {
        let Ok(Some(p)) = tokio::time::timeout_at(deadline, incoming.recv()).await else {
            panic!("the marker did not arrive");
        };
        if &p.topic[..] == b"spool/end" {
            break;
        }
        *counts.entry(p.payload.to_vec()).or_insert(0) += 1;
    }
    let duplicates: usize = counts.values().map(|c| c - 1).sum();
    eprintln!(
        "after SIGKILL and restart: {} of {N} delivered in {replayed_in:?} (nucleus start included), {duplicates} \
         duplicates",
        counts.len()
    );
    let want: Vec<Vec<u8>> = (0..N).map(payload).collect();
    assert_eq!(order, want, "messages out of order or foreign");
    // Nothing was in flight when the nucleus was killed (the broker was down): QoS 1 allows no duplicate here.
    assert_eq!(duplicates, 0);
    // Every publish is acknowledged: the file is empty again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::metadata(&spool).unwrap().len() != 0 {
        assert!(Instant::now() < deadline, "spool file not emptied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    client.close().await;
}

/// Concurrent publishers share each fdatasync (group commit): with 8 of them the spool takes many more
/// publishes per second than one publisher waiting for each answer; every one is in the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_share_the_disk_spool_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let recipe = write_recipe(dir.path(), "g.Component", ALL, &["*"], None);
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "mqtt:\n  spooler:\n    storageType: Disk\n    maxSizeInBytes: 10000000\n",
    )
    .unwrap();
    // Nothing listens there: everything stays in the spool.
    let url = format!("mqtt://127.0.0.1:{}", common::free_port());
    let mut n = NucleusProc::start(
        &root,
        &[recipe],
        &["--broker", &url, "--config", config.to_str().unwrap()],
    );
    n.proc_
        .wait_line("cannot connect to MQTT broker", Duration::from_secs(20));
    const CLIENTS: usize = 8;
    const EACH: usize = 250;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(n.client("g.Component").await);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, client) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                client
                    .publish_to_iot_core(PublishToIoTCoreRequest::new(
                        format!("group/{c}"),
                        Qos::AtLeastOnce,
                        payload(i),
                    ))
                    .await
                    .unwrap();
            }
            client.close().await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let took = started.elapsed();
    eprintln!(
        "{} QoS 1 publishes from {CLIENTS} concurrent publishers into the disk spool (fsync: always) in {took:?}: \
         {:.0}/s",
        CLIENTS * EACH,
        (CLIENTS * EACH) as f64 / took.as_secs_f64()
    );
    let size = std::fs::metadata(root.join("spool").join("spool.log"))
        .unwrap()
        .len();
    assert!(
        size >= (CLIENTS * EACH * 100) as u64,
        "spool file is {size} bytes"
    );
}
