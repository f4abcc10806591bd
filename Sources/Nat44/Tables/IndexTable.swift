/// A key an `IndexTable` finds entries by.
protocol IndexTableKey: Equatable {
    /// The key packed (or folded) into 64 bits for the bucket hash: equal keys, equal bits.
    var hashBits: UInt64 { get }
}

/// What an `IndexTable` needs from its entries: the key they are found by.
protocol IndexTableEntry {
    associatedtype Key: IndexTableKey
    var key: Key { get }
    /// The contents of an empty slot.
    init()
}

/// The storage of the session, neighbour and fragment tables: a fixed-capacity chained hash
/// table whose entries are addressed by a `TableIndex`.
///
/// - Allocated once at its capacity: a free list hands slots out and takes them back, so after
///   init nothing allocates and nothing is reference counted.
/// - The chain links live here, beside the entries, so an entry type is only its own data. There
///   are at least as many buckets as slots: chains stay short, and a hit reads the bucket and the
///   entry, never a link.
/// - Buckets come from a `NatHasher` with a random multiplier per table, so an inside host cannot
///   precompute keys that pile into one chain.
/// - A rotating cursor lets the owner examine a bounded slice of slots per timer tick (expiry,
///   aging) instead of sweeping the whole table.
///
/// Keys are unique: the owner looks a key up before inserting it.
struct IndexTable<Entry: IndexTableEntry>: ~Copyable {
    typealias Index = TableIndex<Entry>

    let capacity: Int
    private let entries: NatArray<Entry>
    /// Per slot: the next slot of its chain, `end` at the end of a chain, `vacant` when free.
    private let links: NatArray<Int32>
    private let buckets: NatArray<Int32>
    private let hasher: NatHasher
    private let freeSlots: NatArray<Int32>
    private var freeCount: Int
    private var cursor = 0

    @inline(__always) private static var end: Int32 { Index.none }
    @inline(__always) private static var vacant: Int32 { -2 }

    init(capacity: Int) {
        precondition(capacity >= 1 && capacity <= Int(Int32.max))
        self.capacity = capacity
        entries = NatArray(repeating: Entry(), count: capacity)
        links = NatArray(repeating: Self.vacant, count: capacity)
        let bits = NatHasher.bits(for: capacity)
        buckets = NatArray(repeating: Self.end, count: 1 << bits)
        hasher = NatHasher(bits: bits)
        freeSlots = NatArray(freeListOf: capacity)
        freeCount = capacity
    }

    /// Entries in the table.
    var count: Int { capacity - freeCount }
    var isFull: Bool { freeCount == 0 }

    /// Where entry `i` lives (for the owners' forwarding subscripts).
    @inline(__always)
    func address(_ i: Index) -> UnsafeMutablePointer<Entry> { entries.address(i.offset) }

    @inline(__always)
    subscript(i: Index) -> Entry {
        unsafeAddress { UnsafePointer(address(i)) }
        nonmutating unsafeMutableAddress { address(i) }
    }

    @inline(__always)
    func find(_ key: Entry.Key) -> Index? {
        var i = buckets[hasher.bucket(key.hashBits)]
        while i != Self.end {
            if entries[Int(i)].key == key { return Index(i) }
            i = links[Int(i)]
        }
        return nil
    }

    /// Stores `entry` in a free slot; nil when the table is full.
    mutating func insert(_ entry: Entry) -> Index? {
        guard freeCount > 0 else { return nil }
        freeCount -= 1
        let i = freeSlots[freeCount]
        let b = hasher.bucket(entry.key.hashBits)
        entries[Int(i)] = entry
        links[Int(i)] = buckets[b]
        buckets[b] = i
        return Index(i)
    }

    /// Unlinks entry `i` from its chain and frees its slot.
    mutating func remove(_ i: Index) {
        precondition(links[i.offset] != Self.vacant, "removing a free slot")
        let b = hasher.bucket(entries[i.offset].key.hashBits)
        if buckets[b] == i.raw {
            buckets[b] = links[i.offset]
        } else {
            var j = buckets[b]
            while j != Self.end {
                let n = links[Int(j)]
                if n == i.raw {
                    links[Int(j)] = links[i.offset]
                    break
                }
                j = n
            }
        }
        links[i.offset] = Self.vacant
        entries[i.offset] = Entry()
        freeSlots[freeCount] = i.raw
        freeCount += 1
    }

    /// The entry in slot `slot` (0..<capacity), if the slot holds one: for scans of every slot.
    func occupant(ofSlot slot: Int) -> Index? {
        links[slot] != Self.vacant ? Index(Int32(slot)) : nil
    }

    /// Moves the cursor one slot on, wrapping; returns the entry of the slot it left, if any.
    mutating func advanceCursor() -> Index? {
        let slot = cursor
        cursor = cursor + 1 == capacity ? 0 : cursor + 1
        return occupant(ofSlot: slot)
    }
}
