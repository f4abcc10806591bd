#!/usr/bin/env bash
# The comparison command: the head cache vs plain allocation on glibc, mimalloc, jemalloc and
# tcmalloc, vs the C libpcap references and the peers (tcpbridge, netsniff-ng, the kernel
# bridge, tc redirect, the kernel NAT router), scenario by scenario, with plots.
#   sudo bench/compare.sh [--quick] [--scenarios LIST] [--devices LIST] [--rounds N] ...
# Installs what it needs from Debian, builds the forwarder (the packaged build), then runs
# bench/compare/compare.py (`--help` lists every option, scenario and device).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for a in "$@"; do
    if [[ $a == -h || $a == --help || $a == --list || $a == --report-only* ]]; then
        exec /usr/bin/python3 "$REPO/bench/compare/compare.py" "$@"
    fi
done
[[ $EUID -eq 0 ]] || { echo "compare.sh: must run as root (sudo bench/compare.sh)" >&2; exit 2; }
"$REPO/scripts/install-deps.sh" >&2
# The forwarder measured is the one users install: the packaged build, Swift runtime linked in
# (scripts/package.sh --binary-only; --forwarder BINARY measures another, e.g. .build/release's).
if [[ -z "${COMPARE_NO_BUILD:-}" ]]; then
    "$REPO/scripts/package.sh" --binary-only >/dev/null
    (cd "$REPO" && swift build -c release --product forwarder-bench >&2)
fi
exec /usr/bin/python3 "$REPO/bench/compare/compare.py" "$@"
