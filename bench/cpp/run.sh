#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# C++ vs Rust client benchmark, same server, same run (release builds).
#   bench/cpp/run.sh [COUNT]     (default 20000 operations per figure)
#   ROUNDS=N (default 7) rounds, Rust and C++ alternating; CPUS=LIST (default 0) pins the server and every
#   benchmark process to those CPUs with taskset (CPUS= pins nothing): where the scheduler places the two
#   processes of a round trip changes its time several-fold, so unpinned rounds are bimodal.
#   GGIPC_BENCH_SHARED=1 runs the C++ benchmark against the shared library instead of the static one.
# Prints the C++ figures (SDK surface, C API, seed C API) beside the Rust client's, the thread wake-ups
# (voluntary context switches of the whole process) per synchronous publish, and the ratios.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
count="${1:-20000}"
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
build="$target_dir/ggipc-c-cmake-release"
cmake -S bindings-c -B "$build" -DGGIPC_BUILD_TESTS=ON -DGGIPC_CARGO_PROFILE=release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j 2 --target bench_cpp bench_cpp_shared >/dev/null
bench_cpp="$build/bench_cpp"
[[ -n "${GGIPC_BENCH_SHARED:-}" ]] && bench_cpp="$build/bench_cpp_shared"
cpus="${CPUS-0}"
pin=()
[[ -n "$cpus" ]] && pin=(taskset -c "$cpus")
cargo build -q --release -p ggipc-c --bin ggipc-bench-rust --bin ggipc-test-server

work="$(mktemp -d)"
"${pin[@]}" "$target_dir/release/ggipc-test-server" --socket "$work/ipc.socket" --ready-file "$work/ready" >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for ((i = 0; i < 200; i++)); do [[ -f "$work/ready" ]] && break; sleep 0.05; done

token=GGIPCTESTTOKEN01
rounds="${ROUNDS:-7}"
echo "# $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $count operations per figure, 64-byte payloads, QoS 0"
echo "# pinned to CPUs: ${cpus:-none}; C++ benchmark: $(basename "$bench_cpp")"
echo "# $rounds rounds, Rust and C++ alternating; figures are medians, ratios of medians and of bests (best-of is what"
echo "# the Python and Java benchmarks report: on a loaded machine the other processes only ever slow a round down)"
all=""
for ((r = 0; r < rounds; r++)); do
    all+="$("${pin[@]}" "$target_dir/release/ggipc-bench-rust" "$work/ipc.socket" "$token" "$count")"$'\n'
    all+="$("${pin[@]}" "$bench_cpp" "$work/ipc.socket" "$token" "$count")"$'\n'
done
get() { awk -v k="$1" '$1 == k { print $2 }' <<<"$all" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for k in rust_sync_publish_per_s cpp_sdk_sync_publish_per_s cpp_c_sync_publish_per_s cpp_c_seed_sync_publish_per_s rust_sync_wakeups_per_publish cpp_sdk_sync_wakeups_per_publish cpp_c_sync_wakeups_per_publish cpp_c_seed_sync_wakeups_per_publish cpp_sdk_generated_call_wakeups_per_call rust_events_per_s cpp_events_per_s; do
    echo "$k $(get "$k")   (all: $(awk -v k="$k" '$1 == k { printf "%s ", $2 }' <<<"$all"))"
done
best() { awk -v k="$1" '$1 == k { print $2 }' <<<"$all" | sort -n | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%%", (a / b) * 100 }'; }
for pair in "cpp_sdk_sync_publish_per_s rust_sync_publish_per_s" "cpp_c_sync_publish_per_s rust_sync_publish_per_s" "cpp_c_seed_sync_publish_per_s rust_sync_publish_per_s" "cpp_events_per_s rust_events_per_s"; do
    set -- $pair
    echo "$1 / $2 = $(ratio "$(get "$1")" "$(get "$2")") (medians), $(ratio "$(best "$1")" "$(best "$2")") (bests)"
done
