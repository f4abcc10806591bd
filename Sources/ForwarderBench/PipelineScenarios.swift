import BufferCache
import Nat44
import PacketFormats
import Pipeline
import VlanTranslation

/// One mode of `forwarder-bench pipeline`: the frames it is offered, how its worker is prepared
/// (untimed) and what a round must show on the processor's counters. The processor itself comes
/// from a closure given to `runCase` with the scenario: an associated type cannot be ~Copyable
/// (the NAT processor is), so `prepare` and `checkRound` are generic and the NAT scenario reads its
/// counters back as `NatCounters` (a cast outside the timed loop).
protocol PipelineScenario {
    var mode: PipelineBenchmark.Mode { get }
    var flows: Int { get }
    var frameBytes: Int { get }
    /// The sides the worker receives on.
    var inputs: [Side] { get }
    /// Untimed: teaches the processor what it needs, runs every frame through once with the ports
    /// keeping what they sent and checks each output frame, then leaves the worker with fresh ports
    /// that hold the timed frames and keep nothing (`keepSent = false`).
    func prepare<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
        _ w: inout Worker<A, P, MemoryPort>, label: String)
    /// Frames offered on IN and on OUT for a round of `frames`.
    func offered(_ frames: Int) -> (inside: Int, outside: Int)
    /// What is wrong with the processor's counters after a round, or nil.
    func checkRound<C>(before: C, after: C, inside: Int, outside: Int) -> String?
}

extension PipelineScenario {
    var label: String {
        mode == .nat ? "\(mode.rawValue) \(flows) flows \(frameBytes) B" : "\(mode.rawValue) \(frameBytes) B"
    }

    func offered(_ frames: Int) -> (inside: Int, outside: Int) { (frames, 0) }

    /// The one-way modes: one flow, frames offered on IN only.
    var flows: Int { 1 }
    var inputs: [Side] { [.inside] }

    func checkRound<C>(before: C, after: C, inside: Int, outside: Int) -> String? { nil }
}

/// Replaces both ports with ones that hand out `inside` / `outside` and keep nothing they send.
func installTimedPorts<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
    _ w: inout Worker<A, P, MemoryPort>, inside: [[UInt8]], outside: [[UInt8]]) {
    w.inPort = MemoryPort(frames: inside)
    w.inPort.keepSent = false
    w.outPort = MemoryPort(frames: outside)
    w.outPort.keepSent = false
}

/// The one-way modes' preparation: 100 copies of `frame` offered on IN, run through, and
/// what came out of OUT (the caller checks it); fails the run when fewer came out.
func passHundred<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
    _ w: inout Worker<A, P, MemoryPort>, _ frame: [UInt8], label: String) -> [[UInt8]] {
    w.inPort = MemoryPort(frames: [frame], budget: 100)
    w.outPort = MemoryPort()
    drain(&w, label: label)
    guard w.outPort.sent.count == 100 else {
        benchFailure("\(label): preparation: \(w.outPort.sent.count) of 100 frames came out")
    }
    return w.outPort.sent
}

// MARK: l2

/// `TransparentBridge`, one way (IN -> OUT), one untagged UDP frame repeated.
struct L2Scenario: PipelineScenario {
    let frameBytes: Int
    let frame: [UInt8]

    init(frameBytes: Int) {
        self.frameBytes = frameBytes
        frame = BenchFrames.udp(.init(dstMAC: 0x02_00_00_00_00_02, srcMAC: 0x02_00_00_00_00_01,
                                      src: 0x0A00_0001, dst: 0x0A00_0002, sport: 10_000, dport: 443,
                                      length: frameBytes))
    }

    var mode: PipelineBenchmark.Mode { .l2 }
    func prepare<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
        _ w: inout Worker<A, P, MemoryPort>, label: String) {
        let out = passHundred(&w, frame, label: label)
        let changed = out.filter { $0 != frame }.count
        guard changed == 0 else { benchFailure("\(label): preparation: \(changed) of 100 frames changed") }
        installTimedPorts(&w, inside: [frame], outside: [])
    }
}

// MARK: vlan

/// `VlanTranslator` with `--vlan-map` entries, one way: frames carry the first entry's IN stack
/// and must come out with its OUT stack, the rest of the frame unchanged.
struct VlanScenario: PipelineScenario {
    let frameBytes: Int
    let map: VlanMap
    let frame: [UInt8]
    let expectedTags: [BenchFrames.Tag]

    init(frameBytes: Int, specs: [String]) {
        self.frameBytes = frameBytes
        do {
            map = try VlanMap(specs: specs, passUnmapped: false)
        } catch {
            benchFailure(error.message)
        }
        let entry = map.entries[0]
        frame = BenchFrames.udp(.init(dstMAC: 0x02_00_00_00_00_02, srcMAC: 0x02_00_00_00_00_01,
                                      tags: Self.tags(entry.inside), src: 0x0A00_0001, dst: 0x0A00_0002,
                                      sport: 10_000, dport: 443, length: frameBytes))
        expectedTags = Self.tags(entry.outside)
    }

    /// The tags a stack is written with (the canonical TPIDs, PCP 0).
    static func tags(_ stack: VlanStack) -> [BenchFrames.Tag] {
        switch stack.count {
        case 0: return []
        case 1: return [.init(tpid: EtherType.vlan, tci: stack.outer)]
        default: return [.init(tpid: EtherType.qinq, tci: stack.outer), .init(tpid: EtherType.vlan, tci: stack.inner)]
        }
    }

    var mode: PipelineBenchmark.Mode { .vlan }
    func prepare<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
        _ w: inout Worker<A, P, MemoryPort>, label: String) {
        let sent = passHundred(&w, frame, label: label)
        guard let original = BenchFrames.parseUDP(frame) else { benchFailure("\(label): cannot parse my own frame") }
        for out in sent {
            guard let p = BenchFrames.parseUDP(out), p.tags == expectedTags, p.dstMAC == original.dstMAC,
                  p.srcMAC == original.srcMAC, p.src == original.src, p.dst == original.dst,
                  p.sport == original.sport, p.dport == original.dport, p.ttl == original.ttl,
                  p.ipChecksumOK, p.udpChecksumOK, p.payload.elementsEqual(original.payload),
                  out.count == frame.count + 4 * (expectedTags.count - original.tags.count) else {
                benchFailure("\(label): preparation: a frame came out not retagged to \(expectedTags) or changed otherwise")
            }
        }
        installTimedPorts(&w, inside: [frame], outside: [])
    }
}

// MARK: nat

/// `NatProcessor`, both directions on one worker: inside hosts send UDP to outside servers
/// (through the gateway's next hop), the servers answer to the mapped external ports. Before the
/// timed rounds every neighbour is learned from an ARP request it sends to the gateway, and every
/// flow's session exists (one untimed pass each way, checked frame by frame).
struct NatScenario: PipelineScenario {
    let frameBytes: Int
    let flows: Int
    let hosts: Int
    let config: NatConfig

    static let insideVLAN: UInt16 = 10
    static let outsideVLAN: UInt16 = 20
    static let insideMAC: UInt64 = 0x02_00_00_00_0A_01
    static let outsideMAC: UInt64 = 0x02_00_00_00_14_01
    static let nextHopMAC: UInt64 = 0x02_00_CB_00_71_FE
    static let serverPort: UInt16 = 443
    let insideIP: UInt32
    let outsideIP: UInt32
    let nextHopIP: UInt32

    /// The outbound frame of each flow, index = flow = the frame's marker.
    let outbound: [[UInt8]]

    init(frameBytes: Int, flows: Int, mssClamp: NatMSSClamp = .off) {
        self.frameBytes = frameBytes
        self.flows = flows
        hosts = min(flows, 100)
        do {
            var c = NatConfig(inside: try NatConfig.parseCIDR("10.10.0.1/16", option: "--inside"),
                              outside: try NatConfig.parseCIDR("203.0.113.1/24", option: "--outside"),
                              insideMAC: EthernetAddress(Self.insideMAC), outsideMAC: EthernetAddress(Self.outsideMAC))
            c.insideVLAN = Self.insideVLAN
            c.outsideVLAN = Self.outsideVLAN
            c.gateway = try NatConfig.parseIPv4("203.0.113.254", option: "--gateway")
            c.maxSessions = 65536
            // A long run must not see a neighbour re-probed or a session expire between rounds
            // (an ARP probe would be one more frame out, a new session one more created). The
            // per-frame path is the same: a neighbour is still touched once a second.
            c.neighbourReachableSeconds = 86_400
            c.neighbourGCSeconds = 86_400
            c.timeouts.udp = 86_400
            c.mssClamp = mssClamp
            try c.validate()
            config = c
        } catch {
            benchFailure("NAT configuration: \(error.message)")
        }
        insideIP = config.inside.address.value
        outsideIP = config.outside.address.value
        nextHopIP = config.gateway!.value
        var frames: [[UInt8]] = []
        frames.reserveCapacity(flows)
        for i in 0..<flows {
            frames.append(BenchFrames.udp(.init(
                dstMAC: Self.insideMAC, srcMAC: Self.hostMAC(i % hosts), tags: [Self.insideTag],
                src: Self.hostIP(i % hosts), dst: Self.serverIP(i), sport: Self.hostPort(i, hosts: hosts),
                dport: Self.serverPort, ipID: UInt16(truncatingIfNeeded: i), marker: UInt32(i), length: frameBytes)))
        }
        outbound = frames
    }

    static let insideTag = BenchFrames.Tag(tpid: EtherType.vlan, tci: insideVLAN)
    static let outsideTag = BenchFrames.Tag(tpid: EtherType.vlan, tci: outsideVLAN)
    static func hostMAC(_ h: Int) -> UInt64 { 0x02_00_0A_0A_00_00 | UInt64(h + 1) }
    /// 10.10.1.1-100, on the inside subnet 10.10.0.0/16.
    static func hostIP(_ h: Int) -> UInt32 { 0x0A0A_0100 | UInt32(h + 1) }
    /// Flow `i` of host `i % hosts` uses source port 10000 + i / hosts (hosts share port numbers:
    /// the gateway keeps one and picks another for the rest, whatever it picks is read back).
    static func hostPort(_ i: Int, hosts: Int) -> UInt16 { UInt16(10_000 + i / hosts) }
    /// Off-link servers 198.51.100.1-200, reached through the next hop.
    static func serverIP(_ i: Int) -> UInt32 { 0xC633_6400 | UInt32(1 + i % 200) }

    var mode: PipelineBenchmark.Mode { .nat }
    var inputs: [Side] { [.inside, .outside] }

    func offered(_ frames: Int) -> (inside: Int, outside: Int) { ((frames + 1) / 2, frames / 2) }

    /// The NAT processor's counters (the worker of this scenario runs a `NatProcessor`).
    static func counters<C>(_ c: C, _ label: String) -> NatCounters {
        guard let n = c as? NatCounters else { benchFailure("\(label): the NAT scenario's worker has no NatCounters") }
        return n
    }

    func prepare<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
        _ w: inout Worker<A, P, MemoryPort>, label: String) {
        // 1. Neighbours: each inside host and the outside next hop ask for the gateway's address;
        //    the gateway learns them from the request and answers on the same side.
        let arps = arpRequests()
        w.inPort = MemoryPort(frames: arps.inside, budget: hosts)
        w.outPort = MemoryPort(frames: arps.outside, budget: 1)
        let c0 = Self.counters(w.processor.counters, label)
        drain(&w, label: label)
        let c1 = Self.counters(w.processor.counters, label)
        guard c1.arpRequestsAnswered - c0.arpRequestsAnswered == UInt64(hosts + 1),
              w.inPort.sentCount == hosts, w.outPort.sentCount == 1, c1.drops.total == c0.drops.total else {
            benchFailure("\(label): preparation: \(c1.arpRequestsAnswered - c0.arpRequestsAnswered) of \(hosts + 1) "
                + "ARP requests answered, \(w.inPort.sentCount + w.outPort.sentCount) replies out, "
                + "\(c1.drops.total - c0.drops.total) drops")
        }

        // 2. Outbound, once per flow: creates the sessions; read the external port of each.
        w.outPort.remaining = 0
        w.inPort.setFrames(outbound)
        w.inPort.remaining = flows
        let outBase = w.outPort.sent.count
        drain(&w, label: label)
        let c2 = Self.counters(w.processor.counters, label)
        guard c2.udp.created - c1.udp.created == UInt64(flows), c2.translatedOutbound - c1.translatedOutbound == UInt64(flows),
              c2.drops.total == c1.drops.total, c2.arpHeld == c1.arpHeld, c2.arpRequestsSent == c1.arpRequestsSent,
              w.outPort.sent.count - outBase == flows else {
            benchFailure("\(label): preparation: \(flows) outbound frames gave \(c2.udp.created - c1.udp.created) sessions, "
                + "\(c2.translatedOutbound - c1.translatedOutbound) translated, \(w.outPort.sent.count - outBase) out, "
                + "\(c2.drops.total - c1.drops.total) drops, \(c2.arpHeld - c1.arpHeld) held for ARP")
        }
        let external = checkOutbound(w.outPort.sent[outBase...], label: label)

        // 3. Inbound, once per flow: the server's answer to the external port.
        let inbound = inboundFrames(external: external)
        w.inPort.remaining = 0
        w.outPort.setFrames(inbound)
        w.outPort.remaining = flows
        let inBase = w.inPort.sent.count
        drain(&w, label: label)
        let c3 = Self.counters(w.processor.counters, label)
        guard c3.translatedInbound - c2.translatedInbound == UInt64(flows), c3.udp.created == c2.udp.created,
              c3.drops.total == c2.drops.total, c3.arpHeld == c2.arpHeld, w.inPort.sent.count - inBase == flows else {
            benchFailure("\(label): preparation: \(flows) inbound frames gave \(c3.translatedInbound - c2.translatedInbound) "
                + "translated, \(w.inPort.sent.count - inBase) out, \(c3.drops.total - c2.drops.total) drops")
        }
        checkInbound(w.inPort.sent[inBase...], label: label)
        guard Self.counters(w.processor.counters, label).udp.active == UInt64(flows) else {
            benchFailure("\(label): preparation: \(Self.counters(w.processor.counters, label).udp.active) sessions active, not \(flows)")
        }
        installTimedPorts(&w, inside: outbound, outside: inbound)
    }

    /// An ARP request for the gateway's address from each inside host (IN) and from the next hop (OUT).
    func arpRequests() -> (inside: [[UInt8]], outside: [[UInt8]]) {
        ((0..<hosts).map {
            BenchFrames.arpRequest(senderMAC: Self.hostMAC($0), senderIP: Self.hostIP($0), target: insideIP, tags: [Self.insideTag])
         },
         [BenchFrames.arpRequest(senderMAC: Self.nextHopMAC, senderIP: nextHopIP, target: outsideIP, tags: [Self.outsideTag])])
    }

    /// Checks the translated outbound frames of every flow, once each (in any order): rewritten
    /// to the outside address and next hop, distinct external source ports, the rest unchanged.
    /// Returns each flow's external port (index = flow).
    func checkOutbound<S: Sequence<[UInt8]>>(_ sent: S, label: String) -> [UInt16] {
        var external = [UInt16](repeating: 0, count: flows)
        var seen = Set<UInt16>()
        for out in sent {
            guard let p = BenchFrames.parseUDP(out), Int(p.marker) < flows else {
                benchFailure("\(label): preparation: an outbound frame came out unreadable")
            }
            let i = Int(p.marker)
            guard let original = BenchFrames.parseUDP(outbound[i]), p.tags == [Self.outsideTag],
                  p.dstMAC == Self.nextHopMAC, p.srcMAC == Self.outsideMAC, p.src == outsideIP,
                  p.dst == original.dst, p.dport == original.dport, p.ttl == original.ttl - 1,
                  p.ipChecksumOK, p.udpChecksumOK, p.payload.elementsEqual(original.payload),
                  out.count == outbound[i].count, seen.insert(p.sport).inserted else {
                benchFailure("\(label): preparation: flow \(i) came out of OUT mistranslated")
            }
            external[i] = p.sport
        }
        return external
    }

    /// The server's answer of each flow to its external port (index = flow = marker).
    func inboundFrames(external: [UInt16]) -> [[UInt8]] {
        (0..<flows).map { i in
            BenchFrames.udp(.init(dstMAC: Self.outsideMAC, srcMAC: Self.nextHopMAC, tags: [Self.outsideTag],
                                  src: Self.serverIP(i), dst: outsideIP, sport: Self.serverPort, dport: external[i],
                                  ipID: UInt16(truncatingIfNeeded: i), marker: UInt32(i), length: frameBytes))
        }
    }

    /// Checks the translated inbound frames: back to the inside host and port of their flow.
    func checkInbound<S: Sequence<[UInt8]>>(_ sent: S, label: String) {
        for out in sent {
            guard let p = BenchFrames.parseUDP(out), Int(p.marker) < flows else {
                benchFailure("\(label): preparation: an inbound frame came out unreadable")
            }
            let i = Int(p.marker)
            guard let original = BenchFrames.parseUDP(outbound[i]), p.tags == [Self.insideTag],
                  p.dstMAC == Self.hostMAC(i % hosts), p.srcMAC == Self.insideMAC, p.src == original.dst,
                  p.dst == original.src, p.sport == Self.serverPort, p.dport == original.sport, p.ttl == 63,
                  p.ipChecksumOK, p.udpChecksumOK, p.payload.elementsEqual(original.payload),
                  out.count == frameBytes else {
                benchFailure("\(label): preparation: flow \(i) came back into IN mistranslated")
            }
        }
    }

    func checkRound<C>(before: C, after: C, inside: Int, outside: Int) -> String? {
        let before = Self.counters(before, label), after = Self.counters(after, label)
        let out = after.translatedOutbound - before.translatedOutbound
        let back = after.translatedInbound - before.translatedInbound
        if out != UInt64(inside) || back != UInt64(outside) {
            return "\(out) of \(inside) outbound and \(back) of \(outside) inbound frames translated"
        }
        if after.drops.total != before.drops.total { return "\(after.drops.total - before.drops.total) NAT drops" }
        if after.arpHeld != before.arpHeld { return "\(after.arpHeld - before.arpHeld) frames held for ARP" }
        if after.arpRequestsSent != before.arpRequestsSent || after.icmpErrorsSent != before.icmpErrorsSent {
            return "the gateway generated frames (ARP requests, ICMP errors) during the round"
        }
        if after.udp.created != before.udp.created || after.udp.active != UInt64(flows) {
            return "\(after.udp.created - before.udp.created) sessions created during the round, "
                + "\(after.udp.active) active (want \(flows))"
        }
        return nil
    }
}
