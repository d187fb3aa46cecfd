//! Rust: the model types and operation table (`core/src/model/generated.rs`), the error kinds
//! (`core/src/error_kind.rs`) and the typed client methods (`core/src/client/generated.rs`).

use crate::model::{pascal_from_screaming, screaming, snake, Model, Shape, Type};
use crate::{header, Output};
use std::fmt::Write;

pub fn emit(m: &Model) -> Vec<Output> {
    vec![
        Output::rust("core/src/model/generated.rs", model(m)),
        Output::rust("core/src/error_kind.rs", error_kinds(m)),
        Output::rust("core/src/client/generated.rs", client(m)),
    ]
}

fn doc(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {line}");
        }
    }
}

fn rust_type(m: &Model, t: &Type) -> String {
    match t {
        Type::String => "String".into(),
        Type::Boolean => "bool".into(),
        Type::Long => "i64".into(),
        Type::Double => "f64".into(),
        Type::Blob => "Vec<u8>".into(),
        Type::Timestamp => "std::time::SystemTime".into(),
        Type::Document => "serde_json::Value".into(),
        Type::List(t) => format!("Vec<{}>", rust_type(m, t)),
        Type::Enum(e) => m
            .enum_(e)
            .map(|e| e.rust_name().to_string())
            .unwrap_or_default(),
        Type::Shape(s) => m
            .shape(s)
            .map(|s| s.rust_name().to_string())
            .unwrap_or_default(),
    }
}

fn field_name(member: &str) -> String {
    let s = snake(member);
    match s.as_str() {
        "type" | "match" | "ref" | "self" | "mod" => format!("r#{s}"),
        _ => s,
    }
}

fn model(m: &Model) -> String {
    let mut o = header("//", "");
    o.push_str("//! The Greengrass model: every enum, shape, error shape and operation of `model/greengrass-ipc.toml`.\n\n");
    o.push_str("#![allow(clippy::derivable_impls)]\n\n");
    o.push_str("use super::{ErrorShape, Layout, Operation, Shape};\n");
    o.push_str("use crate::error::ErrorKind;\nuse serde::{Deserialize, Serialize};\n\n");
    let _ = writeln!(
        o,
        "/// Smithy service id, sent as `_service` in error bodies."
    );
    let _ = writeln!(o, "pub const SERVICE_ID: &str = {:?};\n", m.service);
    for e in &m.enums {
        let name = e.rust_name();
        doc(
            &mut o,
            "",
            &format!("{}\n\n`{}#{}`", e.doc, m.namespace, e.name),
        );
        o.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\n");
        let _ = writeln!(o, "pub enum {name} {{");
        for v in &e.values {
            doc(
                &mut o,
                "    ",
                &format!("{} (wire value `{:?}`)", v.doc, v.value),
            );
            let _ = writeln!(o, "    {},", pascal_from_screaming(&v.name));
        }
        o.push_str("}\n\n");
        let _ = writeln!(o, "impl {name} {{");
        let _ = writeln!(o, "    /// Every value, in model order.");
        let all: Vec<String> = e
            .values
            .iter()
            .map(|v| format!("{name}::{}", pascal_from_screaming(&v.name)))
            .collect();
        let _ = writeln!(
            o,
            "    pub const ALL: &'static [{name}] = &[{}];",
            all.join(", ")
        );
        let _ = writeln!(
            o,
            "    /// How the nucleus names this enum in its error messages."
        );
        let _ = writeln!(o, "    pub const LABEL: &'static str = {:?};", e.label);
        type Text = fn(&crate::model::EnumValue) -> &str;
        let texts: [(&str, &str, Text); 2] = [
            ("The wire value.", "as_str", |v| &v.value),
            ("The symbol.", "symbol", |v| &v.name),
        ];
        for (what, fun, text) in texts {
            let _ = writeln!(o, "    /// {what}");
            let _ = writeln!(o, "    pub fn {fun}(self) -> &'static str {{ match self {{");
            for v in &e.values {
                let _ = writeln!(
                    o,
                    "        {name}::{} => {:?},",
                    pascal_from_screaming(&v.name),
                    text(v)
                );
            }
            o.push_str("    } }\n");
        }
        let _ = writeln!(o, "    /// Parses a wire value.");
        let _ = writeln!(
            o,
            "    pub fn from_wire(s: &str) -> Option<Self> {{ match s {{"
        );
        for v in &e.values {
            let _ = writeln!(
                o,
                "        {:?} => Some({name}::{}),",
                v.value,
                pascal_from_screaming(&v.name)
            );
        }
        o.push_str("        _ => None,\n    } }\n");
        let _ = writeln!(
            o,
            "    /// Parses a wire value; an unknown one is refused with the nucleus' own error (`InvalidArgumentsError: Invalid {} value: <v>`).",
            e.label
        );
        let _ = writeln!(o, "    pub fn parse(s: &str) -> crate::Result<Self> {{ Self::from_wire(s).ok_or_else(|| super::invalid_enum_value(Self::LABEL, s)) }}");
        o.push_str("}\n\n");
        let _ = writeln!(o, "super::wire_enum_impls!({name});\n");
    }
    for s in &m.shapes {
        shape(&mut o, m, s);
    }
    // Error shapes.
    let _ = writeln!(
        o,
        "/// Every modeled error shape of the Greengrass service."
    );
    o.push_str("pub const ERROR_SHAPES: &[ErrorShape] = &[\n");
    for e in m.errors.iter().filter(|e| e.modeled) {
        let _ = writeln!(
            o,
            "    ErrorShape {{ shape_id: \"{}#{}\", name: {:?}, kind: ErrorKind::{}, is_server_error: {} }},",
            m.namespace, e.name, e.name, e.name, e.retryable
        );
    }
    o.push_str("];\n\n");
    // Operations.
    o.push_str("/// Identifies an operation of the table ([`OPERATIONS`]).\n");
    o.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub enum OperationId {\n");
    for op in &m.operations {
        doc(&mut o, "    ", &op.doc);
        let _ = writeln!(o, "    {},", op.name);
    }
    o.push_str("}\n\n");
    for op in &m.operations {
        doc(
            &mut o,
            "",
            &format!("`{}#{}`: {}", m.namespace, op.name, op.doc),
        );
        let _ = writeln!(
            o,
            "pub const {}: Operation = Operation {{",
            screaming(&op.name)
        );
        let _ = writeln!(o, "    id: OperationId::{},", op.name);
        let _ = writeln!(o, "    name: \"{}#{}\",", m.namespace, op.name);
        let _ = writeln!(o, "    request: \"{}#{}\",", m.namespace, op.request);
        let _ = writeln!(o, "    response: \"{}#{}\",", m.namespace, op.response);
        match &op.event {
            Some(e) => {
                let _ = writeln!(o, "    event: Some(\"{}#{e}\"),", m.namespace);
            }
            None => o.push_str("    event: None,\n"),
        }
        let errors: Vec<String> = op
            .errors
            .iter()
            .map(|e| format!("\"{}#{e}\"", m.namespace))
            .collect();
        let _ = writeln!(o, "    errors: &[{}],", errors.join(", "));
        let _ = writeln!(o, "    service: {:?},", op.service);
        o.push_str("};\n\n");
    }
    layouts(&mut o, m);
    o.push_str("/// Every operation ggipc knows, in model order.\npub const OPERATIONS: &[&Operation] = &[\n");
    for op in &m.operations {
        let _ = writeln!(o, "    &{},", screaming(&op.name));
    }
    o.push_str("];\n");
    o
}

/// The kind of a member for a binding's JSON reader (`Layout`), when it is more than plain JSON.
fn layout_kind(m: &Model, t: &Type) -> Option<String> {
    if !m.has_layout(t) {
        return None;
    }
    Some(match t {
        Type::Blob => "Layout::Blob".into(),
        Type::Document => "Layout::Document".into(),
        Type::List(inner) => format!("Layout::List(&{})", layout_kind(m, inner)?),
        Type::Shape(s) => format!("Layout::Shape({}_LAYOUT)", screaming(s)),
        _ => return None,
    })
}

/// One `<SHAPE>_LAYOUT` constant per shape that holds a blob or a document, and `layout(shape_id)`.
fn layouts(o: &mut String, m: &Model) {
    let mut named = Vec::new();
    for s in &m.shapes {
        if !m.has_layout(&Type::Shape(s.name.clone())) {
            continue;
        }
        let members: Vec<String> = s
            .members
            .iter()
            .filter_map(|mem| {
                layout_kind(m, &m.member_type(mem)).map(|k| format!("({:?}, {k})", mem.name))
            })
            .collect();
        let konst = format!("{}_LAYOUT", screaming(&s.name));
        let _ = writeln!(
            o,
            "/// The blob and document members of `{}#{}` (see [`Layout`]).",
            m.namespace, s.name
        );
        let _ = writeln!(
            o,
            "pub const {konst}: &[(&str, Layout)] = &[{}];\n",
            members.join(", ")
        );
        named.push((format!("{}#{}", m.namespace, s.name), konst));
    }
    o.push_str("/// The blob and document members of a shape by its shape id (`None`: plain JSON throughout).\n");
    o.push_str("pub fn layout(shape_id: &str) -> Option<&'static [(&'static str, Layout)]> {\n    match shape_id {\n");
    for (id, konst) in &named {
        let _ = writeln!(o, "        {id:?} => Some({konst}),");
    }
    o.push_str("        _ => None,\n    }\n}\n\n");
}

fn shape(o: &mut String, m: &Model, s: &Shape) {
    let name = s.rust_name();
    let kind = if s.union {
        "A union: at most one member is set.\n\n"
    } else {
        ""
    };
    doc(
        o,
        "",
        &format!("{}\n\n{kind}`{}#{}`", s.doc, m.namespace, s.name),
    );
    let eq = if m.has_double(&s.name) { "" } else { ", Eq" };
    let _ = writeln!(
        o,
        "#[derive(Clone, Debug, Default, PartialEq{eq}, Serialize, Deserialize)]"
    );
    if s.members.is_empty() {
        let _ = writeln!(o, "pub struct {name} {{}}\n");
    } else {
        let _ = writeln!(o, "pub struct {name} {{");
        for mem in &s.members {
            let t = m.member_type(mem);
            doc(o, "    ", &mem.doc);
            let with = match &t {
                Type::Blob => ", with = \"super::blob\"",
                Type::Timestamp => ", with = \"super::timestamp\"",
                _ => "",
            };
            if mem.required {
                let _ = writeln!(o, "    #[serde(rename = {:?}, default{with})]", mem.name);
                let _ = writeln!(
                    o,
                    "    pub {}: {},",
                    field_name(&mem.name),
                    rust_type(m, &t)
                );
            } else {
                let _ = writeln!(
                    o,
                    "    #[serde(rename = {:?}, default, skip_serializing_if = \"Option::is_none\"{with})]",
                    mem.name
                );
                let _ = writeln!(
                    o,
                    "    pub {}: Option<{}>,",
                    field_name(&mem.name),
                    rust_type(m, &t)
                );
            }
        }
        o.push_str("}\n\n");
    }
    let _ = writeln!(
        o,
        "impl Shape for {name} {{ const SHAPE_ID: &'static str = \"{}#{}\"; }}\n",
        m.namespace, s.name
    );
}

fn error_kinds(m: &Model) -> String {
    let mut o = header("//", "");
    o.push_str("//! [`ErrorKind`]: every kind of failure, transport ones and the modeled Greengrass errors.\n\n");
    o.push_str("/// What went wrong. Every kind has a stable number ([`ErrorKind::code`]) that bindings expose; numbers are\n/// never reused.\n");
    o.push_str("#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\n#[non_exhaustive]\npub enum ErrorKind {\n");
    for e in &m.errors {
        let d = if e.modeled {
            format!("Modeled `{}#{}`: {}", m.namespace, e.name, e.doc)
        } else {
            e.doc.clone()
        };
        doc(&mut o, "    ", &d);
        let _ = writeln!(o, "    {},", e.name);
    }
    o.push_str("}\n\nimpl ErrorKind {\n    /// Every kind, in code order.\n    pub const ALL: &'static [ErrorKind] = &[\n");
    let mut sorted: Vec<_> = m.errors.iter().collect();
    sorted.sort_by_key(|e| e.code);
    for e in &sorted {
        let _ = writeln!(o, "        ErrorKind::{},", e.name);
    }
    o.push_str("    ];\n\n    /// Stable number: transport kinds below 100, modeled service errors from 100.\n    pub fn code(self) -> u32 {\n        match self {\n");
    for e in &m.errors {
        let _ = writeln!(o, "            ErrorKind::{} => {},", e.name, e.code);
    }
    o.push_str("        }\n    }\n\n    /// The kind with this code.\n    pub fn from_code(code: u32) -> Option<ErrorKind> {\n        match code {\n");
    for e in &m.errors {
        let _ = writeln!(o, "            {} => Some(ErrorKind::{}),", e.code, e.name);
    }
    o.push_str("            _ => None,\n        }\n    }\n\n    /// A short stable name (`\"ConnectionClosed\"`, `\"UnauthorizedError\"`, …).\n    pub fn name(self) -> &'static str {\n        match self {\n");
    for e in &m.errors {
        let _ = writeln!(o, "            ErrorKind::{} => {:?},", e.name, e.name);
    }
    o.push_str("        }\n    }\n\n    /// What the kind means.\n    pub fn description(self) -> &'static str {\n        match self {\n");
    for e in &m.errors {
        let _ = writeln!(o, "            ErrorKind::{} => {:?},", e.name, e.doc);
    }
    o.push_str("        }\n    }\n\n    /// True for the modeled Greengrass service errors (those with a `service-model-type`).\n    pub fn is_modeled(self) -> bool {\n        self.code() >= 100\n    }\n\n");
    o.push_str("    /// True where trying again may help: the SDK's \"server\" errors (ServiceError, InvalidTokenError),\n    /// connection loss, failed connects and timeouts. The one definition every binding exposes.\n    pub fn is_retryable(self) -> bool {\n        matches!(self, ");
    let retry: Vec<String> = m
        .errors
        .iter()
        .filter(|e| e.retryable)
        .map(|e| format!("ErrorKind::{}", e.name))
        .collect();
    o.push_str(&retry.join(" | "));
    o.push_str(")\n    }\n}\n");
    o
}

fn client(m: &Model) -> String {
    let mut o = header("//", "");
    o.push_str("//! Typed methods of [`Client`] and [`blocking::Client`], one set per operation of the model.\n\n");
    o.push_str("use super::{blocking, Client, Subscription};\nuse crate::model::*;\nuse crate::Result;\nuse std::time::Duration;\n\n");
    for (blocking, ty) in [(false, "Client"), (true, "blocking::Client")] {
        let _ = writeln!(o, "impl {ty} {{");
        for op in &m.operations {
            let f = snake(&op.name);
            let req = m
                .shape(&op.request)
                .map(Shape::rust_name)
                .unwrap_or_default();
            let (ret, call) = match &op.event {
                Some(ev) => {
                    let ev = m.shape(ev).map(Shape::rust_name).unwrap_or_default();
                    let sub = if blocking {
                        "blocking::Subscription"
                    } else {
                        "Subscription"
                    };
                    (format!("{sub}<{ev}>"), "stream")
                }
                None => (
                    m.shape(&op.response)
                        .map(Shape::rust_name)
                        .unwrap_or_default()
                        .to_string(),
                    "request",
                ),
            };
            let (asy, aw) = if blocking {
                ("", "")
            } else {
                ("async ", ".await")
            };
            let konst = screaming(&op.name);
            let what = if op.event.is_some() {
                "Resolves once the server accepted the stream; its events arrive on the subscription."
            } else {
                "Resolves with the server's response."
            };
            doc(
                &mut o,
                "    ",
                &format!(
                    "{}: {}\n\n{what} Bounded by the client's operation timeout.",
                    op.name, op.doc
                ),
            );
            let _ = writeln!(
                o,
                "    pub {asy}fn {f}(&self, request: {req}) -> Result<{ret}> {{ self.{call}(&{konst}, &request, None){aw} }}\n"
            );
            doc(
                &mut o,
                "    ",
                &format!("[`{f}`](Self::{f}) with an explicit timeout."),
            );
            let _ = writeln!(
                o,
                "    pub {asy}fn {f}_with_timeout(&self, request: {req}, timeout: Duration) -> Result<{ret}> {{ self.{call}(&{konst}, &request, Some(timeout)){aw} }}\n"
            );
        }
        o.push_str("}\n\n");
    }
    for ev in m.event_shapes() {
        let _ = writeln!(
            o,
            "impl super::StreamEvent for {} {{ fn decode(payload: bytes::Bytes) -> Result<Self> {{ super::decode_event(&payload) }} }}",
            ev.rust_name()
        );
    }
    o
}
