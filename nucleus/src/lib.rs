//! `ggipc-nucleus`: the local Greengrass nucleus behind the `ggipc` command.
//!
//! It serves the Greengrass IPC socket with [`ggipc::server`], registers components from their recipes, runs their
//! lifecycles, and connects the `aws.greengrass.ipc.mqttproxy` service to an MQTT broker: an embedded broker by
//! default, an in-memory broker, or a real broker (Mosquitto, AWS IoT Core over mTLS…) through a bridge that
//! reproduces the nucleus' spooler semantics.

pub mod brokers;
pub mod config;
pub mod control;
pub mod deploy;
pub mod launcher;
pub mod mqtt;
pub mod node;
pub mod recipe;
pub mod store;
