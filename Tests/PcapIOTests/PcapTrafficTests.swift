import BufferCache
import Foundation
import PacketFixtures
import PcapIO
import Pipeline
import VethFixtures
import XCTest

/// Frames through a real veth pair: what one end's `PcapPort.send` puts on the wire, the other
/// end's `receive` gets byte for byte, and a port never reads what is sent out of its own
/// interface (PCAP_D_IN), which in a forwarder would loop frames back.
final class PcapTrafficTests: VethTestCase {
    override class var vethPrefix: String { "pio" }
    private var allocator = PlainAllocator()

    /// An experimental EtherType (IEEE 802 local), so the filter keeps anything else out.
    private static let etherType: [UInt8] = [0x88, 0xb5]
    private static var options: CaptureOptions {
        var o = CaptureOptions()
        o.filter = "ether proto 0x88b5"
        return o
    }

    private func frame(_ marker: UInt8, length: Int = 60) -> [UInt8] {
        [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01] + PcapTrafficTests.etherType
            + (0..<(length - 14)).map { UInt8(truncatingIfNeeded: $0) ^ marker }
    }

    private func send(_ frames: [[UInt8]], on port: inout PcapPort) throws {
        var heads = frames.map { makeHead($0, &allocator) }
        let result = heads.withUnsafeMutableBufferPointer { port.send($0.baseAddress!, count: $0.count) }
        XCTAssertEqual(result.sent, frames.count, "errno \(result.errno)")
        heads.withUnsafeBufferPointer { allocator.putBulk($0.baseAddress!, count: $0.count) }
    }

    /// Every frame `port` receives within `seconds`, waiting in poll() between bursts; stops
    /// early once `expected` frames are in.
    private func receive(on port: inout PcapPort, expected: Int, seconds: Double) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(seconds)
        var heads = (0..<8).map { _ in allocator.get()! }
        defer { heads.withUnsafeBufferPointer { allocator.putBulk($0.baseAddress!, count: $0.count) } }
        while frames.count < expected, Date() < deadline {
            var fd = pollfd(fd: port.pollDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&fd, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000)))
            let got = try heads.withUnsafeMutableBufferPointer { try port.receive(into: $0.baseAddress!, count: $0.count) }
            for head in heads[..<got] {
                frames.append(Array(UnsafeRawBufferPointer(head.bytes)))
                XCTAssertEqual(Int(head.meta.pointee.wireLength), head.length)
            }
        }
        return frames
    }

    /// Handles on both ends of a new veth pair (ports are ~Copyable: the tests make their own).
    private func openPair(_ tag: String) throws -> (a: PcapPort.Handle, b: PcapPort.Handle) {
        let pair = try makeVeth(tag)
        return (try PcapPort.Handle(name: pair.a, options: PcapTrafficTests.options),
                try PcapPort.Handle(name: pair.b, options: PcapTrafficTests.options))
    }

    func testFrameSentOnOneEndIsReceivedByteExactOnTheOther() throws {
        let handles = try openPair("x")
        var a = PcapPort(handle: handles.a, burst: 8), b = PcapPort(handle: handles.b, burst: 8)
        let sent = [frame(1), frame(2, length: 1514), frame(3, length: 200)]
        try send(sent, on: &a)
        XCTAssertEqual(try receive(on: &b, expected: sent.count, seconds: 2), sent)
        XCTAssertGreaterThanOrEqual(b.handle.kernelStats()?.received ?? 0, UInt64(sent.count))
    }

    func testPortDoesNotReadWhatLeavesItsInterface() throws {
        let handles = try openPair("i")
        var a = PcapPort(handle: handles.a, burst: 8), b = PcapPort(handle: handles.b, burst: 8)
        // A second socket on a: the kernel never loops a packet socket's own sends back to it,
        // so only another sender on the interface shows what PCAP_D_IN keeps out.
        var listener = PcapPort(handle: try PcapPort.Handle(name: handles.a.name, options: PcapTrafficTests.options),
                                burst: 8)
        try send([frame(7)], on: &a)
        // Once b has it, the frame has passed a's packet taps too: a would have it by now.
        XCTAssertEqual(try receive(on: &b, expected: 1, seconds: 2), [frame(7)])
        XCTAssertEqual(try receive(on: &listener, expected: 1, seconds: 0.3), [], "read another sender's TX")
        XCTAssertEqual(try receive(on: &a, expected: 1, seconds: 0.1), [], "read its own TX")
        // Both still receive what arrives from the wire.
        try send([frame(8)], on: &b)
        XCTAssertEqual(try receive(on: &a, expected: 1, seconds: 2), [frame(8)])
        XCTAssertEqual(try receive(on: &listener, expected: 1, seconds: 2), [frame(8)])
    }

    func testLongerFrameThanTheBufferIsCutButKeepsItsWireLength() throws {
        let handles = try openPair("t")
        var a = PcapPort(handle: handles.a, burst: 8), b = PcapPort(handle: handles.b, burst: 1)
        try send([frame(9, length: 1514)], on: &a)
        let head = try XCTUnwrap(allocator.get())
        defer { allocator.put(head) }
        // Leave 100 bytes of room: receive copies that much and reports the length on the wire.
        head.reset(headroom: Int(head.meta.pointee.capacity) - 100, owner: 0)
        var fd = pollfd(fd: b.pollDescriptor, events: Int16(POLLIN), revents: 0)
        XCTAssertEqual(poll(&fd, 1, 2000), 1)
        var heads = [head]
        let got = try heads.withUnsafeMutableBufferPointer { try b.receive(into: $0.baseAddress!, count: 1) }
        XCTAssertEqual(got, 1)
        XCTAssertEqual(Array(UnsafeRawBufferPointer(head.bytes)), Array(frame(9, length: 1514).prefix(100)))
        XCTAssertEqual(head.meta.pointee.wireLength, 1514)
    }
}
