# SPDX-License-Identifier: Apache-2.0
"""A process that exits while events are still arriving, without closing anything, exits cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import sys, time
    import ggipc.greengrasscoreipc.clientv2 as clientv2
    c = clientv2.GreengrassCoreIPCClientV2()
    n = 0
    def on_event(ev):
        global n
        n += 1
    c.subscribe_to_iot_core(topic_name="flood", qos="0", on_stream_event=on_event)
    c.publish_to_iot_core_async(topic_name="flood/out", qos="0", payload=b"x")
    print("ready", flush=True)
    while n < 100:
        time.sleep(0.01)
    # exit with the subscription open, events still flowing, async work pending
""")


def test_exit_while_events_flow(nucleus):
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", CHILD], env=dict(os.environ),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        nucleus.wait_for_subscription("flood")
        while proc.poll() is None:
            nucleus.inject("flood", b"e")
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err.decode(errors="replace")
        assert b"Fatal" not in err and b"panic" not in err, err.decode(errors="replace")
