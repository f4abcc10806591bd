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
    let capacity: Int
    /// Bytes copied per frame at most (`--snaplen`); longer frames keep their wire length.
    let snaplen: UInt32
    private let buffers: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>
    private let constBuffers: UnsafeMutablePointer<UnsafePointer<UInt8>?>
    private let sizes: UnsafeMutablePointer<UInt32>
    private let lengths: UnsafeMutablePointer<UInt32>
    private let wireLengths: UnsafeMutablePointer<UInt32>
    private let errbuf: UnsafeMutablePointer<CChar>
    private static let errbufSize = 256

    /// The port on `pair`'s socket `side` (0: the first interface) for bursts of up to `burst`.
    public init(pair: XdpPair, side: Int, burst: Int, snaplen: Int = 65535) {
        self.snaplen = UInt32(clamping: snaplen)
        precondition(side == 0 || side == 1)
        self.pair = pair
        self.side = side
        name = pair.name(side: side)
        capacity = burst
        buffers = .allocate(capacity: burst)
        constBuffers = .allocate(capacity: burst)
        sizes = .allocate(capacity: burst)
        lengths = .allocate(capacity: burst)
        wireLengths = .allocate(capacity: burst)
        errbuf = .allocate(capacity: XdpPort.errbufSize)
        errbuf.initialize(to: 0)
    }

    deinit {
        buffers.deallocate()
        constBuffers.deallocate()
        sizes.deallocate()
        lengths.deallocate()
        wireLengths.deallocate()
        errbuf.deallocate()
    }

    public var pollDescriptor: Int32 { cxdp_fd(pair.pair, Int32(side)) }

    public mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(PortError) -> Int {
        let n = min(count, capacity)
        for i in 0..<n {
            buffers[i] = heads[i].data.assumingMemoryBound(to: UInt8.self)
            sizes[i] = min(UInt32(truncatingIfNeeded: heads[i].tailroomLimit), snaplen)
        }
        let got = cxdp_rx_burst(pair.pair, Int32(side), Int32(n), buffers, sizes, lengths, wireLengths,
                                errbuf, XdpPort.errbufSize)
        guard got >= 0 else { throw PortError("\(name): receive failed: \(String(cString: errbuf))") }
        for i in 0..<Int(got) {
            let m = heads[i].meta
            m.pointee.length = lengths[i]
            m.pointee.wireLength = wireLengths[i]
        }
        return Int(got)
    }

    public mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32) {
        let n = min(count, capacity)
        for i in 0..<n {
            constBuffers[i] = UnsafePointer(heads[i].data.assumingMemoryBound(to: UInt8.self))
            lengths[i] = UInt32(truncatingIfNeeded: heads[i].length)
        }
        var err: Int32 = 0
        let sent = cxdp_tx_burst(pair.pair, Int32(side), Int32(n), constBuffers, lengths, &err)
        return (Int(max(sent, 0)), sent == n ? 0 : err)
    }
}
