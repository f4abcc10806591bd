import XCTest
@testable import Forwarder
import XdpIO

/// `--io`, `--xdp-mode`, `--xdp-zero-copy`, `--xdp-queue` and what they do not combine with.
final class IOOptionsTests: XCTestCase {
    func usageError(_ line: String) -> String? {
        do { _ = try parsedOptions(line); return nil } catch { return error.message }
    }

    func testDefaultIsPcapAndXdpDefaultsAreAutoCopyQueue0() throws {
        let o = try parsedOptions("a b")
        XCTAssertEqual(o.io, .pcap)
        XCTAssertEqual(o.xdp, XdpOptions())
        XCTAssertEqual(o.xdp.mode, .auto)
        XCTAssertFalse(o.xdp.zeroCopy)
        XCTAssertEqual(o.xdp.queue, 0)
        XCTAssertNil(o.xdpExcludedBy)
    }

    func testEveryXdpOption() throws {
        let o = try parsedOptions("a b --io xdp --xdp-mode native --xdp-zero-copy --xdp-queue 3")
        XCTAssertEqual(o.io, .xdp)
        XCTAssertEqual(o.xdp.mode, .native)
        XCTAssertTrue(o.xdp.zeroCopy)
        XCTAssertEqual(o.xdp.queue, 3)
        XCTAssertEqual(try parsedOptions("a b --io=auto --xdp-mode=generic").xdp.mode, .generic)
        XCTAssertEqual(try parsedOptions("a b --io auto").io, .auto)
        XCTAssertEqual(try parsedOptions("a b --io pcap").io, .pcap)
    }

    func testBadValuesNameTheOption() {
        XCTAssertEqual(usageError("a b --io dpdk"), "--io: 'dpdk' is not an I/O kind; use pcap, xdp or auto")
        XCTAssertEqual(usageError("a b --io xdp --xdp-mode hw"), "--xdp-mode: 'hw' is not a mode; use auto, native or generic")
        XCTAssertNotNil(usageError("a b --io xdp --xdp-queue -1"))
        XCTAssertNotNil(usageError("a b --io xdp --xdp-queue 4096"))
    }

    func testXdpOptionsNeedXdpOrAuto() {
        XCTAssertEqual(usageError("a b --xdp-mode native"), "--xdp-mode only applies with --io xdp or --io auto")
        XCTAssertEqual(usageError("a b --io pcap --xdp-queue 1"), "--xdp-queue only applies with --io xdp or --io auto")
        XCTAssertEqual(usageError("a b --xdp-zero-copy"), "--xdp-zero-copy only applies with --io xdp or --io auto")
        XCTAssertEqual(usageError("a b --io xdp --xdp-mode generic --xdp-zero-copy"),
                       "--xdp-zero-copy needs native XDP: use --xdp-mode native or auto, not generic")
    }

    func testPcapOnlyOptionsAreUsageErrorsWithXdpAndMakeAutoChoosePcap() throws {
        for option in ["--buffer-size 1048576", "--qdisc-bypass on", "--tx-ring off", "--fanout-rollover on",
                       "--fanout-defrag on"] {
            let name = String(option.split(separator: " ")[0])
            XCTAssertEqual(usageError("a b --io xdp \(option)"), "\(name) only applies with --io pcap")
            XCTAssertEqual(try parsedOptions("a b --io auto \(option)").xdpExcludedBy, "\(name) only applies with --io pcap")
        }
        XCTAssertNil(usageError("a b --io xdp --snaplen 1600"), "the snaplen applies to the copy out of the UMEM")
        XCTAssertNil(usageError("a b --io xdp --filter udp"), "the xdp port runs the filter itself")
        XCTAssertNil(try parsedOptions("a b --io auto --filter udp").xdpExcludedBy)
        XCTAssertEqual(usageError("a b --io xdp --filter (")?.hasPrefix("--filter '(': "), true)
    }

    func testXdpRunsAWorkerPerQueue() throws {
        let o = try parsedOptions("a b --io xdp --workers 3 --xdp-queue 2")
        XCTAssertEqual(o.parallel.workers, 3)
        XCTAssertEqual(o.xdp.queue, 2)
        XCTAssertNil(o.xdpExcludedBy)
        XCTAssertNil(try parsedOptions("a b --io auto --workers 2 --vlan-map 1:2").xdpExcludedBy)
        let nat = "a b --vlan-nat --inside 192.168.1.1/24 --outside 203.0.113.1/24 --workers 2"
        XCTAssertEqual(try parsedOptions("\(nat) --io xdp").parallel.workers, 2, "NAT workers hand off copies over xdp")
        XCTAssertEqual(usageError("\(nat) --io xdp --nat-steering none"), "--nat-steering only applies with --io pcap")
        XCTAssertEqual(try parsedOptions("\(nat) --io auto --nat-steering bpf").xdpExcludedBy,
                       "--nat-steering only applies with --io pcap")
    }

    func testUserCombinesWithXdp() throws {
        // The release guard detaches the programs after the drop (XdpReleaseGuard).
        XCTAssertNil(usageError("a b --io xdp --user root"))
        XCTAssertEqual(try parsedOptions("a b --io xdp --user root").privileges?.user, "root")
        XCTAssertNil(try parsedOptions("a b --io auto --user root").xdpExcludedBy)
    }

    func testConfigFileTakesTheXdpOptions() throws {
        let path = NSTemporaryDirectory() + "fwd-io-\(getpid()).conf"
        try "in = a\nout = b\nio = xdp\nxdp-mode = generic\nxdp-queue = 2\nxdp-zero-copy = no\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let o = try parsedOptions("--config \(path)")
        XCTAssertEqual(o.io, .xdp)
        XCTAssertEqual(o.xdp.mode, .generic)
        XCTAssertEqual(o.xdp.queue, 2)
        XCTAssertFalse(o.xdp.zeroCopy)
    }
}
