import Nat44
import NetDevice
import PacketFormats
import PcapIO
import Pipeline
import XdpIO

/// The open ports of every worker, of the kind `--io` chose: the runner starts
/// `Worker<_, _, PcapPort>` or `Worker<_, _, XdpPort>` in a branch of its own.
enum PortSets {
    case pcap(PcapPortSet)
    case xdp(XdpPortSet)
}

/// The two interfaces: what the system says about them, and their open ports.
struct Ports {
    let facts: (InterfaceFacts, InterfaceFacts)
    let sets: PortSets
    /// `--io auto`'s choice and why.
    private let notes: [PortNote]

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
        let p = options.parallel, names = (options.inName, options.outName), found = facts
        func capture(_ f: InterfaceFacts, inside: Bool) -> CaptureOptions {
            var c = CaptureOptions()
            c.snaplen = options.snaplen
            c.bufferSize = options.bufferSize
            c.filter = options.filter
            c.qdiscBypass = p.qdiscBypass
            c.txRing = p.txRing
            if p.workers > 1 {
                c.fanout = FanoutSettings(group: FanoutSettings.groupID(ifindex: f.index),
                                          mode: steering(inside).map { .classicBPF($0) } ?? .hash,
                                          rollover: p.fanoutRollover, defrag: p.fanoutDefrag)
            }
            return c
        }
        func openPcap() throws(PortSetError) -> PortSets {
            let options = (capture(found.0, inside: true), capture(found.1, inside: false))
            return .pcap(try PcapPortSet(names, options: options, workers: p.workers))
        }
        func openXdp() throws(PortSetError) -> PortSets {
            .xdp(try XdpPortSet(names, options: options.xdp, workers: p.workers, workersAuto: p.workersAuto,
                                mtu: max(found.0.mtu, found.1.mtu), snaplen: options.snaplen, filter: options.filter))
        }
        var lines: [PortNote] = []
        do throws(PortSetError) {
            switch options.io {
            case .pcap: sets = try openPcap()
            case .xdp: sets = try openXdp()
            case .auto:
                if let reason = options.xdpExcludedBy {
                    lines.append(PortNote(nil, "--io auto: using pcap: \(reason)"))
                    sets = try openPcap()
                } else {
                    do throws(PortSetError) { sets = try openXdp() } catch {
                        lines.append(PortNote(error.interface, "--io auto: using pcap: \(error.message)"))
                        sets = try openPcap()
                    }
                }
            }
        } catch {
            throw RuntimeError(error.message, interface: error.interface)
        }
        notes = lines
    }

    private func either<T>(_ read: (any PortSet) -> T) -> T {
        switch sets {
        case .pcap(let s): read(s)
        case .xdp(let s): read(s)
        }
    }

    /// Lines for the log about the I/O chosen: `--io auto`'s choice and why, then the set's.
    var startNotes: [PortNote] { notes + either(\.notes) }

    /// Workers to run: one per handle pair or UMEM pair (`--workers auto` over AF_XDP is at most
    /// one per RX queue).
    var workers: Int { either(\.workers) }

    /// Closes the ports (see `PortSet.close`).
    func close(detach: Bool) -> String? { either { $0.close(detach: detach) } }

    /// The kernel line of both interfaces as of now, and AF_XDP's part of the summary (nil with
    /// pcap), from one reading of the sockets.
    func report() -> (kernel: [InterfaceKernelCounters], xdp: XdpReport?) {
        switch sets {
        case .pcap(let s):
            return (s.report().kernel, nil)
        case .xdp(let s):
            let r = s.report()
            return (r.kernel, r)
        }
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

    /// What may stop traffic or corrupt it, each with its fix: the port set's (AF_XDP queues no
    /// socket reads), no carrier, offloads, and (in NAT mode) kernel addresses that would answer
    /// ARP beside the gateway.
    func warnings(nat: Bool) -> [PortNote] {
        var warnings = either(\.warnings)
        for f in [facts.0, facts.1] {
            if !f.running { warnings.append(PortNote(f.name, "\(f.name) is up but has no carrier (link down): nothing will flow until it does")) }
            warnings += f.offloadWarnings().map { PortNote(f.name, $0) }
        }
        guard nat else { return warnings }
        for f in [facts.0, facts.1] {
            for address in kernelIPv4Addresses(on: f.name) {
                warnings.append(PortNote(f.name, "\(f.name) also has the kernel address \(address): the kernel will answer ARP and "
                    + "send its own RSTs and ICMP errors beside the NAT; remove it: ip addr del \(address) dev \(f.name)"))
            }
        }
        return warnings
    }
}
