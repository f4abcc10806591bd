import XCTest
import BufferCache
@testable import Pipeline

/// The frames one worker lends its heads (an AF_XDP UMEM, in miniature): fixed slots, taken by
/// its port's receive and given back by the port's send or by the allocator's put. Used by one
/// worker's thread only, as a UMEM is.
private final class FrameRegion: @unchecked Sendable {
    static let slotSize = 2048, headroom = 256
    let base: UnsafeMutableRawPointer
    private var free: [UInt64]
    let slots: Int
    /// Frames given back twice, or addresses that are not this region's.
    private(set) var violations = 0
    private var out: Set<UInt64> = []

    init(slots: Int) {
        self.slots = slots
        base = .allocate(byteCount: slots * Self.slotSize, alignment: 64)
        free = (0..<slots).map { UInt64($0 * Self.slotSize) }
        free.reserveCapacity(slots)
        out.reserveCapacity(slots)
    }

    deinit { base.deallocate() }

    var outstanding: Int { out.count }

    func take() -> UInt64? {
        guard let address = free.popLast() else { return nil }
        out.insert(address)
        return address
    }

    func giveBack(_ address: UInt64) {
        guard out.remove(address) != nil else { violations += 1; return }
        free.append(address)
    }
}

/// A port whose receive builds heads around the region's frames (as `XdpPort`) and whose send
/// takes a frame-built head by address (the frame goes back to the region, as a TX completion
/// would) and any other head as a copy, whose bytes it checks against what was received.
private struct FrameLendingPort: PacketPort, ~Copyable {
    let region: FrameRegion
    let frames: [[UInt8]]
    var remaining: Int
    private var next = 0
    private(set) var byAddress = 0
    private(set) var copies = 0
    /// Copies whose bytes are none of `frames`.
    private(set) var corrupt = 0

    init(region: FrameRegion, frames: [[UInt8]] = [], budget: Int = 0) {
        self.region = region
        self.frames = frames
        remaining = frames.isEmpty ? 0 : budget
    }

    var pollDescriptor: Int32 { -1 }
    static var buildsHeadsAroundFrames: Bool { true }

    mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(PortError) -> Int {
        var n = 0
        while n < min(count, remaining), let address = region.take() {
            let f = frames[next]
            next = (next + 1) % frames.count
            let slot = region.base + Int(address)
            f.withUnsafeBytes { (slot + FrameRegion.headroom).copyMemory(from: $0.baseAddress!, byteCount: f.count) }
            heads[n].build(around: slot, address: address, capacity: UInt32(FrameRegion.slotSize),
                           dataOffset: UInt32(FrameRegion.headroom), length: UInt32(f.count), wireLength: UInt32(f.count))
            n += 1
        }
        remaining -= n
        return n
    }

    mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32) {
        for i in 0..<count {
            let head = heads[i]
            if head.isBuiltAroundFrame {
                byAddress += 1
                region.giveBack(head.releaseFrame())
            } else {
                copies += 1
                if !frames.contains(Array(UnsafeRawBufferPointer(head.bytes))) { corrupt += 1 }
            }
        }
        return (count, 0)
    }
}

/// A head still built around a frame when it is freed gives the frame back to the region first
/// (what the allocators do through the head's `FrameOrigin`, written out here for the region).
private struct FrameLendingAllocator: HeadAllocator, ~Copyable {
    var base: HeadCache
    let region: FrameRegion
    /// Frames given back by a single `put` rather than a bulk one.
    var framesPutOneByOne = 0

    var kind: String { base.kind }
    var counters: AllocatorCounters { base.counters }
    mutating func get() -> PacketHead? { base.get() }
    mutating func getBulk(into heads: UnsafeMutablePointer<PacketHead>, count: Int) -> Int { base.getBulk(into: heads, count: count) }
    mutating func getBulkForFrames(into heads: UnsafeMutablePointer<PacketHead>, count: Int) -> Int {
        base.getBulkForFrames(into: heads, count: count)
    }
    mutating func put(_ head: PacketHead) {
        if head.isBuiltAroundFrame { framesPutOneByOne += 1 }
        putOne(head)
    }
    mutating func putBulk(_ heads: UnsafePointer<PacketHead>, count: Int) {
        for i in 0..<count { putOne(heads[i]) }
    }
    private mutating func putOne(_ head: PacketHead) {
        if head.isBuiltAroundFrame { region.giveBack(head.releaseFrame()) }
        base.put(head)
    }
}

/// Worker.portable: a frame handed to another worker leaves the frame it was built around (its
/// region is its worker's alone) as a copy in a head of its own, and the frame goes back with
/// the step's other heads, in the allocator's bulk put.
final class FrameHandOffTests: XCTestCase {
    /// One worker's findings, written by its thread only and read after the join.
    private final class Report: @unchecked Sendable {
        var byAddress = 0, copies = 0, corrupt = 0, outstanding = 0, violations = 0, putOneByOne = 0
    }

    func testAHandedOffFrameTravelsAsACopyAndItsFrameGoesBack() throws {
        let frames = 20_000
        let pool = HeadPool()
        let frames01 = [ownerFrame(0), ownerFrame(1)]
        let reports = [Report(), Report()]
        let (stats, sent) = try runTwoWorkers(frames: frames, laneCapacity: 4096) { index, endpoint, slot, results, wake in
            let region = FrameRegion(slots: 512)
            var worker = Worker(allocator: FrameLendingAllocator(base: HeadCache(pool: pool, configuration: .kernel2021)!, region: region),
                                processor: OwnerByByte(index: index, workers: 2),
                                inPort: FrameLendingPort(region: region, frames: frames01, budget: frames),
                                outPort: FrameLendingPort(region: region, frames: frames01),
                                inputs: [.inside], settings: WorkerSettings(), slot: slot, handOff: endpoint)
            try worker.run(stop: results.stop, wakeDescriptor: wake)
            // After the stop every head is back: so is every frame.
            let report = reports[index]
            report.byAddress = worker.outPort.byAddress
            report.copies = worker.outPort.copies
            report.corrupt = worker.outPort.corrupt
            report.outstanding = region.outstanding
            report.violations = region.violations
            report.putOneByOne = worker.allocator.framesPutOneByOne
            return worker.outPort.byAddress + worker.outPort.copies
        }
        for i in 0..<2 {
            let s = stats[i], r = reports[i]
            XCTAssertEqual(s.directions.0.rxFrames, UInt64(frames))
            XCTAssertGreaterThan(s.handOffs.received, 0)
            XCTAssertEqual(UInt64(r.copies), s.handOffs.received, "worker \(i): every frame handed over is sent as a copy")
            XCTAssertEqual(r.byAddress + r.copies, sent[i])
            XCTAssertEqual(UInt64(r.byAddress), s.directions.0.txFrames - s.handOffs.received,
                           "worker \(i): its own frames go by address")
            XCTAssertEqual(r.corrupt, 0, "worker \(i): copies byte-exact")
            XCTAssertEqual(r.outstanding, 0, "worker \(i): every frame back in its region")
            XCTAssertEqual(r.violations, 0, "worker \(i): no frame given back twice or to the wrong region")
            XCTAssertEqual(r.putOneByOne, 0, "worker \(i): the originals of the copies go back in bulk")
        }
        let accounted = stats[0].directions.0.txFrames + stats[0].directions.0.dropsTotal
            + stats[1].directions.0.txFrames + stats[1].directions.0.dropsTotal
        XCTAssertEqual(accounted, UInt64(2 * frames), "every frame is sent or counted as a drop")
        XCTAssertEqual(pool.stats.outstanding, 0, "every head is back in the pool")
    }
}
