# SPDX-License-Identifier: Apache-2.0
"""A component that forwards commands to telemetry: every local message on ``commands/<name>``
(PublishToTopic from another component) is published to AWS IoT Core on ``telemetry/<name>`` with
QoS 1 and the same payload. A forward that fails (a topic the policy does not allow, the broker
refusing it) is counted and logged; the component keeps forwarding.

Runs as a Greengrass component (``python3 forwarder.py``) and is tested without a device by
``test_forwarder.py`` with ``ggipc.testing``.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import List, Optional

import ggipc.greengrasscoreipc as greengrasscoreipc
from ggipc.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

COMMANDS = "commands/#"


class Forwarder:
    """Forwards ``commands/<name>`` to ``telemetry/<name>`` until :meth:`close`."""

    def __init__(self, ipc: Optional[GreengrassCoreIPCClientV2] = None) -> None:
        # reconnect=True: a nucleus restart does not end the component's subscription.
        self.ipc = ipc or GreengrassCoreIPCClientV2(client=greengrasscoreipc.connect(reconnect=True))
        self.errors: List[str] = []
        self.forwarded = 0
        self._done = threading.Condition()
        _, self._op = self.ipc.subscribe_to_topic(topic=COMMANDS, on_stream_event=self._on_command)

    def _on_command(self, event) -> None:
        if event.binary_message is not None:
            topic, payload = event.binary_message.context.topic, event.binary_message.message
        else:
            topic = event.json_message.context.topic
            payload = json.dumps(event.json_message.message).encode()
        name = topic[len("commands/"):]
        try:
            self.ipc.publish_to_iot_core(topic_name="telemetry/" + name, qos="1", payload=payload)
            with self._done:
                self.forwarded += 1
                self._done.notify_all()
        except Exception as e:  # the component reports and carries on
            print("forward of %s failed: %s" % (topic, e), file=sys.stderr, flush=True)
            with self._done:
                self.errors.append("%s: %s" % (type(e).__name__, e))
                self._done.notify_all()

    def wait_handled(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` commands were handled (forwarded or failed)."""
        with self._done:
            return self._done.wait_for(lambda: self.forwarded + len(self.errors) >= count, timeout)

    def close(self) -> None:
        self._op.close()
        self.ipc.close()


def main() -> None:
    forwarder = Forwarder()
    try:
        threading.Event().wait()
    finally:
        forwarder.close()


if __name__ == "__main__":
    main()
