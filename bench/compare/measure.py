"""One measurement: a device on a scenario for one round, as a row of figures."""
import json
import os
import statistics
import subprocess
import time

import devices as D
import latency
from scenarios import Scenario, trafgen_config
from testbed import CpuCap, SetupError, netns, run


class Generators:
    """trafgen on CPU0 in the host namespaces, bounded in count and time."""

    def __init__(self, bed, scenario, tmp, seconds, rate_pps=None):
        self.procs = []
        sides = ["a", "b"] if scenario.direction == "both" and scenario.traffic == "pps" else ["a"]
        per = (seconds + 4) * 3_000_000
        for side in sides:
            cfg = os.path.join(tmp, f"gen-{side}.cfg")
            open(cfg, "w").write(trafgen_config(bed, side, scenario.size, scenario.flows))
            cmd = ["timeout", "--kill-after=2", str(seconds + 4)] + netns(bed.host_ns(side), "taskset", "-c", "0", "trafgen",
                  "--dev", bed.host_dev(side), "--conf", cfg, "--cpus", "1", "-n", str(per), "--no-cpu-stats",
                  "--notouch-irq")
            if rate_pps:
                cmd += ["-b", f"{rate_pps}pps"]
            log = open(os.path.join(tmp, f"gen-{side}.log"), "w")
            self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True))
        self.tmp = tmp

    def alive(self):
        return all(p.poll() is None for p in self.procs)

    def why(self):
        return " ".join(open(os.path.join(self.tmp, f"gen-{s}.log")).read().strip()[-300:] for s in "ab"
                        if os.path.exists(os.path.join(self.tmp, f"gen-{s}.log")))

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def cpu_of(r):
    u = s = 0.0
    for pid in r.pids:
        a, b = D.proc_cpu(pid)
        u += a
        s += b
    return u, s


def rss_of(r):
    v = [D.peak_rss_kib(pid) for pid in r.pids]
    v = [x for x in v if x]
    return max(v) if v else None


def forwarder_figures(path):
    """Ring drops, forwarder drops, cache hit rate and refills per Mframe from --json."""
    out = {}
    try:
        j = json.load(open(path))
    except (OSError, ValueError):
        return out
    out["ring_drops"] = sum(p.get("dropped", 0) + p.get("if_dropped", 0) for p in (j.get("pcap") or {}).values())
    drops = sum(d.get("drops", 0) for d in j.get("directions", []))
    out["fwd_drops"] = drops
    rx = sum(d.get("rx_frames", 0) for d in j.get("directions", []))
    c = j.get("cache")
    if c:
        out["cache_hit_rate"] = c.get("hit_rate")
        if rx:
            out["refills_per_mframe"] = c.get("refills", 0) / (rx / 1e6)
    if j.get("nat"):
        out["nat_sessions"] = j["nat"].get("sessions_active")
    return out


# The highest 64 B rate of fwd-cache (frames/s) per topology kind, probed once per run by the
# first latency scenario under load that needs it.
_HIGHEST_RATE = {}


class Measurer:
    def __init__(self, bed, bins, tmp, seconds, quick):
        self.bed, self.bins, self.tmp, self.seconds, self.quick = bed, bins, tmp, seconds, quick

    def one(self, scenario, device, round_no):
        dev = D.BY_NAME[device]
        why = dev.missing()
        if why:
            return {"status": "skipped", "reason": why}
        if scenario.traffic == "pipeline":
            return self.pipeline(scenario, dev)
        kind = scenario.kind_for(device)
        if self.bed.real and kind != "l2":
            return {"status": "skipped", "reason": "needs the built-in testbed (on --in/--out only L2 scenarios run)"}
        if kind not in dev.kinds and not (self.bed.real and "real" in dev.kinds):
            return {"status": "skipped", "reason": dev.kinds_why}
        self.bed.use(kind)
        return getattr(self, scenario.traffic if scenario.traffic != "udp" else "tcp")(scenario, dev)

    # -- frames per second ----------------------------------------------------------------
    def pps(self, scenario, dev):
        w = self.seconds
        cap = CpuCap(f"fwdcmp{os.getpid()}", scenario.cap) if scenario.cap else None
        r = gens = None
        try:
            r = D.start(dev, self.bed, scenario, self.bins, self.tmp, w + 8, cap)
            if self.bed.kind != "l2" and self.bed.kind != "real" and not self.bed.ping_ok():
                raise SetupError("warm-up ping failed: no path through the device")
            gens = Generators(self.bed, scenario, self.tmp, w)
            time.sleep(1)
            if not gens.alive():
                raise SetupError(f"trafgen exited early: {gens.why()}")
            c0, t0 = self.bed.counters(), time.time()
            u0, s0 = cpu_of(r) if r.pids else (0, 0)
            time.sleep(w)
            c1, t1 = self.bed.counters(), time.time()
            u1, s1 = cpu_of(r) if r.pids else (0, 0)
            if not gens.alive():
                raise SetupError(f"trafgen exited during the window: {gens.why()}")
            if r.procs and not r.alive():
                raise SetupError(f"the device died during the window: {open(r.log_path).read()[-300:]}")
            rss = rss_of(r) if r.pids else None
            gens.stop()
            gens = None
            r.stop()
            dt = t1 - t0
            both = scenario.direction == "both"
            delivered = (c1["host_b_rx"] - c0["host_b_rx"]) + ((c1["host_a_rx"] - c0["host_a_rx"]) if both else 0)
            dbytes = (c1["host_b_bytes"] - c0["host_b_bytes"]) + ((c1["host_a_bytes"] - c0["host_a_bytes"]) if both else 0)
            offered = (c1["in_rx"] - c0["in_rx"]) + ((c1["out_rx"] - c0["out_rx"]) if both else 0)
            row = {"status": "ok", "window_s": round(dt, 3), "delivered_kpps": delivered / dt / 1e3,
                   "delivered_mbps": dbytes * 8 / dt / 1e6, "offered_kpps": offered / dt / 1e3,
                   "loss_pct": 100.0 * (1 - delivered / offered) if offered else None, "peak_rss_kib": rss}
            if r.pids and delivered:
                mf = delivered / 1e6
                row.update(cpu_user_s_per_mframe=(u1 - u0) / mf, cpu_sys_s_per_mframe=(s1 - s0) / mf,
                           cpu_s_per_mframe=((u1 - u0) + (s1 - s0)) / mf, dut_busy_pct=100 * ((u1 - u0) + (s1 - s0)) / dt)
            if r.json_path:
                row.update(forwarder_figures(r.json_path))
            return row
        finally:
            if gens:
                gens.stop()
            if r:
                r.stop()
            if cap:
                cap.remove()

    # -- iperf3 ---------------------------------------------------------------------------
    def tcp(self, scenario, dev):
        t = 1 if self.quick else 3
        udp = scenario.traffic == "udp"
        dst = self.bed.host_addr("b")
        r = srv = None
        try:
            r = D.start(dev, self.bed, scenario, self.bins, self.tmp, t + 12)
            if not self.bed.ping_ok():
                raise SetupError("warm-up ping failed: no path through the device")
            srv = subprocess.Popen(["timeout", str(t + 10)] + netns(self.bed.host_ns("b"), "taskset", "-c", "0", "iperf3",
                                   "-s", "-1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            for _ in range(30):   # until the server listens (up to 3 s)
                ss = run(netns(self.bed.host_ns("b"), "ss", "-ltnH", "sport = :5201"), check=False).stdout
                if ss.strip():
                    break
                time.sleep(0.1)
            c0 = self.bed.counters()
            u0, s0 = cpu_of(r) if r.pids else (0, 0)
            cmd = netns(self.bed.host_ns("a"), "taskset", "-c", "0", "iperf3", "-c", dst, "-t", str(t), "-J")
            if udp:
                cmd += ["-u", "-b", "0", "-l", "1400"]
            p = subprocess.run(["timeout", str(t + 8)] + cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            c1 = self.bed.counters()
            u1, s1 = cpu_of(r) if r.pids else (0, 0)
            rss = rss_of(r) if r.pids else None
            try:
                j = json.loads(p.stdout)
            except ValueError:
                raise SetupError(f"iperf3 failed: {p.stderr.strip()[-300:]}")
            if "error" in j:
                raise SetupError(f"iperf3: {j['error']}")
            end = j["end"]
            if udp:
                s = end.get("sum_received") or end["sum"]
                mbps = s["bits_per_second"] / 1e6
                if "sum_received" not in end:
                    mbps *= 1 - s.get("lost_percent", 0) / 100
                loss = s.get("lost_percent")
            else:
                mbps = end["sum_received"]["bits_per_second"] / 1e6
                loss = None
            frames = sum(c1[k] - c0[k] for k in ("host_a_rx", "host_b_rx"))
            row = {"status": "ok", "mbps": mbps, "loss_pct": loss, "peak_rss_kib": rss, "window_s": t}
            if r.pids and frames:
                mf = frames / 1e6
                row.update(cpu_user_s_per_mframe=(u1 - u0) / mf, cpu_sys_s_per_mframe=(s1 - s0) / mf,
                           cpu_s_per_mframe=((u1 - u0) + (s1 - s0)) / mf)
            r.stop()
            if r.json_path:
                row.update(forwarder_figures(r.json_path))
            return row
        finally:
            if srv and srv.poll() is None:
                srv.kill()
                srv.wait()
            if r:
                r.stop()

    # -- ping -----------------------------------------------------------------------------
    def ping(self, scenario, dev):
        count = 20 if self.quick else 200
        dst = self.bed.host_addr("b")
        r = gens = None
        try:
            r = D.start(dev, self.bed, scenario, self.bins, self.tmp, count // 100 + 14)
            if not self.bed.ping_ok():
                raise SetupError("warm-up ping failed: no path through the device")
            if scenario.load_pps:
                gens = Generators(self.bed, scenario, self.tmp, count // 100 + 6, rate_pps=scenario.load_pps)
                time.sleep(0.5)
            p = subprocess.run(["timeout", str(count // 50 + 8)] + netns(self.bed.host_ns("a"), "ping", "-n", "-c", str(count),
                               "-i", "0.01", "-W", "1", dst), stdout=subprocess.PIPE, text=True)
            first = {}        # icmp_seq -> RTT of its first answer (a duplicate is a device's loop)
            dups = 0
            for l in p.stdout.splitlines():
                if "time=" in l and "icmp_seq=" in l:
                    seq = int(l.split("icmp_seq=")[1].split()[0])
                    if seq in first:
                        dups += 1
                    else:
                        first[seq] = float(l.split("time=")[1].split()[0])
            rtts = sorted(first.values())
            if not rtts:
                raise SetupError("no ping answered")
            if dups:
                raise SetupError(f"{dups} duplicate answers: the device loops frames")
            if gens and not gens.alive():
                raise SetupError(f"trafgen exited during the pings: {gens.why()}")
            p99 = rtts[min(len(rtts) - 1, max(0, int(round(0.99 * len(rtts) + 0.5)) - 1))]
            return {"status": "ok", "rtt_median_ms": statistics.median(rtts), "rtt_p99_ms": p99,
                    "loss_pct": 100.0 * (1 - len(rtts) / count), "peak_rss_kib": rss_of(r) if r.pids else None}
        finally:
            if gens:
                gens.stop()
            if r:
                r.stop()

    # -- latency (sockperf) -------------------------------------------------------------------
    def latency(self, scenario, dev):
        return latency.measure(self, scenario, dev, D.start, Generators, D.proc_cpu)

    def load_rate(self, scenario):
        """The background load of `scenario`: its fraction of fwd-cache's highest 64 B rate on
        the scenario's topology (one way, 1 flow), measured the first time it is asked for."""
        kind = scenario.kind
        if kind not in _HIGHEST_RATE:
            was = self.bed.kind
            self.bed.use(kind)
            row = self.pps(Scenario(f"rate-probe-{kind}", "", "pps", kind=kind), D.BY_NAME["fwd-cache"])
            _HIGHEST_RATE[kind] = row["delivered_kpps"] * 1e3
            print(f" [highest 64 B rate of fwd-cache on {kind}: {row['delivered_kpps']:.1f} kpps]", end="", flush=True,
                  file=__import__("sys").stderr)
            self.bed.use(was)
        return _HIGHEST_RATE[kind] * scenario.load_frac

    # -- the in-memory pipeline -------------------------------------------------------------
    def pipeline(self, scenario, dev):
        """forwarder-bench pipeline, one process per malloc: the cache rows come from the glibc
        process (the cache does not call malloc per frame), each plain row from its own."""
        env = dict(os.environ)
        if dev.malloc:
            env["LD_PRELOAD"] = D.MALLOCS[dev.malloc]
        frames = "20000" if self.quick else "400000"
        p = subprocess.run(["taskset", "-c", "1", self.bins["forwarder-bench"], "pipeline", "--json", "--rounds", "1",
                            "--frames", frames, "--mode", scenario.pipeline_mode, "--sizes", "64", "--flows", "10000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, timeout=300)
        if p.returncode != 0:
            raise SetupError(f"forwarder-bench pipeline: exit {p.returncode}: {p.stderr.strip()[-300:]}")
        want_alloc = dev.alloc
        want_preset = dev.preset or ("kernel-2021" if dev.alloc == "cache" else None)
        for line in p.stdout.splitlines():
            j = json.loads(line)
            if j["allocator"] == want_alloc and j.get("preset") == want_preset:
                return {"status": "ok", "ns_per_frame": j["ns_per_frame_median"],
                        "delivered_kpps": j["mframes_per_s"] * 1e3,
                        "refills_per_mframe": (j["pool_refills_per_kframe"] * 1e3
                                               if j.get("pool_refills_per_kframe") is not None else None)}
        raise SetupError("forwarder-bench printed no row for this allocator")
