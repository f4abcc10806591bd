import BufferCache
import Nat44
import PacketFormats
import Pipeline
import VlanTranslation

/// The fuzz input format (see docs/reliability.md, "Fuzzing"): a sequence of records
///
///     control (1 byte) | length (2 bytes, big-endian) | frame (length bytes, clipped to what is left)
///
/// control bit 0 is the side the frame is received on (0 = IN, 1 = OUT); bits 1-7 advance the
/// worker's clock by that many 50 ms before the frame (so timers, expiry and ARP retries run).
/// A tail shorter than a record header is ignored.
struct FuzzRecord {
    var side: Side
    var advance: UInt64
    var bytes: [UInt8]
}

enum FuzzInput {
    static func parse(_ data: UnsafeBufferPointer<UInt8>) -> [FuzzRecord] {
        var records: [FuzzRecord] = []
        var at = 0
        while at + 3 <= data.count {
            let control = data[at]
            let length = Int(data[at + 1]) << 8 | Int(data[at + 2])
            at += 3
            let n = min(length, data.count - at)
            records.append(FuzzRecord(side: control & 1 == 0 ? .inside : .outside, advance: UInt64(control >> 1),
                                      bytes: Array(data[at..<(at + n)])))
            at += n
        }
        return records
    }

    /// One record, the inverse of `parse` (for the NAT prologue and the tests).
    static func record(_ side: Side, _ bytes: [UInt8], advance: UInt8 = 0) -> [UInt8] {
        [advance << 1 | (side == .inside ? 0 : 1), UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }
}

/// The whole pipeline for one mode: the real `Worker` on two `MemoryPort`s, a `HeadCache` over a
/// pool of its own. After each input the worker is finished and checked: every frame received on
/// each side (and, for the stateless modes, every frame either sent or dropped), every head back.
final class FuzzRig<P: FrameProcessor & ~Copyable> {
    let name: String
    let pool: HeadPool
    var worker: Worker<HeadCache, P, MemoryPort>
    var now: UInt64 = 1_000_000_000
    /// Stateless modes: each frame received is sent or dropped, nothing generated or held.
    let conserving: Bool
    var last = (DirectionCounters(), DirectionCounters())
    var inputs = 0

    init(name: String, processor: consuming P, mtu: (Int, Int), conserving: Bool) {
        self.name = name
        self.conserving = conserving
        pool = HeadPool(HeadPool.Configuration(headsPerSlab: 256))
        guard let cache = HeadCache(pool: pool, configuration: .kernel2021) else { fatalError("fuzz: no cache slot") }
        var settings = WorkerSettings()
        settings.mtu = mtu
        worker = Worker(allocator: cache, processor: processor, inPort: MemoryPort(), outPort: MemoryPort(),
                        inputs: [.inside, .outside], settings: settings, slot: StatsSlot<P.Counters>())
        worker.inPort.keepSent = false
        worker.outPort.keepSent = false
    }

    private func step() {
        do {
            _ = try worker.step(now: now)
        } catch {
            fatalError("fuzz \(name): a memory port failed: \(error)")
        }
        now &+= 10_000
    }

    private func feed(_ inside: [[UInt8]], _ outside: [[UInt8]]) {
        if inside.isEmpty && outside.isEmpty { return }
        worker.inPort.setFrames(inside)
        worker.inPort.remaining = inside.count
        worker.outPort.setFrames(outside)
        worker.outPort.remaining = outside.count
        var guardSteps = 0
        while worker.inPort.remaining > 0 || worker.outPort.remaining > 0 {
            step()
            guardSteps += 1
            if guardSteps > 1_000_000 { fatalError("fuzz \(name): the worker stopped receiving") }
        }
        step()
        step()
    }

    /// Runs one input's records through the worker, then finishes it and checks the books.
    func run(_ records: [FuzzRecord]) {
        var inside: [[UInt8]] = [], outside: [[UInt8]] = []
        var fedIn: UInt64 = 0, fedOut: UInt64 = 0
        for r in records {
            if r.advance > 0 {
                feed(inside, outside)
                inside.removeAll(keepingCapacity: true)
                outside.removeAll(keepingCapacity: true)
                now &+= r.advance * 50_000_000
                step()
            }
            if r.side == .inside { inside.append(r.bytes); fedIn += 1 } else { outside.append(r.bytes); fedOut += 1 }
        }
        feed(inside, outside)
        worker.finish()
        inputs += 1
        check(fedIn: fedIn, fedOut: fedOut)
    }

    private func check(fedIn: UInt64, fedOut: UInt64) {
        guard let stats = worker.slot.read() else { fatalError("fuzz \(name): the worker published nothing") }
        let (d0, d1) = stats.directions
        let rxIn = d0.rxFrames - last.0.rxFrames, rxOut = d1.rxFrames - last.1.rxFrames
        if rxIn != fedIn || rxOut != fedOut {
            fatalError("fuzz \(name): frames lost before processing: IN received \(rxIn) of \(fedIn), OUT \(rxOut) of \(fedOut)")
        }
        if conserving {
            for (now, old, label) in [(d0, last.0, "IN->OUT"), (d1, last.1, "OUT->IN")] {
                let rx = now.rxFrames - old.rxFrames
                let out = (now.txFrames - old.txFrames) + (now.dropsTotal - old.dropsTotal)
                if rx != out {
                    fatalError("fuzz \(name): \(label): \(rx) frames received, \(out) sent or dropped")
                }
            }
        }
        last = (d0, d1)
        // Every head is back: in the pool or in the worker's cache, none anywhere else.
        let outstanding = pool.stats.outstanding
        let cached = worker.allocator.cachedCount
        if outstanding != cached {
            fatalError("fuzz \(name): \(outstanding - cached) heads leaked (pool outstanding \(outstanding), cached \(cached))")
        }
    }
}

enum FuzzMode: String, CaseIterable {
    case l2, vlan, nat, nat2
}

/// The three rigs, built on first use and rebuilt every `resetEvery` inputs (NAT state persists
/// between inputs until then).
final class FuzzHarness {
    static let resetEvery = 50_000
    static let vlanSpecs = ["10:20", "11:21", "0:30", "40:0", "100.10:50", "60:200.61", "300.30:400.40"]

    var l2: FuzzRig<TransparentBridge>?
    var vlan: FuzzRig<VlanTranslator>?
    var nat: FuzzRig<NatProcessor>?
    var nat2: NatPairRig?
    /// From FORWARDER_FUZZ_MODE; nil: the input's first byte picks the mode (mod the mode count).
    let fixedMode: FuzzMode?

    init(mode: FuzzMode?) { fixedMode = mode }

    static func modeFromEnvironment() -> FuzzMode? {
        guard let raw = getenvString("FORWARDER_FUZZ_MODE"), !raw.isEmpty, raw != "all" else { return nil }
        guard let m = FuzzMode(rawValue: raw) else { fatalError("FORWARDER_FUZZ_MODE must be l2, vlan, nat, nat2 or all, not \(raw)") }
        return m
    }

    func run(_ data: UnsafeBufferPointer<UInt8>) {
        var body = data
        let mode: FuzzMode
        if let m = fixedMode {
            mode = m
        } else {
            guard !data.isEmpty else { return }
            mode = FuzzMode.allCases[Int(data[0]) % FuzzMode.allCases.count]
            body = UnsafeBufferPointer(rebasing: data[1...])
        }
        let records = FuzzInput.parse(body)
        switch mode {
        case .l2:
            if l2 == nil || l2!.inputs >= Self.resetEvery {
                l2 = FuzzRig(name: "l2", processor: TransparentBridge(), mtu: (1500, 1500), conserving: true)
            }
            l2!.run(records)
        case .vlan:
            if vlan == nil || vlan!.inputs >= Self.resetEvery {
                let map: VlanMap
                do { map = try VlanMap(specs: Self.vlanSpecs, passUnmapped: false) } catch { fatalError("vlan map: \(error.message)") }
                vlan = FuzzRig(name: "vlan", processor: VlanTranslator(map: map), mtu: (1500, 1500), conserving: true)
            }
            vlan!.run(records)
        case .nat:
            if nat == nil || nat!.inputs >= Self.resetEvery { nat = Self.makeNat() }
            nat!.run(records)
        case .nat2:
            if nat2 == nil || nat2!.inputs >= Self.resetEvery { nat2 = Self.makeNatPair() }
            nat2!.run(records)
        }
    }

    // MARK: NAT

    /// The configuration the NAT fixtures use (Tests/Nat44Tests/Fixtures/nat/cases.json "base"),
    /// so the pcap seeds reach the same state.
    static func natConfig() -> NatConfig {
        do {
            var c = NatConfig(inside: try NatConfig.parseCIDR("192.168.10.1/24", option: "--inside"),
                              outside: try NatConfig.parseCIDR("203.0.113.2/24", option: "--outside"),
                              insideMAC: EthernetAddress(0x02_00_00_00_01_01), outsideMAC: EthernetAddress(0x02_00_00_00_02_02))
            c.insideVLAN = 10
            c.outsideVLAN = 20
            c.gateway = try NatConfig.parseIPv4("203.0.113.1", option: "--gateway")
            c.insideMTU = 1500
            c.outsideMTU = 1400
            c.forwards = [try NatConfig.parseForward("tcp:8080=192.168.10.2:80"),
                          try NatConfig.parseForward("udp:5353=192.168.10.3:53")]
            c.maxSessions = 4096
            try c.validate()
            return c
        } catch {
            fatalError("NAT configuration: \(error.message)")
        }
    }

    static let gatewayMAC: UInt64 = 0x02_00_00_00_20_01
    static func hostMAC(_ i: Int) -> UInt64 { 0x02_00_00_00_10_00 | UInt64(i) }
    static func hostIP(_ i: Int) -> UInt32 { 0xC0A8_0A00 | UInt32(i) }   // 192.168.10.i
    static let insideIP: UInt32 = 0xC0A8_0A01, outsideIP: UInt32 = 0xCB00_7102, nextHopIP: UInt32 = 0xCB00_7101
    static let server: UInt32 = 0xC633_6407   // 198.51.100.7
    static let onLinePeer: UInt32 = 0xCB00_7163   // 203.0.113.99, on the outside subnet

    /// The prologue: ARP from four inside hosts and the next hop, UDP, TCP and ICMP echo flows out,
    /// a first fragment out (its session and fragment entry stay), an on-link outside peer's ARP.
    static func natPrologue() -> [UInt8] {
        typealias F = FuzzFrames
        var input: [UInt8] = []
        for h in 2...5 {
            input += FuzzInput.record(.inside, F.arpRequest(senderMAC: hostMAC(h), senderIP: hostIP(h), target: insideIP, vlan: 10))
        }
        input += FuzzInput.record(.outside, F.arpRequest(senderMAC: gatewayMAC, senderIP: nextHopIP, target: outsideIP, vlan: 20))
        input += FuzzInput.record(.outside, F.arpRequest(senderMAC: 0x02_00_00_00_20_63, senderIP: onLinePeer, target: outsideIP, vlan: 20))
        func out(_ h: Int, _ proto: UInt8, _ id: UInt16, _ l4: [UInt8], dst: UInt32 = server, frag: UInt16 = 0) -> [UInt8] {
            F.ethernet(dst: 0x02_00_00_00_01_01, src: hostMAC(h), vlan: 10, type: 0x0800)
                + F.ipv4(src: hostIP(h), dst: dst, proto: proto, id: id, flagsFragment: frag, payload: l4)
        }
        for h in 2...5 {
            let payload = Array("fuzz prologue \(h)".utf8)
            input += FuzzInput.record(.inside, out(h, 17, UInt16(h), F.udp(src: hostIP(h), dst: server, sport: 40_000 + UInt16(h), dport: 53, payload: payload)))
            input += FuzzInput.record(.inside, out(h, 17, UInt16(h) + 10, F.udp(src: hostIP(h), dst: onLinePeer, sport: 41_000, dport: 4000, payload: payload), dst: onLinePeer))
            input += FuzzInput.record(.inside, out(h, 6, UInt16(h) + 20, F.tcp(src: hostIP(h), dst: server, sport: 50_000 + UInt16(h), dport: 443, flags: 0x02, seq: 1000)))
            input += FuzzInput.record(.inside, out(h, 1, UInt16(h) + 30, F.icmpEcho(id: 0x100 + UInt16(h), seq: 1)))
        }
        // A first fragment (MF, offset 0) of a UDP datagram whose rest never comes.
        let whole = F.udp(src: hostIP(2), dst: server, sport: 42_000, dport: 9000, payload: Array(repeating: 0x5A, count: 64))
        input += FuzzInput.record(.inside, out(2, 17, 0x7777, Array(whole[0..<32]), frag: 0x2000))
        return input
    }

    static func makeNat() -> FuzzRig<NatProcessor> {
        let config = natConfig()
        let rig = FuzzRig(name: "nat", processor: NatProcessor(config: config), mtu: (config.insideMTU, config.outsideMTU),
                          conserving: false)
        let prologue = natPrologue()
        prologue.withUnsafeBufferPointer { rig.run(FuzzInput.parse($0)) }
        let c = rig.worker.processor.counters
        if c.sessionsActive < 12 || c.arpRequestsAnswered < 6 {
            fatalError("fuzz nat: the prologue left \(c.sessionsActive) sessions, \(c.arpRequestsAnswered) ARP requests answered")
        }
        rig.inputs = 0
        return rig
    }

    static func makeNatPair() -> NatPairRig {
        let rig = NatPairRig(config: natConfig())
        natPrologue().withUnsafeBufferPointer { rig.run(FuzzInput.parse($0)) }
        let c = rig.first.processor.counters + rig.second.processor.counters
        if c.sessionsActive < 12 || c.arpRequestsAnswered < 6 {
            fatalError("fuzz nat2: the prologue left \(c.sessionsActive) sessions, \(c.arpRequestsAnswered) ARP requests answered")
        }
        rig.inputs = 0
        return rig
    }
}

#if canImport(Glibc)
import Glibc
#endif

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}
