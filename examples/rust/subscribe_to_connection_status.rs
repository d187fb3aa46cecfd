//! Example component: follows the nucleus' connection to AWS IoT Core
//! (SubscribeToIoTCoreConnectionStatus): prints the current status, then each change, until it is stopped.
//!
//! The recipe `examples/recipes/com.example.ConnectionStatusRust.yaml` runs it.
#![allow(clippy::unwrap_used)] // an example fails loudly on the first unexpected error

use std::process::ExitCode;

use ggipc::model::{ConnectionStatus, SubscribeToIoTCoreConnectionStatusRequest};
use ggipc::{Client, SubscriptionEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let client = match Client::connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Failed to connect to the Greengrass nucleus: {e}");
            return ExitCode::FAILURE;
        }
    };
    let request = SubscribeToIoTCoreConnectionStatusRequest {};
    let mut subscription = match client
        .subscribe_to_iot_core_connection_status(request)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error subscribing to the IoT Core connection status: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Successfully subscribed to the IoT Core connection status");

    while let Some(event) = subscription.next().await {
        match event {
            SubscriptionEvent::Message(m) => {
                let status = m.connection_status_event.and_then(|e| e.status);
                let text = match status {
                    Some(ConnectionStatus::Connected) => "CONNECTED",
                    Some(ConnectionStatus::Disconnected) => "DISCONNECTED",
                    _ => "unknown",
                };
                println!("IoT Core connection status: {text}");
            }
            SubscriptionEvent::Closed(reason) => {
                eprintln!("Subscription closed: {reason:?}");
                return ExitCode::FAILURE;
            }
            other => eprintln!("Subscription event: {other:?}"),
        }
    }
    ExitCode::SUCCESS
}
