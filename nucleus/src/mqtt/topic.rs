//! MQTT topic names and filters: broker-side matching, validation, and the "filter covers filter" relation used to
//! de-duplicate bridge subscriptions, plus the nucleus' IoT Core topic rules (spec §5.6).

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

/// Which kind of MQTT topic operation is validated (the rules differ slightly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicUse {
    Publish,
    Subscribe,
}

const MAX_TOPIC_LENGTH: usize = 256;
const MAX_TOPIC_SLASHES: usize = 7;
const BASIC_INGEST_PREFIX: &str = "$aws/rules/";
const SHARED_PREFIX: &str = "$share/";
const RESERVED_TOPIC_CAP: usize = 512;

/// The nucleus' IoT Core topic validation (spec §5.6), with its error texts. `mqtt5` selects the MQTT 5 rules for
/// reserved `$` topics and `$share/`.
pub fn validate_iot_core_topic(topic: &str, usage: TopicUse, mqtt5: bool) -> Result<(), String> {
    if topic.is_empty() {
        return Err("Topic must not be empty".to_owned());
    }
    if usage == TopicUse::Publish && topic.contains(['#', '+']) {
        return Err("Publish topics must not contain wildcard characters of '#' or '+'".to_owned());
    }
    if usage == TopicUse::Subscribe && !valid_filter(topic) {
        return Err(format!(
            "Topic filter {topic} is not a valid MQTT topic filter"
        ));
    }
    let mut rest = topic;
    if let Some(r) = topic.strip_prefix(BASIC_INGEST_PREFIX) {
        // $aws/rules/<rule>/<rest>
        match r.split_once('/') {
            Some((rule, r2)) if !rule.is_empty() && !r2.is_empty() => rest = r2,
            _ => {
                return Err(format!(
                    "The topic {topic} is not a valid basic ingest topic: it must be $aws/rules/<rule name>/<topic>"
                ))
            }
        }
    } else if mqtt5 && usage == TopicUse::Subscribe && topic.starts_with(SHARED_PREFIX) {
        let r = &topic[SHARED_PREFIX.len()..];
        match r.split_once('/') {
            Some((group, r2)) if !group.is_empty() && !r2.is_empty() => rest = r2,
            _ => {
                return Err(format!(
                    "The shared subscription topic {topic} is not valid: $share/<group>/<filter>"
                ))
            }
        }
    } else if topic.starts_with('$') && mqtt5 {
        if topic.chars().count() > RESERVED_TOPIC_CAP {
            return Err(format!(
                "The topic size of {} characters exceeds the maximum of {RESERVED_TOPIC_CAP} characters",
                topic.chars().count()
            ));
        }
        return Ok(());
    }
    let slashes = rest.matches('/').count();
    if slashes > MAX_TOPIC_SLASHES {
        return Err(format!(
            "The topic {topic} has {slashes} forward slashes. The maximum number of forward slashes allowed is \
             {MAX_TOPIC_SLASHES}"
        ));
    }
    let len = rest.encode_utf16().count();
    if len > MAX_TOPIC_LENGTH {
        return Err(format!(
            "The topic size of {len} characters exceeds the maximum of {MAX_TOPIC_LENGTH} characters"
        ));
    }
    Ok(())
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

    #[test]
    fn iot_core_rules() {
        assert!(validate_iot_core_topic("a/b", TopicUse::Publish, true).is_ok());
        assert_eq!(
            validate_iot_core_topic("a/+", TopicUse::Publish, true).unwrap_err(),
            "Publish topics must not contain wildcard characters of '#' or '+'"
        );
        assert!(validate_iot_core_topic("1/2/3/4/5/6/7/8", TopicUse::Publish, true).is_ok());
        assert!(validate_iot_core_topic("1/2/3/4/5/6/7/8/9", TopicUse::Publish, true).is_err());
        assert!(
            validate_iot_core_topic("$aws/rules/r/1/2/3/4/5/6/7/8", TopicUse::Publish, true)
                .is_ok()
        );
        assert!(validate_iot_core_topic("$aws/rules/r", TopicUse::Publish, true).is_err());
        assert!(validate_iot_core_topic("$share/g/a/#", TopicUse::Subscribe, true).is_ok());
        assert!(validate_iot_core_topic(&"x".repeat(257), TopicUse::Publish, true).is_err());
        assert!(validate_iot_core_topic("", TopicUse::Subscribe, true).is_err());
    }
}
