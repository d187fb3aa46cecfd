# SPDX-License-Identifier: Apache-2.0
"""Long runs leave memory and threads flat (python-v2 #149, #429, #589).

The nucleus runs in a separate process so that only the client's memory is measured.
Figures are printed (run pytest with ``-s`` to see them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from conftest import rss_kib, thread_count

import ggipc.greengrasscoreipc as gg
import ggipc.greengrasscoreipc.clientv2 as clientv2

PUBLISHES = int(os.environ.get("GGIPC_SOAK_PUBLISHES", "100000"))
CYCLES = int(os.environ.get("GGIPC_SOAK_CYCLES", "1000"))


@pytest.fixture
def remote_nucleus():
    proc = subprocess.Popen(
        [sys.executable, "-m", "ggipc.testing", "--no-record"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        info = json.loads(proc.stdout.readline())
        yield info
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()


def _publish(c, n: int, window: int = 512) -> None:
    pending = []
    for i in range(n):
        pending.append(c.publish_to_iot_core_async(topic_name="soak/p", qos="0", payload=b"x" * 64))
        if len(pending) >= window:
            for f in pending:
                f.result(30)
            pending.clear()
    for f in pending:
        f.result(30)


def _cycles(c, n: int) -> None:
    for i in range(n):
        got = threading.Event()
        closed = threading.Event()
        _, op = c.subscribe_to_iot_core(
            topic_name="soak/s", qos="0", on_stream_event=lambda ev: got.set(), on_stream_closed=closed.set)
        # the in-memory broker loops a component's own publish back to it
        c.publish_to_iot_core(topic_name="soak/s", qos="0", payload=b"%d" % i)
        assert got.wait(10)
        op.close().result(10)
        assert closed.wait(10)


def test_rss_and_threads_stay_flat(remote_nucleus):
    client = gg.connect(ipc_socket=remote_nucleus["socket"], authtoken=remote_nucleus["svcuid"])
    c = clientv2.GreengrassCoreIPCClientV2(client=client)
    try:
        # warm up: allocator pools, runtime threads, caches
        _publish(c, 10_000)
        _cycles(c, 50)
        for _ in range(5):
            c.publish_to_iot_core(topic_name="soak/p", qos="1", payload=b"sync")
        rss0, threads0 = rss_kib(), thread_count()

        _publish(c, PUBLISHES)
        rss1 = rss_kib()
        _cycles(c, CYCLES)
        # the last dispatcher thread ends right after its on_stream_closed callback returned
        deadline = time.monotonic() + 5
        while thread_count() > threads0 and time.monotonic() < deadline:
            time.sleep(0.01)
        rss2, threads2 = rss_kib(), thread_count()

        print("\nsoak: RSS %d KiB after warm-up, %d KiB after %d publishes (%+d), %d KiB after %d "
              "subscribe/close cycles (%+d); threads %d -> %d"
              % (rss0, rss1, PUBLISHES, rss1 - rss0, rss2, CYCLES, rss2 - rss1, threads0, threads2))
        assert rss1 - rss0 < 4096, "publishes grew RSS by %d KiB" % (rss1 - rss0)
        assert rss2 - rss1 < 4096, "subscribe/close cycles grew RSS by %d KiB" % (rss2 - rss1)
        assert threads2 == threads0
    finally:
        c.close()


@pytest.mark.parametrize("reconnect", [False, True])
def test_a_closed_client_is_released(nucleus, reconnect):
    import gc
    import weakref

    from ggipc.eventstreamrpc import LifecycleHandler

    client = gg.connect(reconnect=reconnect, lifecycle_handler=LifecycleHandler())
    ref = weakref.ref(client.connection)
    client.close().result(5)
    del client
    deadline = time.monotonic() + 5
    while ref() is not None and time.monotonic() < deadline:
        nucleus.subscriptions()  # any call into the native module lets it release deferred references
        gc.collect()
        time.sleep(0.01)
    assert ref() is None, "the closed client is still referenced"
