# SPDX-License-Identifier: Apache-2.0
"""ggipc.aio: the native asyncio client (no official counterpart)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import SilentServer

from ggipc import aio
from ggipc.eventstreamrpc import ConnectionClosedError, OperationTimeoutError
from ggipc.greengrasscoreipc.model import QOS, IoTCoreMessage, PublishToIoTCoreResponse, UnauthorizedError

pytestmark = pytest.mark.asyncio


async def test_publish_and_subscribe(nucleus):
    async with await aio.Client.connect() as client:
        resp = await client.publish_to_iot_core(topic_name="aio/pub", qos=QOS.AT_LEAST_ONCE, payload=b"x")
        assert resp == PublishToIoTCoreResponse()
        assert nucleus.published_to("aio/pub")[0].payload == b"x"

        async with await client.subscribe_to_iot_core(topic_name="aio/sub/+", qos=QOS.AT_MOST_ONCE) as sub:
            for i in range(10):
                nucleus.inject("aio/sub/%d" % i, b"%d" % i)
            got = []
            async for ev in sub:
                assert isinstance(ev, IoTCoreMessage)
                got.append(ev.message.payload)
                if len(got) == 10:
                    break
            assert got == [b"%d" % i for i in range(10)]


async def test_concurrent_publishes_keep_their_order(nucleus):
    async with await aio.Client.connect() as client:
        await asyncio.gather(*[
            client.publish_to_iot_core(topic_name="aio/many", qos="0", payload=b"%d" % i) for i in range(2000)
        ])
        got = nucleus.wait_for_publishes("aio/many", count=2000)
        assert [p.payload for p in got] == [b"%d" % i for i in range(2000)]


async def test_a_slow_operation_does_not_block_the_loop(tmp_path):
    srv = SilentServer(str(tmp_path / "s.sock"), ack=True)  # answers CONNECT, then nothing
    try:
        client = await aio.Client.connect(ipc_socket=srv.path, authtoken="x", operation_timeout=0.5)
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        t = asyncio.ensure_future(ticker())
        with pytest.raises(OperationTimeoutError):
            await client.publish_to_iot_core(topic_name="t", qos="0", payload=b"x")
        t.cancel()
        assert ticks > 50
        await client.close()
    finally:
        srv.close()


async def test_errors_are_raised(nucleus):
    nucleus.add_component("com.example.AioLimited", {"aws.greengrass.ipc.mqttproxy": {
        "p": {"operations": ["*"], "resources": ["ok"]}}})
    client = await aio.connect(authtoken=nucleus._tokens["com.example.AioLimited"])
    try:
        with pytest.raises(UnauthorizedError) as ei:
            await client.publish_to_iot_core(topic_name="no", qos="0", payload=b"")
        assert ei.value.message == "Not Authorized"
        with pytest.raises(UnauthorizedError):
            await client.subscribe_to_iot_core(topic_name="no/#", qos="0")
    finally:
        await client.close()
    with pytest.raises(ConnectionClosedError):
        await client.publish_to_iot_core(topic_name="ok", qos="0", payload=b"")


async def test_iteration_ends_after_close(nucleus):
    async with await aio.Client.connect() as client:
        sub = await client.subscribe_to_iot_core(topic_name="aio/end", qos="0")
        nucleus.inject("aio/end", b"1")
        first = await sub.get(timeout=5)
        assert first.message.payload == b"1"
        await sub.close()
        rest = [ev async for ev in sub]
        assert rest == []


async def test_server_going_away_ends_iteration():
    from ggipc.testing import LocalNucleus

    n = LocalNucleus(component="com.example.AioStop").start()
    try:
        client = await aio.Client.connect()
        sub = await client.subscribe_to_iot_core(topic_name="x", qos="0")
    finally:
        n.stop()
    # the nucleus terminates open streams when it shuts down: iteration ends
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(sub.get(), 5)
    # the connection goes down right after the streams were terminated
    deadline = asyncio.get_running_loop().time() + 5
    while client.is_connected and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert not client.is_connected
    await client.close()
