import NetDevice

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
        removedLeftover = try XdpProgramOwner.prepare(name, options: options)
        rxQueues = InterfaceFacts.rxQueues(of: name).flatMap { $0 > 0 ? UInt32($0) : nil }
    }

    deinit { XdpInterface.release(name) }

    /// Detaches the program that `owner` (this process unless a release guard asks for its
    /// forwarder) attached to `name`; nil, or why it could not.
    @discardableResult
    public static func release(_ name: String, owner: XdpProcess = .current) -> String? {
        XdpProgramOwner.release(name, owner: owner)
    }

    /// The XDP program on `name`: its id and name, nil when none.
    public static func attachedProgram(_ name: String) -> (id: UInt32, name: String)? {
        XdpProgramOwner.attachedProgram(name)
    }
}
