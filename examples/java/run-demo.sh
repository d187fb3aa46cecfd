#!/usr/bin/env bash
# Runs the docs' two Java examples as components on the local nucleus (`ggipc run`, embedded broker):
# the subscriber from its recipe; once it has subscribed, the publisher with the environment the nucleus
# gives it (`ggipc env`); then waits until the subscriber has printed the message, and stops the nucleus. Before
# that, the configuration-and-lifecycle example (com/example/ConfigLifecycle.java) runs under its own nucleus and
# examples/run_config_lifecycle.py checks its state, configuration reads, updates and events, and a deferral.
# Needs the jar (bindings-java: mvn -B package). Uses $GGIPC, else `ggipc` on PATH, else builds it with cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
jar="$root/bindings-java/target/ggipc-0.1.0.jar"
[ -f "$jar" ] || { echo "build the jar first: (cd bindings-java && mvn -B package)" >&2; exit 1; }

ggipc="${GGIPC:-$(command -v ggipc || true)}"
if [ -z "$ggipc" ]; then
  (cd "$root" && cargo build -q -p ggipc-nucleus)
  target="${CARGO_TARGET_DIR:-$(cd "$root" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
  ggipc="$target/debug/ggipc"
fi

cd "$here"
rm -rf classes && mkdir classes
javac -d classes -cp "$jar" $(find com -name '*.java')

# The configuration-and-lifecycle example as a component of its own nucleus, checked by the driver every
# language's example shares.
python3 "$root/examples/run_config_lifecycle.py" --ggipc "$ggipc" recipes/com.example.ConfigLifecycleJava.yaml

work="$(mktemp -d)"
log="$work/nucleus.log"
"$ggipc" run --root "$work" --mqtt-port 0 --command com.example.IoTCorePublisherJava=true \
  recipes/com.example.IoTCoreSubscriberJava.yaml recipes/com.example.IoTCorePublisherJava.yaml >"$log" 2>&1 &
nucleus=$!
cleanup() {
  kill -INT "$nucleus" 2>/dev/null || true
  wait "$nucleus" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Polls the nucleus log for a line, up to $2 seconds.
wait_for() {
  local deadline=$((SECONDS + $2))
  until grep -qF "$1" "$log"; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$nucleus" 2>/dev/null; then
      echo "not seen within $2 s: $1" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.2
  done
}

wait_for "Successfully subscribed to topic: my/topic" 60
eval "$("$ggipc" env --root "$work" com.example.IoTCorePublisherJava)"
java -cp "$jar:classes" com.aws.greengrass.docs.samples.ipc.PublishToIoTCore my/topic "Hello, World" 1
wait_for "Received new message on topic my/topic: Hello, World" 30
# The publisher's policy allows my/topic only: the example reports the refusal.
out="$(java -cp "$jar:classes" com.aws.greengrass.docs.samples.ipc.PublishToIoTCore other/topic "no" 1 2>&1)"
grep -qF "Unauthorized error while publishing to topic: other/topic" <<<"$out" || { echo "$out" >&2; exit 1; }
echo "java examples on the local nucleus: subscribe, publish, receive and refusal ok"
