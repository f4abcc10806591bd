#!/usr/bin/env bash
# I/O benchmark for forwarder (reference.md §6 topology):
#
#   ns ${P}a: trafgen, CPU0 --veth--> ${P}a1 [DUT, root ns, CPU1] ${P}b1 --veth--> ns ${P}b: nft drop
#
# pps mode (default): 60-byte UDP frames from host A to host B; delivered = ${P}b0 rx_packets,
# offered = ${P}a1 rx_packets, over a window of S seconds starting 1 s after the generator;
# DUT CPU = utime+stime of the DUT process over the same window.
# --tcp: iperf3 -t 3 TCP A->B through the two-way DUT. --ping: 20 pings 0.05 s apart.
# Variants alternate round by round (A B C A B C ...). Run `run.sh --help`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TESTBED="$REPO/scripts/testbed.sh"
FORWARDER="${FORWARDER:-$REPO/.build/release/forwarder}"

ROUNDS=5
SECONDS_WIN=5
VARIANTS="cfwd-inject cfwd-sendmmsg fwd-cache fwd-plain"
MODE=pps
JSON=0
PREFIX="iob$(( $$ % 100000 ))"
WMEM=4194304

usage() {
    cat <<EOF
usage: bench/io/run.sh [--rounds N] [--seconds S] [--variants LIST] [--json] [--tcp | --ping]
                       [--prefix P]
  --rounds N       rounds, variants alternate within each round (default 5)
  --seconds S      pps measurement window (default 5; starts 1 s after the generator)
  --variants LIST  comma/space separated, from: cfwd-inject cfwd-sendmmsg fwd-cache fwd-plain
                   bridge (kernel bridge, no process)  (default: "$VARIANTS")
  --json           one JSON object per line per variant instead of the table
  --tcp            iperf3 -t 3 TCP host A -> host B through the two-way DUT, Mbps
  --ping           20 pings A -> B 0.05 s apart through the two-way DUT, median RTT ms
  --prefix P       testbed prefix (default iob<pid>, <= 10 chars)
Environment: FORWARDER (default .build/release/forwarder; built with 'swift build -c release'
if missing and a fwd-* variant is selected).
Needs root, 2+ CPUs, netsniff-ng (trafgen), nftables, iperf3, libpcap-dev, cc.
EOF
}

die() { echo "run.sh: $*" >&2; exit 1; }

while (( $# )); do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --seconds) SECONDS_WIN="${2:?}"; shift 2 ;;
        --variants) VARIANTS="${2:?}"; shift 2 ;;
        --json) JSON=1; shift ;;
        --tcp) MODE=tcp; shift ;;
        --ping) MODE=ping; shift ;;
        --prefix) PREFIX="${2:?}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] && (( ROUNDS <= 100 )) || die "bad --rounds"
[[ "$SECONDS_WIN" =~ ^[1-9][0-9]*$ ]] && (( SECONDS_WIN <= 120 )) || die "bad --seconds"
read -r -a VARS <<< "${VARIANTS//,/ }"
(( ${#VARS[@]} > 0 )) || die "no variants"
for v in "${VARS[@]}"; do
    [[ "$v" =~ ^(cfwd-inject|cfwd-sendmmsg|fwd-cache|fwd-plain|bridge)$ ]] || die "unknown variant '$v'"
done
[[ $EUID -eq 0 ]] || die "must run as root"
(( $(nproc) >= 2 )) || die "needs 2 CPUs (generator on CPU0, DUT on CPU1)"
for t in ip ethtool taskset cc; do command -v "$t" >/dev/null || die "$t not found"; done
if [[ $MODE == pps ]]; then
    command -v trafgen >/dev/null || die "trafgen not found (apt-get install netsniff-ng)"
    command -v nft >/dev/null || die "nft not found (apt-get install nftables)"
fi
[[ $MODE == tcp ]] && { command -v iperf3 >/dev/null || die "iperf3 not found"; }

IN="${PREFIX}a1"; OUT="${PREFIX}b1"; NSA="${PREFIX}a"; NSB="${PREFIX}b"
TMP="$(mktemp -d /tmp/iobench.XXXXXX)"
RESULTS="$TMP/results.tsv"
: > "$RESULTS"
DUT_PID=""; GEN_PID=""; SRV_PID=""; BRIDGE=""; WMEM_OLD=""; TB_UP=0

stop_pid() {   # stop_pid PID: TERM, wait up to 3 s, then KILL
    local pid="$1" i
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "$GEN_PID"; stop_pid "$DUT_PID"; stop_pid "$SRV_PID"
    [[ -n "$BRIDGE" ]] && ip link del "$BRIDGE" 2>/dev/null
    (( TB_UP )) && "$TESTBED" down "$PREFIX" 2>/dev/null
    [[ -n "$WMEM_OLD" ]] && sysctl -qw net.core.wmem_default="$WMEM_OLD"
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
TB_UP=1
if [[ $MODE == pps ]]; then
    "$TESTBED" up "$PREFIX" --sink-drop b
    WMEM_OLD="$(sysctl -n net.core.wmem_default)"
    sysctl -qw net.core.wmem_default="$WMEM"     # trafgen aborts when its send buffer fills
else
    "$TESTBED" up "$PREFIX"
fi
MAC_A="$("$TESTBED" mac "$PREFIX" a)"
MAC_B="$("$TESTBED" mac "$PREFIX" b)"

cat > "$TMP/udp60.cfg" <<EOF
{
  eth(da=$MAC_B, sa=$MAC_A, type=0x0800),
  ipv4(saddr=10.77.0.1, daddr=10.77.0.2, ttl=64),
  udp(sport=4000, dport=9),
  fill(0x00, 18)
}
EOF

# ---- DUT -------------------------------------------------------------------------------
# start_dut VARIANT ONEWAY(1|0) LIMIT_S: sets DUT_PID (empty for bridge)
start_dut() {
    local v="$1" oneway="$2" limit="$3"
    local -a ow=()
    (( oneway )) && ow=(--one-way)
    DUT_PID=""
    case "$v" in
        cfwd-inject)   taskset -c 1 "$CFWD" "$IN" "$OUT" --inject "${ow[@]}" --duration "$limit" >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        cfwd-sendmmsg) taskset -c 1 "$CFWD" "$IN" "$OUT" --sendmmsg "${ow[@]}" --duration "$limit" >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        fwd-cache|fwd-plain)
            taskset -c 1 "$FORWARDER" "$IN" "$OUT" "${ow[@]}" --alloc "${v#fwd-}" --quiet --duration "$limit" \
                >"$TMP/dut.log" 2>&1 & DUT_PID=$! ;;
        bridge)
            BRIDGE="${PREFIX}br"
            ip link add "$BRIDGE" type bridge
            sysctl -qw "net.ipv6.conf.$BRIDGE.disable_ipv6=1"
            ip link set "$IN" master "$BRIDGE"; ip link set "$OUT" master "$BRIDGE"
            ip link set "$BRIDGE" up ;;
    esac
    sleep 0.5
    if [[ -n "$DUT_PID" ]] && ! kill -0 "$DUT_PID" 2>/dev/null; then
        cat "$TMP/dut.log" >&2; die "$v exited at start"
    fi
}

stop_dut() {
    if [[ -n "$BRIDGE" ]]; then ip link del "$BRIDGE" 2>/dev/null || true; BRIDGE=""; fi
    if [[ -n "$DUT_PID" ]]; then
        kill -0 "$DUT_PID" 2>/dev/null || { cat "$TMP/dut.log" >&2; die "DUT died during the run"; }
        stop_pid "$DUT_PID"; DUT_PID=""
    fi
}

cpu_ticks() {   # utime+stime of PID in clock ticks (0 when no PID)
    [[ -n "${1:-}" ]] || { echo 0; return; }
    local s; s="$(cat "/proc/$1/stat")"; s="${s##*) }"
    awk '{print $12 + $13}' <<< "$s"    # fields 14,15 counted from after "comm"
}
rx_b() { ip netns exec "$NSB" cat "/sys/class/net/${PREFIX}b0/statistics/rx_packets"; }
rx_in() { cat "/sys/class/net/$IN/statistics/rx_packets"; }
now() { date +%s.%N; }

run_pps() {
    local v="$1" limit=$(( SECONDS_WIN + 6 ))
    start_dut "$v" 1 "$limit"
    timeout --kill-after=2 $(( SECONDS_WIN + 4 )) ip netns exec "$NSA" taskset -c 0 \
        trafgen --dev "${PREFIX}a0" --conf "$TMP/udp60.cfg" --cpus 1 -n $(( (SECONDS_WIN + 4) * 3000000 )) \
        --no-cpu-stats --notouch-irq >"$TMP/gen.log" 2>&1 &
    GEN_PID=$!
    sleep 1
    kill -0 "$GEN_PID" 2>/dev/null || { cat "$TMP/gen.log" >&2; die "trafgen exited early"; }
    local b0 i0 c0 t0 b1 i1 c1 t1
    t0=$(now); b0=$(rx_b); i0=$(rx_in); c0=$(cpu_ticks "$DUT_PID")
    sleep "$SECONDS_WIN"
    t1=$(now); b1=$(rx_b); i1=$(rx_in); c1=$(cpu_ticks "$DUT_PID")
    kill -0 "$GEN_PID" 2>/dev/null || { cat "$TMP/gen.log" >&2; die "trafgen exited during the window"; }
    stop_pid "$GEN_PID"; GEN_PID=""
    stop_dut
    awk -v v="$v" -v b="$(( b1 - b0 ))" -v i="$(( i1 - i0 ))" -v c="$(( c1 - c0 ))" -v t0="$t0" -v t1="$t1" \
        -v hz="$(getconf CLK_TCK)" -v nocpu="$([[ $v == bridge ]] && echo 1 || echo 0)" 'BEGIN {
            dt = t1 - t0; kpps = b / dt / 1000; off = i / dt / 1000
            cpu = (nocpu || b == 0) ? "nan" : sprintf("%.3f", (c / hz) / (b / 1e6))
            printf "%s\t%.1f\t%.1f\t%s\n", v, kpps, off, cpu }' >> "$RESULTS"
    tail -n1 "$RESULTS" | awk -F'\t' '{printf "run.sh: %-14s delivered %7s kpps  offered %7s kpps  cpu %s s/Mframe\n", $1, $2, $3, $4}' >&2
}

run_tcp() {
    local v="$1"
    start_dut "$v" 0 25
    timeout 20 ip netns exec "$NSB" taskset -c 0 iperf3 -s -1 >"$TMP/srv.log" 2>&1 &
    SRV_PID=$!
    sleep 0.5
    local mbps
    if timeout 15 ip netns exec "$NSA" taskset -c 0 iperf3 -c 10.77.0.2 -t 3 -J >"$TMP/cli.json" 2>"$TMP/cli.err"; then
        mbps=$(python3 -c 'import json,sys; print("%.0f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"]/1e6))' "$TMP/cli.json")
    else
        mbps=0; echo "run.sh: iperf3 failed for $v: $(head -c 300 "$TMP/cli.err" "$TMP/cli.json" | tr '\n' ' ')" >&2
    fi
    stop_pid "$SRV_PID"; SRV_PID=""
    stop_dut
    printf '%s\t%s\n' "$v" "$mbps" >> "$RESULTS"
    echo "run.sh: $v TCP $mbps Mbps" >&2
}

run_ping() {
    local v="$1" med
    start_dut "$v" 0 15
    med=$(timeout 10 ip netns exec "$NSA" ping -n -c 20 -i 0.05 -W 1 10.77.0.2 2>/dev/null \
        | awk -F'time=' '/time=/{split($2,a," "); print a[1]}' | sort -g \
        | awk '{x[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print x[(NR+1)/2]; else printf "%.3f\n", (x[NR/2]+x[NR/2+1])/2}')
    stop_dut
    printf '%s\t%s\n' "$v" "$med" >> "$RESULTS"
    echo "run.sh: $v ping median $med ms" >&2
}

echo "run.sh: mode $MODE, ${ROUNDS} rounds, variants ${VARS[*]}$([[ $MODE == pps ]] && echo ", window ${SECONDS_WIN} s")" >&2
for (( r = 1; r <= ROUNDS; r++ )); do
    for v in "${VARS[@]}"; do
        "run_$MODE" "$v"
    done
done

python3 - "$MODE" "$JSON" "$RESULTS" "${VARS[@]}" <<'EOF'
import json, math, statistics, sys
mode, as_json, path, variants = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4:]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
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
if as_json:
    for o in out:
        print(json.dumps(o))
    sys.exit(0)
key = {"pps": "kpps_median", "tcp": "mbps_median", "ping": "rtt_ms_median"}[mode]
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
EOF
