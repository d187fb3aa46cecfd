//! Header names and values (docs/PROTOCOL.md §2.3).

use super::{FrameError, MAX_HEADER_VALUE_LEN};
use bytes::{BufMut, Bytes, BytesMut};
use std::fmt;

/// An immutable UTF-8 string backed by [`Bytes`], so decoded header names and values share the frame's
/// buffer instead of being copied.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ByteStr(Bytes);

impl ByteStr {
    /// A string from a static literal, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        ByteStr(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps `bytes` after checking it is UTF-8.
    #[inline]
    pub fn from_utf8(bytes: Bytes) -> Result<Self, FrameError> {
        std::str::from_utf8(&bytes).map_err(|_| FrameError::InvalidUtf8)?;
        Ok(ByteStr(bytes))
    }

    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor takes a `str`/`String` or checks the bytes with `from_utf8`, and the
        // bytes are immutable afterwards.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for ByteStr {
    fn from(s: String) -> Self {
        ByteStr(Bytes::from(s.into_bytes()))
    }
}

impl From<&str> for ByteStr {
    fn from(s: &str) -> Self {
        ByteStr(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl std::ops::Deref for ByteStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ByteStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ByteStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ByteStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A typed header value. Type bytes: 0/1 bool, 2 byte, 3 int16, 4 int32, 5 int64, 6 byte buffer, 7 string,
/// 8 timestamp (milliseconds since the Unix epoch), 9 UUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderValue {
    Bool(bool),
    Byte(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    ByteBuf(Bytes),
    String(ByteStr),
    Timestamp(i64),
    Uuid([u8; 16]),
}

impl HeaderValue {
    /// The wire type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            HeaderValue::Bool(true) => 0,
            HeaderValue::Bool(false) => 1,
            HeaderValue::Byte(_) => 2,
            HeaderValue::Int16(_) => 3,
            HeaderValue::Int32(_) => 4,
            HeaderValue::Int64(_) => 5,
            HeaderValue::ByteBuf(_) => 6,
            HeaderValue::String(_) => 7,
            HeaderValue::Timestamp(_) => 8,
            HeaderValue::Uuid(_) => 9,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn as_i32(&self) -> Option<i32> {
        match self {
            HeaderValue::Int32(v) => Some(*v),
            _ => None,
        }
    }

    fn value_len(&self) -> usize {
        match self {
            HeaderValue::Bool(_) => 0,
            HeaderValue::Byte(_) => 1,
            HeaderValue::Int16(_) => 2,
            HeaderValue::Int32(_) => 4,
            HeaderValue::Int64(_) | HeaderValue::Timestamp(_) => 8,
            HeaderValue::ByteBuf(b) => 2 + b.len(),
            HeaderValue::String(s) => 2 + s.len(),
            HeaderValue::Uuid(_) => 16,
        }
    }
}

/// One header: a name of 1..=255 UTF-8 bytes and a typed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub name: ByteStr,
    pub value: HeaderValue,
}

impl Header {
    pub fn new(name: impl Into<ByteStr>, value: HeaderValue) -> Self {
        Header {
            name: name.into(),
            value,
        }
    }

    /// A header with a static name, without allocating.
    pub const fn with_static(name: &'static str, value: HeaderValue) -> Self {
        Header {
            name: ByteStr::from_static(name),
            value,
        }
    }

    pub(crate) fn encoded_len(&self) -> Result<usize, FrameError> {
        if self.name.is_empty() {
            return Err(FrameError::EmptyHeaderName);
        }
        if self.name.len() > u8::MAX as usize {
            return Err(FrameError::HeaderNameTooLong {
                len: self.name.len(),
            });
        }
        if let HeaderValue::ByteBuf(b) = &self.value {
            if b.len() > MAX_HEADER_VALUE_LEN {
                return Err(FrameError::HeaderValueTooLong { len: b.len() });
            }
        }
        if let HeaderValue::String(s) = &self.value {
            if s.len() > MAX_HEADER_VALUE_LEN {
                return Err(FrameError::HeaderValueTooLong { len: s.len() });
            }
        }
        Ok(1 + self.name.len() + 1 + self.value.value_len())
    }

    /// Writes the header; the caller has validated it with `encoded_len`.
    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        dst.put_u8(self.name.len() as u8);
        dst.put_slice(self.name.as_bytes());
        dst.put_u8(self.value.type_byte());
        match &self.value {
            HeaderValue::Bool(_) => {}
            HeaderValue::Byte(v) => dst.put_i8(*v),
            HeaderValue::Int16(v) => dst.put_i16(*v),
            HeaderValue::Int32(v) => dst.put_i32(*v),
            HeaderValue::Int64(v) | HeaderValue::Timestamp(v) => dst.put_i64(*v),
            HeaderValue::ByteBuf(b) => {
                dst.put_u16(b.len() as u16);
                dst.put_slice(b);
            }
            HeaderValue::String(s) => {
                dst.put_u16(s.len() as u16);
                dst.put_slice(s.as_bytes());
            }
            HeaderValue::Uuid(u) => dst.put_slice(u),
        }
    }

    /// Reads one header at the cursor of a header block (inline: it runs for every header of every frame read,
    /// and the frame decoder should not depend on landing in the same codegen unit). Names and string values
    /// share the frame's buffer; the names and values every RPC message carries are the static ones.
    #[inline]
    pub(crate) fn decode(block: &mut Block<'_>) -> Result<Header, FrameError> {
        let name_len = block.take(1)?[0] as usize;
        if name_len == 0 {
            return Err(FrameError::EmptyHeaderName);
        }
        let name = block.take_str(name_len)?;
        let type_byte = block.take(1)?[0];
        let value = match type_byte {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(block.take(1)?[0] as i8),
            3 => HeaderValue::Int16(i16::from_be_bytes(block.take_array()?)),
            4 => HeaderValue::Int32(i32::from_be_bytes(block.take_array()?)),
            5 => HeaderValue::Int64(i64::from_be_bytes(block.take_array()?)),
            6 | 7 => {
                let len = u16::from_be_bytes(block.take_array()?) as usize;
                if len > MAX_HEADER_VALUE_LEN {
                    return Err(FrameError::HeaderValueTooLong { len });
                }
                if type_byte == 6 {
                    HeaderValue::ByteBuf(block.take_bytes(len)?)
                } else {
                    HeaderValue::String(block.take_str(len)?)
                }
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(block.take_array()?)),
            9 => HeaderValue::Uuid(block.take_array()?),
            other => return Err(FrameError::UnknownHeaderType(other)),
        };
        Ok(Header { name, value })
    }
}

/// Header names and string values that most messages carry: decoded as these static strings, they are neither
/// validated again nor counted references to the frame's buffer.
const COMMON: [&str; 8] = [
    ":message-type",
    ":message-flags",
    ":stream-id",
    ":content-type",
    "application/json",
    "service-model-type",
    "operation",
    ":version",
];

/// A cursor over a frame's header block.
pub(crate) struct Block<'a> {
    frame: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Block<'a> {
    /// The bytes `start..end` of `frame` (within it).
    pub(crate) fn new(frame: &'a Bytes, start: usize, end: usize) -> Self {
        Block {
            frame,
            pos: start,
            end,
        }
    }

    pub(crate) fn has_remaining(&self) -> bool {
        self.pos < self.end
    }

    /// The next `n` bytes, borrowed.
    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], FrameError> {
        if self.end - self.pos < n {
            return Err(FrameError::HeaderTruncated);
        }
        let frame: &'a Bytes = self.frame;
        let b = &frame[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    #[inline]
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], FrameError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// The next `n` bytes, sharing the frame's buffer.
    #[inline]
    fn take_bytes(&mut self, n: usize) -> Result<Bytes, FrameError> {
        let at = self.pos;
        self.take(n)?;
        Ok(self.frame.slice(at..at + n))
    }

    /// The next `n` bytes as a UTF-8 string.
    #[inline]
    fn take_str(&mut self, n: usize) -> Result<ByteStr, FrameError> {
        let at = self.pos;
        let b = self.take(n)?;
        if let Some(s) = COMMON.iter().find(|s| s.as_bytes() == b) {
            return Ok(ByteStr::from_static(s));
        }
        std::str::from_utf8(b).map_err(|_| FrameError::InvalidUtf8)?;
        Ok(ByteStr(self.frame.slice(at..at + n)))
    }
}
