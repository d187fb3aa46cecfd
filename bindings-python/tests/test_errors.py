# SPDX-License-Identifier: Apache-2.0
"""Error mapping, timeouts and connection failures."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from conftest import SilentServer

import ggipc
import ggipc.greengrasscoreipc as gg
from ggipc import _ggipc
from ggipc import eventstreamrpc as rpc
from ggipc.greengrasscoreipc import model


def test_every_native_error_kind_maps_to_a_class():
    from ggipc import _core

    for kind, code in _ggipc.ERROR_KINDS.items():
        exc = _core.make_error(kind, code, "msg", None)
        assert isinstance(exc, ggipc.GgipcError), kind
        assert exc.code == code, kind
        assert exc.message == "msg", kind
        assert exc.kind == kind, kind
        assert str(exc) == "msg", kind
        if code >= 100:
            assert type(exc).__name__ == kind
            assert isinstance(exc, model.GreengrassCoreIPCError)
    # codes are unique
    assert len(set(_ggipc.ERROR_KINDS.values())) == len(_ggipc.ERROR_KINDS)


def test_service_error_keeps_context():
    from ggipc import _core

    exc = _core.make_error("ServiceError", 100, "Subscribe failed", '{"reasonCode": 135}')
    assert isinstance(exc, model.ServiceError)
    assert exc.context == {"reasonCode": 135}
    assert exc.is_retryable()


def test_builtin_bases():
    assert issubclass(rpc.OperationTimeoutError, TimeoutError)
    assert issubclass(rpc.ConnectFailedError, ConnectionError)
    assert issubclass(rpc.ConnectionClosedError, RuntimeError)
    assert issubclass(rpc.InvalidArgumentError, ValueError)


def test_missing_socket(tmp_path):
    with pytest.raises(rpc.ConnectFailedError) as ei:
        gg.connect(ipc_socket=str(tmp_path / "absent.socket"), authtoken="x", timeout=2)
    assert str(tmp_path / "absent.socket") in str(ei.value) or ei.value.message


def test_missing_environment(monkeypatch):
    monkeypatch.delenv("AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT", raising=False)
    monkeypatch.delenv("SVCUID", raising=False)
    with pytest.raises(KeyError):
        gg.connect()


def test_environment_is_read_by_the_core_and_empty_counts_as_missing(monkeypatch, tmp_path):
    socket_env = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"
    # The official SDK's KeyError names the variable; an empty one is missing, as the core says.
    monkeypatch.setenv(socket_env, "")
    monkeypatch.setenv("SVCUID", "token")
    with pytest.raises(KeyError) as ei:
        gg.connect()
    assert ei.value.args == (socket_env,)
    assert _ggipc.component_socket_path() is None
    absent = str(tmp_path / "absent.socket")
    monkeypatch.setenv(socket_env, absent)
    monkeypatch.setenv("SVCUID", "")
    with pytest.raises(KeyError) as ei:
        gg.connect()
    assert ei.value.args == ("SVCUID",)
    assert _ggipc.component_auth_token() is None
    # Both set: the core's values are the ones used (the connect reaches for that socket).
    monkeypatch.setenv("SVCUID", "token")
    assert _ggipc.component_socket_path() == absent
    assert _ggipc.component_auth_token() == "token"
    with pytest.raises(rpc.ConnectFailedError) as ci:
        gg.connect(timeout=2)
    assert absent in str(ci.value)


def test_connect_timeout(tmp_path):
    srv = SilentServer(str(tmp_path / "s.sock"), ack=False)
    try:
        t0 = time.monotonic()
        with pytest.raises(rpc.GgipcError) as ei:
            gg.connect(ipc_socket=srv.path, authtoken="x", timeout=0.5)
        took = time.monotonic() - t0
        assert isinstance(ei.value, TimeoutError)
        assert 0.4 < took < 3
    finally:
        srv.close()


def test_operation_timeout(tmp_path):
    srv = SilentServer(str(tmp_path / "s.sock"), ack=True)
    try:
        client = gg.connect(ipc_socket=srv.path, authtoken="x", timeout=5, operation_timeout=0.5)
        import ggipc.greengrasscoreipc.clientv2 as clientv2

        c = clientv2.GreengrassCoreIPCClientV2(client=client)
        t0 = time.monotonic()
        with pytest.raises(rpc.OperationTimeoutError):
            c.publish_to_iot_core(topic_name="t", qos="0", payload=b"x")
        assert 0.4 < time.monotonic() - t0 < 3
        fut = c.publish_to_iot_core_async(topic_name="t", qos="0", payload=b"x")
        with pytest.raises(TimeoutError):
            fut.result(5)
        c.close()
    finally:
        srv.close()


def test_blocking_call_releases_the_gil(tmp_path):
    """While one thread waits on a publish that times out, another keeps running Python code."""
    srv = SilentServer(str(tmp_path / "s.sock"), ack=True)
    try:
        client = gg.connect(ipc_socket=srv.path, authtoken="x", operation_timeout=1.0)
        import ggipc.greengrasscoreipc.clientv2 as clientv2

        c = clientv2.GreengrassCoreIPCClientV2(client=client)
        counter = 0
        stop = threading.Event()

        def spin():
            nonlocal counter
            while not stop.is_set():
                counter += 1

        t = threading.Thread(target=spin)
        t.start()
        with pytest.raises(rpc.OperationTimeoutError):
            c.publish_to_iot_core(topic_name="t", qos="0", payload=b"x")
        stop.set()
        t.join()
        assert counter > 100_000
        c.close()
    finally:
        srv.close()


def test_invalid_qos_is_refused_with_the_nucleus_message(nucleus):
    import ggipc.greengrasscoreipc.clientv2 as clientv2

    c = clientv2.GreengrassCoreIPCClientV2()
    try:
        with pytest.raises(model.InvalidArgumentsError) as ei:
            c.publish_to_iot_core(topic_name="t", qos="2", payload=b"x")
        assert ei.value.message == "Invalid QoS value: 2"
    finally:
        c.close()


def test_same_error_for_the_same_bad_input(nucleus):
    """Bad QoS, bad payload format, missing topic and a negative timeout: the error class and message every
    binding gives (the server's for the first three, the core's for the timeout)."""
    import ggipc.greengrasscoreipc.clientv2 as clientv2

    c = clientv2.GreengrassCoreIPCClientV2()
    try:
        cases = [
            (dict(topic_name="t", qos="2", payload=b"x"), "Invalid QoS value: 2"),
            (dict(topic_name="t", qos="0", payload=b"x", payload_format="7"), "Invalid PayloadFormat value: 7"),
            (dict(qos="0", payload=b"x"), "Topic is required"),
        ]
        for args, message in cases:
            with pytest.raises(model.InvalidArgumentsError) as ei:
                c.publish_to_iot_core(**args)
            assert ei.value.message == message
        with pytest.raises(model.InvalidArgumentsError) as ei:
            c.subscribe_to_iot_core(topic_name="t/#", qos="2", on_stream_event=lambda ev: None)
        assert ei.value.message == "Invalid QoS value: 2"
    finally:
        c.close()
    for option, name in (("timeout", "connect timeout"), ("operation_timeout", "operation timeout")):
        with pytest.raises(rpc.InvalidArgumentError) as ei:
            gg.connect(**{option: -1})
        assert ei.value.message == f"{name} must be a positive, finite number of seconds, got -1"


def test_lifecycle_handler(nucleus):
    events = []
    done = threading.Event()

    class H(rpc.LifecycleHandler):
        def on_connect(self):
            events.append("connect")

        def on_disconnect(self, reason):
            events.append(("disconnect", reason))
            done.set()

    client = gg.connect(lifecycle_handler=H())
    client.close().result(5)
    assert done.wait(5)
    assert events == ["connect", ("disconnect", None)]


def test_lifecycle_handler_sees_server_loss():
    from ggipc.testing import LocalNucleus

    done = threading.Event()
    reasons = []

    class H(rpc.LifecycleHandler):
        def on_disconnect(self, reason):
            reasons.append(reason)
            done.set()

    n = LocalNucleus().start()
    try:
        client = gg.connect(lifecycle_handler=H())
    finally:
        n.stop()
    assert done.wait(5)
    assert isinstance(reasons[0], rpc.ConnectionClosedError)
    client.close()


def test_socket_permissions_are_private(nucleus):
    mode = os.stat(nucleus.socket_path).st_mode & 0o777
    assert mode == 0o600
