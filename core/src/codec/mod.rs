//! Event-stream message framing (docs/PROTOCOL.md §2): a sans-IO encoder and a streaming decoder over [`bytes`], plus a
//! [`tokio_util::codec`] adapter.
//!
//! Layout of one message: `total_length u32 | headers_length u32 | prelude_crc u32 | headers | payload |
//! message_crc u32`, all big-endian; both CRCs are IEEE CRC-32 and the message CRC covers everything before it.
//!
//! Decoding untrusted bytes never panics and never allocates more than [`Limits::max_message_size`]:
//! the prelude CRC is checked before any length is trusted, and every length computation is checked.
//! "Need more bytes" (`Ok(None)`) and "invalid" (`Err`) are different results.

mod header;

pub use header::{ByteStr, Header, HeaderValue};

use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// Size of the prelude (`total_length`, `headers_length`, `prelude_crc`).
pub const PRELUDE_LEN: usize = 12;
/// Fixed overhead of a message: prelude plus trailing message CRC.
pub const OVERHEAD: usize = PRELUDE_LEN + 4;
/// Largest message the official C codec accepts (24 MiB).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 24 * 1024 * 1024;
/// Longest string or byte-buffer header value (`INT16_MAX`, as the C codec enforces).
pub const MAX_HEADER_VALUE_LEN: usize = i16::MAX as usize;
/// Most headers the C codec decodes in one message.
pub const MAX_HEADERS: usize = 1024;

/// One event-stream message: headers plus an opaque payload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub headers: Vec<Header>,
    pub payload: Bytes,
}

impl Message {
    /// The first header with this exact name.
    pub fn header(&self, name: &str) -> Option<&HeaderValue> {
        self.headers
            .iter()
            .find(|h| h.name.as_str() == name)
            .map(|h| &h.value)
    }
}

/// Decoder limits. The defaults are the official C codec's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted `total_length`, in bytes (at least 16).
    pub max_message_size: usize,
    /// Most headers accepted in one message.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_headers: MAX_HEADERS,
        }
    }
}

/// Which framing rule a message broke.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The prelude CRC does not match the first 8 bytes.
    PreludeCrcMismatch { expected: u32, computed: u32 },
    /// The message CRC does not match.
    MessageCrcMismatch { expected: u32, computed: u32 },
    /// `total_length` is below the 16-byte minimum.
    MessageTooShort { total_length: u32 },
    /// `total_length` exceeds the configured limit.
    MessageTooLarge { total_length: usize, max: usize },
    /// `headers_length` does not fit inside `total_length - 16`.
    HeadersLengthInvalid {
        headers_length: u32,
        total_length: u32,
    },
    /// A header crosses the end of the header block.
    HeaderTruncated,
    /// A header name has length 0.
    EmptyHeaderName,
    /// A header value type byte outside 0..=9.
    UnknownHeaderType(u8),
    /// A string or byte-buffer value longer than 32 767 bytes.
    HeaderValueTooLong { len: usize },
    /// More headers than the configured limit.
    TooManyHeaders { max: usize },
    /// A header name or string value that is not UTF-8.
    InvalidUtf8,
    /// A header name longer than 255 bytes (encoder side).
    HeaderNameTooLong { len: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::PreludeCrcMismatch { expected, computed } => {
                write!(
                    f,
                    "prelude CRC mismatch: message says {expected:08x}, computed {computed:08x}"
                )
            }
            FrameError::MessageCrcMismatch { expected, computed } => {
                write!(
                    f,
                    "message CRC mismatch: message says {expected:08x}, computed {computed:08x}"
                )
            }
            FrameError::MessageTooShort { total_length } => {
                write!(
                    f,
                    "total length {total_length} is below the 16-byte minimum"
                )
            }
            FrameError::MessageTooLarge { total_length, max } => {
                write!(
                    f,
                    "message of {total_length} bytes exceeds the limit of {max} bytes"
                )
            }
            FrameError::HeadersLengthInvalid {
                headers_length,
                total_length,
            } => write!(
                f,
                "headers length {headers_length} does not fit in a message of {total_length} bytes"
            ),
            FrameError::HeaderTruncated => {
                f.write_str("a header crosses the end of the header block")
            }
            FrameError::EmptyHeaderName => f.write_str("a header name is empty"),
            FrameError::UnknownHeaderType(t) => write!(f, "unknown header value type {t}"),
            FrameError::HeaderValueTooLong { len } => {
                write!(
                    f,
                    "header value of {len} bytes exceeds the limit of {MAX_HEADER_VALUE_LEN} bytes"
                )
            }
            FrameError::TooManyHeaders { max } => {
                write!(f, "more than {max} headers in one message")
            }
            FrameError::InvalidUtf8 => {
                f.write_str("a header name or string value is not valid UTF-8")
            }
            FrameError::HeaderNameTooLong { len } => {
                write!(
                    f,
                    "header name of {len} bytes exceeds the limit of 255 bytes"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Encoded size of `msg`, or the rule it breaks.
pub fn encoded_len(headers: &[Header], payload_len: usize) -> Result<usize, FrameError> {
    let mut headers_len = 0usize;
    for h in headers {
        headers_len += h.encoded_len()?;
    }
    Ok(OVERHEAD + headers_len + payload_len)
}

/// Appends the encoding of a message made of `headers` and `payload` to `dst`.
///
/// Fails (and leaves `dst` as it was) when a header breaks a codec rule or the message would exceed
/// `max_message_size`.
pub fn encode_parts(
    headers: &[Header],
    payload: &[u8],
    max_message_size: usize,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    let total = encoded_len(headers, payload.len())?;
    if total > max_message_size || total > u32::MAX as usize {
        return Err(FrameError::MessageTooLarge {
            total_length: total,
            max: max_message_size,
        });
    }
    let headers_len = total - OVERHEAD - payload.len();
    let start = dst.len();
    dst.reserve(total);
    dst.put_u32(total as u32);
    dst.put_u32(headers_len as u32);
    let prelude_crc = crc32fast::hash(&dst[start..start + 8]);
    dst.put_u32(prelude_crc);
    for h in headers {
        h.encode(dst);
    }
    dst.put_slice(payload);
    let mut hasher = crc32fast::Hasher::new_with_initial(prelude_crc);
    hasher.update(&dst[start + 8..]);
    dst.put_u32(hasher.finalize());
    Ok(())
}

/// Appends the start of a message (prelude and headers) for a payload of `payload_len` bytes that the caller
/// sends on its own (say, as a separate segment of a vectored write, without copying it), and returns the CRC
/// of the bytes appended. The message is then: those bytes, the payload, and the big-endian
/// [`message_crc`]`(returned, payload)`. Same checks and errors as [`encode_parts`].
pub fn encode_head(
    headers: &[Header],
    payload_len: usize,
    max_message_size: usize,
    dst: &mut BytesMut,
) -> Result<u32, FrameError> {
    let total = encoded_len(headers, payload_len)?;
    if total > max_message_size || total > u32::MAX as usize {
        return Err(FrameError::MessageTooLarge {
            total_length: total,
            max: max_message_size,
        });
    }
    let headers_len = total - OVERHEAD - payload_len;
    let start = dst.len();
    dst.reserve(PRELUDE_LEN + headers_len);
    dst.put_u32(total as u32);
    dst.put_u32(headers_len as u32);
    let prelude_crc = crc32fast::hash(&dst[start..start + 8]);
    dst.put_u32(prelude_crc);
    for h in headers {
        h.encode(dst);
    }
    let mut hasher = crc32fast::Hasher::new_with_initial(prelude_crc);
    hasher.update(&dst[start + 8..]);
    Ok(hasher.finalize())
}

/// The message CRC of a message whose start (see [`encode_head`]) has CRC `head_crc`, followed by `payload`.
pub fn message_crc(head_crc: u32, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new_with_initial(head_crc);
    hasher.update(payload);
    hasher.finalize()
}

/// Appends the encoding of `msg` to `dst` (see [`encode_parts`]).
pub fn encode(
    msg: &Message,
    max_message_size: usize,
    dst: &mut BytesMut,
) -> Result<(), FrameError> {
    encode_parts(&msg.headers, &msg.payload, max_message_size, dst)
}

/// Checks the prelude at the start of `buf` and returns the message's total length, or `Ok(None)` if fewer
/// than 12 bytes are buffered.
pub fn check_prelude(buf: &[u8], limits: &Limits) -> Result<Option<usize>, FrameError> {
    if buf.len() < PRELUDE_LEN {
        return Ok(None);
    }
    let total = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let headers_len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
    let expected = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    let computed = crc32fast::hash(&buf[..8]);
    if expected != computed {
        return Err(FrameError::PreludeCrcMismatch { expected, computed });
    }
    if (total as usize) < OVERHEAD {
        return Err(FrameError::MessageTooShort {
            total_length: total,
        });
    }
    if total as usize > limits.max_message_size {
        return Err(FrameError::MessageTooLarge {
            total_length: total as usize,
            max: limits.max_message_size,
        });
    }
    if headers_len > total - OVERHEAD as u32 {
        return Err(FrameError::HeadersLengthInvalid {
            headers_length: headers_len,
            total_length: total,
        });
    }
    Ok(Some(total as usize))
}

/// Streaming decode: removes one whole message from the front of `buf` and returns it, returns `Ok(None)` when
/// more bytes are needed (reserving room for the rest of the message, never beyond the limit), or an error
/// naming the broken rule. After an error the stream is unusable: close the connection.
pub fn decode(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Message>, FrameError> {
    let Some(total) = check_prelude(buf, limits)? else {
        return Ok(None);
    };
    if buf.len() < total {
        buf.reserve(total - buf.len());
        return Ok(None);
    }
    let frame = buf.split_to(total).freeze();
    decode_frame(frame, limits).map(Some)
}

/// Decodes exactly one whole message held in `bytes` (trailing bytes are an error).
pub fn decode_message(bytes: &[u8], limits: &Limits) -> Result<Message, FrameError> {
    match check_prelude(bytes, limits)? {
        Some(total) if total == bytes.len() => decode_frame(Bytes::copy_from_slice(bytes), limits),
        Some(total) => Err(FrameError::HeadersLengthInvalid {
            headers_length: 0,
            total_length: total.min(u32::MAX as usize) as u32,
        }),
        None => Err(FrameError::MessageTooShort {
            total_length: bytes.len() as u32,
        }),
    }
}

pub(crate) fn decode_frame(frame: Bytes, limits: &Limits) -> Result<Message, FrameError> {
    let total = frame.len();
    let expected = u32::from_be_bytes([
        frame[total - 4],
        frame[total - 3],
        frame[total - 2],
        frame[total - 1],
    ]);
    let computed = crc32fast::hash(&frame[..total - 4]);
    if expected != computed {
        return Err(FrameError::MessageCrcMismatch { expected, computed });
    }
    let headers_len = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]) as usize;
    let mut block = header::Block::new(&frame, PRELUDE_LEN, PRELUDE_LEN + headers_len);
    let payload = frame.slice(PRELUDE_LEN + headers_len..total - 4);
    let mut headers = Vec::with_capacity(8);
    while block.has_remaining() {
        if headers.len() >= limits.max_headers {
            return Err(FrameError::TooManyHeaders {
                max: limits.max_headers,
            });
        }
        headers.push(Header::decode(&mut block)?);
    }
    Ok(Message { headers, payload })
}

/// [`tokio_util::codec`] adapter for event-stream messages.
#[derive(Clone, Debug, Default)]
pub struct EventStreamCodec {
    pub limits: Limits,
}

impl EventStreamCodec {
    pub fn new(limits: Limits) -> Self {
        EventStreamCodec { limits }
    }
}

/// Error of [`EventStreamCodec`]: I/O or a broken framing rule.
#[derive(Debug)]
pub enum CodecError {
    Io(std::io::Error),
    Frame(FrameError),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Io(e) => write!(f, "I/O error: {e}"),
            CodecError::Frame(e) => write!(f, "invalid event-stream message: {e}"),
        }
    }
}

impl std::error::Error for CodecError {}

impl From<std::io::Error> for CodecError {
    fn from(e: std::io::Error) -> Self {
        CodecError::Io(e)
    }
}

impl tokio_util::codec::Decoder for EventStreamCodec {
    type Item = Message;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Message>, CodecError> {
        decode(src, &self.limits).map_err(CodecError::Frame)
    }
}

impl tokio_util::codec::Encoder<&Message> for EventStreamCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode(item, self.limits.max_message_size, dst).map_err(CodecError::Frame)
    }
}

impl tokio_util::codec::Encoder<Message> for EventStreamCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Message, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode(&item, self.limits.max_message_size, dst).map_err(CodecError::Frame)
    }
}

#[cfg(test)]
mod tests;
