import Glibc
import XCTest

/// A veth pair in this namespace, both ends up, under names no other test run uses (pid and
/// tag): tests run beside other engineers' namespaces and testbeds.
struct VethPair {
    let a: String
    let b: String

    init(tag: String) throws {
        a = "ndv" + String(getpid(), radix: 16) + tag + "a"
        b = String(a.dropLast()) + "b"
        delete()  // left over from a killed run with this pid
        try shell("ip link add \(a) type veth peer name \(b)")
        do {
            try shell("ip link set \(a) up && ip link set \(b) up")
        } catch {
            delete()  // the test never sees the pair, so its tearDown cannot
            throw error
        }
    }

    /// Deleting one end deletes both; safe to call twice.
    func delete() { _ = system("ip link del \(a) 2>/dev/null") }
}

/// Runs an `ip`/`ethtool` command line built from the tests' own names; stderr goes to the log.
func shell(_ command: String) throws {
    let status = system(command)
    if status != 0 { throw CommandFailed(description: "\(command): exit status \(status)") }
}

/// A set-up command that failed: the test fails (it is not skipped) and names the command.
struct CommandFailed: Error, CustomStringConvertible { let description: String }

/// Reading facts needs no privilege, but creating veth pairs and ethtool -K do; CI runs as root.
func requireRoot() throws {
    try XCTSkipUnless(getuid() == 0, "needs root: creates veth pairs and changes their offloads")
}
