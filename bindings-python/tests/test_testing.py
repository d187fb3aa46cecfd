# SPDX-License-Identifier: Apache-2.0
"""ggipc.testing used the way a component author would."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from ggipc.testing import LocalNucleus, allow

SOCKET_ENV = "AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"


# A tiny "component" as its author would write it: plain greengrasscoreipc code.
def hello_component(greeting: str) -> None:
    import ggipc.greengrasscoreipc.clientv2 as clientv2

    ipc = clientv2.GreengrassCoreIPCClientV2()
    try:
        ipc.publish_to_iot_core(topic_name="hello/world", qos="1", payload=greeting)
    finally:
        ipc.close()


def test_context_manager_sets_and_restores_environment():
    os.environ[SOCKET_ENV] = "/previous/value"
    os.environ.pop("SVCUID", None)
    try:
        with LocalNucleus(component="com.example.Hello") as n:
            assert os.environ[SOCKET_ENV] == n.socket_path
            assert os.environ["SVCUID"] == n.svcuid
            hello_component("Hello, World")
            msg = n.wait_for_publish("hello/world")
            assert msg.text == "Hello, World"
            assert msg.qos == "1"
        assert os.environ[SOCKET_ENV] == "/previous/value"
        assert "SVCUID" not in os.environ
    finally:
        os.environ.pop(SOCKET_ENV, None)


def test_fixture(ggipc_nucleus):
    hello_component("from the fixture")
    assert [p.payload for p in ggipc_nucleus.published] == [b"from the fixture"]


class TestPolicyOverride:
    @pytest.fixture
    def ggipc_policy(self):
        return allow(publish=["allowed/#"], subscribe=[])

    def test_policy_applies(self, ggipc_nucleus):
        from ggipc.greengrasscoreipc.model import UnauthorizedError

        with pytest.raises(UnauthorizedError):
            hello_component("denied")
        assert ggipc_nucleus.published == []


def test_inject_into_component_subscription():
    import ggipc.greengrasscoreipc.clientv2 as clientv2

    with LocalNucleus() as n:
        ipc = clientv2.GreengrassCoreIPCClientV2()
        try:
            received = []
            ipc.subscribe_to_iot_core(topic_name="cmd/#", qos="1",
                                      on_stream_event=lambda ev: received.append(ev.message))
            n.wait_for_subscription("cmd/#")
            assert n.subscriptions() == ["cmd/#"]
            assert n.inject("cmd/reboot", b"{}", user_properties=[("a", "b")]) == 1
            assert n.inject("other", b"x") == 0
            import time
            deadline = time.monotonic() + 5
            while not received and time.monotonic() < deadline:
                time.sleep(0.01)
            assert received[0].topic_name == "cmd/reboot"
            assert received[0].payload == b"{}"
            assert [(p.key, p.value) for p in received[0].user_properties] == [("a", "b")]
        finally:
            ipc.close()


def test_wait_for_publish_times_out():
    with LocalNucleus() as n:
        with pytest.raises(TimeoutError):
            n.wait_for_publish("never", timeout=0.2)
        with pytest.raises(TimeoutError):
            n.wait_for_subscription("never", timeout=0.2)


def test_component_in_a_subprocess():
    code = textwrap.dedent("""
        import ggipc.greengrasscoreipc.clientv2 as clientv2
        c = clientv2.GreengrassCoreIPCClientV2()
        c.publish_to_iot_core(topic_name="proc/out", qos="0", payload=b"from child")
        c.close()
    """)
    with LocalNucleus(set_env=False) as n:
        env = dict(os.environ, **n.env())
        subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
        assert n.wait_for_publish("proc/out").payload == b"from child"


def test_unknown_token_is_refused():
    from ggipc.eventstreamrpc import AccessDeniedError
    import ggipc.greengrasscoreipc as gg

    with LocalNucleus():
        with pytest.raises(AccessDeniedError):
            gg.connect(authtoken="NOT-A-TOKEN")


def test_simulated_broker_failures_reach_the_component(sdk):
    with LocalNucleus() as n:
        c = sdk.clientv2.GreengrassCoreIPCClientV2()
        try:
            n.fail_publishes("IoT Core unreachable", topic_filter="cloud/#")
            with pytest.raises(sdk.model.ServiceError) as ei:
                c.publish_to_iot_core(topic_name="cloud/x", qos="1", payload=b"1")
            assert ei.value.message == "Publish to topic cloud/x failed: IoT Core unreachable"
            c.publish_to_iot_core(topic_name="local/x", qos="1", payload=b"2")  # not matched
            n.fail_publishes(None)
            c.publish_to_iot_core(topic_name="cloud/x", qos="1", payload=b"3")
            assert [p.payload for p in n.published] == [b"2", b"3"]

            n.fail_subscriptions("SUBACK refused")
            with pytest.raises(sdk.model.ServiceError) as ei:
                c.subscribe_to_iot_core(topic_name="cmd/#", qos="1", on_stream_event=lambda e: None)
            assert "SUBACK refused" in ei.value.message
            n.fail_subscriptions(None)
            _, op = c.subscribe_to_iot_core(topic_name="cmd/#", qos="1", on_stream_event=lambda e: None)
            op.close()
        finally:
            c.close()


def test_policy_change_applies_to_the_next_request():
    import ggipc.greengrasscoreipc.clientv2 as clientv2
    from ggipc.greengrasscoreipc.model import UnauthorizedError

    with LocalNucleus(component="com.example.P") as n:
        c = clientv2.GreengrassCoreIPCClientV2()
        try:
            c.publish_to_iot_core(topic_name="t", qos="0", payload=b"")
            n.set_policy("com.example.P", allow(publish=["other"]))
            with pytest.raises(UnauthorizedError):
                c.publish_to_iot_core(topic_name="t", qos="0", payload=b"")
            with pytest.raises(KeyError):
                n.set_policy("com.example.Unknown", None)
        finally:
            c.close()
