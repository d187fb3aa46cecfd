# SPDX-License-Identifier: Apache-2.0
"""The model's surface matches awsiotsdk's: names, constructors, attributes, repr, equality."""

from __future__ import annotations

import inspect

import pytest
from conftest import have_awsiot

from ggipc.greengrasscoreipc import model

CLASSES = [
    "UserProperty", "MQTTMessage", "IoTCoreMessage", "PublishToIoTCoreRequest", "PublishToIoTCoreResponse",
    "SubscribeToIoTCoreRequest", "SubscribeToIoTCoreResponse", "ServiceError", "UnauthorizedError",
    "InvalidArgumentsError", "ResourceNotFoundError", "ComponentNotFoundError", "ConflictError",
    "FailedUpdateConditionCheckError", "InvalidTokenError", "InvalidCredentialError",
    "InvalidArtifactsDirectoryPathError", "InvalidRecipeDirectoryPathError", "InvalidClientDeviceAuthTokenError",
]


def test_enums():
    assert (model.QOS.AT_MOST_ONCE, model.QOS.AT_LEAST_ONCE) == ("0", "1")
    assert (model.PayloadFormat.BYTES, model.PayloadFormat.UTF8) == ("0", "1")


def test_str_blobs_become_bytes():
    r = model.PublishToIoTCoreRequest(payload="é", correlation_data="c")
    assert r.payload == "é".encode() and r.correlation_data == b"c"
    assert r.set_payload("x").payload == b"x"


def test_json_round_trip():
    r = model.PublishToIoTCoreRequest(topic_name="t", qos="1", payload=b"hi",
                                      user_properties=[model.UserProperty(key="a", value="b")])
    p = r._to_payload()
    assert p == {"topicName": "t", "qos": "1", "payload": "aGk=", "userProperties": [{"key": "a", "value": "b"}]}
    assert model.PublishToIoTCoreRequest._from_payload(p) == r


@pytest.mark.skipif(not have_awsiot(), reason="awsiotsdk not installed")
@pytest.mark.parametrize("name", CLASSES)
def test_same_surface_as_awsiot(name):
    from awsiot.greengrasscoreipc import model as theirs

    ours_cls = getattr(model, name)
    their_cls = getattr(theirs, name)
    assert list(inspect.signature(ours_cls.__init__).parameters) == list(
        inspect.signature(their_cls.__init__).parameters)
    their_setters = {m for m in dir(their_cls) if m.startswith("set_")}
    assert their_setters <= set(dir(ours_cls))
    assert ours_cls._model_name() == their_cls._model_name()
    # same attributes, repr and JSON for the same arguments
    params = [p for p in inspect.signature(their_cls.__init__).parameters if p != "self"]
    sample = {p: _sample(name, p) for p in params}
    a, b = ours_cls(**sample), their_cls(**sample)
    assert repr(a) == repr(b)
    assert a.__dict__ == b.__dict__
    assert a._to_payload() == b._to_payload()
    assert ours_cls(**sample) == a
    if any(v is not None for v in sample.values()):
        assert a != ours_cls()


def _sample(cls: str, param: str):
    if param in ("payload", "correlation_data"):
        return b"\x00blob"
    if param == "retain":
        return True
    if param == "message_expiry_interval_seconds":
        return 7
    if param == "user_properties":
        return []
    if param == "message" and cls == "IoTCoreMessage":
        return None
    if param == "context":
        return {"k": 1}
    return "v-" + param
