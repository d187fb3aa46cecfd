//! Event-stream RPC layer (docs/PROTOCOL.md §3): message types and flags, reserved headers, connection-level error
//! payloads, and the per-connection writer shared by the client and the server.

mod reader;
mod writer;

pub use reader::ReadBuf;
pub use writer::{FrameWriter, SendError, WriterClosed, HIGH_WATER};

use crate::codec::{self, ByteStr, FrameError, Header, HeaderValue, Message};
use bytes::{Bytes, BytesMut};
use std::fmt;

/// `:message-type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum MessageType {
    ApplicationMessage = 0,
    ApplicationError = 1,
    Ping = 2,
    PingResponse = 3,
    Connect = 4,
    ConnectAck = 5,
    ProtocolError = 6,
    InternalError = 7,
}

impl MessageType {
    pub fn from_i32(v: i32) -> Option<Self> {
        Some(match v {
            0 => MessageType::ApplicationMessage,
            1 => MessageType::ApplicationError,
            2 => MessageType::Ping,
            3 => MessageType::PingResponse,
            4 => MessageType::Connect,
            5 => MessageType::ConnectAck,
            6 => MessageType::ProtocolError,
            7 => MessageType::InternalError,
            _ => return None,
        })
    }
}

/// `:message-flags` bits.
pub mod flags {
    /// CONNECT_ACK: the connection was accepted.
    pub const CONNECTION_ACCEPTED: i32 = 0x1;
    /// APPLICATION_MESSAGE / APPLICATION_ERROR: last message of the stream from this sender.
    pub const TERMINATE_STREAM: i32 = 0x2;
}

/// Reserved header names.
pub mod names {
    pub const MESSAGE_TYPE: &str = ":message-type";
    pub const MESSAGE_FLAGS: &str = ":message-flags";
    pub const STREAM_ID: &str = ":stream-id";
    pub const OPERATION: &str = "operation";
    pub const VERSION: &str = ":version";
    pub const CONTENT_TYPE: &str = ":content-type";
    pub const SERVICE_MODEL_TYPE: &str = "service-model-type";
}

/// Header (bool) a ggipc server adds to the stream terminates it sends when shutting down, so clients that
/// reconnect treat the streams as interrupted rather than closed. Other clients ignore unknown headers.
pub const SHUTDOWN_HEADER: &str = "ggipc-shutdown";

/// Header (int64) a ggipc server adds to a stream event when events of that stream were dropped before it
/// (a subscriber that did not keep up): how many. ggipc clients surface it as their lag event
/// (`SubscriptionEvent::Lagged`) before the event that carries it; other clients ignore unknown headers.
pub const LAGGED_HEADER: &str = "ggipc-lagged";

/// The only protocol version the official peers speak.
pub const PROTOCOL_VERSION: &str = "0.1.0";
/// `:content-type` of JSON bodies.
pub const CONTENT_TYPE_JSON: &str = "application/json";

/// Exact payloads of the C library's connection-level errors (docs/PROTOCOL.md §3.8.3).
pub mod errors {
    pub const MISSING_FIELDS: &str = "{ \"message\": \"A message was received with missing required fields. Check that your client is sending at least, :message-type, :message-flags, and :stream-id\" }";
    pub const CONNECT_FIRST: &str = "{ \"message\": \"A CONNECT message must be received, and the CONNECT_ACK must be sent in response, before any other message-types can be sent on this connection. In addition, only one CONNECT message is allowed on a connection.\" }";
    pub const NON_ZERO_STREAM_ID: &str = "{ \"message\": \"non-zero stream-id field is only allowed for messages of type APPLICATION_MESSAGE. The stream id max value is INT32_MAX.\" }";
    pub const STREAM_ID_LOWER: &str = "{ \"message\": \"stream-id values must be monotonically incrementing. A stream-id arrived that was lower than the last seen stream-id.\" }";
    pub const STREAM_ID_GAP: &str = "{ \"message\": \"stream-id values must be monotonically incrementing. A new stream-id arrived that was incremented by more than 1.\" }";
    pub const MISSING_OPERATION: &str = "{ \"message\": \"The first message on a non-zero :stream-id must contain an operation header value.\" }";
    pub const INVALID_MESSAGE_TYPE: &str =
        "{ \"message\": \"an invalid value for message-type field was received.\" }";
    pub const INTERNAL: &str = "{ \"message\": \"An error occurred on the peer endpoint. This is not likely caused by your endpoint.\" }";
}

/// A decoded RPC message: the reserved headers pulled out, the rest kept in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub message_type: MessageType,
    pub flags: i32,
    pub stream_id: i32,
    pub operation: Option<ByteStr>,
    pub content_type: Option<ByteStr>,
    pub service_model_type: Option<ByteStr>,
    /// Every other header, in wire order (`:version`, user ping headers, `svcuid`, …).
    pub other_headers: Vec<Header>,
    pub payload: Bytes,
}

/// Why a decoded message is not a valid RPC message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RpcViolation {
    /// `:message-type`, `:message-flags` or `:stream-id` missing or not int32.
    MissingFields,
    /// `:message-type` outside 0..=7, or 0/1 on stream 0.
    InvalidMessageType,
    /// A connection-level type on a non-zero stream, or a negative stream id.
    NonZeroStreamId,
}

impl RpcViolation {
    /// The C library's PROTOCOL_ERROR payload for this violation.
    pub fn payload(&self) -> &'static str {
        match self {
            RpcViolation::MissingFields => errors::MISSING_FIELDS,
            RpcViolation::InvalidMessageType => errors::INVALID_MESSAGE_TYPE,
            RpcViolation::NonZeroStreamId => errors::NON_ZERO_STREAM_ID,
        }
    }
}

impl fmt::Display for RpcViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RpcViolation::MissingFields => {
                "message lacks :message-type, :message-flags or :stream-id"
            }
            RpcViolation::InvalidMessageType => "invalid :message-type for its stream id",
            RpcViolation::NonZeroStreamId => {
                "connection-level message type on a non-zero stream id"
            }
        })
    }
}

impl Frame {
    /// A frame with only the three RPC headers.
    pub fn bare(message_type: MessageType, flags: i32, stream_id: i32) -> Self {
        Frame {
            message_type,
            flags,
            stream_id,
            operation: None,
            content_type: None,
            service_model_type: None,
            other_headers: Vec::new(),
            payload: Bytes::new(),
        }
    }

    /// An application message or error with a JSON body of the given shape.
    pub fn json(
        message_type: MessageType,
        flags: i32,
        stream_id: i32,
        service_model_type: &'static str,
        payload: Bytes,
    ) -> Self {
        Frame {
            content_type: Some(ByteStr::from_static(CONTENT_TYPE_JSON)),
            service_model_type: Some(ByteStr::from_static(service_model_type)),
            payload,
            ..Frame::bare(message_type, flags, stream_id)
        }
    }

    pub fn is_terminate(&self) -> bool {
        self.flags & flags::TERMINATE_STREAM != 0
    }

    /// Interprets a decoded message. Reserved names are matched exactly (official peers send lowercase).
    pub fn from_message(msg: Message) -> Result<Frame, RpcViolation> {
        let mut message_type = None;
        let mut flags = None;
        let mut stream_id = None;
        let mut operation = None;
        let mut content_type = None;
        let mut service_model_type = None;
        let mut other_headers = Vec::new();
        for h in msg.headers {
            match (h.name.as_str(), &h.value) {
                (names::MESSAGE_TYPE, HeaderValue::Int32(v)) => message_type = Some(*v),
                (names::MESSAGE_FLAGS, HeaderValue::Int32(v)) => flags = Some(*v),
                (names::STREAM_ID, HeaderValue::Int32(v)) => stream_id = Some(*v),
                (names::OPERATION, HeaderValue::String(s)) => operation = Some(s.clone()),
                (names::CONTENT_TYPE, HeaderValue::String(s)) => content_type = Some(s.clone()),
                (names::SERVICE_MODEL_TYPE, HeaderValue::String(s)) => {
                    service_model_type = Some(s.clone())
                }
                _ => other_headers.push(h),
            }
        }
        let (Some(t), Some(flags), Some(stream_id)) = (message_type, flags, stream_id) else {
            return Err(RpcViolation::MissingFields);
        };
        let message_type = MessageType::from_i32(t).ok_or(RpcViolation::InvalidMessageType)?;
        let app = matches!(
            message_type,
            MessageType::ApplicationMessage | MessageType::ApplicationError
        );
        if stream_id < 0 || (!app && stream_id != 0) {
            return Err(RpcViolation::NonZeroStreamId);
        }
        if app && stream_id == 0 {
            return Err(RpcViolation::InvalidMessageType);
        }
        Ok(Frame {
            message_type,
            flags,
            stream_id,
            operation,
            content_type,
            service_model_type,
            other_headers,
            payload: msg.payload,
        })
    }

    /// Appends the encoded frame to `dst`. Header order is the C library's: content type, model type and
    /// other headers first, then `:message-type`, `:message-flags`, `:stream-id`, then `operation`.
    pub fn encode(&self, max_message_size: usize, dst: &mut BytesMut) -> Result<(), FrameError> {
        codec::encode_parts(&self.headers(), &self.payload, max_message_size, dst)
    }

    /// Appends the prelude and headers only, for a payload sent separately; returns their CRC (see
    /// [`codec::encode_head`]).
    pub fn encode_head(
        &self,
        max_message_size: usize,
        dst: &mut BytesMut,
    ) -> Result<u32, FrameError> {
        codec::encode_head(&self.headers(), self.payload.len(), max_message_size, dst)
    }

    fn headers(&self) -> Vec<Header> {
        let mut headers = Vec::with_capacity(6 + self.other_headers.len());
        if let Some(ct) = &self.content_type {
            headers.push(Header::with_static(
                names::CONTENT_TYPE,
                HeaderValue::String(ct.clone()),
            ));
        }
        if let Some(smt) = &self.service_model_type {
            headers.push(Header::with_static(
                names::SERVICE_MODEL_TYPE,
                HeaderValue::String(smt.clone()),
            ));
        }
        headers.extend(self.other_headers.iter().cloned());
        headers.push(Header::with_static(
            names::MESSAGE_TYPE,
            HeaderValue::Int32(self.message_type as i32),
        ));
        headers.push(Header::with_static(
            names::MESSAGE_FLAGS,
            HeaderValue::Int32(self.flags),
        ));
        headers.push(Header::with_static(
            names::STREAM_ID,
            HeaderValue::Int32(self.stream_id),
        ));
        if let Some(op) = &self.operation {
            headers.push(Header::with_static(
                names::OPERATION,
                HeaderValue::String(op.clone()),
            ));
        }
        headers
    }

    /// Header value of a non-reserved header.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.other_headers
            .iter()
            .find(|h| h.name.as_str() == name)
            .map(|h| &h.value)
    }
}

/// A connection's socket, shared by its reader and its writer (one file descriptor per connection).
pub type SharedSocket = std::sync::Arc<std::os::unix::net::UnixStream>;

/// Registers a socket with the current tokio runtime for the given readiness only (a socket registered for
/// writability too would wake the runtime every time the peer drains it). A file descriptor can be
/// registered once at a time: register a `try_clone` for a second, simultaneous interest.
pub fn register(
    sock: SharedSocket,
    interest: tokio::io::Interest,
) -> std::io::Result<tokio::io::unix::AsyncFd<SharedSocket>> {
    // SAFETY: the `AsyncFd` owns a reference to the socket, so its file descriptor stays open and the same
    // for as long as the registration exists.
    Ok(unsafe { tokio::io::unix::AsyncFd::register_with_interest(sock, interest) }?)
}

/// The send buffer both ends ask for on an IPC socket: room for several large frames in flight. A 128 KiB payload
/// is a 175 KB frame, and Linux' default of 208 KiB (`net.core.wmem_default`) holds one: the writer then waits for
/// the reader after every frame, and the nucleus drops events a subscriber has not read in time. The kernel caps the
/// request at `net.core.wmem_max` (208 KiB on most systems) and doubles it.
pub const SEND_BUFFER: usize = 1 << 20;

/// A map keyed by stream id. Ids are sequential on both ends (the server refuses a new id that is not the
/// last one plus 1), so a peer cannot pick colliding keys, and a multiplicative hash spreads them well: cheaper
/// than the default SipHash, which was a tenth of the decoding work of a small response.
pub(crate) type StreamMap<V> =
    std::collections::HashMap<i32, V, std::hash::BuildHasherDefault<StreamIdHasher>>;

/// Fibonacci hashing of a stream id (the [`StreamMap`] hasher); other keys are folded in byte by byte.
#[derive(Default)]
pub(crate) struct StreamIdHasher(u64);

impl std::hash::Hasher for StreamIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_i32(&mut self, i: i32) {
        self.0 = (self.0 ^ u64::from(i as u32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Asks for a send buffer of `bytes` on a socket (`SO_SNDBUF`; the kernel caps it at `net.core.wmem_max` and
/// doubles it).
pub fn set_send_buffer(sock: &impl std::os::fd::AsRawFd, bytes: usize) -> std::io::Result<()> {
    let v: libc::c_int = bytes.try_into().unwrap_or(libc::c_int::MAX);
    // SAFETY: `v` is a live c_int and its size is passed with it; the descriptor is valid for `sock`'s lifetime.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Reads what a non-blocking socket has (one `read(2)`) into the spare capacity of `buf`, growing it first
/// when less than 4 KiB is free. `Ok(0)` means the peer closed; `WouldBlock` means nothing to read.
pub fn read_buf(
    sock: &std::os::unix::net::UnixStream,
    buf: &mut BytesMut,
) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 4096 {
        buf.reserve(16 * 1024);
    }
    let n = read_into(sock, buf.spare_capacity_mut())?;
    // SAFETY: `read_into` initialized the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// One non-blocking `read(2)` into `spare`; returns how many of its first bytes it initialized.
pub(crate) fn read_into(
    sock: &std::os::unix::net::UnixStream,
    spare: &mut [std::mem::MaybeUninit<u8>],
) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: read(2) writes at most `spare.len()` bytes into `spare`.
    let n = unsafe { libc::read(sock.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// The CONNECT message a client sends: `:version` 0.1.0 and `{"authToken":"…"}`.
pub fn connect_frame(auth_token: &str) -> Frame {
    let payload =
        serde_json::to_vec(&serde_json::json!({ "authToken": auth_token })).unwrap_or_default();
    Frame {
        other_headers: vec![Header::with_static(
            names::VERSION,
            HeaderValue::String(ByteStr::from_static(PROTOCOL_VERSION)),
        )],
        payload: payload.into(),
        ..Frame::bare(MessageType::Connect, 0, 0)
    }
}

/// A connection-level error (PROTOCOL_ERROR or INTERNAL_ERROR) with one of the [`errors`] payloads.
pub fn connection_error(message_type: MessageType, payload: &'static str) -> Frame {
    Frame {
        content_type: Some(ByteStr::from_static(CONTENT_TYPE_JSON)),
        payload: Bytes::from_static(payload.as_bytes()),
        ..Frame::bare(message_type, 0, 0)
    }
}

/// The reply to a PING: PING_RESPONSE with the same payload and every header not starting with `:`.
pub fn ping_response(ping: &Frame) -> Frame {
    Frame {
        other_headers: ping
            .other_headers
            .iter()
            .filter(|h| !h.name.starts_with(':'))
            .cloned()
            .collect(),
        payload: ping.payload.clone(),
        ..Frame::bare(MessageType::PingResponse, 0, 0)
    }
}

#[cfg(test)]
mod tests;
