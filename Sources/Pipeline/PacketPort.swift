import BufferCache

/// Frame I/O for one interface, as the worker sees it: the libpcap port (PcapIO) and the
/// in-memory port (`MemoryPort`) implement it. The worker is generic over it, so each port is
/// specialised into the loop.
public protocol PacketPort: ~Copyable {
    /// Receives up to `count` frames into the heads' buffers without blocking; sets each head's
    /// length and wire length. Returns how many heads (from index 0) now hold frames.
    mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(PortError) -> Int
    /// Sends `count` frames. Returns how many went out from index 0 and, when fewer, the errno of
    /// the first that did not.
    mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32)
    /// File descriptor to poll for input (-1 if none).
    var pollDescriptor: Int32 { get }
    /// True when `receive` builds the heads around frames of the port's own
    /// (`PacketHead.build(around:)`) instead of filling their buffers: the worker then takes its
    /// RX heads from `getBulkForFrames`. False by default.
    static var buildsHeadsAroundFrames: Bool { get }
}

extension PacketPort where Self: ~Copyable {
    @inlinable public static var buildsHeadsAroundFrames: Bool { false }
}

/// A port that can no longer receive (interface gone, socket error): the worker stops and the
/// message, which names the interface, is reported with exit status 1.
public struct PortError: Error, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
