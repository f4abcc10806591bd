import BufferCache
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A frame on its way from the worker that received it to the worker that owns it (NAT with
/// several workers: the owner of its session), as VPP's NAT hand-off passes it.
public struct HandOff: Sendable {
    public var head: PacketHead
    /// The side it was received on.
    public var side: Side
    /// The processor's own word on it (e.g. "a copy to learn from"); 0 for a plain hand-off.
    public var mark: UInt8

    public init(head: PacketHead, side: Side, mark: UInt8 = 0) {
        self.head = head
        self.side = side
        self.mark = mark
    }
}

/// A hand-off the processor asks for besides the verdicts: where it goes and what.
public struct HandOffRequest: Sendable {
    public var worker: Int
    public var handOff: HandOff

    public init(worker: Int, handOff: HandOff) {
        self.worker = worker
        self.handOff = handOff
    }
}

/// What a worker counts of hand-offs.
public struct HandOffCounters: Sendable, Equatable {
    /// Frames this worker put on another worker's lane.
    public var sent: UInt64 = 0
    /// Frames this worker took off its lanes and processed.
    public var received: UInt64 = 0
    /// Frames that could not be handed off: the lane was full, or the run was stopping.
    public var dropped: UInt64 = 0

    public init() {}

    public static func + (a: HandOffCounters, b: HandOffCounters) -> HandOffCounters {
        var s = a
        s.sent += b.sent
        s.received += b.received
        s.dropped += b.dropped
        return s
    }
}

/// The lanes between N workers: one bounded single-producer ring per ordered pair, so no lane
/// has two writers and nothing on the per-frame path takes a lock. The workers' stop is a
/// two-step barrier (`leave`, `allGone`): a worker stops handing off, says it is leaving, and
/// takes what is still on its lanes until every worker has left, so no head is stranded.
public final class HandOffMesh: @unchecked Sendable {
    public let workers: Int
    /// `lanes[from * workers + to]`.
    let lanes: UnsafeMutablePointer<SPSCRing<HandOff>>
    private let leaving = Atomic<Int>(0)
    /// Per worker: a non-blocking pipe (read end, write end) that wakes it from poll(), and
    /// whether it is about to sleep (only then does a producer pay for the write).
    private let doorbells: [(read: Int32, write: Int32)]
    private let sleeping: UnsafeMutablePointer<Atomic<Bool>>

    /// At most 64 workers (the doorbell mask is one word).
    public static let maxWorkers = 64

    public init(workers: Int, laneCapacity: Int = 1024) {
        precondition(workers >= 1 && workers <= Self.maxWorkers)
        self.workers = workers
        lanes = .allocate(capacity: workers * workers)
        for i in 0..<(workers * workers) { (lanes + i).initialize(to: SPSCRing(capacity: laneCapacity)) }
        doorbells = (0..<workers).map { _ in
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { return (-1, -1) }
            for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            return (fds[0], fds[1])
        }
        sleeping = .allocate(capacity: workers)
        for i in 0..<workers { (sleeping + i).initialize(to: Atomic(false)) }
    }

    deinit {
        for i in 0..<(workers * workers) { lanes[i].deallocate() }
        lanes.deinitialize(count: workers * workers)
        lanes.deallocate()
        for d in doorbells where d.read >= 0 { close(d.read); close(d.write) }
        sleeping.deinitialize(count: workers)
        sleeping.deallocate()
    }

    func doorbell(_ worker: Int) -> Int32 { doorbells[worker].read }

    /// Marks `worker` as going to sleep; false (and not marked) when a lane to it has frames, so
    /// it goes round again instead. The fence pairs with the one in `ring`: either the producer
    /// sees the mark and writes the doorbell, or this worker sees the frames.
    func prepareToSleep(_ worker: Int) -> Bool {
        sleeping[worker].store(true, ordering: .sequentiallyConsistent)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        for from in 0..<workers where from != worker && lanes[from * workers + worker].count > 0 {
            sleeping[worker].store(false, ordering: .relaxed)
            return false
        }
        return true
    }

    /// After poll(): unmarks `worker` and empties its doorbell.
    func wake(_ worker: Int) {
        sleeping[worker].store(false, ordering: .relaxed)
        var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        _ = read(doorbells[worker].read, &bytes, 32)
    }

    /// Called by a producer after handing frames to `worker` in one pass.
    func ring(_ worker: Int) {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        guard sleeping[worker].load(ordering: .sequentiallyConsistent) else { return }
        var one: UInt8 = 1
        _ = write(doorbells[worker].write, &one, 1)
    }

    func lane(from: Int, to: Int) -> SPSCRing<HandOff> { lanes[from * workers + to] }

    /// Heads on all lanes now (0 once every worker has finished).
    public var queued: Int {
        var n = 0
        for i in 0..<(workers * workers) { n += lanes[i].count }
        return n
    }

    func leave() { leaving.add(1, ordering: .acquiringAndReleasing) }
    var allGone: Bool { leaving.load(ordering: .acquiring) >= workers }
}

/// A worker's place in the mesh.
public struct HandOffEndpoint: Sendable {
    public let mesh: HandOffMesh
    public let index: Int

    public init(mesh: HandOffMesh, index: Int) {
        precondition(index >= 0 && index < mesh.workers)
        self.mesh = mesh
        self.index = index
    }
}
