//! The shared wire vectors (`tests/vectors/*.json`, also loaded by the other languages' tests): every
//! vector decodes to the listed headers and payload, and re-encodes to the same bytes.
#![allow(clippy::unwrap_used)] // a test or example fails loudly on the first unexpected error

use bytes::{Bytes, BytesMut};
use ggipc::codec::{self, Header, HeaderValue, Limits, Message};
use ggipc::rpc::Frame;
use serde_json::Value;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn load(name: &str) -> Vec<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/vectors")
        .join(name);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn expected_header(h: &Value) -> Header {
    let name = h["name"].as_str().unwrap();
    let v = &h["value"];
    let value = match h["type"].as_str().unwrap() {
        "bool" => HeaderValue::Bool(v.as_bool().unwrap()),
        "byte" => HeaderValue::Byte(v.as_i64().unwrap() as i8),
        "int16" => HeaderValue::Int16(v.as_i64().unwrap() as i16),
        "int32" => HeaderValue::Int32(v.as_i64().unwrap() as i32),
        "int64" => HeaderValue::Int64(v.as_i64().unwrap()),
        "timestamp" => HeaderValue::Timestamp(v.as_i64().unwrap()),
        "bytes" => HeaderValue::ByteBuf(hex(v.as_str().unwrap()).into()),
        "string" => HeaderValue::String(v.as_str().unwrap().into()),
        "uuid" => HeaderValue::Uuid(hex(v.as_str().unwrap()).try_into().unwrap()),
        t => panic!("unknown type {t}"),
    };
    Header::new(name, value)
}

fn check(vectors: &[Value]) -> usize {
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let msg = codec::decode_message(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let headers: Vec<Header> = v["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(expected_header)
            .collect();
        let expected = Message {
            headers,
            payload: Bytes::from(hex(v["payload_hex"].as_str().unwrap())),
        };
        assert_eq!(msg, expected, "{id}");
        let mut out = BytesMut::new();
        codec::encode(&msg, codec::DEFAULT_MAX_MESSAGE_SIZE, &mut out).unwrap();
        assert_eq!(out.to_vec(), bytes, "{id}: re-encoding differs");
        // Streaming decode in two halves gives the same message.
        let mut buf = BytesMut::from(&bytes[..bytes.len() / 2]);
        assert!(
            codec::decode(&mut buf, &Limits::default())
                .unwrap()
                .is_none(),
            "{id}"
        );
        buf.extend_from_slice(&bytes[bytes.len() / 2..]);
        assert_eq!(
            codec::decode(&mut buf, &Limits::default())
                .unwrap()
                .unwrap(),
            expected,
            "{id}"
        );
    }
    vectors.len()
}

#[test]
fn framing_vectors() {
    assert_eq!(check(&load("framing.json")), 5);
}

#[test]
fn ipc_vectors_decode_and_reencode_byte_exact() {
    let vectors = load("ipc.json");
    assert!(check(&vectors) >= 20);
    // As RPC frames they also re-encode byte-exact: our header order is the C library's.
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let frame = Frame::from_message(codec::decode_message(&bytes, &Limits::default()).unwrap())
            .unwrap();
        let mut out = BytesMut::new();
        frame
            .encode(codec::DEFAULT_MAX_MESSAGE_SIZE, &mut out)
            .unwrap();
        assert_eq!(out.to_vec(), bytes, "{id}");
    }
}

#[test]
fn malformed_vectors_are_rejected_with_the_broken_rule() {
    for v in load("malformed.json") {
        let id = v["id"].as_str().unwrap();
        let bytes = hex(v["hex"].as_str().unwrap());
        let mut buf = BytesMut::from(&bytes[..]);
        let err = codec::decode(&mut buf, &Limits::default()).expect_err(id);
        let rule = format!("{err:?}");
        assert!(
            rule.starts_with(v["error"].as_str().unwrap()),
            "{id}: {rule}"
        );
    }
}
