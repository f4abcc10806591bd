import BufferCache
import CPcap
import Pipeline

/// The worker's view of one interface through libpcap: RX copies a burst out of the kernel
/// ring with one pcap_dispatch, TX sends a burst with one sendmmsg on the same socket, or, when
/// the handle has a TX ring (`CaptureOptions.txRing`), copies it into the ring's slots and
/// sends it with one send() (the contract of `send` is the same either way).
///
/// Each worker that receives or sends on an interface has its own `PcapPort` value for it: the
/// values share the `Handle`, which the runner keeps until every worker has stopped. The
/// per-burst scratch arrays belong to the value and are allocated once, in `init`, so the
/// per-frame path allocates nothing.
public struct PcapPort: PacketPort, ~Copyable {
    public let handle: Handle
    private let vectors: BurstVectors

    /// A port on `handle` able to move bursts of up to `burst` frames.
    public init(handle: Handle, burst: Int) {
        self.handle = handle
        vectors = BurstVectors(capacity: burst)
    }

    public var pollDescriptor: Int32 { cpcap_fd(handle.port) }

    public mutating func receive(into heads: UnsafeMutablePointer<PacketHead>, count: Int) throws(PortError) -> Int {
        let n = vectors.prepareReceive(heads, count: count)
        let got = cpcap_rx_burst(handle.port, Int32(n), vectors.buffers, vectors.sizes, vectors.lengths, vectors.wireLengths,
                                 vectors.errorText, vectors.errorTextSize)
        guard got >= 0 else { throw PortError("\(handle.name): receive failed: \(vectors.error)") }
        vectors.finishReceive(heads, received: Int(got))
        return Int(got)
    }

    public mutating func send(_ heads: UnsafePointer<PacketHead>, count: Int) -> (sent: Int, errno: Int32) {
        let n = vectors.prepareSend(heads, count: count)
        var err: Int32 = 0
        let sent = cpcap_tx_burst(handle.port, Int32(n), vectors.constBuffers, vectors.lengths, &err)
        return (Int(max(sent, 0)), sent == n ? 0 : err)
    }
}
