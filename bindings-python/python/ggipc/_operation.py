# SPDX-License-Identifier: Apache-2.0
"""The generic operation machinery the generated clients call (private).

Requests cross to the native module as JSON values (the shape's ``_to_payload()``, blobs as
``_ggipc.Blob``) with the operation's name; responses come back as JSON bytes, stream events as JSON values
with their blobs already ``bytes`` (the native side reads them by the event shape's layout); the generated
shape's ``_from_payload`` builds the objects. Nothing here knows a particular operation.
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
import threading
import traceback
import typing
from concurrent.futures import Future
from typing import Any, Callable, Dict, List, Optional, Type, TypeVar, Union

from . import _core, _ggipc
from . import eventstreamrpc as rpc
from ._connection import Connection, new_future

_T = TypeVar("_T")

def encode(request: Any) -> Dict[str, Any]:
    """The JSON body of a request shape, as the JSON value (the native side writes it as JSON text, and the
    blobs, handed over as ``_ggipc.Blob``, as base64)."""
    return request._to_payload(_ggipc.Blob)  # type: ignore[no-any-return]


def decode(cls: Type[_T], body: bytes) -> _T:
    """A response shape from its JSON body (``{}``: every member absent)."""
    if len(body) <= 2:
        return cls()
    return cls._from_payload(json.loads(body))  # type: ignore[attr-defined, no-any-return]


def is_modeled(exc: BaseException) -> bool:
    from .greengrasscoreipc import model

    return isinstance(exc, model.GreengrassCoreIPCError)


# -- V1 -------------------------------------------------------------------------------------------


class Operation:
    """A request/response operation of the V1 client (the generated ``<Op>Operation`` classes)."""

    _NAME = ""
    _RESPONSE: Type[Any] = type(None)

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._activated = False
        self._response: "Future[Any]" = new_future()
        self._closed: "Future[None]" = new_future()

    def _start(self) -> None:
        if self._activated:
            raise RuntimeError("operation already activated")
        self._activated = True

    def _activate(self, request: Any) -> "Future[None]":
        self._start()
        written = new_future()
        response = self._response
        closed = self._closed
        cls = self._RESPONSE

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                if is_modeled(result):
                    written.set_result(None)
                else:
                    written.set_exception(result)
                response.set_exception(result)
            else:
                written.set_result(None)
                try:
                    response.set_result(decode(cls, result))
                except Exception as exc:
                    response.set_exception(rpc.DeserializeError(str(exc)))
            closed.set_result(None)

        try:
            self._connection.native.call_async(done, self._NAME, encode(request))
        except Exception as exc:
            self._activated = False
            written.set_exception(exc)
        return written

    def get_response(self) -> "Future[Any]":
        """The future of the operation's response (or its error)."""
        return self._response

    def _close(self) -> "Future[None]":
        if not self._activated and not self._closed.done():
            self._closed.set_result(None)
        return self._closed


class StreamOperation(Operation):
    """A streaming operation of the V1 client: events go to a stream handler on the dispatcher thread."""

    _EVENT: Type[Any] = type(None)
    _DEFAULT_HANDLER: Type[rpc.StreamResponseHandler] = rpc.StreamResponseHandler

    def __init__(self, connection: Connection, stream_handler: Optional[rpc.StreamResponseHandler]) -> None:
        super().__init__(connection)
        self._handler = stream_handler if stream_handler is not None else self._DEFAULT_HANDLER()
        self._lock = threading.Lock()
        self._sub: Any = None
        self._close_requested = False
        self._last_error: Optional[BaseException] = None

    def _activate(self, request: Any) -> "Future[None]":
        self._start()
        written = new_future()

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                if is_modeled(result):
                    written.set_result(None)
                else:
                    written.set_exception(result)
                self._response.set_exception(result)
                self._finish()
                return
            with self._lock:
                self._sub = result
                close_now = self._close_requested
            if close_now:
                result.close()
            written.set_result(None)
            self._response.set_result(self._RESPONSE())

        try:
            self._connection.native.stream_async(done, self._NAME, encode(request), self._dispatch)
        except Exception as exc:
            self._activated = False
            written.set_exception(exc)
        return written

    def _close(self) -> "Future[None]":
        with self._lock:
            self._close_requested = True
            sub = self._sub
        if sub is not None:
            sub.close()
        elif not self._activated and not self._closed.done():
            self._closed.set_result(None)
        return self._closed

    def _finish(self) -> None:
        if not self._closed.done():
            self._closed.set_result(None)
            _core.call_handler(self._handler.on_stream_closed)

    def _stream_error(self, error: BaseException) -> None:
        self._last_error = error
        close = _core.call_handler(self._handler.on_stream_error, error)
        if close or close is None:
            self._close()

    def _dispatch(self, batch: List[Any]) -> None:
        """Deliver a batch of native events (runs on the subscription's dispatcher thread)."""
        h = self._handler
        on_event = h.on_stream_event
        from_payload = self._EVENT._from_payload
        for kind, value in batch:
            if kind == 0:  # _core.EV_MESSAGE, the hot path
                try:
                    event = from_payload(value)
                except Exception as exc:
                    _core.logger.exception("undecodable stream event")
                    self._stream_error(rpc.UnmappedDataError("invalid event body: %s" % exc))
                    continue
                if _core.DEBUG_EVENTS:
                    _core.logger.debug("subscription: message on %r", _topic_of(event))
                try:
                    on_event(event)
                except Exception as exc:
                    _core.logger.exception("on_stream_event raised")
                    self._stream_error(exc)
            elif kind == _core.EV_UNDECODABLE:
                _core.logger.error("undecodable stream event: %s", value)
                self._stream_error(rpc.UnmappedDataError("invalid event body: %s" % value))
            elif kind == _core.EV_ERROR:
                self._stream_error(value)
            elif kind == _core.EV_CLOSED:
                if value is not None and value is not self._last_error and is_modeled(value):
                    self._stream_error(value)
                self._finish()
            elif kind == _core.EV_INTERRUPTED:
                cb = getattr(h, "on_stream_interrupted", None)
                if cb is not None:
                    _core.call_handler(cb, value)
            elif kind == _core.EV_RESUMED:
                cb = getattr(h, "on_stream_resumed", None)
                if cb is not None:
                    _core.call_handler(cb)
            elif kind == _core.EV_LAGGED:
                _core.logger.warning("subscription handler too slow: %d message(s) dropped", value)
                cb = getattr(h, "on_stream_lagged", None)
                if cb is not None:
                    _core.call_handler(cb, value)


def _topic_of(event: Any) -> Optional[str]:
    """The topic of a received message event, for the debug log (the event union's set member's
    ``topic_name`` or ``context.topic``)."""
    for member in vars(event).values():
        if member is not None:
            topic = getattr(member, "topic_name", None)
            if topic is None:
                topic = getattr(getattr(member, "context", None), "topic", None)
            return topic
    return None


class ClientBase:
    """What the generated V1 ``GreengrassCoreIPCClient`` has besides its ``new_<op>()`` factories."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def connection(self) -> Connection:
        return self._connection

    def _check_open(self) -> None:
        if self._connection._closing:
            raise rpc.ConnectionClosedError("the client was closed")

    def close(self, reason: Optional[Exception] = None) -> "Future[None]":
        """Close the connection (idempotent); open subscriptions are closed.

        Returns a future that completes when the connection is closed: None if the close was
        user-initiated, else the exception that closed it.
        """
        return self._connection.close(reason)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# -- V2 -------------------------------------------------------------------------------------------


class ClientV2Base:
    """What the generated ``GreengrassCoreIPCClientV2`` has besides its operation methods."""

    def __init__(
        self,
        client: Optional[Any] = None,
        executor: Union[concurrent.futures.Executor, bool, None] = True,
    ) -> None:
        if client is None:
            from .greengrasscoreipc import connect

            client = connect()
        self.client = client
        self.executor: Optional[concurrent.futures.Executor] = None if executor is True else executor  # type: ignore[assignment]
        self.ignore_executor_exceptions = False

    def close(self, *, executor_wait: bool = True) -> "concurrent.futures.Future[None]":
        """Close the connection and shut down the executor, if one was given.

        Args:
            executor_wait: wait for the executor to finish its tasks.
        """
        fut: "concurrent.futures.Future[None]" = self.client.close()
        self.ignore_executor_exceptions = True
        if self.executor is not None:
            self.executor.shutdown(wait=executor_wait)
        return fut

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, name: str, payload: Dict[str, Any], response: Type[_T]) -> _T:
        """A request/response operation with the request's JSON ``payload``, waiting (GIL released)."""
        return decode(response, self.client.connection.native.call(name, payload))

    def _call_async(self, name: str, payload: Dict[str, Any], response: Type[_T]) -> "concurrent.futures.Future[_T]":
        fut: "concurrent.futures.Future[_T]" = concurrent.futures.Future()
        fut.set_running_or_notify_cancel()

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                try:
                    fut.set_result(decode(response, result))
                except Exception as exc:
                    fut.set_exception(rpc.DeserializeError(str(exc)))

        self.client.connection.native.call_async(done, name, payload)
        return fut

    def _stream_handler(
        self,
        base: Type[rpc.StreamResponseHandler],
        stream_handler: Optional[rpc.StreamResponseHandler],
        on_stream_event: Optional[Callable[..., Any]],
        on_stream_error: Optional[Callable[..., Any]],
        on_stream_closed: Optional[Callable[..., Any]],
    ) -> Any:
        if stream_handler is not None and (
            on_stream_event is not None or on_stream_error is not None or on_stream_closed is not None
        ):
            raise ValueError("Must choose either stream_handler or on_stream_event/on_stream_error/on_stream_closed")
        if stream_handler is not None:
            if self.executor is None:
                return stream_handler
            on_stream_event = stream_handler.on_stream_event
            on_stream_error = stream_handler.on_stream_error
            on_stream_closed = stream_handler.on_stream_closed
        return _CallbackHandler(self, on_stream_event, on_stream_error, on_stream_closed)

    def _run(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.executor is None:
            fn(*args)
            return
        try:
            self.executor.submit(_traced(fn), *args)
        except RuntimeError:
            if not self.ignore_executor_exceptions:
                raise


def _traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            raise

    return wrapper


class _CallbackHandler(rpc.StreamResponseHandler):
    def __init__(
        self,
        owner: ClientV2Base,
        on_event: Optional[Callable[..., Any]],
        on_error: Optional[Callable[..., Any]],
        on_closed: Optional[Callable[..., Any]],
    ) -> None:
        self._owner = owner
        self._on_event = on_event
        self._on_error = on_error
        self._on_closed = on_closed
        if on_event is not None and owner.executor is None:
            self.on_stream_event = on_event  # type: ignore[method-assign]  # the event path, without a hop

    def on_stream_event(self, event: Any) -> None:
        if self._on_event is not None:
            self._owner._run(self._on_event, event)

    def on_stream_error(self, error: Exception) -> bool:
        if self._on_error is not None:
            return typing.cast(bool, self._on_error(error))
        return True

    def on_stream_closed(self) -> None:
        if self._on_closed is not None:
            self._owner._run(self._on_closed)


def combine(first: "concurrent.futures.Future[Any]", second: "concurrent.futures.Future[Any]") -> "concurrent.futures.Future[Any]":
    """``second``, failed with ``first``'s exception if ``first`` fails."""

    def on_first(f: "concurrent.futures.Future[Any]") -> None:
        exc = f.exception()
        if exc is not None and not second.done():
            try:
                second.set_exception(exc)
            except Exception:
                pass

    first.add_done_callback(on_first)
    return second
