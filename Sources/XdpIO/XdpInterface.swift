import CXdp

/// One interface prepared for AF_XDP: no foreign XDP program on it, a crashed run's leftover
/// removed. The XDP program (libxdp's default XSK redirect program) is attached by the first
/// socket and detached when the last `XdpPair` using the interface, and this object, go away.
public final class XdpInterface: @unchecked Sendable {
    public let name: String
    /// The id of a leftover program of a crashed forwarder that was removed, if any.
    public let removedLeftover: UInt32?
    /// RX queues (sysfs), nil when unknown. A queue no socket is bound to keeps its frames in the
    /// kernel stack (the program passes them), so a run covers all of them or says it does not.
    public let rxQueues: UInt32?

    public init(name: String, options: XdpOptions = XdpOptions()) throws(XdpError) {
        self.name = name
        var err = [CChar](repeating: 0, count: 512)
        var removed: UInt32 = 0
        let status = cxdp_prepare_interface(name, &removed, &err, err.count)
        guard status == .CXDP_OK else { throw XdpError(name, status: status, detail: String(xdpText: err), options: options) }
        removedLeftover = removed == 0 ? nil : removed
        let queues = cxdp_rx_queues(name)
        rxQueues = queues > 0 ? UInt32(queues) : nil
    }

    deinit { XdpInterface.release(name) }

    /// Detaches the program that `owner` (this process unless a release guard asks for its
    /// forwarder) attached to `name`; nil, or why it could not.
    @discardableResult
    public static func release(_ name: String, owner: XdpProcess = .current) -> String? {
        var err = [CChar](repeating: 0, count: 512)
        return cxdp_release_interface(name, owner.pid, owner.start, &err, err.count) == 0 ? nil : String(xdpText: err)
    }

    /// The XDP program on `name`: its id and name, nil when none.
    public static func attachedProgram(_ name: String) -> (id: UInt32, name: String)? {
        var id: UInt32 = 0
        var text = [CChar](repeating: 0, count: 64)
        guard cxdp_attached_program(name, &id, &text, text.count) == 1 else { return nil }
        return (id, String(xdpText: text))
    }
}
