#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the ggipc wheel, installs it into a fresh virtualenv under build/ together with pytest,
# pytest-asyncio and the official awsiotsdk, and runs the Python test suite (ggipc and the official
# client against the same in-process nucleus), then the example components: the forwarder's own tests, the
# local pub/sub examples beside the Rust ones and the configuration-and-lifecycle example, run by `ggipc run`.
#
#   scripts/test-python.sh [pytest args...]
#
# Environment: PYTHON (interpreter, default python3), GGIPC_REUSE_VENV=1 (keep an existing venv),
# GGIPC_WHEEL_PROFILE=release|dev (default release), CARGO_TARGET_DIR (respected).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/build/venv-python"
WHEELS="$ROOT/build/wheels-python"
PROFILE="${GGIPC_WHEEL_PROFILE:-release}"

if [[ "${GGIPC_REUSE_VENV:-0}" != 1 || ! -x "$VENV/bin/python" ]]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "maturin>=1.5,<2" "pytest>=7" "pytest-asyncio>=0.21" "awsiotsdk==1.31.0" "mypy>=1.8"

# Rust unit tests of the binding's helpers (the behaviour is tested from Python below).
(cd "$ROOT" && PYO3_PYTHON="$VENV/bin/python" cargo test --quiet -p ggipc-python)

rm -rf "$WHEELS"
profile_flag=(--release)
[[ "$PROFILE" == dev ]] && profile_flag=()
"$VENV/bin/maturin" build "${profile_flag[@]}" --quiet \
    --manifest-path "$ROOT/bindings-python/Cargo.toml" \
    --interpreter "$VENV/bin/python" --out "$WHEELS"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$WHEELS"/ggipc-*.whl

cd "$ROOT/bindings-python"
# Type-check the package's sources against its stubs (the native module's _ggipc.pyi included).
(cd python && "$VENV/bin/python" -m mypy --cache-dir=/dev/null --ignore-missing-imports -p ggipc)
# Run from the tests directory's parent but import ggipc from the installed wheel, not the source tree.
GGIPC_REQUIRE_AWSIOT=1 "$VENV/bin/python" -m pytest -p no:cacheprovider -q tests "$@"
# The example component's tests, run as a component author runs them.
cd "$ROOT"
"$VENV/bin/python" -m pytest -p no:cacheprovider -q examples/python/forwarder
# The local pub/sub and connection-status examples as components of `ggipc run`, Python beside Rust.
PYTHON="$VENV/bin/python" bash examples/run-local-pubsub.sh python rust
# The configuration-and-lifecycle example as a component of the local nucleus (ggipc run), with this venv's Python.
TARGET_DIR="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
cargo build -q -p ggipc-nucleus
"$VENV/bin/python" examples/run_config_lifecycle.py --ggipc "$TARGET_DIR/debug/ggipc" \
    --command "$VENV/bin/python -u $ROOT/examples/python/config_lifecycle.py" \
    examples/recipes/com.example.ConfigLifecyclePython.yaml
