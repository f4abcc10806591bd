import Pipeline

/// How the search for an outbound packet's session ended.
enum SessionOutcome {
    /// The session to translate with: the live one (refreshed) or a new one.
    case session(SessionIndex)
    /// `--max-sessions` reached, even after reclaiming expired sessions.
    case tableFull
    /// No free external port of the flow's range and parity.
    case portsExhausted
    /// The inside host is at `--max-sessions-per-host` or out of `--new-sessions-per-host` tokens.
    case hostQuota
}

/// What an inbound packet to the outside address matched.
enum InboundMatch {
    case session(SessionIndex)
    /// No session, but a port forward: its session is created once the packet passes the TTL and
    /// MTU checks.
    case forward(NatForward)
}

/// Finding, creating, refreshing and reclaiming the sessions packets are translated with.
extension NatGateway {
    /// `found`, unless it has expired: then it is reclaimed now (lazy expiry) and nil. `sparing` is
    /// a session the caller has just refreshed or created and still uses.
    @inline(__always)
    mutating func live(_ found: SessionIndex?, now: UInt64, sparing keep: SessionIndex? = nil) -> SessionIndex? {
        guard let s = found else { return nil }
        if sessions[s].expires <= now && s != keep {
            reclaim(s)
            return nil
        }
        return s
    }

    /// The session of an outbound flow from the inside endpoint `key`: the live one, refreshed,
    /// or a new one.
    @inline(__always)
    mutating func outboundSession(_ key: SessionKey, l4: UnsafeMutableRawPointer, now: UInt64,
                                  sparing keep: SessionIndex? = nil) -> SessionOutcome {
        guard let s = live(sessions.find(key), now: now, sparing: keep) else {
            return createOutbound(key, l4: l4, now: now)
        }
        refresh(s, key.proto, l4: l4, outbound: true, now: now)
        return .session(s)
    }

    /// The live session or the port forward an inbound packet to external `port` is for.
    @inline(__always)
    mutating func matchInbound(_ proto: NatProtocol, port: UInt16, now: UInt64) -> InboundMatch? {
        if let s = live(sessions.find(proto, externalPort: port), now: now) { return .session(s) }
        if let f = forwards.forward(proto, externalPort: port) { return .forward(f) }
        return nil
    }

    /// The session an inbound packet is translated with: its session refreshed, or a new one for
    /// its port forward; nil when the table is full.
    @inline(__always)
    mutating func establishInbound(_ match: InboundMatch, _ proto: NatProtocol, l4: UnsafeMutableRawPointer,
                                   now: UInt64) -> SessionIndex? {
        switch match {
        case .session(let s):
            refresh(s, proto, l4: l4, outbound: false, now: now)
            return s
        case .forward(let f):
            return createForwardSession(f, proto, l4: l4, now: now)
        }
    }

    /// Updates the TCP state with a segment's flags and pushes the session's expiry out.
    @inline(__always)
    mutating func refresh(_ s: SessionIndex, _ proto: NatProtocol, l4: UnsafeMutableRawPointer, outbound: Bool,
                          now: UInt64) {
        var state = NatTCPState.none
        if proto == .tcp {
            let old = sessions[s].tcpState
            state = old.next(flags: l4.readU8(TCPFlags.offset), outbound: outbound)
            if state != old { sessions[s].tcpState = state }
        }
        sessions[s].expires = now &+ timers.idle(proto, state)
    }

    /// A new session for an outbound flow. A forward's target leaves with the forwarded port
    /// (endpoint-independent mapping) unless another session holds it; anyone else gets its own
    /// port when free, or the next one of the same range and parity. The per-host limits refuse
    /// new sessions only: a host's existing ones, and port forwards to it, are never refused.
    @inline(never)
    mutating func createOutbound(_ key: SessionKey, l4: UnsafeMutableRawPointer, now: UInt64) -> SessionOutcome {
        guard makeRoom(now: now) else { return .tableFull }
        let ext: UInt16
        var isForward = false
        if let f = forwards.forward(targeting: key), sessions.find(key.proto, externalPort: f.externalPort) == nil {
            ext = f.externalPort
            isForward = true
        } else if let port = sessions.ports.allocate(key.proto, preferred: key.port) {
            ext = port
        } else {
            return .portsExhausted
        }
        // After the port is found (nothing is taken until the insert): a refused host spends no token.
        if sessions.hosts.isEnabled && !sessions.hosts.admit(key.address, now: now) { return .hostQuota }
        let state = initialState(key.proto, l4: l4, outbound: true)
        return .session(insertSession(NatSession(inAddr: key.address, inPort: key.port, extPort: ext, proto: key.proto,
                                                 tcpState: state, isForward: isForward,
                                                 expires: now &+ timers.idle(key.proto, state)), now: now))
    }

    /// The return-path session for an inbound packet to a static forward; nil when full.
    @inline(never)
    mutating func createForwardSession(_ f: NatForward, _ proto: NatProtocol, l4: UnsafeMutableRawPointer,
                                       now: UInt64) -> SessionIndex? {
        guard makeRoom(now: now) else { return nil }
        // The target may already have a session of its own (it talked out before the forward's
        // port was first used): it keeps that mapping, and the forward gets one more entry only
        // if the target's mapping is not the forward's port. EIM wants one mapping per endpoint,
        // so reuse the existing one when it is the forward's.
        if let existing = sessions.find(SessionKey(proto: proto, address: f.internalAddress.value, port: f.internalPort)) {
            if sessions[existing].extPort == f.externalPort { return existing }
            reclaim(existing, because: .forward, now: now)
        }
        let state = initialState(proto, l4: l4, outbound: false)
        return insertSession(NatSession(inAddr: f.internalAddress.value, inPort: f.internalPort, extPort: f.externalPort,
                                        proto: proto, tcpState: state, isForward: true,
                                        expires: now &+ timers.idle(proto, state)), now: now)
    }

    private func initialState(_ proto: NatProtocol, l4: UnsafeMutableRawPointer, outbound: Bool) -> NatTCPState {
        proto == .tcp ? NatTCPState.initial(flags: l4.readU8(TCPFlags.offset), outbound: outbound) : .none
    }

    private mutating func insertSession(_ session: NatSession, now: UInt64) -> SessionIndex {
        let s = sessions.insert(session, now: now)
        counters[session.proto].created &+= 1
        counters[session.proto].active &+= 1
        events.created(session, now: now)
        return s
    }

    /// Reclaims expired sessions when the table is full; true when a slot is free.
    @inline(never)
    private mutating func makeRoom(now: UInt64) -> Bool {
        guard sessions.isFull else { return true }
        expireSessions(now: now, budget: 256)
        return !sessions.isFull
    }

    /// Removes a session found expired (or displaced by a forward's), counted as expired.
    @inline(never)
    mutating func reclaim(_ s: SessionIndex, because reason: NatEvent.Reason = .timeout, now: UInt64? = nil) {
        let session = sessions[s]
        sessions.remove(s)
        countExpired(session.proto, 1)
        events.removed(session, reason, now: now)
    }

    mutating func countExpired(_ proto: NatProtocol, _ n: Int) {
        counters[proto].active &-= UInt64(n)
        counters[proto].expired &+= UInt64(n)
    }
}
