//! Blob members across a language boundary: bytes on the language's side, standard padded base64 in the JSON
//! body, encoded and decoded here with the core's engine (`base64-simd`), so that no binding runs a base64
//! codec of its own or scans the base64 text a second time.
//!
//! * A binding that builds its request values natively (Python) writes a blob with [`write_blob`], and reads
//!   one into its own buffer with [`decoded_len`] and [`decode_into`].
//! * A binding that writes and reads JSON text itself (Java) uses *raw-blob JSON*: JSON text in which a blob
//!   value is the byte [`RAW_BLOB`] (0x00), the blob's length as 4 big-endian bytes, then its bytes. A 0x00 byte
//!   never occurs in JSON text (control characters are escaped inside strings and are not allowed outside
//!   them), so the form is unambiguous. [`expand`] turns a request in that form into JSON; [`collapse_event`]
//!   turns a body into that form by its shape's [`Layout`] (the base64 decoded here, once).

use ggipc::model::Layout;
use ggipc::{Error, ErrorKind};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The byte that starts a raw blob in raw-blob JSON.
pub const RAW_BLOB: u8 = 0;

/// Bytes of a raw blob's header (the marker and the length).
const HEADER: usize = 5;

/// Appends `bytes` as a JSON string of their standard padded base64 (no escape scan: the alphabet needs none).
pub fn write_blob(bytes: &[u8], out: &mut Vec<u8>) {
    // Room for the members after the blob too, so they do not regrow a large buffer.
    out.reserve(base64_simd::STANDARD.encoded_length(bytes.len()) + 256);
    out.push(b'"');
    base64_simd::STANDARD.encode_append(bytes, out);
    out.push(b'"');
}

fn bad_base64(e: base64_simd::Error) -> Error {
    Error::new(
        ErrorKind::Unmapped,
        format!("invalid base64 in a blob: {e}"),
    )
}

/// The number of bytes `text` (standard padded base64, canonical) decodes to.
pub fn decoded_len(text: &[u8]) -> Result<usize, Error> {
    base64_simd::STANDARD
        .decoded_length(text)
        .map_err(bad_base64)
}

/// Decodes `text` into `out`, which is [`decoded_len`] bytes long; the same rules as the core's reader
/// (padding required, unused bits zero).
pub fn decode_into(text: &[u8], out: &mut [u8]) -> Result<(), Error> {
    base64_simd::STANDARD
        .decode(text, base64_simd::Out::from_slice(out))
        .map(|_| ())
        .map_err(bad_base64)
}

fn malformed() -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        "malformed raw blob in a request body",
    )
}

/// A request body in raw-blob JSON as JSON: each raw blob becomes its base64 string. A body without raw blobs
/// is returned as it is.
pub fn expand(body: Vec<u8>) -> Result<Vec<u8>, Error> {
    Ok(expand_if_raw(&body)?.unwrap_or(body))
}

/// [`expand`] of a borrowed body (a Java array read in place, say): the JSON is written once, blobs included.
pub fn expand_slice(body: &[u8]) -> Result<Vec<u8>, Error> {
    Ok(expand_if_raw(body)?.unwrap_or_else(|| body.to_vec()))
}

/// The JSON of a raw-blob body, `None` when it has no raw blob (the body is its own JSON).
fn expand_if_raw(body: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    // Where the raw blobs are (the JSON text between them is short; the blobs are skipped by their length).
    let mut blobs = Vec::new();
    let mut pos = 0;
    let mut size = 0;
    while let Some(i) = body[pos..].iter().position(|&b| b == RAW_BLOB) {
        let start = pos + i;
        let len_bytes: [u8; 4] = body
            .get(start + 1..start + HEADER)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(malformed)?;
        let len = u32::from_be_bytes(len_bytes) as usize;
        let end = (start + HEADER).checked_add(len).ok_or_else(malformed)?;
        if end > body.len() {
            return Err(malformed());
        }
        size += base64_simd::STANDARD.encoded_length(len) + 2;
        blobs.push((start, end));
        pos = end;
    }
    if blobs.is_empty() {
        return Ok(None);
    }
    let text: usize = body.len() - blobs.iter().map(|(s, e)| e - s).sum::<usize>();
    let mut out = Vec::with_capacity(text + size);
    let mut prev = 0;
    for (start, end) in blobs {
        out.extend_from_slice(&body[prev..start]);
        out.push(b'"');
        base64_simd::STANDARD.encode_append(&body[start + HEADER..end], &mut out);
        out.push(b'"');
        prev = end;
    }
    out.extend_from_slice(&body[prev..]);
    Ok(Some(out))
}

/// A body (a stream event, say) with the blob members its shape's `layout` names in raw-blob form, decoded
/// once. `None` when there is nothing to change, or when the body is not what the layout says (not JSON, a
/// blob that is not canonical base64, a blob string with JSON escapes): the binding then reads the body as it
/// is and reports what is wrong in its own words.
pub fn collapse_event(json: &[u8], layout: &'static [(&'static str, Layout)]) -> Option<Vec<u8>> {
    let plan = Collapse::plan(json, layout)?;
    let mut out = vec![0; plan.len()];
    plan.write(&mut out)?;
    Some(out)
}

/// [`collapse_event`] in two steps, so that the result can be written straight into memory of the binding's own
/// (a Java array, say): [`plan`](Self::plan) finds the blobs and the size, [`write`](Self::write) fills it.
pub struct Collapse<'a> {
    json: &'a [u8],
    /// Each blob string's content (`start..end` of `json`) and its decoded length.
    spans: Vec<(usize, usize, usize)>,
    len: usize,
}

impl<'a> Collapse<'a> {
    /// `None` as for [`collapse_event`]: nothing to change, or a body that is not what the layout says.
    pub fn plan(json: &'a [u8], layout: &'static [(&'static str, Layout)]) -> Option<Self> {
        let mut found = Vec::new();
        {
            let mut de = serde_json::Deserializer::from_slice(json);
            Walk {
                base: json.as_ptr() as usize,
                kind: Layout::Shape(layout),
                spans: &mut found,
            }
            .deserialize(&mut de)
            .ok()?;
            de.end().ok()?;
        }
        if found.is_empty() {
            return None;
        }
        let mut spans = Vec::with_capacity(found.len());
        let mut len = json.len();
        for (start, end) in found {
            // `start..end` is the string's content: its quotes are the bytes either side.
            let n = decoded_len(json.get(start..end)?).ok()?;
            u32::try_from(n).ok()?;
            // The quoted text becomes the marker, the 4-byte length and the bytes.
            len = len - (end - start + 2) + HEADER + n;
            spans.push((start, end, n));
        }
        Some(Collapse { json, spans, len })
    }

    /// The size of the collapsed body.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the collapsed body is empty (never: it holds at least one blob's marker).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the collapsed body into `out` ([`len`](Self::len) bytes); `None` when a blob is not canonical
    /// base64 or `out` has another size (`out` is then partly written).
    pub fn write(&self, out: &mut [u8]) -> Option<()> {
        if out.len() != self.len {
            return None;
        }
        let (json, mut prev) = (self.json, 0);
        let mut rest = out;
        for &(start, end, n) in &self.spans {
            let text = json.get(prev..start.checked_sub(1)?)?;
            take(&mut rest, text.len())?.copy_from_slice(text);
            take(&mut rest, 1)?[0] = RAW_BLOB;
            take(&mut rest, 4)?.copy_from_slice(&(n as u32).to_be_bytes());
            decode_into(json.get(start..end)?, take(&mut rest, n)?).ok()?;
            prev = end + 1;
        }
        let tail = json.get(prev..)?;
        take(&mut rest, tail.len())?.copy_from_slice(tail);
        rest.is_empty().then_some(())
    }
}

/// The next `n` bytes of `rest`, which then starts after them.
fn take<'o>(rest: &mut &'o mut [u8], n: usize) -> Option<&'o mut [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = std::mem::take(rest).split_at_mut(n);
    *rest = tail;
    Some(head)
}

/// Finds the blob strings of a value of `kind` (their content's offsets from `base`).
struct Walk<'a> {
    base: usize,
    kind: Layout,
    spans: &'a mut Vec<(usize, usize)>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.kind {
            Layout::Blob => d.deserialize_option(self),
            Layout::Document => d.deserialize_ignored_any(IgnoredAny).map(|_| ()),
            Layout::Shape(_) | Layout::List(_) => d.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value of the model")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_bytes(self)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<(), E> {
        let start = (v.as_ptr() as usize)
            .checked_sub(self.base)
            .ok_or_else(|| E::custom("not in the body"))?;
        self.spans.push((start, start + v.len()));
        Ok(())
    }

    fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<(), E> {
        // Unescaped into a scratch buffer: not a span of the body.
        Err(E::custom("a blob string with escapes"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Layout::Shape(members) = self.kind else {
            return Err(de::Error::custom("an object where the layout has none"));
        };
        while let Some(key) = map.next_key_seed(Key)? {
            match members.iter().find(|(n, _)| *n == key.as_ref()) {
                Some((_, kind)) => map.next_value_seed(Walk {
                    base: self.base,
                    kind: *kind,
                    spans: &mut *self.spans,
                })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Layout::List(kind) = self.kind else {
            return Err(de::Error::custom("a list where the layout has none"));
        };
        while seq
            .next_element_seed(Walk {
                base: self.base,
                kind: *kind,
                spans: &mut *self.spans,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// An object key, borrowed from the body when it has no escapes (a seed for `MapAccess::next_key_seed`).
pub struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = std::borrow::Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = std::borrow::Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(std::borrow::Cow::Owned(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ggipc::model::{IOT_CORE_MESSAGE_LAYOUT, SUBSCRIPTION_RESPONSE_MESSAGE_LAYOUT};

    fn raw(json_before: &[u8], blob: &[u8], json_after: &[u8]) -> Vec<u8> {
        let mut v = json_before.to_vec();
        v.push(RAW_BLOB);
        v.extend_from_slice(&(blob.len() as u32).to_be_bytes());
        v.extend_from_slice(blob);
        v.extend_from_slice(json_after);
        v
    }

    fn every_byte() -> Vec<u8> {
        (0..=255u8).collect()
    }

    #[test]
    fn expand_writes_base64_where_the_raw_blobs_are() {
        let blob = every_byte();
        let mut body = raw(
            b"{\"topicName\":\"t\",\"payload\":",
            &blob,
            b",\"correlationData\":",
        );
        body.push(RAW_BLOB);
        body.extend_from_slice(&0u32.to_be_bytes());
        body.extend_from_slice(b",\"qos\":\"1\"}");
        let json = expand_slice(&body).unwrap();
        assert_eq!(
            expand(body).unwrap(),
            json,
            "owned and borrowed bodies give the same JSON"
        );
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        let b64 = base64_simd::STANDARD.encode_to_string(&blob);
        assert_eq!(v["payload"], b64.as_str());
        assert_eq!(v["correlationData"], "");
        assert_eq!(v["qos"], "1");
        // a body without raw blobs is left alone
        assert_eq!(expand(b"{\"a\":1}".to_vec()).unwrap(), b"{\"a\":1}");
        assert_eq!(expand_slice(b"{\"a\":1}").unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn expand_refuses_a_truncated_raw_blob() {
        let mut body = raw(b"{\"payload\":", b"abc", b"}");
        body.truncate(body.len() - 3);
        assert_eq!(expand(body).unwrap_err().kind(), ErrorKind::InvalidArgument);
        assert!(expand(vec![b'{', RAW_BLOB, 0, 0]).is_err());
        assert!(expand(vec![RAW_BLOB, 255, 255, 255, 255]).is_err());
        assert!(expand_slice(&[RAW_BLOB, 255, 255, 255, 255]).is_err());
    }

    #[test]
    fn collapse_decodes_the_layouts_blobs_only() {
        let blob = every_byte();
        let b64 = base64_simd::STANDARD.encode_to_string(&blob);
        let json = format!(
            "{{\"message\":{{\"topicName\":\"payload\",\"payload\":\"{b64}\",\"correlationData\":\"\",\"x\":{{\"payload\":\"zz\"}}}}}}"
        );
        let out = collapse_event(json.as_bytes(), IOT_CORE_MESSAGE_LAYOUT).unwrap();
        let mut want = raw(
            b"{\"message\":{\"topicName\":\"payload\",\"payload\":",
            &blob,
            b",\"correlationData\":",
        );
        want.push(RAW_BLOB);
        want.extend_from_slice(&0u32.to_be_bytes());
        want.extend_from_slice(b",\"x\":{\"payload\":\"zz\"}}}");
        assert_eq!(out, want);
        // written in place by its plan: the same bytes, and only into a buffer of its size
        let plan = Collapse::plan(json.as_bytes(), IOT_CORE_MESSAGE_LAYOUT).unwrap();
        assert_eq!(plan.len(), want.len());
        let mut buf = vec![0xAA; plan.len()];
        plan.write(&mut buf).unwrap();
        assert_eq!(buf, want);
        assert_eq!(plan.write(&mut vec![0; plan.len() - 1]), None);
        assert_eq!(plan.write(&mut vec![0; plan.len() + 1]), None);
        // and expand takes it back to the base64 text
        let back = expand(out).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&back).unwrap();
        assert_eq!(v["message"]["payload"], b64.as_str());
    }

    #[test]
    fn collapse_leaves_documents_and_unusual_bodies_alone() {
        let l = SUBSCRIPTION_RESPONSE_MESSAGE_LAYOUT;
        // a JSON message: a document that happens to hold a "message" string
        let doc = br#"{"jsonMessage":{"message":{"message":"AAAA"},"context":{"topic":"t"}}}"#;
        assert_eq!(collapse_event(doc, l), None);
        let bin = br#"{"binaryMessage":{"message":"AAEC","context":{"topic":"t"}}}"#;
        let out = collapse_event(bin, l).unwrap();
        assert_eq!(
            out,
            raw(
                b"{\"binaryMessage\":{\"message\":",
                &[0, 1, 2],
                b",\"context\":{\"topic\":\"t\"}}}"
            )
        );
        // not canonical base64, escapes, a number, broken JSON: left to the binding's reader
        for bad in [
            &br#"{"binaryMessage":{"message":"AAE"}}"#[..],
            br#"{"binaryMessage":{"message":"AA\u0045C"}}"#,
            br#"{"binaryMessage":{"message":5}}"#,
            br#"{"binaryMessage":{"message":"AAEC"}"#,
            br#"{"binaryMessage":{"message":null}}"#,
        ] {
            assert_eq!(
                collapse_event(bad, l),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
