//! c: the C ABI of the model, `bindings-c/src/generated.rs` (cbindgen turns it into `include/ggipc.h`).
//!
//! For every enum: a `uint32_t` typedef and one `GGIPC_<ENUM>_<VALUE>` constant per value (numbered in model
//! order). For every shape: an opaque `ggipc_<shape>` holding C-ready members (NUL-terminated strings, JSON
//! text of documents) with `_new`, `_free`, `_clone`, a setter and a getter per member, and its conversion
//! to and from the core's generated Rust type. For every operation: a blocking `ggipc_client_<op>` (request
//! and response) or a stream opener with a typed handler struct, and `_async` for request/response ones.
//! The error kinds come from the model's error list.
//!
//! The hand-written code under `bindings-c/src` keeps the boundary helpers, the client, threading and
//! dispatch; nothing here restates a rule of the core (enum values are checked with the core's `parse`).

use crate::model::{screaming, snake, Member, Model, Shape, Type};
use crate::{header, Output};
use std::fmt::Write;

/// C names that differ from the rule (`ggipc_<snake>`), for shapes whose natural name the older MQTT API
/// already uses for another type: none today; the hand-written MQTT API (`ggipc_publish_request`,
/// `ggipc_message`, `ggipc_client_publish`, `ggipc_client_subscribe`) keeps its own names beside these.
const RENAMES: &[(&str, &str)] = &[];

pub fn emit(m: &Model) -> Vec<Output> {
    vec![Output::rust("bindings-c/src/generated.rs", generate(m))]
}

fn c_shape(name: &str) -> String {
    RENAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| c.to_string())
        .unwrap_or_else(|| format!("ggipc_{}", snake(name)))
}

fn c_enum(name: &str) -> String {
    format!("ggipc_{}", snake(name))
}

fn rust_shape<'a>(m: &'a Model, name: &'a str) -> &'a str {
    m.shape(name).map(Shape::rust_name).unwrap_or(name)
}

fn rust_enum<'a>(m: &'a Model, name: &'a str) -> &'a str {
    m.enum_(name).map(|e| e.rust_name()).unwrap_or(name)
}

/// One doc comment block (`///` lines) from text that may span lines.
fn doc(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push_str("///\n");
        } else {
            let _ = writeln!(out, "/// {}", line.trim_end());
        }
    }
}

fn generate(m: &Model) -> String {
    let mut o = String::new();
    o.push_str(&header("//", ""));
    o.push_str(
        "//! The C ABI of the Greengrass model: enums, shapes with their accessors, operations, error kinds.\n\n",
    );
    o.push_str("#![allow(clippy::needless_update, unused_imports, dead_code)]\n\n");
    o.push_str(
        "use std::ffi::{c_char, c_void, CString};\n\n\
         use ggipc_core::model;\n\n\
         use crate::client::ggipc_client;\n\
         use crate::error::{ggipc_error, Error};\n\
         use crate::ffi::{boundary, boundary_or, free_raw, ggipc_free_userdata_fn, into_raw, try_mut, try_ref, write_out, UserData};\n\
         use crate::subscription::{ggipc_subscription, StreamCallbacks};\n\
         use crate::support::*;\n\n",
    );
    error_kinds(m, &mut o);
    for e in &m.enums {
        enum_(m, e, &mut o);
    }
    for s in &m.shapes {
        shape(m, s, &mut o);
    }
    for op in &m.operations {
        operation(m, op, &mut o);
    }
    o
}

fn error_kinds(m: &Model, o: &mut String) {
    o.push_str("/// Numeric kind of a `ggipc_error`. Values are stable across releases and never\n/// reused; new kinds may be added, so treat unknown values like\n/// `GGIPC_ERROR_KIND_INTERNAL`.\n");
    o.push_str("pub type ggipc_error_kind = u32;\n");
    for e in &m.errors {
        let what = if e.modeled {
            format!(
                "Modeled `{}#{}`: {}",
                m.namespace,
                e.name,
                e.doc.trim_end_matches('.')
            )
        } else {
            e.doc.trim_end_matches('.').to_string()
        };
        let retry = if e.retryable {
            " Retrying may succeed."
        } else {
            ""
        };
        doc(o, &format!("{what}.{retry}"));
        let _ = writeln!(
            o,
            "pub const GGIPC_ERROR_KIND_{}: ggipc_error_kind = {};",
            screaming(&e.name),
            e.code
        );
    }
    o.push_str("\n/// Every kind with its C name, in the model's (numeric) order.\n");
    o.push_str("pub(crate) const KINDS: &[(ggipc_error_kind, &str)] = &[\n");
    for e in &m.errors {
        let n = screaming(&e.name);
        let _ = writeln!(o, "    (GGIPC_ERROR_KIND_{n}, \"{n}\"),");
    }
    o.push_str("];\n\n");
}

fn enum_(m: &Model, e: &crate::model::Enum, o: &mut String) {
    let c = c_enum(&e.name);
    let r = rust_enum(m, &e.name);
    doc(
        o,
        &format!(
            "{}\n\n`{}#{}`. A number that is not one of the `GGIPC_{}_*` constants is refused with the\nnucleus' error (`GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR`, \"Invalid {} value: <n>\").",
            e.doc,
            m.namespace,
            e.name,
            screaming(&e.name),
            e.label
        ),
    );
    let _ = writeln!(o, "pub type {c} = u32;");
    for (i, v) in e.values.iter().enumerate() {
        doc(
            o,
            &format!(
                "{} (wire value `\"{}\"`).",
                v.doc.trim_end_matches('.'),
                v.value
            ),
        );
        let _ = writeln!(
            o,
            "pub const GGIPC_{}_{}: {c} = {i};",
            screaming(&e.name),
            v.name
        );
    }
    let f = snake(&e.name);
    let _ = writeln!(
        o,
        "\npub(crate) fn {f}_from_c(v: {c}) -> Result<model::{r}, Error> {{\n    enum_from_c(v, model::{r}::ALL, model::{r}::parse)\n}}\n"
    );
    let _ = writeln!(
        o,
        "pub(crate) fn {f}_to_c(v: model::{r}) -> {c} {{\n    enum_to_c(v, model::{r}::ALL)\n}}\n"
    );
}

/// The Rust field type of a member in the C-side mirror.
fn field_type(m: &Model, t: &Type) -> String {
    match t {
        Type::String => "Option<CString>".into(),
        Type::Blob => "Option<Vec<u8>>".into(),
        Type::Boolean => "Option<bool>".into(),
        Type::Long => "Option<i64>".into(),
        Type::Double | Type::Timestamp => "Option<f64>".into(),
        Type::Document => "Option<Doc>".into(),
        Type::Enum(e) => format!("Option<model::{}>", rust_enum(m, e)),
        Type::Shape(s) => format!("Option<Box<{}>>", c_shape(s)),
        Type::List(inner) => match &**inner {
            Type::String => "Option<Vec<CString>>".into(),
            Type::Shape(s) => format!("Option<Vec<{}>>", c_shape(s)),
            other => panic!("the C emitter has no lists of {other:?}"),
        },
    }
}

fn from_core(t: &Type, f: &str, required: bool) -> String {
    if required {
        return match t {
            Type::String => format!("Some(c_string(&v.{f}))"),
            other => panic!("the C emitter supports required strings only, not {other:?}"),
        };
    }
    match t {
        Type::String => format!("v.{f}.as_deref().map(c_string)"),
        Type::Blob | Type::Boolean | Type::Long | Type::Double | Type::Enum(_) => format!("v.{f}"),
        Type::Timestamp => format!("v.{f}.map(timestamp_from_core)"),
        Type::Document => format!("v.{f}.map(Doc::from_value)"),
        Type::Shape(s) => format!("v.{f}.map(|x| Box::new({}::from_core(x)))", c_shape(s)),
        Type::List(inner) => match &**inner {
            Type::String => format!("v.{f}.map(|l| l.iter().map(|s| c_string(s)).collect())"),
            Type::Shape(s) => format!(
                "v.{f}.map(|l| l.into_iter().map({}::from_core).collect())",
                c_shape(s)
            ),
            _ => unreachable!(),
        },
    }
}

fn to_core(t: &Type, f: &str, required: bool) -> String {
    let base = match t {
        Type::String => format!("self.{f}.as_ref().map(string_of)"),
        Type::Blob => format!("self.{f}.clone()"),
        Type::Boolean | Type::Long | Type::Double | Type::Enum(_) => format!("self.{f}"),
        Type::Timestamp => format!("self.{f}.map(timestamp_to_core)"),
        Type::Document => format!("self.{f}.as_ref().map(|d| d.value.clone())"),
        Type::Shape(_) => format!("self.{f}.as_deref().map(|x| x.to_core())"),
        Type::List(inner) => match &**inner {
            Type::String => format!("self.{f}.as_ref().map(|l| l.iter().map(string_of).collect())"),
            Type::Shape(_) => {
                format!("self.{f}.as_ref().map(|l| l.iter().map(|x| x.to_core()).collect())")
            }
            _ => unreachable!(),
        },
    };
    if required {
        format!("{base}.unwrap_or_default()")
    } else {
        base
    }
}

fn shape(m: &Model, s: &Shape, o: &mut String) {
    let c = c_shape(&s.name);
    let r = rust_shape(m, &s.name);
    let kind = if s.union {
        "\n\nA union: setting a member (to a non-NULL value) clears the others."
    } else {
        ""
    };
    doc(
        o,
        &format!(
            "{}\n\n`{}#{}`. Created with `{c}_new` (every member absent), copied with `{c}_clone`, released with\n`{c}_free`. Setters copy what they are given; getters lend what they return until the member is set again or\nthe object is freed. Not thread-safe while being modified; any number of threads may read it at once.{kind}",
            s.doc, m.namespace, s.name
        ),
    );
    o.push_str("#[derive(Clone, Default)]\n");
    let _ = writeln!(o, "pub struct {c} {{");
    for mem in &s.members {
        let t = m.member_type(mem);
        let _ = writeln!(
            o,
            "    pub(crate) {}: {},",
            snake(&mem.name),
            field_type(m, &t)
        );
    }
    o.push_str("}\n\n");
    let _ = writeln!(o, "impl {c} {{");
    let _ = writeln!(o, "    pub(crate) fn to_core(&self) -> model::{r} {{");
    let _ = writeln!(o, "        model::{r} {{");
    for mem in &s.members {
        let t = m.member_type(mem);
        let f = snake(&mem.name);
        let _ = writeln!(o, "            {f}: {},", to_core(&t, &f, mem.required));
    }
    o.push_str("        }\n    }\n\n");
    let _ = writeln!(o, "    pub(crate) fn from_core(v: model::{r}) -> Self {{");
    if s.members.is_empty() {
        o.push_str("        let _ = v;\n");
    }
    o.push_str("        Self {\n");
    for mem in &s.members {
        let t = m.member_type(mem);
        let f = snake(&mem.name);
        let _ = writeln!(o, "            {f}: {},", from_core(&t, &f, mem.required));
    }
    o.push_str("        }\n    }\n");
    if s.union {
        o.push_str("\n    /// Clears every member (before one is set, as a union holds one).\n");
        o.push_str("    fn clear_union(&mut self) {\n        *self = Self::default();\n    }\n");
    }
    o.push_str("}\n\n");

    // _new, _free, _clone
    doc(
        o,
        &format!("Creates a `{c}` with every member absent (free it with `{c}_free`). Returns NULL only if allocation\nfails. Thread-safety: any thread."),
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub extern \"C\" fn {c}_new() -> *mut {c} {{\n    boundary_or(std::ptr::null_mut(), || into_raw({c}::default()))\n}}\n"
    );
    doc(
        o,
        &format!("Releases a `{c}` and everything it holds. NULL is a no-op. Never free an object a callback lends."),
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn {c}_free(value: *mut {c}) {{\n    // SAFETY: NULL or an object the caller owns.\n    boundary_or((), || unsafe {{ free_raw(value) }})\n}}\n"
    );
    doc(
        o,
        &format!("Returns a deep copy of `value` owned by the caller (free it with `{c}_free`), or NULL when `value` is\nNULL. Use it to keep an object a callback lends. Thread-safety: any thread."),
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn {c}_clone(value: *const {c}) -> *mut {c} {{\n    boundary_or(std::ptr::null_mut(), || {{\n        // SAFETY: NULL or a live object.\n        match unsafe {{ value.as_ref() }} {{\n            Some(v) => into_raw(v.clone()),\n            None => std::ptr::null_mut(),\n        }}\n    }})\n}}\n"
    );
    for mem in &s.members {
        member(m, s, mem, &c, o);
    }
}

fn member(m: &Model, s: &Shape, mem: &Member, c: &str, o: &mut String) {
    let t = m.member_type(mem);
    let f = snake(&mem.name);
    let set = format!("{c}_set_{f}");
    let get = format!("{c}_get_{f}");
    let clear_union = if s.union { "o.clear_union();\n" } else { "" };
    let clear_some = if s.union {
        "if v.is_some() {\n            o.clear_union();\n        }\n        ".to_string()
    } else {
        String::new()
    };
    let clear_none = if s.union {
        format!("if o.{f}.is_none() {{\n            o.clear_union();\n        }}\n        ")
    } else {
        String::new()
    };
    let union_note = if s.union {
        " Setting it clears the union's other members."
    } else {
        ""
    };
    let req = if mem.required {
        " Required by the model."
    } else {
        ""
    };
    let what = format!("`{}` ({}).{req}", mem.name, mem.doc.trim_end_matches('.'));
    let null_obj =
        "Returns NULL on success, or an error of kind `GGIPC_ERROR_KIND_INVALID_ARGUMENT`";
    let scalar = |o: &mut String, cty: &str, conv: &str, extra_err: &str, get_conv: &str| {
        doc(
            o,
            &format!("Sets {what}{union_note}\n\n{null_obj} (NULL `value`{extra_err}), leaving the object unchanged."),
        );
        let _ = writeln!(
            o,
            "#[no_mangle]\npub unsafe extern \"C\" fn {set}(value: *mut {c}, v: {cty}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or an object the caller owns.\n        let o = unsafe {{ try_mut(value, \"value\") }}?;\n        {conv}{clear_union}o.{f} = Some(v);\n        Ok(())\n    }})\n}}\n"
        );
        doc(o, &format!("Removes {what} No-op when `value` is NULL."));
        let _ = writeln!(
            o,
            "#[no_mangle]\npub unsafe extern \"C\" fn {c}_clear_{f}(value: *mut {c}) {{\n    boundary_or((), || {{\n        // SAFETY: NULL or an object the caller owns.\n        if let Some(o) = unsafe {{ value.as_mut() }} {{\n            o.{f} = None;\n        }}\n    }})\n}}\n"
        );
        doc(
            o,
            &format!("Writes {what} to `*out` and returns true; returns false (leaving `*out` untouched) when it is absent or\n`value` or `out` is NULL."),
        );
        let _ = writeln!(
            o,
            "#[no_mangle]\npub unsafe extern \"C\" fn {get}(value: *const {c}, out: *mut {cty}) -> bool {{\n    boundary_or(false, || {{\n        // SAFETY: NULL or a live object, NULL or a writable `out`.\n        match (unsafe {{ value.as_ref() }}, out.is_null()) {{\n            (Some(o), false) => match o.{f} {{\n                Some(v) => {{\n                    // SAFETY: checked non-NULL.\n                    unsafe {{ write_out(out, {get_conv}) }};\n                    true\n                }}\n                None => false,\n            }},\n            _ => false,\n        }}\n    }})\n}}\n"
        );
    };
    match &t {
        Type::String => {
            doc(
                o,
                &format!("Sets {what} to a copy of the NUL-terminated UTF-8 string `v`; NULL removes it.{union_note}\n\n{null_obj} (NULL `value`, non-UTF-8 `v`), leaving the object unchanged."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {set}(value: *mut {c}, v: *const c_char) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or an object the caller owns.\n        let o = unsafe {{ try_mut(value, \"value\") }}?;\n        // SAFETY: NULL or a NUL-terminated string.\n        let v = unsafe {{ c_string_arg(v, \"{}\") }}?;\n        {clear_some}o.{f} = v;\n        Ok(())\n    }})\n}}\n",
                mem.name
            );
            doc(
                o,
                &format!("Returns {what} as a NUL-terminated string owned by `value`, or NULL when it is absent or `value` is\nNULL."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {get}(value: *const {c}) -> *const c_char {{\n    boundary_or(std::ptr::null(), || {{\n        // SAFETY: NULL or a live object.\n        unsafe {{ value.as_ref() }}.map_or(std::ptr::null(), |o| opt_cstr(&o.{f}))\n    }})\n}}\n"
            );
        }
        Type::Blob => {
            doc(
                o,
                &format!("Sets {what} to a copy of `data[0..len)`. `(NULL, 0)` removes it; a non-NULL `data` with `len` 0 is a\npresent, empty value.{union_note}\n\n{null_obj} (NULL `value`, NULL `data` with a non-zero `len`), leaving the object unchanged."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {set}(value: *mut {c}, data: *const u8, len: usize) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or an object the caller owns.\n        let o = unsafe {{ try_mut(value, \"value\") }}?;\n        // SAFETY: NULL or `len` readable bytes.\n        let v = unsafe {{ crate::ffi::opt_bytes_arg(data, len, \"{}\") }}?;\n        {clear_some}o.{f} = v;\n        Ok(())\n    }})\n}}\n",
                mem.name
            );
            doc(
                o,
                &format!("Returns {what} and writes its length to `*len` (when `len` is not NULL). NULL (length 0) when it is\nabsent or `value` is NULL; a present, empty value gives a non-NULL pointer and length 0. Owned by `value`."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {get}(value: *const {c}, len: *mut usize) -> *const u8 {{\n    boundary_or(std::ptr::null(), || {{\n        // SAFETY: NULL or a live object.\n        let b = unsafe {{ value.as_ref() }}.and_then(|o| o.{f}.as_deref());\n        // SAFETY: NULL or a writable size_t.\n        unsafe {{ lend_bytes(b, len) }}\n    }})\n}}\n"
            );
        }
        Type::Boolean => scalar(o, "bool", "", "", "v"),
        Type::Long => scalar(o, "i64", "", "", "v"),
        Type::Double => scalar(o, "f64", "", "", "v"),
        Type::Timestamp => scalar(
            o,
            "f64",
            "let v = timestamp_arg(v)?;\n        ",
            ", a negative or non-finite number of seconds",
            "v",
        ),
        Type::Enum(e) => {
            let ce = c_enum(e);
            let fe = snake(e);
            let label = m.enum_(e).map(|x| x.label.as_str()).unwrap_or(e);
            let mut w = String::new();
            doc(
                &mut w,
                &format!("Sets {what} (one of the `GGIPC_{}_*` constants).{union_note}\n\n{null_obj} (NULL `value`) or, for a number that is no `GGIPC_{}_*` constant, the nucleus' own\n`GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR` \"Invalid {label} value: <n>\"; the object is then unchanged.", screaming(e), screaming(e)),
            );
            o.push_str(&w);
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {set}(value: *mut {c}, v: {ce}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or an object the caller owns.\n        let o = unsafe {{ try_mut(value, \"value\") }}?;\n        let v = {fe}_from_c(v)?;\n        {clear_union}o.{f} = Some(v);\n        Ok(())\n    }})\n}}\n"
            );
            doc(o, &format!("Removes {what} No-op when `value` is NULL."));
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {c}_clear_{f}(value: *mut {c}) {{\n    boundary_or((), || {{\n        // SAFETY: NULL or an object the caller owns.\n        if let Some(o) = unsafe {{ value.as_mut() }} {{\n            o.{f} = None;\n        }}\n    }})\n}}\n"
            );
            doc(
                o,
                &format!("Writes {what} to `*out` and returns true; returns false (leaving `*out` untouched) when it is absent or\n`value` or `out` is NULL."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {get}(value: *const {c}, out: *mut {ce}) -> bool {{\n    boundary_or(false, || {{\n        // SAFETY: NULL or a live object, NULL or a writable `out`.\n        match (unsafe {{ value.as_ref() }}, out.is_null()) {{\n            (Some(o), false) => match o.{f} {{\n                Some(v) => {{\n                    // SAFETY: checked non-NULL.\n                    unsafe {{ write_out(out, {fe}_to_c(v)) }};\n                    true\n                }}\n                None => false,\n            }},\n            _ => false,\n        }}\n    }})\n}}\n"
            );
        }
        Type::Document => {
            doc(
                o,
                &format!("Sets {what} from the JSON text `json` (any JSON value, parsed and kept); NULL removes it.{union_note}\n\n{null_obj} (NULL `value`, non-UTF-8 or invalid JSON), leaving the object unchanged."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {set}(value: *mut {c}, json: *const c_char) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or an object the caller owns.\n        let o = unsafe {{ try_mut(value, \"value\") }}?;\n        // SAFETY: NULL or a NUL-terminated string.\n        let v = unsafe {{ doc_arg(json, \"{}\") }}?;\n        {clear_some}o.{f} = v;\n        Ok(())\n    }})\n}}\n",
                mem.name
            );
            doc(
                o,
                &format!("Returns {what} as compact JSON text owned by `value`, or NULL when it is absent or `value` is NULL."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {get}(value: *const {c}) -> *const c_char {{\n    boundary_or(std::ptr::null(), || {{\n        // SAFETY: NULL or a live object.\n        unsafe {{ value.as_ref() }}\n            .and_then(|o| o.{f}.as_ref())\n            .map_or(std::ptr::null(), |d| d.text.as_ptr())\n    }})\n}}\n"
            );
        }
        Type::Shape(sh) => {
            let cs = c_shape(sh);
            doc(
                o,
                &format!("Sets {what} to a copy of `v` (a `{cs}`); NULL removes it.{union_note}\n\n{null_obj} (NULL `value`), leaving the object unchanged."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {set}(value: *mut {c}, v: *const {cs}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or an object the caller owns.\n        let o = unsafe {{ try_mut(value, \"value\") }}?;\n        // SAFETY: NULL or a live object.\n        let v = unsafe {{ v.as_ref() }}.map(|v| Box::new(v.clone()));\n        {clear_some}o.{f} = v;\n        Ok(())\n    }})\n}}\n"
            );
            doc(
                o,
                &format!("Returns {what}, lent by `value` (clone it to keep it), or NULL when it is absent or `value` is NULL."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {get}(value: *const {c}) -> *const {cs} {{\n    boundary_or(std::ptr::null(), || {{\n        // SAFETY: NULL or a live object.\n        unsafe {{ value.as_ref() }}\n            .and_then(|o| o.{f}.as_deref())\n            .map_or(std::ptr::null(), |v| v as *const {cs})\n    }})\n}}\n"
            );
        }
        Type::List(inner) => {
            let (elem_c, elem_ret, add_conv, get_conv, what_elem) = match &**inner {
                Type::String => (
                    "*const c_char".to_string(),
                    "*const c_char".to_string(),
                    format!("unsafe {{ c_string_arg(v, \"{}\") }}?.ok_or_else(|| Error::null_argument(\"v\"))?", mem.name),
                    "|s| s.as_ptr()".to_string(),
                    "a copy of the NUL-terminated UTF-8 string `v`".to_string(),
                ),
                Type::Shape(sh) => {
                    let cs = c_shape(sh);
                    (
                        format!("*const {cs}"),
                        format!("*const {cs}"),
                        "unsafe { try_ref(v, \"v\") }?.clone()".to_string(),
                        format!("|v| v as *const {cs}"),
                        format!("a copy of `v` (a `{cs}`)"),
                    )
                }
                _ => unreachable!(),
            };
            doc(
                o,
                &format!(
                    "Returns the number of elements of {what} (0 when absent or `value` is NULL)."
                ),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {c}_{f}_count(value: *const {c}) -> usize {{\n    boundary_or(0, || {{\n        // SAFETY: NULL or a live object.\n        unsafe {{ value.as_ref() }}.and_then(|o| o.{f}.as_ref()).map_or(0, Vec::len)\n    }})\n}}\n"
            );
            doc(
                o,
                &format!("Returns element `index` of {what}, lent by `value`, or NULL when `index` is out of range or `value` is\nNULL."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {c}_{f}_get(value: *const {c}, index: usize) -> {elem_ret} {{\n    boundary_or(std::ptr::null(), || {{\n        // SAFETY: NULL or a live object.\n        unsafe {{ value.as_ref() }}\n            .and_then(|o| o.{f}.as_ref())\n            .and_then(|l| l.get(index))\n            .map_or(std::ptr::null(), {get_conv})\n    }})\n}}\n"
            );
            doc(
                o,
                &format!("Appends {what_elem} to {what} (making the list present).{union_note}\n\n{null_obj} (NULL `value` or `v`, non-UTF-8 string), leaving the object unchanged."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {c}_{f}_add(value: *mut {c}, v: {elem_c}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or an object the caller owns.\n        let o = unsafe {{ try_mut(value, \"value\") }}?;\n        // SAFETY: NULL or a live argument.\n        let v = {add_conv};\n        {clear_none}o.{f}.get_or_insert_with(Vec::new).push(v);\n        Ok(())\n    }})\n}}\n"
            );
            doc(
                o,
                &format!("Removes {what} (absent, not an empty list). No-op when `value` is NULL."),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn {c}_{f}_clear(value: *mut {c}) {{\n    boundary_or((), || {{\n        // SAFETY: NULL or an object the caller owns.\n        if let Some(o) = unsafe {{ value.as_mut() }} {{\n            o.{f} = None;\n        }}\n    }})\n}}\n"
            );
        }
    }
}

fn operation(m: &Model, op: &crate::model::Operation, o: &mut String) {
    let f = snake(&op.name);
    let konst = screaming(&op.name);
    let req = c_shape(&op.request);
    let resp = c_shape(&op.response);
    let errors = op
        .errors
        .iter()
        .map(|e| format!("`GGIPC_ERROR_KIND_{}`", screaming(e)))
        .collect::<Vec<_>>()
        .join(", ");
    match &op.event {
        None => {
            doc(
                o,
                &format!(
                    "{}\n\n`{}#{}`: sends `request` (only read, borrowed for the call) and blocks the calling thread until the\nnucleus answers, reading the answer on this thread (one wake-up per round trip). `timeout_ms` bounds the wait\n(0 = the client's operation timeout). On success writes the response to `*out_response` (the caller frees it with\n`{resp}_free`; NULL `out_response` discards it) and returns NULL. Otherwise returns the error: the nucleus'\nmodeled errors ({errors}) with its message, a transport error, or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL\n`client` or `request` (nothing sent). Thread-safety: any number of threads may call it on one client at once;\nnot from inside an async runtime.",
                    op.doc, m.namespace, op.name
                ),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_{f}(client: *const ggipc_client, request: *const {req}, timeout_ms: u64, out_response: *mut *mut {resp}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or live objects.\n        let client = unsafe {{ try_ref(client, \"client\") }}?;\n        // SAFETY: as above.\n        let request = unsafe {{ try_ref(request, \"request\") }}?;\n        let response = call_sync(client, &model::{konst}, &request.to_core(), timeout_ms)?;\n        if !out_response.is_null() {{\n            // SAFETY: checked non-NULL.\n            unsafe {{ write_out(out_response, into_raw({resp}::from_core(response))) }};\n        }}\n        Ok(())\n    }})\n}}\n"
            );
            doc(
                o,
                &format!("Completion callback of `ggipc_client_{f}_async`: `userdata` as given, then either `error` (lent for the\ncall) or `response` (lent for the call; clone it to keep it); the other one is NULL."),
            );
            let _ = writeln!(
                o,
                "pub type ggipc_{f}_callback = Option<unsafe extern \"C\" fn(userdata: *mut c_void, error: *const ggipc_error, response: *const {resp})>;\n"
            );
            doc(
                o,
                &format!(
                    "`{}#{}` without blocking for the answer: `request` is copied and written on the calling thread when the\nsocket allows; `callback` (may be NULL) runs exactly once with the result on the library's completion thread\n(`ggipc-completion`, in completion order), bounded by the client's operation timeout; it may call any library\nfunction. `free_userdata`, if not NULL, runs once after it. Returns NULL when the call was started, or\n`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL `client` or `request` (then neither `callback` nor `free_userdata`\nruns). Thread-safety: any thread.",
                    m.namespace, op.name
                ),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_{f}_async(client: *const ggipc_client, request: *const {req}, callback: ggipc_{f}_callback, userdata: *mut c_void, free_userdata: ggipc_free_userdata_fn) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or live objects.\n        let client = unsafe {{ try_ref(client, \"client\") }}?;\n        // SAFETY: as above.\n        let request = unsafe {{ try_ref(request, \"request\") }}?;\n        let ud = UserData::new(userdata, free_userdata);\n        call_async(client, &model::{konst}, &request.to_core(), ud, move |ud, result: Result<model::{}, Error>| {{\n            let Some(cb) = callback else {{ return }};\n            match result {{\n                Ok(r) => {{\n                    let r = {resp}::from_core(r);\n                    // SAFETY: the callback and userdata were registered together.\n                    unsafe {{ cb(ud, std::ptr::null(), &r) }};\n                }}\n                Err(e) => {{\n                    let e = e.to_c();\n                    // SAFETY: as above.\n                    unsafe {{ cb(ud, &e, std::ptr::null()) }};\n                }}\n            }}\n        }})\n    }})\n}}\n",
                rust_shape(m, &op.response)
            );
            doc(
                o,
                &format!(
                    "`{}#{}` in two halves, for a caller that waits later or elsewhere: `request` (only read) is written on\nthe calling thread and the started call is written to `*out` (release it with `ggipc_call_free`). Wait for it\nwith `ggipc_call_wait` (the waiting thread reads the answer itself: one wake-up per round trip), then read the\noutcome with `ggipc_call_{f}_response`. Returns NULL when the call was started (a failure to send is its\noutcome), or `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL `client`, `request` or `out` (then `*out` is\nuntouched). Thread-safety: any thread, not from inside an async runtime.",
                    m.namespace, op.name
                ),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_{f}_begin(client: *const ggipc_client, request: *const {req}, out: *mut *mut ggipc_call) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or live objects.\n        let client = unsafe {{ try_ref(client, \"client\") }}?;\n        // SAFETY: as above.\n        let request = unsafe {{ try_ref(request, \"request\") }}?;\n        if out.is_null() {{\n            return Err(Error::null_argument(\"out\"));\n        }}\n        let call = call_begin(client, &model::{konst}, &request.to_core())?;\n        // SAFETY: checked non-NULL above.\n        unsafe {{ write_out(out, Box::into_raw(call)) }};\n        Ok(())\n    }})\n}}\n"
            );
            doc(
                o,
                &format!(
                    "The outcome of a completed `ggipc_client_{f}_begin` call (`ggipc_call_wait` returned true): NULL on success,\nwith the response written to `*out_response` (the caller frees it with `{resp}_free`; NULL `out_response`\ndiscards it), or the error: the nucleus' modeled errors ({errors}) with its message, a transport error, or\n`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL `call`, a call of another operation, or one not completed yet."
                ),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_call_{f}_response(call: *const ggipc_call, out_response: *mut *mut {resp}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or a live call.\n        let response = unsafe {{ call_response::<model::{}>(call, &model::{konst}) }}?;\n        if !out_response.is_null() {{\n            // SAFETY: checked non-NULL.\n            unsafe {{ write_out(out_response, into_raw({resp}::from_core(response))) }};\n        }}\n        Ok(())\n    }})\n}}\n",
                rust_shape(m, &op.response)
            );
        }
        Some(ev) => {
            let cev = c_shape(ev);
            let rev = rust_shape(m, ev);
            doc(
                o,
                &format!("Callbacks of a `{}#{}` stream. Any member may be NULL. They run on the subscription's own\ndispatcher thread (never a runtime worker), one at a time and in order; they may call any library function,\nblocking ones included, and may close or free the subscription or its client.", m.namespace, op.name),
            );
            let _ = writeln!(
                o,
                "#[repr(C)]\n#[derive(Clone, Copy)]\npub struct ggipc_{f}_handler {{\n    /// An event arrived; `event` is lent for the call (clone it with `{cev}_clone` to keep it).\n    pub on_event: Option<unsafe extern \"C\" fn(userdata: *mut c_void, event: *const {cev})>,\n    /// The server reported an error on the stream (lent for the call). Return true to close the subscription,\n    /// false to keep it. NULL member = close.\n    pub on_stream_error: Option<unsafe extern \"C\" fn(userdata: *mut c_void, error: *const ggipc_error) -> bool>,\n    /// The connection was lost; with reconnect enabled the subscription will be re-established (`on_resumed`)\n    /// or closed (`on_closed`). `reason` is lent.\n    pub on_interrupted: Option<unsafe extern \"C\" fn(userdata: *mut c_void, reason: *const ggipc_error)>,\n    /// The subscription was re-established after a reconnect.\n    pub on_resumed: Option<unsafe extern \"C\" fn(userdata: *mut c_void)>,\n    /// `dropped` events were lost before the next one: callbacks did not keep up with the bounded queue, or the nucleus gave up waiting for this subscriber.\n    pub on_lagged: Option<unsafe extern \"C\" fn(userdata: *mut c_void, dropped: u64)>,\n    /// The subscription ended; the last callback it makes. `reason` is NULL after a normal close, otherwise the\n    /// cause (lent).\n    pub on_closed: Option<unsafe extern \"C\" fn(userdata: *mut c_void, reason: *const ggipc_error)>,\n}}\n"
            );
            doc(
                o,
                &format!(
                    "{}\n\n`{}#{}`: sends `request` (only read) and blocks until the nucleus answers (bounded by the client's\noperation timeout). On success writes the open subscription to `*out` (release it with `ggipc_subscription_free`;\nclose it with `ggipc_subscription_close`) and returns NULL; events then reach `handler` (copied), which may start\nbefore this returns. `userdata` is passed to every callback; `free_userdata`, if not NULL, runs once when the\nlibrary no longer needs it. On failure returns the error (the nucleus' modeled errors: {errors}; a transport\nerror; `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL `client`, `request`, `handler` or `out`), leaves `*out`\nuntouched, makes no callback and does not call `free_userdata`. Thread-safety: any thread, not from inside an\nasync runtime.",
                    op.doc, m.namespace, op.name
                ),
            );
            let _ = writeln!(
                o,
                "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_{f}(client: *const ggipc_client, request: *const {req}, handler: *const ggipc_{f}_handler, userdata: *mut c_void, free_userdata: ggipc_free_userdata_fn, out: *mut *mut ggipc_subscription) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or live objects.\n        let client = unsafe {{ try_ref(client, \"client\") }}?;\n        // SAFETY: as above.\n        let request = unsafe {{ try_ref(request, \"request\") }}?;\n        // SAFETY: as above.\n        let h = *unsafe {{ try_ref(handler, \"handler\") }}?;\n        if out.is_null() {{\n            return Err(Error::null_argument(\"out\"));\n        }}\n        let callbacks = StreamCallbacks {{\n            on_stream_error: h.on_stream_error,\n            on_interrupted: h.on_interrupted,\n            on_resumed: h.on_resumed,\n            on_lagged: h.on_lagged,\n            on_closed: h.on_closed,\n        }};\n        let on_event = h.on_event;\n        let sub = crate::subscription::open_blocking::<model::{rev}, _>(\n            client,\n            &model::{konst},\n            &request.to_core(),\n            callbacks,\n            UserData::new(userdata, free_userdata),\n            move |ud, ev| {{\n                if let Some(cb) = on_event {{\n                    let ev = {cev}::from_core(ev);\n                    // SAFETY: the callback and userdata were registered together.\n                    unsafe {{ cb(ud, &ev) }};\n                }}\n            }},\n        )?;\n        // SAFETY: checked non-NULL above.\n        unsafe {{ write_out(out, sub) }};\n        Ok(())\n    }})\n}}\n"
            );
        }
    }
}
