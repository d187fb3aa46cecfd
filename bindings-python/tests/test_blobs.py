# SPDX-License-Identifier: Apache-2.0
"""Blob members (payload, correlation data, binary messages) through publish and events: every byte value,
empty and large blobs, the bytes-like types the API takes, and the errors for what it does not take, with
ggipc and the official SDK side by side."""

from __future__ import annotations

import array
import binascii
import threading
from typing import Any, List

import pytest

from ggipc.testing import LocalNucleus, allow

EVERY_BYTE = bytes(range(256))
MIB = b"".join(bytes([i % 251]) for i in range(256)) * 4096  # 1 MiB, every byte value but 251..255 in a row


#: Every IoT Core and every local topic.
POLICY = dict(allow(), **{"aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["*"]}}})


@pytest.fixture
def big_nucleus() -> Any:
    """A nucleus that takes publishes up to 2 MiB (IoT Core's own limit is 128 KiB)."""
    with LocalNucleus(component="com.example.Blobs", policy=POLICY, max_payload_bytes=2 * 1024 * 1024) as n:
        yield n


class Inbox:
    def __init__(self) -> None:
        self.events: List[Any] = []
        self.errors: List[BaseException] = []
        self.cond = threading.Condition()

    def on_event(self, ev: Any) -> None:
        with self.cond:
            self.events.append(ev)
            self.cond.notify_all()

    def on_error(self, e: BaseException) -> bool:
        with self.cond:
            self.errors.append(e)
            self.cond.notify_all()
        return False

    def wait(self, n: int, timeout: float = 10.0) -> List[Any]:
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.events) >= n or self.errors, timeout)
        assert not self.errors, self.errors
        assert ok, "expected %d events, got %d" % (n, len(self.events))
        return list(self.events)


PAYLOADS = [("every-byte", EVERY_BYTE), ("empty", b""), ("1MiB", MIB)]


@pytest.mark.parametrize("name,payload", PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_publish_to_iot_core_carries_the_bytes(sdk, big_nucleus, name, payload):
    c = sdk.clientv2.GreengrassCoreIPCClientV2()
    try:
        c.publish_to_iot_core(topic_name="blob/" + name, qos="1", payload=payload, correlation_data=payload[:300])
        got = big_nucleus.wait_for_publish("blob/" + name)
        assert got.payload == payload
        assert got.correlation_data == payload[:300]
    finally:
        c.close()


@pytest.mark.parametrize("name,payload", PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_iot_core_events_carry_the_bytes(sdk, big_nucleus, name, payload):
    c = sdk.clientv2.GreengrassCoreIPCClientV2()
    inbox = Inbox()
    try:
        _, op = c.subscribe_to_iot_core(
            topic_name="down/#", qos="1", on_stream_event=inbox.on_event, on_stream_error=inbox.on_error
        )
        big_nucleus.inject("down/" + name, payload, correlation_data=payload[:300])
        (ev,) = inbox.wait(1)
        assert type(ev.message.payload) is bytes
        assert ev.message.payload == payload
        assert ev.message.correlation_data == payload[:300]
        assert ev.message.topic_name == "down/" + name
        op.close()
    finally:
        c.close()


@pytest.mark.parametrize("name,payload", PAYLOADS, ids=[p[0] for p in PAYLOADS])
def test_local_binary_messages_round_trip(sdk, big_nucleus, name, payload):
    m = sdk.model
    c = sdk.clientv2.GreengrassCoreIPCClientV2()
    inbox = Inbox()
    try:
        _, op = c.subscribe_to_topic(topic="local/" + name, on_stream_event=inbox.on_event, on_stream_error=inbox.on_error)
        c.publish_to_topic(
            topic="local/" + name, publish_message=m.PublishMessage(binary_message=m.BinaryMessage(message=payload))
        )
        (ev,) = inbox.wait(1)
        assert type(ev.binary_message.message) is bytes
        assert ev.binary_message.message == payload
        assert ev.binary_message.context.topic == "local/" + name
        assert ev.json_message is None
        op.close()
    finally:
        c.close()


def test_a_json_message_with_blob_like_members_stays_json(sdk, big_nucleus):
    """A document is read as JSON, even where its members are named like blob members."""
    m = sdk.model
    c = sdk.clientv2.GreengrassCoreIPCClientV2()
    inbox = Inbox()
    doc = {"message": "AAEC", "payload": {"message": "AAEC"}, "n": 2**40, "x": 0.1, "list": [None, True]}
    try:
        _, op = c.subscribe_to_topic(topic="doc", on_stream_event=inbox.on_event, on_stream_error=inbox.on_error)
        c.publish_to_topic(topic="doc", publish_message=m.PublishMessage(json_message=m.JsonMessage(message=doc)))
        (ev,) = inbox.wait(1)
        assert ev.json_message.message == doc
        assert type(ev.json_message.message["n"]) is int
        op.close()
    finally:
        c.close()


@pytest.mark.parametrize(
    "value",
    [bytearray(EVERY_BYTE), memoryview(EVERY_BYTE), array.array("B", EVERY_BYTE), "h\u00e9llo"],
    ids=["bytearray", "memoryview", "array", "str"],
)
def test_bytes_like_payloads_and_str_are_taken(sdk, big_nucleus, value):
    c = sdk.clientv2.GreengrassCoreIPCClientV2()
    try:
        c.publish_to_iot_core(topic_name="like", qos="0", payload=value)
        want = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        assert big_nucleus.wait_for_publish("like").payload == want
    finally:
        c.close()


@pytest.mark.parametrize("value", [123, [1, 2], 1.5, object()], ids=["int", "list", "float", "object"])
def test_a_payload_that_is_not_bytes_gives_the_same_error_as_before(ggipc_sdk, big_nucleus, value):
    """The TypeError binascii gives (what ggipc raised when it encoded base64 in Python; awsiotsdk wraps it in
    a SerializeError)."""
    sdk = ggipc_sdk
    with pytest.raises(TypeError) as want:
        binascii.b2a_base64(value, newline=False)  # type: ignore[arg-type]
    m = sdk.model
    c = sdk.clientv2.GreengrassCoreIPCClientV2()
    try:
        with pytest.raises(TypeError) as ei:
            c.publish_to_iot_core(topic_name="bad", qos="0", payload=value)
        assert str(ei.value) == str(want.value)
        with pytest.raises(TypeError) as ei:
            c.publish_to_topic(
                topic="bad", publish_message=m.PublishMessage(binary_message=m.BinaryMessage(message=value))
            )
        assert str(ei.value) == str(want.value)
        # bytes in a JSON document are not JSON, as before
        with pytest.raises(TypeError) as ei:
            c.publish_to_topic(
                topic="bad", publish_message=m.PublishMessage(json_message=m.JsonMessage(message={"b": b"x"}))
            )
        assert str(ei.value) == "Object of type bytes is not JSON serializable"
        assert big_nucleus.published_to("bad") == []
    finally:
        c.close()


def test_native_events_carry_blob_bytes(ggipc_sdk, big_nucleus):
    """The native side hands over an event's JSON value with its blob members already decoded."""
    from ggipc import _ggipc

    got: List[Any] = []
    done = threading.Event()

    def on_events(batch: List[Any]) -> None:
        got.extend(batch)
        done.set()

    c = ggipc_sdk.clientv2.GreengrassCoreIPCClientV2()
    try:
        native = c.client.connection.native
        sub = native.stream("aws.greengrass#SubscribeToIoTCore", {"topicName": "raw/#", "qos": "0"}, on_events)
        big_nucleus.inject("raw/x", EVERY_BYTE, correlation_data=b"")
        assert done.wait(5)
        kind, value = got[0]
        assert kind == 0
        assert value["message"]["payload"] == EVERY_BYTE
        assert value["message"]["correlationData"] == b""
        assert value["message"]["topicName"] == "raw/x"
        sub.close()
    finally:
        c.close()
    assert _ggipc.Blob("x").data == b"x"
    assert _ggipc.Blob(bytearray(b"\x00\xff")).data == b"\x00\xff"


def test_an_undecodable_event_is_a_stream_error(ggipc_sdk):
    """What the native reader could not read (kind 6) reaches the handler as UnmappedDataError."""
    from ggipc import _core, _operation

    errors: List[BaseException] = []

    class Handler(ggipc_sdk.rpc.StreamResponseHandler):
        def on_stream_event(self, event: Any) -> None:
            raise AssertionError("no event expected")

        def on_stream_error(self, error: Exception) -> bool:
            errors.append(error)
            return False

    op = _operation.StreamOperation.__new__(_operation.StreamOperation)
    op._handler = Handler()
    op._last_error = None
    op._lock = threading.Lock()
    op._EVENT = ggipc_sdk.model.IoTCoreMessage
    op._dispatch([(_core.EV_UNDECODABLE, "invalid base64 in a blob")])
    assert len(errors) == 1
    assert isinstance(errors[0], ggipc_sdk.rpc.UnmappedDataError)
    assert "invalid base64 in a blob" in str(errors[0])
