/// A per-thread cache of packet heads in front of a `HeadPool`: the analogue of the kernel's
/// per-CPU `napi_alloc_cache` (net/core/skbuff.c, `napi_skb_cache_get` / `napi_skb_cache_put`).
///
/// Owned by one thread: no locks, no atomics on the fast path; a get is a decrement and a load,
/// a put a store and an increment. Semantics follow the kernel exactly:
/// - get refills `refill` heads from the pool only when the cache is empty, then pops LIFO, so the
///   most recently freed (cache-hot) head comes out first; the head is cleared here, not at put;
/// - put pushes; when the cache reaches `capacity` it returns the `flush` most recently pushed
///   heads to the pool in one bulk free (no memmove).
/// Slow paths (refill, flush, remote frees, debug checks) are out of line.
public struct HeadCache: ~Copyable, HeadAllocator {
    public struct Configuration: Sendable, Equatable {
        /// Heads the cache holds at most (`NAPI_SKB_CACHE_SIZE`).
        public var capacity: Int
        /// Heads fetched from the pool when empty (`NAPI_SKB_CACHE_BULK`).
        public var refill: Int
        /// Heads returned to the pool when full (`NAPI_SKB_CACHE_HALF` / `_FREE`).
        public var flush: Int
        /// `.returnHome` by default: it measured faster here (docs/buffer-cache.md, two-thread rows).
        public var remoteFrees: RemoteFreePolicy
        /// Poison heads on put, check them on get, refuse double frees. Costs a buffer fill per put.
        public var debugChecks: Bool

        public init(capacity: Int, refill: Int, flush: Int,
                    remoteFrees: RemoteFreePolicy = .returnHome, debugChecks: Bool = false) {
            precondition(capacity >= 2, "capacity must be at least 2")
            precondition(refill >= 1 && refill <= capacity, "refill must be in 1...capacity")
            precondition(flush >= 1 && flush <= capacity, "flush must be in 1...capacity")
            self.capacity = capacity
            self.refill = refill
            self.flush = flush
            self.remoteFrees = remoteFrees
            self.debugChecks = debugChecks
        }

        /// The 2021 series as merged for Linux 5.12: 64 / 16 / 32.
        public static let kernel2021 = Configuration(capacity: 64, refill: 16, flush: 32)
        /// net-next, November 2025: 128 / 32 / 32.
        public static let kernel2025 = Configuration(capacity: 128, refill: 32, flush: 32)

        public static let presetNames = Preset.allCases.map(\.rawValue)

        public init?(preset: String) {
            guard let p = Preset(rawValue: preset) else { return nil }
            self = p.configuration
        }
    }

    /// The kernel's constants as named presets (`--cache-preset`).
    public enum Preset: String, CaseIterable, Sendable {
        case kernel2021 = "kernel-2021"
        case kernel2025 = "kernel-2025"

        public var configuration: Configuration {
            switch self {
            case .kernel2021: .kernel2021
            case .kernel2025: .kernel2025
            }
        }
    }

    /// What happens to a head freed by a thread whose cache did not hand it out.
    public enum RemoteFreePolicy: String, Sendable, CaseIterable {
        /// The freeing thread keeps it (the 2021 kernel): it flows back through the pool.
        case adopt
        /// It goes back to its home cache through a lock-free list (the 2025 kernel, mimalloc).
        case returnHome = "return-home"
    }

    public enum Violation: Equatable, Sendable {
        /// A head put back while already free; it was not cached again.
        case doubleFree(PacketHead)
        /// A head whose buffer changed after it was put back; `offset` is the first changed byte.
        case writeAfterPut(PacketHead, offset: Int)
    }

    public let pool: HeadPool
    public let configuration: Configuration
    /// This cache's id, stored in every head it hands out (`HeadMeta.owner`).
    public let id: UInt16
    /// Called on every debug-check violation (after it is counted). Tests use it; the forwarder
    /// reports the counts.
    public var onViolation: ((Violation) -> Void)?

    @usableFromInline let slots: UnsafeMutablePointer<PacketHead>
    @usableFromInline var count: Int = 0
    @usableFromInline var _counters = AllocatorCounters()
    @usableFromInline let capacity: Int
    @usableFromInline let headroom: Int
    @usableFromInline let returnsHome: Bool
    @usableFromInline let debugChecks: Bool

    /// A cache on `pool`, or nil when the pool already serves `HeadPool.maxCaches` caches.
    public init?(pool: HeadPool, configuration: Configuration = .kernel2021) {
        guard let id = pool.registerCache() else { return nil }
        self.pool = pool
        self.configuration = configuration
        self.id = id
        slots = .allocate(capacity: configuration.capacity)
        capacity = configuration.capacity
        headroom = pool.configuration.geometry.headroom
        returnsHome = configuration.remoteFrees == .returnHome
        debugChecks = configuration.debugChecks
    }

    deinit {
        pool.release(slots, count: count)
        slots.deallocate()
        pool.unregisterCache(id)
    }

    public var kind: String { "cache" }
    public var counters: AllocatorCounters { _counters }
    /// Heads held now.
    public var cachedCount: Int { count }
    /// The heads held now, bottom first (the next get returns the last).
    public var cachedHeads: [PacketHead] { Array(UnsafeBufferPointer(start: slots, count: count)) }

    // MARK: fast paths

    @inlinable
    public mutating func get() -> PacketHead? {
        if _fastPath(count > 0) {
            _counters.hits &+= 1
        } else if !refillWhenEmpty() {
            return nil
        }
        count &-= 1
        let head = slots[count]
        if _slowPath(debugChecks) { checkOnGet(head) }
        head.reset(headroom: headroom, owner: id)
        _counters.gets &+= 1
        return head
    }

    @inlinable
    public mutating func put(_ head: PacketHead) {
        head.returnFrameIfHeld()
        putOwnBuffer(head)
    }

    /// `put` of a head that holds no frame (its own buffer).
    @inlinable
    mutating func putOwnBuffer(_ head: PacketHead) {
        _counters.puts &+= 1
        if _slowPath(head.meta.pointee.owner != id) {
            if returnsHome {
                sendHome(head)
                return
            }
            _counters.adopted &+= 1
        }
        if _slowPath(debugChecks) { guard acceptOnPut(head) else { return } }
        slots[count] = head
        count &+= 1
        if _slowPath(count >= capacity) { flushWhenFull() }
    }

    @inlinable
    public mutating func getBulk(into heads: UnsafeMutablePointer<PacketHead>, count n: Int) -> Int {
        _counters.hits &+= UInt64(min(n, count))
        let direct = count >= n ? 0 : refillForBulk(into: heads, wanted: n)
        let fromCache = min(n, count)
        let base = count &- fromCache
        for i in 0..<fromCache {
            let head = slots[base &+ i]
            if _slowPath(debugChecks) { checkOnGet(head) }
            heads[i] = head
        }
        count = base
        let total = fromCache &+ direct
        for i in 0..<total { heads[i].reset(headroom: headroom, owner: id) }
        _counters.gets &+= UInt64(total)
        return total
    }

    @inlinable
    public mutating func putBulk(_ heads: UnsafePointer<PacketHead>, count n: Int) {
        var i = 0
        while i < n {
            // Once a head holding a frame is met, its frame and every later one go back in bulk.
            if _slowPath(heads[i].isBuiltAroundFrame) { PacketHead.returnFrames(heads + i, count: n - i) }
            let owner = heads[i].meta.pointee.owner
            if _slowPath(returnsHome && owner != id) {
                i = sendHomeRun(heads, from: i, count: n)
            } else {
                putOwnBuffer(heads[i])
                i &+= 1
            }
        }
    }

    // MARK: slow paths

    /// Refills `refill` heads (home-coming remote frees first, then the pool). False when none.
    @usableFromInline @inline(never)
    mutating func refillWhenEmpty() -> Bool {
        if takeRemoteFrees() == 0 {
            let n = pool.allocate(into: slots, count: configuration.refill)
            _counters.refills &+= 1
            _counters.refillHeads &+= UInt64(n)
            count = n
        }
        if count == 0 { _counters.refillFailures &+= 1 }
        return count > 0
    }

    /// For a bulk get the cache cannot serve: refill (remote frees, then up to `refill` heads
    /// from the pool), and if still short allocate the rest straight from the pool into the tail
    /// of `heads`. Returns how many were allocated directly.
    @usableFromInline @inline(never)
    mutating func refillForBulk(into heads: UnsafeMutablePointer<PacketHead>, wanted n: Int) -> Int {
        _ = takeRemoteFrees()
        if count < n {
            let want = min(capacity - count, configuration.refill)
            let got = pool.allocate(into: slots + count, count: want)
            _counters.refills &+= 1
            _counters.refillHeads &+= UInt64(got)
            count += got
        }
        guard count < n else { return 0 }
        let direct = pool.allocate(into: heads + count, count: n - count)
        if count + direct < n { _counters.refillFailures &+= 1 }
        if debugChecks { for i in 0..<direct { checkOnGet(heads[count + i]) } }
        return direct
    }

    /// Moves heads freed by other threads back into this cache (what does not fit goes to the
    /// pool). Returns how many came home.
    @usableFromInline
    mutating func takeRemoteFrees() -> Int {
        guard returnsHome, var cursor = pool.takeRemote(owner: id) else { return 0 }
        var taken = 0
        while count < capacity {
            let next = cursor.pointee.next
            cursor.pointee.next = nil
            slots[count] = PacketHead(cursor)
            count += 1
            taken += 1
            guard let n = next else {
                _counters.remoteReturns &+= UInt64(taken)
                return taken
            }
            cursor = n
        }
        _counters.remoteReturns &+= UInt64(taken)
        pool.release(chain: cursor)
        return taken
    }

    @usableFromInline @inline(never)
    mutating func flushWhenFull() {
        let n = configuration.flush
        count -= n
        pool.release(slots + count, count: n)
        _counters.flushes &+= 1
        _counters.flushHeads &+= UInt64(n)
    }

    @usableFromInline @inline(never)
    mutating func sendHome(_ head: PacketHead) {
        if debugChecks { guard acceptOnPut(head) else { return } }
        _counters.remoteFrees &+= 1
        pool.pushRemote(owner: head.meta.pointee.owner, first: head.meta, last: head.meta)
    }

    /// Sends home the run of heads starting at `start` that share one owner, as one chain with
    /// one compare-exchange. Returns the index after the run.
    @usableFromInline @inline(never)
    mutating func sendHomeRun(_ heads: UnsafePointer<PacketHead>, from start: Int, count n: Int) -> Int {
        let owner = heads[start].meta.pointee.owner
        var first: UnsafeMutablePointer<HeadMeta>?
        var last: UnsafeMutablePointer<HeadMeta>?
        var i = start
        while i < n, heads[i].meta.pointee.owner == owner {
            let head = heads[i]
            i += 1
            head.returnFrameIfHeld()
            _counters.puts &+= 1
            if debugChecks { guard acceptOnPut(head) else { continue } }
            _counters.remoteFrees &+= 1
            head.meta.pointee.next = nil
            if let l = last { l.pointee.next = head.meta } else { first = head.meta }
            last = head.meta
        }
        if let first, let last { pool.pushRemote(owner: owner, first: first, last: last) }
        return i
    }

    // MARK: debug checks

    @usableFromInline static let poisonByte: UInt8 = 0xDB

    /// Refuses a head that is already free (a double free), else poisons it.
    @usableFromInline @inline(never)
    mutating func acceptOnPut(_ head: PacketHead) -> Bool {
        let m = head.meta
        if m.pointee.state == HeadState.free.rawValue {
            _counters.doubleFrees &+= 1
            onViolation?(.doubleFree(head))
            return false
        }
        m.pointee.state = HeadState.free.rawValue
        m.pointee.buffer.initializeMemory(as: UInt8.self, repeating: HeadCache.poisonByte,
                                          count: Int(m.pointee.capacity))
        return true
    }

    /// Checks that a free head's poison is intact, then marks it in use.
    @usableFromInline @inline(never)
    mutating func checkOnGet(_ head: PacketHead) {
        let m = head.meta
        if m.pointee.state == HeadState.free.rawValue {
            let buffer = UnsafeRawBufferPointer(start: m.pointee.buffer, count: Int(m.pointee.capacity))
            if let offset = buffer.firstIndex(where: { $0 != HeadCache.poisonByte }) {
                _counters.writesAfterPut &+= 1
                onViolation?(.writeAfterPut(head, offset: offset))
            }
        }
        m.pointee.state = HeadState.inUse.rawValue
    }
}
