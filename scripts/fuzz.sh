#!/usr/bin/env bash
# Fuzzes the whole pipeline with libFuzzer (docs/reliability.md, "Fuzzing"):
#   scripts/fuzz.sh [--mode l2|vlan|nat|nat2|all] [--seconds N] [--runs N] [--seeds] [--no-build]
# Builds ForwarderFuzz with -sanitize=fuzzer,address into .build/fuzz (optimised, about ten times
# the executions of a debug build, with assert() kept: -assert-config Debug), then runs each mode
# for N seconds (default 60), or until N executions with --runs (whichever comes first), from the
# committed seeds (Tests/Fuzz/corpus/MODE, read only; nat2, two NAT workers, uses nat's) plus a
# work corpus of its own (.build/fuzz-corpus/MODE). A crash, leak or trap leaves its input in
# .build/fuzz-crashes/MODE/. Ends with one line per mode, "fuzz: MODE N executions, M crashes",
# and exits non-zero if any mode crashed. --seeds regenerates the seeds from the pcap fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=all
seconds=60
runs=-1
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --mode) mode="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --seeds) /usr/bin/python3 Tests/Fuzz/make_corpus.py; shift ;;
        --no-build) build=0; shift ;;
        *) echo "usage: scripts/fuzz.sh [--mode l2|vlan|nat|nat2|all] [--seconds N] [--runs N] [--seeds] [--no-build]" >&2; exit 2 ;;
    esac
done
case "$mode" in
    all) modes="l2 vlan nat nat2" ;;
    l2|vlan|nat|nat2) modes="$mode" ;;
    *) echo "fuzz.sh: --mode must be l2, vlan, nat, nat2 or all" >&2; exit 2 ;;
esac

scratch=.build/fuzz
if [ "$build" -eq 1 ] && ! swift build -c release --product ForwarderFuzz --scratch-path "$scratch" \
        -Xswiftc -DFORWARDER_FUZZ -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library \
        -Xswiftc -assert-config -Xswiftc Debug >/tmp/forwarder-fuzz-build.log 2>&1; then
    tail -20 /tmp/forwarder-fuzz-build.log
    echo "fuzz.sh: the fuzz target did not build (full log: /tmp/forwarder-fuzz-build.log)" >&2
    exit 1
fi
bin="$scratch/release/ForwarderFuzz"

summary=()
failed=0
for m in $modes; do
    work=".build/fuzz-corpus/$m"
    seeds="$m"
    [ "$m" = nat2 ] && seeds=nat   # two NAT workers start from the NAT seeds
    crashes=".build/fuzz-crashes/$m"
    log=".build/fuzz-$m.log"
    mkdir -p "$work" "$crashes"
    rm -f "$crashes"/*
    rc=0
    FORWARDER_FUZZ_MODE="$m" "$bin" -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 \
        -artifact_prefix="$crashes/" "$work" "Tests/Fuzz/corpus/$seeds" >"$log" 2>&1 || rc=$?
    executed=$(awk '/stat::number_of_executed_units/ {n=$2} END {print n+0}' "$log")
    # crash-, leak-, timeout-, oom- inputs; libFuzzer's slow-unit- files are not failures.
    found=$(find "$crashes" -type f ! -name 'slow-unit-*' | wc -l)
    if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then found=1; fi
    if [ "$found" -ne 0 ]; then
        failed=1
        echo "fuzz.sh: $m: libFuzzer exited $rc; inputs in $crashes/, log $log:" >&2
        grep -E "ERROR|Fatal error|SUMMARY|fuzz [a-z0-9]+:|Test unit written" "$log" | head -20 >&2 || true
    fi
    summary+=("fuzz: $m $executed executions, $found crashes")
done
for line in "${summary[@]}"; do echo "$line"; done
exit "$failed"
