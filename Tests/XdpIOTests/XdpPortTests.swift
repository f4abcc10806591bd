import BufferCache
import CXdp
import Foundation
import PacketFixtures
import PcapIO
import Pipeline
import VethFixtures
import XCTest
import XdpIO

/// The port's contract (bursts, EAGAIN, frame accounting) and the interfaces' XDP programs:
/// attached while open, removed after a close, a crash or a failed start.
final class XdpPortTests: XdpVethTestCase {
    func testFramesFromThePeerArriveByteExact() throws {
        let s = try makeVeths()
        let pair = try openPair(s)
        var rx = XdpPort(pair: pair, side: 0, burst: 32)
        var peer = PcapPort(handle: try PcapPort.Handle(name: s.peerA, options: XdpVethTestCase.peerOptions), burst: 32)
        let sent = [frame(1), frame(2, length: 1514), frame(3, length: 200)] + (4..<100).map { frame($0, length: 60 + $0) }
        XCTAssertEqual(try sendAll(sent, on: &peer), sent.count)
        XCTAssertEqual(try receive(on: &rx, expected: sent.count, seconds: 3), sent)
        assertBalanced(pair)
        XCTAssertEqual(pair.counters(side: 0)?.rx_frames ?? 0, UInt64(sent.count))
        XCTAssertEqual(pair.mode(side: 0), "generic", "auto is generic on veth")
    }

    func testFramesSentArriveByteExactOnThePeer() throws {
        let s = try makeVeths()
        let pair = try openPair(s)
        var tx = XdpPort(pair: pair, side: 1, burst: 32)
        var peer = PcapPort(handle: try PcapPort.Handle(name: s.peerB, options: XdpVethTestCase.peerOptions), burst: 32)
        let sent = [frame(1), frame(2, length: 1514)] + (3..<300).map { frame($0, length: 60 + $0 % 1400) }
        XCTAssertEqual(try sendAll(sent, on: &tx), sent.count)
        XCTAssertEqual(try receive(on: &peer, expected: sent.count, seconds: 3), sent)
        assertBalanced(pair)
    }

    func testFullTxRingIsEagainAndRecovers() throws {
        let s = try makeVeths()
        var options = XdpOptions()
        options.ringSize = 64
        let pair = try openPair(s, options)
        var tx = XdpPort(pair: pair, side: 0, burst: 32)
        var peer = PcapPort(handle: try PcapPort.Handle(name: s.peerA, options: XdpVethTestCase.peerOptions), burst: 32)
        pair.setTxKick(side: 0, false)
        let first = (0..<64).map { frame($0) }
        XCTAssertEqual(try sendAll(first, on: &tx, seconds: 0.2), 64)
        // Every TX frame is in the kernel's hands now: the next send finds none free.
        var head = try XCTUnwrap(allocator.get())
        defer { allocator.put(head) }
        let extra = frame(64)
        head.data.copyMemory(from: extra, byteCount: extra.count)
        head.length = extra.count
        let full = withUnsafePointer(to: &head) { tx.send($0, count: 1) }
        XCTAssertEqual(full.sent, 0)
        XCTAssertEqual(full.errno, EAGAIN)
        XCTAssertEqual(pair.census().txKernel.0, 64)
        assertBalanced(pair)
        pair.setTxKick(side: 0, true)
        let rest = (64..<200).map { frame($0) }
        XCTAssertEqual(try sendAll(rest, on: &tx), rest.count)
        XCTAssertEqual(try receive(on: &peer, expected: 200, seconds: 3), first + rest, "each frame once, in order")
        assertBalanced(pair)
    }

    func testAccountingBalancesAfterTrafficBothWaysAndAfterClose() throws {
        let s = try makeVeths()
        let pair = try openPair(s)
        do {
            var a = XdpPort(pair: pair, side: 0, burst: 32), b = XdpPort(pair: pair, side: 1, burst: 32)
            var peerA = PcapPort(handle: try PcapPort.Handle(name: s.peerA, options: XdpVethTestCase.peerOptions), burst: 32)
            let frames = (0..<2000).map { frame($0) }
            XCTAssertEqual(try sendAll(frames, on: &peerA), frames.count)
            let got = try receive(on: &a, expected: frames.count, seconds: 5)
            XCTAssertGreaterThan(got.count, 1000)
            XCTAssertEqual(try sendAll(got, on: &b), got.count)
            XCTAssertEqual(try sendAll(got, on: &a), got.count)
            assertBalanced(pair)
        }
        let last = pair.close()
        XCTAssertNil(last.problem)
        XCTAssertEqual(last.txKernel.0 + last.txKernel.1, 0, "every frame sent has completed")
        XCTAssertEqual(last.txFree.0 + last.txFree.1, 2 * last.perPartition)
        XCTAssertEqual(last.rxKernel.0 + last.rxKernel.1, 2 * last.perPartition)
    }

    func testNoProgramIsLeftOnTheInterfacesAfterClose() throws {
        let s = try makeVeths()
        do {
            let pair = try openPair(s)
            XCTAssertNotNil(XdpInterface.attachedProgram(s.xdpA), "the XSK program is attached while open")
            XCTAssertNotNil(XdpInterface.attachedProgram(s.xdpB))
            _ = pair
        }
        XCTAssertNil(XdpInterface.attachedProgram(s.xdpA).map { "\($0)" })
        XCTAssertNil(XdpInterface.attachedProgram(s.xdpB).map { "\($0)" })
        try shell("ip link show \(s.xdpA) | grep -qv xdp")
        // And again: binding right after a close works (the shim retries the kernel's EBUSY).
        let again = try openPair(s)
        XCTAssertNotNil(XdpInterface.attachedProgram(s.xdpA))
        _ = again.close()
    }

    /// A crash (SIGKILL) leaves libxdp's program attached; while the process lives its program
    /// is refused as another's, once it is gone the next start removes it. The crashed process
    /// is a child that opens a pair and is killed.
    func testALeftoverOfACrashedRunIsRemovedOnTheNextStart() throws {
        let s = try makeVeths()
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let child = fork()
        if child == 0 {
            var options = XdpOptions()
            options.mode = .generic
            options.ringSize = 64
            let pair = try? openPair(s, options)
            var ok: UInt8 = pair == nil ? 0 : 1
            _ = write(fds[1], &ok, 1)
            while true { withExtendedLifetime(pair) { _ = pause() } }
        }
        var ready: UInt8 = 0
        XCTAssertEqual(read(fds[0], &ready, 1), 1)
        close(fds[0]); close(fds[1])
        XCTAssertEqual(ready, 1, "the child opened its pair")
        let leftover = XdpInterface.attachedProgram(s.xdpA)
        XCTAssertNotNil(leftover)
        XCTAssertThrowsError(try XdpInterface(name: s.xdpA), "a live forwarder's program is not touched") { e in
            XCTAssertEqual((e as? XdpError)?.kind, .programPresent)
            XCTAssertTrue((e as? XdpError)?.message.contains("forwarder pid \(child) is using the interface") ?? false, "\(e)")
        }
        kill(child, SIGKILL)
        var status: Int32 = 0
        waitpid(child, &status, 0)
        usleep(100_000)
        XCTAssertEqual(XdpInterface.attachedProgram(s.xdpA)?.id, leftover?.id, "SIGKILL leaves the program attached")
        let a = try XdpInterface(name: s.xdpA), b = try XdpInterface(name: s.xdpB)
        XCTAssertEqual(a.removedLeftover, leftover?.id)
        XCTAssertNotNil(b.removedLeftover)
        XCTAssertNil(XdpInterface.attachedProgram(s.xdpA).map { "\($0)" })
        XCTAssertNil(XdpInterface.attachedProgram(s.xdpB).map { "\($0)" })
        // And the interfaces work again.
        let pair = try XdpPair((a, b), options: XdpOptions())
        XCTAssertNil(pair.census().problem)
    }

    func testAForeignProgramIsRefusedWithTheFix() throws {
        let s = try makeVeths()
        try shell("ip link set dev \(s.xdpA) xdpgeneric obj /usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o sec xdp 2>/dev/null")
        defer { _ = system("ip link set dev \(s.xdpA) xdpgeneric off") }
        XCTAssertThrowsError(try openPair(s)) { e in
            let error = e as? XdpError
            XCTAssertEqual(error?.kind, .programPresent)
            XCTAssertTrue(error?.message.contains("\(s.xdpA): AF_XDP: another XDP program is attached") ?? false, "\(e)")
            XCTAssertTrue(error?.message.contains("xdp off") ?? false)
        }
        XCTAssertNil(XdpInterface.attachedProgram(s.xdpB).map { "\($0)" }, "nothing attached to the other interface")
    }

    func testZeroCopyOnVethAndAMissingQueueAreClearErrors() throws {
        let s = try makeVeths()
        var zc = XdpOptions()
        zc.zeroCopy = true
        XCTAssertThrowsError(try openPair(s, zc)) { e in
            XCTAssertEqual((e as? XdpError)?.kind, .modeUnsupported, "\(e)")
            XCTAssertTrue((e as? XdpError)?.message.contains("without --xdp-zero-copy") ?? false, "\(e)")
        }
        XCTAssertNil(XdpInterface.attachedProgram(s.xdpA).map { "\($0)" }, "a failed start leaves nothing attached")
        var q = XdpOptions()
        q.queue = 3
        XCTAssertThrowsError(try openPair(s, q)) { e in
            XCTAssertEqual((e as? XdpError)?.kind, .noSuchQueue, "\(e)")
            XCTAssertTrue((e as? XdpError)?.message.contains("has 1 RX queue") ?? false, "\(e)")
        }
        XCTAssertThrowsError(try XdpInterface(name: "xio-none0")) { e in
            XCTAssertEqual((e as? XdpError)?.kind, .noSuchDevice)
        }
    }

    func testNativeModeWorksOnVethToo() throws {
        let s = try makeVeths()
        var o = XdpOptions()
        o.mode = .native
        let pair = try openPair(s, o)
        XCTAssertEqual(pair.mode(side: 0), "native")
        var rx = XdpPort(pair: pair, side: 0, burst: 32)
        var peer = PcapPort(handle: try PcapPort.Handle(name: s.peerA, options: XdpVethTestCase.peerOptions), burst: 32)
        let sent = (0..<50).map { frame($0, length: 100) }
        XCTAssertEqual(try sendAll(sent, on: &peer), sent.count)
        XCTAssertEqual(try receive(on: &rx, expected: sent.count, seconds: 3), sent)
        assertBalanced(pair)
    }

}
