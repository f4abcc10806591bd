import XCTest
import PacketFormats

/// The Ethernet header parser: tags, EtherType, payload offset, and every cut-short length.
final class EthernetHeaderTests: XCTestCase {
    func testEthernetHeaderParser() throws {
        // Dst, src, 802.1ad 100 (PCP 3), 802.1Q 10, IPv4.
        let bytes: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0xA8, 0x60, 100, 0x81, 0x00, 0x00, 10, 0x08, 0x00, 0x45]
        let f = try XCTUnwrap(bytes.withUnsafeBytes { EthernetHeader.parse($0.baseAddress!, length: $0.count) })
        XCTAssertEqual(f.tagCount, 2)
        XCTAssertEqual(f.outerTPID, 0x88A8)
        XCTAssertEqual(EthernetHeader.vid(f.outerTCI), 100)
        XCTAssertEqual(f.outerTCI >> 13, 3)
        XCTAssertEqual(EthernetHeader.vid(f.innerTCI), 10)
        XCTAssertEqual(f.etherType, 0x0800)
        XCTAssertEqual(f.payloadOffset, 22)
        for cut in 0..<22 {
            let r = bytes.withUnsafeBytes { EthernetHeader.parse($0.baseAddress!, length: cut) }
            XCTAssertNil(r, "length \(cut)")
        }
    }
}
