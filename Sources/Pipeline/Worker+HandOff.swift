import BufferCache
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The worker's side of hand-off between workers (NAT with several workers): lanes out and in,
/// doorbells, and the stop barrier. See `HandOffMesh`.
extension Worker where A: ~Copyable, P: ~Copyable, IO: ~Copyable {
    /// Waits in poll() for input, the stop pipe, or (with hand-off) the doorbell that another
    /// worker rings when it hands a frame to this one while it sleeps.
    mutating func sleep(_ fds: inout [pollfd]) {
        if let endpoint {
            guard endpoint.mesh.prepareToSleep(endpoint.index) else { return }
        }
        let timeout = processor.idleTimeoutMilliseconds
        let start = monotonicNanoseconds()
        _ = fds.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
        waiting.wakeUps &+= 1
        waiting.sleepNanoseconds &+= monotonicNanoseconds() &- start
        if let endpoint { endpoint.mesh.wake(endpoint.index) }
    }

    /// Stages a frame for the lane to `worker`; `pushStagedHandOffs` puts each destination's
    /// frames on its lane in one push per step (one acquire/release pair on the shared lines per
    /// step, not per frame). A stop under way or no such worker drops it under `hand_off` at
    /// once, a full lane at the push. A head built around a frame of this worker's port (AF_XDP:
    /// its UMEM) travels as a copy (`portable`).
    @inline(__always)
    mutating func handOff(_ item: HandOff, to worker: Int) {
        var item = item
        if IO.buildsHeadsAroundFrames && item.head.isBuiltAroundFrame {
            guard let copy = portable(item.head) else {
                noPortableCopy(item)
                return
            }
            item.head = copy
        }
        guard !closing, worker != handOffIndex, worker >= 0, worker < handOffWorkers else {
            refuseHandOff(item)
            return
        }
        if _slowPath(staged[worker] == stageCapacity) { pushStaged(to: worker) }
        stage[worker * stageCapacity + staged[worker]] = item
        staged[worker] += 1
        handedTo |= 1 << UInt64(worker)
    }

    /// Puts every staged frame on its lane (the workers this step handed frames to are the bits
    /// of `handedTo`).
    mutating func pushStagedHandOffs() {
        var mask = handedTo
        while mask != 0 {
            pushStaged(to: mask.trailingZeroBitCount)
            mask &= mask - 1
        }
    }

    /// Puts the frames staged for `worker` on its lane in one push; what does not fit is a
    /// `hand_off` drop.
    private mutating func pushStaged(to worker: Int) {
        let count = staged[worker]
        guard count > 0, let lanes else { return }
        let items = stage + worker * stageCapacity
        let pushed = lanes[handOffIndex * handOffWorkers + worker].push(items, count: count)
        handOffs.sent &+= UInt64(pushed)
        for i in pushed..<count { refuseHandOff(items[i]) }
        staged[worker] = 0
    }

    @inline(never)
    private mutating func refuseHandOff(_ item: HandOff) {
        handOffs.dropped &+= 1
        directions[item.side.rawValue].drop(.handOff)
        if settings.dropSink != nil { capture(item.head, .handOff, direction: item.side, interface: item.side) }
        retire(item.head)
    }

    @inline(never)
    private mutating func noPortableCopy(_ item: HandOff) {
        directions[item.side.rawValue].drop(.noBuffer)
        if settings.dropSink != nil { capture(item.head, .noBuffer, direction: item.side, interface: item.side) }
        retire(item.head)
    }

    /// The frame in a head with a buffer of its own, and the frame given back to this worker's
    /// port (the put does it): another worker sends from its own UMEM and fills its own rings,
    /// so a UMEM frame cannot cross, as `skb_copy` makes a private skb of a borrowed one. The
    /// originals go back with the step's other heads, in one bulk put. nil when no head can be
    /// had or the frame does not fit one; the original is the caller's then.
    @inline(never)
    private mutating func portable(_ head: PacketHead) -> PacketHead? {
        guard let copy = allocator.get() else { return nil }
        guard head.length <= copy.tailroomLimit else {
            allocator.put(copy)
            return nil
        }
        copy.data.copyMemory(from: head.data, byteCount: head.length)
        copy.meta.pointee.length = head.meta.pointee.length
        copy.meta.pointee.wireLength = head.meta.pointee.wireLength
        retire(head)
        return copy
    }

    /// Takes up to a burst off each lane into this worker and processes it as the owner. A frame
    /// handed over is not handed on again (that would be a processor's bug, and could cycle):
    /// such a verdict is a `hand_off` drop. Returns the largest batch taken.
    @inline(never)
    mutating func receiveHandOffs(now: UInt64) -> Int {
        guard let lanes else { return 0 }
        let me = handOffIndex, n = handOffWorkers
        var largest = 0
        for from in 0..<n where from != me {
            let count = lanes[from * n + me].pop(into: inbox, count: settings.burst)
            largest = max(largest, count)
            for i in 0..<count {
                let item = inbox[i]
                handOffs.received &+= 1
                let verdict = processor.processHandedOff(item, now: now, allocator: &allocator)
                if case .handOff = verdict {
                    handOffs.dropped &+= 1
                    directions[item.side.rawValue].drop(.handOff)
                    retire(item.head)
                } else {
                    dispose(item.head, verdict, from: item.side, now: now)
                }
            }
        }
        return largest
    }

    /// Stages the hand-offs the processor asks for, then pushes everything staged this step.
    mutating func collectHandOffs() {
        while let request = processor.popHandOff() { handOff(request.handOff, to: request.worker) }
        pushStagedHandOffs()
    }

    mutating func ringDoorbells() {
        guard let endpoint else { return }
        var mask = handedTo
        while mask != 0 {
            endpoint.mesh.ring(mask.trailingZeroBitCount)
            mask &= mask - 1
        }
        handedTo = 0
    }

    /// The stop barrier: says this worker is leaving, then keeps taking its lanes until every
    /// worker has left (no one hands off any more) and once after, so no head stays on a lane.
    /// Bounded: a worker that never leaves is given up on after 2 s.
    mutating func leaveMesh(_ mesh: HandOffMesh) {
        mesh.leave()
        let deadline = monotonicNanoseconds() &+ 2_000_000_000
        var last = false
        while !last {
            last = mesh.allGone || monotonicNanoseconds() > deadline
            let now = monotonicNanoseconds()
            while receiveHandOffs(now: now) > 0 {}
            collectOutput()
            flush(.outside)
            flush(.inside)
            releaseDone()
            if !last { usleep(1000) }
        }
        handedTo = 0
    }
}
