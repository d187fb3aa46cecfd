#!/usr/bin/env bash
# Java binding: builds libggipc_jni through Maven (cargo), runs the JUnit suite, checks the packaged jar, builds and
# tests io.ggipc:ggipc-testing and the example component that is tested with it (examples/java/forwarder), then
# runs the official AWS Java SDK (V1 and V2 clients) against the same test server, the docs' Java examples
# as components on the local nucleus, and the local pub/sub and connection-status examples beside the Rust ones.
#   scripts/test-java.sh            tests
#   scripts/test-java.sh --bench    tests, then the side-by-side benchmark (bench/java)
# Needs a JDK (11+), Maven and cargo; Maven downloads its plugins and the official SDK from Maven Central.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/bindings-java"

echo "== bindings-java: cargo build + JUnit + jar (installed into the local Maven repository for what follows)"
mvn -B -ntp install

jar="$root/bindings-java/target/ggipc-0.1.0.jar"
listing="$(jar tf "$jar")"
if ! grep -q "native/linux-x86_64/libggipc_jni.so" <<<"$listing"; then
  echo "the jar does not carry native/linux-x86_64/libggipc_jni.so" >&2
  exit 1
fi
echo "jar ok: $jar carries native/linux-x86_64/libggipc_jni.so"

echo "== bindings-java/testing: io.ggipc:ggipc-testing (LocalNucleus, JUnit 5 extension)"
(cd "$root/bindings-java/testing" && mvn -B -ntp install)

echo "== examples/java/forwarder: a component's own tests on io.ggipc:ggipc-testing"
(cd "$root/examples/java/forwarder" && mvn -B -ntp test)

echo "== tests/interop/java: official AWS IoT Device SDK for Java v2 against ggipc"
cd "$root/tests/interop/java"
mvn -B -ntp test

echo "== examples/java: the docs' examples as components on the local nucleus (ggipc run)"
"$root/examples/java/run-demo.sh"

echo "== examples: the local pub/sub and connection-status examples as components, Java beside Rust"
GGIPC_JAR="$jar" bash "$root/examples/run-local-pubsub.sh" java rust

if [ "${1:-}" = "--bench" ]; then
  "$root/bench/java/run.sh"
fi
