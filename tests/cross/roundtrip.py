# SPDX-License-Identifier: Apache-2.0
"""One IPC round trip through a running nucleus, as a component would do it: connect with the identity in the
environment (SVCUID, AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT), subscribe to a topic, publish to it,
and wait for the message to come back through the nucleus' MQTT broker. Run by scripts/test-cross.sh with the
wheel installed into a Python of the target architecture. Prints "N passed, N failed"."""

import platform
import sys
import threading

import ggipc
from ggipc.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

TOPIC = "cross/roundtrip/" + platform.machine()
PAYLOAD = ("hello from " + platform.machine()).encode()

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok:", name)
    else:
        failed += 1
        print("FAILED:", name, detail)


print("ggipc", getattr(ggipc, "__version__", "?"), "on", platform.machine(), sys.version.split()[0],
      "from", ggipc.__file__)
got = []
arrived = threading.Event()


def on_event(event):
    msg = event.message
    got.append((msg.topic_name, bytes(msg.payload)))
    arrived.set()


ipc = GreengrassCoreIPCClientV2()
try:
    ipc.subscribe_to_iot_core(topic_name=TOPIC, qos="1", on_stream_event=on_event)
    check("subscribe", True)
    ipc.publish_to_iot_core(topic_name=TOPIC, qos="1", payload=PAYLOAD)
    check("publish", True)
    # Bounded wait for the event (set by the handler), generous for emulation.
    check("message came back", arrived.wait(60), "no message within 60 s")
    check("topic and payload", got[:1] == [(TOPIC, PAYLOAD)], repr(got))
finally:
    ipc.close()
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
