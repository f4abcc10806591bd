#!/usr/bin/env bash
# Runs every test: the Swift unit tests (swift test) and the network integration tests (pytest,
# in namespaces this script's tests create and remove). Needs root for the integration tests.
# Installs what it needs from Debian first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== unit tests: swift test"
# The per-test "started/passed" lines are left out of the output (the full log keeps them).
if ! swift test 2>&1 | tee /tmp/forwarder-unit-tests.log | grep -vE "^Test Case '.*' (started|passed)"; then
    echo "unit tests failed (full log: /tmp/forwarder-unit-tests.log)"
    exit 1
fi

echo "== sanitizers: the unit suite under ASan, the threaded modules' tests under TSan"
# scripts/sanitize.sh prints one line per sanitizer and fails on a failed test or any report.
scripts/sanitize.sh

echo "== docs: every path they cite exists"
/usr/bin/python3 scripts/check-docs.py

echo "== pipeline benchmark smoke run (every mode x size x allocator; fails if a frame is lost)"
swift build -c release --product forwarder-bench 2>&1 | tail -1
.build/release/forwarder-bench pipeline --quick --json >/tmp/forwarder-pipeline-quick.json
rows=$(wc -l </tmp/forwarder-pipeline-quick.json)
# 4 modes (l2, vlan, nat 1 flow, nat 10,000 flows) x 2 sizes x 3 allocators, and nat2 (two
# workers) x 2 sizes x 2 hand-off shares (all, half)
if [ "$rows" -ne 28 ]; then echo "pipeline benchmark: $rows rows, expected 28"; exit 1; fi
echo "$rows rows, every frame accounted for"

echo "== fuzz (libFuzzer + ASan, the whole pipeline, 25 s per mode, four modes; fails on any crash, leak or lost head)"
scripts/fuzz.sh --mode all --seconds 25

if [ -d Tests/Integration ]; then
    echo "== integration tests: pytest (network namespaces, veth, real traffic)"
    swift build -c release --product forwarder
    /usr/bin/python3 -m pytest -q -p no:cacheprovider Tests/Integration "$@"
    # The same tests over AF_XDP (the harness adds --io xdp to every forwarder it starts), bounded:
    # every file but test_install, whose installed binary has pcap's file capabilities only
    # (AF_XDP needs root, or CAP_BPF and CAP_SYS_ADMIN too: docs/usage.md), about 3 min.
    echo "== integration tests over AF_XDP (FORWARDER_IO=xdp)"
    FORWARDER_IO=xdp timeout 420 /usr/bin/python3 -m pytest -q -p no:cacheprovider Tests/Integration \
        --ignore=Tests/Integration/test_install.py "$@"
fi

echo "== the Debian package: built, linted, installed in a fresh Debian 12 root without Swift, forwarding, purged"
scripts/test-package.sh

echo "== the comparison, --quick: every device under test moves traffic (bench/compare.sh)"
rm -rf /tmp/forwarder-compare-quick
COMPARE_NO_BUILD=1 bench/compare.sh --quick --results /tmp/forwarder-compare-quick
