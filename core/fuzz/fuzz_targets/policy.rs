//! Resource patterns and topics: never panic, and strict filter authorization is never wider than literal
//! matching of a concrete topic (a filter without wildcards is exactly one topic).
#![no_main]
use ggipc::server::ResourcePattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (String, String)| {
    let (pattern, topic) = input;
    if let Ok(p) = ResourcePattern::parse(&pattern, true) {
        let literal = p.matches_literal(&topic);
        if !topic.contains('+') && !topic.contains('#') {
            assert_eq!(p.covers_filter(&topic), literal, "{pattern:?} {topic:?}");
        } else {
            let _ = p.covers_filter(&topic);
        }
    }
    let _ = ggipc::server::topic::validate_iot_core_topic(&topic, ggipc::server::topic::TopicUse::Publish, true);
    let _ = ggipc::server::topic::filter_matches(&pattern, &topic);
});
