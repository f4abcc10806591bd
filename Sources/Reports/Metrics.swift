import Telemetry
import BufferCache
import Nat44
import Pipeline
import XdpIO

/// `--metrics-file`: the counters in the Prometheus text exposition format (version 0.0.4, the
/// node_exporter textfile-collector convention), built from the same values as the JSON summary,
/// so the file written after the workers stop equals the summary.
///
/// Counters end in `_total` (TYPE counter); gauges do not. Directions are labelled `in_out` and
/// `out_in`; `interface` is the receiving interface for rx, the sending one for tx.
public struct Metrics {
    private var out = PrometheusText()

    /// The exposition text of `summary`; `startTime` is the Unix time the run started, `up`
    /// false in the file written after the workers stopped.
    public static func text(_ summary: Summary, startTime: Double, up: Bool) -> String {
        var m = Metrics()
        m.build(summary, startTime: startTime, up: up)
        return m.out.text
    }

    /// One family per row of `table(counters)`, a sample per labelled item (the rows of every
    /// item's table in the same order): the kernel and AF_XDP counters per interface.
    private mutating func families<C>(_ prefix: String, _ helpPrefix: String, _ items: [(String, C)],
                                      _ table: (C) -> [(key: String, help: String, value: UInt64)]) {
        let tables = items.map { (interface: $0.0, rows: table($0.1)) }
        for (index, row) in (tables.first?.rows ?? []).enumerated() {
            for t in tables {
                out.counter(prefix + row.key + "_total", helpPrefix + row.help + ".", t.rows[index].value, ["interface": t.interface])
            }
        }
    }

    private mutating func build(_ s: Summary, startTime: Double, up: Bool) {
        let o = s.run
        out.gauge("forwarder_up", "1 while the forwarder runs; 0 in the file written after it stopped.", up ? 1 : 0)
        out.gauge("forwarder_info", "Constant 1, labelled with the version, the mode and the interfaces.", 1,
              ["version": o.version, "mode": o.mode, "alloc": o.allocator,
               "in": o.inName, "out": o.outName])
        out.gauge("forwarder_start_time_seconds", "Unix time the forwarder started.", startTime)
        out.gauge("forwarder_elapsed_seconds", "Seconds since the workers started.", s.elapsed)

        let directions = o.directions.map { d in
            (counters: s.totals.direction(d.index), label: d.index == 0 ? "in_out" : "out_in", from: d.from, to: d.to)
        }
        let traffic: [(String, String, KeyPath<DirectionCounters, UInt64>, Bool)] = [
            ("forwarder_rx_frames_total", "Frames received, by direction and receiving interface.", \.rxFrames, true),
            ("forwarder_rx_bytes_total", "Bytes received, by direction and receiving interface.", \.rxBytes, true),
            ("forwarder_tx_frames_total", "Frames sent, by direction and sending interface.", \.txFrames, false),
            ("forwarder_tx_bytes_total", "Bytes sent, by direction and sending interface.", \.txBytes, false),
        ]
        for (name, help, field, received) in traffic {
            for d in directions {
                out.counter(name, help, d.counters[keyPath: field], ["direction": d.label, "interface": received ? d.from : d.to])
            }
        }
        for d in directions {
            for r in DropReason.allCases {
                out.counter("forwarder_drops_total", "Frames dropped, by direction and reason (the JSON drops_by_reason).",
                        d.counters[r], ["direction": d.label, "reason": r.key])
            }
        }

        // The JSON `pcap` object: libpcap's counters, or over AF_XDP the line derived from XDP_STATISTICS.
        families("forwarder_pcap_", "Kernel: ", s.kernel.compactMap { k in k.counters.map { (k.interface, $0) } }) { $0.fields }
        if let x = s.xdp {
            families("forwarder_xdp_", "AF_XDP: ", x.interfaces.compactMap { i in i.counters.map { (i.name, $0) } }) { $0.fields }
        }

        let a = s.totals.allocator
        out.counters("forwarder_allocator_", a.allocatorTable)
        if let p = s.pool {
            out.counters("forwarder_cache_", a.cacheTable, helpPrefix: "Head cache: ")
            out.gauge("forwarder_cache_in_use", "Head cache: heads taken and not yet given back (in flight; the JSON cache.in_use).",
                  Double(a.inUse))
            out.gauge("forwarder_pool_slabs", "Shared pool: slabs allocated.", Double(p.slabs))
            out.gauge("forwarder_pool_heads", "Shared pool: heads allocated in all.", Double(p.totalHeads))
            out.gauge("forwarder_pool_heads_in_use", "Shared pool: heads out of the pool (in caches or in flight).",
                  Double(p.outstanding))
            out.gauge("forwarder_pool_high_water", "Shared pool: most heads out of the pool at once.", Double(p.highWater))
        }

        poll(s.totals.poll, mode: o.poll)

        if let n = s.totals.nat { nat(n) }

        if let l = s.natLog {
            out.counter("forwarder_nat_log_written_total", "NAT mapping events written to --nat-log.", l.written)
            out.counter("forwarder_nat_log_dropped_total", "NAT mapping events lost: a worker's lane was full, or a write failed.",
                        l.dropped)
        }
        if let c = s.capture {
            out.counter("forwarder_capture_written_total", "Dropped frames written to the --capture-drops file.", c.written)
            out.counter("forwarder_capture_skipped_total", "Dropped frames not written: past --capture-limit.", c.skipped)
        }
    }

    /// What waiting for frames cost, summed over the workers (`--poll`); times in microseconds
    /// (integer counters).
    private mutating func poll(_ p: PollCounters, mode: String) {
        out.gauge("forwarder_poll_info", "Constant 1, labelled with the --poll mode (wait, busy or adaptive:USEC).", 1,
                  ["mode": mode])
        out.counter("forwarder_poll_busy_microseconds_total",
                    "Time spent in passes that found no frame while the worker kept polling (busy, adaptive's spin).",
                    p.busyNanoseconds / 1000)
        out.counter("forwarder_poll_empty_polls_total", "Passes that found no frame while the worker kept polling.", p.emptyPolls)
        out.counter("forwarder_poll_wakeups_total", "Times a worker slept in poll() and was woken.", p.wakeUps)
        out.counter("forwarder_poll_sleep_microseconds_total", "Time the workers spent in poll(), asleep or waking up.",
                    p.sleepNanoseconds / 1000)
    }

    private mutating func nat(_ n: NatCounters) {
        let protocols = [("tcp", n.tcp), ("udp", n.udp), ("icmp", n.icmp)]
        for (name, p) in protocols {
            out.gauge("forwarder_nat_sessions_active", "NAT sessions now, by protocol.", Double(p.active), ["protocol": name])
        }
        for (name, p) in protocols {
            out.counter("forwarder_nat_sessions_created_total", "NAT sessions created, by protocol.", p.created, ["protocol": name])
        }
        for (name, p) in protocols {
            out.counter("forwarder_nat_sessions_expired_total", "NAT sessions expired, by protocol.", p.expired, ["protocol": name])
        }
        for (name, p) in protocols {
            out.counter("forwarder_nat_sessions_flushed_total", "NAT sessions removed by forwarder ctl, by protocol.", p.flushed,
                        ["protocol": name])
        }
        out.counter("forwarder_nat_translated_total", "Packets translated: in_out outbound (inside to outside), out_in inbound.",
                n.translatedOutbound, ["direction": "in_out"])
        out.counter("forwarder_nat_translated_total", "", n.translatedInbound, ["direction": "out_in"])
        out.counter("forwarder_nat_ipv6_bridged_total", "IPv6 frames bridged (--ipv6 bridge), by direction.",
                    n.ipv6BridgedOutbound, ["direction": "in_out"])
        out.counter("forwarder_nat_ipv6_bridged_total", "", n.ipv6BridgedInbound, ["direction": "out_in"])
        out.counters("forwarder_nat_", n.table)
        out.counters("forwarder_nat_arp_", n.arpTable)
        for r in NatDropReason.allCases {
            out.counter("forwarder_nat_drops_total", "NAT drops, by reason (the JSON nat.drops).", n.drops[r],
                    ["reason": r.description])
        }
    }
}
