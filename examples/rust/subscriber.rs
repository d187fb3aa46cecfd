//! Example component: subscribes to IoT Core messages through Greengrass IPC and prints them.
//!
//! After subscribing it signals "ready" on `--ready` (repeating every 200 ms until the first message arrives, in
//! case the publisher subscribes to the signal later), then prints messages until `--count` have arrived; with
//! `--summary TOPIC` it then tells the publisher how many it got, as a local (component to component) JSON
//! message.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

use std::process::ExitCode;
use std::time::Duration;

use ggipc::model::{
    JsonMessage, PublishMessage, PublishToIoTCoreRequest, PublishToTopicRequest, Qos,
    SubscribeToIoTCoreRequest,
};
use ggipc::{Client, SubscriptionEvent};

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.next()?;
    args.next()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let topic = arg("--topic").unwrap_or_else(|| "demo/+/messages".into());
    let ready = arg("--ready").unwrap_or_else(|| "demo/ready".into());
    let count: u32 = arg("--count").and_then(|c| c.parse().ok()).unwrap_or(10);
    let summary = arg("--summary");

    let client = match Client::connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to the nucleus: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut sub = match client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(&topic, Qos::AtLeastOnce))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("subscribe to {topic} failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("subscribed to {topic}");

    let mut received = 0u32;
    let mut signal = tokio::time::interval(Duration::from_millis(200));
    let deadline = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(deadline);
    while received < count {
        tokio::select! {
            _ = signal.tick(), if received == 0 => {
                let req = PublishToIoTCoreRequest::new(&ready, Qos::AtLeastOnce, b"ready".to_vec());
                if let Err(e) = client.publish_to_iot_core(req).await {
                    eprintln!("ready signal on {ready} failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ev = sub.next() => match ev {
                Some(SubscriptionEvent::Message(m)) => {
                    let m = m.message.unwrap_or_default();
                    received += 1;
                    println!(
                        "received on {}: {}",
                        m.topic_name.unwrap_or_default(),
                        String::from_utf8_lossy(&m.payload.unwrap_or_default())
                    );
                }
                Some(ev) if ev.is_terminal() => {
                    eprintln!("subscription ended: {ev:?}");
                    return ExitCode::FAILURE;
                }
                Some(_) => {}
                None => {
                    eprintln!("subscription ended");
                    return ExitCode::FAILURE;
                }
            },
            _ = &mut deadline => {
                eprintln!("only {received} of {count} messages within 60 s");
                return ExitCode::FAILURE;
            }
        }
    }
    sub.close();
    if let Some(t) = summary {
        let req = PublishToTopicRequest {
            topic: Some(t.clone()),
            publish_message: Some(PublishMessage {
                json_message: Some(JsonMessage {
                    message: Some(serde_json::json!({ "received": received })),
                    context: None,
                }),
                binary_message: None,
            }),
        };
        if let Err(e) = client.publish_to_topic(req).await {
            eprintln!("local publish to {t} failed: {e}");
            return ExitCode::FAILURE;
        }
        println!("sent the local summary on {t}");
    }
    client.close().await;
    println!("subscriber done: {received} messages received");
    ExitCode::SUCCESS
}
