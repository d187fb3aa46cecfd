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

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

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

    @property
    def text(self) -> str:
        """The payload decoded as UTF-8."""
        return self.payload.decode("utf-8")


def _published(t: Tuple[Any, ...]) -> Published:
    topic, payload, qos, retain, props, expiry, corr, resp, fmt, ctype = t
    return Published(topic, payload, qos, bool(retain), list(props or []), expiry, corr, resp, fmt, ctype)


def _access_control(policy: Union[None, Mapping[str, Any]]) -> Dict[str, Any]:
    if policy is None:
        return dict(ALLOW_ALL)
    pol = dict(policy)
    # accept a whole recipe configuration ({"accessControl": {...}}) too
    if set(pol) == {"accessControl"}:
        pol = dict(pol["accessControl"])
    return pol


class LocalNucleus:
    """In-process nucleus on a temporary Unix socket.

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
            test restart the nucleus under clients that reconnect.
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
    ) -> None:
        self.component = component
        self._policy = _access_control(policy)
        self._set_env = set_env
        self._max_payload = int(max_payload_bytes)
        self._literal = bool(literal_filter_authorization)
        self._record = bool(record)
        self._socket_path = socket_path
        self._svcuid = svcuid
        self._dir: Optional[str] = None
        self._native: Optional[_ggipc.Nucleus] = None
        self._saved_env: Dict[str, Optional[str]] = {}
        self._tokens: Dict[str, str] = {}
        self._published: List[Published] = []

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> "LocalNucleus":
        """Start serving; registers ``component`` and sets the environment (if ``set_env``)."""
        if self._native is not None:
            raise RuntimeError("already started")
        if self._socket_path is None:
            self._dir = tempfile.mkdtemp(prefix="ggipc-test-")
            socket_path = os.path.join(self._dir, "ipc.socket")
        else:
            socket_path = self._socket_path
        self._native = _ggipc.Nucleus(socket_path, self._max_payload, self._literal, self._record)
        self.add_component(self.component, self._policy, svcuid=self._svcuid)
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
            self._native.stop()
            self._native = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

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
        return self._tokens[self.component]

    def add_component(
        self, name: str, policy: Optional[Mapping[str, Any]] = None, *, svcuid: Optional[str] = None
    ) -> str:
        """Register another component with its policy (everything allowed if None); returns its
        auth token (SVCUID), ``svcuid`` if given."""
        import json

        token = self._n.register(name, json.dumps(_access_control(policy)), svcuid)
        self._tokens[name] = token
        return token

    def set_policy(self, component: str, policy: Optional[Mapping[str, Any]]) -> None:
        """Replace a component's policy; the next request is authorized against it (as when a
        deployment changes ``accessControl``).

        Raises:
            KeyError: the component is not registered.
        """
        import json

        if not self._n.set_policy(component, json.dumps(_access_control(policy))):
            raise KeyError(component)

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
        """Environment variables a process of ``component`` needs (for subprocesses)."""
        name = component or self.component
        return {_core.SOCKET_ENV: self.socket_path, _core.TOKEN_ENV: self._tokens[name]}

    # -- what the code under test published ----------------------------------------------

    def _drain(self) -> None:
        self._published.extend(_published(t) for t in self._n.take_published())

    @property
    def published(self) -> List[Published]:
        """Every message published so far, in order."""
        self._drain()
        return list(self._published)

    def published_to(self, topic: str) -> List[Published]:
        """Messages published so far to exactly ``topic``."""
        return [p for p in self.published if p.topic == topic]

    def clear(self) -> None:
        """Forget the recorded messages."""
        self._drain()
        self._published.clear()

    def wait_for_publish(self, topic: Optional[str] = None, *, count: int = 1, timeout: float = 5.0) -> Published:
        """Wait until ``count`` messages (to ``topic``, if given) were published; return the last.

        Raises:
            TimeoutError: not enough messages within ``timeout`` seconds.
        """
        msgs = self.wait_for_publishes(topic, count=count, timeout=timeout)
        return msgs[-1]

    def wait_for_publishes(self, topic: Optional[str] = None, *, count: int = 1, timeout: float = 5.0) -> List[Published]:
        """Like :meth:`wait_for_publish` but returns all matching messages."""
        deadline = time.monotonic() + timeout
        while True:
            matching = [p for p in self.published if topic is None or p.topic == topic]
            if len(matching) >= count:
                return matching
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(
                    "expected %d message(s)%s, got %d" % (count, " on %r" % topic if topic else "", len(matching))
                )
            # blocks (GIL released) until something new is published or the time is up
            self._n.wait_published(len(self._published), remaining)

    # -- messages from "AWS IoT Core" ----------------------------------------------------

    def subscriptions(self) -> List[str]:
        """Topic filters the components are subscribed to right now (one entry per subscription)."""
        return list(self._n.subscriptions())

    def wait_for_subscription(self, topic_filter: Optional[str] = None, *, timeout: float = 5.0) -> None:
        """Wait until a subscription to ``topic_filter`` (any, if None) exists.

        Raises:
            TimeoutError: none within ``timeout`` seconds.
        """
        if not self._n.wait_subscribed(topic_filter, float(timeout)):
            raise TimeoutError("no subscription%s within %.1fs" % (" to %r" % topic_filter if topic_filter else "", timeout))

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

        Returns the number of subscriptions it was delivered to.
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
