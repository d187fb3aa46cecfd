//! A connection whose peer goes away while a subscription is open (the first input the server RPC fuzz
//! target crashed on, `tests/fuzz/regressions/server_rpc/crash-5a79…`: CONNECT, SubscribeToIoTCore, then
//! the client shuts down its side): the server must close the connection and remove the broker
//! subscription.

use ggipc::server::{AccessControl, MemoryBroker, Server, ServerConfig};
use ggipc_reliability::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn scenario(half_close: bool) -> (bool, usize, u64) {
    scenario_with(half_close, false).await
}

/// `pipelined`: CONNECT and the subscribe activation in one write, before the CONNECT_ACK is read.
async fn scenario_with(half_close: bool, pipelined: bool) -> (bool, usize, u64) {
    let dir = TempDir::new("eof");
    let broker = Arc::new(MemoryBroker::new());
    let server = Server::new(
        ServerConfig::new(dir.path().join("ipc.socket")),
        broker.clone(),
    );
    server.components().register_with_token(
        "com.eof.A",
        AccessControl::allow_all_mqtt(),
        "TESTTOKEN123".into(),
    );
    let h = server.spawn().unwrap();
    let mut s = if pipelined {
        let mut s = tokio::net::UnixStream::connect(h.socket_path())
            .await
            .unwrap();
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fuzz/regressions/server_rpc/crash-5a7915719926f548c9fc05b693480baf7582ef46"
        ))
        .unwrap();
        let bytes = &bytes[1..];
        s.write_all(bytes).await.unwrap();
        s
    } else {
        let (mut s, ok) = raw::handshake(h.socket_path(), "TESTTOKEN123").await;
        assert!(ok);
        s.write_all(&raw::encode(&raw::subscribe(1, "keep/+")))
            .await
            .unwrap();
        s
    };
    if !pipelined {
        let b2 = broker.clone();
        wait_until("the broker subscription", Duration::from_secs(5), || {
            !b2.subscriptions().is_empty()
        })
        .await;
    }
    let mut closed_by_server = true;
    if half_close {
        s.shutdown().await.unwrap();
        let mut buf = [0u8; 4096];
        closed_by_server = tokio::time::timeout(Duration::from_secs(5), async {
            while !matches!(s.read(&mut buf).await, Ok(0) | Err(_)) {}
        })
        .await
        .is_ok();
    }
    drop(s);
    // Whatever the server did, the peer is gone now: everything must be released.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline
        && (!broker.subscriptions().is_empty() || server.stats().connections_active != 0)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let left = (
        closed_by_server,
        broker.subscriptions().len(),
        server.stats().connections_active,
    );
    h.shutdown().await.unwrap();
    left
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_closes_with_a_subscription_open() {
    let (_, subs, conns) = scenario(false).await;
    report(
        "server-eof",
        &format!("full close with a subscription open: {subs} broker subscriptions and {conns} connections left after 5 s"),
    );
    assert_eq!((subs, conns), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_half_closes_with_a_subscription_open() {
    let (closed, subs, conns) = scenario(true).await;
    report(
        "server-eof",
        &format!("half close (shutdown(SHUT_WR)) with a subscription open: server closed its side: {closed}; {subs} broker subscriptions and {conns} connections left 5 s after the full close"),
    );
    assert_eq!((closed, subs, conns), (true, 0, 0), "leaked subscription");
}

/// The same on a single-threaded runtime (as the fuzz target runs the server).
#[tokio::test(flavor = "current_thread")]
async fn peer_half_closes_with_a_subscription_open_current_thread() {
    let (closed, subs, conns) = scenario(true).await;
    assert_eq!((closed, subs, conns), (true, 0, 0), "leaked subscription");
}

/// CONNECT and SubscribeToIoTCore in one write, then at once half close: the fuzz target's crash input. The
/// server reads the activation and the EOF together and ends the connection while the broker subscription
/// is being set up; that subscription must be undone when it completes (it used to leak, with the socket:
/// the subscription's event sink holds the connection's writer).
#[tokio::test(flavor = "current_thread")]
async fn pipelined_connect_and_subscribe_then_half_close() {
    let (closed, subs, conns) = scenario_with(true, true).await;
    report(
        "server-eof",
        &format!("CONNECT + subscribe in one write, then half close: server closed its side: {closed}; {subs} broker subscriptions and {conns} connections left 5 s after the full close"),
    );
    assert_eq!((closed, subs, conns), (true, 0, 0), "leaked subscription");
}
