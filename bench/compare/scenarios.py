"""What the comparison runs: scenarios (a kind of traffic on a topology) and the devices each one
compares. A device that cannot do a scenario's job is listed with the reason, never dropped."""
from dataclasses import dataclass, field
from typing import Optional

from testbed import plan

L2_PEERS = ["cfwd-sendmmsg", "tcpbridge", "netsniff-ng", "bridge", "tc-redirect"]
PLAINS = ["fwd-plain", "fwd-plain-mimalloc", "fwd-plain-jemalloc", "fwd-plain-tcmalloc"]
ALLOCATORS = ["fwd-cache", "fwd-cache-2025"] + PLAINS
MALLOC_OF = {"fwd-plain": "glibc", "fwd-plain-mimalloc": "mimalloc", "fwd-plain-jemalloc": "jemalloc",
             "fwd-plain-tcmalloc": "tcmalloc"}


@dataclass
class Scenario:
    name: str
    title: str
    traffic: str                 # pps | tcp | udp | ping | pipeline
    kind: str = "l2"             # the topology (kernel-nat runs NAT scenarios on knat)
    devices: list = field(default_factory=list)
    direction: str = "one"       # one | both (tcp, udp, ping: always both)
    size: int = 64               # frame bytes with FCS, untagged (the tag adds 4)
    flows: int = 1
    burst: Optional[int] = None  # --burst (forwarder devices); None = the default 32
    cap: Optional[int] = None    # percent of one core the device may use (cgroup quota)
    load_pps: Optional[int] = None   # ping under a generator at this rate
    min_rounds: int = 0          # at least this many rounds in a full run
    quick_devices: Optional[list] = None   # the --quick subset (None: not in --quick)
    pipeline_mode: Optional[str] = None
    load_frac: Optional[float] = None    # latency: background 64 B load, fraction of fwd-cache's highest rate

    def kind_for(self, device):
        return "knat" if device.startswith("kernel-nat") else self.kind


def _all_l2():
    return ALLOCATORS + ["fwd-xdp-cache", "fwd-xdp-plain", "cfwd-inject"] + L2_PEERS


SCENARIOS = [
    Scenario("l2-64-oneway", "L2, 64-byte frames, one way", "pps", devices=_all_l2(), quick_devices=_all_l2()),
    Scenario("l2-64-bothways", "L2, 64-byte frames, both ways at once", "pps", direction="both",
             devices=["fwd-cache", "fwd-plain", "fwd-xdp-cache"] + L2_PEERS,
             quick_devices=["fwd-cache", "tcpbridge", "netsniff-ng"]),
    Scenario("l2-512-oneway", "L2, 512-byte frames, one way", "pps", size=512, devices=["fwd-cache", "fwd-plain"] + L2_PEERS),
    Scenario("l2-1500-oneway", "L2, 1500-byte frames, one way", "pps", size=1500,
             devices=["fwd-cache", "fwd-plain"] + L2_PEERS, quick_devices=["fwd-cache"]),
    Scenario("vlan-64", f"VLAN translation {plan.VLAN_A} <-> {plan.VLAN_B}, 64-byte frames", "pps", kind="l2vlan", devices=ALLOCATORS,
             quick_devices=["fwd-cache-2025"]),
    Scenario("nat-64-f1", "VLAN NAT, 64-byte frames, 1 flow", "pps", kind="nat", flows=1,
             devices=["fwd-cache", "fwd-plain", "kernel-nat"]),
    Scenario("nat-64-f1000", "VLAN NAT, 64-byte frames, 1,000 flows", "pps", kind="nat", flows=1000,
             devices=["fwd-cache", "fwd-plain", "kernel-nat"]),
    Scenario("nat-64-f10000", "VLAN NAT, 64-byte frames, 10,000 flows", "pps", kind="nat", flows=10000,
             devices=ALLOCATORS + ["fwd-xdp-cache", "fwd-xdp-plain", "kernel-nat", "kernel-nat-rps"],
             quick_devices=["fwd-cache", "fwd-plain", "fwd-xdp-cache", "kernel-nat", "kernel-nat-rps"]),
    Scenario("nat-64-f100000", "VLAN NAT, 64-byte frames, 100,000 flows", "pps", kind="nat", flows=100000,
             devices=["fwd-cache", "fwd-plain", "kernel-nat"], quick_devices=["fwd-cache"]),
    Scenario("burst-8", "L2 64 B one way, --burst 8", "pps", burst=8, devices=["fwd-cache", "fwd-plain"]),
    Scenario("burst-32", "L2 64 B one way, --burst 32", "pps", burst=32, devices=["fwd-cache", "fwd-plain"]),
    Scenario("burst-64", "L2 64 B one way, --burst 64", "pps", burst=64, devices=["fwd-cache", "fwd-plain"],
             quick_devices=["fwd-plain"]),
    Scenario("filter", "L2 64 B one way through --filter udp (every frame matches): the filter's cost", "pps",
             devices=["fwd-cache", "fwd-filter", "fwd-xdp-cache", "fwd-xdp-filter"],
             quick_devices=["fwd-filter", "fwd-xdp-filter"]),
    Scenario("kernel-path", "L2 64 B one way: the forwarder's kernel-path options", "pps",
             devices=["fwd-cache", "fwd-sendmmsg", "fwd-bypass", "fwd-txring-bypass", "cfwd-sendmmsg"],
             quick_devices=["fwd-sendmmsg", "fwd-bypass", "fwd-txring-bypass"]),
    Scenario("workers-l2", "L2 64 B one way, 1 worker vs 2 (fanout hash)", "pps",
             devices=["fwd-cache", "fwd-w2-home", "fwd-w2-rollover", "fwd-w2-defrag"],
             quick_devices=["fwd-w2-home", "fwd-w2-rollover", "fwd-w2-defrag"]),
    Scenario("workers-nat", "VLAN NAT 64 B, 1,000 flows, 1 worker vs 2 (hand-offs, both remote-free policies)",
             "pps", kind="nat", flows=1000,
             devices=["fwd-cache", "fwd-w2-home", "fwd-w2-adopt", "fwd-w2-plain", "fwd-w2-steered"],
             quick_devices=["fwd-w2-home", "fwd-w2-adopt", "fwd-w2-plain", "fwd-w2-steered"]),
    Scenario("slow-router-l2", "slow router: L2 64 B one way, the device capped at 30 % of a core", "pps", cap=30,
             devices=["fwd-cache", "fwd-plain", "fwd-xdp-cache", "fwd-xdp-plain", "cfwd-sendmmsg"], min_rounds=10,
             quick_devices=["fwd-cache", "fwd-plain"]),
    Scenario("slow-router-nat", "slow router: VLAN NAT 64 B, 1,000 flows, capped at 30 % of a core", "pps",
             kind="nat", flows=1000, cap=30, devices=["fwd-cache", "fwd-plain", "fwd-xdp-cache", "fwd-xdp-plain"],
             min_rounds=10),
    Scenario("iperf-tcp-l2", "iperf3 TCP through the L2 device", "tcp", direction="both",
             devices=["fwd-cache", "fwd-plain"] + L2_PEERS),
    Scenario("iperf-tcp-nat", "iperf3 TCP through the VLAN NAT gateway (the seed's experiment)", "tcp", kind="nat",
             direction="both", devices=["fwd-cache", "fwd-plain", "kernel-nat"], min_rounds=10,
             quick_devices=["fwd-cache", "kernel-nat"]),
    Scenario("iperf-udp-nat", "iperf3 UDP through the VLAN NAT gateway (the seed's experiment)", "udp", kind="nat",
             direction="both", devices=["fwd-cache", "fwd-plain", "kernel-nat"], min_rounds=10,
             quick_devices=["fwd-cache"]),
    Scenario("ping-idle-l2", "ping RTT through the L2 device, idle", "ping", direction="both",
             devices=["fwd-cache", "fwd-plain"] + L2_PEERS, quick_devices=["fwd-cache", "bridge"]),
    Scenario("ping-load-l2", "ping RTT through the L2 device under 100 kpps of 64 B frames", "ping", direction="both",
             load_pps=100000, devices=["fwd-cache", "fwd-plain"] + L2_PEERS, quick_devices=["fwd-cache"]),
    Scenario("ping-idle-nat", "ping RTT through the NAT gateway, idle", "ping", kind="nat", direction="both",
             devices=["fwd-cache", "fwd-plain", "kernel-nat"]),
    Scenario("ping-load-nat", "ping RTT through the NAT gateway under 100 kpps", "ping", kind="nat", direction="both",
             load_pps=100000, devices=["fwd-cache", "fwd-plain", "kernel-nat"], quick_devices=["fwd-cache"]),
]
for _mode, _title in (("l2", "L2"), ("vlan", "VLAN translation"), ("nat", "VLAN NAT, 10,000 sessions")):
    SCENARIOS.append(Scenario(f"pipeline-{_mode}", f"in memory (no kernel): {_title}, 64 B, one thread", "pipeline",
                              kind="memory", devices=ALLOCATORS, pipeline_mode=_mode,
                              quick_devices=ALLOCATORS))
# Latency (sockperf UDP ping-pong, host A to host B and back), each poll mode over pcap and xdp
# against the kernel's own device; lat-l2-64-load10/-load90 complete the cost table.
POLL_DEVICES = ["fwd-cache", "fwd-adaptive", "fwd-busy", "fwd-xdp-cache", "fwd-xdp-adaptive", "fwd-xdp-busy"]
for _kind, _ref, _what in (("l2", "bridge", "L2"), ("nat", "kernel-nat", "VLAN NAT")):
    for _size in (64, 1400):
        for _load in (0, 50):
            SCENARIOS.append(Scenario(
                f"lat-{_kind}-{_size}-{'idle' if not _load else f'load{_load}'}",
                f"sockperf ping-pong, {_size} B, {_what}, " + ("idle" if not _load else
                                                             f"under 64 B frames at {_load} % of the highest rate"),
                "latency", kind=_kind, direction="both", size=_size, load_frac=_load / 100 or None,
                devices=POLL_DEVICES + [_ref],
                quick_devices=["fwd-busy", "fwd-xdp-adaptive", _ref] if (_kind, _size, _load) == ("l2", 64, 0) else None))
for _load in (10, 90):
    SCENARIOS.append(Scenario(f"lat-l2-64-load{_load}", f"sockperf ping-pong, 64 B, L2, under 64 B frames at {_load} % "
                              "of the highest rate (the cost table)", "latency", direction="both", load_frac=_load / 100,
                              devices=POLL_DEVICES + ["bridge"]))
BY_NAME = {s.name: s for s in SCENARIOS}


def trafgen_config(bed, side, size, flows):
    """The trafgen frame sent from host `side` ("a" sends to B, "b" to A). trafgen uses
    PACKET_QDISC_BYPASS, which skips the testbed's tc egress tag push: the tag is in the frame."""
    kind = bed.kind
    da = bed.dst_mac(side)
    sa = bed.mac_a if side == "a" else bed.mac_b
    if kind == "real":
        sa = bed.real.get("src_mac") or "00:00:00:00:00:01"
    src, dst = bed.host_addr(side), bed.host_addr("b" if side == "a" else "a")
    vid = bed.host_vlan(side)
    tag = [f"  vlan(id={vid}),"] if vid else []
    eth = [f"  eth(da={da}, sa={sa}" + ("" if vid else ", type=0x0800") + "),"] + tag
    ip = f"  ipv4(saddr={src}, daddr={dst}, ttl=64),"
    fill = f"  fill(0x00, {size - 4 - 42})"
    if flows == 1:
        return "\n".join(["{"] + eth + [ip, "  udp(sport=4000, dport=9),", fill, "}"]) + "\n"
    if flows <= 50000:   # UDP source port over `flows` values; checksum 0 (valid for UDP) as it varies
        return "\n".join(["{"] + eth + [ip, f"  udp(sport=dinc(10000, {10000 + flows - 1}), dport=9, csum=0),", fill, "}"]) + "\n"
    # More flows than one protocol's ports on one outside address (the NAT keeps endpoint-
    # independent mappings, one per inside address and port): half UDP, half TCP SYNs, which
    # trafgen sends alternately, each over its own flows/2 source ports.
    half = flows // 2
    udp = ["{"] + eth + [ip, f"  udp(sport=dinc(10000, {10000 + half - 1}), dport=9, csum=0),", fill, "}"]
    tcp = ["{"] + eth + [ip, f"  tcp(sport=dinc(10000, {10000 + half - 1}), dport=9, syn),",
                         f"  fill(0x00, {max(0, size - 4 - 54)})", "}"]
    return "\n".join(udp + tcp) + "\n"
