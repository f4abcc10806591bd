import Telemetry
import BufferCache
import Nat44
import Pipeline

/// `--metrics-file`: the counters in the Prometheus text exposition format (version 0.0.4, the
/// node_exporter textfile-collector convention), built from the same values as the JSON summary,
/// so the file written after the workers stop equals the summary.
///
/// Counters end in `_total` (TYPE counter); gauges do not. Directions are labelled `in_out` and
/// `out_in`; `interface` is the receiving interface for rx, the sending one for tx.
struct Metrics {
    private var out = ""
    private var declared: Set<String> = []
    private var current = ""

    /// The exposition text of `summary`; `startTime` is the Unix time the run started, `up`
    /// false in the file written after the workers stopped.
    static func text(_ summary: Summary, startTime: Double, up: Bool) -> String {
        var m = Metrics()
        m.build(summary, startTime: startTime, up: up)
        return m.out
    }

    private mutating func build(_ s: Summary, startTime: Double, up: Bool) {
        let o = s.options
        gauge("forwarder_up", "1 while the forwarder runs; 0 in the file written after it stopped.", up ? 1 : 0)
        gauge("forwarder_info", "Constant 1, labelled with the version, the mode and the interfaces.", 1,
              ["version": forwarderVersion, "mode": o.mode.name, "alloc": o.allocator.rawValue,
               "in": o.inName, "out": o.outName])
        gauge("forwarder_start_time_seconds", "Unix time the forwarder started.", startTime)
        gauge("forwarder_elapsed_seconds", "Seconds since the workers started.", s.elapsed)

        let directions = o.directions.map { d in
            (counters: s.totals.direction(d.index), label: d.index == 0 ? "in_out" : "out_in", from: d.from, to: d.to)
        }
        for d in directions {
            counter("forwarder_rx_frames_total", "Frames received, by direction and receiving interface.",
                    d.counters.rxFrames, ["direction": d.label, "interface": d.from])
        }
        for d in directions {
            counter("forwarder_rx_bytes_total", "Bytes received, by direction and receiving interface.",
                    d.counters.rxBytes, ["direction": d.label, "interface": d.from])
        }
        for d in directions {
            counter("forwarder_tx_frames_total", "Frames sent, by direction and sending interface.",
                    d.counters.txFrames, ["direction": d.label, "interface": d.to])
        }
        for d in directions {
            counter("forwarder_tx_bytes_total", "Bytes sent, by direction and sending interface.",
                    d.counters.txBytes, ["direction": d.label, "interface": d.to])
        }
        for d in directions {
            for r in DropReason.allCases {
                counter("forwarder_drops_total", "Frames dropped, by direction and reason (the JSON drops_by_reason).",
                        d.counters[r], ["direction": d.label, "reason": r.key])
            }
        }

        let kernel = s.kernel.compactMap { k in k.counters.map { (k.interface, $0) } }
        for (name, c) in kernel {
            counter("forwarder_pcap_received_total", "libpcap: packets the kernel passed to the capture.",
                    c.received, ["interface": name])
        }
        for (name, c) in kernel {
            counter("forwarder_pcap_dropped_total", "libpcap: packets dropped because the ring was full.",
                    c.dropped, ["interface": name])
        }
        for (name, c) in kernel {
            counter("forwarder_pcap_if_dropped_total", "libpcap: packets dropped by the interface or its driver.",
                    c.interfaceDropped, ["interface": name])
        }

        let a = s.totals.allocator
        counter("forwarder_allocator_gets_total", "Packet heads taken from the allocator.", a.gets)
        counter("forwarder_allocator_puts_total", "Packet heads given back to the allocator.", a.puts)
        counter("forwarder_allocator_failures_total", "Times no packet head could be had.", a.refillFailures)
        if let p = s.pool {
            counter("forwarder_cache_gets_total", "Head cache: heads taken.", a.gets)
            counter("forwarder_cache_hits_total", "Head cache: gets served from the per-thread cache.", a.hits)
            counter("forwarder_cache_puts_total", "Head cache: heads given back.", a.puts)
            counter("forwarder_cache_refills_total", "Head cache: refills from the shared pool.", a.refills)
            counter("forwarder_cache_refill_heads_total", "Head cache: heads moved in by refills.", a.refillHeads)
            counter("forwarder_cache_refill_failures_total", "Head cache: refills the pool could not serve.",
                    a.refillFailures)
            counter("forwarder_cache_flushes_total", "Head cache: flushes to the shared pool.", a.flushes)
            counter("forwarder_cache_flush_heads_total", "Head cache: heads moved out by flushes.", a.flushHeads)
            counter("forwarder_cache_remote_frees_total", "Head cache: heads freed by another thread than their owner.",
                    a.remoteFrees)
            counter("forwarder_cache_remote_returns_total", "Head cache: remotely freed heads taken back by their owner.",
                    a.remoteReturns)
            gauge("forwarder_cache_in_use", "Head cache: heads taken and not yet given back (in flight; the JSON cache.in_use).",
                  Double(a.inUse))
            gauge("forwarder_pool_slabs", "Shared pool: slabs allocated.", Double(p.slabs))
            gauge("forwarder_pool_heads", "Shared pool: heads allocated in all.", Double(p.totalHeads))
            gauge("forwarder_pool_heads_in_use", "Shared pool: heads out of the pool (in caches or in flight).",
                  Double(p.outstanding))
            gauge("forwarder_pool_high_water", "Shared pool: most heads out of the pool at once.", Double(p.highWater))
        }

        if let n = s.totals.nat { nat(n) }

        if let c = s.capture {
            counter("forwarder_capture_written_total", "Dropped frames written to the --capture-drops file.", c.written)
            counter("forwarder_capture_skipped_total", "Dropped frames not written: past --capture-limit.", c.skipped)
        }
    }

    private mutating func nat(_ n: NatCounters) {
        for (name, p) in [("tcp", n.tcp), ("udp", n.udp), ("icmp", n.icmp)] {
            gauge("forwarder_nat_sessions_active", "NAT sessions now, by protocol.", Double(p.active), ["protocol": name])
        }
        for (name, p) in [("tcp", n.tcp), ("udp", n.udp), ("icmp", n.icmp)] {
            counter("forwarder_nat_sessions_created_total", "NAT sessions created, by protocol.", p.created,
                    ["protocol": name])
        }
        for (name, p) in [("tcp", n.tcp), ("udp", n.udp), ("icmp", n.icmp)] {
            counter("forwarder_nat_sessions_expired_total", "NAT sessions expired, by protocol.", p.expired,
                    ["protocol": name])
        }
        counter("forwarder_nat_translated_total", "Packets translated: in_out outbound (inside to outside), out_in inbound.",
                n.translatedOutbound, ["direction": "in_out"])
        counter("forwarder_nat_translated_total", "", n.translatedInbound, ["direction": "out_in"])
        counter("forwarder_nat_hairpinned_total", "Packets hairpinned (inside to inside through the outside address).",
                n.hairpinned)
        counter("forwarder_nat_icmp_errors_translated_total", "ICMP errors translated.", n.icmpErrorsTranslated)
        counter("forwarder_nat_icmp_errors_sent_total", "ICMP errors the gateway sent.", n.icmpErrorsSent)
        counter("forwarder_nat_icmp_errors_rate_limited_total", "ICMP errors not sent: rate limit.",
                n.icmpErrorsRateLimited)
        counter("forwarder_nat_echo_replies_sent_total", "Echo replies the gateway sent.", n.echoRepliesSent)
        counter("forwarder_nat_fragments_translated_total", "Non-first fragments translated.", n.fragmentsTranslated)
        counter("forwarder_nat_fragments_held_total", "Fragments held until their first fragment came.", n.fragmentsHeld)
        counter("forwarder_nat_arp_received_total", "ARP packets received.", n.arpReceived)
        counter("forwarder_nat_arp_requests_answered_total", "ARP requests answered.", n.arpRequestsAnswered)
        counter("forwarder_nat_arp_requests_sent_total", "ARP requests sent.", n.arpRequestsSent)
        counter("forwarder_nat_arp_replies_received_total", "ARP replies received.", n.arpRepliesReceived)
        counter("forwarder_nat_arp_held_total", "Packets held waiting for ARP.", n.arpHeld)
        counter("forwarder_nat_arp_released_total", "Held packets released after ARP resolved.", n.arpReleased)
        for r in NatDropReason.allCases {
            counter("forwarder_nat_drops_total", "NAT drops, by reason (the JSON nat.drops).", n.drops[r],
                    ["reason": r.description])
        }
    }

    // MARK: the format

    private mutating func counter(_ name: String, _ help: String, _ value: UInt64, _ labels: KeyValuePairs<String, String> = [:]) {
        declare(name, help, "counter")
        sample(name, labels, String(value))
    }

    private mutating func gauge(_ name: String, _ help: String, _ value: Double, _ labels: KeyValuePairs<String, String> = [:]) {
        declare(name, help, "gauge")
        let text = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : formatFixed(value, 6)
        sample(name, labels, text)
    }

    /// HELP and TYPE once per metric, before its first sample (a metric's samples stay together:
    /// callers emit them in a row).
    private mutating func declare(_ name: String, _ help: String, _ type: String) {
        defer { current = name }
        guard declared.insert(name).inserted else {
            assert(current == name, "the samples of \(name) are not together")
            return
        }
        out += "# HELP \(name) \(Metrics.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    private mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: String) {
        out += name
        if !labels.isEmpty {
            out += "{" + labels.map { "\($0.key)=\"\(Metrics.escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
        }
        out += " " + value + "\n"
    }

    /// A label value: backslash, double quote and line feed escaped.
    static func escapeLabel(_ s: String) -> String {
        var r = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": r += "\\\\"
            case "\"": r += "\\\""
            case "\n": r += "\\n"
            default: r.unicodeScalars.append(c)
            }
        }
        return r
    }

    /// A HELP text: backslash and line feed escaped.
    static func escapeHelp(_ s: String) -> String {
        var r = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            default: r.unicodeScalars.append(c)
            }
        }
        return r
    }
}
