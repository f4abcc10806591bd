/// The kernel's counters of one interface's sockets, summed over the workers: frames it passed
/// up, dropped because the ring was full, dropped by the interface (libpcap's `pcap_stats`, or
/// the AF_XDP sockets' XDP_STATISTICS, which have no interface drops).
public struct KernelCounters: Sendable, Equatable {
    public var received: UInt64
    public var dropped: UInt64
    public var interfaceDropped: UInt64

    public init(received: UInt64 = 0, dropped: UInt64 = 0, interfaceDropped: UInt64 = 0) {
        self.received = received
        self.dropped = dropped
        self.interfaceDropped = interfaceDropped
    }

    /// Every counter: its JSON key, what it counts (the metrics' HELP) and its value. The JSON
    /// summary and the metrics iterate this one list.
    public var fields: [(key: String, help: String, value: UInt64)] {
        [("received", "packets the kernel passed to the sockets (AF_XDP: frames taken plus those it dropped)", received),
         ("dropped", "packets the kernel dropped because the ring was full (AF_XDP: RX ring full or no fill frame)", dropped),
         ("if_dropped", "packets dropped by the interface or its driver (AF_XDP: not counted, 0)", interfaceDropped)]
    }
}

/// One interface's kernel counters; nil when they could not be read (the summary leaves the
/// line out).
public struct InterfaceKernelCounters: Sendable, Equatable {
    public let interface: String
    public let counters: KernelCounters?

    public init(interface: String, counters: KernelCounters?) {
        self.interface = interface
        self.counters = counters
    }
}
