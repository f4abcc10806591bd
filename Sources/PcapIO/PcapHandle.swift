import PacketFormats
import CPcap
import Glibc
import Pipeline

extension PcapPort {
    /// One open libpcap handle, shared by every worker's `PcapPort` on that interface and
    /// closed when the last of them (and the runner) lets go: a port value per worker keeps
    /// scratch arrays apart, but the kernel socket and its ring are one per interface.
    public final class Handle: @unchecked Sendable {
        public let name: String
        let port: OpaquePointer

        /// Opens `name` for input only (PCAP_D_IN), nonblocking, with `options`; the error's kind
        /// says why it failed (permission, missing or down interface, not Ethernet, filter).
        public init(name: String, options: CaptureOptions) throws(PcapError) {
            self.name = name
            var errbuf = [CChar](repeating: 0, count: 512)
            var opts = cpcap_options(snaplen: Int32(clamping: options.snaplen), promisc: options.promiscuous ? 1 : 0,
                                     immediate: options.immediate ? 1 : 0,
                                     buffer_size: Int32(clamping: options.bufferSize), timeout_ms: 1, filter: nil)
            var opened: OpaquePointer?
            let status = withOptionalCString(options.filter) { filter in
                opts.filter = filter
                return cpcap_open(name, &opts, &opened, &errbuf, errbuf.count)
            }
            guard status == .CPCAP_OK, let opened else {
                throw PcapError(opening: name, status: status, detail: String(cText: errbuf))
            }
            do {
                try Handle.configure(opened, name: name, options)
            } catch {
                cpcap_close(opened)
                throw error
            }
            port = opened
        }

        /// The kernel-path options, on the activated socket: fanout needs it bound with its
        /// ring set up (joining earlier fails, or the ring setup would leave the group).
        private static func configure(_ port: OpaquePointer, name: String, _ options: CaptureOptions) throws(PcapError) {
            if let fanout = options.fanout {
                let e = cpcap_join_fanout(port, fanout.group, fanout.kernelType, fanout.kernelFlags)
                guard e == 0 else { throw PcapError.fanout(name, fanout, errno: e) }
                if case .classicBPF(let program) = fanout.mode {
                    let e = program.map { cpcap_bpf_insn(code: $0.code, jt: $0.jt, jf: $0.jf, k: $0.k) }
                        .withUnsafeBufferPointer { cpcap_set_fanout_program(port, $0.baseAddress, Int32(clamping: $0.count)) }
                    guard e == 0 else {
                        throw PcapError(configuring: name, kind: .fanoutRefused,
                                        what: "the kernel refused the fanout program (\(program.count) instructions)",
                                        errno: e, fix: "check the program (at most 4096 instructions, ending in a return)")
                    }
                }
            }
            if options.qdiscBypass {
                let e = cpcap_set_qdisc_bypass(port, 1)
                guard e == 0 else {
                    throw PcapError(configuring: name, kind: .socketOption, what: "cannot set PACKET_QDISC_BYPASS", errno: e,
                                    fix: "the kernel needs to be 3.14 or later; run without qdisc bypass")
                }
            }
            if options.txRing {
                let e = cpcap_enable_tx_ring(port, Int32(clamping: options.txRingFrames))
                guard e == 0 else {
                    let fix = e == ENOMEM ? "use a smaller ring" : e == EINVAL ? "the ring needs 1 or more frames"
                        : "run without the TX ring"
                    throw PcapError(configuring: name, kind: .socketOption,
                                    what: "cannot set up a TX ring (PACKET_TX_RING, \(options.txRingFrames) frames)",
                                    errno: e, fix: fix)
                }
            }
        }

        /// Whether `PcapPort.send` goes through a TX ring (`CaptureOptions.txRing`).
        public var hasTxRing: Bool { cpcap_has_tx_ring(port) != 0 }

        deinit { cpcap_close(port) }

        /// libpcap's kernel counters: frames seen, dropped by the ring, dropped by the interface.
        /// nil when libpcap cannot read them (the summary then leaves the line out).
        public func kernelStats() -> KernelCounters? {
            var c = KernelCounters()
            guard cpcap_stats(port, &c.received, &c.dropped, &c.interfaceDropped, nil, 0) == 0 else { return nil }
            return c
        }
    }
}

private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
