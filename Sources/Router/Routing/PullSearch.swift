/// One operator's search for the best waiting conversation they may take, across
/// partitions, by messages: the home asks one partition at a time, guided by the queue
/// directory, and each partition answers with an offer or with what it holds for them.
///
/// A directory head is only a lower bound on what a partition can offer this operator (the
/// head may be a chat they declined), so each partition is asked with a bound: offer your
/// best if nothing elsewhere can beat it. The search ends with an offer, or when no
/// partition holds anything for them. Pure.
struct PullSearch: Sendable {
    /// Partitions asked, with the best they hold for this operator (nil: nothing).
    private var asked: [Int: QueueRank?] = [:]
    private var steps = 0
    /// A search asks at most this many times (each partition once, plus a few asked again
    /// after their queue changed), so it always ends.
    private let stepLimit: Int

    init(partitionCount: Int) {
        stepLimit = 2 * partitionCount + 8
    }

    /// A partition answered without an offer.
    mutating func answered(partition: Int, best: QueueRank?) {
        asked[partition] = .some(best)
    }

    /// A partition's queue heads changed since it was asked: its answer no longer holds.
    mutating func forget(partition: Int) {
        asked.removeValue(forKey: partition)
    }

    /// The partition to ask next and the bound to ask with, or nil when the search is over.
    mutating func next(for profile: OperatorProfile, in directory: inout QueueDirectory) -> (partition: Int, bound: QueueRank?)? {
        steps += 1
        guard steps <= stepLimit else { return nil }
        let excluded = Set(asked.keys)
        let unasked = Self.bestHead(for: profile, in: &directory, excluding: excluded)
        let known = asked.compactMap { partition, best in best.map { (partition: partition, rank: $0) } }
            .min { ($0.rank, $0.partition) < ($1.rank, $1.partition) }
        if let unasked, known.map({ unasked.rank <= $0.rank }) ?? true {
            let runnerUp = Self.bestHead(for: profile, in: &directory, excluding: excluded.union([unasked.partition]))
            let bounds = [runnerUp?.rank, known?.rank].compactMap { $0 }
            return (unasked.partition, bounds.min())
        }
        guard let known else { return nil }
        return (known.partition, unasked?.rank)
    }

    /// The best head among the lanes this operator can take from, outside `excluded`.
    private static func bestHead(for profile: OperatorProfile, in directory: inout QueueDirectory,
                                 excluding excluded: Set<Int>) -> (partition: Int, rank: QueueRank)? {
        var best: (partition: Int, rank: QueueRank)?
        for (skill, level) in profile.skills {
            if let candidate = directory.best(site: profile.site, skill: skill, level: level, excluding: excluded),
               best.map({ candidate.rank < $0.rank }) ?? true {
                best = candidate
            }
        }
        return best
    }
}
