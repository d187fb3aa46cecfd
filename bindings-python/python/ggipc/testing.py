# SPDX-License-Identifier: Apache-2.0
"""An in-process Greengrass nucleus for testing components: no device, broker or network.

It serves the real IPC protocol on a private Unix socket (the same server the ``ggipc`` nucleus
runs), registers your component with an access-control policy, points the environment
(``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT``, ``SVCUID``) at itself, records every
message your code publishes, and injects messages "from AWS IoT Core" into its subscriptions.
Any client works against it: ggipc's or the official ``awsiotsdk``.

As a context manager::

    from ggipc.testing import LocalNucleus, allow

    def test_my_component():
        with LocalNucleus(component="com.example.Hello", policy=allow(publish=["hello/#"])) as nucleus:
            my_component.main()                       # uses greengrasscoreipc.connect() as usual
            msg = nucleus.wait_for_publish("hello/world")
            assert msg.payload == b"Hello, World"

As a pytest fixture (registered automatically through the ``pytest11`` entry point)::

    def test_my_component(ggipc_nucleus):
        ggipc_nucleus.inject("commands/reboot", b"{}")

The fixture's component name and policy come from the ``ggipc_component`` and
``ggipc_policy`` fixtures, which a test module may override.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from . import _core, _ggipc

__all__ = ["LocalNucleus", "Published", "allow", "ALLOW_ALL"]

MQTTPROXY = "aws.greengrass.ipc.mqttproxy"
PUBLISH = "aws.greengrass#PublishToIoTCore"
SUBSCRIBE = "aws.greengrass#SubscribeToIoTCore"


def allow(publish: Iterable[str] = ("*",), subscribe: Iterable[str] = ("*",)) -> Dict[str, Any]:
    """An ``accessControl`` policy allowing PublishToIoTCore on ``publish`` topics and
    SubscribeToIoTCore on ``subscribe`` filters (MQTT wildcards and ``*`` allowed, as in a recipe).
    Pass an empty list to allow nothing for that operation."""
    policies: Dict[str, Any] = {}
    pub = list(publish)
    sub = list(subscribe)
    if pub:
        policies["ggipc.testing:pub"] = {"operations": [PUBLISH], "resources": pub}
    if sub:
        policies["ggipc.testing:sub"] = {"operations": [SUBSCRIBE], "resources": sub}
    return {MQTTPROXY: policies}


#: Everything allowed (the default policy).
ALLOW_ALL = allow()


@dataclass
class Published:
    """A message the code under test published to "AWS IoT Core"."""

    topic: str
    payload: bytes
    qos: str
    retain: bool = False
    user_properties: List[Tuple[str, str]] = field(default_factory=list)
    message_expiry_interval_seconds: Optional[int] = None
    correlation_data: Optional[bytes] = None
    response_topic: Optional[str] = None
    payload_format: Optional[str] = None
    content_type: Optional[str] = None
    #: The component that published it.
    component: Optional[str] = None

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8."""
        return self.payload.decode("utf-8")


def _published(t: Tuple[Any, ...]) -> Published:
    topic, payload, qos, retain, props, expiry, corr, resp, fmt, ctype, component = t
    return Published(topic, payload, qos, bool(retain), list(props or []), expiry, corr, resp, fmt, ctype, component)


def _access_control(policy: Union[None, Mapping[str, Any]]) -> Dict[str, Any]:
    if policy is None:
        return dict(ALLOW_ALL)
    pol = dict(policy)
    # accept a whole recipe configuration ({"accessControl": {...}}) too
    if set(pol) == {"accessControl"}:
        pol = dict(pol["accessControl"])
    return pol


class LocalNucleus:
    """In-process nucleus on a temporary Unix socket (``ggipc::testing::TestNucleus`` of the core, the
    same one the C, C++ and Java harnesses wrap).

    Args:
        component: name of the component under test (registered on start).
        policy: its ``accessControl`` (a dict as in a recipe, e.g. from :func:`allow`);
            None allows every IoT Core topic.
        set_env: on ``start()``/``__enter__`` set ``AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT``
            and ``SVCUID`` for ``component`` (restored on ``stop()``/``__exit__``).
        max_payload_bytes: the largest accepted publish payload (IoT Core's 128 KiB by default).
        literal_filter_authorization: authorize subscribe filters literally, like the Java nucleus
            (a policy ``a/+`` then also allows the filter ``a/#``); default is strict.
        record: record publishes for :attr:`published` (turn off for long soak runs).
        socket_path: where to create the socket (default: a new temporary directory).
        svcuid: the component's auth token (default: a fresh one). With ``socket_path`` this lets a
            test restart the nucleus under clients that reconnect (or use :meth:`restart`).
        configuration: the component's configuration (what GetConfiguration reads; default ``{}``).
        spool_max_bytes: bytes held for QoS 1 publishes during a :meth:`broker_outage` (the nucleus'
            2.5 MiB by default).
        keep_qos0_when_offline: spool QoS 0 publishes during an outage instead of refusing them.
        offline_subscribe_timeout: seconds a subscription made during an outage waits for the
            connection before failing (the nucleus' 30 s by default).
    """

    def __init__(
        self,
        component: str = "com.example.ComponentUnderTest",
        policy: Optional[Mapping[str, Any]] = None,
        *,
        set_env: bool = True,
        max_payload_bytes: int = 131072,
        literal_filter_authorization: bool = False,
        record: bool = True,
        socket_path: Optional[str] = None,
        svcuid: Optional[str] = None,
        configuration: Optional[Mapping[str, Any]] = None,
        spool_max_bytes: Optional[int] = None,
        keep_qos0_when_offline: bool = False,
        offline_subscribe_timeout: Optional[float] = None,
    ) -> None:
        self.component = component
        self._policy = _access_control(policy)
        self._set_env = set_env
        self._max_payload = int(max_payload_bytes)
        self._literal = bool(literal_filter_authorization)
        self._record = bool(record)
        self._socket_path = socket_path
        self._svcuid = svcuid
        self._configuration = None if configuration is None else json.dumps(dict(configuration))
        self._spool_max_bytes = spool_max_bytes
        self._keep_qos0 = bool(keep_qos0_when_offline)
        self._offline_subscribe_timeout = offline_subscribe_timeout
        self._native: Optional[_ggipc.Nucleus] = None
        self._saved_env: Dict[str, Optional[str]] = {}
        #: SVCUID of each registered component (kept by the core; mirrored here for tests that read it).
        self._tokens: Dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> "LocalNucleus":
        """Start serving; registers ``component`` and sets the environment (if ``set_env``)."""
        if self._native is not None:
            raise RuntimeError("already started")
        self._native = _ggipc.Nucleus(
            self.component,
            json.dumps(self._policy),
            socket_path=self._socket_path,
            svcuid=self._svcuid,
            max_payload_bytes=self._max_payload,
            literal_filter_authorization=self._literal,
            record=self._record,
            spool_max_bytes=self._spool_max_bytes,
            keep_qos0_when_offline=self._keep_qos0,
            offline_subscribe_timeout=self._offline_subscribe_timeout,
            configuration_json=self._configuration,
        )
        self._tokens = {self.component: self._native.token_of(self.component)}
        if self._set_env:
            for key, value in self.env().items():
                self._saved_env[key] = os.environ.get(key)
                os.environ[key] = value
        return self

    def stop(self) -> None:
        """Stop serving (open client streams are terminated), restore the environment."""
        for key, old in self._saved_env.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
        self._saved_env.clear()
        if self._native is not None:
            native, self._native = self._native, None
            native.stop()

    def restart(self) -> None:
        """Restart the nucleus under its clients: every stream is terminated and every connection
        closed, then it serves again on the same socket with the same components, tokens, policies and
        configurations. Clients connected with ``reconnect`` come back by themselves."""
        self._n.restart()

    def __enter__(self) -> "LocalNucleus":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def _n(self) -> "_ggipc.Nucleus":
        if self._native is None:
            raise RuntimeError("LocalNucleus is not started")
        return self._native

    # -- components ----------------------------------------------------------------------

    @property
    def socket_path(self) -> str:
        """Path of the IPC socket."""
        return self._n.socket_path

    @property
    def svcuid(self) -> str:
        """Auth token of ``component``."""
        return self._n.token_of(self.component)

    def add_component(
        self, name: str, policy: Optional[Mapping[str, Any]] = None, *, svcuid: Optional[str] = None
    ) -> str:
        """Register another component with its policy (everything allowed if None); returns its
        auth token (SVCUID), ``svcuid`` if given."""
        token = self._n.register(name, json.dumps(_access_control(policy)), svcuid)
        self._tokens[name] = token
        return token

    def set_policy(self, component: str, policy: Optional[Mapping[str, Any]]) -> None:
        """Replace a component's policy; the next request is authorized against it (as when a
        deployment changes ``accessControl``).

        Raises:
            KeyError: the component is not registered.
        """
        self._n.set_policy(component, json.dumps(_access_control(policy)))

    def fail_publishes(self, message: Optional[str] = "simulated broker failure", *, topic_filter: Optional[str] = None) -> None:
        """Make publishes fail as when the nucleus cannot hand them to AWS IoT Core: the client gets
        ``ServiceError("Publish to topic <topic> failed: <message>")``. ``topic_filter`` limits it to
        matching topics; ``message=None`` ends the failure."""
        self._n.fail_publish(topic_filter, message)

    def fail_subscriptions(
        self, message: Optional[str] = "simulated broker failure", *, topic_filter: Optional[str] = None
    ) -> None:
        """Make new subscriptions fail (ServiceError with ``message``), for filters matched by
        ``topic_filter`` (all if None); ``message=None`` ends the failure."""
        self._n.fail_subscribe(topic_filter, message)

    def env(self, component: Optional[str] = None) -> Dict[str, str]:
        """Environment variables a process of ``component`` needs (for subprocesses).

        Raises:
            KeyError: the component is not registered (the message names the ones that are).
        """
        name = component or self.component
        return {_core.SOCKET_ENV: self.socket_path, _core.TOKEN_ENV: self._n.token_of(name)}

    # -- broker outage -------------------------------------------------------------------

    def set_connected(self, connected: bool) -> None:
        """Simulate the connection to AWS IoT Core going down (False) or coming back (True), as the
        nucleus' MQTT bridge sees it. While it is down: SubscribeToIoTCoreConnectionStatus streams see
        ``DISCONNECTED``; QoS 0 publishes fail with ``ServiceError("... Device is offline. Dropping QoS 0
        message.")`` (unless ``keep_qos0_when_offline``); QoS 1 publishes are answered once spooled
        (``spool_max_bytes``; beyond it ``Message spool is full``) and are published, in order, when the
        connection is back; new subscriptions wait for it (``offline_subscribe_timeout``); injected
        messages reach nobody."""
        self._n.set_connected(bool(connected))

    @property
    def connected(self) -> bool:
        """Whether the simulated connection to AWS IoT Core is up."""
        return self._n.is_connected()

    @contextlib.contextmanager
    def broker_outage(self) -> Iterator["LocalNucleus"]:
        """``with nucleus.broker_outage(): ...`` — the connection is down inside the block (see
        :meth:`set_connected`) and back after it."""
        self.set_connected(False)
        try:
            yield self
        finally:
            if self._native is not None:
                self.set_connected(True)

    @property
    def spooled(self) -> List[Published]:
        """Publishes held in the spool during an outage, oldest first."""
        return [_published(t) for t in self._n.spooled()]

    # -- what the code under test published ----------------------------------------------

    @property
    def published(self) -> List[Published]:
        """Every message published so far (spooled ones once sent), in order."""
        return [_published(t) for t in self._n.published()]

    def published_to(self, topic: str) -> List[Published]:
        """Messages published so far to exactly ``topic``."""
        return [p for p in self.published if p.topic == topic]

    def clear(self) -> None:
        """Forget the recorded messages."""
        self._n.clear_published()

    def wait_for_publish(self, topic: Optional[str] = None, *, count: int = 1, timeout: float = 5.0) -> Published:
        """Wait until ``count`` messages to ``topic`` (a topic or an MQTT filter; any if None) were
        published; return the last.

        Raises:
            TimeoutError: not enough messages within ``timeout`` seconds; the message says what was
                published instead, and whether the policy allows the topic at all.
        """
        msgs = self.wait_for_publishes(topic, count=count, timeout=timeout)
        return msgs[-1]

    def wait_for_publishes(self, topic: Optional[str] = None, *, count: int = 1, timeout: float = 5.0) -> List[Published]:
        """Like :meth:`wait_for_publish` but returns all matching messages."""
        return [_published(t) for t in self._n.wait_for_publishes(topic, int(count), float(timeout))]

    # -- messages from "AWS IoT Core" ----------------------------------------------------

    def subscriptions(self) -> List[str]:
        """Topic filters the components are subscribed to right now (one entry per subscription)."""
        return list(self._n.subscriptions())

    def wait_for_subscription(self, topic_filter: Optional[str] = None, *, timeout: float = 5.0) -> None:
        """Wait until a subscription to ``topic_filter`` (any, if None) exists.

        Raises:
            TimeoutError: none within ``timeout`` seconds (the message lists the subscriptions there are).
        """
        self._n.wait_for_subscription(topic_filter, float(timeout))

    def inject(
        self,
        topic: str,
        payload: Union[bytes, str] = b"",
        *,
        retain: bool = False,
        user_properties: Optional[Sequence[Tuple[str, str]]] = None,
        message_expiry_interval_seconds: Optional[int] = None,
        correlation_data: Optional[bytes] = None,
        response_topic: Optional[str] = None,
        payload_format: Optional[str] = None,
        content_type: Optional[str] = None,
    ) -> int:
        """Deliver a message "from AWS IoT Core" to every matching subscription.

        Returns the number of subscriptions it was delivered to (0 during an outage).
        """
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        return int(
            self._n.inject(
                topic,
                payload,
                retain,
                list(user_properties) if user_properties is not None else None,
                message_expiry_interval_seconds,
                correlation_data,
                response_topic,
                payload_format,
                content_type,
            )
        )

    # -- local publish/subscribe ---------------------------------------------------------

    def publish_local(self, topic: str, message: Union[bytes, str, Mapping[str, Any]], *, publisher: str = "ggipc.testing") -> int:
        """Publish a local (PublishToTopic) message on ``topic`` as ``publisher``: a dict is sent as a
        JSON message, bytes/str as a binary message. Returns how many subscriptions took it."""
        if isinstance(message, Mapping):
            return int(self._n.publish_local(publisher, topic, json.dumps(dict(message)).encode(), True))
        if isinstance(message, str):
            message = message.encode("utf-8")
        return int(self._n.publish_local(publisher, topic, bytes(message), False))

    @property
    def local_subscriptions(self) -> int:
        """Open local (SubscribeToTopic) subscriptions."""
        return int(self._n.local_subscriptions())

    def wait_for_local_subscription(self, topic_filter: Optional[str] = None, *, timeout: float = 5.0) -> None:
        """Wait until a local (SubscribeToTopic) subscription to ``topic_filter`` (any, if None) exists.

        Raises:
            TimeoutError: none within ``timeout`` seconds (the message lists the ones there are).
        """
        self._n.wait_for_local_subscription(topic_filter, float(timeout))

    # -- configuration and deployments ---------------------------------------------------

    def set_configuration(self, configuration: Mapping[str, Any], *, component: Optional[str] = None) -> None:
        """Replace a component's configuration (what GetConfiguration reads); no events are sent."""
        self._n.set_configuration(component or self.component, json.dumps(dict(configuration)))

    def update_configuration(
        self, value: Mapping[str, Any], *, key_path: Sequence[str] = (), component: Optional[str] = None
    ) -> None:
        """Merge ``value`` at ``key_path`` as UpdateConfiguration does and send the component's
        SubscribeToConfigurationUpdate streams their events."""
        self._n.update_configuration(component or self.component, list(key_path), json.dumps(dict(value)))

    def configuration(self, component: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """A component's configuration (None if it has none)."""
        text = self._n.configuration(component or self.component)
        return None if text is None else json.loads(text)

    def reported_state(self, component: Optional[str] = None) -> Optional[str]:
        """The state (``"RUNNING"``/``"ERRORED"``) the component last reported with UpdateState."""
        return self._n.reported_state(component or self.component)

    def validate_configuration(
        self,
        configuration: Mapping[str, Any],
        *,
        deployment_id: str = "ggipc-testing-deployment",
        component: Optional[str] = None,
        timeout: float = 5.0,
    ) -> Optional[Tuple[Optional[str], Optional[str]]]:
        """Ask the component's SubscribeToValidateConfigurationUpdates streams about ``configuration``;
        returns its report ``(status, message)`` (status ``"ACCEPTED"``/``"REJECTED"``), or None when
        it has no such subscription.

        Raises:
            TimeoutError: it did not answer within ``timeout`` seconds.
        """
        return self._n.validate_configuration(
            component or self.component, deployment_id, json.dumps(dict(configuration)), float(timeout)
        )

    def pre_component_update(
        self, *, deployment_id: str = "ggipc-testing-deployment", is_ggc_restarting: bool = False, timeout: float = 1.0
    ) -> List[Tuple[str, Optional[str], Optional[int]]]:
        """Send the pre-update event to SubscribeToComponentUpdates streams and return the deferrals
        ``(component, message, recheck_after_ms)`` that arrived within ``timeout`` seconds."""
        return list(self._n.pre_component_update(deployment_id, bool(is_ggc_restarting), float(timeout)))

    def post_component_update(self, *, deployment_id: str = "ggipc-testing-deployment") -> None:
        """Send the post-update event to SubscribeToComponentUpdates streams."""
        self._n.post_component_update(deployment_id)


def _serve(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m ggipc.testing``: serve a LocalNucleus until stdin closes or SIGTERM/SIGINT.

    Prints one JSON line ``{"socket": ..., "svcuid": ..., "component": ...}`` once it is ready.
    Then reads commands from stdin, one per line, answering each with one line:

    * ``inject TOPIC COUNT SIZE`` — inject COUNT messages of SIZE bytes on TOPIC; answers
      ``injected N`` (N = deliveries).
    * ``add COMPONENT`` — register another component (allow-all); answers its SVCUID.
    """
    import argparse
    import json
    import signal
    import sys
    import threading

    ap = argparse.ArgumentParser(prog="python -m ggipc.testing", description=_serve.__doc__)
    ap.add_argument("--component", default="com.example.ComponentUnderTest")
    ap.add_argument("--policy", help="accessControl as JSON (default: allow every IoT Core topic)")
    ap.add_argument("--no-record", action="store_true", help="do not record publishes")
    args = ap.parse_args(argv)
    policy = json.loads(args.policy) if args.policy else None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    with LocalNucleus(component=args.component, policy=policy, set_env=False, record=not args.no_record) as n:

        def commands() -> None:
            try:
                for line in sys.stdin:
                    parts = line.split()
                    if not parts:
                        continue
                    if parts[0] == "inject" and len(parts) == 4:
                        topic, count, size = parts[1], int(parts[2]), int(parts[3])
                        payload = b"x" * size
                        total = sum(n.inject(topic, payload) for _ in range(count))
                        print("injected %d" % total, flush=True)
                    elif parts[0] == "add" and len(parts) == 2:
                        print(n.add_component(parts[1]), flush=True)
                    else:
                        print("error unknown command", flush=True)
            finally:
                stop.set()

        print(json.dumps({"socket": n.socket_path, "svcuid": n.svcuid, "component": n.component}), flush=True)
        threading.Thread(target=commands, daemon=True).start()
        while not stop.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(_serve())
