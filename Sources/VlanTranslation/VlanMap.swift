import BufferCache
import PacketFormats
import Pipeline

/// What `VlanMap.translate` decided for a frame.
public enum VlanVerdict: Equatable, Sendable {
    /// Send the (possibly rewritten) frame out of the other port.
    case forward
    /// Drop it; the caller puts the head back and counts the reason.
    case drop(VlanDropReason)
}

public enum VlanDropReason: String, Equatable, Sendable, CaseIterable {
    /// No `--vlan-map` entry matches the frame's tags (and `--vlan-pass-unmapped` is off).
    case unmapped
    /// Shorter than an Ethernet header, or a VLAN tag header cut short.
    case malformed
    /// A push needed more headroom than the head has (cannot happen with the default geometry's
    /// 64 bytes; counted rather than copying the payload).
    case noHeadroom
}

/// A stack of 0, 1 or 2 VLAN ids: one side of a `--vlan-map` entry.
///
/// Syntax: `0` = untagged; `VID` = one 802.1Q tag (TPID 0x8100); `OUTER.INNER` = an 802.1ad
/// service tag (TPID 0x88a8) carrying an 802.1Q customer tag. Matching accepts any of the
/// VLAN TPIDs (0x8100, 0x88a8, 0x9100) in either position; tags written by a translation use
/// the canonical TPIDs above.
public struct VlanStack: Hashable, Sendable, CustomStringConvertible {
    /// 0, 1 or 2.
    public let count: Int
    /// Outermost first; unused entries are 0.
    public let outer: UInt16
    public let inner: UInt16

    static let untagged = VlanStack(count: 0, outer: 0, inner: 0)

    init(count: Int, outer: UInt16, inner: UInt16) {
        self.count = count
        self.outer = outer
        self.inner = inner
    }

    public var description: String {
        switch count {
        case 0: return "0"
        case 1: return "\(outer)"
        default: return "\(outer).\(inner)"
        }
    }

    /// Parses one side of a map entry (`0`, `VID`, `OUTER.INNER`).
    static func parse(_ text: Substring, in spec: String) throws(VlanMapError) -> VlanStack {
        if text == "0" { return .untagged }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            throw VlanMapError("--vlan-map \(spec): at most two stacked tags (OUTER.INNER), got '\(text)'")
        }
        var vids: [UInt16] = []
        for part in parts {
            guard let v = UInt16(part), v >= 1, v <= 4094 else {
                throw VlanMapError("--vlan-map \(spec): '\(part)' is not a VLAN id; VIDs are 1-4094 (0 alone means untagged)")
            }
            vids.append(v)
        }
        return vids.count == 1 ? VlanStack(count: 1, outer: vids[0], inner: 0)
                               : VlanStack(count: 2, outer: vids[0], inner: vids[1])
    }
}

/// The L2 translation mode: `--vlan-map A:B` (repeatable) maps VLAN stack A on the IN port to
/// stack B on the OUT port and back.
///
/// Examples: `10:20` rewrites the VID; `0:20` pushes a tag toward OUT and pops it toward IN;
/// `20:0` pops on the way out; `100.10:20` turns an 802.1ad stack (outer 100, inner 10) into a
/// single tag 20 and back. PCP and DEI are kept: each tag written carries the PCP/DEI of the tag
/// at the same depth in the original frame (counted from the outermost), or, when the frame had
/// fewer tags, those of its outermost tag (0 for an untagged frame).
///
/// Lookup is an array index for untagged and single-tag frames (4096 entries per direction) and
/// a short linear scan for stacked entries (there are few): no hashing, no allocation.
/// A push moves the 12 address bytes into the headroom and a pop moves them forward
/// (`PacketHead.insertGap` / `removeBytes`): the payload is never copied.
public struct VlanMap: Sendable {
    public struct Entry: Sendable, Equatable {
        public let inside: VlanStack
        public let outside: VlanStack
    }

    /// The entries in command-line order.
    public let entries: [Entry]
    /// Forward frames whose tags match no entry unchanged instead of dropping them.
    public let passUnmapped: Bool

    /// Per direction: index into `entries` for "untagged" (slot 0) and single VIDs 1...4094
    /// (slot = VID), -1 when unmapped. Slot 4095 is never set.
    private let singleFromInside: [Int16]
    private let singleFromOutside: [Int16]
    /// Entries whose matching side is a stacked pair: (outer, inner, entry index).
    private let stackedFromInside: [(UInt16, UInt16, Int16)]
    private let stackedFromOutside: [(UInt16, UInt16, Int16)]

    /// Parses the `--vlan-map` values. Each VID must be 1-4094; a stack may appear on each side
    /// at most once (else the way back would be ambiguous).
    public init(specs: [String], passUnmapped: Bool) throws(VlanMapError) {
        var entries: [Entry] = []
        var fromIn = [Int16](repeating: -1, count: 4096)
        var fromOut = [Int16](repeating: -1, count: 4096)
        var stackedIn: [(UInt16, UInt16, Int16)] = []
        var stackedOut: [(UInt16, UInt16, Int16)] = []
        var seenIn: [VlanStack: String] = [:]
        var seenOut: [VlanStack: String] = [:]
        guard specs.count < Int(Int16.max) else { throw VlanMapError("--vlan-map: too many entries") }
        for spec in specs {
            let halves = spec.split(separator: ":", omittingEmptySubsequences: false)
            guard halves.count == 2, !halves[0].isEmpty, !halves[1].isEmpty else {
                throw VlanMapError("--vlan-map \(spec): expected IN:OUT, e.g. 10:20, 0:20 (push), 20:0 (pop) or 100.10:20 (stacked)")
            }
            let a = try VlanStack.parse(halves[0], in: spec)
            let b = try VlanStack.parse(halves[1], in: spec)
            if let other = seenIn[a] {
                throw VlanMapError("--vlan-map \(spec): VLAN \(a) on IN is already mapped by \(other)")
            }
            if let other = seenOut[b] {
                throw VlanMapError("--vlan-map \(spec): VLAN \(b) on OUT is already mapped by \(other)")
            }
            seenIn[a] = spec
            seenOut[b] = spec
            let index = Int16(entries.count)
            entries.append(Entry(inside: a, outside: b))
            switch a.count {
            case 0: fromIn[0] = index
            case 1: fromIn[Int(a.outer)] = index
            default: stackedIn.append((a.outer, a.inner, index))
            }
            switch b.count {
            case 0: fromOut[0] = index
            case 1: fromOut[Int(b.outer)] = index
            default: stackedOut.append((b.outer, b.inner, index))
            }
        }
        self.entries = entries
        self.passUnmapped = passUnmapped
        self.singleFromInside = fromIn
        self.singleFromOutside = fromOut
        self.stackedFromInside = stackedIn
        self.stackedFromOutside = stackedOut
    }

    /// Rewrites the frame's tags for the trip from `side` to the other port.
    @inline(__always)
    public func translate(_ head: PacketHead, from side: Side) -> VlanVerdict {
        guard let frame = EthernetHeader.parse(head) else { return .drop(.malformed) }
        let index = lookup(frame, from: side)
        guard index >= 0 else { return passUnmapped ? .forward : .drop(.unmapped) }
        let entry = entries[Int(index)]
        let target = side == .inside ? entry.outside : entry.inside
        return rewrite(head, frame: frame, to: target)
    }

    /// The entry index matching the frame's tags on `side`, or -1.
    @inline(__always)
    private func lookup(_ frame: EthernetHeader, from side: Side) -> Int16 {
        switch frame.tagCount {
        case 0:
            return side == .inside ? singleFromInside[0] : singleFromOutside[0]
        case 1:
            let vid = Int(EthernetHeader.vid(frame.outerTCI))
            // VID 0 (priority tag) and 4095 (reserved) never match a single-tag entry.
            guard vid != 0 else { return -1 }
            return side == .inside ? singleFromInside[vid] : singleFromOutside[vid]
        default:
            return lookupStacked(EthernetHeader.vid(frame.outerTCI), EthernetHeader.vid(frame.innerTCI),
                                 in: side == .inside ? stackedFromInside : stackedFromOutside)
        }
    }

    @inline(__always)
    private func lookupStacked(_ outer: UInt16, _ inner: UInt16, in list: [(UInt16, UInt16, Int16)]) -> Int16 {
        for (o, i, index) in list where o == outer && i == inner { return index }
        return -1
    }

    /// Writes the target stack in place of the frame's tags, moving only the address bytes.
    @inline(__always)
    private func rewrite(_ head: PacketHead, frame: EthernetHeader, to target: VlanStack) -> VlanVerdict {
        let old = frame.tagCount
        let new = target.count
        // PCP and DEI (the top 4 bits of a TCI) of the original tags.
        let pcpOuter = old >= 1 ? frame.outerTCI & 0xF000 : 0
        let pcpInner = old >= 2 ? frame.innerTCI & 0xF000 : pcpOuter
        if new > old {
            guard head.insertGap(at: EthernetHeader.addressBytes, count: 4 * (new - old)) != nil else {
                return .drop(.noHeadroom)
            }
        } else if new < old {
            head.removeBytes(at: EthernetHeader.addressBytes, count: 4 * (old - new))
        }
        let p = head.data
        switch new {
        case 0:
            break
        case 1:
            p.writeBE16(EtherType.vlan, 12)
            p.writeBE16(pcpOuter | target.outer, 14)
        default:
            p.writeBE16(EtherType.qinq, 12)
            p.writeBE16(pcpOuter | target.outer, 14)
            p.writeBE16(EtherType.vlan, 16)
            p.writeBE16(pcpInner | target.inner, 18)
        }
        // The EtherType after the tags is the original one: removeBytes/insertGap moved the
        // address bytes only, so it is still in place right after the last tag.
        return .forward
    }
}
