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
struct Metrics {
    private var out = PrometheusText()

    /// The exposition text of `summary`; `startTime` is the Unix time the run started, `up`
    /// false in the file written after the workers stopped.
    static func text(_ summary: Summary, startTime: Double, up: Bool) -> String {
        var m = Metrics()
        m.build(summary, startTime: startTime, up: up)
        return m.out.text
    }

    /// AF_XDP: the sockets' counters per interface (the JSON `xdp.interfaces`), one family each.
    private mutating func xdpFamilies(_ x: XdpReport) {
        let readable = x.interfaces.compactMap { i in i.counters.map { (name: i.name, fields: $0.fields) } }
        guard let first = readable.first else { return }
        for (index, field) in first.fields.enumerated() {
            for i in readable {
                out.counter("forwarder_xdp_\(field.key)_total", "AF_XDP: \(field.help).", i.fields[index].value,
                            ["interface": i.name])
            }
        }
    }

    private mutating func build(_ s: Summary, startTime: Double, up: Bool) {
        let o = s.options
        out.gauge("forwarder_up", "1 while the forwarder runs; 0 in the file written after it stopped.", up ? 1 : 0)
        out.gauge("forwarder_info", "Constant 1, labelled with the version, the mode and the interfaces.", 1,
              ["version": forwarderVersion, "mode": o.mode.name, "alloc": o.allocator.rawValue,
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

        let kernel = s.kernel.compactMap { k in k.counters.map { (k.interface, $0) } }
        typealias PcapCounters = (received: UInt64, dropped: UInt64, interfaceDropped: UInt64)
        let pcap: [(String, String, (PcapCounters) -> UInt64)] = [
            ("forwarder_pcap_received_total", "libpcap: packets the kernel passed to the capture.", { $0.received }),
            ("forwarder_pcap_dropped_total", "libpcap: packets dropped because the ring was full.", { $0.dropped }),
            ("forwarder_pcap_if_dropped_total", "libpcap: packets dropped by the interface or its driver.",
             { $0.interfaceDropped }),
        ]
        for (metric, help, value) in pcap {
            for (name, c) in kernel { out.counter(metric, help, value(c), ["interface": name]) }
        }
        if let x = s.xdp { xdpFamilies(x) }

        let a = s.totals.allocator
        out.counter("forwarder_allocator_gets_total", "Packet heads taken from the allocator.", a.gets)
        out.counter("forwarder_allocator_puts_total", "Packet heads given back to the allocator.", a.puts)
        out.counter("forwarder_allocator_failures_total", "Times no packet head could be had.", a.refillFailures)
        if let p = s.pool {
            out.counters([
                ("forwarder_cache_gets_total", "Head cache: heads taken.", a.gets),
                ("forwarder_cache_hits_total", "Head cache: gets served from the per-thread cache.", a.hits),
                ("forwarder_cache_puts_total", "Head cache: heads given back.", a.puts),
                ("forwarder_cache_refills_total", "Head cache: refills from the shared pool.", a.refills),
                ("forwarder_cache_refill_heads_total", "Head cache: heads moved in by refills.", a.refillHeads),
                ("forwarder_cache_refill_failures_total", "Head cache: refills the pool could not serve.", a.refillFailures),
                ("forwarder_cache_flushes_total", "Head cache: flushes to the shared pool.", a.flushes),
                ("forwarder_cache_flush_heads_total", "Head cache: heads moved out by flushes.", a.flushHeads),
                ("forwarder_cache_remote_frees_total", "Head cache: heads freed by another thread than their owner.", a.remoteFrees),
                ("forwarder_cache_remote_returns_total", "Head cache: remotely freed heads taken back by their owner.", a.remoteReturns),
            ])
            out.gauge("forwarder_cache_in_use", "Head cache: heads taken and not yet given back (in flight; the JSON cache.in_use).",
                  Double(a.inUse))
            out.gauge("forwarder_pool_slabs", "Shared pool: slabs allocated.", Double(p.slabs))
            out.gauge("forwarder_pool_heads", "Shared pool: heads allocated in all.", Double(p.totalHeads))
            out.gauge("forwarder_pool_heads_in_use", "Shared pool: heads out of the pool (in caches or in flight).",
                  Double(p.outstanding))
            out.gauge("forwarder_pool_high_water", "Shared pool: most heads out of the pool at once.", Double(p.highWater))
        }

        if let n = s.totals.nat { nat(n) }

        if let c = s.capture {
            out.counter("forwarder_capture_written_total", "Dropped frames written to the --capture-drops file.", c.written)
            out.counter("forwarder_capture_skipped_total", "Dropped frames not written: past --capture-limit.", c.skipped)
        }
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
        out.counter("forwarder_nat_translated_total", "Packets translated: in_out outbound (inside to outside), out_in inbound.",
                n.translatedOutbound, ["direction": "in_out"])
        out.counter("forwarder_nat_translated_total", "", n.translatedInbound, ["direction": "out_in"])
        out.counters([
            ("forwarder_nat_hairpinned_total", "Packets hairpinned (inside to inside through the outside address).", n.hairpinned),
            ("forwarder_nat_icmp_errors_translated_total", "ICMP errors translated.", n.icmpErrorsTranslated),
            ("forwarder_nat_icmp_errors_sent_total", "ICMP errors the gateway sent.", n.icmpErrorsSent),
            ("forwarder_nat_icmp_errors_rate_limited_total", "ICMP errors not sent: rate limit.", n.icmpErrorsRateLimited),
            ("forwarder_nat_echo_replies_sent_total", "Echo replies the gateway sent.", n.echoRepliesSent),
            ("forwarder_nat_mss_clamped_total", "TCP SYNs whose MSS option was lowered (--mss-clamp).", n.mssClamped),
            ("forwarder_nat_fragments_translated_total", "Non-first fragments translated.", n.fragmentsTranslated),
            ("forwarder_nat_fragments_held_total", "Fragments held until their first fragment came.", n.fragmentsHeld),
            ("forwarder_nat_arp_received_total", "ARP packets received.", n.arpReceived),
            ("forwarder_nat_arp_requests_answered_total", "ARP requests answered.", n.arpRequestsAnswered),
            ("forwarder_nat_arp_requests_sent_total", "ARP requests sent.", n.arpRequestsSent),
            ("forwarder_nat_arp_replies_received_total", "ARP replies received.", n.arpRepliesReceived),
            ("forwarder_nat_arp_held_total", "Packets held waiting for ARP.", n.arpHeld),
            ("forwarder_nat_arp_released_total", "Held packets released after ARP resolved.", n.arpReleased),
        ])
        for r in NatDropReason.allCases {
            out.counter("forwarder_nat_drops_total", "NAT drops, by reason (the JSON nat.drops).", n.drops[r],
                    ["reason": r.description])
        }
    }
}
