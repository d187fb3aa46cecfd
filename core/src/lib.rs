//! ggipc
pub mod codec;
mod error;
pub mod model;
pub mod rpc;
pub use error::{Error, ErrorKind, Result};
