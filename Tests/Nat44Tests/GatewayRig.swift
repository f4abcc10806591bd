import BufferCache
import PacketFixtures
import Pipeline
import XCTest
@testable import Nat44

/// One gateway on this thread with its neighbours primed (the router and the given inside
/// hosts, by ARP requests for the gateway's addresses): frames go in as bytes and come out as
/// the verdict, the forwarded frame and whatever the gateway generated.
struct GatewayRig: ~Copyable {
    var gateway: NatGateway
    var allocator = PlainAllocator()
    var now: UInt64 = 1_000_000_000

    struct Result {
        let verdict: NatVerdict
        /// The frame as forwarded (nil unless `.forward`).
        let forwarded: [UInt8]?
        /// Frames the gateway generated or released, with their side.
        let generated: [(Side, [UInt8])]
    }

    init(_ config: NatConfig, hosts: [UInt32] = []) {
        gateway = NatGateway(config: config)
        typealias F = TestFrames
        send(F.arpRequest(from: F.router, mac: F.routerMAC, to: F.outsideAddress, vlan: F.outsideVLAN), .outside)
        for h in hosts {
            send(F.arpRequest(from: h, mac: F.hostMAC(h), to: F.insideAddress, vlan: F.insideVLAN), .inside)
        }
    }

    @discardableResult
    mutating func send(_ bytes: [UInt8], _ side: Side) -> Result {
        let head = makeHead(bytes, &allocator)
        let v = gateway.process(head, from: side, now: now, allocator: &allocator)
        var forwarded: [UInt8]?
        if case .forward = v { forwarded = head.frameBytes }
        if v != .consumed { allocator.put(head) }
        var generated: [(Side, [UInt8])] = []
        while let (s, h) = gateway.popOutput() {
            generated.append((s, h.frameBytes))
            allocator.put(h)
        }
        return Result(verdict: v, forwarded: forwarded, generated: generated)
    }

    /// Processes a head the caller keeps (filled anew each time): true when it was forwarded.
    mutating func replay(_ head: PacketHead, from side: Side) -> Bool {
        let v = gateway.process(head, from: side, now: now, allocator: &allocator)
        if case .forward = v { return true }
        return false
    }

    /// Gives back every head; none may be missing.
    mutating func finish(file: StaticString = #filePath, line: UInt = #line) {
        gateway.releaseAll(allocator: &allocator)
        XCTAssertEqual(allocator.counters.gets, allocator.counters.puts, "heads leaked", file: file, line: line)
    }
}
