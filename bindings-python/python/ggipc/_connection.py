# SPDX-License-Identifier: Apache-2.0
"""The connection object shared by the V1, V2 and asyncio clients (private)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any, Optional

from . import _core, _ggipc
from . import eventstreamrpc as rpc


def new_future() -> "Future[Any]":
    fut: "Future[Any]" = Future()
    fut.set_running_or_notify_cancel()  # like the official SDK: these futures cannot be cancelled
    return fut


class _LifecycleAdapter:
    """Turns native lifecycle events into LifecycleHandler calls (runs on a ggipc thread)."""

    def __init__(self, conn: "Connection", handler: rpc.LifecycleHandler) -> None:
        self._conn = conn
        self._handler = handler

    def __call__(self, kind: int, value: Any) -> None:
        h = self._handler
        if kind == _core.LC_CONNECTED:
            _core.call_handler(h.on_connect)
        elif kind == _core.LC_DISCONNECTED or kind == _core.LC_GAVE_UP:
            if self._conn._closing:
                value = None  # a close the user asked for is reported without an error, as in the SDK
            if kind == _core.LC_GAVE_UP or not self._conn.reconnect or self._conn._closing:
                self._conn._on_disconnected(value)
            _core.call_handler(h.on_disconnect, value)
        elif kind == _core.LC_ERROR:
            close = _core.call_handler(h.on_error, value)
            if close or close is None:
                self._conn.close(value)
        elif kind == _core.LC_PING:
            headers, payload = value
            _core.call_handler(h.on_ping, [rpc.Header(n, v) for n, v in headers], payload)


class Connection:
    """A client connection to the Greengrass IPC server (the nucleus).

    Args:
        ipc_socket: path of the nucleus' Unix socket; defaults to the environment variable
            ``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT``.
        authtoken: the component's auth token; defaults to the environment variable ``SVCUID``.
        operation_timeout: seconds each operation may take before it fails with
            :class:`~ggipc.eventstreamrpc.OperationTimeoutError` (None: ggipc's default).
        reconnect: reconnect (and re-subscribe) automatically when the connection is lost.
        max_queued_events: messages queued per subscription for a slow handler (ggipc's default if
            None); beyond it messages are dropped and the handler is told (``on_stream_lagged``).
    """

    def __init__(
        self,
        *,
        ipc_socket: Optional[str] = None,
        authtoken: Optional[str] = None,
        operation_timeout: Optional[float] = None,
        reconnect: bool = False,
        max_queued_events: Optional[int] = None,
    ) -> None:
        self.ipc_socket = _core.resolve_socket(ipc_socket)
        self._authtoken = _core.resolve_token(authtoken)
        self.operation_timeout = operation_timeout
        self.reconnect = reconnect
        self.max_queued_events = max_queued_events
        self._native: Optional[_ggipc.Client] = None
        self._lock = threading.Lock()
        self._closed_future: "Future[None]" = new_future()
        self._close_reason: Optional[BaseException] = None
        self._closing = False

    # -- connect -------------------------------------------------------------------------

    def _lifecycle(self, handler: Optional[rpc.LifecycleHandler]) -> Any:
        if handler is None or type(handler) is rpc.LifecycleHandler:
            return _LifecycleAdapter(self, rpc.LifecycleHandler())
        return _LifecycleAdapter(self, handler)

    def connect_sync(self, lifecycle_handler: Optional[rpc.LifecycleHandler] = None, timeout: Optional[float] = None) -> None:
        """Connect, blocking (with the GIL released) for at most ``timeout`` seconds (None: ggipc's default)."""
        native = _ggipc.Client.connect(
            self.ipc_socket,
            self._authtoken,
            None if timeout is None else float(timeout),
            self.operation_timeout,
            self.reconnect,
            self._lifecycle(lifecycle_handler),
            self.max_queued_events,
        )
        with self._lock:
            self._native = native

    def connect(self, lifecycle_handler: Optional[rpc.LifecycleHandler] = None, timeout: Optional[float] = None) -> "Future[None]":
        """Start connecting; the returned future completes when the connection is established."""
        fut = new_future()

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                fut.set_exception(result)
            else:
                with self._lock:
                    self._native = result
                fut.set_result(None)

        _ggipc.Client.connect_async(
            done,
            self.ipc_socket,
            self._authtoken,
            None if timeout is None else float(timeout),
            self.operation_timeout,
            self.reconnect,
            self._lifecycle(lifecycle_handler),
            self.max_queued_events,
            True,  # read by core's reader thread: synchronous calls read their own responses
        )
        return fut

    # -- use -----------------------------------------------------------------------------

    @property
    def native(self) -> "_ggipc.Client":
        n = self._native
        if n is None:
            raise rpc.ConnectionClosedError("not connected")
        return n

    def close(self, reason: Optional[BaseException] = None) -> "Future[None]":
        """Close the connection (idempotent). The future completes once it is closed.

        Its result is None after a user-initiated close, or the exception that closed it.
        """
        with self._lock:
            native = self._native
            first = not self._closing
            self._closing = True
            if first:
                self._close_reason = reason
        if native is None:
            if not self._closed_future.done():
                self._settle_closed(reason)
            return self._closed_future
        if first:
            native.close()
            # the native close has completed: settle now in case the lifecycle callback is late
            self._settle_closed(reason)
        return self._closed_future

    def _settle_closed(self, reason: Optional[BaseException]) -> None:
        if self._closed_future.done():
            return
        try:
            if reason is None:
                self._closed_future.set_result(None)
            else:
                self._closed_future.set_exception(reason)
        except Exception:  # settled concurrently
            pass

    def _on_disconnected(self, reason: Optional[BaseException]) -> None:
        self._settle_closed(self._close_reason if self._closing else reason)

    @property
    def is_connected(self) -> bool:
        n = self._native
        return n is not None and bool(n.is_connected)

    def __repr__(self) -> str:
        return "<%s at %#x %s>" % (type(self).__name__, id(self), self.ipc_socket)
