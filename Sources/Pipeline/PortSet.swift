/// The open ports of every worker, of one kind (PcapIO's and XdpIO's sets): the runner opens
/// one, starts a worker on each pair of its ports (`WorkerLauncher`), reports from it while the
/// workers run and closes it after they stop. The worker is generic over the port type, so
/// each kind is its own specialisation and the per-frame path has no existential.
public protocol PortSet: Sendable {
    associatedtype Report: PortReport
    /// Workers to run: one per pair of ports.
    var workers: Int { get }
    /// Lines for the log about how the set was opened (a leftover program removed, the queues).
    var notes: [PortNote] { get }
    /// What keeps frames from being forwarded, each with its fix.
    var warnings: [PortNote] { get }
    /// Hands worker `worker`'s ports on IN and OUT, for bursts of up to `burst` frames, to
    /// `user` (ports are not copyable: they are made for it and given away).
    func withPorts<U: PortUser>(worker: Int, burst: Int, _ user: U) throws(PortError)
    /// The kernel's counters of both interfaces as of now, and what else the summary says of
    /// the ports, from one reading.
    func report() -> Report
    /// Closes the ports once every worker has stopped; `detach`: take any program this run put
    /// on an interface off now (false once the capabilities are dropped). A problem, if any.
    func close(detach: Bool) -> String?
}

/// What runs on a worker's two ports, generic over their type (`WorkerLauncher`'s worker).
public protocol PortUser {
    func run<IO: PacketPort & ~Copyable>(inPort: consuming IO, outPort: consuming IO) throws(PortError)
}

/// What a port set says in the summary: at least the kernel line of each interface.
public protocol PortReport {
    var kernel: [InterfaceKernelCounters] { get }
}

/// A line for the log about a port set, naming its interface when it is about one.
public struct PortNote: Sendable, Equatable {
    public let interface: String?
    public let message: String

    public init(_ interface: String?, _ message: String) {
        self.interface = interface
        self.message = message
    }
}

/// A port set that could not be opened: the message names the interface and the fix.
public struct PortSetError: Error, Equatable {
    public let message: String
    public let interface: String?

    public init(_ message: String, interface: String?) {
        self.message = message
        self.interface = interface
    }
}
