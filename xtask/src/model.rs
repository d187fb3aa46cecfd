//! The model file (`model/greengrass-ipc.toml`), parsed and checked, with the naming rules every emitter shares.

use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub service: String,
    pub namespace: String,
    #[serde(rename = "enum", default)]
    pub enums: Vec<Enum>,
    #[serde(rename = "shape", default)]
    pub shapes: Vec<Shape>,
    #[serde(rename = "error", default)]
    pub errors: Vec<ErrorDef>,
    #[serde(rename = "operation", default)]
    pub operations: Vec<Operation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enum {
    pub name: String,
    pub rust: Option<String>,
    pub label: String,
    pub doc: String,
    pub values: Vec<EnumValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumValue {
    pub name: String,
    pub value: String,
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    pub name: String,
    pub rust: Option<String>,
    #[serde(default)]
    pub union: bool,
    pub doc: String,
    pub members: Vec<Member>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(default)]
    pub required: bool,
    pub doc: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDef {
    pub name: String,
    pub code: u32,
    #[serde(default = "yes")]
    pub modeled: bool,
    #[serde(default)]
    pub retryable: bool,
    pub doc: String,
    #[serde(default)]
    pub members: Vec<Member>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operation {
    pub name: String,
    pub service: String,
    pub request: String,
    pub response: String,
    pub event: Option<String>,
    pub errors: Vec<String>,
    pub doc: String,
}

/// A member's type, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Type {
    String,
    Boolean,
    Long,
    Double,
    Blob,
    Timestamp,
    Document,
    List(Box<Type>),
    Enum(String),
    Shape(String),
}

impl Model {
    pub fn load(path: &Path) -> Result<Model, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let model: Model = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        model
            .check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(model)
    }

    fn check(&self) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for n in self
            .enums
            .iter()
            .map(|e| &e.name)
            .chain(self.shapes.iter().map(|s| &s.name))
            .chain(self.errors.iter().map(|e| &e.name))
        {
            if !names.insert(n.clone()) {
                return Err(format!("the name {n} is defined twice"));
            }
        }
        let mut codes = BTreeSet::new();
        for e in &self.errors {
            if !codes.insert(e.code) {
                return Err(format!("error code {} is used twice", e.code));
            }
            if e.modeled != (e.code >= 100) {
                return Err(format!(
                    "error {}: modeled errors have codes from 100, transport ones below",
                    e.name
                ));
            }
            for m in &e.members {
                self.ty(&m.ty)
                    .map_err(|why| format!("error {}.{}: {why}", e.name, m.name))?;
            }
        }
        for s in &self.shapes {
            for m in &s.members {
                self.ty(&m.ty)
                    .map_err(|why| format!("shape {}.{}: {why}", s.name, m.name))?;
            }
        }
        for o in &self.operations {
            for shape in [&o.request, &o.response].into_iter().chain(o.event.iter()) {
                if self.shape(shape).is_none() {
                    return Err(format!("operation {}: no shape {shape}", o.name));
                }
            }
            for e in &o.errors {
                if !self.errors.iter().any(|d| d.modeled && &d.name == e) {
                    return Err(format!("operation {}: no modeled error {e}", o.name));
                }
            }
        }
        Ok(())
    }

    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.iter().find(|s| s.name == name)
    }

    pub fn enum_(&self, name: &str) -> Option<&Enum> {
        self.enums.iter().find(|e| e.name == name)
    }

    /// Resolves a member type string.
    pub fn ty(&self, s: &str) -> Result<Type, String> {
        Ok(match s {
            "string" => Type::String,
            "boolean" => Type::Boolean,
            "long" => Type::Long,
            "double" => Type::Double,
            "blob" => Type::Blob,
            "timestamp" => Type::Timestamp,
            "document" => Type::Document,
            s if s.starts_with("list<") && s.ends_with('>') => {
                Type::List(Box::new(self.ty(&s[5..s.len() - 1])?))
            }
            s if self.enum_(s).is_some() => Type::Enum(s.to_string()),
            s if self.shape(s).is_some() => Type::Shape(s.to_string()),
            s => return Err(format!("unknown type {s}")),
        })
    }

    /// The resolved type of a member (checked at load).
    pub fn member_type(&self, m: &Member) -> Type {
        self.ty(&m.ty)
            .expect("member types are checked when the model is loaded")
    }

    /// Whether a value of this type holds (transitively) a blob or a document: what a binding's JSON reader must
    /// treat beyond plain JSON (see `Layout` in the core's model).
    pub fn has_layout(&self, t: &Type) -> bool {
        fn walk(m: &Model, t: &Type, seen: &mut BTreeSet<String>) -> bool {
            match t {
                Type::Blob | Type::Document => true,
                Type::List(t) => walk(m, t, seen),
                Type::Shape(s) if seen.insert(s.clone()) => m
                    .shape(s)
                    .is_some_and(|s| s.members.iter().any(|x| walk(m, &m.member_type(x), seen))),
                _ => false,
            }
        }
        walk(self, t, &mut BTreeSet::new())
    }

    /// Whether a shape (transitively) holds a `double`, which rules out `Eq` in Rust.
    pub fn has_double(&self, shape: &str) -> bool {
        fn walk(m: &Model, t: &Type, seen: &mut BTreeSet<String>) -> bool {
            match t {
                Type::Double => true,
                Type::List(t) => walk(m, t, seen),
                Type::Shape(s) if seen.insert(s.clone()) => m
                    .shape(s)
                    .is_some_and(|s| s.members.iter().any(|x| walk(m, &m.member_type(x), seen))),
                _ => false,
            }
        }
        walk(self, &Type::Shape(shape.to_string()), &mut BTreeSet::new())
    }

    /// Shapes used as stream events.
    pub fn event_shapes(&self) -> Vec<&Shape> {
        let mut seen = BTreeSet::new();
        self.operations
            .iter()
            .filter_map(|o| o.event.as_deref())
            .filter(|e| seen.insert(*e))
            .filter_map(|e| self.shape(e))
            .collect()
    }
}

impl Shape {
    pub fn rust_name(&self) -> &str {
        self.rust.as_deref().unwrap_or(&self.name)
    }
}

impl Enum {
    pub fn rust_name(&self) -> &str {
        self.rust.as_deref().unwrap_or(&self.name)
    }
}

/// `PublishToIoTCore` → `publish_to_iot_core`, `MQTTMessage` → `mqtt_message`, `topicName` → `topic_name`.
pub fn snake(name: &str) -> String {
    let name = name.replace("IoT", "Iot");
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(|n| n.is_ascii_lowercase()),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `AT_LEAST_ONCE` → `AtLeastOnce`.
pub fn pascal_from_screaming(name: &str) -> String {
    name.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut cs = w.chars();
            let first = cs.next().map(|c| c.to_ascii_uppercase());
            first
                .into_iter()
                .chain(cs.map(|c| c.to_ascii_lowercase()))
                .collect::<String>()
        })
        .collect()
}

/// `topicName` → `TopicName`.
#[allow(dead_code)] // for the Java and C++ emitters
pub fn upper_first(name: &str) -> String {
    let mut cs = name.chars();
    match cs.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + cs.as_str(),
        None => String::new(),
    }
}

/// `snake_case` → `SCREAMING_CASE`.
pub fn screaming(name: &str) -> String {
    snake(name).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake("PublishToIoTCore"), "publish_to_iot_core");
        assert_eq!(snake("MQTTMessage"), "mqtt_message");
        assert_eq!(snake("topicName"), "topic_name");
        assert_eq!(snake("QOS"), "qos");
        assert_eq!(snake("isGgcRestarting"), "is_ggc_restarting");
        assert_eq!(
            snake("SubscribeToIoTCoreConnectionStatus"),
            "subscribe_to_iot_core_connection_status"
        );
        assert_eq!(pascal_from_screaming("AT_LEAST_ONCE"), "AtLeastOnce");
        assert_eq!(pascal_from_screaming("UTF8"), "Utf8");
        assert_eq!(upper_first("topicName"), "TopicName");
    }

    #[test]
    fn the_model_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/greengrass-ipc.toml");
        let m = Model::load(&path).unwrap();
        assert!(m.operations.iter().any(|o| o.name == "PublishToIoTCore"));
        assert!(!m.has_double("MQTTMessage"));
    }
}
