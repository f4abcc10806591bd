import XCTest
import Synchronization
import BufferCache
import Glibc
@testable import Pipeline
import VlanTranslation

/// What the worker hands its drop sink.
final class RecordingSink: DropSink {
    struct Call: Equatable {
        var frame: [UInt8]
        var wireLength: Int
        var reason: String
        var direction: Side
        var interface: Side
    }
    private let list = Mutex<[Call]>([])
    var calls: [Call] { list.withLock { $0 } }

    func dropped(_ frame: UnsafeRawBufferPointer, wireLength: Int, reason: String, direction: Side, interface: Side) {
        let call = Call(frame: Array(frame), wireLength: wireLength, reason: reason, direction: direction,
                        interface: interface)
        list.withLock { $0.append(call) }
    }
}

/// Drops every frame for a reason of its own, as the NAT gateway does.
struct RefusingProcessor: FrameProcessor {
    var lastDropReason: String? { "no_session" }
    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        .drop(.processor)
    }
}

final class DropCaptureTests: XCTestCase {
    let frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00] + (0..<46).map { UInt8($0) }

    func settings(_ sink: DropSink?) -> WorkerSettings {
        var s = WorkerSettings()
        s.dropSink = sink
        return s
    }

    func testForwardedFramesNeverReachTheSink() throws {
        let sink = RecordingSink()
        var worker = Worker(allocator: HeadCache(pool: HeadPool())!, processor: TransparentBridge(),
                            inPort: MemoryPort(frames: [frame], budget: 200), outPort: MemoryPort(),
                            inputs: [.inside], settings: settings(sink), slot: StatsSlot<NoCounters>())
        for _ in 0..<10 { _ = try worker.step(now: 1) }
        worker.finish()
        XCTAssertEqual(worker.outPort.sentCount, 200)
        XCTAssertEqual(sink.calls, [])
    }

    func testOversizeFramesAreCapturedAsReceivedBeforeTheHeadGoesBack() throws {
        let sink = RecordingSink()
        var s = settings(sink)
        s.mtu = (1500, 100)
        let big = [UInt8](frame[0..<14]) + [UInt8](repeating: 7, count: 101)
        let pool = HeadPool()
        var worker = Worker(allocator: HeadCache(pool: pool)!, processor: TransparentBridge(),
                            inPort: MemoryPort(frames: [big, frame], budget: 4), outPort: MemoryPort(),
                            inputs: [.inside], settings: s, slot: StatsSlot<NoCounters>())
        _ = try worker.step(now: 1)
        worker.finish()
        XCTAssertEqual(worker.outPort.sentCount, 2)
        let expected = RecordingSink.Call(frame: big, wireLength: big.count, reason: "oversize", direction: .inside,
                                          interface: .inside)
        XCTAssertEqual(sink.calls, [expected, expected])
        _ = consume worker
        XCTAssertEqual(pool.stats.outstanding, 0)
    }

    func testUnmappedVlanAndProcessorReasons() throws {
        let sink = RecordingSink()
        var vlan = Worker(allocator: HeadCache(pool: HeadPool())!,
                          processor: VlanTranslator(map: try VlanMap(specs: ["100:200"], passUnmapped: false)),
                          inPort: MemoryPort(), outPort: MemoryPort(frames: [frame], budget: 3),
                          inputs: [.outside], settings: settings(sink), slot: StatsSlot<NoCounters>())
        _ = try vlan.step(now: 1)
        vlan.finish()
        XCTAssertEqual(sink.calls.map(\.reason), ["vlan_unmapped", "vlan_unmapped", "vlan_unmapped"])
        XCTAssertTrue(sink.calls.allSatisfy { $0.direction == .outside && $0.interface == .outside && $0.frame == frame })

        let nat = RecordingSink()
        var refusing = Worker(allocator: HeadCache(pool: HeadPool())!, processor: RefusingProcessor(),
                              inPort: MemoryPort(frames: [frame], budget: 2), outPort: MemoryPort(),
                              inputs: [.inside], settings: settings(nat), slot: StatsSlot<NoCounters>())
        _ = try refusing.step(now: 1)
        refusing.finish()
        XCTAssertEqual(nat.calls.map(\.reason), ["nat:no_session", "nat:no_session"])
    }

    func testRefusedSendIsCapturedOnTheSendingInterface() throws {
        let sink = RecordingSink()
        var worker = Worker(allocator: HeadCache(pool: HeadPool())!, processor: TransparentBridge(),
                            inPort: MemoryPort(frames: [frame], budget: 8), outPort: MemoryPort(),
                            inputs: [.inside], settings: settings(sink), slot: StatsSlot<NoCounters>())
        worker.outPort.refuseFrameAt = 3
        _ = try worker.step(now: 1)
        worker.finish()
        XCTAssertEqual(worker.outPort.sentCount, 7)
        XCTAssertEqual(sink.calls, [RecordingSink.Call(frame: frame, wireLength: frame.count, reason: "tx_failed",
                                                       direction: .inside, interface: .outside)])
    }
}
