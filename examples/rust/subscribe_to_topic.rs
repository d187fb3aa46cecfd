//! Example component: subscribes to local messages from other components (SubscribeToTopic) and prints each
//! one, bytes or JSON, until it is stopped.
//!
//! `subscribe_to_topic [TOPIC]` (default `test/topic`). The recipe
//! `examples/recipes/com.example.LocalSubscriberRust.yaml` runs it.
#![allow(clippy::unwrap_used)] // an example fails loudly on the first unexpected error

use std::process::ExitCode;

use ggipc::model::{MessageContext, SubscribeToTopicRequest};
use ggipc::{Client, SubscriptionEvent};

fn topic_of(context: Option<MessageContext>) -> String {
    context.and_then(|c| c.topic).unwrap_or_default()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let topic = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "test/topic".into());

    let client = match Client::connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Failed to connect to the Greengrass nucleus: {e}");
            return ExitCode::FAILURE;
        }
    };
    let request = SubscribeToTopicRequest {
        topic: Some(topic.clone()),
        receive_mode: None,
    };
    let mut subscription = match client.subscribe_to_topic(request).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("Error subscribing to topic {topic}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Successfully subscribed to topic: {topic}");

    while let Some(event) = subscription.next().await {
        match event {
            SubscriptionEvent::Message(m) => {
                if let Some(binary) = m.binary_message {
                    let text =
                        String::from_utf8_lossy(binary.message.as_deref().unwrap_or_default());
                    println!(
                        "Received new message on topic {}: {text}",
                        topic_of(binary.context)
                    );
                } else if let Some(json) = m.json_message {
                    let value = json.message.unwrap_or_default();
                    let text = value
                        .get("message")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    println!(
                        "Received new JSON message on topic {}: message={text}",
                        topic_of(json.context)
                    );
                }
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
