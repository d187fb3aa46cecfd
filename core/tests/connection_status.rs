//! SubscribeToIoTCoreConnectionStatus: the current status first, then each change of the broker's connection.
#![allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error

mod common;

use common::Fixture;
use ggipc::model::*;
use ggipc::server::AccessControl;
use ggipc::{ErrorKind, SubscriptionEvent};
use std::time::Duration;

async fn next_status(
    sub: &mut ggipc::Subscription<IoTCoreConnectionStatusEvent>,
) -> ConnectionStatus {
    match tokio::time::timeout(Duration::from_secs(5), sub.next()).await {
        Ok(Some(SubscriptionEvent::Message(e))) => {
            e.connection_status_event.unwrap().status.unwrap()
        }
        other => panic!("expected a status event, got {other:?}"),
    }
}

#[tokio::test]
async fn the_current_status_first_then_each_change() {
    let fx = Fixture::start().await;
    let c = fx
        .client(&fx.component(
            "c",
            &["aws.greengrass#SubscribeToIoTCoreConnectionStatus"],
            &["*"],
        ))
        .await;
    let mut sub = c
        .subscribe_to_iot_core_connection_status(Default::default())
        .await
        .unwrap();
    assert_eq!(next_status(&mut sub).await, ConnectionStatus::Connected);
    fx.broker.set_connected(false);
    assert_eq!(next_status(&mut sub).await, ConnectionStatus::Disconnected);
    fx.broker.set_connected(false); // not a change: no event
    fx.broker.set_connected(true);
    assert_eq!(next_status(&mut sub).await, ConnectionStatus::Connected);
    // A subscriber that arrives while disconnected hears that first.
    fx.broker.set_connected(false);
    assert_eq!(next_status(&mut sub).await, ConnectionStatus::Disconnected);
    let mut late = c
        .subscribe_to_iot_core_connection_status(Default::default())
        .await
        .unwrap();
    assert_eq!(next_status(&mut late).await, ConnectionStatus::Disconnected);
    // Closing one stream leaves the other.
    late.close();
    fx.broker.set_connected(true);
    assert_eq!(next_status(&mut sub).await, ConnectionStatus::Connected);
}

#[tokio::test]
async fn authorization_needs_a_policy_granting_the_operation() {
    let fx = Fixture::start().await;
    // Policies for the other MQTT operations only.
    let c = fx
        .client(&fx.component("c", &[common::PUB, common::SUB], &["*"]))
        .await;
    let e = c
        .subscribe_to_iot_core_connection_status(Default::default())
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::UnauthorizedError, "Not Authorized")
    );
    // A pub/sub-only component is not granted it (another service); `*` operations are.
    let ac = AccessControl::from_rules(&[("aws.greengrass.ipc.pubsub", &["*"], &["*"])]).unwrap();
    let other = fx
        .client(&fx.server.components().register("local", ac))
        .await;
    assert_eq!(
        other
            .subscribe_to_iot_core_connection_status(Default::default())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::UnauthorizedError
    );
    let all = fx.client(&fx.component("all", &["*"], &["*"])).await;
    let mut sub = all
        .subscribe_to_iot_core_connection_status(Default::default())
        .await
        .unwrap();
    assert_eq!(next_status(&mut sub).await, ConnectionStatus::Connected);
}
