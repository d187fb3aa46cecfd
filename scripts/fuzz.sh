#!/usr/bin/env bash
# Builds and runs every fuzz target — the core's (core/fuzz: decode, round_trip, model_json, policy) and the
# server's (tests/fuzz: server_rpc, recipe) — each for SECONDS (default 60), with corpora seeded from
# tests/vectors/*.json and examples/recipes/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]
#
# With `cargo fuzz` and a nightly toolchain installed it uses `cargo +nightly fuzz run`; otherwise it builds the
# libFuzzer binaries with the stable compiler and coverage instrumentation (sancov) and runs them directly with
# -max_total_time. Crashing inputs are copied to tests/fuzz/regressions/<target>/ (replayed by
# `cargo test --manifest-path tests/fuzz/Cargo.toml`); the script exits non-zero if any target crashed.
# Corpora and logs live under target/fuzz-work/ (FUZZ_WORK to change). Prints one summary line per target.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

secs=${1:-60}
shift || true
core_targets=(decode round_trip model_json policy)
own_targets=(server_rpc recipe)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${core_targets[@]}" "${own_targets[@]}"); fi

work=${FUZZ_WORK:-${CARGO_TARGET_DIR:-$root/target}/fuzz-work}
mkdir -p "$work"

crate_of() {
    case "$1" in
        decode|round_trip|model_json|policy) echo core/fuzz ;;
        server_rpc|recipe) echo tests/fuzz ;;
        *) echo "unknown fuzz target: $1" >&2; return 1 ;;
    esac
}

# Seed corpora (idempotent: files are named by content).
python3 - "$work" <<'PY'
import hashlib, json, os, sys, glob
work = sys.argv[1]
def put(target, data):
    d = os.path.join(work, "seeds", target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb").write(data)
vec = {}
for f in sorted(glob.glob("tests/vectors/*.json")):
    for v in json.load(open(f))["vectors"]:
        raw = bytes.fromhex(v["hex"]) if isinstance(v.get("hex"), str) else b""
        vec[v["id"]] = raw
        for t in ("decode", "round_trip"):
            put(t, raw)
        if v.get("payload_hex"):
            put("model_json", bytes.fromhex(v["payload_hex"]))
        put("server_rpc", b"\0" + raw)
c2s = [k for k in ("G4", "G6", "G7", "G10", "G14", "G13", "G17") if k in vec]
if "G1" in vec:
    for k in c2s:
        put("server_rpc", b"\0" + vec["G1"] + vec[k])
    for seq in (("G4", "G7"), ("G10", "G7", "G13"), ("G6", "G7", "G14")):
        if all(k in vec for k in seq):
            put("server_rpc", b"\x05" + vec["G1"] + b"".join(vec[k] for k in seq))
for f in sorted(glob.glob("examples/recipes/*")):
    data = open(f, "rb").read()
    put("recipe", (b"\0" if f.endswith(".json") else b"\1") + data)
for p, t in (("a/+", "a/b"), ("$aws/things/${iot:thingName}/shadow/#", "$aws/things/x/shadow/get"),
             ("${*}/x", "*/x"), ("a/#", "a/+/c"), ("*", "")):
    put("policy", p.encode() + b"\0" + t.encode())
for d in ("tests/fuzz/regressions/server_rpc", "tests/fuzz/regressions/recipe"):
    for f in glob.glob(d + "/*"):
        put(os.path.basename(d), open(f, "rb").read())
PY

use_cargo_fuzz=0
if cargo fuzz --version >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep -q nightly; then
    use_cargo_fuzz=1
fi

stable_flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"

build_dir=$work/build
# An explicit --target keeps the instrumentation flags away from build scripts and proc macros.
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=$build_dir/$host/release
if [ $use_cargo_fuzz -eq 0 ]; then
    for crate in core/fuzz tests/fuzz; do
        echo "building $crate (stable, sancov instrumentation)"
        if ! RUSTFLAGS="$stable_flags" cargo build --release --bins --manifest-path "$crate/Cargo.toml" \
            --target "$host" --target-dir "$build_dir" 2>"$work/build.log"; then
            tail -30 "$work/build.log" >&2
            echo "fuzz.sh: build of $crate failed" >&2
            exit 1
        fi
    done
fi

crashed=()
for t in "${targets[@]}"; do
    crate=$(crate_of "$t") || exit 2
    corpus=$work/corpus/$t
    artifacts=$work/artifacts/$t
    rm -rf "$artifacts"
    mkdir -p "$corpus" "$artifacts" "$work/seeds/$t"
    log=$work/$t.log
    # Fork mode keeps fuzzing after a crash (a known defect must not stop the search for others).
    args=(-max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$artifacts/"
          -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    if [ $use_cargo_fuzz -eq 1 ]; then
        (cd "$crate" && cargo +nightly fuzz run --fuzz-dir . "$t" "$corpus" "$work/seeds/$t" -- "${args[@]}") >"$log" 2>&1
        bin=$crate/target/$host/release/$t
    else
        (cd "$work" && "$bin_dir/$t" "${args[@]}" "$corpus" "$work/seeds/$t") >"$log" 2>&1
        bin=$bin_dir/$t
    fi
    status=$?
    runs=$(grep -ao '^#[0-9]*' "$log" | tail -1 | tr -d '#')
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    known=0
    new=0
    messages=""
    for a in "$artifacts"/*; do
        [ -f "$a" ] || continue
        # Replaying one input prints its panic message.
        msg=$("$bin" "$a" 2>&1 | grep -a -A1 'panicked at' | tail -1 | cut -c1-160)
        if [ -n "$msg" ] && grep -v '^#' tests/fuzz/regressions/known-defects.txt | grep -qF -f - <(echo "$msg"); then
            known=$((known + 1))
        else
            new=$((new + 1))
            mkdir -p "tests/fuzz/regressions/$t"
            cp "$a" "tests/fuzz/regressions/$t/"
            echo "  new crash kept as tests/fuzz/regressions/$t/$(basename "$a"): ${msg:-see $log}"
        fi
        messages="$messages$msg"$'\n'
    done
    if [ $status -ne 0 ] && [ $((known + new)) -eq 0 ]; then
        new=1
        echo "  libFuzzer exited with $status without an artifact; log: $log"
    fi
    summary="fuzz $t: ${runs:-?} runs in ${secs}s, coverage ${cov:-?} edges, corpus $(ls "$corpus" | wc -l) inputs"
    if [ $new -gt 0 ]; then
        crashed+=("$t")
        echo "$summary, NEW CRASHES: $new (known defects: $known)"
    elif [ $known -gt 0 ]; then
        echo "$summary, no new crash; $known inputs hit known defects:"
        printf '%s' "$messages" | sort -u | sed '/^$/d; s/^/    /'
    else
        echo "$summary, no crash"
    fi
done

if [ ${#crashed[@]} -gt 0 ]; then
    echo "crashed: ${crashed[*]}"
    exit 1
fi
