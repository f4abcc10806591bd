/// Where the pipeline gets its packet heads from. The pipeline is generic over this protocol, so
/// each allocator is specialised into it: no existential, no dynamic dispatch per packet.
///
/// `~Copyable` because an allocator owns per-thread state (the cache's stack of heads) that two
/// copies must never share.
public protocol HeadAllocator: ~Copyable {
    /// A cleared head, or nil when no memory can be had (the caller counts a drop).
    mutating func get() -> PacketHead?
    /// Up to `count` cleared heads into `heads`; returns how many (as `napi_skb_cache_get_bulk`).
    mutating func getBulk(into heads: UnsafeMutablePointer<PacketHead>, count: Int) -> Int
    /// Up to `count` cleared heads that will be built around frames they do not own
    /// (`PacketHead.build(around:)`, an AF_XDP port's RX): a buffer of their own is never used
    /// while they are, so an allocator may hand out heads without one (`napi_build_skb`'s
    /// skb without data). By default the same heads as `getBulk`.
    mutating func getBulkForFrames(into heads: UnsafeMutablePointer<PacketHead>, count: Int) -> Int
    /// Gives a head back. The caller must not touch it afterwards.
    mutating func put(_ head: PacketHead)
    /// Gives `count` heads back (a TX completion).
    mutating func putBulk(_ heads: UnsafePointer<PacketHead>, count: Int)
    /// This allocator's counters, as of now. Read only by the owning thread.
    var counters: AllocatorCounters { get }
    /// The allocator's name in stats and JSON (`cache`, `plain`).
    var kind: String { get }
}

extension HeadAllocator where Self: ~Copyable {
    @inlinable
    public mutating func getBulkForFrames(into heads: UnsafeMutablePointer<PacketHead>, count: Int) -> Int {
        getBulk(into: heads, count: count)
    }
}

/// Counters of one allocator, plain integers owned by one thread; sum them across threads with `+`.
public struct AllocatorCounters: Sendable, Equatable {
    /// Heads handed out.
    public var gets: UInt64 = 0
    /// Heads handed out straight from the cache, without a refill in that call.
    public var hits: UInt64 = 0
    /// Refills from the pool: calls and heads obtained.
    public var refills: UInt64 = 0
    public var refillHeads: UInt64 = 0
    /// Gets that found no head anywhere (pool at its cap).
    public var refillFailures: UInt64 = 0
    /// Heads given back.
    public var puts: UInt64 = 0
    /// Flushes to the pool when the cache was full: calls and heads.
    public var flushes: UInt64 = 0
    public var flushHeads: UInt64 = 0
    /// Heads freed by this thread that belong to another cache and were sent home.
    public var remoteFrees: UInt64 = 0
    /// Heads that came back home from other threads and were taken into this cache.
    public var remoteReturns: UInt64 = 0
    /// Heads freed by this thread that another cache handed out, kept here (`adopt`).
    public var adopted: UInt64 = 0
    /// Debug checks: puts of a head already free (not cached), and heads written after put.
    public var doubleFrees: UInt64 = 0
    public var writesAfterPut: UInt64 = 0

    public init() {}

    /// Heads this thread got minus heads it put. Per thread this can be negative when another
    /// thread frees its heads; summed over all threads it is the heads in flight.
    public var inUse: Int64 { Int64(bitPattern: gets) &- Int64(bitPattern: puts) }

    /// Fraction of gets served without a refill (1 when there were no gets).
    public var hitRate: Double { gets == 0 ? 1 : Double(hits) / Double(gets) }

    /// What every allocator counts, as the JSON `allocator` object and the metrics
    /// (`forwarder_allocator_KEY_total`) show it: JSON key, what it counts, value.
    public var allocatorTable: [(key: String, help: String, value: UInt64)] {
        [("gets", "Packet heads taken from the allocator", gets), ("puts", "Packet heads given back to the allocator", puts),
         ("failures", "Times no packet head could be had", refillFailures)]
    }

    /// The cache's counters, as the JSON `cache` object and the metrics
    /// (`forwarder_cache_KEY_total`) show them. A head freed by a thread whose cache did not
    /// hand it out is a remote free whether it was sent home or adopted.
    public var cacheTable: [(key: String, help: String, value: UInt64)] {
        [("gets", "heads taken", gets), ("hits", "gets served from the per-thread cache", hits),
         ("refills", "refills from the shared pool", refills), ("refill_heads", "heads moved in by refills", refillHeads),
         ("refill_failures", "refills the pool could not serve", refillFailures), ("puts", "heads given back", puts),
         ("flushes", "flushes to the shared pool", flushes), ("flush_heads", "heads moved out by flushes", flushHeads),
         ("remote_frees", "heads freed by another thread than their owner", remoteFrees &+ adopted),
         ("adopted", "of the remote frees, heads kept by the freeing thread (--remote-frees adopt)", adopted),
         ("remote_returns", "remotely freed heads taken back by their owner", remoteReturns)]
    }

    /// Every counter, for summing: a new counter added here is summed with the others.
    static let fields: [WritableKeyPath<AllocatorCounters, UInt64> & Sendable] = [
        \.gets, \.hits, \.refills, \.refillHeads, \.refillFailures, \.puts, \.flushes, \.flushHeads,
        \.remoteFrees, \.remoteReturns, \.adopted, \.doubleFrees, \.writesAfterPut,
    ]

    public static func + (a: AllocatorCounters, b: AllocatorCounters) -> AllocatorCounters {
        var s = a
        for field in fields { s[keyPath: field] &+= b[keyPath: field] }
        return s
    }
}
