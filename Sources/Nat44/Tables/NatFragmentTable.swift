import BufferCache
import Pipeline

typealias FragmentIndex = TableIndex<NatFragment>

/// A fragmented datagram as it arrived: ingress side, source, destination, protocol, IP ID.
struct FragmentKey: IndexTableKey {
    var side: Side = .inside
    var src: UInt32 = 0
    var dst: UInt32 = 0
    var id: UInt16 = 0
    var proto: UInt8 = 0

    @inline(__always) var hashBits: UInt64 {
        (UInt64(src) << 32 | UInt64(dst)) ^ (UInt64(id) << 17 | UInt64(proto) << 8 | UInt64(side.rawValue))
    }
}

/// How the first fragment of a datagram was translated: what its later fragments get.
struct FragmentRewrite {
    var src: UInt32 = 0
    var dst: UInt32 = 0
    var egress: Side = .inside
    var nextHop: UInt32 = 0
}

/// What the gateway remembers about one fragmented datagram.
struct NatFragment: IndexTableEntry {
    enum State: UInt8 {
        /// The first fragment was translated: later ones get the same addresses.
        case translated
        /// Later fragments arrived before the first: they wait in the hold area.
        case pending
    }
    var key = FragmentKey()
    var state: State = .pending
    /// Valid in the translated state.
    var rewrite = FragmentRewrite()
    var expires: UInt64 = 0
    /// Oldest of its fragments in the hold area (pending state).
    var firstHeld: Int32? = nil
}

/// Bounded, timed table of fragmented datagrams in flight, plus a bounded hold area for
/// out-of-order fragments. Only the first fragment carries the ports, so later fragments are
/// translated from what the first one recorded: addresses only (their L4 bytes need no change,
/// the L4 checksum lives in the first fragment).
struct NatFragmentTable: ~Copyable {
    private var table: IndexTable<NatFragment>

    /// The hold area: a pool of slots, each a held frame linked to the next one of the same
    /// datagram (arrival order), with its own free list.
    let holdCapacity: Int
    private let heldHeads: NatArray<PacketHead?>
    private let heldNext: NatArray<Int32>
    /// Entry owning each hold slot, as stored indices: `tick` scans these few slots every call so
    /// a held fragment never outlives its hold time by more than one tick.
    private let heldOwner: NatArray<Int32>
    private let heldFree: NatArray<Int32>
    private var heldFreeCount: Int
    /// `heldNext` of a datagram's newest held fragment.
    private static var endOfQueue: Int32 { -1 }

    init(capacity: Int, holdCapacity: Int) {
        precondition(capacity >= 1 && holdCapacity >= 0)
        table = IndexTable(capacity: capacity)
        self.holdCapacity = holdCapacity
        heldHeads = NatArray(repeating: nil, count: Swift.max(1, holdCapacity))
        heldNext = NatArray(repeating: Self.endOfQueue, count: Swift.max(1, holdCapacity))
        heldOwner = NatArray(repeating: FragmentIndex.none, count: Swift.max(1, holdCapacity))
        heldFree = NatArray(freeListOf: holdCapacity)
        heldFreeCount = holdCapacity
    }

    var capacity: Int { table.capacity }
    /// Frames held now (later fragments waiting for their first).
    var heldCount: Int { holdCapacity - heldFreeCount }

    @inline(__always)
    subscript(i: FragmentIndex) -> NatFragment {
        unsafeAddress { UnsafePointer(table.address(i)) }
        nonmutating unsafeMutableAddress { table.address(i) }
    }

    func find(_ key: FragmentKey) -> FragmentIndex? { table.find(key) }

    /// A new entry (the caller fills in the translation), or nil when the table is full.
    mutating func insert(_ key: FragmentKey, state: NatFragment.State, expires: UInt64) -> FragmentIndex? {
        table.insert(NatFragment(key: key, state: state, expires: expires))
    }

    /// Removes entry `i`; its held fragments must have been taken out.
    mutating func remove(_ i: FragmentIndex) {
        precondition(table[i].firstHeld == nil)
        table.remove(i)
    }

    /// The entry in slot `slot` (0..<capacity), if any: for teardown.
    func occupant(ofSlot slot: Int) -> FragmentIndex? { table.occupant(ofSlot: slot) }

    /// Moves the aging cursor one slot on; the entry of the slot it left, if any.
    mutating func advanceCursor() -> FragmentIndex? { table.advanceCursor() }

    /// The entry whose fragment sits in hold slot `slot` (0..<holdCapacity), if any.
    func holder(ofSlot slot: Int) -> FragmentIndex? { FragmentIndex.stored(heldOwner[slot]) }

    func hasHeld(_ i: FragmentIndex) -> Bool { table[i].firstHeld != nil }

    /// Holds an out-of-order fragment for pending entry `i`; false when the hold area is full.
    mutating func hold(_ i: FragmentIndex, _ head: PacketHead) -> Bool {
        guard heldFreeCount > 0 else { return false }
        heldFreeCount -= 1
        let h = heldFree[heldFreeCount]
        heldHeads[Int(h)] = head
        heldOwner[Int(h)] = i.raw
        // Append at the tail to keep arrival order.
        heldNext[Int(h)] = Self.endOfQueue
        if var t = table[i].firstHeld {
            while heldNext[Int(t)] != Self.endOfQueue { t = heldNext[Int(t)] }
            heldNext[Int(t)] = h
        } else {
            table[i].firstHeld = h
        }
        return true
    }

    /// Takes the oldest held fragment of entry `i`, or nil.
    mutating func takeHeld(_ i: FragmentIndex) -> PacketHead? {
        guard let h = table[i].firstHeld else { return nil }
        let next = heldNext[Int(h)]
        table[i].firstHeld = next != Self.endOfQueue ? next : nil
        let head = heldHeads[Int(h)]
        heldHeads[Int(h)] = nil
        heldOwner[Int(h)] = FragmentIndex.none
        heldFree[heldFreeCount] = h
        heldFreeCount += 1
        return head
    }
}
