import BufferCache
import Pipeline

typealias NeighbourIndex = TableIndex<NatNeighbour>

/// A neighbour is found by the side it is on and its address.
struct NeighbourKey: IndexTableKey {
    var side: Side
    var ip: UInt32

    @inline(__always) var hashBits: UInt64 { UInt64(side.rawValue) << 32 | UInt64(ip) }
}

/// One ARP neighbour (next hop) on one side.
struct NatNeighbour: IndexTableEntry {
    enum State: UInt8 {
        /// Being resolved: requests sent with backoff, packets held in its pending slot.
        case incomplete
        /// MAC known. Past `reachable` time since the last confirmation it is still used, and
        /// re-probed in the background.
        case reachable
    }
    var ip: UInt32 = 0
    var mac: UInt64 = 0
    /// Last time an ARP frame from it confirmed the address (ns).
    var confirmed: UInt64 = 0
    /// Last time a packet was sent to it (ns, refreshed at most once a second).
    var used: UInt64 = 0
    /// When the next request is due (valid while it has a pending slot).
    var nextProbe: UInt64 = 0
    /// Its pending slot while a resolution or re-probe is in progress.
    var pendingSlot: Int16? = nil
    var side: Side = .inside
    var state: State = .incomplete
    /// Requests sent in the current resolution or probe.
    var probes: UInt8 = 0

    @inline(__always) var key: NeighbourKey { NeighbourKey(side: side, ip: ip) }
}

/// The gateway's own ARP cache for both sides: fixed capacity, allocated once.
///
/// Entries being resolved (or re-probed) own one of a small number of pending slots; each slot
/// holds at most `holdPerNeighbour` packets waiting for the MAC. `tick` only visits pending slots
/// (retries, give-up) and a bounded slice of entries per call for aging.
struct NatNeighbourTable: ~Copyable {
    private var table: IndexTable<NatNeighbour>

    let pendingCapacity: Int
    let holdPerNeighbour: Int
    /// The entry owning each pending slot, as stored indices.
    private let pendingOwner: NatArray<Int32>
    /// Packets held per pending slot, and the held frames (`holdPerNeighbour` per slot).
    private let heldCount: NatArray<Int>
    private let held: NatArray<PacketHead?>
    private(set) var pendingInUse = 0

    init(capacity: Int, pendingCapacity: Int, holdPerNeighbour: Int) {
        precondition(capacity >= 1 && pendingCapacity >= 1 && pendingCapacity < Int(Int16.max) && holdPerNeighbour >= 0)
        table = IndexTable(capacity: capacity)
        self.pendingCapacity = pendingCapacity
        self.holdPerNeighbour = holdPerNeighbour
        pendingOwner = NatArray(repeating: NeighbourIndex.none, count: pendingCapacity)
        heldCount = NatArray(repeating: 0, count: pendingCapacity)
        held = NatArray(repeating: nil, count: Swift.max(1, pendingCapacity * holdPerNeighbour))
    }

    @inline(__always)
    subscript(i: NeighbourIndex) -> NatNeighbour {
        unsafeAddress { UnsafePointer(table.address(i)) }
        nonmutating unsafeMutableAddress { table.address(i) }
    }

    @inline(__always)
    var capacity: Int { table.capacity }

    /// The neighbour in table slot `slot`, if any: for listing every entry.
    func entry(ofSlot slot: Int) -> NatNeighbour? { table.occupant(ofSlot: slot).map { table[$0] } }

    func find(_ side: Side, _ ip: UInt32) -> NeighbourIndex? { table.find(NeighbourKey(side: side, ip: ip)) }

    /// A new entry in state `state`, or nil when the table is full.
    mutating func insert(_ side: Side, _ ip: UInt32, state: NatNeighbour.State, now: UInt64) -> NeighbourIndex? {
        table.insert(NatNeighbour(ip: ip, confirmed: now, used: now, side: side, state: state))
    }

    /// Removes entry `i`. Its pending slot must have been released first.
    mutating func remove(_ i: NeighbourIndex) {
        precondition(table[i].pendingSlot == nil)
        table.remove(i)
    }

    /// The entry resolving in pending slot `slot`, if any.
    func resolving(slot: Int) -> NeighbourIndex? { NeighbourIndex.stored(pendingOwner[slot]) }

    /// Gives entry `i` a pending slot; false when all are taken.
    mutating func attachPending(_ i: NeighbourIndex) -> Bool {
        guard pendingInUse < pendingCapacity else { return false }
        for s in 0..<pendingCapacity where pendingOwner[s] == NeighbourIndex.none {
            pendingOwner[s] = i.raw
            heldCount[s] = 0
            table[i].pendingSlot = Int16(s)
            pendingInUse += 1
            return true
        }
        return false
    }

    /// Releases entry `i`'s pending slot; its held packets must have been taken out.
    mutating func detachPending(_ i: NeighbourIndex) {
        guard let slot = table[i].pendingSlot else { return }
        let s = Int(slot)
        precondition(heldCount[s] == 0)
        pendingOwner[s] = NeighbourIndex.none
        table[i].pendingSlot = nil
        pendingInUse -= 1
    }

    /// Holds `head` for entry `i` (which has a pending slot); false when its queue is full.
    mutating func hold(_ i: NeighbourIndex, _ head: PacketHead) -> Bool {
        guard let slot = table[i].pendingSlot else { return false }
        let s = Int(slot)
        let n = heldCount[s]
        guard n < holdPerNeighbour else { return false }
        held[s * holdPerNeighbour + n] = head
        // A plain store, not `heldCount[s] += 1`: the ThreadSanitizer build of Swift 6.3.1 crashes
        // on a compound assignment through a `let` field of this ~Copyable struct in a mutating
        // method (its inout instrumentation takes `self`'s first word, an Int, as an address:
        // "Invalid bitcast"); see docs/status.md.
        heldCount[s] = n + 1
        return true
    }

    /// Takes the oldest packet held for entry `i`, or nil.
    mutating func takeHeld(_ i: NeighbourIndex) -> PacketHead? {
        guard let slot = table[i].pendingSlot else { return nil }
        let s = Int(slot)
        let n = heldCount[s]
        guard n > 0 else { return nil }
        let base = s * holdPerNeighbour
        let h = held[base]
        for k in 1..<n { held[base + k - 1] = held[base + k] }
        held[base + n - 1] = nil
        heldCount[s] = n - 1
        return h
    }

    /// Examines up to `budget` entries from the rotating cursor and removes the resolved, idle
    /// ones (no traffic and no confirmation for `idle` ns, not being probed).
    mutating func collectIdle(now: UInt64, idle: UInt64, budget: Int) {
        for _ in 0..<Swift.max(0, Swift.min(budget, table.capacity)) {
            guard let i = table.advanceCursor() else { continue }
            let e = table[i]
            if e.state == .reachable && e.pendingSlot == nil && now &- e.used > idle && now &- e.confirmed > idle {
                remove(i)
            }
        }
    }
}
