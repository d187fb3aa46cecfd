//! MQTT topic names and filters: broker-side matching, filter syntax, and the nucleus' IoT Core topic
//! validation (docs/PROTOCOL.md §5.6).

/// True when the topic `name` matches the subscription `filter` (MQTT 3.1.1 §4.7): `+` matches one level,
/// a trailing `#` matches the parent and every level below it, and wildcards at the first level do not match
/// topics starting with `$`.
pub fn filter_matches(filter: &str, name: &str) -> bool {
    if name.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut n = name.split('/');
    loop {
        match (f.next(), n.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// True when every topic matched by the filter `inner` is also matched by the filter `outer` (a subscription
/// to `outer` already receives all a subscription to `inner` would): used to de-duplicate subscriptions.
pub fn filter_covers(outer: &str, inner: &str) -> bool {
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
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Checks MQTT filter syntax: non-empty, `#` only as a whole last level, `+` only as a whole level.
pub fn validate_filter(filter: &str) -> Result<(), &'static str> {
    if filter.is_empty() {
        return Err("Topic must not be empty");
    }
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("'#' must be the whole last level of a topic filter");
        }
        if level.contains('+') && *level != "+" {
            return Err("'+' must occupy a whole level of a topic filter");
        }
    }
    if filter.contains('\0') {
        return Err("Topic must not contain the NUL character");
    }
    Ok(())
}

/// Whether a topic is published or subscribed to (validation differs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicUse {
    Publish,
    Subscribe,
}

const MAX_SLASHES: usize = 7;
const MAX_TOPIC_LEN: usize = 256;
const MAX_UNKNOWN_RESERVED_LEN: usize = 512;

/// The nucleus' IoT Core topic checks, with its messages: empty topics, wildcards in publish topics, at most
/// 7 `/` and 256 characters outside the `$aws/rules/<rule>/` and (MQTT 5 subscribe) `$share/<group>/`
/// prefixes, and a 512-character cap on other `$` topics under MQTT 5.
pub fn validate_iot_core_topic(topic: &str, use_: TopicUse, mqtt5: bool) -> Result<(), String> {
    if topic.is_empty() {
        return Err("Topic must not be empty".into());
    }
    if topic.contains('\0') {
        // MQTT forbids U+0000 in topics; a broker closes the connection on one.
        return Err("Topic must not contain the NUL character".into());
    }
    if use_ == TopicUse::Publish && (topic.contains('#') || topic.contains('+')) {
        return Err("Publish topics must not contain wildcard characters of '#' or '+'".into());
    }
    let trimmed = topic.trim();
    if trimmed.is_ascii() && !trimmed.starts_with('$') {
        // Lower-casing (as the nucleus does) changes neither length nor slashes of an ASCII topic.
        return validate_effective(trimmed, use_);
    }
    let lower = trimmed.to_lowercase();
    if !lower.starts_with('$') {
        return validate_effective(&lower, use_);
    }
    if mqtt5 {
        if let Some(rest) = lower.strip_prefix("$share/") {
            if let Some((group, effective)) = rest.split_once('/') {
                if !group.is_empty()
                    && !effective.is_empty()
                    && !has_ws(group)
                    && !has_ws(effective)
                {
                    return if use_ == TopicUse::Subscribe {
                        validate_effective(effective, use_)
                    } else {
                        validate_effective(&lower, use_)
                    };
                }
            }
        }
    }
    if let Some(rest) = lower.strip_prefix("$aws/rules/") {
        if let Some((rule, effective)) = rest.split_once('/') {
            if !rule.is_empty() && !has_ws(rule) {
                if effective.is_empty() || has_ws(effective) {
                    return Err(
                        "Effective direct ingest topic (without '$aws/rules/rule-name/' prefix) is empty".into()
                    );
                }
                return validate_effective(effective, use_);
            }
        }
    }
    if mqtt5 {
        if lower.chars().count() > MAX_UNKNOWN_RESERVED_LEN {
            let prefix: Vec<&str> = lower.split('/').take(3).collect();
            return Err(format!(
                "Reserved topic ({}...) total length is greater than {MAX_UNKNOWN_RESERVED_LEN} bytes of UTF-8 \
                 encoded characters and is most likely over the IoT Core limit of {MAX_TOPIC_LEN} bytes \
                 (excluding prefixes).",
                prefix.join("/")
            ));
        }
        Ok(())
    } else {
        validate_effective(&lower, use_)
    }
}

fn has_ws(s: &str) -> bool {
    s.chars().any(char::is_whitespace)
}

fn validate_effective(topic: &str, use_: TopicUse) -> Result<(), String> {
    if topic.matches('/').count() > MAX_SLASHES {
        return Err(format!(
            "The request topic must have no more than {MAX_SLASHES} forward slashes (/)"
        ));
    }
    // The nucleus counts Java chars (UTF-16 units).
    if topic.encode_utf16().count() > MAX_TOPIC_LEN {
        let mut msg = format!(
            "The topic size of request must be no larger than {MAX_TOPIC_LEN} bytes of UTF-8 encoded characters. \
             This excludes the first 3 mandatory segments for Basic Ingest topics ($AWS/rules/rule-name/)"
        );
        if use_ == TopicUse::Subscribe {
            msg.push_str(
                " or first 2 mandatory segments for MQTT Shared Subscriptions ($share/share-name/)",
            );
        }
        return Err(msg);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching() {
        for (f, n, m) in [
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/#", "a", true),
            ("a/#", "a/b/c", true),
            ("#", "x/y", true),
            ("#", "$aws/x", false),
            ("+/x", "$aws/x", false),
            ("$aws/#", "$aws/x", true),
            ("a/+/c", "a//c", true),
            ("a/b", "a/b/", false),
            ("+", "", true),
        ] {
            assert_eq!(filter_matches(f, n), m, "{f} vs {n}");
        }
    }

    #[test]
    fn covering() {
        assert!(filter_covers("a/#", "a/b/+"));
        assert!(filter_covers("#", "a/b"));
        assert!(filter_covers("a/+", "a/b"));
        assert!(!filter_covers("a/+", "a/#"));
        assert!(!filter_covers("a/b", "a/+"));
        assert!(filter_covers("a/+/c", "a/+/c"));
        assert!(!filter_covers("#", "$aws/x"));
        assert!(filter_covers("$aws/#", "$aws/x/+"));
    }

    #[test]
    fn filter_syntax() {
        assert!(validate_filter("a/+/#").is_ok());
        assert!(validate_filter("a/#/b").is_err());
        assert!(validate_filter("a+").is_err());
        assert!(validate_filter("a/b#").is_err());
        assert!(validate_filter("").is_err());
    }

    #[test]
    fn iot_core_rules() {
        let p = TopicUse::Publish;
        let s = TopicUse::Subscribe;
        assert!(validate_iot_core_topic("a/b/c/d/e/f/g/h", p, true).is_ok());
        assert_eq!(
            validate_iot_core_topic("a/b/c/d/e/f/g/h/i", p, true).unwrap_err(),
            "The request topic must have no more than 7 forward slashes (/)"
        );
        assert!(validate_iot_core_topic(&"x".repeat(256), p, true).is_ok());
        assert!(validate_iot_core_topic(&"x".repeat(257), p, true)
            .unwrap_err()
            .starts_with("The topic size"));
        assert!(validate_iot_core_topic(&"x".repeat(257), s, true)
            .unwrap_err()
            .contains("Shared Subscriptions"));
        assert!(validate_iot_core_topic("a/+", p, true)
            .unwrap_err()
            .contains("wildcard"));
        assert!(validate_iot_core_topic("a/+", s, true).is_ok());
        assert!(validate_iot_core_topic("$aws/rules/r/a/b/c/d/e/f/g", p, true).is_ok());
        assert!(validate_iot_core_topic(
            "$aws/things/t/shadow/name/n/update/accepted/x/y",
            p,
            true
        )
        .is_ok());
        assert!(validate_iot_core_topic(
            "$aws/things/t/shadow/name/n/update/accepted/x/y",
            p,
            false
        )
        .is_err());
        assert!(validate_iot_core_topic("$share/g/a/b/c/d/e/f/g/h", s, true).is_ok());
        assert!(
            validate_iot_core_topic(&format!("$x/{}", "y".repeat(600)), p, true)
                .unwrap_err()
                .starts_with("Reserved topic ($x/")
        );
        assert_eq!(
            validate_iot_core_topic("", p, true).unwrap_err(),
            "Topic must not be empty"
        );
    }
}
