"""The latency scenarios: sockperf UDP ping-pong from host A (inside) to host B (outside)
through the device, idle or under a background load of 64-byte frames at a fraction of the
forwarder's highest rate; per measurement the RTT percentiles, the device's CPU while idle and
during the ping-pong, and the RTT distribution (1001 quantiles, for the plots) in latency.jsonl.

Every process of the measurement but the device runs on CPU0 (sockperf's client and server,
trafgen); the forwarder on CPU1, as in the frame-rate scenarios."""
import json
import os
import signal
import statistics
import subprocess
import time

from testbed import SetupError, netns

PORT = "11111"        # above the sinks' drop range (destination ports below 5000)
QUANTILES = 1000       # the distribution kept: quantiles 0, 0.1 %, ..., 100 %


def quantile(sorted_values, q):
    """The q-quantile (0..1) of sorted values, nearest rank."""
    n = len(sorted_values)
    return sorted_values[min(n - 1, max(0, int(round(q * n + 0.5)) - 1))]


def parse_full_log(path):
    """RTTs in microseconds from sockperf's --full-log CSV (packet, txTime, rxTime, rtt)."""
    out = []
    for line in open(path):
        parts = line.split(",")
        if len(parts) == 4 and parts[0].strip().isdigit():
            try:
                out.append(float(parts[3]))
            except ValueError:
                pass
    return out


def figures(rtts_us):
    """The row's latency figures from RTTs in microseconds."""
    v = sorted(rtts_us)
    return {"lat_p50_us": quantile(v, 0.5), "lat_p99_us": quantile(v, 0.99), "lat_p999_us": quantile(v, 0.999),
            "lat_max_us": v[-1], "lat_samples": len(v)}, [quantile(v, i / QUANTILES) for i in range(QUANTILES + 1)]


def cpu_s(pids, proc_cpu):
    return sum(sum(proc_cpu(p)) for p in pids)


def measure(m, scenario, dev, start, Generators, proc_cpu):
    """One latency measurement by Measurer `m` (its testbed, binaries, window); the row."""
    t = 1 if m.quick else m.seconds
    dst = m.bed.host_addr("b")
    r = gens = srv = None
    log = os.path.join(m.tmp, "sockperf.csv")
    try:
        r = start(dev, m.bed, scenario, m.bins, m.tmp, t + 16)
        if not m.bed.ping_ok():
            raise SetupError("warm-up ping failed: no path through the device")
        srv = subprocess.Popen(["timeout", str(t + 12)] + netns(m.bed.host_ns("b"), "taskset", "-c", "0", "sockperf",
                               "server", "-i", dst, "-p", PORT), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        # Idle: nothing flows for a second (the ping above is over): the device's CPU then.
        time.sleep(0.3)
        c0, t0 = (cpu_s(r.pids, proc_cpu), time.time()) if r.pids else (0, time.time())
        time.sleep(1.0)
        idle = (cpu_s(r.pids, proc_cpu) - c0) / (time.time() - t0) if r.pids else None
        rate = m.load_rate(scenario) if scenario.load_frac else None
        if rate:
            gens = Generators(m.bed, scenario, m.tmp, t + 3, rate_pps=int(rate))
            time.sleep(0.5)
        if os.path.exists(log):
            os.unlink(log)
        c0, t0 = (cpu_s(r.pids, proc_cpu), time.time()) if r.pids else (0, time.time())
        p = subprocess.run(["timeout", str(t + 8)] + netns(m.bed.host_ns("a"), "taskset", "-c", "0", "sockperf", "ping-pong",
                           "-i", dst, "-p", PORT, "-m", str(scenario.size), "-t", str(t), "--full-rtt",
                           "--full-log", log), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        busy = (cpu_s(r.pids, proc_cpu) - c0) / (time.time() - t0) if r.pids else None
        if gens and not gens.alive():
            raise SetupError(f"trafgen exited during the ping-pong: {gens.why()}")
        rtts = parse_full_log(log) if os.path.exists(log) else []
        if not rtts:
            raise SetupError(f"sockperf measured nothing: {p.stdout.strip()[-300:]}")
        row, dist = figures(rtts)
        row.update(status="ok", window_s=t, idle_cpu_pct=None if idle is None else 100 * idle,
                   cpu_pct=None if busy is None else 100 * busy, load_kpps=(rate or 0) / 1e3)
        row["_distribution"] = dist
        return row
    finally:
        if gens:
            gens.stop()
        if srv:
            # Its own process group (start_new_session): `timeout` and the sockperf server it
            # runs; killing `timeout` alone would leave the server running.
            try:
                os.killpg(srv.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            srv.wait()
        if r:
            r.stop()


def save_distribution(folder, scenario, device, round_no, dist):
    with open(os.path.join(folder, "latency.jsonl"), "a") as out:
        out.write(json.dumps({"scenario": scenario, "device": device, "round": round_no,
                              "quantiles_us": [round(x, 2) for x in dist]}) + "\n")


def load_distributions(folder):
    path = os.path.join(folder, "latency.jsonl")
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]


# -- the report ---------------------------------------------------------------------------

def bridge_of(s):
    return "kernel-nat" if "-nat-" in s else "bridge"


def bars(st, med, f):
    """The issue's latency bars against this run: (text, passed or None)."""
    out = []

    def r(s, a, b, k):
        x, y = med(s, a, k), med(s, b, k)
        return None if x is None or not y else x / y

    for io in ("", "xdp-"):
        x = r("lat-l2-64-idle", f"fwd-{io}busy", "bridge", "lat_p50_us")
        out.append((f"L2 64 B idle: fwd-{io}busy p50 / bridge p50 = {f(x, 2)} (bar ≤ 1)", None if x is None else x <= 1))
        x = r("lat-l2-64-idle", f"fwd-{io}busy", "bridge", "lat_p99_us")
        out.append((f"L2 64 B idle: fwd-{io}busy p99 / bridge p99 = {f(x, 2)} (bar ≤ 1.5)", None if x is None else x <= 1.5))
        x = r("lat-l2-64-idle", f"fwd-{io}adaptive", "bridge", "lat_p50_us")
        idle = med("lat-l2-64-idle", f"fwd-{io}adaptive", "idle_cpu_pct")
        ok = None if x is None or idle is None else x <= 1.2 and idle < 5
        out.append((f"L2 64 B idle: fwd-{io}adaptive p50 / bridge p50 = {f(x, 2)} (bar ≤ 1.2), idle CPU "
                    f"{f(idle, 1)} % of a core (bar < 5)", ok))
        x = r("lat-nat-64-idle", f"fwd-{io}busy", "kernel-nat", "lat_p50_us")
        out.append((f"VLAN NAT 64 B idle: fwd-{io}busy p50 / kernel-nat p50 = {f(x, 2)} (bar ≤ 1)", None if x is None else x <= 1))
        x = r("lat-l2-64-load50", f"fwd-{io}busy", "bridge", "lat_p99_us")
        out.append((f"L2 64 B under load: fwd-{io}busy p99 / bridge p99 = {f(x, 2)} (bar ≤ 1)", None if x is None else x <= 1))
    return out


def table(st, s, med, cell):
    head = ["device", "p50 µs", "p99 µs", "p99.9 µs", "max µs", "CPU % during", "idle CPU %", "load kpps", "rounds",
            "p50 × " + bridge_of(s)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    ref = med(s, bridge_of(s), "lat_p50_us")
    for d in st.devices(s):
        rs = st.by[(s, d)]
        ok = [r for r in rs if r["status"] == "ok"]
        if not ok:
            notes.append(f"- {d}: {rs[0]['status']}: {rs[0]['reason']}")
            continue
        p50 = med(s, d, "lat_p50_us")
        cells = [d] + [cell(st, s, d, k, p) for k, p in (("lat_p50_us", 1), ("lat_p99_us", 1), ("lat_p999_us", 1),
                                                          ("lat_max_us", 0), ("cpu_pct", 1), ("idle_cpu_pct", 1),
                                                          ("load_kpps", 1))]
        cells += [str(len(ok)) + ("" if len(ok) == len(rs) else f" of {len(rs)}"),
                  "–" if p50 is None or not ref else f"{p50 / ref:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines, notes


COST_LOADS = [("idle", "lat-l2-64-idle"), ("10 %", "lat-l2-64-load10"), ("50 %", "lat-l2-64-load50"),
              ("90 %", "lat-l2-64-load90")]


def cost_table(st, med, f):
    """Per poll device: CPU % of a core (truly idle, then during the ping-pong at each load)
    next to the p50 / p99 at that load, L2 64 B."""
    present = [(label, s) for label, s in COST_LOADS if any(k[0] == s for k in st.by)]
    if not present:
        return []
    devices = [d for d in POLL_DEVICES if any((s, d) in st.by for _, s in present)]
    head = ["device", "CPU % idle"] + [f"{label}: CPU % / p50 / p99 µs" for label, _ in present]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in devices:
        cells = [d, f(med(present[0][1], d, "idle_cpu_pct"), 1)]
        for _, s in present:
            cells.append(f"{f(med(s, d, 'cpu_pct'), 0)} / {f(med(s, d, 'lat_p50_us'), 0)} / {f(med(s, d, 'lat_p99_us'), 0)}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


POLL_DEVICES = ["fwd-cache", "fwd-adaptive", "fwd-busy", "fwd-xdp-cache", "fwd-xdp-adaptive", "fwd-xdp-busy"]


def plots(st, folder, plt, save, med):
    """lat_cdf.png: per scenario the RTT distribution of each device (the rounds' quantiles
    pooled), log x; lat_cost.png: CPU against p50 per poll device across the loads."""
    dist = load_distributions(folder)
    scen = [s for s in st.scenarios() if s.startswith("lat-")]
    if dist and scen:
        cols = 2
        rows = (len(scen) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(13, 3.4 * rows), squeeze=False)
        for ax, s in zip(axes.flat, scen):
            for d in st.devices(s):
                qs = [x["quantiles_us"] for x in dist if x["scenario"] == s and x["device"] == d]
                if not qs:
                    continue
                pooled = sorted(v for q in qs for v in q)
                ys = [i / (len(pooled) - 1) for i in range(len(pooled))] if len(pooled) > 1 else [1]
                ax.plot(pooled, ys, label=d, lw=1.2, ls="--" if d in ("bridge", "kernel-nat") else "-")
            ax.set_xscale("log")
            ax.set_title(s, fontsize=9)
            ax.set_xlabel("RTT µs (sockperf ping-pong, full RTT)", fontsize=7)
            ax.set_ylabel("fraction ≤", fontsize=7)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        for ax in list(axes.flat)[len(scen):]:
            ax.axis("off")
        save(fig, "lat_cdf.png")
    present = [(label, s) for label, s in COST_LOADS if any(k[0] == s for k in st.by)]
    if len(present) >= 2:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for d in POLL_DEVICES:
            pts = [(med(s, d, "cpu_pct"), med(s, d, "lat_p50_us"), label) for label, s in present]
            pts = [p for p in pts if p[0] is not None and p[1] is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=d)
                for x, y, label in pts:
                    ax.annotate(label, (x, y), fontsize=6)
        ax.set_xlabel("forwarder CPU, % of a core")
        ax.set_ylabel("p50 RTT µs")
        ax.set_yscale("log")
        ax.set_title("What each poll mode costs: L2 64 B, idle and 10/50/90 % of the highest rate")
        ax.legend(fontsize=7)
        save(fig, "lat_cost.png")
