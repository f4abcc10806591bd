"""The NAT log (`--nat-log FILE`): a create line for every mapping a flow makes and a delete
line when it goes, with the reason (timeout, fin, flush), through a VLAN NAT gateway between
two namespaces.

  ns A HOST_A (VLAN_IN) -- ${P}a1 [forwarder --vlan-nat --nat-log FILE] ${P}b1 -- ns B HOST_B
"""

import json
import os
import subprocess
import tempfile
import time

import pytest

from harness import forwarder_path
from nat_support import (GW_OUTSIDE, HOST_A, HOST_B, TcpServer, UdpEcho, checked_nat_testbed,
                         tcp_request, udp_exchange)

UDP_FLOWS = 30
TCP_FLOWS = 4


@pytest.fixture(scope="module")
def bed():
    with tempfile.TemporaryDirectory(prefix="fwd-natlog-") as d:
        log = os.path.join(d, "nat.log")
        sock = os.path.join(d, "gw.sock")
        # A small table: the idle expiry sweep (256 slots per 100 ms tick) covers it in a second.
        with checked_nat_testbed(["--nat-log", log, "--control", sock, "--max-sessions", "1024", "--timeout-udp", "2",
                                     "--timeout-tcp-transitory", "2"]) as b:
            b.log, b.sock = log, sock
            yield b


def lines(bed):
    with open(bed.log) as f:
        return [json.loads(l) for l in f if l.strip()]


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_every_flow_has_a_create_and_a_delete_line(bed):
    udp_ports = list(range(31000, 31000 + UDP_FLOWS))
    tcp_ports = list(range(32000, 32000 + TCP_FLOWS))
    echo = UdpEcho(bed.ns("b"), HOST_B, 7001)
    server = TcpServer(bed.ns("b"), HOST_B, 7002, b"ok\n")
    try:
        for p in udp_ports:
            assert udp_exchange(bed.ns("a"), HOST_B, 7001, b"x", bind=(HOST_A, p))[0] == b"x"
        for p in tcp_ports:
            assert tcp_request(bed.ns("a"), HOST_B, 7002, b"GET\r\n\r\n", bind=(HOST_A, p)) == b"ok\n"
    finally:
        echo.close()
        server.close()
    wanted = {("udp", p) for p in udp_ports} | {("tcp", p) for p in tcp_ports}

    def mine(event):
        return {(l["protocol"], int(l["inside"].split(":")[1])): l for l in lines(bed)
                if l["event"] == event and l["inside"].startswith(HOST_A + ":")
                and (l["protocol"], int(l["inside"].split(":")[1])) in wanted}

    assert wait_for(lambda: len(mine("create")) == len(wanted), 3), sorted(set(wanted) - set(mine("create")))
    for key, l in mine("create").items():
        assert l["outside"].startswith(GW_OUTSIDE + ":") and l["reason"] == "outbound", l
        assert l["time"].endswith("Z") and len(l["time"]) == 24, l   # 2026-12-08T02:20:01.123Z
    # UDP times out after 2 s, closed TCP after its 2 s transitory timeout (the tick's budget
    # reaches every slot within a few seconds).
    assert wait_for(lambda: len(mine("delete")) == len(wanted), 20), sorted(set(wanted) - set(mine("delete")))
    deletes = mine("delete")
    for p in udp_ports:
        assert deletes[("udp", p)]["reason"] == "timeout", deletes[("udp", p)]
        assert deletes[("udp", p)]["outside"] == mine("create")[("udp", p)]["outside"]
    for p in tcp_ports:
        assert deletes[("tcp", p)]["reason"] in ("fin", "rst"), deletes[("tcp", p)]


def test_a_flush_is_logged_and_counted(bed):
    echo = UdpEcho(bed.ns("b"), HOST_B, 7003)
    try:
        assert udp_exchange(bed.ns("a"), HOST_B, 7003, b"y", bind=(HOST_A, 33000))[0] == b"y"
    finally:
        echo.close()
    r = subprocess.run([forwarder_path(), "ctl", "--control", bed.sock, "sessions", "flush", "--inside",
                        f"{HOST_A}:33000", "--json"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and json.loads(r.stdout) == {"removed": 1}, r.stderr + r.stdout
    assert wait_for(lambda: any(l["event"] == "delete" and l["inside"] == f"{HOST_A}:33000" and l["reason"] == "flush"
                                for l in lines(bed)), 3), lines(bed)[-5:]
    res = bed.stop_forwarder()
    assert res.returncode == 0, res.stderr
    log = res.json["nat_log"]
    assert log["destination"] == bed.log and log["dropped"] == 0, log
    assert log["written"] == len(lines(bed)), (log, len(lines(bed)))
