//! Authorization policies (`accessControl`, docs/PROTOCOL.md §5.3) and their resource matching.
//!
//! A resource pattern is matched the nucleus' way (`MQTT_STYLE`): `*` is a glob over any characters
//! including `/`; `+` forming a whole level matches one level; `#` as the whole last level matches the rest
//! (and `a/#` matches `a`); `${*}`, `${$}`, `${?}` are literal `*`, `$`, `?`; a bare `?` or any other `${…}`
//! makes the resource invalid (dropped, as the nucleus does).
//!
//! Publish topics are matched literally. For subscribe filters ggipc by default grants a filter only when
//! every topic the filter can match is granted ([`FilterAuthorization::Strict`]); the nucleus instead matches
//! the filter text literally, so that a policy `a/+` grants the filter `a/#`
//! ([`FilterAuthorization::Literal`], available for compatibility).

use serde_json::Value;
use std::fmt;

/// How subscribe filters are authorized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FilterAuthorization {
    /// Grant only filters all of whose topics are granted (default).
    #[default]
    Strict,
    /// The nucleus' behaviour: match the filter text as if it were a topic.
    Literal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `*`: any run of characters, `/` included.
    Star,
    /// `+` as a whole level: any run without `/`.
    Plus,
    /// `#` as the whole last level: any remainder.
    Hash,
}

/// A parsed resource pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePattern {
    source: String,
    toks: Vec<Tok>,
}

/// Why a resource pattern is invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidResource(pub String);

impl ResourcePattern {
    /// Parses a pattern; `mqtt_style` enables `+` and `#` (false for local pub/sub).
    pub fn parse(source: &str, mqtt_style: bool) -> Result<Self, InvalidResource> {
        let chars: Vec<char> = source.chars().collect();
        let mut toks = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '$' if chars.get(i + 1) == Some(&'{') => {
                    if chars.len() >= i + 4
                        && chars[i + 3] == '}'
                        && matches!(chars[i + 2], '*' | '$' | '?')
                    {
                        toks.push(Tok::Lit(chars[i + 2]));
                        i += 4;
                        continue;
                    }
                    return Err(InvalidResource(format!(
                        "unsupported variable or escape in resource {source:?}"
                    )));
                }
                '?' => {
                    return Err(InvalidResource(format!(
                        "'?' is not allowed in resource {source:?}"
                    )))
                }
                '*' => toks.push(Tok::Star),
                '#' if mqtt_style && i + 1 == chars.len() && (i == 0 || chars[i - 1] == '/') => {
                    toks.push(Tok::Hash)
                }
                '+' if mqtt_style
                    && (i == 0 || chars[i - 1] == '/')
                    && (i + 1 == chars.len() || chars[i + 1] == '/') =>
                {
                    toks.push(Tok::Plus)
                }
                c => toks.push(Tok::Lit(c)),
            }
            i += 1;
        }
        Ok(ResourcePattern {
            source: source.to_string(),
            toks,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Matches a concrete string (a topic, or a filter read literally).
    pub fn matches_literal(&self, s: &str) -> bool {
        let input: Vec<Sym> = s.chars().map(Sym::Char).collect();
        self.covers(&input)
    }

    /// True when every topic matched by the MQTT filter `filter` is matched by this pattern.
    pub fn covers_filter(&self, filter: &str) -> bool {
        let levels: Vec<&str> = filter.split('/').collect();
        let mut syms = Vec::with_capacity(filter.len());
        let mut parent_alternative = None;
        for (i, level) in levels.iter().enumerate() {
            if i > 0 {
                syms.push(Sym::Char('/'));
            }
            match *level {
                "+" => syms.push(Sym::Level),
                "#" if i + 1 == levels.len() => {
                    if i > 0 {
                        // `a/#` also matches `a` itself.
                        parent_alternative = Some(syms[..syms.len() - 1].to_vec());
                    }
                    syms.push(Sym::Any);
                }
                other => syms.extend(other.chars().map(Sym::Char)),
            }
        }
        self.covers(&syms) && parent_alternative.is_none_or(|p| self.covers(&p))
    }

    /// Dynamic programming over (pattern position, input position): can the pattern tokens cover the input
    /// symbols? Wildcard symbols of a filter must be covered by a pattern wildcard at least as wide.
    fn covers(&self, input: &[Sym]) -> bool {
        let (p, n) = (self.toks.len(), input.len());
        // reach[j] = pattern prefix of length i covers input prefix of length j
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        let mut next = vec![false; n + 1];
        for (i, tok) in self.toks.iter().enumerate() {
            next.fill(false);
            match tok {
                Tok::Lit(c) => {
                    for j in 0..n {
                        if reach[j] && input[j] == Sym::Char(*c) {
                            next[j + 1] = true;
                        }
                    }
                    // `a/#` covers `a`: a '/' directly followed by the final `#` may match nothing.
                    if *c == '/' && i + 2 == p && self.toks[i + 1] == Tok::Hash && reach[n] {
                        return true;
                    }
                }
                Tok::Star | Tok::Hash => {
                    let mut on = false;
                    for j in 0..=n {
                        on |= reach[j];
                        next[j] = on;
                    }
                }
                Tok::Plus => {
                    let mut on = false;
                    for j in 0..=n {
                        on |= reach[j];
                        next[j] = on;
                        if j < n
                            && !matches!(input[j], Sym::Level)
                            && !matches!(input[j], Sym::Char(c) if c != '/')
                        {
                            on = false;
                        }
                    }
                }
            }
            std::mem::swap(&mut reach, &mut next);
        }
        reach[n]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sym {
    Char(char),
    /// A filter's `+`: any run without `/`.
    Level,
    /// A filter's trailing `#`: anything.
    Any,
}

/// One policy of a component's `accessControl`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Destination IPC service, e.g. `aws.greengrass.ipc.mqttproxy`.
    pub destination: String,
    pub id: String,
    pub description: Option<String>,
    /// Operation names or `*`.
    pub operations: Vec<String>,
    pub resources: Vec<ResourcePattern>,
}

/// A component's authorization policies.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessControl {
    pub policies: Vec<Policy>,
    /// Resources dropped while parsing, with the reason (the nucleus logs and drops them too).
    pub dropped: Vec<String>,
}

/// An `accessControl` document that cannot be read; says which field is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for PolicyError {}

fn get_ci<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn string_list(v: Option<&Value>, field: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, it)| match it {
                Value::String(s) => Ok(s.clone()),
                other => Err(PolicyError {
                    field: format!("{field}[{i}]"),
                    message: format!("expected a string, found {other}"),
                }),
            })
            .collect(),
        Some(other) => Err(PolicyError {
            field: field.into(),
            message: format!("expected a list of strings, found {other}"),
        }),
    }
}

impl AccessControl {
    /// A policy set granting every MQTT proxy operation on every topic.
    pub fn allow_all_mqtt() -> Self {
        AccessControl {
            policies: vec![Policy {
                destination: crate::model::MQTT_PROXY_SERVICE.into(),
                id: "allow-all".into(),
                description: None,
                operations: vec!["*".into()],
                resources: vec![ResourcePattern::parse("*", true).expect("valid pattern")],
            }],
            dropped: Vec::new(),
        }
    }

    /// Builds a set from `(destination, operations, resources)` triples.
    pub fn from_rules(rules: &[(&str, &[&str], &[&str])]) -> Result<Self, PolicyError> {
        let mut doc = serde_json::Map::new();
        for (i, (dest, ops, res)) in rules.iter().enumerate() {
            let entry = doc
                .entry(dest.to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if let Value::Object(m) = entry {
                m.insert(
                    format!("policy{i}"),
                    serde_json::json!({ "operations": ops, "resources": res }),
                );
            }
        }
        Self::from_json(&Value::Object(doc), "accessControl")
    }

    /// Parses an `accessControl` value (an object, or a string holding JSON as the nucleus also accepts).
    /// `field` names the value in errors (e.g. `ComponentConfiguration.DefaultConfiguration.accessControl`).
    pub fn from_json(value: &Value, field: &str) -> Result<Self, PolicyError> {
        let parsed;
        let value = match value {
            Value::String(s) => {
                parsed = serde_json::from_str::<Value>(s).map_err(|e| PolicyError {
                    field: field.into(),
                    message: format!("string is not JSON: {e}"),
                })?;
                &parsed
            }
            v => v,
        };
        let mut out = AccessControl::default();
        let Value::Object(dests) = value else {
            if value.is_null() {
                return Ok(out);
            }
            return Err(PolicyError {
                field: field.into(),
                message: format!("expected an object, found {value}"),
            });
        };
        for (dest, policies) in dests {
            let Value::Object(policies) = policies else {
                return Err(PolicyError {
                    field: format!("{field}.{dest}"),
                    message: "expected an object of policies".into(),
                });
            };
            let mqtt_style = dest == crate::model::MQTT_PROXY_SERVICE;
            for (id, body) in policies {
                let here = format!("{field}.{dest}.{id}");
                if id.is_empty() {
                    return Err(PolicyError {
                        field: here,
                        message: "policy id must not be empty".into(),
                    });
                }
                let Value::Object(body) = body else {
                    return Err(PolicyError {
                        field: here,
                        message: "expected an object with operations and resources".into(),
                    });
                };
                let operations =
                    string_list(get_ci(body, "operations"), &format!("{here}.operations"))?;
                let mut resources = Vec::new();
                for r in string_list(get_ci(body, "resources"), &format!("{here}.resources"))? {
                    match ResourcePattern::parse(&r, mqtt_style) {
                        Ok(p) => resources.push(p),
                        Err(InvalidResource(why)) => out.dropped.push(format!("{here}: {why}")),
                    }
                }
                let description = get_ci(body, "policyDescription")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                out.policies.push(Policy {
                    destination: dest.clone(),
                    id: id.clone(),
                    description,
                    operations,
                    resources,
                });
            }
        }
        Ok(out)
    }

    /// Whether some policy for `destination` grants `operation` (on any resource): for operations that name
    /// no resource.
    pub fn allows_operation(&self, destination: &str, operation: &str) -> bool {
        self.policies
            .iter()
            .filter(|p| p.destination == destination)
            .any(|p| p.operations.iter().any(|op| op == operation || op == "*"))
    }

    /// Whether `operation` on `resource` at `destination` is granted. `filter` = the resource is a subscribe
    /// filter, authorized according to `mode`. An empty resource is never granted.
    pub fn is_authorized(
        &self,
        destination: &str,
        operation: &str,
        resource: &str,
        filter: bool,
        mode: FilterAuthorization,
    ) -> bool {
        if resource.is_empty() {
            return false;
        }
        self.policies
            .iter()
            .filter(|p| p.destination == destination)
            .filter(|p| p.operations.iter().any(|op| op == operation || op == "*"))
            .flat_map(|p| p.resources.iter())
            .any(|r| {
                if filter && mode == FilterAuthorization::Strict {
                    r.covers_filter(resource)
                } else {
                    r.matches_literal(resource)
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(p: &str, s: &str) -> bool {
        ResourcePattern::parse(p, true).unwrap().matches_literal(s)
    }

    #[test]
    fn nucleus_literal_matching_table() {
        // Spec §5.3 table (the nucleus' WildcardTrie decisions).
        for (p, s, want) in [
            ("a/+", "a/b", true),
            ("a/+", "a/b/c", false),
            ("a/+", "a/+", true),
            ("a/+", "a/#", true),
            ("+", "#", true),
            ("a/+/#", "a/#", true),
            ("a/#", "a", true),
            ("a/#", "a/+/c", true),
            ("a/#", "a/#", true),
            ("a/+/c", "a/b/c", true),
            ("a/+/c", "a/#", false),
            ("a/b", "a/+", false),
            ("a/b", "a/#", false),
            ("test/topic", "test/+", false),
            ("a/*", "a/b/c", true),
            ("a/*", "a/#", true),
            ("#", "$aws/x", true),
            ("*", "$aws/things/x/shadow/get", true),
            (
                "$aws/things/t1/shadow/#",
                "$aws/things/t1/shadow/update/accepted",
                true,
            ),
            ("my/${*}/x", "my/*/x", true),
            ("my/${*}/x", "my/a/x", false),
            ("+/b", "#", false),
        ] {
            assert_eq!(lit(p, s), want, "{p} vs {s}");
        }
    }

    #[test]
    fn literal_characters_and_escapes() {
        assert!(lit("a#", "a#"));
        assert!(!lit("a#", "ab"));
        assert!(lit("a+b", "a+b"));
        assert!(lit("a/+", "a/"));
        assert!(lit("$aws/x", "$aws/x"));
        assert!(lit("${$}{x}", "${x}"));
        assert!(ResourcePattern::parse("a/?", true).is_err());
        assert!(ResourcePattern::parse("${iot:thingName}", true).is_err());
        assert!(!lit("a/b", ""));
    }

    fn strict(p: &str, f: &str) -> bool {
        ResourcePattern::parse(p, true).unwrap().covers_filter(f)
    }

    #[test]
    fn strict_filter_coverage() {
        for (p, f, want) in [
            ("a/+", "a/b", true),
            ("a/+", "a/+", true),
            ("a/+", "a/#", false), // the nucleus says yes; a/# also matches a/b/c
            ("+", "#", false),
            ("a/#", "a/#", true),
            ("a/#", "a/+/c", true),
            ("a/#", "a", true),
            ("a/*", "a/#", false), // a/# matches a, which a/* does not
            ("a*", "a/#", true),
            ("*", "#", true),
            ("#", "#", true),
            ("#", "a/+/b/#", true),
            ("a/+/c", "a/+/c", true),
            ("a/+/c", "+/+/c", false),
            ("a/b", "a/+", false),
            ("a/+/#", "a/+/#", true),
            ("a/+/#", "a/#", false),
            ("a/b/*", "a/b/+/d", true),
            ("a/+", "a/b/c", false),
        ] {
            assert_eq!(strict(p, f), want, "{p} covers {f}");
        }
    }

    #[test]
    fn policies_from_recipe_json() {
        let doc = serde_json::json!({
            "aws.greengrass.ipc.mqttproxy": {
                "p1": { "policyDescription": "d", "Operations": ["aws.greengrass#PublishToIoTCore"], "resources": ["pub/+", "bad/?"] },
                "p2": { "operations": ["*"], "resources": ["sub/#"] },
                "p3": { "operations": [], "resources": ["*"] }
            }
        });
        let ac = AccessControl::from_json(&doc, "accessControl").unwrap();
        assert_eq!(ac.dropped.len(), 1);
        let m = crate::model::MQTT_PROXY_SERVICE;
        let pub_op = "aws.greengrass#PublishToIoTCore";
        let sub_op = "aws.greengrass#SubscribeToIoTCore";
        assert!(ac.is_authorized(m, pub_op, "pub/x", false, FilterAuthorization::Strict));
        assert!(!ac.is_authorized(m, sub_op, "pub/x", true, FilterAuthorization::Strict));
        assert!(ac.is_authorized(m, sub_op, "sub/a/b", true, FilterAuthorization::Strict));
        assert!(ac.is_authorized(m, pub_op, "sub/x", false, FilterAuthorization::Strict));
        assert!(!ac.is_authorized(m, pub_op, "other", false, FilterAuthorization::Strict));
        assert!(!ac.is_authorized(m, pub_op, "", false, FilterAuthorization::Strict));
        assert!(!ac.is_authorized(
            "aws.greengrass.ipc.pubsub",
            pub_op,
            "pub/x",
            false,
            FilterAuthorization::Strict
        ));
        let as_string = serde_json::Value::String(doc.to_string());
        assert_eq!(
            AccessControl::from_json(&as_string, "accessControl").unwrap(),
            ac
        );
        let err = AccessControl::from_json(
            &serde_json::json!({"d": {"p": {"operations": 5}}}),
            "accessControl",
        )
        .unwrap_err();
        assert_eq!(err.field, "accessControl.d.p.operations");
    }
}
