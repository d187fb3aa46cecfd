#!/usr/bin/env bash
# One-command demo of the local nucleus: builds `ggipc` and the two example Rust components, lays them out as
# Greengrass artifacts, and runs `ggipc run` on their recipes with the embedded MQTT broker. The subscriber
# signals readiness, the publisher sends COUNT messages, then tries a topic its policy denies (the error is
# printed); both exit and the run ends with a summary and exit status 0.
#
#   scripts/demo.sh                                   # COUNT=10, embedded broker
#   COUNT=100 scripts/demo.sh
#   BROKER=mqtt://127.0.0.1:1883 scripts/demo.sh      # through a real broker (e.g. Mosquitto) instead
#
#   scripts/demo.sh --all-languages                   # the docs' Python, Java and C++ examples and the Rust ones
#                                                     # as components of one nucleus (see all_languages below)
#   scripts/demo.sh --all-languages --stand-ins       # the same plumbing, Python/Java/C++ replaced by `ggipc pub/sub`
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

PROFILE_FLAG=""
PROFILE_DIR="debug"
if [ "${DEMO_RELEASE:-}" = "1" ]; then PROFILE_FLAG="--release"; PROFILE_DIR="release"; fi
# GGIPC_BIN_DIR: a directory holding `ggipc` and `examples/{publisher,subscriber}` already built (the tests use it).
if [ -n "${GGIPC_BIN_DIR:-}" ]; then
    BIN="$GGIPC_BIN_DIR"
    cargo() { if [ "$1" = build ]; then return 0; fi; command cargo "$@"; }
else
    TARGET_DIR="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
    BIN="$TARGET_DIR/$PROFILE_DIR"
fi

two_components() {
    COUNT="${COUNT:-10}"
    echo "== building ggipc and the example components"
    cargo build $PROFILE_FLAG -q -p ggipc-nucleus --bin ggipc --example publisher --example subscriber

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
}

# --all-languages: eight components on one nucleus (recipes in examples/all-languages/), the documentation's
# examples unchanged:
#   publishers   Python publish_to_iot_core.py (my/topic), C++ publish_to_iot_core.cpp (my/topic) then
#                iotcore_publisher.cpp (test/topic/cpp), Java PublishToIoTCore (both topics), Rust publisher
#                (both topics);
#   subscribers  Python subscribe_to_iot_core.py (my/topic), C++ iotcore_subscriber.cpp (test/topic/cpp) with
#                subscribe_to_iot_core.cpp (my/topic), Java SubscribeToIoTCore and Rust subscriber (+/topic/#,
#                both topics).
# The publishers wait in their Startup step until every subscriber has subscribed (the nucleus logs each
# subscription); then each publisher's messages must reach every subscriber: every subscriber listens on
# my/topic, which every publisher uses. The examples that print nothing on receipt (Python's, C++'s
# subscribe_to_iot_core) are followed through the server's trace of each delivery (component, topic, size). One line per component summarizes what it sent or received; the exit status is 0 only if
# every expected delivery happened.
# Installs what it needs on Debian (g++, a JDK, Maven, python3-venv); builds the Python wheel, the Java jar,
# libggipc and the C++ examples. GGIPC_REUSE_BUILDS=1 keeps a wheel and a jar built before.
all_languages() {
    local stand_ins="$1"
    local need=()
    command -v python3 >/dev/null || need+=(python3)
    if [ "$stand_ins" = 0 ]; then
        command -v g++ >/dev/null || need+=(g++)
        command -v javac >/dev/null || need+=(default-jdk-headless)
        command -v mvn >/dev/null || need+=(maven)
        python3 -c 'import ensurepip' 2>/dev/null || need+=(python3-venv)
    fi
    if [ ${#need[@]} -gt 0 ]; then
        echo "== installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
    fi

    if [ "$stand_ins" = 1 ]; then
        echo "== building ggipc and the Rust examples"
        cargo build $PROFILE_FLAG -q -p ggipc-nucleus --bin ggipc --example publisher --example subscriber
    else
        echo "== building ggipc, the Rust examples and libggipc"
        cargo build $PROFILE_FLAG -q -p ggipc-nucleus --bin ggipc --example publisher --example subscriber
        cargo build $PROFILE_FLAG -q -p ggipc-c
    fi
    local ggipc="$BIN/ggipc"
    local build="$REPO/build/demo-all-languages"
    mkdir -p "$build"
    ROOT="$(mktemp -d "${TMPDIR:-/tmp}/ggipc-demo.XXXXXX")"
    local art="$ROOT/packages/artifacts"
    local v=1.0.0
    nucleus=""
    tailer=""
    cleanup() {
        if [ -n "$nucleus" ]; then kill -INT "$nucleus" 2>/dev/null; wait "$nucleus" 2>/dev/null; fi
        if [ -n "$tailer" ]; then kill "$tailer" 2>/dev/null; fi
        rm -rf "$ROOT"
    }
    trap cleanup EXIT
    for c in PublisherRust:publisher SubscriberRust:subscriber; do
        mkdir -p "$art/com.example.demo.${c%%:*}/$v"
        cp "$BIN/examples/${c#*:}" "$art/com.example.demo.${c%%:*}/$v/"
    done

    local commands=()
    if [ "$stand_ins" = 1 ]; then
        # Same output lines as the examples, through ggipc's own clients: tests the demo's plumbing in seconds.
        local g="'$ggipc'"
        commands=(
            --command "com.example.demo.PublisherPython=$g pub -t my/topic -m 'Hello, World' && echo 'published Hello, World to my/topic'"
            --command "com.example.demo.SubscriberPython=$g sub -t my/topic -v | while IFS= read -r l; do p=\"\${l#* }\"; echo \"DEBUG:ggipc:subscription: message on 'my/topic' (\${#p} bytes)\"; done"
            --command "com.example.demo.PublisherJava=$g pub -t my/topic -m 'Hello from Java' && echo 'Successfully published to topic: my/topic' && $g pub -t test/topic/cpp -m 'Hello from Java' && echo 'Successfully published to topic: test/topic/cpp'"
            --command "com.example.demo.SubscriberJava=$g sub -t '+/topic/#' -v | while IFS= read -r l; do echo \"Received new message on topic \${l%% *}: \${l#* }\"; done"
            --command "com.example.demo.PublisherCpp=$g pub -q 0 -t my/topic -m 'Hello, World!' && echo 'published Hello, World! to my/topic' && while :; do $g pub -t test/topic/cpp -m 'Hello from the Greengrass IPC MQTT publisher (C++).' && echo 'Successfully published to topic: test/topic/cpp'; sleep 5; done"
            --command "com.example.demo.SubscriberCpp=$g sub -t my/topic >/dev/null & $g sub -t test/topic/cpp -v | while IFS= read -r l; do echo 'Received new message on topic: test/topic/cpp'; echo \"Message: \${l#* }\"; done"
        )
    else
        echo "== C++: the docs' examples against libggipc"
        for c in PublisherCpp:publish_to_iot_core PublisherCpp:iotcore_publisher SubscriberCpp:iotcore_subscriber \
            SubscriberCpp:subscribe_to_iot_core; do
            local dir="$art/com.example.demo.${c%%:*}/$v"
            mkdir -p "$dir"
            "${CXX:-g++}" -std=c++17 -O1 -I bindings-c/include "examples/cpp/${c#*:}.cpp" \
                "$BIN/libggipc.a" -lpthread -ldl -lm -o "$dir/${c#*:}"
        done

        echo "== Python: the ggipc wheel in a venv"
        local venv="$build/venv"
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        if [ "${GGIPC_REUSE_BUILDS:-0}" != 1 ] || ! ls "$build"/wheels/ggipc-*.whl >/dev/null 2>&1; then
            "$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.5,<2"
            rm -rf "$build/wheels"
            "$venv/bin/maturin" build --quiet $PROFILE_FLAG --manifest-path bindings-python/Cargo.toml \
                --interpreter "$venv/bin/python" --out "$build/wheels"
        fi
        "$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$build"/wheels/ggipc-*.whl
        export PYTHON="$venv/bin/python"
        for c in PublisherPython:publish_to_iot_core SubscriberPython:subscribe_to_iot_core; do
            mkdir -p "$art/com.example.demo.${c%%:*}/$v"
            cp "examples/python/${c#*:}.py" "$art/com.example.demo.${c%%:*}/$v/"
        done

        echo "== Java: the ggipc jar and the docs' examples"
        if [ "${GGIPC_REUSE_BUILDS:-0}" != 1 ] || ! ls bindings-java/target/ggipc-*.jar >/dev/null 2>&1; then
            (cd bindings-java && mvn -q -B -ntp -DskipTests package)
        fi
        local jar
        jar="$(ls bindings-java/target/ggipc-*.jar | grep -v -e sources -e javadoc | head -1)"
        for c in PublisherJava SubscriberJava; do
            local dir="$art/com.example.demo.$c/$v"
            mkdir -p "$dir/classes"
            cp "$jar" "$dir/ggipc.jar"
            javac -d "$dir/classes" -cp "$dir/ggipc.jar" $(find examples/java/com -name '*.java')
        done
    fi

    local recipes=(examples/all-languages/*.yaml)
    if [ "$stand_ins" = 0 ]; then
        # And the GDK example project, deployed as it is (its Install step makes a venv and installs the wheel).
        recipes+=(examples/gdk/hello-python)
        export PIP_FIND_LINKS="$build/wheels" PIP_NO_INDEX=1
    fi
    local log="$ROOT/demo.log"
    echo "== running: ggipc run --root $ROOT --mqtt-port 0 --thing-name demo ${recipes[*]}"
    "$ggipc" run --root "$ROOT" --mqtt-port 0 --thing-name demo \
        --log info,ggipc=debug,ggipc::server::services::mqttproxy=trace \
        "${commands[@]}" "${recipes[@]}" >"$log" 2>&1 &
    nucleus=$!
    tail -n +1 --pid="$nucleus" -f "$log" | grep --line-buffered -e '^\[' -e '^ggipc:' &
    tailer=$!

    # Waits up to $2 seconds for the command $1 to succeed; fails with the log otherwise.
    wait_until() {
        local deadline=$((SECONDS + $2))
        until eval "$1"; do
            if [ $SECONDS -ge $deadline ] || ! kill -0 "$nucleus" 2>/dev/null; then
                echo "== demo FAILED: not within $2 s: $1" >&2
                return 1
            fi
            sleep 0.2
        done
    }
    local summary=(python3 - "$log" "$stand_ins")
    for s in Python Java Cpp Rust; do
        wait_until "grep -Eq 'subscribed component=\"?com\.example\.demo\.Subscriber$s\"? ' '$log'" 180
    done
    # The C++ subscriber component runs two subscribers: wait for both.
    for f in my/topic test/topic/cpp; do
        wait_until "grep -Eq 'subscribed component=\"?com\.example\.demo\.SubscriberCpp\"? filter=\"?$f\"?' '$log'" 180
    done
    echo "== every subscriber has subscribed: the publishers start"
    touch "$ROOT/subscribers-ready"
    # The Rust publisher waits for a go signal on demo/demo/go (as in the two-component demo, where the
    # subscriber sends it); here the demo sends it, with the publisher's identity, until both its runs are done.
    (
        eval "$("$ggipc" env --root "$ROOT" com.example.demo.PublisherRust)"
        while ! grep -q 'published message 1 to test/topic/cpp' "$log"; do
            "$ggipc" pub -q 0 -t demo/demo/go -m go 2>/dev/null || true
            sleep 0.3
        done
    ) &
    local signaller=$!
    local status=0
    wait_until "${summary[*]} --check <<<\"\$SUMMARY_PY\"" 180 || status=1
    kill "$signaller" 2>/dev/null || true
    kill -INT "$nucleus" 2>/dev/null || true
    wait "$nucleus" 2>/dev/null || true
    nucleus=""
    sleep 0.3
    kill "$tailer" 2>/dev/null || true
    tailer=""
    echo "== summary"
    "${summary[@]}" <<<"$SUMMARY_PY" || status=1
    if [ $status -eq 0 ]; then
        echo "== demo OK: every publisher reached every subscriber on its topics (Python, Java, C++, Rust)"
    else
        echo "== demo FAILED (the log: $log)"
        cat "$log" >&2
    fi
    exit $status
}

# Reads the nucleus log of the all-languages demo: which subscriber received which publisher's messages.
# With --check: exit 0 once every expected delivery is there (no output). Else one line per component.
SUMMARY_PY="$(cat <<'PY'
import re, sys
log, stand_ins = sys.argv[1], sys.argv[2]
check = "--check" in sys.argv
LANGS = ["Python", "Java", "Cpp", "Rust"]
TOPICS = {"Python": {"my/topic"}, "Cpp": {"my/topic", "test/topic/cpp"}, "Java": {"my/topic", "test/topic/cpp"},
          "Rust": {"my/topic", "test/topic/cpp"}}
LISTENS = {"Python": {"my/topic"}, "Cpp": {"my/topic", "test/topic/cpp"}, "Java": {"my/topic", "test/topic/cpp"},
           "Rust": {"my/topic", "test/topic/cpp"}}
def by_payload(p):
    if p == "Hello, World": return "Python"
    if p in ("Hello, World!", "Hello from the Greengrass IPC MQTT publisher (C++)."): return "Cpp"
    if p == "Hello from Java": return "Java"
    if p.startswith("Hello from the publisher, message"): return "Rust"
    return None
# Payload sizes of the publishers' messages on my/topic, for the subscribers that print nothing.
BY_SIZE = {12: "Python", 13: "Cpp", 51: "Cpp", 15: "Java", 40: "Rust"}
got = {s: {} for s in LANGS}          # subscriber -> {publisher: count}
seen = set()                          # (subscriber, publisher, topic) delivered at least once
exits, published = {}, {p: 0 for p in LANGS}
def count(s, p, topic):
    got[s][p] = got[s].get(p, 0) + 1
    seen.add((s, p, topic))
for line in open(log, errors="replace"):
    line = line.rstrip("\n")
    # The docs' Python subscriber and C++ subscribe_to_iot_core (my/topic) print nothing: the server's trace of
    # each delivery (with the payload's size) shows what they got.
    m = re.search(r'delivered component="?com\.example\.demo\.Subscriber(Python|Cpp)"? topic="?my/topic"? bytes=(\d+)', line)
    if m:
        who = BY_SIZE.get(int(m.group(2)))
        if who:
            count(m.group(1), who, "my/topic")
        continue
    m = re.match(r"\[com\.example\.demo\.(Publisher|Subscriber)(\w+)\] (.*)", line)
    if m:
        kind, lang, text = m.groups()
        who = topic = None
        if kind == "Subscriber":
            if lang == "Java":
                mm = re.match(r"Received new message on topic (\S+): (.*)", text)
                who, topic = (by_payload(mm.group(2)), mm.group(1)) if mm else (None, None)
            elif lang == "Rust":
                mm = re.match(r"received on (\S+): (.*)", text)
                who, topic = (by_payload(mm.group(2)), mm.group(1)) if mm else (None, None)
            elif lang == "Cpp":
                # iotcore_subscriber prints these; it listens on test/topic/cpp.
                mm = re.match(r"Message: (.*)", text)
                who, topic = (by_payload(mm.group(1)), "test/topic/cpp") if mm else (None, None)
            if who:
                count(lang, who, topic)
        elif re.match(r"(Successfully published to topic|published)", text):
            published[lang] += 1
        continue
    m = re.match(r"ggipc: com\.example\.demo\.(\w+) (exited with code \d+|is BROKEN.*|stopped)", line)
    if m:
        exits[m.group(1)] = m.group(2)
# Every publisher must reach every subscriber on every topic they share.
missing = [(s, p, t) for s in LANGS for p in LANGS for t in sorted(TOPICS[p] & LISTENS[s]) if (s, p, t) not in seen]
gdk = [l for l in open(log, errors="replace") if l.startswith("[com.example.GdkHelloPython] published to")]
gdk_exit = None
for l in open(log, errors="replace"):
    m = re.match(r"ggipc: com\.example\.GdkHelloPython (exited with code \d+|is BROKEN.*)", l)
    if m:
        gdk_exit = m.group(1)
gdk_ok = stand_ins == "1" or gdk_exit == "exited with code 0"
if check:
    sys.exit(1 if missing or not gdk_ok else 0)
name = {"Python": "Python", "Java": "Java", "Cpp": "C++", "Rust": "Rust"}
for p in LANGS:
    reached = [name[s] for s in LANGS if p in got[s]]
    print(f"  {name[p]:6} publisher  ({', '.join(sorted(TOPICS[p]))}): {published[p]} publish(es) reported, "
          f"reached the {', '.join(reached) or 'no'} subscriber(s); {exits.get('Publisher' + p, 'still running')}")
for s in LANGS:
    parts = [f"{name[p]} x{got[s][p]}" for p in LANGS if p in got[s]]
    unreachable = [name[p] for p in LANGS if not TOPICS[p] & LISTENS[s]]
    extra = f" (not on its topic: {', '.join(unreachable)})" if unreachable else ""
    print(f"  {name[s]:6} subscriber ({', '.join(sorted(LISTENS[s]))}): received from {', '.join(parts) or 'nobody'}{extra}; "
          f"{exits.get('Subscriber' + s, 'still running')}")
if stand_ins != "1":
    print(f"  GDK project examples/gdk/hello-python: {len(gdk)} publish(es) reported; {gdk_exit or 'still running'}")
for s, p, t in missing:
    print(f"  MISSING: nothing from the {name[p]} publisher on {t} reached the {name[s]} subscriber")
sys.exit(1 if missing or not gdk_ok else 0)
PY
)"

case "${1:-}" in
    --all-languages)
        case "${2:-}" in
            --stand-ins) all_languages 1 ;;
            "") all_languages 0 ;;
            *) echo "usage: scripts/demo.sh [--all-languages [--stand-ins]]" >&2; exit 2 ;;
        esac
        ;;
    "") two_components ;;
    *) echo "usage: scripts/demo.sh [--all-languages [--stand-ins]]" >&2; exit 2 ;;
esac
