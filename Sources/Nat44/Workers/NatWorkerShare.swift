import Pipeline

/// Which part of the external port space (and ICMP identifier space) one NAT worker owns, when
/// `--vlan-nat` runs N workers, each with its own gateway and sessions.
///
/// The space is cut in blocks of 64 ports, dealt round-robin: block `port >> 6` belongs to worker
/// `(port >> 6) % count`. Blocks of 64 because the port pool already works in 64-bit words (a
/// worker scans only its own words); interleaved so that every worker has ports in both ranges
/// (1–1023 is 16 blocks) and a flow whose inside port lands in a worker's share keeps its port.
/// The owner of a frame follows from its port alone (`NatSteering`), so a kernel BPF fanout
/// program can compute it too.
public struct NatWorkerShare: Sendable, Equatable {
    /// This worker's index, 0..<count.
    public let index: Int
    /// Workers in all (1 ... `maxWorkers`); 1 is the single-threaded gateway.
    public let count: Int

    /// The hand-off mesh's limit (its doorbell mask is one word).
    public static let maxWorkers = HandOffMesh.maxWorkers

    /// The whole space: one worker.
    public static let single = NatWorkerShare(index: 0, count: 1)

    /// ⌊(2^64 - 1) / count⌋ + 1 (0 for one worker): `owner(of:)` takes the block's remainder by
    /// two multiplications instead of a division, once per frame in steering (Lemire's
    /// "fastmod", exact for dividends below 2^32).
    private let reciprocal: UInt64

    public init(index: Int, count: Int) {
        precondition(count >= 1 && count <= Self.maxWorkers && index >= 0 && index < count,
                     "worker \(index) of \(count): need 1...\(Self.maxWorkers) workers")
        self.index = index
        self.count = count
        reciprocal = UInt64.max / UInt64(count) &+ 1
    }

    /// The worker owning external `port` (or ICMP identifier): its block modulo `count`.
    @inline(__always)
    public func owner(of port: UInt16) -> Int {
        let fraction = reciprocal &* UInt64(port >> 6)
        return Int(truncatingIfNeeded: fraction.multipliedFullWidth(by: UInt64(count)).high)
    }

    /// Whether the 64-port block `word` (a port pool word, `port >> 6`) is this worker's.
    @inline(__always)
    func ownsBlock(_ word: Int) -> Bool { word % count == index }
}
