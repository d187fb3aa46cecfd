# SPDX-License-Identifier: Apache-2.0
"""V1 client: operations with ``activate()``, ``get_response()`` and ``close()`` returning futures.

Mirrors ``awsiot.greengrasscoreipc.client``. Differences that only remove failure modes:
stream handlers run on a ggipc dispatcher thread (one per subscription, events in order), never
on the thread that reads the socket, so a handler may call the client again, blocking calls
included, without deadlock.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, List, Optional

from .. import _core
from .. import eventstreamrpc as rpc
from .._connection import Connection, new_future
from . import model

__all__ = [
    "GreengrassCoreIPCClient",
    "PublishToIoTCoreOperation",
    "SubscribeToIoTCoreOperation",
    "SubscribeToIoTCoreStreamHandler",
]


class SubscribeToIoTCoreStreamHandler(rpc.StreamResponseHandler):
    """Handler of SubscribeToIoTCore stream events; subclass it and override what you need.

    Methods run on the subscription's dispatcher thread, one at a time, in arrival order.
    If ``on_stream_event`` raises, the exception is logged and passed to ``on_stream_error``.

    ggipc extensions, called if defined: ``on_stream_interrupted(error)`` and ``on_stream_resumed()``
    around a reconnect (``connect(reconnect=True)``), and ``on_stream_lagged(count)`` when messages were
    dropped because the handler did not keep up (the queue is bounded; a warning is logged too).
    """

    def on_stream_event(self, event: model.IoTCoreMessage) -> None:
        """Invoked for each received :class:`~ggipc.greengrasscoreipc.model.IoTCoreMessage`."""

    def on_stream_error(self, error: Exception) -> bool:
        """Invoked when an error occurs on the stream. Return True (or None) to close the stream."""
        return True

    def on_stream_closed(self) -> None:
        """Invoked once when the stream has closed."""


def _is_modeled(exc: BaseException) -> bool:
    return isinstance(exc, model.GreengrassCoreIPCError)


class _Operation:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._activated = False
        self._response: "Future[Any]" = new_future()
        self._closed: "Future[None]" = new_future()

    def _start(self) -> None:
        if self._activated:
            raise RuntimeError("operation already activated")
        self._activated = True

    def get_response(self) -> "Future[Any]":
        """The future of the operation's response (or its error)."""
        return self._response


class PublishToIoTCoreOperation(_Operation):
    """Publish an MQTT message to AWS IoT Core. Create with
    :meth:`GreengrassCoreIPCClient.new_publish_to_iot_core`."""

    def activate(self, request: model.PublishToIoTCoreRequest) -> "Future[None]":
        """Send the request.

        Returns a future that completes with None once the request was sent and answered, or
        fails with a connection error. A modeled error (e.g. UnauthorizedError) fails only
        :meth:`get_response`'s future.
        """
        self._start()
        written = new_future()
        response = self._response
        closed = self._closed

        def done(exc: Optional[BaseException]) -> None:
            if exc is None:
                written.set_result(None)
                response.set_result(model.PublishToIoTCoreResponse())
            else:
                if _is_modeled(exc):
                    written.set_result(None)
                else:
                    written.set_exception(exc)
                response.set_exception(exc)
            closed.set_result(None)

        try:
            self._connection.native.publish_async(done, *_core.request_publish_args(request))
        except Exception as exc:
            self._activated = False
            written.set_exception(exc)
        return written

    def get_response(self) -> "Future[model.PublishToIoTCoreResponse]":
        """The future of the :class:`~ggipc.greengrasscoreipc.model.PublishToIoTCoreResponse`."""
        return self._response

    def close(self) -> "Future[None]":
        """Close the operation, whether or not it has completed (idempotent)."""
        if not self._activated and not self._closed.done():
            self._closed.set_result(None)
        return self._closed


class SubscribeToIoTCoreOperation(_Operation):
    """Subscribe to MQTT messages from AWS IoT Core. Create with
    :meth:`GreengrassCoreIPCClient.new_subscribe_to_iot_core`."""

    def __init__(self, connection: Connection, stream_handler: Optional[rpc.StreamResponseHandler]) -> None:
        super().__init__(connection)
        self._handler = stream_handler if stream_handler is not None else SubscribeToIoTCoreStreamHandler()
        self._lock = threading.Lock()
        self._sub: Any = None
        self._close_requested = False
        self._last_error: Optional[BaseException] = None

    def activate(self, request: model.SubscribeToIoTCoreRequest) -> "Future[None]":
        """Send the request.

        Returns a future that completes with None once the request was sent and answered, or
        fails with a connection error. A modeled error fails only :meth:`get_response`'s future.
        """
        self._start()
        written = new_future()

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                if _is_modeled(result):
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
            self._response.set_result(model.SubscribeToIoTCoreResponse())

        try:
            self._connection.native.subscribe_async(done, request.topic_name, request.qos, self._dispatch)
        except Exception as exc:
            self._activated = False
            written.set_exception(exc)
        return written

    def get_response(self) -> "Future[model.SubscribeToIoTCoreResponse]":
        """The future of the :class:`~ggipc.greengrasscoreipc.model.SubscribeToIoTCoreResponse`."""
        return self._response

    def close(self) -> "Future[None]":
        """Close the subscription (idempotent). The future completes once the stream has closed."""
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
            self.close()

    def _dispatch(self, batch: List[Any]) -> None:
        """Deliver a batch of native events (runs on the subscription's dispatcher thread)."""
        h = self._handler
        for kind, value in batch:
            if kind == _core.EV_MESSAGE:
                if _core.DEBUG_EVENTS:
                    _core.logger.debug("subscription: message on %r (%d bytes)", value[0], len(value[1] or b""))
                try:
                    h.on_stream_event(_core.iot_core_message(value))
                except Exception as exc:
                    _core.logger.exception("on_stream_event raised")
                    self._stream_error(exc)
            elif kind == _core.EV_ERROR:
                self._stream_error(value)
            elif kind == _core.EV_CLOSED:
                if value is not None and value is not self._last_error and _is_modeled(value):
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


class GreengrassCoreIPCClient:
    """V1 client of the Greengrass Core IPC service (IoT Core MQTT operations).

    Create it with :func:`ggipc.greengrasscoreipc.connect`. Call :meth:`close` when done.

    Args:
        connection: the connected :class:`~ggipc.eventstreamrpc.Connection`.
    """

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    @property
    def connection(self) -> Connection:
        return self._connection

    def _check_open(self) -> None:
        if self._connection._closing:
            raise rpc.ConnectionClosedError("the client was closed")

    def new_publish_to_iot_core(self) -> PublishToIoTCoreOperation:
        """Create a PublishToIoTCore operation; nothing is sent until ``activate()``.

        Raises:
            ConnectionClosedError: the client was closed.
        """
        self._check_open()
        return PublishToIoTCoreOperation(self._connection)

    def new_subscribe_to_iot_core(
        self, stream_handler: Optional[SubscribeToIoTCoreStreamHandler] = None
    ) -> SubscribeToIoTCoreOperation:
        """Create a SubscribeToIoTCore operation; nothing is sent until ``activate()``.

        Args:
            stream_handler: receives the stream's events, errors and closure.

        Raises:
            ConnectionClosedError: the client was closed.
        """
        self._check_open()
        return SubscribeToIoTCoreOperation(self._connection, stream_handler)

    def close(self, reason: Optional[Exception] = None) -> "Future[None]":
        """Close the connection (idempotent); open subscriptions are closed.

        Returns a future that completes when the connection is closed: None if the close was
        user-initiated, else the exception that closed it.
        """
        return self._connection.close(reason)

    def __enter__(self) -> "GreengrassCoreIPCClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
