"""Faults under load: a port's link going down and up while a flood runs, an interface deleted
under the forwarder, and the packet heads exhausted (--max-heads) by a flood. Each test builds
its own namespaces (torn down even on failure), bounds its load in time and stops only the
forwarder it started."""

import random
import re
import secrets
import signal
import subprocess
import time

import pytest

import harness
from harness import RssSampler, run
from netns_io import Flooder, ipv4_frame, mac_bytes, udp_datagram

FLOOD_S = 3.0


def udp_load(tb, n=2000, from_side="a"):
    """n distinct UDP frames from host A to host B (or B to A), 100..1400 bytes."""
    rng = random.Random(n)
    if from_side == "a":
        dst, src, sip, dip = mac_bytes(tb.mac_b), mac_bytes(tb.mac_a), tb.ip_a, tb.ip_b
    else:
        dst, src, sip, dip = mac_bytes(tb.mac_a), mac_bytes(tb.mac_b), tb.ip_b, tb.ip_a
    return [ipv4_frame(dst, src, sip, dip, 17, udp_datagram(sip, dip, 40000 + i % 1000, 9,
                                                            rng.randbytes(rng.randint(60, 1360))), ident=i)
            for i in range(n)]


def ping_until_ok(tb, dst, within=8.0):
    """Ping A -> dst until 3 in a row answer (bounded); returns (ok, last result)."""
    deadline = time.monotonic() + within
    r = None
    while time.monotonic() < deadline:
        r = tb.exec("a", ["ping", "-n", "-c", "3", "-i", "0.1", "-W", "1", dst], timeout=15, check=False)
        if r.returncode == 0 and re.search(r"\b0% packet loss", r.stdout):
            return True, r
        time.sleep(0.2)
    return False, r


def check_accounting(j):
    for d in j["directions"]:
        assert sum(d["drops_by_reason"].values()) == d["drops"], d
        assert d["rx_frames"] == d["tx_frames"] + d["drops"], d


def test_link_down_and_up_under_load(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--json")
    floods = [Flooder(tb.ns_a, tb.a0, udp_load(tb, from_side="a"), 4.0, pps=20000).start(),
              Flooder(tb.ns_b, tb.b0, udp_load(tb, from_side="b"), 4.0, pps=20000).start()]
    try:
        for ifname in (tb.in_if, tb.out_if):
            time.sleep(0.7)
            run(["ip", "link", "set", ifname, "down"])
            time.sleep(0.7)
            run(["ip", "link", "set", ifname, "up"])
    finally:
        for ifname in (tb.in_if, tb.out_if):
            run(["ip", "link", "set", ifname, "up"], check=False)
        sent = [f.join(30) for f in floods]
    alive = fw.running()
    ok, r = ping_until_ok(tb, tb.ip_b)
    res = fw.stop(signal.SIGINT)
    print(f"\nlink down/up of {tb.in_if} then {tb.out_if} under {sent} frames: "
          + "; ".join(f"{d['name']} rx {d['rx_frames']} tx {d['tx_frames']} drops "
                      f"{dict((k, v) for k, v in d['drops_by_reason'].items() if v)}"
                      for d in (res.json or {}).get("directions", [])))
    assert alive, f"the forwarder exited when a link went down (exit {res.returncode}):\n{res.stderr[-2000:]}"
    assert ok, f"no traffic through the forwarder after the links came back up:\n{r.stdout}{r.stderr}"
    assert res.returncode == 0, f"exit {res.returncode} after SIGINT:\n{res.stderr[-2000:]}"
    assert min(sent) > 10000, sent
    check_accounting(res.json)


def test_heads_exhausted_then_recovered(testbed, forwarder):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--json", "--max-heads", "64")
    rss = RssSampler(fw.proc.pid, 0.2).start()
    try:
        floods = [Flooder(tb.ns_a, tb.a0, udp_load(tb, from_side="a"), FLOOD_S).start(),
                  Flooder(tb.ns_b, tb.b0, udp_load(tb, from_side="b"), FLOOD_S).start()]
        sent = [f.join(30) for f in floods]
    finally:
        samples = rss.stop()
    alive = fw.running()
    ok, r = ping_until_ok(tb, tb.ip_b)
    res = fw.stop(signal.SIGINT)
    j = res.json
    c = j["cache"]
    no_buffer = sum(d["drops_by_reason"]["no_buffer"] for d in j["directions"])
    ring = sum(p["dropped"] for p in j["pcap"].values())
    print(f"\n--max-heads 64 under {sent} frames: no_buffer {no_buffer}, kernel ring dropped {ring}, "
          f"cache {c}, allocator {j.get('allocator')}, VmRSS peak {max(samples) / 1024:.1f} MiB")
    assert alive, f"the forwarder exited with its heads exhausted (exit {res.returncode}):\n{res.stderr[-2000:]}"
    assert res.returncode == 0, res.stderr[-2000:]
    assert ok, f"no traffic through the forwarder after the flood (--max-heads 64):\n{r.stdout}{r.stderr}"
    assert no_buffer + ring > 0, f"a flood against 64 heads dropped nothing: {j['directions']} {j['pcap']}"
    check_accounting(j)
    # Every head back in the pool: none in use, every get matched by a put, the cap held.
    assert c["in_use"] == 0, c
    assert c["gets"] == c["puts"], c
    assert j["allocator"]["gets"] == j["allocator"]["puts"], j["allocator"]
    assert c["pool_high_water"] <= 64 and c["pool_heads"] <= 64, c
    assert max(samples) <= 64 * 1024, samples


def test_interface_deleted(forwarder):
    prefix = "fd" + secrets.token_hex(2)
    try:
        tb = harness.testbed_up(prefix)
        fw = forwarder(tb.in_if, tb.out_if, "--json")
        flood = Flooder(tb.ns_a, tb.a0, udp_load(tb, 500), 2.0, pps=10000).start()
        time.sleep(0.5)
        run(["ip", "link", "del", tb.out_if])       # the veth pair goes: OUT vanishes
        try:
            flood.join(30)
        except OSError:
            pass                                    # ENXIO etc. once the pair is gone
        try:
            res = fw.wait(timeout=10)
        except AssertionError as e:
            raise AssertionError(f"the forwarder kept running with {tb.out_if} deleted: {e}") from None
    finally:
        harness.testbed_down(prefix)
    j = res.json
    print(f"\n{tb.out_if} deleted: exit {res.returncode}, stderr {res.stderr.strip()[-300:]!r}, "
          f"stopped_by {j and j.get('stopped_by')!r}, error {j and j.get('error')!r}")
    assert res.returncode == 1, f"exit {res.returncode} (expected 1):\n{res.stderr}"
    assert tb.out_if in res.stderr, f"the interface name {tb.out_if} is not on stderr:\n{res.stderr}"
    assert j is not None, f"no JSON summary on stdout: {res.stdout!r}"
    assert j["stopped_by"] == "error", j["stopped_by"]
    assert j["error"] and tb.out_if in j["error"], j["error"]
    check_accounting(j)
