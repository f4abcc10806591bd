import CXdp
import Glibc
import Pipeline

/// Kernel busy polling on the AF_XDP sockets (`--poll busy`): with SO_PREFER_BUSY_POLL the
/// device's softirq leaves the queue to the socket, SO_BUSY_POLL lets each recvfrom/sendto
/// poll the device for that long, SO_BUSY_POLL_BUDGET says how many frames a round takes. The
/// worker then calls recvfrom on every empty poll (that call is where the kernel polls). What
/// the kernel refuses is left out and said in the start-up notes; the worker polls the rings
/// in a loop either way.
public struct XdpBusyPoll: Sendable, Equatable {
    /// SO_BUSY_POLL: 20 µs, the kernel documentation's and the xdpsock sample's value; a
    /// non-blocking call polls once whatever it is, so it only has to be non-zero.
    public var microseconds: Int32 = 20
    /// SO_BUSY_POLL_BUDGET: the worker's burst, so a round brings what one pass takes.
    public var budget: Int32

    public init(budget: Int) { self.budget = Int32(clamping: budget) }

    /// The outcome on the sockets: which options took, and the note for the log.
    struct Outcome: Equatable {
        var prefer = false
        var busyPoll = false
        var budget = false
        var note: String
    }

    /// Sets the options on `sockets` sockets through `set(socket, option, value)` (0 or an
    /// errno): SO_PREFER_BUSY_POLL first, then SO_BUSY_POLL, then (only with the first) the
    /// budget. An option counts as applied only when every socket took it; the first refusal
    /// of each is named with its reason.
    func apply(sockets: Int, _ set: (_ socket: Int, _ option: Int32, _ value: Int32) -> Int32) -> Outcome {
        var refused: [String] = []
        func all(_ option: Int32, _ value: Int32, _ name: String) -> Bool {
            for socket in 0..<sockets {
                let e = set(socket, option, value)
                guard e == 0 else {
                    refused.append("\(name) (\(Self.reason(e)))")
                    return false
                }
            }
            return true
        }
        var o = Outcome(note: "")
        o.prefer = all(Int32(CXDP_PREFER_BUSY_POLL), 1, "SO_PREFER_BUSY_POLL")
        o.busyPoll = all(Int32(CXDP_BUSY_POLL), microseconds, "SO_BUSY_POLL")
        if o.prefer { o.budget = all(Int32(CXDP_BUSY_POLL_BUDGET), budget, "SO_BUSY_POLL_BUDGET") }
        var applied: [String] = []
        if o.prefer { applied.append("SO_PREFER_BUSY_POLL") }
        if o.busyPoll { applied.append("SO_BUSY_POLL \(microseconds) µs") }
        if o.budget { applied.append("SO_BUSY_POLL_BUDGET \(budget)") }
        o.note = "--poll busy: " + (applied.isEmpty ? "no kernel busy polling" : applied.joined(separator: ", ") + " on every socket")
        if !refused.isEmpty { o.note += "; refused: " + refused.joined(separator: ", ") }
        o.note += o.busyPoll ? "; the worker calls recvfrom on every empty poll" : "; the worker polls the rings only"
        return o
    }

    private static func reason(_ e: Int32) -> String {
        switch e {
        case ENOPROTOOPT: "the kernel has no such option (Linux 5.11 or later)"
        case EPERM: "needs CAP_NET_ADMIN"
        default: String(cString: strerror(e))
        }
    }
}

extension XdpPortSet {
    /// Applies `busyPoll` to both sockets of every pair; the note for the log.
    static func applyBusyPoll(_ busyPoll: XdpBusyPoll, to pairs: [XdpPair]) -> PortNote {
        let outcome = busyPoll.apply(sockets: 2 * pairs.count) { socket, option, value in
            cxdp_set_busy_poll_option(pairs[socket / 2].pair, Int32(socket % 2), option, value)
        }
        if outcome.busyPoll {
            for p in pairs { for side in Int32(0)...1 { cxdp_set_wake_when_empty(p.pair, side, 1) } }
        }
        return PortNote(nil, outcome.note)
    }
}
