//! The generated request views send what the request objects built with the setters send: the same JSON body
//! (read back, the same core request) for the same members, unions included, and the same error for the same
//! bad value.

use crate::error::{
    ggipc_error, ggipc_error_free, ggipc_error_get_kind, ggipc_error_get_message, Error,
};
use crate::generated::*;
use ggipc_core::model;
use std::ffi::{c_char, CStr};
use std::ptr::null;

fn cs(s: &'static [u8]) -> *const c_char {
    CStr::from_bytes_with_nul(s).unwrap().as_ptr()
}

/// Kind and message of an error, for comparing.
fn described(e: &ggipc_error) -> (u32, String) {
    // SAFETY: a live error.
    let message = unsafe { CStr::from_ptr(ggipc_error_get_message(e)) };
    // SAFETY: as above.
    let kind = unsafe { ggipc_error_get_kind(e) };
    (kind, message.to_string_lossy().into_owned())
}

/// Takes the result of a setter: `None` on success, the error described otherwise.
fn setter(e: *mut ggipc_error) -> Option<(u32, String)> {
    // SAFETY: NULL or an error the caller owns.
    let d = unsafe { e.as_ref() }.map(described);
    // SAFETY: as above.
    unsafe { ggipc_error_free(e) };
    d
}

fn view_error(e: Error) -> (u32, String) {
    described(&e.to_c())
}

/// The JSON body of a request, as a call encodes it.
fn body_of<T: serde::Serialize>(request: &T) -> Vec<u8> {
    model::to_json_bytes(request).unwrap().to_vec()
}

/// What a view sends: the body its borrowed form encodes, and that body read back as the core's request.
fn sent<T: serde::Serialize, R: serde::de::DeserializeOwned>(
    borrowed: Result<T, Error>,
) -> Result<(Vec<u8>, R), (u32, String)> {
    let body = body_of(&borrowed.map_err(view_error)?);
    let read = serde_json::from_slice(&body).expect("the body reads back");
    Ok((body, read))
}

fn ok(e: *mut ggipc_error) {
    assert_eq!(setter(e), None);
}

#[test]
fn a_publish_view_reads_as_the_request_built_with_the_setters() {
    let props = [
        ggipc_user_property_view {
            key: cs(b"k1\0"),
            value: cs(b"v1\0"),
        },
        ggipc_user_property_view {
            key: cs(b"k2\0"),
            value: cs(b"v2\0"),
        },
    ];
    let payload = b"payload";
    let view = ggipc_publish_to_iot_core_request_view {
        topic_name: cs(b"a/b\0"),
        has_qos: true,
        qos: GGIPC_QOS_AT_LEAST_ONCE,
        has_payload: true,
        payload: payload.as_ptr(),
        payload_len: payload.len(),
        has_retain: true,
        retain: true,
        has_user_properties: true,
        user_properties: props.as_ptr(),
        user_properties_count: props.len(),
        has_message_expiry_interval_seconds: true,
        message_expiry_interval_seconds: 60,
        has_correlation_data: true,
        correlation_data: b"\x00\x01".as_ptr(),
        correlation_data_len: 2,
        response_topic: cs(b"reply\0"),
        has_payload_format: true,
        payload_format: GGIPC_PAYLOAD_FORMAT_UTF8,
        content_type: cs(b"text/plain\0"),
    };
    let h = ggipc_publish_to_iot_core_request_new();
    // SAFETY: a live request, live arguments.
    unsafe {
        ok(ggipc_publish_to_iot_core_request_set_topic_name(
            h,
            cs(b"a/b\0"),
        ));
        ok(ggipc_publish_to_iot_core_request_set_qos(
            h,
            GGIPC_QOS_AT_LEAST_ONCE,
        ));
        ok(ggipc_publish_to_iot_core_request_set_payload(
            h,
            payload.as_ptr(),
            payload.len(),
        ));
        ok(ggipc_publish_to_iot_core_request_set_retain(h, true));
        for p in &props {
            let u = ggipc_user_property_new();
            ok(ggipc_user_property_set_key(u, p.key));
            ok(ggipc_user_property_set_value(u, p.value));
            ok(ggipc_publish_to_iot_core_request_user_properties_add(h, u));
            ggipc_user_property_free(u);
        }
        ok(ggipc_publish_to_iot_core_request_set_message_expiry_interval_seconds(h, 60));
        ok(ggipc_publish_to_iot_core_request_set_correlation_data(
            h,
            b"\x00\x01".as_ptr(),
            2,
        ));
        ok(ggipc_publish_to_iot_core_request_set_response_topic(
            h,
            cs(b"reply\0"),
        ));
        ok(ggipc_publish_to_iot_core_request_set_payload_format(
            h,
            GGIPC_PAYLOAD_FORMAT_UTF8,
        ));
        ok(ggipc_publish_to_iot_core_request_set_content_type(
            h,
            cs(b"text/plain\0"),
        ));
    }
    // SAFETY: the view points at live data.
    let (body, from_view): (_, model::PublishToIoTCoreRequest) =
        sent(unsafe { view.borrow() }).unwrap_or_else(|e| panic!("{e:?}"));
    // SAFETY: a live request.
    let from_handle = unsafe { &*h }.to_core();
    assert_eq!(body, body_of(&from_handle), "the same bytes");
    assert_eq!(from_view, from_handle);
    assert_eq!(from_view.user_properties.as_ref().map(Vec::len), Some(2));
    // SAFETY: ours.
    unsafe { ggipc_publish_to_iot_core_request_free(h) };

    // A zeroed view is a request with every member absent; a present empty payload stays present.
    let empty = ggipc_publish_to_iot_core_request_view {
        has_payload: true,
        payload: null(),
        payload_len: 0,
        ..absent()
    };
    // SAFETY: no pointers but NULL.
    let (_, r): (_, model::PublishToIoTCoreRequest) =
        sent(unsafe { empty.borrow() }).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.payload, Some(Vec::new()));
    assert_eq!(r.topic_name, None);
    assert_eq!(r.qos, None);
}

/// Every member absent (what `{0}` gives in C).
fn absent() -> ggipc_publish_to_iot_core_request_view {
    // SAFETY: every field is a raw pointer, a bool, an integer or a float: all zeros is valid, and absent.
    unsafe { std::mem::zeroed() }
}

#[test]
fn a_bad_value_in_a_view_gets_the_setters_error() {
    let base = absent();
    let h = ggipc_publish_to_iot_core_request_new();
    // SAFETY: a live request.
    let cases: Vec<(
        ggipc_publish_to_iot_core_request_view,
        Option<(u32, String)>,
    )> = unsafe {
        vec![
            (
                ggipc_publish_to_iot_core_request_view {
                    has_qos: true,
                    qos: 2,
                    ..base
                },
                setter(ggipc_publish_to_iot_core_request_set_qos(h, 2)),
            ),
            (
                ggipc_publish_to_iot_core_request_view {
                    has_payload_format: true,
                    payload_format: 7,
                    ..base
                },
                setter(ggipc_publish_to_iot_core_request_set_payload_format(h, 7)),
            ),
            (
                ggipc_publish_to_iot_core_request_view {
                    topic_name: cs(b"a/\xff\0"),
                    ..base
                },
                setter(ggipc_publish_to_iot_core_request_set_topic_name(
                    h,
                    cs(b"a/\xff\0"),
                )),
            ),
            (
                ggipc_publish_to_iot_core_request_view {
                    has_payload: true,
                    payload: null(),
                    payload_len: 3,
                    ..base
                },
                setter(ggipc_publish_to_iot_core_request_set_payload(h, null(), 3)),
            ),
        ]
    };
    // SAFETY: ours.
    unsafe { ggipc_publish_to_iot_core_request_free(h) };
    for (view, expected) in cases {
        let expected = expected.expect("the setter refuses it");
        // SAFETY: the view's pointers are NULL or live.
        let got = unsafe { view.borrow() }.map(|_| ()).map_err(view_error);
        assert_eq!(got, Err(expected));
    }
    // The first bad member in member order is the one reported (topicName comes before qos).
    let two = ggipc_publish_to_iot_core_request_view {
        topic_name: cs(b"a/\xff\0"),
        has_qos: true,
        qos: 2,
        ..base
    };
    // SAFETY: as above.
    let got = unsafe { two.borrow() }.map(|_| ()).map_err(view_error);
    assert_eq!(
        got.unwrap_err().1,
        "topicName is not valid UTF-8",
        "the first bad member wins"
    );
}

#[test]
fn lists_documents_timestamps_and_unions_read_as_with_the_setters() {
    let keys = [cs(b"a\0"), cs(b"b\0")];
    let update = ggipc_update_configuration_request_view {
        has_key_path: true,
        key_path: keys.as_ptr(),
        key_path_count: keys.len(),
        has_timestamp: true,
        timestamp: 1_700_000_000.5,
        value_to_merge: cs(b"{\"x\":[1,2]}\0"),
    };
    let h = ggipc_update_configuration_request_new();
    // SAFETY: a live request, live arguments.
    unsafe {
        ok(ggipc_update_configuration_request_key_path_add(h, keys[0]));
        ok(ggipc_update_configuration_request_key_path_add(h, keys[1]));
        ok(ggipc_update_configuration_request_set_timestamp(
            h,
            1_700_000_000.5,
        ));
        ok(ggipc_update_configuration_request_set_value_to_merge(
            h,
            cs(b"{\"x\":[1,2]}\0"),
        ));
    }
    // SAFETY: the view points at live data; `h` is live.
    unsafe {
        let core = (*h).to_core();
        assert_eq!(sent(update.borrow()), Ok((body_of(&core), core)));
        // A present empty list is sent as such.
        let empty = ggipc_update_configuration_request_view {
            key_path_count: 0,
            key_path: null(),
            ..update
        };
        let read: Option<(_, model::UpdateConfigurationRequest)> = sent(empty.borrow()).ok();
        assert_eq!(read.and_then(|(_, r)| r.key_path), Some(Vec::new()));
        // Bad JSON text: the setter's error.
        let bad = ggipc_update_configuration_request_view {
            value_to_merge: cs(b"{\0"),
            ..update
        };
        let expected = setter(ggipc_update_configuration_request_set_value_to_merge(
            h,
            cs(b"{\0"),
        ));
        assert_eq!(
            bad.borrow().map(|_| ()).map_err(view_error),
            Err(expected.unwrap())
        );
        // A negative timestamp: the setter's error, not a clamped time.
        let negative = ggipc_update_configuration_request_view {
            timestamp: -1.0,
            ..update
        };
        let expected = setter(ggipc_update_configuration_request_set_timestamp(h, -1.0));
        assert_eq!(
            negative.borrow().map(|_| ()).map_err(view_error),
            Err(expected.expect("the setter refuses it"))
        );
        ggipc_update_configuration_request_free(h);
    }

    // A union given two members keeps the later one, as setting a member on the object clears the others.
    let context = ggipc_message_context_view { topic: cs(b"t\0") };
    let json = ggipc_json_message_view {
        message: cs(b"{\"n\":1}\0"),
        context: &context,
    };
    let binary = ggipc_binary_message_view {
        has_message: true,
        message: b"bin".as_ptr(),
        message_len: 3,
        context: null(),
    };
    let both = ggipc_publish_message_view {
        json_message: &json,
        binary_message: &binary,
    };
    let publish = ggipc_publish_to_topic_request_view {
        topic: cs(b"local\0"),
        publish_message: &both,
    };
    let h = ggipc_publish_to_topic_request_new();
    // SAFETY: live objects and arguments.
    unsafe {
        let pm = ggipc_publish_message_new();
        let j = ggipc_json_message_new();
        ok(ggipc_json_message_set_message(j, json.message));
        ok(ggipc_publish_message_set_json_message(pm, j));
        let b = ggipc_binary_message_new();
        ok(ggipc_binary_message_set_message(b, b"bin".as_ptr(), 3));
        ok(ggipc_publish_message_set_binary_message(pm, b));
        ok(ggipc_publish_to_topic_request_set_topic(h, publish.topic));
        ok(ggipc_publish_to_topic_request_set_publish_message(h, pm));
        ggipc_json_message_free(j);
        ggipc_binary_message_free(b);
        ggipc_publish_message_free(pm);
        let (body, from_view): (_, model::PublishToTopicRequest) = sent(publish.borrow()).unwrap();
        assert_eq!(body, body_of(&(*h).to_core()), "the same bytes");
        assert_eq!(from_view, (*h).to_core());
        let m = from_view.publish_message.unwrap();
        assert!(m.json_message.is_none());
        assert_eq!(m.binary_message.unwrap().message, Some(b"bin".to_vec()));
        // One member: kept, with its nested shape.
        let json_only = ggipc_publish_message_view {
            json_message: &json,
            binary_message: null(),
        };
        let read: Option<(_, model::PublishToTopicRequest)> = sent(
            ggipc_publish_to_topic_request_view {
                publish_message: &json_only,
                ..publish
            }
            .borrow(),
        )
        .ok();
        let r = read
            .and_then(|(_, r)| r.publish_message)
            .and_then(|m| m.json_message)
            .unwrap();
        assert_eq!(r.context.and_then(|c| c.topic).as_deref(), Some("t"));
        ggipc_publish_to_topic_request_free(h);
    }
}
