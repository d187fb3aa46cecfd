#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ggipc vs the official awsiotsdk, side by side, against the same nucleus, in one run.

    python bench/python/bench.py [--quick] [--json results.json] [--sdk ggipc --sdk awsiot]

Needs ``ggipc`` (and ``awsiotsdk`` for the comparison) installed in the running interpreter;
``scripts/test-python.sh`` builds a venv with both under ``build/venv-python``.

One nucleus process (``python -m ggipc.testing``, in-memory broker, recording off) serves every
client. Each SDK is measured in its own fresh process, one after the other:

* import RSS: VmRSS added by importing the SDK's greengrasscoreipc + clientv2 modules;
* sync publish/s: ``GreengrassCoreIPCClientV2.publish_to_iot_core`` in a loop (QoS 0, 64 B);
* pipelined publish/s: ``publish_to_iot_core_async`` with up to 1000 futures outstanding;
* events/s: IoTCoreMessage events delivered to a Python ``on_stream_event`` callback; the nucleus
  injects them in batches, at most two batches ahead of what the handler has acknowledged;
* threads: threads in the process while connected with one subscription open;
* context switches per sync publish: voluntary and involuntary switches of all the process' threads
  (``/proc/self/task/*/status``) over the sync loop, divided by its publishes: the thread wake-ups one
  synchronous round trip costs (about one when only the caller wakes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List

PAYLOAD = b"x" * 64
BATCH = 128  # events per injected batch (two batches in flight)


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def context_switches() -> int:
    """Voluntary + involuntary context switches of every thread of this process (thread wake-ups)."""
    total = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/status" % tid) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return total


# ------------------------------------------------------------------------------------------------
# worker: one SDK, one process


def worker(sdk: str, sock: str, token: str, n_sync: int, n_pipe: int, n_events: int) -> None:
    out = sys.stdout
    rss0 = rss_kib()
    t0 = time.perf_counter()
    if sdk == "ggipc":
        import ggipc.greengrasscoreipc as gg
        import ggipc.greengrasscoreipc.clientv2 as clientv2
    else:
        import awsiot.greengrasscoreipc as gg  # type: ignore[no-redef]
        import awsiot.greengrasscoreipc.clientv2 as clientv2  # type: ignore[no-redef]
    import_s = time.perf_counter() - t0
    rss_import = rss_kib() - rss0

    client = gg.connect(ipc_socket=sock, authtoken=token)
    c = clientv2.GreengrassCoreIPCClientV2(client=client)
    res: Dict[str, Any] = {"sdk": sdk, "import_rss_kib": rss_import, "import_s": round(import_s, 4)}

    for _ in range(200):
        c.publish_to_iot_core(topic_name="bench/sync", qos="0", payload=PAYLOAD)
    cs = context_switches()
    t = time.perf_counter()
    for _ in range(n_sync):
        c.publish_to_iot_core(topic_name="bench/sync", qos="0", payload=PAYLOAD)
    res["sync_publish_per_s"] = round(n_sync / (time.perf_counter() - t))
    res["sync_context_switches_per_op"] = round((context_switches() - cs) / n_sync, 2)

    window = 1000
    t = time.perf_counter()
    pending: List[Any] = []
    for _ in range(n_pipe):
        pending.append(c.publish_to_iot_core_async(topic_name="bench/pipe", qos="0", payload=PAYLOAD))
        if len(pending) >= window:
            for f in pending[: window // 2]:
                f.result(60)
            del pending[: window // 2]
    for f in pending:
        f.result(60)
    res["pipelined_publish_per_s"] = round(n_pipe / (time.perf_counter() - t))

    lock = threading.Lock()
    count = 0
    first = last = 0.0
    done = threading.Event()

    def on_event(ev: Any) -> None:
        nonlocal count, first, last
        assert ev.message.payload is not None
        with lock:
            count += 1
            n = count
            now = time.perf_counter()
            if n == 1:
                first = now
            last = now
        if n % BATCH == 0:
            out.write("ack\n")
            out.flush()
        if n == n_events:
            done.set()

    _, op = c.subscribe_to_iot_core(topic_name="bench/events", qos="0", on_stream_event=on_event)
    out.write("ready-events\n")
    out.flush()
    if not done.wait(300):
        res["events_error"] = "received %d of %d" % (count, n_events)
    res["events_per_s"] = round((count - 1) / (last - first)) if count > 1 and last > first else 0
    res["threads_connected"] = threads()
    res["rss_end_kib"] = rss_kib()
    op.close()
    c.close()
    out.write("result " + json.dumps(res) + "\n")
    out.flush()


# ------------------------------------------------------------------------------------------------
# parent: the nucleus, the workers, the table


def run_sdk(sdk: str, server: subprocess.Popen, info: Dict[str, str], args: argparse.Namespace) -> Dict[str, Any]:
    cmd = [
        sys.executable, os.path.abspath(__file__), "--worker", sdk, "--socket", info["socket"],
        "--token", info["svcuid"], "--n-sync", str(args.n_sync), "--n-pipe", str(args.n_pipe),
        "--n-events", str(args.n_events),
    ]
    w = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert w.stdout is not None and server.stdin is not None and server.stdout is not None

    def inject() -> None:
        server.stdin.write("inject bench/events %d %d\n" % (BATCH, len(PAYLOAD)))
        server.stdin.flush()
        reply = server.stdout.readline()
        if not reply.startswith("injected"):
            raise RuntimeError("nucleus: " + reply)

    result: Dict[str, Any] = {}
    sent = 0
    for line in w.stdout:
        line = line.strip()
        if line == "ready-events":
            for _ in range(2):
                if sent < args.n_events:
                    inject()
                    sent += BATCH
        elif line == "ack":
            if sent < args.n_events:
                inject()
                sent += BATCH
        elif line.startswith("result "):
            result = json.loads(line[len("result "):])
    w.wait(60)
    if w.returncode != 0 or not result:
        raise RuntimeError("%s worker failed (exit %s)" % (sdk, w.returncode))
    return result


def _best(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    best = dict(runs[0])
    for key in ("sync_publish_per_s", "pipelined_publish_per_s", "events_per_s"):
        best[key] = max(r.get(key, 0) for r in runs)
    for key in ("import_rss_kib", "threads_connected", "sync_context_switches_per_op"):
        best[key] = min(r.get(key, 0) for r in runs)
    best["rounds"] = runs
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker")
    ap.add_argument("--socket")
    ap.add_argument("--token")
    ap.add_argument("--sdk", action="append", help="ggipc and/or awsiot (default: both if installed)")
    ap.add_argument("--quick", action="store_true", help="smaller counts")
    ap.add_argument("--n-sync", type=int, default=20000)
    ap.add_argument("--n-pipe", type=int, default=100000)
    ap.add_argument("--n-events", type=int, default=100000)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure each SDK this many times, alternating, and keep each metric's best "
                         "(throughput: highest; RSS and threads: lowest) — load from other processes only "
                         "ever makes a figure worse")
    args = ap.parse_args()
    if args.quick:
        args.n_sync, args.n_pipe, args.n_events = 3000, 10000, 10240
    args.n_events -= args.n_events % BATCH
    if args.worker:
        worker(args.worker, args.socket, args.token, args.n_sync, args.n_pipe, args.n_events)
        return 0

    sdks = args.sdk or ["ggipc", "awsiot"]
    if not args.sdk:
        try:
            import awsiot.greengrasscoreipc  # noqa: F401
        except ImportError:
            print("awsiotsdk not installed: measuring ggipc only", file=sys.stderr)
            sdks = ["ggipc"]

    server = subprocess.Popen(
        [sys.executable, "-m", "ggipc.testing", "--no-record"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        rounds: Dict[str, List[Dict[str, Any]]] = {s: [] for s in sdks}
        for _ in range(max(1, args.rounds)):
            for s in sdks:
                rounds[s].append(run_sdk(s, server, info, args))
        results = [_best(rounds[s]) for s in sdks]
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(30)

    rows = [
        ("sync publish/s", "sync_publish_per_s", True),
        ("pipelined publish/s", "pipelined_publish_per_s", True),
        ("events/s to a handler", "events_per_s", True),
        ("import RSS (KiB)", "import_rss_kib", False),
        ("threads (connected, 1 sub)", "threads_connected", False),
        ("context switches/sync publish", "sync_context_switches_per_op", False),
    ]
    names = [r["sdk"] for r in results]
    print("%-28s" % "" + "".join("%14s" % n for n in names) + ("%12s" % "ratio" if len(results) == 2 else ""))
    for label, key, higher_better in rows:
        vals = [r.get(key, 0) for r in results]
        line = "%-28s" % label + "".join("%14s" % v for v in vals)
        if len(vals) == 2 and vals[1]:
            line += "%11.2fx" % (vals[0] / vals[1])
        print(line)
    for r in results:
        if "events_error" in r:
            print("%s: %s" % (r["sdk"], r["events_error"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"counts": {"sync": args.n_sync, "pipelined": args.n_pipe, "events": args.n_events,
                              "rounds": args.rounds},
                       "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
