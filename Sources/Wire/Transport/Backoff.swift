/// Capped exponential backoff with jitter for reconnecting (the "equal jitter" variant:
/// half the delay is fixed, half random, so reconnects neither stampede nor stall).
/// Pure: randomness is injected, time is returned, nothing sleeps.
public struct Backoff: Sendable {
    /// First delay, in nanoseconds.
    public var initial: UInt64
    /// Largest delay, in nanoseconds.
    public var maximum: UInt64
    private(set) var attempt: UInt32 = 0

    /// Default: 50 ms doubling up to 5 s.
    public init(initial: UInt64 = Nanoseconds.milliseconds(50), maximum: UInt64 = Nanoseconds.seconds(5)) {
        precondition(initial > 0 && initial <= maximum, "backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before the next attempt; each call doubles the ceiling up to `maximum`.
    public mutating func nextDelay<R: RandomNumberGenerator>(using rng: inout R) -> UInt64 {
        let (product, overflow) = initial.multipliedReportingOverflow(by: UInt64(1) << attempt)
        let ceiling = overflow ? maximum : min(product, maximum)
        attempt = min(attempt + 1, 62)
        let half = ceiling / 2
        return half + UInt64.random(in: 0...(ceiling - half), using: &rng)
    }

    /// Call after a successful connection: the next failure starts from `initial` again.
    public mutating func reset() {
        attempt = 0
    }
}
