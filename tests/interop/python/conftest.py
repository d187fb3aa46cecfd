"""Starts the ggipc IPC server (core example `ipc_server`) for the official awsiotsdk client to talk to."""
import json
import os
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PUB_TOKEN = "PUBLISHERTOKEN01"
SUB_TOKEN = "SUBSCRIBERTOKEN1"


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("GGIPC_IPC_SERVER")
    if not binary:
        pytest.fail("GGIPC_IPC_SERVER must name the built ipc_server example (scripts/test-interop.sh sets it)")
    tmp = tempfile.mkdtemp(prefix="ggipc-interop-")
    recipes = []
    for i, r in enumerate(json.load(open(os.path.join(HERE, "recipes.json")))):
        path = os.path.join(tmp, f"recipe{i}.json")
        with open(path, "w") as f:
            json.dump(r, f)
        recipes.append(path)
    socket = os.path.join(tmp, "ipc.socket")
    proc = subprocess.Popen([binary, socket, *recipes], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    tokens = {}
    for line in proc.stdout:
        if line.startswith("TOKEN "):
            _, name, token = line.split()
            tokens[name] = token
        if line.strip() == "READY":
            break
    else:
        pytest.fail("ipc_server did not start")
    yield {"socket": socket, "tokens": tokens}
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
CONFIG_TOKEN = "CONFIGTOKEN00001"
STREAM_MANAGER_TOKEN = "STREAMMANAGERTOK"
OPERATOR_TOKEN = "OPERATORTOKEN001"
