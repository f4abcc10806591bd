"""Real host traffic through the two-way forwarder: ping and iperf3 TCP from host A to host B,
with each allocator. The figures (median RTT, Mbit/s) are printed (pytest -s or -rA) and
recorded as test properties."""

import json
import re
import statistics
import subprocess
import time

import pytest

PINGS = 20
MIN_MBPS = 50.0


@pytest.mark.parametrize("alloc", ["cache", "plain"])
def test_ping(testbed, forwarder, record_property, alloc):
    tb = testbed
    fw = forwarder(tb.in_if, tb.out_if, "--alloc", alloc, "--json", "--quiet")
    r = tb.exec("a", ["ping", "-n", "-c", str(PINGS), "-i", "0.05", "-W", "1", tb.ip_b],
                timeout=30, check=False)
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", r.stdout)]
    assert r.returncode == 0 and re.search(r"\b0% packet loss", r.stdout), \
        f"ping through the forwarder ({alloc}) lost packets:\n{r.stdout}{r.stderr}"
    assert len(rtts) == PINGS, r.stdout
    median = statistics.median(rtts)
    record_property("median_rtt_ms", median)
    print(f"\nping A->B through forwarder --alloc {alloc}: {PINGS}/{PINGS}, "
          f"median RTT {median:.3f} ms (min {min(rtts):.3f}, max {max(rtts):.3f})")
    # Both directions carried the echo requests/replies (and ARP), nothing dropped.
    for name in ("in->out", "out->in"):
        d = res.direction(name)
        assert d["tx_frames"] >= PINGS, d
        assert d["drops"] == 0, d["drops_by_reason"]
    assert res.json["alloc"] == alloc


def _iperf_server(tb, port):
    srv = tb.popen("b", ["iperf3", "-s", "-1", "-p", str(port), "-J"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until it listens (bounded).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if srv.poll() is not None:
            break
        ss = tb.exec("b", ["ss", "-Hltn", f"sport = :{port}"], check=False)
        if str(port) in ss.stdout:
            break
        time.sleep(0.05)
    return srv


@pytest.mark.parametrize("alloc", ["cache", "plain"])
def test_iperf3_tcp(testbed, forwarder, record_property, alloc):
    tb = testbed
    port = 5201 + (0 if alloc == "cache" else 1)
    fw = forwarder(tb.in_if, tb.out_if, "--alloc", alloc, "--json", "--quiet")
    srv = _iperf_server(tb, port)
    try:
        assert srv.poll() is None, f"iperf3 server did not start: {srv.communicate(timeout=5)}"
        cli = tb.exec("a", ["iperf3", "-c", tb.ip_b, "-p", str(port), "-t", "3", "-J",
                            "--connect-timeout", "3000"], timeout=25, check=False)
    finally:
        if srv.poll() is None:
            try:
                srv.wait(timeout=5)
            except subprocess.TimeoutExpired:
                srv.kill()  # this PID only (ip netns exec execs iperf3)
                srv.wait(timeout=5)
        srv_out, srv_err = srv.communicate(timeout=5)
    res = fw.stop()
    assert res.returncode == 0, res.stderr
    assert cli.returncode == 0, f"iperf3 client failed:\n{cli.stdout[-2000:]}{cli.stderr}\nserver: {srv_err}"
    report = json.loads(cli.stdout)
    received = report["end"]["sum_received"]["bits_per_second"]
    sent = report["end"]["sum_sent"]["bits_per_second"]
    retrans = report["end"]["sum_sent"].get("retransmits")
    mbps = received / 1e6
    record_property("iperf3_mbps", round(mbps, 1))
    print(f"\niperf3 TCP A->B -t 3 through forwarder --alloc {alloc}: {mbps:.0f} Mbit/s received "
          f"({sent / 1e6:.0f} sent, {retrans} retransmits)")
    assert received > 0
    assert mbps >= MIN_MBPS, f"iperf3 through the forwarder ({alloc}): {mbps:.1f} Mbit/s < {MIN_MBPS}"
    for name in ("in->out", "out->in"):
        d = res.direction(name)
        assert d["tx_frames"] > 0, d
        # The TCP stream may overrun the rings, but nothing may be dropped as oversize or
        # malformed: offloads are off, so every frame fits the MTU.
        assert d["drops_by_reason"]["oversize"] == 0, d["drops_by_reason"]
        assert d["drops_by_reason"]["malformed"] == 0, d["drops_by_reason"]
