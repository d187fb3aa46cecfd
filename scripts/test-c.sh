#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds and tests the C ABI and the C++ wrapper (bindings-c):
#   header drift check, Rust unit tests, header compiled as C11/C++17 (-Werror, included twice),
#   C tests (plain and under ASan/UBSan), GoogleTest C++ tests, the C example under valgrind,
#   the seed's C++ programs (publisher's messages must reach the subscriber), the local pub/sub and
#   connection-status examples as components of `ggipc run` beside the Rust ones, and install +
#   find_package + pkg-config consumption.
# Installs the Debian packages it needs when missing. Ends with "N passed, M failed".
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

need=()
for pkg in cmake g++ pkg-config valgrind libgtest-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    echo "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi

target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
build="$target_dir/ggipc-c-cmake"
work="$(mktemp -d)"
server_pid=""
bg_pids=()
cleanup() {
    for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
step() { # step NAME COMMAND...
    local name="$1"
    shift
    echo "=== $name"
    if "$@"; then
        echo "--- ok: $name"
        passed=$((passed + 1))
    else
        echo "--- FAILED: $name"
        failed=$((failed + 1))
    fi
}

# Waits (bounded) until FILE contains TEXT.
wait_for_text() {
    local file="$1" text="$2" tries="${3:-200}"
    for ((i = 0; i < tries; i++)); do
        grep -qF -- "$text" "$file" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "timed out waiting for '$text' in $file" >&2
    cat "$file" >&2
    return 1
}

step "header is up to date" bindings-c/generate-header.sh --verify
step "rust unit tests" cargo test -q -p ggipc-c
step "cmake configure" cmake -S bindings-c -B "$build" -DGGIPC_BUILD_TESTS=ON -DGGIPC_CARGO_PROFILE=dev \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_INSTALL_PREFIX="$work/prefix"
if ! cmake --build "$build" -j 2; then
    echo "--- FAILED: build"
    echo "0 passed, $((failed + 1)) failed"
    exit 1
fi
passed=$((passed + 1))
bin="$build"
server="$target_dir/debug/ggipc-test-server"

socket="$work/ipc.socket"
"$server" --socket "$socket" --ready-file "$work/ready" >"$work/server.log" 2>&1 &
server_pid=$!
for ((i = 0; i < 200; i++)); do [[ -f "$work/ready" ]] && break; sleep 0.05; done
[[ -f "$work/ready" ]] || { echo "test server did not start"; cat "$work/server.log"; exit 1; }
export GGIPC_TEST_SOCKET="$socket"

step "header compiles as C11, included twice" "$bin/header_twice_c"
step "header compiles as C++17, included twice" "$bin/header_twice_cpp"
step "C tests" "$bin/test_c_api"
step "C tests of the test nucleus (ggipc_test_nucleus_*)" "$bin/test_test_nucleus"
step "C tests under ASan/UBSan" env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1 \
    "$bin/test_c_api_asan"
if [[ -x "$bin/test_cpp_api" ]]; then
    step "C++ tests (GoogleTest)" "$bin/test_cpp_api"
else
    echo "--- FAILED: GoogleTest not found"
    failed=$((failed + 1))
fi
if [[ -x "$bin/test_local_nucleus" ]]; then
    step "C++ tests of the test nucleus (ggipc::testing::LocalNucleus, GoogleTest)" env -u AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT -u SVCUID "$bin/test_local_nucleus"
else
    echo "--- FAILED: test_local_nucleus not built (GoogleTest not found)"
    failed=$((failed + 1))
fi
# The example components' tests use their own in-process nucleus, not the test server.
step "example component tests (examples/c/forwarder)" env -u AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT -u SVCUID "$bin/example_c_forwarder_test"
if [[ -x "$bin/example_cpp_forwarder_test" ]]; then
    step "example component tests (examples/cpp/forwarder, GoogleTest)" env -u AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT -u SVCUID "$bin/example_cpp_forwarder_test"
else
    echo "--- FAILED: examples/cpp/forwarder not built (GoogleTest not found)"
    failed=$((failed + 1))
fi

export AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT="$socket"
step "C example under valgrind (no leaks)" env SVCUID=GGIPCTESTTOKEN01 valgrind -q --error-exitcode=99 \
    --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
    "$bin/example_c_publish_subscribe" test/c/example 3

# The docs' publish example publishes once and exits 0.
step "seed C++ publish example" env SVCUID=GGIPCTESTTOKEN02 "$bin/example_cpp_publish_to_iot_core"

# The docs' publisher/subscriber: the publisher's messages must reach the subscriber.
seeds() {
    SVCUID=GGIPCTESTTOKEN03 "$bin/example_cpp_iotcore_subscriber" >"$work/sub.out" 2>&1 &
    local sub=$!
    bg_pids+=("$sub")
    wait_for_text "$work/sub.out" "Successfully subscribed to topic: test/topic/cpp" || return 1
    SVCUID=GGIPCTESTTOKEN02 "$bin/example_cpp_iotcore_publisher" >"$work/pub.out" 2>&1 &
    local pub=$!
    bg_pids+=("$pub")
    wait_for_text "$work/pub.out" "Successfully published to topic: test/topic/cpp" || return 1
    wait_for_text "$work/sub.out" "Message: Hello from the Greengrass IPC MQTT publisher (C++)." || return 1
    cat "$work/sub.out"
    # Both loop forever by design; they must still be running (no error exit).
    kill -0 "$sub" && kill -0 "$pub"
}
step "seed C++ publisher reaches seed C++ subscriber" seeds

# The docs' subscribe example subscribes and then waits forever; a failure would exit at once.
seed_subscribe() {
    SVCUID=GGIPCTESTTOKEN03 "$bin/example_cpp_subscribe_to_iot_core" >"$work/sub2.out" 2>&1 &
    local p=$!
    bg_pids+=("$p")
    # A publish to its topic meanwhile must not disturb it.
    SVCUID=GGIPCTESTTOKEN02 "$bin/example_cpp_publish_to_iot_core" || return 1
    kill -0 "$p"
}
step "seed C++ subscribe example stays subscribed" seed_subscribe

# The configuration-and-lifecycle example as a component of the local nucleus (ggipc run), checked by the same
# driver as the other languages' (examples/run_config_lifecycle.py).
config_lifecycle_example() {
    cargo build -q -p ggipc-nucleus || return 1
    env -u AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT -u SVCUID python3 examples/run_config_lifecycle.py \
        --ggipc "$target_dir/debug/ggipc" --command "$bin/example_cpp_config_lifecycle" \
        examples/recipes/com.example.ConfigLifecycleCpp.yaml
}
step "C++ configuration and lifecycle example on the local nucleus" config_lifecycle_example

install_and_consume() {
    cmake --install "$build" >/dev/null || return 1
    cmake -S bindings-c/tests/consumer -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null || return 1
    cmake --build "$work/consumer" >/dev/null || return 1
    LD_LIBRARY_PATH="$work/prefix/lib" "$work/consumer/consumer_c" || return 1
    LD_LIBRARY_PATH="$work/prefix/lib" "$work/consumer/consumer_cpp" || return 1
    LD_LIBRARY_PATH="$work/prefix/lib" "$work/consumer/consumer_testing" || return 1
    PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --modversion ggipc | grep -qx "$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)" || return 1
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror bindings-c/tests/consumer/main.c -o "$work/pc_consumer" \
        $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs ggipc) || return 1
    LD_LIBRARY_PATH="$work/prefix/lib" "$work/pc_consumer"
}
# The local pub/sub and connection-status examples as components of `ggipc run`, C++ beside Rust.
step "local pub/sub examples as components (C++ and Rust)" env -u AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT \
    -u SVCUID GGIPC_CPP_BIN="$bin" examples/run-local-pubsub.sh cpp rust

step "install, find_package(ggipc), pkg-config" install_and_consume

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
