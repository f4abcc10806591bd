import PacketFixtures
import PacketFormats
import Pipeline
import XCTest
@testable import Nat44

/// The kernel's fanout program against `NatSteering.owner`: run by a classic BPF interpreter
/// (below, just the instructions the program uses) on frames as the packet socket's fanout sees
/// them, it must name the same worker for every frame whose owner depends on neither a forward
/// nor a quoted packet, and 0 for fragments, ARP and IPv6.
final class FanoutProgramTests: XCTestCase {
    func testProgramAgreesWithTheOwnerFunction() {
        var rng = TestRNG(seed: 0xB0F)
        var compared = 0, zeros = 0
        for round in 0..<6000 {
            let workers = round < 200 ? 1 + round % 3 : 1 + Int(rng.next() % 64)
            let side: Side = rng.next() % 2 == 0 ? .inside : .outside
            let (frame, quoted) = Self.randomFrame(&rng)
            let steering = NatSteering(share: NatWorkerShare(index: 0, count: workers), forwards: [])
            let owner = frame.withUnsafeBytes { steering.owner(NatFrameView($0.baseAddress!, length: frame.count), from: side) }
            let program = NatSteering.fanoutProgram(for: side, workers: workers)
            guard let got = Self.run(program, onFrame: frame) else { return XCTFail("unknown instruction") }
            switch owner {
            case .worker(let w) where !quoted:
                XCTAssertEqual(Int(got), w, "frame \(hex(frame)) on \(side), \(workers) workers")
                compared += 1
            case .laterFragment, .arp:
                XCTAssertEqual(got, 0, "frame \(hex(frame))")
                zeros += 1
            default:
                XCTAssertLessThan(Int(got), workers)
            }
        }
        XCTAssertGreaterThan(compared, 1500)
        XCTAssertGreaterThan(zeros, 300)
    }

    /// A frame with 0–2 tags carrying IPv4 (TCP, UDP, ICMP echo or error, another protocol,
    /// options, fragments, cut short), ARP or IPv6; and whether it is an ICMP error.
    static func randomFrame(_ rng: inout TestRNG) -> ([UInt8], Bool) {
        typealias F = TestFrames
        let tpids: [UInt16] = [0x8100, 0x88A8]
        var f = F.mac(0x0200_0000_0001) + F.mac(0x0200_0000_0002)
        for _ in 0..<Int(rng.next() % 3) { f += F.be16(tpids[Int(rng.next() % 2)]) + F.be16(UInt16(rng.next() % 4095)) }
        let r = rng.next() % 20
        if r == 0 { return (f + F.be16(0x0806) + Array(repeating: 1, count: 28), false) }
        if r == 1 { return (f + F.be16(0x86DD) + Array(repeating: 6, count: 48), false) }
        let proto: UInt8 = [6, 17, 1, 1, 1, 47][Int(rng.next() % 6)]
        var l4 = (0..<40).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var quoted = false
        if proto == 1 {
            l4[0] = [0, 8, 3, 11, 13][Int(rng.next() % 5)]
            quoted = l4[0] == 3 || l4[0] == 11
        }
        let options = rng.next() % 4 == 0 ? [UInt8](repeating: 1, count: 4) : []
        var fragment: UInt16 = rng.next() % 2 == 0 ? 0x4000 : 0
        if rng.next() % 4 == 0 { fragment |= UInt16(rng.next() % 0x2000) }
        if rng.next() % 4 == 0 { fragment |= 0x2000 }
        var ip = F.ipv4(src: UInt32(truncatingIfNeeded: rng.next()), dst: UInt32(truncatingIfNeeded: rng.next()),
                        proto: proto, l4, id: UInt16(truncatingIfNeeded: rng.next()), fragment: fragment)
        if !options.isEmpty {
            ip[0] = 0x46
            ip.insert(contentsOf: options, at: 20)
        }
        var frame = f + F.be16(0x0800) + ip
        if rng.next() % 8 == 0 { frame = Array(frame.prefix(f.count + 2 + Int(rng.next() % 30))) }
        return (frame, quoted)
    }

    // MARK: the interpreter

    /// Runs `program` on `frame` as received: the outer tag (if any) out of band, the data from
    /// the network header, skb->protocol the EtherType after the outer tag. Nil on an instruction
    /// it does not know; 0 when a load falls outside the packet (as the kernel does).
    static func run(_ program: [ClassicBPFInstruction], onFrame frame: [UInt8]) -> UInt32? {
        var off = 12
        if [0x8100, 0x88A8].contains(TestFrames.half(frame, 12)) { off = 16 }
        let proto = UInt32(TestFrames.half(frame, off))
        let data = Array(frame[(off + 2)...])
        return run(program, data: data, protocol: proto)
    }

    static func run(_ program: [ClassicBPFInstruction], data: [UInt8], protocol proto: UInt32) -> UInt32? {
        typealias B = ClassicBPF
        var a: UInt32 = 0, x: UInt32 = 0, pc = 0
        func load(_ at: UInt32, _ size: Int) -> UInt32? {
            let i = Int(at)
            guard i >= 0, i + size <= data.count else { return nil }
            return data[i..<(i + size)].reduce(0) { $0 << 8 | UInt32($1) }
        }
        while pc < program.count {
            let ins = program[pc]
            pc += 1
            switch ins.code {
            case B.ld | B.w | B.abs where ins.k == B.ancillaryProtocol: a = proto
            case B.ld | B.h | B.abs: guard let v = load(ins.k, 2) else { return 0 }; a = v
            case B.ld | B.b | B.abs: guard let v = load(ins.k, 1) else { return 0 }; a = v
            case B.ld | B.h | B.ind: guard let v = load(x &+ ins.k, 2) else { return 0 }; a = v
            case B.ld | B.b | B.ind: guard let v = load(x &+ ins.k, 1) else { return 0 }; a = v
            case B.ldx | B.b | B.msh: guard let v = load(ins.k, 1) else { return 0 }; x = (v & 0xF) << 2
            case B.alu | B.rsh | B.k: a >>= ins.k
            case B.alu | B.mod | B.k: a %= ins.k
            case B.jmp | B.ja: pc += Int(ins.k)
            case B.jmp | B.jeq | B.k: pc += Int(a == ins.k ? ins.jt : ins.jf)
            case B.jmp | B.jset | B.k: pc += Int(a & ins.k != 0 ? ins.jt : ins.jf)
            case B.ret | B.k: return ins.k
            case B.ret | B.a: return a
            default: return nil
            }
        }
        return nil
    }
}
