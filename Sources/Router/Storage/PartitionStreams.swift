/// Each partition's log as a stream of its own: its records are numbered 1, 2, 3, … in the
/// partition's order, whatever other partitions write between them, and a snapshot of the
/// partition says up to which number it covers the stream. That is what lets one partition
/// be read, shipped, compacted or dropped alone, though every partition of a router shares
/// the router's segment files (and so one sync per batch; see docs/storage.md). Pure.
public struct PartitionStreams: Sendable, Equatable {
    /// The number of the last record of each partition's stream (0: none yet).
    public private(set) var last: [UInt64]
    /// How far each partition's snapshot covers its stream (0: no snapshot).
    public private(set) var covered: [UInt64]
    /// Records of logs written before streams had numbers, counted per partition: they are
    /// numbered in log order, so the numbers the log gives later continue from them.
    private var unnumbered: [UInt64]
    /// Times each partition let conversations leave memory (archived) with no record, and
    /// how many of those its snapshot has seen: a snapshot taken before would bring them back.
    private var evictions: [UInt64]
    private var evictionsCovered: [UInt64]

    /// Streams of `partitionCount` empty partitions.
    public init(partitionCount: Int) {
        last = Array(repeating: 0, count: partitionCount)
        covered = last
        unnumbered = last
        evictions = last
        evictionsCovered = last
    }

    /// Conversations of `partition` left memory (for the transcript store).
    public mutating func evicted(_ partition: Int) {
        evictions[partition] += 1
    }

    /// Whether `partition`'s snapshot no longer matches it: records or evictions since.
    public func needsSnapshot(_ partition: Int) -> Bool {
        last[partition] > covered[partition] || evictions[partition] > evictionsCovered[partition]
    }

    /// What a snapshot of `partition` taken now covers, for `snapshotted` once it is durable.
    public func mark(_ partition: Int) -> (number: UInt64, evictions: UInt64) {
        (last[partition], evictions[partition])
    }

    /// The number of partition `partition`'s next record (a new record is being logged).
    public mutating func next(_ partition: Int) -> UInt64 {
        last[partition] += 1
        return last[partition]
    }

    /// The partition was snapshotted (or dropped) with its stream up to `number` (and, live,
    /// after `evictions` evictions).
    public mutating func snapshotted(_ partition: Int, upTo number: UInt64, evictions count: UInt64? = nil) {
        covered[partition] = max(covered[partition], number)
        last[partition] = max(last[partition], number)
        if let count { evictionsCovered[partition] = max(evictionsCovered[partition], count) }
    }

    /// What replay does with a record of the shared log.
    public enum Verdict: Sendable, Equatable {
        /// Apply it: it follows what the partition's state holds.
        case apply
        /// Skip it: the partition's snapshot holds it already.
        case covered
        /// The stream does not go on from `expected` but from `found`: records are missing
        /// (or repeated), so the log does not hold what was acknowledged.
        case gap(expected: UInt64, found: UInt64)
    }

    /// Replay meets a record of `partition` numbered `number` (nil: a log from before
    /// numbers, counted in order).
    public mutating func replay(_ partition: Int, number: UInt64?) -> Verdict {
        let number = number ?? {
            unnumbered[partition] += 1
            return unnumbered[partition]
        }()
        if number <= covered[partition] { return .covered }
        guard number == last[partition] + 1 else { return .gap(expected: last[partition] + 1, found: number) }
        last[partition] = number
        return .apply
    }
}
