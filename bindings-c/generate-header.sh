#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates include/ggipc.h with the pinned cbindgen (installed into
# <repo>/target/tools on first use). With --verify, regenerates into a temporary
# file and fails if the committed header differs.
set -euo pipefail

CBINDGEN_VERSION=0.29.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
tools="$repo/target/tools"
cbindgen="$tools/bin/cbindgen"

if ! "$cbindgen" --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
    echo "installing cbindgen $CBINDGEN_VERSION into $tools" >&2
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --root "$tools" >&2
fi

version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)"
IFS=. read -r major minor patch <<<"${version%%-*}"

tmp="$(mktemp)"
trap 'rm -f "$tmp"' EXIT
(cd "$here" && "$cbindgen" --quiet --config cbindgen.toml --crate ggipc-c --output "$tmp")
sed -i \
    -e "s/@GGIPC_VERSION_MAJOR@/$major/" \
    -e "s/@GGIPC_VERSION_MINOR@/$minor/" \
    -e "s/@GGIPC_VERSION_PATCH@/$patch/" \
    -e "s/@GGIPC_VERSION@/$version/" "$tmp"

target="$here/include/ggipc.h"
if [[ "${1:-}" == "--verify" ]]; then
    if ! diff -u "$target" "$tmp"; then
        echo "include/ggipc.h is out of date: run bindings-c/generate-header.sh" >&2
        exit 1
    fi
    echo "include/ggipc.h is up to date"
else
    cp "$tmp" "$target"
    echo "wrote $target"
fi
