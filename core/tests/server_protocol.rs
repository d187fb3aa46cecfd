//! The server against a raw protocol peer: handshake rules, stream-id rules, bad input. After each bad
//! connection the server must still serve others.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use bytes::Bytes;
use common::*;
use ggipc::codec::{ByteStr, Header, HeaderValue};
use ggipc::model::{PublishToIoTCoreRequest, Qos};
use ggipc::rpc::{self, errors, flags, Frame, MessageType};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const PUB_REQ: &str = "aws.greengrass#PublishToIoTCoreRequest";
const SUB_REQ: &str = "aws.greengrass#SubscribeToIoTCoreRequest";

async fn still_serving(fx: &Fixture, token: &str) {
    let c = fx.client(token).await;
    c.publish_to_iot_core(PublishToIoTCoreRequest::new("ok", Qos::AtMostOnce, "x"))
        .await
        .unwrap();
}

async fn expect_protocol_error(raw: &mut Raw, payload: &str) {
    let f = raw.recv().await.expect("a PROTOCOL_ERROR");
    assert_eq!(f.message_type, MessageType::ProtocolError);
    assert_eq!(std::str::from_utf8(&f.payload).unwrap(), payload);
    assert!(
        raw.recv().await.is_none(),
        "connection must close after a protocol error"
    );
}

#[tokio::test]
async fn handshake_rules() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    // Anything before CONNECT.
    let mut r = Raw::connect(&fx.path()).await;
    r.send(&Frame::bare(MessageType::Ping, 0, 0)).await;
    expect_protocol_error(&mut r, errors::CONNECT_FIRST).await;
    // Missing :version is rejected like a bad token.
    let mut r = Raw::connect(&fx.path()).await;
    let mut connect = rpc::connect_frame(&token);
    connect.other_headers.clear();
    r.send(&connect).await;
    let ack = r.recv().await.unwrap();
    assert_eq!((ack.message_type, ack.flags), (MessageType::ConnectAck, 0));
    assert!(r.recv().await.is_none());
    // Python's spacing in the JSON, and a rejected token.
    let mut r = Raw::connect(&fx.path()).await;
    let mut f = rpc::connect_frame("x");
    f.payload = Bytes::from(format!("{{\"authToken\": \"{token}\"}}"));
    r.send(&f).await;
    assert_eq!(r.recv().await.unwrap().flags, flags::CONNECTION_ACCEPTED);
    // A second CONNECT.
    r.send(&rpc::connect_frame(&token)).await;
    expect_protocol_error(&mut r, errors::CONNECT_FIRST).await;
    for bad in ["", "{}", "not json", "{\"authToken\":\"WRONG\"}"] {
        let mut r = Raw::connect(&fx.path()).await;
        let mut f = rpc::connect_frame("x");
        f.payload = Bytes::from(bad);
        r.send(&f).await;
        assert_eq!(r.recv().await.unwrap().flags, 0, "{bad}");
    }
    still_serving(&fx, &token).await;
}

#[tokio::test]
async fn connect_ack_is_byte_exact() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut r = Raw::connect(&fx.path()).await;
    r.send(&rpc::connect_frame(&token)).await;
    let mut buf = [0u8; 71];
    tokio::io::AsyncReadExt::read_exact(&mut r.stream, &mut buf)
        .await
        .unwrap();
    // Vector G2.
    let g2 = "0000004700000037374cfe3f0d3a6d6573736167652d7479706504000000050e3a6d6573736167652d666c61677304000000010a3a73747265616d2d69640400000000e237e27d";
    assert_eq!(
        buf.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        g2
    );
}

#[tokio::test]
async fn connect_timeout_closes_silent_connections() {
    let fx = Fixture::start_with(|c| c.connect_timeout = Duration::from_millis(100)).await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut r = Raw::connect(&fx.path()).await;
    assert!(r.recv().await.is_none());
    still_serving(&fx, &token).await;
}

#[tokio::test]
async fn stream_id_rules() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    let body = r#"{"topicName":"t","qos":"0","payload":""}"#;
    // A gap: 1 then 3.
    let mut r = Raw::handshake(&fx.path(), &token).await;
    r.send(&Raw::activation(PUB, PUB_REQ, 1, body)).await;
    let resp = r.recv().await.unwrap();
    assert_eq!((resp.stream_id, resp.flags), (1, flags::TERMINATE_STREAM));
    assert_eq!(
        resp.service_model_type.as_deref(),
        Some("aws.greengrass#PublishToIoTCoreResponse")
    );
    r.send(&Raw::activation(PUB, PUB_REQ, 3, body)).await;
    expect_protocol_error(&mut r, errors::STREAM_ID_GAP).await;
    // A non-terminate message on a closed stream.
    let mut r = Raw::handshake(&fx.path(), &token).await;
    r.send(&Raw::activation(PUB, PUB_REQ, 1, body)).await;
    r.recv().await.unwrap();
    // A terminate for the closed stream is ignored...
    r.send(&Frame::bare(
        MessageType::ApplicationMessage,
        flags::TERMINATE_STREAM,
        1,
    ))
    .await;
    // ...anything else is a protocol error.
    r.send(&Raw::activation(PUB, PUB_REQ, 1, body)).await;
    expect_protocol_error(&mut r, errors::STREAM_ID_LOWER).await;
    // No operation header on a new stream.
    let mut r = Raw::handshake(&fx.path(), &token).await;
    r.send(&Frame::json(
        MessageType::ApplicationMessage,
        0,
        1,
        PUB_REQ,
        Bytes::from_static(b"{}"),
    ))
    .await;
    expect_protocol_error(&mut r, errors::MISSING_OPERATION).await;
    // Missing reserved headers.
    let mut r = Raw::handshake(&fx.path(), &token).await;
    let msg = ggipc::codec::Message {
        headers: vec![Header::new(":message-type", HeaderValue::Int32(0))],
        payload: Bytes::new(),
    };
    let mut b = bytes::BytesMut::new();
    ggipc::codec::encode(&msg, 1 << 20, &mut b).unwrap();
    r.send_bytes(&b).await;
    expect_protocol_error(&mut r, errors::MISSING_FIELDS).await;
    // Connection-level type on a stream.
    let mut r = Raw::handshake(&fx.path(), &token).await;
    r.send(&Frame::bare(MessageType::Ping, 0, 5)).await;
    expect_protocol_error(&mut r, errors::NON_ZERO_STREAM_ID).await;
    still_serving(&fx, &token).await;
}

#[tokio::test]
async fn unknown_operations_and_bad_bodies() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut r = Raw::handshake(&fx.path(), &token).await;
    let op = "aws.greengrass#GetSecretValue";
    let f = Frame {
        operation: Some(ByteStr::from_static(op)),
        ..Frame::json(
            MessageType::ApplicationMessage,
            0,
            1,
            "x",
            Bytes::from_static(b"{}"),
        )
    };
    r.send(&f).await;
    let e = r.recv().await.unwrap();
    // Vector G18, stream 1.
    assert_eq!(
        (e.message_type, e.flags, e.service_model_type.is_none()),
        (MessageType::ApplicationError, 2, true)
    );
    assert_eq!(
        std::str::from_utf8(&e.payload).unwrap(),
        r#"{"error": "Unsupported Operation", "message": "aws.greengrass#GetSecretValue is an unsupported operation."}"#
    );
    // A known operation with a body that is not JSON: a modeled error on its stream only.
    r.send(&Raw::activation(
        "aws.greengrass#GetConfiguration",
        "aws.greengrass#GetConfigurationRequest",
        2,
        "{",
    ))
    .await;
    let e = r.recv().await.unwrap();
    assert_eq!(
        (e.stream_id, e.service_model_type.as_deref()),
        (2, Some("aws.greengrass#InvalidArgumentsError"))
    );
    // The connection is still fine.
    r.send(&Raw::activation(
        PUB,
        PUB_REQ,
        3,
        r#"{"topicName":"t","qos":"0","payload":""}"#,
    ))
    .await;
    assert_eq!(r.recv().await.unwrap().stream_id, 3);
}

#[tokio::test]
async fn malformed_frames_close_only_that_connection() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    let bystander = fx.client(&token).await;
    let mut sub = bystander
        .subscribe_to_iot_core(ggipc::model::SubscribeToIoTCoreRequest::new(
            "ok",
            Qos::AtMostOnce,
        ))
        .await
        .unwrap();
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/vectors/malformed.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for v in vectors["vectors"].as_array().unwrap() {
        let hex = v["hex"].as_str().unwrap();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let mut r = Raw::handshake(&fx.path(), &token).await;
        r.send_bytes(&bytes).await;
        assert!(
            r.recv().await.is_none(),
            "{} must close the connection",
            v["id"]
        );
    }
    // Half a frame then silence: the connection stays open (not an error), others unaffected.
    let mut half = Raw::handshake(&fx.path(), &token).await;
    half.send_bytes(&[0, 0, 0, 100, 0, 0]).await;
    still_serving(&fx, &token).await;
    assert!(matches!(
        sub.next().await,
        Some(ggipc::SubscriptionEvent::Message(_))
    ));
    assert!(fx.server.stats().protocol_errors >= 11);
}

#[tokio::test]
async fn oversized_message_is_refused() {
    let fx = Fixture::start_with(|c| c.max_message_size = 4096).await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut r = Raw::handshake(&fx.path(), &token).await;
    let body = format!(
        r#"{{"topicName":"t","qos":"0","payload":"{}"}}"#,
        "A".repeat(8000)
    );
    let f = Frame {
        operation: Some(ByteStr::from_static(PUB)),
        ..Frame::json(MessageType::ApplicationMessage, 0, 1, PUB_REQ, body.into())
    };
    r.send(&f).await;
    assert!(r.recv().await.is_none());
    still_serving(&fx, &token).await;
}

#[tokio::test]
async fn ping_is_answered_and_client_terminate_is_silent() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut r = Raw::handshake(&fx.path(), &token).await;
    let ping = Frame {
        other_headers: vec![Header::new("x-ping", HeaderValue::String("1".into()))],
        payload: Bytes::from_static(b"ping!"),
        ..Frame::bare(MessageType::Ping, 0, 0)
    };
    r.send(&ping).await;
    let pong = r.recv().await.unwrap();
    assert_eq!(pong, rpc::ping_response(&ping));
    r.send(&Raw::activation(
        SUB,
        SUB_REQ,
        1,
        r#"{"topicName": "keep/+", "qos": "0"}"#,
    ))
    .await;
    let resp = r.recv().await.unwrap();
    assert_eq!(
        (resp.flags, resp.service_model_type.as_deref()),
        (0, Some("aws.greengrass#SubscribeToIoTCoreResponse"))
    );
    fx.broker
        .inject(ggipc::model::MqttMessage::new("keep/y", "hello 0"));
    let ev = r.recv().await.unwrap();
    assert_eq!(
        std::str::from_utf8(&ev.payload).unwrap(),
        r#"{"message":{"topicName":"keep/y","payload":"aGVsbG8gMA==","retain":false,"payloadFormat":"0"}}"#
    );
    r.send(&Frame::bare(
        MessageType::ApplicationMessage,
        flags::TERMINATE_STREAM,
        1,
    ))
    .await;
    eventually("unsubscribed", || fx.broker.subscriptions().is_empty()).await;
    r.send(&ping).await;
    assert_eq!(
        r.recv().await.unwrap().message_type,
        MessageType::PingResponse
    );
}

#[tokio::test]
async fn too_many_streams_get_a_service_error() {
    let fx = Fixture::start_with(|c| c.max_streams_per_connection = 2).await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut r = Raw::handshake(&fx.path(), &token).await;
    for sid in 1..=3 {
        r.send(&Raw::activation(
            SUB,
            SUB_REQ,
            sid,
            r#"{"topicName":"a","qos":"0"}"#,
        ))
        .await;
    }
    let mut errs = 0;
    for _ in 0..3 {
        let f = r.recv().await.unwrap();
        if f.message_type == MessageType::ApplicationError {
            errs += 1;
            assert!(std::str::from_utf8(&f.payload)
                .unwrap()
                .contains("Too many open streams"));
        }
    }
    assert_eq!(errs, 1);
}

#[tokio::test]
async fn connection_limit_and_socket_file_handling() {
    let fx = Fixture::start_with(|c| c.max_connections = 1).await;
    let token = fx.component("c", &["*"], &["*"]);
    let mode = std::fs::metadata(fx.path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let _first = Raw::handshake(&fx.path(), &token).await;
    let mut second = Raw::connect(&fx.path()).await;
    second.send(&rpc::connect_frame(&token)).await;
    assert!(second.recv().await.is_none());
    assert_eq!(fx.server.stats().connections_refused, 1);
    // A second server on the same live socket is refused.
    let other = ggipc::server::Server::new(Fixture::config(&fx.dir), fx.broker.clone());
    let e = other.bind().err().unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
    // A stale socket file is replaced; a regular file is not touched.
    let stale = fx.dir.path().join("stale.socket");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let s = ggipc::server::Server::new(ggipc::server::ServerConfig::new(&stale), fx.broker.clone());
    let h = s.spawn().unwrap();
    h.shutdown().await.unwrap();
    assert!(!stale.exists(), "socket removed on shutdown");
    let file = fx.dir.path().join("file");
    std::fs::write(&file, "keep").unwrap();
    let s = ggipc::server::Server::new(ggipc::server::ServerConfig::new(&file), fx.broker.clone());
    assert!(s.bind().is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
}

#[tokio::test]
async fn a_reader_that_stops_reading_does_not_stall_others() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    // A raw subscriber that never reads its socket.
    let mut stalled = Raw::handshake(&fx.path(), &token).await;
    stalled
        .send(&Raw::activation(
            SUB,
            SUB_REQ,
            1,
            r#"{"topicName":"flood","qos":"0"}"#,
        ))
        .await;
    eventually("stalled subscriber registered", || {
        fx.broker.subscriptions().len() == 1
    })
    .await;
    let c = fx.client(&token).await;
    let mut sub = c
        .subscribe_to_iot_core(ggipc::model::SubscribeToIoTCoreRequest::new(
            "flood",
            Qos::AtMostOnce,
        ))
        .await
        .unwrap();
    let payload = vec![b'x'; 64 * 1024];
    for _ in 0..200 {
        c.publish_to_iot_core(PublishToIoTCoreRequest::new(
            "flood",
            Qos::AtMostOnce,
            payload.clone(),
        ))
        .await
        .unwrap();
        // The live subscriber keeps receiving.
        assert!(matches!(
            sub.next().await,
            Some(ggipc::SubscriptionEvent::Message(_))
        ));
    }
    assert!(
        fx.server.stats().events_dropped > 0,
        "the stalled subscriber's events are dropped and counted"
    );
    drop(stalled);
}

#[tokio::test]
async fn a_subscription_racing_the_end_of_its_connection_is_undone() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    for _ in 0..20 {
        // CONNECT and a subscribe in one write, then EOF: the subscribe completes after the connection ended.
        let mut bytes = bytes::BytesMut::new();
        rpc::connect_frame(&token)
            .encode(1 << 20, &mut bytes)
            .unwrap();
        Raw::activation(SUB, SUB_REQ, 1, r#"{"topicName":"race","qos":"0"}"#)
            .encode(1 << 20, &mut bytes)
            .unwrap();
        let mut r = Raw::connect(&fx.path()).await;
        r.send_bytes(&bytes).await;
        tokio::io::AsyncWriteExt::shutdown(&mut r.stream)
            .await
            .unwrap();
        drop(r);
    }
    eventually("every connection closed and no subscription left", || {
        fx.server.stats().connections_active == 0 && fx.broker.subscriptions().is_empty()
    })
    .await;
}

/// Requests that arrive in one burst, more than the server reads at once and more than a task's cooperative
/// budget, reach the broker in arrival order and are all answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_publishes_reaches_the_broker_in_arrival_order() {
    use base64::Engine;
    const N: i32 = 600;
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    let mut r = Raw::handshake(&fx.path(), &token).await;
    let mut burst = bytes::BytesMut::new();
    for sid in 1..=N {
        let payload = base64::engine::general_purpose::STANDARD.encode(sid.to_string());
        let body = format!(r#"{{"topicName":"burst","qos":"1","payload":"{payload}"}}"#);
        let frame = Frame {
            operation: Some(ByteStr::from_static(PUB)),
            ..Frame::json(
                MessageType::ApplicationMessage,
                0,
                sid,
                PUB_REQ,
                Bytes::from(body),
            )
        };
        frame
            .encode(ggipc::codec::DEFAULT_MAX_MESSAGE_SIZE, &mut burst)
            .unwrap();
    }
    r.send_bytes(&burst).await;
    for _ in 0..N {
        let answer = r.recv().await.unwrap();
        assert_eq!(
            answer.service_model_type.as_deref(),
            Some("aws.greengrass#PublishToIoTCoreResponse")
        );
    }
    let order: Vec<i32> = fx
        .broker
        .recorded()
        .iter()
        .map(|p| {
            std::str::from_utf8(p.message.payload_bytes())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    let expected: Vec<i32> = (1..=N).collect();
    assert_eq!(order, expected, "the broker saw the publishes out of order");
}
