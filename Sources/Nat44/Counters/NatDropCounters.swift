/// Drop counts, one field per `NatDropReason` (fields, not an array: reading the counters for a
/// stats line must not make the next increment copy a buffer).
public struct NatDropCounters: Sendable, Equatable {
    public var noSession: UInt64 = 0, tableFull: UInt64 = 0, portsExhausted: UInt64 = 0, hostQuota: UInt64 = 0
    public var badChecksum: UInt64 = 0
    public var ttlExceeded: UInt64 = 0, fragment: UInt64 = 0, arpQueueFull: UInt64 = 0, arpFailed: UInt64 = 0
    public var wrongVlan: UInt64 = 0, notIPv4: UInt64 = 0, malformed: UInt64 = 0, toGateway: UInt64 = 0
    public var noRoute: UInt64 = 0, martian: UInt64 = 0, tooBig: UInt64 = 0, unsupported: UInt64 = 0
    public var arpIgnored: UInt64 = 0, outputFull: UInt64 = 0, noHeadroom: UInt64 = 0, noBuffer: UInt64 = 0

    public subscript(reason: NatDropReason) -> UInt64 {
        get {
            switch reason {
            case .noSession: return noSession
            case .tableFull: return tableFull
            case .portsExhausted: return portsExhausted
            case .hostQuota: return hostQuota
            case .badChecksum: return badChecksum
            case .ttlExceeded: return ttlExceeded
            case .fragment: return fragment
            case .arpQueueFull: return arpQueueFull
            case .arpFailed: return arpFailed
            case .wrongVlan: return wrongVlan
            case .notIPv4: return notIPv4
            case .malformed: return malformed
            case .toGateway: return toGateway
            case .noRoute: return noRoute
            case .martian: return martian
            case .tooBig: return tooBig
            case .unsupported: return unsupported
            case .arpIgnored: return arpIgnored
            case .outputFull: return outputFull
            case .noHeadroom: return noHeadroom
            case .noBuffer: return noBuffer
            }
        }
        set {
            switch reason {
            case .noSession: noSession = newValue
            case .tableFull: tableFull = newValue
            case .portsExhausted: portsExhausted = newValue
            case .hostQuota: hostQuota = newValue
            case .badChecksum: badChecksum = newValue
            case .ttlExceeded: ttlExceeded = newValue
            case .fragment: fragment = newValue
            case .arpQueueFull: arpQueueFull = newValue
            case .arpFailed: arpFailed = newValue
            case .wrongVlan: wrongVlan = newValue
            case .notIPv4: notIPv4 = newValue
            case .malformed: malformed = newValue
            case .toGateway: toGateway = newValue
            case .noRoute: noRoute = newValue
            case .martian: martian = newValue
            case .tooBig: tooBig = newValue
            case .unsupported: unsupported = newValue
            case .arpIgnored: arpIgnored = newValue
            case .outputFull: outputFull = newValue
            case .noHeadroom: noHeadroom = newValue
            case .noBuffer: noBuffer = newValue
            }
        }
    }

    public static func + (a: NatDropCounters, b: NatDropCounters) -> NatDropCounters {
        var s = a
        for r in NatDropReason.allCases { s[r] &+= b[r] }
        return s
    }

    public var total: UInt64 { NatDropReason.allCases.reduce(0) { $0 &+ self[$1] } }
}
