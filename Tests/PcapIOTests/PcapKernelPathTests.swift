import BufferCache
import Foundation
import PacketFormats
import PacketFixtures
import PcapIO
import Pipeline
import VethFixtures
import XCTest

/// The leaner kernel path on a real veth pair: fanout spreads one interface's frames over
/// several handles flow by flow, qdisc bypass skips the interface's qdisc, and the TX ring
/// sends bursts with the same contract as sendmmsg (frames sent, the errno of the first that
/// was not).
final class PcapKernelPathTests: VethTestCase {
    override class var vethPrefix: String { "pkp" }
    private var allocator = PlainAllocator(geometry: HeadGeometry(dataSize: 4096))

    private static let udpPort: UInt16 = 40000
    private static var udpOptions: CaptureOptions {
        var o = CaptureOptions()
        o.filter = "udp dst port \(udpPort)"
        return o
    }

    private static var rawOptions: CaptureOptions {
        var o = CaptureOptions()
        o.filter = "ether proto 0x88b5"
        return o
    }

    /// An IPv4/UDP frame of flow `flow` (its source port) carrying `sequence`, with a correct
    /// header checksum, so the kernel's flow dissector hashes it as what it is.
    private func udpFrame(flow: Int, sequence: Int) -> [UInt8] {
        let payload: [UInt8] = [UInt8(flow), UInt8(sequence >> 8), UInt8(truncatingIfNeeded: sequence)]
            + [UInt8](repeating: 0xa5, count: 15)
        let udpLength = 8 + payload.count, totalLength = 20 + udpLength
        var ip: [UInt8] = [0x45, 0, UInt8(totalLength >> 8), UInt8(truncatingIfNeeded: totalLength), 0, 0, 0x40, 0,
                           64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        var sum = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += Int(ip[i]) << 8 | Int(ip[i + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        ip[10] = UInt8(~sum >> 8 & 0xff)
        ip[11] = UInt8(~sum & 0xff)
        let source = UInt16(10000 + flow), dest = PcapKernelPathTests.udpPort
        let udp: [UInt8] = [UInt8(source >> 8), UInt8(source & 0xff), UInt8(dest >> 8), UInt8(dest & 0xff),
                            UInt8(udpLength >> 8), UInt8(udpLength & 0xff), 0, 0]
        return [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00] + ip + udp + payload
    }

    /// An experimental-EtherType frame of `length` bytes, its bytes derived from `marker`.
    private func rawFrame(_ marker: UInt8, length: Int = 60) -> [UInt8] {
        [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5]
            + (0..<(length - 14)).map { UInt8(truncatingIfNeeded: $0 &* 7) ^ marker }
    }

    /// One `send` call with `frames`: what the port reports.
    private func sendOnce(_ frames: [[UInt8]], on port: inout PcapPort) throws -> (sent: Int, errno: Int32) {
        var heads = frames.map { makeHead($0, &allocator) }
        defer { heads.withUnsafeBufferPointer { allocator.putBulk($0.baseAddress!, count: $0.count) } }
        return heads.withUnsafeMutableBufferPointer { port.send($0.baseAddress!, count: $0.count) }
    }

    /// Sends all of `frames`, again and again from the first not sent while the port says
    /// EAGAIN or ENOBUFS (as the worker does); fails on any other errno. Returns how many
    /// calls came back short with EAGAIN.
    @discardableResult
    private func sendAll(_ frames: [[UInt8]], on port: inout PcapPort, seconds: Double = 5) throws -> Int {
        var next = 0, retries = 0
        let deadline = Date().addingTimeInterval(seconds)
        while next < frames.count {
            let r = try sendOnce(Array(frames[next...]), on: &port)
            next += r.sent
            if next == frames.count { break }
            guard r.errno == EAGAIN || r.errno == ENOBUFS else {
                XCTFail("frame \(next) not sent: errno \(r.errno)")
                return retries
            }
            if r.errno == EAGAIN { retries += 1 }
            guard Date() < deadline else {
                XCTFail("only \(next) of \(frames.count) sent in \(seconds) s")
                return retries
            }
            usleep(1000)
        }
        return retries
    }

    /// Every frame the handles receive within `seconds`, each tagged with the index of the
    /// handle it came from; stops early once `expected` frames are in.
    private func receive(on handles: [PcapPort.Handle], expected: Int, seconds: Double) throws -> [(port: Int, bytes: [UInt8])] {
        var frames: [(port: Int, bytes: [UInt8])] = []
        let deadline = Date().addingTimeInterval(seconds)
        var heads = (0..<32).map { _ in allocator.get()! }
        defer { heads.withUnsafeBufferPointer { allocator.putBulk($0.baseAddress!, count: $0.count) } }
        while frames.count < expected, Date() < deadline {
            var fds = handles.map { pollfd(fd: PcapPort(handle: $0, burst: 1).pollDescriptor, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), Int32(max(1, min(100, deadline.timeIntervalSinceNow * 1000))))
            for (i, handle) in handles.enumerated() {
                var port = PcapPort(handle: handle, burst: heads.count)
                let got = try heads.withUnsafeMutableBufferPointer { try port.receive(into: $0.baseAddress!, count: $0.count) }
                frames += heads[..<got].map { (i, Array(UnsafeRawBufferPointer($0.bytes))) }
            }
        }
        return frames
    }

    private func receive(on handle: PcapPort.Handle, expected: Int, seconds: Double) throws -> [[UInt8]] {
        try receive(on: [handle], expected: expected, seconds: seconds).map(\.bytes)
    }

    private func fanoutOptions(_ settings: FanoutSettings) -> CaptureOptions {
        var o = PcapKernelPathTests.udpOptions
        o.fanout = settings
        return o
    }

    // MARK: Fanout

    func testHashFanoutSplitsFlowsAndKeepsEachFlowOnOneHandle() throws {
        let pair = try makeVeth("h")
        let group = try XCTUnwrap(FanoutSettings.groupID(interface: pair.a))
        let options = fanoutOptions(FanoutSettings(group: group, mode: .hash))
        let members = [try PcapPort.Handle(name: pair.a, options: options), try PcapPort.Handle(name: pair.a, options: options)]
        var sender = PcapPort(handle: try PcapPort.Handle(name: pair.b, options: PcapKernelPathTests.udpOptions), burst: 64)

        let flows = 64, perFlow = 4
        let frames = (0..<perFlow).flatMap { s in (0..<flows).map { udpFrame(flow: $0, sequence: s) } }
        for start in stride(from: 0, to: frames.count, by: 32) {
            try sendAll(Array(frames[start..<min(start + 32, frames.count)]), on: &sender)
        }
        let got = try receive(on: members, expected: frames.count, seconds: 3)

        XCTAssertEqual(got.count, frames.count, "every frame once, on one handle or the other")
        XCTAssertEqual(Set(got.map(\.bytes)), Set(frames), "exactly the frames sent")
        var handlesOfFlow: [UInt8: Set<Int>] = [:]
        for frame in got { handlesOfFlow[frame.bytes[42], default: []].insert(frame.port) }
        XCTAssertEqual(handlesOfFlow.count, flows)
        for (flow, handles) in handlesOfFlow { XCTAssertEqual(handles.count, 1, "flow \(flow) on handles \(handles)") }
        let onFirst = handlesOfFlow.values.filter { $0 == [0] }.count
        XCTAssertTrue(onFirst > 0 && onFirst < flows, "\(onFirst) of \(flows) flows on the first handle: not split")
    }

    func testJoiningTheGroupWithAnotherModeOrInterfaceFailsWithTheFix() throws {
        let pair = try makeVeth("j")
        let group = try XCTUnwrap(FanoutSettings.groupID(interface: pair.a))
        let member = try PcapPort.Handle(name: pair.a, options: fanoutOptions(FanoutSettings(group: group, mode: .hash)))
        _ = member
        for (name, settings) in [(pair.a, FanoutSettings(group: group, mode: .cpu)),
                                 (pair.a, FanoutSettings(group: group, mode: .hash, rollover: true)),
                                 (pair.b, FanoutSettings(group: group, mode: .hash))] {
            do {
                _ = try PcapPort.Handle(name: name, options: fanoutOptions(settings))
                XCTFail("\(name) joined group \(group) as \(settings)")
            } catch {
                XCTAssertEqual(error.kind, .fanoutRefused, error.message)
                XCTAssertTrue(error.message.hasPrefix("\(name): cannot join fanout group \(group)"), error.message)
                XCTAssertTrue(error.message.contains("choose another group id"), error.message)
            }
        }
        // The same mode and flags join.
        XCTAssertNoThrow(try PcapPort.Handle(name: pair.a, options: fanoutOptions(FanoutSettings(group: group, mode: .hash))))
    }

    func testClassicBPFFanoutSendsEverythingWhereTheProgramSays() throws {
        let pair = try makeVeth("c")
        // ret #1: every frame to the second member.
        let program = [ClassicBPFInstruction(code: 0x06, k: 1)]
        let options = fanoutOptions(FanoutSettings(group: try XCTUnwrap(FanoutSettings.groupID(interface: pair.a)),
                                                   mode: .classicBPF(program)))
        let members = [try PcapPort.Handle(name: pair.a, options: options), try PcapPort.Handle(name: pair.a, options: options)]
        var sender = PcapPort(handle: try PcapPort.Handle(name: pair.b, options: PcapKernelPathTests.udpOptions), burst: 32)
        let frames = (0..<16).map { udpFrame(flow: $0, sequence: 0) }
        try sendAll(frames, on: &sender)
        let got = try receive(on: members, expected: frames.count, seconds: 2)
        XCTAssertEqual(got.map(\.bytes), frames)
        XCTAssertEqual(Set(got.map(\.port)), [1])
    }

    /// A group has one receive hook of its own, so the members' PACKET_IGNORE_OUTGOING no
    /// longer applies once they join: cpcap sets the group's flag instead. Frames that another
    /// socket (a plain handle, a TX ring) or a member sends out of the interface reach no
    /// member, not even the kernel's copy into its ring (its counter stays 0).
    func testFanoutMembersDoNotReadWhatLeavesTheirInterface() throws {
        let pair = try makeVeth("o")
        let options = fanoutOptions(FanoutSettings(group: try XCTUnwrap(FanoutSettings.groupID(interface: pair.a))))
        let members = [try PcapPort.Handle(name: pair.a, options: options), try PcapPort.Handle(name: pair.a, options: options)]
        var ring = PcapKernelPathTests.udpOptions
        ring.txRing = true
        let others = [try PcapPort.Handle(name: pair.a, options: PcapKernelPathTests.udpOptions),
                      try PcapPort.Handle(name: pair.a, options: ring), members[0]]
        let peer = try PcapPort.Handle(name: pair.b, options: PcapKernelPathTests.udpOptions)
        var frames: [[UInt8]] = []
        for (i, handle) in others.enumerated() {
            var port = PcapPort(handle: handle, burst: 32)
            let burst = (0..<8).map { udpFrame(flow: $0, sequence: i) }
            try sendAll(burst, on: &port)
            frames += burst
        }
        // Once the peer has them, they have passed a's packet taps too.
        XCTAssertEqual(try receive(on: peer, expected: frames.count, seconds: 2), frames)
        XCTAssertEqual(try receive(on: members, expected: 1, seconds: 0.3).count, 0, "a member read a's TX")
        for member in members { XCTAssertEqual(member.kernelStats()?.received, 0, "the kernel queued a's TX to a member") }
    }

    func testGroupIDsDifferAcrossInterfacesAndProcesses() {
        XCTAssertNotEqual(FanoutSettings.groupID(ifindex: 3, processID: 100), FanoutSettings.groupID(ifindex: 4, processID: 100))
        XCTAssertNotEqual(FanoutSettings.groupID(ifindex: 3, processID: 100), FanoutSettings.groupID(ifindex: 3, processID: 101))
        XCTAssertNotEqual(FanoutSettings.groupID(ifindex: 3, processID: 100), FanoutSettings.groupID(ifindex: 3 + 16, processID: 100))
        XCTAssertNil(FanoutSettings.groupID(interface: "nosuch" + String(getpid(), radix: 16)))
    }

    // MARK: Qdisc bypass

    /// A token bucket of 1 kbit/s on a's qdisc lets hardly anything through; frames sent with
    /// qdisc bypass never meet it. Both send paths (sendmmsg, TX ring) take the bypass.
    func testQdiscBypassSendsPastTheQdisc() throws {
        let pair = try makeVeth("q")
        try shell("tc qdisc add dev \(pair.a) root tbf rate 1kbit burst 1600 limit 3000")
        let peer = try PcapPort.Handle(name: pair.b, options: PcapKernelPathTests.rawOptions)
        // 1600 bytes of burst let 26 of them through at once, 3000 of queue 50 more.
        let frames = (0..<120).map { rawFrame(UInt8($0)) }

        var plain = PcapPort(handle: try PcapPort.Handle(name: pair.a, options: PcapKernelPathTests.rawOptions), burst: 128)
        _ = try sendOnce(frames, on: &plain)
        let throttled = try receive(on: peer, expected: frames.count, seconds: 0.5)
        XCTAssertLessThan(throttled.count, frames.count / 2, "the qdisc did not hold frames back: the test shows nothing")

        for txRing in [false, true] {
            var options = PcapKernelPathTests.rawOptions
            options.qdiscBypass = true
            options.txRing = txRing
            let handle = try PcapPort.Handle(name: pair.a, options: options)
            XCTAssertEqual(handle.hasTxRing, txRing)
            var port = PcapPort(handle: handle, burst: 128)
            _ = try receive(on: peer, expected: .max, seconds: 0.1)  // what the qdisc still lets out
            let marked = frames.map { [UInt8]($0.prefix(14)) + [txRing ? 0xee : 0xdd] + $0.dropFirst(15) }
            try sendAll(marked, on: &port)
            let got = try receive(on: peer, expected: frames.count, seconds: 2).filter { $0[14] == marked[0][14] }
            XCTAssertTrue(got == marked, "tx ring \(txRing): \(got.count) of \(marked.count) frames arrived, or not as sent")
        }
    }

    // MARK: TX ring

    func testTxRingSendsBurstsByteExact() throws {
        let pair = try makeVeth("r")
        var options = PcapKernelPathTests.rawOptions
        options.txRing = true
        options.txRingFrames = 8  // bursts of 20 wrap around it
        let handle = try PcapPort.Handle(name: pair.a, options: options)
        XCTAssertTrue(handle.hasTxRing)
        var port = PcapPort(handle: handle, burst: 64)
        let peer = try PcapPort.Handle(name: pair.b, options: PcapKernelPathTests.rawOptions)
        let lengths = [60, 1514, 61, 200, 999, 64, 1500, 128, 1513, 62]
        var frames: [[UInt8]] = []
        for burst in 0..<3 {
            let sent = (0..<20).map { rawFrame(UInt8(burst * 20 + $0), length: lengths[(burst + $0) % lengths.count]) }
            try sendAll(sent, on: &port)
            frames += sent
        }
        XCTAssertEqual(try receive(on: peer, expected: frames.count, seconds: 3), frames)
        // Its own port does not read them back (PACKET_IGNORE_OUTGOING, PCAP_D_IN).
        XCTAssertEqual(try receive(on: handle, expected: 1, seconds: 0.2).count, 0)
    }

    /// A token bucket holds sent frames in the qdisc, and with them their ring slots: the port
    /// says EAGAIN for the first frame without a slot, and sending again from there delivers
    /// every frame once, in order.
    func testFullTxRingIsEagainAndRetryDeliversEveryFrameOnce() throws {
        let pair = try makeVeth("f")
        try shell("tc qdisc add dev \(pair.a) root tbf rate 200kbit burst 1600 limit 100000")
        var options = PcapKernelPathTests.rawOptions
        options.txRing = true
        options.txRingFrames = 8
        var port = PcapPort(handle: try PcapPort.Handle(name: pair.a, options: options), burst: 64)
        let peer = try PcapPort.Handle(name: pair.b, options: PcapKernelPathTests.rawOptions)
        let frames = (0..<40).map { rawFrame(UInt8($0), length: 100) }

        let first = try sendOnce(frames, on: &port)
        XCTAssertLessThan(first.sent, frames.count)
        XCTAssertGreaterThan(first.sent, 0)
        XCTAssertEqual(first.errno, EAGAIN)
        try sendAll(Array(frames[first.sent...]), on: &port)
        XCTAssertEqual(try receive(on: peer, expected: frames.count + 1, seconds: 3), frames)
    }

    /// Frames longer than the interface allows (MTU 1500: 1514 bytes untagged) are EMSGSIZE for
    /// that frame alone, on both send paths: longer than the ring's slot, longer than the
    /// kernel's limit for any frame (checked before the ring), and over the MTU by a few bytes
    /// (refused by the kernel in the ring, which must then go on with the next frame).
    func testOversizeFrameIsEmsgsizeAndTheNextOneGoesOut() throws {
        let pair = try makeVeth("m")
        let peer = try PcapPort.Handle(name: pair.b, options: PcapKernelPathTests.rawOptions)
        for txRing in [false, true] {
            var options = PcapKernelPathTests.rawOptions
            options.txRing = txRing
            options.txRingFrames = 4
            var port = PcapPort(handle: try PcapPort.Handle(name: pair.a, options: options), burst: 64)
            var expected: [[UInt8]] = []
            var marker: UInt8 = txRing ? 0x80 : 0
            func good() -> [UInt8] {
                marker += 1
                let f = rawFrame(marker, length: 100)
                expected.append(f)
                return f
            }
            for oversize in [3000, 1600, 1515, 1518] {
                let before = good()
                let burst = [before, rawFrame(0xff, length: oversize), good(), good()]
                let r = try sendOnce(burst, on: &port)
                XCTAssertEqual(r.sent, 1, "tx ring \(txRing), \(oversize) bytes")
                XCTAssertEqual(r.errno, EMSGSIZE, "tx ring \(txRing), \(oversize) bytes")
                try sendAll(Array(burst[2...]), on: &port)
            }
            for _ in 0..<6 { try sendAll([good()], on: &port) }  // round the ring again
            XCTAssertEqual(try receive(on: peer, expected: expected.count + 1, seconds: 1), expected, "tx ring \(txRing)")
        }
    }

    func testTxRingOfNoFramesIsRefusedWithTheFix() throws {
        try requireRoot("AF_PACKET sockets")
        var options = CaptureOptions()
        options.txRing = true
        options.txRingFrames = 0
        XCTAssertThrowsError(try PcapPort.Handle(name: "lo", options: options)) { error in
            let e = error as! PcapError
            XCTAssertEqual(e.kind, .socketOption, e.message)
            XCTAssertTrue(e.message.contains("cannot set up a TX ring"), e.message)
            XCTAssertTrue(e.message.contains("1 or more frames"), e.message)
        }
    }
}
