import BufferCache
import PacketFormats
import Pipeline

/// Fragments (RFC 4787 REQ-14): only the first fragment carries the ports, so it is translated
/// with its session and its rewrite recorded; later fragments get the same addresses (their L4
/// bytes need no change). Later fragments that come before their first are held until it comes.
/// The gateway neither reassembles nor fragments.
extension NatGateway {
    /// Remembers how the first fragment of a datagram was translated; releases later fragments
    /// that arrived before it.
    @inline(never)
    mutating func recordFirstFragment<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ rewrite: FragmentRewrite,
                                                                    _ allocator: inout A) {
        // The IP ID is untouched by translation: read it from the (rewritten) header.
        let key = FragmentKey(side: pkt.side, src: pkt.src, dst: pkt.dst, id: pkt.id, proto: pkt.proto)
        let expires = pkt.now &+ timers.fragmentLifetime
        var found = fragments.find(key)
        if found == nil { found = fragments.insert(key, state: .translated, expires: expires) }
        guard let f = found else { return }
        fragments[f].state = .translated
        fragments[f].rewrite = rewrite
        fragments[f].expires = expires
        // Later fragments landing on other workers find this one through the directory.
        directory?.publish(key, owner: share.index, expires: expires)
        while let h = fragments.takeHeld(f) {
            guard let eth = EthernetHeader.parse(UnsafeRawPointer(h.data), length: h.length) else {
                allocator.put(h)
                continue
            }
            // Its lengths were checked when it was held.
            let ip = h.data + eth.payloadOffset
            let later = NatPacket(h, from: key.side, now: pkt.now, l2: eth.payloadOffset,
                                  ihl: Int(ip.readU8(0) & 0x0F) << 2, total: Int(ip.readBE16(2)),
                                  pcp: eth.tagCount > 0 ? eth.outerTCI & 0xF000 : 0)
            switch translateFragment(later, rewrite, &allocator) {
            case .forward(let out): emit(h, out, &allocator)
            case .drop:
                counters.dropsLater &+= 1   // held earlier: its direction saw it as consumed
                allocator.put(h)
            case .consumed: break
            }
        }
    }

    /// A fragment with a non-zero offset: translated like its first fragment, held until the
    /// first fragment comes, or dropped.
    @inline(never)
    mutating func laterFragment<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ allocator: inout A) -> NatVerdict {
        let key = FragmentKey(side: pkt.side, src: pkt.src, dst: pkt.dst, id: pkt.id, proto: pkt.proto)
        var found = fragments.find(key)
        if let f = found, fragments[f].expires <= pkt.now {
            expireFragment(f, &allocator)
            found = nil
        }
        if let f = found, fragments[f].state == .translated {
            return translateFragment(pkt, fragments[f].rewrite, &allocator)
        }
        // Out of order: hold it until the first fragment arrives (bounded, timed).
        // Fragments that could never be translated are not held: to the gateway itself (no
        // reassembly), ICMP to the outside address from inside, outside traffic not for us.
        let outside = sides.outside.address
        if pkt.dst == sides.inside.address || (pkt.side == .inside && pkt.dst == outside && pkt.isICMP)
            || (pkt.side == .outside && pkt.dst != outside) {
            return drop(.fragment)
        }
        if found == nil { found = fragments.insert(key, state: .pending, expires: pkt.now &+ timers.fragmentHold) }
        guard let f = found else { return drop(.fragment) }
        guard fragments.hold(f, pkt.head) else {
            if !fragments.hasHeld(f) { fragments.remove(f) }
            return drop(.fragment)
        }
        counters.fragmentsHeld &+= 1
        return .consumed
    }

    /// Applies a recorded translation to a later fragment: addresses and TTL only.
    mutating func translateFragment<A: HeadAllocator & ~Copyable>(_ pkt: NatPacket, _ rewrite: FragmentRewrite,
                                                                  _ allocator: inout A) -> NatVerdict {
        // No ICMP about non-first fragments.
        if pkt.ttl <= 1 { return drop(.ttlExceeded) }
        if pkt.total > sides[rewrite.egress].mtu { return drop(.tooBig) }
        var delta = RewriteDelta()
        if rewrite.src != pkt.src { pkt.rewriteAddress(.source, to: rewrite.src, &delta) }
        if rewrite.dst != pkt.dst { pkt.rewriteAddress(.destination, to: rewrite.dst, &delta) }
        pkt.finishIPv4Header(delta.address)
        counters.fragmentsTranslated &+= 1
        return egress(pkt, to: rewrite.egress, nextHop: rewrite.nextHop, &allocator)
    }

    /// Removes a fragment entry, dropping (and counting) fragments still held for it.
    mutating func expireFragment<A: HeadAllocator & ~Copyable>(_ f: FragmentIndex, _ allocator: inout A) {
        while let h = fragments.takeHeld(f) {
            counters.drops[.fragment] &+= 1
            counters.dropsLater &+= 1
            allocator.put(h)
        }
        fragments.remove(f)
    }

    /// The timer side: held fragments past their hold time (every hold slot, there are few) and
    /// a slice of 32 entries from the aging cursor.
    mutating func expireFragments<A: HeadAllocator & ~Copyable>(now: UInt64, _ allocator: inout A) {
        for slot in 0..<fragments.holdCapacity {
            if let f = fragments.holder(ofSlot: slot), fragments[f].expires <= now { expireFragment(f, &allocator) }
        }
        for _ in 0..<min(32, fragments.capacity) {
            if let f = fragments.advanceCursor(), fragments[f].expires <= now { expireFragment(f, &allocator) }
        }
    }
}
