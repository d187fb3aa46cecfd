# SPDX-License-Identifier: Apache-2.0
"""V1 API (operations with activate/get_response/close), ggipc and the official SDK side by side."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import Recorder, make_handler, subscribe_v1


def test_publish_is_recorded(sdk, nucleus):
    client = sdk.connect()
    try:
        m = sdk.model
        req = m.PublishToIoTCoreRequest()
        req.topic_name = "my/topic"
        req.payload = bytes("Hello, World", "utf-8")
        req.qos = m.QOS.AT_LEAST_ONCE
        op = client.new_publish_to_iot_core()
        op.activate(req)
        resp = op.get_response().result(10)
        assert isinstance(resp, m.PublishToIoTCoreResponse)
        got = nucleus.wait_for_publish("my/topic")
        assert got.payload == b"Hello, World"
        assert got.qos == "1"
    finally:
        client.close()


def test_publish_mqtt5_fields_reach_the_broker(sdk, nucleus):
    client = sdk.connect()
    try:
        m = sdk.model
        req = m.PublishToIoTCoreRequest(
            topic_name="mqtt5/x",
            qos=m.QOS.AT_MOST_ONCE,
            payload="text",
            retain=True,
            user_properties=[m.UserProperty(key="k", value="v")],
            message_expiry_interval_seconds=60,
            correlation_data=b"\x00\x01",
            response_topic="mqtt5/reply",
            payload_format=m.PayloadFormat.UTF8,
        )
        op = client.new_publish_to_iot_core()
        op.activate(req)
        op.get_response().result(10)
        got = nucleus.wait_for_publish("mqtt5/x")
        assert got.payload == b"text"
        assert got.retain is True
        assert got.user_properties == [("k", "v")]
        assert got.message_expiry_interval_seconds == 60
        assert got.correlation_data == b"\x00\x01"
        assert got.response_topic == "mqtt5/reply"
        assert got.payload_format == "1"
    finally:
        client.close()


def test_unauthorized_publish_raises_modeled_error_with_message(sdk, nucleus):
    nucleus.add_component("com.example.Limited", {"aws.greengrass.ipc.mqttproxy": {
        "p1": {"operations": ["aws.greengrass#PublishToIoTCore"], "resources": ["allowed/#"]}}})
    client = sdk.connect(authtoken=nucleus._tokens["com.example.Limited"])
    try:
        m = sdk.model
        op = client.new_publish_to_iot_core()
        op.activate(m.PublishToIoTCoreRequest(topic_name="denied/x", qos=m.QOS.AT_MOST_ONCE, payload=b"x"))
        with pytest.raises(m.UnauthorizedError) as ei:
            op.get_response().result(10)
        assert ei.value.message == "Not Authorized"
        assert ei.value == m.UnauthorizedError(message="Not Authorized")
        assert isinstance(ei.value, m.GreengrassCoreIPCError)
        assert ei.value.is_client_error() and not ei.value.is_retryable()
        # the allowed topic still works on the same connection
        op = client.new_publish_to_iot_core()
        op.activate(m.PublishToIoTCoreRequest(topic_name="allowed/a", qos=m.QOS.AT_MOST_ONCE, payload=b"y"))
        op.get_response().result(10)
        assert [p.payload for p in nucleus.published] == [b"y"]
    finally:
        client.close()


@pytest.mark.parametrize(
    "fields,message",
    [
        ({"qos": "0", "payload": b"x"}, "Topic is required"),
        ({"topic_name": "t", "qos": "0"}, "Payload is required"),
        ({"topic_name": "t", "payload": b"x"}, "QoS is required"),
    ],
)
def test_invalid_publish_requests(sdk, nucleus, fields, message):
    client = sdk.connect()
    try:
        op = client.new_publish_to_iot_core()
        op.activate(sdk.model.PublishToIoTCoreRequest(**fields))
        with pytest.raises(sdk.model.InvalidArgumentsError) as ei:
            op.get_response().result(10)
        assert ei.value.message == message
    finally:
        client.close()


def test_subscribe_receives_injected_messages_in_order(sdk, nucleus):
    client = sdk.connect()
    try:
        h = make_handler(sdk)
        op = subscribe_v1(sdk, client, "sensors/+/temp", h)
        for i in range(50):
            assert nucleus.inject("sensors/%d/temp" % i, b"v%d" % i) == 1
        events = h.wait_events(50)
        assert [e.message.payload for e in events] == [b"v%d" % i for i in range(50)]
        first = events[0]
        assert isinstance(first, sdk.model.IoTCoreMessage)
        assert first.message.topic_name == "sensors/0/temp"
        assert first == sdk.model.IoTCoreMessage(
            message=sdk.model.MQTTMessage(topic_name="sensors/0/temp", payload=b"v0", retain=False, payload_format="0")
        )
        assert repr(first) == (
            "IoTCoreMessage(message=MQTTMessage(topic_name='sensors/0/temp', payload=b'v0', retain=False, payload_format='0'))"
        )
        op.close().result(5)
        assert h.closed.wait(5)
        # the nucleus dropped the subscription
        nucleus_deadline = time.monotonic() + 5
        while nucleus.subscriptions() and time.monotonic() < nucleus_deadline:
            time.sleep(0.01)
        assert nucleus.subscriptions() == []
        assert h.errors == []
    finally:
        client.close()


def test_subscribe_unauthorized(sdk, nucleus):
    nucleus.add_component("com.example.NoSub", {"aws.greengrass.ipc.mqttproxy": {
        "p1": {"operations": ["aws.greengrass#SubscribeToIoTCore"], "resources": ["a/b"]}}})
    client = sdk.connect(authtoken=nucleus._tokens["com.example.NoSub"])
    try:
        m = sdk.model
        h = make_handler(sdk)
        op = client.new_subscribe_to_iot_core(h)
        op.activate(m.SubscribeToIoTCoreRequest(topic_name="a/#", qos=m.QOS.AT_MOST_ONCE))
        with pytest.raises(m.UnauthorizedError) as ei:
            op.get_response().result(10)
        assert ei.value.message == "Not Authorized"
        assert op.close().result(5) is None
        # the stream ended: the handler hears about it, as with the official client
        assert h.closed.wait(5)
        assert h.events == [] and h.errors == []
    finally:
        client.close()


def test_handler_can_call_ipc_synchronously(sdk, nucleus, request):
    """A handler that publishes (and waits for the answer) must not deadlock (python-v2 #193, #233)."""
    sdk.xfail_official(request, "V1 handlers run on the event-loop thread; a blocking IPC call inside one deadlocks")
    client = sdk.connect()
    m = sdk.model
    try:
        results = []
        done = threading.Event()

        class Echo(Recorder):
            def on_stream_event(self, event):
                try:
                    op = client.new_publish_to_iot_core()
                    op.activate(m.PublishToIoTCoreRequest(
                        topic_name="echo/out", qos=m.QOS.AT_LEAST_ONCE, payload=event.message.payload))
                    op.get_response().result(2)
                    results.append("ok")
                except BaseException as e:  # noqa: BLE001 - recorded for the assertion
                    results.append(repr(e))
                done.set()

        h = make_handler(sdk, Echo)
        subscribe_v1(sdk, client, "echo/in", h)
        nucleus.inject("echo/in", b"ping")
        assert done.wait(10)
        assert results == ["ok"]
        assert nucleus.wait_for_publish("echo/out").payload == b"ping"
    finally:
        client.close()


def test_exception_in_on_stream_event_goes_to_on_stream_error(sdk, nucleus):
    client = sdk.connect()
    try:
        class Boom(Recorder):
            def on_stream_event(self, event):
                raise ValueError("boom")

            def on_stream_error(self, error):
                super().on_stream_error(error)
                return False  # keep the stream open

        h = make_handler(sdk, Boom)
        op = subscribe_v1(sdk, client, "boom", h)
        nucleus.inject("boom", b"1")
        nucleus.inject("boom", b"2")
        deadline = time.monotonic() + 5
        while len(h.errors) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [str(e) for e in h.errors] == ["boom", "boom"]
        assert not h.closed.is_set()
        op.close().result(5)
    finally:
        client.close()


def test_nucleus_stop_closes_streams(sdk):
    from ggipc.testing import LocalNucleus

    n = LocalNucleus(component="com.example.Stop").start()
    try:
        client = sdk.connect()
        h = make_handler(sdk)
        op = subscribe_v1(sdk, client, "x", h)
    finally:
        n.stop()
    assert h.closed.wait(5), "on_stream_closed not called when the server went away"
    assert op.close().result(5) is None
    client.close()


def test_operation_after_close_fails(sdk, nucleus):
    client = sdk.connect()
    client.close().result(5)
    with pytest.raises(sdk.rpc.ConnectionClosedError):
        client.new_publish_to_iot_core()
    with pytest.raises(sdk.rpc.ConnectionClosedError):
        client.new_subscribe_to_iot_core(make_handler(sdk))


def test_v2_publish_after_close_fails(sdk, nucleus):
    c = sdk.clientv2.GreengrassCoreIPCClientV2(client=sdk.connect())
    c.close()
    with pytest.raises(sdk.rpc.ConnectionClosedError):
        c.publish_to_iot_core(topic_name="t", qos="0", payload=b"x")


def test_slow_handler_overflow_is_reported(ggipc_sdk, nucleus):
    """The per-subscription queue is bounded; what overflows is dropped and the handler is told."""
    client = ggipc_sdk.connect(max_queued_events=10)
    try:
        release = threading.Event()
        lagged = []

        class Slow(Recorder):
            def on_stream_event(self, event):
                release.wait(10)
                super().on_stream_event(event)

            def on_stream_lagged(self, count):
                lagged.append(count)

        h = make_handler(ggipc_sdk, Slow)
        op = subscribe_v1(ggipc_sdk, client, "flood", h)
        for i in range(100):
            nucleus.inject("flood", b"%d" % i)
        # Barrier: the nucleus writes this publish's response after the 100 events on the same
        # connection, so once it is answered the client has read (queued or dropped) all of them.
        pub = client.new_publish_to_iot_core()
        pub.activate(ggipc_sdk.model.PublishToIoTCoreRequest(topic_name="barrier", qos="0", payload=b""))
        pub.get_response().result(5)
        release.set()
        deadline = time.monotonic() + 5
        while len(h.events) + sum(lagged) < 100 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(lagged) > 0
        assert len(h.events) + sum(lagged) == 100
        # the queue (10) was full while the handler was blocked; what the dispatcher had already
        # taken in its first batch comes on top of that
        assert 10 <= len(h.events) < 100
        payloads = [int(e.message.payload) for e in h.events]
        assert payloads == sorted(payloads)  # what is delivered stays in order
        op.close().result(5)
    finally:
        client.close()
