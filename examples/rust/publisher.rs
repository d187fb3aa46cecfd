//! Example component: publishes numbered messages to IoT Core through Greengrass IPC.
//!
//! Waits for the subscriber's "ready" signal (so no message is published before anyone listens), publishes
//! `--count` messages at QoS 1, then tries `--denied-topic`, which its recipe's policy does not allow, and shows
//! the nucleus' answer. With `--summary TOPIC` it also waits for the subscriber's local message (local pub/sub
//! between components) saying how many messages it received. Identity and socket come from the environment the
//! nucleus gives components.
//!
//! Run it with `ggipc run examples/recipes/com.example.IoTCorePublisherRust.yaml …` (see scripts/demo.sh).
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

use std::process::ExitCode;
use std::time::Duration;

use ggipc::model::{
    PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest, SubscribeToTopicRequest,
};
use ggipc::{Client, ErrorKind, SubscriptionEvent};

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let topic = arg("--topic").unwrap_or_else(|| "demo/messages".into());
    let ready = arg("--ready").unwrap_or_else(|| "demo/ready".into());
    let count: u32 = arg("--count").and_then(|c| c.parse().ok()).unwrap_or(10);
    let denied = arg("--denied-topic");
    let summary = arg("--summary");

    let client = match Client::connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to the nucleus: {e}");
            return ExitCode::FAILURE;
        }
    };

    // 1. Wait until the subscriber says it is subscribed.
    let mut ready_sub = match client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(&ready, Qos::AtLeastOnce))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("subscribe to {ready} failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("waiting for the subscriber on {ready}");
    match tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match ready_sub.next().await {
                Some(SubscriptionEvent::Message(_)) => return true,
                Some(ev) if ev.is_terminal() => return false,
                Some(_) => {}
                None => return false,
            }
        }
    })
    .await
    {
        Ok(true) => {}
        _ => {
            eprintln!("the subscriber never became ready");
            return ExitCode::FAILURE;
        }
    }
    ready_sub.close();

    // The subscriber's summary arrives as a local message once it has everything: subscribe before publishing.
    let mut summary_sub = match &summary {
        None => None,
        Some(t) => {
            let req = SubscribeToTopicRequest {
                topic: Some(t.clone()),
                receive_mode: None,
            };
            match client.subscribe_to_topic(req).await {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("local subscribe to {t} failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    };

    // 2. Publish the messages.
    for i in 1..=count {
        let payload = format!("Hello from the publisher, message {i} of {count}");
        let req = PublishToIoTCoreRequest::new(&topic, Qos::AtLeastOnce, payload.into_bytes());
        if let Err(e) = client.publish_to_iot_core(req).await {
            eprintln!("publish {i} to {topic} failed: {e}");
            return ExitCode::FAILURE;
        }
        println!("published message {i} to {topic}");
    }

    // 3. A topic the policy does not allow: the nucleus answers UnauthorizedError.
    if let Some(denied) = denied {
        let req =
            PublishToIoTCoreRequest::new(&denied, Qos::AtLeastOnce, b"should not pass".to_vec());
        match client.publish_to_iot_core(req).await {
            Ok(_) => {
                eprintln!("publish to {denied} was accepted, but the policy should deny it");
                return ExitCode::FAILURE;
            }
            Err(e) if e.kind() == ErrorKind::UnauthorizedError => {
                println!(
                    "publish to {denied} denied as expected: {:?}: {}",
                    e.kind(),
                    e.message()
                );
            }
            Err(e) => {
                eprintln!("publish to {denied} failed unexpectedly: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(sub) = summary_sub.as_mut() {
        match tokio::time::timeout(Duration::from_secs(60), sub.next()).await {
            Ok(Some(SubscriptionEvent::Message(m))) => {
                let text = m
                    .json_message
                    .and_then(|j| j.message)
                    .map(|v| v.to_string())
                    .unwrap_or_default();
                println!("local message from the subscriber: {text}");
            }
            other => {
                eprintln!("no local summary from the subscriber: {other:?}");
                return ExitCode::FAILURE;
            }
        }
    }
    client.close().await;
    println!("publisher done: {count} messages published");
    ExitCode::SUCCESS
}
