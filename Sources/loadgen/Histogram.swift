/// A log-linear latency histogram in the HdrHistogram style: values below 256 are counted
/// exactly, larger ones in buckets 1/128 of their power of two wide, so every recorded value
/// is reported within 0.8 %. Fixed memory (about 60 KB), O(1) record, mergeable by addition.
struct Histogram: Sendable, Equatable, Codable {
    private static let subBucketBits = 7
    private static let subBucketCount = 1 << subBucketBits          // 128
    private static let exactLimit = UInt64(2 * subBucketCount)      // 256
    private static let bucketCount = Int(exactLimit) + (64 - subBucketBits - 1) * subBucketCount

    private var counts = [UInt64](repeating: 0, count: bucketCount)
    /// Number of recorded values.
    private(set) var count: UInt64 = 0
    /// Smallest recorded value (exact).
    private(set) var min: UInt64 = .max
    /// Largest recorded value (exact).
    private(set) var max: UInt64 = 0
    private var sum: Double = 0

    /// Records one value.
    mutating func record(_ value: UInt64) {
        counts[Self.index(of: value)] &+= 1
        count &+= 1
        sum += Double(value)
        if value < min { min = value }
        if value > max { max = value }
    }

    /// Adds another histogram's counts to this one.
    mutating func merge(_ other: Histogram) {
        for index in counts.indices { counts[index] &+= other.counts[index] }
        count &+= other.count
        sum += other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// Arithmetic mean of the recorded values, 0 when empty.
    var mean: Double { count == 0 ? 0 : sum / Double(count) }

    /// The value at `percentile` (0...100): the highest value of the bucket holding that rank,
    /// capped at the exact maximum. 0 when empty.
    func value(atPercentile percentile: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((percentile / 100 * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (index, bucket) in counts.enumerated() where bucket > 0 {
            seen += bucket
            if seen >= rank { return Swift.min(Self.highestValue(inBucket: index), max) }
        }
        return max
    }

    static func index(of value: UInt64) -> Int {
        if value < exactLimit { return Int(value) }
        let exponent = (63 - value.leadingZeroBitCount) - subBucketBits   // >= 1
        let sub = Int(value >> UInt64(exponent)) - subBucketCount           // 0..<128
        return Int(exactLimit) + (exponent - 1) * subBucketCount + sub
    }

    static func highestValue(inBucket index: Int) -> UInt64 {
        if index < Int(exactLimit) { return UInt64(index) }
        let exponent = (index - Int(exactLimit)) / subBucketCount + 1
        let sub = (index - Int(exactLimit)) % subBucketCount
        let lowest = UInt64(subBucketCount + sub) << UInt64(exponent)
        // The top bucket reaches UInt64.max: saturate rather than overflow.
        let (highest, overflow) = lowest.addingReportingOverflow((UInt64(1) << UInt64(exponent)) - 1)
        return overflow ? .max : highest
    }
}
