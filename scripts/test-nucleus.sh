#!/usr/bin/env bash
# The nucleus' whole test suite: installs Mosquitto when missing (Debian), then runs the unit and integration
# tests of ggipc-nucleus (Mosquitto tests are mandatory here), the embedded broker against paho-mqtt (a venv under
# build/venv-paho), the demo, and short benchmarks as a smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-mosquitto.sh
export GGIPC_REQUIRE_MOSQUITTO=1

echo "== cargo test -p ggipc-nucleus"
cargo test -p ggipc-nucleus --all-targets -- --test-threads=2

echo "== paho-mqtt against the embedded broker"
VENV=build/venv-paho
[[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import paho.mqtt' 2>/dev/null || "$VENV/bin/pip" install -q "paho-mqtt>=2.1,<3"
cargo build -p ggipc-nucleus --bin ggipc
"$VENV/bin/python" tests/paho/embedded_sessions.py target/debug/ggipc

echo "== demo"
COUNT=20 bash scripts/demo.sh
