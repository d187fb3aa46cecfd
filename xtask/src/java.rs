//! Java: the model classes (`io.ggipc.greengrass.model`: enums, shapes, modeled errors, with their JSON readers
//! and writers), the V1 `<Op>ResponseHandler` classes, the `GreengrassCoreIPC` interface, the
//! `GreengrassCoreIPCClient` and `GreengrassCoreIPCClientV2` operation methods, the modeled-error table and the
//! model round-trip test. The generic machinery the generated code calls (`io.ggipc.internal.Operations`,
//! `JsonReader`, `JsonWriter`) is hand-written.

use crate::model::{screaming, upper_first, ErrorDef, Model, Operation, Shape, Type};
use crate::{header, Output};
use std::fmt::Write;

const MAIN: &str = "bindings-java/src/main/java/io/ggipc";
const TEST: &str = "bindings-java/src/test/java/io/ggipc";

fn path(p: String) -> &'static str {
    Box::leak(p.into_boxed_str())
}

pub fn emit(m: &Model) -> Vec<Output> {
    let mut out = Vec::new();
    for e in &m.enums {
        out.push(Output::text(
            path(format!("{MAIN}/greengrass/model/{}.java", e.name)),
            enum_class(m, e),
        ));
    }
    for s in &m.shapes {
        out.push(Output::text(
            path(format!("{MAIN}/greengrass/model/{}.java", s.name)),
            shape_class(m, s),
        ));
    }
    for e in m.errors.iter().filter(|e| e.modeled) {
        out.push(Output::text(
            path(format!("{MAIN}/greengrass/model/{}.java", e.name)),
            error_class(m, e),
        ));
    }
    out.push(Output::text(
        path(format!("{MAIN}/internal/ModeledErrors.java")),
        modeled_errors(m),
    ));
    for o in &m.operations {
        out.push(Output::text(
            path(format!("{MAIN}/greengrass/{}ResponseHandler.java", o.name)),
            response_handler(o),
        ));
    }
    out.push(Output::text(
        path(format!("{MAIN}/greengrass/GreengrassCoreIPC.java")),
        interface(m),
    ));
    out.push(Output::text(
        path(format!("{MAIN}/greengrass/GreengrassCoreIPCClient.java")),
        client_v1(m),
    ));
    out.push(Output::text(
        path(format!("{MAIN}/greengrass/GreengrassCoreIPCClientV2.java")),
        client_v2(m),
    ));
    out.push(Output::text(
        path(format!("{TEST}/greengrass/model/ModelRoundTripTest.java")),
        round_trip_test(m),
    ));
    out
}

fn lower_first(s: &str) -> String {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + cs.as_str(),
        None => String::new(),
    }
}

/// Javadoc text (no `*/`, no HTML surprises).
fn jd(s: &str) -> String {
    s.replace("*/", "*&#47;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "")
}

fn doc(o: &mut String, indent: &str, text: &str) {
    let _ = writeln!(o, "{indent}/** {} */", jd(text));
}

/// The Java type of a member's value (boxed; enums are held as their wire string).
fn java_type(m: &Model, t: &Type) -> String {
    match t {
        Type::String | Type::Enum(_) => "String".into(),
        Type::Boolean => "Boolean".into(),
        Type::Long => "Long".into(),
        Type::Double => "Double".into(),
        Type::Blob => "byte[]".into(),
        Type::Timestamp => "Instant".into(),
        Type::Document => "Map<String, Object>".into(),
        Type::List(t) => format!("List<{}>", java_elem_type(m, t)),
        Type::Shape(s) => s.clone(),
    }
}

/// The Java type of a list element (enums in lists are held as their wire string too).
fn java_elem_type(m: &Model, t: &Type) -> String {
    java_type(m, t)
}

/// An expression reading a value of type `t` from the JsonReader named `r`.
fn read_expr(t: &Type, r: &str) -> String {
    match t {
        Type::String | Type::Enum(_) => format!("{r}.nextString()"),
        Type::Boolean => format!("{r}.nextBoolean()"),
        Type::Long => format!("{r}.nextLong()"),
        Type::Double => format!("{r}.nextDouble()"),
        Type::Blob => format!("{r}.nextBlob()"),
        Type::Timestamp => format!("{r}.nextInstant()"),
        Type::Document => format!("{r}.nextDocumentMap()"),
        Type::List(t) => {
            let r2 = format!("{r}2");
            format!("{r}.nextList({r2} -> {})", read_expr(t, &r2))
        }
        Type::Shape(s) => format!("{s}.readJson({r})"),
    }
}

/// A statement writing the value `v` of type `t` to the JsonWriter named `w`.
fn write_stmt(t: &Type, v: &str, w: &str) -> String {
    match t {
        Type::String | Type::Enum(_) | Type::Boolean | Type::Long | Type::Double => {
            format!("{w}.value({v});")
        }
        Type::Blob => format!("{w}.blob({v});"),
        Type::Timestamp => format!("{w}.instant({v});"),
        Type::Document => format!("{w}.document({v});"),
        Type::List(t) => {
            let w2 = format!("{w}2");
            let e = format!("{v}Item");
            let inner = write_stmt(t, &e, &w2);
            format!("{w}.list({v}, ({w2}, {e}) -> {{ {inner} }});")
        }
        Type::Shape(_) => format!("{v}.writeJson({w});"),
    }
}

/// A sample value (Java expression) for the round-trip test; `n` varies values.
fn sample(m: &Model, t: &Type, n: usize) -> String {
    match t {
        Type::String => format!("\"s{n} \\\"q\\\" \\u00e9\\n\""),
        Type::Enum(e) => {
            let e = m.enum_(e).expect("checked");
            format!("\"{}\"", e.values[n % e.values.len()].value)
        }
        Type::Boolean => n.is_multiple_of(2).to_string(),
        Type::Long => format!("{}L", 1_000_000_007i64 * (n as i64 + 1) - 3),
        Type::Double => format!("{}.25", n + 1),
        Type::Blob => format!("new byte[] {{0, (byte) 255, {}, 10}}", n % 100),
        Type::Timestamp => format!("Instant.ofEpochSecond(1700000000L + {n}, 500000000L)"),
        Type::Document => "sampleDocument()".into(),
        Type::List(t) => format!(
            "new ArrayList<>(List.of({}, {}))",
            sample(m, t, n),
            sample(m, t, n + 1)
        ),
        Type::Shape(s) => format!("sample{s}()"),
    }
}

fn imports_for(m: &Model, members: &[crate::model::Member]) -> Vec<&'static str> {
    let mut v = Vec::new();
    for mem in members {
        let mut t = m.member_type(mem);
        if let Type::List(inner) = t {
            v.push("java.util.List");
            t = *inner;
        }
        match t {
            Type::Blob => v.push("java.util.Arrays"),
            Type::Timestamp => v.push("java.time.Instant"),
            Type::Document => v.push("java.util.Map"),
            _ => {}
        }
    }
    v.sort();
    v.dedup();
    v
}

fn enum_class(_m: &Model, e: &crate::model::Enum) -> String {
    let mut o = header("//", "");
    let n = &e.name;
    o.push_str("package io.ggipc.greengrass.model;\n\n");
    o.push_str("import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;\n");
    o.push_str("import java.util.HashMap;\nimport java.util.Map;\n\n");
    doc(&mut o, "", &e.doc);
    let _ = writeln!(o, "public enum {n} implements EventStreamJsonMessage {{");
    for (i, v) in e.values.iter().enumerate() {
        doc(&mut o, "    ", &v.doc);
        let sep = if i + 1 == e.values.len() { ";" } else { "," };
        let _ = writeln!(o, "    {}(\"{}\"){sep}", v.name, v.value);
    }
    let _ = write!(
        o,
        r#"
    public static final String APPLICATION_MODEL_TYPE = "aws.greengrass#{n}";

    private static final Map<String, {n}> LOOKUP = new HashMap<>();

    static {{
        for ({n} v : values()) {{
            LOOKUP.put(v.value, v);
        }}
    }}

    final String value;

    {n}(String value) {{
        this.value = value;
    }}

    /** The wire value. */
    public String getValue() {{
        return value;
    }}

    @Override
    public String getApplicationModelType() {{
        return APPLICATION_MODEL_TYPE;
    }}

    /** The constant with this wire value, or {{@code null}}. */
    public static {n} get(String value) {{
        return value == null ? null : LOOKUP.get(value);
    }}
}}
"#
    );
    o
}

/// Getters, setters and fluent setters of one member.
fn accessors(o: &mut String, m: &Model, class: &str, mem: &crate::model::Member, union: bool) {
    let t = m.member_type(mem);
    let jt = java_type(m, &t);
    let f = &mem.name;
    let up = upper_first(f);
    let union_set = |o: &mut String| {
        if union {
            let _ = writeln!(o, "        clearUnion();");
        }
    };
    let getter = if t == Type::Boolean { "is" } else { "get" };
    doc(o, "    ", &mem.doc);
    if let Type::Enum(e) = &t {
        let _ = write!(
            o,
            "    public {e} get{up}() {{\n        return {e}.get({f});\n    }}\n\n    \
             /** The wire value (also one this version does not know). */\n    \
             public String get{up}AsString() {{\n        return {f};\n    }}\n\n"
        );
        let _ = writeln!(o, "    public void set{up}(String {f}) {{");
        union_set(o);
        let _ = write!(o, "        this.{f} = {f};\n    }}\n\n");
        let _ = write!(o, "    public {class} with{up}(String {f}) {{\n        set{up}({f});\n        return this;\n    }}\n\n");
        let _ = writeln!(o, "    public void set{up}({e} {f}) {{");
        union_set(o);
        let _ = write!(
            o,
            "        this.{f} = {f} == null ? null : {f}.getValue();\n    }}\n\n"
        );
        let _ = write!(o, "    public {class} with{up}({e} {f}) {{\n        set{up}({f});\n        return this;\n    }}\n\n");
    } else {
        let _ = write!(
            o,
            "    public {jt} {getter}{up}() {{\n        return {f};\n    }}\n\n"
        );
        let _ = writeln!(o, "    public void set{up}({jt} {f}) {{");
        union_set(o);
        let _ = write!(o, "        this.{f} = {f};\n    }}\n\n");
        let _ = write!(o, "    public {class} with{up}({jt} {f}) {{\n        set{up}({f});\n        return this;\n    }}\n\n");
    }
}

/// `writeJson`/`readJson` bodies for a list of members (the fields of `x`).
fn json_methods(
    o: &mut String,
    m: &Model,
    class: &str,
    members: &[crate::model::Member],
    error: bool,
) {
    o.push_str(
        "    /** Writes this value as a JSON object (members that are not set are left out). */\n",
    );
    o.push_str("    public void writeJson(JsonWriter w) {\n        w.beginObject();\n");
    if error {
        o.push_str("        if (getMessage() != null) {\n            w.name(\"message\");\n            w.value(getMessage());\n        }\n");
    }
    for mem in members.iter().filter(|x| !(error && x.name == "message")) {
        let t = m.member_type(mem);
        let f = &mem.name;
        let _ = write!(
            o,
            "        if ({f} != null) {{\n            w.name(\"{f}\");\n            {}\n        }}\n",
            write_stmt(&t, f, "w")
        );
    }
    o.push_str("        w.endObject();\n    }\n\n");
    o.push_str("    /** This value as JSON bytes (UTF-8). */\n");
    o.push_str("    public byte[] toJson() {\n        JsonWriter w = new JsonWriter();\n        writeJson(w);\n        return w.toByteArray();\n    }\n\n");
    let _ = write!(
        o,
        "    /** Reads a value from JSON bytes; {{@code null}} or empty input gives an empty value. */\n    \
         public static {class} fromJson(byte[] json) {{\n        \
         if (json == null || json.length == 0) {{\n            return new {class}();\n        }}\n        \
         JsonReader r = new JsonReader(json);\n        {class} x = readJson(r);\n        r.end();\n        \
         return x == null ? new {class}() : x;\n    }}\n\n"
    );
    let _ = write!(
        o,
        "    /** Reads a value (or JSON {{@code null}}) at the reader's position; unknown members are skipped. */\n    \
         public static {class} readJson(JsonReader r) {{\n        if (r.nextNull()) {{\n            return null;\n        }}\n        \
         {class} x = new {class}();\n        r.beginObject();\n        for (String n; (n = r.nextName()) != null;) {{\n            switch (n) {{\n"
    );
    if error {
        o.push_str("                case \"message\":\n                    x.setMessage(r.nextString());\n                    break;\n");
    }
    for mem in members.iter().filter(|x| !(error && x.name == "message")) {
        let t = m.member_type(mem);
        let f = &mem.name;
        let _ = write!(
            o,
            "                case \"{f}\":\n                    x.{f} = {};\n                    break;\n",
            read_expr(&t, "r")
        );
    }
    o.push_str("                default:\n                    r.skipValue();\n            }\n        }\n        return x;\n    }\n");
}

fn shape_class(m: &Model, s: &Shape) -> String {
    let mut o = header("//", "");
    let n = &s.name;
    o.push_str("package io.ggipc.greengrass.model;\n\n");
    o.push_str("import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;\n");
    o.push_str("import io.ggipc.internal.JsonReader;\nimport io.ggipc.internal.JsonWriter;\n");
    let mut imports = imports_for(m, &s.members);
    imports.push("java.util.Objects");
    imports.sort();
    imports.dedup();
    for i in imports {
        let _ = writeln!(o, "import {i};");
    }
    o.push('\n');
    doc(&mut o, "", &s.doc);
    let _ = writeln!(o, "public class {n} implements EventStreamJsonMessage {{");
    let _ = writeln!(
        o,
        "    public static final String APPLICATION_MODEL_TYPE = \"aws.greengrass#{n}\";\n"
    );
    if !s.union {
        let _ = writeln!(
            o,
            "    /** The empty value of this type ({{@link #isVoid()}} is true). */\n    \
             public static final {n} VOID = new {n}() {{\n        @Override\n        \
             public boolean isVoid() {{\n            return true;\n        }}\n    }};\n"
        );
    }
    if s.union {
        o.push_str("    /** The members of this union. */\n    public enum UnionMember {\n");
        for (i, mem) in s.members.iter().enumerate() {
            let sep = if i + 1 == s.members.len() { "" } else { "," };
            let _ = writeln!(o, "        {}{sep}", screaming(&mem.name));
        }
        o.push_str("    }\n\n");
    }
    for mem in &s.members {
        let _ = writeln!(
            o,
            "    private {} {};",
            java_type(m, &m.member_type(mem)),
            mem.name
        );
    }
    if !s.members.is_empty() {
        o.push('\n');
    }
    let _ = writeln!(o, "    public {n}() {{}}\n");
    for mem in &s.members {
        accessors(&mut o, m, n, mem, s.union);
    }
    if s.union {
        o.push_str("    private void clearUnion() {\n");
        for mem in &s.members {
            let _ = writeln!(o, "        this.{} = null;", mem.name);
        }
        o.push_str("    }\n\n");
        o.push_str("    /** The member that is set, or {@code null}. */\n    public UnionMember getSetUnionMember() {\n");
        for mem in &s.members {
            let _ = writeln!(
                o,
                "        if ({} != null) {{\n            return UnionMember.{};\n        }}",
                mem.name,
                screaming(&mem.name)
            );
        }
        o.push_str("        return null;\n    }\n\n");
        o.push_str("    /** Kept for the SDK's surface: the set member is always known here. */\n    public void selfDesignateSetUnionMember() {}\n\n");
        o.push_str("    /** Kept for the SDK's surface: nothing to do after reading JSON. */\n    public void postFromJson() {}\n\n");
    }
    o.push_str("    @Override\n    public String getApplicationModelType() {\n        return APPLICATION_MODEL_TYPE;\n    }\n\n");
    json_methods(&mut o, m, n, &s.members, false);
    o.push('\n');
    // equals / hashCode / toString
    let _ = writeln!(o, "    @Override\n    public boolean equals(Object o) {{");
    let _ = writeln!(
        o,
        "        if (this == o) {{\n            return true;\n        }}"
    );
    let _ = writeln!(
        o,
        "        if (!(o instanceof {n})) {{\n            return false;\n        }}"
    );
    if s.members.is_empty() {
        o.push_str("        return true;\n    }\n\n");
    } else {
        let _ = writeln!(o, "        {n} x = ({n}) o;");
        let parts: Vec<String> = s
            .members
            .iter()
            .map(|mem| {
                if m.member_type(mem) == Type::Blob {
                    format!("Arrays.equals({0}, x.{0})", mem.name)
                } else {
                    format!("Objects.equals({0}, x.{0})", mem.name)
                }
            })
            .collect();
        let _ = writeln!(
            o,
            "        return {};\n    }}\n",
            parts.join("\n                && ")
        );
    }
    let parts: Vec<String> = s
        .members
        .iter()
        .map(|mem| {
            if m.member_type(mem) == Type::Blob {
                format!("Arrays.hashCode({})", mem.name)
            } else {
                mem.name.clone()
            }
        })
        .collect();
    if parts.is_empty() {
        let _ = writeln!(o, "    @Override\n    public int hashCode() {{\n        return {n}.class.hashCode();\n    }}\n");
    } else {
        let _ = writeln!(
            o,
            "    @Override\n    public int hashCode() {{\n        return Objects.hash({});\n    }}\n",
            parts.join(", ")
        );
    }
    let parts: Vec<String> = s
        .members
        .iter()
        .map(|mem| {
            if m.member_type(mem) == Type::Blob {
                format!(
                    "\"{0}=\" + ({0} == null ? \"null\" : {0}.length + \" bytes\")",
                    mem.name
                )
            } else {
                format!("\"{0}=\" + {0}", mem.name)
            }
        })
        .collect();
    if parts.is_empty() {
        let _ = writeln!(
            o,
            "    @Override\n    public String toString() {{\n        return \"{n}{{}}\";\n    }}"
        );
    } else {
        let _ = writeln!(
            o,
            "    @Override\n    public String toString() {{\n        return \"{n}{{\" + {} + \"}}\";\n    }}",
            parts.join(" + \", \" + ")
        );
    }
    o.push_str("}\n");
    o
}

fn error_class(m: &Model, e: &ErrorDef) -> String {
    let mut o = header("//", "");
    let n = &e.name;
    let kind = if e.retryable { "server" } else { "client" };
    o.push_str("package io.ggipc.greengrass.model;\n\n");
    o.push_str("import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;\n");
    o.push_str("import io.ggipc.internal.JsonReader;\nimport io.ggipc.internal.JsonWriter;\n");
    for i in imports_for(m, &e.members) {
        let _ = writeln!(o, "import {i};");
    }
    o.push('\n');
    doc(
        &mut o,
        "",
        &format!("Modeled error aws.greengrass#{n}: {}", e.doc),
    );
    let _ = writeln!(
        o,
        "public class {n} extends GreengrassCoreIPCError implements EventStreamJsonMessage {{"
    );
    let _ = writeln!(o, "    private static final long serialVersionUID = 1L;");
    let _ = writeln!(
        o,
        "    public static final String APPLICATION_MODEL_TYPE = \"aws.greengrass#{n}\";\n"
    );
    let extra: Vec<_> = e.members.iter().filter(|x| x.name != "message").collect();
    for mem in &extra {
        let _ = writeln!(
            o,
            "    private {} {};",
            java_type(m, &m.member_type(mem)),
            mem.name
        );
    }
    if !extra.is_empty() {
        o.push('\n');
    }
    let _ = write!(
        o,
        "    public {n}(String errorMessage) {{\n        super(\"{n}\", errorMessage);\n    }}\n\n    \
         public {n}() {{\n        this(null);\n    }}\n\n"
    );
    for mem in &extra {
        accessors(&mut o, m, n, mem, false);
    }
    let _ = write!(
        o,
        "    /** {{@code \"{kind}\"}}: {}. */\n    @Override\n    public String getErrorTypeString() {{\n        return \"{kind}\";\n    }}\n\n",
        if e.retryable {
            "trying again may help"
        } else {
            "the request itself is at fault"
        }
    );
    let _ = write!(
        o,
        "    @Override\n    public boolean isRetryable() {{\n        return {};\n    }}\n\n",
        e.retryable
    );
    let _ = write!(
        o,
        "    public void setMessage(String message) {{\n        setMessageText(message);\n    }}\n\n    \
         public {n} withMessage(String message) {{\n        setMessage(message);\n        return this;\n    }}\n\n"
    );
    o.push_str("    @Override\n    public String getApplicationModelType() {\n        return APPLICATION_MODEL_TYPE;\n    }\n\n");
    json_methods(&mut o, m, n, &e.members, true);
    o.push_str("}\n");
    o
}

fn modeled_errors(m: &Model) -> String {
    let mut o = header("//", "");
    o.push_str("package io.ggipc.internal;\n\nimport io.ggipc.eventstreamrpc.ErrorCode;\n");
    o.push_str("import io.ggipc.greengrass.model.GreengrassCoreIPCError;\n");
    for e in m.errors.iter().filter(|e| e.modeled) {
        let _ = writeln!(o, "import io.ggipc.greengrass.model.{};", e.name);
    }
    o.push_str("\n/** The modeled errors of the service, by error kind. */\nfinal class ModeledErrors {\n    private ModeledErrors() {}\n\n");
    o.push_str("    /**\n     * The modeled error of {@code kind} with the server's message, its other members read from the error body\n     * when there is one; {@code null} for a transport kind.\n     */\n");
    o.push_str("    static GreengrassCoreIPCError create(ErrorCode kind, String message, byte[] body) {\n        switch (kind) {\n");
    for e in m.errors.iter().filter(|e| e.modeled) {
        let _ = write!(
            o,
            "            case {}: {{\n                {n} x = body == null ? new {n}() : {n}.fromJson(body);\n                x.setMessage(message);\n                return x;\n            }}\n",
            screaming(&e.name),
            n = e.name
        );
    }
    o.push_str("            default:\n                return null;\n        }\n    }\n}\n");
    o
}

fn response_handler(op: &Operation) -> String {
    let mut o = header("//", "");
    let n = &op.name;
    let resp = &op.response;
    o.push_str("package io.ggipc.greengrass;\n\n");
    o.push_str("import io.ggipc.eventstreamrpc.OperationResponse;\nimport io.ggipc.eventstreamrpc.StreamResponse;\n");
    o.push_str("import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;\n");
    let _ = writeln!(o, "import io.ggipc.greengrass.model.{resp};");
    o.push_str("import java.util.concurrent.CompletableFuture;\n\n");
    let _ = writeln!(
        o,
        "/** What {{@code {}}} returns: the response future and control of the operation's stream. */",
        lower_first(n)
    );
    let _ = write!(
        o,
        r#"public final class {n}ResponseHandler implements StreamResponse<{resp}, EventStreamJsonMessage> {{
    private final OperationResponse<{resp}, EventStreamJsonMessage> operationResponse;

    public {n}ResponseHandler(OperationResponse<{resp}, EventStreamJsonMessage> operationResponse) {{
        this.operationResponse = operationResponse;
    }}

    @Override
    public CompletableFuture<Void> getRequestFlushFuture() {{
        return operationResponse.getRequestFlushFuture();
    }}

    /**
     * Completes with the response, or fails with an {{@link java.util.concurrent.ExecutionException}} whose cause is
     * the modeled error ({{@code UnauthorizedError}}, {{@code InvalidArgumentsError}}, …) or the transport error.
     */
    @Override
    public CompletableFuture<{resp}> getResponse() {{
        return operationResponse.getResponse();
    }}

    @Override
    public CompletableFuture<Void> sendStreamEvent(EventStreamJsonMessage event) {{
        return operationResponse.sendStreamEvent(event);
    }}

    @Override
    public CompletableFuture<Void> closeStream() {{
        return operationResponse.closeStream();
    }}

    @Override
    public boolean isClosed() {{
        return operationResponse.isClosed();
    }}
}}
"#
    );
    o
}

fn model_imports(m: &Model, o: &mut String) {
    let mut names: Vec<&str> = Vec::new();
    for op in &m.operations {
        names.push(&op.request);
        names.push(&op.response);
        if let Some(e) = &op.event {
            names.push(e);
        }
    }
    names.sort();
    names.dedup();
    for n in names {
        let _ = writeln!(o, "import io.ggipc.greengrass.model.{n};");
    }
}

fn interface(m: &Model) -> String {
    let mut o = header("//", "");
    o.push_str("package io.ggipc.greengrass;\n\n");
    o.push_str("import io.ggipc.eventstreamrpc.StreamResponseHandler;\nimport io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;\n");
    model_imports(m, &mut o);
    o.push_str("import java.util.Optional;\n\n");
    o.push_str(
        "/** The Greengrass Core IPC operations. */\npublic interface GreengrassCoreIPC {\n",
    );
    for (i, op) in m.operations.iter().enumerate() {
        if i > 0 {
            o.push('\n');
        }
        doc(&mut o, "    ", &op.doc);
        let ev = op.event.as_deref().unwrap_or("EventStreamJsonMessage");
        let _ = writeln!(
            o,
            "    {n}ResponseHandler {f}({req} request,\n            Optional<StreamResponseHandler<{ev}>> streamResponseHandler);",
            n = op.name,
            f = lower_first(&op.name),
            req = op.request
        );
    }
    o.push_str("}\n");
    o
}

fn client_v1(m: &Model) -> String {
    let mut o = header("//", "");
    o.push_str(
        r#"package io.ggipc.greengrass;

import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
"#,
    );
    model_imports(m, &mut o);
    o.push_str(
        r#"import io.ggipc.internal.NativeClient;
import io.ggipc.internal.Operations;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * The V1 client: every operation returns at once with a response handler whose {@link java.util.concurrent.CompletableFuture}
 * completes with the answer. Stream handlers run in order on a ggipc dispatcher thread and may call this client
 * again, waiting on the result included.
 */
public class GreengrassCoreIPCClient implements GreengrassCoreIPC {
"#,
    );
    for op in &m.operations {
        let _ = writeln!(
            o,
            "    static final String {}_OPERATION = \"aws.greengrass#{}\";",
            screaming(&op.name),
            op.name
        );
    }
    o.push_str(
        r#"
    private final EventStreamRPCConnection connection;
    private final Executor handlerExecutor;

    public GreengrassCoreIPCClient(EventStreamRPCConnection connection) {
        this(connection, null);
    }

    /** Runs stream handlers on {@code handlerExecutor} instead of the dispatcher thread (null = dispatcher). */
    GreengrassCoreIPCClient(EventStreamRPCConnection connection, Executor handlerExecutor) {
        this.connection = connection;
        this.handlerExecutor = handlerExecutor;
    }

    /** The connection this client uses. */
    public EventStreamRPCConnection getConnection() {
        return connection;
    }

    NativeClient nativeClient() {
        return connection.nativeClient();
    }
"#,
    );
    for op in &m.operations {
        let n = &op.name;
        let f = lower_first(n);
        let req = &op.request;
        let resp = &op.response;
        let c = screaming(n);
        o.push('\n');
        match &op.event {
            None => {
                let _ = write!(
                    o,
                    "    @Override\n    public {n}ResponseHandler {f}({req} request,\n            \
                     Optional<StreamResponseHandler<EventStreamJsonMessage>> streamResponseHandler) {{\n        \
                     return new {n}ResponseHandler(Operations.callAsync(connection, {c}_OPERATION, () -> Operations.body(request::writeJson),\n                \
                     {resp}::fromJson, streamResponseHandler));\n    }}\n"
                );
            }
            Some(ev) => {
                let _ = write!(
                    o,
                    "    @Override\n    public {n}ResponseHandler {f}({req} request,\n            \
                     Optional<StreamResponseHandler<{ev}>> streamResponseHandler) {{\n        \
                     return new {n}ResponseHandler(Operations.streamAsync(connection, {c}_OPERATION, () -> Operations.body(request::writeJson),\n                \
                     {resp}::fromJson, {ev}::fromJson,\n                \
                     streamResponseHandler == null ? null : streamResponseHandler.orElse(null), handlerExecutor));\n    }}\n"
                );
            }
        }
    }
    o.push_str("}\n");
    o
}

const V2_SUPPORT: &str = r#"
    /** Closes the connection if this client opened it. Idempotent; throws nothing. */
    @Override
    public void close() {
        if (connection != null) {
            connection.close();
        }
    }

    /** A response (or its future) together with the handler that controls the stream. */
    public static class StreamingResponse<T, U> {
        protected final T r;
        protected final U h;

        public StreamingResponse(T r, U h) {
            this.r = r;
            this.h = h;
        }

        public T getResponse() {
            return r;
        }

        public U getHandler() {
            return h;
        }
    }

    /** Builds a {@link GreengrassCoreIPCClientV2}. */
    public static class Builder {
        protected GreengrassCoreIPC client;
        protected Executor executor;
        protected String socketPath;
        protected String authToken;
        protected int port = 8888;
        protected Duration connectTimeout;
        protected Duration operationTimeout;
        protected Boolean reconnect;
        protected Integer subscriptionQueueSize;

        public Builder() {}

        /** Connects (unless a client was given) and builds; connection failures are reported as IOException. */
        public GreengrassCoreIPCClientV2 build() throws IOException {
            if (client != null) {
                if (!(client instanceof GreengrassCoreIPCClient)) {
                    throw new IllegalArgumentException("withClient needs a io.ggipc.greengrass.GreengrassCoreIPCClient");
                }
                GreengrassCoreIPCClient v1 = (GreengrassCoreIPCClient) client;
                return new GreengrassCoreIPCClientV2(
                        new GreengrassCoreIPCClient(v1.getConnection(), executor), null, executor);
            }
            // Not given: the component's environment as the core reads it (an empty variable is not set).
            String socket = socketPath != null ? socketPath : Native.componentSocketPath();
            String token = authToken != null ? authToken : Native.componentAuthToken();
            if (socket == null || token == null) {
                throw new IOException("no socket path or auth token: set them on the builder or run as a component ("
                        + EventStreamRPCConnectionConfig.SOCKET_ENV + ", " + EventStreamRPCConnectionConfig.TOKEN_ENV
                        + ")");
            }
            EventStreamRPCConnectionConfig config = new EventStreamRPCConnectionConfig(socket, token);
            if (connectTimeout != null) {
                config.withConnectTimeout(connectTimeout);
            }
            if (operationTimeout != null) {
                config.withOperationTimeout(operationTimeout);
            }
            if (reconnect != null) {
                config.withReconnect(reconnect);
            }
            if (subscriptionQueueSize != null) {
                config.withSubscriptionQueueSize(subscriptionQueueSize);
            }
            EventStreamRPCConnection connection = new EventStreamRPCConnection(config);
            try {
                connection.connect(null).get();
            } catch (ExecutionException e) {
                throw new IOException(e.getCause().getMessage(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while connecting", e);
            }
            return new GreengrassCoreIPCClientV2(new GreengrassCoreIPCClient(connection, executor), connection,
                    executor);
        }

        /** Uses an existing V1 client (and its connection, which this V2 client will not close). */
        public Builder withClient(GreengrassCoreIPC client) {
            this.client = client;
            return this;
        }

        public Builder withAuthToken(String authToken) {
            this.authToken = authToken;
            return this;
        }

        public Builder withSocketPath(String socketPath) {
            this.socketPath = socketPath;
            return this;
        }

        /** Accepted for compatibility; Unix sockets have no port. */
        public Builder withPort(int port) {
            this.port = port;
            return this;
        }

        /** Runs stream callbacks on this executor (ordering is then the executor's). */
        public Builder withExecutor(Executor executor) {
            this.executor = executor;
            return this;
        }

        /** Runs stream callbacks in order on the subscription's dispatcher thread (the default). */
        public Builder withoutExecutor() {
            this.executor = null;
            return this;
        }

        /** How long to wait for the connection (default 10 s). */
        public Builder withConnectTimeout(Duration timeout) {
            this.connectTimeout = timeout;
            return this;
        }

        /** How long each operation may take (default 10 s). */
        public Builder withOperationTimeout(Duration timeout) {
            this.operationTimeout = timeout;
            return this;
        }

        /** Reconnects after the connection is lost, with the library's default backoff (default: off). */
        public Builder withReconnect(boolean reconnect) {
            this.reconnect = reconnect;
            return this;
        }

        /** Messages buffered per subscription for a slow handler before newer ones are dropped (default 10 000). */
        public Builder withSubscriptionQueueSize(int messages) {
            this.subscriptionQueueSize = messages;
            return this;
        }
    }
}
"#;

fn client_v2(m: &Model) -> String {
    let mut o = header("//", "");
    o.push_str(
        r#"package io.ggipc.greengrass;

import io.ggipc.eventstreamrpc.EventStreamRPCConnection;
import io.ggipc.eventstreamrpc.EventStreamRPCConnectionConfig;
import io.ggipc.eventstreamrpc.StreamResponseHandler;
import io.ggipc.eventstreamrpc.model.EventStreamJsonMessage;
"#,
    );
    model_imports(m, &mut o);
    o.push_str(
        r#"import io.ggipc.internal.Native;
import io.ggipc.internal.Operations;
import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The V2 client: synchronous methods that return the response (and throw the modeled error, e.g.
 * {@code UnauthorizedError}), asynchronous twins that return futures, and subscriptions taking lambdas.
 *
 * <p>Stream callbacks run in order on the subscription's dispatcher thread unless an executor is chosen with
 * {@link Builder#withExecutor(Executor)} (then ordering is the executor's). Unlike the AWS SDK, no thread pool is
 * created by default, so events are never reordered and threads do not grow. Sync calls are safe inside callbacks.
 */
public class GreengrassCoreIPCClientV2 implements AutoCloseable {
    private final GreengrassCoreIPCClient client;
    private final EventStreamRPCConnection connection;
    private final Executor executor;

    protected GreengrassCoreIPCClientV2(GreengrassCoreIPCClient client, EventStreamRPCConnection connection,
            Executor executor) {
        this.client = client;
        this.connection = connection;
        this.executor = executor;
    }

    /** A builder; without options it connects from the component environment. */
    public static Builder builder() {
        return new Builder();
    }

    /** The V1 client this client wraps. */
    public GreengrassCoreIPC getClient() {
        return client;
    }
"#,
    );
    for op in &m.operations {
        let n = &op.name;
        let f = lower_first(n);
        let req = &op.request;
        let resp = &op.response;
        let c = format!("GreengrassCoreIPCClient.{}_OPERATION", screaming(n));
        let conn = "client.getConnection()";
        o.push('\n');
        match &op.event {
            None => {
                let _ = write!(
                    o,
                    "    /** {d} Waits for the answer; throws the modeled error on refusal. */\n    \
                     public {resp} {f}({req} request) throws InterruptedException {{\n        \
                     return Operations.call({conn}, {c}, () -> Operations.body(request::writeJson), {resp}::fromJson);\n    }}\n\n    \
                     /** {d} Returns at once. */\n    \
                     public CompletableFuture<{resp}> {f}Async({req} request) {{\n        \
                     return Operations.callAsync({conn}, {c}, () -> Operations.body(request::writeJson), {resp}::fromJson, null).getResponse();\n    }}\n",
                    d = jd(&op.doc)
                );
            }
            Some(ev) => {
                let sr = format!("StreamingResponse<{resp}, {n}ResponseHandler>");
                let sra =
                    format!("StreamingResponse<CompletableFuture<{resp}>, {n}ResponseHandler>");
                let _ = write!(
                    o,
                    r#"    /** {d} Waits for the answer. */
    public {sr} {f}({req} request,
            Consumer<{ev}> onStreamEvent, Optional<Function<Throwable, Boolean>> onStreamError,
            Optional<Runnable> onStreamClosed) throws InterruptedException {{
        return {f}(request, Operations.lambdas(onStreamEvent, onStreamError, onStreamClosed));
    }}

    /** {d} Waits for the answer. */
    public {sr} {f}({req} request,
            StreamResponseHandler<{ev}> streamResponseHandler) throws InterruptedException {{
        {n}ResponseHandler h = new {n}ResponseHandler(Operations.stream({conn}, {c}, () -> Operations.body(request::writeJson),
                {resp}::fromJson, {ev}::fromJson, streamResponseHandler, executor));
        return new StreamingResponse<>(Operations.await(h.getResponse()), h);
    }}

    /** {d} Returns at once. */
    public {sra} {f}Async(
            {req} request, Consumer<{ev}> onStreamEvent,
            Optional<Function<Throwable, Boolean>> onStreamError, Optional<Runnable> onStreamClosed) {{
        return {f}Async(request, Operations.lambdas(onStreamEvent, onStreamError, onStreamClosed));
    }}

    /** {d} Returns at once. */
    public {sra} {f}Async(
            {req} request, StreamResponseHandler<{ev}> streamResponseHandler) {{
        {n}ResponseHandler h = new {n}ResponseHandler(Operations.streamAsync({conn}, {c}, () -> Operations.body(request::writeJson),
                {resp}::fromJson, {ev}::fromJson, streamResponseHandler, executor));
        return new StreamingResponse<>(h.getResponse(), h);
    }}
"#,
                    d = jd(&op.doc)
                );
            }
        }
    }
    o.push_str(V2_SUPPORT);
    o
}

/// A JUnit test: every generated shape and error filled with sample values survives a JSON round trip.
fn round_trip_test(m: &Model) -> String {
    let mut o = header("//", "");
    o.push_str(
        r#"package io.ggipc.greengrass.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Every model class filled with sample values survives a JSON round trip; every enum maps its wire values. */
class ModelRoundTripTest {
    static Map<String, Object> sampleDocument() {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("s", "text \u00e9 \"q\"");
        d.put("n", 1.5);
        d.put("b", true);
        d.put("z", null);
        d.put("l", new ArrayList<>(List.of("x", 2.0)));
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("k", "v");
        d.put("o", inner);
        return d;
    }

    static String text(byte[] json) {
        return new String(json, StandardCharsets.UTF_8);
    }
"#,
    );
    for s in &m.shapes {
        let n = &s.name;
        let _ = writeln!(
            o,
            "\n    static {n} sample{n}() {{\n        {n} x = new {n}();"
        );
        // A union gets only its first member set.
        let members: Vec<_> = if s.union {
            s.members.iter().take(1).collect()
        } else {
            s.members.iter().collect()
        };
        for (i, mem) in members.iter().enumerate() {
            let _ = writeln!(
                o,
                "        x.set{}({});",
                upper_first(&mem.name),
                sample(m, &m.member_type(mem), i)
            );
        }
        o.push_str("        return x;\n    }\n");
    }
    for s in &m.shapes {
        let n = &s.name;
        let _ = write!(
            o,
            r#"
    @Test
    void roundTrip{n}() {{
        {n} x = sample{n}();
        byte[] json = x.toJson();
        {n} back = {n}.fromJson(json);
        assertEquals(x, back, text(json));
        assertEquals(x.hashCode(), back.hashCode());
        assertEquals(text(json), text(back.toJson()));
        assertEquals(new {n}(), {n}.fromJson("{{\"unknownMember\":[1,{{\"a\":null}}]}}".getBytes(StandardCharsets.UTF_8)));
        assertEquals("aws.greengrass#{n}", x.getApplicationModelType());
    }}
"#
        );
        if s.union && s.members.len() > 1 {
            let first = &s.members[0];
            let second = &s.members[1];
            let _ = write!(
                o,
                r#"
    @Test
    void union{n}HoldsOneMember() {{
        {n} x = sample{n}();
        assertEquals({n}.UnionMember.{}, x.getSetUnionMember());
        x.set{}({});
        assertEquals({n}.UnionMember.{}, x.getSetUnionMember());
        assertNull(x.get{}());
    }}
"#,
                screaming(&first.name),
                upper_first(&second.name),
                sample(m, &m.member_type(second), 0),
                screaming(&second.name),
                upper_first(&first.name)
            );
        }
    }
    for e in m.errors.iter().filter(|e| e.modeled) {
        let n = &e.name;
        let _ = write!(
            o,
            "\n    @Test\n    void roundTrip{n}() {{\n        {n} x = new {n}(\"went wrong \\\"here\\\"\");\n"
        );
        for (i, mem) in e.members.iter().filter(|x| x.name != "message").enumerate() {
            let _ = writeln!(
                o,
                "        x.set{}({});",
                upper_first(&mem.name),
                sample(m, &m.member_type(mem), i)
            );
        }
        let _ = write!(
            o,
            r#"        byte[] json = x.toJson();
        {n} back = {n}.fromJson(json);
        assertEquals(x.getMessage(), back.getMessage());
        assertEquals(text(json), text(back.toJson()));
        assertEquals("{n}", back.getErrorCode());
        assertEquals("{}", back.getErrorTypeString());
        assertEquals("aws.greengrass#{n}", back.getApplicationModelType());
    }}
"#,
            if e.retryable { "server" } else { "client" }
        );
    }
    for e in &m.enums {
        let n = &e.name;
        let _ = write!(o, "\n    @Test\n    void enum{n}() {{\n");
        for v in &e.values {
            let _ = writeln!(
                o,
                "        assertSame({n}.{}, {n}.get(\"{}\"));\n        assertEquals(\"{}\", {n}.{}.getValue());",
                v.name, v.value, v.value, v.name
            );
        }
        let _ = writeln!(o, "        assertNull({n}.get(\"no such value\"));");
        let _ = writeln!(
            o,
            "        assertEquals({}, {n}.values().length);",
            e.values.len()
        );
        o.push_str("    }\n");
    }
    o.push_str(
        r#"
    @Test
    void blobsAreBase64AndTimestampsEpochSeconds() {
        UpdateConfigurationRequest u = new UpdateConfigurationRequest()
                .withTimestamp(Instant.ofEpochSecond(1700000000L, 250000000L));
        assertEquals("{\"timestamp\":1700000000.25}", text(u.toJson()));
        BinaryMessage b = new BinaryMessage().withMessage(new byte[] {1, 2, 3});
        assertEquals("{\"message\":\"AQID\"}", text(b.toJson()));
        assertArrayEquals(new byte[] {1, 2, 3}, BinaryMessage.fromJson(b.toJson()).getMessage());
        assertNotNull(UpdateConfigurationRequest.fromJson("{\"timestamp\":1700000000}".getBytes(StandardCharsets.UTF_8))
                .getTimestamp());
    }
}
"#,
    );
    o
}
