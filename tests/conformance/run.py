"""Conformance matrix: every client against every server, every scenario; writes docs/CONFORMANCE.md.

    python3 tests/conformance/run.py [--clients a,b] [--servers x,y] [--scenarios s,t] [--out FILE]

Started by scripts/conformance.sh, which builds everything and passes the artifacts in the environment:
GGIPC_BIN (the ggipc CLI), GGIPC_OFFICIAL_SERVER_CP (classpath of the official-server harness),
GGIPC_PY (a Python with awsiotsdk and ggipc installed), GGIPC_JAVA_OFFICIAL_CP / GGIPC_JAVA_GGIPC_CP (classpaths
of the Java driver built against each SDK), GGIPC_RUST_DRIVER, GGIPC_CPP_DRIVER. A client whose artifact is
missing is reported as "not built" and counts as a failure if it is a ggipc client.

Each scenario runs in a fresh driver process with a deadline; a driver prints one JSON line
{"scenario", "ok", "reason"}. Exit status: 1 if any ggipc client fails against any server, else 0 (failures of
the official SDKs are reported, not fatal). Failures listed in KNOWN_SDK_DEFECTS are shown as the official SDK's
own defect with the evidence.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RECIPE = os.path.join(HERE, "recipe.yaml")
COMPONENT = "io.ggipc.conformance.Client"
TOKEN = "CONFORMANCETOKEN"
DEADLINE = 45  # seconds per scenario process

SCENARIOS = [
    ("connect_good", "connect with the nucleus-given token, close"),
    ("connect_bad_token", "connect with an unregistered token is refused"),
    ("publish_qos0_mqtt5", "QoS 0 publish with every MQTT 5 field, received by a subscription"),
    ("publish_qos1_mqtt5", "QoS 1 publish with every MQTT 5 field, received by a subscription"),
    ("wildcard", "`+` and `#` subscriptions receive exactly the matching topics, in order"),
    ("binary_payload", "all 256 byte values round trip"),
    ("payload_128k", "a 131,072-byte payload round trips"),
    ("service_error", "131,073 bytes: ServiceError with the nucleus' message"),
    ("unauthorized", "publish and subscribe outside the policy: UnauthorizedError \"Not Authorized\""),
    ("invalid_arguments", "publish without QoS: InvalidArgumentsError \"QoS is required\""),
    ("server_terminate", "the server terminates a subscription: the client's stream-closed callback runs"),
    ("server_ping", "the server sends PING: the client survives (and reports it where the API can)"),
    ("close_while_streaming", "close a subscription, then the connection, while events are flowing"),
    ("local_pubsub", "PublishToTopic JSON and binary messages reach a SubscribeToTopic subscription, JSON with its "
     "`context.topic`, in order"),
    ("local_pubsub_invalid", "PublishToTopic without a message: InvalidArgumentsError; outside the policy: "
     "UnauthorizedError naming the principal, operation and resource"),
    ("connection_status", "SubscribeToIoTCoreConnectionStatus: the current status (CONNECTED) is the first event"),
    ("config_get", "GetConfiguration: the whole configuration (the recipe's defaults), a leaf as `{key: value}`, an "
     "object as itself"),
    ("config_update", "UpdateConfiguration at a new key path and without a key path (the root): one "
     "SubscribeToConfigurationUpdate event per changed key, GetConfiguration shows the values"),
    ("config_update_refused", "an update with a timestamp in the future is applied; a later one with an older timestamp: "
     "FailedUpdateConditionCheckError \"Proposed timestamp is older than the config's latest modified timestamp\", "
     "nothing changed"),
    ("config_invalid", "UpdateConfiguration without timestamp / valueToMerge / on `accessControl`: "
     "InvalidArgumentsError with the nucleus' texts; GetConfiguration and SubscribeToConfigurationUpdate of an "
     "unknown key: ResourceNotFoundError \"Key not found\""),
    ("config_validate", "SubscribeToValidateConfigurationUpdates: a deployment (`ggipc config set`; the harness' "
     "own trigger) sends the proposed configuration; SendConfigurationValidityReport REJECTED reaches the "
     "deployment, which fails with the component's message"),
    ("update_state", "UpdateState RUNNING is accepted; without a state: InvalidArgumentsError"),
    ("lifecycle_invalid", "DeferComponentUpdate without a subscription and SendConfigurationValidityReport without a "
     "validation request: InvalidArgumentsError with the nucleus' texts; a deferral of an unknown deployment while "
     "subscribed: ServiceError"),
    ("component_updates", "SubscribeToComponentUpdates: a deployment (`ggipc deploy --simulate`; the harness' own "
     "trigger) sends a pre-update event, DeferComponentUpdate by 500 ms makes it ask again, an acknowledgement lets "
     "it finish with the post-update event"),
]

# Scenarios whose driver asks the runner for a server-side action: the driver prints `TRIGGER NAME` once its
# subscription is answered; the runner acts, and after the driver's result checks the server's side of it.
TRIGGER_WAIT = 30  # seconds the runner waits for a triggered deployment to finish

# Scenarios a server offers no trigger for.
NOT_APPLICABLE = {
    "ggipc-nucleus": {
        "server_terminate": "the ggipc nucleus has no trigger for terminating a live subscription",
        "server_ping": "the nucleus never pings (neither does the Java nucleus)",
    },
}

# Scenarios a client's API has no call for: (client prefix, scenario) -> why.
CLIENT_NOT_APPLICABLE = {
    ("official Java", "connection_status"): "the Java SDK served here (1.30.1) has no SubscribeToIoTCoreConnectionStatus",
    ("ggipc Java", "connection_status"): "the Java driver is one source for both SDKs (the porting rule), written "
    "against 1.30.1, which lacks the operation; not exercised by this matrix",
}

# (client, scenario, server or "*") -> evidence that the failure is the official SDK's own defect.
KNOWN_SDK_DEFECTS = {}


def client_table(env):
    py = env.get("GGIPC_PY")
    drivers = os.path.join(HERE, "drivers")
    java = shutil.which("java")
    tab = []
    for pkg, label, ours in (("awsiot", "official Python", False), ("ggipc", "ggipc Python", True)):
        for api in ("v1", "v2"):
            cmd = [py, os.path.join(drivers, "python_driver.py"), pkg, api] if py else None
            tab.append((f"{label} {api.upper()}", ours, cmd))
    for var, label, ours in (("GGIPC_JAVA_OFFICIAL_CP", "official Java", False),
                             ("GGIPC_JAVA_GGIPC_CP", "ggipc Java", True)):
        cp = env.get(var)
        for api in ("v1", "v2"):
            cmd = [java, "-cp", cp, "conformance.Driver", api] if cp and java else None
            tab.append((f"{label} {api.upper()}", ours, cmd))
    rust = env.get("GGIPC_RUST_DRIVER")
    tab.append(("ggipc Rust", True, [rust] if rust and os.path.exists(rust) else None))
    cpp = env.get("GGIPC_CPP_DRIVER")
    tab.append(("ggipc C++", True, [cpp] if cpp and os.path.exists(cpp) else None))
    return tab


class Server:
    def __init__(self, name, proc, socket, token, tmp, env=None):
        self.name, self.proc, self.socket, self.token, self.tmp = name, proc, socket, token, tmp
        self.env = env

    def trigger(self, what):
        """Starts a deployment for a driver's `TRIGGER what`; returns a handle for `triggered`."""
        if self.name == "ggipc-nucleus":
            if what == "validate":
                cmd = [self.env["GGIPC_BIN"], "config", "set", "--root", self.tmp, COMPONENT, "scratch/validated",
                       '"yes"']
            elif what == "deploy":
                cmd = [self.env["GGIPC_BIN"], "deploy", "--simulate", "--root", self.tmp, "--defer-limit", "20",
                       COMPONENT]
            else:
                return ("unknown", what)
            return ("cli", subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        log = os.path.join(self.tmp, "log")
        mark = os.path.getsize(log) if os.path.exists(log) else 0
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        return ("harness", (what, mark))

    def triggered(self, handle):
        """The server's side of a triggered deployment: (ok, what it shows)."""
        kind, h = handle
        if kind == "unknown":
            return False, f"unknown trigger {h!r}"
        if kind == "cli":
            try:
                out, _ = h.communicate(timeout=TRIGGER_WAIT)
            except subprocess.TimeoutExpired:
                h.kill()
                out, _ = h.communicate()
                return False, f"the deployment did not finish within {TRIGGER_WAIT} s: {out.strip()[-200:]}"
            return True, f"exit {h.returncode}: " + " / ".join(l for l in out.strip().splitlines())
        what, mark = h
        log = os.path.join(self.tmp, "log")
        end = time.monotonic() + TRIGGER_WAIT
        while time.monotonic() < end:
            with open(log) as f:
                f.seek(mark)
                done = [l for l in f.read().splitlines() if l.startswith("DEPLOYMENT ")]
            if done:
                return True, done[-1]
            time.sleep(0.05)  # the harness appends its result line to its log
        return False, f"the harness did not finish the {what} deployment within {TRIGGER_WAIT} s"

    def stop(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.terminate()
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def alive(self):
        return self.proc.poll() is None


def read_line(proc, want, deadline=60):
    """Reads stdout lines until one equals `want` (the process prints it once ready)."""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if not sel.select(end - time.monotonic()):
            break
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server exited before {want!r}")
        if line.strip() == want:
            return
    raise RuntimeError(f"server not ready after {deadline} s")


def start_nucleus(env):
    tmp = tempfile.mkdtemp(prefix="ggipc-conf-")
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen([env["GGIPC_BIN"], "nucleus", "--root", tmp, "--recipe", RECIPE, "--broker", "memory"],
                            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True)
    sock = os.path.join(tmp, "ipc.socket")
    end = time.monotonic() + 30
    token = None
    while time.monotonic() < end and token is None:
        if proc.poll() is not None:
            raise RuntimeError("ggipc nucleus exited: " + open(os.path.join(tmp, "log")).read())
        if os.path.exists(os.path.join(tmp, "components.json")):
            out = subprocess.run([env["GGIPC_BIN"], "env", "--root", tmp, COMPONENT], capture_output=True, text=True)
            for line in out.stdout.splitlines():
                if line.startswith("export SVCUID="):
                    token = line.split("=", 1)[1].strip().strip("'\"")
        if token is None:
            time.sleep(0.05)  # polling a file the nucleus writes at start
    if token is None:
        raise RuntimeError("ggipc nucleus did not register the component")
    return Server("ggipc-nucleus", proc, sock, token, tmp, env)


def start_official(env):
    tmp = tempfile.mkdtemp(prefix="ggipc-conf-")
    sock = os.path.join(tmp, "ipc.socket")
    err = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen(["java", "-cp", env["GGIPC_OFFICIAL_SERVER_CP"], "io.ggipc.conformance.OfficialServer",
                             sock, TOKEN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
    read_line(proc, "READY")
    return Server("official-crt-server", proc, sock, TOKEN, tmp, env)


# What the server's side of a triggered deployment must show, per scenario: a text in the result of the
# deployment (the `ggipc` CLI's output, or the harness' DEPLOYMENT line) and whether it succeeds.
TRIGGER_EXPECT = {
    "config_validate": (False, "conformance rejects"),
    "component_updates": (True, "deferred the update by 500 ms: conformance busy"),
}


def trigger_verdict(scenario, shown):
    succeeded, text = TRIGGER_EXPECT.get(scenario, (True, ""))
    ok_exit = shown.startswith("exit 0") or shown.startswith("DEPLOYMENT succeeded")
    if ok_exit != succeeded:
        return False
    return text in shown


def run_one(cmd, scenario, server):
    env = dict(os.environ)
    token = "NOTAREGISTEREDTOKEN" if scenario == "connect_bad_token" else server.token
    env["SVCUID"] = token
    env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = token
    env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT"] = server.socket
    env["AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH"] = server.socket
    t0 = time.monotonic()
    p = subprocess.Popen(cmd + [scenario], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, handles, errs = [], [], []

    def pump_stderr():
        errs.extend(p.stderr.read().splitlines())

    import threading

    te = threading.Thread(target=pump_stderr, daemon=True)
    te.start()
    killer = threading.Timer(DEADLINE, p.kill)
    killer.start()
    try:
        for line in p.stdout:
            line = line.strip()
            if line.startswith("TRIGGER "):
                handles.append(server.trigger(line.split(" ", 1)[1]))
            else:
                lines.append(line)
        p.wait()
    finally:
        killer.cancel()
    te.join(5)
    took = time.monotonic() - t0
    if took >= DEADLINE:
        return False, f"driver hung: killed after {DEADLINE} s", DEADLINE
    result = None
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            result = [bool(r.get("ok")), r.get("reason", "")]
            break
    if result is None:
        tail = (errs or ["no output"])[-1]
        return False, f"driver exited with status {p.returncode} without a result ({tail[:200]})", took
    if scenario in TRIGGER_EXPECT and result[0] and not handles:
        result = [False, "the driver passed without triggering the deployment"]
    for h in handles:
        ok, shown = server.triggered(h)
        verdict = ok and trigger_verdict(scenario, shown)
        if result[0] and not verdict:
            result[0] = False
        result[1] = (result[1] + "; " if result[1] else "") + ("server side: " if verdict else
                                                               "server side NOT as expected: ") + shown
    return result[0], result[1], took


def ping_evidence(log, mark):
    """What the official-server harness saw from the client after its PING (docs/PROTOCOL.md §3.10)."""
    try:
        with open(log) as f:
            f.seek(mark)
            seen = [l.split(":")[0] for l in f.read().splitlines() if l.startswith(("PING received", "PING_RESPONSE"))]
    except OSError:
        seen = []
    if not seen:
        return "the client did not answer the server's PING (allowed: the protocol requires no answer)"
    if "PING received" in seen and not any(s.startswith("PING_RESPONSE") for s in seen):
        return "the client answered the server's PING with a PING, not a PING_RESPONSE (message type 2 instead of 3)"
    return "the client answered the server's PING with a PING_RESPONSE"


def md_escape(s):
    return s.replace("|", "\\|").replace("\n", " ")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients")
    ap.add_argument("--servers", default="ggipc-nucleus,official-crt-server")
    ap.add_argument("--scenarios")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "CONFORMANCE.md"))
    args = ap.parse_args()
    env = os.environ
    clients = client_table(env)
    if args.clients:
        want = [c.strip().lower() for c in args.clients.split(",")]
        clients = [c for c in clients if any(w in c[0].lower() for w in want)]
    scenarios = [s for s in SCENARIOS if not args.scenarios or s[0] in args.scenarios.split(",")]
    starters = {"ggipc-nucleus": start_nucleus, "official-crt-server": start_official}
    results = {}  # (client, server, scenario) -> (status, reason)
    servers = args.servers.split(",")
    for sname in servers:
        for cname, ours, cmd in clients:
            server = None
            for scen, _ in scenarios:
                if scen in NOT_APPLICABLE.get(sname, {}):
                    results[(cname, sname, scen)] = ("n/a", NOT_APPLICABLE[sname][scen])
                    continue
                why = next((w for (c, sc), w in CLIENT_NOT_APPLICABLE.items() if sc == scen and cname.startswith(c)),
                           None)
                if why:
                    results[(cname, sname, scen)] = ("n/a", why)
                    continue
                if cmd is None:
                    results[(cname, sname, scen)] = ("fail", "not built (artifact missing)")
                    continue
                # one server per client, restarted if a scenario killed it
                if server is None or not server.alive():
                    if server is not None:
                        server.stop()
                    server = starters[sname](env)
                log = os.path.join(server.tmp, "log")
                mark = os.path.getsize(log) if os.path.exists(log) else 0
                ok, reason, took = run_one(cmd, scen, server)
                if scen == "server_ping" and sname == "official-crt-server":
                    reason = (reason + "; " if reason else "") + ping_evidence(log, mark)
                if not server.alive():
                    ok, reason = False, f"server died ({reason})"
                status = "pass" if ok else "fail"
                if ok and "with a PING, not a PING_RESPONSE" in reason:
                    if ours:
                        status, reason = "fail", "answers PING with PING: " + reason
                    else:
                        status = "pass-defect"
                        reason += (" — SDK defect: its automatic ping reply (`sendPingResponse`) sends message type "
                                   "PING; a server answering PINGs with PING_RESPONSE copes, one answering PING with "
                                   "PING would loop (found by code reading of the SDK, see docs/PROTOCOL.md §3.10; confirmed here)")
                if not ok:
                    defect = KNOWN_SDK_DEFECTS.get((cname, scen, sname)) or KNOWN_SDK_DEFECTS.get((cname, scen, "*"))
                    if defect and not ours:
                        status, reason = "sdk-defect", f"{reason} — {defect}"
                results[(cname, sname, scen)] = (status, reason)
                print(f"{status:10} {cname:22} {sname:20} {scen:22} {took:5.1f}s {reason[:100]}", flush=True)
            if server is not None:
                server.stop()
    write_report(args.out, clients, servers, scenarios, results)
    failed = [k for k, v in results.items() if v[0] == "fail" and any(c[0] == k[0] and c[1] for c in clients)]
    if failed:
        print(f"{len(failed)} ggipc failure(s):", file=sys.stderr)
        for k in failed:
            print("  ", k, results[k][1], file=sys.stderr)
        return 1
    return 0


def write_report(path, clients, servers, scenarios, results):
    mark = {"pass": "✅ pass", "fail": "❌ FAIL", "n/a": "— n/a", "sdk-defect": "⚠️ SDK defect",
            "pass-defect": "✅ pass ⚠️"}
    lines = ["# Conformance matrix", "",
             "Generated by `scripts/conformance.sh` (`tests/conformance/run.py`); do not edit by hand.", "",
             f"Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.system()} "
             f"{platform.machine()}, Python {platform.python_version()}.", "",
             "Servers: **ggipc-nucleus** = `ggipc nucleus --broker memory`; **official-crt-server** = "
             "`tests/conformance/official-server`, a harness on the official event-stream RPC server classes of "
             "`software.amazon.awssdk.crt:aws-crt` (the server side the Java nucleus is built on) answering in the "
             "Java nucleus' format. Every client uses the identity of `tests/conformance/recipe.yaml` (publish and "
             "subscribe under `conf/#`) from the environment the nucleus gives. Clients: the official `awsiotsdk` "
             "1.31.0 (Python) and `aws-iot-device-sdk` 1.30.1 (Java), and ggipc's Rust, Python, C++ and Java "
             "clients; the official C++ SDK is not built here. Each scenario runs in a fresh driver process "
             f"with a {DEADLINE} s deadline; the drivers are in `tests/conformance/drivers/` and "
             "`tests/conformance/rust/`.", "",
             "A failure of a ggipc client fails the run; a failure of an official SDK is reported, and shown as "
             "*SDK defect* where the evidence shows the SDK itself is at fault; ✅ pass ⚠️ = the scenario passed but "
             "the run exposed a defect of the official SDK (see the details).", "", "## Scenarios", "",
             "| id | what is checked |", "|---|---|"]
    lines += [f"| `{s}` | {d} |" for s, d in scenarios]
    total = {}
    for st in results.values():
        total[st[0]] = total.get(st[0], 0) + 1
    lines += ["", "## Summary", "", ", ".join(f"{mark[k]}: {v}" for k, v in sorted(total.items())), ""]
    for sname in servers:
        lines += [f"## Server: {sname}", "", "| client | " + " | ".join(f"`{s}`" for s, _ in scenarios) + " |",
                  "|---|" + "---|" * len(scenarios)]
        for cname, _, _ in clients:
            row = [mark[results[(cname, sname, s)][0]] for s, _ in scenarios]
            lines.append(f"| {cname} | " + " | ".join(row) + " |")
        lines.append("")
    lines += ["## Details", "", "| client | server | scenario | result | reason / evidence |", "|---|---|---|---|---|"]
    for sname in servers:
        for cname, _, _ in clients:
            for s, _ in scenarios:
                st, reason = results[(cname, sname, s)]
                lines.append(f"| {cname} | {sname} | `{s}` | {mark[st]} | {md_escape(reason)} |")
    check = os.environ.get("GGIPC_MEMORY_CHECK")
    if check:
        lines += ["", "## Nucleus memory with `--broker memory`", "",
                  "`tests/conformance/nucleus_memory_check.py`: 1,200 publishes of 128 KiB must leave the nucleus "
                  "under 64 MiB. (Before the core capped `MemoryBroker`'s record of publishes at 16 MiB, the "
                  "nucleus grew by the bytes published: 316 MiB after 2,400 x 128 KiB.) This run: "
                  f"{md_escape(check)}"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
