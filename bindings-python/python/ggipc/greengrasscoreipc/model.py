# SPDX-License-Identifier: Apache-2.0
"""Greengrass IPC model for the IoT Core MQTT service (``aws.greengrass.ipc.mqttproxy``).

Mirrors ``awsiot.greengrasscoreipc.model``: the same class names, keyword constructors,
attributes, ``set_*`` methods, ``repr`` and equality, and the modeled error classes.
All attributes are ``None`` by default. Blob attributes (``payload``, ``correlation_data``)
accept ``str`` in the constructor and setters and store UTF-8 ``bytes``.
"""

from __future__ import annotations

import typing
from typing import Any, Dict, List, Optional, Union

from .. import eventstreamrpc as rpc

__all__ = [
    "QOS",
    "PayloadFormat",
    "UserProperty",
    "MQTTMessage",
    "IoTCoreMessage",
    "PublishToIoTCoreRequest",
    "PublishToIoTCoreResponse",
    "SubscribeToIoTCoreRequest",
    "SubscribeToIoTCoreResponse",
    "GreengrassCoreIPCError",
    "ServiceError",
    "UnauthorizedError",
    "InvalidArgumentsError",
    "ResourceNotFoundError",
    "ComponentNotFoundError",
    "ConflictError",
    "FailedUpdateConditionCheckError",
    "InvalidTokenError",
    "InvalidCredentialError",
    "InvalidArtifactsDirectoryPathError",
    "InvalidRecipeDirectoryPathError",
    "InvalidClientDeviceAuthTokenError",
    "SHAPE_INDEX",
]


def _blob(value: Optional[Union[bytes, str]]) -> Optional[bytes]:
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


class QOS:
    """QOS enum: the MQTT quality of service (wire values ``"0"`` and ``"1"``)."""

    AT_MOST_ONCE = "0"
    AT_LEAST_ONCE = "1"


class PayloadFormat:
    """PayloadFormat enum (MQTT 5 payload format indicator)."""

    BYTES = "0"
    UTF8 = "1"


class UserProperty(rpc.Shape):
    """An MQTT 5 user property.

    Keyword Args:
        key: property name.
        value: property value.
    """

    _MODEL_NAME = "aws.greengrass#UserProperty"
    _FIELDS = (("key", "key", None), ("value", "value", None))

    def __init__(self, *, key: Optional[str] = None, value: Optional[str] = None) -> None:
        self.key = key
        self.value = value

    def set_key(self, key: str) -> "UserProperty":
        self.key = key
        return self

    def set_value(self, value: str) -> "UserProperty":
        self.value = value
        return self


class _MqttFields(rpc.Shape):
    """Setters shared by the shapes that carry MQTT 5 message fields."""

    topic_name: Optional[str]
    payload: Optional[bytes]
    retain: Optional[bool]
    user_properties: Optional[List[UserProperty]]
    message_expiry_interval_seconds: Optional[int]
    correlation_data: Optional[bytes]
    response_topic: Optional[str]
    payload_format: Optional[str]
    content_type: Optional[str]

    def set_topic_name(self, topic_name: str):  # type: ignore[no-untyped-def]
        self.topic_name = topic_name
        return self

    def set_payload(self, payload: Union[bytes, str]):  # type: ignore[no-untyped-def]
        self.payload = _blob(payload)
        return self

    def set_retain(self, retain: bool):  # type: ignore[no-untyped-def]
        self.retain = retain
        return self

    def set_user_properties(self, user_properties: List[UserProperty]):  # type: ignore[no-untyped-def]
        self.user_properties = user_properties
        return self

    def set_message_expiry_interval_seconds(self, message_expiry_interval_seconds: int):  # type: ignore[no-untyped-def]
        self.message_expiry_interval_seconds = message_expiry_interval_seconds
        return self

    def set_correlation_data(self, correlation_data: Union[bytes, str]):  # type: ignore[no-untyped-def]
        self.correlation_data = _blob(correlation_data)
        return self

    def set_response_topic(self, response_topic: str):  # type: ignore[no-untyped-def]
        self.response_topic = response_topic
        return self

    def set_payload_format(self, payload_format: str):  # type: ignore[no-untyped-def]
        self.payload_format = payload_format
        return self

    def set_content_type(self, content_type: str):  # type: ignore[no-untyped-def]
        self.content_type = content_type
        return self


class MQTTMessage(_MqttFields):
    """An MQTT message received from AWS IoT Core.

    Keyword Args:
        topic_name: the topic the message was published to.
        payload: (optional) the payload, ``bytes`` (``str`` is encoded as UTF-8).
        retain: (optional) the retain flag.
        user_properties: (optional) MQTT 5 user properties.
        message_expiry_interval_seconds: (optional) message expiry interval.
        correlation_data: (optional) correlation data for request/response.
        response_topic: (optional) response topic for request/response.
        payload_format: (optional) :class:`PayloadFormat` value.
        content_type: (optional) content type.
    """

    _MODEL_NAME = "aws.greengrass#MQTTMessage"
    _FIELDS: typing.Tuple[typing.Tuple[str, str, Any], ...] = (
        ("topic_name", "topicName", None),
        ("payload", "payload", bytes),
        ("retain", "retain", None),
        ("user_properties", "userProperties", [UserProperty]),
        ("message_expiry_interval_seconds", "messageExpiryIntervalSeconds", int),
        ("correlation_data", "correlationData", bytes),
        ("response_topic", "responseTopic", None),
        ("payload_format", "payloadFormat", None),
        ("content_type", "contentType", None),
    )

    def __init__(
        self,
        *,
        topic_name: Optional[str] = None,
        payload: Optional[Union[bytes, str]] = None,
        retain: Optional[bool] = None,
        user_properties: Optional[List[UserProperty]] = None,
        message_expiry_interval_seconds: Optional[int] = None,
        correlation_data: Optional[Union[bytes, str]] = None,
        response_topic: Optional[str] = None,
        payload_format: Optional[str] = None,
        content_type: Optional[str] = None,
    ) -> None:
        self.topic_name = topic_name
        self.payload = _blob(payload)
        self.retain = retain
        self.user_properties = user_properties
        self.message_expiry_interval_seconds = message_expiry_interval_seconds
        self.correlation_data = _blob(correlation_data)
        self.response_topic = response_topic
        self.payload_format = payload_format
        self.content_type = content_type


class IoTCoreMessage(rpc.Shape):
    """Stream event of SubscribeToIoTCore (a tagged union with one member).

    Keyword Args:
        message: the :class:`MQTTMessage`.
    """

    _MODEL_NAME = "aws.greengrass#IoTCoreMessage"
    _FIELDS = (("message", "message", MQTTMessage),)

    def __init__(self, *, message: Optional[MQTTMessage] = None) -> None:
        self.message = message

    def set_message(self, message: MQTTMessage) -> "IoTCoreMessage":
        self.message = message
        return self


class PublishToIoTCoreRequest(_MqttFields):
    """Request of PublishToIoTCore.

    Keyword Args:
        topic_name: the topic to publish to (no wildcards).
        qos: :class:`QOS` value.
        payload: (optional) the payload, ``bytes`` (``str`` is encoded as UTF-8).
        retain: (optional) whether to set the MQTT retain flag.
        user_properties: (optional) MQTT 5 user properties.
        message_expiry_interval_seconds: (optional) message expiry interval.
        correlation_data: (optional) correlation data for request/response.
        response_topic: (optional) response topic for request/response.
        payload_format: (optional) :class:`PayloadFormat` value.
        content_type: (optional) content type.
    """

    _MODEL_NAME = "aws.greengrass#PublishToIoTCoreRequest"
    _FIELDS = (("topic_name", "topicName", None), ("qos", "qos", None)) + MQTTMessage._FIELDS[1:]

    def __init__(
        self,
        *,
        topic_name: Optional[str] = None,
        qos: Optional[str] = None,
        payload: Optional[Union[bytes, str]] = None,
        retain: Optional[bool] = None,
        user_properties: Optional[List[UserProperty]] = None,
        message_expiry_interval_seconds: Optional[int] = None,
        correlation_data: Optional[Union[bytes, str]] = None,
        response_topic: Optional[str] = None,
        payload_format: Optional[str] = None,
        content_type: Optional[str] = None,
    ) -> None:
        self.topic_name = topic_name
        self.qos = qos
        self.payload = _blob(payload)
        self.retain = retain
        self.user_properties = user_properties
        self.message_expiry_interval_seconds = message_expiry_interval_seconds
        self.correlation_data = _blob(correlation_data)
        self.response_topic = response_topic
        self.payload_format = payload_format
        self.content_type = content_type

    def set_qos(self, qos: str) -> "PublishToIoTCoreRequest":
        self.qos = qos
        return self


class PublishToIoTCoreResponse(rpc.Shape):
    """Response of PublishToIoTCore (no members)."""

    _MODEL_NAME = "aws.greengrass#PublishToIoTCoreResponse"

    def __init__(self) -> None:
        pass


class SubscribeToIoTCoreRequest(rpc.Shape):
    """Request of SubscribeToIoTCore.

    Keyword Args:
        topic_name: the topic filter to subscribe to (MQTT wildcards ``+`` and ``#`` allowed).
        qos: :class:`QOS` value.
    """

    _MODEL_NAME = "aws.greengrass#SubscribeToIoTCoreRequest"
    _FIELDS = (("topic_name", "topicName", None), ("qos", "qos", None))

    def __init__(self, *, topic_name: Optional[str] = None, qos: Optional[str] = None) -> None:
        self.topic_name = topic_name
        self.qos = qos

    def set_topic_name(self, topic_name: str) -> "SubscribeToIoTCoreRequest":
        self.topic_name = topic_name
        return self

    def set_qos(self, qos: str) -> "SubscribeToIoTCoreRequest":
        self.qos = qos
        return self


class SubscribeToIoTCoreResponse(rpc.Shape):
    """Response of SubscribeToIoTCore (no members)."""

    _MODEL_NAME = "aws.greengrass#SubscribeToIoTCoreResponse"

    def __init__(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# Modeled errors


class GreengrassCoreIPCError(rpc.ErrorShape):
    """Base of the modeled errors sent by the server. ``message`` holds the server's message."""

    _ERROR_TYPE = "client"
    _FIELDS: typing.Tuple[typing.Tuple[str, str, Any], ...] = (("message", "message", None),)

    def __init__(self, *, message: Optional[str] = None) -> None:
        rpc.EventStreamOperationError.__init__(self, *((message,) if message is not None else ()))
        self.message = message

    def _get_error_type_string(self) -> str:
        return self._ERROR_TYPE

    def is_retryable(self) -> bool:
        """True for server-side errors worth retrying (ServiceError, InvalidTokenError)."""
        return self._ERROR_TYPE == "server"

    def is_server_error(self) -> bool:
        return self._ERROR_TYPE == "server"

    def is_client_error(self) -> bool:
        return self._ERROR_TYPE == "client"

    def set_message(self, message: str):  # type: ignore[no-untyped-def]
        self.message = message
        return self

    @property
    def kind(self) -> str:  # type: ignore[override]
        return type(self).__name__


class ServiceError(GreengrassCoreIPCError):
    """The server failed to carry out the request (``context`` may hold details)."""

    _MODEL_NAME = "aws.greengrass#ServiceError"
    _ERROR_TYPE = "server"
    _FIELDS = (("message", "message", None), ("context", "context", None))

    def __init__(self, *, message: Optional[str] = None, context: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(message=message)
        self.context = context

    def set_context(self, context: Dict[str, Any]) -> "ServiceError":
        self.context = context
        return self


class UnauthorizedError(GreengrassCoreIPCError):
    """The component's access-control policy does not allow the request."""

    _MODEL_NAME = "aws.greengrass#UnauthorizedError"


class InvalidArgumentsError(GreengrassCoreIPCError):
    """The request is invalid (e.g. missing topic, payload or QoS)."""

    _MODEL_NAME = "aws.greengrass#InvalidArgumentsError"


class ResourceNotFoundError(GreengrassCoreIPCError):
    """A resource was not found."""

    _MODEL_NAME = "aws.greengrass#ResourceNotFoundError"
    _FIELDS = (
        ("message", "message", None),
        ("resource_type", "resourceType", None),
        ("resource_name", "resourceName", None),
    )

    def __init__(
        self,
        *,
        message: Optional[str] = None,
        resource_type: Optional[str] = None,
        resource_name: Optional[str] = None,
    ) -> None:
        super().__init__(message=message)
        self.resource_type = resource_type
        self.resource_name = resource_name

    def set_resource_type(self, resource_type: str) -> "ResourceNotFoundError":
        self.resource_type = resource_type
        return self

    def set_resource_name(self, resource_name: str) -> "ResourceNotFoundError":
        self.resource_name = resource_name
        return self


class ComponentNotFoundError(GreengrassCoreIPCError):
    _MODEL_NAME = "aws.greengrass#ComponentNotFoundError"


class ConflictError(GreengrassCoreIPCError):
    _MODEL_NAME = "aws.greengrass#ConflictError"


class FailedUpdateConditionCheckError(GreengrassCoreIPCError):
    _MODEL_NAME = "aws.greengrass#FailedUpdateConditionCheckError"


class InvalidTokenError(GreengrassCoreIPCError):
    _MODEL_NAME = "aws.greengrass#InvalidTokenError"
    _ERROR_TYPE = "server"


class InvalidCredentialError(GreengrassCoreIPCError):
    _MODEL_NAME = "aws.greengrass#InvalidCredentialError"


class InvalidArtifactsDirectoryPathError(GreengrassCoreIPCError):
    _MODEL_NAME = "aws.greengrass#InvalidArtifactsDirectoryPathError"


class InvalidRecipeDirectoryPathError(GreengrassCoreIPCError):
    _MODEL_NAME = "aws.greengrass#InvalidRecipeDirectoryPathError"


class InvalidClientDeviceAuthTokenError(GreengrassCoreIPCError):
    _MODEL_NAME = "aws.greengrass#InvalidClientDeviceAuthTokenError"


class ShapeIndex:
    """Catalog of the shapes of this service, by model name."""

    def __init__(self, shape_types: typing.Sequence[typing.Type[rpc.Shape]]) -> None:
        self._by_name = {t._model_name(): t for t in shape_types}

    def find_shape_type(self, model_name: str) -> Optional[type]:
        """The shape class with the given model name, or None."""
        return self._by_name.get(model_name)


_ERROR_CLASSES = (
    ServiceError,
    UnauthorizedError,
    InvalidArgumentsError,
    ResourceNotFoundError,
    ComponentNotFoundError,
    ConflictError,
    FailedUpdateConditionCheckError,
    InvalidTokenError,
    InvalidCredentialError,
    InvalidArtifactsDirectoryPathError,
    InvalidRecipeDirectoryPathError,
    InvalidClientDeviceAuthTokenError,
)

SHAPE_INDEX = ShapeIndex(
    [
        UserProperty,
        MQTTMessage,
        IoTCoreMessage,
        PublishToIoTCoreRequest,
        PublishToIoTCoreResponse,
        SubscribeToIoTCoreRequest,
        SubscribeToIoTCoreResponse,
        *_ERROR_CLASSES,
    ]
)
