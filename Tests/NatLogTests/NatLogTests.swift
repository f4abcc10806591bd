import XCTest
import Nat44
import PacketFormats
@testable import NatLog
#if canImport(Glibc)
import Glibc
#endif

final class NatLogTests: XCTestCase {
    /// 2026-12-08T02:20:01.123Z as Unix nanoseconds, minus a monotonic time of 5 s.
    private let offset: Int64 = 1_796_696_401_123_000_000 - 5_000_000_000

    private func event(_ kind: NatEvent.Kind, _ reason: NatEvent.Reason, port: UInt16 = 5000, remote: Bool = true) -> NatEvent {
        NatEvent(time: 5_000_000_000 + 456_789, kind: kind, reason: reason, proto: .udp, worker: 1,
                 insideAddress: IPv4Address("192.168.10.2")!.value, insidePort: port,
                 outsideAddress: IPv4Address("203.0.113.1")!.value, outsidePort: 40001,
                 remoteAddress: remote ? IPv4Address("198.51.100.7")!.value : 0, remotePort: remote ? 53 : 0)
    }

    func testJSONLine() {
        XCTAssertEqual(NatLogLine.json(event(.created, .outbound), wallOffset: offset),
                       #"{"time":"2026-12-08T02:20:01.123Z","event":"create","protocol":"udp","inside":"192.168.10.2:5000","outside":"203.0.113.1:40001","remote":"198.51.100.7:53","reason":"outbound","worker":1}"#)
        XCTAssertEqual(NatLogLine.json(event(.removed, .timeout, remote: false), wallOffset: offset),
                       #"{"time":"2026-12-08T02:20:01.123Z","event":"delete","protocol":"udp","inside":"192.168.10.2:5000","outside":"203.0.113.1:40001","reason":"timeout","worker":1}"#)
    }

    func testSyslogLine() {
        XCTAssertEqual(NatLogLine.syslog(event(.removed, .flush), wallOffset: offset, host: "gw", pid: 42),
                       #"<30>1 2026-12-08T02:20:01.123Z gw forwarder 42 nat-delete [nat@32473 protocol="udp" inside="192.168.10.2:5000" outside="203.0.113.1:40001" remote="198.51.100.7:53" reason="flush" worker="1"] delete udp 192.168.10.2:5000 203.0.113.1:40001"#)
    }

    func testTimestampPadsEveryField() {
        // 2027-01-02T03:04:05.006Z
        XCTAssertEqual(NatLogLine.timestamp(6_000_000, wallOffset: 1_798_859_045_000_000_000), "2027-01-02T03:04:05.006Z")
    }

    func testFullLaneDropsAndCounts() {
        let lane = NatEventLane(capacity: 4)
        for p in 0..<10 { lane.record(event(.created, .outbound, port: UInt16(p))) }
        XCTAssertEqual(lane.dropped, 6)
        let out = UnsafeMutablePointer<NatEvent>.allocate(capacity: 16)
        defer { out.deallocate() }
        XCTAssertEqual(lane.drain(into: out, count: 16), 4)
        XCTAssertEqual((0..<4).map { out[$0].insidePort }, [0, 1, 2, 3])
    }

    private func temporaryDirectory() -> String {
        var template = Array("/tmp/forwarder-natlog-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    private func lines(_ path: String) -> [String] {
        guard let f = fopen(path, "r") else { return [] }
        defer { fclose(f) }
        var out: [String] = []
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), f) != nil { out.append(String(cString: buffer)) }
        return out
    }

    /// Every event reaches the file, in order; after a rotation (rename, reopen) the next ones go
    /// to a new file at the path.
    func testFileWriterAndReopen() throws {
        let dir = temporaryDirectory()
        let path = dir + "/nat.log"
        defer { unlink(path); unlink(path + ".1"); rmdir(dir) }
        let lanes = [NatEventLane(), NatEventLane()]
        let writer = try NatLogWriter(destination: .file(path), lanes: lanes, interval: 0.02)
        writer.start()
        for p in 0..<300 { lanes[p % 2].record(event(.created, .outbound, port: UInt16(p))) }
        let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
        while writer.written < 300 && DispatchTime.now().uptimeNanoseconds < deadline { usleep(10_000) }
        XCTAssertEqual(rename(path, path + ".1"), 0)
        writer.reopen()
        usleep(100_000)
        lanes[0].record(event(.removed, .timeout, port: 7))
        writer.stop()
        let first = lines(path + ".1"), second = lines(path)
        XCTAssertEqual(first.count, 300)
        XCTAssertEqual(Set(first.map { $0.split(separator: "\"")[15] }).count, 300, "every inside port once")
        XCTAssertEqual(second.count, 1)
        XCTAssertTrue(second.first?.contains(#""event":"delete","protocol":"udp","inside":"192.168.10.2:7""#) ?? false)
        XCTAssertEqual(writer.written, 301)
        XCTAssertEqual(writer.dropped, 0)
    }

    func testSyslogWriterSendsADatagramPerEvent() throws {
        let dir = temporaryDirectory()
        let path = dir + "/log"
        defer { unlink(path); rmdir(dir) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        XCTAssertEqual(bound, 0)
        let lane = NatEventLane()
        let writer = try NatLogWriter(destination: .syslog(path: path), lanes: [lane], interval: 0.02)
        writer.start()
        lane.record(event(.created, .forward))
        lane.record(event(.removed, .rst))
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var got: [String] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        for _ in 0..<2 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { got.append(String(decoding: buffer[0..<n], as: UTF8.self)) }
        }
        writer.stop()
        XCTAssertEqual(got.count, 2)
        XCTAssertTrue(got[0].hasPrefix("<30>1 ") && got[0].contains(" nat-create [nat@32473 ") && got[0].contains(#"reason="forward""#), got[0])
        XCTAssertTrue(got[1].contains(" nat-delete ") && got[1].contains(#"reason="rst""#), got[1])
    }

    func testUnwritableDestinationsAreNamed() {
        XCTAssertThrowsError(try NatLogWriter(destination: .file("/nonexistent-dir/nat.log"), lanes: [])) { error in
            XCTAssertEqual((error as? NatLogError)?.message, "--nat-log /nonexistent-dir/nat.log: cannot open: No such file or directory")
        }
        XCTAssertThrowsError(try NatLogWriter(destination: .syslog(path: "/nonexistent-dir/log"), lanes: [])) { error in
            XCTAssertTrue((error as? NatLogError)?.message.hasPrefix("--nat-log syslog: cannot reach the syslog socket /nonexistent-dir/log") ?? false)
        }
        XCTAssertEqual(NatLogWriter.Destination("syslog"), .syslog(path: "/dev/log"))
        XCTAssertEqual(NatLogWriter.Destination("/var/log/nat.log"), .file("/var/log/nat.log"))
    }
}
