#!/usr/bin/env bash
# Performance report: every ggipc client beside its official counterpart (Python awsiotsdk V2, Java SDK V2),
# same run, same nucleus, beside the limit line of each payload size (two processes exchanging the encoded frames
# of a sync publish and doing nothing else, blocking and spinning), with the nucleus' CPU per publish against
# the number of connected components (fan-out); writes docs/PERFORMANCE.md and the plots in docs/img/. About
# 10-15 minutes with the defaults.
#
#   scripts/perf-report.sh [report.py options: --rounds N --quick --sizes 64,1024 --components 1,10 --out FILE
#                           --clients NAMES --no-limit --no-plots --raw FILE]
#
# Builds what it needs (release builds of the nucleus, libggipc, the Rust and C++ bench clients, the Python wheel, the Java
# jar, the Java bench client compiled against each SDK; a venv with matplotlib under build/venv-perf).
# GGIPC_REUSE_BUILDS=1 keeps an existing wheel and jar.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
TARGET_DIR="${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
export CARGO_TARGET_DIR="$TARGET_DIR"
OUT="$ROOT/build/perf"
mkdir -p "$OUT"
log() { echo "perf-report: $*" >&2; }

log "cargo: nucleus and the Rust bench client (release)"
cargo build -q --release -p ggipc-nucleus
cargo build -q --release --manifest-path bench/report/rust/Cargo.toml
export GGIPC_BIN="$TARGET_DIR/release/ggipc"
export GGIPC_BENCH_BIN="$TARGET_DIR/release/ggipc-bench-report"

log "C++ bench client"
cargo build -q --release -p ggipc-c
"${CXX:-g++}" -std=c++17 -O2 -Wall -Wextra -Werror -I bindings-c/include bench/report/cpp/client.cpp \
    "$TARGET_DIR/release/libggipc.a" -lpthread -ldl -lm -o "$OUT/ggipc-bench-report-cpp"
export GGIPC_CPP_BENCH_BIN="$OUT/ggipc-bench-report-cpp"

log "Python: venv with awsiotsdk, matplotlib and the ggipc wheel"
VENV="$ROOT/build/venv-perf"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check "awsiotsdk==1.31.0" "matplotlib>=3.7,<4" "maturin>=1.5,<2"
if [[ "${GGIPC_REUSE_BUILDS:-0}" != 1 ]] || ! ls "$OUT"/wheels/ggipc-*.whl >/dev/null 2>&1; then
    rm -rf "$OUT/wheels"
    "$VENV/bin/maturin" build --release --quiet --manifest-path bindings-python/Cargo.toml \
        --interpreter "$VENV/bin/python" --out "$OUT/wheels"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$OUT"/wheels/ggipc-*.whl
export GGIPC_PY="$VENV/bin/python"

log "Java: official SDK classpath, ggipc jar, the bench client built against each"
(cd tests/conformance/drivers/java && mvn -q -B dependency:build-classpath -Dmdep.outputFile="$OUT/java-official.cp" >/dev/null)
if [[ "${GGIPC_REUSE_BUILDS:-0}" != 1 ]] || ! ls bindings-java/target/ggipc-*.jar >/dev/null 2>&1; then
    (cd bindings-java && mvn -q -B -DskipTests package)
fi
# a private copy: the jar under bindings-java/target may be rebuilt while the report runs
cp "$(ls bindings-java/target/ggipc-*.jar | grep -v -e sources -e javadoc | head -1)" "$OUT/ggipc.jar"
JAR="$OUT/ggipc.jar"
SRC=bench/report/java/src/benchreport/JavaClient.java
rm -rf "$OUT/java-official" "$OUT/java-ggipc" "$OUT/java-ggipc-src"
mkdir -p "$OUT/java-official" "$OUT/java-ggipc" "$OUT/java-ggipc-src/benchreport"
javac -d "$OUT/java-official" -cp "$(cat "$OUT/java-official.cp")" "$SRC"
# The ggipc build differs only by the package names (the porting rule).
sed -e 's/software\.amazon\.awssdk\.aws\.greengrass/io.ggipc.greengrass/g' \
    -e 's/software\.amazon\.awssdk\.eventstreamrpc/io.ggipc.eventstreamrpc/g' \
    "$SRC" >"$OUT/java-ggipc-src/benchreport/JavaClient.java"
javac -d "$OUT/java-ggipc" -cp "$JAR" "$OUT/java-ggipc-src/benchreport/JavaClient.java"
export GGIPC_JAVA_OFFICIAL_CP="$OUT/java-official:$(cat "$OUT/java-official.cp")"
export GGIPC_JAVA_GGIPC_CP="$OUT/java-ggipc:$JAR"

log "measuring"
exec "$VENV/bin/python" bench/report/report.py "$@"
