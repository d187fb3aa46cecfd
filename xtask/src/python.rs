//! python: generated model and operation code for this language's binding.
//!
//! Writes, under `bindings-python/python/ggipc/`:
//!
//! * `greengrasscoreipc/model.py`: every enum, shape and modeled error with awsiotsdk's surface (keyword
//!   constructor, attributes, `set_*`, `_to_payload`/`_from_payload` with the wire member names, `_model_name`);
//! * `greengrasscoreipc/client.py`: the V1 `<Op>Operation` classes, every `<Op>StreamHandler` and the
//!   `new_<op>()` factories of `GreengrassCoreIPCClient`;
//! * `greengrasscoreipc/clientv2.py`: `GreengrassCoreIPCClientV2` with `<op>()` and `<op>_async()`;
//! * `_aio_operations.py`: the `ggipc.aio.Client` methods.
//!
//! The generic machinery they call (connection, futures, stream dispatch) is hand-written in `_operation.py` and
//! `aio.py`.

use crate::model::{snake, Member, Model, Shape, Type};
use crate::{header, Output};
use std::fmt::Write;

const MODEL: &str = "bindings-python/python/ggipc/greengrasscoreipc/model.py";
const CLIENT: &str = "bindings-python/python/ggipc/greengrasscoreipc/client.py";
const CLIENTV2: &str = "bindings-python/python/ggipc/greengrasscoreipc/clientv2.py";
const AIO: &str = "bindings-python/python/ggipc/_aio_operations.py";

pub fn emit(m: &Model) -> Vec<Output> {
    vec![
        Output::text(MODEL, model(m)),
        Output::text(CLIENT, client(m)),
        Output::text(CLIENTV2, clientv2(m)),
        Output::text(AIO, aio(m)),
    ]
}

fn file_header(doc: &str) -> String {
    let mut s = header("#", "");
    s.push_str("# SPDX-License-Identifier: Apache-2.0\n");
    writeln!(s, "\"\"\"{doc}\"\"\"\n").unwrap();
    s.push_str("from __future__ import annotations\n\n");
    s
}

/// A docstring-safe one-liner.
fn doc(text: &str) -> String {
    text.replace('\\', "\\\\").replace("\"\"\"", "'''")
}

fn py_str(s: &str) -> String {
    format!("{s:?}")
}

/// The Python annotation of a member type (as stored on the object).
fn hint(t: &Type) -> String {
    match t {
        Type::String | Type::Enum(_) => "str".into(),
        Type::Boolean => "bool".into(),
        Type::Long => "int".into(),
        Type::Double => "float".into(),
        Type::Blob => "bytes".into(),
        Type::Timestamp => "datetime.datetime".into(),
        Type::Document => "typing.Any".into(),
        Type::List(t) => format!("typing.List[{}]", hint(t)),
        Type::Shape(s) => s.clone(),
    }
}

/// The annotation of a constructor/setter argument (blobs accept `str`, encoded as UTF-8).
fn arg_hint(t: &Type) -> String {
    match t {
        Type::Blob => "typing.Union[bytes, str]".into(),
        t => hint(t),
    }
}

/// The annotation of a member type as seen from another module (`model.` prefix on shapes).
fn ext_hint(t: &Type) -> String {
    match t {
        Type::Blob => "typing.Union[bytes, str]".into(),
        Type::List(t) => format!("typing.List[{}]", ext_hint(t)),
        Type::Shape(s) => format!("model.{s}"),
        t => hint(t),
    }
}

/// Expression converting the stored value `v` to its JSON form.
/// `helpers` prefixes the model module's helper functions (`""` inside it, `"model."` elsewhere); `blob` is the
/// function a blob goes through (`b64`, the `_to_payload` argument, inside the model; the native writer's
/// `model._b64e` in a request built for the native module).
fn to_json(t: &Type, v: &str, depth: usize, helpers: &str, blob: &str) -> String {
    match t {
        Type::Blob => format!("{blob}({v})"),
        Type::Timestamp => format!("{helpers}_ts_out({v})"),
        Type::Shape(_) => format!("{v}._to_payload({blob})"),
        Type::List(inner) if needs_conversion(inner) => {
            let i = format!("i{depth}");
            format!(
                "[{} for {i} in {v}]",
                to_json(inner, &i, depth + 1, helpers, blob)
            )
        }
        _ => v.to_string(),
    }
}

/// Statements building the JSON payload `_payload` of a request straight from the method's keyword arguments
/// (what `Request(**kwargs)._to_payload()` gives, without the object).
fn inline_payload(fs: &[Field]) -> String {
    let mut s = String::from("        _payload: typing.Dict[str, typing.Any] = {}\n");
    for f in fs {
        writeln!(
            s,
            "        if {a} is not None:\n            _payload[{w}] = {e}",
            a = f.attr,
            w = py_str(&f.wire),
            e = to_json(&f.ty, &f.attr, 0, "model.", "model._b64e")
        )
        .unwrap();
    }
    s
}

/// Expression converting the JSON value `v` (not None) to its Python form.
fn from_json(t: &Type, v: &str, depth: usize) -> String {
    match t {
        Type::Blob => format!("_b64d({v})"),
        Type::Timestamp => format!("_ts_in({v})"),
        Type::Long => format!("int({v})"),
        Type::Double => format!("float({v})"),
        Type::Shape(s) => format!("{s}._from_payload({v})"),
        Type::List(inner) if needs_conversion(inner) => {
            let i = format!("i{depth}");
            format!("[{} for {i} in {v}]", from_json(inner, &i, depth + 1))
        }
        _ => v.to_string(),
    }
}

fn needs_conversion(t: &Type) -> bool {
    match t {
        Type::Blob | Type::Timestamp | Type::Long | Type::Double | Type::Shape(_) => true,
        Type::List(t) => needs_conversion(t),
        _ => false,
    }
}

struct Field {
    attr: String,
    wire: String,
    ty: Type,
    doc: String,
}

fn fields(m: &Model, members: &[Member]) -> Vec<Field> {
    members
        .iter()
        .map(|x| Field {
            attr: snake(&x.name),
            wire: x.name.clone(),
            ty: m.member_type(x),
            doc: x.doc.clone(),
        })
        .collect()
}

fn ctor_params(fs: &[Field], ext: bool) -> String {
    fs.iter()
        .map(|f| {
            let h = if ext {
                ext_hint(&f.ty)
            } else {
                arg_hint(&f.ty)
            };
            format!("        {}: typing.Optional[{h}] = None,\n", f.attr)
        })
        .collect()
}

fn store(f: &Field) -> String {
    match f.ty {
        Type::Blob => format!("_blob({})", f.attr),
        _ => f.attr.clone(),
    }
}

fn keyword_args(fs: &[Field]) -> String {
    fs.iter()
        .map(|f| format!("{0}={0}", f.attr))
        .collect::<Vec<_>>()
        .join(", ")
}

fn write_args_doc(s: &mut String, fs: &[Field]) {
    if fs.is_empty() {
        return;
    }
    s.push_str("\n    Keyword Args:\n");
    for f in fs {
        writeln!(s, "        {}: {}", f.attr, doc(&f.doc)).unwrap();
    }
}

/// `set_*`, `_to_payload` and `_from_payload` (the latter unless `errors`, which build through the constructor).
fn write_members(s: &mut String, class: &str, fs: &[Field], error: bool) {
    for f in fs {
        writeln!(
            s,
            "\n    def set_{a}(self, {a}: {h}) -> \"{class}\":\n        self.{a} = {st}\n        return self",
            a = f.attr,
            h = arg_hint(&f.ty),
            st = store(f),
        )
        .unwrap();
    }
    // _to_payload
    // `b64`: base64 text by default (the JSON-ready dict awsiotsdk's `_to_payload` gives); requests for the
    // native module pass `_b64e`, which hands the bytes to the native writer.
    s.push_str("\n    def _to_payload(self, b64: typing.Callable[[typing.Any], typing.Any] = _b64text) -> typing.Dict[str, typing.Any]:\n");
    s.push_str("        payload: typing.Dict[str, typing.Any] = {}\n");
    for (n, f) in fs.iter().enumerate() {
        if needs_conversion(&f.ty) && !matches!(f.ty, Type::Long | Type::Double) {
            writeln!(
                s,
                "        v{n} = self.{a}\n        if v{n} is not None:\n            payload[{w}] = {e}",
                a = f.attr,
                w = py_str(&f.wire),
                e = to_json(&f.ty, &format!("v{n}"), 0, "", "b64")
            )
            .unwrap();
        } else {
            writeln!(
                s,
                "        if self.{a} is not None:\n            payload[{w}] = self.{a}",
                a = f.attr,
                w = py_str(&f.wire)
            )
            .unwrap();
        }
    }
    s.push_str("        return payload\n");
    // _from_payload
    writeln!(
        s,
        "\n    @classmethod\n    def _from_payload(cls, payload: typing.Dict[str, typing.Any]) -> \"{class}\":"
    )
    .unwrap();
    if fs.is_empty() {
        s.push_str("        return cls()\n");
        return;
    }
    s.push_str("        g = payload.get\n");
    let mut values = Vec::new();
    for (n, f) in fs.iter().enumerate() {
        if needs_conversion(&f.ty) {
            writeln!(s, "        v{n} = g({})", py_str(&f.wire)).unwrap();
            values.push((
                f,
                format!(
                    "None if v{n} is None else {}",
                    from_json(&f.ty, &format!("v{n}"), 0)
                ),
            ));
        } else {
            values.push((f, format!("g({})", py_str(&f.wire))));
        }
    }
    if error {
        s.push_str("        return cls(\n");
        for (f, e) in &values {
            writeln!(s, "            {}={e},", f.attr).unwrap();
        }
        s.push_str("        )\n");
    } else {
        // Built without the constructor (no blob re-encoding, no checks); the attributes are set in the
        // constructor's order, so `repr` and `vars()` are the same as for a constructed object.
        s.push_str("        new = cls.__new__(cls)\n");
        for (f, e) in &values {
            writeln!(s, "        new.{} = {e}", f.attr).unwrap();
        }
        s.push_str("        return new\n");
    }
}

fn write_shape(s: &mut String, m: &Model, shape: &Shape) {
    let fs = fields(m, &shape.members);
    let name = &shape.name;
    writeln!(s, "\n\nclass {name}(rpc.Shape):").unwrap();
    writeln!(s, "    \"\"\"{}", doc(&shape.doc)).unwrap();
    if shape.union {
        s.push_str("\n    A union: set exactly one member.\n");
    }
    s.push_str(
        "\n    All attributes are None by default, and may be set by keyword in the constructor.\n",
    );
    write_args_doc(s, &fs);
    s.push_str("    \"\"\"\n\n");
    writeln!(
        s,
        "    _MODEL_NAME = {}",
        py_str(&format!("{}#{name}", m.namespace))
    )
    .unwrap();
    if fs.is_empty() {
        s.push_str("\n    def __init__(self) -> None:\n        pass\n");
    } else {
        s.push_str("\n    def __init__(\n        self,\n        *,\n");
        s.push_str(&ctor_params(&fs, false));
        s.push_str("    ) -> None:\n");
        for f in &fs {
            writeln!(
                s,
                "        self.{}: typing.Optional[{}] = {}",
                f.attr,
                hint(&f.ty),
                store(f)
            )
            .unwrap();
        }
    }
    write_members(s, name, &fs, false);
}

fn model(m: &Model) -> String {
    let mut s = file_header(
        "Greengrass IPC model (``aws.greengrass``): the enums, shapes and modeled errors.\n\n\
Mirrors ``awsiot.greengrasscoreipc.model``: the same class names, keyword constructors, attributes,\n\
``set_*`` methods, ``repr`` and equality. All attributes are ``None`` by default. Blobs are ``bytes``\n\
(``str`` is accepted and encoded as UTF-8) and base64 on the wire, encoded and decoded natively;\n\
timestamps are ``datetime`` (epoch seconds on the wire); documents are any JSON value.\n",
    );
    s.push_str(
        "import binascii\nimport datetime\nimport typing\n\nfrom .. import _ggipc\nfrom .. import eventstreamrpc as rpc\n\n",
    );
    let mut all: Vec<String> = Vec::new();
    all.extend(m.enums.iter().map(|e| e.name.clone()));
    all.extend(m.shapes.iter().map(|x| x.name.clone()));
    all.push("GreengrassCoreIPCError".into());
    all.extend(
        m.errors
            .iter()
            .filter(|e| e.modeled)
            .map(|e| e.name.clone()),
    );
    all.push("SHAPE_INDEX".into());
    s.push_str("__all__ = [\n");
    for n in &all {
        writeln!(s, "    {},", py_str(n)).unwrap();
    }
    s.push_str("]\n");
    s.push_str(
        r#"

def _blob(value: typing.Optional[typing.Union[bytes, str]]) -> typing.Optional[bytes]:
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def _b64text(value: typing.Union[bytes, str]) -> str:
    """A blob member as base64 text (``str`` encoded as UTF-8 first): the JSON-ready form of ``_to_payload()``."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return binascii.b2a_base64(value, newline=False).decode("ascii")


#: A blob member as it goes into a request for the native module: its bytes (``str`` encoded as UTF-8), written
#: as base64 by the native JSON writer; anything but a bytes-like object or ``str`` raises the ``TypeError``
#: ``_b64text`` (binascii) gives.
_b64e = _ggipc.Blob


def _b64d(value: typing.Union[bytes, str]) -> bytes:
    """A blob member as read: ``bytes`` already decoded natively (stream events), else its base64 text."""
    if type(value) is bytes:
        return value
    return binascii.a2b_base64(value)


def _ts_out(value: typing.Union[datetime.datetime, float]) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    return float(value)


def _ts_in(value: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
"#,
    );
    for e in &m.enums {
        writeln!(s, "\n\nclass {}:", e.name).unwrap();
        writeln!(s, "    \"\"\"{} enum: {}\"\"\"\n", e.name, doc(&e.doc)).unwrap();
        for v in &e.values {
            writeln!(
                s,
                "    {} = {}  #: {}",
                v.name,
                py_str(&v.value),
                doc(&v.doc)
            )
            .unwrap();
        }
    }
    for shape in &m.shapes {
        write_shape(&mut s, m, shape);
    }
    s.push_str(
        r#"

class GreengrassCoreIPCError(rpc.ErrorShape):
    """Base of the modeled errors sent by the server. ``message`` holds the server's message."""

    #: "server" for the errors worth retrying (the model's ``retryable``), else "client".
    _ERROR_TYPE = "client"

    def _get_error_type_string(self) -> str:
        return self._ERROR_TYPE

    def is_retryable(self) -> bool:
        """True for the errors worth retrying (the server failed, not the request)."""
        return self._ERROR_TYPE == "server"

    def is_server_error(self) -> bool:
        return self._ERROR_TYPE == "server"

    def is_client_error(self) -> bool:
        return self._ERROR_TYPE == "client"

    @property
    def kind(self) -> str:  # type: ignore[override]
        return type(self).__name__
"#,
    );
    for e in m.errors.iter().filter(|e| e.modeled) {
        let fs = fields(m, &e.members);
        let name = &e.name;
        writeln!(s, "\n\nclass {name}(GreengrassCoreIPCError):").unwrap();
        writeln!(s, "    \"\"\"{}", doc(&e.doc)).unwrap();
        write_args_doc(&mut s, &fs);
        s.push_str("    \"\"\"\n\n");
        writeln!(
            s,
            "    _MODEL_NAME = {}",
            py_str(&format!("{}#{name}", m.namespace))
        )
        .unwrap();
        writeln!(
            s,
            "    _ERROR_TYPE = {}",
            py_str(if e.retryable { "server" } else { "client" })
        )
        .unwrap();
        s.push_str("\n    def __init__(\n        self,\n        *,\n");
        s.push_str(&ctor_params(&fs, false));
        s.push_str("    ) -> None:\n");
        if fs.iter().any(|f| f.attr == "message") {
            s.push_str(
                "        rpc.EventStreamOperationError.__init__(self, *((message,) if message is not None else ()))\n",
            );
        } else {
            s.push_str("        rpc.EventStreamOperationError.__init__(self)\n");
        }
        for f in &fs {
            writeln!(
                s,
                "        self.{}: typing.Optional[{}] = {}",
                f.attr,
                hint(&f.ty),
                store(f)
            )
            .unwrap();
        }
        write_members(&mut s, name, &fs, true);
    }
    s.push_str(
        r#"

class ShapeIndex:
    """Catalog of the shapes of this service, by model name."""

    def __init__(self, shape_types: typing.Sequence[typing.Type[rpc.Shape]]) -> None:
        self._by_name = {t._model_name(): t for t in shape_types}

    def find_shape_type(self, model_name: str) -> typing.Optional[type]:
        """The shape class with the given model name, or None."""
        return self._by_name.get(model_name)


#: Every shape of the model (errors excluded), in model order.
_SHAPE_CLASSES: typing.Tuple[typing.Type[rpc.Shape], ...] = (
"#,
    );
    for shape in &m.shapes {
        writeln!(s, "    {},", shape.name).unwrap();
    }
    s.push_str(")\n\n#: Every modeled error class, in model order.\n");
    s.push_str("_ERROR_CLASSES: typing.Tuple[typing.Type[GreengrassCoreIPCError], ...] = (\n");
    for e in m.errors.iter().filter(|e| e.modeled) {
        writeln!(s, "    {},", e.name).unwrap();
    }
    s.push_str(")\n\nSHAPE_INDEX = ShapeIndex([*_SHAPE_CLASSES, *_ERROR_CLASSES])\n");
    s
}

struct Op<'a> {
    name: String,
    snake: String,
    full: String,
    request: &'a Shape,
    response: String,
    event: Option<String>,
    doc: String,
}

fn ops(m: &Model) -> Vec<Op<'_>> {
    m.operations
        .iter()
        .map(|o| Op {
            name: o.name.clone(),
            snake: snake(&o.name),
            full: format!("{}#{}", m.namespace, o.name),
            request: m.shape(&o.request).expect("checked at load"),
            response: o.response.clone(),
            event: o.event.clone(),
            doc: o.doc.clone(),
        })
        .collect()
}

fn client(m: &Model) -> String {
    let mut s = file_header(
        "V1 client: operations with ``activate()``, ``get_response()`` and ``close()`` returning futures.\n\n\
Mirrors ``awsiot.greengrasscoreipc.client``. Stream handlers run on a ggipc dispatcher thread (one per\n\
subscription, events in order), never on the thread that reads the socket, so a handler may call the\n\
client again, blocking calls included, without deadlock.\n",
    );
    s.push_str(
        "import typing\nfrom concurrent.futures import Future\n\nfrom .. import _operation\nfrom .. import eventstreamrpc as rpc\nfrom . import model\n\n",
    );
    let ops = ops(m);
    s.push_str("__all__ = [\n    \"GreengrassCoreIPCClient\",\n");
    for o in &ops {
        writeln!(s, "    \"{}Operation\",", o.name).unwrap();
        if o.event.is_some() {
            writeln!(s, "    \"{}StreamHandler\",", o.name).unwrap();
        }
    }
    s.push_str("]\n");
    for o in &ops {
        let name = &o.name;
        if let Some(ev) = &o.event {
            write!(
                s,
                r#"

class {name}StreamHandler(rpc.StreamResponseHandler):
    """Handler of {name} stream events; subclass it and override what you need.

    Methods run on the subscription's dispatcher thread, one at a time, in arrival order.
    If ``on_stream_event`` raises, the exception is logged and passed to ``on_stream_error``.

    ggipc extensions, called if defined: ``on_stream_interrupted(error)`` and ``on_stream_resumed()``
    around a reconnect (``connect(reconnect=True)``), and ``on_stream_lagged(count)`` when messages were
    dropped because the handler did not keep up (the queue is bounded; a warning is logged too).
    """

    def on_stream_event(self, event: model.{ev}) -> None:
        """Invoked for each received :class:`~ggipc.greengrasscoreipc.model.{ev}`."""

    def on_stream_error(self, error: Exception) -> bool:
        """Invoked when an error occurs on the stream. Return True (or None) to close the stream."""
        return True

    def on_stream_closed(self) -> None:
        """Invoked once when the stream has closed."""


class {name}Operation(_operation.StreamOperation):
    """{d} Create with :meth:`GreengrassCoreIPCClient.new_{sn}`."""

    _NAME = {full}
    _RESPONSE = model.{resp}
    _EVENT = model.{ev}
    _DEFAULT_HANDLER = {name}StreamHandler

    def activate(self, request: model.{req}) -> "Future[None]":
        """Send the request.

        Returns a future that completes with None once the request was sent and answered, or
        fails with a connection error. A modeled error fails only :meth:`get_response`'s future.
        """
        return self._activate(request)

    def get_response(self) -> "Future[model.{resp}]":
        """The future of the :class:`~ggipc.greengrasscoreipc.model.{resp}`."""
        return self._response

    def close(self) -> "Future[None]":
        """Close the stream (idempotent). The future completes once the stream has closed."""
        return self._close()
"#,
                d = doc(&o.doc),
                sn = o.snake,
                full = py_str(&o.full),
                resp = o.response,
                req = o.request.name,
            )
            .unwrap();
        } else {
            write!(
                s,
                r#"

class {name}Operation(_operation.Operation):
    """{d} Create with :meth:`GreengrassCoreIPCClient.new_{sn}`."""

    _NAME = {full}
    _RESPONSE = model.{resp}

    def activate(self, request: model.{req}) -> "Future[None]":
        """Send the request.

        Returns a future that completes with None once the request was sent and answered, or
        fails with a connection error. A modeled error (e.g. UnauthorizedError) fails only
        :meth:`get_response`'s future.
        """
        return self._activate(request)

    def get_response(self) -> "Future[model.{resp}]":
        """The future of the :class:`~ggipc.greengrasscoreipc.model.{resp}`."""
        return self._response

    def close(self) -> "Future[None]":
        """Close the operation, whether or not it has completed (idempotent)."""
        return self._close()
"#,
                d = doc(&o.doc),
                sn = o.snake,
                full = py_str(&o.full),
                resp = o.response,
                req = o.request.name,
            )
            .unwrap();
        }
    }
    s.push_str(
        r#"

class GreengrassCoreIPCClient(_operation.ClientBase):
    """V1 client of the Greengrass Core IPC service.

    Create it with :func:`ggipc.greengrasscoreipc.connect`. Call :meth:`close` when done.

    Args:
        connection: the connected :class:`~ggipc.eventstreamrpc.Connection`.
    """
"#,
    );
    for o in &ops {
        let name = &o.name;
        if o.event.is_some() {
            write!(
                s,
                r#"
    def new_{sn}(self, stream_handler: typing.Optional[{name}StreamHandler] = None) -> {name}Operation:
        """Create a {name} operation; nothing is sent until ``activate()``.

        Args:
            stream_handler: receives the stream's events, errors and closure.

        Raises:
            ConnectionClosedError: the client was closed.
        """
        self._check_open()
        return {name}Operation(self._connection, stream_handler)
"#,
                sn = o.snake
            )
            .unwrap();
        } else {
            write!(
                s,
                r#"
    def new_{sn}(self) -> {name}Operation:
        """Create a {name} operation; nothing is sent until ``activate()``.

        Raises:
            ConnectionClosedError: the client was closed.
        """
        self._check_open()
        return {name}Operation(self._connection)
"#,
                sn = o.snake
            )
            .unwrap();
        }
    }
    s
}

fn clientv2(m: &Model) -> String {
    let mut s = file_header(
        "V2 client: plain synchronous calls, ``_async`` variants returning futures, callbacks for streams.\n\n\
Mirrors ``awsiot.greengrasscoreipc.clientv2``. By default (``executor=True``) stream callbacks run\n\
on the subscription's ggipc dispatcher thread, in order, and may call the client again; no thread\n\
pool is created. Pass an explicit ``concurrent.futures.Executor`` to run ``on_stream_event`` and\n\
``on_stream_closed`` there instead (as the official SDK does), or ``None`` for the dispatcher thread.\n",
    );
    s.push_str(
        "import concurrent.futures\nimport datetime\nimport typing\n\nfrom .. import _operation\nfrom . import client, model\n\n__all__ = [\"GreengrassCoreIPCClientV2\"]\n",
    );
    s.push_str(
        r#"

class GreengrassCoreIPCClientV2(_operation.ClientV2Base):
    """V2 client of the Greengrass Core IPC service. Call :meth:`close` when done.

    Args:
        client: a connected V1 client; if omitted, one is made with
            :func:`ggipc.greengrasscoreipc.connect` (socket and token from the environment).
        executor: where ``on_stream_event``/``on_stream_closed`` callbacks run: ``True`` (default)
            or ``None`` for the subscription's dispatcher thread (in order), or an Executor.
    """
"#,
    );
    for o in ops(m) {
        let fs = fields(m, &o.request.members);
        let params = ctor_params(&fs, true);
        let kw = keyword_args(&fs);
        let name = &o.name;
        let sn = &o.snake;
        let resp = &o.response;
        let full = py_str(&o.full);
        let d = doc(&o.doc);
        let req = &o.request.name;
        writeln!(
            s,
            "\n    # -- {name} {}",
            "-".repeat(80usize.saturating_sub(name.len()))
        )
        .unwrap();
        if let Some(ev) = &o.event {
            write!(
                s,
                r#"
    def {sn}(
        self,
        *,
{params}        stream_handler: typing.Optional[client.{name}StreamHandler] = None,
        on_stream_event: typing.Optional[typing.Callable[[model.{ev}], None]] = None,
        on_stream_error: typing.Optional[typing.Callable[[Exception], bool]] = None,
        on_stream_closed: typing.Optional[typing.Callable[[], None]] = None,
    ) -> typing.Tuple[model.{resp}, client.{name}Operation]:
        """{d}

        Waits for the response; events then arrive through the callbacks. Returns
        ``(response, operation)``; call ``operation.close()`` to end the stream.
        ``stream_handler`` and the ``on_stream_*`` callbacks are mutually exclusive.
        ``on_stream_error`` returns True to close the stream, False to keep it open.
        """
        fut, op = self.{sn}_async(
            {kw}{comma}stream_handler=stream_handler, on_stream_event=on_stream_event,
            on_stream_error=on_stream_error, on_stream_closed=on_stream_closed,
        )
        return fut.result(), op

    def {sn}_async(
        self,
        *,
{params}        stream_handler: typing.Optional[client.{name}StreamHandler] = None,
        on_stream_event: typing.Optional[typing.Callable[[model.{ev}], None]] = None,
        on_stream_error: typing.Optional[typing.Callable[[Exception], bool]] = None,
        on_stream_closed: typing.Optional[typing.Callable[[], None]] = None,
    ) -> typing.Tuple["concurrent.futures.Future[model.{resp}]", client.{name}Operation]:
        """{d} Does not wait; returns ``(response future, operation)``."""
        handler = self._stream_handler(
            client.{name}StreamHandler, stream_handler, on_stream_event, on_stream_error, on_stream_closed
        )
        operation = self.client.new_{sn}(handler)
        written = operation.activate(model.{req}({kw}))
        return _operation.combine(written, operation.get_response()), operation
"#,
                comma = if kw.is_empty() { "" } else { ", " },
            )
            .unwrap();
        } else {
            write!(
                s,
                r#"
    def {sn}(
        self,
{star}{params}    ) -> model.{resp}:
        """{d}

        Waits (GIL released) for the nucleus' answer. Raises the modeled error with the server's
        message, or a connection error; never waits longer than the connection's operation timeout.
        """
{inline}        return self._call({full}, _payload, model.{resp})

    def {sn}_async(
        self,
{star}{params}    ) -> "concurrent.futures.Future[model.{resp}]":
        """{d} Does not wait; the future completes with the response or the error."""
{inline}        return self._call_async({full}, _payload, model.{resp})
"#,
                inline = inline_payload(&fs),
                // A bare `*` needs a keyword parameter after it.
                star = if fs.is_empty() { "" } else { "        *,\n" },
            )
            .unwrap();
        }
    }
    s.push_str("\n\n# referenced by the annotations\n_ = datetime\n");
    s
}

fn aio(m: &Model) -> String {
    let mut s = file_header(
        "The operations of :class:`ggipc.aio.Client` (the client's connection, calls and streams are in ``aio.py``).",
    );
    s.push_str(
        "import datetime\nimport typing\n\nfrom .greengrasscoreipc import model\n\nif typing.TYPE_CHECKING:\n    from .aio import Subscription\n\n_S = typing.TypeVar(\"_S\")\n_E = typing.TypeVar(\"_E\")\n",
    );
    s.push_str(
        r#"

class Operations:
    """One coroutine per operation of the model."""

    async def _call(self, name: str, payload: typing.Dict[str, typing.Any], response: typing.Type[_S]) -> _S:
        raise NotImplementedError

    async def _stream(
        self,
        name: str,
        payload: typing.Dict[str, typing.Any],
        response: typing.Type[_S],
        event: typing.Type[_E],
        max_queued: int,
    ) -> "Subscription[_E]":
        raise NotImplementedError
"#,
    );
    for o in ops(m) {
        let fs = fields(m, &o.request.members);
        let params = ctor_params(&fs, true);
        let sn = &o.snake;
        let resp = &o.response;
        let full = py_str(&o.full);
        let d = doc(&o.doc);
        if let Some(ev) = &o.event {
            write!(
                s,
                r#"
    async def {sn}(
        self,
        *,
{params}        max_queued: int = 1024,
    ) -> "Subscription[model.{ev}]":
        """{d}

        Returns a :class:`~ggipc.aio.Subscription` yielding :class:`~ggipc.greengrasscoreipc.model.{ev}`
        objects with ``async for``; its ``response`` is the {resp}.
        """
{inline}        return await self._stream({full}, _payload, model.{resp}, model.{ev}, max_queued)
"#,
                inline = inline_payload(&fs),
            )
            .unwrap();
        } else {
            write!(
                s,
                r#"
    async def {sn}(
        self,
{star}{params}    ) -> model.{resp}:
        """{d} Raises the modeled error on refusal."""
{inline}        return await self._call({full}, _payload, model.{resp})
"#,
                inline = inline_payload(&fs),
                // A bare `*` needs a keyword parameter after it.
                star = if fs.is_empty() { "" } else { "        *,\n" },
            )
            .unwrap();
        }
    }
    s.push_str("\n\n# referenced by the annotations\n_ = datetime\n");
    s
}
