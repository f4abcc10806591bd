@testable import BufferCache
import Nat44
import PcapngCapture
import Pipeline
@testable import Reports
import XCTest
import XdpIO
@testable import Forwarder

/// The metrics file's text from summary values: HELP and TYPE once per family, before its
/// samples; counters end in `_total`; label values escaped; a snapshot says `running`.
final class MetricsTests: XCTestCase {
    func summary(_ line: String, stop: StopReason = .running) throws -> Summary {
        var d = DirectionCounters()
        d.rxFrames = 10
        d.rxBytes = 600
        d.txFrames = 7
        d.txBytes = 420
        d.drop(.oversize, count: 3)
        var s = Summary(run: try parsedOptions(line).run, totals: Snapshot(directions: (d, DirectionCounters())),
                        pool: HeadPool.Stats(slabs: 1, totalHeads: 256, freeHeads: 250, highWater: 64),
                        kernel: [InterfaceKernelCounters(interface: "eth0", counters: KernelCounters(received: 10, dropped: 1, interfaceDropped: 0)),
                                 InterfaceKernelCounters(interface: "eth1", counters: nil)],
                        elapsed: 2.5, stop: stop)
        s.capture = DropCapture.Counts(written: 2, skipped: 1)
        return s
    }

    func testXdpCountersAreFamiliesPerInterface() throws {
        var s = try summary("eth0 eth1 --io xdp")
        var c = XdpSocketCounters()
        c.rxFrames = 12
        c.txCopied = 2
        c.rxFillRingEmpty = 5
        s.xdp = XdpReport(queues: 0...0, zeroCopy: false, interfaces: [.init(name: "eth0", mode: "generic", counters: c), .init(name: "eth1", mode: "generic", counters: nil)])
        let text = Metrics.text(s, startTime: 1, up: true)
        XCTAssertTrue(text.contains("# TYPE forwarder_xdp_rx_frames_total counter\n"), text)
        XCTAssertTrue(text.contains("forwarder_xdp_rx_frames_total{interface=\"eth0\"} 12\n"), text)
        XCTAssertTrue(text.contains("forwarder_xdp_tx_copied_total{interface=\"eth0\"} 2\n"), text)
        XCTAssertTrue(text.contains("forwarder_xdp_rx_fill_ring_empty_total{interface=\"eth0\"} 5\n"), text)
        XCTAssertFalse(text.contains("forwarder_xdp_rx_frames_total{interface=\"eth1\"}"), "unreadable counters are left out")
        XCTAssertFalse(Metrics.text(try summary("eth0 eth1"), startTime: 1, up: true).contains("forwarder_xdp_"))
    }

    func testFamiliesAreDeclaredOnceBeforeTheirSamples() throws {
        let text = Metrics.text(try summary("eth0 eth1"), startTime: 1_700_000_000.5, up: true)
        XCTAssertTrue(text.hasSuffix("\n"))
        var declared: [String: String] = [:]
        var current = ""
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ").map(String.init)
                XCTAssertNil(declared[parts[2]], "\(parts[2]) declared twice")
                declared[parts[2]] = parts[3]
                current = parts[2]
            } else if !line.hasPrefix("#") {
                let name = String(line.prefix { $0 != "{" && $0 != " " })
                XCTAssertEqual(name, current, "\(line) is not under its TYPE line")
                if declared[name] == "counter" { XCTAssertTrue(name.hasSuffix("_total"), name) }
            }
        }
        XCTAssertEqual(declared["forwarder_drops_total"], "counter")
        XCTAssertEqual(declared["forwarder_pool_heads"], "gauge")
        XCTAssertTrue(text.contains("forwarder_up 1\n"))
        XCTAssertTrue(text.contains("forwarder_start_time_seconds 1700000000.500000\n"))
        XCTAssertTrue(text.contains("forwarder_rx_frames_total{direction=\"in_out\",interface=\"eth0\"} 10\n"))
        XCTAssertTrue(text.contains("forwarder_tx_frames_total{direction=\"out_in\",interface=\"eth0\"} 0\n"))
        XCTAssertTrue(text.contains("forwarder_drops_total{direction=\"in_out\",reason=\"oversize\"} 3\n"))
        XCTAssertTrue(text.contains("forwarder_pool_heads_in_use 6\n"))
        XCTAssertTrue(text.contains("forwarder_pcap_dropped_total{interface=\"eth0\"} 1\n"))
        XCTAssertFalse(text.contains("interface=\"eth1\"} 0\nforwarder_pcap"), "unreadable kernel counters are left out")
        XCTAssertTrue(text.contains("forwarder_capture_skipped_total 1\n"))
        XCTAssertFalse(text.contains("forwarder_nat_"), "no NAT families outside --vlan-nat")
    }

    func testSnapshotSaysRunning() throws {
        let s = try summary("eth0 eth1 --json --capture-drops /tmp/x.pcapng")
        XCTAssertTrue(s.json().contains("\"stopped_by\":\"running\""))
        XCTAssertTrue(s.json().contains("\"capture\":{\"file\":\"/tmp/x.pcapng\",\"written\":2,\"skipped\":1,\"limit\":10000}"))
        XCTAssertTrue(s.textLines()[0].hasPrefix("running for 2.5 s"), s.textLines()[0])
        XCTAssertTrue(try summary("eth0 eth1").json().contains("\"capture\":null"))
    }
}
