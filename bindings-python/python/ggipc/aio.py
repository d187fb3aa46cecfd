# SPDX-License-Identifier: Apache-2.0
"""Native asyncio client (the official SDK has none).

Example::

    import asyncio
    from ggipc.aio import Client
    from ggipc.greengrasscoreipc.model import QOS

    async def main():
        async with await Client.connect() as client:
            await client.publish_to_iot_core(topic_name="my/topic", qos=QOS.AT_LEAST_ONCE, payload=b"hi")
            async with await client.subscribe_to_iot_core(topic_name="my/#", qos=QOS.AT_MOST_ONCE) as sub:
                async for message in sub:
                    print(message.message.topic_name, message.message.payload)

    asyncio.run(main())

Nothing blocks the event loop: waits happen in ggipc's runtime and complete asyncio futures
through ``loop.call_soon_threadsafe``. Events of a subscription are queued (bounded by
``max_queued``; when full, delivery waits, so the nucleus-side queue applies back-pressure).
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any, AsyncIterator, Deque, Dict, Generic, List, Optional, Type, TypeVar

from . import _core, _ggipc, _operation
from . import eventstreamrpc as rpc
from ._aio_operations import Operations

_S = TypeVar("_S")
_E = TypeVar("_E")

__all__ = ["Client", "Subscription", "connect"]


def _settle(fut: "asyncio.Future[Any]", value: Any, exc: Optional[BaseException]) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


class Client(Operations):
    """asyncio client of the Greengrass Core IPC service. Create with :meth:`connect`.

    Every operation of the model is a coroutine method (``await client.publish_to_iot_core(...)``);
    streaming ones return a :class:`Subscription`.
    """

    def __init__(self, native: "_ggipc.Client") -> None:
        self._native = native

    @classmethod
    async def connect(
        cls,
        *,
        ipc_socket: Optional[str] = None,
        authtoken: Optional[str] = None,
        timeout: Optional[float] = None,
        operation_timeout: Optional[float] = None,
        reconnect: bool = False,
    ) -> "Client":
        """Connect to the nucleus (socket and token default to the component's environment)."""
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[Any]" = loop.create_future()

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                loop.call_soon_threadsafe(_settle, fut, None, result)
            else:
                loop.call_soon_threadsafe(_settle, fut, result, None)

        _ggipc.Client.connect_async(
            done,
            _core.resolve_socket(ipc_socket),
            _core.resolve_token(authtoken),
            None if timeout is None else float(timeout),
            operation_timeout,
            reconnect,
            None,
        )
        return cls(await fut)

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (idempotent); open subscriptions end."""
        # Closing does not wait for the peer, so it is done right here (no executor thread needed).
        self._native.close()

    @property
    def is_connected(self) -> bool:
        """True while a connection is up."""
        return bool(self._native.is_connected)

    async def _call(self, name: str, payload: Dict[str, Any], response: Type[_S]) -> _S:
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[Any]" = loop.create_future()

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                loop.call_soon_threadsafe(_settle, fut, None, result)
            else:
                loop.call_soon_threadsafe(_settle, fut, result, None)

        self._native.call_async(done, name, payload)
        return _operation.decode(response, await fut)

    async def _stream(
        self, name: str, payload: Dict[str, Any], response: Type[_S], event: Type[_E], max_queued: int
    ) -> "Subscription[_E]":
        loop = asyncio.get_running_loop()
        sub: "Subscription[_E]" = Subscription(loop, max_queued, response(), event)
        fut: "asyncio.Future[Any]" = loop.create_future()

        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                loop.call_soon_threadsafe(_settle, fut, None, result)
            else:
                sub._native = result
                loop.call_soon_threadsafe(_settle, fut, result, None)

        self._native.stream_async(done, name, payload, sub._deliver)
        try:
            await fut
        except asyncio.CancelledError:
            sub.close_nowait()
            raise
        return sub


class Subscription(Generic[_E]):
    """A stream of a streaming operation: ``async for event in sub`` yields its event shape (e.g.
    :class:`~ggipc.greengrasscoreipc.model.IoTCoreMessage` for SubscribeToIoTCore) in order.

    Iteration ends when the stream closes normally (``close()``), and raises the error if the
    server or the connection ended it. ``response`` is the operation's response.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, max_queued: int, response: Any, event: Type[_E]) -> None:
        self._loop = loop
        self._native: Any = None
        self._max = max(1, int(max_queued))
        self._items: Deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._waiter: Optional["asyncio.Future[None]"] = None
        self._done = False
        self._closing = False
        self._error: Optional[BaseException] = None
        self.response = response
        self._event = event
        #: Messages dropped because this subscription was not read fast enough.
        self.dropped = 0

    # runs on the subscription's dispatcher thread
    def _deliver(self, batch: List[Any]) -> None:
        with self._cond:
            while len(self._items) >= self._max and not (self._done or self._closing or _core.EXITING.is_set()):
                self._cond.wait(0.05)
            self._items.extend(batch)
        self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def __aiter__(self) -> AsyncIterator[_E]:
        return self

    async def __anext__(self) -> _E:
        while True:
            with self._cond:
                item = self._items.popleft() if self._items else None
                if item is not None:
                    self._cond.notify()
            if item is None:
                if self._done:
                    if self._error is not None:
                        raise self._error
                    raise StopAsyncIteration
                self._waiter = self._loop.create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                continue
            kind, value = item
            if kind == _core.EV_MESSAGE:
                try:
                    return self._event._from_payload(value)  # type: ignore[attr-defined, no-any-return]
                except Exception as exc:
                    _core.logger.exception("undecodable stream event")
                    self._error = rpc.UnmappedDataError("invalid event body: %s" % exc)
                    continue
            if kind == _core.EV_UNDECODABLE:
                _core.logger.error("undecodable stream event: %s", value)
                self._error = rpc.UnmappedDataError("invalid event body: %s" % value)
                continue
            if kind == _core.EV_ERROR:
                self._error = value
            elif kind == _core.EV_CLOSED:
                self._done = True
                if value is not None and self._error is None:
                    self._error = value
                with self._cond:
                    self._cond.notify_all()
            elif kind == _core.EV_LAGGED:
                self.dropped += int(value)
                _core.logger.warning("subscription consumer too slow: %d message(s) dropped", value)
            # EV_INTERRUPTED / EV_RESUMED: the stream goes on (reconnect is under way / done)

    async def get(self, timeout: Optional[float] = None) -> _E:
        """The next message; raises ``asyncio.TimeoutError`` after ``timeout`` seconds."""
        return await asyncio.wait_for(self.__anext__(), timeout)

    def close_nowait(self) -> None:
        """Ask the server to end the stream (idempotent); iteration then finishes."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        n = self._native
        if n is not None:
            n.close()

    async def close(self) -> None:
        """End the subscription (idempotent)."""
        self.close_nowait()

    async def __aenter__(self) -> "Subscription[_E]":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def connect(**kwargs: Any) -> Client:
    """Shorthand for :meth:`Client.connect`."""
    return await Client.connect(**kwargs)


# re-exported for convenience
ConnectionClosedError = rpc.ConnectionClosedError
