# SPDX-License-Identifier: Apache-2.0
"""Tests of the forwarder component with ggipc.testing: the happy path, a denied topic, a broker
outage and a nucleus restart. Run with ``pytest examples/python/forwarder``."""

from __future__ import annotations

import pytest

from ggipc.testing import LocalNucleus

from forwarder import Forwarder

# The component's recipe accessControl: local commands in, two telemetry topics out.
POLICY = {
    "aws.greengrass.ipc.pubsub": {
        "com.example.Forwarder:commands": {
            "operations": ["aws.greengrass#SubscribeToTopic"],
            "resources": ["commands/#"],
        }
    },
    "aws.greengrass.ipc.mqttproxy": {
        "com.example.Forwarder:telemetry": {
            "operations": ["aws.greengrass#PublishToIoTCore"],
            "resources": ["telemetry/temperature", "telemetry/humidity"],
        }
    },
}


@pytest.fixture
def nucleus():
    with LocalNucleus(component="com.example.Forwarder", policy=POLICY) as n:
        yield n


@pytest.fixture
def forwarder(nucleus):
    f = Forwarder()
    nucleus.wait_for_local_subscription("commands/#")
    yield f
    f.close()


def test_forwards_a_command_to_telemetry(nucleus, forwarder):
    assert nucleus.publish_local("commands/temperature", b"21.5") == 1
    msg = nucleus.wait_for_publish("telemetry/temperature")
    assert (msg.payload, msg.qos, msg.component) == (b"21.5", "1", "com.example.Forwarder")
    # The nucleus records the publish before its answer reaches the component: wait for that too.
    assert forwarder.wait_handled(1)
    assert (forwarder.forwarded, forwarder.errors) == (1, [])


def test_a_denied_topic_is_reported_and_forwarding_goes_on(nucleus, forwarder):
    nucleus.publish_local("commands/secret", b"x")
    nucleus.publish_local("commands/humidity", b"40")
    assert nucleus.wait_for_publish("telemetry/humidity").payload == b"40"
    assert nucleus.published_to("telemetry/secret") == []
    assert len(forwarder.errors) == 1 and forwarder.errors[0].startswith("UnauthorizedError"), forwarder.errors


def test_commands_during_a_broker_outage_are_spooled_and_sent_after_it(nucleus, forwarder):
    with nucleus.broker_outage():
        nucleus.publish_local("commands/temperature", b"during")
        assert forwarder.wait_handled(1)
        # Accepted into the spool (the forward succeeded), not yet at IoT Core.
        assert forwarder.errors == [] and forwarder.forwarded == 1
        assert [p.payload for p in nucleus.spooled] == [b"during"]
        with pytest.raises(TimeoutError) as ei:
            nucleus.wait_for_publish("telemetry/temperature", timeout=0.2)
        assert "1 publish(es) are spooled" in str(ei.value)
    assert nucleus.wait_for_publish("telemetry/temperature").payload == b"during"


def test_forwarding_resumes_after_a_nucleus_restart(nucleus, forwarder):
    nucleus.restart()
    nucleus.wait_for_local_subscription("commands/#", timeout=15)
    nucleus.publish_local("commands/temperature", b"after")
    assert nucleus.wait_for_publish("telemetry/temperature").payload == b"after"
    assert forwarder.wait_handled(1)
    assert forwarder.errors == []
