# SPDX-License-Identifier: Apache-2.0
"""fork(): a client made before the fork fails clearly in the child; a new one works."""

from __future__ import annotations

import os
import sys
import threading

import pytest

import ggipc.greengrasscoreipc.clientv2 as clientv2
from ggipc import eventstreamrpc as rpc

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")


def _in_child(fn) -> int:
    import warnings

    with warnings.catch_warnings():
        # Python 3.12 warns about fork() in a multi-threaded process; that is what this test is about
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = fn()
        except BaseException as e:  # noqa: BLE001
            print("child failed: %r" % (e,), file=sys.stderr)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8


def test_fork(nucleus):
    parent = clientv2.GreengrassCoreIPCClientV2()
    parent.publish_to_iot_core(topic_name="fork/parent", qos="0", payload=b"before")
    received = []
    got = threading.Event()

    def on_event(ev):
        received.append(ev.message.payload)
        got.set()

    _, op = parent.subscribe_to_iot_core(topic_name="fork/sub", qos="0", on_stream_event=on_event)

    def child() -> int:
        op.close()  # the parent's stream: must not be touched from the child
        try:
            parent.publish_to_iot_core(topic_name="fork/child-old", qos="0", payload=b"x")
            return 10  # must not work
        except rpc.ConnectionClosedError as e:
            if "fork" not in str(e):
                return 11
        fresh = clientv2.GreengrassCoreIPCClientV2()
        fresh.publish_to_iot_core(topic_name="fork/child", qos="0", payload=b"from child")
        fresh.close()
        return 0

    assert _in_child(child) == 0
    # the parent's subscription is intact
    assert nucleus.inject("fork/sub", b"still here") == 1
    assert got.wait(5)
    assert received == [b"still here"]
    # the parent's client is unaffected
    parent.publish_to_iot_core(topic_name="fork/parent", qos="0", payload=b"after")
    assert nucleus.wait_for_publish("fork/child").payload == b"from child"
    assert [p.payload for p in nucleus.published_to("fork/parent")] == [b"before", b"after"]
    assert nucleus.published_to("fork/child-old") == []
    parent.close()
