//! Unit tests of the server's pieces that need no socket (the protocol is tested end to end in
//! `core/tests/server_protocol.rs` and `core/tests/client_server.rs`).

use super::services::{parse_request, Refusal, StreamGuard, WireEnum};
use crate::model::{Operation, OperationId, OPERATIONS};
use crate::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn a_stream_guard_undoes_exactly_once() {
    let undone = Arc::new(AtomicUsize::new(0));
    let u = undone.clone();
    let guard = StreamGuard::new(move || {
        u.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(undone.load(Ordering::SeqCst), 0);
    drop(guard);
    assert_eq!(undone.load(Ordering::SeqCst), 1);
}

#[test]
fn enum_members_are_read_as_wire_text() {
    #[derive(serde::Deserialize)]
    struct R {
        qos: Option<WireEnum>,
    }
    let r: R = parse_request(br#"{"qos": 1}"#).unwrap();
    assert_eq!(r.qos.unwrap().0, "1");
    let r: R = parse_request(br#"{"qos": "2"}"#).unwrap();
    assert_eq!(r.qos.unwrap().0, "2");
    let r: R = parse_request(br#"{"qos": null}"#).unwrap();
    assert!(r.qos.is_none());
}

#[test]
fn malformed_requests_are_invalid_arguments() {
    let e = parse_request::<serde_json::Value>(b"{nope").unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidArgumentsError);
    assert!(e.message.starts_with("Invalid request: "), "{}", e.message);
}

#[test]
fn refusals_keep_a_core_error_s_kind_and_words() {
    let r = Refusal::from(crate::model::Qos::parse("7").unwrap_err());
    assert_eq!(
        (r.kind, r.message.as_str()),
        (ErrorKind::InvalidArgumentsError, "Invalid QoS value: 7")
    );
}

#[test]
fn every_operation_has_a_service_entry() {
    // The dispatch is a `match` on OperationId (checked exhaustive by the compiler); the table and the enum
    // must agree both ways.
    for op in OPERATIONS {
        assert_eq!(Operation::get(op.id).name, op.name);
    }
    assert_eq!(
        Operation::get(OperationId::PublishToIoTCore).service,
        crate::model::MQTT_PROXY_SERVICE
    );
}
