//! `_ggipc.Client` and `_ggipc.Subscription`: the core async client driven from Python.
//!
//! The native side knows no operation: requests cross as the operation's name and a JSON body, responses
//! and stream events come back as JSON bytes, and the generated Python model does the (de)serialization.
//!
//! Synchronous calls run the operation's future on the calling thread with the GIL released (the
//! caller writes its own request; the runtime's reader completes it). Async calls poll the future once
//! on the calling thread, so requests reach the wire in call order, then leave it to the runtime; the
//! result is handed to Python on the completion thread. Subscription events go to core's per-subscription
//! dispatcher thread, which delivers every queued event in one GIL acquisition.

use crate::errors::{error, exception, to_pyerr};
use crate::runtime::{self, call_quietly, complete};
use bytes::Bytes;
use ggipc::model::Operation;
use ggipc::{Error, ErrorKind, LifecycleEvent, RawEvent, SubscriptionEvent, SubscriptionHandle};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const EV_MESSAGE: u8 = 0;
pub const EV_ERROR: u8 = 1;
pub const EV_INTERRUPTED: u8 = 2;
pub const EV_RESUMED: u8 = 3;
pub const EV_CLOSED: u8 = 4;
pub const EV_LAGGED: u8 = 5;

const LC_CONNECTED: u8 = 0;
const LC_DISCONNECTED: u8 = 1;
const LC_PING: u8 = 3;
const LC_GAVE_UP: u8 = 4;

/// A timeout from Python in seconds, with the core's one rule and message.
fn seconds(v: f64, what: &str) -> Result<Duration, Error> {
    ggipc::options::duration_from_secs(v, what)
}

fn forked() -> Error {
    error(
        ErrorKind::ConnectionClosed,
        "this ggipc client was created in another process (before fork()); connect again in this process",
    )
}

/// How a client was connected.
struct Connected {
    inner: ggipc::Client,
    /// Present when the connection is read by core's reader thread, which lets a blocking caller read its
    /// own response (one thread wake-up per synchronous round trip instead of two).
    blocking: Option<ggipc::blocking::Client>,
}

/// Connection settings, owned so they can cross to another thread.
struct Settings {
    socket_path: String,
    auth_token: String,
    connect_timeout: f64,
    operation_timeout: Option<f64>,
    reconnect: bool,
    max_queued_events: Option<usize>,
    threaded_reader: bool,
}

impl Settings {
    fn builder(&self) -> Result<ggipc::ClientBuilder, Error> {
        builder(
            self.socket_path.clone(),
            self.auth_token.clone(),
            self.connect_timeout,
            self.operation_timeout,
            self.reconnect,
            self.max_queued_events,
        )
    }

    /// Connects on the calling thread (a plain thread: never a runtime worker).
    fn connect_blocking(&self, rt: &tokio::runtime::Handle) -> Result<Connected, Error> {
        let b = self.builder()?;
        if self.threaded_reader {
            let blocking = b.connect_blocking()?;
            Ok(Connected {
                inner: blocking.as_async().clone(),
                blocking: Some(blocking),
            })
        } else {
            Ok(Connected {
                inner: rt.block_on(b.connect())?,
                blocking: None,
            })
        }
    }
}

fn builder(
    socket_path: String,
    auth_token: String,
    connect_timeout: f64,
    operation_timeout: Option<f64>,
    reconnect: bool,
    max_queued_events: Option<usize>,
) -> Result<ggipc::ClientBuilder, Error> {
    let mut b = ggipc::Client::builder()
        .socket_path(socket_path)
        .auth_token(auth_token)
        .connect_timeout(seconds(connect_timeout, "timeout")?);
    if let Some(t) = operation_timeout {
        b = b.operation_timeout(seconds(t, "operation_timeout")?);
    }
    if reconnect {
        b = b.reconnect(ggipc::ReconnectPolicy::default());
    }
    if let Some(n) = max_queued_events {
        b = b.subscription_queue(n);
    }
    Ok(b)
}

/// A connection to the nucleus.
#[pyclass(module = "ggipc._ggipc", frozen)]
pub struct Client {
    inner: ggipc::Client,
    blocking: Option<ggipc::blocking::Client>,
    rt: tokio::runtime::Handle,
    pid: u32,
    /// Stops the lifecycle forwarding when the client is closed.
    closed: Arc<tokio::sync::Notify>,
}

impl Client {
    fn new(
        connected: Connected,
        rt: tokio::runtime::Handle,
        lifecycle: Option<Py<PyAny>>,
        reconnect: bool,
    ) -> Self {
        let closed = Arc::new(tokio::sync::Notify::new());
        if let Some(cb) = lifecycle {
            forward_lifecycle(&connected.inner, &rt, cb, reconnect, closed.clone());
        }
        Client {
            inner: connected.inner,
            blocking: connected.blocking,
            rt,
            pid: std::process::id(),
            closed,
        }
    }

    fn check(&self) -> Result<(), Error> {
        if self.pid != std::process::id() {
            return Err(forked());
        }
        Ok(())
    }
}

/// Sends the client's lifecycle events to `cb` on the completion thread: "connected" first (the
/// connect itself), then what happens; "disconnected" is the last one unless the client reconnects.
/// `stop` ends the forwarding once the user closed the client (after the events already emitted), so
/// the callback, which refers back to the client, does not keep a reconnecting client alive.
fn forward_lifecycle(
    client: &ggipc::Client,
    rt: &tokio::runtime::Handle,
    cb: Py<PyAny>,
    reconnect: bool,
    stop: Arc<tokio::sync::Notify>,
) {
    let mut rx = client.lifecycle();
    let cb = Arc::new(cb);
    let first = cb.clone();
    complete(Box::new(move |py| {
        lifecycle_call(py, &first, LC_CONNECTED, py.None())
    }));
    rt.spawn(async move {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        loop {
            let ev = tokio::select! {
                biased;
                ev = rx.recv() => match ev {
                    Ok(ev) => ev,
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                },
                _ = stop.notified() => {
                    // Closed by the user: hand over what was emitted up to now, then stop.
                    loop {
                        match rx.try_recv() {
                            Ok(ev) => {
                                forward_one(&cb, ev, reconnect);
                            }
                            Err(TryRecvError::Lagged(_)) => continue,
                            Err(_) => break,
                        }
                    }
                    break;
                }
            };
            if forward_one(&cb, ev, reconnect) {
                break;
            }
        }
    });
}

/// Queues one lifecycle event for the callback; true if it is the last one.
fn forward_one(cb: &Arc<Py<PyAny>>, ev: LifecycleEvent, reconnect: bool) -> bool {
    let (kind, last, arg): (u8, bool, LazyArg) = match ev {
        LifecycleEvent::Connected => (LC_CONNECTED, false, Box::new(|py| py.None())),
        LifecycleEvent::Disconnected(e) => (
            LC_DISCONNECTED,
            !reconnect,
            Box::new(move |py| exception(py, &e)),
        ),
        LifecycleEvent::ReconnectFailed(e) => {
            (LC_GAVE_UP, true, Box::new(move |py| exception(py, &e)))
        }
        LifecycleEvent::Ping { payload } => (
            LC_PING,
            false,
            Box::new(move |py| {
                let headers: Vec<(String, String)> = Vec::new();
                match (headers, PyBytes::new(py, &payload)).into_pyobject(py) {
                    Ok(t) => t.into_any().unbind(),
                    Err(e) => e.into_value(py).into_any(),
                }
            }),
        ),
        _ => return false,
    };
    let cb = cb.clone();
    complete(Box::new(move |py| {
        let arg = arg(py);
        lifecycle_call(py, &cb, kind, arg)
    }));
    last
}

/// A lifecycle callback argument, built once the GIL is held.
type LazyArg = Box<dyn FnOnce(Python<'_>) -> Py<PyAny> + Send>;

fn lifecycle_call(py: Python<'_>, cb: &Py<PyAny>, kind: u8, arg: Py<PyAny>) {
    if let Err(e) = cb.call1(py, (kind, arg)) {
        e.print(py);
    }
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
        connect_timeout: f64,
        operation_timeout: Option<f64>,
        reconnect: bool,
        lifecycle: Option<Py<PyAny>>,
        max_queued_events: Option<usize>,
        threaded_reader: bool,
    ) -> PyResult<Client> {
        let rt = runtime::handle().map_err(|e| to_pyerr(py, &e))?;
        let settings = Settings {
            socket_path,
            auth_token,
            connect_timeout,
            operation_timeout,
            reconnect,
            max_queued_events,
            threaded_reader,
        };
        match py.detach(|| settings.connect_blocking(&rt)) {
            Ok(c) => Ok(Client::new(c, rt, lifecycle, reconnect)),
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
        connect_timeout: f64,
        operation_timeout: Option<f64>,
        reconnect: bool,
        lifecycle: Option<Py<PyAny>>,
        max_queued_events: Option<usize>,
        threaded_reader: bool,
    ) -> PyResult<()> {
        let rt = runtime::handle().map_err(|e| to_pyerr(py, &e))?;
        let settings = Settings {
            socket_path,
            auth_token,
            connect_timeout,
            operation_timeout,
            reconnect,
            max_queued_events,
            threaded_reader,
        };
        let done = move |result: Result<Connected, Error>, rt: tokio::runtime::Handle| {
            complete(Box::new(move |py| {
                let arg = match result {
                    Ok(c) => match Py::new(py, Client::new(c, rt, lifecycle, reconnect)) {
                        Ok(c) => c.into_any(),
                        Err(e) => e.into_value(py).into_any(),
                    },
                    Err(e) => exception(py, &e),
                };
                call_quietly(py, &callback, arg);
            }));
        };
        if threaded_reader {
            // Connecting a blocking client needs a plain thread; a short-lived one does it.
            let spawned = std::thread::Builder::new()
                .name("ggipc-connect".into())
                .spawn(move || {
                    let result = settings.connect_blocking(&rt);
                    done(result, rt);
                });
            if let Err(e) = spawned {
                return Err(to_pyerr(
                    py,
                    &error(ErrorKind::Internal, format!("cannot start a thread: {e}")),
                ));
            }
        } else {
            let rt2 = rt.clone();
            runtime::start(&rt, async move {
                let result = match settings.builder() {
                    Ok(b) => b.connect().await.map(|inner| Connected {
                        inner,
                        blocking: None,
                    }),
                    Err(e) => Err(e),
                };
                done(result, rt2);
            });
        }
        Ok(())
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
        let result = self
            .check()
            .and_then(|_| operation(op_name))
            .and_then(|op| {
                let timeout = self.inner.operation_timeout();
                py.detach(|| match &self.blocking {
                    Some(b) => b.call(op, body, timeout),
                    None => self
                        .rt
                        .block_on(self.inner.call_with_timeout(op, body, timeout)),
                })
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
        let op = self.check().and_then(|_| operation(op_name));
        let client = self.inner.clone();
        runtime::start(&self.rt, async move {
            let result = match op {
                Ok(op) => {
                    let timeout = client.operation_timeout();
                    client.call_with_timeout(op, body, timeout).await
                }
                Err(e) => Err(e),
            };
            complete(Box::new(move |py| {
                let arg = match result {
                    Ok(resp) => PyBytes::new(py, &resp).into_any().unbind(),
                    Err(e) => exception(py, &e),
                };
                call_quietly(py, &callback, arg);
            }));
        });
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
        let result = self
            .check()
            .and_then(|_| operation(op_name))
            .and_then(|op| {
                let timeout = self.inner.operation_timeout();
                py.detach(|| {
                    self.rt
                        .block_on(self.inner.open_subscription::<RawEvent>(op, body, timeout))
                })
            });
        match result {
            Ok(sub) => {
                let s = Subscription::new(sub, on_events);
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
        let op = self.check().and_then(|_| operation(op_name));
        let client = self.inner.clone();
        runtime::start(&self.rt, async move {
            let result = match op {
                Ok(op) => {
                    let timeout = client.operation_timeout();
                    client
                        .open_subscription::<RawEvent>(op, body, timeout)
                        .await
                }
                Err(e) => Err(e),
            };
            complete(Box::new(move |py| match result {
                Ok(sub) => {
                    let s = Subscription::new(sub, on_events);
                    match Py::new(py, s) {
                        Ok(obj) => {
                            call_quietly(py, &callback, obj.clone_ref(py).into_any());
                            obj.get().start();
                        }
                        Err(e) => call_quietly(py, &callback, e.into_value(py).into_any()),
                    }
                }
                Err(e) => {
                    let exc = exception(py, &e);
                    call_quietly(py, &callback, exc);
                }
            }));
        });
        Ok(())
    }

    /// Closes the connection (idempotent), blocking (GIL released) until closed.
    fn close(&self, py: Python<'_>) {
        if self.check().is_err() {
            return;
        }
        py.detach(|| self.rt.block_on(self.inner.close()));
        // notify_one keeps a permit, so the forwarding task stops even if it is not waiting yet
        self.closed.notify_one();
    }

    /// True while a connection is up (false once closed, lost, or in another process after fork()).
    #[getter]
    fn is_connected(&self) -> bool {
        self.check().is_ok() && self.inner.is_connected()
    }
}

/// The operation of the model named `name` (its `operation` header value).
fn operation(name: &str) -> Result<&'static Operation, Error> {
    Operation::find(name).ok_or_else(|| {
        error(
            ErrorKind::InvalidArgument,
            format!("unknown operation {name}"),
        )
    })
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

enum SubState {
    /// Answered, events not yet dispatched (the Python side is being told about it).
    Pending(ggipc::Subscription<RawEvent>, Py<PyAny>),
    Running(SubscriptionHandle),
    Gone,
}

/// An open stream of a streaming operation (its events are JSON bodies).
#[pyclass(module = "ggipc._ggipc", frozen)]
pub struct Subscription {
    state: Mutex<SubState>,
    pid: u32,
}

impl Subscription {
    fn new(sub: ggipc::Subscription<RawEvent>, on_events: Py<PyAny>) -> Self {
        Subscription {
            state: Mutex::new(SubState::Pending(sub, on_events)),
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
        let handle = sub.with_batch_handler(move |events| dispatch(&on_events, events));
        *st = SubState::Running(handle);
    }
}

fn dispatch(on_events: &Py<PyAny>, events: Vec<SubscriptionEvent<RawEvent>>) {
    runtime::with_python(|py| {
        let batch = PyList::empty(py);
        for ev in events {
            match event_tuple(py, ev) {
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

fn event_tuple(py: Python<'_>, ev: SubscriptionEvent<RawEvent>) -> PyResult<Bound<'_, PyTuple>> {
    let (kind, value): (u8, Py<PyAny>) = match ev {
        // the JSON body as `str`: what Python's JSON scanner reads without a conversion
        SubscriptionEvent::Message(RawEvent { payload }) => (
            EV_MESSAGE,
            PyString::new(py, &String::from_utf8_lossy(&payload))
                .into_any()
                .unbind(),
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_must_be_positive() {
        assert_eq!(seconds(0.25, "t").unwrap(), Duration::from_millis(250));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                seconds(bad, "timeout").unwrap_err().kind(),
                ErrorKind::InvalidArgument
            );
        }
    }
}
