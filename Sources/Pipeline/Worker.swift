import BufferCache
import PacketFormats
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Settings every worker shares.
public struct WorkerSettings: Sendable {
    /// Frames per RX burst and per sendmmsg.
    public var burst = 32
    /// Spin instead of sleeping in poll() when idle.
    public var busyPoll = false
    /// Largest IP MTU of each port (index `Side.rawValue`); a frame bigger than this plus its
    /// link header is dropped as oversize rather than handed to a send that would fail.
    public var mtu: (Int, Int) = (1500, 1500)
    /// How often a send that found the socket buffer full is retried before the rest of the
    /// burst is dropped.
    public var txRetries = 16
    /// Names for messages ("in", "out" or the interface names).
    public var portNames: (String, String) = ("in", "out")
    /// Where the worker's warnings go (at most one every 10 s per kind); nil drops them.
    public var warn: (@Sendable (String) -> Void)?
    /// Where dropped frames go (`--capture-drops`); nil (the default) costs one test per drop.
    public var dropSink: (any DropSink)?

    public init() {}
}

/// One poll loop: receives bursts on its input sides, runs each frame through the processor,
/// sends bursts on the output sides, and frees every head in bulk, as a NAPI poll does.
/// Generic over the allocator, the processor and the port so that each combination is
/// specialised: the per-frame path has no existential, no reference counting, no allocation.
public struct Worker<A: HeadAllocator & ~Copyable, P: FrameProcessor & ~Copyable, IO: PacketPort & ~Copyable>: ~Copyable {
    public var allocator: A
    public var processor: P
    public var inPort: IO
    public var outPort: IO
    /// The sides this worker receives on: one (a direction) or both (NAT). A count and a pair
    /// rather than an array: iterating an array in unspecialised (debug) generic code allocates.
    private let inputCount: Int
    private let inputSides: (Side, Side)
    public let settings: WorkerSettings
    public let slot: StatsSlot<P.Counters>

    /// Counters of the two directions, indexed by the input side's raw value. Behind a pointer
    /// so the per-frame path updates them in place while calling other mutating methods.
    let directions: UnsafeMutablePointer<DirectionCounters>
    /// Per input side: heads ready for the next RX (kept between bursts, topped up before each).
    private let reserve: (UnsafeMutablePointer<PacketHead>, UnsafeMutablePointer<PacketHead>)
    private var reserveCount = (0, 0)
    /// Per output side: heads queued for the next send.
    private let txQueue: (UnsafeMutablePointer<PacketHead>, UnsafeMutablePointer<PacketHead>)
    private var txCount = (0, 0)
    private let txCapacity: Int
    /// Heads to give back at the end of the burst.
    private let done: UnsafeMutablePointer<PacketHead>
    private var doneCount = 0
    private let doneCapacity: Int
    private var lastPublish: UInt64 = 0
    private var lastOversizeWarning: UInt64 = 0

    /// Hand-off (several workers sharing state, NAT): this worker's place among the others,
    /// their lanes, and what arrived on them this pass.
    let endpoint: HandOffEndpoint?
    /// The endpoint as plain values, so the per-frame path reads no class: this worker's index,
    /// the number of workers (0 without hand-off) and the mesh's lanes.
    let handOffIndex: Int
    let handOffWorkers: Int
    let lanes: UnsafeMutablePointer<SPSCRing<HandOff>>?
    let inbox: UnsafeMutablePointer<HandOff>
    /// Frames handed off this step, per destination worker (`stageCapacity` each), pushed on
    /// their lanes once per step; `staged[w]` of them for worker w.
    let stage: UnsafeMutablePointer<HandOff>
    let staged: UnsafeMutablePointer<Int>
    let stageCapacity: Int
    var handOffs = HandOffCounters()
    /// Workers this pass handed frames to (bit per worker): their stages are pushed and their
    /// doorbells rung after it.
    var handedTo: UInt64 = 0
    /// Set by `finish`: frames that would be handed off now are dropped, so that once every
    /// worker has left the mesh nothing more arrives on any lane.
    var closing = false
    /// Jobs from the control socket, run between bursts (`WorkerMailbox`).
    private let mailbox: WorkerMailbox<P>?

    public init(allocator: consuming A, processor: consuming P, inPort: consuming IO, outPort: consuming IO,
                inputs: [Side], settings: WorkerSettings, slot: StatsSlot<P.Counters>,
                handOff endpoint: HandOffEndpoint? = nil, mailbox: WorkerMailbox<P>? = nil) {
        self.allocator = allocator
        self.processor = processor
        self.inPort = inPort
        self.outPort = outPort
        precondition(inputs.count == 1 || inputs.count == 2, "a worker receives on one or two sides")
        inputCount = inputs.count
        inputSides = (inputs[0], inputs[inputs.count - 1])
        self.settings = settings
        self.slot = slot
        directions = .allocate(capacity: 2)
        directions.initialize(repeating: DirectionCounters(), count: 2)
        let b = settings.burst
        reserve = (.allocate(capacity: b), .allocate(capacity: b))
        // Room for two bursts forwarded plus what a processor generates in one loop.
        txCapacity = 2 * b + 64
        txQueue = (.allocate(capacity: txCapacity), .allocate(capacity: txCapacity))
        doneCapacity = 2 * txCapacity + 2 * b
        done = .allocate(capacity: doneCapacity)
        self.endpoint = endpoint
        self.mailbox = mailbox
        handOffIndex = endpoint?.index ?? 0
        handOffWorkers = endpoint?.mesh.workers ?? 0
        lanes = endpoint?.mesh.lanes
        inbox = .allocate(capacity: b)
        // Two bursts received per step; a destination whose stage fills is pushed early.
        stageCapacity = 2 * b
        stage = .allocate(capacity: max(1, handOffWorkers) * stageCapacity)
        staged = .allocate(capacity: max(1, handOffWorkers))
        staged.initialize(repeating: 0, count: max(1, handOffWorkers))
    }

    deinit {
        directions.deallocate()
        reserve.0.deallocate(); reserve.1.deallocate()
        txQueue.0.deallocate(); txQueue.1.deallocate()
        done.deallocate()
        inbox.deallocate()
        stage.deallocate()
        staged.deallocate()
    }

    // MARK: the loop

    /// Runs until `stop` is set; `wakeDescriptor` becomes readable when it is.
    public mutating func run(stop: borrowing Atomic<Bool>, wakeDescriptor: Int32) throws(PortError) {
        var fds = [pollfd(fd: pollDescriptor(inputSides.0), events: Int16(POLLIN), revents: 0)]
        if inputCount == 2 { fds.append(pollfd(fd: pollDescriptor(inputSides.1), events: Int16(POLLIN), revents: 0)) }
        fds.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0))
        if let endpoint { fds.append(pollfd(fd: endpoint.mesh.doorbell(endpoint.index), events: Int16(POLLIN), revents: 0)) }
        if let mailbox { fds.append(pollfd(fd: mailbox.descriptor, events: Int16(POLLIN), revents: 0)) }
        defer { finish() }
        do {
            while !stop.load(ordering: .relaxed) {
                let largestBurst = try step(now: monotonicNanoseconds())
                // A full burst means more may be waiting: go again at once. Otherwise sleep in
                // poll(): an RX attempt on an empty ring costs libpcap a poll() of its own anyway.
                if largestBurst < settings.burst && !settings.busyPoll { sleep(&fds) }
            }
        } catch {
            // The other workers stop too (a worker that is gone cannot take its hand-offs).
            stop.store(true, ordering: .relaxed)
            throw error
        }
    }

    /// One pass over every input: RX, process, TX, free. Returns the largest burst received.
    public mutating func step(now: UInt64) throws(PortError) -> Int {
        var received = 0
        if let mailbox, mailbox.hasJob { serve(mailbox, now: now) }
        if endpoint != nil { received = receiveHandOffs(now: now) }
        received = max(received, try receiveBurst(on: inputSides.0, now: now))
        if inputCount == 2 { received = max(received, try receiveBurst(on: inputSides.1, now: now)) }
        processor.tick(now: now, allocator: &allocator)
        collectOutput()
        flush(.outside)
        flush(.inside)
        releaseDone()
        if handedTo != 0 { ringDoorbells() }
        if now &- lastPublish > 50_000_000 { publish(now: now) }
        return received
    }

    private mutating func receiveBurst(on side: Side, now: UInt64) throws(PortError) -> Int {
        let heads = side == .inside ? reserve.0 : reserve.1
        var have = side == .inside ? reserveCount.0 : reserveCount.1
        let burst = settings.burst
        if have < burst {
            have += IO.buildsHeadsAroundFrames ? allocator.getBulkForFrames(into: heads + have, count: burst - have)
                : allocator.getBulk(into: heads + have, count: burst - have)
            if have == 0 {
                noBuffer(on: side)
                return 0
            }
        }
        let n = try withPort(side) { (p: inout IO) throws(PortError) -> Int in try p.receive(into: heads, count: have) }
        if n > 0 {
            let counters = directions + side.rawValue
            counters.pointee.rxFrames &+= UInt64(n)
            for i in 0..<n {
                let head = heads[i]
                counters.pointee.rxBytes &+= UInt64(head.length)
                if _slowPath(head.meta.pointee.wireLength > head.meta.pointee.length) {
                    oversize(head, from: side, to: side.other, now: now)
                    continue
                }
                dispose(head, processor.process(head, from: side, now: now, allocator: &allocator), from: side, now: now)
            }
            // The unused heads stay in the reserve for the next burst.
            (heads).update(from: heads + n, count: have - n)
            have -= n
        }
        if side == .inside { reserveCount.0 = have } else { reserveCount.1 = have }
        return n
    }

    /// Carries out a verdict on a frame received on `side` (here, or by the worker that handed it over).
    @inline(__always)
    mutating func dispose(_ head: PacketHead, _ verdict: Verdict, from side: Side, now: UInt64) {
        switch verdict {
        case .forward(let out):
            // A frame no longer than the MTU plus an untagged header fits whatever its tags.
            if _slowPath(head.length > untaggedMaxFrame(on: out) && head.length > maxFrame(head, on: out)) {
                oversize(head, from: side, to: out, now: now)
            } else {
                enqueue(head, on: out)
            }
        case .drop(let reason):
            directions[side.rawValue].drop(reason)
            if _slowPath(settings.dropSink != nil) { capture(head, reason, direction: side, interface: side) }
            retire(head)
        case .consumed:
            break
        case .handOff(let worker):
            handOff(HandOff(head: head, side: side), to: worker)
        }
    }

    /// The MTU of `out` plus an untagged Ethernet header.
    @inline(__always)
    private func untaggedMaxFrame(on out: Side) -> Int { (out == .inside ? settings.mtu.0 : settings.mtu.1) + 14 }

    /// The largest frame that `out` can carry: its MTU plus the Ethernet header and the VLAN
    /// tags the frame has (as it leaves: the processor may have changed them).
    @inline(never)
    private func maxFrame(_ head: PacketHead, on out: Side) -> Int {
        var limit = untaggedMaxFrame(on: out)
        if head.length >= 18 {
            let p = head.data
            if EtherType.isVlanTPID(p.readBE16(12)) {
                limit += 4
                if head.length >= 22 && EtherType.isVlanTPID(p.readBE16(16)) { limit += 4 }
            }
        }
        return limit
    }

    @inline(__always)
    private mutating func enqueue(_ head: PacketHead, on side: Side) {
        if side == .inside {
            if _slowPath(txCount.0 == txCapacity) { flush(.inside) }
            txQueue.0[txCount.0] = head
            txCount.0 += 1
        } else {
            if _slowPath(txCount.1 == txCapacity) { flush(.outside) }
            txQueue.1[txCount.1] = head
            txCount.1 += 1
        }
    }

    @inline(__always)
    mutating func retire(_ head: PacketHead) {
        if _slowPath(doneCount == doneCapacity) { releaseDone() }
        done[doneCount] = head
        doneCount += 1
    }

    mutating func releaseDone() {
        guard doneCount > 0 else { return }
        allocator.putBulk(done, count: doneCount)
        doneCount = 0
    }

    mutating func collectOutput() {
        while let (side, head) = processor.popOutput() { enqueue(head, on: side) }
        collectHandOffs()
    }

    /// Sends everything queued for `side` in bursts; a full socket buffer is retried a bounded
    /// number of times (waiting for POLLOUT up to 1 ms each), then the rest is dropped and
    /// counted. Every head, sent or not, is retired.
    mutating func flush(_ side: Side) {
        let queue = side == .inside ? txQueue.0 : txQueue.1
        let count = side == .inside ? txCount.0 : txCount.1
        guard count > 0 else { return }
        // Frames sent on `side` belong to the direction whose input is the other side.
        let counters = directions + side.other.rawValue
        var i = 0
        var retries = 0
        let chunk = settings.burst
        while i < count {
            let n = min(chunk, count - i)
            let (sent, error) = withPort(side) { (p: inout IO) in p.send(queue + i, count: n) }
            counters.pointee.txFrames &+= UInt64(sent)
            for j in i..<(i + sent) { counters.pointee.txBytes &+= UInt64(queue[j].length) }
            i += sent
            if sent < n {
                if (error == EAGAIN || error == ENOBUFS || error == EWOULDBLOCK) && retries < settings.txRetries {
                    retries += 1
                    waitWritable(side)
                } else if error == EAGAIN || error == ENOBUFS || error == EWOULDBLOCK {
                    counters.pointee.drop(.txFailed, count: UInt64(count - i))
                    if _slowPath(settings.dropSink != nil) {
                        for j in i..<count { capture(queue[j], .txFailed, direction: side.other, interface: side) }
                    }
                    i = count
                } else {
                    // The kernel refused this one frame (EMSGSIZE, ENETDOWN, ...): drop it, go on.
                    counters.pointee.drop(.txFailed)
                    if _slowPath(settings.dropSink != nil) { capture(queue[i], .txFailed, direction: side.other, interface: side) }
                    i += 1
                }
            }
        }
        for j in 0..<count { retire(queue[j]) }
        if side == .inside { txCount.0 = 0 } else { txCount.1 = 0 }
    }

    @inline(never)
    private mutating func waitWritable(_ side: Side) {
        var fd = pollfd(fd: pollDescriptor(side), events: Int16(POLLOUT), revents: 0)
        _ = poll(&fd, 1, 1)
    }

    @inline(never)
    private mutating func noBuffer(on side: Side) {
        // Nothing to receive into: the frames wait in the kernel ring (and are dropped there when
        // it fills, which pcap's drop counter shows). Count the failed attempt once per loop.
        directions[side.rawValue].drop(.noBuffer)
    }

    @inline(never)
    private mutating func oversize(_ head: PacketHead, from: Side, to: Side, now: UInt64) {
        directions[from.rawValue].drop(.oversize)
        let length = max(Int(head.meta.pointee.wireLength), head.length)
        if settings.dropSink != nil { capture(head, .oversize, direction: from, interface: from) }
        retire(head)
        guard let warn = settings.warn,
              now &- lastOversizeWarning > 10_000_000_000 || lastOversizeWarning == 0 else { return }
        lastOversizeWarning = now
        let inName = from == .inside ? settings.portNames.0 : settings.portNames.1
        let outName = to == .inside ? settings.portNames.0 : settings.portNames.1
        let mtu = to == .inside ? settings.mtu.0 : settings.mtu.1
        warn("\(inName): dropping frames too big for \(outName) (a \(length)-byte frame; "
            + "\(outName) MTU \(mtu)). Causes: an MTU on \(inName)'s side larger than \(outName)'s (make them equal), "
            + "GRO/LRO on \(inName) (ethtool -K \(inName) gro off lro off), or TSO/GSO on a sender on this host "
            + "(ethtool -K <sender> tso off gso off). Counted as 'oversize'; this warning repeats at most every 10 s")
    }

    /// Hands a dropped frame, as it is now, to the drop sink (the caller has checked there is one).
    @inline(never)
    func capture(_ head: PacketHead, _ reason: DropReason, direction: Side, interface: Side) {
        guard let sink = settings.dropSink else { return }
        var name = reason.key
        if reason == .processor, let detail = processor.lastDropReason { name += ":" + detail }
        sink.dropped(UnsafeRawBufferPointer(head.bytes), wireLength: max(Int(head.meta.pointee.wireLength), head.length),
                     reason: name, direction: direction, interface: interface)
    }

    /// A job from the control socket; what it changed (a flush's counters) is published before
    /// its poster goes on, so the status it asks for next shows it.
    @inline(never)
    private mutating func serve(_ mailbox: WorkerMailbox<P>, now: UInt64) {
        guard mailbox.run(on: &processor) else { return }
        publish(now: now)
        mailbox.complete()
    }

    @inline(never)
    private mutating func publish(now: UInt64) {
        lastPublish = now
        slot.publish(WorkerStats(directions: (directions[0], directions[1]), allocator: allocator.counters,
                                 processor: processor.counters, handOffs: handOffs))
    }

    /// Sends what is queued, returns every head this worker holds and publishes the final
    /// counters; with hand-off, first stops handing off and waits for the others (`leaveMesh`).
    public mutating func finish() {
        closing = true
        collectOutput()
        flush(.outside)
        flush(.inside)
        if let endpoint { leaveMesh(endpoint.mesh) }
        releaseHeads()
    }

    /// Sends what is queued, returns every head this worker holds and publishes its counters,
    /// without leaving the mesh: for a caller that drives several workers on one thread and
    /// empties their lanes itself (the fuzzer). The worker can go on afterwards.
    public mutating func releaseHeads() {
        collectOutput()
        flush(.outside)
        flush(.inside)
        processor.releaseAll(allocator: &allocator)
        releaseDone()
        allocator.putBulk(reserve.0, count: reserveCount.0)
        allocator.putBulk(reserve.1, count: reserveCount.1)
        reserveCount = (0, 0)
        publish(now: monotonicNanoseconds())
    }

    // MARK: ports

    private func pollDescriptor(_ side: Side) -> Int32 {
        side == .inside ? inPort.pollDescriptor : outPort.pollDescriptor
    }

    @inline(__always)
    private mutating func withPort<R, E: Error>(_ side: Side, _ body: (inout IO) throws(E) -> R) throws(E) -> R {
        if side == .inside { return try body(&inPort) } else { return try body(&outPort) }
    }
}
