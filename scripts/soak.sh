#!/usr/bin/env bash
# Soak test (not in CI): the forwarder under mixed traffic for a while, its VmRSS and counters
# sampled every 10 s (SIGUSR1 snapshots), printed as a table and plotted to a PNG.
#
#   sudo scripts/soak.sh [--minutes N] [--mode nat|l2] [--interval S] [--out DIR]
#
# nat (default): the VLAN NAT testbed of Tests/Integration (inside host VLAN 10, outside host
#   VLAN 20, --vlan-nat --max-sessions 4096); l2: the plain two-host testbed.
# Load, all the time: one iperf3 TCP stream A -> B. On top, in 30 s cycles: a SYN flood with
# random inside addresses and ports (5 s), random and half-valid frames into both ports (5 s),
# an ARP + unsolicited inbound flood (5 s), 15 s with the stream alone.
# Output in DIR (default /tmp/forwarder-soak-YYYYmmdd-HHMMSS): samples.csv, soak.png,
# summary.json (the final JSON summary). Exit 0 when the forwarder survived, exited 0 on SIGINT,
# kept its VmRSS under 64 MiB without a steady rise, and ping works at the end; 1 otherwise.
# Everything it creates (namespaces, veths, processes) is removed on exit, also on ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "soak.sh: needs root (namespaces, raw sockets)" >&2; exit 1; }
[ -x .build/release/forwarder ] || swift build -c release --product forwarder 2>&1 | tail -1
/usr/bin/python3 -c "import matplotlib" 2>/dev/null || \
    echo "soak.sh: python3-matplotlib missing (apt-get install -y python3-matplotlib): no PNG" >&2
exec /usr/bin/python3 - "$@" <<'PY'
import argparse, json, os, random, re, secrets, signal, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.getcwd(), "Tests", "Integration"))
import harness
from harness import rss_kib
import nat_support as ns
from netns_io import (Flooder, arp_frame, garbage_frames, ipv4_frame, mac_bytes, random_mac,
                      tcp_segment, udp_datagram)

ap = argparse.ArgumentParser(prog="soak.sh")
ap.add_argument("--minutes", type=float, default=10.0)
ap.add_argument("--mode", choices=["nat", "l2"], default="nat")
ap.add_argument("--interval", type=float, default=10.0)
ap.add_argument("--out", default=time.strftime("/tmp/forwarder-soak-%Y%m%d-%H%M%S"))
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
total_s = a.minutes * 60
prefix = ("sk" if a.mode == "nat" else "sl") + secrets.token_hex(2)
stop = threading.Event()
procs = []

def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

def main():
    if a.mode == "nat":
        tb = harness.testbed_up(prefix, hosts="nat", vlans=True)
        a_ip, b_ip, dst_ip = ns.HOST_A, ns.HOST_B, ns.HOST_B
        gw_in = mac_bytes(open(f"/sys/class/net/{tb.in_if}/address").read().strip())
        gw_out = mac_bytes(open(f"/sys/class/net/{tb.out_if}/address").read().strip())
        vin, vout = ns.VLAN_IN, ns.VLAN_OUT
        # Short transitory timeout: the SYN flood's half-open sessions expire within the cycle,
        # so the table fills and drains every 30 s (and a new flow works at the end).
        fw_args = ns.FORWARDER_ARGS + ["--max-sessions", "4096", "--timeout-tcp-transitory", "5s"]
    else:
        tb = harness.testbed_up(prefix)
        a_ip, b_ip, dst_ip = tb.ip_a, tb.ip_b, tb.ip_b
        gw_in, gw_out = mac_bytes(tb.mac_b), mac_bytes(tb.mac_a)
        vin = vout = None
        fw_args = ["--json"]
    ma, mb = mac_bytes(tb.mac_a), mac_bytes(tb.mac_b)
    out = open(os.path.join(a.out, "stdout.jsonl"), "w+")
    err = open(os.path.join(a.out, "stderr.txt"), "w+")
    fw = subprocess.Popen([harness.forwarder_path(), tb.in_if, tb.out_if] + fw_args,
                          stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    procs.append(fw)
    time.sleep(1.5)
    assert fw.poll() is None, open(err.name).read()
    log(f"{a.mode}: forwarder PID {fw.pid} on {tb.in_if}/{tb.out_if}; {a.minutes} min, sample every {a.interval}s")

    rng = random.Random(1)
    inside = ns.INSIDE_NET if a.mode == "nat" else harness.testbed_plan.subnet_stem(tb.ip_a)
    syns = [ipv4_frame(gw_in, ma, src, dst_ip, 6,
                       tcp_segment(src, dst_ip, rng.randint(1024, 65535), rng.choice([9, 443]), 0x02), vin, ident=i)
            for i, src in ((i, inside + str(3 + i % 200)) for i in range(20000))]
    garbage_a = garbage_frames(rng, 3000, gw_in, ma, vin, a_ip, dst_ip)
    garbage_b = garbage_frames(rng, 3000, gw_out, mb, vout, b_ip, ns.GW_OUTSIDE if a.mode == "nat" else a_ip)
    arp_a = [arp_frame(b"\xff" * 6, m, 1, m, inside + str(rng.randint(3, 254)), bytes(6), inside + "1", vin)
             for m in (random_mac(rng) for _ in range(4000))]
    arp_b = [arp_frame(b"\xff" * 6, m, 1, m, ns.OUTSIDE_NET + str(rng.randint(3, 254)), bytes(6), ns.GW_OUTSIDE, vout)
             for m in (random_mac(rng) for _ in range(2000))]
    out_dst = ns.GW_OUTSIDE if a.mode == "nat" else a_ip
    arp_b += [ipv4_frame(gw_out, random_mac(rng), b_ip, out_dst, 17,
                         udp_datagram(b_ip, out_dst, rng.randint(1, 65535), rng.randint(1, 65535), b"u" * 40), vout)
              for _ in range(2000)]

    iperf_srv = tb.popen("b", ["iperf3", "-s", "-p", "5401"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(iperf_srv)
    time.sleep(0.5)
    iperf_cli = tb.popen("a", ["iperf3", "-c", dst_ip, "-p", "5401", "-t", str(int(total_s)), "-i", "0",
                               "--connect-timeout", "3000", "-J"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(iperf_cli)

    phase = {"name": "stream"}
    def load():
        t0 = time.monotonic()
        while not stop.is_set() and time.monotonic() - t0 < total_s:
            for name, sides in (("syn", [(tb.ns_a, tb.a0, syns, 20000)]),
                                ("garbage", [(tb.ns_a, tb.a0, garbage_a, 30000), (tb.ns_b, tb.b0, garbage_b, 30000)]),
                                ("arp", [(tb.ns_a, tb.a0, arp_a, 20000), (tb.ns_b, tb.b0, arp_b, 20000)])):
                if stop.is_set():
                    return
                phase["name"] = name
                fl = [Flooder(n, i, f, 5.0, pps=p).start() for n, i, f, p in sides]
                for f in fl:
                    f.join(30)
            phase["name"] = "stream"
            stop.wait(15)
    loader = threading.Thread(target=load, daemon=True)
    loader.start()

    samples = []
    t0 = time.monotonic()
    pos = 0
    while time.monotonic() - t0 < total_s and fw.poll() is None:
        time.sleep(max(0.0, a.interval - (time.monotonic() - t0) % a.interval))
        fw.send_signal(signal.SIGUSR1)
        time.sleep(0.3)
        out.seek(pos)
        lines = out.read().splitlines()
        pos = out.tell()
        snap = json.loads(lines[-1]) if lines else {}
        d = snap.get("directions", [])
        nat = snap.get("nat") or {}
        cache = snap.get("cache") or {}
        s = {"t": round(time.monotonic() - t0), "phase": phase["name"], "rss_kib": rss_kib(fw.pid) or 0,
             "rx": sum(x["rx_frames"] for x in d), "tx": sum(x["tx_frames"] for x in d),
             "drops": sum(x["drops"] for x in d),
             "ring_dropped": sum(p["dropped"] for p in (snap.get("pcap") or {}).values()),
             "sessions": nat.get("sessions_active", 0), "nat_drops": nat.get("drops_total", 0),
             "in_use": cache.get("in_use", 0), "pool_heads": cache.get("pool_heads", 0)}
        samples.append(s)
        if len(samples) == 1:
            print(" ".join(f"{k:>12}" for k in s), flush=True)
        print(" ".join(f"{str(v):>12}" for v in s.values()), flush=True)
    stop.set()
    loader.join(30)
    alive = fw.poll() is None
    time.sleep(12)   # the last flood's half-open sessions expire (transitory timeout 5 s + aging)
    r = tb.exec("a", ["ping", "-n", "-c", "5", "-i", "0.2", "-W", "1", dst_ip], check=False, timeout=20)
    ping_ok = r.returncode == 0
    try:
        cli_out, _ = iperf_cli.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        iperf_cli.kill()
        cli_out, _ = iperf_cli.communicate(timeout=5)
    if fw.poll() is None:
        fw.send_signal(signal.SIGINT)
    rc = fw.wait(timeout=15)
    out.seek(pos)
    lines = out.read().splitlines()
    final = json.loads(lines[-1]) if lines else {}
    json.dump(final, open(os.path.join(a.out, "summary.json"), "w"), indent=1)
    with open(os.path.join(a.out, "samples.csv"), "w") as f:
        f.write(",".join(samples[0]) + "\n" if samples else "")
        for s in samples:
            f.write(",".join(str(v) for v in s.values()) + "\n")
    try:
        mbps = json.loads(cli_out)["end"]["sum_received"]["bits_per_second"] / 1e6
    except Exception:
        mbps = None
    rss = [s["rss_kib"] for s in samples]
    half = len(rss) // 2
    rise = (max(rss[half:]) - max(rss[:half])) if half else 0
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        t = [s["t"] for s in samples]
        fig, ax = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
        ax[0].plot(t, [v / 1024 for v in rss]); ax[0].set_ylabel("VmRSS MiB"); ax[0].axhline(64, color="r", ls="--")
        rates = [0] + [(samples[i]["rx"] - samples[i - 1]["rx"]) / max(1, t[i] - t[i - 1]) for i in range(1, len(t))]
        ax[1].plot(t, rates); ax[1].set_ylabel("rx frames/s")
        ax[2].plot(t, [s["sessions"] for s in samples], label="sessions_active")
        ax[2].plot(t, [s["in_use"] for s in samples], label="cache in_use"); ax[2].legend(); ax[2].set_xlabel("s")
        fig.suptitle(f"forwarder soak, {a.mode}, {a.minutes} min")
        fig.savefig(os.path.join(a.out, "soak.png"), dpi=80)
        log(f"plot: {os.path.join(a.out, 'soak.png')}")
    except ImportError:
        pass
    good = alive and rc == 0 and ping_ok and rss and max(rss) <= 64 * 1024 and rise <= 4096
    log(f"survived {alive}, exit {rc} on SIGINT, ping after {'ok' if ping_ok else 'FAILED'}, VmRSS "
        f"{min(rss) / 1024:.1f}..{max(rss) / 1024:.1f} MiB (second half - first half {rise} KiB), "
        f"iperf3 {mbps and round(mbps)} Mbit/s average, {len(samples)} samples; "
        f"cache in_use at the end {(final.get('cache') or {}).get('in_use')}; {'PASS' if good else 'FAIL'}")
    log(f"output in {a.out}")
    return 0 if good else 1

rc = 1
try:
    rc = main()
except KeyboardInterrupt:
    log("interrupted")
finally:
    stop.set()
    for p in procs:
        if p.poll() is None:
            p.kill()      # these PIDs only
            p.wait(timeout=10)
    harness.testbed_down(prefix)
sys.exit(rc)
PY
