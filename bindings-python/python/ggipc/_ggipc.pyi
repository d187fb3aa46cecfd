# SPDX-License-Identifier: Apache-2.0
"""Native part of ggipc (Rust). Private: use ggipc.greengrasscoreipc, ggipc.aio, ggipc.testing.

Conventions: every blocking call releases the GIL. Callbacks (``callback``, ``on_events``,
``lifecycle``) run on ggipc threads, never on the thread reading the socket: async completions on
one completion thread, subscription events on the subscription's own dispatcher thread, in order,
delivered in batches (every event already queued, in one GIL acquisition). Exceptions are built by
the factory given to ``_set_error_factory``.

Event tuples in a batch: ``(0, message)`` message received, ``(1, exc)`` stream error from the
server, ``(2, exc)`` connection lost (reconnect pending), ``(3, None)`` resumed after reconnect,
``(4, exc | None)`` closed (last event; None = closed normally), ``(5, n)`` n messages dropped
because the handler did not keep up (the queue is bounded).
A message is the event's JSON body (``str``), decoded by the generated model.

Lifecycle callback: ``lifecycle(0, None)`` connected, ``(1, exc | None)`` disconnected (last),
``(2, exc)`` connection-level error, ``(3, (headers, payload))`` ping received, ``(4, exc)``
reconnecting gave up (last).
"""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

__version__: str
#: Error kind name -> stable code.
ERROR_KINDS: Dict[str, int]

UserProps = Optional[Sequence[Tuple[str, str]]]
#: A request body: the JSON value as the generated model builds it (``dict``, written as JSON natively),
#: or JSON text (``str``, or its UTF-8 ``bytes``).
Body = Union[Dict[str, Any], str, bytes]

def _set_error_factory(
    factory: Callable[[str, int, Optional[str], Optional[str], Optional[str]], BaseException]
) -> None:
    """Set the function building exceptions: ``factory(kind, code, message, context_json, body_json)``;
    ``body_json`` is the whole JSON body of a modeled error the server sent."""

def _shutdown() -> None:
    """Called at exit: from then on no ggipc thread calls into Python."""

class Client:
    """A connection to the nucleus."""

    @staticmethod
    def connect(
        socket_path: str,
        auth_token: str,
        connect_timeout: Optional[float],
        operation_timeout: Optional[float],
        reconnect: bool,
        lifecycle: Optional[Callable[[int, Any], None]],
        max_queued_events: Optional[int] = None,
        threaded_reader: bool = True,
    ) -> "Client":
        """Connect, blocking until connected or failed. ``threaded_reader``: the connection is read
        by a thread that lets a waiting synchronous caller read its own response (fewer thread
        wake-ups per call); otherwise by a runtime task (best for asyncio)."""
    @staticmethod
    def connect_async(
        callback: Callable[[Any], None],
        socket_path: str,
        auth_token: str,
        connect_timeout: Optional[float],
        operation_timeout: Optional[float],
        reconnect: bool,
        lifecycle: Optional[Callable[[int, Any], None]],
        max_queued_events: Optional[int] = None,
        threaded_reader: bool = False,
    ) -> None:
        """Connect in the background; ``callback(client | exc)`` on the completion thread."""
    def call(self, op_name: str, body: Body) -> bytes:
        """A request/response operation (``op_name`` e.g. ``"aws.greengrass#GetConfiguration"``) with the
        request's JSON body, blocking until answered; returns the response's JSON body or raises the
        mapped error."""
    def call_async(self, callback: Callable[[Union[bytes, BaseException]], None], op_name: str, body: Body) -> None:
        """``call`` without waiting; ``callback(response_body | exc)`` on the completion thread."""
    def stream(self, op_name: str, body: Body, on_events: Callable[[List[Tuple[int, Any]]], None]) -> "Subscription":
        """A streaming operation, blocking until answered; events (JSON bodies) go to ``on_events``."""
    def stream_async(
        self,
        callback: Callable[[Any], None],
        op_name: str,
        body: Body,
        on_events: Callable[[List[Tuple[int, Any]]], None],
    ) -> None:
        """``stream`` without waiting; ``callback(subscription | exc)`` runs on the new
        subscription's dispatcher thread before its first event (on the completion thread on error)."""
    def close(self) -> None:
        """Close the connection (idempotent), blocking until closed."""
    @property
    def is_connected(self) -> bool:
        """True while a connection is up."""

class Subscription:
    """An open stream of a streaming operation."""

    def close(self) -> None:
        """Terminate the stream (idempotent); a final closed event follows."""
    @property
    def is_closed(self) -> bool: ...

class Nucleus:
    """In-process IPC server with an in-memory broker (for ggipc.testing)."""

    def __init__(
        self, socket_path: str, max_payload_bytes: int, literal_filter_authorization: bool, record: bool
    ) -> None: ...
    @property
    def socket_path(self) -> str: ...
    def register(self, component: str, access_control_json: str, svcuid: Optional[str] = None) -> str:
        """Register a component with its accessControl (JSON) and SVCUID (fresh if None); returns it."""
    def set_policy(self, component: str, access_control_json: str) -> bool:
        """Replace a registered component's accessControl (live); False if it is not registered."""
    def fail_publish(self, topic_filter: Optional[str], message: Optional[str]) -> None:
        """Make publishes matching ``topic_filter`` (all if None) fail with ``message``; None stops."""
    def fail_subscribe(self, topic_filter: Optional[str], message: Optional[str]) -> None:
        """Make new subscriptions matching ``topic_filter`` fail with ``message``; None stops."""
    def take_published(self) -> List[Tuple[Any, ...]]:
        """Publishes recorded since the last call: ``(topic, payload, qos, retain, user_properties,
        expiry, correlation_data, response_topic, payload_format, content_type)``."""
    def wait_published(self, seen: int, timeout: float) -> bool:
        """Block until more than ``seen`` publishes were recorded in total, or the timeout."""
    def subscriptions(self) -> List[str]: ...
    def wait_subscribed(self, topic_filter: Optional[str], timeout: float) -> bool: ...
    def inject(
        self,
        topic: str,
        payload: bytes,
        retain: bool,
        user_properties: UserProps,
        message_expiry_interval_seconds: Optional[int],
        correlation_data: Optional[bytes],
        response_topic: Optional[str],
        payload_format: Optional[str],
        content_type: Optional[str],
    ) -> int: ...
    def stop(self) -> None: ...
