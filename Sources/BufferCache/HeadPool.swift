#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The shared backing store behind every `HeadCache`: the analogue of the kernel's
/// `skbuff_head_cache` slab with `kmem_cache_alloc_bulk` / `kmem_cache_free_bulk`.
///
/// Heads are carved from slabs of many heads each, so growth is one allocation per slab, never per
/// packet. A bulk allocation or free takes the lock once. With a cap, an allocation beyond it
/// returns fewer heads than asked (possibly none): the caller drops and counts, nothing blocks.
///
/// The pool also keeps one lock-free "remote free" list per registered cache: a head freed by a
/// thread that does not own it is pushed there and its owner takes the whole list back with one
/// atomic exchange (the mimalloc `thread_free` scheme, the kernel's deferred free since 2025).
public final class HeadPool: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var geometry: HeadGeometry
        /// Heads per slab. 256 heads of 2.2 KB is a 560 KB slab.
        public var headsPerSlab: Int
        /// Most heads the pool will ever create; nil for no cap.
        public var maxHeads: Int?

        public init(geometry: HeadGeometry = .default, headsPerSlab: Int = 256, maxHeads: Int? = nil) {
            precondition(headsPerSlab > 0, "headsPerSlab must be positive")
            precondition(maxHeads.map { $0 >= 0 } ?? true, "maxHeads must not be negative")
            self.geometry = geometry
            self.headsPerSlab = headsPerSlab
            self.maxHeads = maxHeads
        }
    }

    /// What the pool holds, read under its lock.
    public struct Stats: Sendable, Equatable {
        public var slabs: Int
        public var totalHeads: Int
        /// Heads sitting in the pool (not in any cache, not in flight).
        public var freeHeads: Int
        /// Most heads outside the pool at once.
        public var highWater: Int
        /// Heads outside the pool now: in caches, in remote lists or in flight.
        public var outstanding: Int { totalHeads - freeHeads }
    }

    struct State {
        var free: UnsafeMutablePointer<PacketHead>
        var freeCount = 0
        var freeCapacity = 0
        var slabs: [UnsafeMutableRawPointer] = []
        var totalHeads = 0
        var highWater = 0
        var cacheIDs = [Bool](repeating: false, count: HeadPool.maxCaches + 1)
    }

    /// Cache ids run from 1 to `maxCaches`; 0 means "no cache".
    public static let maxCaches = 255

    /// Marks a remote list whose cache is gone: frees to it go straight to the pool.
    @usableFromInline static let closedList: UInt = 1

    public let configuration: Configuration
    /// The pool's state, only touched under `lock`. A pthread mutex rather than
    /// Synchronization's `Mutex`: ThreadSanitizer sees pthread locks (it intercepts them) but not
    /// the uninstrumented standard library's, and reports every access under `Mutex` as a race.
    private var state: State
    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    /// One list head per cache id; a list is a chain through `HeadMeta.next`.
    @usableFromInline let remoteLists: UnsafeMutablePointer<Atomic<UInt>>

    public init(_ configuration: Configuration = Configuration()) {
        self.configuration = configuration
        state = State(free: .allocate(capacity: 1))
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
        remoteLists = .allocate(capacity: HeadPool.maxCaches + 1)
        for i in 0...HeadPool.maxCaches {
            (remoteLists + i).initialize(to: Atomic(HeadPool.closedList))
        }
    }

    deinit {
        for slab in state.slabs { free(slab) }
        state.free.deallocate()
        pthread_mutex_destroy(lock)
        lock.deallocate()
        remoteLists.deinitialize(count: HeadPool.maxCaches + 1)
        remoteLists.deallocate()
    }

    private func withLock<R>(_ body: (inout State) -> R) -> R {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return body(&state)
    }

    public var stats: Stats {
        withLock { s in
            Stats(slabs: s.slabs.count, totalHeads: s.totalHeads, freeHeads: s.freeCount, highWater: s.highWater)
        }
    }

    /// Up to `count` heads into `out`, growing by slabs as needed and allowed; returns how many.
    /// Heads come out as they were put back: not cleared (the cache clears on get).
    public func allocate(into out: UnsafeMutablePointer<PacketHead>, count: Int) -> Int {
        withLock { s in
            if s.freeCount < count { grow(&s, toHold: count) }
            let n = min(count, s.freeCount)
            s.freeCount -= n
            (out).update(from: s.free + s.freeCount, count: n)
            s.highWater = max(s.highWater, s.totalHeads - s.freeCount)
            return n
        }
    }

    /// Takes `count` heads back under one lock acquisition.
    public func release(_ heads: UnsafePointer<PacketHead>, count: Int) {
        guard count > 0 else { return }
        withLock { s in
            precondition(s.freeCount + count <= s.totalHeads, "more heads released than the pool made")
            (s.free + s.freeCount).update(from: heads, count: count)
            s.freeCount += count
        }
    }

    /// Takes back a chain linked through `next`.
    func release(chain first: UnsafeMutablePointer<HeadMeta>?) {
        guard first != nil else { return }
        withLock { s in
            var cursor = first
            while let m = cursor {
                precondition(s.freeCount < s.totalHeads, "more heads released than the pool made")
                cursor = m.pointee.next
                m.pointee.next = nil
                s.free[s.freeCount] = PacketHead(m)
                s.freeCount += 1
            }
        }
    }

    private func grow(_ s: inout State, toHold count: Int) {
        let geometry = configuration.geometry
        while s.freeCount < count {
            var n = configuration.headsPerSlab
            if let cap = configuration.maxHeads { n = min(n, cap - s.totalHeads) }
            guard n > 0 else { return }
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, 64, n * geometry.objectSize) == 0, let slab = raw else { return }
            if s.totalHeads + n > s.freeCapacity {
                let newCapacity = max(2 * s.freeCapacity, s.totalHeads + n)
                let newFree = UnsafeMutablePointer<PacketHead>.allocate(capacity: newCapacity)
                newFree.moveInitialize(from: s.free, count: s.freeCount)
                s.free.deallocate()
                s.free = newFree
                s.freeCapacity = newCapacity
            }
            for i in 0..<n {
                let object = slab + i * geometry.objectSize
                let meta = object.bindMemory(to: HeadMeta.self, capacity: 1)
                meta.initialize(to: HeadMeta(buffer: object + PacketHead.metaStride,
                                             capacity: UInt32(geometry.bufferSize)))
                s.free[s.freeCount] = PacketHead(meta)
                s.freeCount += 1
            }
            s.slabs.append(slab)
            s.totalHeads += n
        }
    }

    // MARK: cache registration and remote frees

    /// A fresh cache id with an open remote list, or nil when `maxCaches` caches exist.
    func registerCache() -> UInt16? {
        withLock { s in
            guard let id = (1...HeadPool.maxCaches).first(where: { !s.cacheIDs[$0] }) else { return nil }
            s.cacheIDs[id] = true
            remoteLists[id].store(0, ordering: .releasing)
            return UInt16(id)
        }
    }

    /// Closes the cache's remote list and returns what was on it to the pool.
    func unregisterCache(_ id: UInt16) {
        let list = remoteLists[Int(id)].exchange(HeadPool.closedList, ordering: .acquiringAndReleasing)
        release(chain: UnsafeMutablePointer(bitPattern: list))
        withLock { s in s.cacheIDs[Int(id)] = false }
    }

    /// Pushes a chain `first ... last` (linked through `next`) onto `owner`'s remote list with one
    /// compare-exchange; if that cache is gone the chain goes to the pool.
    @usableFromInline
    func pushRemote(owner: UInt16, first: UnsafeMutablePointer<HeadMeta>, last: UnsafeMutablePointer<HeadMeta>) {
        let list = remoteLists + Int(owner)
        var top = list.pointee.load(ordering: .relaxed)
        while true {
            if top == HeadPool.closedList {
                last.pointee.next = nil
                release(chain: first)
                return
            }
            last.pointee.next = UnsafeMutablePointer(bitPattern: top)
            let (exchanged, original) = list.pointee.compareExchange(
                expected: top, desired: UInt(bitPattern: first), successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            top = original
        }
    }

    /// Takes `owner`'s whole remote list (a chain through `next`), leaving it empty.
    @usableFromInline
    func takeRemote(owner: UInt16) -> UnsafeMutablePointer<HeadMeta>? {
        let list = remoteLists + Int(owner)
        guard list.pointee.load(ordering: .relaxed) != 0 else { return nil }
        return UnsafeMutablePointer(bitPattern: list.pointee.exchange(0, ordering: .acquiring))
    }
}

extension HeadMeta {
    /// A head whose buffer starts at `buffer` and holds `capacity` bytes.
    public init(buffer: UnsafeMutableRawPointer, capacity: UInt32) {
        self.init(buffer: buffer, next: nil, ownBuffer: nil, frameAddress: HeadMeta.noFrame, frameOrigin: nil, capacity: capacity,
                  ownCapacity: 0, length: 0, wireLength: 0, state: HeadState.fresh.rawValue, dataOffset: 0, owner: 0)
    }
}
