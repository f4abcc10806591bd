/// What the per-host table finds a host by: its inside address.
struct HostKey: IndexTableKey {
    var address: UInt32
    @inline(__always) var hashBits: UInt64 { UInt64(address) }
}

/// One inside host's share of the gateway: its sessions and its bucket of new-session tokens.
struct NatHost: IndexTableEntry {
    var address: UInt32 = 0
    var sessions: UInt32 = 0
    var tokens: UInt32 = 0
    /// When `tokens` was last topped up (ns, the caller's clock).
    var refilled: UInt64 = 0

    @inline(__always) var key: HostKey { HostKey(address: address) }
}

/// The per-host limits (`--max-sessions-per-host`, `--new-sessions-per-host`): one entry per inside
/// host holding at least one session, so that no host fills the session table or the outside
/// ports alone.
///
/// Bounded: an entry lives while its host has a session (and for the instant between admitting a
/// host and inserting its first session), so the table never holds more hosts than the session
/// table holds sessions, and its capacity is the smaller of `--max-sessions` and the inside
/// subnet's host count. A flood from many source addresses fills the session table (`table_full`)
/// long before this one. Off (no limit given), it holds nothing and is never consulted.
struct NatHostTable: ~Copyable {
    private var table: IndexTable<NatHost>
    /// Sessions a host may hold; `UInt32.max` when unlimited.
    let maxSessions: UInt32
    /// New sessions per second and host (the bucket's size: a second's worth); 0 = unlimited.
    let perSecond: UInt32
    /// ns per token.
    private let interval: UInt64
    let isEnabled: Bool

    init(capacity: Int, maxSessions: Int?, perSecond: Int?) {
        isEnabled = maxSessions != nil || perSecond != nil
        table = IndexTable(capacity: isEnabled ? Swift.max(1, capacity) : 1)
        self.maxSessions = maxSessions.map { UInt32($0) } ?? .max
        self.perSecond = UInt32(perSecond ?? 0)
        interval = 1_000_000_000 / UInt64(Swift.max(1, perSecond ?? 1))
    }

    var capacity: Int { table.capacity }
    /// Hosts with an entry.
    var count: Int { table.count }

    /// The sessions host `address` holds (tests, inspection).
    func sessions(of address: UInt32) -> Int { table.find(HostKey(address: address)).map { Int(table[$0].sessions) } ?? 0 }

    /// Whether host `address` may open one more session now; takes one of its tokens when so. False
    /// also when the table has no room for a new host (it cannot happen while the session table
    /// has room: see the type's comment).
    mutating func admit(_ address: UInt32, now: UInt64) -> Bool {
        let h: TableIndex<NatHost>
        if let found = table.find(HostKey(address: address)) {
            h = found
        } else {
            guard let new = table.insert(NatHost(address: address, sessions: 0, tokens: perSecond, refilled: now)) else {
                return false
            }
            h = new
        }
        let host = table.address(h)
        guard host.pointee.sessions < maxSessions else { return false }
        guard perSecond != 0 else { return true }
        if now > host.pointee.refilled {
            let add = (now - host.pointee.refilled) / interval
            if add > 0 {
                host.pointee.tokens = UInt32(Swift.min(UInt64(perSecond), UInt64(host.pointee.tokens) + add))
                host.pointee.refilled = host.pointee.tokens >= perSecond ? now : host.pointee.refilled + add * interval
            }
        }
        guard host.pointee.tokens > 0 else {
            if host.pointee.sessions == 0 { table.remove(h) }
            return false
        }
        host.pointee.tokens -= 1
        return true
    }

    /// A session of host `address` was inserted (admitted, or a port forward's). Counts change
    /// through `address(_:)`, not `table[h].sessions += 1`: that form crashes Swift 6.3.1's
    /// compiler under -sanitize=thread ("Invalid bitcast", scripts/sanitize.sh's TSan build).
    mutating func added(_ address: UInt32, now: UInt64) {
        if let h = table.find(HostKey(address: address)) {
            table.address(h).pointee.sessions += 1
        } else {
            _ = table.insert(NatHost(address: address, sessions: 1, tokens: perSecond, refilled: now))
        }
    }

    /// A session of host `address` was removed; the host's entry goes with its last session.
    mutating func removed(_ address: UInt32) {
        guard let h = table.find(HostKey(address: address)) else { return }
        if table[h].sessions <= 1 {
            table.remove(h)
        } else {
            table.address(h).pointee.sessions -= 1
        }
    }
}
