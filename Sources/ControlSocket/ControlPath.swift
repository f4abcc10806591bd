/// Where a forwarder's control socket is: `/run/forwarder/NAME.sock` unless `--control PATH`
/// says otherwise. The unit (forwarder@NAME) gives `--control /run/forwarder/NAME/control.sock`,
/// its own runtime directory, which `forwarder ctl --name NAME` looks in second.
public enum ControlPath: Equatable, Sendable {
    case standard
    case given(String)

    public static let directory = "/run/forwarder"

    public func path(name: String) -> String {
        switch self {
        case .standard: ControlPath.directory + "/" + name + ".sock"
        case .given(let path): path
        }
    }

    /// Where `forwarder ctl --name NAME` looks, in order.
    public static func candidates(name: String) -> [String] {
        [directory + "/" + name + ".sock", directory + "/" + name + "/control.sock"]
    }

    /// `--name`: a file name's worth of letters, digits and `.-_@`, not starting with a dot.
    public static func name(_ flag: String, _ value: String) throws(ControlError) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_@")
        guard !value.isEmpty, value.count <= 64, !value.hasPrefix("."), value.allSatisfy({ allowed.contains($0) }) else {
            throw ControlError("\(flag): '\(value)' is not a name (1 to 64 letters, digits, '.', '-', '_' or '@', "
                + "not starting with '.')")
        }
        return value
    }
}
