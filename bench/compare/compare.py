"""The comparison: the forwarder's head cache against plain allocation on four mallocs, the C
references and the peers, scenario by scenario, devices alternated round by round.
Run through bench/compare.sh (which installs and builds what it needs); --help for the options.
"""
import argparse
import csv
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import devices as D            # noqa: E402
import latency                 # noqa: E402
import report                  # noqa: E402
from measure import Measurer   # noqa: E402
from scenarios import BY_NAME as SCENARIOS_BY_NAME, SCENARIOS   # noqa: E402
from testbed import REPO, SetupError, Testbed, wmem_raise   # noqa: E402

PACKAGED_FORWARDER = os.path.join(REPO, ".build/static/release/forwarder")
FIELDS = ["scenario", "round", "device", "status", "reason", "delivered_kpps", "delivered_mbps", "offered_kpps",
          "loss_pct", "cpu_s_per_mframe", "cpu_user_s_per_mframe", "cpu_sys_s_per_mframe", "dut_busy_pct",
          "peak_rss_kib", "ring_drops", "fwd_drops", "cache_hit_rate", "refills_per_mframe", "nat_sessions", "mbps",
          "rtt_median_ms", "rtt_p99_ms", "ns_per_frame", "lat_p50_us", "lat_p99_us", "lat_p999_us", "lat_max_us",
          "lat_samples", "cpu_pct", "idle_cpu_pct", "load_kpps", "window_s", "finished_at"]


def parse():
    p = argparse.ArgumentParser(prog="bench/compare.sh", formatter_class=argparse.RawDescriptionHelpFormatter,
                                description=__doc__.split("\n")[0] + "\n" + __doc__.split("\n")[1],
                                epilog="scenarios: " + ", ".join(s.name for s in SCENARIOS)
                                + "\ndevices: " + ", ".join(d.name for d in D.DEVICES)
                                + "\nexit status: 0 done (with --quick: every device moved traffic), 1 a failure, 2 usage")
    p.add_argument("--quick", action="store_true",
                   help="CI smoke run: 1 round, 1 s windows, a subset in which every device runs once; "
                        "fails (exit 1) unless every device moved traffic")
    p.add_argument("--rounds", type=int, help="rounds per scenario (default 3; scenarios that need more, e.g. the "
                                             "slow router and the seed's iperf3 run, get at least 10)")
    p.add_argument("--seconds", type=int, help="measurement window for frame rates (default 3; --quick 1)")
    p.add_argument("--scenarios", help="comma-separated subset (default: all)")
    p.add_argument("--devices", help="comma-separated subset of devices (default: each scenario's own)")
    p.add_argument("--results", help="results folder (default bench/results/<UTC date-time>)")
    p.add_argument("--forwarder", metavar="BINARY", default=PACKAGED_FORWARDER,
                   help="the forwarder binary the fwd-* devices run (default: the packaged one, Swift runtime "
                        "linked in: .build/static/release/forwarder from scripts/package.sh --binary-only)")
    p.add_argument("--prefix", default=f"cmp{os.getpid() % 10000}", help="testbed name prefix (<= 10 chars)")
    p.add_argument("--in", dest="real_in", metavar="IF", help="real interfaces instead of the testbed: the DUT's input")
    p.add_argument("--out", dest="real_out", metavar="IF", help="with --in: the DUT's output")
    p.add_argument("--gen-dev", help="with --in: the interface trafgen sends from (towards --in)")
    p.add_argument("--gen-ns", help="with --in: the namespace of --gen-dev (default: the root namespace)")
    p.add_argument("--count-dev", help="with --in: the interface that receives what --out sends (its rx_packets count)")
    p.add_argument("--count-ns", help="with --in: the namespace of --count-dev")
    p.add_argument("--dst-mac", help="with --in: the destination MAC of the generated frames")
    p.add_argument("--list", action="store_true", help="print the plan (scenarios, devices, rounds) and its "
                                                       "estimated time, and exit")
    p.add_argument("--report-only", metavar="DIR", help="rebuild summary.md and the plots from DIR/rounds.csv")
    a = p.parse_args()
    if a.report_only:
        return a
    if a.rounds is not None and not 1 <= a.rounds <= 100:
        p.error("--rounds: 1..100")
    if a.seconds is not None and not 1 <= a.seconds <= 60:
        p.error("--seconds: 1..60")
    if not (1 <= len(a.prefix) <= 10 and a.prefix.replace("-", "").replace("_", "").isalnum()):
        p.error("--prefix: 1-10 of [A-Za-z0-9_-]")
    real = [a.real_in, a.real_out, a.gen_dev, a.count_dev, a.dst_mac]
    if any(real) and not all(real):
        p.error("real interfaces need all of --in, --out, --gen-dev, --count-dev and --dst-mac")
    for opt, known in (("scenarios", SCENARIOS_BY_NAME), ("devices", D.BY_NAME)):
        for x in (getattr(a, opt) or "").split(","):
            if x and x not in known:
                p.error(f"--{opt}: unknown '{x}' (known: {', '.join(known)})")
    return a


def plan(a):
    """(scenario, [devices], rounds) in run order."""
    only = set(a.scenarios.split(",")) if a.scenarios else None
    devs = a.devices.split(",") if a.devices else None
    base = a.rounds or (1 if a.quick else 3)
    out = []
    for s in SCENARIOS:
        if only and s.name not in only:
            continue
        if a.quick and not only and s.quick_devices is None:
            continue
        ds = s.quick_devices if a.quick and s.quick_devices is not None else s.devices
        if devs:
            ds = [d for d in s.devices if d in devs]
        if not ds:
            continue
        rounds = base if a.quick or a.rounds else max(base, s.min_rounds)
        out.append((s, ds, rounds))
    return out


def estimate(s, seconds, quick):
    return {"pps": seconds + 2.0, "tcp": (1 if quick else 3) + 2.5, "udp": (1 if quick else 3) + 2.5,
            "ping": (0.4 if quick else 2.2) + 1.8, "pipeline": 1.0 if quick else 2.0,
            "latency": (1 if quick else seconds) + 4.5}[s.traffic] + (1.0 if s.kind in ("nat",) else 0)


def fmt_eta(sec):
    sec = int(sec)
    return f"{sec // 3600}h{sec // 60 % 60:02d}m" if sec >= 3600 else f"{sec // 60}m{sec % 60:02d}s"


def short(row):
    if row["status"] != "ok":
        return f"{row['status']}: {row.get('reason', '')}"
    parts = []
    for k, label, f in (("delivered_kpps", "kpps", "%.1f"), ("mbps", "Mbit/s", "%.0f"), ("cpu_s_per_mframe", "s/Mframe", "%.3f"),
                        ("rtt_median_ms", "ms median", "%.3f"), ("rtt_p99_ms", "ms p99", "%.3f"),
                        ("lat_p50_us", "µs p50", "%.1f"), ("lat_p99_us", "µs p99", "%.1f"), ("cpu_pct", "% CPU", "%.0f"), ("ns_per_frame", "ns/frame", "%.1f"),
                        ("loss_pct", "% loss", "%.1f")):
        if row.get(k) is not None:
            parts.append((f % row[k]) + " " + label)
    return ", ".join(parts)


def machine(forwarder):
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "cpu": model,
            "cpus": os.cpu_count(), "kernel": platform.release(),
            "forwarder": subprocess.run([forwarder, "--version"],
                                        stdout=subprocess.PIPE, text=True).stdout.strip(),
            "git": subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                                  text=True).stdout.strip()}


def main():
    a = parse()
    if a.report_only:
        report.write(a.report_only)
        return 0
    if a.list:
        seconds = a.seconds or (1 if a.quick else 3)
        work = plan(a)
        for s, ds, r in work:
            print(f"{s.name:<16} {r:>2} rounds  {', '.join(ds)}")
        est = sum(len(ds) * r * estimate(s, seconds, a.quick) for s, ds, r in work)
        print(f"{sum(len(ds) * r for _, ds, r in work)} measurements, about {fmt_eta(est)}")
        return 0
    if os.geteuid() != 0:
        print("compare: must run as root (sudo bench/compare.sh)", file=sys.stderr)
        return 2
    if (os.cpu_count() or 1) < 2:
        print("compare: needs 2 CPUs (the generator on CPU0, the device under test on CPU1)", file=sys.stderr)
        return 1
    seconds = a.seconds or (1 if a.quick else 3)
    work = plan(a)
    if not work:
        print("compare: nothing to run", file=sys.stderr)
        return 2
    results = a.results or os.path.join(REPO, "bench", "results",
                                        datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S"))
    os.makedirs(results, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="compare.")
    bins = {"forwarder": os.path.abspath(a.forwarder),
            "forwarder-bench": os.path.join(REPO, ".build/release/forwarder-bench"), "cfwd": os.path.join(tmp, "cfwd")}
    subprocess.run(["cc", "-O2", "-Wall", "-o", bins["cfwd"], os.path.join(REPO, "bench/compare/cfwd.c"), "-lpcap",
                    "-lpthread"], check=True)
    real = None
    if a.real_in:
        real = {"in": a.real_in, "out": a.real_out, "gen_dev": a.gen_dev, "gen_ns": a.gen_ns, "count_dev": a.count_dev,
                "count_ns": a.count_ns, "dst_mac": a.dst_mac}
    bed = Testbed(a.prefix, real)
    restore_wmem = wmem_raise()

    def on_signal(sig, _):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    meta = machine(bins["forwarder"])
    meta["command"] = "sudo bench/compare.sh " + " ".join(sys.argv[1:])
    meta["seconds"] = seconds
    report.write_meta(results, meta, work)
    total = sum(len(ds) * r for _, ds, r in work)
    total_est = sum(len(ds) * r * estimate(s, seconds, a.quick) for s, ds, r in work)
    est_done = 0.0                  # the estimate of what ran: ETA = the rest scaled by actual/estimated
    done = 0
    failed = []
    start = time.time()
    csv_path = os.path.join(results, "rounds.csv")
    new = not os.path.exists(csv_path)
    out = open(csv_path, "a", newline="")
    w = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
    if new:
        w.writeheader()
    print(f"compare: {total} measurements in {len(work)} scenarios, {seconds} s windows, results in {results}",
          file=sys.stderr)
    interrupted = False
    try:
        for s, ds, rounds in work:
            for rnd in range(1, rounds + 1):
                for dname in ds:
                    done += 1
                    elapsed = time.time() - start
                    eta = (total_est - est_done) * (elapsed / est_done if est_done else 1.0)
                    print(f"[{done:4d}/{total}] {s.name} round {rnd}/{rounds} {dname:<19} ETA {fmt_eta(eta)}",
                          file=sys.stderr, end="", flush=True)
                    try:
                        row = Measurer(bed, bins, tmp, seconds, a.quick).one(s, dname, rnd)
                    except SetupError as e:
                        row = {"status": "failed", "reason": str(e)}
                    est_done += estimate(s, seconds, a.quick)
                    print(f"  {short(row)}", file=sys.stderr, flush=True)
                    if "_distribution" in row:
                        latency.save_distribution(results, s.name, dname, rnd, row.pop("_distribution"))
                    row.update(scenario=s.name, round=rnd, device=dname,
                               finished_at=datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S"))
                    w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
                    out.flush()
                    if row["status"] == "failed":
                        failed.append((s.name, dname, row["reason"]))
    except KeyboardInterrupt:
        interrupted = True
        print("\ncompare: interrupted; cleaning up, writing the report of what ran", file=sys.stderr)
    finally:
        out.close()
        bed.down()
        restore_wmem()
        shutil.rmtree(tmp, ignore_errors=True)
    report.write(results)
    print(f"compare: {done} of {total} measurements in {fmt_eta(time.time() - start)}; "
          f"{os.path.join(results, 'summary.md')}", file=sys.stderr)
    if interrupted:
        return 130
    if a.quick:
        bad = report.quick_check(results)
        for line in bad:
            print(f"compare: --quick: {line}", file=sys.stderr)
        if bad:
            return 1
        print("compare: --quick: every device moved traffic", file=sys.stderr)
    elif failed:
        print(f"compare: {len(failed)} measurements failed (rows with status 'failed' in rounds.csv)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
