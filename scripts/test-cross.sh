#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Tests the release artifacts of other architectures as users get them, under qemu-user (no binfmt_misc needed).
#
#   scripts/test-cross.sh --quick            the CI smoke test (scripts/test cross): builds the aarch64 wheel,
#                                            installs it into a venv of an aarch64 Debian 12 Python and makes one
#                                            IPC round trip through the (host) nucleus. Lean on disk: its cargo
#                                            target directory (target/cross-quick) is deleted once the wheel is
#                                            built (--keep keeps it for a faster rerun), and it ends with `du -sh`
#                                            of everything it made
#   scripts/test-cross.sh [--arch A ...]     the full emulated matrix (x86_64, aarch64, armv7 by default); per arch:
#       build      scripts/build-release.sh --arch A (skip with --no-build: test what build/dist/ has)
#       core       cargo test --target TRIPLE -p ggipc --lib --tests, run under qemu (not x86_64: the core suite)
#       python     the wheel installed with pip into a venv of a Debian 12 Python of that architecture, then
#                  the binding's pytest suite but for the tests that start subprocesses (no binfmt_misc: an
#                  emulated program cannot exec another) or measure RSS growth (meaningless under emulation)
#       nucleus+c  the nucleus binary from the tarball, under qemu, serving the C example built against the
#                  libggipc tarball (pkg-config and CMake find_package, cross gcc), also under qemu
#       java       aarch64 only: the jar's native library in Debian's openjdk-17-jre-headless:arm64 under qemu
#       recipe     x86_64 only: the README's recipe (venv in the Install step) on the local nucleus
#   --only STEP   (repeatable) run only these steps
# Ends with "N passed, N failed" (one count per step and architecture).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

quick=0 build=1 keep=0
archs=() steps=()
while (($#)); do
    case "$1" in
        --quick) quick=1; shift ;;
        --no-build) build=0; shift ;;
        --keep) keep=1; shift ;;
        --arch) archs+=("$2"); shift 2 ;;
        --only) steps+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
((${#archs[@]})) || archs=(x86_64 aarch64 armv7)
((${#steps[@]})) || steps=(build core python nucleus+c java recipe)
want() { local s; for s in "${steps[@]}"; do [[ $s == "$1" ]] && return 0; done; return 1; }

bash scripts/install-cross.sh || exit 1
# The quick mode's wheel build has a target directory of its own, so that deleting it never costs a full
# build (target/cross) its incremental state.
((quick)) && export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/cross-quick}"
# shellcheck source=scripts/cross-env.sh
source scripts/cross-env.sh
dist="${DIST:-$root/build/dist}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
work="$(mktemp -d)"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

passed=0 failed=0 failures=()
step() { # step NAME COMMAND...
    local name="$1" t=$(date +%s)
    shift
    echo "=== $name"
    if "$@"; then
        echo "--- ok: $name ($(( $(date +%s) - t )) s)"
        passed=$((passed + 1))
    else
        echo "--- FAILED: $name ($(( $(date +%s) - t )) s)"
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

# Runs a target-architecture program inside ROOT (a scripts/cross-rootfs.sh tree) under qemu. Nothing is
# mounted into ROOT (debootstrap made its /dev nodes; the suite needs no /proc): deleting ROOT stays harmless.
cross_run() { # cross_run ARCH ROOT PROGRAM ARGS...
    local arch="$1" r="$2"
    shift 2
    chroot "$r" "/usr/bin/$(qemu_for "$arch")" "$@"
}

wheel_for() { ls "$dist"/ggipc-"$version"-cp39-abi3-manylinux*_"$(wheel_arch "$1")".whl 2>/dev/null | head -n1; }

# Host wheelhouse of the pure-Python test dependencies, installed offline inside the emulated Python. The same
# pytest-asyncio as scripts/test-python.sh: 0.2x left an event loop unclosed after asyncio tests, and with the
# suite's warnings-as-errors its ResourceWarning failed whichever later test the garbage collector ran in.
WHEELHOUSE="$root/build/wheelhouse-cross-1"
wheelhouse() {
    [[ -d "$WHEELHOUSE" ]] && return 0
    rm -rf "$WHEELHOUSE.tmp"
    python3 -m pip download --quiet --disable-pip-version-check --only-binary=:all: --python-version 3.11 \
        --implementation py --abi none --platform any -d "$WHEELHOUSE.tmp" \
        "pytest>=8.2,<9" "pytest-asyncio>=1,<2" && mv "$WHEELHOUSE.tmp" "$WHEELHOUSE"
}

# Installs the wheel as a device would (pip into a venv), into ROOT:/opt/venv. No ensurepip under qemu without
# binfmt_misc (it execs the venv's python): the venv sees Debian's pip through --system-site-packages instead.
install_wheel() { # install_wheel ARCH ROOT WHEEL [extra pip args]
    local arch="$1" r="$2" whl="$3"
    shift 3
    rm -rf "$r/opt/venv" "$r/opt/wheels"
    mkdir -p "$r/opt/wheels"
    cp "$whl" "$r/opt/wheels/"
    cross_run "$arch" "$r" /usr/bin/python3 -m venv --without-pip --system-site-packages /opt/venv || return 1
    cross_run "$arch" "$r" /opt/venv/bin/python -m pip install --quiet --disable-pip-version-check --no-index \
        --find-links /opt/wheels "/opt/wheels/$(basename "$whl")" "$@" || return 1
    cross_run "$arch" "$r" /opt/venv/bin/python -c \
        'import ggipc, ggipc._ggipc as n, platform; print("imported", n.__file__, "on", platform.machine())'
}

# Starts a nucleus (NUCLEUS: a command, e.g. "qemu-aarch64-static path/ggipc") whose root is DIR, with the
# test identity registered; sets SVCUID and SOCKET. Readiness: components.json (written once serving).
start_nucleus() { # start_nucleus DIR NUCLEUS...
    local dir="$1"
    shift
    rm -rf "$dir"
    mkdir -p "$dir"
    "$@" nucleus --root "$dir" --recipe tests/cross/com.example.Cross.yaml --mqtt-port 0 >"$dir.log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    local i
    for ((i = 0; i < 1200; i++)); do
        [[ -s "$dir/components.json" ]] && break
        kill -0 "$pid" 2>/dev/null || { echo "nucleus exited:"; cat "$dir.log"; return 1; }
        sleep 0.1
    done
    [[ -s "$dir/components.json" ]] || { echo "nucleus not ready after 120 s:"; cat "$dir.log"; return 1; }
    local env
    env="$("$@" env --root "$dir" com.example.Cross)" || return 1
    SVCUID="$(sed -n 's/^export SVCUID=//p' <<<"$env" | tr -d "'\"")"
    SOCKET="$dir/ipc.socket"
    [[ -n "$SVCUID" && -S "$SOCKET" ]] || { echo "no identity from ggipc env: $env"; return 1; }
}

host_nucleus() {
    host_cargo build --quiet -p ggipc-nucleus --bin ggipc >&2 || return 1
    echo "$root/target/debug/ggipc"
}

python_roundtrip() { # python_roundtrip ARCH ROOT: against a host nucleus serving inside ROOT
    local arch="$1" r="$2" nucleus
    nucleus="$(host_nucleus)" && [[ -x "$nucleus" ]] || return 1
    start_nucleus "$r/tmp/ggipc-nucleus" "$nucleus" || return 1
    mkdir -p "$r/opt/ggipc-tests" && cp tests/cross/roundtrip.py "$r/opt/ggipc-tests/"
    SVCUID="$SVCUID" AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT=/tmp/ggipc-nucleus/ipc.socket \
        cross_run "$arch" "$r" /opt/venv/bin/python /opt/ggipc-tests/roundtrip.py
}

# The subset of the binding's suite that is meaningful under qemu-user (see the header).
PYTEST_SUBSET=(--ignore=tests/test_examples.py --ignore=tests/test_exit.py --ignore=tests/test_resources.py
    --deselect=tests/test_testing.py::test_component_in_a_subprocess)

python_suite() { # python_suite ARCH
    local arch="$1" whl r
    whl="$(wheel_for "$arch")"
    [[ -n "$whl" ]] || { echo "no $arch wheel in $dist"; return 1; }
    wheelhouse || return 1
    if [[ "$arch" == x86_64 ]]; then
        # Natively: a venv of the host Python, the manylinux2014 wheel as a device gets it.
        local v="$root/build/venv-cross-x86_64"
        rm -rf "$v" && python3 -m venv "$v" || return 1
        "$v/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
            --find-links "$WHEELHOUSE" "$whl" pytest pytest-asyncio || return 1
        (cd bindings-python && "$v/bin/python" -m pytest -p no:cacheprovider -q "${PYTEST_SUBSET[@]}" tests)
        return
    fi
    r="$root/build/rootfs-$arch"
    bash scripts/cross-rootfs.sh "$arch" "$r" || return 1
    mkdir -p "$r/opt" && rm -rf "$r/opt/wheelhouse" && cp -r "$WHEELHOUSE" "$r/opt/wheelhouse"
    install_wheel "$arch" "$r" "$whl" --find-links /opt/wheelhouse pytest pytest-asyncio || return 1
    rm -rf "$r/opt/src" && mkdir -p "$r/opt/src/bindings-python" "$r/opt/src/tests"
    cp -r bindings-python/tests bindings-python/pyproject.toml "$r/opt/src/bindings-python/"
    # What the tests read from the source tree: the wire vectors (SilentServer's answers), the model
    # (test_generated.py compares the generated classes with it).
    cp -r tests/vectors "$r/opt/src/tests/" && cp -r model "$r/opt/src/"
    # Run from /opt/src/bindings-python (pyproject.toml's pytest options) but import ggipc from the venv.
    cross_run "$arch" "$r" /opt/venv/bin/python -c '
import os, sys
os.chdir("/opt/src/bindings-python")
sys.path.remove(os.getcwd()) if os.getcwd() in sys.path else None
import pytest
sys.exit(pytest.main(sys.argv[1:]))' -p no:cacheprovider -q -o faulthandler_timeout=300 "${PYTEST_SUBSET[@]}" tests
}

core_tests() { # core_tests ARCH
    (cross_test_env && cargo test --target "$(rust_triple "$1")" -p ggipc --lib --tests -- --test-threads=2)
}

nucleus_and_c() { # nucleus_and_c ARCH: target nucleus + target C example, both from the tarballs
    local arch="$1" q p cc
    q="$(qemu_for "$arch")"
    p="$work/c-$arch"
    rm -rf "$p" && mkdir -p "$p"
    tar -C "$p" -xzf "$dist/ggipc-nucleus-$version-linux-$arch.tar.gz" || return 1
    tar -C "$p" -xzf "$dist/libggipc-$version-linux-$arch.tar.gz" || return 1
    local prefix="$p/libggipc-$version-linux-$arch"
    local nucleus=("$p/ggipc-nucleus-$version-linux-$arch/bin/ggipc")
    [[ -n "$q" ]] && nucleus=("$q" "${nucleus[@]}")
    case "$arch" in
        x86_64) cc=gcc ;; aarch64) cc=aarch64-linux-gnu-gcc ;; armv7) cc=arm-linux-gnueabihf-gcc ;;
    esac
    # pkg-config, relocatable prefix
    # shellcheck disable=SC2046
    "$cc" -std=c11 -Wall -Wextra -Werror -o "$p/example_pc" "$prefix/share/ggipc/examples/publish_subscribe.c" \
        $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs ggipc) -lpthread || return 1
    # CMake find_package(ggipc), cross-compiling with the cross gcc
    mkdir -p "$p/consumer"
    cat >"$p/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.19)
project(consumer LANGUAGES C)
find_package(ggipc 0.1.0 REQUIRED)
add_executable(example_cmake "${EXAMPLE}")
target_link_libraries(example_cmake PRIVATE ggipc::ggipc)
CM
    cmake -S "$p/consumer" -B "$p/consumer/build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_SYSTEM_NAME=Linux \
        -DCMAKE_SYSTEM_PROCESSOR="$arch" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_ROOT_PATH="$prefix" \
        -DEXAMPLE="$prefix/share/ggipc/examples/publish_subscribe.c" >"$p/cmake.log" 2>&1 ||
        { cat "$p/cmake.log"; return 1; }
    cmake --build "$p/consumer/build" >>"$p/cmake.log" 2>&1 || { cat "$p/cmake.log"; return 1; }
    file "$p/example_pc" "${nucleus[-1]}"
    start_nucleus "$work/nucleus-$arch" "${nucleus[@]}" || return 1
    local ex
    for ex in "$p/example_pc" "$p/consumer/build/example_cmake"; do
        local run=("$ex")
        [[ -n "$q" ]] && run=("$q" "$ex")
        SVCUID="$SVCUID" AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT="$SOCKET" \
            LD_LIBRARY_PATH="$prefix/lib" timeout 300 "${run[@]}" "cross/c/$arch" 3 >"$p/out" 2>&1
        local rc=$?
        cat "$p/out"
        [[ $rc == 0 ]] || return 1
        [[ "$(grep -c "^received on cross/c/$arch" "$p/out")" == 3 ]] || { echo "expected 3 messages back"; return 1; }
    done
}

# The README's recipe (tests/cross/com.example.CrossVenv.yaml) on the host's nucleus: its Install step makes a
# venv and lets pip pick this machine's wheel among all of build/dist/'s; Run makes the round trip.
recipe_venv() {
    local a="$work/artifacts/com.example.CrossVenv/1.0.0" nucleus
    mkdir -p "$a"
    cp "$dist"/ggipc-"$version"-*.whl tests/cross/roundtrip.py "$a/" || return 1
    nucleus="$(host_nucleus)" && [[ -x "$nucleus" ]] || return 1
    timeout 600 "$nucleus" run --root "$work/recipe-root" --mqtt-port 0 --artifacts "$work/artifacts" \
        --exit-when-done tests/cross/com.example.CrossVenv.yaml
}

java_aarch64() {
    local arch=aarch64 r="$root/build/rootfs-aarch64-java" jar probe
    jar="$dist/ggipc-$version.jar"
    probe="$root/bindings-java/target/test-classes/io/ggipc/LoadProbe.class"
    [[ -f "$jar" && -f "$probe" ]] || { echo "needs $jar and $probe (scripts/build-release.sh)"; return 1; }
    GGIPC_ROOTFS_EXTRA=openjdk-17-jre-headless bash scripts/cross-rootfs.sh "$arch" "$r" || return 1
    rm -rf "$r/opt/java" && mkdir -p "$r/opt/java/classes/io/ggipc"
    cp "$jar" "$r/opt/java/ggipc.jar" && cp "$probe" "$r/opt/java/classes/io/ggipc/"
    local nucleus
    nucleus="$(host_nucleus)" && [[ -x "$nucleus" ]] || return 1
    start_nucleus "$r/tmp/ggipc-nucleus" "$nucleus" || return 1
    local java
    java="$(cd "$r" && ls -d usr/lib/jvm/java-17-openjdk-arm64/bin/java)" || return 1
    SVCUID="$SVCUID" AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT=/tmp/ggipc-nucleus/ipc.socket \
        cross_run "$arch" "$r" "/$java" -Xshare:off -cp /opt/java/ggipc.jar:/opt/java/classes io.ggipc.LoadProbe \
        >"$work/java.out" 2>&1
    local rc=$?
    cat "$work/java.out"
    [[ $rc == 0 ]] && grep -qx "loaded from jar:/native/linux-aarch64/libggipc_jni.so" "$work/java.out" &&
        grep -qx published "$work/java.out"
}

# `du -sh` of what this run made or uses, for the disk budget of CI machines.
disk_report() { # disk_report PATH...
    local p
    echo "disk:"
    for p in "$@"; do
        [[ -e "$p" ]] && du -sh "$p"
    done
    df -h "$root" | tail -n1 | awk '{print "free on " $6 ": " $4}'
}

if ((quick)); then
    arch=aarch64
    r="$root/build/rootfs-$arch"
    if ((build)); then
        step "build the $arch wheel" bash scripts/build-release.sh --arch "$arch" --only wheel
        target_size="$(du -sh "$CARGO_TARGET_DIR" 2>/dev/null | cut -f1)"
        # Before the Debian root is made: the disk holds one of the two at a time.
        if ((!keep)); then rm -rf "$CARGO_TARGET_DIR"; fi
        echo "cargo target directory of the wheel build: ${target_size:-none} ($( ((keep)) && echo kept || echo deleted))"
    fi
    step "Debian 12 $arch Python" bash scripts/cross-rootfs.sh "$arch" "$r"
    step "pip install the wheel into an $arch venv, import" install_wheel "$arch" "$r" "$(wheel_for "$arch")"
    step "$arch: one IPC round trip through the nucleus" python_roundtrip "$arch" "$r"
    disk_report "$CARGO_TARGET_DIR" "$r" "$root/build/venv-release" "$(wheel_for "$arch")" "$HOME/.cache/zig" \
        "$HOME/.cache/cargo-zigbuild"
else
    for arch in "${archs[@]}"; do
        if want build && ((build)); then step "$arch: build" bash scripts/build-release.sh --arch "$arch"; fi
        if want core && [[ $arch != x86_64 ]]; then step "$arch: core tests under qemu" core_tests "$arch"; fi
        if want python; then step "$arch: Python suite (subset) with the wheel" python_suite "$arch"; fi
        if want nucleus+c; then step "$arch: nucleus and C example from the tarballs" nucleus_and_c "$arch"; fi
        if want java && [[ $arch == aarch64 ]]; then step "$arch: jar in an $arch JVM" java_aarch64; fi
        if want recipe && [[ $arch == x86_64 ]]; then
            step "the README's recipe: wheel into a venv in Install, round trip in Run" recipe_venv
        fi
    done
fi
echo
((${#failures[@]})) && echo "failed: ${failures[*]}"
echo "cross: $passed passed, $failed failed"
[[ $failed == 0 ]]
