@testable import BufferCache
import Foundation
import Nat44
import Pipeline
@testable import Reports
import Telemetry
import XCTest
import XdpIO
@testable import Forwarder

/// The stats line and the summaries are built from values only (snapshots, pool and kernel
/// counters), so they can be checked without running a worker.
final class SummaryTests: XCTestCase {
    func snapshot(frames: UInt64, drops: UInt64 = 0) -> Snapshot {
        var d = DirectionCounters()
        d.rxFrames = frames + drops
        d.rxBytes = (frames + drops) * 60
        d.txFrames = frames
        d.txBytes = frames * 60
        d.drop(.oversize, count: drops)
        var a = AllocatorCounters()
        a.gets = frames + drops
        a.hits = frames + drops - 2
        a.refills = 2
        a.puts = frames + drops
        return Snapshot(directions: (d, DirectionCounters()), allocator: a, nat: nil)
    }

    func testJSONSummaryCarriesTheCountersItWasGiven() throws {
        let o = try parsedOptions("eth0 eth1 --one-way --cache-preset kernel-2025 --json")
        let pool = HeadPool.Stats(slabs: 1, totalHeads: 256, freeHeads: 256, highWater: 64)
        let summary = Summary(run: o.run, totals: snapshot(frames: 1000, drops: 3), pool: pool,
                              kernel: [InterfaceKernelCounters(interface: "eth0", counters: KernelCounters(received: 1003, dropped: 0, interfaceDropped: 0)),
                                       InterfaceKernelCounters(interface: "eth1", counters: nil)],
                              elapsed: 2.5, stop: .signal(2))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any])
        XCTAssertEqual(json["mode"] as? String, "l2")
        XCTAssertEqual(json["alloc"] as? String, "cache")
        XCTAssertEqual(json["stopped_by"] as? String, "SIGINT")
        XCTAssertTrue(json["error"] is NSNull)
        let directions = try XCTUnwrap(json["directions"] as? [[String: Any]])
        XCTAssertEqual(directions.count, 1, "--one-way has one direction")
        XCTAssertEqual(directions[0]["tx_frames"] as? Int, 1000)
        XCTAssertEqual(directions[0]["drops"] as? Int, 3)
        let reasons = try XCTUnwrap(directions[0]["drops_by_reason"] as? [String: Int])
        XCTAssertEqual(Set(reasons.keys), ["tx_failed", "oversize", "no_buffer", "vlan_unmapped", "malformed",
                                           "no_headroom", "nat", "hand_off"])
        XCTAssertEqual(reasons["oversize"], 3)
        let cache = try XCTUnwrap(json["cache"] as? [String: Any])
        XCTAssertEqual(cache["preset"] as? String, "kernel-2025")
        XCTAssertEqual(cache["refills"] as? Int, 2)
        XCTAssertEqual(cache["pool_heads"] as? Int, 256)
        let pcap = try XCTUnwrap(json["pcap"] as? [String: [String: Int]])
        XCTAssertEqual(pcap["eth0"]?["received"], 1003)
        XCTAssertEqual(pcap["eth1"], [:], "counters that could not be read are left out")
        XCTAssertTrue(json["nat"] is NSNull)
    }

    func testXdpSocketCountersAreInTextAndJSON() throws {
        let o = try parsedOptions("eth0 eth1 --io xdp --workers 2 --xdp-queue 1 --json")
        var c = XdpSocketCounters()
        c.rxFrames = 100
        c.txFrames = 90
        c.txCopied = 2
        c.recycled = 10
        c.rxDropped = 7
        c.rxFillRingEmpty = 7
        var summary = Summary(run: o.run, totals: snapshot(frames: 90), pool: nil, kernel: [], elapsed: 1, stop: .duration)
        summary.xdp = XdpReport(queues: 1...2, zeroCopy: false,
                                interfaces: [.init(name: "eth0", mode: "native", counters: c + c), .init(name: "eth1", mode: "generic", counters: nil)])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any])
        XCTAssertEqual(json["io"] as? String, "xdp")
        let xdp = try XCTUnwrap(json["xdp"] as? [String: Any])
        XCTAssertEqual(xdp["first_queue"] as? Int, 1)
        XCTAssertEqual(xdp["last_queue"] as? Int, 2)
        let interfaces = try XCTUnwrap(xdp["interfaces"] as? [String: [String: Any]])
        XCTAssertEqual(interfaces["eth0"]?["mode"] as? String, "native")
        XCTAssertEqual(interfaces["eth0"]?["rx_frames"] as? Int, 200, "the workers' pairs summed")
        XCTAssertEqual(interfaces["eth0"]?["tx_copied"] as? Int, 4)
        XCTAssertEqual(interfaces["eth0"]?["rx_fill_ring_empty"] as? Int, 14)
        XCTAssertEqual(interfaces["eth1"]?.count, 1, "unreadable counters are left out: \(interfaces["eth1"] ?? [:])")
        let lines = summary.textLines().filter { $0.hasPrefix("  xdp ") }
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(lines[0].hasPrefix("  xdp eth0 (native, queues 1-2, copy): rx 200, tx 180 (4 copied)"), lines[0])
        XCTAssertTrue(lines[0].contains("kernel drops 14 (RX ring full 0, fill ring empty 14)"), lines[0])
        XCTAssertTrue(lines[1].hasSuffix("counters unreadable"), lines[1])
        let pcap = Summary(run: try parsedOptions("eth0 eth1 --json").run, totals: snapshot(frames: 10), pool: nil,
                           kernel: [], elapsed: 1, stop: .duration)
        let pj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(pcap.json().utf8)) as? [String: Any])
        XCTAssertEqual(pj["io"] as? String, "pcap")
        XCTAssertTrue(pj["xdp"] is NSNull)
    }

    func testErrorStopIsReportedInTextAndJSON() throws {
        let o = try parsedOptions("eth0 eth1 --alloc plain")
        let summary = Summary(run: o.run, totals: snapshot(frames: 5), pool: nil, kernel: [], elapsed: 1,
                              stop: .error("eth1: receive failed: network is down"))
        XCTAssertTrue(summary.textLines()[0].hasPrefix("stopped after an error after 1.0 s"))
        XCTAssertTrue(summary.textLines().contains { $0.hasPrefix("  plain allocator: 5 heads allocated") })
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any])
        XCTAssertEqual(json["stopped_by"] as? String, "error")
        XCTAssertEqual(json["error"] as? String, "eth1: receive failed: network is down")
        XCTAssertTrue(json["cache"] is NSNull)
    }

    func testStatsLineGivesTheRatesOfTheInterval() throws {
        let o = try parsedOptions("eth0 eth1 --one-way")
        var line = StatsLine(run: o.run, startTime: 0, pool: true)
        _ = line.next(now: 1_000_000_000, workers: [WorkerSnapshot(index: 0, cpu: nil, totals: snapshot(frames: 1000))])
        let text = line.next(now: 2_000_000_000,
                             workers: [WorkerSnapshot(index: 0, cpu: nil, totals: snapshot(frames: 3000, drops: 7))])
        XCTAssertEqual(text, "[2.0s] in->out 2.0 kpps 1.0 Mbps drops oversize 7 | cache hit 100.00% refills 0 flushes 0")
    }

    func testStatsLineShowsEachWorkerCompactly() throws {
        let o = try parsedOptions("eth0 eth1 --one-way --workers 2")
        var line = StatsLine(run: o.run, startTime: 0, pool: true)
        let text = line.next(now: 1_000_000_000, workers: [
            WorkerSnapshot(index: 0, cpu: 0, totals: snapshot(frames: 3000)),
            WorkerSnapshot(index: 1, cpu: 1, totals: snapshot(frames: 1000)),
        ])
        XCTAssertTrue(text.hasPrefix("[1.0s] in->out 4.0 kpps"), text)
        XCTAssertTrue(text.hasSuffix(" | workers rx kpps 3.0/1.0"), text)
    }

    /// The totals the summary shows are the workers' figures summed, field by field.
    func testSummaryTotalsAreTheSumOfTheWorkers() throws {
        let o = try parsedOptions("eth0 eth1 --one-way --workers 2 --remote-frees adopt --json")
        var a = snapshot(frames: 700, drops: 1), b = snapshot(frames: 300)
        a.handOffs.sent = 5
        b.handOffs.received = 4
        b.handOffs.dropped = 1
        b.allocator.adopted = 4
        let workers = [WorkerSnapshot(index: 0, cpu: nil, totals: a), WorkerSnapshot(index: 1, cpu: nil, totals: b)]
        var summary = Summary(run: o.run, totals: a + b, pool: HeadPool.Stats(slabs: 1, totalHeads: 256, freeHeads: 256, highWater: 64),
                              kernel: [], elapsed: 1, stop: .duration)
        summary.workers = workers
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(summary.json().utf8)) as? [String: Any])
        XCTAssertEqual(json["remote_frees_policy"] as? String, "adopt")
        let list = try XCTUnwrap(json["workers"] as? [[String: Any]])
        XCTAssertEqual(list.map { $0["worker"] as? Int }, [0, 1])
        XCTAssertEqual(list.map { $0["rx_frames"] as? Int }, [701, 300])
        XCTAssertEqual(list.map { $0["hand_offs_sent"] as? Int }, [5, 0])
        XCTAssertEqual(list.map { $0["hand_off_drops"] as? Int }, [0, 1])
        XCTAssertEqual(list.map { $0["remote_frees"] as? Int }, [0, 4])
        let directions = try XCTUnwrap(json["directions"] as? [[String: Any]])
        XCTAssertEqual(directions[0]["rx_frames"] as? Int, 1001)
        XCTAssertEqual((json["cache"] as? [String: Any])?["adopted"] as? Int, 4)
        XCTAssertEqual((json["cache"] as? [String: Any])?["remote_frees"] as? Int, 4, "adopted heads are remote frees too")
        let lines = summary.textLines()
        XCTAssertTrue(lines.contains("  worker 1: rx 300 frames, tx 300 frames, dropped 0, hand-offs sent 0 received 4 dropped 1, remote frees 4"),
                      lines.joined(separator: "\n"))
    }
}
