//! The model's JSON parsers and the error-body reader on arbitrary input: never panic; what parses
//! re-serializes and parses to the same value.
#![no_main]
use ggipc::model::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<PublishToIoTCoreRequest>(data) {
        let again: PublishToIoTCoreRequest = serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
        assert_eq!(again, r);
    }
    if let Ok(m) = serde_json::from_slice::<IoTCoreMessage>(data) {
        let again: IoTCoreMessage = serde_json::from_slice(&serde_json::to_vec(&m).unwrap()).unwrap();
        assert_eq!(again, m);
    }
    let _ = error_from_body("aws.greengrass#ServiceError", data);
    let _ = error_from_body("unknown#Shape", data);
});
