#!/usr/bin/env bash
# Conformance matrix: the official SDK clients (Python awsiotsdk V1/V2, Java SDK V1/V2) and ggipc's clients
# (Rust, Python V1/V2, C++, Java V1/V2) against ggipc's nucleus and against a server built on the official
# event-stream RPC server classes of aws-crt; writes docs/CONFORMANCE.md.
#
#   scripts/conformance.sh [run.py options: --clients a,b --servers x,y --scenarios s,t --out FILE]
#
# Builds what it needs (release builds of the nucleus, libggipc, the Python wheel, the Java jar, the drivers;
# a venv under build/venv-conformance; Maven artifacts). GGIPC_REUSE_BUILDS=1 keeps an existing wheel and jar.
# Exit status 1 if any ggipc client fails a scenario; failures of the official SDKs are reported only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
TARGET_DIR="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
export CARGO_TARGET_DIR="$TARGET_DIR"
OUT="$ROOT/build/conformance"
mkdir -p "$OUT"
log() { echo "conformance: $*" >&2; }

log "cargo: nucleus, libggipc, Rust driver (release)"
cargo build -q --release -p ggipc-nucleus -p ggipc-c
cargo build -q --release --manifest-path tests/conformance/rust/Cargo.toml
export GGIPC_BIN="$TARGET_DIR/release/ggipc"
export GGIPC_RUST_DRIVER="$TARGET_DIR/release/ggipc-conformance"

log "C++ driver"
"${CXX:-g++}" -std=c++17 -O2 -Wall -Wextra -Werror -I bindings-c/include tests/conformance/drivers/cpp/driver.cpp \
    "$TARGET_DIR/release/libggipc.a" -lpthread -ldl -lm -o "$OUT/ggipc-conformance-cpp"
export GGIPC_CPP_DRIVER="$OUT/ggipc-conformance-cpp"

log "Python: venv with awsiotsdk and the ggipc wheel"
VENV="$ROOT/build/venv-conformance"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "awsiotsdk==1.31.0" "maturin>=1.5,<2"
if [[ "${GGIPC_REUSE_BUILDS:-0}" != 1 ]] || ! ls "$OUT"/wheels/ggipc-*.whl >/dev/null 2>&1; then
    rm -rf "$OUT/wheels"
    "$VENV/bin/maturin" build --release --quiet --manifest-path bindings-python/Cargo.toml \
        --interpreter "$VENV/bin/python" --out "$OUT/wheels"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$OUT"/wheels/ggipc-*.whl
export GGIPC_PY="$VENV/bin/python"

log "Java: official-server harness, official SDK classpath, ggipc jar, drivers"
(cd tests/conformance/official-server && mvn -q -B compile &&
    mvn -q -B dependency:build-classpath -Dmdep.outputFile="$OUT/official-server.cp" >/dev/null)
export GGIPC_OFFICIAL_SERVER_CP="$ROOT/tests/conformance/official-server/target/classes:$(cat "$OUT/official-server.cp")"
(cd tests/conformance/drivers/java && mvn -q -B dependency:build-classpath -Dmdep.outputFile="$OUT/java-official.cp" >/dev/null)
if [[ "${GGIPC_REUSE_BUILDS:-0}" != 1 ]] || ! ls bindings-java/target/ggipc-*.jar >/dev/null 2>&1; then
    (cd bindings-java && mvn -q -B -DskipTests package)
fi
# a private copy: the jar under bindings-java/target may be rebuilt while the matrix runs
cp "$(ls bindings-java/target/ggipc-*.jar | grep -v -e sources -e javadoc | head -1)" "$OUT/ggipc.jar"
JAR="build/conformance/ggipc.jar"
JAVA_SRC=tests/conformance/drivers/java
rm -rf "$OUT/java-official" "$OUT/java-ggipc" "$OUT/java-ggipc-src"
mkdir -p "$OUT/java-official" "$OUT/java-ggipc" "$OUT/java-ggipc-src/conformance"
javac -d "$OUT/java-official" -cp "$(cat "$OUT/java-official.cp")" "$JAVA_SRC/src/conformance/Driver.java" \
    "$JAVA_SRC/official-ipcutils/com/aws/greengrass/docs/samples/ipc/util/IPCUtils.java"
# The porting rule: the ggipc build of the driver differs only by the package names.
sed -e 's/software\.amazon\.awssdk\.aws\.greengrass/io.ggipc.greengrass/g' \
    -e 's/software\.amazon\.awssdk\.eventstreamrpc/io.ggipc.eventstreamrpc/g' \
    -e 's/com\.aws\.greengrass\.docs\.samples\.ipc\.util\.IPCUtils/io.ggipc.greengrass.IPCUtils/g' \
    "$JAVA_SRC/src/conformance/Driver.java" >"$OUT/java-ggipc-src/conformance/Driver.java"
javac -d "$OUT/java-ggipc" -cp "$ROOT/$JAR" "$OUT/java-ggipc-src/conformance/Driver.java"
export GGIPC_JAVA_OFFICIAL_CP="$OUT/java-official:$(cat "$OUT/java-official.cp")"
export GGIPC_JAVA_GGIPC_CP="$OUT/java-ggipc:$ROOT/$JAR"

log "nucleus memory check"
status=0
GGIPC_MEMORY_CHECK="$("$GGIPC_PY" tests/conformance/nucleus_memory_check.py "$GGIPC_BIN")" || status=1
export GGIPC_MEMORY_CHECK
log "$GGIPC_MEMORY_CHECK"

log "running the matrix"
"$PYTHON" tests/conformance/run.py "$@" || status=1
exit "$status"
