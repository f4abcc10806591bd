#!/usr/bin/env bash
# Installs the Debian packages the build, the tests, the demo, the benchmarks and the Debian
# package (scripts/package.sh, scripts/test-package.sh) use.
# Skips apt entirely when everything is already there.
set -euo pipefail
packages=(libpcap-dev iperf3 tcpdump tcpreplay netsniff-ng python3-scapy python3-pytest nftables
          ethtool iproute2 iputils-ping libbpf-dev libxdp-dev linux-libc-dev procps
          libcap2-bin man-db systemd bash-completion python3-prometheus-client tshark
          python3-matplotlib libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4
          dpkg-dev binutils lintian debootstrap)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing from Debian: ${missing[*]}"
    [ "$(id -u)" -eq 0 ] || { echo "install-deps: need root to apt-get install (run with sudo)" >&2; exit 1; }
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
