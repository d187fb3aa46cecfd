"""The official awsiotsdk V2 client against a running ggipc server: sync publish/s, pipelined (async)
publish/s, events/s into a handler. Prints one JSON object.

    python awsiotsdk_v2.py SOCKET TOKEN [SECONDS]
"""
import json
import sys
import threading
import time

from awsiot.greengrasscoreipc import connect
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2


def main():
    socket, token = sys.argv[1], sys.argv[2]
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    c = GreengrassCoreIPCClientV2(client=connect(ipc_socket=socket, authtoken=token))
    for _ in range(200):
        c.publish_to_iot_core(topic_name="bench/sync", qos="0", payload=b"hello world")
    n, start, lat = 0, time.perf_counter(), []
    while time.perf_counter() - start < secs:
        t = time.perf_counter()
        c.publish_to_iot_core(topic_name="bench/sync", qos="0", payload=b"hello world")
        lat.append(time.perf_counter() - t)
        n += 1
    sync = n / (time.perf_counter() - start)
    lat.sort()

    window = 512
    n, start, inflight = 0, time.perf_counter(), []
    while time.perf_counter() - start < secs:
        while len(inflight) < window:
            inflight.append(c.publish_to_iot_core_async(topic_name="bench/pipe", qos="0", payload=b"hello world"))
        inflight.pop(0).result(10)
        n += 1
    for f in inflight:
        f.result(10)
        n += 1
    pipelined = n / (time.perf_counter() - start)

    sub = GreengrassCoreIPCClientV2(client=connect(ipc_socket=socket, authtoken=token))
    got = [0]
    lock = threading.Lock()

    def on_event(_):
        with lock:
            got[0] += 1

    _, op = sub.subscribe_to_iot_core(topic_name="bench/events", qos="0", on_stream_event=on_event)
    sent, start, inflight = 0, time.perf_counter(), []
    while time.perf_counter() - start < secs:
        while len(inflight) < window:
            inflight.append(c.publish_to_iot_core_async(topic_name="bench/events", qos="0", payload=b"hello world"))
        inflight.pop(0).result(10)
        sent += 1
    for f in inflight:
        f.result(10)
        sent += 1
    deadline = time.perf_counter() + 30
    while got[0] < sent and time.perf_counter() < deadline:
        time.sleep(0.001)
    events = got[0] / (time.perf_counter() - start)
    op.close()
    print(json.dumps({
        "awsiotsdk_v2_sync_publish_per_s": round(sync),
        "awsiotsdk_v2_sync_p50_us": round(lat[len(lat) // 2] * 1e6, 1),
        "awsiotsdk_v2_sync_p99_us": round(lat[int(len(lat) * 0.99)] * 1e6, 1),
        "awsiotsdk_v2_pipelined_publish_per_s": round(pipelined),
        "awsiotsdk_v2_events_per_s": round(events),
        "awsiotsdk_events_sent": sent, "awsiotsdk_events_received": got[0],
    }))
    sub.close()
    c.close()


if __name__ == "__main__":
    main()
