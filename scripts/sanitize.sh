#!/usr/bin/env bash
# Runs the unit tests under the sanitizers: the whole suite under AddressSanitizer (with
# LeakSanitizer), and the tests of every module that has threads under ThreadSanitizer.
#   scripts/sanitize.sh            both
#   scripts/sanitize.sh --asan     AddressSanitizer only
#   scripts/sanitize.sh --tsan     ThreadSanitizer only
# One scratch path per sanitizer (.build/asan, .build/tsan; SANITIZE_BUILD_DIR replaces .build),
# kept between runs so the next build is incremental. Prints one summary line per sanitizer; exits non-zero if a test fails or a
# sanitizer reports anything (TSan exits 66 on a report, ASan/LSan 1; the log is also searched).
# Full logs: /tmp/forwarder-asan.log, /tmp/forwarder-tsan.log.
set -uo pipefail
cd "$(dirname "$0")/.."

# The modules with threads and the tests that exercise them: the cache and pool across threads
# (stress, remote frees, allocation counting through TSan's hooks), the pipeline (workers on
# threads with a shared pool, the StatsSlot hand-over), ProcessControl (named threads,
# FailureBox, the stop pipe), PcapngCapture's locked writer (two threads, one file) and two NAT
# workers handing frames to each other. PcapIO's tests have no threads of their own.
tsan_filter='^(BufferCacheTests|PipelineTests|ProcessControlTests|PcapngCaptureTests|Nat44Tests.NatWorkerThreadTests)\.'

asan=0 tsan=0
for arg in "$@"; do
    case "$arg" in
        --asan) asan=1 ;;
        --tsan) tsan=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "sanitize.sh: unknown option $arg (use --asan, --tsan)" >&2; exit 2 ;;
    esac
done
if [ $asan -eq 0 ] && [ $tsan -eq 0 ]; then asan=1 tsan=1; fi

build_dir=${SANITIZE_BUILD_DIR:-.build}
status=0
summaries=()

# run NAME SANITIZER LOG REPORT-PATTERN [swift test arguments...]
run() {
    local name=$1 sanitizer=$2 log=$3 pattern=$4
    shift 4
    local start=$SECONDS extra=${SANITIZE_EXTRA:-}
    if ! swift build --build-tests --scratch-path "$build_dir/$name" --sanitize="$sanitizer" >"$log.build" 2>&1; then
        tail -20 "$log.build"
        summaries+=("$name: BUILD FAILED (log: $log.build)")
        status=1
        return
    fi
    local built=$((SECONDS - start))
    swift test --skip-build --scratch-path "$build_dir/$name" --sanitize="$sanitizer" "$@" >"$log" 2>&1
    local rc=$?
    local ran=$((SECONDS - start - built))
    local executed reports skipped
    executed=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with" "$log" | tail -1 | sed -E 's/^[[:space:]]*//; s/ in [0-9.]+ .*//')
    reports=$(grep -cE "$pattern" "$log")
    skipped=$(grep -cE "^Test Case '.*' skipped" "$log")
    grep -E "^Test Case '.*' skipped|: error: " "$log" | head -20
    if [ "$reports" -gt 0 ]; then grep -E -A12 "$pattern" "$log" | head -60; fi
    if [ $rc -eq 0 ] && [ -n "$extra" ]; then
        # A command of the sanitizer's own run on the same build (the TSan bench run below).
        echo "== $extra" >>"$log"
        eval "$extra" >>"$log" 2>&1
        rc=$?
        executed="$executed; then forwarder-bench alloc"
        reports=$(grep -cE "$pattern" "$log")
        ran=$((SECONDS - start - built))
    fi
    local verdict=passed
    if [ $rc -ne 0 ] || [ "$reports" -gt 0 ] || [ -z "$executed" ]; then verdict=FAILED; status=1; fi
    summaries+=("$name: $verdict, ${executed:-no tests ran}, $skipped skipped, $reports sanitizer reports, exit $rc (build ${built}s, tests ${ran}s; log: $log)")
}

if [ $asan -eq 1 ]; then
    echo "== AddressSanitizer: the whole unit suite"
    # LeakSanitizer runs too; what XCTest and Foundation hold at exit is suppressed (scripts/lsan.supp).
    ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
    LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
        run asan address /tmp/forwarder-asan.log "ERROR: (AddressSanitizer|LeakSanitizer)"
fi
if [ $tsan -eq 1 ]; then
    echo "== ThreadSanitizer: the tests of the modules with threads"
    # Then the benchmark's two-thread cases on the same build (remote frees under both policies,
    # through the benchmark's own threads), as CI ran them before the test bundle could start.
    TSAN_OPTIONS="${TSAN_OPTIONS:-exitcode=66:halt_on_error=0:second_deadlock_stack=1}" \
    SANITIZE_EXTRA="\"$build_dir/tsan/debug/forwarder-bench\" alloc --rounds 2 --pairs 20000" \
        run tsan thread /tmp/forwarder-tsan.log "WARNING: ThreadSanitizer|ThreadSanitizer: reported" \
        --filter "$tsan_filter"
fi

for s in "${summaries[@]}"; do echo "$s"; done
exit $status
