//! Example component: forwards commands to telemetry. Every local message on `commands/<name>` (PublishToTopic
//! from another component) is published to AWS IoT Core on `telemetry/<name>` with QoS 1 and the same payload
//! (a JSON command as its JSON text). A forward that fails (a topic the policy does not allow, the broker
//! refusing it) is counted and logged; the component keeps forwarding.
//!
//! Runs as a Greengrass component (`cargo run -p ggipc --example forwarder`) and is tested without a device by
//! the tests at the end of this file with `ggipc::testing::TestNucleus`: the happy path, a denied topic, a
//! broker outage and a nucleus restart (`cargo test -p ggipc --example forwarder`).

use std::process::ExitCode;
use std::time::Duration;

use ggipc::model::{
    PublishToIoTCoreRequest, Qos, SubscribeToTopicRequest, SubscriptionResponseMessage,
};
use ggipc::{Client, ReconnectPolicy, SubscriptionEvent};
use tokio::sync::watch;

/// The local topics the component takes commands from.
pub const COMMANDS: &str = "commands/#";

/// What the forwarder has done so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub forwarded: u64,
    /// `<error class>: <message>` of each failed forward.
    pub errors: Vec<String>,
}

impl Tally {
    pub fn handled(&self) -> u64 {
        self.forwarded + self.errors.len() as u64
    }
}

/// The client a component uses: its environment's socket and token, reconnecting after a nucleus restart
/// (its subscriptions are made again on their own).
pub async fn connect() -> ggipc::Result<Client> {
    Client::builder()
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
            ..Default::default()
        })
        .connect()
        .await
}

/// The topic and payload of a command, or `None` for an event without a message.
fn command(event: SubscriptionResponseMessage) -> Option<(String, Vec<u8>)> {
    if let Some(binary) = event.binary_message {
        return Some((binary.context?.topic?, binary.message.unwrap_or_default()));
    }
    let json = event.json_message?;
    let payload = serde_json::to_vec(&json.message.unwrap_or_default()).ok()?;
    Some((json.context?.topic?, payload))
}

/// Forwards commands until the subscription ends, recording each one handled in `tally`.
pub async fn forward(client: Client, tally: watch::Sender<Tally>) -> ggipc::Result<()> {
    let mut commands = client
        .subscribe_to_topic(SubscribeToTopicRequest {
            topic: Some(COMMANDS.into()),
            ..Default::default()
        })
        .await?;
    while let Some(event) = commands.next().await {
        let message = match event {
            SubscriptionEvent::Message(m) => m,
            SubscriptionEvent::Lagged(n) => {
                eprintln!("{n} commands were lost (the forwarder fell behind)");
                continue;
            }
            SubscriptionEvent::Interrupted(e) => {
                eprintln!("commands interrupted ({e}); the client subscribes again");
                continue;
            }
            SubscriptionEvent::Resumed => continue,
            SubscriptionEvent::Error(e) => {
                eprintln!("commands stream error: {e}");
                continue;
            }
            SubscriptionEvent::Closed(None) => break,
            SubscriptionEvent::Closed(Some(e)) => return Err(e),
        };
        let Some((topic, payload)) = command(message) else {
            continue;
        };
        let name = topic.strip_prefix("commands/").unwrap_or(&topic);
        let request =
            PublishToIoTCoreRequest::new(format!("telemetry/{name}"), Qos::AtLeastOnce, payload);
        let result = client.publish_to_iot_core(request).await;
        tally.send_modify(|t| match result {
            Ok(_) => t.forwarded += 1,
            Err(e) => {
                eprintln!("forward of {topic} failed: {e}");
                t.errors
                    .push(format!("{}: {}", e.kind().name(), e.message()));
            }
        });
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let client = match connect().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot connect to the nucleus: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (tally, _) = watch::channel(Tally::default());
    match forward(client, tally).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("the commands subscription failed: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test fails loudly on the first unexpected error
mod tests {
    use super::*;
    use ggipc::server::LocalMessage;
    use ggipc::testing::TestNucleus;

    const COMPONENT: &str = "com.example.Forwarder";
    /// The component's recipe accessControl: local commands in, two telemetry topics out.
    const POLICY: &str = r#"{
        "aws.greengrass.ipc.pubsub": {"com.example.Forwarder:commands": {
            "operations": ["aws.greengrass#SubscribeToTopic"], "resources": ["commands/#"]}},
        "aws.greengrass.ipc.mqttproxy": {"com.example.Forwarder:telemetry": {
            "operations": ["aws.greengrass#PublishToIoTCore"],
            "resources": ["telemetry/temperature", "telemetry/humidity"]}}}"#;
    const T: Duration = Duration::from_secs(10);

    /// A nucleus, and the forwarder running against it on its own runtime as a component would.
    struct Running {
        nucleus: TestNucleus,
        tally: watch::Receiver<Tally>,
        _rt: tokio::runtime::Runtime,
    }

    fn start() -> Running {
        let nucleus = TestNucleus::builder(COMPONENT)
            .policy_json(POLICY)
            .unwrap()
            .start()
            .unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (tx, tally) = watch::channel(Tally::default());
        let (socket, token) = (nucleus.socket_path().to_owned(), nucleus.token());
        rt.spawn(async move {
            // What `connect()` does, with the test nucleus' socket and token instead of the environment's.
            let client = Client::builder()
                .socket_path(socket)
                .auth_token(token)
                .reconnect(ReconnectPolicy {
                    initial_delay: Duration::from_millis(20),
                    max_delay: Duration::from_millis(200),
                    ..Default::default()
                })
                .connect()
                .await
                .unwrap();
            forward(client, tx).await.unwrap();
        });
        nucleus
            .wait_for_local_subscription(Some(COMMANDS), T)
            .unwrap();
        Running {
            nucleus,
            tally,
            _rt: rt,
        }
    }

    impl Running {
        fn command(&self, name: &str, payload: &[u8]) {
            let delivered = self.nucleus.publish_local(
                "com.example.Commander",
                &format!("commands/{name}"),
                LocalMessage::Binary(payload.to_vec()),
            );
            assert_eq!(delivered, 1, "the forwarder is subscribed");
        }

        /// Waits until `n` commands were handled (forwarded or failed) and returns the tally.
        fn handled(&mut self, n: u64) -> Tally {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async {
                let wait = self.tally.wait_for(|t| t.handled() >= n);
                tokio::time::timeout(T, wait)
                    .await
                    .unwrap()
                    .unwrap()
                    .clone()
            })
        }

        fn payload_published_to(&self, topic: &str) -> Vec<u8> {
            let got = self.nucleus.wait_for_publishes(Some(topic), 1, T).unwrap();
            got[0].message.payload_bytes().to_vec()
        }
    }

    #[test]
    fn forwards_a_command_to_telemetry() {
        let mut r = start();
        r.command("temperature", b"21.5");
        assert_eq!(r.payload_published_to("telemetry/temperature"), b"21.5");
        let published = r.nucleus.published();
        assert_eq!(published[0].qos, Qos::AtLeastOnce);
        assert_eq!(&*published[0].component, COMPONENT);
        assert_eq!(
            r.handled(1),
            Tally {
                forwarded: 1,
                errors: vec![]
            }
        );
    }

    #[test]
    fn a_denied_topic_is_reported_and_forwarding_goes_on() {
        let mut r = start();
        r.command("secret", b"x");
        r.command("humidity", b"40");
        assert_eq!(r.payload_published_to("telemetry/humidity"), b"40");
        let tally = r.handled(2);
        assert_eq!(tally.forwarded, 1);
        assert_eq!(tally.errors.len(), 1, "{tally:?}");
        assert!(
            tally.errors[0].starts_with("UnauthorizedError"),
            "{tally:?}"
        );
        assert!(r
            .nucleus
            .published()
            .iter()
            .all(|p| p.message.topic() != "telemetry/secret"));
    }

    #[test]
    fn commands_during_a_broker_outage_are_spooled_and_sent_after_it() {
        let mut r = start();
        r.nucleus.set_connected(false);
        r.command("temperature", b"during");
        // Accepted into the spool (the forward succeeded), not yet at IoT Core.
        assert_eq!(
            r.handled(1),
            Tally {
                forwarded: 1,
                errors: vec![]
            }
        );
        let spooled: Vec<Vec<u8>> = r
            .nucleus
            .spooled()
            .iter()
            .map(|p| p.message.payload_bytes().to_vec())
            .collect();
        assert_eq!(spooled, vec![b"during".to_vec()]);
        let early = r
            .nucleus
            .wait_for_publishes(Some("telemetry/temperature"), 1, Duration::from_millis(200))
            .unwrap_err();
        assert!(early.message().contains("spooled"), "{early}");
        r.nucleus.set_connected(true);
        assert_eq!(r.payload_published_to("telemetry/temperature"), b"during");
    }

    #[test]
    fn forwarding_resumes_after_a_nucleus_restart() {
        let mut r = start();
        r.nucleus.restart().unwrap();
        // The client reconnects and subscribes again by itself.
        r.nucleus
            .wait_for_local_subscription(Some(COMMANDS), T)
            .unwrap();
        r.command("temperature", b"after");
        assert_eq!(r.payload_published_to("telemetry/temperature"), b"after");
        assert_eq!(
            r.handled(1),
            Tally {
                forwarded: 1,
                errors: vec![]
            }
        );
    }
}
