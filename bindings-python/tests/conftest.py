# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: an in-process nucleus, and the client under test (ggipc or the official awsiotsdk).

Scenarios parametrized with ``sdk`` run once with ggipc and once with the official SDK against the
same nucleus, so both are held to one standard. Where the official client is known to behave
differently, the test marks that case ``xfail`` with the reason.
"""

from __future__ import annotations

import importlib
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, List, Optional

import pytest

from ggipc.testing import LocalNucleus

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@dataclass
class Sdk:
    name: str
    root: ModuleType  # ggipc.greengrasscoreipc / awsiot.greengrasscoreipc
    client: ModuleType
    clientv2: ModuleType
    model: ModuleType
    rpc: ModuleType

    def connect(self, **kw: Any) -> Any:
        return self.root.connect(**kw)

    def xfail_official(self, request: Any, reason: str, strict: bool = True) -> None:
        if self.name == "awsiot":
            request.applymarker(pytest.mark.xfail(reason="official awsiotsdk: " + reason, strict=strict))


def _load(pkg: str) -> Sdk:
    return Sdk(
        name=pkg,
        root=importlib.import_module(pkg + ".greengrasscoreipc"),
        client=importlib.import_module(pkg + ".greengrasscoreipc.client"),
        clientv2=importlib.import_module(pkg + ".greengrasscoreipc.clientv2"),
        model=importlib.import_module(pkg + ".greengrasscoreipc.model"),
        rpc=importlib.import_module(pkg + ".eventstreamrpc"),
    )


def have_awsiot() -> bool:
    try:
        importlib.import_module("awsiot.greengrasscoreipc")
        return True
    except ImportError:
        return False


@pytest.fixture(params=["ggipc", "awsiot"])
def sdk(request: Any) -> Sdk:
    if request.param == "awsiot" and not have_awsiot():
        if os.environ.get("GGIPC_REQUIRE_AWSIOT"):
            pytest.fail("awsiotsdk is required (GGIPC_REQUIRE_AWSIOT is set) but not installed")
        pytest.skip("awsiotsdk not installed")
    return _load(request.param)


@pytest.fixture
def ggipc_sdk() -> Sdk:
    return _load("ggipc")


@pytest.fixture
def nucleus() -> Any:
    with LocalNucleus(component="com.example.Test") as n:
        yield n


def wait_until(pred: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``pred`` (cheap predicates only) until true; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.005)


class Recorder:
    """A stream handler base that records what it receives, thread-safely."""

    def __init__(self) -> None:
        self.events: List[Any] = []
        self.errors: List[BaseException] = []
        self.closed = threading.Event()
        self.cond = threading.Condition()

    def on_stream_event(self, event: Any) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def on_stream_error(self, error: Exception) -> bool:
        with self.cond:
            self.errors.append(error)
            self.cond.notify_all()
        return True

    def on_stream_closed(self) -> None:
        self.closed.set()

    def wait_events(self, n: int, timeout: float = 5.0) -> List[Any]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.events) >= n, timeout)
        assert ok, "expected %d events, got %d" % (n, len(self.events))
        return list(self.events)


def vector(vid: str) -> bytes:
    """Bytes of a wire vector from tests/vectors/ipc.json."""
    with open(os.path.join(REPO, "tests", "vectors", "ipc.json")) as f:
        for v in json.load(f)["vectors"]:
            if v["id"] == vid:
                return bytes.fromhex(v["hex"])
    raise KeyError(vid)


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def subscribe_v1(sdk: Sdk, client: Any, topic: str, handler: Any, qos: Optional[str] = None) -> Any:
    """Subscribe with the V1 API; returns the operation once the response arrived."""
    req = sdk.model.SubscribeToIoTCoreRequest(topic_name=topic, qos=qos or sdk.model.QOS.AT_MOST_ONCE)
    op = client.new_subscribe_to_iot_core(handler)
    op.activate(req).result(5)
    op.get_response().result(5)
    return op


def make_handler(sdk: Sdk, base: type = Recorder) -> Any:
    """A recording handler that is also the SDK's SubscribeToIoTCoreStreamHandler."""
    cls = type("Handler", (base, sdk.client.SubscribeToIoTCoreStreamHandler), {})
    return cls()


class SilentServer:
    """A Unix socket server that accepts, optionally answers CONNECT with an accepting CONNECT_ACK
    (vector G2), then never says anything again.

    The answer is read here, not in the server thread: a missing tests/vectors/ipc.json (a copy of the tests
    without it, as in an emulated root) fails the test at once instead of killing the thread and showing up
    as the client's connect timeout. Anything else that ends the thread is raised again by close()."""

    def __init__(self, path: str, ack: bool) -> None:
        self.path = path
        self.answer = vector("G2") if ack else None
        self.error: Optional[BaseException] = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.conns: List[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.sock.settimeout(0.2)
            while not self.stop.is_set():
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    continue
                conn.settimeout(None)
                self.conns.append(conn)
                if self.answer is not None:
                    try:
                        conn.recv(65536)  # the CONNECT
                        conn.sendall(self.answer)
                    except OSError:
                        pass  # the client went away first: nothing to answer
        except BaseException as e:  # raised again by close()
            self.error = e

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for c in self.conns:
            c.close()
        self.sock.close()
        if self.error is not None:
            raise self.error
