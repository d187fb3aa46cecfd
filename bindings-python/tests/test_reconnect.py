# SPDX-License-Identifier: Apache-2.0
"""connect(reconnect=True): a nucleus restart does not lose subscriptions (nucleus-lite #1172)."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import Recorder, make_handler, subscribe_v1, wait_until

import ggipc.greengrasscoreipc as gg
from ggipc import aio
from ggipc.testing import LocalNucleus


def test_v1_subscription_survives_a_nucleus_restart(ggipc_sdk, tmp_path):
    sock = str(tmp_path / "ipc.socket")
    first = LocalNucleus(component="com.example.R", socket_path=sock).start()
    token = first.svcuid
    client = gg.connect(reconnect=True, timeout=5, operation_timeout=5)
    try:
        states = []

        class H(Recorder):
            def on_stream_interrupted(self, error):
                states.append(("interrupted", type(error).__name__))

            def on_stream_resumed(self):
                states.append(("resumed",))

        h = make_handler(ggipc_sdk, H)
        subscribe_v1(ggipc_sdk, client, "r/#", h)
        first.inject("r/1", b"before")
        h.wait_events(1)
        first.stop()
        wait_until(lambda: states, what="interruption")
        second = LocalNucleus(component="com.example.R", socket_path=sock, svcuid=token).start()
        try:
            second.wait_for_subscription("r/#", timeout=15)
            wait_until(lambda: ("resumed",) in states, what="resumption")
            second.inject("r/2", b"after")
            events = h.wait_events(2)
            assert [e.message.payload for e in events] == [b"before", b"after"]
            assert states[0][0] == "interrupted"
            assert not h.closed.is_set()
            # publishing works again too
            op = client.new_publish_to_iot_core()
            from ggipc.greengrasscoreipc.model import PublishToIoTCoreRequest

            op.activate(PublishToIoTCoreRequest(topic_name="r/out", qos="1", payload=b"x"))
            op.get_response().result(10)
            assert second.wait_for_publish("r/out").payload == b"x"
        finally:
            client.close()
            second.stop()
    finally:
        first.stop()


@pytest.mark.asyncio
async def test_aio_iteration_continues_across_a_restart(tmp_path):
    sock = str(tmp_path / "ipc.socket")
    first = LocalNucleus(socket_path=sock).start()
    token = first.svcuid
    client = await aio.Client.connect(reconnect=True, operation_timeout=5)
    sub = await client.subscribe_to_iot_core(topic_name="a", qos="0")
    first.inject("a", b"1")
    assert (await sub.get(5)).message.payload == b"1"
    first.stop()
    second = LocalNucleus(socket_path=sock, svcuid=token).start()
    try:
        deadline = time.monotonic() + 15
        while not second.subscriptions() and time.monotonic() < deadline:
            await asyncio_sleep(0.02)
        assert second.inject("a", b"2") == 1
        assert (await sub.get(5)).message.payload == b"2"
    finally:
        await client.close()
        second.stop()


async def asyncio_sleep(s: float) -> None:
    import asyncio

    await asyncio.sleep(s)
