#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::{
    IoTCoreMessage, MqttMessage, PayloadFormat, PublishToIoTCoreRequest, Qos, UserProperty,
};
use base64::Engine;
use proptest::prelude::*;

fn message(payload: Vec<u8>, text: String) -> MqttMessage {
    MqttMessage {
        topic_name: Some(format!("t/{text}")),
        payload: Some(payload.clone()),
        retain: Some(false),
        user_properties: Some(vec![UserProperty {
            key: text.clone(),
            value: "\"quoted\"\n".into(),
        }]),
        message_expiry_interval_seconds: Some(5),
        correlation_data: Some(payload.into_iter().rev().collect()),
        response_topic: None,
        payload_format: Some(PayloadFormat::Bytes),
        content_type: Some(text),
    }
}

#[test]
fn blobs_go_through_the_formatter_only_while_marked() {
    assert!(!raw_blobs());
    let req = PublishToIoTCoreRequest::new("a/b", Qos::AtLeastOnce, vec![0u8, 255, 1]);
    let fast = to_vec(&req).unwrap();
    assert!(!raw_blobs(), "the mark is cleared after serializing");
    assert_eq!(fast, serde_json::to_vec(&req).unwrap());
    assert!(String::from_utf8(fast)
        .unwrap()
        .contains(r#""payload":"AP8B""#));
    // Other serializers get the base64 string, not an array of numbers.
    let v = serde_json::to_value(&req).unwrap();
    assert_eq!(v["payload"], "AP8B");
}

#[test]
fn a_failed_serialization_clears_the_mark() {
    struct Fails;
    impl Serialize for Fails {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("no"))
        }
    }
    assert!(to_vec(&Fails).is_err());
    assert!(!raw_blobs());
}

#[test]
fn blob_reading_accepts_escapes_null_and_absence_and_refuses_the_rest() {
    let m: MqttMessage =
        serde_json::from_str(r#"{"payload":"aGk\u003d","correlationData":null}"#).unwrap();
    assert_eq!(m.payload.as_deref(), Some(&b"hi"[..]));
    assert_eq!(m.correlation_data, None);
    let m: MqttMessage = serde_json::from_str(r#"{"topicName":"x"}"#).unwrap();
    assert_eq!(m.payload, None);
    for bad in [
        r#"{"payload":"aGk"}"#,     // no padding
        r#"{"payload":"aGl="}"#,    // non-zero unused bits
        r#"{"payload":"a-_="}"#,    // URL-safe alphabet
        r#"{"payload":"aGk= "}"#,   // trailing space
        r#"{"payload":[104,105]}"#, // an array is not a blob
        r#"{"payload":7}"#,
    ] {
        assert!(serde_json::from_str::<MqttMessage>(bad).is_err(), "{bad}");
    }
    // from a serde_json::Value too (strings arrive owned there)
    let v = serde_json::json!({"payload": "aGk="});
    let m: MqttMessage = serde_json::from_value(v).unwrap();
    assert_eq!(m.payload.as_deref(), Some(&b"hi"[..]));
}

#[test]
fn base64_text_borrows_when_it_can() {
    #[derive(serde::Deserialize)]
    struct R<'a> {
        #[serde(borrow)]
        p: Base64Text<'a>,
    }
    let r: R = serde_json::from_slice(br#"{"p":"aGk="}"#).unwrap();
    assert!(matches!(r.p.0, std::borrow::Cow::Borrowed(_)));
    assert_eq!(r.p.decode().unwrap(), b"hi");
    let r: R = serde_json::from_slice(br#"{"p":"aGk\u003d"}"#).unwrap();
    assert!(matches!(r.p.0, std::borrow::Cow::Owned(_)));
    assert_eq!(r.p.decode().unwrap(), b"hi");
    let e = serde_json::from_slice::<R>(br#"{"p":1}"#).err().unwrap();
    assert!(e.to_string().contains("expected a string"), "{e}");
}

fn b64_char() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec()),
        1 => Just(b'='),
        1 => any::<u8>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// The SIMD engine accepts exactly what the `base64` crate's STANDARD engine accepts, with the same bytes.
    #[test]
    fn decoding_equals_the_base64_crate(text in proptest::collection::vec(b64_char(), 0..80)) {
        let ours = decode_base64(&text).ok();
        let theirs = base64::engine::general_purpose::STANDARD.decode(&text).ok();
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn encoding_round_trips_and_equals_the_base64_crate(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = encode_base64(&bytes);
        prop_assert_eq!(&text, &base64::engine::general_purpose::STANDARD.encode(&bytes));
        prop_assert_eq!(decode_base64(text.as_bytes()).unwrap(), bytes);
    }

    /// `to_vec` writes the same text as `serde_json::to_vec`, which reads back to the same message.
    #[test]
    fn bodies_equal_serde_json(
        payload in proptest::collection::vec(any::<u8>(), 0..2000),
        text in "[a-z\"\\\\\u{0}-\u{1f}é€]{0,12}",
    ) {
        let ev = IoTCoreMessage { message: Some(message(payload, text)) };
        let fast = to_vec(&ev).unwrap();
        prop_assert_eq!(&fast, &serde_json::to_vec(&ev).unwrap());
        let back: IoTCoreMessage = serde_json::from_slice(&fast).unwrap();
        prop_assert_eq!(back, ev);
    }
}
