#!/usr/bin/env bash
# Runs the local pub/sub and connection-status examples as components of the local nucleus (`ggipc run`,
# embedded broker), in the languages named (default: python java cpp rust; at least two):
#   com.example.LocalSubscriber<Lang>  subscribes to the local topic test/topic and prints what it receives;
#   com.example.ConnectionStatus<Lang> prints the nucleus' AWS IoT Core connection status;
#   com.example.LocalPublisher<Lang>   once every subscriber has subscribed, publishes "Hello from <Lang>" to
#                                      test/topic as bytes and as JSON, then exits.
# Asserts that every publisher's two messages reach every subscriber (so each language's messages cross to
# every other language), that every publisher exits 0, and that every connection-status example prints
# CONNECTED; then stops the nucleus. Exit status 0 only if all of that holds.
#
#   examples/run-local-pubsub.sh python rust     # as scripts/test-python.sh runs it
#
# What each language needs:
#   python  PYTHON: an interpreter with the ggipc wheel installed (default python3)
#   java    GGIPC_JAR: the ggipc jar (default bindings-java/target/ggipc-0.1.0.jar), javac and java
#   cpp     GGIPC_CPP_BIN: a directory holding example_cpp_{publish_to_topic,subscribe_to_topic,
#           subscribe_to_iot_core_connection_status} (the bindings-c CMake build); else they are compiled with
#           ${CXX:-g++} against libggipc.a (cargo build -p ggipc-c)
#   rust    the cargo examples publish_to_topic, subscribe_to_topic, subscribe_to_connection_status
# GGIPC_BIN_DIR: a directory holding `ggipc` and examples/ already built (else cargo builds them).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

langs=("$@")
[ ${#langs[@]} -eq 0 ] && langs=(python java cpp rust)
if [ ${#langs[@]} -lt 2 ]; then
    echo "usage: examples/run-local-pubsub.sh LANG LANG... (python java cpp rust; at least two)" >&2
    exit 2
fi
declare -A name=([python]=Python [java]=Java [cpp]=Cpp [rust]=Rust)
declare -A label=([python]=Python [java]=Java [cpp]=C++ [rust]=Rust)
for l in "${langs[@]}"; do
    [ -n "${name[$l]:-}" ] || { echo "unknown language: $l (python java cpp rust)" >&2; exit 2; }
done
has() { local l; for l in "${langs[@]}"; do [ "$l" = "$1" ] && return 0; done; return 1; }

if [ -n "${GGIPC_BIN_DIR:-}" ]; then
    bin="$GGIPC_BIN_DIR"
else
    target="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
    bin="$target/debug"
    echo "== building ggipc and the Rust examples"
    cargo build -q -p ggipc-nucleus --bin ggipc --example publish_to_topic --example subscribe_to_topic \
        --example subscribe_to_connection_status
fi
ggipc="$bin/ggipc"

work="$(mktemp -d "${TMPDIR:-/tmp}/ggipc-local-pubsub.XXXXXX")"
nucleus=""
cleanup() {
    if [ -n "$nucleus" ]; then kill -INT "$nucleus" 2>/dev/null || true; wait "$nucleus" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
art="$work/packages/artifacts"
recipes=()
for l in "${langs[@]}"; do
    for kind in LocalPublisher LocalSubscriber ConnectionStatus; do
        component="com.example.$kind${name[$l]}"
        mkdir -p "$art/$component/1.0.0"
        recipes+=("examples/recipes/$component.yaml")
    done
done
# Copies the artifacts of language $1 into each of its three components' artifact directories.
artifacts() {
    local kind
    for kind in LocalPublisher LocalSubscriber ConnectionStatus; do
        cp -R "$@" "$art/com.example.$kind${name[$lang]}/1.0.0/"
    done
}
for lang in "${langs[@]}"; do
    case "$lang" in
        python)
            export PYTHON="${PYTHON:-python3}"
            "$PYTHON" -c 'import ggipc' || { echo "$PYTHON cannot import ggipc (install the wheel)" >&2; exit 1; }
            artifacts examples/python/publish_to_topic.py examples/python/subscribe_to_topic.py \
                examples/python/subscribe_to_iot_core_connection_status.py
            ;;
        java)
            jar="${GGIPC_JAR:-bindings-java/target/ggipc-0.1.0.jar}"
            [ -f "$jar" ] || { echo "no jar at $jar: (cd bindings-java && mvn -B package)" >&2; exit 1; }
            mkdir -p "$work/java/classes"
            cp "$jar" "$work/java/ggipc.jar"
            javac -d "$work/java/classes" -cp "$jar" \
                examples/java/com/aws/greengrass/docs/samples/ipc/{PublishToTopic,SubscribeToTopic,SubscribeToIoTCoreConnectionStatus}.java
            artifacts "$work/java/ggipc.jar" "$work/java/classes"
            ;;
        cpp)
            mkdir -p "$work/cpp"
            for e in publish_to_topic subscribe_to_topic subscribe_to_iot_core_connection_status; do
                if [ -n "${GGIPC_CPP_BIN:-}" ]; then
                    cp "$GGIPC_CPP_BIN/example_cpp_$e" "$work/cpp/$e"
                else
                    [ -f "$bin/libggipc.a" ] || cargo build -q -p ggipc-c
                    "${CXX:-g++}" -std=c++17 -O1 -Wall -Wextra -Werror -I bindings-c/include "examples/cpp/$e.cpp" \
                        "$bin/libggipc.a" -lpthread -ldl -lm -o "$work/cpp/$e"
                fi
            done
            artifacts "$work/cpp/"*
            ;;
        rust)
            artifacts "$bin/examples/publish_to_topic" "$bin/examples/subscribe_to_topic" \
                "$bin/examples/subscribe_to_connection_status"
            ;;
    esac
done

log="$work/nucleus.log"
: >"$log"
export GGIPC_EXAMPLE_READY_FILE="$work/subscribers-ready"
echo "== ggipc run --root $work --mqtt-port 0 ${recipes[*]}"
"$ggipc" run --root "$work" --mqtt-port 0 --thing-name local-pubsub "${recipes[@]}" >"$log" 2>&1 &
nucleus=$!

# Waits up to $2 seconds for the fixed string $1 in the nucleus log (components' lines are "[name] text").
wait_for() {
    local deadline=$((SECONDS + $2))
    until grep -qF -- "$1" "$log"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$nucleus" 2>/dev/null; then
            echo "== FAILED: not seen within $2 s: $1" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
}

for s in "${langs[@]}"; do
    wait_for "[com.example.LocalSubscriber${name[$s]}] Successfully subscribed to topic: test/topic" 120
    wait_for "[com.example.ConnectionStatus${name[$s]}] IoT Core connection status: CONNECTED" 120
    echo "${label[$s]}: subscribed to test/topic; connection status CONNECTED"
done
touch "$GGIPC_EXAMPLE_READY_FILE"
echo "== every subscriber has subscribed: the publishers start"
for p in "${langs[@]}"; do
    wait_for "ggipc: com.example.LocalPublisher${name[$p]} exited with code 0" 120
    for s in "${langs[@]}"; do
        wait_for "[com.example.LocalSubscriber${name[$s]}] Received new message on topic test/topic: Hello from ${label[$p]}" 60
        # The JSON message: Python, Java and Rust print its "message" member, C++ the compact JSON text.
        local_json="[com.example.LocalSubscriber${name[$s]}] Received new JSON message on topic test/topic: "
        deadline=$((SECONDS + 60))
        until grep -F -- "$local_json" "$log" | grep -qF "Hello from ${label[$p]}"; do
            if [ $SECONDS -ge $deadline ]; then
                echo "== FAILED: no JSON message from ${label[$p]} at the ${label[$s]} subscriber" >&2
                cat "$log" >&2
                exit 1
            fi
            sleep 0.1
        done
    done
    echo "${label[$p]} publisher: its binary and JSON messages reached the ${langs[*]} subscribers; exited 0"
done
kill -INT "$nucleus"
wait "$nucleus" || true
nucleus=""
echo "== what the components printed"
grep -E '^\[com\.example\.' "$log" || true
echo "== local pub/sub examples OK (${langs[*]}): every publisher reached every subscriber; every connection-status example printed CONNECTED"
