# SPDX-License-Identifier: Apache-2.0
"""The generated surface: every shape of the model round-trips through JSON, every operation reaches the
server through V1, V2 and asyncio, and a bad request gets the server's own error in every client."""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import sys

import pytest
from conftest import REPO

import ggipc.greengrasscoreipc as gg
from ggipc import aio, eventstreamrpc as rpc
from ggipc.greengrasscoreipc import client as v1
from ggipc.greengrasscoreipc import clientv2, model

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

pytestmark = pytest.mark.skipif(tomllib is None, reason="reading the model needs tomllib (Python 3.11)")


def _model():
    with open(os.path.join(REPO, "model", "greengrass-ipc.toml"), "rb") as f:
        return tomllib.load(f)


MODEL = _model() if tomllib is not None else {"shape": [], "error": [], "enum": [], "operation": []}
SHAPES = {s["name"]: s for s in MODEL["shape"]}
ENUMS = {e["name"]: e for e in MODEL["enum"]}
ERRORS = [e for e in MODEL["error"] if e.get("modeled", True)]
OPERATIONS = MODEL["operation"]


def _snake(name: str) -> str:
    name = name.replace("IoT", "Iot")
    out = []
    for i, c in enumerate(name):
        if c.isupper():
            prev = name[i - 1] if i else ""
            nxt = name[i + 1] if i + 1 < len(name) else ""
            if prev and (prev.islower() or prev.isdigit() or (prev.isupper() and nxt.islower())):
                out.append("_")
            out.append(c.lower())
        else:
            out.append(c)
    return "".join(out)


def _sample(ty: str, name: str, depth: int = 0):
    """A JSON value of the model type ``ty`` (every member set, nested shapes included)."""
    if ty == "string":
        return "s-" + name
    if ty == "boolean":
        return True
    if ty == "long":
        return 7
    if ty == "double":
        return 1.5
    if ty == "blob":
        return base64.b64encode(b"\x00blob-" + name.encode()).decode()
    if ty == "timestamp":
        return 1700000000.5
    if ty == "document":
        return {"k": [1, "x", None, {"n": 2.5}]}
    if ty.startswith("list<"):
        return [_sample(ty[5:-1], name, depth)]
    if ty in ENUMS:
        return ENUMS[ty]["values"][-1]["value"]
    return _payload(SHAPES[ty], depth + 1)


def _payload(shape, depth: int = 0):
    return {m["name"]: _sample(m["type"], m["name"], depth) for m in shape["members"]}


def test_every_model_name_is_generated():
    assert [c.__name__ for c in model._SHAPE_CLASSES] == list(SHAPES)
    assert [c.__name__ for c in model._ERROR_CLASSES] == [e["name"] for e in ERRORS]
    for e in ENUMS.values():
        cls = getattr(model, e["name"])
        assert {v["name"]: v["value"] for v in e["values"]} == {
            k: v for k, v in vars(cls).items() if not k.startswith("_")
        }
    for o in OPERATIONS:
        assert hasattr(v1.GreengrassCoreIPCClient, "new_" + _snake(o["name"]))
        assert hasattr(clientv2.GreengrassCoreIPCClientV2, _snake(o["name"]))
        assert hasattr(clientv2.GreengrassCoreIPCClientV2, _snake(o["name"]) + "_async")
        assert hasattr(aio.Client, _snake(o["name"]))
        if "event" in o:
            handler = getattr(v1, o["name"] + "StreamHandler")
            assert issubclass(handler, rpc.StreamResponseHandler)


@pytest.mark.parametrize("name", list(SHAPES))
def test_shape_round_trip(name):
    shape = SHAPES[name]
    cls = getattr(model, name)
    payload = _payload(shape)
    obj = cls._from_payload(payload)
    assert obj._to_payload() == payload
    assert cls._model_name() == "aws.greengrass#" + name
    # the attributes are the constructor's keywords, in its order (repr and equality as awsiotsdk's)
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert list(vars(obj)) == params == [_snake(m["name"]) for m in shape["members"]]
    again = cls(**vars(obj))
    assert again == obj and repr(again) == repr(obj)
    assert cls._from_payload({}) == cls()
    assert cls()._to_payload() == {}
    for m in shape["members"]:
        attr = _snake(m["name"])
        if m["type"] == "blob":
            assert isinstance(getattr(obj, attr), bytes)
            assert getattr(cls(**{attr: "é"}), attr) == "é".encode()
        elif m["type"] == "timestamp":
            assert getattr(obj, attr).timestamp() == payload[m["name"]]
        elif m["type"] in SHAPES:
            assert isinstance(getattr(obj, attr), getattr(model, m["type"]))
        setter = getattr(obj, "set_" + attr)
        assert setter(getattr(obj, attr)) is obj


@pytest.mark.parametrize("error", ERRORS, ids=[e["name"] for e in ERRORS])
def test_error_round_trip(error):
    cls = getattr(model, error["name"])
    payload = _payload(error)
    exc = cls._from_payload(payload)
    assert isinstance(exc, model.GreengrassCoreIPCError) and isinstance(exc, rpc.EventStreamOperationError)
    assert exc._to_payload() == payload
    assert exc.message == payload["message"] and str(exc) == payload["message"]
    assert exc.is_retryable() == error.get("retryable", False) == exc.is_server_error()
    assert exc.is_client_error() != exc.is_retryable()
    assert exc.kind == error["name"] and exc.code == error["code"]


def test_new_operations_through_v1(nucleus):
    client = gg.connect()
    try:
        op = client.new_get_configuration()
        op.activate(model.GetConfigurationRequest(component_name="no.Such", key_path=["a", "b"])).result(10)
        with pytest.raises(model.ResourceNotFoundError) as ei:
            op.get_response().result(10)
        assert ei.value.message == "Key not found"
        assert not ei.value.is_retryable()

        closed = []

        class H(v1.SubscribeToComponentUpdatesStreamHandler):
            def on_stream_closed(self):
                closed.append(True)

        sop = client.new_subscribe_to_component_updates(H())
        sop.activate(model.SubscribeToComponentUpdatesRequest()).result(10)
        assert isinstance(sop.get_response().result(10), model.SubscribeToComponentUpdatesResponse)
        sop.close().result(10)
        assert closed == [True]
    finally:
        client.close()


def test_new_operations_through_v2(nucleus):
    c = clientv2.GreengrassCoreIPCClientV2()
    try:
        assert isinstance(
            c.update_state_async(state=model.ReportedLifecycleState.RUNNING).result(10), model.UpdateStateResponse
        )
        with pytest.raises(model.InvalidArgumentsError) as ei:
            c.update_state(state="SLEEPING")
        assert ei.value.message == "Invalid ReportedLifecycleState value: SLEEPING"
        events = []
        response, op = c.subscribe_to_component_updates(on_stream_event=events.append)
        assert isinstance(response, model.SubscribeToComponentUpdatesResponse)
        op.close()
    finally:
        c.close()


def test_new_operations_through_aio(nucleus):
    async def main():
        async with await aio.Client.connect() as client:
            with pytest.raises(model.InvalidArgumentsError) as ei:
                await client.defer_component_update(deployment_id="d", message="later", recheck_after_ms=1000)
            assert ei.value.message == "Component is not subscribed to component update events"
            sub = await client.subscribe_to_validate_configuration_updates()
            assert isinstance(sub.response, model.SubscribeToValidateConfigurationUpdatesResponse)
            await sub.close()

    asyncio.run(main())


# -- the same error for the same bad input, whichever client sends it -----------------------------------

BAD_PUBLISHES = [
    ({"topic_name": "t", "qos": "2", "payload": b"x"}, "Invalid QoS value: 2"),
    ({"topic_name": "t", "qos": "0", "payload": b"x", "payload_format": "7"}, "Invalid PayloadFormat value: 7"),
    ({"qos": "0", "payload": b"x"}, "Topic is required"),
]


@pytest.mark.parametrize("fields,message", BAD_PUBLISHES)
def test_bad_input_gets_the_servers_error_everywhere(nucleus, fields, message):
    client = gg.connect()
    try:
        op = client.new_publish_to_iot_core()
        op.activate(model.PublishToIoTCoreRequest(**fields))
        with pytest.raises(model.InvalidArgumentsError) as ei:
            op.get_response().result(10)
        assert ei.value.message == message
        c = clientv2.GreengrassCoreIPCClientV2(client=client)
        with pytest.raises(model.InvalidArgumentsError) as ei:
            c.publish_to_iot_core(**fields)
        assert ei.value.message == message
        with pytest.raises(model.InvalidArgumentsError) as ei:
            c.publish_to_iot_core_async(**fields).result(10)
        assert ei.value.message == message
    finally:
        client.close()

    async def main():
        async with await aio.Client.connect() as a:
            with pytest.raises(model.InvalidArgumentsError) as ei:
                await a.publish_to_iot_core(**fields)
            assert ei.value.message == message

    asyncio.run(main())


def test_bad_qos_on_subscribe_gets_the_servers_error(nucleus):
    c = clientv2.GreengrassCoreIPCClientV2()
    try:
        with pytest.raises(model.InvalidArgumentsError) as ei:
            c.subscribe_to_iot_core(topic_name="t/#", qos="2", on_stream_event=lambda ev: None)
        assert ei.value.message == "Invalid QoS value: 2"
    finally:
        c.close()


@pytest.mark.parametrize("option", ["timeout", "operation_timeout"])
def test_negative_timeout_is_refused_before_connecting(nucleus, option):
    with pytest.raises(rpc.InvalidArgumentError) as ei:
        gg.connect(**{option: -1})
    assert ei.value.kind == "InvalidArgument" and ei.value.code == 7

    async def main():
        with pytest.raises(rpc.InvalidArgumentError) as ei:
            await aio.Client.connect(**{option: -1})
        assert ei.value.kind == "InvalidArgument"

    asyncio.run(main())


def test_service_error_members_come_from_the_servers_body():
    from ggipc import _core

    exc = _core.make_error(
        "ResourceNotFoundError", 103, "no such thing", None,
        '{"message": "no such thing", "resourceType": "component", "resourceName": "c"}',
    )
    assert isinstance(exc, model.ResourceNotFoundError)
    assert (exc.message, exc.resource_type, exc.resource_name) == ("no such thing", "component", "c")
    exc = _core.make_error("ServiceError", 100, "m", '{"a": 1}', '{"message": "m", "context": {"a": 1}}')
    assert exc.context == {"a": 1}
