#!/usr/bin/env bash
# Testbed for forwarder: two host namespaces, two veth pairs, the forwarder's ends in the
# root namespace. The addresses and VLANs are scripts/testbed.plan's.
#
#   ns ${P}a (host A, inside)                root ns (forwarder)              ns ${P}b (host B, outside)
#   ${P}a0 L2_HOST_A/24  <-- veth -->  ${P}a1 (IN)   ${P}b1 (OUT)  <-- veth -->  ${P}b0 L2_HOST_B/24
#
# Run `testbed.sh help` for usage.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PROG="testbed.sh"
# shellcheck source=testbed.plan
. "$SCRIPT_DIR/testbed.plan"

usage() {
    cat <<EOF
usage:
  $PROG up PREFIX [options]    create ns \${PREFIX}a, \${PREFIX}b and veths \${PREFIX}a0<->\${PREFIX}a1,
                               \${PREFIX}b1<->\${PREFIX}b0 (a1 = forwarder IN, b1 = OUT, root ns)
      --hosts l2|nat           the plan's addresses (scripts/testbed.plan): l2 (default) A $L2_HOST_A/$PREFIX_LEN,
                               B $L2_HOST_B/$PREFIX_LEN; nat A $NAT_HOST_A/$PREFIX_LEN with gateway $NAT_GW_INSIDE,
                               B $NAT_HOST_B/$PREFIX_LEN (the gateway's outside address: $NAT_GW_OUTSIDE)
      --vlans                  the plan's VLANs: host A speaks VLAN $VLAN_A, host B VLAN $VLAN_B
      --addr-a CIDR            host A address instead of the plan's; "none" for no address
      --addr-b CIDR            host B address instead of the plan's; "none" for no address
      --gw-a IP, --gw-b IP     default route of host A / host B (default none)
      --vlan-in VID            host A speaks 802.1Q VLAN VID (tc BPF push on egress, pop+filter on ingress)
      --vlan-out VID           host B speaks VLAN VID
      --offloads MODE          off (default): rx tx sg tso gso gro rxvlan txvlan off on all four ends
                               host-tx-off: only 'tx off' on the two host ends; on: kernel defaults
      --sink-drop a|b|ab       host A/B/both drop UDP and TCP to ports below 5000 (generated
                               floods) in nftables netdev ingress, before their IP stack; ARP,
                               ICMP and iperf3 (port 5201) get through
      --ipv6                   keep IPv6 on the host ends (the root-ns ends never have it)
      --mtu N                  MTU on all four ends (default: kernel default 1500)
      --queues N               N TX and N RX queues on all four ends (default 1): a host's flows
                               spread over its veth's queues, for AF_XDP with a socket per queue
  $PROG down PREFIX            remove everything (never fails if already gone)
  $PROG exec PREFIX a|b CMD... run CMD in host A's / host B's namespace
  $PROG mac PREFIX a|b         print the MAC address of host A's / host B's interface
  $PROG help
PREFIX: 1-10 characters [A-Za-z0-9_-] (interface names must stay <= 15 characters).
Needs root, iproute2, ethtool; --vlans and --vlan-* need clang with the BPF target and libbpf-dev;
--sink-drop needs nft.
EOF
}

die() { echo "$PROG: $*" >&2; exit 1; }

check_prefix() {
    local p="${1:-}"
    [[ -n "$p" ]] || die "missing PREFIX (see '$PROG help')"
    [[ "$p" =~ ^[A-Za-z0-9_-]{1,10}$ ]] || die "bad PREFIX '$p': 1-10 characters of [A-Za-z0-9_-]"
}

check_vid() {
    [[ "$1" =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= 4094 )) || die "bad VLAN id '$1' (1..4094)"
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx -- "$1"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }

do_down() {
    local p="$1"
    local n
    for n in "${p}a" "${p}b"; do
        if ns_exists "$n"; then ip netns del "$n" 2>/dev/null || true; fi
    done
    # Deleting a namespace deletes its veth end and so the peer; remove leftovers anyway.
    for n in "${p}a1" "${p}b1" "${p}a0" "${p}b0"; do
        if link_exists "$n"; then ip link del "$n" 2>/dev/null || true; fi
    done
    return 0
}

find_clang() {
    local c
    for c in "${CLANG:-}" /opt/swift/usr/bin/clang clang; do
        [[ -n "$c" ]] || continue
        if command -v "$c" >/dev/null 2>&1; then echo "$c"; return 0; fi
    done
    return 1
}

# Build the VLAN BPF object for VID into $TMPD, print its path.
build_vlan_obj() {
    local vid="$1" clang multiarch obj
    clang="$(find_clang)" || die "clang not found (set CLANG=...)"
    [[ -f /usr/include/bpf/bpf_helpers.h ]] || die "bpf/bpf_helpers.h missing: apt-get install libbpf-dev"
    multiarch="$(gcc -print-multiarch 2>/dev/null || true)"
    [[ -n "$multiarch" ]] || multiarch="$(uname -m)-linux-gnu"
    obj="$TMPD/vlan_tag_${vid}.o"
    if [[ ! -f "$obj" ]]; then
        "$clang" -O2 -g -target bpf -I"/usr/include/$multiarch" -DVID="$vid" \
            -c "$SCRIPT_DIR/bpf/vlan_tag.c" -o "$obj" || die "BPF build failed"
    fi
    echo "$obj"
}

attach_vlan() {
    local ns="$1" dev="$2" vid="$3" obj
    obj="$(build_vlan_obj "$vid")"
    ip netns exec "$ns" tc qdisc add dev "$dev" clsact
    ip netns exec "$ns" tc filter add dev "$dev" egress bpf direct-action obj "$obj" sec classifier/egress
    ip netns exec "$ns" tc filter add dev "$dev" ingress bpf direct-action obj "$obj" sec classifier/ingress
}

# set_offloads NS DEV MODE ROLE(host|fwd); NS "" = root namespace
set_offloads() {
    local ns="$1" dev="$2" mode="$3" role="$4"
    local -a nsx=()
    [[ -n "$ns" ]] && nsx=(ip netns exec "$ns")
    case "$mode" in
        on) return 0 ;;
        host-tx-off) [[ "$role" == host ]] || return 0 ;;
        off)
            # Features a veth cannot change are ignored here; tx is checked below.
            "${nsx[@]}" ethtool -K "$dev" rx off tx off sg off tso off gso off gro off \
                rxvlan off txvlan off >/dev/null 2>&1 || true
            ;;
    esac
    "${nsx[@]}" ethtool -K "$dev" tx off >/dev/null 2>&1 || true
    "${nsx[@]}" ethtool -k "$dev" | grep -q '^tx-checksumming: off' \
        || die "could not turn tx checksum offload off on $dev"
}

do_up() {
    local p="$1"; shift
    local addr_a="$L2_HOST_A/$PREFIX_LEN" addr_b="$L2_HOST_B/$PREFIX_LEN" gw_a="" gw_b=""
    local vlan_in="" vlan_out="" offloads="off" sink_drop="" ipv6=0 mtu="" queues=1
    while (( $# )); do
        case "$1" in
            --hosts) case "${2:-}" in
                    l2) addr_a="$L2_HOST_A/$PREFIX_LEN" addr_b="$L2_HOST_B/$PREFIX_LEN" gw_a="" ;;
                    nat) addr_a="$NAT_HOST_A/$PREFIX_LEN" addr_b="$NAT_HOST_B/$PREFIX_LEN" gw_a="$NAT_GW_INSIDE" ;;
                    *) die "bad --hosts '${2:-}' (l2|nat)" ;;
                esac; shift 2 ;;
            --vlans) vlan_in="$VLAN_A" vlan_out="$VLAN_B"; shift ;;
            --addr-a) addr_a="${2:?--addr-a needs CIDR}"; shift 2 ;;
            --addr-b) addr_b="${2:?--addr-b needs CIDR}"; shift 2 ;;
            --gw-a) gw_a="${2:?--gw-a needs IP}"; shift 2 ;;
            --gw-b) gw_b="${2:?--gw-b needs IP}"; shift 2 ;;
            --vlan-in) vlan_in="${2:?--vlan-in needs VID}"; check_vid "$vlan_in"; shift 2 ;;
            --vlan-out) vlan_out="${2:?--vlan-out needs VID}"; check_vid "$vlan_out"; shift 2 ;;
            --offloads) offloads="${2:?--offloads needs off|host-tx-off|on}"; shift 2
                [[ "$offloads" =~ ^(off|host-tx-off|on)$ ]] || die "bad --offloads '$offloads'" ;;
            --sink-drop) sink_drop="${2:?--sink-drop needs a|b|ab}"; shift 2
                [[ "$sink_drop" =~ ^(a|b|ab)$ ]] || die "bad --sink-drop '$sink_drop' (a|b|ab)" ;;
            --ipv6) ipv6=1; shift ;;
            --mtu) mtu="${2:?--mtu needs N}"; [[ "$mtu" =~ ^[0-9]+$ ]] || die "bad --mtu"; shift 2 ;;
            --queues) queues="${2:?--queues needs N}"; shift 2
                [[ "$queues" =~ ^[0-9]+$ ]] && (( queues >= 1 && queues <= 64 )) || die "bad --queues '$queues' (1..64)" ;;
            *) die "up: unknown option '$1' (see '$PROG help')" ;;
        esac
    done

    local nsa="${p}a" nsb="${p}b"
    local a0="${p}a0" a1="${p}a1" b0="${p}b0" b1="${p}b1"
    local n
    for n in "$nsa" "$nsb"; do ns_exists "$n" && die "namespace $n exists: run '$PROG down $p' first"; done
    for n in "$a1" "$b1" "$a0" "$b0"; do link_exists "$n" && die "interface $n exists: run '$PROG down $p' first"; done

    TMPD="$(mktemp -d /tmp/testbed.XXXXXX)"
    TB_OK=0
    # From here on, anything that fails removes what was created.
    trap 'rc=$?; if (( TB_OK == 0 )); then do_down "'"$p"'"; echo "$PROG: up failed, cleaned up" >&2; fi; rm -rf "$TMPD"; exit $rc' EXIT
    trap 'exit 130' INT TERM

    ip netns add "$nsa"
    ip netns add "$nsb"
    local q=(numtxqueues "$queues" numrxqueues "$queues")
    ip link add "$a0" "${q[@]}" type veth peer name "$a1" "${q[@]}"
    ip link add "$b0" "${q[@]}" type veth peer name "$b1" "${q[@]}"
    ip link set "$a0" netns "$nsa"
    ip link set "$b0" netns "$nsb"

    local ns dev
    for ns in "$nsa" "$nsb"; do
        ip netns exec "$ns" ip link set lo up
        if (( ! ipv6 )); then
            ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
            ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
        fi
    done
    for dev in "$a1" "$b1"; do
        sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
        [[ -n "$mtu" ]] && ip link set "$dev" mtu "$mtu"
        set_offloads "" "$dev" "$offloads" fwd
    done
    set_offloads "$nsa" "$a0" "$offloads" host
    set_offloads "$nsb" "$b0" "$offloads" host
    if [[ -n "$mtu" ]]; then
        ip netns exec "$nsa" ip link set "$a0" mtu "$mtu"
        ip netns exec "$nsb" ip link set "$b0" mtu "$mtu"
    fi

    [[ "$addr_a" != none ]] && ip netns exec "$nsa" ip addr add "$addr_a" dev "$a0"
    [[ "$addr_b" != none ]] && ip netns exec "$nsb" ip addr add "$addr_b" dev "$b0"

    [[ -n "$vlan_in" ]] && attach_vlan "$nsa" "$a0" "$vlan_in"
    [[ -n "$vlan_out" ]] && attach_vlan "$nsb" "$b0" "$vlan_out"

    local side
    for side in $(grep -o . <<<"$sink_drop"); do
        ip netns exec "${p}${side}" nft -f - <<EOF
table netdev sink {
    chain in {
        type filter hook ingress device "${p}${side}0" priority 0;
        udp dport < 5000 counter drop
        tcp dport < 5000 counter drop
    }
}
EOF
    done

    ip link set "$a1" up
    ip link set "$b1" up
    ip netns exec "$nsa" ip link set "$a0" up
    ip netns exec "$nsb" ip link set "$b0" up
    [[ -n "$gw_a" ]] && ip netns exec "$nsa" ip route add default via "$gw_a" dev "$a0"
    [[ -n "$gw_b" ]] && ip netns exec "$nsb" ip route add default via "$gw_b" dev "$b0"

    TB_OK=1
    echo "$PROG: up $p: ns $nsa ($a0 ${addr_a}${gw_a:+ gw $gw_a}${vlan_in:+ vlan $vlan_in}) <-> $a1 [IN]," \
         "$b1 [OUT] <-> ns $nsb ($b0 ${addr_b}${gw_b:+ gw $gw_b}${vlan_out:+ vlan $vlan_out})" >&2
    echo "$PROG: offloads $offloads${sink_drop:+, sink $sink_drop drops UDP/TCP to ports < 5000}$( (( ipv6 )) && echo ', ipv6 on hosts')" >&2
}

cmd="${1:-help}"
case "$cmd" in
    up)
        shift; check_prefix "${1:-}"; p="$1"; shift
        [[ $EUID -eq 0 ]] || die "must run as root"
        do_up "$p" "$@"
        ;;
    down)
        check_prefix "${2:-}"
        do_down "$2"
        echo "$PROG: down ${2}: removed ns ${2}a ${2}b and veths ${2}a1 ${2}b1" >&2
        ;;
    exec)
        check_prefix "${2:-}"
        [[ "${3:-}" =~ ^[ab]$ ]] || die "exec: host must be a or b"
        (( $# >= 4 )) || die "exec: missing command"
        p="$2"; h="$3"; shift 3
        exec ip netns exec "${p}${h}" "$@"
        ;;
    mac)
        check_prefix "${2:-}"
        [[ "${3:-}" =~ ^[ab]$ ]] || die "mac: host must be a or b"
        ip netns exec "${2}${3}" cat "/sys/class/net/${2}${3}0/address"
        ;;
    help|-h|--help) usage ;;
    *) usage >&2; exit 2 ;;
esac
