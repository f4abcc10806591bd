import Nat44
import NetDevice
import PacketFormats
import PcapIO
#if canImport(Glibc)
import Glibc
#endif

/// The two interfaces: what the system says about them, and their open pcap handles, one pair
/// per worker (with several workers, each interface's handles form one fanout group).
struct Ports {
    let facts: (InterfaceFacts, InterfaceFacts)
    /// `handles[i]`: worker i's (IN, OUT) handles.
    let handles: [(PcapPort.Handle, PcapPort.Handle)]

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
        let inside = try openGroup(facts.0, capture(facts.0, inside: true))
        let outside = try openGroup(facts.1, capture(facts.1, inside: false))
        handles = Array(zip(inside, outside))
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

    /// What may stop traffic or corrupt it, each with its fix: no carrier, offloads, and (in NAT
    /// mode) kernel addresses that would answer ARP beside the gateway.
    func warnings(nat: Bool) -> [(interface: String, message: String)] {
        var warnings: [(interface: String, message: String)] = []
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

    /// libpcap's kernel counters of both interfaces as of now, each summed over its handles.
    func kernelStats() -> [KernelCounters] {
        [(facts.0.name, handles.map(\.0)), (facts.1.name, handles.map(\.1))].map { name, list in
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
