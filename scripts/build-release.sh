#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds every release artifact for Linux x86_64, aarch64 and armv7l on a Debian 12 x86_64 machine, installing
# the toolchain first (scripts/install-cross.sh). Everything links against glibc 2.17 at most (zig as the linker),
# so the artifacts run on Debian 9+, Ubuntu 18.04+, Amazon Linux 2, RHEL/CentOS 7+, Raspberry Pi OS, Jetson L4T.
#
#   scripts/build-release.sh                        every artifact, every architecture
#   scripts/build-release.sh --arch aarch64         one architecture (repeatable: x86_64, aarch64, armv7)
#   scripts/build-release.sh --only wheel           one kind of artifact (repeatable: wheel, nucleus, c, jar)
#
# Output in build/dist/ (DIST overrides):
#   ggipc-VERSION-cp39-abi3-manylinux_2_17_ARCH.manylinux2014_ARCH.whl   Python 3.9+ wheel
#   ggipc-nucleus-VERSION-linux-ARCH.tar.gz                              bin/ggipc (local nucleus)
#   libggipc-VERSION-linux-ARCH.tar.gz      lib/libggipc.so*, lib/libggipc.a, include/, CMake package, pkg-config
#   ggipc-VERSION.jar                       Java binding with native/linux-{x86_64,aarch64,armv7}/libggipc_jni.so
#   SHA256SUMS
# Cargo builds go to target/cross (CARGO_TARGET_DIR overrides) and are incremental; -j2 unless CARGO_BUILD_JOBS.
# One build at a time per target directory: two concurrent maturin runs in one target directory can swap their
# libraries (an armv7 wheel with the aarch64 library was seen); a lock serializes runs, and every shipped ELF
# file is checked against its architecture.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

archs=()
kinds=()
while (($#)); do
    case "$1" in
        --arch) archs+=("$2"); shift 2 ;;
        --only) kinds+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
((${#archs[@]})) || archs=(x86_64 aarch64 armv7)
((${#kinds[@]})) || kinds=(wheel nucleus c jar)
want() { local k; for k in "${kinds[@]}"; do [[ $k == "$1" ]] && return 0; done; return 1; }

bash scripts/install-cross.sh

# shellcheck source=scripts/cross-env.sh
source scripts/cross-env.sh
dist="${DIST:-$root/build/dist}"
mkdir -p "$dist" "$CARGO_TARGET_DIR"
exec 9>"$CARGO_TARGET_DIR/.build-release.lock"
flock 9
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"

# The machine (and, on 32-bit ARM, the hard-float ABI) of an ELF file, against the architecture it is for.
check_elf() { # check_elf ARCH FILE [NAME]
    local h want
    h="$(readelf -h "$2")" || return 1
    case "$1" in
        x86_64) want="Advanced Micro Devices X86-64" ;;
        aarch64) want="AArch64" ;;
        armv7) want="ARM" ;;
    esac
    if ! grep -q "Machine: *$want\$" <<<"$h" || { [[ $1 == armv7 ]] && ! grep -q "hard-float" <<<"$h"; }; then
        echo "${3:-$2}: not a $1 ELF file:" >&2
        grep -E "Class|Machine|Flags" <<<"$h" >&2
        return 1
    fi
}

t0=$(date +%s)
lap() { echo "-- $1: $(( $(date +%s) - t0 )) s since start"; }

for arch in "${archs[@]}"; do
    triple="$(rust_triple "$arch")"
    echo "==== $arch ($triple)"

    if want wheel; then
        rm -f "$dist"/ggipc-*-"$(wheel_arch "$arch")".whl
        # No CC_*/linker variables here: they would override maturin's zig linker (and its glibc 2.17 target).
        maturin build --release --zig --compatibility manylinux2014 --target "$triple" \
            --manifest-path bindings-python/Cargo.toml --out "$dist" --quiet
        whl="$(ls "$dist"/ggipc-"$version"-*_"$(wheel_arch "$arch")".whl)"
        unzip -p "$whl" ggipc/_ggipc.abi3.so >"$CARGO_TARGET_DIR/.wheel-check.so"
        check_elf "$arch" "$CARGO_TARGET_DIR/.wheel-check.so" "$whl" || exit 1
        lap "wheel $arch"
    fi

    pkgs=()
    want nucleus && pkgs+=(-p ggipc-nucleus)
    want c && pkgs+=(-p ggipc-c)
    want jar && pkgs+=(-p ggipc-java)
    if ((${#pkgs[@]})); then
        # One cargo invocation: the packages share the core and tokio builds. --lib/--bins would also build the
        # test servers; name what ships.
        targets=()
        want nucleus && targets+=(--bin ggipc)
        (want c || want jar) && targets+=(--lib)
        cargo zigbuild --release --target "$triple.2.17" "${pkgs[@]}" "${targets[@]}"
        lap "cargo zigbuild $arch"
    fi
    out="$CARGO_TARGET_DIR/$triple/release"
    strip_tool="$(strip_for "$arch")"

    if want nucleus; then
        stage="$(mktemp -d)"
        name="ggipc-nucleus-$version-linux-$arch"
        mkdir -p "$stage/$name/bin"
        "$strip_tool" --strip-debug -o "$stage/$name/bin/ggipc" "$out/ggipc"
        check_elf "$arch" "$stage/$name/bin/ggipc" || exit 1
        cp nucleus/README.md "$stage/$name/README.md"
        tar -C "$stage" --owner=0 --group=0 -czf "$dist/$name.tar.gz" "$name"
        rm -rf "$stage"
    fi

    if want c; then
        stage="$(mktemp -d)"
        name="libggipc-$version-linux-$arch"
        p="$stage/$name"
        mkdir -p "$p/lib/cmake/ggipc" "$p/lib/pkgconfig"
        "$strip_tool" --strip-debug -o "$p/lib/libggipc.so.$version" "$out/libggipc.so"
        check_elf "$arch" "$p/lib/libggipc.so.$version" || exit 1
        ln -s "libggipc.so.$version" "$p/lib/libggipc.so"
        "$strip_tool" --strip-debug -o "$p/lib/libggipc.a" "$out/libggipc.a"
        cp -r bindings-c/include "$p/include"
        sed "s/@PROJECT_VERSION@/$version/g" bindings-c/cmake/ggipcConfig.cmake.in >"$p/lib/cmake/ggipc/ggipcConfig.cmake"
        # The version file checks the consumer's pointer size: generate it for the target's (4 bytes on armv7).
        cmake -DOUT="$p/lib/cmake/ggipc/ggipcConfigVersion.cmake" -DVERSION="$version" \
            -DCMAKE_SIZEOF_VOID_P="$(pointer_size "$arch")" -P scripts/cmake-version-file.cmake
        # Relocatable: the prefix is wherever the tarball is unpacked.
        sed -e "s|@CMAKE_INSTALL_PREFIX@|\${pcfiledir}/../..|" -e "s/@PROJECT_VERSION@/$version/g" \
            bindings-c/cmake/ggipc.pc.in >"$p/lib/pkgconfig/ggipc.pc"
        cp bindings-c/README.md "$p/README.md"
        mkdir -p "$p/share/ggipc/examples" && cp examples/c/publish_subscribe.c "$p/share/ggipc/examples/"
        tar -C "$stage" --owner=0 --group=0 -czf "$dist/$name.tar.gz" "$name"
        rm -rf "$stage"
    fi

    if want jar; then
        d="$CARGO_TARGET_DIR/jni-natives/$(java_platform "$arch")"
        mkdir -p "$d"
        "$strip_tool" --strip-debug -o "$d/libggipc_jni.so" "$out/libggipc_jni.so"
        check_elf "$arch" "$d/libggipc_jni.so" || exit 1
    fi
done

if want jar; then
    # The jar carries every architecture built so far (a single-arch run keeps the others from earlier runs).
    ls "$CARGO_TARGET_DIR/jni-natives"
    (cd bindings-java && mvn -B -ntp -q clean package -DskipTests -DskipNative=true \
        "-Dggipc.natives.dir=$CARGO_TARGET_DIR/jni-natives")
    cp "bindings-java/target/ggipc-$version.jar" "$dist/"
    for arch in "${archs[@]}"; do
        entry="native/$(java_platform "$arch")/libggipc_jni.so"
        unzip -l "$dist/ggipc-$version.jar" "$entry" >/dev/null || { echo "jar lacks $entry" >&2; exit 1; }
    done
    lap jar
fi

(cd "$dist" && rm -f SHA256SUMS && sha256sum -- *.whl *.tar.gz *.jar 2>/dev/null >SHA256SUMS || true)
echo "artifacts in $dist:"
ls -l "$dist"
