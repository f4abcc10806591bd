import Foundation
import Glibc
import PcapngCapture
import Pipeline
import XCTest

/// The pcapng file of dropped frames: its blocks, the reasons as comments, the limit.
final class DropCaptureFileTests: XCTestCase {
    let frame: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00] + (0..<46).map { UInt8($0) }

    func testPcapngFileHoldsTheFramesUpToTheLimit() throws {
        let path = NSTemporaryDirectory() + "drops-\(getpid()).pcapng"
        defer { unlink(path) }
        let capture = try DropCapture(path: path, interfaces: ["eth0", "eth1"], limit: 2)
        frame.withUnsafeBytes { b in
            capture.dropped(b, wireLength: 1600, reason: "oversize", direction: .inside, interface: .inside)
            capture.dropped(b, wireLength: b.count, reason: "nat:no_session", direction: .outside, interface: .outside)
            capture.dropped(b, wireLength: b.count, reason: "oversize", direction: .inside, interface: .inside)
        }
        capture.close()
        XCTAssertEqual(capture.counts, DropCapture.Counts(written: 2, skipped: 1))
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path)).map { $0 }
        // Walk the blocks: SHB, two IDBs, two EPBs, each length a multiple of 4, trailer = header.
        var at = 0
        var types: [UInt32] = []
        func u32(_ i: Int) -> UInt32 { bytes[i..<i + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
        while at < bytes.count {
            let type = u32(at), length = Int(u32(at + 4))
            XCTAssertEqual(length % 4, 0)
            XCTAssertEqual(Int(u32(at + length - 4)), length, "trailing length of block \(types.count)")
            if type == 6 {
                XCTAssertEqual(Int(u32(at + 20)), frame.count, "captured length")
                XCTAssertEqual(Array(bytes[at + 28..<at + 28 + frame.count]), frame)
            }
            types.append(type)
            at += length
        }
        XCTAssertEqual(at, bytes.count)
        XCTAssertEqual(types, [0x0A0D_0D0A, 1, 1, 6, 6])
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains("oversize in->out"))
        XCTAssertTrue(text.contains("nat:no_session out->in"))
        XCTAssertTrue(text.contains("eth0") && text.contains("eth1"))
    }
}
