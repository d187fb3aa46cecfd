"""Benchmark client for the performance report: a Python GreengrassCoreIPCClientV2 (official `awsiot` or `ggipc`).

    python py_client.py awsiot|ggipc PAYLOAD SYNC_N PIPE_N EV_N

Speaks the report's line protocol on stdin/stdout (see report.py): READY, MARK, PUMP, RESULT. With
GGIPC_BENCH_SERVICE=local it measures local pub/sub (PublishToTopic with a binary message, SubscribeToTopic)
instead of the MQTT proxy (PublishToIoTCore at QoS 0, SubscribeToIoTCore).
"""

import importlib
import json
import sys
import threading
import time

WINDOW = 256


def say(s):
    sys.stdout.write(s + "\n")
    sys.stdout.flush()


def main():
    pkg = sys.argv[1]
    size, sync_n, pipe_n, ev_n = (int(a) for a in sys.argv[2:6])
    clientv2 = importlib.import_module(pkg + ".greengrasscoreipc.clientv2")
    model = importlib.import_module(pkg + ".greengrasscoreipc.model")
    payload = b"x" * size
    import os

    local = os.environ.get("GGIPC_BENCH_SERVICE", "mqtt") == "local"

    pid = os.getpid()
    c = clientv2.GreengrassCoreIPCClientV2()
    lock = threading.Lock()
    stats = [0, None, None]

    def on_event(_event):
        now = time.perf_counter()
        with lock:
            stats[0] += 1
            if stats[1] is None:
                stats[1] = now
            stats[2] = now

    ev_topic = f"bench/ev/{pid}"
    if local:
        c.subscribe_to_topic(topic=ev_topic, on_stream_event=on_event)
        message = model.PublishMessage(binary_message=model.BinaryMessage(message=payload))

        def publish(topic):
            return c.publish_to_topic(topic=topic, publish_message=message)

        def publish_async(topic):
            return c.publish_to_topic_async(topic=topic, publish_message=message)
    else:
        c.subscribe_to_iot_core(topic_name=ev_topic, qos="0", on_stream_event=on_event)

        def publish(topic):
            return c.publish_to_iot_core(topic_name=topic, qos="0", payload=payload)

        def publish_async(topic):
            return c.publish_to_iot_core_async(topic_name=topic, qos="0", payload=payload)
    say(f"READY {ev_topic}")
    sys.stdin.readline()

    topic = f"bench/s/{pid}"
    lat = []
    for _ in range(sync_n):
        t = time.perf_counter()
        publish(topic)
        lat.append((time.perf_counter() - t) * 1e6)
    total = sum(lat) / 1e6
    lat.sort()

    def pct(p):
        return lat[round((len(lat) - 1) * p)] if lat else 0.0

    say("MARK pipe_start")
    sys.stdin.readline()
    t0 = time.perf_counter()
    window = []
    for _ in range(pipe_n):
        if len(window) >= WINDOW:
            window.pop(0).result(30)
        window.append(publish_async(topic))
    for f in window:
        f.result(30)
    pipe_rate = pipe_n / (time.perf_counter() - t0)
    say("MARK pipe_end")
    sys.stdin.readline()

    say(f"PUMP {ev_topic} {ev_n}")
    last_count, last_change = 0, time.monotonic()
    while True:
        time.sleep(0.02)
        with lock:
            n = stats[0]
        if n >= ev_n:
            break
        if n != last_count:
            last_count, last_change = n, time.monotonic()
        elif (n > 0 and time.monotonic() - last_change > 2) or time.monotonic() - last_change > 30:
            break
    with lock:
        n, first, last = stats
    ev_rate = (n - 1) / (last - first) if n > 1 and last > first else 0.0
    with open("/proc/self/status") as f:
        threads_end = next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
    say("RESULT " + json.dumps({"threads_end": threads_end,
        "sync_per_s": len(lat) / total if total else 0.0, "p50_us": pct(0.5), "p90_us": pct(0.9),
        "p99_us": pct(0.99), "pipelined_per_s": pipe_rate, "events_per_s": ev_rate, "events_received": n,
        "events_sent": ev_n}))
    import os as _os

    _os._exit(0)


if __name__ == "__main__":
    main()
