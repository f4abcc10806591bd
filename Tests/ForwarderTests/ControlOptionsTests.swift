import XCTest
@testable import Forwarder
import ControlSocket
import Nat44
import PacketFormats

/// `--name` and `--control`.
final class ControlOptionsTests: XCTestCase {
    func testNameAndControlOptions() throws {
        var o = try parsedOptions("eth0 eth1")
        XCTAssertEqual(o.name, "eth0-eth1")
        XCTAssertEqual(o.control?.path(name: o.name), "/run/forwarder/eth0-eth1.sock")
        o = try parsedOptions("eth0 eth1 --name gw")
        XCTAssertEqual(o.control?.path(name: o.name), "/run/forwarder/gw.sock")
        o = try parsedOptions("eth0 eth1 --name gw --control /tmp/x.sock")
        XCTAssertEqual(o.control?.path(name: o.name), "/tmp/x.sock")
        XCTAssertNil(try parsedOptions("eth0 eth1 --control none").control)
        for bad in ["", ".hidden", "a/b", String(repeating: "n", count: 65), "sp ace"] {
            XCTAssertThrowsError(try Options.build([.init(name: "in", value: "a"), .init(name: "out", value: "b"),
                                                    .init(name: "name", value: bad)]), bad) { error in
                XCTAssertTrue((error as? UsageError)?.message.hasPrefix("--name: '\(bad)' is not a name") ?? false, "\(error)")
            }
        }
        XCTAssertThrowsError(try parsedOptions("a b --control /tmp/dir/")) { error in
            XCTAssertEqual((error as? UsageError)?.message, "--control: '/tmp/dir/' is not a file path")
        }
    }
}
