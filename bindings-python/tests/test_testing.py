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


def test_broker_outage_status_spool_and_refusals(sdk):
    import queue

    statuses = queue.Queue()
    every_mqtt_operation = {"aws.greengrass.ipc.mqttproxy": {"all": {"operations": ["*"], "resources": ["*"]}}}
    with LocalNucleus(policy=every_mqtt_operation, spool_max_bytes=64, offline_subscribe_timeout=0.3) as n:
        c = sdk.clientv2.GreengrassCoreIPCClientV2()
        try:
            c.subscribe_to_iot_core_connection_status(
                on_stream_event=lambda ev: statuses.put(ev.connection_status_event.status)
            )
            assert statuses.get(timeout=5) == "CONNECTED"
            with n.broker_outage():
                assert not n.connected
                assert statuses.get(timeout=5) == "DISCONNECTED"
                with pytest.raises(sdk.model.ServiceError) as ei:
                    c.publish_to_iot_core(topic_name="cloud/q0", qos="0", payload=b"x")
                assert ei.value.message == "Publish to topic cloud/q0 failed: Device is offline. Dropping QoS 0 message."
                c.publish_to_iot_core(topic_name="cloud/q1", qos="1", payload=b"spooled")
                assert [p.payload for p in n.spooled] == [b"spooled"]
                assert n.published == []
                with pytest.raises(sdk.model.ServiceError) as ei:
                    c.publish_to_iot_core(topic_name="cloud/q1", qos="1", payload=b"y" * 50)
                assert "Message spool is full" in ei.value.message
                with pytest.raises(sdk.model.ServiceError) as ei:
                    c.subscribe_to_iot_core(topic_name="cmd/#", qos="1", on_stream_event=lambda e: None)
                assert "waiting for the broker" in ei.value.message
                assert n.inject("cmd/x", b"") == 0
                with pytest.raises(TimeoutError) as te:
                    n.wait_for_publish("cloud/q1", timeout=0.05)
                assert "1 publish(es) are spooled" in str(te.value)
            assert statuses.get(timeout=5) == "CONNECTED"
            assert n.wait_for_publish("cloud/q1").payload == b"spooled"
            assert n.spooled == []
        finally:
            c.close()


def test_restart_under_a_reconnecting_client(ggipc_sdk):
    from conftest import Recorder, make_handler, subscribe_v1

    import ggipc.greengrasscoreipc as gg

    with LocalNucleus() as n:
        client = gg.connect(reconnect=True, timeout=5, operation_timeout=5)
        try:
            h = make_handler(ggipc_sdk, Recorder)
            subscribe_v1(ggipc_sdk, client, "cmd/#", h)
            n.wait_for_subscription("cmd/#")
            token, socket = n.svcuid, n.socket_path
            n.restart()
            assert (n.svcuid, n.socket_path) == (token, socket)
            n.wait_for_subscription("cmd/#", timeout=15)
            assert n.inject("cmd/after", b"after") == 1
            assert [e.message.payload for e in h.wait_events(1)] == [b"after"]
        finally:
            client.close()


def test_configuration_and_local_messages():
    import queue

    import ggipc.greengrasscoreipc.clientv2 as clientv2

    policy = {
        "aws.greengrass.ipc.config": {"c": {"operations": ["*"], "resources": ["*"]}},
        "aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["*"]}},
    }
    with LocalNucleus(component="com.example.C", policy=policy, configuration={"interval": 5}) as n:
        c = clientv2.GreengrassCoreIPCClientV2()
        try:
            assert c.get_configuration(key_path=[]).value == {"interval": 5}
            updates = queue.Queue()
            c.subscribe_to_configuration_update(
                on_stream_event=lambda ev: updates.put(ev.configuration_update_event.key_path)
            )
            n.update_configuration({"interval": 7})
            assert updates.get(timeout=5) == ["interval"]
            assert n.configuration() == {"interval": 7}
            n.set_configuration({"interval": 9})
            assert c.get_configuration(key_path=["interval"]).value is not None
            assert n.configuration()["interval"] == 9
            with pytest.raises(Exception) as ei:
                n.set_configuration({}, component="com.example.Unknown")
            assert "not registered" in str(ei.value)
            assert n.validate_configuration({"interval": 1}, timeout=0.2) is None
            assert n.pre_component_update(timeout=0.05) == []

            local = queue.Queue()
            c.subscribe_to_topic(topic="local/#", on_stream_event=lambda ev: local.put(ev))
            assert n.local_subscriptions == 1  # in place once the subscription is answered
            assert n.publish_local("local/a", {"k": 1}) == 1
            ev = local.get(timeout=5)
            assert ev.json_message.message == {"k": 1}
            assert n.publish_local("local/b", b"raw") == 1
            assert local.get(timeout=5).binary_message.message == b"raw"
        finally:
            c.close()


def test_misuse_fails_fast_with_a_clear_message():
    import time

    with LocalNucleus(component="com.example.M", policy=allow(publish=["ok/#"], subscribe=[])) as n:
        start = time.monotonic()
        with pytest.raises(TimeoutError) as ei:
            n.wait_for_publish("denied/topic", timeout=0.2)
        assert time.monotonic() - start < 2
        assert "nothing was published" in str(ei.value)
        assert "policy allowing aws.greengrass#PublishToIoTCore on 'denied/topic'" in str(ei.value)
        with pytest.raises(KeyError) as ki:
            n.env("com.example.NotRegistered")
        assert "com.example.M" in str(ki.value)
