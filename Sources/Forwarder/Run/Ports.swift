import Nat44
import NetDevice
import PcapIO

/// The two interfaces: what the system says about them, and their open pcap handles.
struct Ports {
    let facts: (InterfaceFacts, InterfaceFacts)
    let handles: (PcapPort.Handle, PcapPort.Handle)

    /// Looks both interfaces up, checks they are up, and opens them; errors name the interface
    /// and the fix (exit status 1).
    init(_ options: Options) throws(RuntimeError) {
        func lookup(_ name: String) throws(RuntimeError) -> InterfaceFacts {
            do { return try InterfaceFacts.lookup(name) } catch { throw RuntimeError(error.message, interface: name) }
        }
        facts = (try lookup(options.inName), try lookup(options.outName))
        for f in [facts.0, facts.1] where !f.up {
            throw RuntimeError("\(f.name) is down; bring it up first: ip link set \(f.name) up", interface: f.name)
        }
        var capture = CaptureOptions()
        capture.snaplen = options.snaplen
        capture.bufferSize = options.bufferSize
        capture.filter = options.filter
        func openPort(_ name: String) throws(RuntimeError) -> PcapPort.Handle {
            do { return try PcapPort.Handle(name: name, options: capture) } catch { throw RuntimeError(error.message, interface: name) }
        }
        handles = (try openPort(options.inName), try openPort(options.outName))
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

    /// libpcap's kernel counters of both interfaces, as of now.
    func kernelStats() -> [KernelCounters] {
        [(facts.0.name, handles.0), (facts.1.name, handles.1)].map { name, handle in
            KernelCounters(interface: name, counters: handle.kernelStats())
        }
    }
}
