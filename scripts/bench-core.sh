#!/usr/bin/env bash
# Core benchmark, side by side in one run against one ggipc server (release build, in-memory broker):
# codec rates, raw Unix-socket ping-pong, the Rust client, and the official awsiotsdk V2 client.
#   scripts/bench-core.sh [SECONDS]      (default 3 s per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-3}"
VENV=build/venv-interop
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import awsiot.greengrasscoreipc" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check pytest==9.2.0 awsiotsdk==1.31.0
fi
cargo build -q --release -p ggipc --example ipc_server --example bench
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
TMP="$(mktemp -d)"
trap 'exec 3>&-; rm -rf "$TMP"' EXIT
cat > "$TMP/bench.json" <<'JSON'
{"ComponentName": "bench.Component", "ComponentConfiguration": {"DefaultConfiguration": {"svcuid": "BENCHTOKEN000001",
 "accessControl": {"aws.greengrass.ipc.mqttproxy": {"bench": {"operations": ["*"], "resources": ["bench/#"]}}}}}}
JSON
mkfifo "$TMP/stdin"
"$TARGET_DIR/release/examples/ipc_server" "$TMP/ipc.socket" "$TMP/bench.json" < "$TMP/stdin" > "$TMP/server.out" 2> "$TMP/server.err" &
exec 3> "$TMP/stdin"
for _ in $(seq 100); do grep -q READY "$TMP/server.out" 2>/dev/null && break; sleep 0.05; done
grep -q READY "$TMP/server.out"
RUST=$("$TARGET_DIR/release/examples/bench" "$TMP/ipc.socket" BENCHTOKEN000001 "$SECS")
SDK=$("$VENV/bin/python" bench/core/awsiotsdk_v2.py "$TMP/ipc.socket" BENCHTOKEN000001 "$SECS")
exec 3>&-
wait
echo "server: $(cat "$TMP/server.err")"
python3 - "$RUST" "$SDK" <<'PY'
import json, sys
r, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rows = [
    ("codec encode (msgs/s)", r["codec_encode_per_s"], None),
    ("codec decode (msgs/s)", r["codec_decode_per_s"], None),
    ("raw Unix-socket ping-pong (round trips/s)", r["raw_ping_pong_per_s"], None),
    ("sync publish (round trips/s)", r["rust_sync_publish_per_s"], s["awsiotsdk_v2_sync_publish_per_s"]),
    ("sync publish p50 (us)", r["rust_sync_p50_us"], s["awsiotsdk_v2_sync_p50_us"]),
    ("sync publish p99 (us)", r["rust_sync_p99_us"], s["awsiotsdk_v2_sync_p99_us"]),
    ("pipelined publish (msgs/s)", r["rust_pipelined_publish_per_s"], s["awsiotsdk_v2_pipelined_publish_per_s"]),
    ("subscription events (msgs/s)", r["rust_events_per_s"], s["awsiotsdk_v2_events_per_s"]),
]
print(f"{'measure':45} {'ggipc Rust':>14} {'awsiotsdk V2':>14} {'ratio':>8}")
for name, a, b in rows:
    ratio = f"{a / b:.2f}x" if b else ""
    print(f"{name:45} {a:>14,.1f} {'' if b is None else f'{b:,.1f}':>14} {ratio:>8}")
print(f"client context switches per sync publish (all threads): {r['rust_sync_context_switches_per_op']:.2f}")
print(f"Rust sync publish / raw ping-pong: {r['rust_sync_publish_per_s'] / r['raw_ping_pong_per_s']:.0%}")
print(f"events delivered: Rust {r['events_received']}/{r['events_sent']}, awsiotsdk {s['awsiotsdk_events_received']}/{s['awsiotsdk_events_sent']}")
PY
