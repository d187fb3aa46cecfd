//! The client against a scripted fake server: what it sends, and the tolerances of docs/PROTOCOL.md §7.2.6.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use bytes::{Bytes, BytesMut};
use common::*;
use ggipc::codec::{self, ByteStr, Header, HeaderValue, Limits};
use ggipc::model::*;
use ggipc::rpc::{flags, Frame, MessageType};
use ggipc::{Client, ErrorKind, LifecycleEvent, SubscriptionEvent};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

struct Fake {
    s: UnixStream,
    buf: BytesMut,
}

impl Fake {
    async fn recv(&mut self) -> Option<Frame> {
        loop {
            if let Some(m) = codec::decode(&mut self.buf, &Limits::default()).unwrap() {
                return Some(Frame::from_message(m).unwrap());
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(Duration::from_secs(5), self.s.read(&mut chunk))
                .await
                .expect("client silent")
            {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
    async fn send(&mut self, f: &Frame) {
        let mut b = BytesMut::new();
        f.encode(1 << 24, &mut b).unwrap();
        self.s.write_all(&b).await.unwrap();
    }
}

/// Starts a fake server; the returned future yields it after the handshake (ack gets `ack_headers`).
async fn fake(
    ack_headers: Vec<Header>,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    tokio::task::JoinHandle<Fake>,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.socket");
    let l = UnixListener::bind(&path).unwrap();
    let task = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let mut f = Fake {
            s,
            buf: BytesMut::new(),
        };
        let connect = f.recv().await.unwrap();
        assert_eq!(connect.message_type, MessageType::Connect);
        assert_eq!(
            connect.header(":version").and_then(|v| v.as_str()),
            Some("0.1.0")
        );
        assert_eq!(&connect.payload[..], br#"{"authToken":"TOKEN"}"#);
        let mut ack = Frame::bare(MessageType::ConnectAck, flags::CONNECTION_ACCEPTED, 0);
        ack.other_headers = ack_headers;
        f.send(&ack).await;
        f
    });
    (dir, path, task)
}

async fn client(path: &std::path::Path) -> Client {
    Client::builder()
        .socket_path(path)
        .auth_token("TOKEN")
        .operation_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap()
}

fn json(t: MessageType, fl: i32, sid: i32, shape: &'static str, body: &str) -> Frame {
    Frame::json(t, fl, sid, shape, Bytes::copy_from_slice(body.as_bytes()))
}

#[tokio::test]
async fn activations_have_the_official_shape_and_ids_in_order() {
    let (_d, path, task) = fake(vec![Header::new("svcuid", HeaderValue::String("X".into()))]).await;
    let c = client(&path).await;
    let mut f = task.await.unwrap();
    let calls: Vec<_> = (0..3)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.publish_to_iot_core(PublishToIoTCoreRequest::new(
                    "test/topic",
                    Qos::AtLeastOnce,
                    format!("{i}"),
                ))
                .await
            })
        })
        .collect();
    for expected in 1..=3 {
        let a = f.recv().await.unwrap();
        assert_eq!(a.stream_id, expected);
        assert_eq!(
            (a.message_type, a.flags),
            (MessageType::ApplicationMessage, 0)
        );
        assert_eq!(
            a.operation.as_deref(),
            Some("aws.greengrass#PublishToIoTCore")
        );
        assert_eq!(a.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            a.service_model_type.as_deref(),
            Some("aws.greengrass#PublishToIoTCoreRequest")
        );
        let body: serde_json::Value = serde_json::from_slice(&a.payload).unwrap();
        assert_eq!(body["topicName"], "test/topic");
        assert_eq!(body["qos"], "1");
        // nucleus-lite answers without TERMINATE_STREAM; both must work.
        let fl = if expected == 2 {
            0
        } else {
            flags::TERMINATE_STREAM
        };
        f.send(&json(
            MessageType::ApplicationMessage,
            fl,
            expected,
            "aws.greengrass#PublishToIoTCoreResponse",
            "{}",
        ))
        .await;
    }
    for c in calls {
        c.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn errors_events_pings_and_terminates_from_the_server() {
    let (_d, path, task) = fake(vec![]).await;
    let c = client(&path).await;
    let mut life = c.lifecycle();
    let mut f = task.await.unwrap();

    // Modeled error with only _message/_errorCode (nucleus-lite).
    let c1 = c.clone();
    let p = tokio::spawn(async move {
        c1.publish_to_iot_core(PublishToIoTCoreRequest::new("t", Qos::AtMostOnce, ""))
            .await
    });
    let a = f.recv().await.unwrap();
    f.send(&json(
        MessageType::ApplicationError,
        2,
        a.stream_id,
        "aws.greengrass#UnauthorizedError",
        r#"{"_message":"IPC Operation not authorized.","_errorCode":"UnauthorizedError"}"#,
    ))
    .await;
    let e = p.await.unwrap().unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (
            ErrorKind::UnauthorizedError,
            "IPC Operation not authorized."
        )
    );

    // Unmodeled text/plain failure (vector G16).
    let c1 = c.clone();
    let p = tokio::spawn(async move {
        c1.publish_to_iot_core(PublishToIoTCoreRequest::new("t", Qos::AtMostOnce, ""))
            .await
    });
    let a = f.recv().await.unwrap();
    let g16 = Frame {
        content_type: Some(ByteStr::from_static("text/plain")),
        payload: Bytes::from_static(b"InternalServerError"),
        ..Frame::bare(MessageType::ApplicationError, 2, a.stream_id)
    };
    f.send(&g16).await;
    let e = p.await.unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unmapped);
    assert!(e.message().contains("InternalServerError"), "{e}");

    // Subscription: response, a Gson-escaped event with unknown members, a stream error, a bare terminate.
    let c1 = c.clone();
    let s = tokio::spawn(async move {
        c1.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("keep/+", Qos::AtMostOnce))
            .await
    });
    let a = f.recv().await.unwrap();
    let sid = a.stream_id;
    f.send(&json(
        MessageType::ApplicationMessage,
        0,
        sid,
        "aws.greengrass#SubscribeToIoTCoreResponse",
        "{}",
    ))
    .await;
    let mut sub = s.await.unwrap().unwrap();
    f.send(&json(MessageType::ApplicationMessage, 0, sid, "aws.greengrass#IoTCoreMessage",
        r#"{"message":{"topicName":"keep/y","payload":"aGk\u003d","retain":false,"new":1},"other":null}"#)).await;
    f.send(&json(
        MessageType::ApplicationError,
        0,
        sid,
        "aws.greengrass#ServiceError",
        r#"{"message":"hiccup"}"#,
    ))
    .await;
    f.send(&Frame::bare(
        MessageType::ApplicationMessage,
        flags::TERMINATE_STREAM,
        sid,
    ))
    .await;
    match sub.next().await {
        Some(SubscriptionEvent::Message(m)) => {
            assert_eq!(m.message.unwrap().payload_bytes(), b"hi")
        }
        other => panic!("{other:?}"),
    }
    match sub.next().await {
        Some(SubscriptionEvent::Error(e)) => {
            assert_eq!((e.kind(), e.message()), (ErrorKind::ServiceError, "hiccup"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sub.next().await, Some(SubscriptionEvent::Closed(None)));
    assert_eq!(sub.next().await, None);
    // Closing after the server closed sends nothing more.
    sub.close();

    // The server pings: the client answers with PING_RESPONSE, echoing non-':' headers (G14 -> G15).
    let ping = Frame {
        other_headers: vec![Header::new("x-ping", HeaderValue::String("1".into()))],
        payload: Bytes::from_static(b"ping!"),
        ..Frame::bare(MessageType::Ping, 0, 0)
    };
    f.send(&ping).await;
    let pong = f.recv().await.unwrap();
    assert_eq!(pong, ggipc::rpc::ping_response(&ping));
    let mut saw_ping = false;
    while let Ok(ev) = tokio::time::timeout(Duration::from_millis(500), life.recv()).await {
        if matches!(ev, Ok(LifecycleEvent::Ping { .. })) {
            saw_ping = true;
            break;
        }
    }
    assert!(saw_ping);

    // A wrong response shape is reported, not accepted.
    let c1 = c.clone();
    let p = tokio::spawn(async move {
        c1.publish_to_iot_core(PublishToIoTCoreRequest::new("t", Qos::AtMostOnce, ""))
            .await
    });
    let a = f.recv().await.unwrap();
    f.send(&json(
        MessageType::ApplicationMessage,
        2,
        a.stream_id,
        "aws.greengrass#SubscribeToIoTCoreResponse",
        "{}",
    ))
    .await;
    assert_eq!(p.await.unwrap().unwrap_err().kind(), ErrorKind::Unmapped);

    // A PROTOCOL_ERROR from the server ends the connection with its message.
    f.send(&ggipc::rpc::connection_error(
        MessageType::ProtocolError,
        ggipc::rpc::errors::STREAM_ID_GAP,
    ))
    .await;
    eventually("disconnected", || !c.is_connected()).await;
    let e = c
        .publish_to_iot_core(PublishToIoTCoreRequest::new("t", Qos::AtMostOnce, ""))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.message().contains("incremented by more than 1"), "{e}");
}

#[tokio::test]
async fn rejected_connect_is_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deny.socket");
    let l = UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        let mut f = Fake {
            s,
            buf: BytesMut::new(),
        };
        f.recv().await.unwrap();
        f.send(&Frame::bare(MessageType::ConnectAck, 0, 0)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
    let e = Client::builder()
        .socket_path(&path)
        .auth_token("TOKEN")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
}

#[tokio::test]
async fn a_lag_count_from_the_server_becomes_a_lagged_event_before_its_message() {
    let (_d, path, task) = fake(vec![]).await;
    let c = client(&path).await;
    let mut f = task.await.unwrap();
    let c1 = c.clone();
    let s = tokio::spawn(async move {
        c1.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("lag", Qos::AtLeastOnce))
            .await
    });
    let a = f.recv().await.unwrap();
    f.send(&json(
        MessageType::ApplicationMessage,
        0,
        a.stream_id,
        "aws.greengrass#SubscribeToIoTCoreResponse",
        "{}",
    ))
    .await;
    let mut sub = s.await.unwrap().unwrap();
    let body = r#"{"message":{"topicName":"lag","payload":"AA=="}}"#;
    let mut ev = json(
        MessageType::ApplicationMessage,
        0,
        a.stream_id,
        "aws.greengrass#IoTCoreMessage",
        body,
    );
    ev.other_headers.push(Header::with_static(
        ggipc::rpc::LAGGED_HEADER,
        HeaderValue::Int64(7),
    ));
    f.send(&ev).await;
    // An event without the header: no lag event.
    ev.other_headers.clear();
    f.send(&ev).await;
    assert_eq!(sub.next().await, Some(SubscriptionEvent::Lagged(7)));
    assert!(matches!(
        sub.next().await,
        Some(SubscriptionEvent::Message(_))
    ));
    assert!(matches!(
        sub.next().await,
        Some(SubscriptionEvent::Message(_))
    ));
}
