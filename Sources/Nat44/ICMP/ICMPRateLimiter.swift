/// The token bucket that limits the ICMP errors the gateway generates (RFC 1812 4.3.2.8 asks
/// routers to limit them): `burst` tokens, one more every `interval` ns.
struct ICMPRateLimiter {
    let burst: Int
    let interval: UInt64
    private var tokens: Int
    private var refilled: UInt64 = 0

    init(burst: Int, perSecond: Int) {
        self.burst = burst
        interval = 1_000_000_000 / UInt64(max(1, perSecond))
        tokens = burst
    }

    /// Takes a token; false when the bucket is empty (the error is not sent).
    mutating func take(now: UInt64) -> Bool {
        if now > refilled {
            let add = (now - refilled) / max(1, interval)
            if add > 0 {
                tokens = Int(min(UInt64(burst), UInt64(tokens) + add))
                refilled = tokens >= burst ? now : refilled + add * interval
            }
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}
