import Glibc

/// An interface that could not be set up for AF_XDP. `kind` is what callers (and tests) decide
/// by; `message` names the interface, says what went wrong and the fix.
public struct XdpError: Error, Equatable {
    public enum Kind: Sendable, Equatable {
        case permissionDenied, memlock, noSuchDevice, noSuchQueue, programPresent, busy, modeUnsupported,
             interfaceDown, other
    }

    public let kind: Kind
    public let interface: String
    public let message: String

    init(_ name: String, kind: Kind, message: String) {
        self.kind = kind
        interface = name
        self.message = message
    }

    /// `detail` (what went wrong, without the interface) with the fix for `kind`.
    init(_ name: String, _ kind: Kind, detail: String, options: XdpOptions = XdpOptions()) {
        self.kind = kind
        interface = name
        let fix: String
        switch kind {
        case .permissionDenied:
            fix = "AF_XDP needs CAP_NET_RAW (the socket), CAP_BPF and CAP_NET_ADMIN (loading and attaching the XDP "
                + "program) and CAP_SYS_ADMIN (libxdp's program look-up): run as root (with --user to drop them after "
                + "the start), or use --io pcap"
        case .memlock:
            fix = "the UMEM is locked memory: raise the limit (ulimit -l unlimited, or LimitMEMLOCK=infinity in the "
                + "service unit), run with CAP_IPC_LOCK, or use --io pcap"
        case .noSuchDevice: fix = "check the name: ip link show"
        case .noSuchQueue:
            fix = "choose an --xdp-queue below the count (ethtool -l \(name) shows the channels)"
        case .programPresent:
            fix = "the forwarder does not share an interface with another XDP program: remove it "
                + "(ip link set dev \(name) xdp off, or xdp-loader unload \(name) --all) or use --io pcap"
        case .busy: fix = "stop the other AF_XDP program on the queue, or choose another --xdp-queue"
        case .modeUnsupported:
            fix = options.zeroCopy ? "run without --xdp-zero-copy (copy mode)" : "use --xdp-mode generic"
        case .interfaceDown: fix = "bring it up first: ip link set \(name) up"
        case .other: fix = "use --io pcap"
        }
        message = "\(name): AF_XDP: \(detail); \(fix)"
    }
}

extension String {
    init(xdpText buffer: [CChar]) {
        self = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

/// strerror's text for an errno value, in the errors' details.
func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
