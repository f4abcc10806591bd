import BufferCache
import CXdp
import Glibc

/// One worker's AF_XDP state: a UMEM shared by a socket on each of the two interfaces
/// (`xsk_socket__create_shared`), with its four rings per socket. Shared by the worker's
/// `XdpPort` values (one per interface and thread); closed when the last of them (and the
/// runner) lets go, then the interfaces release their programs.
public final class XdpPair: @unchecked Sendable {
    public let interfaces: (XdpInterface, XdpInterface)
    public let options: XdpOptions
    let pair: OpaquePointer
    /// Where a head freed still holding one of the UMEM's received frames gives it back (to its
    /// socket's fill ring, `cxdp_recycle`), whichever allocator it is put to.
    let origin: UnsafePointer<FrameOrigin>
    private var closed = false

    /// Frame accounting: per side (0 = first interface), the frames of its partitions in each
    /// state (see CXdpPair.h).
    public struct Census: Sendable, Equatable {
        public var total: UInt32
        public var perPartition: UInt32
        /// RX partition: in the fill ring, the kernel or the RX ring.
        public var rxKernel: (UInt32, UInt32)
        /// RX partition: in heads (received, not yet sent or freed).
        public var rxHeld: (UInt32, UInt32)
        /// RX partition: on a TX ring, sent without a copy, until its completion is taken.
        public var rxSending: (UInt32, UInt32)
        /// RX partition: given back, waiting for room in the fill ring.
        public var rxStash: (UInt32, UInt32)
        /// TX partition (copies of generated frames).
        public var txFree: (UInt32, UInt32)
        public var txKernel: (UInt32, UInt32)
        public var violations: UInt64
        /// nil when every frame is in one state of its own partition and the counts add up.
        public var problem: String?

        init(_ c: cxdp_census, problem: String?) {
            total = c.total
            perPartition = c.per_partition
            rxKernel = (c.rx_kernel.0, c.rx_kernel.1)
            rxHeld = (c.rx_held.0, c.rx_held.1)
            rxSending = (c.rx_sending.0, c.rx_sending.1)
            rxStash = (c.rx_stash.0, c.rx_stash.1)
            txFree = (c.tx_free.0, c.tx_free.1)
            txKernel = (c.tx_kernel.0, c.tx_kernel.1)
            violations = c.violations
            self.problem = problem
        }

        public static func == (l: Census, r: Census) -> Bool {
            l.total == r.total && l.rxKernel == r.rxKernel && l.rxHeld == r.rxHeld && l.rxSending == r.rxSending
                && l.rxStash == r.rxStash && l.txFree == r.txFree && l.txKernel == r.txKernel
                && l.violations == r.violations && l.problem == r.problem
        }
    }

    /// The sockets on both interfaces (side 0 on `interfaces.0`), on `options.queue`.
    public init(_ interfaces: (XdpInterface, XdpInterface), options: XdpOptions) throws(XdpError) {
        self.interfaces = interfaces
        self.options = options
        let opened = try XdpSockets.open((interfaces.0.name, interfaces.1.name), options: options)
        pair = opened
        origin = FrameOrigin.make(context: opened, recycle: { cxdp_recycle($0, $1, $2) })
    }

    deinit {
        if !closed { cxdp_close_pair(pair, 200, nil) }
        FrameOrigin.destroy(origin)
    }

    /// One pair per queue of `options.queue ..< options.queue + options.queueCount`, in queue
    /// order (pair i for worker i). Every queue must exist on both interfaces: checked for all
    /// before the first socket, so that the error names the whole range and its fix.
    public static func perQueue(_ interfaces: (XdpInterface, XdpInterface), options: XdpOptions) throws(XdpError) -> [XdpPair] {
        let count = max(options.queueCount, 1), last = options.queue + count - 1
        for i in [interfaces.0, interfaces.1] {
            guard let queues = i.rxQueues, last >= queues, count > 1 else { continue }
            let fewer = options.queue < queues ? "--workers \(queues - options.queue) or fewer" : "an --xdp-queue below \(queues)"
            throw XdpError(i.name, kind: .noSuchQueue, message: "\(i.name): AF_XDP: \(count) workers from --xdp-queue "
                + "\(options.queue) need queues \(options.queue)-\(last), and the interface has \(queues) RX queue"
                + "\(queues == 1 ? "" : "s"); use \(fewer), or give it more queues (ethtool -L \(i.name) combined "
                + "\(last + 1); a veth: numrxqueues and numtxqueues when it is created)")
        }
        var pairs: [XdpPair] = []
        for q in options.queue...last {
            var one = options
            one.queue = q
            pairs.append(try XdpPair(interfaces, options: one))
        }
        return pairs
    }

    /// The mode each socket's program runs in ("native" or "generic").
    public func mode(side: Int) -> String { cxdp_mode(pair, Int32(side)) == Int32(CXDP_MODE_NATIVE) ? "native" : "generic" }

    public func name(side: Int) -> String { side == 0 ? interfaces.0.name : interfaces.1.name }

    /// Counts the frames by state now (no traffic may run meanwhile).
    public func census() -> Census {
        var c = cxdp_census()
        var err = [CChar](repeating: 0, count: 512)
        let ok = cxdp_frame_census(pair, &c, &err, err.count) == 0
        return Census(c, problem: ok ? nil : String(xdpText: err))
    }

    /// Waits up to `timeoutMilliseconds` for TX completions, puts every frame given back into
    /// its fill ring, takes the last census and closes the sockets and the UMEM. The ports must
    /// not be used afterwards, and every head they filled must have been freed: a frame still
    /// held (a leak), one still sending, or a wrong transition is the census's problem.
    public func close(timeoutMilliseconds: Int32 = 200) -> Census {
        precondition(!closed, "closed twice")
        var c = cxdp_census()
        cxdp_close_pair(pair, timeoutMilliseconds, &c)
        closed = true
        var problem: String?
        func of(_ pair: (UInt32, UInt32), _ side: Int) -> UInt32 { side == 0 ? pair.0 : pair.1 }
        for side in 0..<2 {
            let k = of(c.rx_kernel, side), h = of(c.rx_held, side), s = of(c.rx_sending, side), st = of(c.rx_stash, side)
            let f = of(c.tx_free, side), t = of(c.tx_kernel, side)
            if k + h + s + st != c.per_partition || f + t != c.per_partition {
                problem = "side \(side): states rx-kernel \(k) rx-held \(h) rx-sending \(s) rx-stash \(st) tx-free \(f) "
                    + "tx-kernel \(t), partition \(c.per_partition)"
            } else if h != 0 {
                problem = "side \(side): \(h) received frames never given back (a head kept its UMEM frame)"
            }
        }
        if c.violations != 0 { problem = "\(c.violations) wrong transitions" }
        return Census(c, problem: problem)
    }

    /// Tests only: stops (false) or resumes the TX kicks of `side`, so that its ring fills up.
    public func setTxKick(side: Int, _ on: Bool) { cxdp_set_tx_kick(pair, Int32(side), on ? 1 : 0) }

    /// Counters of `side`: the shim's and the kernel's XDP_STATISTICS; nil if unreadable.
    public func counters(side: Int) -> cxdp_counters? {
        var c = cxdp_counters()
        guard cxdp_stats(pair, Int32(side), &c, nil, 0) == 0 else { return nil }
        return c
    }

}

/// libxdp/libbpf, for bug reports.
public var xdpLibraryVersion: String { String(cString: cxdp_lib_version()) }
