"""The embedded broker of `ggipc nucleus` against paho-mqtt (3.1.1 and 5): a QoS 1 message the client received
but did not acknowledge is sent again, DUP = 1 and with its packet id, when the client comes back with its
session; a message published while it was away follows. Usage: python embedded_sessions.py PATH_TO_GGIPC

The client's will tells when the broker has seen its connection end: a message published before that goes to the
old connection and comes back with DUP = 1, as it should, so the test waits for the will before publishing.
"""

import queue
import re
import socket
import subprocess
import sys
import tempfile
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

WAIT = 10.0


def start_nucleus(binary, root):
    proc = subprocess.Popen(
        [binary, "nucleus", "--root", root, "--mqtt-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        m = re.search(r"embedded MQTT broker on [0-9.]+:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    raise RuntimeError("the nucleus did not start:\n" + "".join(seen))


class Probe:
    """A paho client whose events land in queues."""

    def __init__(self, client_id, version, port, manual_ack, will_topic=None):
        self.events = queue.Queue()
        self.version = version
        kwargs = {"client_id": client_id, "protocol": version}
        if version == mqtt.MQTTv311:
            kwargs["clean_session"] = False
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, **kwargs)
        self.c.manual_ack_set(manual_ack)
        if will_topic is not None:
            self.c.will_set(will_topic, b"gone", qos=1)
        self.c.on_connect = lambda c, u, flags, rc, props: self.events.put(("connack", flags.session_present, rc))
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.events.put(("suback", mid))
        self.c.on_message = lambda c, u, msg: self.events.put(("msg", msg))
        if version == mqtt.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 600
            self.c.connect("127.0.0.1", port, keepalive=30, clean_start=False, properties=props)
        else:
            self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()

    def next(self, kind):
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind} within {WAIT} s")
            ev = self.events.get(timeout=left)
            if ev[0] == kind:
                return ev

    def drop(self):
        """Gone without DISCONNECT: the socket is shut, the network loop stopped."""
        sock = self.c.socket()
        sock.shutdown(socket.SHUT_RDWR)
        self.c.loop_stop()


def publish(port, topic, payload):
    p = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"paho-pub-{time.monotonic_ns()}")
    p.connect("127.0.0.1", port)
    p.loop_start()
    info = p.publish(topic, payload, qos=1)
    info.wait_for_publish(timeout=WAIT)
    assert info.is_published(), "PUBACK for the publisher"
    p.disconnect()
    p.loop_stop()


def resend_with_dup(port, version, name):
    cid = f"paho-{name}"
    topic = f"paho/{name}"
    will_topic = f"paho/{name}/will"
    watcher = Probe(f"paho-watch-{name}", version, port, manual_ack=False)
    watcher.next("connack")
    watcher.c.subscribe(will_topic, qos=1)
    watcher.next("suback")
    first = Probe(cid, version, port, manual_ack=True, will_topic=will_topic)
    assert first.next("connack")[1] is False, "a new session is not present"
    first.c.subscribe(topic, qos=1)
    first.next("suback")
    publish(port, topic, b"one")
    publish(port, topic, b"two")
    got = [first.next("msg")[1] for _ in range(2)]
    assert [m.payload for m in got] == [b"one", b"two"], [m.payload for m in got]
    assert not any(m.dup for m in got), "first delivery without DUP"
    first.drop()  # nothing acknowledged
    # The will is sent once the broker has taken the session offline; only then is it away.
    assert watcher.next("msg")[1].topic == will_topic, "the will of the dropped connection"
    publish(port, topic, b"three")
    again = Probe(cid, version, port, manual_ack=False)
    assert again.next("connack")[1] is True, "session present"
    msgs = [again.next("msg")[1] for _ in range(3)]
    assert [m.payload for m in msgs] == [b"one", b"two", b"three"], [m.payload for m in msgs]
    assert msgs[0].dup and msgs[1].dup, "sent again with DUP = 1"
    assert [m.mid for m in msgs[:2]] == [m.mid for m in got], "with their packet ids"
    assert not msgs[2].dup, "published while away: a first delivery, without DUP"
    for p in (again, watcher):
        p.c.disconnect()
        p.c.loop_stop()


def main():
    binary = sys.argv[1]
    passed = failed = 0
    with tempfile.TemporaryDirectory() as root:
        proc, port = start_nucleus(binary, root)
        try:
            for version, name in [(mqtt.MQTTv311, "v311"), (mqtt.MQTTv5, "v5")]:
                try:
                    resend_with_dup(port, version, name)
                    print(f"ok: paho {name}: QoS 1 resent with DUP after a reconnect with the session")
                    passed += 1
                except Exception as e:  # report and go on to the next case
                    print(f"FAILED: paho {name}: {e!r}")
                    failed += 1
        finally:
            proc.kill()
            proc.wait()
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
