import CPcap

/// An interface that could not be opened for capture. `kind` is what callers (and tests) decide
/// by; `message` names the interface, says what went wrong and, where there is one, the fix.
public struct PcapError: Error, Equatable {
    public enum Kind: Sendable, Equatable {
        case permissionDenied, noSuchDevice, interfaceDown, notEthernet, badFilter, other
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

extension PcapError.Kind {
    init(_ status: cpcap_status) {
        switch status {
        case .CPCAP_OK, .CPCAP_OTHER: self = .other
        case .CPCAP_PERMISSION_DENIED: self = .permissionDenied
        case .CPCAP_NO_SUCH_DEVICE: self = .noSuchDevice
        case .CPCAP_INTERFACE_DOWN: self = .interfaceDown
        case .CPCAP_NOT_ETHERNET: self = .notEthernet
        case .CPCAP_BAD_FILTER: self = .badFilter
        }
    }
}
