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

    /// Enough of the TCP state machine to choose between the established and transitory
    /// timeouts (RFC 5382 REQ-5), simultaneous open included (REQ-2).
    func next(flags: UInt8, outbound: Bool) -> NatTCPState {
        let f = TCPFlags(flags)
        if f.rst { return .closed }
        if f.syn && !f.ack && (self == .closing || self == .closed) {
            return outbound ? .synOut : .synIn
        }
        var s = self
        switch self {
        case .synOut: if !outbound && f.syn { s = .established }
        case .synIn: if outbound && f.syn { s = .established }
        case .midstream: if !outbound { s = .established }
        case .none: s = .midstream
        default: break
        }
        if f.fin && s != .closed { s = .closing }
        return s
    }

    /// The state of a session created by a segment with `flags`.
    static func initial(flags: UInt8, outbound: Bool) -> NatTCPState {
        let f = TCPFlags(flags)
        if f.rst { return .closed }
        if f.syn && !f.ack { return outbound ? .synOut : .synIn }
        // Mid-connection (the gateway restarted, or a forward reached mid-stream): established
        // once the other side answers.
        return outbound ? .midstream : .synIn
    }
}

/// The flags byte of a TCP header.
struct TCPFlags {
    /// Offset of the flags byte in the TCP header.
    static let offset = 13

    let bits: UInt8
    @inline(__always) init(_ bits: UInt8) { self.bits = bits }

    var fin: Bool { bits & 0x01 != 0 }
    var syn: Bool { bits & 0x02 != 0 }
    var rst: Bool { bits & 0x04 != 0 }
    var ack: Bool { bits & 0x10 != 0 }
}

extension NatTCPState {
    /// The state as `forwarder ctl sessions` shows it.
    var name: String {
        switch self {
        case .none: "none"
        case .synOut: "syn_out"
        case .synIn: "syn_in"
        case .midstream: "midstream"
        case .established: "established"
        case .closing: "closing"
        case .closed: "closed"
        }
    }
}
