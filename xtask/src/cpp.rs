//! cpp: the C++ model and operations of `ggipc::greengrass`, over the generated C ABI.
//!
//! * `bindings-c/include/ggipc/model_generated.hpp` (included by `model.hpp`): one enum per model enum and one
//!   class per shape with the `Aws::Greengrass` surface (`SetX(const T &)`, `crt::Optional<T> GetX() const`),
//!   each with `ToC` / `FromC` converting to and from its C handle; the shapes of request/response requests
//!   also have `View` / `ToView`, a borrowed C view of the object that their operations start calls with.
//! * `bindings-c/include/ggipc/operations_generated.hpp` (included by `client.hpp`): per operation its
//!   `<Op>Result`, `<Op>Operation` (`Activate`, `GetResult`, `Close`) and, for streams, `<Op>StreamHandler`;
//!   the `New<Op>()` factories of `GreengrassCoreIpcClient` come from `detail::GeneratedOperations`.
//!
//! Every shape, enum, modeled error and operation of the model is generated here, the MQTT proxy's included
//! (the SDK's empty-payload rule is the blob rule of every `ToC`: an empty blob is left out). `model.hpp` and
//! `client.hpp` keep the connection, lifecycle and stream-bridge machinery.

use crate::model::{screaming, snake, upper_first, Model, Shape, Type};
use crate::{header, Output};
use std::collections::BTreeSet;
use std::fmt::Write;

pub fn emit(m: &Model) -> Vec<Output> {
    vec![
        Output::text(
            "bindings-c/include/ggipc/model_generated.hpp",
            model_header(m),
        ),
        Output::text(
            "bindings-c/include/ggipc/operations_generated.hpp",
            operations_header(m),
        ),
    ]
}

fn c_shape(name: &str) -> String {
    format!("ggipc_{}", snake(name))
}

fn c_enum(name: &str) -> String {
    format!("ggipc_{}", snake(name))
}

fn comment(text: &str) -> String {
    text.replace("*/", "* /")
}

fn cpp_type(t: &Type) -> String {
    match t {
        Type::String => "crt::String".into(),
        Type::Blob => "crt::Vector<uint8_t>".into(),
        Type::Boolean => "bool".into(),
        Type::Long => "int64_t".into(),
        Type::Double => "double".into(),
        Type::Timestamp => "std::chrono::system_clock::time_point".into(),
        Type::Document => "crt::JsonObject".into(),
        Type::Enum(e) | Type::Shape(e) => e.clone(),
        Type::List(inner) => format!("crt::Vector<{}>", cpp_type(inner)),
    }
}

/// Generated shapes in an order where every member's class comes first.
fn ordered_shapes(m: &Model) -> Vec<&Shape> {
    fn visit<'a>(
        m: &'a Model,
        s: &'a Shape,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<&'a Shape>,
    ) {
        if !seen.insert(s.name.clone()) {
            return;
        }
        for mem in &s.members {
            let mut t = m.member_type(mem);
            while let Type::List(inner) = t {
                t = *inner;
            }
            if let Type::Shape(n) = t {
                if let Some(dep) = m.shape(&n) {
                    visit(m, dep, seen, out);
                }
            }
        }
        out.push(s);
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for s in &m.shapes {
        visit(m, s, &mut seen, &mut out);
    }
    out
}

fn model_header(m: &Model) -> String {
    let mut o = String::new();
    o.push_str(&header("//", ""));
    o.push_str(
        "/**\n * @file ggipc/model_generated.hpp\n * @brief `ggipc::greengrass` enums and shapes generated from the model (the `Aws::Greengrass`\n *        classes of the same names). Included by `<ggipc/model.hpp>`; do not include it directly.\n */\n",
    );
    o.push_str("#ifndef GGIPC_MODEL_GENERATED_HPP\n#define GGIPC_MODEL_GENERATED_HPP\n\n");
    o.push_str("#include <chrono>\n#include <cstdint>\n#include <memory>\n\n#include \"../ggipc.h\"\n#include \"crt.hpp\"\n#include \"eventstreamrpc.hpp\"\n\n");
    o.push_str(
        "namespace ggipc {\nnamespace greengrass {\n\nusing eventstreamrpc::OperationError;\n\n",
    );
    o.push_str("namespace detail {\n\n/** Owns a C model handle and frees it with its `_free` function. */\ntemplate <typename T, void (*Free)(T *)>\nstruct CFree {\n    void operator()(T *p) const noexcept { Free(p); }\n};\n\ntemplate <typename T, void (*Free)(T *)>\nusing CPtr = std::unique_ptr<T, CFree<T, Free>>;\n\n/** Epoch seconds (the C ABI's timestamps) to and from a time point. */\ninline double ToEpochSeconds(std::chrono::system_clock::time_point t) noexcept {\n    return std::chrono::duration<double>(t.time_since_epoch()).count();\n}\n\ninline std::chrono::system_clock::time_point FromEpochSeconds(double s) noexcept {\n    return std::chrono::system_clock::time_point(\n        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(s)));\n}\n\n} // namespace detail\n\n");
    for e in &m.enums {
        let _ = writeln!(
            o,
            "/** {} (`{}#{}`). */\nenum {} {{",
            comment(&e.doc),
            m.namespace,
            e.name,
            e.name
        );
        for (i, v) in e.values.iter().enumerate() {
            let _ = writeln!(
                o,
                "    /** {} */\n    {}_{} = {i},",
                comment(&v.doc),
                screaming(&e.name),
                v.name
            );
        }
        o.push_str("};\n\n");
    }
    errors(m, &mut o);
    let viewed = crate::c::view_shapes(m);
    for s in ordered_shapes(m) {
        shape_class(m, s, viewed.contains(&s.name), &mut o);
    }
    o.push_str(
        "} // namespace greengrass\n} // namespace ggipc\n\n#endif // GGIPC_MODEL_GENERATED_HPP\n",
    );
    o
}

/// One class per modeled error, `detail::MakeOperationError` (the class of a C error's kind) and
/// `detail::MakeResult` (a C result as an operation result).
fn errors(m: &Model, o: &mut String) {
    let modeled: Vec<_> = m.errors.iter().filter(|e| e.modeled).collect();
    for e in &modeled {
        let _ = writeln!(
            o,
            "/** Modeled error `{}#{}`: {} */\nclass {n} : public OperationError {{\n  public:\n    using OperationError::OperationError;\n}};\n",
            m.namespace,
            e.name,
            comment(&e.doc),
            n = e.name
        );
    }
    o.push_str("namespace detail {\n\nusing ggipc::detail::ErrorPtr;\n\n/** The modeled error for a C error of a modeled kind, or nullptr for transport errors. */\ninline std::shared_ptr<OperationError> MakeOperationError(const ggipc_error *e) {\n    if (e == nullptr) {\n        return nullptr;\n    }\n    const ggipc_error_kind kind = ggipc_error_get_kind(e);\n    crt::Optional<crt::String> message = crt::String(ggipc_error_get_message(e));\n    const char *smt = ggipc_error_get_service_model_type(e);\n    crt::String model = smt != nullptr ? smt : \"\";\n    crt::Optional<crt::String> context;\n    if (const char *c = ggipc_error_get_context_json(e)) {\n        context = crt::String(c);\n    }\n    switch (kind) {\n");
    for e in &modeled {
        let _ = writeln!(
            o,
            "    case GGIPC_ERROR_KIND_{}: return std::make_shared<{}>(kind, message, model, context);",
            screaming(&e.name),
            e.name
        );
    }
    o.push_str("    default: return nullptr;\n    }\n}\n\n/** Converts a C result (NULL = success) into an operation result. */\ntemplate <typename Response>\neventstreamrpc::OperationResult<Response> MakeResult(const ggipc_error *e) {\n    using Result = eventstreamrpc::OperationResult<Response>;\n    if (e == nullptr) {\n        return Result(Response());\n    }\n    if (auto op = MakeOperationError(e)) {\n        return Result(std::move(op));\n    }\n    return Result(eventstreamrpc::RpcError::FromError(e));\n}\n\n} // namespace detail\n\n");
}

/// The class of shape `s`; `viewed`: it has a borrowed C view (`View`, `ToView`).
fn shape_class(m: &Model, s: &Shape, viewed: bool, o: &mut String) {
    let c = c_shape(&s.name);
    let n = &s.name;
    let union = if s.union {
        " A union: set exactly one member."
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "/** {} (`{}#{}`).{union} */\nclass {n} {{\n  public:\n    /** The C handle type, owned. */\n    using CHandle = detail::CPtr<{c}, &{c}_free>;\n\n    {n}() noexcept = default;",
        comment(&s.doc),
        m.namespace,
        n
    );
    for mem in &s.members {
        let t = m.member_type(mem);
        let ty = cpp_type(&t);
        let up = upper_first(&mem.name);
        let f = &mem.name;
        let _ = writeln!(
            o,
            "    /** {} */\n    void Set{up}(const {ty} &{f}) noexcept {{ m_{f} = {f}; }}\n    crt::Optional<{ty}> Get{up}() const noexcept {{ return m_{f}; }}",
            comment(&mem.doc)
        );
    }
    // ToC
    let _ = writeln!(
        o,
        "\n    /**\n     * Copies this object into a new C handle written to `out`. Returns the library's error for a value it\n     * refuses (for example invalid JSON text); `out` is empty then, or when memory ran out.\n     */\n    ggipc::detail::ErrorPtr ToC(CHandle &out) const noexcept {{\n        CHandle c({c}_new());\n        if (!c) {{\n            return nullptr;\n        }}\n        ggipc::detail::ErrorPtr err;"
    );
    for mem in &s.members {
        let t = m.member_type(mem);
        let f = snake(&mem.name);
        let v = format!("m_{}", mem.name);
        let set = format!("{c}_set_{f}");
        let body = match &t {
            Type::String => format!("err.reset({set}(c.get(), {v}->c_str()));"),
            Type::Blob => format!(
                "err.reset({set}(c.get(), {v}->empty() ? nullptr : {v}->data(), {v}->size()));"
            ),
            Type::Boolean | Type::Long | Type::Double => {
                format!("err.reset({set}(c.get(), *{v}));")
            }
            Type::Timestamp => {
                format!("err.reset({set}(c.get(), detail::ToEpochSeconds(*{v})));")
            }
            Type::Document => format!("err.reset({set}(c.get(), {v}->WriteCompact().c_str()));"),
            Type::Enum(e) => format!("err.reset({set}(c.get(), static_cast<{}>(*{v})));", c_enum(e)),
            Type::Shape(sh) => format!(
                "{sh}::CHandle sub;\n            err = {v}->ToC(sub);\n            if (!err && !sub) {{\n                return nullptr;\n            }}\n            if (!err) {{\n                err.reset({set}(c.get(), sub.get()));\n            }}"
            ),
            Type::List(inner) => match &**inner {
                Type::String => format!(
                    "for (const auto &x : *{v}) {{\n                err.reset({c}_{f}_add(c.get(), x.c_str()));\n                if (err) {{\n                    break;\n                }}\n            }}"
                ),
                Type::Shape(sh) => format!(
                    "for (const auto &x : *{v}) {{\n                {sh}::CHandle sub;\n                err = x.ToC(sub);\n                if (!err && !sub) {{\n                    return nullptr;\n                }}\n                if (!err) {{\n                    err.reset({c}_{f}_add(c.get(), sub.get()));\n                }}\n                if (err) {{\n                    break;\n                }}\n            }}"
                ),
                other => panic!("the C++ emitter has no lists of {other:?}"),
            },
        };
        let _ = writeln!(
            o,
            "        if ({v} && !err) {{\n            {body}\n        }}"
        );
    }
    o.push_str("        if (!err) {\n            out = std::move(c);\n        }\n        return err;\n    }\n");
    if viewed {
        shape_view(m, s, o);
    }
    // FromC
    let _ = writeln!(
        o,
        "\n    /** Copies the members of a C handle (NULL gives an empty object). */\n    static {n} FromC(const {c} *c) {{\n        {n} r;\n        if (c == nullptr) {{\n            return r;\n        }}"
    );
    for mem in &s.members {
        let t = m.member_type(mem);
        let f = snake(&mem.name);
        let v = format!("r.m_{}", mem.name);
        let get = format!("{c}_get_{f}");
        let body = match &t {
            Type::String => format!("if (const char *x = {get}(c)) {{\n            {v} = crt::String(x);\n        }}"),
            Type::Blob => format!("size_t n_{f} = 0;\n        if (const uint8_t *x = {get}(c, &n_{f})) {{\n            {v} = crt::Vector<uint8_t>(x, x + n_{f});\n        }}"),
            Type::Boolean | Type::Long | Type::Double => {
                let ty = cpp_type(&t);
                format!("{ty} x_{f}{{}};\n        if ({get}(c, &x_{f})) {{\n            {v} = x_{f};\n        }}")
            }
            Type::Timestamp => format!("double x_{f} = 0;\n        if ({get}(c, &x_{f})) {{\n            {v} = detail::FromEpochSeconds(x_{f});\n        }}"),
            Type::Document => format!("if (const char *x = {get}(c)) {{\n            {v} = crt::JsonObject(crt::String(x));\n        }}"),
            Type::Enum(e) => format!("{} x_{f}{{}};\n        if ({get}(c, &x_{f})) {{\n            {v} = static_cast<{e}>(x_{f});\n        }}", c_enum(e)),
            Type::Shape(sh) => format!("if (const auto *x = {get}(c)) {{\n            {v} = {sh}::FromC(x);\n        }}"),
            Type::List(inner) => {
                let (elem, conv) = match &**inner {
                    Type::String => ("crt::String".to_string(), "crt::String(x)".to_string()),
                    Type::Shape(sh) => (sh.clone(), format!("{sh}::FromC(x)")),
                    other => panic!("the C++ emitter has no lists of {other:?}"),
                };
                format!("if (const size_t n_{f} = {c}_{f}_count(c)) {{\n            crt::Vector<{elem}> l;\n            for (size_t i = 0; i < n_{f}; ++i) {{\n                if (const auto *x = {c}_{f}_get(c, i)) {{\n                    l.push_back({conv});\n                }}\n            }}\n            {v} = std::move(l);\n        }}")
            }
        };
        let _ = writeln!(o, "        {body}");
    }
    o.push_str("        return r;\n    }\n\n  private:\n");
    for mem in &s.members {
        let ty = cpp_type(&m.member_type(mem));
        let _ = writeln!(o, "    crt::Optional<{ty}> m_{};", mem.name);
    }
    o.push_str("};\n\n");
}

/// `View` (the storage of a borrowed `ggipc_<shape>_view`) and `ToView` for a shape that has a C view: the
/// request/response operations start their calls with it, so no C request object is built per call.
fn shape_view(m: &Model, s: &Shape, o: &mut String) {
    let c = c_shape(&s.name);
    let mut storage = String::new();
    let mut fill = String::new();
    for mem in &s.members {
        let t = m.member_type(mem);
        let f = snake(&mem.name);
        let n = &mem.name;
        let v = format!("m_{n}");
        let body = match &t {
            Type::String => format!("out.c.{f} = {v}->c_str();"),
            Type::Document => {
                let _ = writeln!(storage, "        crt::String json_{n};");
                format!("out.json_{n} = {v}->WriteCompact();\n            out.c.{f} = out.json_{n}.c_str();")
            }
            // The SDK's empty-payload rule: an empty blob is left out.
            Type::Blob => format!("if (!{v}->empty()) {{\n                out.c.has_{f} = true;\n                out.c.{f} = {v}->data();\n                out.c.{f}_len = {v}->size();\n            }}"),
            Type::Boolean | Type::Long | Type::Double => format!("out.c.has_{f} = true;\n            out.c.{f} = *{v};"),
            Type::Timestamp => format!("out.c.has_{f} = true;\n            out.c.{f} = detail::ToEpochSeconds(*{v});"),
            Type::Enum(e) => format!("out.c.has_{f} = true;\n            out.c.{f} = static_cast<{}>(*{v});", c_enum(e)),
            Type::Shape(sh) => {
                let _ = writeln!(storage, "        std::unique_ptr<{sh}::View> view_{n};");
                format!("out.view_{n}.reset(new {sh}::View());\n            {v}->ToView(*out.view_{n});\n            out.c.{f} = &out.view_{n}->c;")
            }
            Type::List(inner) => match &**inner {
                Type::String => {
                    let _ = writeln!(storage, "        crt::Vector<const char *> list_{n};");
                    format!("out.list_{n}.reserve({v}->size());\n            for (const auto &x : *{v}) {{\n                out.list_{n}.push_back(x.c_str());\n            }}\n            out.c.has_{f} = true;\n            out.c.{f} = out.list_{n}.data();\n            out.c.{f}_count = out.list_{n}.size();")
                }
                Type::Shape(sh) => {
                    let csh = c_shape(sh);
                    let _ = writeln!(storage, "        std::unique_ptr<{sh}::View[]> views_{n};\n        std::unique_ptr<{csh}_view[]> list_{n};");
                    format!("const size_t n = {v}->size();\n            out.c.has_{f} = true;\n            if (n > 0) {{\n                out.views_{n}.reset(new {sh}::View[n]);\n                out.list_{n}.reset(new {csh}_view[n]);\n                for (size_t i = 0; i < n; ++i) {{\n                    (*{v})[i].ToView(out.views_{n}[i]);\n                    out.list_{n}[i] = out.views_{n}[i].c;\n                }}\n                out.c.{f} = out.list_{n}.get();\n                out.c.{f}_count = n;\n            }}")
                }
                other => panic!("the C++ emitter has no lists of {other:?}"),
            },
        };
        let _ = writeln!(fill, "        if ({v}) {{\n            {body}\n        }}");
    }
    let unused = if s.members.is_empty() {
        "        (void)out;\n"
    } else {
        ""
    };
    let _ = writeln!(
        o,
        "\n    /**\n     * The storage of a borrowed C view of this class (`{c}_view`, in `c`), filled by `ToView`. It points\n     * into the object it was filled from and into itself, so it is neither copied nor moved.\n     */\n    struct View {{\n        {c}_view c{{}};\n{storage}        View() = default;\n        View(const View &) = delete;\n        View &operator=(const View &) = delete;\n    }};\n\n    /**\n     * Points `out.c` at this object's members (borrowed: valid while this object and `out` live unchanged);\n     * `out` is a fresh `View`. Throws `std::bad_alloc` (members that are lists, shapes or documents allocate).\n     */\n    void ToView(View &out) const {{\n{unused}{fill}    }}"
    );
}

fn operations_header(m: &Model) -> String {
    let mut o = String::new();
    o.push_str(&header("//", ""));
    o.push_str(
        "/**\n * @file ggipc/operations_generated.hpp\n * @brief `ggipc::greengrass` operation classes generated from the model (the `Aws::Greengrass` classes\n *        of the same names) and the `New<Op>()` factories of `GreengrassCoreIpcClient`. Included by\n *        `<ggipc/client.hpp>`; do not include it directly.\n *\n * Request/response operations complete on the library's completion thread; stream handlers run on the\n * subscription's dispatcher thread (see client.hpp for the threading rules).\n */\n",
    );
    o.push_str(
        "#ifndef GGIPC_OPERATIONS_GENERATED_HPP\n#define GGIPC_OPERATIONS_GENERATED_HPP\n\n",
    );
    o.push_str("#include <future>\n#include <memory>\n#include <new>\n#include <utility>\n\n#include \"../ggipc.h\"\n#include \"eventstreamrpc.hpp\"\n#include \"model.hpp\"\n\n");
    o.push_str("namespace ggipc {\nnamespace greengrass {\n\n");
    let ops: Vec<_> = m.operations.iter().collect();
    for op in &ops {
        match &op.event {
            None => request_response(m, op, &mut o),
            Some(ev) => stream(m, op, ev, &mut o),
        }
    }
    o.push_str("namespace detail {\n\n/** The `New<Op>()` factories of the generated operations, mixed into `GreengrassCoreIpcClient`. */\ntemplate <typename Client>\nclass GeneratedOperations {\n  public:\n");
    for op in &ops {
        let n = &op.name;
        match &op.event {
            None => {
                let _ = writeln!(
                    o,
                    "    /** `{n}`: a new operation on this client's connection. */\n    {n}Operation New{n}() noexcept {{ return {n}Operation(Self().Handle()); }}"
                );
            }
            Some(_) => {
                let _ = writeln!(
                    o,
                    "    /** `{n}`: the handler is not owned and must outlive the operation. */\n    {n}Operation New{n}({n}StreamHandler &streamHandler) noexcept {{\n        return {n}Operation(Self().Handle(), &streamHandler, nullptr);\n    }}\n    /** `{n}`: the handler is kept alive as long as the library may call it. */\n    {n}Operation New{n}(std::shared_ptr<{n}StreamHandler> streamHandler) noexcept {{\n        auto *raw = streamHandler.get();\n        return {n}Operation(Self().Handle(), raw, std::move(streamHandler));\n    }}"
                );
            }
        }
    }
    o.push_str("\n  private:\n    const Client &Self() const noexcept { return static_cast<const Client &>(*this); }\n};\n\n} // namespace detail\n\n");
    o.push_str("} // namespace greengrass\n} // namespace ggipc\n\n#endif // GGIPC_OPERATIONS_GENERATED_HPP\n");
    o
}

fn request_response(m: &Model, op: &crate::model::Operation, o: &mut String) {
    let n = &op.name;
    let f = snake(n);
    let req = &op.request;
    let resp = &op.response;
    let cresp = c_shape(resp);
    // A response with no members is not copied out of the C library.
    let empty = m.shape(resp).is_some_and(|s| s.members.is_empty());
    let take = if empty {
        format!("detail::ErrorPtr e(ggipc_call_{f}_finish(call, nullptr));\n        return detail::MakeResult<{resp}>(e.get());")
    } else {
        format!("{cresp} *response = nullptr;\n        detail::ErrorPtr e(ggipc_call_{f}_finish(call, &response));\n        if (e) {{\n            return detail::MakeResult<{resp}>(e.get());\n        }}\n        try {{\n            {n}Result r({resp}::FromC(response));\n            {cresp}_free(response);\n            return r;\n        }} catch (...) {{\n            {cresp}_free(response);\n            return {n}Result(detail::OutOfMemory());\n        }}")
    };
    let _ = writeln!(
        o,
        "/** `{n}Result`: response, modeled error or RPC error. */\nusing {n}Result = eventstreamrpc::OperationResult<{resp}>;\n\n/**\n * `{n}Operation` (`{}#{n}`): {} Move-only; obtained from\n * `GreengrassCoreIpcClient::New{n}()`.\n */\nclass {n}Operation {{\n  public:\n    explicit {n}Operation(detail::ClientHandle client) noexcept : m_client(std::move(client)) {{}}\n    {n}Operation({n}Operation &&) noexcept = default;\n    {n}Operation &operator=({n}Operation &&) noexcept = default;\n    {n}Operation(const {n}Operation &) = delete;\n    {n}Operation &operator=(const {n}Operation &) = delete;\n\n    /**\n     * Sends the request (written on the calling thread when the socket allows). The returned future is ready\n     * once the request has been handed to the connection; `onMessageFlushCallback`, if set, is called before\n     * this returns. A value the nucleus would refuse (a number that is no enum value, ...) is refused here\n     * with the nucleus' modeled error as the result; the activation itself succeeds, as with the nucleus.\n     */\n    ReadyFuture<RpcError> Activate(const {req} &request,\n                                   OnMessageFlushCallback onMessageFlushCallback = nullptr) noexcept {{\n        ReadyFuture<RpcError> status(std::in_place, [&] {{ return Start(request); }});\n        if (onMessageFlushCallback) {{\n            const RpcError &sent = eventstreamrpc::detail::ReadyValue(status);\n            try {{\n                onMessageFlushCallback(sent ? 0 : sent.crtError);\n            }} catch (...) {{\n            }}\n        }}\n        return status;\n    }}\n\n    /**\n     * The result future (see `OperationFuture`), once per activation as with `std::future` (a second call\n     * gives `EVENT_STREAM_RPC_UNINITIALIZED`, \"already retrieved\"). Waiting on it reads the answer on the\n     * waiting thread (one wake-up per round trip).\n     */\n    OperationFuture<{n}Result> GetResult() noexcept {{\n        if (m_call) {{\n            m_retrieved = true;\n            return OperationFuture<{n}Result>(m_call.release(), &Finish);\n        }}\n        return Settled();\n    }}\n\n    /** Nothing to close for a request/response operation; returns a ready, successful future. */\n    ReadyFuture<RpcError> Close(OnMessageFlushCallback onMessageFlushCallback = nullptr) noexcept {{\n        if (onMessageFlushCallback) {{\n            try {{\n                onMessageFlushCallback(0);\n            }} catch (...) {{\n            }}\n        }}\n        return ReadyFuture<RpcError>(RpcError());\n    }}\n\n  private:\n    /** Waits for the call, reads its result and releases it (the future's `get`). */\n    static {n}Result Finish(ggipc_call *call) noexcept {{\n        {take}\n    }}\n\n    /** `GetResult()` with no call in flight: never activated, already retrieved, or nothing was sent. */\n    OperationFuture<{n}Result> Settled() const noexcept {{\n        if (!m_activated) {{\n            return OperationFuture<{n}Result>::Ready({n}Result(detail::NotActivated()));\n        }}\n        return OperationFuture<{n}Result>::Ready(m_retrieved ? {n}Result(detail::AlreadyRetrieved()) : m_startResult ? *m_startResult : {n}Result());\n    }}\n\n    RpcError Start(const {req} &request) noexcept {{\n        m_activated = true;\n        m_retrieved = false;\n        m_call.reset();\n        if (!m_client) {{\n            m_startResult = {n}Result(detail::NotConnected());\n            return detail::NotConnected();\n        }}\n        ggipc_call *call = nullptr;\n        detail::ErrorPtr err;\n        try {{\n            {req}::View view;\n            request.ToView(view);\n            err.reset(ggipc_client_{f}_begin_view(m_client.get(), &view.c, &call));\n        }} catch (...) {{\n            m_startResult = {n}Result(detail::OutOfMemory());\n            return detail::OutOfMemory();\n        }}\n        if (err) {{\n            m_startResult = detail::MakeResult<{resp}>(err.get());\n            return m_startResult->GetResultType() == OPERATION_ERROR ? RpcError() : RpcError::FromError(err.get());\n        }}\n        m_call.reset(call);\n        return RpcError();\n    }}\n\n    detail::ClientHandle m_client;\n    detail::CallPtr m_call;\n    bool m_activated = false;\n    bool m_retrieved = false;\n    /** The outcome of an activation that sent nothing (none is built for one that did). */\n    std::optional<{n}Result> m_startResult;\n}};\n",
        m.namespace,
        comment(&op.doc)
    );
}

fn stream(m: &Model, op: &crate::model::Operation, ev: &str, o: &mut String) {
    let n = &op.name;
    let f = snake(n);
    let req = &op.request;
    let resp = &op.response;
    let cev = c_shape(ev);
    let _ = writeln!(
        o,
        "/**\n * Handler of a `{n}` stream. Override what you need; the typed `OnStreamError` overloads route to\n * `OnStreamError(OperationError *)`, which closes the stream.\n */\nclass {n}StreamHandler {{\n  public:\n    virtual ~{n}StreamHandler() = default;\n    /** An event arrived; `response` is valid for the call only. */\n    virtual void OnStreamEvent({ev} *response) {{ (void)response; }}"
    );
    for e in &op.errors {
        let _ = writeln!(
            o,
            "    /** Return true to close the stream. */\n    virtual bool OnStreamError({e} *operationError) {{\n        return OnStreamError(static_cast<OperationError *>(operationError));\n    }}"
        );
    }
    let _ = writeln!(
        o,
        "    /** Return true to close the stream. */\n    virtual bool OnStreamError(OperationError *operationError) {{\n        (void)operationError;\n        return true;\n    }}\n    /** A transport-level stream error; return true to close the stream. */\n    virtual bool OnStreamError(RpcError rpcError) {{\n        (void)rpcError;\n        return true;\n    }}\n    /** The stream closed; the last call this handler receives. */\n    virtual void OnStreamClosed() {{}}\n    /** The connection was lost; a reconnect is pending (ggipc extension). */\n    virtual void OnStreamInterrupted(RpcError reason) {{ (void)reason; }}\n    /** The subscription was re-established after a reconnect (ggipc extension). */\n    virtual void OnStreamResumed() {{}}\n    /**\n     * `dropped` events were lost before the next one: the handler did not keep up with the bounded queue, or\n     * the nucleus gave up waiting for this subscriber (ggipc extension).\n     */\n    virtual void OnStreamLagged(uint64_t dropped) {{ (void)dropped; }}\n}};\n"
    );
    let mut dispatch = String::new();
    for e in &op.errors {
        let _ = write!(
            dispatch,
            "\n            if (auto *e = dynamic_cast<{e} *>(op.get())) {{\n                return self->handler->OnStreamError(e);\n            }}"
        );
    }
    let _ = writeln!(
        o,
        "namespace detail {{\n\n/** Trampolines of `{n}StreamHandler`; owned by the C library through free_userdata. */\nstruct {n}Bridge : StreamBridgeBase<{n}Bridge, {n}StreamHandler> {{\n    using StreamBridgeBase<{n}Bridge, {n}StreamHandler>::StreamBridgeBase;\n    static void OnEvent(void *userdata, const {cev} *event) noexcept {{\n        if (auto *self = Of(userdata)) {{\n            try {{\n                {ev} e = {ev}::FromC(event);\n                self->handler->OnStreamEvent(&e);\n            }} catch (...) {{\n            }}\n        }}\n    }}\n    static bool OnError(void *userdata, const ggipc_error *error) noexcept {{\n        auto *self = Of(userdata);\n        if (self == nullptr) {{\n            return true;\n        }}\n        try {{\n            auto op = MakeOperationError(error);\n            if (!op) {{\n                return self->handler->OnStreamError(RpcError::FromError(error));\n            }}{dispatch}\n            return self->handler->OnStreamError(op.get());\n        }} catch (...) {{\n            return true;\n        }}\n    }}\n    static const ggipc_{f}_handler *Callbacks() noexcept {{\n        static const ggipc_{f}_handler callbacks = {{&OnEvent, &OnError, &OnInterrupted, &OnResumed, &OnLagged, &OnClosed}};\n        return &callbacks;\n    }}\n}};\n\n}} // namespace detail\n\n/** `{n}Result`: response, modeled error or RPC error. */\nusing {n}Result = eventstreamrpc::OperationResult<{resp}>;\n\n/**\n * `{n}Operation` (`{}#{n}`): {} Move-only; obtained from\n * `GreengrassCoreIpcClient::New{n}(handler)`. Destroying it closes the stream and stops the handler's\n * callbacks.\n */\nclass {n}Operation {{\n  public:\n    {n}Operation(detail::ClientHandle client, {n}StreamHandler *handler,\n                 std::shared_ptr<{n}StreamHandler> keepAlive) noexcept\n        : m_client(std::move(client)), m_handler(handler), m_keepAlive(std::move(keepAlive)) {{}}\n    {n}Operation({n}Operation &&other) noexcept {{ *this = std::move(other); }}\n    {n}Operation &operator=({n}Operation &&other) noexcept {{\n        if (this != &other) {{\n            Stop();\n            m_client = std::move(other.m_client);\n            m_handler = other.m_handler;\n            m_keepAlive = std::move(other.m_keepAlive);\n            m_sub = std::move(other.m_sub);\n            m_startError = other.m_startError;\n            m_startResult = other.m_startResult;\n            other.m_handler = nullptr;\n        }}\n        return *this;\n    }}\n    {n}Operation(const {n}Operation &) = delete;\n    {n}Operation &operator=(const {n}Operation &) = delete;\n    ~{n}Operation() {{ Stop(); }}\n\n    /**\n     * Sends the request; the future is ready once it was handed to the connection. The nucleus' answer is\n     * `GetResult()`. A value the nucleus would refuse is refused here with its modeled error as the result.\n     */\n    ReadyFuture<RpcError> Activate(const {req} &request,\n                                   OnMessageFlushCallback onMessageFlushCallback = nullptr) noexcept {{\n        ReadyFuture<RpcError> status(std::in_place, [&] {{ return Start(request); }});\n        if (onMessageFlushCallback) {{\n            const RpcError &sent = eventstreamrpc::detail::ReadyValue(status);\n            try {{\n                onMessageFlushCallback(sent ? 0 : sent.crtError);\n            }} catch (...) {{\n            }}\n        }}\n        return status;\n    }}\n\n    /** The result future: ready when the nucleus accepted or refused the stream. */\n    OperationFuture<{n}Result> GetResult() noexcept {{\n        if (!m_sub) {{\n            if (m_startResult.GetResultType() == OPERATION_ERROR) {{\n                return OperationFuture<{n}Result>::Ready(m_startResult);\n            }}\n            return OperationFuture<{n}Result>::Ready({n}Result(m_startError));\n        }}\n        struct Source : OperationFuture<{n}Result>::Source {{\n            detail::SubscriptionHandle sub;\n            bool Wait(uint64_t ms) noexcept override {{ return ggipc_subscription_wait(sub.get(), ms); }}\n            {n}Result Take() noexcept override {{\n                detail::ErrorPtr e(ggipc_subscription_get_result(sub.get()));\n                return detail::MakeResult<{resp}>(e.get());\n            }}\n        }};\n        try {{\n            auto s = std::make_shared<Source>();\n            s->sub = m_sub;\n            return OperationFuture<{n}Result>(std::move(s));\n        }} catch (...) {{\n            return OperationFuture<{n}Result>::Ready({n}Result(detail::OutOfMemory()));\n        }}\n    }}\n\n    /** Closes the stream; `OnStreamClosed` follows on the handler. Non-blocking, idempotent. */\n    ReadyFuture<RpcError> Close(OnMessageFlushCallback onMessageFlushCallback = nullptr) noexcept {{\n        ggipc_subscription_close(m_sub.get());\n        if (onMessageFlushCallback) {{\n            try {{\n                onMessageFlushCallback(0);\n            }} catch (...) {{\n            }}\n        }}\n        return ReadyFuture<RpcError>(RpcError());\n    }}\n\n  private:\n    RpcError Start(const {req} &request) noexcept {{\n        if (!m_client) {{\n            m_startError = detail::NotConnected();\n            return m_startError;\n        }}\n        if (m_handler == nullptr) {{\n            m_startError = RpcError(EVENT_STREAM_RPC_NULL_PARAMETER, GGIPC_ERROR_KIND_INVALID_ARGUMENT,\n                                    \"a stream handler is required\");\n            return m_startError;\n        }}\n        Stop();\n        {req}::CHandle req;\n        detail::ErrorPtr err = request.ToC(req);\n        if (!err && !req) {{\n            m_startError = detail::OutOfMemory();\n            return m_startError;\n        }}\n        auto *bridge = new (std::nothrow) detail::{n}Bridge(m_handler, m_keepAlive);\n        if (bridge == nullptr) {{\n            m_startError = detail::OutOfMemory();\n            return m_startError;\n        }}\n        ggipc_subscription *sub = nullptr;\n        if (!err) {{\n            err.reset(ggipc_client_{f}_begin(m_client.get(), req.get(), detail::{n}Bridge::Callbacks(), bridge,\n                                             &detail::{n}Bridge::Free, &sub));\n        }}\n        if (err) {{\n            delete bridge;\n            // A value the nucleus would refuse is its modeled error, as the result.\n            m_startResult = detail::MakeResult<{resp}>(err.get());\n            m_startError = RpcError::FromError(err.get());\n            return m_startResult.GetResultType() == OPERATION_ERROR ? RpcError() : m_startError;\n        }}\n        m_sub = detail::SubscriptionHandle(sub, detail::SubscriptionDeleter());\n        return RpcError();\n    }}\n\n    void Stop() noexcept {{\n        if (m_sub) {{\n            ggipc_subscription_stop_callbacks(m_sub.get());\n            ggipc_subscription_close(m_sub.get());\n            m_sub.reset();\n        }}\n    }}\n\n    detail::ClientHandle m_client;\n    {n}StreamHandler *m_handler = nullptr;\n    std::shared_ptr<{n}StreamHandler> m_keepAlive;\n    detail::SubscriptionHandle m_sub;\n    RpcError m_startError{{EVENT_STREAM_RPC_UNINITIALIZED, 0, \"the operation was not activated\"}};\n    {n}Result m_startResult{{m_startError}};\n}};\n",
        m.namespace,
        comment(&op.doc)
    );
}
