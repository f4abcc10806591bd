import BufferCache

/// The periodic work: everything that happens because time passed rather than because a
/// packet came.
extension NatGateway {
    /// Periodic work, bounded per call: ARP retries with backoff and give-up (held packets then
    /// dropped as `arpFailed`), re-probe timeouts, neighbour aging, fragment entry expiry, and
    /// `expiryBudget` session slots examined for expiry; with several workers, held fragments
    /// whose owner is now known are handed to it. Call it every few milliseconds (or
    /// after each burst) with the same clock as `process`.
    mutating func tick<A: HeadAllocator & ~Copyable>(now: UInt64, allocator: inout A) {
        retryResolutions(now: now, &allocator)
        neighbours.collectIdle(now: now, idle: timers.neighbourIdle, budget: 32)
        expireFragments(now: now, &allocator)
        if share.count > 1 { handOffHeldFragments(now: now, &allocator) }
        expireSessions(now: now, budget: timers.expiryBudget)
    }

    /// Reclaims the expired sessions among `budget` slots from the table's cursor.
    mutating func expireSessions(now: UInt64, budget: Int) {
        let expired = sessions.expire(now: now, budget: budget) { [events] in events.removed($0, .timeout, now: nil) }
        countExpired(.tcp, expired.tcp)
        countExpired(.udp, expired.udp)
        countExpired(.icmp, expired.icmp)
    }
}
