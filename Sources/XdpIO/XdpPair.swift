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
    private var closed = false

    /// Frame accounting: per side (0 = first interface), the frames in each state.
    public struct Census: Sendable, Equatable {
        public var total: UInt32
        public var perPartition: UInt32
        public var rxKernel: (UInt32, UInt32)
        public var rxUser: (UInt32, UInt32)
        public var txFree: (UInt32, UInt32)
        public var txKernel: (UInt32, UInt32)
        public var violations: UInt64
        /// nil when every frame is in one state of its own partition and the counts add up.
        public var problem: String?

        init(_ c: cxdp_census, problem: String?) {
            total = c.total
            perPartition = c.per_partition
            rxKernel = (c.rx_kernel.0, c.rx_kernel.1)
            rxUser = (c.rx_user.0, c.rx_user.1)
            txFree = (c.tx_free.0, c.tx_free.1)
            txKernel = (c.tx_kernel.0, c.tx_kernel.1)
            violations = c.violations
            self.problem = problem
        }

        public static func == (l: Census, r: Census) -> Bool {
            l.total == r.total && l.rxKernel == r.rxKernel && l.rxUser == r.rxUser && l.txFree == r.txFree
                && l.txKernel == r.txKernel && l.violations == r.violations && l.problem == r.problem
        }
    }

    /// The sockets on both interfaces (side 0 on `interfaces.0`), on `options.queue`.
    public init(_ interfaces: (XdpInterface, XdpInterface), options: XdpOptions) throws(XdpError) {
        self.interfaces = interfaces
        self.options = options
        var err = [CChar](repeating: 0, count: 512)
        var opts = cxdp_options(mode: Int32(options.mode.cValue), zero_copy: options.zeroCopy ? 1 : 0,
                                queue: options.queue, ring_size: options.ringSize, frame_size: options.frameSize)
        var opened: OpaquePointer?
        var failed: Int32 = -1
        let status = cxdp_open_pair(interfaces.0.name, interfaces.1.name, &opts, &opened, &failed, &err, err.count)
        guard status == .CXDP_OK, let opened else {
            let name = failed == 1 ? interfaces.1.name : interfaces.0.name
            throw XdpError(name, status: status, detail: String(xdpText: err), options: options)
        }
        pair = opened
    }

    deinit { if !closed { cxdp_close_pair(pair, 200, nil) } }

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

    /// Waits up to `timeoutMilliseconds` for TX completions, takes the last census and closes
    /// the sockets and the UMEM. The ports must not be used afterwards.
    public func close(timeoutMilliseconds: Int32 = 200) -> Census {
        precondition(!closed, "closed twice")
        var c = cxdp_census()
        cxdp_close_pair(pair, timeoutMilliseconds, &c)
        closed = true
        // The census of a closed pair: checked against the partition size only.
        var problem: String?
        for (k, u, f, t) in [(c.rx_kernel.0, c.rx_user.0, c.tx_free.0, c.tx_kernel.0), (c.rx_kernel.1, c.rx_user.1, c.tx_free.1, c.tx_kernel.1)]
        where k + u != c.per_partition || f + t != c.per_partition {
            problem = "states rx-kernel \(k) rx-user \(u) tx-free \(f) tx-kernel \(t), partition \(c.per_partition)"
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

    /// For the summary's kernel line: frames that reached the socket (taken plus dropped), dropped
    /// by the kernel (RX ring full, no fill frame), and 0 (the interface's drops are not here).
    public func kernelStats(side: Int) -> (received: UInt64, dropped: UInt64, interfaceDropped: UInt64)? {
        counters(side: side).map { ($0.rx_frames &+ $0.rx_dropped, $0.rx_dropped, 0) }
    }
}

extension XdpOptions.Mode {
    var cValue: Int32 {
        switch self {
        case .auto: Int32(CXDP_MODE_AUTO)
        case .native: Int32(CXDP_MODE_NATIVE)
        case .generic: Int32(CXDP_MODE_GENERIC)
        }
    }
}

/// libxdp/libbpf, for bug reports.
public var xdpLibraryVersion: String { String(cString: cxdp_lib_version()) }
