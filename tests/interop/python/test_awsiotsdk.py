"""The official AWS IoT Device SDK for Python (awsiotsdk, V1 and V2 APIs) against the ggipc server.

Each test asserts what the SDK's user sees: responses, modeled errors with the nucleus' messages, stream
events with every MQTT 5 field, and stream closure."""
import queue
import threading

import pytest
from awsiot import eventstreamrpc
from awsiot.greengrasscoreipc import client as v1client
from awsiot.greengrasscoreipc import connect
from awsiot.greengrasscoreipc import model
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

from conftest import PUB_TOKEN, SUB_TOKEN

TIMEOUT = 10


def v1(server, token):
    return connect(ipc_socket=server["socket"], authtoken=token, timeout=TIMEOUT)


def v2(server, token):
    return GreengrassCoreIPCClientV2(client=v1(server, token))


class Collector(v1client.SubscribeToIoTCoreStreamHandler):
    def __init__(self):
        super().__init__()
        self.events = queue.Queue()
        self.closed = threading.Event()

    def on_stream_event(self, event):
        self.events.put(event)

    def on_stream_error(self, error):
        self.events.put(error)
        return True

    def on_stream_closed(self):
        self.closed.set()


def test_connect_rejects_a_bad_token(server):
    with pytest.raises(Exception) as e:
        connect(ipc_socket=server["socket"], authtoken="WRONG", timeout=TIMEOUT)
    # The server lingers after the rejecting ACK, so the SDK sees the denial (not a bare socket close).
    assert isinstance(e.value, eventstreamrpc.AccessDeniedError), repr(e.value)


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_publish_qos0_and_qos1(server, api):
    if api == "v1":
        c = v1(server, PUB_TOKEN)
        for qos in (model.QOS.AT_MOST_ONCE, model.QOS.AT_LEAST_ONCE):
            op = c.new_publish_to_iot_core()
            op.activate(model.PublishToIoTCoreRequest(topic_name="interop/a/data", qos=qos, payload=b"x"))
            assert isinstance(op.get_response().result(TIMEOUT), model.PublishToIoTCoreResponse)
        c.close().result(TIMEOUT)
    else:
        c = v2(server, PUB_TOKEN)
        for qos in (model.QOS.AT_MOST_ONCE, model.QOS.AT_LEAST_ONCE):
            assert isinstance(c.publish_to_iot_core(topic_name="interop/a/data", qos=qos, payload=b"x"),
                              model.PublishToIoTCoreResponse)
        c.close()


def test_wildcard_subscription_gets_every_mqtt5_field_and_binary_payload(server):
    sub = v1(server, SUB_TOKEN)
    handler = Collector()
    op = sub.new_subscribe_to_iot_core(handler)
    op.activate(model.SubscribeToIoTCoreRequest(topic_name="interop/+/data", qos=model.QOS.AT_LEAST_ONCE))
    op.get_response().result(TIMEOUT)
    pub = v2(server, PUB_TOKEN)
    payload = bytes(range(256))
    pub.publish_to_iot_core(
        topic_name="interop/k1/data", qos=model.QOS.AT_LEAST_ONCE, payload=payload, retain=False,
        user_properties=[model.UserProperty(key="k", value="v")], message_expiry_interval_seconds=10,
        correlation_data=b"cd", response_topic="r/t", payload_format=model.PayloadFormat.UTF8,
        content_type="text/plain")
    pub.publish_to_iot_core(topic_name="interop/k1/other", qos=model.QOS.AT_MOST_ONCE, payload=b"not for us")
    event = handler.events.get(timeout=TIMEOUT)
    m = event.message
    assert (m.topic_name, m.payload, m.retain) == ("interop/k1/data", payload, False)
    assert [(p.key, p.value) for p in m.user_properties] == [("k", "v")]
    assert (m.message_expiry_interval_seconds, m.correlation_data, m.response_topic) == (10, b"cd", "r/t")
    assert (m.payload_format, m.content_type) == (model.PayloadFormat.UTF8, "text/plain")
    op.close().result(TIMEOUT)
    assert handler.closed.wait(TIMEOUT)
    assert handler.events.empty()
    pub.close()
    sub.close().result(TIMEOUT)


def test_v2_subscribe_with_callbacks(server):
    sub = v2(server, SUB_TOKEN)
    got = queue.Queue()
    resp, op = sub.subscribe_to_iot_core(topic_name="interop/+/data", qos=model.QOS.AT_MOST_ONCE,
                                         on_stream_event=got.put)
    assert isinstance(resp, model.SubscribeToIoTCoreResponse)
    pub = v2(server, PUB_TOKEN)
    pub.publish_to_iot_core(topic_name="interop/x/data", qos=model.QOS.AT_MOST_ONCE, payload="text")
    assert got.get(timeout=TIMEOUT).message.payload == b"text"
    op.close()
    pub.close()
    sub.close()


def test_128_kib_payload_limit(server):
    pub = v2(server, PUB_TOKEN)
    pub.publish_to_iot_core(topic_name="big", qos=model.QOS.AT_LEAST_ONCE, payload=b"a" * 131072)
    with pytest.raises(model.ServiceError) as e:
        pub.publish_to_iot_core(topic_name="big", qos=model.QOS.AT_LEAST_ONCE, payload=b"a" * 131073)
    assert e.value.message == ("Publish to topic big failed: The publishing message size 131073 bytes "
                               "exceeds the configured limit of 131072 bytes")
    pub.close()


@pytest.mark.parametrize("api", ["v1", "v2"])
def test_unauthorized(server, api):
    if api == "v1":
        c = v1(server, SUB_TOKEN)
        op = c.new_publish_to_iot_core()
        op.activate(model.PublishToIoTCoreRequest(topic_name="interop/a/data", qos="0", payload=b""))
        with pytest.raises(model.UnauthorizedError) as e:
            op.get_response().result(TIMEOUT)
        assert e.value.message == "Not Authorized"
        c.close().result(TIMEOUT)
    else:
        c = v2(server, SUB_TOKEN)
        with pytest.raises(model.UnauthorizedError) as e:
            # interop/+/data is granted, interop/# is wider: refused.
            c.subscribe_to_iot_core(topic_name="interop/#", qos="0", on_stream_event=print)
        assert e.value.message == "Not Authorized"
        c.close()


def test_invalid_arguments(server):
    c = v2(server, PUB_TOKEN)
    with pytest.raises(model.InvalidArgumentsError) as e:
        c.publish_to_iot_core(topic_name="interop/a/data", qos="0")
    assert e.value.message == "Payload is required"
    with pytest.raises(model.InvalidArgumentsError) as e:
        c.publish_to_iot_core(topic_name="interop/a/data", qos="2", payload=b"")
    assert e.value.message == "Invalid QoS value: 2"
    with pytest.raises(model.InvalidArgumentsError) as e:
        c.publish_to_iot_core(qos="0", payload=b"")
    assert e.value.message == "Topic is required"
    c.close()


def test_service_error_for_an_invalid_topic(server):
    c = v2(server, PUB_TOKEN)
    with pytest.raises(model.ServiceError) as e:
        c.publish_to_iot_core(topic_name="interop/a/b/c/d/e/f/g/h", qos="0", payload=b"")
    assert e.value.message.endswith("The request topic must have no more than 7 forward slashes (/)")
    c.close()


def test_many_operations_on_one_connection(server):
    c = v2(server, PUB_TOKEN)
    futures = [c.publish_to_iot_core_async(topic_name="interop/n/data", qos="1", payload=str(i)) for i in range(500)]
    for f in futures:
        assert isinstance(f.result(TIMEOUT), model.PublishToIoTCoreResponse)
    c.close()
