//! `ggipc pub`, `ggipc sub` (IPC clients taking their identity from the environment, like a component) and
//! `ggipc bench`.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use ggipc::model::{
    PayloadFormat, PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest, UserProperty,
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
}

#[derive(Args, Debug)]
pub struct SubArgs {
    #[command(flatten)]
    pub id: Identity,
    /// Topic filter.
    #[arg(short = 't', long)]
    pub topic: String,
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

pub async fn subscribe(args: SubArgs) -> Result<ExitCode, String> {
    let wait = args
        .wait
        .map(|w| ggipc::options::duration_from_secs(w, "--wait"))
        .transpose()
        .map_err(|e| e.message().to_string())?;
    let client = args.id.connect().await?;
    let mut sub = match client
        .subscribe_to_iot_core(SubscribeToIoTCoreRequest::new(
            args.topic.clone(),
            qos(&args.qos),
        ))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ggipc sub: subscribe to {} failed: {e}", args.topic);
            return Ok(ExitCode::FAILURE);
        }
    };
    eprintln!("ggipc sub: subscribed to {}", args.topic);
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
                let Some(m) = m.message else { continue };
                seen += 1;
                let payload = m.payload.clone().unwrap_or_default();
                let mut out = std::io::stdout().lock();
                if args.json {
                    let text = String::from_utf8(payload.clone()).ok();
                    let mut v = serde_json::to_value(&m).unwrap_or_default();
                    if let (Some(t), Some(o)) = (text, v.as_object_mut()) {
                        o.insert("payloadText".into(), t.into());
                    }
                    let _ = writeln!(out, "{v}");
                } else if args.verbose {
                    let _ = write!(out, "{} ", m.topic_name.as_deref().unwrap_or(""));
                    let _ = out.write_all(&payload);
                    let _ = writeln!(out);
                } else {
                    let _ = out.write_all(&payload);
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
    client.close().await;
    Ok(code)
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: crate::cli_bench::BenchCommand,
}

pub async fn bench(args: BenchArgs) -> Result<ExitCode, String> {
    crate::cli_bench::run(args.what).await
}
