import XCTest
import PacketFixtures
import PacketFormats

/// RFC 1624 incremental updates against full recomputation by the test's own reference sum.
final class ChecksumTests: XCTestCase {
    func testFullComputationMatchesReference() {
        var rng = TestRNG(seed: 42)
        for n in [0, 1, 2, 3, 19, 20, 21, 64, 1499] {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let mine = bytes.withUnsafeBytes { InternetChecksum.compute($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, count: n) }
            let ref = ~UInt16(ReferenceChecksum.sum(ArraySlice(bytes)))
            XCTAssertEqual(mine == 0xFFFF ? 0 : mine, ref == 0xFFFF ? 0 : ref, "length \(n)")
        }
    }

    /// Rewrite random 16- and 32-bit fields of random data; the incrementally updated checksum
    /// must verify against a full sum, as RFC 1624 eqn. 3 promises.
    func testIncrementalUpdateVerifies() {
        var rng = TestRNG(seed: 7)
        for _ in 0..<5000 {
            let words = 4 + Int(rng.next() % 40)
            var data = (0..<words * 2).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Occasional all-zero or all-one data hits the 0x0000/0xFFFF edge cases.
            if rng.next() % 50 == 0 { data = [UInt8](repeating: rng.next() % 2 == 0 ? 0 : 0xFF, count: data.count) }
            data[0] = 0; data[1] = 0
            let sum = ReferenceChecksum.sum(ArraySlice(data))
            var hc = ~UInt16(sum)
            data[0] = UInt8(hc >> 8); data[1] = UInt8(hc & 0xFF)
            XCTAssertEqual(ReferenceChecksum.sum(ArraySlice(data)), 0xFFFF)
            var delta: UInt32 = 0
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = 2 + 2 * Int(rng.next() % UInt64(words - 3))
                if rng.next() % 2 == 0 {
                    let old = UInt16(data[at]) << 8 | UInt16(data[at + 1])
                    let new = UInt16(truncatingIfNeeded: rng.next())
                    data[at] = UInt8(new >> 8); data[at + 1] = UInt8(new & 0xFF)
                    delta &+= InternetChecksum.delta(old, new)
                } else {
                    let old = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(data[at + $1]) }
                    let new = UInt32(truncatingIfNeeded: rng.next())
                    for k in 0..<4 { data[at + k] = UInt8(truncatingIfNeeded: new >> UInt32(24 - 8 * k)) }
                    delta &+= InternetChecksum.delta(old, new)
                }
            }
            hc = InternetChecksum.apply(hc, delta)
            data[0] = UInt8(hc >> 8); data[1] = UInt8(hc & 0xFF)
            let s = ReferenceChecksum.sum(ArraySlice(data))
            XCTAssertTrue(s == 0xFFFF || s == 0, "checksum no longer verifies")
        }
    }

    /// RFC 1624's own example: changing a word 0x5555 to 0x3285 in data with checksum 0xDD2F.
    func testRFC1624Example() {
        XCTAssertEqual(InternetChecksum.apply(0xDD2F, InternetChecksum.delta(UInt16(0x5555), 0x3285)), 0x0000)
    }
}
