typealias SessionIndex = TableIndex<NatSession>

/// What an outbound packet finds its session by: the inside endpoint, per protocol.
struct SessionKey: IndexTableKey {
    var proto: NatProtocol
    var address: UInt32
    var port: UInt16

    @inline(__always) var hashBits: UInt64 { UInt64(proto.index) << 48 | UInt64(address) << 16 | UInt64(port) }
}

/// One NAPT mapping: inside (address, port) ↔ outside address's `extPort`, per protocol.
///
/// With endpoint-independent mapping and filtering a mapping is the whole session: every remote
/// endpoint shares it, so one record per (protocol, inside address, inside port) suffices and the
/// inbound lookup is a direct index by external port.
struct NatSession: IndexTableEntry {
    var inAddr: UInt32 = 0
    var inPort: UInt16 = 0
    var extPort: UInt16 = 0
    var proto: NatProtocol = .tcp
    var tcpState: NatTCPState = .none
    /// Created for (or matching) a static port forward: its external port stays reserved.
    var isForward: Bool = false
    /// Absolute expiry, nanoseconds on the caller's monotonic clock.
    var expires: UInt64 = 0

    @inline(__always) var key: SessionKey { SessionKey(proto: proto, address: inAddr, port: inPort) }
}

/// Sessions reclaimed by one expiry pass, per protocol.
struct ExpiredSessions {
    var tcp = 0, udp = 0, icmp = 0
    var total: Int { tcp + udp + icmp }
}

/// The session table: fixed capacity (`--max-sessions`), allocated once.
///
/// - Outbound lookup: the `IndexTable` hash on (protocol, inside address, inside port).
/// - Inbound lookup: an array indexed by (protocol, external port), 3 × 65536 entries.
/// - Ports: the `PortPool` of external ports, so a port in use is never handed out.
/// - Expiry: lazy on lookup (the gateway reclaims an expired session when it finds one) plus
///   `expire(budget:)`, a bounded slice of slots from the table's rotating cursor per call: no
///   full sweep.
///
/// With N workers each has its own table, owning a disjoint share of the port space
/// (`NatWorkerShare`); frames find their table's worker from a port (`NatSteering`).
struct NatSessionTable: ~Copyable {
    private var table: IndexTable<NatSession>
    /// Session by `proto.index << 16 | external port`, as stored indices.
    private let byExternalPort = NatArray<Int32>(repeating: SessionIndex.none, count: 3 << 16)
    let ports: PortPool
    /// Sessions per inside host, for the per-host limits (empty and unused when they are off).
    var hosts: NatHostTable

    /// `share`: the external ports this table's gateway may hand out (all of them with one worker).
    /// `hosts`: the per-host limits' table.
    init(capacity: Int, share: NatWorkerShare = .single,
         hosts: consuming NatHostTable = NatHostTable(capacity: 0, maxSessions: nil, perSecond: nil)) {
        table = IndexTable(capacity: capacity)
        ports = PortPool(share: share)
        self.hosts = hosts
    }

    var capacity: Int { table.capacity }
    var active: Int { table.count }
    var isFull: Bool { table.isFull }

    /// The session in table slot `slot`, if any: for scans of every slot.
    func occupant(ofSlot slot: Int) -> SessionIndex? { table.occupant(ofSlot: slot) }

    @inline(__always)
    subscript(i: SessionIndex) -> NatSession {
        unsafeAddress { UnsafePointer(table.address(i)) }
        nonmutating unsafeMutableAddress { table.address(i) }
    }

    /// The session of an inside endpoint (outbound packets).
    @inline(__always)
    func find(_ key: SessionKey) -> SessionIndex? { table.find(key) }

    /// The session owning external `port` of `proto` (inbound packets).
    @inline(__always)
    func find(_ proto: NatProtocol, externalPort port: UInt16) -> SessionIndex? {
        SessionIndex.stored(byExternalPort[proto.index << 16 | Int(port)])
    }

    /// Inserts a session. The caller checked `isFull` and took `extPort` from the port pool (or
    /// a forward's reserved port), and admitted its host (`hosts.admit`) when it may refuse one.
    mutating func insert(_ session: NatSession, now: UInt64) -> SessionIndex {
        guard let i = table.insert(session) else { preconditionFailure("session table full") }
        byExternalPort[session.proto.index << 16 | Int(session.extPort)] = i.raw
        ports.take(session.proto, session.extPort)
        if hosts.isEnabled { hosts.added(session.inAddr, now: now) }
        return i
    }

    /// Removes session `i`, freeing its external port unless a forward reserves it.
    mutating func remove(_ i: SessionIndex) {
        let s = table[i]
        table.remove(i)
        byExternalPort[s.proto.index << 16 | Int(s.extPort)] = SessionIndex.none
        if !s.isForward { ports.release(s.proto, s.extPort) }
        if hosts.isEnabled { hosts.removed(s.inAddr) }
    }

    /// Examines up to `budget` slots from the rotating cursor and reclaims the expired sessions.
    mutating func expire(now: UInt64, budget: Int, removing: (NatSession) -> Void = { _ in }) -> ExpiredSessions {
        var expired = ExpiredSessions()
        for _ in 0..<Swift.max(0, Swift.min(budget, capacity)) {
            guard let i = table.advanceCursor(), table[i].expires <= now else { continue }
            switch table[i].proto {
            case .tcp: expired.tcp += 1
            case .udp: expired.udp += 1
            case .icmp: expired.icmp += 1
            }
            removing(table[i])
            remove(i)
        }
        return expired
    }
}
