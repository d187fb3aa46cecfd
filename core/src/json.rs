//! JSON bodies with base64 blobs written and read without extra passes.
//!
//! A blob member (`model::blob`) is standard padded base64 in JSON. Serialized the plain serde way, its bytes are
//! first encoded into a fresh `String`, then scanned byte by byte for characters to escape (the base64 alphabet
//! has none) while being copied into the body. [`to_vec`] instead has each blob encoded (SIMD) straight into the
//! body buffer: no intermediate string, no escape scan. Reading, the blob's text is taken as borrowed bytes from
//! the body (no `String` allocated, no UTF-8 pass: the base64 check rejects anything outside the alphabet) and
//! decoded once into the result.
//!
//! How the blob knows: [`to_vec`] runs the serializer with [`BlobFormatter`] and marks the thread for the
//! duration; a blob then goes out through `serialize_bytes`, which serde_json hands to the formatter's
//! `write_byte_array`. Any other serializer (and `serde_json::to_vec` itself) gets the blob as a base64 string,
//! so the JSON is the same either way.

use serde::Serialize;
use std::cell::{Cell, RefCell};
use std::io;

thread_local! {
    /// Set while [`to_vec`] serializes on this thread.
    static RAW_BLOBS: Cell<bool> = const { Cell::new(false) };
}

/// Whether a blob being serialized on this thread may go out as bytes (to [`BlobFormatter`]).
#[inline]
pub(crate) fn raw_blobs() -> bool {
    RAW_BLOBS.with(Cell::get)
}

/// Restores the thread's mark when serialization ends, also by unwinding.
struct Mark(bool);

impl Mark {
    #[inline]
    fn set() -> Mark {
        Mark(RAW_BLOBS.with(|c| c.replace(true)))
    }
}

impl Drop for Mark {
    #[inline]
    fn drop(&mut self) {
        RAW_BLOBS.with(|c| c.set(self.0));
    }
}

/// The output, shared by the serializer's writer and the formatter (so a blob is encoded in place).
struct Out<'a>(&'a RefCell<Vec<u8>>);

// `#[inline]`: the serializer is instantiated in the crate that serializes (a binding's crate for its calls),
// and without it every piece of JSON written would be a call into this crate.
impl io::Write for Out<'_> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(())
    }

    #[inline]
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// serde_json's compact format, except that a byte array is a base64 string encoded into the output directly.
struct BlobFormatter<'a>(&'a RefCell<Vec<u8>>);

impl serde_json::ser::Formatter for BlobFormatter<'_> {
    fn write_byte_array<W: ?Sized + io::Write>(
        &mut self,
        _writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        // `_writer` is an `Out` over the same buffer, and serde_json does not buffer: appending here keeps the
        // order of everything written.
        let mut out = self.0.borrow_mut();
        // Room for the members after the blob too, so they do not regrow a large buffer.
        let room = base64_simd::STANDARD.encoded_length(value.len()) + 256;
        if out.capacity() - out.len() < room {
            crate::pool::grow(&mut out, room);
        }
        out.push(b'"');
        base64_simd::STANDARD.encode_append(value, &mut *out);
        out.push(b'"');
        Ok(())
    }
}

/// Serializes `value` as compact JSON, the same text as `serde_json::to_vec`, with blobs encoded in place.
/// `capacity` is a size hint for the body (a large blob's encoded size, say), to spare regrowing the buffer.
pub(crate) fn to_vec_with_capacity<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> serde_json::Result<Vec<u8>> {
    let buf = RefCell::new(crate::pool::buffer(capacity));
    {
        let _mark = Mark::set();
        let mut ser = serde_json::Serializer::with_formatter(Out(&buf), BlobFormatter(&buf));
        value.serialize(&mut ser)?;
    }
    Ok(buf.into_inner())
}

/// [`to_vec_with_capacity`] with an initial buffer that holds a small request or event whole, with the room a blob
/// reserves after itself: a 64-byte publish is encoded with no regrowth (a `realloc`, about 700 instructions of the
/// 10,000 a synchronous publish takes; callgrind of `bench/cpp`'s loops). 128 bytes was used before because 512
/// had made the C++ client's 128 KiB publishes about 35 % slower with client and nucleus on one CPU; that came from
/// glibc trimming its heap (large bodies now come from [`crate::pool`]), and measured again (15 alternating
/// rounds, `--placement same`) 512 is within noise of 128 at 128 KiB.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Vec<u8>> {
    to_vec_with_capacity(value, 512)
}

/// [`to_vec_with_capacity`] as the `Bytes` of a frame: a large body's buffer goes back to the pool (see
/// [`crate::pool`]) once the frame has been written and the last `Bytes` of it dropped.
pub(crate) fn to_bytes_with_capacity<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> serde_json::Result<bytes::Bytes> {
    to_vec_with_capacity(value, capacity).map(crate::pool::into_bytes)
}

/// [`to_vec`] as the `Bytes` of a frame (see [`to_bytes_with_capacity`]).
pub(crate) fn to_bytes<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<bytes::Bytes> {
    to_vec(value).map(crate::pool::into_bytes)
}

/// `serialize_with` for a blob member held as a byte slice (the same text as `model::blob`).
pub(crate) fn serialize_blob<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if raw_blobs() {
        s.serialize_bytes(b)
    } else {
        s.serialize_str(&encode_base64(b))
    }
}

/// Size hint for a body carrying a blob of `len` bytes.
pub(crate) fn capacity_for_blob(len: usize) -> usize {
    base64_simd::STANDARD.encoded_length(len) + 512
}

/// Decodes standard padded base64 (canonical: padding required, unused bits zero), as the `base64` crate's
/// `STANDARD` engine does.
///
/// A large result is decoded into a recycled buffer (see [`crate::pool`]): the paths that consume a payload without
/// keeping it (the C binding lends an event to its callback) give it back afterwards.
pub(crate) fn decode_base64(text: &[u8]) -> Result<Vec<u8>, base64_simd::Error> {
    let approx = text.len() / 4 * 3;
    if approx < crate::pool::MIN {
        return base64_simd::STANDARD.decode_to_vec(text);
    }
    let mut out = crate::pool::buffer(approx);
    match base64_simd::STANDARD.decode_append(text, &mut out) {
        Ok(()) => Ok(out),
        Err(e) => {
            crate::pool::give_back(out);
            Err(e)
        }
    }
}

/// Encodes standard padded base64.
pub(crate) fn encode_base64(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// Base64 text of a request member, borrowed from the body when it has no JSON escapes; decoded later, so
/// that validation keeps the nucleus' order of checks.
#[derive(Debug)]
pub(crate) struct Base64Text<'a>(pub std::borrow::Cow<'a, [u8]>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Base64Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(TextVisitor)
    }
}

impl Base64Text<'_> {
    pub(crate) fn decode(&self) -> Result<Vec<u8>, base64_simd::Error> {
        decode_base64(&self.0)
    }
}

struct TextVisitor;

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = Base64Text<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_bytes<E>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        Ok(Base64Text(std::borrow::Cow::Borrowed(v)))
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
        Ok(Base64Text(std::borrow::Cow::Owned(v.to_vec())))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Base64Text(std::borrow::Cow::Borrowed(v.as_bytes())))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Base64Text(std::borrow::Cow::Owned(v.as_bytes().to_vec())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Base64Text(std::borrow::Cow::Owned(v.into_bytes())))
    }
}

#[cfg(test)]
mod tests;
