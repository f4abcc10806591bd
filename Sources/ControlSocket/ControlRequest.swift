import PacketFormats

/// One request of the control protocol, checked whole: a client's mistake is answered with a
/// message naming the key and what it should be, before anything reaches a worker.
public enum ControlRequest: Equatable, Sendable {
    case status
    case sessions(SessionQuery)
    case neighbours
    case forwards
    case reload

    /// The longest request line accepted; a longer one is answered with an error and the
    /// connection closed (a request is a few hundred bytes).
    public static let maximumLength = 4096

    /// The commands, as `forwarder ctl` and the protocol spell them.
    public static let commands = ["status", "sessions", "neighbours", "forwards", "reload"]

    /// `sessions`: what to do with the mappings the filter selects.
    public struct SessionQuery: Equatable, Sendable {
        public enum Action: String, Equatable, Sendable, CaseIterable { case list, delete, flush }
        public var action: Action = .list
        public var filter = SessionFilter()
        public init(action: Action = .list, filter: SessionFilter = SessionFilter()) {
            self.action = action
            self.filter = filter
        }
    }

    /// Parses one request line (without its newline).
    public static func parse(_ line: some Collection<UInt8>) throws(ControlError) -> ControlRequest {
        let fields: [String: FlatJSON.Value]
        do { fields = try FlatJSON.parse(line) } catch { throw ControlError("malformed request: \(error.message)") }
        guard case .string(let command)? = fields["command"] else {
            throw ControlError("the request has no \"command\" (one of \(commands.joined(separator: ", ")))")
        }
        let allowed: Set<String>
        let request: ControlRequest
        switch command {
        case "status": (request, allowed) = (.status, [])
        case "neighbours": (request, allowed) = (.neighbours, [])
        case "forwards": (request, allowed) = (.forwards, [])
        case "reload": (request, allowed) = (.reload, [])
        case "sessions":
            var query = SessionQuery()
            if let value = fields["action"] {
                guard case .string(let name) = value, let action = SessionQuery.Action(rawValue: name) else {
                    throw ControlError("\"action\" must be one of list, delete, flush")
                }
                query.action = action
            }
            query.filter = try SessionFilter(fields)
            if query.action == .delete && query.filter.isEmpty {
                throw ControlError("sessions delete needs a filter (inside, outside_port, remote or protocol); flush empties the table")
            }
            (request, allowed) = (.sessions(query), SessionFilter.keys.union(["action"]))
        default:
            throw ControlError("unknown command \"\(command)\" (one of \(commands.joined(separator: ", ")))")
        }
        if let extra = fields.keys.filter({ $0 != "command" && !allowed.contains($0) }).sorted().first {
            throw ControlError("\(command) takes no \"\(extra)\"")
        }
        return request
    }

    /// The request as one line of the protocol (what `forwarder ctl` sends).
    public var line: String {
        var fields: [(String, String)] = []
        func quoted(_ s: String) -> String { "\"" + s + "\"" }
        switch self {
        case .status: fields.append(("command", quoted("status")))
        case .neighbours: fields.append(("command", quoted("neighbours")))
        case .forwards: fields.append(("command", quoted("forwards")))
        case .reload: fields.append(("command", quoted("reload")))
        case .sessions(let query):
            fields.append(("command", quoted("sessions")))
            fields.append(("action", quoted(query.action.rawValue)))
            fields += query.filter.fields
        }
        return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }
}

/// Which NAT sessions a `sessions` request selects; every given part must match.
public struct SessionFilter: Equatable, Sendable {
    public enum TransportProtocol: String, Equatable, Sendable, CaseIterable { case tcp, udp, icmp }

    public var inside: Endpoint?
    public var outsidePort: UInt16?
    public var remote: Endpoint?
    public var transport: TransportProtocol?

    /// An address with or without a port (`10.0.0.2` or `10.0.0.2:5000`).
    public struct Endpoint: Equatable, Sendable, CustomStringConvertible {
        public var address: IPv4Address
        public var port: UInt16?

        public init(address: IPv4Address, port: UInt16? = nil) {
            self.address = address
            self.port = port
        }

        public init?(_ text: String) {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, let address = IPv4Address(parts[0]) else { return nil }
            self.address = address
            if parts.count == 2 {
                guard let port = UInt16(parts[1]) else { return nil }
                self.port = port
            }
        }

        public var description: String { port.map { "\(address):\($0)" } ?? "\(address)" }

        public func matches(address: IPv4Address, port: UInt16) -> Bool {
            self.address == address && (self.port == nil || self.port == port)
        }
    }

    static let keys: Set<String> = ["inside", "outside_port", "remote", "protocol"]

    public init(inside: Endpoint? = nil, outsidePort: UInt16? = nil, remote: Endpoint? = nil, transport: TransportProtocol? = nil) {
        self.inside = inside
        self.outsidePort = outsidePort
        self.remote = remote
        self.transport = transport
    }

    init(_ fields: [String: FlatJSON.Value]) throws(ControlError) {
        func endpoint(_ key: String) throws(ControlError) -> Endpoint? {
            guard let value = fields[key] else { return nil }
            guard case .string(let text) = value, let e = Endpoint(text) else {
                throw ControlError("\"\(key)\" must be an IPv4 address with an optional port (\"10.0.0.2\" or \"10.0.0.2:5000\")")
            }
            return e
        }
        inside = try endpoint("inside")
        remote = try endpoint("remote")
        if let value = fields["outside_port"] {
            guard case .number(let n) = value, n >= 1, n <= 65535, n == n.rounded() else {
                throw ControlError("\"outside_port\" must be a port number, 1 to 65535")
            }
            outsidePort = UInt16(n)
        }
        if let value = fields["protocol"] {
            guard case .string(let name) = value, let p = TransportProtocol(rawValue: name) else {
                throw ControlError("\"protocol\" must be one of tcp, udp, icmp")
            }
            transport = p
        }
    }

    public var isEmpty: Bool { inside == nil && outsidePort == nil && remote == nil && transport == nil }

    var fields: [(String, String)] {
        var f: [(String, String)] = []
        if let inside { f.append(("inside", "\"\(inside)\"")) }
        if let outsidePort { f.append(("outside_port", "\(outsidePort)")) }
        if let remote { f.append(("remote", "\"\(remote)\"")) }
        if let transport { f.append(("protocol", "\"\(transport.rawValue)\"")) }
        return f
    }
}

/// What went wrong with a request or the socket, as one line for the client or the log.
public struct ControlError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
