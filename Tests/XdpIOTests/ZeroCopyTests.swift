import BufferCache
import CMallocCounter
import CXdp
import Foundation
import PacketFixtures
import PcapIO
import Pipeline
import XCTest
@testable import XdpIO

/// Drops every frame: each received UMEM frame must go back to its fill ring.
struct DropEverything: FrameProcessor {
    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict { .drop(.unmapped) }
}

/// Sends each frame as a copy in a head of its own (as the NAT gateway builds ARP replies and
/// ICMP errors) and frees the received head itself, through the allocator it was given.
struct CopyingForwarder: FrameProcessor {
    var output: [(Side, PacketHead)] = []

    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        guard let copy = allocator.get() else { return .drop(.noBuffer) }
        copy.length = head.length
        copy.data.copyMemory(from: head.data, byteCount: head.length)
        allocator.put(head)
        output.append((side.other, copy))
        return .consumed
    }

    mutating func popOutput() -> (Side, PacketHead)? { output.isEmpty ? nil : output.removeFirst() }

    mutating func releaseAll<A: HeadAllocator & ~Copyable>(allocator: inout A) {
        for (_, head) in output { allocator.put(head) }
        output = []
    }
}

/// The worker on AF_XDP without a copy in user space: heads built around the UMEM frames,
/// frames handed from one socket's RX ring to the other's TX ring, given back to their fill
/// ring however their head is freed; with the cache and with the plain allocator.
final class ZeroCopyTests: XdpVethTestCase {
    private func makeWorker<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
        _ pair: XdpPair, _ base: consuming A, _ processor: consuming P, inputs: [Side] = [.inside, .outside],
        settings: WorkerSettings = WorkerSettings(), slot: StatsSlot<P.Counters>
    ) -> Worker<A, P, XdpPort> {
        Worker(allocator: base, processor: processor,
               inPort: XdpPort(pair: pair, side: 0, burst: 32), outPort: XdpPort(pair: pair, side: 1, burst: 32),
               inputs: inputs, settings: settings, slot: slot)
    }

    /// Steps the worker until side 0 and side 1 have taken `rx` frames off their RX rings (or
    /// `seconds` passed), then a few times more.
    private func pump<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable>(
        _ worker: inout Worker<A, P, XdpPort>, _ pair: XdpPair, rx: (UInt64, UInt64), seconds: Double = 3
    ) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let c0 = pair.counters(side: 0)?.rx_frames ?? 0, c1 = pair.counters(side: 1)?.rx_frames ?? 0
            if c0 >= rx.0 && c1 >= rx.1 { break }
            if try worker.step(now: 1) == 0 { usleep(200) }
        }
        for _ in 0..<20 { _ = try worker.step(now: 1); usleep(100) }
    }

    private func marker(_ f: [UInt8]) -> Int { Int(f[14]) << 8 | Int(f[15]) }

    private func forwardsBothWaysWithoutACopy<A: HeadAllocator & ~Copyable>(_ base: consuming A) throws {
        let s = try makeVeths()
        let pair = try openPair(s)
        var peerA = try peer(s.peerA), peerB = try peer(s.peerB)
        let slot = StatsSlot<NoCounters>()
        var worker = makeWorker(pair, base, TransparentBridge(), slot: slot)
        let east = (0..<400).map { frame($0, length: 60 + ($0 * 37) % 1455) }
        let west = (1000..<1400).map { frame($0, length: 60 + ($0 * 13) % 1455) }
        XCTAssertEqual(try sendAll(east, on: &peerA), east.count)
        XCTAssertEqual(try sendAll(west, on: &peerB), west.count)
        try pump(&worker, pair, rx: (UInt64(east.count), UInt64(west.count)))
        XCTAssertEqual(try receive(on: &peerB, expected: east.count, seconds: 3), east, "side 0 -> side 1 byte-exact, in order")
        XCTAssertEqual(try receive(on: &peerA, expected: west.count, seconds: 3), west, "side 1 -> side 0 byte-exact, in order")
        for side in 0..<2 {
            let c = try XCTUnwrap(pair.counters(side: side))
            XCTAssertEqual(c.tx_frames, 400, "side \(side)")
            XCTAssertEqual(c.tx_copied, 0, "side \(side): every frame went without a copy")
        }
        worker.finish()
        let stats = try XCTUnwrap(slot.read())
        XCTAssertEqual(stats.directions.0.txFrames + stats.directions.1.txFrames, 800)
        XCTAssertEqual(stats.directions.0.dropsTotal + stats.directions.1.dropsTotal, 0)
        assertBalanced(pair)
        _ = consume worker
        let last = pair.close()
        XCTAssertNil(last.problem)
        XCTAssertEqual(last.rxKernel.0 + last.rxKernel.1, 2 * last.perPartition, "every RX frame is back in its fill ring")
    }

    func testForwardsBothWaysByteExactWithoutACopyWithTheCache() throws {
        let pool = HeadPool()
        guard let cache = HeadCache(pool: pool) else { return XCTFail("no cache") }
        try forwardsBothWaysWithoutACopy(cache)
        XCTAssertEqual(pool.stats.outstanding, 0, "no head leaked")
    }

    func testForwardsBothWaysByteExactWithoutACopyWithPlainHeads() throws {
        try forwardsBothWaysWithoutACopy(PlainAllocator())
    }

    /// A VLAN push opens its gap in the UMEM frame's headroom and a pop closes it there: the
    /// head stays built around the frame it was received in, and the frame goes out as it is.
    func testVlanPushAndPopUseTheUmemFramesHeadroom() throws {
        let s = try makeVeths()
        let pair = try openPair(s)
        var peerA = try peer(s.peerA), peerB = try peer(s.peerB)
        var a = XdpPort(pair: pair, side: 0, burst: 32), b = XdpPort(pair: pair, side: 1, burst: 32)
        var heads = PlainAllocator()
        let tag: [UInt8] = [0x81, 0x00, 0x00, 0x14]

        func receiveOne(on port: inout XdpPort, etherTypeAt12 etherType: UInt16) throws -> PacketHead {
            let deadline = Date().addingTimeInterval(3)
            while Date() < deadline {
                var head = try XCTUnwrap(heads.get())
                let got = try withUnsafeMutablePointer(to: &head) { try port.receive(into: $0, count: 1) }
                if got == 1 && head.length >= 16 && head.data.load(fromByteOffset: 12, as: UInt16.self) == etherType.bigEndian {
                    return head
                }
                heads.put(head)
                usleep(1000)
            }
            return try XCTUnwrap(nil as PacketHead?, "no frame arrived on \(port.name) within 3 s")
        }

        // Push: received on side 0, tagged in place, sent on side 1.
        let plainFrame = frame(7, length: 100)
        XCTAssertEqual(try sendAll([plainFrame], on: &peerA), 1)
        var head = try receiveOne(on: &a, etherTypeAt12: 0x88b5)
        let address = head.meta.pointee.frameAddress, buffer = head.meta.pointee.buffer, data = head.data
        XCTAssertTrue(head.isBuiltAroundFrame)
        XCTAssertEqual(buffer, UnsafeMutableRawPointer(cxdp_umem_area(pair.pair))! + Int(address), "the head is the UMEM frame")
        XCTAssertGreaterThanOrEqual(head.headroom, 256, "XDP_PACKET_HEADROOM in front of the frame")
        let gap = try XCTUnwrap(head.insertGap(at: 12, count: 4))
        gap.copyMemory(from: tag, byteCount: 4)
        XCTAssertEqual(head.meta.pointee.frameAddress, address, "still the received frame")
        XCTAssertEqual(head.meta.pointee.buffer, buffer)
        XCTAssertEqual(head.data, data - 4, "the gap is in the frame's headroom")
        var sent = withUnsafePointer(to: &head) { b.send($0, count: 1) }
        XCTAssertEqual(sent.sent, 1)
        XCTAssertFalse(head.isBuiltAroundFrame, "the kernel has the frame now, the head its own buffer")
        heads.put(head)
        XCTAssertEqual(pair.counters(side: 1)?.tx_copied, 0)
        var tagged = plainFrame
        tagged.insert(contentsOf: tag, at: 12)
        XCTAssertEqual(try receiveTagged(on: &peerB, marker: 7), tagged)

        // Pop: a tagged frame received on side 1, untagged in place, sent on side 0.
        var tagged2 = frame(8, length: 100)
        tagged2.insert(contentsOf: tag, at: 12)
        XCTAssertEqual(try sendAll([tagged2], on: &peerB), 1)
        head = try receiveOne(on: &b, etherTypeAt12: 0x8100)
        let address2 = head.meta.pointee.frameAddress, data2 = head.data
        head.removeBytes(at: 12, count: 4)
        XCTAssertEqual(head.meta.pointee.frameAddress, address2)
        XCTAssertEqual(head.data, data2 + 4)
        sent = withUnsafePointer(to: &head) { a.send($0, count: 1) }
        XCTAssertEqual(sent.sent, 1)
        heads.put(head)
        XCTAssertEqual(pair.counters(side: 0)?.tx_copied, 0)
        XCTAssertEqual(try receive(on: &peerA, expected: 1, seconds: 3), [frame(8, length: 100)])
        let none = UnsafeMutablePointer<PacketHead>.allocate(capacity: 1)
        defer { none.deallocate() }
        _ = try a.receive(into: none, count: 0)  // takes side 1's completions
        _ = try b.receive(into: none, count: 0)
        assertBalanced(pair)
        XCTAssertNil(pair.close().problem)
    }

    /// A tagged frame of the test's EtherType with `marker`, as the peer captured it.
    private func receiveTagged(on port: inout PcapPort, marker m: Int) throws -> [UInt8]? {
        let deadline = Date().addingTimeInterval(3)
        let heads = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
        defer { heads.deallocate() }
        while Date() < deadline {
            let have = allocator.getBulk(into: heads, count: 32)
            let got = try port.receive(into: heads, count: have)
            var found: [UInt8]?
            for head in UnsafeBufferPointer(start: heads, count: got) where head.length >= 20 {
                let f = Array(UnsafeRawBufferPointer(head.bytes))
                if f[12] == 0x81 && f[16] == 0x88 && f[17] == 0xb5 && Int(f[18]) << 8 | Int(f[19]) == m { found = f }
            }
            allocator.putBulk(heads, count: have)
            if let found { return found }
            usleep(1000)
        }
        return nil
    }

    /// A frame dropped (its head freed, by the worker or by whoever holds it) goes back to the
    /// fill ring of the socket it came from, so that a small UMEM never runs dry.
    func testADroppedFrameGoesBackToTheFillRing() throws {
        let s = try makeVeths()
        var options = XdpOptions()
        options.ringSize = 64
        let pair = try openPair(s, options)
        var peerA = try peer(s.peerA)
        var port = XdpPort(pair: pair, side: 0, burst: 32)
        var heads = PlainAllocator()
        XCTAssertEqual(try sendAll([frame(1)], on: &peerA), 1)
        var head = try XCTUnwrap(heads.get())
        XCTAssertEqual(try receiveOne(into: &head, on: &port), 1)
        XCTAssertEqual(pair.census().rxHeld.0, 1, "the head holds its frame")
        heads.put(head)
        var c = pair.census()
        XCTAssertNil(c.problem)
        XCTAssertEqual(c.rxHeld.0, 0)
        XCTAssertEqual(c.rxStash.0, 1, "given back, waiting for the next RX burst's refill")
        XCTAssertEqual(pair.counters(side: 0)?.recycled, 1)
        head = try XCTUnwrap(heads.get())
        XCTAssertEqual(try withUnsafeMutablePointer(to: &head) { try port.receive(into: $0, count: 1) }, 0)
        heads.put(head)
        c = pair.census()
        XCTAssertEqual(c.rxKernel.0, c.perPartition, "back in the fill ring")

        // Through the worker: 20 × 64 frames dropped on a 64-frame partition all arrive.
        let slot = StatsSlot<NoCounters>()
        var worker = makeWorker(pair, PlainAllocator(), DropEverything(), inputs: [.inside], slot: slot)
        for round in 0..<20 {
            XCTAssertEqual(try sendAll((0..<64).map { frame(round * 64 + $0) }, on: &peerA), 64)
            try pump(&worker, pair, rx: (UInt64(1 + 64 * (round + 1)), 0))
        }
        worker.finish()
        let d = try XCTUnwrap(slot.read()).directions.0
        XCTAssertEqual(d.rxFrames, 20 * 64)
        XCTAssertEqual(d[.unmapped], 20 * 64)
        XCTAssertEqual(pair.counters(side: 0)?.recycled, 1 + 20 * 64)
        _ = consume worker
        assertBalanced(pair)
        XCTAssertNil(pair.close().problem)
    }

    /// TX ring not moving (no kicks): frames forwarded without a copy wait in it (their RX
    /// partition runs dry and the kernel counts the frames it could not receive), and move when
    /// the kicks resume; copies find no free TX frame and, without retries (a retry's poll for
    /// POLLOUT drives the kernel's copy-mode TX itself), are dropped as tx_failed. No frame is
    /// leaked either way.
    func testAStuckTxRingMakesFramesWaitOrCountedDropsAndLeaksNothing() throws {
        let s = try makeVeths()
        var options = XdpOptions()
        options.ringSize = 64
        let pair = try openPair(s, options)
        var peerA = try peer(s.peerA), peerB = try peer(s.peerB)
        pair.setTxKick(side: 1, false)
        do {
            let slot = StatsSlot<NoCounters>()
            var worker = makeWorker(pair, PlainAllocator(), TransparentBridge(), inputs: [.inside], slot: slot)
            let frames = (0..<200).map { frame($0) }
            for chunk in stride(from: 0, to: 200, by: 32) {
                XCTAssertEqual(try sendAll(Array(frames[chunk..<min(chunk + 32, 200)]), on: &peerA), min(32, 200 - chunk))
                try pump(&worker, pair, rx: (UInt64(min(chunk + 32, 64)), 0), seconds: 0.2)
            }
            var c = pair.census()
            XCTAssertNil(c.problem)
            XCTAssertEqual(c.rxSending.0, 64, "the whole RX partition waits in side 1's TX ring")
            let k = try XCTUnwrap(pair.counters(side: 0))
            XCTAssertGreaterThan(k.rx_dropped + k.rx_fill_ring_empty, 0, "the kernel counted what it could not receive")
            pair.setTxKick(side: 1, true)
            try pump(&worker, pair, rx: (0, 0), seconds: 0.1)
            c = pair.census()
            XCTAssertEqual(c.rxSending.0, 0, "the waiting frames went once the kicks resumed")
            let arrived = try receive(on: &peerB, expected: 64, seconds: 3)
            XCTAssertEqual(Array(arrived.prefix(64)), Array(frames.prefix(64)), "the waiting frames, in order")
            worker.finish()
            XCTAssertEqual(try XCTUnwrap(slot.read()).directions.0[.txFailed], 0)
            _ = consume worker
        }
        assertBalanced(pair)

        // Copies: the TX partition's 64 frames are all in the ring, the rest are dropped.
        pair.setTxKick(side: 1, false)
        let slot = StatsSlot<NoCounters>()
        var settings = WorkerSettings()
        settings.txRetries = 0
        var worker = makeWorker(pair, PlainAllocator(), CopyingForwarder(), inputs: [.inside], settings: settings, slot: slot)
        let before = try XCTUnwrap(pair.counters(side: 0)).rx_frames
        for chunk in 0..<4 {
            XCTAssertEqual(try sendAll((0..<32).map { frame(1000 + chunk * 32 + $0) }, on: &peerA), 32)
            try pump(&worker, pair, rx: (before + UInt64(32 * (chunk + 1)), 0), seconds: 1)
        }
        worker.finish()
        let d = try XCTUnwrap(slot.read()).directions.0
        XCTAssertEqual(d.txFrames, 64)
        XCTAssertEqual(d[.txFailed], d.rxFrames - 64, "every copy that found no TX frame is counted")
        XCTAssertEqual(pair.census().txKernel.1, 64)
        _ = consume worker
        pair.setTxKick(side: 1, true)
        let last = pair.close()
        XCTAssertNil(last.problem, "no frame leaked")
        XCTAssertEqual(last.rxHeld.0, 0)
        XCTAssertEqual(last.txFree.1, last.perPartition)
    }

    /// A UMEM frame given back twice, or sent after it was given back, is refused and counted.
    func testAFrameGivenBackTwiceIsAViolation() throws {
        let s = try makeVeths()
        let pair = try openPair(s)
        var peerA = try peer(s.peerA)
        var port = XdpPort(pair: pair, side: 0, burst: 32)
        var other = XdpPort(pair: pair, side: 1, burst: 32)
        var heads = PlainAllocator()
        XCTAssertEqual(try sendAll([frame(1)], on: &peerA), 1)
        var head = try XCTUnwrap(heads.get())
        _ = try receiveOne(into: &head, on: &port)
        XCTAssertTrue(head.isBuiltAroundFrame)
        var address = head.meta.pointee.frameAddress
        heads.put(head)
        cxdp_recycle(pair.pair, &address, 1)
        XCTAssertEqual(pair.census().violations, 1)
        // A head built around the frame again (a stale copy of the handle) cannot send it.
        var stale = try XCTUnwrap(heads.get())
        stale.build(around: UnsafeMutableRawPointer(cxdp_umem_area(pair.pair))! + Int(address), address: address,
                    capacity: 2048, dataOffset: 256, length: 60, wireLength: 60)
        let r = withUnsafePointer(to: &stale) { other.send($0, count: 1) }
        XCTAssertEqual(r.sent, 0)
        XCTAssertEqual(r.errno, EINVAL)
        XCTAssertEqual(pair.census().violations, 2)
        _ = stale.releaseFrame()
        heads.put(stale)
        XCTAssertNotNil(pair.close().problem, "the violations are the census's problem")
    }

    /// The xdp path in cache mode makes no allocation per frame once warmed up.
    func testForwardingMakesNoAllocationPerFrameInCacheMode() throws {
        let s = try makeVeths()
        let pair = try openPair(s)
        var peerA = try peer(s.peerA)
        guard let cache = HeadCache(pool: HeadPool()) else { return XCTFail("no cache") }
        var worker = makeWorker(pair, cache, TransparentBridge(), inputs: [.inside], slot: StatsSlot<NoCounters>())
        var allocations: UInt64 = 0
        for round in 0..<15 {
            XCTAssertEqual(try sendAll((0..<200).map { frame(round * 200 + $0) }, on: &peerA), 200)
            let deadline = Date().addingTimeInterval(3)
            while (pair.counters(side: 0)?.rx_frames ?? 0) < UInt64(200 * (round + 1)), Date() < deadline {
                let before = cmc_thread_allocations()
                _ = try worker.step(now: 1)
                if round >= 5 { allocations += cmc_thread_allocations() - before }  // the first 1,000 warm up
            }
        }
        XCTAssertEqual(pair.counters(side: 0)?.rx_frames, 3000)
        XCTAssertEqual(allocations, 0, "RX, forward, TX and recycling of 2,000 frames")
        worker.finish()
        _ = consume worker
        XCTAssertNil(pair.close().problem)
    }
}
