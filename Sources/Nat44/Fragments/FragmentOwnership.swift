import BufferCache
import Pipeline

/// Fragments with several workers: the first fragment goes to its owner by its ports and is
/// recorded there (and published in the `NatFragmentDirectory`); a later fragment goes to the
/// owner the directory names. One that comes before its first fragment is held where it landed
/// (the same hold area and hold time as out-of-order fragments on one worker) until its first
/// fragment is recorded: here (released by `recordFirstFragment`) or by another worker (handed
/// to it from `tick`, here).
extension NatGateway {
    /// Hands the fragments held here to their owner once the directory names one (every hold
    /// slot, there are few: one directory read each).
    mutating func handOffHeldFragments<A: HeadAllocator & ~Copyable>(now: UInt64, _ allocator: inout A) {
        guard let directory else { return }
        for slot in 0..<fragments.holdCapacity {
            guard let f = fragments.holder(ofSlot: slot), fragments[f].state == .pending else { continue }
            let key = fragments[f].key
            guard let w = directory.owner(key, now: now), w != share.index else { continue }
            while let h = fragments.takeHeld(f) {
                if handOffs.push(HandOffRequest(worker: w, handOff: HandOff(head: h, side: key.side))) {
                    counters.fragmentsHandedOff &+= 1
                } else {
                    counters.drops[.outputFull] &+= 1
                    counters.dropsLater &+= 1
                    allocator.put(h)
                }
            }
            fragments.remove(f)
        }
    }
}
