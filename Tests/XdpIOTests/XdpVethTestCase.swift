import BufferCache
import CXdp
import Foundation
import PacketFixtures
import PcapIO
import Pipeline
import VethFixtures
import XCTest
import XdpIO

/// AF_XDP against two veth pairs: peerA <-> xdpA and peerB <-> xdpB, one `XdpPair` (one UMEM)
/// on xdpA (side 0) and xdpB (side 1), libpcap ports on the peers to inject and to capture.
class XdpVethTestCase: VethTestCase {
    override class var vethPrefix: String { "xio" }
    /// Heads for the frames the tests send (buffers of their own) and for the peers' ports.
    var allocator = PlainAllocator()

    static let etherType: [UInt8] = [0x88, 0xb5]
    static var peerOptions: CaptureOptions {
        var o = CaptureOptions()
        o.filter = "ether proto 0x88b5"
        o.txRing = false
        return o
    }

    func frame(_ marker: Int, length: Int = 60) -> [UInt8] {
        [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01] + XdpVethTestCase.etherType
            + [UInt8(truncatingIfNeeded: marker >> 8), UInt8(truncatingIfNeeded: marker)]
            + (0..<(length - 16)).map { UInt8(truncatingIfNeeded: $0 ^ marker) }
    }

    struct Setup {
        let peerA: String, xdpA: String, peerB: String, xdpB: String
    }

    func makeVeths() throws -> Setup {
        let a = try makeVeth("a")
        let b = try makeVeth("b")
        return Setup(peerA: a.a, xdpA: a.b, peerB: b.a, xdpB: b.b)
    }

    func openPair(_ s: Setup, _ options: XdpOptions = XdpOptions()) throws -> XdpPair {
        try XdpPair((XdpInterface(name: s.xdpA, options: options), XdpInterface(name: s.xdpB, options: options)),
                    options: options)
    }

    func peer(_ name: String) throws -> PcapPort {
        PcapPort(handle: try PcapPort.Handle(name: name, options: XdpVethTestCase.peerOptions), burst: 32)
    }

    /// Sends every frame, retrying EAGAIN for up to `seconds`; returns how many went.
    func sendAll<P: PacketPort & ~Copyable>(_ frames: [[UInt8]], on port: inout P, seconds: Double = 3) throws -> Int {
        var heads = frames.map { makeHead($0, &allocator) }
        defer { heads.withUnsafeBufferPointer { allocator.putBulk($0.baseAddress!, count: $0.count) } }
        var i = 0
        let deadline = Date().addingTimeInterval(seconds)
        while i < heads.count, Date() < deadline {
            let n = min(32, heads.count - i)
            let r = heads.withUnsafeMutableBufferPointer { port.send($0.baseAddress! + i, count: n) }
            i += r.sent
            if r.sent < n {
                XCTAssertEqual(r.errno, EAGAIN)
                var fd = pollfd(fd: port.pollDescriptor, events: Int16(POLLOUT), revents: 0)
                _ = poll(&fd, 1, 1)
            }
        }
        return i
    }

    /// Frames of the test's EtherType received on `port` within `seconds`, into heads of
    /// `allocator` (freed after each burst: an AF_XDP port's heads give their UMEM frames back
    /// when they are put).
    func receive<P: PacketPort & ~Copyable, A: HeadAllocator & ~Copyable>(
        on port: inout P, using allocator: inout A, expected: Int, seconds: Double) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(seconds)
        let heads = UnsafeMutablePointer<PacketHead>.allocate(capacity: 32)
        defer { heads.deallocate() }
        while frames.count < expected, Date() < deadline {
            var fd = pollfd(fd: port.pollDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&fd, 1, 10)
            let have = allocator.getBulk(into: heads, count: 32)
            let got = try port.receive(into: heads, count: have)
            for head in UnsafeBufferPointer(start: heads, count: got)
            where head.length >= 14 && head.data.load(fromByteOffset: 12, as: UInt16.self) == 0xb588 {
                frames.append(Array(UnsafeRawBufferPointer(head.bytes)))
                XCTAssertEqual(Int(head.meta.pointee.wireLength), head.length)
            }
            allocator.putBulk(heads, count: have)
        }
        return frames
    }

    /// `receive` on a peer's libpcap port.
    func receive(on port: inout PcapPort, expected: Int, seconds: Double) throws -> [[UInt8]] {
        try receive(on: &port, using: &allocator, expected: expected, seconds: seconds)
    }

    /// `receive` on an AF_XDP port, into heads of a plain allocator of its own.
    func receive(on port: inout XdpPort, expected: Int, seconds: Double) throws -> [[UInt8]] {
        var heads = PlainAllocator()
        return try receive(on: &port, using: &heads, expected: expected, seconds: seconds)
    }

    /// Polls `port` for up to `seconds` until one frame lands in `head`; returns 1, or 0 if none came.
    func receiveOne(into head: inout PacketHead, on port: inout XdpPort, seconds: Double = 3) throws -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try withUnsafeMutablePointer(to: &head, { try port.receive(into: $0, count: 1) }) == 1 { return 1 }
            usleep(1000)
        }
        return 0
    }

    /// Between calls: every frame in one state, the counts add up, no head holds a frame, and
    /// every RX frame given back is in its fill ring or its stash.
    func assertBalanced(_ pair: XdpPair, file: StaticString = #filePath, line: UInt = #line) {
        let c = pair.census()
        XCTAssertNil(c.problem, file: file, line: line)
        XCTAssertEqual(c.violations, 0, file: file, line: line)
        XCTAssertEqual(c.total, 4 * c.perPartition, file: file, line: line)
        XCTAssertEqual(c.rxHeld.0 + c.rxHeld.1, 0, "every frame received was given back or sent", file: file, line: line)
    }
}

