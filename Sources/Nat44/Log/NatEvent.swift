import Pipeline
import Synchronization

/// One mapping created or removed, as the NAT log (`--nat-log`) records it: who had which
/// outside port when. A plain value, so a worker hands it over without allocating.
public struct NatEvent: Sendable, Equatable {
    public enum Kind: UInt8, Sendable { case created, removed }

    /// Why a mapping came or went.
    public enum Reason: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        /// Created by an inside host's first packet.
        case outbound
        /// Created for a packet to a port forward; removed: displaced by a forward's mapping.
        case forward
        case timeout, fin, rst, flush, reload, quota
        public var description: String {
            switch self {
            case .outbound: "outbound"
            case .forward: "forward"
            case .timeout: "timeout"
            case .fin: "fin"
            case .rst: "rst"
            case .flush: "flush"
            case .reload: "reload"
            case .quota: "quota"
            }
        }
    }

    /// CLOCK_MONOTONIC nanoseconds (the data path's clock); the writer turns it into wall time.
    public var time: UInt64
    public var kind: Kind
    public var reason: Reason
    public var proto: NatProtocol
    public var worker: UInt16
    public var insideAddress: UInt32
    public var insidePort: UInt16
    public var outsideAddress: UInt32
    public var outsidePort: UInt16
    /// The remote endpoint of the packet that made or last used the mapping; 0 when unknown.
    public var remoteAddress: UInt32
    public var remotePort: UInt16

    public init(time: UInt64, kind: Kind, reason: Reason, proto: NatProtocol, worker: UInt16, insideAddress: UInt32,
                insidePort: UInt16, outsideAddress: UInt32, outsidePort: UInt16, remoteAddress: UInt32 = 0,
                remotePort: UInt16 = 0) {
        (self.time, self.kind, self.reason, self.proto, self.worker) = (time, kind, reason, proto, worker)
        (self.insideAddress, self.insidePort, self.outsideAddress, self.outsidePort) = (insideAddress, insidePort, outsideAddress, outsidePort)
        (self.remoteAddress, self.remotePort) = (remoteAddress, remotePort)
    }
}

/// A worker's lane to the NAT log's writer: a bounded ring the worker pushes to and the writer
/// drains. When the ring is full the event is dropped and counted: the log never holds a worker
/// back (a slow disk or syslog costs log lines, not forwarded frames).
public final class NatEventLane: @unchecked Sendable {
    private let ring: SPSCRing<NatEvent>
    private let droppedCount = Atomic<UInt64>(0)

    public init(capacity: Int = 8192) { ring = SPSCRing(capacity: capacity) }
    deinit { ring.deallocate() }

    /// Worker side.
    @inline(__always)
    public func record(_ event: NatEvent) {
        if !ring.push(event) { droppedCount.add(1, ordering: .relaxed) }
    }

    /// Writer side: up to `count` events into `into`; returns how many.
    public func drain(into events: UnsafeMutablePointer<NatEvent>, count: Int) -> Int { ring.pop(into: events, count: count) }

    /// Events lost to a full ring since the start.
    public var dropped: UInt64 { droppedCount.load(ordering: .relaxed) }
}

/// Where a gateway's mapping events go: nowhere (the default: one test of an optional per
/// created or removed mapping, never per frame), or a lane to the NAT log's writer.
struct NatEventSink {
    var lane: NatEventLane?
    var worker: UInt16 = 0
    var outside: UInt32 = 0

    @inline(__always)
    func created(_ s: NatSession, now: UInt64) {
        guard let lane else { return }
        lane.record(event(.created, s.isForward ? .forward : .outbound, s, time: now))
    }

    /// `now` nil: the mapping timed out, and its expiry is when it ended. A timed-out TCP
    /// mapping ended by FIN or RST (its transitory timeout ran out) says so.
    @inline(__always)
    func removed(_ s: NatSession, _ reason: NatEvent.Reason, now: UInt64?) {
        guard let lane else { return }
        var why = reason
        if reason == .timeout && s.tcpState == .closing { why = .fin }
        if reason == .timeout && s.tcpState == .closed { why = .rst }
        lane.record(event(.removed, why, s, time: now ?? s.expires))
    }

    private func event(_ kind: NatEvent.Kind, _ reason: NatEvent.Reason, _ s: NatSession, time: UInt64) -> NatEvent {
        NatEvent(time: time, kind: kind, reason: reason, proto: s.proto, worker: worker, insideAddress: s.inAddr,
                 insidePort: s.inPort, outsideAddress: outside, outsidePort: s.extPort)
    }
}

extension NatProcessor {
    /// `--nat-log`: this worker's mapping events go to `lane`.
    public mutating func logEvents(to lane: NatEventLane) {
        gateway.events = NatEventSink(lane: lane, worker: UInt16(truncatingIfNeeded: gateway.share.index),
                                      outside: gateway.sides.outside.address)
    }
}
