use super::*;

#[test]
fn publish_request_json_matches_python_sdk_members() {
    // G6 payload as the Python SDK sends it (whitespace differs; parse, don't compare bytes).
    let g6 = r#"{"topicName": "a/b", "qos": "1", "payload": "eA==", "retain": true, "userProperties": [{"key": "k", "value": "v"}], "messageExpiryIntervalSeconds": 10, "correlationData": "Y2Q=", "responseTopic": "r/t", "payloadFormat": "1", "contentType": "text/plain"}"#;
    let req: PublishToIoTCoreRequest = serde_json::from_str(g6).unwrap();
    let expected = PublishToIoTCoreRequest {
        topic_name: Some("a/b".into()),
        qos: Some(Qos::AtLeastOnce),
        payload: Some(b"x".to_vec()),
        retain: Some(true),
        user_properties: Some(vec![UserProperty::new("k", "v")]),
        message_expiry_interval_seconds: Some(10),
        correlation_data: Some(b"cd".to_vec()),
        response_topic: Some("r/t".into()),
        payload_format: Some(PayloadFormat::Utf8),
        content_type: Some("text/plain".into()),
    };
    assert_eq!(req, expected);
    let back: serde_json::Value = serde_json::to_value(&req).unwrap();
    assert_eq!(back, serde_json::from_str::<serde_json::Value>(g6).unwrap());
}

#[test]
fn absent_members_are_omitted_and_null_is_absent() {
    let req = PublishToIoTCoreRequest {
        topic_name: Some("t".into()),
        ..Default::default()
    };
    assert_eq!(serde_json::to_string(&req).unwrap(), r#"{"topicName":"t"}"#);
    let m: MqttMessage =
        serde_json::from_str(r#"{"topicName":"t","payload":null,"extra":1}"#).unwrap();
    assert_eq!(
        m,
        MqttMessage {
            topic_name: Some("t".into()),
            ..Default::default()
        }
    );
    assert_eq!(
        serde_json::to_string(&SubscribeToIoTCoreResponse {}).unwrap(),
        "{}"
    );
}

#[test]
fn gson_escaped_base64_and_numeric_qos_are_read() {
    let m: PublishToIoTCoreRequest =
        serde_json::from_str(r#"{"topicName":"t","qos":1,"payload":"aGk\u003d"}"#).unwrap();
    assert_eq!(m.payload.as_deref(), Some(&b"hi"[..]));
    assert_eq!(m.qos, Some(Qos::AtLeastOnce));
    assert!(serde_json::from_str::<PublishToIoTCoreRequest>(r#"{"qos":"2"}"#).is_err());
}

#[test]
fn event_matches_vector_g12() {
    let body = r#"{"message":{"topicName":"keep/y","payload":"aGVsbG8gMA==","retain":false,"payloadFormat":"0"}}"#;
    let ev: IoTCoreMessage = serde_json::from_str(body).unwrap();
    let m = ev.message.as_ref().unwrap();
    assert_eq!(
        (m.topic(), m.payload_bytes(), m.retain, m.payload_format),
        (
            "keep/y",
            &b"hello 0"[..],
            Some(false),
            Some(PayloadFormat::Bytes)
        )
    );
    assert_eq!(serde_json::to_string(&ev).unwrap(), body);
}

#[test]
fn error_bodies_round_trip_like_the_nucleus() {
    let body = error_body(ErrorKind::UnauthorizedError, "Not Authorized", None);
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        r#"{"message":"Not Authorized","_service":"aws.greengrass#GreengrassCoreIPC","_message":"Not Authorized","_errorCode":"UnauthorizedError"}"#
    );
    let e = error_from_body("aws.greengrass#UnauthorizedError", &body);
    assert_eq!(
        (e.kind(), e.message()),
        (ErrorKind::UnauthorizedError, "Not Authorized")
    );
    // nucleus-lite: only _message and _errorCode
    let e = error_from_body(
        "aws.greengrass#ServiceError",
        br#"{"_message":"boom","_errorCode":"ServiceError"}"#,
    );
    assert_eq!((e.kind(), e.message()), (ErrorKind::ServiceError, "boom"));
    let ctx = serde_json::json!({"reasonString": null, "reasonCode": 135});
    let e = error_from_body(
        "aws.greengrass#ServiceError",
        &error_body(ErrorKind::ServiceError, "x", Some(&ctx)),
    );
    assert_eq!(e.context(), Some(&ctx));
    let e = error_from_body("aws#AccessDenied", br#"{"message":"no"}"#);
    assert_eq!(e.kind(), ErrorKind::Unmapped);
}

#[test]
fn every_kind_has_a_unique_code_and_name() {
    let mut codes = std::collections::HashSet::new();
    for k in ErrorKind::ALL {
        assert!(codes.insert(k.code()), "{k:?}");
        assert_eq!(ErrorKind::from_code(k.code()), Some(*k));
        assert_ne!(k.name(), "Unknown");
        assert_eq!(k.is_modeled(), error_shape_for_kind(*k).is_some());
    }
    assert_eq!(ERROR_SHAPES.len(), 12);
}

#[test]
fn operation_table() {
    let op = Operation::find("aws.greengrass#SubscribeToIoTCore").unwrap();
    assert_eq!(op.event, Some("aws.greengrass#IoTCoreMessage"));
    assert!(!Operation::find("aws.greengrass#PublishToIoTCore")
        .unwrap()
        .is_streaming());
    assert!(Operation::find("aws.greengrass#GetSecretValue").is_none());
    let mut names = std::collections::HashSet::new();
    for op in OPERATIONS {
        assert!(names.insert(op.name), "{} twice", op.name);
        assert_eq!(Operation::get(op.id), *op);
        assert!(op.request.ends_with("Request") && op.response.ends_with("Response"));
    }
}

#[test]
fn enums_parse_with_the_nucleus_message() {
    assert_eq!(Qos::parse("1").unwrap(), Qos::AtLeastOnce);
    let e = Qos::parse("2").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgumentsError);
    assert_eq!(e.message(), "Invalid QoS value: 2");
    let e = PayloadFormat::parse("x").unwrap_err();
    assert_eq!(e.message(), "Invalid PayloadFormat value: x");
    assert_eq!(
        ReceiveMode::parse("RECEIVE_ALL_MESSAGES").unwrap().symbol(),
        "RECEIVE_ALL_MESSAGES"
    );
}

#[test]
fn timestamps_are_epoch_seconds() {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_250);
    let req = UpdateConfigurationRequest {
        timestamp: Some(t),
        ..Default::default()
    };
    let json = serde_json::to_value(&req).unwrap();
    assert_eq!(json["timestamp"], serde_json::json!(1_700_000_000.25));
    let back: UpdateConfigurationRequest = serde_json::from_value(json).unwrap();
    assert_eq!(back.timestamp, Some(t));
    assert!(serde_json::from_str::<UpdateConfigurationRequest>(r#"{"timestamp":1e300}"#).is_err());
}
