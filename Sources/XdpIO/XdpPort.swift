import BufferCache
import CXdp
import Pipeline

/// The worker's view of one interface through AF_XDP, phase 1: RX copies each frame from its
/// UMEM frame into the head's buffer (the head still comes from the allocator, so cache and
/// plain compete on equal terms) and gives the UMEM frame straight back to the fill ring; TX
/// copies each head into a free UMEM frame of the TX partition and kicks the TX ring (sendto
/// only when the kernel asks: need_wakeup). A frame the kernel has not completed yet keeps its
/// UMEM frame; when none is free (or the ring is full) `send` returns fewer with EAGAIN.
///
/// The same contract as `PcapPort`: bursts of up to `burst`, scratch arrays allocated once.
public struct XdpPort: PacketPort, ~Copyable {
    public let pair: XdpPair
    public let side: Int
    public let name: String
    /// Bytes copied per frame at most (`--snaplen`); longer frames keep their wire length.
    let snaplen: UInt32
    private let vectors: BurstVectors

    /// The port on `pair`'s socket `side` (0: the first interface) for bursts of up to `burst`.
    public init(pair: XdpPair, side: Int, burst: Int, snaplen: Int = 65535) {
        self.snaplen = UInt32(clamping: snaplen)
        precondition(side == 0 || side == 1)
        self.pair = pair
        self.side = side
        name = pair.name(side: side)
        vectors = BurstVectors(capacity: burst, errorTextSize: 256)
    }

    public var pollDescriptor: Int32 { cxdp_fd(pair.pair, Int32(side)) }

    public mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(PortError) -> Int {
        let n = vectors.prepareReceive(heads, count: count, limit: snaplen)
        let got = cxdp_rx_burst(pair.pair, Int32(side), Int32(n), vectors.buffers, vectors.sizes, vectors.lengths, vectors.wireLengths,
                                vectors.errorText, vectors.errorTextSize)
        guard got >= 0 else { throw PortError("\(name): receive failed: \(vectors.error)") }
        vectors.finishReceive(heads, received: Int(got))
        return Int(got)
    }

    public mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32) {
        let n = vectors.prepareSend(heads, count: count)
        var err: Int32 = 0
        let sent = cxdp_tx_burst(pair.pair, Int32(side), Int32(n), vectors.constBuffers, vectors.lengths, &err)
        return (Int(max(sent, 0)), sent == n ? 0 : err)
    }
}
