import Pipeline

/// Every worker's libpcap handles on the two interfaces: with several workers, each
/// interface's handles form one PACKET_FANOUT group, worker i's handle being member i (a
/// fanout program's result i is worker i's socket).
public struct PcapPortSet: PortSet {
    /// `handles[i]`: worker i's (IN, OUT) handles.
    public let handles: [(PcapPort.Handle, PcapPort.Handle)]
    public var notes: [PortNote] { [] }
    public var warnings: [PortNote] { [] }

    /// Opens `workers` handles on each interface with its options (their `fanout` set when
    /// there are several workers); errors name the interface and the fix.
    public init(_ names: (String, String), options: (CaptureOptions, CaptureOptions), workers: Int) throws(PortSetError) {
        let inside = try Self.openGroup(names.0, options.0, workers: workers)
        handles = Array(zip(inside, try Self.openGroup(names.1, options.1, workers: workers)))
    }

    /// One handle per worker. Fanout group ids are per network namespace and the kernel cannot
    /// say which are free: when another program holds the first id tried, the next of a few
    /// others is used.
    private static func openGroup(_ name: String, _ first: CaptureOptions, workers: Int) throws(PortSetError) -> [PcapPort.Handle] {
        var c = first
        var opened: [PcapPort.Handle] = []
        do throws(PcapError) {
            if let fanout = first.fanout {
                for attempt in 0..<8 {
                    c.fanout?.group = fanout.group &+ UInt16(attempt) &* 0x1000
                    do {
                        opened.append(try PcapPort.Handle(name: name, options: c))
                        break
                    } catch where error.kind == .fanoutRefused && attempt < 7 {}
                }
            }
            while opened.count < workers { opened.append(try PcapPort.Handle(name: name, options: c)) }
        } catch {
            throw PortSetError(error.message, interface: name)
        }
        return opened
    }

    public var workers: Int { handles.count }

    @inlinable
    public func withPorts<U: PortUser>(worker: Int, burst: Int, _ user: U) throws(PortError) {
        try user.run(inPort: PcapPort(handle: handles[worker].0, burst: burst), outPort: PcapPort(handle: handles[worker].1, burst: burst))
    }

    /// libpcap's kernel counters of both interfaces, each summed over its handles.
    public func report() -> PcapReport {
        PcapReport(kernel: [(handles.map(\.0)), handles.map(\.1)].map { list in
            // The interface's own drops are the same figure on every handle: counted once.
            var sum: KernelCounters? = KernelCounters()
            for (i, h) in list.enumerated() {
                guard let c = h.kernelStats(), var s = sum else { sum = nil; break }
                s.received += c.received
                s.dropped += c.dropped
                if i == 0 { s.interfaceDropped = c.interfaceDropped }
                sum = s
            }
            return InterfaceKernelCounters(interface: list[0].name, counters: sum)
        })
    }

    /// The handles close when the last port lets go of them.
    public func close(detach: Bool) -> String? { nil }
}

/// What the summary says of libpcap's ports: the kernel line per interface.
public struct PcapReport: PortReport {
    public let kernel: [InterfaceKernelCounters]
}
