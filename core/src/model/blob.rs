//! Blobs as standard padded base64 strings (`Option<Vec<u8>>`); `null` reads as absent.
//!
//! Written through `crate::json::to_vec`, a blob is encoded straight into the body (see that module); read, its
//! text is borrowed from the body where serde_json allows and decoded once.

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;
use std::fmt;

pub fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => crate::json::serialize_blob(b, s),
        None => s.serialize_none(),
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    d.deserialize_option(OptionVisitor)
}

struct OptionVisitor;

impl<'de> Visitor<'de> for OptionVisitor {
    type Value = Option<Vec<u8>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a base64 string or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        // `deserialize_bytes`: serde_json hands over the string's bytes (unescaped), borrowed when it can, with
        // no UTF-8 pass; the decoder accepts only the base64 alphabet anyway.
        d.deserialize_bytes(BlobVisitor).map(Some)
    }
}

struct BlobVisitor;

impl BlobVisitor {
    fn decode<E: de::Error>(text: &[u8]) -> Result<Vec<u8>, E> {
        crate::json::decode_base64(text).map_err(E::custom)
    }
}

impl<'de> Visitor<'de> for BlobVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        Self::decode(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Self::decode(v.as_bytes())
    }
}
