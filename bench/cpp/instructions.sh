#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Client instructions per synchronous 64-byte publish, C++ (SDK surface, C API, seed C API) beside the Rust
# client, counted by callgrind in one run against one server (release builds):
#   bench/cpp/instructions.sh [COUNT]     (default 3000 publishes per loop)
# Instruction counts do not depend on the machine's load, so this is the figure to compare binding overhead
# with; `bench/cpp/run.sh` gives the wall-clock throughput, which on a shared machine varies by more than the
# differences between the bindings. Each loop is counted in the thread that runs it (the caller's, which
# writes the request and reads its own answer); the server's work is not counted. The synchronous calls' spin
# wait is off (GGIPC_SPIN_WAIT_US=0, unless set): how often it polls depends on timing, not on the binding, and
# it is the same core code in every loop, so with it the counts vary by about 100 from run to run.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
count="${1:-3000}"
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
build="$target_dir/ggipc-c-cmake-release"
cmake -S bindings-c -B "$build" -DGGIPC_BUILD_TESTS=ON -DGGIPC_CARGO_PROFILE=release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j 2 --target bench_cpp >/dev/null 2>&1 || cmake --build "$build" -j 2 --target bench_cpp
cargo build -q --release -p ggipc-c --bin ggipc-bench-rust --bin ggipc-test-server

work="$(mktemp -d)"
"$target_dir/release/ggipc-test-server" --socket "$work/ipc.socket" --ready-file "$work/ready" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for ((i = 0; i < 200; i++)); do [[ -f "$work/ready" ]] && break; sleep 0.05; done
[[ -f "$work/ready" ]] || { echo "the test server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

token=GGIPCTESTTOKEN01
export GGIPC_SPIN_WAIT_US="${GGIPC_SPIN_WAIT_US:-0}"
# Instructions per publish of the loop function `$1` in the program `$2...`.
count_loop() {
    local loop="$1"
    shift
    local out="$work/callgrind.$loop"
    valgrind -q --tool=callgrind --toggle-collect="*$loop*" --callgrind-out-file="$out" "$@" >/dev/null
    callgrind_annotate "$out" 2>/dev/null | awk -v n="$count" '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.0f", $1 / n }'
}
rust=$(count_loop sync_publish_loop "$target_dir/release/ggipc-bench-rust" "$work/ipc.socket" "$token" "$count" sync)
echo "# instructions per synchronous publish, $count publishes per loop, 64-byte payloads, QoS 0"
echo "rust_sync_publish_instructions $rust"
for pair in "SdkPublishLoop cpp_sdk" "CBytesPublishLoop cpp_c" "CSeedPublishLoop cpp_c_seed"; do
    set -- $pair
    n=$(count_loop "$1" "$build/bench_cpp" "$work/ipc.socket" "$token" "$count" sync)
    echo "${2}_sync_publish_instructions $n   ($(awk -v a="$n" -v b="$rust" 'BEGIN { printf "%.1f%%", a / b * 100 }') of Rust's)"
done
