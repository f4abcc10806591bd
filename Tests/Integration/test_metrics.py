"""--metrics-file and SIGUSR1.

The metrics file is read with the reference parser (prometheus_client's
text_string_to_metric_families): while the forwarder runs it is rewritten every interval and is
never seen half-written (it is replaced by a rename); after the stop it holds the same counters
as the JSON summary. SIGUSR1 prints the summary so far (stopped_by "running") and the forwarder
keeps forwarding.
"""

import json
import os
import signal
import tempfile
import threading
import time

import pytest

from harness import Forwarder, run
from netns_io import Capture, Markers, build_frame, send_frames

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # a failure, never a skip
    text_string_to_metric_families = None


def parse(text):
    """{(sample name, frozenset of labels): value} and {family name: type}."""
    assert text_string_to_metric_families is not None, \
        "prometheus_client missing: apt-get install -y python3-prometheus-client (scripts/install-deps.sh)"
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        assert fam.name not in types, f"metric family {fam.name} appears twice"
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in samples, f"sample {key} appears twice"
            samples[key] = s.value
    return samples, types


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels} in the metrics file; have " \
        f"{sorted(k for k in samples if k[0] == name)}"
    return samples[key]


def _frames(tb, markers, n, sizes=(60, 200, 1000, 1514)):
    _, _, src = tb.host("a")
    _, _, dst = tb.host("b")
    return {m: build_frame(dst, src, sizes[i % len(sizes)], m)
            for i, m in ((i, markers.next()) for i in range(n))}


def check_against_summary(samples, types, j, tb):
    """Every counter the metrics file and the JSON summary share is equal."""
    for name in ("forwarder_rx_frames", "forwarder_tx_bytes", "forwarder_drops", "forwarder_pcap_received"):
        assert types.get(name) == "counter", (name, types.get(name))
    for name in ("forwarder_up", "forwarder_pool_heads", "forwarder_elapsed_seconds"):
        if name == "forwarder_pool_heads" and j["cache"] is None:
            continue
        assert types.get(name) == "gauge", (name, types.get(name))
    assert value(samples, "forwarder_up") == 0, "the file written after the stop says up 0"
    assert abs(value(samples, "forwarder_elapsed_seconds") - j["elapsed_s"]) < 1e-5
    for d in j["directions"]:
        label = d["name"].replace("->", "_")
        assert value(samples, "forwarder_rx_frames_total", direction=label, interface=d["from"]) == d["rx_frames"]
        assert value(samples, "forwarder_rx_bytes_total", direction=label, interface=d["from"]) == d["rx_bytes"]
        assert value(samples, "forwarder_tx_frames_total", direction=label, interface=d["to"]) == d["tx_frames"]
        assert value(samples, "forwarder_tx_bytes_total", direction=label, interface=d["to"]) == d["tx_bytes"]
        for reason, n in d["drops_by_reason"].items():
            assert value(samples, "forwarder_drops_total", direction=label, reason=reason) == n, (d, reason)
    for ifname, c in j["pcap"].items():
        assert value(samples, "forwarder_pcap_received_total", interface=ifname) == c["received"]
        assert value(samples, "forwarder_pcap_dropped_total", interface=ifname) == c["dropped"]
        assert value(samples, "forwarder_pcap_if_dropped_total", interface=ifname) == c["if_dropped"]
    if j["xdp"] is None:
        assert not any(name.startswith("forwarder_xdp_") for name, _ in samples), sorted(samples)
    else:
        for ifname, c in j["xdp"]["interfaces"].items():
            for key, n in c.items():
                if key != "mode":
                    assert value(samples, f"forwarder_xdp_{key}_total", interface=ifname) == n, (ifname, key)
    a = j["allocator"]
    assert value(samples, "forwarder_allocator_gets_total") == a["gets"]
    assert value(samples, "forwarder_allocator_puts_total") == a["puts"]
    assert value(samples, "forwarder_allocator_failures_total") == a["failures"]
    c = j["cache"]
    if c is None:
        assert not any(k[0].startswith("forwarder_cache_") for k in samples)
    else:
        for key in ("gets", "hits", "puts", "refills", "refill_heads", "refill_failures", "flushes",
                    "flush_heads", "remote_frees", "remote_returns"):
            assert value(samples, f"forwarder_cache_{key}_total") == c[key], key
        assert value(samples, "forwarder_pool_heads") == c["pool_heads"]
        assert value(samples, "forwarder_pool_slabs") == c["pool_slabs"]
        assert value(samples, "forwarder_pool_high_water") == c["pool_high_water"]
        assert value(samples, "forwarder_pool_heads_in_use") == 0
        assert value(samples, "forwarder_cache_in_use") == c["in_use"]
    n = j.get("nat")
    if n is not None:
        for proto in ("tcp", "udp", "icmp"):
            assert value(samples, "forwarder_nat_sessions_active", protocol=proto) == n[proto]["active"]
            assert value(samples, "forwarder_nat_sessions_created_total", protocol=proto) == n[proto]["created"]
        assert value(samples, "forwarder_nat_translated_total", direction="in_out") == n["translated_out"]
        assert value(samples, "forwarder_nat_translated_total", direction="out_in") == n["translated_in"]
        for reason, k in n["drops"].items():
            assert value(samples, "forwarder_nat_drops_total", reason=reason) == k, reason
        for key in ("received", "requests_answered", "requests_sent", "replies_received", "held", "released"):
            assert value(samples, f"forwarder_nat_arp_{key}_total") == n["arp"][key], key


class Watcher:
    """Reads the metrics file as fast as it can on a thread: every read must parse completely
    (the last family present), and the contents must change while the forwarder runs."""

    def __init__(self, path):
        self.path = path
        self.reads = 0
        self.versions = []      # (mtime_ns, forwarder_elapsed_seconds) each time it changed
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        last = None
        while not self._stop.is_set():
            try:
                with open(self.path) as f:
                    st = os.fstat(f.fileno())
                    text = f.read()
            except FileNotFoundError:
                self.errors.append("the metrics file was missing while the forwarder ran")
                time.sleep(0.01)
                continue
            self.reads += 1
            if text == last:
                continue
            last = text
            try:
                samples, _ = parse(text)
                assert text.endswith("\n"), "no final newline"
                assert ("forwarder_allocator_failures_total", frozenset()) in samples, "families missing"
                self.versions.append((st.st_mtime_ns, value(samples, "forwarder_elapsed_seconds"),
                                      value(samples, "forwarder_up")))
            except Exception as e:  # noqa: BLE001 -- reported by the test
                self.errors.append(f"{type(e).__name__}: {e}\n--- file ---\n{text[-2000:]}")

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.mark.parametrize("alloc", ["cache", "plain"])
def test_metrics_file_equals_json_summary(testbed, forwarder, alloc):
    tb = testbed
    markers = Markers()
    good = _frames(tb, markers, 300)
    _, _, src = tb.host("a")
    _, _, dst = tb.host("b")
    big = [build_frame(dst, src, 1800, markers.next()) for _ in range(7)]   # oversize for OUT
    tmp = tempfile.mkdtemp(prefix="fwd-metrics-")
    path = os.path.join(tmp, "forwarder.prom")
    run(["ip", "netns", "exec", tb.ns_a, "ip", "link", "set", tb.a0, "mtu", "2000"])
    run(["ip", "link", "set", tb.in_if, "mtu", "2000"])
    cap = Capture(tb.ns_b, tb.b0).start()
    watcher = None
    try:
        fw = forwarder(tb.in_if, tb.out_if, "--json", "--alloc", alloc, "--metrics-file", path,
                       "--metrics-interval", "0.2")
        assert os.path.exists(path), "the metrics file is written at the start"
        watcher = Watcher(path).start()
        frames = list(good.values())
        send_frames(tb.ns_a, tb.a0, frames[:150] + big)
        time.sleep(0.5)
        send_frames(tb.ns_a, tb.a0, frames[150:])
        cap.wait_for(markers.ours, len(good), timeout=5)
        time.sleep(0.6)
        watcher.stop()
        res = fw.stop()
    finally:
        if watcher:
            watcher.stop()
        cap.stop()
        run(["ip", "link", "set", tb.in_if, "mtu", "1500"])
        run(["ip", "netns", "exec", tb.ns_a, "ip", "link", "set", tb.a0, "mtu", "1500"])
    assert res.returncode == 0, res.stderr
    assert not watcher.errors, f"{len(watcher.errors)} bad reads of {watcher.reads}:\n" + watcher.errors[0]
    assert watcher.reads >= 20, watcher.reads
    assert len(watcher.versions) >= 4, f"the file changed only {len(watcher.versions)} times in ~1.5 s " \
        f"with --metrics-interval 0.2: {watcher.versions}"
    elapsed = [v[1] for v in watcher.versions]
    assert elapsed == sorted(elapsed) and len(set(elapsed)) == len(elapsed), watcher.versions
    assert all(v[2] == 1 for v in watcher.versions), "forwarder_up is 1 while running"
    assert len({v[0] for v in watcher.versions}) >= 2, "the mtime changes between writes"

    with open(path) as f:
        samples, types = parse(f.read())
    j = res.json
    assert j["directions"][0]["drops_by_reason"]["oversize"] == len(big), j["directions"][0]
    assert j["directions"][0]["tx_frames"] >= len(good)
    check_against_summary(samples, types, j, tb)
    assert value(samples, "forwarder_info", version=j["version"], mode="l2", alloc=alloc,
                 **{"in": tb.in_if, "out": tb.out_if}) == 1
    leftovers = [n for n in os.listdir(tmp) if n != "forwarder.prom"]
    assert not leftovers, f"temporary files left beside the metrics file: {leftovers}"


def test_metrics_file_unwritable_is_an_error(testbed):
    from harness import run_forwarder_once
    res = run_forwarder_once([testbed.in_if, testbed.out_if, "--metrics-file", "/nonexistent-dir/x.prom",
                              "--duration", "1"])
    assert res.returncode == 1, (res.returncode, res.stderr)
    assert "--metrics-file" in res.stderr and "/nonexistent-dir" in res.stderr, res.stderr


def _count_at_b(cap, markers, n, timeout=5):
    return len(cap.wait_for(markers.ours, n, timeout=timeout))


def test_sigusr1_prints_text_summary_and_keeps_forwarding(testbed, forwarder):
    tb = testbed
    markers = Markers()
    first = _frames(tb, markers, 40)
    cap = Capture(tb.ns_b, tb.b0).start()
    try:
        fw = forwarder(tb.in_if, tb.out_if)
        send_frames(tb.ns_a, tb.a0, list(first.values()))
        assert _count_at_b(cap, markers, len(first)) == len(first)
        time.sleep(0.2)
        fw.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 3
        while "running for" not in fw.stderr_so_far() and time.monotonic() < deadline:
            time.sleep(0.05)
        snapshot = fw.stderr_so_far()
        assert "running for" in snapshot, f"no snapshot on stderr after SIGUSR1:\n{snapshot}"
        assert fw.running(), "SIGUSR1 stopped the forwarder"
        assert "in->out" in snapshot and "out->in" in snapshot, snapshot
        second = _frames(tb, markers, 40)
        send_frames(tb.ns_a, tb.a0, list(second.values()))
        assert _count_at_b(cap, markers, len(first) + len(second)) == len(first) + len(second), \
            "frames sent after SIGUSR1 were not forwarded"
        res = fw.stop()
    finally:
        cap.stop()
    assert res.returncode == 0, res.stderr
    assert "SIGTERM" in res.stderr, res.stderr
    assert res.stderr.count("in->out") >= 2, "a snapshot and a final summary"


def test_sigusr1_prints_json_snapshot(testbed):
    """With --json each SIGUSR1 prints one JSON object line on stdout (stopped_by 'running'),
    then the final summary comes as the last line."""
    tb = testbed
    markers = Markers()
    frames = _frames(tb, markers, 30)
    fw = Forwarder([tb.in_if, tb.out_if, "--json"])
    cap = Capture(tb.ns_b, tb.b0).start()
    try:
        fw.start()
        send_frames(tb.ns_a, tb.a0, list(frames.values()))
        assert _count_at_b(cap, markers, len(frames)) == len(frames)
        time.sleep(0.2)
        lines = []
        for _ in range(2):
            fw.proc.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                fw._out.seek(0)
                lines = [l for l in fw._out.read().splitlines() if l.strip()]
                if len(lines) >= (1 if _ == 0 else 2):
                    break
                time.sleep(0.05)
        assert fw.running(), "SIGUSR1 stopped the forwarder"
        assert len(lines) == 2, f"expected two snapshot lines on stdout: {lines}"
        fw.proc.send_signal(signal.SIGTERM)
        fw.proc.wait(timeout=10)
        fw._out.seek(0)
        out = fw._out.read()
    finally:
        cap.stop()
        fw.kill()
    assert fw.proc.returncode == 0
    objs = [json.loads(l) for l in out.splitlines() if l.strip()]
    assert len(objs) == 3, out
    for snap in objs[:2]:
        assert snap["stopped_by"] == "running", snap["stopped_by"]
        assert snap["error"] is None
        assert snap["directions"][0]["tx_frames"] >= len(frames), snap["directions"]
    assert objs[2]["stopped_by"] == "SIGTERM"
    assert objs[2]["directions"][0]["tx_frames"] >= objs[1]["directions"][0]["tx_frames"]
    assert set(objs[0]) == set(objs[2]), "a snapshot has the summary's keys"
