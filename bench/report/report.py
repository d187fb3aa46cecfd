"""Performance report: every ggipc client beside its official counterpart, same run, same nucleus.

    python report.py [--rounds 5] [--quick] [--out docs/PERFORMANCE.md]

Started by scripts/perf-report.sh, which builds everything and passes in the environment: GGIPC_BIN (the ggipc
CLI), GGIPC_BENCH_BIN (bench/report/rust), GGIPC_PY (a Python with awsiotsdk, ggipc and matplotlib),
GGIPC_JAVA_OFFICIAL_CP / GGIPC_JAVA_GGIPC_CP (the Java client built against each SDK), GGIPC_CPP_BENCH_BIN
(bench/report/cpp).

One `ggipc nucleus` (embedded MQTT broker, the default; on a free port) serves every measurement. Each client is a fresh process speaking a line
protocol on stdin/stdout:

    client -> READY <topic>       connected, subscribed to <topic>   (runner: start-up time, RSS, threads)
    runner -> (empty line)        go: N_sync synchronous QoS 0 publishes, one at a time (latency percentiles)
    client -> MARK pipe_start     (runner: nucleus CPU time)          runner -> (empty line)
              N_pipe publishes with 256 in flight
    client -> MARK pipe_end       (runner: nucleus CPU time and RSS)  runner -> (empty line)
    client -> PUMP <topic> <n>    runner publishes n messages to <topic> with the Rust pump, as fast as the
                                  nucleus takes them; the client counts events reaching its handler
    client -> RESULT {json}        (threads_end: the client's own thread count once the events have run)

The same protocol measures local pub/sub when the client and the pump run with GGIPC_BENCH_SERVICE=local
(PublishToTopic with a binary message, SubscribeToTopic): the "Local pub/sub" section, --local-sizes.

Each configuration is run --rounds times with the clients in alternating order; every figure is the median.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COMPONENT = "bench.ReportClient"
RECIPE = {
    "RecipeFormatVersion": "2020-01-25",
    "ComponentName": COMPONENT,
    "ComponentVersion": "1.0.0",
    "ComponentConfiguration": {"DefaultConfiguration": {"accessControl": {
        "aws.greengrass.ipc.mqttproxy": {"bench:1": {"operations": ["*"], "resources": ["bench/#"]}},
        "aws.greengrass.ipc.pubsub": {"bench:2": {"operations": ["*"], "resources": ["bench/*"]}}}}},
    "Manifests": [{"Platform": {"os": "all"}, "Lifecycle": {"Run": "true"}}],
}
PAIRS = [  # (ggipc client, official counterpart)
    ("ggipc Rust", None),
    ("ggipc C++", None),
    ("ggipc Python V2", "official Python V2"),
    ("ggipc Java V2", "official Java V2"),
]
# The limit line: the bytes of a sync publish round trip between two processes that do nothing else, sleeping in
# the kernel between messages (blocking) or polling (spin).
LIMIT_MODES = ("blocking", "spin")
COLORS = {"ggipc Rust": "#1b9e77", "ggipc C++": "#e7298a", "ggipc Python V2": "#d95f02", "official Python V2": "#fdb863",
          "ggipc Java V2": "#7570b3", "official Java V2": "#b2abd2"}


def clients(env):
    py = env.get("GGIPC_PY")
    pyc = os.path.join(HERE, "py_client.py")
    java = shutil.which("java")
    out = [("ggipc Rust", [env["GGIPC_BENCH_BIN"], "client"])]
    if py:
        out += [("ggipc Python V2", [py, pyc, "ggipc"]), ("official Python V2", [py, pyc, "awsiot"])]
    if env.get("GGIPC_CPP_BENCH_BIN"):
        out.append(("ggipc C++", [env["GGIPC_CPP_BENCH_BIN"]]))
    if java and env.get("GGIPC_JAVA_GGIPC_CP"):
        out.append(("ggipc Java V2", [java, "-cp", env["GGIPC_JAVA_GGIPC_CP"], "benchreport.JavaClient"]))
    if java and env.get("GGIPC_JAVA_OFFICIAL_CP"):
        out.append(("official Java V2", [java, "-cp", env["GGIPC_JAVA_OFFICIAL_CP"], "benchreport.JavaClient"]))
    return out


# Where the processes run (--placement): "same" puts the nucleus, the client and the pump on one CPU, "split" the
# nucleus on one CPU and the client and the pump on another, "any" leaves it to the scheduler.
PLACEMENT = {"nucleus": None, "client": None}


def pinned(role):
    cpus = PLACEMENT[role]
    return None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))


def placements(name):
    """The CPU sets of the nucleus and of the client for a placement name (see --placement)."""
    cpus = sorted(os.sched_getaffinity(0))
    if name == "same" or (name == "split" and len(cpus) < 2):
        return {cpus[0]}, {cpus[0]}
    if name == "split":
        return {cpus[0]}, {cpus[1]}
    return set(cpus), set(cpus)


def place_process(pid, cpus):
    """Moves every thread of a running process to `cpus`."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass  # the thread ended


def proc_status(pid):
    rss = threads = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
    except OSError:
        pass
    return rss, threads


def cpu_seconds(pid):
    """CPU time of every thread of `pid`, in seconds (schedstat: nanoseconds, unlike stat's clock ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


class Nucleus:
    def __init__(self, env):
        self.tmp = tempfile.mkdtemp(prefix="ggipc-perf-")
        recipe = os.path.join(self.tmp, "recipe.json")
        with open(recipe, "w") as f:
            json.dump(RECIPE, f)
        root = os.path.join(self.tmp, "root")
        os.mkdir(root)
        self.log = open(os.path.join(self.tmp, "log"), "w")
        self.proc = subprocess.Popen([env["GGIPC_BIN"], "nucleus", "--root", root, "--recipe", recipe, "--broker",
                                      "embedded", "--mqtt-port", "0", "--log", "warn"], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, preexec_fn=pinned("nucleus"))
        self.socket = os.path.join(root, "ipc.socket")
        token = None
        end = time.monotonic() + 30
        while token is None and time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("nucleus exited")
            if os.path.exists(os.path.join(root, "components.json")):
                out = subprocess.run([env["GGIPC_BIN"], "env", "--root", root, COMPONENT], capture_output=True,
                                     text=True).stdout
                for line in out.splitlines():
                    if line.startswith("export SVCUID="):
                        token = line.split("=", 1)[1].strip().strip("'\"")
            if token is None:
                time.sleep(0.05)  # the nucleus writes components.json once it serves
        if token is None:
            raise RuntimeError("nucleus did not start")
        self.env = dict(os.environ, SVCUID=token, AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT=self.socket,
                        AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH=self.socket)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def expect(proc, prefix, timeout=120):
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not sel.select(max(0.0, end - time.monotonic())):
            break
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"client exited while waiting for {prefix}: {proc.stderr.read()[-500:]}")
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    raise RuntimeError(f"timed out waiting for {prefix}")


def run_client(env, nucleus, cmd, size, sync_n, pipe_n, ev_n, service="mqtt"):
    t0 = time.monotonic()
    cenv = dict(nucleus.env, GGIPC_BENCH_SERVICE=service)
    p = subprocess.Popen(cmd + [str(size), str(sync_n), str(pipe_n), str(ev_n)], env=cenv, text=True,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=pinned("client"))
    try:
        expect(p, "READY ")
        startup = time.monotonic() - t0
        rss, threads = proc_status(p.pid)
        p.stdin.write("\n")
        p.stdin.flush()
        expect(p, "MARK pipe_start")
        c0 = cpu_seconds(nucleus.proc.pid)
        p.stdin.write("\n")
        p.stdin.flush()
        expect(p, "MARK pipe_end")
        c1 = cpu_seconds(nucleus.proc.pid)
        nrss, _ = proc_status(nucleus.proc.pid)
        p.stdin.write("\n")
        p.stdin.flush()
        topic, n = expect(p, "PUMP ").split()
        subprocess.run([env["GGIPC_BENCH_BIN"], "pump", topic, str(size), n], env=cenv, check=True,
                       capture_output=True, timeout=120, preexec_fn=pinned("client"))
        r = json.loads(expect(p, "RESULT "))
    finally:
        if p.poll() is None:
            p.kill()
        p.wait()
    r.update(startup_s=startup, rss_kib=rss, threads=threads, nucleus_rss_kib=nrss,
             nucleus_cpu_ms_per_10k=(c1 - c0) * 1000 / pipe_n * 10000)
    return r


def counts(size, quick):
    budget = (8 if quick else 32) << 20  # bytes per phase
    base = (500, 1000, 1000) if quick else (2000, 5000, 5000)
    return tuple(max(100, min(n, budget // max(size, 1))) for n in base)


def median_of(runs, key):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else float("nan")


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1048576:.1f} GiB RAM"
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {mem}, Linux {platform.release()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", default="64,1024,16384,131072")
    ap.add_argument("--components", default="1,10,100,1000")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "PERFORMANCE.md"))
    ap.add_argument("--raw", default=os.path.join(ROOT, "build", "perf", "raw.json"))
    ap.add_argument("--no-limit", action="store_true", help="skip the limit lines")
    ap.add_argument("--no-plots", action="store_true", help="write the tables only (no matplotlib needed)")
    ap.add_argument("--clients", default="", help="comma-separated client names to measure (default: all)")
    ap.add_argument("--local-sizes", default="64,16384",
                    help="payload sizes of the local pub/sub runs (PublishToTopic); empty: none")
    ap.add_argument("--only-local", action="store_true",
                    help="measure local pub/sub only (no MQTT-proxy sizes, components or limit lines)")
    ap.add_argument("--placement", choices=("same", "split", "any"), default="split",
                    help="CPUs: 'same' runs the nucleus, the client and the pump on one CPU, 'split' the nucleus on "
                         "one and the client and the pump on another, 'any' leaves it to the scheduler")
    ap.add_argument("--placements", default="same,any",
                    help="other placements to measure 64 B sync publishes in (the 'Where the processes run' table); "
                         "empty: none")
    args = ap.parse_args()
    if args.placement != "any":
        n_cpus, c_cpus = placements(args.placement)
        PLACEMENT.update(nucleus=n_cpus, client=c_cpus)
    extra = [p for p in args.placements.split(",") if p and p != args.placement]
    if args.only_local:
        args.sizes, args.components, args.no_limit = "", "", True
    env = os.environ
    cl = clients(env)
    if args.clients:
        wanted = [c.strip() for c in args.clients.split(",")]
        cl = [c for c in cl if c[0] in wanted]
    sizes = [int(s) for s in args.sizes.split(",") if s]
    comps = [int(s) for s in args.components.split(",") if s]
    local_sizes = [int(s) for s in args.local_sizes.split(",") if s]
    started = time.monotonic()
    load0 = os.getloadavg()
    nucleus = Nucleus(env)
    by_size = {}  # (client, size) -> [runs]
    by_comp = {}  # (client, components) -> [runs]
    ping = {}  # (size, "blocking" | "spin") -> [runs]
    by_local = {}  # (client, size) -> [runs], local pub/sub
    by_place = {}  # (client, placement) -> [runs], 64 B, the other placements
    try:
        for rnd in range(args.rounds):
            order = cl if rnd % 2 == 0 else list(reversed(cl))
            for size in sizes:
                n = counts(size, args.quick)
                for mode in () if args.no_limit else LIMIT_MODES:
                    # the ping process where the client runs, the pong process where the nucleus runs
                    penv = dict(env, GGIPC_PONG_CPUS=",".join(map(str, sorted(PLACEMENT["nucleus"] or []))))
                    out = subprocess.run([env["GGIPC_BENCH_BIN"], "pingpong", str(size), str(n[0] * 5), mode],
                                         capture_output=True, text=True, check=True, timeout=300, env=penv,
                                         preexec_fn=pinned("client")).stdout
                    ping.setdefault((size, mode), []).append(json.loads(out.split("RESULT ", 1)[1]))
                for name, cmd in order:
                    r = run_client(env, nucleus, cmd, size, *n)
                    by_size.setdefault((name, size), []).append(r)
                    print(f"round {rnd + 1} size {size:6} {name:20} sync {r['sync_per_s']:9.0f}/s p50 "
                          f"{r['p50_us']:7.1f} us  pipelined {r['pipelined_per_s']:9.0f}/s  events "
                          f"{r['events_per_s']:9.0f}/s", flush=True)
            if extra and sizes:
                main_place = dict(PLACEMENT)
                n = counts(64, args.quick)
                for p in extra:
                    n_cpus, c_cpus = placements(p)
                    PLACEMENT.update(nucleus=None if p == "any" else n_cpus, client=None if p == "any" else c_cpus)
                    place_process(nucleus.proc.pid, n_cpus)
                    for name, cmd in order:
                        r = run_client(env, nucleus, cmd, 64, *n)
                        by_place.setdefault((name, p), []).append(r)
                        print(f"round {rnd + 1} place {p:5} {name:20} sync {r['sync_per_s']:9.0f}/s p50 "
                              f"{r['p50_us']:7.1f} us", flush=True)
                PLACEMENT.update(main_place)
                place_process(nucleus.proc.pid, main_place["nucleus"] or set(os.sched_getaffinity(0)))
            for size in local_sizes:
                n = counts(size, args.quick)
                for name, cmd in order:
                    r = run_client(env, nucleus, cmd, size, *n, service="local")
                    by_local.setdefault((name, size), []).append(r)
                    print(f"round {rnd + 1} local {size:5} {name:20} sync {r['sync_per_s']:9.0f}/s p50 "
                          f"{r['p50_us']:7.1f} us  pipelined {r['pipelined_per_s']:9.0f}/s  events "
                          f"{r['events_per_s']:9.0f}/s", flush=True)
            for k in comps:
                # a fresh nucleus per point, so its RSS shows k components and not an earlier high-water mark
                fresh = Nucleus(env)
                idle = None
                if k > 1:
                    idle = subprocess.Popen([env["GGIPC_BENCH_BIN"], "idle", str(k - 1)], env=fresh.env,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                    expect(idle, "IDLE ", timeout=300)
                try:
                    n = counts(64, args.quick)
                    for name, cmd in order:
                        r = run_client(env, fresh, cmd, 64, *n)
                        by_comp.setdefault((name, k), []).append(r)
                        print(f"round {rnd + 1} comps {k:5} {name:20} sync {r['sync_per_s']:9.0f}/s p50 "
                              f"{r['p50_us']:7.1f} us  pipelined {r['pipelined_per_s']:9.0f}/s  nucleus "
                              f"{r['nucleus_rss_kib'] / 1024:.1f} MiB", flush=True)
                finally:
                    if idle is not None:
                        idle.stdin.close()
                        idle.wait(60)
                    fresh.stop()
    finally:
        nucleus.stop()
    elapsed = time.monotonic() - started
    write(args, cl, sizes, comps, by_size, by_comp, ping, elapsed, load0, local_sizes, by_local, extra, by_place)


def fmt(v, digits=0):
    if v != v:  # NaN
        return "—"
    return f"{v:,.{digits}f}"


def plots(img, cl, sizes, comps, by_size, by_comp, ping):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n, _ in cl]
    files = {}

    def style(name):
        return dict(color=COLORS.get(name), marker="o", linestyle="-" if name.startswith("ggipc") else "--")

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for ax, key, title in zip(axes, ("p50_us", "p90_us", "p99_us"), ("p50", "p90", "p99")):
        for name in names:
            ax.plot(sizes, [median_of(by_size[(name, s)], key) for s in sizes], label=name, **style(name))
        for mode, ls in zip(LIMIT_MODES, (":", "-.")):
            ax.plot(sizes, [median_of(ping.get((s, mode), []), key) for s in sizes], label=f"limit ({mode})", color="black",
                    linestyle=ls)
        ax.set(xscale="log", yscale="log", xlabel="payload (bytes)", ylabel="µs", title=f"sync publish latency {title}")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    files["latency_payload"] = "perf-latency-vs-payload.png"
    fig.savefig(os.path.join(img, files["latency_payload"]), dpi=90)
    plt.close(fig)

    for axis, data, keys, fname, xlabel in (
            ("payload", by_size, sizes, "perf-throughput-vs-payload.png", "payload (bytes)"),
            ("components", by_comp, comps, "perf-throughput-vs-components.png", "connected components")):
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
        for ax, key, title in zip(axes, ("sync_per_s", "pipelined_per_s", "events_per_s"),
                                  ("sync publishes/s", "pipelined publishes/s (256 in flight)",
                                   "events/s into the handler")):
            for name in names:
                ax.plot(keys, [median_of(data[(name, k)], key) for k in keys], label=name, **style(name))
            if key == "sync_per_s":
                for mode, ls in zip(LIMIT_MODES, (":", "-.")):
                    if axis == "payload":
                        ax.plot(keys, [median_of(ping.get((s, mode), []), "per_s") for s in keys], label=f"limit ({mode})",
                                color="black", linestyle=ls)
                    elif (64, mode) in ping:
                        ax.axhline(median_of(ping[(64, mode)], "per_s"), color="black", linestyle=ls,
                                   label=f"limit ({mode}, 64 B)")
            ax.set(xscale="log", yscale="log", xlabel=xlabel, ylabel="per second", title=title)
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        files[f"throughput_{axis}"] = fname
        fig.savefig(os.path.join(img, fname), dpi=90)
        plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    for name in names:
        axes[0].plot(comps, [median_of(by_comp[(name, k)], "p50_us") for k in comps], label=name + " p50",
                     **style(name))
        axes[0].plot(comps, [median_of(by_comp[(name, k)], "p99_us") for k in comps], alpha=0.5,
                     color=COLORS.get(name), marker="x", linestyle=":")
    axes[0].set(xscale="log", yscale="log", xlabel="connected components", ylabel="µs",
                title="sync publish latency p50 (line) / p99 (dotted)")
    axes[0].legend(fontsize=8)
    axes[1].plot(comps, [statistics.median([median_of(by_comp[(n, k)], "nucleus_rss_kib") for n in names]) / 1024
                         for k in comps], marker="o", color="black")
    axes[1].set(xscale="log", xlabel="connected components", ylabel="MiB", title="nucleus RSS")
    for name in names:
        axes[2].plot(comps, [median_of(by_comp[(name, k)], "nucleus_cpu_ms_per_10k") for k in comps], label=name,
                     **style(name))
    axes[2].set(xscale="log", xlabel="connected components", ylabel="ms CPU",
                title="nucleus CPU per 10,000 pipelined publishes")
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    files["components"] = "perf-latency-nucleus-vs-components.png"
    fig.savefig(os.path.join(img, files["components"]), dpi=90)
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    for ax, key, title, scale in zip(axes, ("rss_kib", "threads_end", "startup_s"),
                                     ("client RSS when connected (MiB)", "client threads after events",
                                      "start-up: process start → connected and subscribed (ms)"),
                                     (1 / 1024, 1, 1000)):
        vals = [median_of(by_size[(n, 64)], key) * scale for n in names]
        ax.barh(names, vals, color=[COLORS.get(n) for n in names])
        ax.set(title=title)
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    files["resources"] = "perf-client-resources.png"
    fig.savefig(os.path.join(img, files["resources"]), dpi=90)
    plt.close(fig)
    return files


def local_section(names, local_sizes, by_local):
    """The local pub/sub tables: every client at each size, then each ggipc client against its official one."""
    L = ["", "## Local pub/sub (PublishToTopic / SubscribeToTopic)", "",
         "The same runs with `PublishToTopic` (a binary message) for the sync and pipelined publishes and "
         "`SubscribeToTopic` for the events (the Rust pump publishes with `PublishToTopic` too), on the same nucleus.", "",
         "| client | payload B | sync/s | p50 µs | p99 µs | pipelined/s | events/s | events received/sent |",
         "|---|---|---|---|---|---|---|---|"]
    for n in names:
        for s in local_sizes:
            rs = by_local.get((n, s))
            if not rs:
                continue
            L.append(f"| {n} | {s} | {fmt(median_of(rs, 'sync_per_s'))} | {fmt(median_of(rs, 'p50_us'), 1)} | "
                     f"{fmt(median_of(rs, 'p99_us'), 1)} | {fmt(median_of(rs, 'pipelined_per_s'))} | "
                     f"{fmt(median_of(rs, 'events_per_s'))} | {fmt(median_of(rs, 'events_received'))}/"
                     f"{fmt(median_of(rs, 'events_sent'))} |")
    L += ["", "### Local pub/sub: ggipc against its official counterpart (ratio = ggipc / official)", "",
          "| pair | payload B | sync/s | p50 latency | pipelined/s | events/s |", "|---|---|---|---|---|---|"]
    for ours, theirs in PAIRS:
        for s in local_sizes:
            if theirs is None or (ours, s) not in by_local or (theirs, s) not in by_local:
                continue
            a, b = by_local[(ours, s)], by_local[(theirs, s)]

            def ratio(key):
                x, y = median_of(a, key), median_of(b, key)
                return f"{x / y:.2f}×" if y else "—"

            L.append(f"| {ours} / {theirs} | {s} | {ratio('sync_per_s')} | {ratio('p50_us')} | "
                     f"{ratio('pipelined_per_s')} | {ratio('events_per_s')} |")
    return L


def placement_section(names, args, extra, by_size, by_place):
    """64 B sync publishes with the processes placed otherwise than in the other tables."""
    if not extra or 64 not in {s for _, s in by_size}:
        return []
    L = ["## Where the processes run (64 B sync publish)", "",
         "The other tables run with `--placement " + args.placement + "`. A sync round trip wakes the nucleus and "
         "then the client; what a wake-up costs depends on where they run, so the same clients are measured here "
         "placed otherwise on the same nucleus. *same*: the nucleus, the client and the pump on one CPU (a wake-up is "
         "a context switch). *split*: the nucleus on one CPU, the client on another (a wake-up may have to wake an "
         "idle CPU, which in a virtual machine costs tens of microseconds). *any*: the scheduler decides, run by run; "
         "its figures are the least repeatable.", "",
         "| client | " + " | ".join(f"{p} sync/s | {p} p50 µs" for p in [args.placement] + extra) + " |",
         "|---|" + "---|---|" * (1 + len(extra))]
    for name in names:
        cells = []
        for p in [args.placement] + extra:
            rs = by_size.get((name, 64), []) if p == args.placement else by_place.get((name, p), [])
            cells += [fmt(median_of(rs, "sync_per_s")), fmt(median_of(rs, "p50_us"), 1)]
        L.append(f"| {name} | " + " | ".join(cells) + " |")
    return L + [""]


def write(args, cl, sizes, comps, by_size, by_comp, ping, elapsed, load0, local_sizes=(), by_local=None, extra=(),
          by_place=None):
    names = [n for n, _ in cl]
    if not sizes:
        # --only-local: the local pub/sub tables alone.
        L = ["# Performance: local pub/sub", "",
             f"* Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} min.",
             f"* Machine: {machine()}; load average at start {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}.",
             f"* Every figure is the median of {args.rounds} runs; counts per run{' (--quick)' if args.quick else ''}: "
             + ", ".join(f"{s} B: {'/'.join(str(x) for x in counts(s, args.quick))}" for s in local_sizes) + "."]
        L += local_section(names, local_sizes, by_local or {})
        with open(args.out, "w") as f:
            f.write("\n".join(L) + "\n")
        os.makedirs(os.path.dirname(os.path.abspath(args.raw)), exist_ok=True)
        with open(args.raw, "w") as f:
            json.dump({"local": {f"{k[0]}|{k[1]}": v for k, v in (by_local or {}).items()}}, f, indent=1)
        print(f"wrote {args.out}")
        return
    img = os.path.join(os.path.dirname(args.out), "img")
    os.makedirs(img, exist_ok=True)
    if args.no_plots:
        files = {k: f"perf-{k}.png" for k in ("latency_payload", "throughput_payload", "throughput_components",
                                               "components", "resources")}
    else:
        files = plots(img, cl, sizes, comps, by_size, by_comp, ping)
    names = [n for n, _ in cl]
    L = ["# Performance", "",
         "Generated by `scripts/perf-report.sh` (`bench/report/report.py`); do not edit by hand.", "",
         f"* Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} min.",
         f"* Machine: {machine()}; load average at start {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}"
         " (1 / 5 / 15 min).",
         f"* Every figure is the **median of {args.rounds} runs**; each run is a fresh client process, clients in "
         "alternating order, all against **one** `ggipc nucleus` with its default embedded MQTT broker (release build; "
         "`--broker memory` is not used because it records every publish, see docs/CONFORMANCE.md).",
         f"* Counts per run{' (--quick)' if args.quick else ''}: sync / pipelined / events = "
         + ", ".join(f"{s} B: {'/'.join(str(x) for x in counts(s, args.quick))}" for s in sizes) + ".",
         "* Sync publish: `publish_to_iot_core` (QoS 0) called one at a time and waited for, on the client's "
         "synchronous API (Rust `blocking::Client`, Python and Java `GreengrassCoreIPCClientV2`). Pipelined: the "
         "async API with 256 publishes in flight. Events: a Rust pump publishes to the client's subscription as "
         "fast as the nucleus takes them; the rate counts events reaching the client's handler (first to last), "
         "and events a slow client could not take are dropped by the nucleus (bounded queues), shown as received/sent.",
         "* Limit lines (`ggipc-bench-report pingpong`): two processes over a Unix socket exchange exactly the bytes "
         "of a sync publish round trip (the encoded request frame for the payload size, the encoded response frame) "
         "and do nothing else: no parsing, no JSON, no broker. *blocking*: both sleep in the kernel between messages "
         "(two wake-ups per round trip, as the nucleus' event loop and a client that sleeps at once have). *spin*: "
         "both poll non-blocking sockets (no wake-ups; two busy CPUs). ggipc's synchronous calls poll for their reply "
         "for up to 50 µs before they sleep (`GGIPC_SPIN_WAIT_US`, README), so they sit between the two lines. A "
         "client's sync rate is also shown as a fraction of the blocking line (\"of limit\").",
         f"* Placement (`--placement {args.placement}`): " + {
             "split": "the nucleus runs on one CPU, each client and the pump on another (pinned), so every run "
                      "places the processes alike; the limit lines' two processes are placed the same way.",
             "same": "the nucleus, each client and the pump run on one CPU (pinned).",
             "any": "the scheduler places the processes, run by run (figures vary most)."}[args.placement]
         + (" The section \"Where the processes run\" measures 64 B sync publishes placed otherwise." if extra
            else ""),
         "* Connected components: a fresh nucleus per point, N−1 extra connections held open by a helper process, "
         "each with one subscription (one identity), then the clients measured at 64 B; nucleus RSS is read after "
         "each client's pipelined phase.",
         "* The official C++ SDK is not built here, so ggipc C++ has no counterpart in this report "
         "(its side-by-side benchmark is `bench/cpp/run.sh`).", ""]
    L += ["## Against payload size", "", f"![latency]( img/{files['latency_payload']})".replace("( ", "("), "",
          f"![throughput](img/{files['throughput_payload']})", ""]
    L += ["| payload | client | sync/s | of limit | p50 µs | p90 µs | p99 µs | pipelined/s | events/s (received/sent) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for s in sizes:
        for mode in LIMIT_MODES:
            pr = ping.get((s, mode), [])
            if not pr:
                continue
            frames = f"{pr[0].get('request_bytes', 0):,} + {pr[0].get('response_bytes', 0):,} B"
            L.append(f"| {s:,} B | *limit, {mode}* ({frames}) | {fmt(median_of(pr, 'per_s'))} | | "
                     f"{fmt(median_of(pr, 'p50_us'), 1)} | {fmt(median_of(pr, 'p90_us'), 1)} | "
                     f"{fmt(median_of(pr, 'p99_us'), 1)} | | |")
        limit = median_of(ping.get((s, "blocking"), []), "per_s")
        for n in names:
            rs = by_size[(n, s)]
            share = median_of(rs, 'sync_per_s') / limit if limit == limit and limit else float("nan")
            L.append(f"| {s:,} B | {n} | {fmt(median_of(rs, 'sync_per_s'))} | {fmt(share * 100)} % | "
                     f"{fmt(median_of(rs, 'p50_us'), 1)} | "
                     f"{fmt(median_of(rs, 'p90_us'), 1)} | {fmt(median_of(rs, 'p99_us'), 1)} | "
                     f"{fmt(median_of(rs, 'pipelined_per_s'))} | {fmt(median_of(rs, 'events_per_s'))} "
                     f"({fmt(median_of(rs, 'events_received'))}/{fmt(median_of(rs, 'events_sent'))}) |")
    L += [""] + placement_section(names, args, extra, by_size, by_place or {})
    L += ["## Against connected components (64 B)", "", f"![throughput](img/{files['throughput_components']})",
          "", f"![components](img/{files['components']})", "",
          "| components | client | sync/s | p50 µs | p99 µs | pipelined/s | events/s | nucleus RSS MiB | "
          "nucleus CPU ms / 10k publishes |", "|---|---|---|---|---|---|---|---|---|"]
    for k in comps:
        for n in names:
            rs = by_comp[(n, k)]
            L.append(f"| {k:,} | {n} | {fmt(median_of(rs, 'sync_per_s'))} | {fmt(median_of(rs, 'p50_us'), 1)} | "
                     f"{fmt(median_of(rs, 'p99_us'), 1)} | {fmt(median_of(rs, 'pipelined_per_s'))} | "
                     f"{fmt(median_of(rs, 'events_per_s'))} | {fmt(median_of(rs, 'nucleus_rss_kib') / 1024, 1)} | "
                     f"{fmt(median_of(rs, 'nucleus_cpu_ms_per_10k'), 1)} |")
    if comps and comps[0] == 1:
        L += ["", "### Fan-out: against 1 connected component", "",
              "Nucleus CPU per 10,000 pipelined publishes and the sync publish rate with k components, each as a "
              "ratio to the same client's 1-component figure (the N−1 idle components' subscriptions match none of "
              "the publishes: the cost measured is finding that out).", "",
              "| components | client | nucleus CPU ms / 10k | CPU ratio to 1 | sync/s | sync ratio to 1 |",
              "|---|---|---|---|---|---|"]
        for k in comps:
            for n in names:
                rs, r1 = by_comp[(n, k)], by_comp[(n, 1)]
                cpu, cpu1 = median_of(rs, "nucleus_cpu_ms_per_10k"), median_of(r1, "nucleus_cpu_ms_per_10k")
                sy, sy1 = median_of(rs, "sync_per_s"), median_of(r1, "sync_per_s")
                L.append(f"| {k:,} | {n} | {fmt(cpu, 1)} | {cpu / cpu1:.2f}× | {fmt(sy)} | {sy / sy1:.2f}× |")
    L += ["", "## Client resources (64 B runs, 1 component)", "", f"![resources](img/{files['resources']})", "",
          "| client | RSS MiB (connected, 1 subscription) | threads connected | threads after events | start-up ms "
          "(process start → connected and subscribed) | nucleus CPU ms / 10k publishes |", "|---|---|---|---|---|---|"]
    for n in names:
        rs = by_size[(n, 64)]
        L.append(f"| {n} | {fmt(median_of(rs, 'rss_kib') / 1024, 1)} | {fmt(median_of(rs, 'threads'))} | "
                 f"{fmt(median_of(rs, 'threads_end'))} | {fmt(median_of(rs, 'startup_s') * 1000)} | "
                 f"{fmt(median_of(rs, 'nucleus_cpu_ms_per_10k'), 1)} |")
    L += ["", "## ggipc against its official counterpart (64 B, 1 component; ratio = ggipc / official)", "",
          "| pair | sync/s | p50 latency | pipelined/s | events/s | RSS | threads after events | start-up |",
          "|---|---|---|---|---|---|---|---|"]
    for ours, theirs in PAIRS:
        if theirs is None or (ours, 64) not in by_size or (theirs, 64) not in by_size:
            continue
        a, b = by_size[(ours, 64)], by_size[(theirs, 64)]

        def ratio(key):
            x, y = median_of(a, key), median_of(b, key)
            return f"{x / y:.2f}×" if y else "—"

        L.append(f"| {ours} / {theirs} | {ratio('sync_per_s')} | {ratio('p50_us')} | {ratio('pipelined_per_s')} | "
                 f"{ratio('events_per_s')} | {ratio('rss_kib')} | {ratio('threads_end')} | {ratio('startup_s')} |")
    if local_sizes:
        L += local_section(names, local_sizes, by_local or {})
    L += ["", f"Raw per-run numbers: `{os.path.relpath(args.raw, ROOT)}` after a run.", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(L))
    raw = {"by_size": {f"{k[0]}|{k[1]}": v for k, v in by_size.items()},
           "by_components": {f"{k[0]}|{k[1]}": v for k, v in by_comp.items()},
           "limit": {f"{k[0]}|{k[1]}": v for k, v in ping.items()},
           "local": {f"{k[0]}|{k[1]}": v for k, v in (by_local or {}).items()},
           "placement": args.placement,
           "other_placements": {f"{k[0]}|{k[1]}": v for k, v in (by_place or {}).items()}}
    os.makedirs(os.path.dirname(os.path.abspath(args.raw)), exist_ok=True)
    with open(args.raw, "w") as f:
        json.dump(raw, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
