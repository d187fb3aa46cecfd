# SPDX-License-Identifier: Apache-2.0
"""V2 client: plain synchronous calls, ``_async`` variants returning futures, callbacks for streams.

Mirrors ``awsiot.greengrasscoreipc.clientv2``. By default (``executor=True``) stream callbacks run
on the subscription's ggipc dispatcher thread, in order, and may call the client again; no thread
pool is created. Pass an explicit ``concurrent.futures.Executor`` to run ``on_stream_event`` and
``on_stream_closed`` there instead (as the official SDK does), or ``None`` for the dispatcher thread.
"""

from __future__ import annotations

import concurrent.futures
import sys
import traceback
import typing
from typing import Any, Callable, List, Optional, Tuple, Union

from .. import _core
from . import client, model

__all__ = ["GreengrassCoreIPCClientV2"]


class GreengrassCoreIPCClientV2:
    """V2 client of the Greengrass Core IPC service. Call :meth:`close` when done.

    Args:
        client: a connected V1 client; if omitted, one is made with
            :func:`ggipc.greengrasscoreipc.connect` (socket and token from the environment).
        executor: where ``on_stream_event``/``on_stream_closed`` callbacks run: ``True`` (default)
            or ``None`` for the subscription's dispatcher thread (in order), or an Executor.
    """

    def __init__(
        self,
        client: Optional[client.GreengrassCoreIPCClient] = None,
        executor: Union[concurrent.futures.Executor, bool, None] = True,
    ) -> None:
        if client is None:
            from . import connect

            client = connect()
        self.client = client
        self.executor: Optional[concurrent.futures.Executor] = None if executor is True else executor  # type: ignore[assignment]
        self.ignore_executor_exceptions = False

    def close(self, *, executor_wait: bool = True) -> "concurrent.futures.Future[None]":
        """Close the connection and shut down the executor, if one was given.

        Args:
            executor_wait: wait for the executor to finish its tasks.
        """
        fut = self.client.close()
        self.ignore_executor_exceptions = True
        if self.executor is not None:
            self.executor.shutdown(wait=executor_wait)
        return fut

    def __enter__(self) -> "GreengrassCoreIPCClientV2":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- PublishToIoTCore ----------------------------------------------------------------

    def publish_to_iot_core(
        self,
        *,
        topic_name: Optional[str] = None,
        qos: Optional[str] = None,
        payload: Optional[Union[bytes, str]] = None,
        retain: Optional[bool] = None,
        user_properties: Optional[List[model.UserProperty]] = None,
        message_expiry_interval_seconds: Optional[int] = None,
        correlation_data: Optional[Union[bytes, str]] = None,
        response_topic: Optional[str] = None,
        payload_format: Optional[str] = None,
        content_type: Optional[str] = None,
    ) -> model.PublishToIoTCoreResponse:
        """Publish an MQTT message to AWS IoT Core and wait for the nucleus' answer.

        The GIL is released while waiting. Raises the modeled error (e.g. ``UnauthorizedError``)
        with the server's message, or a connection error; never waits longer than the
        connection's operation timeout.
        """
        self.client.connection.native.publish(
            topic_name,
            qos,
            payload,
            retain,
            _core._user_props(user_properties),
            message_expiry_interval_seconds,
            correlation_data,
            response_topic,
            payload_format,
            content_type,
        )
        return model.PublishToIoTCoreResponse()

    def publish_to_iot_core_async(
        self,
        *,
        topic_name: Optional[str] = None,
        qos: Optional[str] = None,
        payload: Optional[Union[bytes, str]] = None,
        retain: Optional[bool] = None,
        user_properties: Optional[List[model.UserProperty]] = None,
        message_expiry_interval_seconds: Optional[int] = None,
        correlation_data: Optional[Union[bytes, str]] = None,
        response_topic: Optional[str] = None,
        payload_format: Optional[str] = None,
        content_type: Optional[str] = None,
    ) -> "concurrent.futures.Future[model.PublishToIoTCoreResponse]":
        """Publish without waiting; the future completes with the response or the error."""
        fut: "concurrent.futures.Future[model.PublishToIoTCoreResponse]" = concurrent.futures.Future()
        fut.set_running_or_notify_cancel()

        def done(exc: Optional[BaseException]) -> None:
            if exc is None:
                fut.set_result(model.PublishToIoTCoreResponse())
            else:
                fut.set_exception(exc)

        self.client.connection.native.publish_async(
            done,
            topic_name,
            qos,
            payload,
            retain,
            _core._user_props(user_properties),
            message_expiry_interval_seconds,
            correlation_data,
            response_topic,
            payload_format,
            content_type,
        )
        return fut

    # -- SubscribeToIoTCore --------------------------------------------------------------

    def subscribe_to_iot_core(
        self,
        *,
        topic_name: Optional[str] = None,
        qos: Optional[str] = None,
        stream_handler: Optional[client.SubscribeToIoTCoreStreamHandler] = None,
        on_stream_event: Optional[Callable[[model.IoTCoreMessage], None]] = None,
        on_stream_error: Optional[Callable[[Exception], bool]] = None,
        on_stream_closed: Optional[Callable[[], None]] = None,
    ) -> Tuple[model.SubscribeToIoTCoreResponse, client.SubscribeToIoTCoreOperation]:
        """Subscribe and wait for the response; events then arrive through the callbacks.

        Returns ``(response, operation)``; call ``operation.close()`` to unsubscribe.
        ``stream_handler`` and the ``on_stream_*`` callbacks are mutually exclusive.
        ``on_stream_error`` returns True to close the stream, False to keep it open.
        """
        fut, op = self.subscribe_to_iot_core_async(
            topic_name=topic_name,
            qos=qos,
            stream_handler=stream_handler,
            on_stream_event=on_stream_event,
            on_stream_error=on_stream_error,
            on_stream_closed=on_stream_closed,
        )
        return fut.result(), op

    def subscribe_to_iot_core_async(
        self,
        *,
        topic_name: Optional[str] = None,
        qos: Optional[str] = None,
        stream_handler: Optional[client.SubscribeToIoTCoreStreamHandler] = None,
        on_stream_event: Optional[Callable[[model.IoTCoreMessage], None]] = None,
        on_stream_error: Optional[Callable[[Exception], bool]] = None,
        on_stream_closed: Optional[Callable[[], None]] = None,
    ) -> Tuple["concurrent.futures.Future[model.SubscribeToIoTCoreResponse]", client.SubscribeToIoTCoreOperation]:
        """Subscribe without waiting; returns ``(response future, operation)``."""
        handler = self._stream_handler(stream_handler, on_stream_event, on_stream_error, on_stream_closed)
        request = model.SubscribeToIoTCoreRequest(topic_name=topic_name, qos=qos)
        operation = self.client.new_subscribe_to_iot_core(handler)
        written = operation.activate(request)
        return _combine(written, operation.get_response()), operation

    # -- helpers -------------------------------------------------------------------------

    def _stream_handler(
        self,
        stream_handler: Optional[client.SubscribeToIoTCoreStreamHandler],
        on_stream_event: Optional[Callable[..., Any]],
        on_stream_error: Optional[Callable[..., Any]],
        on_stream_closed: Optional[Callable[..., Any]],
    ) -> client.SubscribeToIoTCoreStreamHandler:
        if stream_handler is not None and (
            on_stream_event is not None or on_stream_error is not None or on_stream_closed is not None
        ):
            raise ValueError("Must choose either stream_handler or on_stream_event/on_stream_error/on_stream_closed")
        if stream_handler is not None:
            if self.executor is None:
                return stream_handler
            on_stream_event = stream_handler.on_stream_event
            on_stream_error = stream_handler.on_stream_error
            on_stream_closed = stream_handler.on_stream_closed
        return _CallbackHandler(self, on_stream_event, on_stream_error, on_stream_closed)

    def _run(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.executor is None:
            fn(*args)
            return
        try:
            self.executor.submit(_traced(fn), *args)
        except RuntimeError:
            if not self.ignore_executor_exceptions:
                raise


def _traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception:
            traceback.print_exc(file=sys.stderr)
            raise

    return wrapper


class _CallbackHandler(client.SubscribeToIoTCoreStreamHandler):
    def __init__(
        self,
        owner: GreengrassCoreIPCClientV2,
        on_event: Optional[Callable[..., Any]],
        on_error: Optional[Callable[..., Any]],
        on_closed: Optional[Callable[..., Any]],
    ) -> None:
        self._owner = owner
        self._on_event = on_event
        self._on_error = on_error
        self._on_closed = on_closed

    def on_stream_event(self, event: model.IoTCoreMessage) -> None:
        if self._on_event is not None:
            self._owner._run(self._on_event, event)

    def on_stream_error(self, error: Exception) -> bool:
        if self._on_error is not None:
            return typing.cast(bool, self._on_error(error))
        return True

    def on_stream_closed(self) -> None:
        if self._on_closed is not None:
            self._owner._run(self._on_closed)


def _combine(first: "concurrent.futures.Future[Any]", second: "concurrent.futures.Future[Any]") -> "concurrent.futures.Future[Any]":
    """``second``, failed with ``first``'s exception if ``first`` fails."""

    def on_first(f: "concurrent.futures.Future[Any]") -> None:
        exc = f.exception()
        if exc is not None and not second.done():
            try:
                second.set_exception(exc)
            except Exception:
                pass

    first.add_done_callback(on_first)
    return second
