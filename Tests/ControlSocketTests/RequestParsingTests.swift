import XCTest
import Nat44
import PacketFormats
@testable import ControlSocket

final class FlatJSONTests: XCTestCase {
    private func parse(_ text: String) throws -> [String: FlatJSON.Value] { try FlatJSON.parse(Array(text.utf8)) }

    func testValuesOfEveryKind() throws {
        let fields = try parse(#" { "a" : "x\"y\\z\u00e9\ud83d\ude00\n", "b": -12.5e1, "c": true, "d": false, "e": null, "f": 0 } "#)
        XCTAssertEqual(fields["a"], .string("x\"y\\zé😀\n"))
        XCTAssertEqual(fields["b"], .number(-125))
        XCTAssertEqual(fields["c"], .bool(true))
        XCTAssertEqual(fields["d"], .bool(false))
        XCTAssertEqual(fields["e"], .null)
        XCTAssertEqual(fields["f"], .number(0))
        XCTAssertEqual(try parse("{}"), [:])
        XCTAssertEqual(try parse(#"{"ü":"ü"}"#)["ü"], .string("ü"))
    }

    func testRejectsWhatIsNotOneFlatObject() {
        let bad: [(String, String)] = [
            ("", "one JSON object"), ("[]", "one JSON object"), (#"{"a":{}}"#, "nested"), (#"{"a":[1]}"#, "nested"),
            (#"{"a":1,"a":2}"#, "twice"), (#"{"a":1} x"#, "after the object"), (#"{"a":01}"#, "expected ','"),
            (#"{"a":1.}"#, "malformed number"), (#"{"a":-}"#, "malformed number"), (#"{"a":1e999}"#, "out of range"),
            (#"{"a":"\ud800"}"#, "surrogate"), (#"{"a":"\udc00"}"#, "surrogate"), (#"{"a":"\x"}"#, "unknown escape"),
            ("{\"a\":\"\u{01}\"}", "control character"), (#"{"a":tru}"#, "unknown word"), (#"{"a":"x"#, "unterminated"),
            (#"{a:1}"#, "quoted key"), (#"{"a" 1}"#, "':'"), (#"{"a":1,}"#, "quoted key"),
        ]
        for (text, expected) in bad {
            XCTAssertThrowsError(try parse(text), text) { error in
                XCTAssertTrue((error as? FlatJSON.ParseError)?.message.contains(expected) ?? false, "\(text): \(error)")
            }
        }
        XCTAssertThrowsError(try FlatJSON.parse([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])) { error in
            XCTAssertTrue((error as? FlatJSON.ParseError)?.message.contains("UTF-8") ?? false)
        }
    }
}

final class ControlRequestTests: XCTestCase {
    private func parse(_ text: String) throws -> ControlRequest { try ControlRequest.parse(Array(text.utf8)) }

    func testCommands() throws {
        XCTAssertEqual(try parse(#"{"command":"status"}"#), .status(text: false))
        XCTAssertEqual(try parse(#"{"command":"status","text":true}"#), .status(text: true))
        XCTAssertEqual(try parse(#"{"command":"neighbours"}"#), .neighbours)
        XCTAssertEqual(try parse(#"{"command":"forwards"}"#), .forwards)
        XCTAssertEqual(try parse(#"{"command":"reload"}"#), .reload)
        XCTAssertEqual(try parse(#"{"command":"sessions"}"#), .sessions(.init()))
        let query = try parse(#"{"command":"sessions","action":"delete","inside":"10.0.0.2:5000","outside_port":40001,"protocol":"udp"}"#)
        let expected = NatSessionFilter(inside: .init(address: IPv4Address("10.0.0.2")!, port: 5000), outsidePort: 40001, proto: .udp)
        XCTAssertEqual(query, .sessions(.init(action: .delete, filter: expected)))
        XCTAssertEqual(try parse(#"{"command":"sessions","action":"flush"}"#), .sessions(.init(action: .flush)))
    }

    func testMistakesAreNamed() {
        let bad: [(String, String)] = [
            (#"{"command":"frobnicate"}"#, "unknown command \"frobnicate\""),
            (#"{"verb":"status"}"#, "no \"command\""),
            (#"{"command":1}"#, "no \"command\""),
            (#"{"command":"status","inside":"10.0.0.2"}"#, "status takes no \"inside\""),
            (#"{"command":"status","text":1}"#, "\"text\" must be true or false"),
            (#"{"command":"sessions","action":"zap"}"#, "\"action\" must be"),
            (#"{"command":"sessions","action":"delete"}"#, "needs a filter"),
            (#"{"command":"sessions","inside":"10.0.0.256"}"#, "\"inside\" must be"),
            (#"{"command":"sessions","inside":"10.0.0.2:70000"}"#, "\"inside\" must be"),
            (#"{"command":"sessions","remote":"10.0.0.1"}"#, "sessions takes no \"remote\""),
            (#"{"command":"sessions","outside_port":0}"#, "\"outside_port\" must be"),
            (#"{"command":"sessions","outside_port":1.5}"#, "\"outside_port\" must be"),
            (#"{"command":"sessions","outside_port":"80"}"#, "\"outside_port\" must be"),
            (#"{"command":"sessions","protocol":"sctp"}"#, "\"protocol\" must be"),
            (#"{"command":"sessions","color":"red"}"#, "sessions takes no \"color\""),
            ("status", "malformed request"),
        ]
        for (text, expected) in bad {
            XCTAssertThrowsError(try parse(text), text) { error in
                XCTAssertTrue((error as? ControlError)?.message.contains(expected) ?? false, "\(text): \(error)")
            }
        }
    }

    /// What `forwarder ctl` sends is what the server reads back.
    func testLineRoundTrips() throws {
        var random = SplitMix(seed: 7)
        for _ in 0..<2000 {
            let request = random.request()
            XCTAssertEqual(try ControlRequest.parse(Array(request.line.utf8)), request, request.line)
        }
    }

    /// Fuzzing the parser: random bytes and mutations of valid requests are answered with a
    /// request or an error, never a crash or a hang; every accepted line re-encodes to itself.
    func testParserFuzz() {
        var random = SplitMix(seed: 20261208)
        var accepted = 0, refused = 0
        let alphabet = Array(#"{}[]":,\0123456789aeEu-+. "#.utf8)
        for i in 0..<60_000 {
            var bytes: [UInt8]
            if i % 4 == 0 {
                bytes = (0..<random.below(64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = Array(random.request().line.utf8)
                for _ in 0..<random.below(3) {
                    let at = random.below(bytes.count + 1)
                    switch random.below(4) {
                    case 0 where at < bytes.count: bytes[at] ^= UInt8(1 << random.below(8))
                    case 1 where at < bytes.count: bytes.remove(at: at)
                    case 2: bytes.insert(alphabet[random.below(alphabet.count)], at: at)
                    default: bytes = Array(bytes.prefix(at))
                    }
                }
            }
            do {
                let request = try ControlRequest.parse(bytes)
                XCTAssertEqual(try ControlRequest.parse(Array(request.line.utf8)), request)
                accepted += 1
            } catch {
                XCTAssertFalse(error.message.isEmpty)
                refused += 1
            }
        }
        // Both outcomes must occur, or the mutations did not exercise the parser.
        XCTAssertGreaterThan(accepted, 1000)
        XCTAssertGreaterThan(refused, 1000)
    }
}

/// A small deterministic generator (SplitMix64), so that a failure repeats.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    mutating func endpoint() -> NatSessionFilter.Endpoint {
        let address = IPv4Address(UInt32(truncatingIfNeeded: next()))
        return .init(address: address, port: below(2) == 0 ? nil : UInt16(truncatingIfNeeded: next()))
    }

    mutating func request() -> ControlRequest {
        switch below(5) {
        case 0: return .status(text: below(2) == 0)
        case 1: return .neighbours
        case 2: return .forwards
        case 3: return .reload
        default:
            var filter = NatSessionFilter()
            if below(2) == 0 { filter.inside = endpoint() }
            if below(2) == 0 { filter.outsidePort = UInt16(1 + below(65535)) }
            if below(2) == 0 { filter.proto = NatProtocol.allCases[below(3)] }
            var action = ControlRequest.SessionQuery.Action.allCases[below(3)]
            if action == .delete && filter.isEmpty { action = .flush }
            return .sessions(.init(action: action, filter: filter))
        }
    }
}
