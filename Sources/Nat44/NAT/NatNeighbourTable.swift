import BufferCache
import PacketFormats
import Pipeline

/// One ARP neighbour (next hop) on one side.
struct NatNeighbour {
    enum State: UInt8 {
        case free = 0
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
    var next: Int32 = -1
    /// Pending slot (resolution or re-probe in progress), -1 when none.
    var pending: Int16 = -1
    var side: UInt8 = 0
    var state: State = .free
    /// Requests sent in the current resolution or probe.
    var probes: UInt8 = 0
}

/// The gateway's own ARP cache for both sides: fixed capacity, allocated once.
///
/// Entries being resolved (or re-probed) own one of a small number of pending slots; each slot
/// holds at most `holdPerNeighbour` packets waiting for the MAC. `tick` only visits pending slots
/// (retries, give-up) and a bounded slice of entries per call for aging.
struct NatNeighbourTable: ~Copyable {
    let capacity: Int
    let entries: NatArray<NatNeighbour>
    private let buckets: NatArray<Int32>
    private let hasher: NatHasher
    private let freeSlots: NatArray<Int32>
    private var freeCount: Int
    private var gcCursor = 0

    let pendingCapacity: Int
    let holdPerNeighbour: Int
    /// Entry index owning each pending slot (-1 = free slot).
    let pendingOwner: NatArray<Int32>
    /// Packets held per pending slot and the slot's held frames (`holdPerNeighbour` each).
    let heldCount: NatArray<Int>
    let held: NatArray<PacketHead?>
    private(set) var pendingInUse = 0

    init(capacity: Int, pendingCapacity: Int, holdPerNeighbour: Int) {
        precondition(capacity >= 1 && pendingCapacity >= 1 && pendingCapacity < Int(Int16.max) && holdPerNeighbour >= 0)
        self.capacity = capacity
        entries = NatArray(repeating: NatNeighbour(), count: capacity)
        let bits = NatHasher.bits(for: capacity)
        buckets = NatArray(repeating: -1, count: 1 << bits)
        hasher = NatHasher(bits: bits)
        freeSlots = NatArray(freeListOf: capacity)
        freeCount = capacity
        self.pendingCapacity = pendingCapacity
        self.holdPerNeighbour = holdPerNeighbour
        pendingOwner = NatArray(repeating: -1, count: pendingCapacity)
        heldCount = NatArray(repeating: 0, count: pendingCapacity)
        held = NatArray(repeating: nil, count: Swift.max(1, pendingCapacity * holdPerNeighbour))
    }

    @inline(__always)
    private static func key(_ side: Side, _ ip: UInt32) -> UInt64 {
        UInt64(side.rawValue) << 32 | UInt64(ip)
    }

    @inline(__always)
    func lookup(_ side: Side, _ ip: UInt32) -> Int32 {
        var i = buckets[hasher.bucket(Self.key(side, ip))]
        let s = UInt8(side.rawValue)
        while i >= 0 {
            let e = entries[Int(i)]
            if e.ip == ip && e.side == s { return i }
            i = e.next
        }
        return -1
    }

    /// A new entry in state `state`, or -1 when the table is full.
    mutating func insert(_ side: Side, _ ip: UInt32, state: NatNeighbour.State, now: UInt64) -> Int32 {
        guard freeCount > 0 else { return -1 }
        freeCount -= 1
        let i = freeSlots[freeCount]
        let b = hasher.bucket(Self.key(side, ip))
        entries[Int(i)] = NatNeighbour(ip: ip, mac: 0, confirmed: now, used: now, nextProbe: 0,
                                       next: buckets[b], pending: -1, side: UInt8(side.rawValue),
                                       state: state, probes: 0)
        buckets[b] = i
        return i
    }

    /// Removes entry `i`. Its pending slot must have been released first.
    mutating func remove(_ i: Int32) {
        let e = entries[Int(i)]
        precondition(e.state != .free && e.pending < 0)
        let b = hasher.bucket(Self.key(Side(rawValue: Int(e.side))!, e.ip))
        if buckets[b] == i {
            buckets[b] = e.next
        } else {
            var j = buckets[b]
            while j >= 0 {
                let n = entries[Int(j)].next
                if n == i { entries[Int(j)].next = e.next; break }
                j = n
            }
        }
        entries[Int(i)] = NatNeighbour()
        freeSlots[freeCount] = i
        freeCount += 1
    }

    /// Gives entry `i` a pending slot; false when all are taken.
    mutating func attachPending(_ i: Int32) -> Bool {
        guard pendingInUse < pendingCapacity else { return false }
        for s in 0..<pendingCapacity where pendingOwner[s] < 0 {
            pendingOwner[s] = i
            heldCount[s] = 0
            entries[Int(i)].pending = Int16(s)
            pendingInUse += 1
            return true
        }
        return false
    }

    /// Releases entry `i`'s pending slot; its held packets must have been taken out.
    mutating func detachPending(_ i: Int32) {
        let s = Int(entries[Int(i)].pending)
        guard s >= 0 else { return }
        precondition(heldCount[s] == 0)
        pendingOwner[s] = -1
        entries[Int(i)].pending = -1
        pendingInUse -= 1
    }

    /// Holds `head` for entry `i` (which has a pending slot); false when its queue is full.
    mutating func hold(_ i: Int32, _ head: PacketHead) -> Bool {
        let s = Int(entries[Int(i)].pending)
        guard s >= 0, heldCount[s] < holdPerNeighbour else { return false }
        held[s * holdPerNeighbour + heldCount[s]] = head
        heldCount[s] += 1
        return true
    }

    /// Takes the oldest held packet of pending slot `s`, or nil.
    mutating func takeHeld(slot s: Int) -> PacketHead? {
        let n = heldCount[s]
        guard n > 0 else { return nil }
        let base = s * holdPerNeighbour
        let h = held[base]
        for k in 1..<n { held[base + k - 1] = held[base + k] }
        held[base + n - 1] = nil
        heldCount[s] = n - 1
        return h
    }

    /// Up to `budget` entries from a rotating cursor: indices of resolved, idle entries (no
    /// traffic for `idle` ns, not being probed) to remove, reported through `remove`.
    mutating func collectIdle(now: UInt64, idle: UInt64, budget: Int) {
        var n = Swift.min(budget, capacity)
        while n > 0 {
            let i = gcCursor
            gcCursor = gcCursor + 1 == capacity ? 0 : gcCursor + 1
            n -= 1
            let e = entries[i]
            if e.state == .reachable && e.pending < 0 && now &- e.used > idle && now &- e.confirmed > idle {
                remove(Int32(i))
            }
        }
    }
}
