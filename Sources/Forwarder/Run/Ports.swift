import Nat44
import NetDevice
import PacketFormats
import PcapIO
import XdpIO
#if canImport(Glibc)
import Glibc
#endif

/// The open ports of every worker, of one kind: the worker is generic over its port, so the
/// runner starts `Worker<_, _, PcapPort>` or `Worker<_, _, XdpPort>` in a branch of its own
/// and the per-frame path has no existential.
enum PortHandles: Sendable {
    /// `handles[i]`: worker i's (IN, OUT) pcap handles.
    case pcap([(PcapPort.Handle, PcapPort.Handle)])
    /// `pairs[i]`: worker i's UMEM and sockets (side 0 on IN, side 1 on OUT).
    case xdp([XdpPair])
}

/// The two interfaces: what the system says about them, and their open ports, one pair per
/// worker (with pcap and several workers, each interface's handles form one fanout group).
struct Ports {
    let facts: (InterfaceFacts, InterfaceFacts)
    let io: PortHandles
    /// Lines for the log about the I/O chosen: `--io auto`'s choice and why, a crashed run's
    /// XDP program removed.
    let notes: [(interface: String?, message: String)]
    /// AF_XDP: interfaces with RX queues that no socket reads (see `warnings`).
    private let queueWarnings: [(interface: String, message: String)]
    /// AF_XDP with `--filter`: the program the ports run on each frame (pcap's runs in the kernel).
    let xdpFilter: PcapFilter.Program?

    /// Looks both interfaces up, checks they are up, and opens them; errors name the interface
    /// and the fix (exit status 1). `steering(side)` is the fanout program for that interface
    /// (NAT with several workers and `--nat-steering bpf`), nil for the kernel's flow hash.
    init(_ options: Options, steering: (Bool) -> [ClassicBPFInstruction]?) throws(RuntimeError) {
        func lookup(_ name: String) throws(RuntimeError) -> InterfaceFacts {
            do { return try InterfaceFacts.lookup(name) } catch { throw RuntimeError(error.message, interface: name) }
        }
        facts = (try lookup(options.inName), try lookup(options.outName))
        for f in [facts.0, facts.1] where !f.up {
            throw RuntimeError("\(f.name) is down; bring it up first: ip link set \(f.name) up", interface: f.name)
        }
        let p = options.parallel
        func capture(_ f: InterfaceFacts, inside: Bool) -> CaptureOptions {
            var c = CaptureOptions()
            c.snaplen = options.snaplen
            c.bufferSize = options.bufferSize
            c.filter = options.filter
            c.qdiscBypass = p.qdiscBypass
            c.txRing = p.txRing
            if p.workers > 1 {
                let mode: FanoutSettings.Mode = steering(inside).map { .classicBPF($0) } ?? .hash
                c.fanout = FanoutSettings(group: FanoutSettings.groupID(ifindex: f.index),
                                          mode: mode, rollover: p.fanoutRollover, defrag: p.fanoutDefrag)
            }
            return c
        }
        func openPort(_ name: String, _ c: CaptureOptions) throws(RuntimeError) -> PcapPort.Handle {
            do { return try PcapPort.Handle(name: name, options: c) } catch { throw RuntimeError(error.message, interface: name) }
        }
        /// One handle per worker, in worker order (a fanout program's result i is worker i's
        /// socket). Fanout group ids are per network namespace and the kernel cannot say which are
        /// free: when another program holds the first id tried, the next of a few others is used.
        func openGroup(_ f: InterfaceFacts, _ first: CaptureOptions) throws(RuntimeError) -> [PcapPort.Handle] {
            var c = first
            var opened: [PcapPort.Handle] = []
            if var fanout = c.fanout {
                for attempt in 0..<8 {
                    fanout.group = first.fanout!.group &+ UInt16(attempt) &* 0x1000
                    c.fanout = fanout
                    do {
                        opened.append(try PcapPort.Handle(name: f.name, options: c))
                        break
                    } catch {
                        if error.kind == .fanoutRefused && attempt < 7 { continue }
                        throw RuntimeError(error.message, interface: f.name)
                    }
                }
            }
            while opened.count < p.workers { opened.append(try openPort(f.name, c)) }
            return opened
        }
        let found = facts
        func openPcap() throws(RuntimeError) -> PortHandles {
            let inside = try openGroup(found.0, capture(found.0, inside: true))
            let outside = try openGroup(found.1, capture(found.1, inside: false))
            return .pcap(Array(zip(inside, outside)))
        }
        var lines: [(interface: String?, message: String)] = []
        let chosen: PortHandles
        switch options.io {
        case .pcap:
            chosen = try openPcap()
        case .xdp:
            do { chosen = try Ports.openXdp(options, mtu: max(found.0.mtu, found.1.mtu), notes: &lines) } catch { throw RuntimeError(error.message, interface: error.interface) }
        case .auto:
            if let reason = options.xdpExcludedBy {
                lines.append((nil, "--io auto: using pcap: \(reason)"))
                chosen = try openPcap()
            } else {
                do {
                    chosen = try Ports.openXdp(options, mtu: max(found.0.mtu, found.1.mtu), notes: &lines)
                } catch {
                    lines.append((error.interface, "--io auto: using pcap: \(error.message)"))
                    chosen = try openPcap()
                }
            }
        }
        var unread: [(interface: String, message: String)] = []
        if case .xdp(let pairs) = chosen, let p = pairs.first, let queues = Ports.queues(of: pairs) {
            lines.append((nil, "io: xdp, \(options.inName) \(p.mode(side: 0)), \(options.outName) \(p.mode(side: 1)), "
                + queues.queueWords + (options.xdp.zeroCopy ? ", zero-copy" : ", copy")))
            for i in [p.interfaces.0, p.interfaces.1] {
                if let warning = Ports.unreadQueues(i, bound: queues) { unread.append((i.name, warning)) }
            }
        }
        var program: PcapFilter.Program?
        if case .xdp = chosen, let expression = options.filter {
            var problem = ""
            program = PcapFilter.Program(expression, snaplen: options.snaplen, error: &problem)
            // Options checked it compiles: only running out of memory is left.
            if program == nil { throw RuntimeError("--filter '\(expression)': \(problem)") }
        }
        io = chosen
        notes = lines
        queueWarnings = unread
        xdpFilter = program
    }

    /// AF_XDP: the frames the NIC puts on a queue no socket of ours is bound to go to the kernel
    /// stack (libxdp's program passes them), so they are never forwarded: said once at the start.
    private static func unreadQueues(_ i: XdpInterface, bound: ClosedRange<UInt32>) -> String? {
        guard let queues = i.rxQueues, bound.lowerBound > 0 || bound.upperBound + 1 < queues else { return nil }
        return "\(i.name) has \(queues) RX queues and the AF_XDP sockets are on \(bound.queueWords) only: frames the NIC puts on the "
            + "others go to the kernel stack and are not forwarded; use --workers \(queues) (with --xdp-queue 0), or one "
            + "queue: ethtool -L \(i.name) combined 1"
    }

    /// Per worker, one UMEM shared by a socket on each interface, worker i on queue
    /// `--xdp-queue` + i of both. A failure releases what was set up: the pairs opened so far
    /// close, and the interfaces detach any program attached so far.
    /// The UMEM frames are 2048 bytes unless an MTU needs more: a frame of MTU + 14 + two VLAN
    /// tags must fit behind the kernel's 256-byte XDP headroom, else the kernel drops it before
    /// the forwarder can count it (4096 bytes then; larger frames are the kernel's drops).
    private static func openXdp(_ options: Options, mtu: Int, notes: inout [(interface: String?, message: String)]) throws(XdpError) -> PortHandles {
        var xdp = options.xdp
        xdp.frameSize = mtu + 14 + 8 + 256 <= 2048 ? 2048 : 4096
        let inside = try XdpInterface(name: options.inName, options: xdp)
        let outside = try XdpInterface(name: options.outName, options: xdp)
        var workers = UInt32(options.parallel.workers)
        if options.parallel.workersAuto, let a = inside.rxQueues, let b = outside.rxQueues {
            workers = min(workers, min(a, b) > xdp.queue ? min(a, b) - xdp.queue : 1)
        }
        xdp.queueCount = workers
        for i in [inside, outside] {
            if let id = i.removedLeftover {
                notes.append((i.name, "\(i.name): removed the XDP program (id \(id)) that a forwarder which did not stop "
                    + "cleanly left attached"))
            }
        }
        return .xdp(try XdpPair.perQueue((inside, outside), options: xdp))
    }

    /// Closes the AF_XDP pairs and, with `detach` (false once `--user` dropped the capabilities:
    /// the release guard does it), detaches their programs now (pcap handles close when the
    /// last reference goes). Returns a problem of the UMEM frame accounting, if any.
    func close(detach: Bool) -> String? {
        guard case .xdp(let pairs) = io else { return nil }
        var problem: String?
        for p in pairs {
            let census = p.close()
            if let text = census.problem { problem = "AF_XDP frame accounting: \(text)" }
        }
        for p in pairs.prefix(1) where detach {
            for name in [p.interfaces.0.name, p.interfaces.1.name] {
                if let text = XdpInterface.release(name) { problem = "\(name): \(text)" }
            }
        }
        return problem
    }

    /// Workers to run: one per handle pair or UMEM pair (`--workers auto` over AF_XDP is at most
    /// one per RX queue).
    var workers: Int {
        switch io {
        case .pcap(let handles): handles.count
        case .xdp(let pairs): pairs.count
        }
    }

    /// The queues the pairs are bound to (pair i: worker i's), nil when there are none.
    private static func queues(of pairs: [XdpPair]) -> ClosedRange<UInt32>? {
        guard let first = pairs.first, let last = pairs.last else { return nil }
        return first.options.queue...last.options.queue
    }

    /// AF_XDP's part of the summary as of now; nil with pcap.
    func xdpReport() -> XdpReport? {
        guard case .xdp(let pairs) = io, let first = pairs.first, let queues = Ports.queues(of: pairs) else { return nil }
        let interfaces = [first.interfaces.0, first.interfaces.1].enumerated().map { side, i in
            var sum: XdpSocketCounters? = XdpSocketCounters()
            for p in pairs {
                guard let c = p.socketCounters(side: side), let s = sum else { sum = nil; break }
                sum = s + c
            }
            return (name: i.name, mode: first.mode(side: side), counters: sum)
        }
        return XdpReport(queues: queues, zeroCopy: first.options.zeroCopy, interfaces: interfaces)
    }

    /// The NAT configuration completed with the interfaces' MACs and MTUs.
    func complete(_ nat: NatConfig) throws(RuntimeError) -> NatConfig {
        var c = nat
        c.insideMAC = facts.0.mac
        c.outsideMAC = facts.1.mac
        c.insideMTU = facts.0.mtu
        c.outsideMTU = facts.1.mtu
        do { try c.validate() } catch { throw RuntimeError("\(facts.0.name)/\(facts.1.name): \(error.message)") }
        return c
    }

    /// What may stop traffic or corrupt it, each with its fix: AF_XDP queues no socket reads, no
    /// carrier, offloads, and (in NAT mode) kernel addresses that would answer ARP beside the
    /// gateway.
    func warnings(nat: Bool) -> [(interface: String, message: String)] {
        var warnings = queueWarnings
        for f in [facts.0, facts.1] {
            if !f.running { warnings.append((f.name, "\(f.name) is up but has no carrier (link down): nothing will flow until it does")) }
            warnings += f.offloadWarnings().map { (f.name, $0) }
        }
        guard nat else { return warnings }
        for f in [facts.0, facts.1] {
            for address in kernelIPv4Addresses(on: f.name) {
                warnings.append((f.name, "\(f.name) also has the kernel address \(address): the kernel will answer ARP and "
                    + "send its own RSTs and ICMP errors beside the NAT; remove it: ip addr del \(address) dev \(f.name)"))
            }
        }
        return warnings
    }

    /// libpcap's kernel counters of both interfaces as of now, each summed over its handles;
    /// none over AF_XDP, whose kernel line comes from its sockets (`XdpReport.kernel`).
    func kernelStats() -> [KernelCounters] {
        guard case .pcap(let handles) = io else { return [] }
        return [(facts.0.name, handles.map(\.0)), (facts.1.name, handles.map(\.1))].map { name, list in
            // The interface's own drops are the same figure on every handle: counted once.
            var sum: (received: UInt64, dropped: UInt64, interfaceDropped: UInt64)? = (0, 0, 0)
            for (i, h) in list.enumerated() {
                guard let c = h.kernelStats(), let s = sum else { sum = nil; break }
                sum = (s.received + c.received, s.dropped + c.dropped, i == 0 ? c.interfaceDropped : s.interfaceDropped)
            }
            return KernelCounters(interface: name, counters: sum)
        }
    }
}
