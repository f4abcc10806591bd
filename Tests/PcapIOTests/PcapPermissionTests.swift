import Foundation
import PcapIO
import VethFixtures
import XCTest

/// Without CAP_NET_RAW an open is `.permissionDenied` and the message gives the fix. The test
/// runs itself again in a child without the capability (root keeps its uid, so the build
/// directory stays readable; only the capability bounding set shrinks).
final class PcapPermissionTests: XCTestCase {
    private static let childVariable = "PCAPIO_TEST_WITHOUT_CAP_NET_RAW"

    func testOpenWithoutCapNetRawIsPermissionDeniedWithTheFix() throws {
        if ProcessInfo.processInfo.environment[PcapPermissionTests.childVariable] == "1" {
            return try checkInChild()
        }
        try requireRoot("AF_PACKET sockets and creating veth pairs")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["setpriv", "--bounding-set=-net_raw,-net_admin", CommandLine.arguments[0],
                             "PcapIOTests.PcapPermissionTests/testOpenWithoutCapNetRawIsPermissionDeniedWithTheFix"]
        process.environment = ProcessInfo.processInfo.environment.merging([PcapPermissionTests.childVariable: "1"]) { $1 }
        let output = Pipe()
        (process.standardOutput, process.standardError) = (output, output)
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("Executed 1 test, with 0 failures"), text)
    }

    private func checkInChild() throws {
        do {
            _ = try PcapPort.Handle(name: "lo", options: CaptureOptions())
            XCTFail("opened lo without CAP_NET_RAW")
        } catch {
            XCTAssertEqual(error.kind, .permissionDenied, error.message)
            XCTAssertTrue(error.message.hasPrefix("lo: permission denied"), error.message)
            XCTAssertTrue(error.message.contains("sudo setcap cap_net_raw,cap_net_admin+ep $(command -v forwarder)"),
                          error.message)
        }
    }
}
