import BufferCache
import CXdp
import PacketFilter
import Pipeline

/// The worker's view of one interface through AF_XDP, without a copy in user space: RX builds
/// each head around its UMEM frame (`PacketHead.build(around:)`; the head still comes from the
/// allocator, so cache and plain compete on equal terms), and TX hands a received frame's
/// address straight to the TX ring, on either socket (the UMEM is shared), then releases the
/// frame from its head so that freeing the head does not give the frame back too. A head with a
/// buffer of its own (a frame the processor generated: an ARP reply, an ICMP error) is copied
/// into a free frame of the TX partition. A frame not sent stays its head's: the worker retries
/// or drops it, and the head's put returns the frame to its fill ring (the pair's `FrameOrigin`).
/// sendto() only when the kernel asks (need_wakeup); when the ring is full or no TX frame is
/// free, `send` returns fewer with EAGAIN.
///
/// The same contract as `PcapPort`: bursts of up to `burst`, scratch arrays allocated once.
/// The pair must outlive the heads it fills.
public struct XdpPort: PacketPort, ~Copyable {
    public let pair: XdpPair
    public let side: Int
    public let name: String
    /// Bytes of a frame the pipeline sees at most (`--snaplen`); longer frames keep their wire length.
    let snaplen: UInt32
    let umem: OpaquePointer
    let origin: UnsafePointer<FrameOrigin>
    let area: UnsafeMutableRawPointer
    let frameSize: UInt32
    private let capacity: Int
    /// Per frame of a burst: its UMEM address (RX: the frame; TX: the first data byte, or
    /// CXDP_NO_FRAME for a copy), its length, and (TX) the bytes of a frame to be copied.
    private let addresses: UnsafeMutablePointer<UInt64>
    private let lengths: UnsafeMutablePointer<UInt32>
    private let copies: UnsafeMutablePointer<UnsafePointer<UInt8>?>
    /// Per frame received: where its data starts in the UMEM frame (after the kernel's headroom).
    private let offsets: UnsafeMutablePointer<UInt32>
    private let errorText: UnsafeMutablePointer<CChar>
    private static var errorTextSize: Int { 256 }
    /// `--filter`: run here on each frame (AF_XDP has no socket filter); a frame it rejects goes
    /// straight back to the fill ring, counted as filtered, and the pipeline never sees it.
    let filter: PcapFilter.Program?

    /// The port on `pair`'s socket `side` (0: the first interface) for bursts of up to `burst`.
    public init(pair: XdpPair, side: Int, burst: Int, snaplen: Int = 65535, filter: PcapFilter.Program? = nil) {
        self.snaplen = UInt32(clamping: snaplen)
        self.filter = filter
        precondition(side == 0 || side == 1)
        self.pair = pair
        self.side = side
        name = pair.name(side: side)
        umem = pair.pair
        origin = pair.origin
        area = UnsafeMutableRawPointer(cxdp_umem_area(pair.pair))!
        frameSize = cxdp_frame_size(pair.pair)
        capacity = burst
        addresses = .allocate(capacity: burst)
        lengths = .allocate(capacity: burst)
        copies = .allocate(capacity: burst)
        offsets = .allocate(capacity: burst)
        errorText = .allocate(capacity: Self.errorTextSize)
        errorText.initialize(to: 0)
    }

    deinit {
        addresses.deallocate()
        lengths.deallocate()
        copies.deallocate()
        offsets.deallocate()
        errorText.deallocate()
    }

    public var pollDescriptor: Int32 { cxdp_fd(umem, Int32(side)) }

    /// The worker's RX heads need no buffer of their own (`getBulkForFrames`).
    public static var buildsHeadsAroundFrames: Bool { true }

    public mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(PortError) -> Int {
        let n = min(count, capacity)
        let got = cxdp_rx_frames(umem, Int32(side), Int32(n), addresses, offsets, lengths, errorText, Self.errorTextSize)
        guard got >= 0 else { throw PortError("\(name): receive failed: \(String(cString: errorText))") }
        var kept = 0, rejected = 0
        let filter = self.filter  // once per burst
        for i in 0..<Int(got) {
            let address = addresses[i], length = lengths[i], captured = min(length, snaplen)
            if let filter, !filter.matches(area + Int(address) + Int(offsets[i]), length: captured, wireLength: length) {
                addresses[rejected] = address  // slots before i are read already: the front collects the rejected
                rejected += 1
                continue
            }
            heads[kept].build(around: area + Int(address), address: address, origin: origin, capacity: frameSize, dataOffset: offsets[i],
                              length: captured, wireLength: length)
            kept += 1
        }
        if rejected > 0 { cxdp_filter_out(umem, Int32(side), addresses, Int32(rejected)) }
        return kept
    }

    public mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32) {
        let n = min(count, capacity)
        for i in 0..<n {
            let m = heads[i].meta
            lengths[i] = m.pointee.length
            if m.pointee.frameAddress != HeadMeta.noFrame {
                addresses[i] = m.pointee.frameAddress &+ UInt64(m.pointee.dataOffset)
                copies[i] = nil
            } else {
                addresses[i] = CXDP_NO_FRAME
                copies[i] = UnsafePointer(heads[i].data.assumingMemoryBound(to: UInt8.self))
            }
        }
        var err: Int32 = 0
        let sent = Int(max(cxdp_tx_burst(umem, Int32(side), Int32(n), copies, addresses, lengths, &err), 0))
        // The kernel has these frames now; their heads are freed without them.
        for i in 0..<sent where heads[i].isBuiltAroundFrame { _ = heads[i].releaseFrame() }
        return (sent, sent == n ? 0 : err)
    }
}
