//! Example component: publishes a local message to other components (PublishToTopic), once as bytes and
//! once as JSON, then exits.
//!
//! `publish_to_topic [TOPIC] [MESSAGE]` (default `test/topic`, "Hello, World!"). The recipe
//! `examples/recipes/com.example.LocalPublisherRust.yaml` runs it; `examples/run-local-pubsub.sh` runs it
//! beside the subscribers of the other languages.
#![allow(clippy::unwrap_used)] // an example fails loudly on the first unexpected error

use std::process::ExitCode;

use ggipc::model::{BinaryMessage, JsonMessage, PublishMessage, PublishToTopicRequest};
use ggipc::Client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "test/topic".into());
    let message = args.next().unwrap_or_else(|| "Hello, World!".into());

    let client = match Client::connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Failed to connect to the Greengrass nucleus: {e}");
            return ExitCode::FAILURE;
        }
    };

    let binary = PublishMessage {
        binary_message: Some(BinaryMessage {
            message: Some(message.clone().into_bytes()),
            context: None,
        }),
        json_message: None,
    };
    let json = PublishMessage {
        json_message: Some(JsonMessage {
            message: Some(serde_json::json!({ "message": message })),
            context: None,
        }),
        binary_message: None,
    };
    for (kind, publish_message) in [("binary", binary), ("JSON", json)] {
        let request = PublishToTopicRequest {
            topic: Some(topic.clone()),
            publish_message: Some(publish_message),
        };
        match client.publish_to_topic(request).await {
            Ok(_) => println!("Published {kind} message to topic {topic}: {message}"),
            Err(e) => {
                eprintln!("Error publishing to topic {topic}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
