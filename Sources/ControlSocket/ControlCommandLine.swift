import Nat44
import Telemetry
#if canImport(Glibc)
import Glibc
#endif

/// `forwarder ctl [--control PATH | --name NAME] COMMAND [ARGS] [--json]`'s command line: the
/// request it means, the socket it names, and the answer's lines for people.
public enum ControlCommandLine {
    public static let usage = """
        usage: forwarder ctl [--control PATH | --name NAME] COMMAND [--json]
        commands:
          status                              the summary, as SIGUSR1 prints it
          sessions [list|delete|flush] [--inside ADDR[:PORT]] [--outside-port N] [--protocol tcp|udp|icmp]
                                              NAT mappings: list them, or remove those the filter selects
                                              (delete needs a filter; flush without one empties the table)
          neighbours                          the NAT gateway's ARP neighbours
          forwards                            the NAT gateway's port forwards
          reload                              read the configuration file again (not implemented yet)
        options:
          --control PATH   the forwarder's control socket
          --name NAME      the forwarder's --name: /run/forwarder/NAME.sock (or the unit's
                           /run/forwarder/NAME/control.sock); without either, the only socket there
          --json           the answer's JSON lines as they come (one object per line)
          -h, --help       this help
        """

    public struct Invocation: Equatable, Sendable {
        public var path: String?
        public var name: String?
        public var request: ControlRequest
        public var json = false
        public init(path: String?, name: String?, request: ControlRequest, json: Bool = false) {
            (self.path, self.name, self.request, self.json) = (path, name, request, json)
        }
    }

    /// Parses the words after `ctl`; nil asks for the help. Errors are of kind `.usage`.
    public static func parse(_ words: [String]) throws(ControlError) -> Invocation? {
        var path: String?, name: String?, json = false
        var positional: [String] = []
        var filter = NatSessionFilter()
        var filterGiven: [String] = []
        var rest = words[...]
        func value(_ flag: String) throws(ControlError) -> String {
            guard let v = rest.popFirst(), !v.hasPrefix("--") else { throw usage("ctl: \(flag) needs a value") }
            return v
        }
        while let word = rest.popFirst() {
            switch word {
            case "-h", "--help": return nil
            case "--json": json = true
            case "--control": path = try value(word)
            case "--name": name = try value(word)
            case "--inside":
                let text = try value(word)
                guard let e = NatSessionFilter.Endpoint(text) else { throw usage("ctl: --inside '\(text)' is not ADDR or ADDR:PORT") }
                filter.inside = e
                filterGiven.append(word)
            case "--outside-port":
                let text = try value(word)
                guard let p = UInt16(text), p > 0 else { throw usage("ctl: --outside-port '\(text)' is not a port (1-65535)") }
                filter.outsidePort = p
                filterGiven.append(word)
            case "--protocol":
                let text = try value(word)
                guard let p = NatProtocol.allCases.first(where: { $0.description == text }) else {
                    throw usage("ctl: --protocol '\(text)' is not tcp, udp or icmp")
                }
                filter.proto = p
                filterGiven.append(word)
            case _ where word.hasPrefix("-"):
                throw usage("ctl: unknown option '\(word)' (see forwarder ctl --help)")
            default:
                positional.append(word)
            }
        }
        if path != nil && name != nil { throw usage("ctl: --control and --name do not combine: give one") }
        guard let command = positional.first else { throw usage("ctl: which command? (see forwarder ctl --help)") }
        let request: ControlRequest
        switch command {
        case "status": request = .status(text: !json)
        case "neighbours", "neighbors": request = .neighbours
        case "forwards": request = .forwards
        case "reload": request = .reload
        case "sessions":
            let action = positional.count > 1 ? positional[1] : "list"
            guard let a = ControlRequest.SessionQuery.Action(rawValue: action) else {
                throw usage("ctl: sessions \(action): expected list, delete or flush")
            }
            if a == .delete && filter.isEmpty {
                throw usage("ctl: sessions delete needs --inside, --outside-port or --protocol (flush empties the table)")
            }
            request = .sessions(.init(action: a, filter: filter))
        default:
            throw usage("ctl: unknown command '\(command)' (status, sessions, neighbours, forwards, reload)")
        }
        let extra = command == "sessions" ? 2 : 1
        if positional.count > extra { throw usage("ctl: unexpected '\(positional[extra])' after \(command)") }
        if command != "sessions", let first = filterGiven.first { throw usage("ctl: \(first) only applies to sessions") }
        return Invocation(path: path, name: name, request: request, json: json)
    }

    /// `forwarder ctl WORDS`: one request, its answer on stdout; the exit status (0 answered, 1
    /// unreachable or refused, 2 usage).
    public static func run(_ words: [String]) -> Int32 {
        do throws(ControlError) {
            guard let invocation = try parse(words) else {
                print(usage)
                return 0
            }
            let path = try socketPath(invocation)
            let outcome = try ControlClient.send(invocation.request, to: path) { line in
                print(invocation.json ? line : text(line, for: invocation.request))
            }
            if let error = outcome.error {
                Log.error(error)
                return 1
            }
            if !invocation.json, case .sessions(let q) = invocation.request, q.action == .list {
                print("\(outcome.lines) session\(outcome.lines == 1 ? "" : "s")")
            }
            return 0
        } catch {
            Log.error(error.message)
            return error.kind == .usage ? 2 : 1
        }
    }

    /// The socket to talk to: `--control`, `--name`'s, or the only one under /run/forwarder.
    public static func socketPath(_ invocation: Invocation) throws(ControlError) -> String {
        if let path = invocation.path { return path }
        if let name = invocation.name {
            let candidates = ControlPath.candidates(name: name)
            return candidates.first(where: exists) ?? candidates[0]
        }
        let found = runningSockets()
        guard found.count == 1 else {
            if found.isEmpty {
                throw usage("ctl: no control socket under \(ControlPath.directory): is a forwarder running? "
                    + "(give --control PATH if it has another)")
            }
            throw usage("ctl: several forwarders run (\(found.joined(separator: ", "))): choose one with --name or --control")
        }
        return found[0]
    }

    private static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }

    /// NAME.sock and NAME/control.sock under /run/forwarder.
    private static func runningSockets() -> [String] {
        guard let dir = opendir(ControlPath.directory) else { return [] }
        defer { closedir(dir) }
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name != "." && name != ".." else { continue }
            for path in [ControlPath.directory + "/" + name, ControlPath.directory + "/" + name + "/control.sock"] where exists(path) {
                if path.hasSuffix(".sock") { found.append(path) }
            }
        }
        return found.sorted()
    }

    /// A data line for people: sessions like conntrack -L, the rest as `key=value` words.
    public static func text(_ line: String, for request: ControlRequest) -> String {
        if case .status = request { return line }
        guard let fields = try? FlatJSON.parse(Array(line.utf8)) else { return line }
        func word(_ key: String) -> String? {
            switch fields[key] {
            case .string(let s)?: s
            case .number(let n)?: n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
            case .bool(let b)?: b ? "yes" : "no"
            default: nil
            }
        }
        if case .sessions(let q) = request, q.action == .list {
            var parts = [word("protocol") ?? "?", word("inside") ?? "?", "->", word("outside") ?? "?"]
            if let state = word("state") { parts.append(state) }
            if let expires = fields["expires_in"], case .number(let n) = expires { parts.append("expires \(Int(n.rounded()))s") }
            if word("forward") == "yes" { parts.append("forward") }
            if let w = word("worker") { parts.append("worker \(w)") }
            return parts.joined(separator: "  ")
        }
        return fields.keys.sorted().compactMap { k in word(k).map { "\(k)=\($0)" } }.joined(separator: " ")
    }

    private static func usage(_ message: String) -> ControlError { ControlError(message, kind: .usage) }
}
