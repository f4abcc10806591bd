import PacketFormats
import Pipeline

/// One mapping as the control socket lists it.
public struct NatSessionRecord: Equatable, Sendable {
    public var proto: NatProtocol
    public var insideAddress: IPv4Address
    public var insidePort: UInt16
    public var outsideAddress: IPv4Address
    public var outsidePort: UInt16
    /// TCP's state as the gateway tracks it (`syn_out`, `established`, ...); nil for UDP and ICMP.
    public var tcpState: String?
    /// Made for (or matching) a port forward.
    public var isForward: Bool
    /// Nanoseconds until it expires unless traffic refreshes it.
    public var expiresIn: UInt64
}

/// One ARP neighbour as the control socket lists it.
public struct NatNeighbourRecord: Equatable, Sendable {
    public var address: IPv4Address
    /// Nil while it is being resolved.
    public var mac: EthernetAddress?
    public var side: Side
    /// `reachable` or `incomplete`.
    public var state: String
    /// Nanoseconds since an ARP frame from it last confirmed the address; nil while it is resolved.
    public var confirmedAgo: UInt64?
}

/// What the control socket asks of a worker's gateway, run on the worker's thread between
/// bursts (`WorkerMailbox`): bounded reads of its tables, and removals that keep its counters
/// and port pool right.
extension NatProcessor {
    /// The live mappings matching `filter` from table slot `slot` on, at most `limit` of them,
    /// and the slot to go on from (nil once the table has been read to its end).
    public func sessions(from slot: Int, limit: Int, matching filter: NatSessionFilter, now: UInt64)
        -> (records: [NatSessionRecord], next: Int?) {
        var records: [NatSessionRecord] = []
        var at = max(0, slot)
        let capacity = gateway.sessions.capacity
        let outside = IPv4Address(gateway.sides.outside.address)
        while at < capacity && records.count < limit {
            defer { at += 1 }
            guard let i = gateway.sessions.occupant(ofSlot: at) else { continue }
            let s = gateway.sessions[i]
            guard s.expires > now, filter.matches(s) else { continue }
            records.append(NatSessionRecord(proto: s.proto, insideAddress: IPv4Address(s.inAddr), insidePort: s.inPort,
                                            outsideAddress: outside, outsidePort: s.extPort,
                                            tcpState: s.proto == .tcp ? s.tcpState.name : nil, isForward: s.isForward,
                                            expiresIn: s.expires - now))
        }
        return (records, at < capacity ? at : nil)
    }

    /// Removes every mapping matching `filter` (all of them when it is empty); returns how many.
    /// Their ports go back to the pool (a forward's stays reserved), and the next packet of such
    /// a flow makes a new mapping.
    public mutating func removeSessions(matching filter: NatSessionFilter) -> Int {
        var removed = 0
        for slot in 0..<gateway.sessions.capacity {
            guard let i = gateway.sessions.occupant(ofSlot: slot) else { continue }
            let s = gateway.sessions[i]
            guard filter.matches(s) else { continue }
            gateway.sessions.remove(i)
            gateway.counters[s.proto].active &-= 1
            gateway.counters[s.proto].flushed &+= 1
            removed += 1
        }
        return removed
    }

    /// Every neighbour of both sides.
    public func neighbourRecords(now: UInt64) -> [NatNeighbourRecord] {
        var records: [NatNeighbourRecord] = []
        for slot in 0..<gateway.neighbours.capacity {
            guard let n = gateway.neighbours.entry(ofSlot: slot) else { continue }
            let known = n.state == .reachable
            records.append(NatNeighbourRecord(address: IPv4Address(n.ip), mac: known ? EthernetAddress(n.mac) : nil,
                                              side: n.side, state: known ? "reachable" : "incomplete",
                                              confirmedAgo: known ? now &- n.confirmed : nil))
        }
        return records
    }
}
