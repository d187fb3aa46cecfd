# SPDX-License-Identifier: Apache-2.0
# Sourced by the release and emulation scripts: Debian's rustc-web (which has the arm64/armhf std) ahead of any
# rustup toolchain, the release venv's maturin/zig/cargo-zigbuild, a separate target directory, two jobs.
# shellcheck shell=bash
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The caller's PATH, for the host builds that should share the other suites' toolchain and target/ (host_cargo).
export GGIPC_HOST_PATH="${GGIPC_HOST_PATH:-$PATH}"
export PATH="$_root/build/venv-release/bin:/usr/bin:$PATH"
export CARGO=/usr/bin/cargo RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$_root/target/cross}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}"
# What ships is stripped (maturin's strip, strip --strip-debug): the release builds need no line tables, which
# would only make target/cross larger (it ran a CI machine out of disk) and the links slower.
export CARGO_PROFILE_RELEASE_DEBUG="${CARGO_PROFILE_RELEASE_DEBUG:-false}"
# Only for `cargo test --target ...` (core_tests in scripts/test-cross.sh): link with the cross gcc, run under
# qemu-user. The multiarch libc6:arm64/armhf provide /lib/ld-linux-*.so: no -L (which would mix two glibc
# builds). Never for the release builds: a linker variable overrides zig's, and with it the glibc 2.17 target.
cross_test_env() {
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static
    export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
    export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER=qemu-arm-static
}
unset _root

rust_triple() {
    case "$1" in
        x86_64) echo x86_64-unknown-linux-gnu ;;
        aarch64) echo aarch64-unknown-linux-gnu ;;
        armv7) echo armv7-unknown-linux-gnueabihf ;;
        *) echo "unknown architecture: $1 (x86_64, aarch64, armv7)" >&2; return 1 ;;
    esac
}
wheel_arch() { case "$1" in armv7) echo armv7l ;; *) echo "$1" ;; esac; }
java_platform() { echo "linux-$1"; }
debian_arch() { case "$1" in x86_64) echo amd64 ;; aarch64) echo arm64 ;; armv7) echo armhf ;; esac; }
qemu_for() { case "$1" in x86_64) echo "" ;; aarch64) echo qemu-aarch64-static ;; armv7) echo qemu-arm-static ;; esac; }
strip_for() { case "$1" in x86_64) echo strip ;; aarch64) echo aarch64-linux-gnu-strip ;; armv7) echo arm-linux-gnueabihf-strip ;; esac; }
pointer_size() { case "$1" in armv7) echo 4 ;; *) echo 8 ;; esac; }
# cargo of the caller's toolchain (rustup's if any) for host builds into the default target directory.
host_cargo() { env -u CARGO -u RUSTC -u RUSTDOC -u CARGO_TARGET_DIR PATH="$GGIPC_HOST_PATH" cargo "$@"; }
