"""--workers N (L2 and --vlan-map): N pcap handles per port in one PACKET_FANOUT group, frames
spread by the kernel's symmetric flow hash.

Numbered UDP frames of many flows are sent from both hosts at once (raw AF_PACKET in the hosts'
namespaces, netns_io) and captured at the far hosts: every frame arrives exactly once, byte for
byte (with its VLAN tags translated under --vlan-map), and within each flow in send order; the
frames were spread over more than one worker and the totals equal the sums over the workers
(harness.check_worker_summary). A stop under load returns every head; bad --workers/--cpus
values are usage errors.

Order: a frame a thread sends on a veth is queued on the backlog of the CPU the thread runs on,
so a thread that migrates between CPUs can reorder its own frames before the forwarder sees
them (or after it sent them). The senders are pinned to one CPU each and the order tests pin
the workers with --cpus, so that an order problem is the forwarder's.
"""

import os
import re
import signal
import struct
import threading
import time

import secrets

import pytest

import harness
from harness import check_worker_summary, forwarder_io, run_forwarder_once
from netns_io import (Capture, Flooder, Markers, compare_exactly_once, eth_header, ipv4_frame,
                      send_frames, udp_datagram)
from test_errors import one_line_error

FLOWS = 96
PER_FLOW = 12
SIZES = [60, 64, 100, 128, 256, 512, 700, 1000, 1200, 1400, 1500, 1514]


def flow_addrs(flow, reverse):
    """(src ip, dst ip, src port, dst port) of `flow`, A->B, or B->A when `reverse` (the same
    5-tuple swapped: the symmetric hash puts both ways of a flow on one worker). Addresses no
    host owns: the hosts' kernels drop the frames silently (no ICMP errors)."""
    a = ("10.99.1.%d" % (1 + flow % 200), 20000 + flow)
    b = ("10.99.2.%d" % (1 + flow % 7), 30000 + flow)
    (sip, sport), (dip, dport) = (b, a) if reverse else (a, b)
    return sip, dip, sport, dport


def tags_bytes(tags):
    return b"".join(struct.pack("!HH", tpid, tci) for tpid, tci in tags)


def numbered_flows(markers, src_mac, dst_mac, reverse=False, flows=FLOWS, per_flow=PER_FLOW,
                   tags_in=lambda f: (), tags_out=lambda f: ()):
    """Interleaved numbered UDP frames of `flows` flows, `per_flow` each (frame k of every flow,
    then frame k+1 ...), sizes varied. The payload starts with the marker, the flow and the
    sequence number. Returns (frames to send in order, {marker: frame expected at the far end},
    {marker: (flow, seq)}); tags_in(flow)/tags_out(flow): the (tpid, tci) tags sent / expected."""
    send, expect, index = [], {}, {}
    for seq in range(per_flow):
        for flow in range(flows):
            m = markers.next()
            sip, dip, sport, dport = flow_addrs(flow, reverse)
            size = SIZES[(seq + flow) % len(SIZES)]
            payload = m + struct.pack("!II", flow, seq)
            payload += bytes((flow + i) & 0xFF for i in range(max(0, size - 42 - len(payload))))
            f = ipv4_frame(dst_mac, src_mac, sip, dip, 17, udp_datagram(sip, dip, sport, dport, payload),
                           ident=seq)
            send.append(f[:12] + tags_bytes(tags_in(flow)) + f[12:])
            expect[m] = f[:12] + tags_bytes(tags_out(flow)) + f[12:]
            index[m] = (flow, seq)
    return send, expect, index


def order_problems(markers, index, received, per_flow=PER_FLOW):
    """Within each flow, the frames captured must be in send order (seq 0, 1, ...)."""
    got = {}
    for f in received:
        m = markers.of(f)
        if m in index:
            flow, seq = index[m]
            got.setdefault(flow, []).append(seq)
    problems = []
    for flow, seqs in sorted(got.items()):
        if seqs != sorted(seqs):
            problems.append(f"flow {flow}: arrived in the order {seqs}")
    return problems


class PinnedSender(threading.Thread):
    """send_frames on a thread pinned to one CPU (the kernel queues a veth's frames on the
    sending CPU's backlog: one CPU keeps them in order)."""

    def __init__(self, netns, ifname, frames, cpu):
        super().__init__(daemon=True, name=f"send-{ifname}")
        self.args = (netns, ifname, frames)
        self.cpu = cpu
        self.error = None

    def run(self):
        try:
            os.sched_setaffinity(0, {self.cpu})   # this thread only
            send_frames(*self.args)
        except Exception as e:
            self.error = e

    def finish(self, timeout=30):
        self.join(timeout)
        assert not self.is_alive(), f"sending {len(self.args[2])} frames took over {timeout}s"
        if self.error:
            raise self.error


def cpus_of(spec):
    """'0,1' or '0-1' -> [0, 1]."""
    out = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def both_ways(tb, forwarder, fw_args, tags_a=lambda f: (), tags_b=lambda f: ()):
    """Numbered flows from A and from B at once through a forwarder started with fw_args;
    tags_a(flow)/tags_b(flow): the tags a flow's frames carry on A's / B's side. Asserts that
    every frame arrived exactly once, byte for byte, in order within its flow. Returns the
    Result (exit status checked) and the number of frames sent each way."""
    ma = bytes.fromhex(tb.mac_a.replace(":", ""))
    mb = bytes.fromhex(tb.mac_b.replace(":", ""))
    mk_ab, mk_ba = Markers(), Markers()
    send_ab, exp_ab, idx_ab = numbered_flows(mk_ab, ma, mb, tags_in=tags_a, tags_out=tags_b)
    send_ba, exp_ba, idx_ba = numbered_flows(mk_ba, mb, ma, reverse=True, tags_in=tags_b, tags_out=tags_a)
    cap_b = Capture(tb.ns_b, tb.b0).start()
    cap_a = Capture(tb.ns_a, tb.a0).start()
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--json", *fw_args)
        senders = [PinnedSender(tb.ns_a, tb.a0, send_ab, 0), PinnedSender(tb.ns_b, tb.b0, send_ba, 1)]
        for s in senders:
            s.start()
        for s in senders:
            s.finish()
        cap_b.wait_for(mk_ab.ours, len(send_ab), timeout=10)
        cap_a.wait_for(mk_ba.ours, len(send_ba), timeout=10)
        time.sleep(0.3)   # room for duplicates
        res = fw.stop()
    finally:
        at_b = cap_b.stop()
        at_a = cap_a.stop()
    assert res.returncode == 0, f"forwarder {fw_args}: exit {res.returncode}: {res.stderr[-2000:]}"
    if forwarder_io() != "auto" and "--io" not in fw_args:
        assert res.json["io"] == forwarder_io(), res.json["io"]
    for what, mk, exp, idx, got in (("A->B", mk_ab, exp_ab, idx_ab, at_b), ("B->A", mk_ba, exp_ba, idx_ba, at_a)):
        problems = compare_exactly_once(mk, exp, got)
        assert not problems, (f"{fw_args} {what}: {len(problems)} problem(s) of {len(exp)} frames:\n  "
                              + "\n  ".join(problems[:30]))
        problems = order_problems(mk, idx, got)
        assert not problems, (f"{fw_args} {what}: flows reordered ({len(problems)} of {FLOWS}):\n  "
                              + "\n  ".join(problems[:20]))
    return res, len(send_ab)


@pytest.fixture(scope="module")
def testbeds():
    """testbeds(workers) -> a testbed for that many workers, with harness.queues_for(workers)
    queues per veth (testbed.sh --queues): over pcap one testbed serves all.
    testbeds(workers, queues=Q): veths with Q queues whatever the I/O."""
    prefixes, made = {}, {}

    def get(workers, queues=None):
        queues = queues or harness.queues_for(workers)
        if queues not in made:
            prefixes[queues] = "it" + secrets.token_hex(2)
            made[queues] = harness.testbed_up(prefixes[queues], "--queues", str(queues))
        return made[queues]

    try:
        yield get
    finally:
        for prefix in prefixes.values():
            harness.testbed_down(prefix)


def check_spread(ws, at_least=2):
    busy = [w["worker"] for w in ws if w["rx_frames"] > 0]
    assert len(busy) >= at_least, \
        f"the flows all landed on workers {busy}: rx_frames {[w['rx_frames'] for w in ws]}"


# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("workers,cpus", [(2, "0,1"), (3, "0-1")])
def test_l2_flows_exactly_once_in_order(testbeds, forwarder, workers, cpus):
    res, n = both_ways(testbeds(workers), forwarder, ["--workers", workers, "--cpus", cpus])
    j = res.json
    ws = check_worker_summary(j, workers)
    check_spread(ws)
    want = cpus_of(cpus)
    assert [w["cpu"] for w in ws] == [want[i % len(want)] for i in range(workers)], \
        f"--cpus {cpus}: workers on {[w['cpu'] for w in ws]}"
    for name in ("in->out", "out->in"):
        d = res.direction(name)
        assert d["rx_frames"] >= n and d["drops"] == 0, d
    # L2: no hand-off (both ways of a flow hash to one worker, which sends them itself).
    assert all(w["hand_offs_sent"] == 0 for w in ws), ws


def test_vlan_map_flows_exactly_once_in_order(testbeds, forwarder):
    """--vlan-map 100:200 (rewrite) and 0:300 (push toward OUT, pop toward IN) with 2 workers:
    a flow's frames carry its side's tags, PCP kept (docs/nat.md), exactly once, in order."""
    def tags_a(flow):
        return [(0x8100, ((flow % 8) << 13) | 100)] if flow % 2 else []

    def tags_b(flow):
        return [(0x8100, ((flow % 8) << 13) | 200)] if flow % 2 else [(0x8100, 300)]
    res, n = both_ways(testbeds(2), forwarder, ["--workers", 2, "--cpus", "0,1", "--vlan-map", "100:200",
                                            "--vlan-map", "0:300"], tags_a, tags_b)
    assert res.json["mode"] == "vlan-map", res.json["mode"]
    ws = check_worker_summary(res.json, 2)
    check_spread(ws)
    for name in ("in->out", "out->in"):
        d = res.direction(name)
        assert d["rx_frames"] >= n and d["drops"] == 0, d


def _flood_frames(tb, reverse, flows=256):
    ma = bytes.fromhex(tb.mac_a.replace(":", ""))
    mb = bytes.fromhex(tb.mac_b.replace(":", ""))
    src, dst = (mb, ma) if reverse else (ma, mb)
    send, _, _ = numbered_flows(Markers(), src, dst, reverse=reverse, flows=flows, per_flow=2)
    return send


@pytest.mark.parametrize("output", ["json", "text"])
def test_stop_under_load_returns_every_head(testbeds, forwarder, output):
    """SIGTERM while both hosts flood 256 flows at full rate, 2 workers: exit 0, the summary
    written, every head back in the pool (JSON: cache.in_use 0; text: '0 out of the pool'),
    one text line per worker."""
    tb = testbeds(2)
    args = [tb.in_if, tb.out_if, "--workers", 2] + (["--json"] if output == "json" else [])
    fw = forwarder(*args)
    floods = [Flooder(tb.ns_a, tb.a0, _flood_frames(tb, False), 6.0).start(),
              Flooder(tb.ns_b, tb.b0, _flood_frames(tb, True), 6.0).start()]
    try:
        time.sleep(1.5)
        assert fw.running(), f"the forwarder died under load: {fw.stop().stderr[-2000:]}"
        t0 = time.monotonic()
        res = fw.stop(signal.SIGTERM, timeout=10)
        took = time.monotonic() - t0
    finally:
        for f in floods:
            f.stop_event.set()
        sent = [f.join(15) for f in floods]
    assert res.returncode == 0, f"exit {res.returncode} after SIGTERM under load: {res.stderr[-2000:]}"
    assert min(sent) > 1000, f"the floods hardly ran: {sent}"
    assert took < 5, f"SIGTERM under load took {took:.1f}s"
    if output == "json":
        ws = check_worker_summary(res.json, 2)   # in_use 0, gets = puts
        check_spread(ws)
        assert sum(w["rx_frames"] for w in ws) > 1000, ws
        for d in res.json["directions"]:
            assert sum(d["drops_by_reason"].values()) == d["drops"], d
            assert d["rx_frames"] == d["tx_frames"] + d["drops"], d
    else:
        err = res.stderr
        assert "SIGTERM" in err, err
        lines = [l.removeprefix("forwarder: ") for l in err.splitlines()]
        pool = [l for l in lines if l.startswith("  pool:")]
        assert len(pool) == 1, f"no pool line in the text summary:\n{err}"
        assert re.search(r"\b0 out of the pool\b", pool[0]), f"heads still out after SIGTERM: {pool[0]}"
        for i in range(2):
            mine = [l for l in lines if re.match(rf"  worker {i}\b", l)]
            assert len(mine) == 1, f"expected one '  worker {i}' line in the summary:\n{err}"
        assert not [l for l in lines if re.match(r"  worker [2-9]", l)], err


def test_workers_auto(testbeds, forwarder):
    """auto: one worker per CPU; over AF_XDP at most one per RX queue (a 1-queue veth: 1)."""
    tb = testbeds(1)
    fw = forwarder(tb.in_if, tb.out_if, "--workers", "auto", "--duration", "1", "--json",
                   wait_ready=False)
    res = fw.wait(timeout=15)
    assert res.returncode == 0, f"--workers auto: exit {res.returncode}: {res.stderr[-2000:]}"
    assert res.json is not None, f"no JSON summary: {res.stdout!r}"
    n = len(res.json.get("workers") or [])
    online = min(os.sysconf("SC_NPROCESSORS_ONLN"), 64)
    want = 1 if forwarder_io() == "xdp" else online
    assert n == want, f"--workers auto ran {n} workers, not {want}: {res.json.get('workers')}"
    check_worker_summary(res.json, n)


@pytest.mark.parametrize("opt,value", [("--workers", "0"), ("--workers", "x"), ("--workers", "-1"),
                                       ("--cpus", "99"), ("--cpus", "0,x"),
                                       ("--remote-frees", "bogus"), ("--nat-steering", "bogus")])
def test_bad_worker_options(testbeds, opt, value):
    tb = testbeds(1)
    res = run_forwarder_once([tb.in_if, tb.out_if, opt, value, "--duration", "1"])
    msg = one_line_error(res, 2)
    assert opt in msg and value in msg, msg
    assert "unknown option" not in msg, f"{opt} is not an option of this forwarder: {msg}"


# --- over AF_XDP, whatever FORWARDER_IO says: a worker per queue ------------------------------

def test_xdp_needs_a_queue_per_worker(testbeds):
    """Three workers on 2-queue veths: exit 1 naming the interface, the queues needed and the
    fixes, before any socket (nothing attached)."""
    tb = testbeds(2, queues=2)
    res = run_forwarder_once([tb.in_if, tb.out_if, "--io", "xdp", "--workers", 3, "--duration", "1"])
    assert res.returncode == 1, f"exit {res.returncode}: {res.stderr}"
    msg = res.stderr.strip().splitlines()[-1]
    assert f"{tb.in_if}: AF_XDP: 3 workers from --xdp-queue 0 need queues 0-2, and the interface has 2 RX queues" in msg, msg
    assert "use --workers 2 or fewer" in msg and f"ethtool -L {tb.in_if} combined 3" in msg, msg
    assert not harness.xdp_attached(tb.in_if) and not harness.xdp_attached(tb.out_if)


def test_xdp_warns_about_queues_no_worker_reads(testbeds, forwarder):
    """One worker on 2-queue veths: a warning per interface that the frames of queue 1 are not
    forwarded, with the fix; the JSON names the queue and the mode (auto keeps generic on a veth
    for one worker)."""
    tb = testbeds(1, queues=2)
    res = forwarder(tb.in_if, tb.out_if, "--io", "xdp", "--json").stop()
    assert res.returncode == 0, res.stderr
    for name in (tb.in_if, tb.out_if):
        assert (f"warning: {name} has 2 RX queues and the AF_XDP sockets are on queue 0 only: frames the NIC puts "
                f"on the others go to the kernel stack and are not forwarded; use --workers 2") in res.stderr, res.stderr
    x = res.json["xdp"]
    assert (x["first_queue"], x["last_queue"]) == (0, 0), x
    assert [x["interfaces"][n]["mode"] for n in (tb.in_if, tb.out_if)] == ["generic", "generic"], x


def test_xdp_workers_bind_consecutive_queues(testbeds, forwarder):
    """--workers 2 --io xdp on 2-queue veths: queues 0-1 in the io line and the JSON, native mode
    chosen by auto (generic on veth files a frame one queue low), both workers busy."""
    tb = testbeds(2, queues=2)
    res, n = both_ways(tb, forwarder, ["--workers", 2, "--io", "xdp"])
    assert f"io: xdp, {tb.in_if} native, {tb.out_if} native, queues 0-1, copy" in res.stderr, res.stderr
    x = res.json["xdp"]
    assert (x["first_queue"], x["last_queue"]) == (0, 1), x
    check_spread(check_worker_summary(res.json, 2))
    for name in (tb.in_if, tb.out_if):
        assert x["interfaces"][name]["rx_frames"] >= n and x["interfaces"][name]["tx_copied"] == 0, x
