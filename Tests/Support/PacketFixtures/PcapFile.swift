/// Reads the frames of a classic pcap file (either byte order, microsecond or nanosecond): the
/// fixtures that scripts/fixtures/make_nat_fixtures.py writes with scapy.
public enum PcapFile {
    public struct FormatError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func frames(_ bytes: [UInt8]) throws -> [[UInt8]] {
        guard bytes.count >= 24 else { throw FormatError(description: "pcap shorter than its header") }
        let magicLE = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        let little: Bool
        switch magicLE {
        case 0xA1B2_C3D4, 0xA1B2_3C4D: little = true
        case 0xD4C3_B2A1, 0x4D3C_B2A1: little = false
        default: throw FormatError(description: "not a pcap file (magic \(String(magicLE, radix: 16)))")
        }
        func u32(_ o: Int) -> Int {
            let b = (0..<4).map { UInt32(bytes[o + $0]) }
            return Int(little ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24)
        }
        var frames: [[UInt8]] = []
        var offset = 24
        while offset + 16 <= bytes.count {
            let caplen = u32(offset + 8)
            offset += 16
            guard offset + caplen <= bytes.count else { throw FormatError(description: "record cut short") }
            frames.append(Array(bytes[offset..<offset + caplen]))
            offset += caplen
        }
        return frames
    }
}
