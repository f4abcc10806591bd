/// Knobs for opening an interface (`--snaplen`, `--buffer-size`, `--filter`, ...).
///
/// Immediate mode and promiscuous are on by default: without immediate mode libpcap hands frames
/// over a full TPACKET_V3 block at a time (latencies of 100 ms and more through a forwarder),
/// and a bridge must see frames addressed to other hosts.
///
/// The kernel-path options are off by default, each for a reason: fanout only makes sense with
/// one handle per worker; qdisc bypass trades the qdisc's buffering (and tcpdump's view of the
/// frames sent) for speed; the TX ring costs `txRingFrames` slots of memory per handle.
public struct CaptureOptions: Sendable {
    public var snaplen = 2048
    public var bufferSize = 0
    public var filter: String?
    public var immediate = true
    public var promiscuous = true
    /// Join this PACKET_FANOUT group right after activation; nil: a handle of its own.
    public var fanout: FanoutSettings?
    /// PACKET_QDISC_BYPASS on the sockets that send (the pcap one, and the TX ring's).
    public var qdiscBypass = false
    /// Send through a PACKET_TX_RING of `txRingFrames` slots (one send() per burst) instead of
    /// sendmmsg on the pcap socket.
    public var txRing = false
    public var txRingFrames = 256

    public init() {}
}
