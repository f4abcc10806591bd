/// `--mss-clamp off|auto|N`: how the gateway lowers the MSS option of TCP SYN and SYN-ACK
/// segments, so that TCP works across an outside link narrower than the inside where PMTU
/// discovery is filtered (the gateway never fragments).
public enum NatMSSClamp: Hashable, Sendable, CustomStringConvertible {
    /// The segments are left alone (the default).
    case off
    /// The smaller MTU of the two sides minus 40 (IPv4 and TCP headers without options).
    case auto
    /// At most this MSS (536 to 65495).
    case limit(Int)

    /// The MSS values `--mss-clamp N` accepts: from the minimum every IPv4 host accepts (RFC 9293)
    /// to a 65535-byte packet's.
    public static let limits = 536...65495

    /// The largest MSS a SYN may carry through a gateway with these MTUs; nil when off.
    public func limit(insideMTU: Int, outsideMTU: Int) -> UInt16? {
        switch self {
        case .off: return nil
        case .auto: return UInt16(clamping: min(insideMTU, outsideMTU) - 40)
        case .limit(let n): return UInt16(clamping: n)
        }
    }

    public var description: String {
        switch self {
        case .off: return "off"
        case .auto: return "auto"
        case .limit(let n): return "\(n)"
        }
    }
}
