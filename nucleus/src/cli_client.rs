//! `ggipc pub`, `ggipc sub` (IPC clients taking their identity from the environment, like a component: to and
//! from AWS IoT Core, or `--local` between components; `ggipc sub --status` follows the IoT Core connection)
//! and `ggipc bench`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use ggipc::model::{
    BinaryMessage, IoTCoreConnectionStatusEvent, IoTCoreMessage, JsonMessage, PayloadFormat,
    PublishMessage, PublishToIoTCoreRequest, PublishToTopicRequest, Qos, ReceiveMode,
    SubscribeToIoTCoreRequest, SubscribeToTopicRequest, SubscriptionResponseMessage, UserProperty,
};
use ggipc::{Client, SubscriptionEvent};

/// Where to connect and as whom (defaults: the component environment variables).
#[derive(Args, Debug, Clone)]
pub struct Identity {
    /// IPC socket (default: $AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT).
    #[arg(long, env = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT")]
    pub socket: PathBuf,
    /// Auth token (default: $SVCUID).
    #[arg(long, env = "SVCUID", hide_env_values = true)]
    pub svcuid: String,
    /// Per-operation timeout in seconds.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub timeout: f64,
}

impl Identity {
    async fn connect(&self) -> Result<Client, String> {
        let timeout = ggipc::options::duration_from_secs(self.timeout, "--timeout")
            .map_err(|e| e.message().to_string())?;
        Client::builder()
            .socket_path(&self.socket)
            .auth_token(self.svcuid.clone())
            .operation_timeout(timeout)
            .connect()
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.socket.display()))
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Bytes,
    Utf8,
}

#[derive(Args, Debug)]
pub struct PubArgs {
    #[command(flatten)]
    pub id: Identity,
    /// Topic.
    #[arg(short = 't', long)]
    pub topic: String,
    /// QoS 0 or 1.
    #[arg(short = 'q', long, default_value = "1", value_parser = ["0", "1"])]
    pub qos: String,
    /// Message payload.
    #[arg(short = 'm', long, conflicts_with_all = ["file", "stdin"])]
    pub message: Option<String>,
    /// Payload from a file.
    #[arg(short = 'f', long, conflicts_with = "stdin")]
    pub file: Option<PathBuf>,
    /// Payload from standard input (whole input = one message).
    #[arg(short = 's', long)]
    pub stdin: bool,
    /// Publish this many times (`{n}` in the payload is replaced by the sequence number).
    #[arg(short = 'n', long, default_value_t = 1)]
    pub count: u64,
    #[arg(short = 'r', long)]
    pub retain: bool,
    /// MQTT 5 content type.
    #[arg(long)]
    pub content_type: Option<String>,
    /// MQTT 5 response topic.
    #[arg(long)]
    pub response_topic: Option<String>,
    /// MQTT 5 correlation data (UTF-8 text).
    #[arg(long)]
    pub correlation_data: Option<String>,
    /// MQTT 5 user property KEY=VALUE; repeatable.
    #[arg(short = 'u', long = "user-property", value_name = "KEY=VALUE")]
    pub user_properties: Vec<String>,
    /// MQTT 5 payload format indicator.
    #[arg(long, value_enum)]
    pub payload_format: Option<Format>,
    /// MQTT 5 message expiry interval in seconds.
    #[arg(long)]
    pub expiry: Option<i64>,
    /// Publish a local message to other components (PublishToTopic) instead of to AWS IoT Core; binary
    /// unless `--json`. The MQTT options do not apply.
    #[arg(long)]
    pub local: bool,
    /// With `--local`: the payload is a JSON object, sent as a JSON message.
    #[arg(long, requires = "local")]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SubArgs {
    #[command(flatten)]
    pub id: Identity,
    /// Topic filter.
    #[arg(short = 't', long, required_unless_present = "status")]
    pub topic: Option<String>,
    #[arg(short = 'q', long, default_value = "1", value_parser = ["0", "1"])]
    pub qos: String,
    /// Exit after this many messages.
    #[arg(short = 'C', long)]
    pub count: Option<u64>,
    /// Print the topic before the payload.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Print each message as one JSON object (all MQTT 5 fields, payload as text or base64).
    #[arg(long)]
    pub json: bool,
    /// Exit (status 3) if no message arrives for this many seconds.
    #[arg(short = 'W', long, allow_negative_numbers = true)]
    pub wait: Option<f64>,
    /// Subscribe to local messages from other components (SubscribeToTopic) instead of AWS IoT Core.
    #[arg(long, conflicts_with = "status")]
    pub local: bool,
    /// With `--local`: whether to receive the subscriber's own messages (default: the nucleus' rule).
    #[arg(long, value_enum, requires = "local")]
    pub receive_mode: Option<Mode>,
    /// Follow the nucleus' connection to AWS IoT Core (SubscribeToIoTCoreConnectionStatus): one line per
    /// status, the current one first.
    #[arg(long)]
    pub status: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Mode {
    All,
    Others,
}

/// One received message, ready to print.
struct Line {
    topic: String,
    payload: Vec<u8>,
    /// The `--json` form.
    json: serde_json::Value,
}

fn qos(s: &str) -> Qos {
    if s == "0" {
        Qos::AtMostOnce
    } else {
        Qos::AtLeastOnce
    }
}

pub async fn publish(args: PubArgs) -> Result<ExitCode, String> {
    let payload: Vec<u8> = if let Some(m) = &args.message {
        m.clone().into_bytes()
    } else if let Some(f) = &args.file {
        std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?
    } else if args.stdin {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| format!("stdin: {e}"))?;
        v
    } else {
        return Err("give a payload with -m MESSAGE, -f FILE or -s (stdin)".into());
    };
    let mut user_properties = Vec::new();
    for u in &args.user_properties {
        let (k, v) = u
            .split_once('=')
            .ok_or_else(|| format!("--user-property {u:?}: expected KEY=VALUE"))?;
        user_properties.push(UserProperty {
            key: k.into(),
            value: v.into(),
        });
    }
    let client = args.id.connect().await?;
    let templated = args.count > 1 && payload.windows(3).any(|w| w == b"{n}");
    if args.local {
        return publish_local(&client, &args, payload, templated).await;
    }
    for n in 0..args.count {
        let body = if templated {
            String::from_utf8_lossy(&payload)
                .replace("{n}", &n.to_string())
                .into_bytes()
        } else {
            payload.clone()
        };
        let mut req = PublishToIoTCoreRequest::new(args.topic.clone(), qos(&args.qos), body);
        req.retain = args.retain.then_some(true);
        req.content_type = args.content_type.clone();
        req.response_topic = args.response_topic.clone();
        req.correlation_data = args
            .correlation_data
            .as_ref()
            .map(|c| c.clone().into_bytes());
        req.user_properties = (!user_properties.is_empty()).then(|| user_properties.clone());
        req.payload_format = args.payload_format.map(|f| match f {
            Format::Bytes => PayloadFormat::Bytes,
            Format::Utf8 => PayloadFormat::Utf8,
        });
        req.message_expiry_interval_seconds = args.expiry;
        if let Err(e) = client.publish_to_iot_core(req).await {
            eprintln!("ggipc pub: publish to {} failed: {e}", args.topic);
            client.close().await;
            return Ok(ExitCode::FAILURE);
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn publish_local(
    client: &ggipc::Client,
    args: &PubArgs,
    payload: Vec<u8>,
    templated: bool,
) -> Result<ExitCode, String> {
    for n in 0..args.count {
        let body = if templated {
            String::from_utf8_lossy(&payload)
                .replace("{n}", &n.to_string())
                .into_bytes()
        } else {
            payload.clone()
        };
        let message = if args.json {
            let value: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| format!("--json: the payload is not JSON: {e}"))?;
            PublishMessage {
                json_message: Some(JsonMessage {
                    message: Some(value),
                    context: None,
                }),
                binary_message: None,
            }
        } else {
            PublishMessage {
                json_message: None,
                binary_message: Some(BinaryMessage {
                    message: Some(body),
                    context: None,
                }),
            }
        };
        let req = PublishToTopicRequest {
            topic: Some(args.topic.clone()),
            publish_message: Some(message),
        };
        if let Err(e) = client.publish_to_topic(req).await {
            eprintln!("ggipc pub: local publish to {} failed: {e}", args.topic);
            client.close().await;
            return Ok(ExitCode::FAILURE);
        }
    }
    client.close().await;
    Ok(ExitCode::SUCCESS)
}

fn iot_core_line(e: IoTCoreMessage) -> Option<Line> {
    let m = e.message?;
    let payload = m.payload.clone().unwrap_or_default();
    let mut json = serde_json::to_value(&m).unwrap_or_default();
    if let (Ok(t), Some(o)) = (String::from_utf8(payload.clone()), json.as_object_mut()) {
        o.insert("payloadText".into(), t.into());
    }
    Some(Line {
        topic: m.topic_name.unwrap_or_default(),
        payload,
        json,
    })
}

fn local_line(e: SubscriptionResponseMessage) -> Option<Line> {
    let json = serde_json::to_value(&e).unwrap_or_default();
    if let Some(j) = e.json_message {
        let topic = j.context.and_then(|c| c.topic).unwrap_or_default();
        let payload = j.message.map(|m| m.to_string()).unwrap_or_default();
        return Some(Line {
            topic,
            payload: payload.into_bytes(),
            json,
        });
    }
    let b = e.binary_message?;
    Some(Line {
        topic: b.context.and_then(|c| c.topic).unwrap_or_default(),
        payload: b.message.unwrap_or_default(),
        json,
    })
}

fn status_line(e: IoTCoreConnectionStatusEvent) -> Option<Line> {
    let status = e.connection_status_event?.status?;
    Some(Line {
        topic: String::new(),
        payload: status.as_str().as_bytes().to_vec(),
        json: serde_json::json!({ "status": status.as_str() }),
    })
}

pub async fn subscribe(args: SubArgs) -> Result<ExitCode, String> {
    let wait = args
        .wait
        .map(|w| ggipc::options::duration_from_secs(w, "--wait"))
        .transpose()
        .map_err(|e| e.message().to_string())?;
    let client = args.id.connect().await?;
    let topic = args.topic.clone().unwrap_or_default();
    let what = if args.status {
        "the IoT Core connection status".to_string()
    } else {
        topic.clone()
    };
    let code = if args.status {
        let sub = client
            .subscribe_to_iot_core_connection_status(Default::default())
            .await;
        follow(sub, status_line, &args, wait, &what).await
    } else if args.local {
        let req = SubscribeToTopicRequest {
            topic: Some(topic),
            receive_mode: args.receive_mode.map(|m| match m {
                Mode::All => ReceiveMode::ReceiveAllMessages,
                Mode::Others => ReceiveMode::ReceiveMessagesFromOthers,
            }),
        };
        let sub = client.subscribe_to_topic(req).await;
        follow(sub, local_line, &args, wait, &what).await
    } else {
        let sub = client
            .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(topic, qos(&args.qos)))
            .await;
        follow(sub, iot_core_line, &args, wait, &what).await
    };
    client.close().await;
    Ok(code)
}

/// Prints a subscription's messages until `--count`, `--wait` or its end.
async fn follow<T: ggipc::StreamEvent>(
    sub: ggipc::Result<ggipc::Subscription<T>>,
    line: fn(T) -> Option<Line>,
    args: &SubArgs,
    wait: Option<std::time::Duration>,
    what: &str,
) -> ExitCode {
    let mut sub = match sub {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ggipc sub: subscribe to {what} failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("ggipc sub: subscribed to {what}");
    let mut seen = 0u64;
    let code = loop {
        if args.count.is_some_and(|c| seen >= c) {
            break ExitCode::SUCCESS;
        }
        let ev = match wait {
            Some(w) => match tokio::time::timeout(w, sub.next()).await {
                Ok(ev) => ev,
                Err(_) => {
                    eprintln!("ggipc sub: no message within {}s", w.as_secs_f64());
                    break ExitCode::from(3);
                }
            },
            None => sub.next().await,
        };
        match ev {
            Some(SubscriptionEvent::Message(m)) => {
                let Some(m) = line(m) else { continue };
                seen += 1;
                let mut out = std::io::stdout().lock();
                if args.json {
                    let _ = writeln!(out, "{}", m.json);
                } else if args.verbose {
                    let _ = write!(out, "{} ", m.topic);
                    let _ = out.write_all(&m.payload);
                    let _ = writeln!(out);
                } else {
                    let _ = out.write_all(&m.payload);
                    let _ = writeln!(out);
                }
                let _ = out.flush();
            }
            Some(SubscriptionEvent::Error(e)) => eprintln!("ggipc sub: stream error: {e}"),
            Some(SubscriptionEvent::Interrupted(e)) => {
                eprintln!("ggipc sub: connection lost ({e}), waiting to resume")
            }
            Some(SubscriptionEvent::Resumed) => eprintln!("ggipc sub: subscription resumed"),
            Some(SubscriptionEvent::Lagged(n)) => {
                eprintln!("ggipc sub: {n} messages dropped (reader too slow)")
            }
            Some(SubscriptionEvent::Closed(Some(e))) => {
                eprintln!("ggipc sub: subscription closed: {e}");
                break ExitCode::FAILURE;
            }
            Some(SubscriptionEvent::Closed(None)) | None => {
                eprintln!("ggipc sub: subscription closed");
                break ExitCode::FAILURE;
            }
        }
    };
    sub.close();
    code
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: crate::cli_bench::BenchCommand,
}

pub async fn bench(args: BenchArgs) -> Result<ExitCode, String> {
    crate::cli_bench::run(args.what).await
}
