import Glibc
import ProcessControl
import VethFixtures
import XCTest

/// The user and group look-ups, and the drop itself in forked children (it cannot be undone in
/// the test process).
final class PrivilegesTests: XCTestCase {
    func testCurrentCredentialsRead() throws {
        let c = try XCTUnwrap(Privileges.current())
        XCTAssertEqual(c.uids.count, 3)
        XCTAssertEqual(c.uids[1], geteuid())
    }

    func testNobodyAndRootResolve() throws {
        let nobody = try Privileges.lookupUser("nobody")
        XCTAssertEqual(nobody.uid, 65534)
        XCTAssertEqual(nobody.gid, 65534)
        XCTAssertEqual(try Privileges.lookupUser("root").uid, 0)
        XCTAssertEqual(try Privileges.lookupGroup("nogroup"), 65534)
        XCTAssertEqual(try Privileges.lookupGroup("root"), 0)
        let t = try Privileges.target(user: "nobody", group: nil)
        XCTAssertEqual(t, Privileges.Target(user: "nobody", uid: 65534, group: nil, gid: 65534))
        XCTAssertEqual(try Privileges.target(user: "nobody", group: "root").gid, 0)
    }

    func testMissingUserOrGroupThrowsNamingIt() {
        for name in ["no-such-user-xyz", ""] {
            XCTAssertThrowsError(try Privileges.lookupUser(name)) { error in
                let e = error as? PrivilegeError
                XCTAssertEqual(e?.kind, .unknown)
                XCTAssertEqual(e?.message, "no such user '\(name)'")
            }
        }
        XCTAssertThrowsError(try Privileges.target(user: "nobody", group: "no-such-group-xyz")) { error in
            XCTAssertEqual((error as? PrivilegeError)?.message, "no such group 'no-such-group-xyz'")
        }
        // Digits are a name, not a uid.
        XCTAssertThrowsError(try Privileges.lookupUser("65534"))
    }

    /// Runs `body` in a forked child and returns its exit status (the child calls only the
    /// shim's C and async-signal-tolerant code before _exit).
    func inChild(_ body: () -> Int32) -> Int32 {
        let pid = fork()
        if pid == 0 { _exit(body()) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 100 + (status & 0x7f)
    }

    func testDropInAChildLeavesNothing() throws {
        try requireRoot("dropping privileges")
        let target = try Privileges.target(user: "nobody", group: nil)
        let status = inChild {
            do { try Privileges.drop(to: target) } catch { return 1 }
            guard let c = Privileges.current() else { return 2 }
            if c.uids != [65534, 65534, 65534] { return 3 }
            if c.gids != [65534, 65534, 65534] { return 4 }
            if c.supplementaryGroups != 0 { return 5 }
            if c.effective != 0 || c.permitted != 0 || c.inheritable != 0 { return 6 }
            if !c.noNewPrivs { return 7 }
            if c.bounding != 0 { return 8 }
            if setuid(0) == 0 { return 9 }
            return 0
        }
        XCTAssertEqual(status, 0, "the child's check that failed (see the body)")
    }

    /// Once dropped, a second drop (back to root) fails with the reason and the fix.
    func testDropWithoutPrivilegeSaysWhyAndTheFix() throws {
        try requireRoot("dropping privileges once first")
        let nobody = try Privileges.target(user: "nobody", group: nil)
        let root = try Privileges.target(user: "root", group: nil)
        let status = inChild {
            do { try Privileges.drop(to: nobody) } catch { return 1 }
            do throws(PrivilegeError) { try Privileges.drop(to: root); return 2 } catch {
                guard error.kind == .drop, error.message.contains("user 'root' (uid 0, gid 0)"),
                      error.message.contains("Operation not permitted"),
                      error.message.contains("run as root") else { return 3 }
            }
            return getuid() == 65534 ? 0 : 4
        }
        XCTAssertEqual(status, 0)
    }

    /// The release guard's limit: root stays root, with only the capabilities kept.
    func testLimitKeepsOnlyTheCapabilitiesAsked() throws {
        try requireRoot("limiting root's capabilities")
        let status = inChild {
            do { try Privileges.limit(keeping: [.netAdmin, .bpf]) } catch { return 1 }
            guard let c = Privileges.current() else { return 2 }
            let kept: UInt64 = 1 << 12 | 1 << 39
            if c.uids != [0, 0, 0] { return 3 }
            if c.effective != kept || c.permitted != kept { return 4 }
            if c.inheritable != 0 { return 5 }
            if c.bounding != kept { return 6 }
            if !c.noNewPrivs { return 7 }
            return 0
        }
        XCTAssertEqual(status, 0, "the child's check that failed (see the body)")
    }
}
