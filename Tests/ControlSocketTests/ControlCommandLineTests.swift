import XCTest
import Nat44
import PacketFormats
@testable import ControlSocket

/// `forwarder ctl`'s command line.
final class ControlCommandLineTests: XCTestCase {
    private func ctl(_ line: String) throws(ControlError) -> ControlCommandLine.Invocation? {
        try ControlCommandLine.parse(line.split(separator: " ").map(String.init))
    }

    func testCtlCommandLines() throws {
        XCTAssertEqual(try ctl("status"), .init(path: nil, name: nil, request: .status(text: true)))
        XCTAssertEqual(try ctl("--name gw status --json"), .init(path: nil, name: "gw", request: .status(text: false), json: true))
        XCTAssertEqual(try ctl("sessions --control /s --protocol udp"),
                       .init(path: "/s", name: nil, request: .sessions(.init(action: .list, filter: .init(proto: .udp)))))
        let filter = NatSessionFilter(inside: .init(address: IPv4Address("10.0.0.2")!, port: 80), outsidePort: 8080)
        XCTAssertEqual(try ctl("sessions delete --inside 10.0.0.2:80 --outside-port 8080")?.request,
                       .sessions(.init(action: .delete, filter: filter)))
        XCTAssertEqual(try ctl("sessions flush")?.request, .sessions(.init(action: .flush)))
        XCTAssertEqual(try ctl("neighbors")?.request, .neighbours)
        XCTAssertNil(try ctl("--help"))
        XCTAssertNil(try ctl("status -h"))
    }

    func testCtlMistakesAreUsageErrors() {
        let bad: [(String, String)] = [
            ("", "which command"), ("frob", "unknown command 'frob'"), ("status extra", "unexpected 'extra' after status"),
            ("sessions zap", "expected list, delete or flush"), ("sessions delete", "needs --inside"),
            ("sessions --inside 10.0.0.300", "--inside '10.0.0.300' is not ADDR"),
            ("sessions --outside-port 0", "--outside-port '0' is not a port"), ("sessions --protocol sctp", "is not tcp, udp or icmp"),
            ("status --protocol tcp", "--protocol only applies to sessions"), ("--control /a --name b status", "do not combine"),
            ("status --control", "--control needs a value"), ("status --bogus", "unknown option '--bogus'"),
        ]
        for (line, expected) in bad {
            XCTAssertThrowsError(try ctl(line), line) { error in
                XCTAssertTrue((error as? ControlError).map { $0.kind == .usage && $0.message.contains(expected) } ?? false, "\(line): \(error)")
            }
        }
    }

    func testSessionLinesForPeople() {
        let line = #"{"protocol":"tcp","inside":"10.0.0.2:80","outside":"203.0.113.1:8080","state":"established","forward":true,"expires_in":7439.6,"worker":1}"#
        XCTAssertEqual(ControlCommandLine.text(line, for: .sessions(.init())),
                       "tcp  10.0.0.2:80  ->  203.0.113.1:8080  established  expires 7440s  forward  worker 1")
        XCTAssertEqual(ControlCommandLine.text(#"{"removed":3}"#, for: .sessions(.init(action: .flush))), "removed=3")
    }
}
