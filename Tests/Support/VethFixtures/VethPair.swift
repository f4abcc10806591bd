import Glibc
import XCTest

/// A veth pair in this namespace under names no other test run uses (a prefix per test target,
/// the pid and a tag), so tests can run beside other engineers' namespaces and testbeds. IPv6 is
/// off on both ends before they come up, so the kernel sends nothing of its own (router
/// solicitations, MLD) into the test.
public struct VethPair {
    public let a: String
    public let b: String

    /// Creates the pair; both ends up unless `up` is false.
    public init(prefix: String, tag: String, up: Bool = true) throws {
        let stem = prefix + String(getpid(), radix: 16) + tag
        (a, b) = (stem + "a", stem + "b")
        delete()  // left over from a killed run with this pid
        try shell("ip link add \(a) type veth peer name \(b)")
        do {
            for end in [a, b] {
                try? shell("sysctl -qw net.ipv6.conf.\(end).disable_ipv6=1")  // fails only without IPv6
                if up { try shell("ip link set \(end) up") }
            }
            if up {
                // The carrier comes on (and the device's queue starts: until then frames sent are
                // dropped) through linkwatch, a moment after `ip link` returns, longer on a busy
                // machine: wait up to 3 s for both ends to be operationally up.
                for end in [a, b] { VethPair.waitOperstateUp(end) }
            }
        } catch {
            delete()  // the test never sees the pair, so its tearDown cannot
            throw error
        }
    }

    private static func waitOperstateUp(_ name: String) {
        for _ in 0..<300 {
            var text = [CChar](repeating: 0, count: 32)
            if let f = fopen("/sys/class/net/\(name)/operstate", "r") {
                _ = fgets(&text, 32, f)
                fclose(f)
                if String(cString: text).hasPrefix("up") { return }
            }
            usleep(10_000)
        }
    }

    /// Deleting one end deletes both; safe to call twice.
    public func delete() { _ = system("ip link del \(a) 2>/dev/null") }
}

/// Runs a command line of `ip`/`sysctl`/`ethtool` with names the tests made; its stderr goes to
/// the log.
public func shell(_ command: String) throws {
    let status = system(command)
    if status != 0 { throw CommandFailed(description: "\(command): exit status \(status)") }
}

/// A set-up command that failed: the test fails (it is not skipped) and names the command.
public struct CommandFailed: Error, CustomStringConvertible {
    public let description: String
}

/// The kernel-facing tests need root (AF_PACKET, ip link add, ethtool -K, setuid). They fail
/// without it rather than skip: the test command (`sudo scripts/test.sh`) and CI run as root, and
/// a skipped test there would pass for a test that never ran.
public func requireRoot(_ why: String) throws {
    guard geteuid() == 0 else {
        throw CommandFailed(description: "needs root: \(why); run the tests as root (sudo scripts/test.sh)")
    }
}
