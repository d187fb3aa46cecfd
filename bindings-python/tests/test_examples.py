# SPDX-License-Identifier: Apache-2.0
"""The reference page's Python examples, run unchanged (ggipc) and in their original form (awsiot)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from conftest import REPO

EXAMPLES = os.path.join(REPO, "examples", "python")


def _example(sdk_name: str, name: str, tmp_path) -> str:
    with open(os.path.join(EXAMPLES, name)) as f:
        code = f.read()
    if sdk_name == "awsiot":
        # the original example: the only difference is the package name
        code = code.replace("ggipc", "awsiot")
    path = tmp_path / name
    path.write_text(code)
    return str(path)


def test_example_sources_differ_from_the_reference_only_by_name():
    for name in ("publish_to_iot_core.py", "subscribe_to_iot_core.py"):
        with open(os.path.join(EXAMPLES, name)) as f:
            code = f.read()
        assert "awsiot" not in code
        assert "import ggipc.greengrasscoreipc" in code


def test_publish_example(sdk, nucleus, tmp_path):
    path = _example(sdk.name, "publish_to_iot_core.py", tmp_path)
    subprocess.run([sys.executable, path], env=dict(os.environ), check=True, timeout=60)
    msg = nucleus.wait_for_publish("my/topic")
    assert msg.payload == b"Hello, World"
    assert msg.qos == "1"


class _Reader:
    """Collects a pipe's output on a thread; ``wait_for`` blocks until a text shows up."""

    def __init__(self, pipe) -> None:
        self.text = ""
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self.thread.start()

    def _run(self, pipe) -> None:
        for line in iter(pipe.readline, b""):
            with self.cond:
                self.text += line.decode(errors="replace")
                self.cond.notify_all()

    def wait_for(self, needle: str, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: needle in self.text, timeout)


def test_subscribe_example(sdk, nucleus, tmp_path):
    """The example loops forever: run it, check that it subscribed and handles messages, stop it."""
    path = _example(sdk.name, "subscribe_to_iot_core.py", tmp_path)
    env = dict(os.environ, GGIPC_LOG="debug", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, path], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err = _Reader(proc.stderr)
    try:
        nucleus.wait_for_subscription("my/topic", timeout=30)
        assert proc.poll() is None, "example exited early"
        assert nucleus.inject("my/topic", b"Hello from IoT Core") == 1
        if sdk.name == "ggipc":
            # GGIPC_LOG=debug makes ggipc log each delivered event on stderr
            assert err.wait_for("message on 'my/topic'", 10), err.text
        # the example's own handler catches the error of an undecodable payload and prints it
        assert nucleus.inject("my/topic", b"\xff not utf-8") == 1
        assert err.wait_for("UnicodeDecodeError", 10), err.text
        assert proc.poll() is None, "example died while handling messages"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        err.thread.join(10)
        proc.stdout.close()
        proc.stderr.close()
