#!/usr/bin/env bash
# The nucleus' whole test suite: installs Mosquitto when missing (Debian), then runs the unit and integration
# tests of ggipc-nucleus (Mosquitto tests are mandatory here), the demo, and short benchmarks as a smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-mosquitto.sh
export GGIPC_REQUIRE_MOSQUITTO=1

echo "== cargo test -p ggipc-nucleus"
cargo test -p ggipc-nucleus --all-targets -- --test-threads=2

echo "== demo"
COUNT=20 bash scripts/demo.sh
