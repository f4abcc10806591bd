#!/usr/bin/env bash
# Runs every test: the Swift unit tests (swift test) and the network integration tests (pytest,
# in namespaces this script's tests create and remove). Needs root for the integration tests.
# Installs what it needs from Debian first.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

echo "== unit tests: swift test"
swift test 2>&1 | tee /tmp/forwarder-unit-tests.log | grep -vE "^Test Case '.*' (started|passed)" 
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || { echo "unit tests failed (full log: /tmp/forwarder-unit-tests.log)"; exit "$status"; }

if [ -d Tests/Integration ]; then
    echo "== integration tests: pytest (network namespaces, veth, real traffic)"
    swift build -c release --product forwarder
    /usr/bin/python3 -m pytest -q -p no:cacheprovider Tests/Integration "$@"
fi
