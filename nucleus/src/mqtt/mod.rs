//! MQTT side of the nucleus: the message type, topic rules, the embedded broker.

pub mod bridge;
pub mod embedded;
pub mod msg;
pub mod passwd;
pub mod pool;
pub mod reason;
pub mod spool_file;
pub mod topic;
