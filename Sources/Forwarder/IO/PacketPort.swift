import BufferCache

/// Frame I/O for one interface, as the worker sees it. `PcapPort` is the real one; tests use an
/// in-memory port. The worker is generic over it, so the real port is specialised in.
protocol PacketPort: ~Copyable {
    /// Receives up to `count` frames into the heads' buffers without blocking; sets each head's
    /// length, wire length and timestamp. Returns how many heads (from index 0) now hold frames.
    mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(RuntimeError) -> Int
    /// Sends `count` frames. Returns how many went out from index 0 and, when fewer, the errno of
    /// the first that did not.
    mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32)
    /// File descriptor to poll for input (-1 if none).
    var pollDescriptor: Int32 { get }
}
