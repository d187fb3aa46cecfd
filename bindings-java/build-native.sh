#!/usr/bin/env bash
# Builds libggipc_jni and ggipc-test-server with cargo and copies them where Maven wants them.
#   build-native.sh <profile> <dir for the library> <dir for the test server>
# Honours CARGO_TARGET_DIR; otherwise asks cargo where its target directory is.
set -euo pipefail
profile="${1:-release}"
libdir="$2"
bindir="$3"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ "$profile" = "release" ]; then flag=(--release); sub=release; else flag=(); sub=debug; fi
cargo build "${flag[@]}" -p ggipc-java --lib --bins
target="${CARGO_TARGET_DIR:-}"
if [ -z "$target" ]; then
  target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
fi
case "$(uname -s)" in
  Darwin) lib=libggipc_jni.dylib ;;
  *) lib=libggipc_jni.so ;;
esac
mkdir -p "$libdir" "$bindir"
# Copy then rename: replaces files that a running process still has open.
# The jar gets the library without debug info (the release profile keeps line tables for the Rust side).
if command -v strip >/dev/null 2>&1; then
  strip --strip-debug -o "$libdir/.$lib.tmp" "$target/$sub/$lib"
else
  cp "$target/$sub/$lib" "$libdir/.$lib.tmp"
fi
mv -f "$libdir/.$lib.tmp" "$libdir/$lib"
cp "$target/$sub/ggipc-test-server" "$bindir/.ggipc-test-server.tmp" && mv -f "$bindir/.ggipc-test-server.tmp" "$bindir/ggipc-test-server"
echo "ggipc native: $libdir/$lib, $bindir/ggipc-test-server"
