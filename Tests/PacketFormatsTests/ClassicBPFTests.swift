import XCTest
import PacketFormats

/// The instruction must be laid out as the kernel's `struct sock_filter` (u16 code, u8 jt, u8 jf,
/// u32 k: 8 bytes), since a program is passed to setsockopt as an array of them.
final class ClassicBPFTests: XCTestCase {
    func testInstructionIsLaidOutAsSockFilter() {
        XCTAssertEqual(MemoryLayout<ClassicBPFInstruction>.size, 8)
        XCTAssertEqual(MemoryLayout<ClassicBPFInstruction>.stride, 8)
        XCTAssertEqual(MemoryLayout<ClassicBPFInstruction>.offset(of: \.code), 0)
        XCTAssertEqual(MemoryLayout<ClassicBPFInstruction>.offset(of: \.jt), 2)
        XCTAssertEqual(MemoryLayout<ClassicBPFInstruction>.offset(of: \.jf), 3)
        XCTAssertEqual(MemoryLayout<ClassicBPFInstruction>.offset(of: \.k), 4)
        let i = ClassicBPFInstruction(code: ClassicBPF.ret | ClassicBPF.k, k: 7)
        XCTAssertEqual(withUnsafeBytes(of: i) { Array($0) }, [0x06, 0, 0, 0, 7, 0, 0, 0], "little-endian sock_filter")
    }
}
