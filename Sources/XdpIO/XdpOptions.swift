/// How the AF_XDP sockets are set up (`--xdp-mode`, `--xdp-zero-copy`, `--xdp-queue`, and
/// `--workers`: one queue each).
///
/// `auto` is native XDP where the driver has it and generic (SKB) mode on veth, where generic
/// measured as fast as native and spares the sender a copy; a driver that refuses native mode
/// falls back to generic. Zero-copy only on request: it needs native mode and a driver with
/// AF_XDP zero-copy support (veth has none).
public struct XdpOptions: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case auto, native, generic
    }

    public var mode = Mode.auto
    public var zeroCopy = false
    /// The queue id on both interfaces (with several workers: the first of theirs).
    public var queue: UInt32 = 0
    /// Consecutive queues from `queue` that this run binds, one `XdpPair` per worker. Auto mode
    /// takes native on a veth when it is more than 1: generic mode on veth files a frame sent on
    /// the peer's TX queue q under RX queue q-1 (0 and 1 both under 0), which starves the last
    /// queue; native keeps q.
    public var queueCount: UInt32 = 1
    /// Size of every ring (RX, TX, fill, completion) and of each of the UMEM's four partitions:
    /// the UMEM holds 4 × ringSize frames of `frameSize` bytes (8 MiB at the defaults).
    public var ringSize: UInt32 = 1024
    public var frameSize: UInt32 = 2048

    public init() {}
}
