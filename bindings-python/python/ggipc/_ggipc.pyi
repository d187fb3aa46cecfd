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
because the handler did not keep up (the queue is bounded), ``(6, why)`` a message whose body could not
be read (``why`` says what is wrong).
A message is the event's JSON value (``json.loads`` of the body), except that the blob members of the
event's shape are ``bytes``, decoded natively; the generated model builds the event from it.

Lifecycle callback: ``lifecycle(0, None)`` connected, ``(1, exc | None)`` disconnected (last),
``(2, exc)`` connection-level error, ``(3, (headers, payload))`` ping received, ``(4, exc)``
reconnecting gave up (last).
"""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

__version__: str
#: Error kind name -> stable code.
ERROR_KINDS: Dict[str, int]

UserProps = Optional[Sequence[Tuple[str, str]]]
#: A request body: the JSON value as the generated model builds it (``dict``, written as JSON natively,
#: ``Blob`` values as base64 strings),
#: or JSON text (``str``, or its UTF-8 ``bytes``).
Body = Union[Dict[str, Any], str, bytes]

def _set_error_factory(
    factory: Callable[[str, int, Optional[str], Optional[str], Optional[str]], BaseException]
) -> None:
    """Set the function building exceptions: ``factory(kind, code, message, context_json, body_json)``;
    ``body_json`` is the whole JSON body of a modeled error the server sent."""

def _shutdown() -> None:
    """Called at exit: from then on no ggipc thread calls into Python."""

def component_socket_path() -> Optional[str]:
    """The IPC socket path the nucleus gives a component, as the core reads it (``None`` when
    ``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`` is unset or empty)."""

def component_auth_token() -> Optional[str]:
    """The component's auth token, as the core reads it (``None`` when ``SVCUID`` is unset or empty)."""

class Blob:
    """A blob member in a request's JSON value: the bytes of ``value`` (``str`` encoded as UTF-8, any
    bytes-like object copied), written as base64 by the native JSON writer. Anything else raises
    ``TypeError("a bytes-like object is required, not '<type>'")``."""

    def __init__(self, value: Any) -> None: ...
    @property
    def data(self) -> bytes: ...

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
    """In-process nucleus with a recording in-memory broker (ggipc::testing::TestNucleus, for
    ggipc.testing). Published tuples: ``(topic, payload, qos, retain, user_properties, expiry,
    correlation_data, response_topic, payload_format, content_type, component)``."""

    def __init__(
        self,
        component: str,
        access_control_json: str,
        socket_path: Optional[str] = None,
        svcuid: Optional[str] = None,
        max_payload_bytes: int = 131072,
        literal_filter_authorization: bool = False,
        record: bool = True,
        spool_max_bytes: Optional[int] = None,
        keep_qos0_when_offline: bool = False,
        offline_subscribe_timeout: Optional[float] = None,
        configuration_json: Optional[str] = None,
    ) -> None: ...
    @property
    def socket_path(self) -> str: ...
    def token_of(self, component: str) -> str:
        """A registered component's SVCUID (KeyError naming the registered ones if unknown)."""
    def register(self, component: str, access_control_json: str, svcuid: Optional[str] = None) -> str:
        """Register a component with its accessControl (JSON) and SVCUID (fresh if None); returns it."""
    def set_policy(self, component: str, access_control_json: str) -> None:
        """Replace a registered component's accessControl (live); KeyError if it is not registered."""
    def fail_publish(self, topic_filter: Optional[str], message: Optional[str]) -> None:
        """Make publishes matching ``topic_filter`` (all if None) fail with ``message``; None stops."""
    def fail_subscribe(self, topic_filter: Optional[str], message: Optional[str]) -> None:
        """Make new subscriptions matching ``topic_filter`` fail with ``message``; None stops."""
    def published(self) -> List[Tuple[Any, ...]]: ...
    def published_count(self) -> int: ...
    def clear_published(self) -> None: ...
    def wait_for_publishes(self, topic_filter: Optional[str], count: int, timeout: float) -> List[Tuple[Any, ...]]:
        """Block until ``count`` publishes match ``topic_filter``; TimeoutError saying what was seen."""
    def subscriptions(self) -> List[str]: ...
    def wait_for_subscription(self, topic_filter: Optional[str], timeout: float) -> None: ...
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
    def set_connected(self, connected: bool) -> None: ...
    def is_connected(self) -> bool: ...
    def spooled(self) -> List[Tuple[Any, ...]]: ...
    def publish_local(self, publisher: str, topic: str, payload: bytes, is_json: bool) -> int: ...
    def local_subscriptions(self) -> int: ...
    def wait_for_local_subscription(self, topic_filter: Optional[str], timeout: float) -> None: ...
    def set_configuration(self, component: str, configuration_json: str) -> None: ...
    def update_configuration(self, component: str, key_path: List[str], value_json: str) -> None: ...
    def configuration(self, component: str) -> Optional[str]: ...
    def reported_state(self, component: str) -> Optional[str]: ...
    def validate_configuration(
        self, component: str, deployment_id: str, configuration_json: str, timeout: float
    ) -> Optional[Tuple[Optional[str], Optional[str]]]: ...
    def pre_component_update(
        self, deployment_id: str, is_ggc_restarting: bool, timeout: float
    ) -> List[Tuple[str, Optional[str], Optional[int]]]: ...
    def post_component_update(self, deployment_id: str) -> None: ...
    def stop(self) -> None: ...
    def restart(self) -> None: ...
