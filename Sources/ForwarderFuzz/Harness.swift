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

/// The whole pipeline for one mode: N real `Worker`s on `MemoryPort`s, a `HeadCache` each over
/// one pool, joined (N > 1, NAT) by a hand-off mesh and all driven on this one thread: record i
/// goes to worker i mod N, so with several workers frames land on the wrong one and are handed
/// over, ARP is copied, fragments are looked up in the shared directory. After each input the
/// workers are stepped until their lanes are empty and every head they hold is returned
/// (`releaseHeads`: `finish` would wait for the other workers' threads), then the books are
/// checked: every frame received on each side of each worker (and, for the stateless modes,
/// every frame either sent or dropped), every hand-off taken off its lane, every head back in
/// the pool or a cache. The caches adopt remote frees, so no head waits in a return-home list
/// between checks.
final class FuzzRig<P: FrameProcessor & ~Copyable> {
    let name: String
    let pool: HeadPool
    /// In cells (classes): the workers go with the rig when it is rebuilt. (Held in a pointer and
    /// deinitialized by hand, a generic rig's workers kept their buffers: LeakSanitizer reported
    /// them at the first rebuild.)
    let workers: [WorkerCell<P>]
    let count: Int
    let mesh: HandOffMesh?
    var now: UInt64 = 1_000_000_000
    /// Stateless modes: each frame received is sent or dropped, nothing generated or held.
    let conserving: Bool
    /// Per worker: its direction counters at the last check.
    var last: [(DirectionCounters, DirectionCounters)]
    var inputs = 0

    /// `workers` workers, worker i running `processor(i)`, on `mesh` when there are several.
    init(name: String, workers: Int = 1, mesh: HandOffMesh? = nil, mtu: (Int, Int), conserving: Bool,
         processor: (Int) -> P) {
        precondition(workers == 1 || mesh?.workers == workers, "several workers share a mesh")
        self.name = name
        self.conserving = conserving
        self.mesh = mesh
        count = workers
        let pool = HeadPool(HeadPool.Configuration(headsPerSlab: 256))
        self.pool = pool
        var cacheConfig = HeadCache.Configuration.kernel2021
        cacheConfig.remoteFrees = .adopt
        var settings = WorkerSettings()
        settings.mtu = mtu
        self.workers = (0..<workers).map { i in
            guard let cache = HeadCache(pool: pool, configuration: cacheConfig) else { fatalError("fuzz \(name): no cache slot") }
            let cell = WorkerCell(Worker(allocator: cache, processor: processor(i), inPort: MemoryPort(), outPort: MemoryPort(),
                                         inputs: [.inside, .outside], settings: settings, slot: StatsSlot<P.Counters>(),
                                         handOff: mesh.map { HandOffEndpoint(mesh: $0, index: i) }))
            cell.worker.inPort.keepSent = false
            cell.worker.outPort.keepSent = false
            return cell
        }
        last = Array(repeating: (DirectionCounters(), DirectionCounters()), count: workers)
    }

    /// One step of every worker, in turn.
    private func step() {
        do {
            for i in 0..<count { _ = try workers[i].worker.step(now: now) }
        } catch {
            fatalError("fuzz \(name): a memory port failed: \(error)")
        }
        now &+= 10_000
    }

    /// `frames[w]` is (IN frames, OUT frames) for worker w.
    private func feed(_ frames: [([[UInt8]], [[UInt8]])]) {
        if frames.allSatisfy({ $0.0.isEmpty && $0.1.isEmpty }) { return }
        for (i, f) in frames.enumerated() {
            workers[i].worker.inPort.setFrames(f.0)
            workers[i].worker.inPort.remaining = f.0.count
            workers[i].worker.outPort.setFrames(f.1)
            workers[i].worker.outPort.remaining = f.1.count
        }
        var guardSteps = 0
        while (0..<count).contains(where: { workers[$0].worker.inPort.remaining > 0 || workers[$0].worker.outPort.remaining > 0 }) {
            step()
            guardSteps += 1
            if guardSteps > 1_000_000 { fatalError("fuzz \(name): the workers stopped receiving") }
        }
        step()
        step()
    }

    /// Runs one input's records through the workers, then returns their heads and checks the books.
    func run(_ records: [FuzzRecord]) {
        let empty = [([[UInt8]], [[UInt8]])](repeating: ([], []), count: count)
        var frames = empty
        var fed = [(UInt64, UInt64)](repeating: (0, 0), count: count)
        for (i, r) in records.enumerated() {
            if r.advance > 0 {
                feed(frames)
                frames = empty
                now &+= r.advance * 50_000_000
                step()
            }
            let w = i % count
            if r.side == .inside {
                frames[w].0.append(r.bytes)
                fed[w].0 += 1
            } else {
                frames[w].1.append(r.bytes)
                fed[w].1 += 1
            }
        }
        feed(frames)
        settle()
        inputs += 1
        check(fed: fed)
    }

    /// Steps every worker and returns their heads until no lane holds a frame (bounded: a
    /// hand-off that never ends is a bug).
    private func settle() {
        for _ in 0..<100 {
            step()
            for i in 0..<count { workers[i].worker.releaseHeads() }
            if (mesh?.queued ?? 0) == 0 { return }
        }
        fatalError("fuzz \(name): \(mesh?.queued ?? 0) heads still on the lanes after 100 passes")
    }

    private func check(fed: [(UInt64, UInt64)]) {
        var handOffs = HandOffCounters()
        var cached = 0
        for i in 0..<count {
            guard let stats = workers[i].worker.slot.read() else { fatalError("fuzz \(name): worker \(i) published nothing") }
            let (d0, d1) = stats.directions
            let rxIn = d0.rxFrames - last[i].0.rxFrames, rxOut = d1.rxFrames - last[i].1.rxFrames
            if rxIn != fed[i].0 || rxOut != fed[i].1 {
                fatalError("fuzz \(name): frames lost before processing: worker \(i) received \(rxIn) of \(fed[i].0) on IN, "
                    + "\(rxOut) of \(fed[i].1) on OUT")
            }
            if conserving {
                for (now, old, label) in [(d0, last[i].0, "IN->OUT"), (d1, last[i].1, "OUT->IN")] {
                    let rx = now.rxFrames - old.rxFrames
                    let out = (now.txFrames - old.txFrames) + (now.dropsTotal - old.dropsTotal)
                    if rx != out {
                        fatalError("fuzz \(name): \(label): \(rx) frames received, \(out) sent or dropped")
                    }
                }
            }
            last[i] = (d0, d1)
            handOffs = handOffs + stats.handOffs
            cached += workers[i].worker.allocator.cachedCount
        }
        if handOffs.sent != handOffs.received {
            fatalError("fuzz \(name): \(handOffs.sent) frames handed off, \(handOffs.received) taken off the lanes")
        }
        // Every head is back: in the pool or in a worker's cache, none anywhere else.
        let outstanding = pool.stats.outstanding
        if outstanding != cached {
            fatalError("fuzz \(name): \(outstanding - cached) heads leaked (pool outstanding \(outstanding), cached \(cached))")
        }
    }
}

/// One worker of a `FuzzRig`.
final class WorkerCell<P: FrameProcessor & ~Copyable> {
    var worker: Worker<HeadCache, P, MemoryPort>

    init(_ worker: consuming Worker<HeadCache, P, MemoryPort>) { self.worker = worker }
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
    var nat2: FuzzRig<NatProcessor>?
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
                l2 = FuzzRig(name: "l2", mtu: (1500, 1500), conserving: true) { _ in TransparentBridge() }
            }
            l2!.run(records)
        case .vlan:
            if vlan == nil || vlan!.inputs >= Self.resetEvery {
                let map: VlanMap
                do { map = try VlanMap(specs: Self.vlanSpecs, passUnmapped: false) } catch { fatalError("vlan map: \(error.message)") }
                vlan = FuzzRig(name: "vlan", mtu: (1500, 1500), conserving: true) { _ in VlanTranslator(map: map) }
            }
            vlan!.run(records)
        case .nat:
            if nat == nil || nat!.inputs >= Self.resetEvery { nat = Self.makeNat(workers: 1) }
            nat!.run(records)
        case .nat2:
            if nat2 == nil || nat2!.inputs >= Self.resetEvery { nat2 = Self.makeNat(workers: 2) }
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
            // SYNs with an MSS option over 1360 are clamped (the outside MTU 1400 minus 40).
            c.mssClamp = .auto
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

    /// The NAT gateway as `workers` workers (`nat`: one; `nat2`: two, with hand-off), after the
    /// prologue.
    static func makeNat(workers: Int) -> FuzzRig<NatProcessor> {
        let config = natConfig()
        let group = NatWorkerGroup(workers: workers)
        let name = workers == 1 ? "nat" : "nat\(workers)"
        let rig = FuzzRig(name: name, workers: workers, mesh: group.mesh, mtu: (config.insideMTU, config.outsideMTU),
                          conserving: false) { group.processor(config: config, worker: $0) }
        natPrologue().withUnsafeBufferPointer { rig.run(FuzzInput.parse($0)) }
        let c = (1..<workers).reduce(rig.workers[0].worker.processor.counters) { $0 + rig.workers[$1].worker.processor.counters }
        if c.sessionsActive < 12 || c.arpRequestsAnswered < 6 {
            fatalError("fuzz \(name): the prologue left \(c.sessionsActive) sessions, \(c.arpRequestsAnswered) ARP requests answered")
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
