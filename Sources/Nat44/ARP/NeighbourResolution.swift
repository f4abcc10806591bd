import BufferCache
import PacketFormats
import Pipeline

/// Resolving next hops: who-has requests with backoff, packets held meanwhile and released on
/// the answer, background re-probes of old entries, give-up.
extension NatGateway {
    /// Next hop not resolved: start resolution or hold behind the one in progress.
    @inline(never)
    mutating func resolve<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, _ side: Side, _ nextHop: UInt32, _ found: NeighbourIndex?, _ now: UInt64,
        _ allocator: inout A
    ) -> NatVerdict {
        let n: NeighbourIndex
        if let found {
            n = found
        } else {
            guard let new = neighbours.insert(side, nextHop, state: .incomplete, now: now) else {
                return drop(.arpQueueFull)
            }
            guard neighbours.attachPending(new) else {
                neighbours.remove(new)
                return drop(.arpQueueFull)
            }
            n = new
            startProbing(n, side: side, target: nextHop, now, &allocator)
        }
        guard neighbours.hold(n, head) else { return drop(.arpQueueFull) }
        counters.arpHeld &+= 1
        return .consumed
    }

    /// Records `mac` for neighbour `n` and sends the packets held for it.
    @inline(never)
    mutating func learn<A: HeadAllocator & ~Copyable>(_ n: NeighbourIndex, mac: UInt64, side: Side, _ now: UInt64,
                                                      _ allocator: inout A) {
        neighbours[n].mac = mac
        neighbours[n].state = .reachable
        neighbours[n].confirmed = now
        neighbours[n].probes = 0
        guard neighbours[n].pendingSlot != nil else { return }
        while let h = neighbours.takeHeld(n) {
            h.data.writeMAC(mac, 0)
            counters.arpReleased &+= 1
            emit(h, side, &allocator)
        }
        neighbours.detachPending(n)
    }

    /// Refreshes a neighbour's last use, and re-probes it when its confirmation is old.
    @inline(never)
    mutating func touchNeighbour<A: HeadAllocator & ~Copyable>(_ n: NeighbourIndex, _ now: UInt64,
                                                               _ allocator: inout A) {
        neighbours[n].used = now
        let e = neighbours[n]
        guard now &- e.confirmed > timers.neighbourReachable, e.pendingSlot == nil, neighbours.attachPending(n) else {
            return
        }
        startProbing(n, side: e.side, target: e.ip, now, &allocator)
    }

    /// Sends the first request of a resolution or re-probe (`n` has a pending slot).
    private mutating func startProbing<A: HeadAllocator & ~Copyable>(
        _ n: NeighbourIndex, side: Side, target: UInt32, _ now: UInt64, _ allocator: inout A
    ) {
        neighbours[n].probes = 1
        neighbours[n].nextProbe = now &+ timers.arpRetry
        sendARPRequest(side, target: target, &allocator)
    }

    /// The timer side: each resolution in progress whose request is due sends the next one
    /// (backoff doubling), or gives up after `arpMaxRequests`: its held packets are dropped
    /// (`arpFailed`) and the entry removed.
    mutating func retryResolutions<A: HeadAllocator & ~Copyable>(now: UInt64, _ allocator: inout A) {
        guard neighbours.pendingInUse > 0 else { return }
        for s in 0..<neighbours.pendingCapacity {
            guard let n = neighbours.resolving(slot: s) else { continue }
            let e = neighbours[n]
            guard now >= e.nextProbe else { continue }
            if Int(e.probes) < timers.arpMaxRequests {
                neighbours[n].probes = e.probes + 1
                neighbours[n].nextProbe = now &+ (timers.arpRetry << UInt64(e.probes))
                sendARPRequest(e.side, target: e.ip, &allocator)
            } else {
                abandonResolution(n, dropping: .arpFailed, &allocator)
            }
        }
    }

    /// Ends neighbour `n`'s resolution and removes it; its held packets go back to `allocator`,
    /// counted as `reason` when there is one.
    mutating func abandonResolution<A: HeadAllocator & ~Copyable>(_ n: NeighbourIndex, dropping reason: NatDropReason?,
                                                                  _ allocator: inout A) {
        while let h = neighbours.takeHeld(n) {
            if let reason {
                counters.drops[reason] &+= 1
                counters.dropsLater &+= 1
            }
            allocator.put(h)
        }
        neighbours.detachPending(n)
        neighbours.remove(n)
    }

    /// Broadcasts a who-has for `target` from the side's own address.
    @inline(never)
    mutating func sendARPRequest<A: HeadAllocator & ~Copyable>(_ side: Side, target: UInt32, _ allocator: inout A) {
        guard let r = allocator.get() else {
            counters.drops[.noBuffer] &+= 1
            counters.dropsLater &+= 1
            return
        }
        let me = sides[side]
        let l2 = me.headerLength
        guard l2 + ARPField.length <= r.tailroomLimit else {
            allocator.put(r)
            return
        }
        r.length = l2 + ARPField.length
        let p = r.data
        p.writeMAC(EthernetAddress.broadcast.value, 0)
        me.writeEthernetHeader(p, etherType: EtherType.arp)
        let a = p + l2
        a.writeBE16(1, ARPField.hardwareType)
        a.writeBE16(EtherType.ipv4, ARPField.protocolType)
        a.writeU8(6, ARPField.hardwareLength)
        a.writeU8(4, ARPField.protocolLength)
        a.writeBE16(ARPField.request, ARPField.operation)
        a.writeMAC(me.mac, ARPField.senderMAC)
        a.writeBE32(me.address, ARPField.senderIP)
        a.writeMAC(0, ARPField.targetMAC)
        a.writeBE32(target, ARPField.targetIP)
        counters.arpRequestsSent &+= 1
        emit(r, side, &allocator)
    }
}
