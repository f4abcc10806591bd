#!/usr/bin/env bash
# Runs the unit tests under the sanitizers: the whole suite under AddressSanitizer (with
# LeakSanitizer), and the tests of every module that has threads under ThreadSanitizer.
#   scripts/sanitize.sh                 both
#   scripts/sanitize.sh --asan          AddressSanitizer only
#   scripts/sanitize.sh --tsan          ThreadSanitizer only
#   scripts/sanitize.sh --plant-leak    the ASan run with a head leaked in the suite: must fail
# The leak check is proven on every ASan run: the planted leak (Tests/LeakCheckTests), run on its
# own, must be reported, or the suppressions (scripts/lsan.supp) would hide the project's leaks.
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

asan=0 tsan=0 plant=0
for arg in "$@"; do
    case "$arg" in
        --asan) asan=1 ;;
        --tsan) tsan=1 ;;
        --plant-leak) asan=1 plant=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "sanitize.sh: unknown option $arg (use --asan, --tsan, --plant-leak)" >&2; exit 2 ;;
    esac
done
if [ $asan -eq 0 ] && [ $tsan -eq 0 ]; then asan=1 tsan=1; fi

build_dir=${SANITIZE_BUILD_DIR:-.build}
status=0
summaries=()

# run NAME SANITIZER LOG REPORT-PATTERN [swift test arguments...]; returns 1 if the build failed
run() {
    local name=$1 sanitizer=$2 log=$3 pattern=$4
    shift 4
    local start=$SECONDS extra=${SANITIZE_EXTRA:-}
    if ! swift build --build-tests --scratch-path "$build_dir/$name" --sanitize="$sanitizer" >"$log.build" 2>&1; then
        tail -20 "$log.build"
        summaries+=("$name: BUILD FAILED (log: $log.build)")
        status=1
        return 1
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
    return 0
}

# The planted leak on its own, on the ASan build: passes when LeakSanitizer reports the head the
# test leaks (a stack through Tests/LeakCheckTests/PlantedLeakTests.swift) and the test itself
# passed, so the report can only come from the leak.
check_planted_leak() {
    local log=/tmp/forwarder-asan-planted-leak.log
    swift test --skip-build --scratch-path "$build_dir/asan" --sanitize=address \
        --filter '^LeakCheckTests\.' >"$log" 2>&1
    local rc=$?
    if grep -q "ERROR: LeakSanitizer" "$log" && grep -q "PlantedLeakTests.swift" "$log" \
        && grep -qE "Executed 1 test, with 0 failures" "$log"; then
        summaries+=("asan leak check: passed, LeakSanitizer reported the planted leak (exit $rc; log: $log)")
    else
        summaries+=("asan leak check: FAILED, the planted leak went unreported: the suppressions hide the project's leaks (exit $rc; log: $log)")
        status=1
    fi
}

if [ $asan -eq 1 ]; then
    # The planted leak stays out of the suite unless --plant-leak puts it in.
    if [ $plant -eq 1 ]; then
        echo "== AddressSanitizer: the whole unit suite, with the planted leak (this run must fail)"
        suite=()
    else
        echo "== AddressSanitizer: the whole unit suite"
        suite=(--skip '^LeakCheckTests\.')
    fi
    # LeakSanitizer runs too; what XCTest and Foundation hold at exit is suppressed (scripts/lsan.supp).
    asan_options="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
    lsan_options="suppressions=$PWD/scripts/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
    ASAN_OPTIONS=$asan_options LSAN_OPTIONS=$lsan_options \
        run asan address /tmp/forwarder-asan.log "ERROR: (AddressSanitizer|LeakSanitizer)" "${suite[@]}" \
        && [ $plant -eq 0 ] && ASAN_OPTIONS=$asan_options LSAN_OPTIONS=$lsan_options check_planted_leak
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
