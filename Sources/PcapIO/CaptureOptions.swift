/// Knobs for opening an interface (`--snaplen`, `--buffer-size`, `--filter`, ...).
///
/// Immediate mode and promiscuous are on by default: without immediate mode libpcap hands frames
/// over a full TPACKET_V3 block at a time (latencies of 100 ms and more through a forwarder),
/// and a bridge must see frames addressed to other hosts.
public struct CaptureOptions: Sendable {
    public var snaplen = 2048
    public var bufferSize = 0
    public var filter: String?
    public var immediate = true
    public var promiscuous = true

    public init() {}
}
