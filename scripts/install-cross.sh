#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what the release build and the emulated tests need on Debian 12 (bookworm), x86_64 host:
#   - Debian's rustc-web/cargo-web (bookworm-security) with the Rust std for arm64 and armhf (Multi-Arch: same),
#     which gives /usr/bin/rustc the aarch64-unknown-linux-gnu and armv7-unknown-linux-gnueabihf targets;
#   - the cross C toolchains and C libraries (linkers for `cargo test --target ...`, and the target glibc that
#     qemu-user loads the test binaries with), qemu-user-static, debootstrap;
#   - into build/venv-release: maturin, ziglang (zig as the C compiler/linker: links against glibc 2.17) and
#     cargo-zigbuild, all from PyPI.
# Idempotent: what is already installed is skipped.
#   scripts/install-cross.sh            apt packages and the venv
#   scripts/install-cross.sh --apt      apt packages only
#   scripts/install-cross.sh --venv     the venv only
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
what="${1:-all}"

apt_pkgs=(rustc-web cargo-web libstd-rust-web-dev:arm64 libstd-rust-web-dev:armhf
    gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-arm64-cross libc6-dev-armhf-cross
    libc6:arm64 libc6:armhf libgcc-s1:arm64 libgcc-s1:armhf
    qemu-user-static debootstrap cmake unzip)

install_apt() {
    export DEBIAN_FRONTEND=noninteractive
    local need=() updated=0
    for a in arm64 armhf; do
        if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
            dpkg --add-architecture "$a"
            updated=1
        fi
    done
    for p in "${apt_pkgs[@]}"; do
        dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
    done
    # rustc-web's std for the other architectures must match the host rustc-web exactly: Debian updates them
    # together, so an older installed pair is upgraded with the rest rather than pinned.
    if ((${#need[@]})) || [[ $updated == 1 ]]; then
        apt-get update -qq
    fi
    if ((${#need[@]})); then
        echo "apt-get install ${need[*]}"
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
    local host_v
    host_v="$(dpkg-query -W -f='${Version}' rustc-web)"
    for a in arm64 armhf; do
        local v
        v="$(dpkg-query -W -f='${Version}' "libstd-rust-web-dev:$a")"
        if [[ "$v" != "$host_v" ]]; then
            echo "libstd-rust-web-dev:$a is $v but rustc-web is $host_v: run apt-get upgrade" >&2
            exit 1
        fi
    done
    for t in aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
        if [[ ! -d "$(/usr/bin/rustc --print sysroot)/lib/rustlib/$t/lib" ]]; then
            echo "/usr/bin/rustc has no std for $t" >&2
            exit 1
        fi
    done
}

install_venv() {
    local venv="$root/build/venv-release"
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "maturin>=1.5,<2" "ziglang>=0.13,<0.14" "cargo-zigbuild>=0.19" "auditwheel>=6"
}

case "$what" in
    all) install_apt; install_venv ;;
    --apt) install_apt ;;
    --venv) install_venv ;;
    *) echo "usage: $0 [--apt|--venv]" >&2; exit 2 ;;
esac
