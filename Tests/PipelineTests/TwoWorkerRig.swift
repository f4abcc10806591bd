import XCTest
import Synchronization
import BufferCache
import Glibc
@testable import Pipeline
import ProcessControl

// Two workers with hand-off on threads, for HandOffTests and FrameHandOffTests.

/// Owns a frame by its first payload byte (mod the worker count): the shape of NAT's ownership
/// (a field of the frame names the worker), without NAT.
struct OwnerByByte: FrameProcessor {
    let index: Int
    let workers: Int

    mutating func process<A: HeadAllocator & ~Copyable>(
        _ head: PacketHead, from side: Side, now: UInt64, allocator: inout A) -> Verdict {
        let owner = Int(head.data.load(fromByteOffset: 14, as: UInt8.self)) % workers
        return owner == index ? .forward(side.other) : .handOff(worker: owner)
    }
}

/// A 60-byte IPv4 frame whose first payload byte is `owner`.
func ownerFrame(_ owner: UInt8) -> [UInt8] {
    [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00, owner] + (0..<45).map { UInt8($0) }
}

/// What the worker threads report back, and the stop flag they run under.
final class TwoWorkerResults: Sendable {
    let stop = Atomic<Bool>(false)
    let sent0 = Atomic<Int>(0)
    let sent1 = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
}

/// Two workers on threads, each built and run by `body(index, endpoint, slot, results, wake)`
/// (which returns how many frames its port sent), until both have received `frames` and
/// every frame is sent or counted (or 60 s); then stopped and joined. No head may be left on
/// a lane.
func runTwoWorkers(
    frames: Int, laneCapacity: Int,
    body: @escaping @Sendable (Int, HandOffEndpoint, StatsSlot<NoCounters>, TwoWorkerResults, Int32) throws -> Int
) throws -> (stats: [WorkerStats<NoCounters>], sent: [Int]) {
    let mesh = HandOffMesh(workers: 2, laneCapacity: laneCapacity)
    let results = TwoWorkerResults()
    let slots = [StatsSlot<NoCounters>(), StatsSlot<NoCounters>()]
    var wake: [Int32] = [-1, -1]
    XCTAssertEqual(pipe(&wake), 0)
    defer { close(wake[0]); close(wake[1]) }
    let wakeRead = wake[0]
    let threads = (0..<2).map { index in
        JoinableThread(name: "worker test") {
            do {
                let sent = try body(index, HandOffEndpoint(mesh: mesh, index: index), slots[index], results, wakeRead)
                if index == 0 { results.sent0.store(sent, ordering: .relaxed) } else { results.sent1.store(sent, ordering: .relaxed) }
            } catch {
                results.failures.add(1, ordering: .relaxed)
            }
        }
    }
    let deadline = monotonicNanoseconds() + 60_000_000_000
    while monotonicNanoseconds() < deadline {
        let s = slots.compactMap { $0.read() }
        if s.count == 2 {
            let rx = s.map(\.directions.0.rxFrames).reduce(0, +)
            let done = s.map { $0.directions.0.txFrames + $0.directions.0.dropsTotal }.reduce(0, +)
            if rx == UInt64(2 * frames) && done == rx { break }
        }
        usleep(1_000)
    }
    results.stop.store(true, ordering: .relaxed)
    var byte: UInt8 = 1
    XCTAssertEqual(write(wake[1], &byte, 1), 1)
    for t in threads { t.join() }
    XCTAssertEqual(results.failures.load(ordering: .relaxed), 0)
    XCTAssertEqual(mesh.queued, 0, "no head is left on a lane")
    return (try slots.map { try XCTUnwrap($0.read()) }, [results.sent0.load(ordering: .relaxed), results.sent1.load(ordering: .relaxed)])
}

