//! A server connection costs one file descriptor (its reader and writer share the socket). Alone in its
//! test binary, so no other test opens descriptors meanwhile.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

mod common;

use common::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test]
async fn one_descriptor_per_connection_on_each_side() {
    let fx = Fixture::start().await;
    let token = fx.component("c", &["*"], &["*"]);
    // Warm up: the first connection may open runtime descriptors.
    drop(Raw::handshake(&fx.path(), &token).await);
    eventually("warm-up connection closed", || {
        fx.server.stats().connections_active == 0
    })
    .await;
    let before = open_fds();
    let mut conns = Vec::new();
    for _ in 0..20 {
        conns.push(Raw::handshake(&fx.path(), &token).await);
    }
    assert_eq!(fx.server.stats().connections_active, 20);
    // 20 client sockets (the raw peers) + 20 server sockets.
    assert_eq!(open_fds() - before, 40);
    drop(conns);
    eventually("connections closed", || {
        fx.server.stats().connections_active == 0
    })
    .await;
    eventually("descriptors released", || open_fds() == before).await;
}
