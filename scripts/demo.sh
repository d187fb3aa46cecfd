#!/usr/bin/env bash
# One-command demo of the local nucleus: builds `ggipc` and the two example Rust components, lays them out as
# Greengrass artifacts, and runs `ggipc run` on their recipes with the embedded MQTT broker. The subscriber
# signals readiness, the publisher sends COUNT messages, then tries a topic its policy denies (the error is
# printed); both exit and the run ends with a summary and exit status 0.
#
#   scripts/demo.sh                                   # COUNT=10, embedded broker
#   COUNT=100 scripts/demo.sh
#   BROKER=mqtt://127.0.0.1:1883 scripts/demo.sh      # through a real broker (e.g. Mosquitto) instead
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT="${COUNT:-10}"
PROFILE_FLAG=""
PROFILE_DIR="debug"
if [ "${DEMO_RELEASE:-}" = "1" ]; then PROFILE_FLAG="--release"; PROFILE_DIR="release"; fi

echo "== building ggipc and the example components"
cargo build $PROFILE_FLAG -q -p ggipc-nucleus --bin ggipc --example publisher --example subscriber
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
BIN="$TARGET_DIR/$PROFILE_DIR"

ROOT="$(mktemp -d "${TMPDIR:-/tmp}/ggipc-demo.XXXXXX")"
trap 'rm -rf "$ROOT"' EXIT
for c in publisher:com.example.IoTCorePublisherRust subscriber:com.example.IoTCoreSubscriberRust; do
    exe="${c%%:*}"; name="${c#*:}"
    dir="$ROOT/packages/artifacts/$name/1.0.0"
    mkdir -p "$dir"
    cp "$BIN/examples/$exe" "$dir/$exe"
done

# The recipes' default count is 10; use COUNT through a copy of each recipe with the value replaced.
RECIPES=()
for r in examples/recipes/com.example.IoTCorePublisherRust.yaml examples/recipes/com.example.IoTCoreSubscriberRust.yaml; do
    sed "s/^    count: 10$/    count: $COUNT/" "$r" > "$ROOT/$(basename "$r")"
    RECIPES+=("$ROOT/$(basename "$r")")
done

BROKER_ARGS=(--mqtt-port 0)
if [ -n "${BROKER:-}" ]; then BROKER_ARGS=(--broker "$BROKER"); fi
echo "== running: ggipc run --root $ROOT ${BROKER_ARGS[*]} --exit-when-done ${RECIPES[*]}"
set +e
"$BIN/ggipc" run --root "$ROOT" "${BROKER_ARGS[@]}" --thing-name demo-thing --exit-when-done "${RECIPES[@]}"
status=$?
set -e
if [ $status -eq 0 ]; then
    echo "== demo OK: $COUNT messages went publisher -> nucleus -> ${BROKER:-embedded broker} -> subscriber; the denied publish was refused; the subscriber told the publisher by a local message"
else
    echo "== demo FAILED (exit status $status)"
fi
exit $status
