#if canImport(Glibc)
import Glibc
#endif

/// An interface that is not there or cannot be read. `kind` is what callers decide by; the
/// message names the interface and, when it is missing, the ones that do exist, since a typo
/// is the usual cause.
public struct NetDeviceError: Error, Equatable {
    public enum Kind: Sendable, Equatable {
        case noSuchDevice, other
    }

    public let kind: Kind
    public let message: String

    /// The error for `code`, an errno value a CLinux call returned about `name` while doing `what`.
    init(errno code: Int32, name: String, what: String) {
        if code == ENODEV {
            let names = InterfaceFacts.availableNames()
            kind = .noSuchDevice
            message = "no such interface '\(name)'"
                + (names.isEmpty ? "" : "; interfaces here: \(names.joined(separator: ", "))")
        } else {
            kind = .other
            message = "\(name): \(what): \(String(cString: strerror(code)))"
        }
    }

    /// Throws unless `code`, a CLinux call's result, is 0.
    static func check(_ code: Int32, name: String, what: String) throws(NetDeviceError) {
        if code != 0 { throw NetDeviceError(errno: code, name: name, what: what) }
    }
}
