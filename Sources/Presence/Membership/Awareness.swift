/// Lifeguard's local health multiplier (memberlist awareness.go): a member that fails to
/// get answers, or hears itself suspected, is more likely slow itself than surrounded by
/// dead members, so it probes less often and waits longer before suspecting others.
/// `score` is 0 when healthy, at most `maximum - 1`.
public struct Awareness: Sendable, Equatable {
    public private(set) var score = 0
    public let maximum: Int

    public init(maximum: Int) {
        self.maximum = max(1, maximum)
    }

    /// Adds `delta` (a failed probe: +1 per missing nack; a refuted suspicion of itself:
    /// +1; a successful probe: -1), kept within 0..<maximum.
    public mutating func apply(_ delta: Int) {
        score = min(maximum - 1, max(0, score + delta))
    }

    /// `duration` scaled by the multiplier, 1 + score.
    public func scale(_ duration: UInt64) -> UInt64 {
        duration * UInt64(score + 1)
    }
}
