# SPDX-License-Identifier: Apache-2.0
"""Event-stream RPC layer: connection lifecycle handler, base classes and the errors it raises.

Mirrors ``awsiot.eventstreamrpc``: the same class names, with the same meaning, so code written
against the official SDK catches the same exceptions here. Every error ggipc raises is also a
:class:`GgipcError`, which carries the server's message and a stable error ``code`` and ``kind``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

__all__ = [
    "GgipcError",
    "ConnectionClosedError",
    "ConnectFailedError",
    "StreamClosedError",
    "EventStreamError",
    "EventStreamOperationError",
    "AccessDeniedError",
    "UnmappedDataError",
    "SerializeError",
    "DeserializeError",
    "OperationTimeoutError",
    "InvalidArgumentError",
    "InternalError",
    "LifecycleHandler",
    "StreamResponseHandler",
    "Header",
    "Shape",
    "ErrorShape",
]


class GgipcError(Exception):
    """Base of every error raised by ggipc.

    Attributes:
        kind: the error kind's name, e.g. ``"ConnectionClosed"`` or ``"UnauthorizedError"``.
        code: the error kind's stable number (never reused).
        message: the message, as sent by the server for modeled errors.
    """

    kind: str = "Internal"
    code: int = 0
    message: Optional[str] = None

    def __str__(self) -> str:
        msg = getattr(self, "message", None)
        if msg:
            return str(msg)
        return super().__str__()


class _TransportError(GgipcError):
    """Client-side/transport error with a message (not a modeled shape)."""

    def __init__(self, message: Optional[str] = None, *args: Any) -> None:
        if message is None:
            super().__init__(*args)
        else:
            super().__init__(message, *args)
        self.message = message


class ConnectionClosedError(_TransportError, RuntimeError):
    """The connection is closed (by the peer, by ``close()``, or because it was lost)."""

    kind = "ConnectionClosed"


class ConnectFailedError(_TransportError, ConnectionError):
    """The socket could not be connected (missing socket, refused, connect timeout)."""

    kind = "ConnectFailed"


class StreamClosedError(_TransportError, RuntimeError):
    """The operation's stream is closed."""

    kind = "StreamClosed"


class EventStreamError(_TransportError, RuntimeError):
    """Connection-level protocol error (malformed frame, protocol violation)."""

    kind = "Protocol"


class EventStreamOperationError(RuntimeError, GgipcError):
    """Base of every error that came across the wire on an operation's stream."""


class AccessDeniedError(EventStreamOperationError):
    """The server refused the connection (unknown or missing auth token)."""

    kind = "AccessDenied"

    def __init__(self, message: Optional[str] = None, *args: Any) -> None:
        super().__init__("aws#AccessDenied", *((message,) if message is not None else ()), *args)
        self.message = message


class UnmappedDataError(_TransportError, RuntimeError):
    """The server sent something that maps to no known shape (e.g. an unmodeled failure)."""

    kind = "Unmapped"


class SerializeError(_TransportError, RuntimeError):
    """A request could not be serialized."""

    kind = "InvalidArgument"


class InvalidArgumentError(SerializeError, ValueError):
    """A request argument is invalid; detected before anything was sent."""

    kind = "InvalidArgument"


class DeserializeError(_TransportError, RuntimeError):
    """Received data could not be deserialized."""

    kind = "InvalidFrame"


class OperationTimeoutError(_TransportError, TimeoutError):
    """An operation (or the connect) did not complete within its timeout."""

    kind = "Timeout"


class InternalError(_TransportError, RuntimeError):
    """An internal error in ggipc itself."""

    kind = "Internal"


class Header:
    """An event-stream header, as passed to :meth:`LifecycleHandler.on_ping`."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value

    def __repr__(self) -> str:
        return "Header(%r, %r)" % (self.name, self.value)


class LifecycleHandler:
    """Base class for connection events; override the methods you need.

    Callbacks run on a ggipc thread, one at a time. ``on_connect`` is invoked first once the
    connection is established; ``on_disconnect`` is invoked last. If the connect attempt fails,
    no callback is invoked (the error is raised by ``connect()``).
    """

    def on_connect(self) -> None:
        """Invoked when the connection has been fully established."""

    def on_disconnect(self, reason: Optional[Exception]) -> None:
        """Invoked when an open connection has disconnected.

        Args:
            reason: ``None`` if the user closed the connection, otherwise the exception saying why.
        """

    def on_error(self, error: Exception) -> bool:
        """Invoked when a connection-level error occurs.

        Returns:
            True (or None) to close the connection, False to keep it.
        """
        return True

    def on_ping(self, headers: Sequence[Header], payload: bytes) -> None:
        """Invoked when a ping is received."""


class StreamResponseHandler:
    """Base class for operation stream handlers (operations with a stream of events)."""

    def on_stream_event(self, event: Any) -> None:
        """Invoked for each stream event, in order."""

    def on_stream_error(self, error: Exception) -> bool:
        """Invoked when an error occurs on the stream.

        Returns:
            True (or None) to close the stream, False to keep it open.
        """
        return True

    def on_stream_closed(self) -> None:
        """Invoked once, when the stream has closed."""


class Shape:
    """Base class of the model shapes: keyword constructor, ``repr`` and equality by attributes."""

    _MODEL_NAME = ""

    @classmethod
    def _model_name(cls) -> str:
        return cls._MODEL_NAME

    def __repr__(self) -> str:
        attrs = ["%s=%r" % (k, v) for k, v in self.__dict__.items() if v is not None]
        return "%s(%s)" % (type(self).__name__, ", ".join(attrs))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, type(self)):
            return self.__dict__ == other.__dict__
        return False

    __hash__ = None  # type: ignore[assignment]

    def _to_payload(self, b64: Any = None) -> Dict[str, Any]:
        """The shape as a JSON-ready dict (wire member names, absent members omitted, blobs as base64 text, or
        as what ``b64`` makes of them); generated."""
        return {}

    @classmethod
    def _from_payload(cls, payload: Dict[str, Any]) -> Any:
        """The shape from a decoded JSON dict (unknown members ignored); generated."""
        return cls()


class ErrorShape(Shape, EventStreamOperationError):
    """Base class of modeled error shapes."""

    __hash__ = Exception.__hash__  # type: ignore[assignment]

    def __repr__(self) -> str:
        return Shape.__repr__(self)

    def __str__(self) -> str:
        return GgipcError.__str__(self)


def __getattr__(name: str) -> Any:
    # Connection lives in a module that needs the native extension; load it on first use.
    if name == "Connection":
        from ._connection import Connection

        return Connection
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
