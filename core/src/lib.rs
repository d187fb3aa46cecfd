//! # ggipc — the AWS IoT Greengrass v2 Core IPC protocol, both ends
//!
//! Components talk to the Greengrass nucleus over a Unix socket with an event-stream RPC protocol. This
//! crate implements that protocol for the MQTT proxy service (PublishToIoTCore, SubscribeToIoTCore),
//! byte-compatible with the official SDK clients and the Java nucleus:
//!
//! - [`codec`]: event-stream framing (sans-IO encode/decode, streaming, limits, a tokio codec);
//! - [`rpc`]: the RPC layer on top (message types and flags, reserved headers, connection errors, the
//!   per-connection writer shared by both ends);
//! - [`model`]: the Greengrass shapes, enums, modeled errors and the table of operations;
//! - [`Client`] (async) and [`blocking::Client`]: the component side;
//! - [`server`]: the nucleus side — socket, authentication, authorization from recipes, validation with the
//!   nucleus' messages, and a [`server::Broker`] trait for the MQTT side, with an in-memory broker.
//!
//! ```no_run
//! # async fn demo() -> ggipc::Result<()> {
//! use ggipc::model::{PublishToIoTCoreRequest, Qos, SubscribeToIoTCoreRequest};
//! use ggipc::{Client, SubscriptionEvent};
//!
//! let client = Client::connect().await?; // SVCUID and the socket path from the environment
//! let mut sub = client.subscribe_to_iot_core(SubscribeToIoTCoreRequest::new("sensors/+", Qos::AtLeastOnce)).await?;
//! client.publish_to_iot_core(PublishToIoTCoreRequest::new("sensors/t1", Qos::AtLeastOnce, "21.5")).await?;
//! while let Some(SubscriptionEvent::Message(m)) = sub.next().await {
//!     println!("{:?}", m.message);
//! }
//! # Ok(()) }
//! ```

mod client;
pub mod codec;
mod error;
mod error_kind;
mod json;
pub mod model;
pub mod options;
mod pool;
pub mod rpc;
pub mod runtime;
pub mod server;
pub mod testing;

pub use client::{
    blocking, component_auth_token, component_socket_path, Client, ClientBuilder, LifecycleEvent,
    RawEvent, ReconnectPolicy, StreamEvent, Subscription, SubscriptionEvent, SubscriptionHandle,
    DEFAULT_TIMEOUT, SOCKET_ENV, TOKEN_ENV,
};
pub use error::{Error, ErrorKind, Result};
