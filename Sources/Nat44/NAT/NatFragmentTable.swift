import BufferCache
import PacketFormats
import Pipeline

/// What the gateway remembers about one fragmented datagram, keyed as it arrived
/// (ingress side, source, destination, protocol, IP ID).
struct NatFragment {
    enum State: UInt8 {
        case free = 0
        /// The first fragment was translated: later ones get the same addresses.
        case translated
        /// Later fragments arrived before the first: they wait in the hold area.
        case pending
    }
    var src: UInt32 = 0
    var dst: UInt32 = 0
    var newSrc: UInt32 = 0
    var newDst: UInt32 = 0
    var nextHop: UInt32 = 0
    var expires: UInt64 = 0
    var next: Int32 = -1
    /// First held fragment (pending state), -1 when none.
    var heldFirst: Int32 = -1
    var id: UInt16 = 0
    var proto: UInt8 = 0
    var side: UInt8 = 0
    var egress: UInt8 = 0
    var state: State = .free
}

/// Bounded, timed table of fragmented datagrams in flight, plus a bounded hold area for
/// out-of-order fragments. Only the first fragment carries the ports, so later fragments are
/// translated from what the first one recorded: addresses only (their L4 bytes need no change,
/// the L4 checksum lives in the first fragment).
struct NatFragmentTable: ~Copyable {
    let capacity: Int
    let entries: NatArray<NatFragment>
    private let buckets: NatArray<Int32>
    private let hasher: NatHasher
    private let freeSlots: NatArray<Int32>
    private var freeCount: Int
    private(set) var cursor = 0

    let holdCapacity: Int
    private let heldHeads: NatArray<PacketHead?>
    private let heldNext: NatArray<Int32>
    /// Entry owning each hold slot (-1 = free): `tick` scans these few slots every call so a
    /// held fragment never outlives its hold time by more than one tick.
    let heldOwner: NatArray<Int32>
    private let heldFree: NatArray<Int32>
    private var heldFreeCount: Int

    init(capacity: Int, holdCapacity: Int) {
        precondition(capacity >= 1 && holdCapacity >= 0)
        self.capacity = capacity
        entries = NatArray(repeating: NatFragment(), count: capacity)
        let bits = NatHasher.bits(for: capacity)
        buckets = NatArray(repeating: -1, count: 1 << bits)
        hasher = NatHasher(bits: bits)
        freeSlots = NatArray(freeListOf: capacity)
        freeCount = capacity
        self.holdCapacity = holdCapacity
        heldHeads = NatArray(repeating: nil, count: Swift.max(1, holdCapacity))
        heldNext = NatArray(repeating: -1, count: Swift.max(1, holdCapacity))
        heldOwner = NatArray(repeating: -1, count: Swift.max(1, holdCapacity))
        heldFree = NatArray(freeListOf: holdCapacity)
        heldFreeCount = holdCapacity
    }

    @inline(__always)
    private static func key(_ side: Side, _ src: UInt32, _ dst: UInt32, _ id: UInt16, _ proto: UInt8) -> UInt64 {
        (UInt64(src) << 32 | UInt64(dst)) ^ (UInt64(id) << 17 | UInt64(proto) << 8 | UInt64(side.rawValue))
    }

    func lookup(_ side: Side, src: UInt32, dst: UInt32, id: UInt16, proto: UInt8) -> Int32 {
        var i = buckets[hasher.bucket(Self.key(side, src, dst, id, proto))]
        let s = UInt8(side.rawValue)
        while i >= 0 {
            let e = entries[Int(i)]
            if e.src == src && e.dst == dst && e.id == id && e.proto == proto && e.side == s { return i }
            i = e.next
        }
        return -1
    }

    /// A new entry (state set by the caller), or -1 when the table is full.
    mutating func insert(_ side: Side, src: UInt32, dst: UInt32, id: UInt16, proto: UInt8,
                         state: NatFragment.State, expires: UInt64) -> Int32 {
        guard freeCount > 0 else { return -1 }
        freeCount -= 1
        let i = freeSlots[freeCount]
        let b = hasher.bucket(Self.key(side, src, dst, id, proto))
        var e = NatFragment()
        e.src = src; e.dst = dst; e.id = id; e.proto = proto; e.side = UInt8(side.rawValue)
        e.state = state; e.expires = expires; e.next = buckets[b]
        entries[Int(i)] = e
        buckets[b] = i
        return i
    }

    /// Removes entry `i`; its held fragments must have been taken out.
    mutating func remove(_ i: Int32) {
        let e = entries[Int(i)]
        precondition(e.state != .free && e.heldFirst < 0)
        let b = hasher.bucket(Self.key(Side(rawValue: Int(e.side))!, e.src, e.dst, e.id, e.proto))
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
        entries[Int(i)] = NatFragment()
        freeSlots[freeCount] = i
        freeCount += 1
    }

    /// Holds an out-of-order fragment for pending entry `i`; false when the hold area is full.
    mutating func hold(_ i: Int32, _ head: PacketHead) -> Bool {
        guard heldFreeCount > 0 else { return false }
        heldFreeCount -= 1
        let h = heldFree[heldFreeCount]
        heldHeads[Int(h)] = head
        heldOwner[Int(h)] = i
        // Append at the tail to keep arrival order.
        heldNext[Int(h)] = -1
        if entries[Int(i)].heldFirst < 0 {
            entries[Int(i)].heldFirst = h
        } else {
            var t = entries[Int(i)].heldFirst
            while heldNext[Int(t)] >= 0 { t = heldNext[Int(t)] }
            heldNext[Int(t)] = h
        }
        return true
    }

    /// Takes the oldest held fragment of entry `i`, or nil.
    mutating func takeHeld(_ i: Int32) -> PacketHead? {
        let h = entries[Int(i)].heldFirst
        guard h >= 0 else { return nil }
        entries[Int(i)].heldFirst = heldNext[Int(h)]
        let head = heldHeads[Int(h)]
        heldHeads[Int(h)] = nil
        heldOwner[Int(h)] = -1
        heldFree[heldFreeCount] = h
        heldFreeCount += 1
        return head
    }

    /// Moves the aging cursor one entry on and returns the entry it was on.
    mutating func advanceCursor() -> Int32 {
        let i = cursor
        cursor = cursor + 1 == capacity ? 0 : cursor + 1
        return Int32(i)
    }
}
