//! c_seed: the C MQTT API of the first releases, `bindings-c/src/mqtt_api.rs`, over the generated C ABI.
//!
//! The seed named its MQTT types and functions before the model existed: `ggipc_publish_request` and
//! `ggipc_message` are the model's `ggipc_publish_to_iot_core_request` and `ggipc_mqtt_message` under their
//! first names (C typedefs of the same opaque types, so a message of either name is the other),
//! `ggipc_publish_operation` is a `ggipc_call`, and every function of the seed is a thin wrapper of the
//! generated one, its arguments checked as the seed documents them:
//!
//! * a request setter per member of the request shape (`<alias>_set_<member>`, or `_add_<element>` for a
//!   list, taking the element's members as arguments), and `<alias>_new` taking the members the seed's
//!   constructor takes;
//! * a message getter per member of the message shape (`<alias>_get_<member>`, and for a list
//!   `_get_<element>_count` and `_get_<element>` writing the element's members), `_clone` and `_free`;
//! * `ggipc_client_publish`, `_publish_bytes`, `_publish_async`, `_publish_begin` and the
//!   `ggipc_publish_operation_*` functions over the publish operation's row;
//! * `ggipc_client_subscribe` / `_subscribe_begin` over the subscribe operation's row, with the seed's
//!   handler (`on_message` gets the event's message member).
//!
//! What stays a table here is only what the seed named differently from the model (`topic` for
//! `topicName`, argument names); members, types and operations come from the model.

use crate::c::doc;
use crate::model::{screaming, snake, Model, Shape, Type};
use crate::{header, Output};
use std::fmt::Write;

/// The request shape and its seed name.
const REQUEST: (&str, &str) = ("PublishToIoTCoreRequest", "ggipc_publish_request");
/// The received message shape and its seed name.
const MESSAGE: (&str, &str) = ("MQTTMessage", "ggipc_message");
/// The publish and subscribe operations.
const PUBLISH: &str = "PublishToIoTCore";
const SUBSCRIBE: &str = "SubscribeToIoTCore";
/// The members `ggipc_publish_request_new` and `ggipc_client_publish_bytes` take, in order.
const NEW_MEMBERS: &[&str] = &["topicName", "qos", "payload"];
/// Enums whose seed functions accept `GGIPC_<ENUM>_UNSET` (leave the member out).
const UNSET_ENUMS: &[&str] = &["QOS"];

/// The seed's name for a member (in function names) and its argument names, where they differ from the
/// member's snake-case name.
const NAMES: &[(&str, &str, &[&str])] = &[
    ("topicName", "topic", &["topic"]),
    ("payload", "payload", &["payload", "payload_len"]),
    ("userProperties", "user_property", &[]),
    (
        "messageExpiryIntervalSeconds",
        "message_expiry_interval_seconds",
        &["seconds"],
    ),
    ("correlationData", "correlation_data", &["data", "data_len"]),
    ("responseTopic", "response_topic", &["topic"]),
    ("payloadFormat", "payload_format", &["format"]),
];

pub fn emit(m: &Model) -> Vec<Output> {
    vec![Output::rust("bindings-c/src/mqtt_api.rs", generate(m))]
}

fn seed_name(member: &str) -> String {
    NAMES
        .iter()
        .find(|(n, _, _)| *n == member)
        .map(|(_, s, _)| s.to_string())
        .unwrap_or_else(|| snake(member))
}

/// The argument names of a member's value: one for scalars and strings, data and length for blobs.
fn args(member: &str, t: &Type) -> Vec<String> {
    if let Some((_, _, a)) = NAMES.iter().find(|(n, _, _)| *n == member) {
        if !a.is_empty() {
            return a.iter().map(|s| s.to_string()).collect();
        }
    }
    let base = snake(member);
    match t {
        Type::Blob => vec![base.clone(), format!("{base}_len")],
        _ => vec![base],
    }
}

fn c_shape(name: &str) -> String {
    format!("ggipc_{}", snake(name))
}

fn shape<'a>(m: &'a Model, name: &str) -> &'a Shape {
    m.shape(name)
        .unwrap_or_else(|| panic!("the seed's MQTT API needs the model's {name}"))
}

fn rust_shape(m: &Model, name: &str) -> String {
    shape(m, name).rust_name().to_string()
}

fn enum_arg_fn(e: &str) -> String {
    format!("{}_arg", snake(e))
}

fn generate(m: &Model) -> String {
    let mut o = String::new();
    o.push_str(&header("//", ""));
    o.push_str("//! The seed's C MQTT API (`ggipc_publish_request`, `ggipc_message`, `ggipc_client_publish`,\n//! `ggipc_client_subscribe`, ...): the model's types under their first names and thin wrappers of the\n//! generated functions, with the seed's argument rules.\n\n");
    o.push_str("#![allow(clippy::needless_update, unused_imports)]\n\n");
    o.push_str(
        "use std::ffi::{c_char, c_void};\n\n\
         use ggipc_core::model;\n\n\
         use crate::client::ggipc_client;\n\
         use crate::error::{ggipc_error, Error};\n\
         use crate::ffi::{boundary, boundary_or, bytes_arg, ggipc_free_userdata_fn, into_raw, opt_bytes_arg, opt_str_arg, str_arg, try_mut, try_ref, write_out, UserData};\n\
         use crate::generated::*;\n\
         use crate::subscription::{ggipc_subscription, StreamCallbacks};\n\
         use crate::support::{c_string, call_async, call_sync, opt_cstr, ggipc_call};\n\n",
    );
    for e in UNSET_ENUMS {
        let c = format!("ggipc_{}", snake(e));
        let k = format!("GGIPC_{}_UNSET", screaming(e));
        let r = m.enum_(e).map(|x| x.rust_name()).unwrap_or(e);
        let _ = writeln!(
            o,
            "/// Leaves the {label} out of the request; the nucleus then answers with\n/// `InvalidArgumentsError` (useful only to exercise that path).\npub const {k}: {c} = 0xFFFF_FFFF;\n\n/// A {label} argument of the MQTT API: a `GGIPC_{s}_*` constant, `{k}` (left out), or any other number,\n/// refused with the nucleus' own error (\"Invalid {label} value: 2\").\npub(crate) fn {f}(v: {c}) -> Result<Option<model::{r}>, Error> {{\n    if v == {k} {{\n        return Ok(None);\n    }}\n    {sn}_from_c(v).map(Some)\n}}\n",
            label = m.enum_(e).map(|x| x.label.as_str()).unwrap_or(e),
            s = screaming(e),
            f = enum_arg_fn(e),
            sn = snake(e),
        );
    }
    request(m, &mut o);
    message(m, &mut o);
    publish(m, &mut o);
    subscribe(m, &mut o);
    o
}

/// The conversion of a member's value from its seed arguments: `strict` refuses NULL (the seed's setters
/// and `publish_bytes`), otherwise NULL leaves it out (the seed's constructor).
fn value_from_args(m: &Model, member: &str, t: &Type, strict: bool) -> (String, String) {
    let a = args(member, t);
    let params;
    let conv = match t {
        Type::String => {
            params = format!("{}: *const c_char", a[0]);
            if strict {
                format!(
                    "// SAFETY: the caller passes a C string or NULL.\n        Some(c_string(unsafe {{ str_arg({0}, \"{0}\") }}?))",
                    a[0]
                )
            } else {
                format!(
                    "// SAFETY: the caller passes a C string or NULL.\n        unsafe {{ opt_str_arg({0}, \"{0}\") }}?.map(c_string)",
                    a[0]
                )
            }
        }
        Type::Blob => {
            params = format!("{}: *const u8, {}: usize", a[0], a[1]);
            if strict {
                format!(
                    "// SAFETY: the caller passes a valid buffer.\n        Some(unsafe {{ bytes_arg({0}, {1}, \"{0}\") }}?)",
                    a[0], a[1]
                )
            } else {
                format!(
                    "// SAFETY: the caller passes a valid buffer.\n        unsafe {{ opt_bytes_arg({0}, {1}, \"{0}\") }}?",
                    a[0], a[1]
                )
            }
        }
        Type::Boolean => {
            params = format!("{}: bool", a[0]);
            format!("Some({})", a[0])
        }
        Type::Long => {
            params = format!("{}: i64", a[0]);
            format!("Some({})", a[0])
        }
        Type::Enum(e) => {
            params = format!("{}: ggipc_{}", a[0], snake(e));
            if UNSET_ENUMS.contains(&e.as_str()) {
                format!("{}({})?", enum_arg_fn(e), a[0])
            } else {
                format!("Some({}_from_c({})?)", snake(e), a[0])
            }
        }
        other => panic!("the seed's MQTT API has no {other:?} argument ({member})"),
    };
    let _ = m;
    (params, conv)
}

/// `let {name} = {conv};`, with a leading `// SAFETY:` line of `conv` put above the `let`.
fn let_line(out: &mut String, name: &str, conv: &str) {
    match conv.split_once('\n') {
        Some((comment, rest)) if comment.starts_with("// SAFETY") => {
            let _ = writeln!(
                out,
                "        {comment}\n        let {name} = {};",
                rest.trim_start()
            );
        }
        _ => {
            let _ = writeln!(out, "        let {name} = {conv};");
        }
    }
}

fn request(m: &Model, o: &mut String) {
    let (name, alias) = REQUEST;
    let s = shape(m, name);
    let c = c_shape(name);
    doc(
        o,
        &format!("A {name} request under construction (the seed's name of `{c}`: the same type). Created with\n`{alias}_new`, released with `{alias}_free`. Not thread-safe: do not modify it while another thread uses it."),
    );
    let _ = writeln!(o, "pub type {alias} = {c};\n");

    // _new
    let mut params = Vec::new();
    let mut convs = String::new();
    let mut fields = String::new();
    for n in NEW_MEMBERS {
        let mem = s
            .members
            .iter()
            .find(|x| x.name == *n)
            .unwrap_or_else(|| panic!("{name} has no member {n}"));
        let t = m.member_type(mem);
        let (p, conv) = value_from_args(m, n, &t, false);
        params.push(p);
        let f = snake(n);
        let_line(&mut convs, &f, &conv);
        let _ = write!(fields, "{f}, ");
    }
    doc(
        o,
        &format!("Creates a publish request for `topic` with `qos` and the payload `payload[0..payload_len)` (copied). A NULL\n`topic` or NULL `payload` leaves that member out of the request (the nucleus then rejects it with\n`InvalidArgumentsError`); an empty payload is a non-NULL pointer with length 0.\n\nOn success writes a new request to `*out` (free it with `{alias}_free`) and returns NULL. On failure returns\nan error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for NULL pointers or invalid UTF-8; the nucleus'\n`GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR` for an unknown QoS) and leaves `*out` untouched. Thread-safety:\nany thread."),
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_new({}, out: *mut *mut {alias}) -> *mut ggipc_error {{\n    boundary(|| {{\n        if out.is_null() {{\n            return Err(Error::null_argument(\"out\"));\n        }}\n{convs}        let request = {c} {{ {fields}..Default::default() }};\n        // SAFETY: checked non-NULL above.\n        unsafe {{ write_out(out, into_raw(request)) }};\n        Ok(())\n    }})\n}}\n",
        params.join(", ")
    );
    doc(
        o,
        &format!("Releases a publish request (`{c}_free`). NULL is a no-op. Thread-safety: not concurrently with other\nuse of the same request."),
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_free(request: *mut {alias}) {{\n    // SAFETY: NULL or a request the caller owns.\n    unsafe {{ {c}_free(request) }}\n}}\n"
    );
    let common = "Returns NULL on success, or an error (`GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL `request` or\ninvalid strings; the nucleus' `GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR` for unknown enum values) leaving the\nrequest unchanged. Thread-safety: not concurrently with other use of the same request.";
    for mem in &s.members {
        let t = m.member_type(mem);
        let f = snake(&mem.name);
        let seed = seed_name(&mem.name);
        let what = mem.doc.trim_end_matches('.');
        match &t {
            Type::List(inner) => {
                let Type::Shape(el) = &**inner else {
                    panic!("the seed's MQTT API has lists of shapes only");
                };
                let es = shape(m, el);
                let ec = c_shape(el);
                let mut ps = Vec::new();
                let mut cs = String::new();
                let mut fs = String::new();
                for em in &es.members {
                    let et = m.member_type(em);
                    if et != Type::String {
                        panic!("the seed's MQTT API adds elements of strings only");
                    }
                    let a = snake(&em.name);
                    ps.push(format!("{a}: *const c_char"));
                    let _ = write!(
                        cs,
                        "        // SAFETY: the caller passes C strings or NULL.\n        let {a} = c_string(unsafe {{ str_arg({a}, \"{a}\") }}?);\n"
                    );
                    let _ = write!(fs, "{}: Some({a}), ", snake(&em.name));
                }
                doc(
                    o,
                    &format!("Appends an element of {what} (copied).\n\n{common}"),
                );
                let _ = writeln!(
                    o,
                    "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_add_{seed}(request: *mut {alias}, {}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or a request the caller owns.\n        let o = unsafe {{ try_mut(request, \"request\") }}?;\n{cs}        o.{f}.get_or_insert_with(Vec::new).push({ec} {{ {fs}..Default::default() }});\n        Ok(())\n    }})\n}}\n",
                    ps.join(", ")
                );
            }
            _ => {
                let (p, conv) = value_from_args(m, &mem.name, &t, true);
                let note = match &t {
                    Type::Blob => " (copied); NULL with length 0 removes it",
                    Type::String => " (copied)",
                    Type::Enum(e) if UNSET_ENUMS.contains(&e.as_str()) => {
                        " (`GGIPC_QOS_UNSET` removes it)"
                    }
                    _ => "",
                };
                let conv = match &t {
                    // A blob setter's NULL removes the member; its other arguments are required.
                    Type::Blob => value_from_args(m, &mem.name, &t, false).1,
                    _ => conv,
                };
                doc(o, &format!("Sets {what}{note}.\n\n{common}"));
                let _ = writeln!(
                    o,
                    "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_set_{seed}(request: *mut {alias}, {p}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or a request the caller owns.\n        let o = unsafe {{ try_mut(request, \"request\") }}?;\n        o.{f} = {conv};\n        Ok(())\n    }})\n}}\n"
                );
            }
        }
    }
}

fn message(m: &Model, o: &mut String) {
    let (name, alias) = MESSAGE;
    let s = shape(m, name);
    let c = c_shape(name);
    doc(
        o,
        &format!("A received MQTT message (the seed's name of `{c}`: the same type), the `message` member of an\n`IoTCoreMessage` event.\n\nMessages passed to `on_message` are lent for the duration of the callback; use `{alias}_clone` to keep\none. Every accessor accepts NULL and then reports the field as absent. Read-only, so any thread may read it\nconcurrently."),
    );
    let _ = writeln!(o, "pub type {alias} = {c};\n");
    for mem in &s.members {
        let t = m.member_type(mem);
        let f = snake(&mem.name);
        let seed = seed_name(&mem.name);
        let what = mem.doc.trim_end_matches('.');
        match &t {
            Type::String => {
                doc(
                    o,
                    &format!(
                        "Returns {what} (NUL-terminated, owned by the message), or NULL if absent."
                    ),
                );
                let _ = writeln!(
                    o,
                    "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_get_{seed}(message: *const {alias}) -> *const c_char {{\n    // SAFETY: NULL or a live message.\n    unsafe {{ {c}_get_{f}(message) }}\n}}\n"
                );
            }
            Type::Blob => {
                doc(o, &format!("Returns {what} and writes its length to `*len` (if `len` is not NULL). Returns NULL (and\nlength 0) when absent; a present but empty value gives a non-NULL pointer and length 0. Owned by the message."));
                let _ = writeln!(
                    o,
                    "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_get_{seed}(message: *const {alias}, len: *mut usize) -> *const u8 {{\n    // SAFETY: NULL or a live message, NULL or a writable size_t.\n    unsafe {{ {c}_get_{f}(message, len) }}\n}}\n"
                );
            }
            Type::Boolean | Type::Long | Type::Enum(_) => {
                let ty = match &t {
                    Type::Boolean => "bool".to_string(),
                    Type::Long => "i64".to_string(),
                    Type::Enum(e) => format!("ggipc_{}", snake(e)),
                    _ => unreachable!(),
                };
                doc(o, &format!("Writes {what} to `*out` and returns true, or returns false (leaving `*out` untouched) when\nabsent or when `out` is NULL."));
                let _ = writeln!(
                    o,
                    "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_get_{seed}(message: *const {alias}, out: *mut {ty}) -> bool {{\n    // SAFETY: NULL or a live message, NULL or a writable `out`.\n    unsafe {{ {c}_get_{f}(message, out) }}\n}}\n"
                );
            }
            Type::List(inner) => {
                let Type::Shape(el) = &**inner else {
                    panic!("the seed's MQTT API has lists of shapes only");
                };
                let es = shape(m, el);
                doc(
                    o,
                    &format!("Returns the number of elements of {what} (0 when absent)."),
                );
                let _ = writeln!(
                    o,
                    "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_get_{seed}_count(message: *const {alias}) -> usize {{\n    // SAFETY: NULL or a live message.\n    unsafe {{ {c}_{f}_count(message) }}\n}}\n"
                );
                let ps: Vec<String> = es
                    .members
                    .iter()
                    .map(|em| format!("{}: *mut *const c_char", snake(&em.name)))
                    .collect();
                let names: Vec<String> = es.members.iter().map(|em| snake(&em.name)).collect();
                let nulls = names
                    .iter()
                    .map(|n| format!("{n}.is_null()"))
                    .collect::<Vec<_>>()
                    .join(" || ");
                let writes: String = names
                    .iter()
                    .map(|n| format!("                    write_out({n}, opt_cstr(&p.{n}));\n"))
                    .collect();
                doc(o, &format!("Writes the {} of element `index` of {what} (NUL-terminated, owned by the message) and\nreturns true; returns false if `index` is out of range or an out-pointer is NULL.", names.join(" and ")));
                let _ = writeln!(
                    o,
                    "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_get_{seed}(message: *const {alias}, index: usize, {}) -> bool {{\n    boundary_or(false, || {{\n        if {nulls} {{\n            return false;\n        }}\n        // SAFETY: NULL or a live message.\n        match unsafe {{ message.as_ref() }}.and_then(|m| m.{f}.as_ref()).and_then(|l| l.get(index)) {{\n            Some(p) => {{\n                // SAFETY: checked non-NULL.\n                unsafe {{\n{writes}                }}\n                true\n            }}\n            None => false,\n        }}\n    }})\n}}\n",
                    ps.join(", ")
                );
            }
            other => panic!("the seed's MQTT API has no getter for {other:?}"),
        }
    }
    doc(o, &format!("Returns a deep copy of `message` owned by the caller (release it with `{alias}_free`), or NULL if\n`message` is NULL. Thread-safety: any thread."));
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_clone(message: *const {alias}) -> *mut {alias} {{\n    // SAFETY: NULL or a live message.\n    unsafe {{ {c}_clone(message) }}\n}}\n"
    );
    doc(o, &format!("Releases a message obtained from `{alias}_clone`. NULL is a no-op. Never free a message lent to a\ncallback."));
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn {alias}_free(message: *mut {alias}) {{\n    // SAFETY: NULL or a message the caller owns.\n    unsafe {{ {c}_free(message) }}\n}}\n"
    );
}

fn operation<'a>(m: &'a Model, name: &str) -> &'a crate::model::Operation {
    m.operations
        .iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("the seed's MQTT API needs the operation {name}"))
}

fn publish(m: &Model, o: &mut String) {
    let op = operation(m, PUBLISH);
    let (_, alias) = REQUEST;
    let f = snake(&op.name);
    let konst = screaming(&op.name);
    let resp = rust_shape(m, &op.response);
    let errors = op
        .errors
        .iter()
        .map(|e| format!("`GGIPC_ERROR_KIND_{}`", screaming(e)))
        .collect::<Vec<_>>()
        .join(", ");
    doc(
        o,
        &format!("Publishes `request` and blocks the calling thread until the nucleus accepts it: `ggipc_client_{f}`\nwithout the (empty) response. The request is written and its answer read on the calling thread (one wake-up\nper round trip).\n\n`timeout_ms` bounds the wait (0 = the client's operation timeout). Returns NULL when the nucleus accepted the\nmessage, or the error: the server's modeled errors ({errors}) keep its message; transport failures say what\nhappened. `request` is only read (borrowed for the call).\nThread-safety: any number of threads may publish on one client at once."),
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_publish(client: *const ggipc_client, request: *const {alias}, timeout_ms: u64) -> *mut ggipc_error {{\n    // SAFETY: arguments forwarded as received.\n    unsafe {{ ggipc_client_{f}(client, request, timeout_ms, std::ptr::null_mut()) }}\n}}\n"
    );
    // publish_bytes
    let s = shape(m, &op.request);
    let mut params = Vec::new();
    let mut convs = String::new();
    let mut fields = String::new();
    for n in NEW_MEMBERS {
        let mem = s
            .members
            .iter()
            .find(|x| x.name == *n)
            .unwrap_or_else(|| panic!("{} has no member {n}", op.request));
        let t = m.member_type(mem);
        let (p, conv) = value_from_args(m, n, &t, true);
        // Borrowed, as the `_view` functions send: the arguments go from the caller's memory straight into
        // the body, with no copy.
        let conv = conv
            .replace("Some(c_string(", "Some(")
            .replace("}?))", "}?)")
            .replace("bytes_arg(", "crate::ffi::slice_arg(");
        params.push(p);
        let fl = snake(n);
        let_line(&mut convs, &fl, &conv);
        let _ = write!(fields, "{fl}, ");
    }
    doc(
        o,
        "Shorthand for a publish with only topic, QoS and payload (encoded from the caller's memory); blocks as `ggipc_client_publish`\nwith the client's operation timeout.",
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_publish_bytes(client: *const ggipc_client, {}) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or a live client.\n        let client = unsafe {{ try_ref(client, \"client\") }}?;\n{convs}        let request = crate::generated::{rreq}Ref {{ {fields}..Default::default() }};\n        let result: Result<model::{resp}, _> = call_sync(client, &model::{konst}, &request, 0);\n        result.map(|_| ())\n    }})\n}}\n",
        params.join(", "),
        rreq = rust_shape(m, &op.request)
    );
    doc(
        o,
        "Completion callback of an asynchronous call: `userdata` as given and the\nresult, NULL for success or an error lent for the duration of the call.",
    );
    o.push_str("pub type ggipc_completion_fn =\n    Option<unsafe extern \"C\" fn(userdata: *mut c_void, error: *const ggipc_error)>;\n\n");
    doc(
        o,
        &format!("Publishes `request` without blocking for the response (`ggipc_client_{f}_async` with the seed's\ncallback): the request is written on the calling thread when the socket allows, and `callback` runs exactly\nonce with the result on the library's completion thread (`ggipc-completion`, shared by all clients, callbacks\nin completion order). The callback may call any library function, including blocking ones; a callback that\nblocks delays the other completions. `callback` may be NULL (fire and forget).\n\nReturns NULL when the publish was started (then the callback will run), or an error for invalid arguments\n(then neither `callback` nor `free_userdata` runs). `free_userdata`, if not NULL, runs once after the\ncallback."),
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_publish_async(client: *const ggipc_client, request: *const {alias}, callback: ggipc_completion_fn, userdata: *mut c_void, free_userdata: ggipc_free_userdata_fn) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or live objects.\n        let client = unsafe {{ try_ref(client, \"client\") }}?;\n        // SAFETY: as above.\n        let request = unsafe {{ try_ref(request, \"request\") }}?;\n        let ud = UserData::new(userdata, free_userdata);\n        call_async(client, &model::{konst}, &request.to_core(), ud, move |ud, result: Result<model::{resp}, Error>| {{\n            let Some(cb) = callback else {{ return }};\n            let err = result.err().map(|e| e.to_c());\n            let ptr = err.as_ref().map_or(std::ptr::null(), |e| e as *const ggipc_error);\n            // SAFETY: the callback and userdata were registered together.\n            unsafe {{ cb(ud, ptr) }};\n        }})\n    }})\n}}\n"
    );
    doc(
        o,
        "An in-flight publish started by `ggipc_client_publish_begin` (the seed's name of `ggipc_call`: the same\ntype). Wait for it with `ggipc_publish_operation_wait`, read the outcome with\n`ggipc_publish_operation_get_result`, release it with `ggipc_publish_operation_free`. May be waited on from any\nthread; the waiting thread reads the answer itself.",
    );
    o.push_str("pub type ggipc_publish_operation = ggipc_call;\n\n");
    doc(
        o,
        &format!("Starts publishing `request` (`ggipc_client_{f}_begin`): it is written on the calling thread (which waits\nonly while the connection is being re-established or its socket is full, within the operation timeout) and\nthe call returns with an operation handle in `*out`. The publish completes whether or not anyone waits.\nReturns NULL on success, or an error for invalid arguments (then `*out` is untouched); a failure to send is\nthe operation's result."),
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_publish_begin(client: *const ggipc_client, request: *const {alias}, out: *mut *mut ggipc_publish_operation) -> *mut ggipc_error {{\n    // SAFETY: arguments forwarded as received.\n    unsafe {{ ggipc_client_{f}_begin(client, request, out) }}\n}}\n"
    );
    doc(
        o,
        "Waits up to `timeout_ms` milliseconds (`UINT64_MAX` = until done; the client's operation timeout still\napplies) for the publish to complete, reading the answer on the calling thread (`ggipc_call_wait`). Returns\ntrue once it has completed (successfully or not), false on timeout or a NULL `operation`. A timed-out wait\nleaves the operation running; wait again or free it. Threads waiting on one operation at once take turns.",
    );
    o.push_str("#[no_mangle]\npub unsafe extern \"C\" fn ggipc_publish_operation_wait(operation: *const ggipc_publish_operation, timeout_ms: u64) -> bool {\n    // SAFETY: NULL or a live operation.\n    unsafe { crate::support::ggipc_call_wait(operation, timeout_ms) }\n}\n\n");
    doc(
        o,
        "Returns the outcome of a completed publish: NULL if the nucleus accepted it, otherwise a new error object\n(caller frees). While the publish has not been waited for to completion (`ggipc_publish_operation_wait`\nreturned true), returns an error of kind `GGIPC_ERROR_KIND_INVALID_ARGUMENT` saying so.",
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_publish_operation_get_result(operation: *const ggipc_publish_operation) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: NULL or a live operation.\n        let operation = unsafe {{ try_ref(operation, \"operation\") }}?;\n        // SAFETY: a live operation.\n        unsafe {{ crate::support::call_response::<model::{resp}>(operation, &model::{konst}) }}.map(|_| ())\n    }})\n}}\n"
    );
    doc(
        o,
        "Releases a publish operation; a publish still in flight goes on without it. NULL is a no-op.",
    );
    o.push_str("#[no_mangle]\npub unsafe extern \"C\" fn ggipc_publish_operation_free(operation: *mut ggipc_publish_operation) {\n    // SAFETY: NULL or an operation the caller owns.\n    unsafe { crate::support::ggipc_call_free(operation) }\n}\n\n");
}

fn subscribe(m: &Model, o: &mut String) {
    let op = operation(m, SUBSCRIBE);
    let (msg_shape, msg_alias) = MESSAGE;
    let konst = screaming(&op.name);
    let req = c_shape(&op.request);
    let ev = op.event.as_deref().expect("SubscribeToIoTCore is a stream");
    let rev = rust_shape(m, ev);
    let evs = shape(m, ev);
    // The event member the seed's handler lends: the one holding the message shape.
    let lent = evs
        .members
        .iter()
        .find(|x| m.member_type(x) == Type::Shape(msg_shape.to_string()))
        .unwrap_or_else(|| panic!("{ev} has no {msg_shape} member"));
    let lent = snake(&lent.name);
    let msg_c = c_shape(msg_shape);
    doc(
        o,
        &format!("Callbacks of a subscription opened by `ggipc_client_subscribe` (the seed's handler: the generated\n`ggipc_{}_handler` with the message instead of the event). Any member may be NULL. All of them run on the\nsubscription's own dispatcher thread (never a runtime worker), one at a time and in order; they may call any\nlibrary function, blocking ones included, and may close or free this very subscription or its client.", snake(&op.name)),
    );
    let _ = writeln!(
        o,
        "#[repr(C)]\n#[derive(Clone, Copy)]\npub struct ggipc_subscription_handler {{\n    /// A message arrived. `message` is lent for the call (NULL if the event carried\n    /// no message member).\n    pub on_message: Option<unsafe extern \"C\" fn(userdata: *mut c_void, message: *const {msg_alias})>,\n    /// The server reported an error on the stream (lent for the call). Return true to\n    /// close the subscription, false to keep it. NULL member = close.\n    pub on_stream_error: Option<unsafe extern \"C\" fn(userdata: *mut c_void, error: *const ggipc_error) -> bool>,\n    /// The connection was lost; with reconnect enabled the subscription will be\n    /// re-established (`on_resumed`) or closed (`on_closed`). `reason` is lent.\n    pub on_interrupted: Option<unsafe extern \"C\" fn(userdata: *mut c_void, reason: *const ggipc_error)>,\n    /// The subscription was re-established after a reconnect.\n    pub on_resumed: Option<unsafe extern \"C\" fn(userdata: *mut c_void)>,\n    /// `dropped` messages were discarded because callbacks did not keep up with\n    /// the bounded per-subscription queue.\n    pub on_lagged: Option<unsafe extern \"C\" fn(userdata: *mut c_void, dropped: u64)>,\n    /// The subscription ended; the last callback it makes. `reason` is NULL after a\n    /// normal close, otherwise the cause (lent).\n    pub on_closed: Option<unsafe extern \"C\" fn(userdata: *mut c_void, reason: *const ggipc_error)>,\n}}\n"
    );
    // The request from the seed's arguments.
    let rs = shape(m, &op.request);
    let mut params = Vec::new();
    let mut names = Vec::new();
    let mut convs = String::new();
    let mut fields = String::new();
    for mem in &rs.members {
        let t = m.member_type(mem);
        let seed_arg = if mem.name == "topicName" {
            "topic_filter".to_string()
        } else {
            snake(&mem.name)
        };
        let (p, conv) = match &t {
            Type::String => (
                format!("{seed_arg}: *const c_char"),
                format!("// SAFETY: NULL or a valid C string.\n    let {} = unsafe {{ opt_str_arg({seed_arg}, \"{seed_arg}\") }}?.map(c_string);\n", snake(&mem.name)),
            ),
            Type::Enum(e) => (
                format!("{seed_arg}: ggipc_{}", snake(e)),
                format!("    let {} = {}({seed_arg})?;\n", snake(&mem.name), enum_arg_fn(e)),
            ),
            other => panic!("the seed's subscribe has no {other:?} argument"),
        };
        params.push(p);
        names.push(seed_arg);
        convs.push_str(&conv);
        let _ = write!(fields, "{}, ", snake(&mem.name));
    }
    let params = params.join(", ");
    let names = names.join(", ");
    let _ = writeln!(
        o,
        "/// Starts a {op} stream with the seed's handler.\nunsafe fn subscribe(client: *const ggipc_client, {params}, handler: *const ggipc_subscription_handler, userdata: *mut c_void, free_userdata: ggipc_free_userdata_fn, out: *mut *mut ggipc_subscription) -> Result<Box<ggipc_subscription>, Error> {{\n    // SAFETY: NULL or a live client.\n    let client = unsafe {{ try_ref(client, \"client\") }}?;\n    {convs}    // SAFETY: NULL or a live handler.\n    let handler = *unsafe {{ try_ref(handler, \"handler\") }}?;\n    if out.is_null() {{\n        return Err(Error::null_argument(\"out\"));\n    }}\n    let request = {req} {{ {fields}..Default::default() }};\n    let callbacks = StreamCallbacks {{\n        on_stream_error: handler.on_stream_error,\n        on_interrupted: handler.on_interrupted,\n        on_resumed: handler.on_resumed,\n        on_lagged: handler.on_lagged,\n        on_closed: handler.on_closed,\n    }};\n    let on_message = handler.on_message;\n    crate::subscription::open::<model::{rev}, _>(\n        client,\n        &model::{konst},\n        &request.to_core(),\n        callbacks,\n        UserData::new(userdata, free_userdata),\n        move |ud, ev: model::{rev}| {{\n            if let Some(cb) = on_message {{\n                let m = ev.{lent}.map({msg_c}::from_core);\n                let ptr = m.as_ref().map_or(std::ptr::null(), |m| m as *const {msg_c});\n                // SAFETY: the callback and userdata were registered together.\n                unsafe {{ cb(ud, ptr) }};\n            }}\n        }},\n    )\n}}\n",
        op = op.name
    );
    doc(
        o,
        "Starts subscribing to `topic_filter` (MQTT wildcards allowed; NULL leaves it out of the request, which the\nnucleus rejects) with `qos` and returns at once with a handle in `*out`; the activation is written on the\ncalling thread when the socket allows. Use `ggipc_subscription_wait` and `ggipc_subscription_get_result` to\nlearn whether the nucleus accepted it.\n\n`handler` is copied; `userdata` is passed to every callback; `free_userdata`, if not NULL, runs once when the\nlibrary no longer needs `userdata` (after the last callback, at the latest when the handle is freed and the\nstream has ended). Returns NULL on success, or an error in which case nothing was started, `*out` is untouched\nand `free_userdata` is not called: `GGIPC_ERROR_KIND_INVALID_ARGUMENT` for a NULL pointer or invalid UTF-8,\nthe nucleus' `GGIPC_ERROR_KIND_INVALID_ARGUMENTS_ERROR` (\"Invalid QoS value: <n>\") for a `qos` that is no\n`GGIPC_QOS_*` constant.",
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_subscribe_begin(client: *const ggipc_client, {params}, handler: *const ggipc_subscription_handler, userdata: *mut c_void, free_userdata: ggipc_free_userdata_fn, out: *mut *mut ggipc_subscription) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: arguments forwarded as received.\n        let s = unsafe {{ subscribe(client, {names}, handler, userdata, free_userdata, out) }}?;\n        // SAFETY: checked non-NULL by `subscribe`.\n        unsafe {{ write_out(out, Box::into_raw(s)) }};\n        Ok(())\n    }})\n}}\n"
    );
    doc(
        o,
        "Subscribes and blocks until the nucleus answers (bounded by the client's operation timeout). Arguments as\n`ggipc_client_subscribe_begin`.\n\nOn success writes the active subscription to `*out` and returns NULL; callbacks may start before this function\nreturns. On failure returns the error (for example `GGIPC_ERROR_KIND_UNAUTHORIZED_ERROR` with the server's\nmessage), leaves `*out` untouched, makes no callback, and does not call `free_userdata`: the caller still owns\n`userdata`.",
    );
    let _ = writeln!(
        o,
        "#[no_mangle]\npub unsafe extern \"C\" fn ggipc_client_subscribe(client: *const ggipc_client, {params}, handler: *const ggipc_subscription_handler, userdata: *mut c_void, free_userdata: ggipc_free_userdata_fn, out: *mut *mut ggipc_subscription) -> *mut ggipc_error {{\n    boundary(|| {{\n        // SAFETY: arguments forwarded as received.\n        let s = unsafe {{ subscribe(client, {names}, handler, userdata, free_userdata, out) }}?;\n        let s = crate::subscription::answered(s)?;\n        // SAFETY: checked non-NULL by `subscribe`.\n        unsafe {{ write_out(out, Box::into_raw(s)) }};\n        Ok(())\n    }})\n}}\n"
    );
}
