#!/usr/bin/env bash
# The official AWS IoT Device SDK for Python (awsiotsdk, V1 and V2 APIs) against the ggipc server.
# Creates build/venv-interop with pytest and awsiotsdk, builds the core's ipc_server example, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=build/venv-interop
if [ ! -x "$VENV/bin/pytest" ] || ! "$VENV/bin/python" -c "import awsiot.greengrasscoreipc" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check pytest==9.2.0 awsiotsdk==1.31.0
fi
cargo build -q -p ggipc --example ipc_server
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
export GGIPC_IPC_SERVER="$TARGET_DIR/debug/examples/ipc_server"
cd tests/interop/python
exec "../../../$VENV/bin/pytest" -q -p no:cacheprovider "$@"
