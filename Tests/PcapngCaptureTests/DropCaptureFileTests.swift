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

    /// The writer is shared by both workers: two threads drop into one file at once (run under
    /// ThreadSanitizer by scripts/sanitize.sh). Every block is whole, the limit holds exactly.
    func testTwoThreadsDropIntoOneFile() throws {
        let path = NSTemporaryDirectory() + "drops-threads-\(getpid()).pcapng"
        defer { unlink(path) }
        let capture = try DropCapture(path: path, interfaces: ["eth0", "eth1"], limit: 600)
        let frame = self.frame
        final class Body {
            let run: () -> Void
            init(_ run: @escaping () -> Void) { self.run = run }
        }
        let threads: [pthread_t] = [Side.inside, Side.outside].map { side in
            let box = Unmanaged.passRetained(Body({
                frame.withUnsafeBytes { b in
                    for _ in 0..<500 {
                        capture.dropped(b, wireLength: b.count, reason: "oversize", direction: side, interface: side)
                    }
                }
            })).toOpaque()
            var t = pthread_t()
            let rc = pthread_create(&t, nil, { arg in
                Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
                return nil
            }, box)
            precondition(rc == 0)
            return t
        }
        for t in threads { pthread_join(t, nil) }
        capture.close()
        XCTAssertEqual(capture.counts, DropCapture.Counts(written: 600, skipped: 400))
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: path)).map { $0 }
        func u32(_ i: Int) -> UInt32 { bytes[i..<i + 4].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } }
        var at = 0
        var packets = 0
        while at + 8 <= bytes.count {
            let type = u32(at), length = Int(u32(at + 4))
            XCTAssertEqual(length % 4, 0)
            guard length >= 12, at + length <= bytes.count else { XCTFail("torn block at \(at)"); break }
            XCTAssertEqual(Int(u32(at + length - 4)), length, "trailing length at \(at)")
            if type == 6 {
                packets += 1
                XCTAssertEqual(Array(bytes[at + 28..<at + 28 + frame.count]), frame)
            }
            at += length
        }
        XCTAssertEqual(at, bytes.count)
        XCTAssertEqual(packets, 600)
    }
}
