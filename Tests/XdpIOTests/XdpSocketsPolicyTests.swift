import Glibc
import XCTest
@testable import XdpIO

/// The choices around the C binds, with the bind injected: no socket, no root.
final class XdpSocketsPolicyTests: XCTestCase {
    /// Runs `retryingBusy` over `results` (the last one repeats); the attempts and pauses it made.
    func retry(_ results: [Int32]) -> (result: Int32, attempts: Int, pauses: Int) {
        var attempts = 0, pauses = 0
        let result = XdpSockets.retryingBusy(pause: { pauses += 1 }) {
            attempts += 1
            return results[min(attempts, results.count) - 1]
        }
        return (result, attempts, pauses)
    }

    func testABusyQueueIsRetriedUntilItIsFree() {
        let r = retry([-EBUSY, -EBUSY, -EBUSY, 0])
        XCTAssertEqual(r.result, 0)
        XCTAssertEqual(r.attempts, 4)
        XCTAssertEqual(r.pauses, 3, "a pause before each retry, none after success")
    }

    func testBusyStandsAfterTheLastAttempt() {
        let r = retry([-EBUSY])
        XCTAssertEqual(r.result, -EBUSY)
        XCTAssertEqual(r.attempts, XdpSockets.bindAttempts)
        XCTAssertEqual(r.pauses, XdpSockets.bindAttempts - 1)
        XCTAssertEqual(Double(XdpSockets.bindAttempts) * Double(XdpSockets.retryPause) / 1e6, 2, accuracy: 0.001,
                       "the error says 2 s")
    }

    func testOtherErrorsAreNotRetried() {
        let r = retry([-EPERM, 0])
        XCTAssertEqual(r.result, -EPERM)
        XCTAssertEqual(r.attempts, 1)
        XCTAssertEqual(r.pauses, 0)
    }

    /// Binds with `options` starting in `first`, native refused with `refusal`; the modes tried.
    func bind(_ options: XdpOptions, first: XdpOptions.Mode, refusal: Int32 = -EOPNOTSUPP)
        -> (result: Int32, mode: XdpOptions.Mode, tried: [XdpOptions.Mode]) {
        var tried: [XdpOptions.Mode] = []
        let r = XdpSockets.bind(options, first: first) { mode in
            tried.append(mode)
            return mode == .native ? refusal : 0
        }
        return (r.result, r.mode, tried)
    }

    func testAutoFallsBackToGenericWhenTheDriverRefusesNative() {
        let r = bind(XdpOptions(), first: .native)
        XCTAssertEqual(r.tried, [.native, .generic])
        XCTAssertEqual(r.result, 0)
        XCTAssertEqual(r.mode, .generic)
    }

    func testNoFallBackWhenNativeWasAskedForOrZeroCopyOrAnotherError() {
        var native = XdpOptions()
        native.mode = .native
        XCTAssertEqual(bind(native, first: .native).tried, [.native])
        XCTAssertEqual(bind(native, first: .native).result, -EOPNOTSUPP)
        var zeroCopy = XdpOptions()
        zeroCopy.zeroCopy = true
        XCTAssertEqual(bind(zeroCopy, first: .native).tried, [.native], "zero-copy needs native mode")
        XCTAssertEqual(bind(XdpOptions(), first: .native, refusal: -EPERM).tried, [.native])
        XCTAssertEqual(bind(XdpOptions(), first: .generic).tried, [.generic])
    }

    func testAutoTakesGenericOnlyOnAVethWithOneQueueAndNoZeroCopy() {
        var o = XdpOptions()
        XCTAssertEqual(XdpSockets.autoMode(driver: "veth", o), .generic)
        XCTAssertEqual(XdpSockets.autoMode(driver: "ixgbe", o), .native)
        XCTAssertEqual(XdpSockets.autoMode(driver: "", o), .native)
        o.queueCount = 2
        XCTAssertEqual(XdpSockets.autoMode(driver: "veth", o), .native, "generic on veth starves the last queue")
        o.queueCount = 1
        o.zeroCopy = true
        XCTAssertEqual(XdpSockets.autoMode(driver: "veth", o), .native)
    }

    func testBindErrorsSayWhatAndTheFix() {
        var o = XdpOptions()
        o.queue = 2
        let busy = XdpSockets.bindError(EBUSY, interface: "eth9", mode: .generic, o)
        XCTAssertEqual(busy.kind, .busy)
        XCTAssertEqual(busy.message, "eth9: AF_XDP: queue 2: \(String(cString: strerror(EBUSY))) for 2 s (another AF_XDP socket has "
                       + "the queue); stop the other AF_XDP program on the queue, or choose another --xdp-queue")
        let native = XdpSockets.bindError(EOPNOTSUPP, interface: "eth9", mode: .native, o)
        XCTAssertEqual(native.kind, .modeUnsupported)
        XCTAssertTrue(native.message.contains("native XDP refused"), native.message)
        XCTAssertTrue(native.message.hasSuffix("use --xdp-mode generic"), native.message)
        o.zeroCopy = true
        let zeroCopy = XdpSockets.bindError(EINVAL, interface: "eth9", mode: .native, o)
        XCTAssertEqual(zeroCopy.kind, .modeUnsupported)
        XCTAssertTrue(zeroCopy.message.contains("zero-copy AF_XDP refused"), zeroCopy.message)
        let denied = XdpSockets.bindError(EPERM, interface: "eth9", mode: .generic, XdpOptions())
        XCTAssertEqual(denied.kind, .permissionDenied)
        XCTAssertTrue(denied.message.contains("cannot create the AF_XDP socket (generic mode, queue 0)"), denied.message)
        XCTAssertTrue(denied.message.contains("needs CAP_NET_RAW"), denied.message)
    }

    func testUmemErrorsTellMemlockFromSizes() {
        let memlock = XdpSockets.umemError(ENOBUFS, registering: true, interface: "eth9", XdpOptions())
        XCTAssertEqual(memlock.kind, .memlock)
        XCTAssertTrue(memlock.message.contains("cannot register the UMEM (8192 KiB)"), memlock.message)
        var o = XdpOptions()
        o.ringSize = 100
        let sizes = XdpSockets.umemError(EINVAL, registering: false, interface: "eth9", o)
        XCTAssertEqual(sizes.kind, .other)
        XCTAssertTrue(sizes.message.contains("ring size 100 (a power of two >= 64)"), sizes.message)
        XCTAssertTrue(XdpSockets.umemError(EAFNOSUPPORT, registering: true, interface: "eth9", XdpOptions())
            .message.contains("CONFIG_XDP_SOCKETS"))
    }
}
