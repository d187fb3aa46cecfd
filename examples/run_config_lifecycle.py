"""Runs a configuration-and-lifecycle example (examples/<language>/config_lifecycle.*) as a component of the local
nucleus and checks what it does, the same way for every language:

    python3 examples/run_config_lifecycle.py --ggipc BIN [--command CMD] RECIPE

`ggipc run RECIPE` starts it (with `--command NAME=CMD` when given: another interpreter or a built binary); the
component must report RUNNING, print its `threshold` (30, the recipe's default) and record `status/lastStart`
(read back with `ggipc config get`). Then `ggipc config set` changes `threshold` and `lockFile`, and the component
must print each change with its value; `ggipc deploy --simulate` sends a deployment, which the component defers
while its lock file exists in its work directory; once the file is removed it acknowledges, and the deployment
succeeds with the post-update event printed.

Every wait has a deadline; exit status 0 when everything was seen, 1 with the nucleus' output otherwise. Uses only
the standard library.
"""

import argparse
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

WAIT = 60  # seconds for each expected line (the first one includes the component's start)


class Output:
    """The nucleus' output, line by line, with waits for a text."""

    def __init__(self, proc):
        self.lines = []
        self.q = queue.Queue()
        self.proc = proc
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def wait_for(self, text, timeout=WAIT):
        """Returns the first line (seen before or from now on) that contains `text`."""
        for l in self.lines:
            if text in l:
                return l
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"not seen within {timeout} s: {text!r}")
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the nucleus exited before {text!r}")
            self.lines.append(line)
            if text in line:
                return line


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ggipc", default=shutil.which("ggipc"))
    ap.add_argument("--command", help="the component's Run command instead of the recipe's")
    ap.add_argument("recipe")
    args = ap.parse_args()
    if not args.ggipc:
        sys.exit("no ggipc: pass --ggipc")
    name = os.path.basename(args.recipe).rsplit(".", 1)[0]
    root = tempfile.mkdtemp(prefix="ggipc-example-")
    cmd = [args.ggipc, "run", "--root", root, "--mqtt-port", "0"]
    if args.command:
        cmd += ["--command", f"{name}={args.command}"]
    proc = subprocess.Popen(cmd + [args.recipe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Output(proc)

    def ggipc(*a, check=True):
        r = subprocess.run([args.ggipc, *a[:1], *a[1:2], "--root", root, *a[2:]] if a[0] == "config" else
                           [args.ggipc, *a[:1], "--root", root, *a[1:]], capture_output=True, text=True, timeout=WAIT)
        if check and r.returncode != 0:
            raise AssertionError(f"ggipc {' '.join(a)} failed: {r.stdout}{r.stderr}")
        return r

    try:
        out.wait_for(f"{name} reported RUNNING")
        out.wait_for("Reported state RUNNING")
        out.wait_for("threshold: 30")
        out.wait_for("Updated status/lastStart")
        last = ggipc("config", "get", name, "status/lastStart").stdout.strip()
        assert last.startswith('"') and len(last) > 12, f"status/lastStart is {last!r}"
        out.wait_for("Waiting for configuration changes and deployments")

        ggipc("config", "set", name, "threshold", "35")
        out.wait_for("Configuration changed: threshold = 35")
        ggipc("config", "set", name, "lockFile", '"job.lock"')
        out.wait_for('Configuration changed: lockFile = "job.lock"')

        lock = os.path.join(root, "work", name, "job.lock")
        with open(lock, "w") as f:
            f.write("a job is running\n")
        deploy = subprocess.Popen([args.ggipc, "deploy", "--simulate", "--root", root, "--defer-limit", "60", name],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = out.wait_for("Deferred deployment ")
        deployment = line.split("Deferred deployment ", 1)[1].split()[0]
        os.remove(lock)
        out.wait_for(f"Acknowledged deployment {deployment}")
        out.wait_for(f"Deployment {deployment} applied")
        deploy_out, _ = deploy.communicate(timeout=WAIT)
        assert deploy.returncode == 0, f"the deployment failed: {deploy_out}"
        assert f"{name} deferred the update by 2000 ms: busy" in deploy_out, deploy_out
        assert deployment in deploy_out, deploy_out
        print(f"{name}: state, configuration read/update/events and a deferred deployment as expected")
        return 0
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        print("\n".join(out.lines[-60:]), file=sys.stderr)
        return 1
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
