//! MQTT topic names and filters for the embedded broker and the bridge: broker-side matching, syntax checks, and
//! the "filter covers filter" relation used to de-duplicate bridge subscriptions. (The IoT Core topic rules of
//! spec §5.6 are applied by the IPC server in `ggipc::server::topic`.)

/// Whether `topic` (a concrete topic name) matches `filter` under MQTT rules: `+` matches one level, `#` (last level
/// only) matches any number of levels including the parent, and topics starting with `$` are not matched by filters
/// that start with a wildcard.
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(fl), Some(tl)) if fl == tl => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether every topic matched by `inner` is also matched by `outer` (so a subscription to `outer` already receives
/// everything a subscription to `inner` would). Used to reuse an existing broker subscription.
pub fn covers(outer: &str, inner: &str) -> bool {
    if outer == inner {
        return true;
    }
    // `#`/`+` at the start of `outer` never match `$` topics, which `inner` may match.
    if (outer.starts_with('#') || outer.starts_with('+')) && inner.starts_with('$') {
        return false;
    }
    let mut o = outer.split('/');
    let mut i = inner.split('/');
    loop {
        match (o.next(), i.next()) {
            (Some("#"), _) => return true,
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(_), Some("+")) => return false,
            (Some(ol), Some(il)) if ol == il => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A valid topic name for PUBLISH: non-empty, no wildcard characters, no NUL.
pub fn valid_topic_name(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

/// A valid topic filter for SUBSCRIBE: non-empty, `#` only as the whole last level, `+` only as a whole level.
pub fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (n, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || n + 1 != levels.len()) {
            return false;
        }
        if level.contains('+') && *level != "+" {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        assert!(matches("a/b", "a/b"));
        assert!(!matches("a/b", "a/c"));
        assert!(matches("a/+", "a/b"));
        assert!(!matches("a/+", "a/b/c"));
        assert!(matches("a/#", "a"));
        assert!(matches("a/#", "a/b/c"));
        assert!(matches("#", "x/y"));
        assert!(!matches("#", "$aws/x"));
        assert!(!matches("+/x", "$SYS/x"));
        assert!(matches("$aws/#", "$aws/x"));
        assert!(matches("+/+", "/x"));
        assert!(!matches("a/b/c", "a/b"));
    }

    #[test]
    fn covering() {
        assert!(covers("a/#", "a/b/+"));
        assert!(covers("#", "a/b"));
        assert!(covers("a/+", "a/b"));
        assert!(!covers("a/+", "a/#"));
        assert!(!covers("a/b", "a/+"));
        assert!(covers("a/+/c", "a/+/c"));
        assert!(!covers("#", "$aws/x"));
        assert!(covers("$aws/#", "$aws/x/+"));
    }

    #[test]
    fn filters() {
        assert!(valid_filter("a/+/b/#"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a/b+"));
        assert!(!valid_filter(""));
    }
}
