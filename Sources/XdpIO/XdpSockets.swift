import CXdp
import Glibc
import NetDevice

/// Opening one worker's UMEM and its two sockets over CXdp's single steps: the checks, the mode
/// auto chooses, the retries of a busy queue, the fall-back to generic mode, and the errors'
/// words. The C side binds once and says errno; what to make of it is decided here.
enum XdpSockets {
    /// The kernel frees a closed socket's buffer pool from a workqueue, so a bind right after a
    /// close sees EBUSY for a moment: a bind is tried this often, `retryPause` microseconds apart
    /// (2 s in all), before EBUSY stands (then another socket has the queue).
    static let bindAttempts = 40
    static let retryPause: UInt32 = 50_000

    /// The UMEM and a socket on each interface (side 0 on `names.0`) on `options.queue`.
    static func open(_ names: (String, String), options: XdpOptions) throws(XdpError) -> OpaquePointer {
        let sides = [names.0, names.1]
        var indices: [Int32] = []
        for name in sides {
            guard let index = InterfaceFacts.index(of: name) else {
                throw XdpError(name, .noSuchDevice, detail: "no such interface", options: options)
            }
            if let queues = InterfaceFacts.rxQueues(of: name), options.queue >= queues {
                throw XdpError(name, .noSuchQueue, detail: "queue \(options.queue) does not exist: the interface has \(queues) "
                               + "RX queue\(queues == 1 ? "" : "s") (0..\(queues - 1))", options: options)
            }
            indices.append(index)
        }
        var opts = cxdp_options(zero_copy: options.zeroCopy ? 1 : 0, queue: options.queue, ring_size: options.ringSize,
                                frame_size: options.frameSize)
        var opened: OpaquePointer?
        var registering: Int32 = 0
        let e = cxdp_open_umem(&opts, &opened, &registering)
        guard e == 0, let pair = opened else { throw umemError(e, registering: registering != 0, interface: names.0, options) }
        for side in 0..<2 {
            let name = sides[side], index = indices[side]
            let first = options.mode == .auto ? autoMode(driver: (try? InterfaceFacts.lookup(name))?.driver ?? "", options)
                                              : options.mode
            let (result, mode) = bind(options, first: first) { mode in
                let cMode = Int32(mode == .native ? CXDP_MODE_NATIVE : CXDP_MODE_GENERIC)
                return XdpProgramOwner.attaching(on: index) { retryingBusy { cxdp_bind(pair, Int32(side), name, cMode) } }
            }
            if result != 0 {
                cxdp_close_pair(pair, 0, nil)
                throw bindError(-result, interface: name, mode: mode, options)
            }
        }
        return pair
    }

    /// What `auto` takes: generic on a veth (as fast as native there, and it spares the sender a
    /// copy) unless zero-copy is asked for or several queues are bound (generic mode on veth files
    /// a frame sent on the peer's TX queue q under RX queue q-1); native everywhere else.
    static func autoMode(driver: String, _ options: XdpOptions) -> XdpOptions.Mode {
        driver == "veth" && !options.zeroCopy && options.queueCount <= 1 ? .generic : .native
    }

    /// `bind` in `first`; in auto mode a driver that refuses native XDP (EOPNOTSUPP) is bound in
    /// generic mode instead (not with zero-copy, which needs native). The last result and its mode.
    static func bind(_ options: XdpOptions, first: XdpOptions.Mode, _ bind: (XdpOptions.Mode) -> Int32)
        -> (result: Int32, mode: XdpOptions.Mode) {
        let result = bind(first)
        guard result == -EOPNOTSUPP, options.mode == .auto, first == .native, !options.zeroCopy else { return (result, first) }
        return (bind(.generic), .generic)
    }

    /// `attempt` until it is not -EBUSY, at most `attempts` times with `pause` between tries.
    static func retryingBusy(attempts: Int = bindAttempts, pause: () -> Void = { usleep(retryPause) },
                             _ attempt: () -> Int32) -> Int32 {
        var result = attempt()
        for _ in 1..<max(attempts, 1) where result == -EBUSY {
            pause()
            result = attempt()
        }
        return result
    }

    static func bindError(_ e: Int32, interface name: String, mode: XdpOptions.Mode, _ options: XdpOptions) -> XdpError {
        let kind: XdpError.Kind
        switch e {
        case EPERM, EACCES: kind = .permissionDenied
        case ENODEV, ENXIO: kind = .noSuchDevice
        case EBUSY: kind = .busy
        case EEXIST: kind = .programPresent
        case ENETDOWN: kind = .interfaceDown
        case EOPNOTSUPP: kind = .modeUnsupported
        case EINVAL: kind = options.zeroCopy ? .modeUnsupported : .other
        default: kind = .other
        }
        let text = errorText(e), modeName = mode == .native ? "native" : "generic"
        let detail: String
        switch kind {
        case .modeUnsupported where options.zeroCopy:
            detail = "zero-copy AF_XDP refused: \(text) (the driver has no zero-copy support)"
        case .modeUnsupported: detail = "\(modeName) XDP refused: \(text) (the driver does not support it)"
        case .busy: detail = "queue \(options.queue): \(text) for 2 s (another AF_XDP socket has the queue)"
        default:
            let why = kind == .permissionDenied ? " (creating the socket needs CAP_NET_RAW; loading and attaching the XDP "
                + "program CAP_BPF and CAP_NET_ADMIN)"
                : e == ENOENT && geteuid() != 0 ? " (not root: libxdp also needs CAP_SYS_ADMIN, to look its program up by id)" : ""
            detail = "cannot create the AF_XDP socket (\(modeName) mode, queue \(options.queue)): \(text)\(why)"
        }
        return XdpError(name, kind, detail: detail, options: options)
    }

    static func umemError(_ e: Int32, registering: Bool, interface name: String, _ options: XdpOptions) -> XdpError {
        let ring = options.ringSize == 0 ? 1024 : options.ringSize, frame = options.frameSize == 0 ? 2048 : options.frameSize
        let bytes = 4 * Int(ring) * Int(frame)
        if !registering && e == EINVAL {
            return XdpError(name, .other, detail: "ring size \(ring) (a power of two >= 64) or frame size \(frame) "
                            + "(2048 or 4096) invalid", options: options)
        }
        if !registering {
            return XdpError(name, .other, detail: "cannot allocate the UMEM (\(bytes) bytes): \(errorText(e))", options: options)
        }
        if e == ENOBUFS || e == ENOMEM {
            return XdpError(name, .memlock, detail: "cannot register the UMEM (\(bytes / 1024) KiB): \(errorText(e)) "
                            + "(RLIMIT_MEMLOCK)", options: options)
        }
        let noXdp = e == EAFNOSUPPORT ? " (the kernel has no AF_XDP: CONFIG_XDP_SOCKETS)" : ""
        return XdpError(name, e == EPERM || e == EACCES ? .permissionDenied : .other,
                        detail: "cannot create the UMEM: \(errorText(e))\(noXdp)", options: options)
    }
}
