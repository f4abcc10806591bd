import CPcap
import Glibc

/// An interface that could not be opened for capture. `kind` is what callers (and tests) decide
/// by; `message` names the interface, says what went wrong and, where there is one, the fix.
public struct PcapError: Error, Equatable {
    public enum Kind: Sendable, Equatable {
        case permissionDenied, noSuchDevice, interfaceDown, notEthernet, badFilter, other
        /// The kernel refused the fanout group (another program's or another interface's group
        /// has the id, or another mode): another group id may work.
        case fanoutRefused
        /// A kernel-path option (qdisc bypass, the TX ring) could not be set.
        case socketOption
    }

    public let kind: Kind
    public let message: String

    /// The error for a failed open of `name`, worded by kind around libpcap's own text, which
    /// stays in the message because it is what a search for the problem finds.
    init(opening name: String, status: cpcap_status, detail: String) {
        kind = Kind(status)
        switch kind {
        case .permissionDenied:
            message = "\(name): permission denied: capturing needs root or CAP_NET_RAW "
                + "(run with sudo, or: sudo setcap cap_net_raw,cap_net_admin+ep $(command -v forwarder)) [\(detail)]"
        case .interfaceDown:
            message = "\(name): cannot open: \(detail); bring it up first: ip link set \(name) up"
        default:
            message = "\(name): cannot open: \(detail)"
        }
    }
}

extension PcapError {
    /// The error for an opened handle whose kernel-path option `what` failed with `code`.
    init(configuring name: String, kind: Kind, what: String, errno code: Int32, fix: String) {
        self.kind = kind
        message = "\(name): \(what): \(String(cString: strerror(code))) (errno \(code)); \(fix)"
    }

    static func fanout(_ name: String, _ settings: FanoutSettings, errno code: Int32) -> PcapError {
        let what = "cannot join fanout group \(settings.group) (\(settings.modeName))"
        let fix: String
        switch code {
        case EINVAL:
            fix = "the group exists in this network namespace on another interface or with another mode "
                + "or flags (rollover, defrag), or the kernel lacks this mode: choose another group id"
        case EALREADY: fix = "this handle is in a fanout group already"
        case ENOSPC: fix = "the group has its 256 members already: choose another group id"
        case EADDRINUSE: fix = "the group id is in use: choose another group id"
        default: fix = "run without fanout"
        }
        return PcapError(configuring: name, kind: .fanoutRefused, what: what, errno: code, fix: fix)
    }
}

extension PcapError.Kind {
    init(_ status: cpcap_status) {
        let kinds: [cpcap_status: Self] = [.CPCAP_PERMISSION_DENIED: .permissionDenied, .CPCAP_NO_SUCH_DEVICE: .noSuchDevice,
                                           .CPCAP_INTERFACE_DOWN: .interfaceDown, .CPCAP_NOT_ETHERNET: .notEthernet,
                                           .CPCAP_BAD_FILTER: .badFilter]
        self = kinds[status] ?? .other
    }
}
