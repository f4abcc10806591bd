#!/usr/bin/env bash
# I/O benchmark for forwarder (the topology of docs/benchmarks.md §2):
#
#   ns ${P}a: trafgen, CPU0 --veth--> ${P}a1 [DUT, root ns, CPU1] ${P}b1 --veth--> ns ${P}b: nft drop
#
# pps mode (default): 60-byte UDP frames from host A to host B; delivered = ${P}b0 rx_packets,
# offered = ${P}a1 rx_packets, over a window of S seconds starting 1 s after the generator;
# DUT CPU = utime+stime of the DUT process over the same window.
# --tcp: iperf3 -t 3 TCP A->B through the two-way DUT. --ping: 20 pings 0.05 s apart.
# Variants alternate round by round (A B C A B C ...). Run `run.sh --help`.
#
# NAT variants (issue 4; `--nat` selects the four of them). Each variant has its own topology;
# the testbed is rebuilt whenever the topology changes between two runs (and for every
# kernel-nat run, so conntrack starts empty like the forwarder's session table):
#   fwd-nat-cache, fwd-nat-plain  topology "nat": host A 192.168.10.2/24 on VLAN 10, default route
#       via 192.168.10.1; host B 203.0.113.2/24 on VLAN 20 (tags pushed/popped by the testbed's tc
#       BPF); DUT `forwarder --vlan-nat --inside 192.168.10.1/24 --inside-vlan 10 --outside
#       203.0.113.1/24 --outside-vlan 20 --alloc cache|plain` (one thread serves both ports).
#   fwd-l2-vlan  the L2 baseline on the same kind of hosts (topology "l2vlan"): an L2 forwarder
#       needs both hosts in one subnet, so A = 10.77.0.1/24 on VLAN 10, B = 10.77.0.2/24 on
#       VLAN 20 and the DUT is `forwarder --vlan-map 10:20 --alloc cache`, two-way (as NAT is).
#       Same frames on the wire (64 bytes with the tag), same tag rewrite, no IP work.
#   kernel-nat  the kernel doing the NAT job (topology "knat"): a router namespace ${P}r holds
#       ${P}a1 (192.168.10.1/24) and ${P}b1 (203.0.113.1/24), ip_forward=1 there and
#       `nft ... postrouting oifname ${P}b1 masquerade`. Hosts are UNTAGGED here (no 802.1Q
#       module in this kernel, so no VLAN subinterfaces on the router): frames are 60 bytes.
#       The kernel forwards in softirq on the generator's core (CPU0)
#       (~372 kpps, ~3.0 Gbps). kernel-nat-rps: same, with RPS steering ${P}a1 to CPU1.
# pps with a VLAN host: trafgen uses PACKET_QDISC_BYPASS, which skips tc egress and so the
# testbed's tag push: the 802.1Q tag is built into the trafgen frame. For NAT the frame goes to
# the gateway (dst MAC = ${P}a1's, dst IP 203.0.113.2). Before the generator one ping A->B
# resolves ARP on the way. The sink drops only UDP (nftables netdev ingress `ip protocol udp
# counter drop`; tc ingress, where the BPF pops the tag, runs before it), so B still answers
# ARP/ping. Delivered is still ${P}b0 rx_packets, which also counts frames B's VLAN filter drops
# (a wrong tag): the run warns when the rule's counter falls more than 1% short of it.
# --flows N: UDP source port runs over N values (trafgen dinc), UDP checksum 0 (valid for all).
# The forwarder variants of NAT/L2-VLAN run with --json; non-zero drops are printed per run.
# --cap PERCENT: each DUT process runs in a cgroup v1 cpu controller child
# (/sys/fs/cgroup/cpu/<prefix>cap, cpu.cfs_period_us 100000, cpu.cfs_quota_us PERCENT * 1000), so
# it gets PERCENT % of one core; the DUT is moved in right after it starts, and the cgroup is
# removed after each run and at exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/scripts/testbed.sh"
FORWARDER="${FORWARDER:-$REPO/.build/release/forwarder}"

ROUNDS=5
CAP=""
SECONDS_WIN=5
VARIANTS="cfwd-inject cfwd-sendmmsg fwd-cache fwd-plain"
NAT_VARIANTS="fwd-nat-cache fwd-nat-plain fwd-l2-vlan kernel-nat"
MODE=pps
JSON=0
RPS=0
FLOWS=1
NAT2_CPUS="${NAT2_CPUS:-1,0}"
PORT0=10000
PREFIX="iob$(( $$ % 100000 ))"
WMEM=4194304

usage() {
    cat <<EOF
usage: bench/io/run.sh [--rounds N] [--seconds S] [--variants LIST | --nat] [--flows N] [--json]
                       [--tcp | --ping] [--prefix P]
  --rounds N       rounds, variants alternate within each round (default 5)
  --seconds S      pps measurement window (default 5; starts 1 s after the generator)
  --variants LIST  comma/space separated, from: cfwd-inject cfwd-sendmmsg fwd-cache fwd-plain
                   fwd-sendmmsg fwd-bypass fwd-txring fwd-txring-bypass (the kernel-path
                   options, each explicit; fwd-cache and fwd-plain run the defaults)
                   fwd-w2 fwd-w2-rollover fwd-w2-defrag (two L2 workers: plain fanout, with
                   rollover, with defrag)
                   bridge (kernel bridge, no process), fwd-nat-cache fwd-nat-plain fwd-l2-vlan
                   fwd-nat2-home fwd-nat2-adopt fwd-nat2-plain fwd-nat2-steered (two NAT workers)
                   kernel-nat kernel-nat-rps (see the header of this script)
                   fwd-xdp-cache fwd-xdp-plain (--io xdp: AF_XDP, generic mode on veth)
                   (default: "$VARIANTS")
  --nat            same as --variants "$NAT_VARIANTS"
  --flows N        pps: UDP source port over N values (1..50000, default 1; N > 1 sends UDP
                   checksum 0)
  --json           one JSON object per line per variant instead of the table
  --rps            steer the DUT input's receive processing to CPU1 (the DUT's core) with RPS, so
                   the generator on CPU0 is no longer the limit (L2 and VLAN topologies)
  --tcp            iperf3 -t 3 TCP host A -> host B through the two-way DUT, Mbps
  --ping           20 pings A -> B 0.05 s apart through the two-way DUT, median RTT ms
  --prefix P       testbed prefix (default iob<pid>, <= 10 chars)
  --cap PERCENT    cap each DUT process at PERCENT % of one core (cgroup v1 cpu controller,
                   cfs quota; 1..100)
Environment: FORWARDER (default .build/release/forwarder; built with 'swift build -c release'
if missing and a fwd-* variant is selected); NAT2_CPUS, the --cpus of the fwd-nat2-* variants
(default 1,0).
Needs root, 2+ CPUs, netsniff-ng (trafgen), nftables, iperf3, libpcap-dev, cc; VLAN variants
need clang with the BPF target and libbpf-dev (scripts/testbed.sh --vlan-*).
EOF
}

die() { echo "run.sh: $*" >&2; exit 1; }

while (( $# )); do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --seconds) SECONDS_WIN="${2:?}"; shift 2 ;;
        --variants) VARIANTS="${2:?}"; shift 2 ;;
        --nat) VARIANTS="$NAT_VARIANTS"; shift ;;
        --flows) FLOWS="${2:?}"; shift 2 ;;
        --json) JSON=1; shift ;;
        --tcp) MODE=tcp; shift ;;
        --rps) RPS=1; shift ;;
        --ping) MODE=ping; shift ;;
        --prefix) PREFIX="${2:?}"; shift 2 ;;
        --cap) CAP="${2:?}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] && (( ROUNDS <= 100 )) || die "bad --rounds"
[[ "$SECONDS_WIN" =~ ^[1-9][0-9]*$ ]] && (( SECONDS_WIN <= 120 )) || die "bad --seconds"
[[ "$FLOWS" =~ ^[1-9][0-9]*$ ]] && (( FLOWS <= 50000 )) || die "bad --flows (1..50000)"
[[ "$PREFIX" =~ ^[A-Za-z0-9_-]{1,10}$ ]] || die "bad --prefix (1-10 of [A-Za-z0-9_-])"
[[ -z "$CAP" ]] || { [[ "$CAP" =~ ^[1-9][0-9]*$ ]] && (( CAP <= 100 )); } || die "bad --cap (1..100)"
CGROUP_ROOT=/sys/fs/cgroup/cpu
CGROUP="$CGROUP_ROOT/${PREFIX}cap"
[[ -z "$CAP" || -f "$CGROUP_ROOT/cpu.cfs_quota_us" ]] || die "--cap needs the cgroup v1 cpu controller at $CGROUP_ROOT"
read -r -a VARS <<< "${VARIANTS//,/ }"
(( ${#VARS[@]} > 0 )) || die "no variants"
for v in "${VARS[@]}"; do
    [[ "$v" =~ ^(cfwd-inject|cfwd-sendmmsg|fwd-cache|fwd-plain|fwd-xdp-cache|fwd-xdp-plain|fwd-sendmmsg|fwd-bypass|fwd-txring|fwd-txring-bypass|fwd-w2|fwd-w2-rollover|fwd-w2-defrag|bridge|fwd-nat-cache|fwd-nat-plain|fwd-nat2-home|fwd-nat2-adopt|fwd-nat2-plain|fwd-nat2-steered|fwd-l2-vlan|kernel-nat|kernel-nat-rps)$ ]] \
        || die "unknown variant '$v'"
done
[[ $EUID -eq 0 ]] || die "must run as root"
(( $(nproc) >= 2 )) || die "needs 2 CPUs (generator on CPU0, DUT on CPU1)"
for t in ip ethtool taskset cc; do command -v "$t" >/dev/null || die "$t not found"; done
if [[ $MODE == pps ]]; then
    command -v trafgen >/dev/null || die "trafgen not found (apt-get install netsniff-ng)"
    command -v nft >/dev/null || die "nft not found (apt-get install nftables)"
fi
[[ " ${VARS[*]} " == *" kernel-nat"* ]] && { command -v nft >/dev/null || die "nft not found (apt-get install nftables)"; }
[[ $MODE == tcp ]] && { command -v iperf3 >/dev/null || die "iperf3 not found"; }

IN="${PREFIX}a1"; OUT="${PREFIX}b1"; NSA="${PREFIX}a"; NSB="${PREFIX}b"; NSR="${PREFIX}r"
TMP="$(mktemp -d /tmp/iobench.XXXXXX)"
RESULTS="$TMP/results.tsv"
DROPS="$TMP/drops.tsv"
: > "$RESULTS"; : > "$DROPS"
DUT_PID=""; GEN_PID=""; SRV_PID=""; BRIDGE=""; WMEM_OLD=""; TB_UP=0; NSR_UP=0
TOPO=""            # current topology: l2 | nat | l2vlan | knat
IN_NS=""           # namespace holding $IN ("" = root)
DST_IP=""          # host B's address as host A sees it
SEEN_TOPOS=" "

stop_pid() {   # stop_pid PID: TERM, wait up to 3 s, then KILL
    local pid="$1" i
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# cap_dut PID: moves the process (every thread: cgroup.procs) into the capped cgroup.
cap_dut() {
    [[ -n "$CAP" && -n "$1" ]] || return 0
    if [[ ! -d "$CGROUP" ]]; then
        mkdir "$CGROUP"
        echo 100000 > "$CGROUP/cpu.cfs_period_us"
        echo $(( CAP * 1000 )) > "$CGROUP/cpu.cfs_quota_us"
    fi
    echo "$1" > "$CGROUP/cgroup.procs"
}

# cap_remove: the capped cgroup goes once its processes have (rmdir needs it empty).
cap_remove() {
    [[ -n "$CAP" && -d "$CGROUP" ]] || return 0
    local i
    for i in $(seq 30); do rmdir "$CGROUP" 2>/dev/null && return 0; sleep 0.1; done
    echo "run.sh: cannot remove $CGROUP" >&2
}

router_down() {
    if (( NSR_UP )); then ip netns del "$NSR" 2>/dev/null || true; NSR_UP=0; fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e    # a failing step here must not skip the rest of the cleanup
    stop_pid "$GEN_PID"; stop_pid "$DUT_PID"; stop_pid "$SRV_PID"
    [[ -n "$BRIDGE" ]] && ip link del "$BRIDGE" 2>/dev/null
    router_down
    cap_remove
    (( TB_UP )) && "$TESTBED" down "$PREFIX" 2>/dev/null
    # net.core.wmem_default is global (read-only in a namespace) and other benchmarks may share
    # it: put the old value back only if the value is still ours.
    if [[ -n "$WMEM_OLD" && "$(sysctl -n net.core.wmem_default)" == "$WMEM" ]]; then
        sysctl -qw net.core.wmem_default="$WMEM_OLD"
    fi
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- build -----------------------------------------------------------------------------
CFWD="$TMP/cfwd"
cc -O2 -Wall -o "$CFWD" "$HERE/cfwd.c" -lpcap -lpthread || die "cfwd build failed"
if [[ " ${VARS[*]} " == *" fwd-"* && ! -x "$FORWARDER" ]]; then
    echo "run.sh: $FORWARDER missing, building (swift build -c release)" >&2
    (cd "$REPO" && swift build -c release --product forwarder) >&2 || die "swift build failed"
    [[ -x "$FORWARDER" ]] || die "$FORWARDER still missing"
fi

# ---- testbed ---------------------------------------------------------------------------
topo_of() {
    case "$1" in
        fwd-nat-*|fwd-nat2-*) echo nat ;;
        fwd-l2-vlan) echo l2vlan ;;
        kernel-nat*) echo knat ;;
        *) echo l2 ;;
    esac
}

# The kernel NAT router: ${P}r takes ${P}a1 and ${P}b1 (ethtool features move with them).
router_up() {
    local rps="$1"
    ip netns add "$NSR"; NSR_UP=1
    ip netns exec "$NSR" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip netns exec "$NSR" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
    ip link set "$IN" netns "$NSR"
    ip link set "$OUT" netns "$NSR"
    ip netns exec "$NSR" ip link set lo up
    ip netns exec "$NSR" ip addr add 192.168.10.1/24 dev "$IN"
    ip netns exec "$NSR" ip addr add 203.0.113.1/24 dev "$OUT"
    ip netns exec "$NSR" ip link set "$IN" up
    ip netns exec "$NSR" ip link set "$OUT" up
    ip netns exec "$NSR" sysctl -qw net.ipv4.ip_forward=1     # this namespace only
    ip netns exec "$NSR" nft -f - <<EOF
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat;
        oifname "$OUT" masquerade
    }
}
EOF
    if (( rps )); then
        ip netns exec "$NSR" sh -c "echo 2 > /sys/class/net/$IN/queues/rx-0/rps_cpus"
    fi
    IN_NS="$NSR"
}

topo_down() {
    router_down
    if (( TB_UP )); then "$TESTBED" down "$PREFIX" 2>/dev/null; TB_UP=0; fi
    TOPO=""; IN_NS=""
}

# gen_cfg: the trafgen frame for the current topology and --flows
gen_cfg() {
    local da sa src dst tag="" type=", type=0x0800" sport=4000 csum=""
    sa="$MAC_A"
    case "$TOPO" in
        l2)     da="$MAC_B"; src=10.77.0.1; dst=10.77.0.2 ;;
        l2vlan) da="$MAC_B"; src=10.77.0.1; dst=10.77.0.2; tag="  vlan(id=10),"; type="" ;;
        nat)    da="$(cat "/sys/class/net/$IN/address")"; src=192.168.10.2; dst=203.0.113.2
                tag="  vlan(id=10),"; type="" ;;
        knat)   da="$(ip netns exec "$NSR" cat "/sys/class/net/$IN/address")"; src=192.168.10.2; dst=203.0.113.2 ;;
    esac
    if (( FLOWS > 1 )); then sport="dinc($PORT0, $(( PORT0 + FLOWS - 1 )))"; csum=", csum=0"; fi
    {
        echo "{"
        echo "  eth(da=$da, sa=$sa$type),"
        [[ -n "$tag" ]] && echo "$tag"
        echo "  ipv4(saddr=$src, daddr=$dst, ttl=64),"
        echo "  udp(sport=$sport, dport=9$csum),"
        echo "  fill(0x00, 18)"
        echo "}"
    } > "$TMP/gen.cfg"
}

# topo_up KIND VARIANT
topo_up() {
    local kind="$1" v="$2"
    local -a args=()
    case "$kind" in
        l2)     [[ $MODE == pps ]] && args=(--sink-drop b); DST_IP=10.77.0.2 ;;
        l2vlan) args=(--vlan-in 10 --vlan-out 20); DST_IP=10.77.0.2 ;;
        nat)    args=(--addr-a 192.168.10.2/24 --gw-a 192.168.10.1 --addr-b 203.0.113.2/24
                      --vlan-in 10 --vlan-out 20); DST_IP=203.0.113.2 ;;
        knat)   args=(--addr-a 192.168.10.2/24 --gw-a 192.168.10.1 --addr-b 203.0.113.2/24)
                DST_IP=203.0.113.2 ;;
    esac
    TB_UP=1
    if ! "$TESTBED" up "$PREFIX" "${args[@]}" 2>"$TMP/tb.log"; then cat "$TMP/tb.log" >&2; die "testbed up failed"; fi
    [[ "$SEEN_TOPOS" == *" $kind "* ]] || { sed "s/^/[$kind] /" "$TMP/tb.log" >&2; SEEN_TOPOS+="$kind "; }
    IN_NS=""
    if (( RPS )) && [[ $kind != knat ]]; then
        # Receive processing of the DUT's input (the copy into its ring) on CPU1, with the DUT,
        # instead of on the generator's CPU0: the generator stops being the limit.
        echo 2 > "/sys/class/net/${PREFIX}a1/queues/rx-0/rps_cpus"
    fi
    if [[ $kind == knat ]]; then router_up "$([[ $v == kernel-nat-rps ]] && echo 1 || echo 0)"; fi
    if [[ $MODE == pps && $kind != l2 ]]; then
        # Drop the UDP flood before B's IP stack, let ARP and ICMP through.
        ip netns exec "$NSB" nft -f - <<EOF
table netdev iobsink {
    chain in {
        type filter hook ingress device "${PREFIX}b0" priority 0;
        ip protocol udp counter drop
    }
}
EOF
    fi
    MAC_A="$("$TESTBED" mac "$PREFIX" a)"
    MAC_B="$("$TESTBED" mac "$PREFIX" b)"
    TOPO="$kind"
    gen_cfg
}

ensure_topo() {   # ensure_topo VARIANT
    local kind; kind="$(topo_of "$1")"
    [[ "$TOPO" == "$kind" && "$kind" != knat ]] && return 0
    topo_down
    topo_up "$kind" "$1"
}

# ---- DUT -------------------------------------------------------------------------------
# start_dut VARIANT ONEWAY(1|0) LIMIT_S: sets DUT_PID (empty for bridge and kernel-nat)
start_dut() {
    local v="$1" oneway="$2" limit="$3"
    local -a ow=()
    (( oneway )) && ow=(--one-way)
    DUT_PID=""
    rm -f "$TMP/dut.json"
    case "$v" in
        cfwd-inject)   taskset -c 1 "$CFWD" "$IN" "$OUT" --inject "${ow[@]}" --duration "$limit" >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        cfwd-sendmmsg) taskset -c 1 "$CFWD" "$IN" "$OUT" --sendmmsg "${ow[@]}" --duration "$limit" >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        fwd-cache|fwd-plain)
            taskset -c 1 "$FORWARDER" "$IN" "$OUT" "${ow[@]}" --alloc "${v#fwd-}" --quiet --duration "$limit" \
                >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        fwd-xdp-cache|fwd-xdp-plain)   # AF_XDP: heads built around the UMEM frames, no copy
            taskset -c 1 "$FORWARDER" "$IN" "$OUT" "${ow[@]}" --io xdp --alloc "${v#fwd-xdp-}" --quiet --duration "$limit" \
                >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        fwd-sendmmsg|fwd-bypass|fwd-txring|fwd-txring-bypass)   # the kernel-path options, cache allocator
            local -a kp=(--tx-ring off)
            [[ $v == fwd-txring* ]] && kp=(--tx-ring on)
            [[ $v == *bypass ]] && kp+=(--qdisc-bypass on)
            taskset -c 1 "$FORWARDER" "$IN" "$OUT" "${ow[@]}" --alloc cache "${kp[@]}" --quiet --duration "$limit" \
                >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        fwd-w2|fwd-w2-rollover|fwd-w2-defrag)   # two L2 workers (fanout by flow hash), one per CPU
            local -a ro=()
            [[ $v == fwd-w2-rollover ]] && ro=(--fanout-rollover on)
            [[ $v == fwd-w2-defrag ]] && ro=(--fanout-defrag on)
            "$FORWARDER" "$IN" "$OUT" "${ow[@]}" --alloc cache --workers 2 --cpus 1,0 "${ro[@]}" --quiet \
                --duration "$limit" >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        fwd-nat2-home|fwd-nat2-adopt|fwd-nat2-plain|fwd-nat2-steered)
            # Two NAT workers on $NAT2_CPUS (default 1,0: one per CPU, the generator shares CPU0;
            # 1: both on the DUT's CPU, time-sharing it, the generator alone). Without steering about
            # half the frames land on the wrong worker and are handed off: the remote-free case.
            local -a pol=(--alloc cache --remote-frees return-home --nat-steering none)
            [[ $v == fwd-nat2-adopt ]] && pol=(--alloc cache --remote-frees adopt --nat-steering none)
            [[ $v == fwd-nat2-plain ]] && pol=(--alloc plain --nat-steering none)
            [[ $v == fwd-nat2-steered ]] && pol=(--alloc cache --nat-steering bpf)
            "$FORWARDER" "$IN" "$OUT" --vlan-nat --inside 192.168.10.1/24 --inside-vlan 10 \
                --outside 203.0.113.1/24 --outside-vlan 20 --workers 2 --cpus "$NAT2_CPUS" "${pol[@]}" --json --duration "$limit" \
                >"$TMP/dut.json" 2>"$TMP/dut.log" & DUT_PID=$! ;;
        fwd-nat-cache|fwd-nat-plain)   # NAT is always two-way (one thread, both ports)
            taskset -c 1 "$FORWARDER" "$IN" "$OUT" --vlan-nat --inside 192.168.10.1/24 --inside-vlan 10 \
                --outside 203.0.113.1/24 --outside-vlan 20 --alloc "${v#fwd-nat-}" --json --duration "$limit" \
                >"$TMP/dut.json" 2>"$TMP/dut.log" & DUT_PID=$! ;;
        fwd-l2-vlan)                   # two-way, like NAT
            taskset -c 1 "$FORWARDER" "$IN" "$OUT" --vlan-map 10:20 --alloc cache --json --duration "$limit" \
                >"$TMP/dut.json" 2>"$TMP/dut.log" & DUT_PID=$! ;;
        bridge)
            BRIDGE="${PREFIX}br"
            ip link add "$BRIDGE" type bridge
            sysctl -qw "net.ipv6.conf.$BRIDGE.disable_ipv6=1"
            ip link set "$IN" master "$BRIDGE"; ip link set "$OUT" master "$BRIDGE"
            ip link set "$BRIDGE" up ;;
        kernel-nat|kernel-nat-rps) : ;;   # the router namespace is the DUT (topology knat)
    esac
    cap_dut "$DUT_PID"
    sleep 0.5
    if [[ -n "$DUT_PID" ]] && ! kill -0 "$DUT_PID" 2>/dev/null; then
        cat "$TMP/dut.log" >&2; die "$v exited at start"
    fi
}

# dut_drops VARIANT: from the forwarder's --json summary, print non-zero drops (stderr) and
# append "variant<TAB>forwarder drops<TAB>ring drops<TAB>detail" to $DROPS.
dut_drops() {
    [[ -s "$TMP/dut.json" ]] || return 0
    python3 - "$1" "$TMP/dut.json" "$DROPS" <<'EOF' >&2 || true
import json, sys
v, path, out = sys.argv[1:4]
try:
    j = json.load(open(path))
except Exception as e:
    print(f"run.sh:   {v}: unreadable --json summary ({e})"); sys.exit(0)
det = []; fwd = 0
for d in j.get("directions", []):
    for r, n in d.get("drops_by_reason", {}).items():
        if n and r != "nat":
            det.append(f"{d['name']} {r}={n}"); fwd += n
nat = j.get("nat") or {}
for r, n in (nat.get("drops") or {}).items():
    if n:
        det.append(f"nat.{r}={n}"); fwd += n
ring = sum(p.get("dropped", 0) + p.get("if_dropped", 0) for p in (j.get("pcap") or {}).values())
sess = nat.get("sessions_active")
if det:
    print(f"run.sh:   {v}: forwarder drops {fwd}: {', '.join(det)}" + (f" (sessions {sess})" if sess is not None else ""))
with open(out, "a") as f:
    f.write(f"{v}\t{fwd}\t{ring}\t{' '.join(det)}\n")
EOF
}

stop_dut() {
    local v="$1"
    if [[ -n "$BRIDGE" ]]; then ip link del "$BRIDGE" 2>/dev/null || true; BRIDGE=""; fi
    if [[ -n "$DUT_PID" ]]; then
        kill -0 "$DUT_PID" 2>/dev/null || { cat "$TMP/dut.log" >&2; die "DUT died during the run"; }
        stop_pid "$DUT_PID"; DUT_PID=""
        cap_remove
        dut_drops "$v"
    fi
}

# warm_up: one ping A -> B (up to 3 tries) so every ARP on the way is resolved
warm_up() {
    local i
    for i in 1 2 3; do
        ip netns exec "$NSA" ping -n -q -c 1 -W 1 "$DST_IP" >/dev/null 2>&1 && return 0
    done
    echo "run.sh:   warning: warm-up ping $DST_IP failed ($1)" >&2
}

cpu_ticks() {   # utime+stime of PID in clock ticks (0 when no PID)
    [[ -n "${1:-}" ]] || { echo 0; return; }
    local s; s="$(cat "/proc/$1/stat")"; s="${s##*) }"
    awk '{print $12 + $13}' <<< "$s"    # fields 14,15 counted from after "comm"
}
rx_b() { ip netns exec "$NSB" cat "/sys/class/net/${PREFIX}b0/statistics/rx_packets"; }
# UDP frames B's nft rule dropped, i.e. accepted by B's VLAN filter (tc ingress runs first);
# "" for the l2 topology (drop-all sink, no counter).
sink_udp() {
    [[ $TOPO != l2 ]] || return 0
    ip netns exec "$NSB" nft list table netdev iobsink | awk '/counter packets/ {for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}'
}
rx_in() {
    if [[ -n "$IN_NS" ]]; then ip netns exec "$IN_NS" cat "/sys/class/net/$IN/statistics/rx_packets"
    else cat "/sys/class/net/$IN/statistics/rx_packets"; fi
}
now() { date +%s.%N; }

run_pps() {
    local v="$1" limit=$(( SECONDS_WIN + 6 )) oneway=1
    ensure_topo "$v"
    [[ $TOPO == l2 ]] || oneway=0
    start_dut "$v" "$oneway" "$limit"
    [[ $TOPO == l2 ]] || warm_up "$v"
    timeout --kill-after=2 $(( SECONDS_WIN + 4 )) ip netns exec "$NSA" taskset -c 0 \
        trafgen --dev "${PREFIX}a0" --conf "$TMP/gen.cfg" --cpus 1 -n $(( (SECONDS_WIN + 4) * 3000000 )) \
        --no-cpu-stats --notouch-irq >"$TMP/gen.log" 2>&1 &
    GEN_PID=$!
    sleep 1
    kill -0 "$GEN_PID" 2>/dev/null || { cat "$TMP/gen.log" >&2; die "trafgen exited early"; }
    local b0 i0 c0 t0 u0 b1 i1 c1 t1 u1
    t0=$(now); b0=$(rx_b); i0=$(rx_in); c0=$(cpu_ticks "$DUT_PID"); u0=$(sink_udp)
    sleep "$SECONDS_WIN"
    t1=$(now); b1=$(rx_b); i1=$(rx_in); c1=$(cpu_ticks "$DUT_PID"); u1=$(sink_udp)
    # b0 rx_packets also counts frames the VLAN filter then drops (wrong tag): cross-check.
    if [[ -n "$u0" && -n "$u1" ]] && (( (b1 - b0) - (u1 - u0) > (b1 - b0) / 100 + 100 )); then
        echo "run.sh:   warning: $v: b0 rx_packets +$(( b1 - b0 )) but only +$(( u1 - u0 )) UDP frames passed B's VLAN filter" >&2
    fi
    kill -0 "$GEN_PID" 2>/dev/null || { cat "$TMP/gen.log" >&2; die "trafgen exited during the window"; }
    stop_pid "$GEN_PID"; GEN_PID=""
    stop_dut "$v"
    awk -v v="$v" -v b="$(( b1 - b0 ))" -v i="$(( i1 - i0 ))" -v c="$(( c1 - c0 ))" -v t0="$t0" -v t1="$t1" \
        -v hz="$(getconf CLK_TCK)" -v nocpu="$([[ $v == bridge || $v == kernel-nat* ]] && echo 1 || echo 0)" 'BEGIN {
            dt = t1 - t0; kpps = b / dt / 1000; off = i / dt / 1000
            cpu = (nocpu || b == 0) ? "nan" : sprintf("%.3f", (c / hz) / (b / 1e6))
            busy = nocpu ? "nan" : sprintf("%.0f", 100 * (c / hz) / dt)   # DUT process CPU %, softirq excluded
            printf "%s\t%.1f\t%.1f\t%s\t%s\n", v, kpps, off, cpu, busy }' >> "$RESULTS"
    tail -n1 "$RESULTS" | awk -F'\t' '{printf "run.sh: %-14s delivered %7s kpps  offered %7s kpps  cpu %s s/Mframe  DUT busy %s%%\n", $1, $2, $3, $4, $5}' >&2
}

run_tcp() {
    local v="$1"
    ensure_topo "$v"
    start_dut "$v" 0 25
    timeout 20 ip netns exec "$NSB" taskset -c 0 iperf3 -s -1 >"$TMP/srv.log" 2>&1 &
    SRV_PID=$!
    sleep 0.5
    local mbps
    if timeout 15 ip netns exec "$NSA" taskset -c 0 iperf3 -c "$DST_IP" -t 3 -J >"$TMP/cli.json" 2>"$TMP/cli.err"; then
        mbps=$(python3 -c 'import json,sys; print("%.0f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6))' "$TMP/cli.json")
    else
        mbps=0; echo "run.sh: iperf3 failed for $v: $(head -c 300 "$TMP/cli.err" "$TMP/cli.json" | tr '\n' ' ')" >&2
    fi
    stop_pid "$SRV_PID"; SRV_PID=""
    stop_dut "$v"
    printf '%s\t%s\n' "$v" "$mbps" >> "$RESULTS"
    echo "run.sh: $v TCP $mbps Mbps" >&2
}

run_ping() {
    local v="$1" med
    ensure_topo "$v"
    start_dut "$v" 0 15
    med=$(timeout 10 ip netns exec "$NSA" ping -n -c 20 -i 0.05 -W 1 "$DST_IP" 2>/dev/null \
        | awk -F'time=' '/time=/{split($2,a," "); print a[1]}' | sort -g \
        | awk '{x[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print x[(NR+1)/2]; else printf "%.3f\n", (x[NR/2]+x[NR/2+1])/2}')
    stop_dut "$v"
    printf '%s\t%s\n' "$v" "$med" >> "$RESULTS"
    echo "run.sh: $v ping median $med ms" >&2
}

if [[ $MODE == pps ]] && (( $(sysctl -n net.core.wmem_default) < WMEM )); then
    WMEM_OLD="$(sysctl -n net.core.wmem_default)"   # raise only; never lower another run's value
    sysctl -qw net.core.wmem_default="$WMEM"     # trafgen aborts when its send buffer fills
fi
echo "run.sh: mode $MODE, ${ROUNDS} rounds, variants ${VARS[*]}$([[ $MODE == pps ]] && echo ", window ${SECONDS_WIN} s, flows $FLOWS")" >&2
for (( r = 1; r <= ROUNDS; r++ )); do
    for v in "${VARS[@]}"; do
        "run_$MODE" "$v"
    done
done

python3 - "$MODE" "$JSON" "$RESULTS" "$DROPS" "$FLOWS" "${VARS[@]}" <<'EOF'
import json, math, statistics, sys
mode, as_json, path, drops_path, flows, variants = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6:]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
drows = [l.rstrip("\n").split("\t") for l in open(drops_path) if l.strip()]
def f(x):
    try:
        v = float(x); return None if math.isnan(v) else v
    except ValueError:
        return None
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def fmt(x, p=1):
    return "-" if x is None else f"{x:.{p}f}"
out = []
for v in variants:
    rs = [r for r in rows if r[0] == v]
    if mode == "pps":
        k = [x for x in (f(r[1]) for r in rs) if x is not None]; o = [f(r[2]) for r in rs]; c = [f(r[3]) for r in rs]
        out.append(dict(variant=v, kpps_median=med(k), kpps_min=min(k) if k else None, kpps_max=max(k) if k else None,
                        cpu_s_per_mframe_median=med(c), offered_kpps_median=med(o), rounds=len(rs)))
    elif mode == "tcp":
        m = [x for x in (f(r[1]) for r in rs) if x is not None]
        out.append(dict(variant=v, mbps_median=med(m), mbps_min=min(m) if m else None,
                        mbps_max=max(m) if m else None, rounds=len(rs)))
    else:
        m = [f(r[1]) for r in rs]; mm = [x for x in m if x is not None]
        out.append(dict(variant=v, rtt_ms_median=med(m), rtt_ms_min=min(mm) if mm else None,
                        rtt_ms_max=max(mm) if mm else None, rounds=len(rs)))
key = {"pps": "kpps_median", "tcp": "mbps_median", "ping": "rtt_ms_median"}[mode]
by = {o["variant"]: o for o in out}
# NAT comparisons (issue 4 bars), only for the variants present.
bars = {"pps": {"fwd-l2-vlan": 0.85, "kernel-nat": 1.3}, "tcp": {"fwd-l2-vlan": 0.9, "kernel-nat": 0.45}}.get(mode, {})
comps = []   # (num, den, ratio, bar); higher is better, so not for ping
for num in (("fwd-nat-cache", "fwd-nat-plain") if mode != "ping" else ()):
    for den in ("fwd-l2-vlan", "kernel-nat", "kernel-nat-rps"):
        if num in by and den in by and by[num][key] is not None and by[den][key]:
            comps.append((num, den, by[num][key] / by[den][key], bars.get(den)))
if mode != "ping" and "fwd-nat-cache" in by and "fwd-nat-plain" in by and by["fwd-nat-plain"][key]:
    comps.append(("fwd-nat-cache", "fwd-nat-plain", by["fwd-nat-cache"][key] / by["fwd-nat-plain"][key] if by["fwd-nat-cache"][key] is not None else None, None))
# AF_XDP comparisons (issue 13 bars: pps capped at 30 % of a core; CPU per frame uncapped).
for num, den, bar in (("fwd-xdp-cache", "fwd-xdp-plain", 1.1), ("fwd-xdp-cache", "fwd-cache", 1.3),
                      ("fwd-xdp-plain", "fwd-plain", None)):
    if mode != "ping" and num in by and den in by and by[num][key] is not None and by[den][key]:
        comps.append((num, den, by[num][key] / by[den][key], bar))
cpu_comps = []   # (num, den, ratio, bar): lower is better
if mode == "pps":
    for num in ("fwd-xdp-cache", "fwd-xdp-plain"):
        if num in by and "cfwd-sendmmsg" in by and by[num]["cpu_s_per_mframe_median"] and by["cfwd-sendmmsg"]["cpu_s_per_mframe_median"]:
            cpu_comps.append((num, "cfwd-sendmmsg", by[num]["cpu_s_per_mframe_median"] / by["cfwd-sendmmsg"]["cpu_s_per_mframe_median"], 0.75))
for d in drows:   # forwarder drops (not ring overflow), summed over rounds
    if d[0] in by:
        by[d[0]]["fwd_drops_total"] = by[d[0]].get("fwd_drops_total", 0) + int(d[1])
        by[d[0]]["ring_drops_total"] = by[d[0]].get("ring_drops_total", 0) + int(d[2])
if as_json:
    for o in out:
        if mode == "pps":
            o["flows"] = flows
        for num, den, r, _ in comps:
            if num == o["variant"] and r is not None:
                o[f"ratio_vs_{den}"] = round(r, 3)
        print(json.dumps(o))
    sys.exit(0)
base = out[0][key] if out else None
def ratio(x):
    return "-" if (x is None or not base) else f"{x / base:.2f}"
if mode == "pps":
    print(f"{'variant':<15} {'kpps median (min-max)':>24} {'offered kpps':>13} {'CPU s/Mframe':>13} {'ratio':>6}")
    for o in out:
        rng = f"{fmt(o['kpps_median'])} ({fmt(o['kpps_min'])}-{fmt(o['kpps_max'])})"
        print(f"{o['variant']:<15} {rng:>24} {fmt(o['offered_kpps_median']):>13} {fmt(o['cpu_s_per_mframe_median'], 3):>13} {ratio(o['kpps_median']):>6}")
elif mode == "tcp":
    print(f"{'variant':<15} {'TCP Mbps median (min-max)':>27} {'ratio':>6}")
    for o in out:
        rng = f"{fmt(o['mbps_median'], 0)} ({fmt(o['mbps_min'], 0)}-{fmt(o['mbps_max'], 0)})"
        print(f"{o['variant']:<15} {rng:>27} {ratio(o['mbps_median']):>6}")
else:
    print(f"{'variant':<15} {'RTT ms median (min-max)':>26} {'ratio':>6}")
    for o in out:
        rng = f"{fmt(o['rtt_ms_median'], 3)} ({fmt(o['rtt_ms_min'], 3)}-{fmt(o['rtt_ms_max'], 3)})"
        print(f"{o['variant']:<15} {rng:>26} {ratio(o['rtt_ms_median']):>6}")
for num, den, r, bar in comps:
    extra = ""
    if num == "fwd-nat-cache" and den == "fwd-nat-plain" and mode == "pps":
        cc, cp = by[num]["cpu_s_per_mframe_median"], by[den]["cpu_s_per_mframe_median"]
        if cc and cp:
            extra = f"  (CPU s/Mframe cache/plain {cc / cp:.2f})"
    print(f"{num + ' / ' + den:<31} {fmt(r, 2):>5}" + (f"  (bar >= {bar})" if bar else "") + extra)
for num, den, r, bar in cpu_comps:
    print(f"{'CPU ' + num + ' / ' + den:<31} {fmt(r, 2):>5}  (bar <= {bar}, uncapped)")
for o in out:
    if o.get("fwd_drops_total"):
        print(f"{o['variant']}: forwarder drops (all rounds) {o['fwd_drops_total']}, kernel ring drops {o['ring_drops_total']}")
EOF
