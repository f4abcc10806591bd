"""The comparison's results folder: rounds.csv (every round, written as the run goes), run.json
(machine and plan), summary.md (medians, min-max, ratios to `forwarder --alloc cache`, the
issue's bars checked), summary.csv (the medians) and the PNG plots."""
import csv
import json
import math
import os
import statistics

from scenarios import ALLOCATORS, BY_NAME as SCEN, MALLOC_OF, PLAINS
from devices import BY_NAME as DEVS
import latency

REF = "fwd-cache"


def write_meta(folder, meta, work):
    meta = dict(meta)
    meta["plan"] = [{"scenario": s.name, "devices": ds, "rounds": r} for s, ds, r in work]
    json.dump(meta, open(os.path.join(folder, "run.json"), "w"), indent=1)


def load(folder):
    rows = list(csv.DictReader(open(os.path.join(folder, "rounds.csv"))))
    for r in rows:
        for k, v in list(r.items()):
            if k in ("scenario", "device", "status", "reason", "finished_at"):
                continue
            try:
                r[k] = float(v) if v not in ("", None) else None
            except ValueError:
                r[k] = None
    meta = json.load(open(os.path.join(folder, "run.json")))
    return rows, meta


class Stats:
    """Per (scenario, device): the values of each figure over the rounds that ran."""

    def __init__(self, rows):
        self.rows = rows
        self.order = []
        self.by = {}
        for r in rows:
            key = (r["scenario"], r["device"])
            if key not in self.by:
                self.by[key] = []
                self.order.append(key)
            self.by[key].append(r)

    def values(self, s, d, k):
        return [r[k] for r in self.by.get((s, d), []) if r["status"] == "ok" and r.get(k) is not None
                and not math.isnan(r[k])]

    def med(self, s, d, k):
        v = self.values(s, d, k)
        return statistics.median(v) if v else None

    def span(self, s, d, k):
        v = self.values(s, d, k)
        return (min(v), max(v)) if v else (None, None)

    def devices(self, s):
        return [d for (ss, d) in self.order if ss == s]

    def scenarios(self):
        seen = []
        for s, _ in self.order:
            if s not in seen:
                seen.append(s)
        return seen

    def paired(self, s, a, b, k):
        """Per round: a's figure minus b's (rounds where both ran)."""
        ra = {r["round"]: r[k] for r in self.by.get((s, a), []) if r["status"] == "ok" and r.get(k) is not None}
        rb = {r["round"]: r[k] for r in self.by.get((s, b), []) if r["status"] == "ok" and r.get(k) is not None}
        return [ra[n] - rb[n] for n in sorted(ra) if n in rb]


def f(x, p=1):
    return "–" if x is None else f"{x:,.{p}f}"


def cell(st, s, d, k, p=1, scale=1.0):
    m = st.med(s, d, k)
    if m is None:
        return "–"
    lo, hi = st.span(s, d, k)
    if len(st.values(s, d, k)) == 1:
        return f(m * scale, p)
    return f"{f(m * scale, p)} ({f(lo * scale, p)}–{f(hi * scale, p)})"


def ratio(st, s, d, k):
    a, b = st.med(s, d, k), st.med(s, REF, k)
    return "–" if a is None or not b else f"{a / b:.2f}"


COLUMNS = {
    "pps": [("delivered kpps", "delivered_kpps", 1, 1), ("Mbit/s", "delivered_mbps", 0, 1), ("offered kpps", "offered_kpps", 1, 1),
            ("loss %", "loss_pct", 1, 1), ("CPU s/Mframe", "cpu_s_per_mframe", 3, 1),
            ("user / sys", None, 0, 1), ("peak RSS MiB", "peak_rss_kib", 1, 1 / 1024), ("ring drops", "ring_drops", 0, 1),
            ("hit rate %", "cache_hit_rate", 2, 100), ("refills /Mframe", "refills_per_mframe", 0, 1)],
    "tcp": [("Mbit/s", "mbps", 0, 1), ("CPU s/Mframe", "cpu_s_per_mframe", 3, 1), ("peak RSS MiB", "peak_rss_kib", 1, 1 / 1024)],
    "udp": [("Mbit/s received", "mbps", 0, 1), ("loss %", "loss_pct", 2, 1), ("CPU s/Mframe", "cpu_s_per_mframe", 3, 1)],
    "ping": [("RTT median ms", "rtt_median_ms", 3, 1), ("RTT p99 ms", "rtt_p99_ms", 3, 1), ("loss %", "loss_pct", 1, 1)],
    "pipeline": [("ns/frame", "ns_per_frame", 1, 1), ("Mframes/s", "delivered_kpps", 2, 1e-3),
                 ("refills /Mframe", "refills_per_mframe", 0, 1)],
}
KEY = {"pps": "delivered_kpps", "tcp": "mbps", "udp": "mbps", "ping": "rtt_median_ms", "pipeline": "ns_per_frame"}


def table(st, s):
    sc = SCEN.get(s)
    traffic = sc.traffic if sc else "pps"
    cols = COLUMNS[traffic]
    head = ["device"] + [c[0] for c in cols] + ["rounds", f"{KEY[traffic].split('_')[0]} × cache"]
    if traffic in ("pps", "tcp", "udp"):
        head.append("CPU × cache")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for d in st.devices(s):
        rs = st.by[(s, d)]
        ok = [r for r in rs if r["status"] == "ok"]
        if not ok:
            notes.append(f"- {d}: {rs[0]['status']}: {rs[0]['reason']}")
            continue
        cells = [d]
        for label, k, p, scale in cols:
            if k is None:
                u, y = st.med(s, d, "cpu_user_s_per_mframe"), st.med(s, d, "cpu_sys_s_per_mframe")
                cells.append("–" if u is None else f"{u:.3f} / {y:.3f}")
            else:
                cells.append(cell(st, s, d, k, p, scale))
        cells.append(str(len(ok)) + ("" if len(ok) == len(rs) else f" of {len(rs)}"))
        cells.append(ratio(st, s, d, KEY[traffic]))
        if traffic in ("pps", "tcp", "udp"):
            cells.append(ratio(st, s, d, "cpu_s_per_mframe"))
        lines.append("| " + " | ".join(cells) + " |")
        bad = [r for r in rs if r["status"] != "ok"]
        if bad:
            notes.append(f"- {d}: {len(bad)} round(s) {bad[0]['status']}: {bad[0]['reason']}")
    return lines, notes


def bars(st):
    """The issue's bars, checked against this run: (text, passed or None when not measured)."""
    out = []

    def r(s, a, b, k):
        x, y = st.med(s, a, k), st.med(s, b, k)
        return None if x is None or not y else x / y

    x = r("l2-64-oneway", REF, "cfwd-sendmmsg", "delivered_kpps")
    out.append((f"L2 64 B one way: fwd-cache / cfwd-sendmmsg pps = {f(x, 2)} (bar ≥ 1.1)", None if x is None else x >= 1.1))
    x = r("l2-64-oneway", REF, "tcpbridge", "delivered_kpps")
    out.append((f"L2 64 B one way: fwd-cache / tcpbridge pps = {f(x, 2)} (bar ≥ 3.5)", None if x is None else x >= 3.5))
    x = r("nat-64-f10000", REF, "kernel-nat", "delivered_kpps")
    out.append((f"VLAN NAT 64 B, 10,000 flows: fwd-cache / kernel-nat pps = {f(x, 2)} (bar ≥ 1.5)",
                None if x is None else x >= 1.5))
    def below_plain(key):
        """(scenarios with both, those where the cache is not below plain on glibc)"""
        both, worse = 0, []
        for s in st.scenarios():
            c, p = st.med(s, REF, key), st.med(s, "fwd-plain", key)
            if c is not None and p is not None:
                both += 1
                if not c < p:
                    worse.append(f"{s} ({c:.3f} vs {p:.3f})")
        return both, (f"{both - len(worse)} of {both} scenarios" + (f"; not in {', '.join(worse)}" if worse else "")), worse

    n, text, worse = below_plain("cpu_s_per_mframe")
    out.append((f"CPU s/Mframe, cache below plain on glibc: {text}", None if n == 0 else not worse))
    # The allocator's own share shows in user time; system time (the kernel's AF_PACKET path,
    # ~90 % of the total) moves with the offered rate from round to round.
    n, text, _ = below_plain("cpu_user_s_per_mframe")
    if n:
        out.append((f"user CPU s/Mframe (the process's own code, the allocator's share), cache below plain on glibc: {text}",
                    None))
    for m in PLAINS[1:]:
        parts = []
        for s in st.scenarios():
            x = r(s, m, REF, "cpu_s_per_mframe")
            if x is not None:
                lo, hi = st.span(s, m, "cpu_s_per_mframe")
                parts.append(f"{s} {x:.2f} ({lo:.3f}–{hi:.3f} s)")
        if parts:
            out.append((f"{m} CPU per frame × cache: " + "; ".join(parts), None))
    for s in ("slow-router-l2", "slow-router-nat"):
        x = r(s, REF, "fwd-plain", "delivered_kpps")
        if x is not None:
            n = len(st.values(s, REF, "delivered_kpps"))
            d = st.paired(s, REF, "fwd-plain", "delivered_kpps")
            ahead = sum(1 for v in d if v > 0)
            out.append((f"{s}: cache / plain pps = {x:.3f} over {n} rounds (cache ahead in {ahead} of {len(d)}; "
                        f"cache {cell(st, s, REF, 'delivered_kpps')} kpps, plain {cell(st, s, 'fwd-plain', 'delivered_kpps')}) "
                        "(bar ≥ 1.05, ≥ 10 rounds)", x >= 1.05 and n >= 10))
    for s in ("iperf-tcp-nat", "iperf-udp-nat"):
        d = st.paired(s, REF, "fwd-plain", "mbps")
        if d:
            out.append((f"{s}: cache − plain = {statistics.median(d):+.0f} Mbit/s median of {len(d)} paired rounds "
                        f"(min {min(d):+.0f}, max {max(d):+.0f}; cache {cell(st, s, REF, 'mbps', 0)}, plain "
                        f"{cell(st, s, 'fwd-plain', 'mbps', 0)}); the kernel series: +35–70 Mbit/s on a 1.2 GHz MIPS router",
                        None))
    for d in (REF, "fwd-plain"):
        v = st.values("nat-64-f100000", d, "peak_rss_kib")
        if v:
            sess = st.med("nat-64-f100000", d, "nat_sessions")
            out.append((f"nat-64-f100000 {d}: peak RSS {max(v) / 1024:.1f} MiB with {f(sess, 0)} sessions (bar ≤ 64 MiB)",
                        max(v) / 1024 <= 64))
    return out + latency.bars(st, st.med, f)


def write(folder):
    rows, meta = load(folder)
    st = Stats(rows)
    md = [f"# Comparison: {meta['date']}", "",
          f"- machine: {meta['cpu']}, {meta['cpus']} CPUs, kernel {meta['kernel']}",
          f"- forwarder {meta['forwarder']} (git {meta['git']}); command: `{meta['command']}`",
          f"- frame-rate windows {meta['seconds']} s; devices alternate round by round within each scenario; "
          "figures are medians (min–max) over the rounds; ratios are to `forwarder --alloc cache` (fwd-cache)",
          "- CPU s/Mframe is the device's own processes (user + system) per million frames delivered; the kernel "
          "devices (bridge, tc-redirect, kernel-nat) run in softirq on the generator's core and have none"]
    if meta.get("note"):
        md.append(f"- note: {meta['note']}")
    md += ["",
          "## The issue's bars, checked on this run", ""]
    for text, ok in bars(st):
        md.append(f"- {'PASS' if ok else 'FAIL' if ok is False else 'report'}: {text}")
    md += ["", "## Plots", ""]
    made = plots(st, folder)
    md += [f"![{p}]({p})" for p in made] + [""]
    cost = latency.cost_table(st, st.med, f)
    if cost:
        md += ["## What each poll mode costs (L2, 64 B)", "",
               "CPU of the forwarder in % of a core: idle (nothing flowing), then during the sockperf ping-pong "
               "with 64 B frames at 0, 10, 50 and 90 % of fwd-cache's highest rate, next to the ping-pong's p50 and p99.",
               ""] + cost + [""]
    md += ["## Devices", ""] + [f"- **{d.name}**: {d.describe}" for d in DEVS.values()] + [""]
    for s in st.scenarios():
        sc = SCEN.get(s)
        md += [f"## {s}: {sc.title if sc else s}", ""]
        lines, notes = latency.table(st, s, st.med, cell) if sc and sc.traffic == "latency" else table(st, s)
        md += lines + [""] + notes + ([""] if notes else [])
    open(os.path.join(folder, "summary.md"), "w").write("\n".join(md) + "\n")
    with open(os.path.join(folder, "summary.csv"), "w", newline="") as out:
        w = csv.writer(out)
        keys = ["delivered_kpps", "delivered_mbps", "offered_kpps", "loss_pct", "cpu_s_per_mframe", "cpu_user_s_per_mframe",
                "cpu_sys_s_per_mframe", "peak_rss_kib", "ring_drops", "cache_hit_rate", "refills_per_mframe", "mbps",
                "rtt_median_ms", "rtt_p99_ms", "ns_per_frame"]
        w.writerow(["scenario", "device", "rounds_ok"] + [k + "_median" for k in keys])
        for s, d in st.order:
            w.writerow([s, d, len([r for r in st.by[(s, d)] if r["status"] == "ok"])]
                       + ["" if st.med(s, d, k) is None else f"{st.med(s, d, k):.6g}" for k in keys])


def quick_check(folder):
    """What --quick asserts: every device it ran moved traffic (a skip is a failure here)."""
    rows, _ = load(folder)
    bad = []
    for r in rows:
        if r["status"] != "ok":
            bad.append(f"{r['scenario']} {r['device']}: {r['status']}: {r['reason']}")
        elif not any((r.get(k) or 0) > 0 for k in ("delivered_kpps", "mbps", "rtt_median_ms", "ns_per_frame", "lat_p50_us")):
            bad.append(f"{r['scenario']} {r['device']}: moved no traffic")
    return bad


def plots(st, folder):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []

    def err(s, d, k, scale=1.0):
        m = st.med(s, d, k)
        lo, hi = st.span(s, d, k)
        return m * scale, (m - lo) * scale, (hi - m) * scale

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(os.path.join(folder, name), dpi=90)
        plt.close(fig)
        made.append(name)

    def allocator_bars(ax, scenarios, key):
        """One group of bars per scenario, one bar per allocator present (median, min–max)."""
        allocs = [a for a in ALLOCATORS if any(st.med(s, a, key) for s in scenarios)]
        wdt = 0.8 / max(1, len(allocs))
        for i, a in enumerate(allocs):
            pts = [(j + i * wdt, err(s, a, key)) for j, s in enumerate(scenarios) if st.med(s, a, key)]
            ax.bar([x for x, _ in pts], [v[0] for _, v in pts], wdt, yerr=[[v[1] for _, v in pts], [v[2] for _, v in pts]],
                   capsize=2, label=a if a not in MALLOC_OF else f"plain on {MALLOC_OF[a]}")
        ax.set_xticks([j + 0.4 - wdt / 2 for j in range(len(scenarios))])

    # 1. frame rate by device, one panel per scenario
    pps = [s for s in st.scenarios() if SCEN.get(s) and SCEN[s].traffic == "pps"
           and any(st.med(s, d, "delivered_kpps") for d in st.devices(s))]
    if pps:
        cols = 3
        rows = math.ceil(len(pps) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(15, 3.2 * rows), squeeze=False)
        for ax, s in zip(axes.flat, pps):
            ds = [d for d in st.devices(s) if st.med(s, d, "delivered_kpps")]
            vals = [err(s, d, "delivered_kpps") for d in ds]
            colors = ["tab:green" if DEVS[d].alloc == "cache" else "tab:orange" if DEVS[d].alloc == "plain" else "tab:gray"
                      for d in ds]
            ax.barh(ds, [v[0] for v in vals], xerr=[[v[1] for v in vals], [v[2] for v in vals]], color=colors)
            ax.invert_yaxis()
            ax.set_title(s, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.set_xlabel("delivered kpps (median, min–max)", fontsize=7)
        for ax in list(axes.flat)[len(pps):]:
            ax.axis("off")
        save(fig, "pps.png")
    # 2. CPU per frame: the cache against each plain allocator; total, and the user part (the
    # process's own code, where the allocator's cost is), frame-rate scenarios only
    sc = [s for s in st.scenarios() if SCEN.get(s) and SCEN[s].traffic == "pps" and st.med(s, REF, "cpu_s_per_mframe")
          and any(st.med(s, p, "cpu_s_per_mframe") for p in PLAINS)]
    if sc:
        fig, axes = plt.subplots(2, 1, figsize=(max(8, 1.0 * len(sc)), 8))
        for ax, key, what in ((axes[0], "cpu_s_per_mframe", "user + system"), (axes[1], "cpu_user_s_per_mframe", "user only")):
            allocator_bars(ax, sc, key)
            ax.set_xticklabels(sc, rotation=30, ha="right", fontsize=8)
            ax.set_ylabel(f"CPU s per Mframe, {what}")
        axes[0].set_title("The head cache against plain malloc/free on four allocators (median, min–max)")
        axes[0].legend(fontsize=8, ncol=3)
        save(fig, "cpu_per_frame.png")
    # 3. cost per frame as flows, frame size and burst grow
    axes_def = [("NAT flows", [("nat-64-f1", 1), ("nat-64-f1000", 1000), ("nat-64-f10000", 10000), ("nat-64-f100000", 100000)], True),
                ("frame bytes (L2 one way)", [("l2-64-oneway", 64), ("l2-512-oneway", 512), ("l2-1500-oneway", 1500)], False),
                ("--burst (L2 one way)", [("burst-8", 8), ("burst-32", 32), ("burst-64", 64)], False)]
    panels = [(t, [(s, x) for s, x in pts if (s, REF) in st.by], logx) for t, pts, logx in axes_def]
    panels = [p for p in panels if len(p[1]) >= 2]
    if panels:
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.8), squeeze=False)
        for ax, (title, pts, logx) in zip(axes.flat, panels):
            for d in (REF, "fwd-plain"):
                xy = [(x, err(s, d, "cpu_s_per_mframe")) for s, x in pts if st.med(s, d, "cpu_s_per_mframe")]
                if xy:
                    ax.errorbar([p[0] for p in xy], [p[1][0] for p in xy], yerr=[[p[1][1] for p in xy], [p[1][2] for p in xy]],
                                marker="o", capsize=3, label=d)
            if logx:
                ax.set_xscale("log")
            ax.set_xlabel(title)
            ax.set_ylabel("CPU s per million frames")
            ax.legend(fontsize=8)
        save(fig, "cost_scaling.png")
    # 4. the in-memory pipeline: the allocator's share with the kernel out of the way
    pl = [s for s in st.scenarios() if s.startswith("pipeline-")]
    if pl:
        fig, ax = plt.subplots(figsize=(8, 4))
        allocator_bars(ax, pl, "ns_per_frame")
        ax.set_xticklabels(pl)
        ax.set_ylabel("ns per frame (median, min–max)")
        ax.set_title("In memory: the real Worker, no kernel")
        ax.legend(fontsize=8)
        save(fig, "pipeline.png")
    latency.plots(st, folder, plt, save, st.med)
    return made
