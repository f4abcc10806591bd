import PacketFormats
import Pipeline

/// TCP state kept per session: just enough to pick the idle timeout (RFC 5382 REQ-5).
enum NatTCPState: UInt8 {
    /// Not TCP.
    case none = 0
    /// Outbound SYN seen, waiting for the answer.
    case synOut
    /// Inbound SYN seen (port forward), waiting for the inside host's SYN/ACK.
    case synIn
    /// Created by a non-SYN outbound segment (a connection that predates the gateway): becomes
    /// established when the outside answers.
    case midstream
    /// SYNs seen both ways (or a midstream flow answered): the long timeout applies.
    case established
    /// FIN seen: transitory.
    case closing
    /// RST seen: transitory (a following outbound SYN reopens it).
    case closed
}

/// One NAPT mapping: inside (address, port) ↔ outside address's `extPort`, per protocol.
///
/// With endpoint-independent mapping and filtering a mapping is the whole session: every remote
/// endpoint shares it, so one record per (protocol, inside address, inside port) suffices and the
/// inbound lookup is a direct index by external port.
struct NatSession {
    var inAddr: UInt32 = 0
    var inPort: UInt16 = 0
    var extPort: UInt16 = 0
    /// Protocol slot + 1 (0 = free slot).
    var slotPlusOne: UInt8 = 0
    var tcpState: UInt8 = 0
    /// Created for (or matching) a static port forward: its external port stays reserved.
    var isForward: Bool = false
    /// Absolute expiry, nanoseconds on the caller's monotonic clock.
    var expires: UInt64 = 0
    /// Next session in the same outbound-key bucket (-1 = end).
    var nextOut: Int32 = -1
}

/// The session table: fixed capacity (`--max-sessions`), allocated once.
///
/// - Outbound lookup: chained hash on (protocol, inside address, inside port).
/// - Inbound lookup: `extIndex[protocol][external port]`, a direct array (3 × 65536 entries).
/// - Port pool: a bitmap per protocol; a bit stays set while any session (expired but not yet
///   reclaimed included) or a static forward holds the port, so a port in use is never handed out.
/// - Expiry: lazy on lookup (an expired session is reclaimed when found) plus `expire(budget:)`,
///   which examines a bounded number of slots from a rotating cursor per call: no full sweep.
///
/// Partitioning later: the table is self-contained; N tables keyed by a hash of the inside
/// (address, port), each owning a disjoint slice of the port space, would let N threads translate
/// without sharing (inbound packets find their partition from the external port's slice).
struct NatSessionTable: ~Copyable {
    /// Protocol slots: TCP 0, UDP 1, ICMP 2.
    @inline(__always) static func slot(_ proto: UInt8) -> Int {
        proto == 6 ? 0 : proto == 17 ? 1 : 2
    }
    static let protocolNumbers: [UInt8] = [6, 17, 1]

    let capacity: Int
    let sessions: NatArray<NatSession>
    private let buckets: NatArray<Int32>
    private let hasher: NatHasher
    /// Session index by (slot << 16 | external port), -1 when none.
    private let extIndex: NatArray<Int32>
    /// Port-in-use bits: slot * 1024 words.
    private let portBits: NatArray<UInt64>
    private let freeSlots: NatArray<Int32>
    private var freeCount: Int
    private var cursor = 0
    private(set) var active = 0

    init(capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
        sessions = NatArray(repeating: NatSession(), count: capacity)
        let bits = NatHasher.bits(for: capacity)
        buckets = NatArray(repeating: -1, count: 1 << bits)
        hasher = NatHasher(bits: bits)
        extIndex = NatArray(repeating: -1, count: 3 << 16)
        portBits = NatArray(repeating: 0, count: 3 * 1024)
        freeSlots = NatArray(freeListOf: capacity)
        freeCount = capacity
    }

    @inline(__always)
    private static func outKey(_ slot: Int, _ addr: UInt32, _ port: UInt16) -> UInt64 {
        UInt64(slot) << 48 | UInt64(addr) << 16 | UInt64(port)
    }

    /// The session for an outbound (inside-originated) packet, or -1.
    @inline(__always)
    func lookupOut(slot: Int, addr: UInt32, port: UInt16) -> Int32 {
        var i = buckets[hasher.bucket(Self.outKey(slot, addr, port))]
        while i >= 0 {
            let s = sessions[Int(i)]
            if s.inAddr == addr && s.inPort == port && Int(s.slotPlusOne) == slot + 1 { return i }
            i = s.nextOut
        }
        return -1
    }

    /// The session owning external `port` of protocol `slot`, or -1.
    @inline(__always)
    func lookupExternal(slot: Int, port: UInt16) -> Int32 {
        extIndex[slot << 16 | Int(port)]
    }

    @inline(__always)
    func isPortUsed(slot: Int, port: UInt16) -> Bool {
        portBits[slot * 1024 + Int(port >> 6)] & (1 << UInt64(port & 63)) != 0
    }

    @inline(__always)
    private func setPort(slot: Int, port: UInt16, used: Bool) {
        let w = slot * 1024 + Int(port >> 6)
        let b: UInt64 = 1 << UInt64(port & 63)
        if used { portBits[w] |= b } else { portBits[w] &= ~b }
    }

    /// Marks a static forward's external port as permanently taken.
    func reserve(slot: Int, port: UInt16) {
        setPort(slot: slot, port: port, used: true)
    }

    var isFull: Bool { freeCount == 0 }

    /// A free external port for `preferred` (RFC 4787 REQ-3/REQ-4): `preferred` itself when
    /// free; else the next free port above it of the same parity in the same range
    /// (1–1023 or 1024–65535), wrapping within the range. ICMP identifiers use the whole 0–65535
    /// space without parity. -1 when the range is exhausted. Scans 64 ports per word.
    @inline(never)
    func allocatePort(slot: Int, preferred: UInt16) -> Int {
        if slot == 2 {
            return findFree(slot: slot, from: Int(preferred), lo: 0, hi: 65535, parityMask: ~0)
        }
        if preferred != 0 && !isPortUsed(slot: slot, port: preferred) { return Int(preferred) }
        let low = preferred < 1024
        let parityMask: UInt64 = preferred & 1 == 0 ? 0x5555_5555_5555_5555 : 0xAAAA_AAAA_AAAA_AAAA
        return findFree(slot: slot, from: Int(preferred), lo: low ? 1 : 1024, hi: low ? 1023 : 65535,
                        parityMask: parityMask)
    }

    private func findFree(slot: Int, from start: Int, lo: Int, hi: Int, parityMask: UInt64) -> Int {
        let base = slot * 1024
        var port = Swift.max(Swift.min(start, hi), lo)
        let words = (hi >> 6) - (lo >> 6) + 2
        for _ in 0..<words {
            let w = port >> 6
            var free = ~portBits[base + w] & parityMask & (~UInt64(0) << UInt64(port & 63))
            if w == lo >> 6 { free &= ~UInt64(0) << UInt64(lo & 63) }
            if w == hi >> 6 { free &= ~UInt64(0) >> UInt64(63 - (hi & 63)) }
            if free != 0 { return w << 6 | free.trailingZeroBitCount }
            port = (w + 1) << 6
            if port > hi { port = lo }
        }
        return -1
    }

    /// Inserts a session. The caller checked `isFull` and got `extPort` from `allocatePort`
    /// (or a forward's reserved port).
    mutating func insert(slot: Int, inAddr: UInt32, inPort: UInt16, extPort: UInt16,
                         isForward: Bool, tcpState: NatTCPState, expires: UInt64) -> Int32 {
        precondition(freeCount > 0)
        freeCount -= 1
        let i = freeSlots[freeCount]
        let b = hasher.bucket(Self.outKey(slot, inAddr, inPort))
        sessions[Int(i)] = NatSession(inAddr: inAddr, inPort: inPort, extPort: extPort,
                                      slotPlusOne: UInt8(slot + 1), tcpState: tcpState.rawValue,
                                      isForward: isForward, expires: expires, nextOut: buckets[b])
        buckets[b] = i
        extIndex[slot << 16 | Int(extPort)] = i
        setPort(slot: slot, port: extPort, used: true)
        active += 1
        return i
    }

    /// Removes session `i`, freeing its external port unless a forward reserves it.
    mutating func remove(_ i: Int32) {
        let s = sessions[Int(i)]
        precondition(s.slotPlusOne != 0, "removing a free session slot")
        let slot = Int(s.slotPlusOne) - 1
        let b = hasher.bucket(Self.outKey(slot, s.inAddr, s.inPort))
        if buckets[b] == i {
            buckets[b] = s.nextOut
        } else {
            var j = buckets[b]
            while j >= 0 {
                let n = sessions[Int(j)].nextOut
                if n == i { sessions[Int(j)].nextOut = s.nextOut; break }
                j = n
            }
        }
        extIndex[slot << 16 | Int(s.extPort)] = -1
        if !s.isForward { setPort(slot: slot, port: s.extPort, used: false) }
        sessions[Int(i)] = NatSession()
        freeSlots[freeCount] = i
        freeCount += 1
        active -= 1
    }

    /// Examines up to `budget` slots from the rotating cursor and reclaims the expired ones.
    /// Returns how many were reclaimed per protocol slot. Bounded work per call.
    mutating func expire(now: UInt64, budget: Int) -> (Int, Int, Int) {
        var counts = (0, 0, 0)
        var n = Swift.min(budget, capacity)
        while n > 0 {
            let i = cursor
            cursor = cursor + 1 == capacity ? 0 : cursor + 1
            n -= 1
            let s = sessions[i]
            if s.slotPlusOne != 0 && s.expires <= now {
                switch s.slotPlusOne {
                case 1: counts.0 += 1
                case 2: counts.1 += 1
                default: counts.2 += 1
                }
                remove(Int32(i))
            }
        }
        return counts
    }
}
