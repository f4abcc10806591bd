import PacketFormats

/// A static port forward: `--forward PROTO:PORT=IP:PORT`. Traffic from outside to the outside
/// address's `externalPort` goes to `internalAddress:internalPort`; the session it creates
/// carries the return path, and the inside host's own outbound traffic from that port leaves
/// with `externalPort` (endpoint-independent mapping).
public struct NatForward: Hashable, Sendable, CustomStringConvertible {
    public var proto: NatProtocol
    public var externalPort: UInt16
    public var internalAddress: IPv4Address
    public var internalPort: UInt16
    public var description: String { "\(proto):\(externalPort)=\(internalAddress):\(internalPort)" }
}
