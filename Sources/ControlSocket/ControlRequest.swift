import Nat44
import PacketFormats

/// One request of the control protocol, checked whole: a client's mistake is answered with a
/// message naming the key and what it should be, before anything reaches a worker.
public enum ControlRequest: Equatable, Sendable {
    /// The summary; `text`: its text lines (as SIGUSR1 prints them) instead of one JSON object.
    case status(text: Bool)
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
        public var filter = NatSessionFilter()
        public init(action: Action = .list, filter: NatSessionFilter = NatSessionFilter()) {
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
        case "status":
            var text = false
            if let value = fields["text"] {
                guard case .bool(let b) = value else { throw ControlError("\"text\" must be true or false") }
                text = b
            }
            (request, allowed) = (.status(text: text), ["text"])
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
            query.filter = try NatSessionFilter(fields)
            if query.action == .delete && query.filter.isEmpty {
                throw ControlError("sessions delete needs a filter (inside, outside_port or protocol); flush empties the table")
            }
            (request, allowed) = (.sessions(query), NatSessionFilter.keys.union(["action"]))
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
        case .status(let text):
            fields.append(("command", quoted("status")))
            if text { fields.append(("text", "true")) }
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

/// The `sessions` filter as the protocol spells it: `inside` ("ADDR" or "ADDR:PORT"),
/// `outside_port` (a number), `protocol` (tcp, udp, icmp).
extension NatSessionFilter {
    static let keys: Set<String> = ["inside", "outside_port", "protocol"]

    init(_ fields: [String: FlatJSON.Value]) throws(ControlError) {
        self.init()
        if let value = fields["inside"] {
            guard case .string(let text) = value, let e = Endpoint(text) else {
                throw ControlError("\"inside\" must be an IPv4 address with an optional port (\"10.0.0.2\" or \"10.0.0.2:5000\")")
            }
            inside = e
        }
        if let value = fields["outside_port"] {
            guard case .number(let n) = value, n >= 1, n <= 65535, n == n.rounded() else {
                throw ControlError("\"outside_port\" must be a port number, 1 to 65535")
            }
            outsidePort = UInt16(n)
        }
        if let value = fields["protocol"] {
            guard case .string(let name) = value, let p = NatProtocol.allCases.first(where: { $0.description == name }) else {
                throw ControlError("\"protocol\" must be one of tcp, udp, icmp")
            }
            proto = p
        }
    }

    var fields: [(String, String)] {
        var f: [(String, String)] = []
        if let inside { f.append(("inside", "\"\(inside)\"")) }
        if let outsidePort { f.append(("outside_port", "\(outsidePort)")) }
        if let proto { f.append(("protocol", "\"\(proto)\"")) }
        return f
    }
}
