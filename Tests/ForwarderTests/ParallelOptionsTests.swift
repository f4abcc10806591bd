import XCTest
@testable import Forwarder
import ProcessControl

final class ParallelOptionsTests: XCTestCase {
    func usageError(_ line: String) -> String? {
        do { _ = try parsedOptions(line); return nil } catch { return error.message }
    }

    func testDefaultsAreOneWorkerAndTodaysKernelPath() throws {
        let p = try parsedOptions("eth0 eth1").parallel
        XCTAssertEqual(p.workers, 1)
        XCTAssertNil(p.cpus)
        XCTAssertEqual(p.remoteFrees, .returnHome)
        XCTAssertEqual(p.steering, .bpf)
        XCTAssertTrue(p.txRing, "the TX ring measured the cheaper send path")
        XCTAssertFalse(p.qdiscBypass || p.fanoutRollover || p.fanoutDefrag)
    }

    func testEveryParallelOption() throws {
        let p = try parsedOptions("a b --vlan-nat --inside 10.0.0.1/24 --outside 10.1.0.1/24 --workers 3 --cpus 0 "
            + "--remote-frees adopt --nat-steering none --qdisc-bypass on --tx-ring on --fanout-rollover on --fanout-defrag off").parallel
        XCTAssertEqual(p.workers, 3)
        XCTAssertEqual(p.cpus, [0])
        XCTAssertEqual(p.cpu(forWorker: 2), 0, "workers wrap round the CPU list")
        XCTAssertEqual(p.remoteFrees, .adopt)
        XCTAssertEqual(p.steering, ParallelOptions.Steering.none)
        XCTAssertTrue(p.qdiscBypass && p.txRing && p.fanoutRollover)
        XCTAssertFalse(try parsedOptions("a b --tx-ring off").parallel.txRing)
        XCTAssertFalse(p.fanoutDefrag)
    }

    func testAutoIsOnePerOnlineCPU() throws {
        XCTAssertEqual(try parsedOptions("a b --workers auto").parallel.workers, JoinableThread.onlineCPUs)
    }

    func testBadValuesNameTheOption() {
        XCTAssertEqual(usageError("a b --workers 0"), "--workers: 0 is out of range; use 1 to 64 or auto")
        XCTAssertEqual(usageError("a b --workers x"), "--workers: 'x' is not a number of workers; use 1 to 64 or auto")
        XCTAssertEqual(usageError("a b --workers 65"), "--workers: 65 is out of range; use 1 to 64 or auto")
        XCTAssertEqual(usageError("a b --cpus 1-0"), "--cpus: '1-0' is not a CPU list; use numbers and ranges, e.g. 0,1 or 0-3")
        XCTAssertEqual(usageError("a b --cpus 0,,1"), "--cpus: '0,,1' is not a CPU list; use numbers and ranges, e.g. 0,1 or 0-3")
        XCTAssertTrue(usageError("a b --cpus 4000")?.hasPrefix("--cpus: CPU 4000 is not available to this process") ?? false)
        XCTAssertEqual(usageError("a b --cpus 0,0"), "--cpus: '0,0' names a CPU twice")
        XCTAssertEqual(usageError("a b --remote-frees home"), "--remote-frees: 'home' is not a policy; use adopt or return-home")
        XCTAssertEqual(usageError("a b --qdisc-bypass yes"), "--qdisc-bypass: 'yes' is neither on nor off")
        XCTAssertEqual(usageError("a b --nat-steering none"), "--nat-steering only applies with --vlan-nat")
        XCTAssertEqual(usageError("a b --alloc plain --remote-frees adopt"),
                       "--remote-frees only applies with --alloc cache (plain allocation has no home cache)")
    }
}
