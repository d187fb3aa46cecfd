#!/usr/bin/env bash
# Reliability and security suite (bounded in time, about 5 minutes of running on 2 cores once built):
# fault injection, churn, load and security tests against the real `ggipc nucleus` (tests/reliability),
# the fuzz regression inputs (tests/fuzz/regressions), and every fuzz target for FUZZ_SECS seconds
# (scripts/fuzz.sh). Regenerates the figures section of docs/RELIABILITY.md from what the tests measured.
#
#   scripts/test-reliability.sh              everything (Mosquitto installed if missing, then mandatory)
#   FUZZ_SECS=0 scripts/test-reliability.sh  skip the fuzzing runs
#
# Knobs: FUZZ_SECS (default 15 per target), CHURN_SECS (60), LOAD_SECS (20), NO_DOC=1 (do not rewrite the doc).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-$root/target}
FUZZ_SECS=${FUZZ_SECS:-15}
export CHURN_SECS=${CHURN_SECS:-60}
export LOAD_SECS=${LOAD_SECS:-20}
start=$(date +%s)
failed=()

if bash scripts/install-mosquitto.sh >/dev/null 2>&1; then
    export GGIPC_REQUIRE_MOSQUITTO=1
else
    echo "Mosquitto could not be installed: its tests are skipped (SKIPPED lines below)"
fi

echo "== building the ggipc binary (release)"
GGIPC_BIN=$(cargo build --release -p ggipc-nucleus --bin ggipc --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    try: m = json.loads(l)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "ggipc" and m.get("executable"): print(m["executable"])' | tail -1)
if [ -z "$GGIPC_BIN" ]; then
    echo "building ggipc failed" >&2
    cargo build --release -p ggipc-nucleus --bin ggipc
    exit 1
fi
export GGIPC_BIN

report=$target/reliability-report
rm -rf "$report"
mkdir -p "$report"
export RELIABILITY_REPORT=$report

echo "== fault injection, churn, load, security (tests/reliability, one test at a time)"
if ! cargo test --release --no-fail-fast --manifest-path tests/reliability/Cargo.toml --target-dir "$target/reliability-tests" \
    -- --test-threads 1 2>&1 | tee "$report/cargo-test.log" | grep -aE '^test |^\[|test result|panicked|SKIPPED'; then
    :
fi
grep -aq 'test result: FAILED\|error\[' "$report/cargo-test.log" && failed+=(reliability)
grep -aq 'test result: ok' "$report/cargo-test.log" || failed+=(reliability-build)

echo "== fuzz regression inputs (tests/fuzz/regressions)"
cargo test --no-fail-fast --manifest-path tests/fuzz/Cargo.toml --target-dir "$target/reliability-tests" 2>&1 |
    tee "$report/fuzz-regressions.log" | grep -aE '^test |test result|panicked' || failed+=(fuzz-regressions)
grep -aq 'test result: FAILED' "$report/fuzz-regressions.log" && failed+=(fuzz-regressions)

if [ "$FUZZ_SECS" -gt 0 ]; then
    echo "== fuzzing, ${FUZZ_SECS} s per target (scripts/fuzz.sh)"
    bash scripts/fuzz.sh "$FUZZ_SECS" | tee "$report/fuzz"
    [ "${PIPESTATUS[0]}" -eq 0 ] || failed+=(fuzz)
fi

elapsed=$(( $(date +%s) - start ))
if [ "${NO_DOC:-}" != 1 ]; then
    python3 - "$report" docs/RELIABILITY.md "$elapsed" <<'PY'
import os, sys, datetime, platform
report, doc, elapsed = sys.argv[1], sys.argv[2], sys.argv[3]
def read(name):
    p = os.path.join(report, name)
    return open(p).read().strip() if os.path.exists(p) else ""
head = "| What was tried | How much | What was measured | What broke |\n|---|---|---|---|"
sections = []
def table(title, names):
    rows = "\n".join(r for n in names for r in read(n).splitlines() if r.startswith("|"))
    if rows:
        sections.append(f"### {title}\n\n{head}\n{rows}\n")
table("Faults: nucleus and broker restarts", ["restart", "broker"])
table("Faults: misbehaving clients and churn", ["misbehaving", "churn"])
series = read("churn-series")
if series:
    sections.append(f"Churn, nucleus RSS and descriptors over time: {series}\n")
table("Load", ["load", "stalled"])
lat = read("load-latency")
if lat:
    sections.append("Load, publish → delivery latency per second of the run (µs):\n\n"
                    "| second | deliveries | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n" + lat + "\n")
tok = read("tokens")
if tok:
    sections.append("### Security: tokens, socket, logs\n\n| Case | Outcome |\n|---|---|\n" + tok + "\n")
tim = read("timing")
if tim:
    sections.append(f"### Security: token comparison timing\n\n{head}\n{tim}\n")
pol = read("policy")
if pol:
    sections.append("### Security: policy decisions\n\n"
                    "Expected = the safe decision; ggipc = what the server answered over IPC (allow, deny = "
                    "`UnauthorizedError`, reject = another error, message shown); nucleus = the same request "
                    "against the core server in `FilterAuthorization::Literal` mode, the Java nucleus' literal "
                    "matching (docs/PROTOCOL.md §5.3), shown where it differs.\n\n"
                    "| # | Policy resources | Operation | Requested | Expected | ggipc | Nucleus | Note |\n"
                    "|---|---|---|---|---|---|---|---|\n" + pol + "\n")
eof = read("server-eof")
if eof:
    sections.append("### Server: peer gone with a subscription open\n\n" + "\n".join("- " + l for l in eof.splitlines()) + "\n")
fz = read("fuzz")
if fz:
    sections.append("### Fuzzing\n\n```\n" + fz + "\n```\n")
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
body = (f"<!-- figures:begin (generated by scripts/test-reliability.sh; edits here are overwritten) -->\n\n"
        f"Last run: {stamp}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"{elapsed} s for the whole script.\n\n" + "\n".join(sections) + "\n<!-- figures:end -->")
text = open(doc).read() if os.path.exists(doc) else "# Reliability and security\n\n<!-- figures:begin -->\n<!-- figures:end -->\n"
a = text.find("<!-- figures:begin")
b = text.find("<!-- figures:end -->")
if a < 0 or b < 0:
    text = text.rstrip() + "\n\n" + body + "\n"
else:
    text = text[:a] + body + text[b + len("<!-- figures:end -->"):]
open(doc, "w").write(text)
print(f"figures written to {doc}")
PY
fi

echo "reliability suite: ${elapsed} s"
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all reliability checks passed"
