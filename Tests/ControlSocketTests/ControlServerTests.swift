import XCTest
import Synchronization
@testable import ControlSocket
#if canImport(Glibc)
import Glibc
#endif

final class ControlServerTests: XCTestCase {
    private var directory = ""

    override func setUp() {
        var template = Array("/tmp/forwarder-control-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    override func tearDown() {
        if let d = opendir(directory) {
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name != "." && name != ".." { unlink(directory + "/" + name) }
            }
            closedir(d)
        }
        rmdir(directory)
    }

    private func server(_ path: String, limits: ControlServer.Limits = .init(),
                        handler: @escaping @Sendable (ControlRequest) -> ControlAnswer) throws -> ControlServer {
        let s = ControlServer(listener: try ControlListener(path: path), limits: limits, handler: handler)
        s.start()
        return s
    }

    /// A raw client: connects, and reads with a deadline.
    private func connectRaw(_ path: String) throws -> Int32 {
        let fd = UnixSocketAddress.streamSocket(nonBlocking: false)
        let address = try UnixSocketAddress(path)
        XCTAssertEqual(address.withSockaddr { connect(fd, $0, $1) }, 0)
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    private func sendRaw(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        XCTAssertEqual(bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }, bytes.count)
    }

    /// Everything until the peer closes (or the 5 s receive timeout: then nil).
    private func readToClose(_ fd: Int32) -> String? {
        var all: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return String(decoding: all, as: UTF8.self) }
            if n < 0 { return errno == ECONNRESET ? String(decoding: all, as: UTF8.self) : nil }
            all += buffer[0..<n]
        }
    }

    private func readLine(_ fd: Int32) -> String? {
        var line: [UInt8] = [], byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == 0x0A { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return nil
    }

    func testAnswersInLinesThenTheVerdict() throws {
        let path = directory + "/a.sock"
        let s = try server(path) { request in
            switch request {
            case .status: return .lines([#"{"state":"running"}"#])
            case .sessions(let q):
                let left = Mutex(3)
                let action = q.action.rawValue
                return .chunks { left.withLock { n in
                    guard n > 0 else { return q.action == .delete ? .failed("worker 1 did not answer") : .end }
                    n -= 1
                    return .lines([#"{"n":\#(n),"action":"\#(action)"}"#, #"{"n":\#(n)}"#])
                } }
            default: return .failure("not here")
            }
        }
        defer { s.stop() }
        var lines: [String] = []
        var outcome = try ControlClient.send(.status(text: false), to: path) { lines.append($0) }
        XCTAssertEqual(lines, [#"{"state":"running"}"#])
        XCTAssertEqual(outcome, .init(lines: 1, error: nil))
        lines = []
        outcome = try ControlClient.send(.sessions(.init(action: .flush)), to: path) { lines.append($0) }
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(lines.first, #"{"n":2,"action":"flush"}"#)
        XCTAssertEqual(outcome, .init(lines: 6, error: nil))
        lines = []
        outcome = try ControlClient.send(.sessions(.init(action: .delete, filter: .init(outsidePort: 4))), to: path) { lines.append($0) }
        XCTAssertEqual(lines.count, 6, "the lines made before the failure are sent")
        XCTAssertEqual(outcome, .init(lines: 0, error: "worker 1 did not answer"))
        outcome = try ControlClient.send(.reload, to: path) { _ in XCTFail("no data lines") }
        XCTAssertEqual(outcome, .init(lines: 0, error: "not here"))
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o660)
    }

    /// A bad request is answered and the connection stays usable; requests sent together are
    /// answered in turn.
    func testMalformedAndUnknownRequestsAreAnsweredNotFatal() throws {
        let path = directory + "/b.sock"
        let s = try server(path) { _ in .lines([#"{"fine":true}"#]) }
        defer { s.stop() }
        let fd = try connectRaw(path)
        defer { close(fd) }
        sendRaw(fd, "not json\n{\"command\":\"zap\"}\r\n{\"command\":\"status\"}\n")
        XCTAssertTrue(readLine(fd)?.hasPrefix(#"{"ok":false,"error":"malformed request"#) ?? false)
        XCTAssertEqual(readLine(fd), #"{"ok":false,"error":"unknown command \"zap\" (one of status, sessions, neighbours, forwards, reload)"}"#)
        XCTAssertEqual(readLine(fd), #"{"fine":true}"#)
        XCTAssertEqual(readLine(fd), #"{"ok":true,"lines":1}"#)
    }

    func testOversizedRequestIsRefusedAndClosed() throws {
        let path = directory + "/c.sock"
        let s = try server(path) { _ in .lines([]) }
        defer { s.stop() }
        let fd = try connectRaw(path)
        defer { close(fd) }
        sendRaw(fd, String(repeating: "x", count: ControlRequest.maximumLength + 100))
        XCTAssertEqual(readToClose(fd), #"{"ok":false,"error":"request longer than 4096 bytes"}"# + "\n")
    }

    func testSilentClientIsDroppedAfterTheIdleTimeout() throws {
        let path = directory + "/d.sock"
        var limits = ControlServer.Limits()
        limits.idleSeconds = 0.3
        let s = try server(path, limits: limits) { _ in .lines([]) }
        defer { s.stop() }
        let fd = try connectRaw(path)
        defer { close(fd) }
        sendRaw(fd, #"{"command":"sta"#)
        let start = DispatchTime.now().uptimeNanoseconds
        XCTAssertEqual(readToClose(fd), "")
        XCTAssertLessThan(DispatchTime.now().uptimeNanoseconds - start, 3_000_000_000)
    }

    /// A client that asks for an endless answer and never reads: the answer is made only as far
    /// as the buffers hold, and the connection is dropped when it stalls.
    func testClientThatNeverReadsCostsABoundedAmount() throws {
        let path = directory + "/e.sock"
        var limits = ControlServer.Limits()
        limits.stallSeconds = 0.5
        let made = Atomic<Int>(0)
        let line = "{\"pad\":\"" + String(repeating: "p", count: 1000) + "\"}"
        let s = try server(path, limits: limits) { _ in
            .chunks { made.add(1, ordering: .relaxed); return .lines([line]) }
        }
        defer { s.stop() }
        let fd = try connectRaw(path)
        sendRaw(fd, #"{"command":"status"}"# + "\n")
        usleep(1_500_000)
        let produced = made.load(ordering: .relaxed)
        // The server's output buffer and the client socket's send buffer (clientSendBuffer, which
        // the kernel doubles) hold a few hundred KiB; an unbounded producer would be far past this.
        let bound = limits.outputBytes + 2 * ControlServer.clientSendBuffer + 2 * line.count
        XCTAssertLessThan(produced * (line.count + 1), bound, "made \(produced) lines for a client that reads nothing")
        XCTAssertGreaterThan(produced, 0)
        // The connection was abandoned: after draining what is buffered, the server has closed it.
        var buffer = [UInt8](repeating: 0, count: 65536), total = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { XCTAssertEqual(n, 0, "expected the server to close, errno \(errno)"); break }
            total += n
            if total > 16 << 20 { XCTFail("the server went on sending to a client it should have dropped"); break }
        }
        close(fd)
        XCTAssertLessThan(total, produced * (line.count + 1) + 1)
        usleep(100_000)
        XCTAssertEqual(made.load(ordering: .relaxed), produced, "nothing more made after the drop")
    }

    func testStaleSocketIsReplacedLiveOneIsNot() throws {
        let path = directory + "/f.sock"
        // A socket file whose listener is gone, as a killed forwarder leaves it.
        let stale = UnixSocketAddress.streamSocket(nonBlocking: false)
        XCTAssertEqual(try UnixSocketAddress(path).withSockaddr { bind(stale, $0, $1) }, 0)
        close(stale)
        let first = try server(path) { _ in .lines(["{}"]) }
        XCTAssertThrowsError(try ControlListener(path: path)) { error in
            XCTAssertTrue((error as? ControlError)?.message.contains("another forwarder is running") ?? false, "\(error)")
        }
        // The refused second instance left the first one's socket working.
        XCTAssertEqual(try ControlClient.send(.status(text: false), to: path) { _ in }, .init(lines: 1, error: nil))
        first.stop()
        var st = stat()
        XCTAssertNotEqual(stat(path, &st), 0, "the socket file is removed at stop")
    }

    func testPathThatIsNotASocketIsLeftAlone() throws {
        let path = directory + "/g.sock"
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        close(fd)
        XCTAssertThrowsError(try ControlListener(path: path)) { error in
            XCTAssertTrue((error as? ControlError)?.message.contains("exists and is not a socket") ?? false, "\(error)")
        }
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
    }

    func testClientErrorsNameTheSocketAndTheFix() throws {
        let path = directory + "/h.sock"
        XCTAssertThrowsError(try ControlClient.send(.status(text: false), to: path) { _ in }) { error in
            XCTAssertEqual((error as? ControlError)?.message,
                           "\(path): no control socket here: is the forwarder running? (name it with --name, or give its --control path)")
        }
        let stale = UnixSocketAddress.streamSocket(nonBlocking: false)
        XCTAssertEqual(try UnixSocketAddress(path).withSockaddr { bind(stale, $0, $1) }, 0)
        close(stale)
        XCTAssertThrowsError(try ControlClient.send(.status(text: false), to: path) { _ in }) { error in
            XCTAssertTrue((error as? ControlError)?.message.contains("nothing answers") ?? false, "\(error)")
        }
    }

    func testTooManyClientsAreToldSo() throws {
        let path = directory + "/i.sock"
        var limits = ControlServer.Limits()
        limits.clients = 2
        let s = try server(path, limits: limits) { _ in .lines([]) }
        defer { s.stop() }
        let a = try connectRaw(path), b = try connectRaw(path)
        usleep(100_000)
        let c = try connectRaw(path)
        XCTAssertEqual(readToClose(c), #"{"ok":false,"error":"too many control clients (2); try again"}"# + "\n")
        for fd in [a, b, c] { close(fd) }
    }
}
