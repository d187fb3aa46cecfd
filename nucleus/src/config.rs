//! The nucleus configuration file (YAML or JSON). Keys follow the Greengrass nucleus' configuration where they mean
//! the same (`system.*`, `mqtt.*`, `mqtt.spooler.*`); ours are under `mqtt.broker`, `mqtt.embedded` and
//! `mqtt.publishAckMode`. Unknown keys are errors, reported with the file and the field.
//!
//! ```yaml
//! system:
//!   thingName: my-laptop
//!   certificateFilePath: /certs/device.pem.crt   # mqtts:// client certificate
//!   privateKeyPath: /certs/private.pem.key
//!   rootCaPath: /certs/AmazonRootCA1.pem
//! awsRegion: eu-west-1
//! configurationNumbersAsDoubles: false   # true: UpdateConfiguration numbers read back as doubles (5 → 5.0), as the nucleus
//! mqtt:
//!   broker: embedded            # embedded (default) | memory | mqtt://host:port | mqtts://host:port
//!   clientId: my-laptop         # default: system.thingName, else ggipc-<pid>
//!   version: mqtt5              # mqtt5 (default) | mqtt3
//!   keepAliveTimeoutMs: 60000
//!   operationTimeoutMs: 30000
//!   maxMessageSizeInBytes: 131072
//!   maxInFlightPublishes: 5
//!   maxPublishRetry: 100        # -1 = unlimited
//!   publishAckMode: spool       # spool (default, like the nucleus) | puback (QoS 1 answered after the PUBACK)
//!   subscriberStallTimeoutMs: 2000  # ours: how long a QoS 1 publish waits for a subscriber that is behind
//!   sessionExpirySeconds: 604800  # MQTT 5 persistent session (later connections resume it)
//!   receiveMaximum: 100
//!   subscribeWhileOffline: pending  # ours: pending (answer at once, subscribe on connect) | error (fast ServiceError)
//!   maxSubscriptionsPerConnection: 50  # ours: past it the bridge opens <clientId>#2, #3, … (0 = one connection)
//!   maxPublishesPerSecond: 100       # ours, per connection; default 100 for AWS IoT Core, else 0 (no limit)
//!   maxPublishBytesPerSecond: 524288 # ours, per connection; default 512 KiB for AWS IoT Core, else 0
//!   spooler:
//!     maxSizeInBytes: 2621440
//!     keepQos0WhenOffline: false
//!     storageType: Memory       # Memory (default) | Disk: QoS 1 publishes kept in <root>/spool until PUBACKed
//!     fsync: always             # ours, with Disk: always (answer after an fdatasync, batched) | never
//!   embedded:
//!     host: 127.0.0.1
//!     port: 1883                # 0 = ephemeral, printed at start
//!     maxPacketSize: 1048576
//!     maxConnections: 1024
//!     maxQueuedMessages: 1000   # per client session (offline or behind); overflow dropped and counted
//!     maxQueuedBytes: 16777216  # per client session; 0 = count bound only
//!     maxInflightMessages: 100  # QoS 1 in flight per client (MQTT 5 Receive Maximum may lower it)
//!     maxRetainedMessages: 10000
//!     maxRetainedBytes: 67108864
//!     topicAliasMaximum: 10
//!     maxSessionExpirySeconds: 86400   # offline sessions kept at most this long
//!     passwordFile: /etc/ggipc/passwd   # `ggipc passwd FILE USER`; unset = no authentication
//!     allowAnonymous: false     # true: no password file needed on a non-loopback host
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Whole file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub system: SystemConfig,
    #[serde(default)]
    pub mqtt: MqttConfig,
    pub aws_region: Option<String>,
    /// Greengrass version reported to components in `GGC_VERSION`.
    pub ggc_version: Option<String>,
    /// Store the numbers UpdateConfiguration merges as doubles (`5` read back as `5.0`), as the Java nucleus
    /// does; default `false` (numbers kept as sent).
    #[serde(default)]
    pub configuration_numbers_as_doubles: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SystemConfig {
    pub thing_name: Option<String>,
    pub certificate_file_path: Option<PathBuf>,
    pub private_key_path: Option<PathBuf>,
    pub root_ca_path: Option<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MqttConfig {
    pub broker: Option<String>,
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    #[serde(default = "d_version")]
    pub version: String,
    #[serde(default = "d_keep_alive")]
    pub keep_alive_timeout_ms: u64,
    #[serde(default = "d_op_timeout")]
    pub operation_timeout_ms: u64,
    #[serde(default = "d_max_msg")]
    pub max_message_size_in_bytes: usize,
    #[serde(default = "d_inflight")]
    pub max_in_flight_publishes: usize,
    #[serde(default = "d_retry")]
    pub max_publish_retry: i64,
    #[serde(default = "d_ack")]
    pub publish_ack_mode: String,
    /// Ours: how long a QoS 1 publish waits for one subscriber that is behind before that subscriber is
    /// stalled (loses messages and is told); docs/DESIGN.md, "Flow control".
    #[serde(default = "d_stall")]
    pub subscriber_stall_timeout_ms: u64,
    /// Ours: how a SubscribeToIoTCore is answered while the broker is unreachable: `pending` (accepted at once,
    /// subscribed on connect) or `error` (a ServiceError at once, naming the cause).
    #[serde(default = "d_offline_sub")]
    pub subscribe_while_offline: String,
    /// MQTT 5 session expiry asked of the broker (the nucleus' key and default: 604,800 s, IoT Core's maximum).
    #[serde(default = "d_session_expiry")]
    pub session_expiry_seconds: u32,
    /// MQTT 5 Receive Maximum announced to the broker (the nucleus' key and default).
    #[serde(default = "d_receive_maximum")]
    pub receive_maximum: u16,
    /// Ours: distinct subscription filters per MQTT connection of the bridge (AWS IoT Core's quota, 50, which the
    /// nucleus applies); past it another connection `<clientId>#2`, `#3`, … is opened. 0 = no limit.
    #[serde(default = "d_subs_per_conn")]
    pub max_subscriptions_per_connection: usize,
    /// Ours: publishes per second the bridge sends on a connection (0 = no limit). Default: AWS IoT Core's quota
    /// (100) when the broker is IoT Core (`*.amazonaws.com`), else no limit.
    pub max_publishes_per_second: Option<u32>,
    /// Ours: publish bytes (topic + payload) per second on a connection (0 = no limit). Default: IoT Core's
    /// 512 KiB when the broker is IoT Core, else no limit.
    pub max_publish_bytes_per_second: Option<u32>,
    #[serde(default)]
    pub spooler: SpoolerConfig,
    #[serde(default)]
    pub embedded: EmbeddedConfig,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SpoolerConfig {
    #[serde(default = "d_spool")]
    pub max_size_in_bytes: usize,
    #[serde(default = "d_keep_qos0")]
    pub keep_qos0_when_offline: bool,
    /// `Memory` (default) or `Disk` (the nucleus' key and values): with `Disk`, the bridge's QoS 1 publishes are
    /// kept in `<root>/spool/spool.log` until the broker acknowledges them, and survive a restart or crash.
    #[serde(default)]
    pub storage_type: Option<String>,
    /// Ours, with `storageType: Disk`: `always` (default) answers a QoS 1 publish after an fdatasync covering it
    /// (shared by the publishes waiting at the same time), `never` once the kernel has it (survives the nucleus
    /// being killed, not a power cut).
    #[serde(default = "d_fsync")]
    pub fsync: String,
}

impl SpoolerConfig {
    /// `storageType: Disk`.
    pub fn is_disk(&self) -> bool {
        self.storage_type
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("disk"))
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmbeddedConfig {
    #[serde(default = "d_host")]
    pub host: String,
    #[serde(default = "d_port")]
    pub port: u16,
    /// Largest packet accepted from a client (announced to MQTT 5 clients as Maximum Packet Size).
    #[serde(default = "d_max_packet")]
    pub max_packet_size: usize,
    /// TCP connections served at once; past it a CONNECT is refused.
    #[serde(default = "d_max_connections")]
    pub max_connections: usize,
    /// Messages queued per client session (offline, or connected and behind); past it they are dropped.
    #[serde(default = "d_max_queued")]
    pub max_queued_messages: usize,
    /// Bytes queued per client session (0 = only the message bound).
    #[serde(default = "d_max_queued_bytes")]
    pub max_queued_bytes: usize,
    /// QoS 1 messages in flight to one client at most (an MQTT 5 client's Receive Maximum may lower it).
    #[serde(default = "d_max_inflight")]
    pub max_inflight_messages: u16,
    /// Retained messages kept at most (count).
    #[serde(default = "d_max_retained")]
    pub max_retained_messages: usize,
    /// Retained messages kept at most (bytes of topic, payload and properties).
    #[serde(default = "d_max_retained_bytes")]
    pub max_retained_bytes: usize,
    /// Topic Alias Maximum announced to MQTT 5 clients (0 = no aliases).
    #[serde(default = "d_topic_alias_max")]
    pub topic_alias_maximum: u16,
    /// The longest an offline client session is kept, in seconds (MQTT 3.1.1 clean session = false sessions
    /// are kept this long; MQTT 5 session expiry intervals are capped to it).
    #[serde(default = "d_max_session_expiry")]
    pub max_session_expiry_seconds: u32,
    /// Password file (`ggipc passwd FILE USER`): when set, every client must give a listed user and its password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Serve MQTT clients without authentication on a non-loopback address (default: refused at start without
    /// a password file).
    #[serde(default)]
    pub allow_anonymous: bool,
}

/// The nucleus' defaults, each written once: the configuration file's defaults and [`BridgeConfig::new`]
/// (crate::mqtt::bridge) both read them.
///
/// [`BridgeConfig::new`]: crate::mqtt::bridge::BridgeConfig::new
pub mod defaults {
    /// `system.thingName`.
    pub const THING_NAME: &str = "ggipc-local";
    /// `mqtt.version`.
    pub const MQTT_VERSION: &str = "mqtt5";
    /// `mqtt.keepAliveTimeoutMs`.
    pub const KEEP_ALIVE_MS: u64 = 60_000;
    /// `mqtt.operationTimeoutMs`.
    pub const OPERATION_TIMEOUT_MS: u64 = 30_000;
    /// `mqtt.maxMessageSizeInBytes` (IoT Core's 128 KiB).
    pub const MAX_MESSAGE_SIZE_IN_BYTES: usize = 131_072;
    /// `mqtt.maxInFlightPublishes`.
    pub const MAX_IN_FLIGHT_PUBLISHES: usize = 5;
    /// `mqtt.maxPublishRetry` (-1 = unlimited).
    pub const MAX_PUBLISH_RETRY: i64 = 100;
    /// `mqtt.publishAckMode`.
    pub const PUBLISH_ACK_MODE: &str = "spool";
    /// `mqtt.subscriberStallTimeoutMs`.
    pub const SUBSCRIBER_STALL_TIMEOUT_MS: u64 = 2_000;
    /// `mqtt.sessionExpirySeconds`.
    pub const SESSION_EXPIRY_SECONDS: u32 = 604_800;
    /// `mqtt.receiveMaximum`.
    pub const RECEIVE_MAXIMUM: u16 = 100;
    /// `mqtt.maxSubscriptionsPerConnection` (AWS IoT Core's quota).
    pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 50;
    /// `mqtt.maxPublishesPerSecond` towards AWS IoT Core (its per-connection quota).
    pub const IOT_CORE_PUBLISHES_PER_SECOND: u32 = 100;
    /// `mqtt.maxPublishBytesPerSecond` towards AWS IoT Core (its per-connection quota, 512 KiB).
    pub const IOT_CORE_PUBLISH_BYTES_PER_SECOND: u32 = 512 * 1024;
    /// `mqtt.subscribeWhileOffline`.
    pub const SUBSCRIBE_WHILE_OFFLINE: &str = "pending";
    /// `mqtt.spooler.maxSizeInBytes`.
    pub const SPOOLER_MAX_SIZE_IN_BYTES: usize = 2_621_440;
    /// `mqtt.spooler.keepQos0WhenOffline`.
    pub const KEEP_QOS0_WHEN_OFFLINE: bool = false;
    /// `mqtt.spooler.fsync`.
    pub const SPOOLER_FSYNC: &str = "always";
    /// `mqtt.embedded.host`.
    pub const EMBEDDED_HOST: &str = "127.0.0.1";
    /// `mqtt.embedded.port`.
    pub const EMBEDDED_PORT: u16 = 1883;
    /// `mqtt.embedded.maxPacketSize`.
    pub const EMBEDDED_MAX_PACKET_SIZE: usize = 1 << 20;
    /// `mqtt.embedded.maxConnections`.
    pub const EMBEDDED_MAX_CONNECTIONS: usize = 1_024;
    /// `mqtt.embedded.maxQueuedMessages`.
    pub const EMBEDDED_MAX_QUEUED_MESSAGES: usize = 1_000;
    /// `mqtt.embedded.maxQueuedBytes`.
    pub const EMBEDDED_MAX_QUEUED_BYTES: usize = 16 << 20;
    /// `mqtt.embedded.maxInflightMessages`.
    pub const EMBEDDED_MAX_INFLIGHT_MESSAGES: u16 = 100;
    /// `mqtt.embedded.maxRetainedMessages`.
    pub const EMBEDDED_MAX_RETAINED_MESSAGES: usize = 10_000;
    /// `mqtt.embedded.maxRetainedBytes`.
    pub const EMBEDDED_MAX_RETAINED_BYTES: usize = 64 << 20;
    /// `mqtt.embedded.topicAliasMaximum`.
    pub const EMBEDDED_TOPIC_ALIAS_MAXIMUM: u16 = 10;
    /// `mqtt.embedded.maxSessionExpirySeconds` (one day).
    pub const EMBEDDED_MAX_SESSION_EXPIRY_SECONDS: u32 = 86_400;
}

fn d_version() -> String {
    defaults::MQTT_VERSION.into()
}
fn d_keep_alive() -> u64 {
    defaults::KEEP_ALIVE_MS
}
fn d_op_timeout() -> u64 {
    defaults::OPERATION_TIMEOUT_MS
}
fn d_max_msg() -> usize {
    defaults::MAX_MESSAGE_SIZE_IN_BYTES
}
fn d_inflight() -> usize {
    defaults::MAX_IN_FLIGHT_PUBLISHES
}
fn d_retry() -> i64 {
    defaults::MAX_PUBLISH_RETRY
}
fn d_ack() -> String {
    defaults::PUBLISH_ACK_MODE.into()
}
fn d_session_expiry() -> u32 {
    defaults::SESSION_EXPIRY_SECONDS
}
fn d_receive_maximum() -> u16 {
    defaults::RECEIVE_MAXIMUM
}
fn d_subs_per_conn() -> usize {
    defaults::MAX_SUBSCRIPTIONS_PER_CONNECTION
}
fn d_offline_sub() -> String {
    defaults::SUBSCRIBE_WHILE_OFFLINE.into()
}
fn d_stall() -> u64 {
    defaults::SUBSCRIBER_STALL_TIMEOUT_MS
}
fn d_spool() -> usize {
    defaults::SPOOLER_MAX_SIZE_IN_BYTES
}
fn d_fsync() -> String {
    defaults::SPOOLER_FSYNC.into()
}
fn d_keep_qos0() -> bool {
    defaults::KEEP_QOS0_WHEN_OFFLINE
}
fn d_host() -> String {
    defaults::EMBEDDED_HOST.into()
}
fn d_port() -> u16 {
    defaults::EMBEDDED_PORT
}
fn d_max_packet() -> usize {
    defaults::EMBEDDED_MAX_PACKET_SIZE
}
fn d_max_connections() -> usize {
    defaults::EMBEDDED_MAX_CONNECTIONS
}
fn d_max_queued() -> usize {
    defaults::EMBEDDED_MAX_QUEUED_MESSAGES
}
fn d_max_queued_bytes() -> usize {
    defaults::EMBEDDED_MAX_QUEUED_BYTES
}
fn d_max_inflight() -> u16 {
    defaults::EMBEDDED_MAX_INFLIGHT_MESSAGES
}
fn d_max_retained() -> usize {
    defaults::EMBEDDED_MAX_RETAINED_MESSAGES
}
fn d_max_retained_bytes() -> usize {
    defaults::EMBEDDED_MAX_RETAINED_BYTES
}
fn d_topic_alias_max() -> u16 {
    defaults::EMBEDDED_TOPIC_ALIAS_MAXIMUM
}
fn d_max_session_expiry() -> u32 {
    defaults::EMBEDDED_MAX_SESSION_EXPIRY_SECONDS
}

impl Default for MqttConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults")
    }
}
impl Default for SpoolerConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults")
    }
}
impl Default for EmbeddedConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("defaults")
    }
}

/// Parses YAML or JSON text (JSON is YAML, but JSON files get serde_json's messages).
pub fn parse_document<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, String> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || text.trim_start().starts_with('{');
    // serde_path_to_error names the offending field (e.g. `mqtt.spooler.maxSizeInBytes`).
    let fmt = |field: String, e: &dyn std::fmt::Display| {
        if field.is_empty() || field == "." {
            format!("{}: {e}", path.display())
        } else {
            format!("{}: field `{field}`: {e}", path.display())
        }
    };
    if is_json {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| fmt(e.path().to_string(), e.inner()))
    } else {
        let de = serde_norway::Deserializer::from_str(text);
        serde_path_to_error::deserialize(de).map_err(|e| fmt(e.path().to_string(), e.inner()))
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read config file: {e}", path.display()))?;
        let cfg: Config = parse_document(path, &text)?;
        cfg.validate()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), String> {
        let m = &self.mqtt;
        if !matches!(m.version.as_str(), "mqtt5" | "mqtt3") {
            return Err(format!(
                "mqtt.version: expected mqtt5 or mqtt3, got {:?}",
                m.version
            ));
        }
        if !matches!(m.subscribe_while_offline.as_str(), "pending" | "error") {
            return Err(format!(
                "mqtt.subscribeWhileOffline: expected pending or error, got {:?}",
                m.subscribe_while_offline
            ));
        }
        if !matches!(m.publish_ack_mode.as_str(), "spool" | "puback") {
            return Err(format!(
                "mqtt.publishAckMode: expected spool or puback, got {:?}",
                m.publish_ack_mode
            ));
        }
        if m.max_in_flight_publishes == 0 || m.max_in_flight_publishes > 100 {
            return Err(format!(
                "mqtt.maxInFlightPublishes: must be 1..=100, got {}",
                m.max_in_flight_publishes
            ));
        }
        if m.max_message_size_in_bytes == 0 || m.max_message_size_in_bytes > 256 * 1024 * 1024 {
            return Err(format!(
                "mqtt.maxMessageSizeInBytes: must be 1..=268435456, got {}",
                m.max_message_size_in_bytes
            ));
        }
        if m.max_publish_retry < -1 {
            return Err(format!(
                "mqtt.maxPublishRetry: must be -1 (unlimited) or >= 0, got {}",
                m.max_publish_retry
            ));
        }
        if let Some(b) = &m.broker {
            BrokerChoice::parse(b).map_err(|e| format!("mqtt.broker: {e}"))?;
        }
        let e = &m.embedded;
        if e.max_connections == 0 {
            return Err("mqtt.embedded.maxConnections: must be at least 1".to_owned());
        }
        if e.max_queued_messages == 0 {
            return Err("mqtt.embedded.maxQueuedMessages: must be at least 1".to_owned());
        }
        if e.max_inflight_messages == 0 {
            return Err("mqtt.embedded.maxInflightMessages: must be 1..=65535".to_owned());
        }
        if e.max_packet_size < 64 || e.max_packet_size > 268_435_455 {
            return Err(format!(
                "mqtt.embedded.maxPacketSize: must be 64..=268435455 (MQTT's largest), got {}",
                e.max_packet_size
            ));
        }
        if let Some(st) = &m.spooler.storage_type {
            if !st.eq_ignore_ascii_case("memory") && !st.eq_ignore_ascii_case("disk") {
                return Err(format!(
                    "mqtt.spooler.storageType: expected Memory or Disk, got {st:?}"
                ));
            }
        }
        if !matches!(m.spooler.fsync.as_str(), "always" | "never") {
            return Err(format!(
                "mqtt.spooler.fsync: expected always or never, got {:?}",
                m.spooler.fsync
            ));
        }
        Ok(())
    }
}

/// Which broker backs `aws.greengrass.ipc.mqttproxy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BrokerChoice {
    Embedded,
    Memory,
    Remote { tls: bool, host: String, port: u16 },
}

/// True for an AWS IoT Core endpoint (`<prefix>-ats.iot.<region>.amazonaws.com`, and the China regions').
pub fn is_iot_core(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h.contains(".iot.") && (h.ends_with(".amazonaws.com") || h.ends_with(".amazonaws.com.cn"))
}

impl BrokerChoice {
    pub fn parse(s: &str) -> Result<BrokerChoice, String> {
        match s {
            "embedded" => return Ok(BrokerChoice::Embedded),
            "memory" => return Ok(BrokerChoice::Memory),
            _ => {}
        }
        let (tls, rest) = if let Some(r) = s.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(format!(
                "expected embedded, memory, mqtt://HOST[:PORT] or mqtts://HOST[:PORT], got {s:?}"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h.trim_start_matches('[').trim_end_matches(']'),
                p.parse::<u16>()
                    .map_err(|_| format!("invalid port in {s:?}"))?,
            ),
            _ => (rest, if tls { 8883 } else { 1883 }), // the MQTT ports (IANA)
        };
        if host.is_empty() {
            return Err(format!("missing host in {s:?}"));
        }
        Ok(BrokerChoice::Remote {
            tls,
            host: host.to_owned(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(
            BrokerChoice::parse("embedded").unwrap(),
            BrokerChoice::Embedded
        );
        assert_eq!(
            BrokerChoice::parse("mqtt://localhost:1884").unwrap(),
            BrokerChoice::Remote {
                tls: false,
                host: "localhost".into(),
                port: 1884
            }
        );
        assert_eq!(
            BrokerChoice::parse("mqtts://abc-ats.iot.eu-west-1.amazonaws.com").unwrap(),
            BrokerChoice::Remote {
                tls: true,
                host: "abc-ats.iot.eu-west-1.amazonaws.com".into(),
                port: 8883
            }
        );
        assert!(BrokerChoice::parse("tcp://x").is_err());
    }

    #[test]
    fn iot_core_endpoints() {
        assert!(is_iot_core("abc123-ats.iot.eu-west-1.amazonaws.com"));
        assert!(is_iot_core("ABC-ats.iot.cn-north-1.amazonaws.com.cn"));
        assert!(!is_iot_core("localhost"));
        assert!(!is_iot_core("broker.example.com"));
        assert!(!is_iot_core("s3.amazonaws.com"));
    }

    #[test]
    fn yaml_and_errors_name_the_field() {
        let p = Path::new("c.yaml");
        let c: Config =
            parse_document(p, "mqtt:\n  spooler:\n    keepQos0WhenOffline: true\n").unwrap();
        assert!(c.mqtt.spooler.keep_qos0_when_offline);
        assert_eq!(
            c.mqtt.spooler.max_size_in_bytes,
            defaults::SPOOLER_MAX_SIZE_IN_BYTES
        );
        let e =
            parse_document::<Config>(p, "mqtt:\n  spooler:\n    maxSizeInByte: 3\n").unwrap_err();
        assert!(e.contains("c.yaml") && e.contains("maxSizeInByte"), "{e}");
        let e = parse_document::<Config>(
            Path::new("c.json"),
            "{\"mqtt\": {\"maxInFlightPublishes\": \"x\"}}",
        )
        .unwrap_err();
        assert!(e.contains("c.json"), "{e}");
        let mut c = Config::default();
        c.mqtt.version = "mqtt4".into();
        assert!(c.validate().unwrap_err().contains("mqtt.version"));
    }
}
