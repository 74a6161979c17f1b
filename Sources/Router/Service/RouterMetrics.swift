/// What a router counts for /metrics.
public struct RouterMetrics: Sendable {
    /// Upper bounds (seconds) of the wait-time histogram's buckets.
    public static let waitBuckets: [Double] = [1, 5, 15, 30, 60, 120, 300, 600]
    /// Client commands received.
    public var commands = 0
    /// Commands for a partition another router owns, answered with a redirect.
    public var redirects = 0
    /// Chat messages sent (visitors and operators).
    public var messages = 0
    /// Offers accepted (counted once the acceptance is durable).
    public var assignments = 0
    /// Refusals by error code.
    public var errors: [String: Int] = [:]
    /// Sends to a gateway that failed (the link was closing): what they carried is
    /// recovered by the client's resume.
    public var failedSends = 0
    /// Queue wait at acceptance: cumulative counts per bucket, then the sum in seconds.
    public var waitCounts = [Int](repeating: 0, count: waitBuckets.count)
    public var waitSum = 0.0

    mutating func recordAssignment(waited: UInt64) {
        assignments += 1
        let seconds = Double(waited) / 1e9
        waitSum += seconds
        for (index, bound) in Self.waitBuckets.enumerated() where seconds <= bound { waitCounts[index] += 1 }
    }
}
