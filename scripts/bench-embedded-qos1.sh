#!/usr/bin/env bash
# CPU cost of the embedded broker's QoS 1 path towards TCP clients: a small-message flood from mosquitto_pub
# (QoS 1) to mosquitto_sub (QoS 1) through `ggipc nucleus`; prints the nucleus' CPU time per 10,000 messages and
# the wall time. Usage: scripts/bench-embedded-qos1.sh [GGIPC_BINARY] [MESSAGES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/ggipc}
N=${2:-100000}
ROUNDS=${3:-3}
command -v mosquitto_pub >/dev/null || bash scripts/install-mosquitto.sh
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
seq "$N" >"$work/lines"

for r in $(seq "$ROUNDS"); do
    fifo="$work/sub.$r"
    mkfifo "$fifo"
    # -d prints the SUBACK, so the flood starts once the subscription exists.
    mosquitto_sub -p "$PORT" -q 1 -t bench/flood -C "$N" -d >"$fifo" &
    SPID=$!
    exec 3<"$fifo"
    while IFS= read -r line <&3; do
        [[ "$line" == *SUBACK* ]] && break
    done
    before=$(cpu_ticks "$NPID")
    t0=$(date +%s%N)
    mosquitto_pub -p "$PORT" -q 1 -t bench/flood -l <"$work/lines"
    # Drain the subscriber's output until it exits after N messages.
    cat <&3 >/dev/null
    wait "$SPID"
    exec 3<&-
    t1=$(date +%s%N)
    after=$(cpu_ticks "$NPID")
    awk -v d="$((after - before))" -v tick="$TICK" -v n="$N" -v ns="$((t1 - t0))" -v r="$r" 'BEGIN {
        ms = d * 1000 / tick
        printf "round %d: %d QoS 1 messages, nucleus CPU %.0f ms (%.1f ms per 10k), wall %.2f s (%.0f msgs/s)\n",
            r, n, ms, ms * 10000 / n, ns / 1e9, n / (ns / 1e9)
    }'
done
