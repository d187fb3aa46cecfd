//! Test fixtures: a server on a temporary socket with an in-memory broker, and a raw protocol peer.
#![allow(dead_code)]

use bytes::{Bytes, BytesMut};
use ggipc::codec::{self, Limits};
use ggipc::rpc::{self, Frame, MessageType};
use ggipc::server::{AccessControl, MemoryBroker, Server, ServerConfig, ServerHandle};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

pub const PUB: &str = "aws.greengrass#PublishToIoTCore";
pub const SUB: &str = "aws.greengrass#SubscribeToIoTCore";
pub const MQTT: &str = "aws.greengrass.ipc.mqttproxy";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub broker: Arc<MemoryBroker>,
    pub server: Server,
    pub handle: Option<ServerHandle>,
}

impl Fixture {
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("ipc.socket")
    }

    pub fn config(dir: &tempfile::TempDir) -> ServerConfig {
        ServerConfig::new(dir.path().join("ipc.socket"))
    }

    pub async fn start() -> Fixture {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut ServerConfig)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Self::config(&dir);
        f(&mut config);
        let broker = Arc::new(MemoryBroker::new());
        let server = Server::new(config, broker.clone());
        let handle = Some(server.spawn().unwrap());
        Fixture {
            dir,
            broker,
            server,
            handle,
        }
    }

    /// Registers a component allowed `ops` on `resources`; returns its token.
    pub fn component(&self, name: &str, ops: &[&str], resources: &[&str]) -> String {
        let ac = AccessControl::from_rules(&[(MQTT, ops, resources)]).unwrap();
        self.server.components().register(name, ac)
    }

    pub async fn client(&self, token: &str) -> ggipc::Client {
        ggipc::Client::builder()
            .socket_path(self.path())
            .auth_token(token)
            .connect()
            .await
            .unwrap()
    }

    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().await.unwrap();
        }
    }
}

/// A raw event-stream peer for protocol tests.
pub struct Raw {
    pub stream: UnixStream,
    buf: BytesMut,
}

impl Raw {
    pub async fn connect(path: &std::path::Path) -> Raw {
        Raw {
            stream: UnixStream::connect(path).await.unwrap(),
            buf: BytesMut::new(),
        }
    }

    pub async fn send(&mut self, frame: &Frame) {
        let mut b = BytesMut::new();
        frame
            .encode(codec::DEFAULT_MAX_MESSAGE_SIZE, &mut b)
            .unwrap();
        self.stream.write_all(&b).await.unwrap();
    }

    pub async fn send_bytes(&mut self, b: &[u8]) {
        self.stream.write_all(b).await.unwrap();
    }

    /// Next frame, or None on EOF. Panics after 5 s.
    pub async fn recv(&mut self) -> Option<Frame> {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(m) = codec::decode(&mut self.buf, &Limits::default()).unwrap() {
                    return Some(Frame::from_message(m).unwrap());
                }
                let mut chunk = [0u8; 4096];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .expect("no frame within 5 s")
    }

    pub async fn handshake(path: &std::path::Path, token: &str) -> Raw {
        let mut r = Raw::connect(path).await;
        r.send(&rpc::connect_frame(token)).await;
        let ack = r.recv().await.unwrap();
        assert_eq!(ack.message_type, MessageType::ConnectAck);
        assert_eq!(ack.flags, 1);
        r
    }

    pub fn activation(op: &'static str, request: &'static str, sid: i32, body: &str) -> Frame {
        Frame {
            operation: Some(ggipc::codec::ByteStr::from_static(op)),
            ..Frame::json(
                MessageType::ApplicationMessage,
                0,
                sid,
                request,
                Bytes::copy_from_slice(body.as_bytes()),
            )
        }
    }
}

/// Polls `cond` every 5 ms until it holds or 5 s pass.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
