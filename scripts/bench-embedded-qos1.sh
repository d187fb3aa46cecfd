#!/usr/bin/env bash
# CPU cost of the embedded broker's QoS 1 path towards TCP clients: a small-message flood (`ggipc bench mqtt`: a
# rumqttc publisher and subscriber, MQTT 3.1.1, QoS 1, 100 in flight) through the `ggipc nucleus` of
# NUCLEUS_BINARY; prints the nucleus' CPU time per 10,000 messages and the flood's rate.
# Usage: scripts/bench-embedded-qos1.sh [NUCLEUS_BINARY] [MESSAGES] [ROUNDS] [CLIENT_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/ggipc}
N=${2:-100000}
ROUNDS=${3:-3}
CLIENT=${4:-target/release/ggipc}
TICK=$(getconf CLK_TCK)

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

work=$(mktemp -d)
cleanup() {
    [[ -n "${NPID:-}" ]] && kill "$NPID" 2>/dev/null && wait "$NPID" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$BIN" nucleus --root "$work/root" --mqtt-port 0 >"$work/nucleus.log" 2>&1 &
NPID=$!
for _ in $(seq 200); do
    grep -q "embedded MQTT broker on" "$work/nucleus.log" && break
    kill -0 "$NPID" 2>/dev/null || { cat "$work/nucleus.log"; exit 1; }
    sleep 0.05
done
PORT=$(sed -n 's/.*embedded MQTT broker on [0-9.]*:\([0-9]*\).*/\1/p' "$work/nucleus.log" | head -1)
[[ -n "$PORT" ]] || { cat "$work/nucleus.log"; exit 1; }

for r in $(seq "$ROUNDS"); do
    before=$(cpu_ticks "$NPID")
    out=$("$CLIENT" bench mqtt --port "$PORT" -n "$N")
    after=$(cpu_ticks "$NPID")
    awk -v d="$((after - before))" -v tick="$TICK" -v n="$N" -v r="$r" -v out="$out" 'BEGIN {
        ms = d * 1000 / tick
        printf "round %d: nucleus CPU %.0f ms for %d messages (%.1f ms per 10k); %s\n", r, ms, n, ms * 10000 / n, out
    }'
done
