//! `_ggipc.Client` and `_ggipc.Subscription`: the core async client driven from Python.
//!
//! The native side knows the operations only as the core's table has them: requests cross as the operation's
//! name and a JSON value built by the generated Python model (blob members as `_ggipc.Blob`, base64-encoded
//! here), responses come back as JSON bytes, stream events as the JSON value with the blob members of the
//! event's shape decoded to `bytes` here (see `json`); the generated model builds its objects from them.
//!
//! Synchronous calls run the operation's future on the calling thread with the GIL released (the
//! caller writes its own request; the runtime's reader completes it). Async calls poll the future once
//! on the calling thread, so requests reach the wire in call order, then leave it to the runtime; the
//! result is handed to Python on the completion thread. Subscription events go to core's per-subscription
//! dispatcher thread, which delivers every queued event in one GIL acquisition.

use crate::errors::{error, exception, to_pyerr};
use crate::runtime::{self, call_quietly, complete};
use bytes::Bytes;
use ggipc::model::{Layout, Operation};
use ggipc::{Error, ErrorKind, LifecycleEvent, RawEvent, SubscriptionEvent, SubscriptionHandle};
use ggipc_bridge::{operation, Connection, Settings, CONNECT_TIMEOUT, OPERATION_TIMEOUT};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use std::sync::{Arc, Mutex};

pub const EV_MESSAGE: u8 = 0;
pub const EV_ERROR: u8 = 1;
pub const EV_INTERRUPTED: u8 = 2;
pub const EV_RESUMED: u8 = 3;
pub const EV_CLOSED: u8 = 4;
pub const EV_LAGGED: u8 = 5;
/// A message whose body could not be read (the value says why).
pub const EV_UNDECODABLE: u8 = 6;

const LC_CONNECTED: u8 = 0;
const LC_DISCONNECTED: u8 = 1;
const LC_PING: u8 = 3;
const LC_GAVE_UP: u8 = 4;

fn forked() -> Error {
    error(
        ErrorKind::ConnectionClosed,
        "this ggipc client was created in another process (before fork()); connect again in this process",
    )
}

/// The connection settings Python passes, as the support layer takes them (timeouts in seconds).
fn settings(
    socket_path: String,
    auth_token: String,
    connect_timeout: Option<f64>,
    operation_timeout: Option<f64>,
    reconnect: bool,
    max_queued_events: Option<usize>,
) -> Result<Settings, Error> {
    Ok(Settings {
        socket_path: Some(socket_path),
        auth_token: Some(auth_token),
        connect_timeout: connect_timeout
            .map(|t| ggipc_bridge::seconds(t, CONNECT_TIMEOUT))
            .transpose()?,
        operation_timeout: operation_timeout
            .map(|t| ggipc_bridge::seconds(t, OPERATION_TIMEOUT))
            .transpose()?,
        reconnect,
        subscription_queue: max_queued_events,
    })
}

/// A connection to the nucleus.
#[pyclass(module = "ggipc._ggipc", frozen)]
pub struct Client {
    conn: Connection,
    pid: u32,
}

impl Client {
    fn new(conn: Connection, lifecycle: Option<Py<PyAny>>) -> Self {
        if let Some(cb) = lifecycle {
            forward_lifecycle(&conn, cb);
        }
        Client {
            conn,
            pid: std::process::id(),
        }
    }

    fn check(&self) -> Result<&Connection, Error> {
        if self.pid != std::process::id() {
            return Err(forked());
        }
        Ok(&self.conn)
    }
}

/// Sends the client's lifecycle events to `cb` on the completion thread: "connected" first (the
/// connect itself), then what happens, until the last one (see [`ggipc_bridge::watch_lifecycle`]).
fn forward_lifecycle(conn: &Connection, cb: Py<PyAny>) {
    let cb = Arc::new(cb);
    let first = cb.clone();
    complete(Box::new(move |py| {
        lifecycle_call(py, &first, LC_CONNECTED, py.None())
    }));
    let watched = ggipc_bridge::watch_lifecycle(conn, move |ev, _last| {
        let (kind, arg): (u8, LazyArg) = match ev {
            LifecycleEvent::Connected => (LC_CONNECTED, Box::new(|py| py.None())),
            LifecycleEvent::Disconnected(e) => {
                (LC_DISCONNECTED, Box::new(move |py| exception(py, &e)))
            }
            LifecycleEvent::ReconnectFailed(e) => {
                (LC_GAVE_UP, Box::new(move |py| exception(py, &e)))
            }
            LifecycleEvent::Ping { payload } => (
                LC_PING,
                Box::new(move |py| {
                    let headers: Vec<(String, String)> = Vec::new();
                    match (headers, PyBytes::new(py, &payload)).into_pyobject(py) {
                        Ok(t) => t.into_any().unbind(),
                        Err(e) => e.into_value(py).into_any(),
                    }
                }),
            ),
            _ => return,
        };
        let cb = cb.clone();
        complete(Box::new(move |py| {
            let arg = arg(py);
            lifecycle_call(py, &cb, kind, arg)
        }));
    });
    if let Err(e) = watched {
        eprintln!("ggipc: lifecycle events are not forwarded: {e}");
    }
}

/// A lifecycle callback argument, built once the GIL is held.
type LazyArg = Box<dyn FnOnce(Python<'_>) -> Py<PyAny> + Send>;

fn lifecycle_call(py: Python<'_>, cb: &Py<PyAny>, kind: u8, arg: Py<PyAny>) {
    if let Err(e) = cb.call1(py, (kind, arg)) {
        e.print(py);
    }
}

/// Hands `result` to `callback` on the completion thread, made into a Python value by `ok`.
fn complete_with<T: Send + 'static>(
    callback: Py<PyAny>,
    result: Result<T, Error>,
    ok: impl FnOnce(Python<'_>, T) -> Py<PyAny> + Send + 'static,
) {
    complete(Box::new(move |py| {
        let arg = match result {
            Ok(v) => ok(py, v),
            Err(e) => exception(py, &e),
        };
        call_quietly(py, &callback, arg);
    }));
}

#[pymethods]
impl Client {
    /// Connects, blocking (GIL released) until connected or failed.
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (socket_path, auth_token, connect_timeout, operation_timeout, reconnect, lifecycle,
                        max_queued_events=None, threaded_reader=true))]
    fn connect(
        py: Python<'_>,
        socket_path: String,
        auth_token: String,
        connect_timeout: Option<f64>,
        operation_timeout: Option<f64>,
        reconnect: bool,
        lifecycle: Option<Py<PyAny>>,
        max_queued_events: Option<usize>,
        threaded_reader: bool,
    ) -> PyResult<Client> {
        let result = settings(
            socket_path,
            auth_token,
            connect_timeout,
            operation_timeout,
            reconnect,
            max_queued_events,
        )
        .and_then(|s| {
            py.detach(|| {
                if threaded_reader {
                    Connection::connect(&s)
                } else {
                    ggipc::runtime::block_on(Connection::connect_async(&s))?
                }
            })
        });
        match result {
            Ok(c) => Ok(Client::new(c, lifecycle)),
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }

    /// Connects in the background; `callback(client | exc)` on the completion thread.
    #[staticmethod]
    #[pyo3(signature = (callback, socket_path, auth_token, connect_timeout, operation_timeout, reconnect, lifecycle,
                        max_queued_events=None, threaded_reader=false))]
    #[allow(clippy::too_many_arguments)]
    fn connect_async(
        py: Python<'_>,
        callback: Py<PyAny>,
        socket_path: String,
        auth_token: String,
        connect_timeout: Option<f64>,
        operation_timeout: Option<f64>,
        reconnect: bool,
        lifecycle: Option<Py<PyAny>>,
        max_queued_events: Option<usize>,
        threaded_reader: bool,
    ) -> PyResult<()> {
        let settings = settings(
            socket_path,
            auth_token,
            connect_timeout,
            operation_timeout,
            reconnect,
            max_queued_events,
        )
        .map_err(|e| to_pyerr(py, &e))?;
        let done = move |result: Result<Connection, Error>| {
            complete_with(callback, result, move |py, conn| {
                match Py::new(py, Client::new(conn, lifecycle)) {
                    Ok(c) => c.into_any(),
                    Err(e) => e.into_value(py).into_any(),
                }
            })
        };
        let started = if threaded_reader {
            // Connecting a blocking client needs a plain thread; a short-lived one does it.
            std::thread::Builder::new()
                .name("ggipc-connect".into())
                .spawn(move || done(Connection::connect(&settings)))
                .map(|_| ())
                .map_err(|e| error(ErrorKind::Internal, format!("cannot start a thread: {e}")))
        } else {
            ggipc_bridge::start(
                async move { Connection::connect_async(&settings).await },
                done,
            )
        };
        started.map_err(|e| to_pyerr(py, &e))
    }

    /// A request/response operation (`op_name`, e.g. `aws.greengrass#GetConfiguration`) with a JSON body,
    /// blocking (GIL released) until answered; returns the response's JSON body.
    fn call<'py>(
        &self,
        py: Python<'py>,
        op_name: &str,
        body: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let body = json_body(body)?;
        let result = self.check().and_then(|conn| {
            let op = operation(op_name.as_bytes())?;
            py.detach(|| conn.call(op, body, None))
        });
        match result {
            Ok(resp) => Ok(PyBytes::new(py, &resp)),
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }

    /// [`call`](Self::call) without waiting; `callback(response_body | exc)` on the completion thread.
    fn call_async(
        &self,
        callback: Py<PyAny>,
        op_name: &str,
        body: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let body = json_body(body)?;
        let done = move |result: Result<Bytes, Error>| {
            complete_with(callback, result, |py, resp| {
                PyBytes::new(py, &resp).into_any().unbind()
            })
        };
        match self
            .check()
            .and_then(|conn| Ok((conn, operation(op_name.as_bytes())?)))
        {
            Ok((conn, op)) => conn.call_async(op, body, None, done),
            Err(e) => done(Err(e)),
        }
        Ok(())
    }

    /// A streaming operation, blocking (GIL released) until answered; events go to `on_events`.
    fn stream(
        &self,
        py: Python<'_>,
        op_name: &str,
        body: &Bound<'_, PyAny>,
        on_events: Py<PyAny>,
    ) -> PyResult<Subscription> {
        let body = json_body(body)?;
        let result = self.check().and_then(|conn| {
            let op = operation(op_name.as_bytes())?;
            py.detach(|| conn.open(op, body, None))
                .map(|sub| (sub, event_layout(op)))
        });
        match result {
            Ok((sub, layout)) => {
                let s = Subscription::new(sub, on_events, layout);
                s.start();
                Ok(s)
            }
            Err(e) => Err(to_pyerr(py, &e)),
        }
    }

    /// [`stream`](Self::stream) without waiting; `callback(subscription | exc)`; events start after the callback.
    fn stream_async(
        &self,
        callback: Py<PyAny>,
        op_name: &str,
        body: &Bound<'_, PyAny>,
        on_events: Py<PyAny>,
    ) -> PyResult<()> {
        let body = json_body(body)?;
        let target = self
            .check()
            .and_then(|conn| Ok((conn, operation(op_name.as_bytes())?)));
        let layout = target.as_ref().ok().and_then(|(_, op)| event_layout(op));
        let done = move |result: Result<ggipc::Subscription<RawEvent>, Error>| {
            complete(Box::new(move |py| match result {
                Ok(sub) => match Py::new(py, Subscription::new(sub, on_events, layout)) {
                    Ok(obj) => {
                        call_quietly(py, &callback, obj.clone_ref(py).into_any());
                        obj.get().start();
                    }
                    Err(e) => call_quietly(py, &callback, e.into_value(py).into_any()),
                },
                Err(e) => {
                    let exc = exception(py, &e);
                    call_quietly(py, &callback, exc);
                }
            }))
        };
        match target {
            Ok((conn, op)) => conn.open_async(op, body, None, done),
            Err(e) => done(Err(e)),
        }
        Ok(())
    }

    /// Closes the connection (idempotent), blocking (GIL released) until closed.
    fn close(&self, py: Python<'_>) {
        if let Ok(conn) = self.check() {
            py.detach(|| conn.close());
        }
    }

    /// True while a connection is up (false once closed, lost, or in another process after fork()).
    #[getter]
    fn is_connected(&self) -> bool {
        self.check().is_ok_and(|c| c.client().is_connected())
    }
}

/// A request's JSON body: JSON text (`str` or UTF-8 `bytes`), or the JSON value itself as the generated
/// model builds it (`dict`), written as JSON here.
fn json_body(obj: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if obj.is_instance_of::<PyDict>() {
        return Ok(Bytes::from(crate::json::to_json(obj)?));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Bytes::copy_from_slice(s.to_cow()?.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    Err(PyTypeError::new_err(format!(
        "a request body must be a dict, str or bytes, got {}",
        obj.get_type().name()?
    )))
}

/// The blob and document members of an operation's stream events.
fn event_layout(op: &Operation) -> Option<&'static [(&'static str, Layout)]> {
    op.event.and_then(ggipc::model::layout)
}

enum SubState {
    /// Answered, events not yet dispatched (the Python side is being told about it).
    Pending(ggipc::Subscription<RawEvent>, Py<PyAny>),
    Running(SubscriptionHandle),
    Gone,
}

/// An open stream of a streaming operation (its events are JSON values, blobs decoded).
#[pyclass(module = "ggipc._ggipc", frozen)]
pub struct Subscription {
    state: Mutex<SubState>,
    layout: Option<&'static [(&'static str, Layout)]>,
    pid: u32,
}

impl Subscription {
    fn new(
        sub: ggipc::Subscription<RawEvent>,
        on_events: Py<PyAny>,
        layout: Option<&'static [(&'static str, Layout)]>,
    ) -> Self {
        Subscription {
            state: Mutex::new(SubState::Pending(sub, on_events)),
            layout,
            pid: std::process::id(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts delivering events to the Python callback on the dispatcher thread.
    fn start(&self) {
        let mut st = self.lock();
        let SubState::Pending(sub, on_events) = std::mem::replace(&mut *st, SubState::Gone) else {
            return;
        };
        let layout = self.layout;
        let handle = sub.with_batch_handler(move |events| dispatch(&on_events, events, layout));
        *st = SubState::Running(handle);
    }
}

fn dispatch(
    on_events: &Py<PyAny>,
    events: Vec<SubscriptionEvent<RawEvent>>,
    layout: Option<&'static [(&'static str, Layout)]>,
) {
    runtime::with_python(|py| {
        let batch = PyList::empty(py);
        for ev in events {
            match event_tuple(py, ev, layout) {
                Ok(t) => {
                    if let Err(e) = batch.append(t) {
                        e.print(py);
                    }
                }
                Err(e) => e.print(py),
            }
        }
        if let Err(e) = on_events.call1(py, (batch,)) {
            e.print(py);
        }
    });
}

fn event_tuple<'py>(
    py: Python<'py>,
    ev: SubscriptionEvent<RawEvent>,
    layout: Option<&'static [(&'static str, Layout)]>,
) -> PyResult<Bound<'py, PyTuple>> {
    let (kind, value): (u8, Py<PyAny>) = match ev {
        // the JSON value the model's `_from_payload` takes, blobs already `bytes`
        SubscriptionEvent::Message(RawEvent { payload }) => {
            match crate::json::event_value(py, &payload, layout) {
                Ok(v) => (EV_MESSAGE, v.unbind()),
                Err(why) => (EV_UNDECODABLE, PyString::new(py, &why).into_any().unbind()),
            }
        }
        SubscriptionEvent::Error(e) => (EV_ERROR, exception(py, &e)),
        SubscriptionEvent::Lagged(n) => (EV_LAGGED, n.into_pyobject(py)?.into_any().unbind()),
        SubscriptionEvent::Interrupted(e) => (EV_INTERRUPTED, exception(py, &e)),
        SubscriptionEvent::Resumed => (EV_RESUMED, py.None()),
        SubscriptionEvent::Closed(e) => (
            EV_CLOSED,
            e.map(|e| exception(py, &e)).unwrap_or_else(|| py.None()),
        ),
    };
    (kind, value).into_pyobject(py)
}

#[pymethods]
impl Subscription {
    /// Terminates the stream (idempotent); a final closed event follows. In a forked child it does
    /// nothing: the stream belongs to the parent's connection.
    fn close(&self) {
        if self.pid != std::process::id() {
            return;
        }
        match &*self.lock() {
            SubState::Pending(sub, _) => sub.close(),
            SubState::Running(h) => h.close(),
            SubState::Gone => {}
        }
    }

    #[getter]
    fn is_closed(&self) -> bool {
        match &*self.lock() {
            SubState::Pending(sub, _) => sub.is_closed(),
            SubState::Running(h) => h.is_closed(),
            SubState::Gone => true,
        }
    }
}
