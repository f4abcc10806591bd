import PacketFilter
import Pipeline

/// Every worker's AF_XDP pair: per worker one UMEM shared by a socket on each interface, worker
/// i on queue `--xdp-queue` + i of both.
public struct XdpPortSet: PortSet {
    /// `pairs[i]`: worker i's UMEM and sockets (side 0 on IN, side 1 on OUT).
    public let pairs: [XdpPair]
    public let notes: [PortNote]
    public let warnings: [PortNote]
    /// The queues the pairs are bound to (pair i: worker i's).
    public let queues: ClosedRange<UInt32>
    /// Bytes of a frame the pipeline sees at most (`--snaplen`).
    @usableFromInline let snaplen: Int
    /// `--filter`: the program the ports run on each frame (pcap's runs in the kernel).
    @usableFromInline let filter: PcapFilter.Program?

    /// Prepares both interfaces and opens `workers` pairs (with `workersAuto`, at most one per
    /// RX queue from `options.queue`). The UMEM frames are 2048 bytes unless `mtu` needs more: a
    /// frame of MTU + 14 + two VLAN tags must fit behind the kernel's 256-byte XDP headroom, else
    /// the kernel drops it before the forwarder can count it (4096 bytes then; larger frames are
    /// the kernel's drops). A failure releases what was set up: the pairs opened so far close,
    /// and the interfaces detach any program attached so far.
    public init(_ names: (String, String), options: XdpOptions, workers: Int, workersAuto: Bool, mtu: Int,
                snaplen: Int, filter expression: String?) throws(PortSetError) {
        var xdp = options
        xdp.frameSize = mtu + 14 + 8 + 256 <= 2048 ? 2048 : 4096
        var notes: [PortNote] = []
        do throws(XdpError) {
            let inside = try XdpInterface(name: names.0, options: xdp)
            let outside = try XdpInterface(name: names.1, options: xdp)
            var count = UInt32(workers)
            if workersAuto, let a = inside.rxQueues, let b = outside.rxQueues {
                count = min(count, min(a, b) > xdp.queue ? min(a, b) - xdp.queue : 1)
            }
            xdp.queueCount = count
            for i in [inside, outside] {
                if let id = i.removedLeftover {
                    notes.append(PortNote(i.name, "\(i.name): removed the XDP program (id \(id)) that a forwarder which did not "
                        + "stop cleanly left attached"))
                }
            }
            pairs = try XdpPair.perQueue((inside, outside), options: xdp)
        } catch {
            throw PortSetError(error.message, interface: error.interface)
        }
        let first = pairs[0]
        queues = first.options.queue...pairs[pairs.count - 1].options.queue
        notes.append(PortNote(nil, "io: xdp, \(names.0) \(first.mode(side: 0)), \(names.1) \(first.mode(side: 1)), "
            + queues.queueWords + (options.zeroCopy ? ", zero-copy" : ", copy")))
        self.notes = notes
        warnings = [first.interfaces.0, first.interfaces.1].compactMap { [queues] i in Self.unreadQueues(i, bound: queues) }
        self.snaplen = snaplen
        var problem = ""
        filter = expression.flatMap { PcapFilter.Program($0, snaplen: snaplen, error: &problem) }
        // The options checked that it compiles: only running out of memory is left.
        if let expression, filter == nil { throw PortSetError("--filter '\(expression)': \(problem)", interface: nil) }
    }

    /// The frames the NIC puts on a queue no socket of ours is bound to go to the kernel stack
    /// (libxdp's program passes them), so they are never forwarded: said once at the start.
    private static func unreadQueues(_ i: XdpInterface, bound: ClosedRange<UInt32>) -> PortNote? {
        guard let queues = i.rxQueues, bound.lowerBound > 0 || bound.upperBound + 1 < queues else { return nil }
        return PortNote(i.name, "\(i.name) has \(queues) RX queues and the AF_XDP sockets are on \(bound.queueWords) only: "
            + "frames the NIC puts on the others go to the kernel stack and are not forwarded; use --workers \(queues) "
            + "(with --xdp-queue 0), or one queue: ethtool -L \(i.name) combined 1")
    }

    public var workers: Int { pairs.count }

    @inlinable
    public func withPorts<U: PortUser>(worker: Int, burst: Int, _ user: U) throws(PortError) {
        try user.run(inPort: XdpPort(pair: pairs[worker], side: 0, burst: burst, snaplen: snaplen, filter: filter),
                     outPort: XdpPort(pair: pairs[worker], side: 1, burst: burst, snaplen: snaplen, filter: filter))
    }

    /// The sockets read once: their counters summed over the workers, and the kernel line.
    public func report() -> XdpReport {
        let first = pairs[0]
        let interfaces = [first.interfaces.0, first.interfaces.1].enumerated().map { side, i in
            var sum: XdpSocketCounters? = XdpSocketCounters()
            for p in pairs {
                guard let c = p.socketCounters(side: side), let s = sum else { sum = nil; break }
                sum = s + c
            }
            return XdpReport.Interface(name: i.name, mode: first.mode(side: side), counters: sum)
        }
        return XdpReport(queues: queues, zeroCopy: first.options.zeroCopy, interfaces: interfaces)
    }

    /// Closes the pairs and, with `detach` (false once `--user` dropped the capabilities: the
    /// release guard does it), detaches their programs now. A problem of the UMEM frame
    /// accounting or of a detach, if any.
    public func close(detach: Bool) -> String? {
        var problem: String?
        for p in pairs {
            if let text = p.close().problem { problem = "AF_XDP frame accounting: \(text)" }
        }
        for p in pairs.prefix(1) where detach {
            for name in [p.interfaces.0.name, p.interfaces.1.name] {
                if let text = XdpInterface.release(name) { problem = "\(name): \(text)" }
            }
        }
        return problem
    }
}

/// AF_XDP's part of the summary.
public struct XdpReport: PortReport {
    public struct Interface {
        public let name: String
        /// The program's mode ("native" or "generic").
        public let mode: String
        /// The sockets' counters summed over the workers; nil: unreadable.
        public let counters: XdpSocketCounters?

        public init(name: String, mode: String, counters: XdpSocketCounters?) {
            self.name = name
            self.mode = mode
            self.counters = counters
        }
    }

    /// The queues bound, one per worker.
    public let queues: ClosedRange<UInt32>
    public let zeroCopy: Bool
    /// IN first.
    public let interfaces: [Interface]

    public init(queues: ClosedRange<UInt32>, zeroCopy: Bool, interfaces: [Interface]) {
        self.queues = queues
        self.zeroCopy = zeroCopy
        self.interfaces = interfaces
    }

    /// The summary's kernel line from XDP_STATISTICS: received = frames taken + frames the kernel
    /// dropped (RX ring full, no fill frame), dropped by the ring = the latter; the interface's
    /// own drops are not there (0).
    public var kernel: [InterfaceKernelCounters] {
        interfaces.map { i in
            InterfaceKernelCounters(interface: i.name, counters: i.counters.map {
                KernelCounters(received: $0.rxFrames &+ $0.rxDropped, dropped: $0.rxDropped)
            })
        }
    }
}

extension ClosedRange where Bound == UInt32 {
    /// "queue 0", "queues 0-3": the AF_XDP queues in the start line and the summary.
    public var queueWords: String { lowerBound == upperBound ? "queue \(lowerBound)" : "queues \(lowerBound)-\(upperBound)" }
}
