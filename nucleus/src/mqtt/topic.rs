//! MQTT topic names and filters for the embedded broker and the bridge. Matching, filter syntax and the "filter
//! covers filter" relation are the core's (`ggipc::server::topic`), which the IPC server uses too.

pub use ggipc::server::topic::{filter_covers as covers, filter_matches as matches};

/// A valid topic name for PUBLISH: non-empty, no wildcard characters, no NUL.
pub fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// A valid topic filter for SUBSCRIBE: non-empty, `#` only as the whole last level, `+` only as a whole level.
pub fn valid_filter(filter: &str) -> bool {
    ggipc::server::topic::validate_filter(filter).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert!(valid_filter("a/+/b/#"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a/b+"));
        assert!(!valid_filter(""));
    }
}
