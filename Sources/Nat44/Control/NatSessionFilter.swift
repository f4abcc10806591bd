import PacketFormats

/// Which mappings an operator means (`forwarder ctl sessions --inside ... --protocol ...`):
/// every given part must match; an empty filter matches every mapping.
public struct NatSessionFilter: Equatable, Sendable {
    /// An address with or without a port (`10.0.0.2` or `10.0.0.2:5000`).
    public struct Endpoint: Equatable, Sendable, CustomStringConvertible {
        public var address: IPv4Address
        public var port: UInt16?

        public init(address: IPv4Address, port: UInt16? = nil) {
            self.address = address
            self.port = port
        }

        public init?(_ text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, let address = IPv4Address(parts[0]) else { return nil }
            self.address = address
            if parts.count == 2 {
                guard let port = UInt16(parts[1]) else { return nil }
                self.port = port
            }
        }

        public var description: String { port.map { "\(address):\($0)" } ?? "\(address)" }

        func matches(address: UInt32, port: UInt16) -> Bool {
            self.address.value == address && (self.port == nil || self.port == port)
        }
    }

    public var inside: Endpoint?
    public var outsidePort: UInt16?
    public var proto: NatProtocol?

    public init(inside: Endpoint? = nil, outsidePort: UInt16? = nil, proto: NatProtocol? = nil) {
        self.inside = inside
        self.outsidePort = outsidePort
        self.proto = proto
    }

    public var isEmpty: Bool { inside == nil && outsidePort == nil && proto == nil }

    func matches(_ s: NatSession) -> Bool {
        (proto == nil || proto == s.proto) && (outsidePort == nil || outsidePort == s.extPort)
            && (inside?.matches(address: s.inAddr, port: s.inPort) ?? true)
    }
}
