/// The in-memory view of a server's log: the entries after its latest snapshot. Entries
/// through `snapshotIndex` have been compacted away (paper §7); their last term is kept,
/// because the consistency check of the first entry after them needs it.
public struct RaftLog: Sendable, Equatable {
    /// The index and term of the last entry the snapshot covers (0, 0 with none).
    public private(set) var snapshotIndex: RaftIndex
    public private(set) var snapshotTerm: RaftTerm
    /// `entries[i].index == snapshotIndex + 1 + i`.
    public private(set) var entries: [RaftEntry]

    public init(snapshotIndex: RaftIndex, snapshotTerm: RaftTerm, entries: [RaftEntry]) {
        precondition(entries.enumerated().allSatisfy { $0.element.index == snapshotIndex + 1 + UInt64($0.offset) },
                     "a log's entries follow its snapshot without gaps")
        (self.snapshotIndex, self.snapshotTerm, self.entries) = (snapshotIndex, snapshotTerm, entries)
    }

    public var lastIndex: RaftIndex { snapshotIndex + RaftIndex(entries.count) }
    public var lastTerm: RaftTerm { entries.last?.term ?? snapshotTerm }

    /// The term of the entry at `index`, if this log still knows it (the snapshot's last
    /// entry included, anything compacted before it not).
    public func term(at index: RaftIndex) -> RaftTerm? {
        if index == snapshotIndex { return snapshotTerm }
        return entry(at: index)?.term
    }

    public func entry(at index: RaftIndex) -> RaftEntry? {
        guard index > snapshotIndex, index <= lastIndex else { return nil }
        return entries[Int(index - snapshotIndex - 1)]
    }

    /// Up to `limit` entries from `index` on (nothing if `index` is compacted or beyond the end).
    public func entries(from index: RaftIndex, limit: Int) -> [RaftEntry] {
        guard index > snapshotIndex, index <= lastIndex else { return [] }
        let start = Int(index - snapshotIndex - 1)
        return Array(entries[start..<min(entries.count, start + limit)])
    }

    /// The entries `from...through`, all of which must be in the log.
    func entries(from index: RaftIndex, through last: RaftIndex) -> [RaftEntry] {
        guard index <= last else { return [] }
        return Array(entries[Int(index - snapshotIndex - 1)...Int(last - snapshotIndex - 1)])
    }

    /// The first index holding `term`, searching back from `index`: the conflict hint a
    /// follower gives, so the leader skips the whole term at once (paper §5.3, end).
    func firstIndex(ofTermAt index: RaftIndex) -> RaftIndex {
        guard let term = term(at: index) else { return index }
        var first = index
        while first > snapshotIndex + 1, self.term(at: first - 1) == term { first -= 1 }
        return first
    }

    /// The last index holding `term`, if any: where a leader resumes after a conflict hint.
    func lastIndex(of term: RaftTerm) -> RaftIndex? {
        entries.last { $0.term == term }?.index
    }

    mutating func append(_ entry: RaftEntry) {
        precondition(entry.index == lastIndex + 1, "entries are appended in order")
        entries.append(entry)
    }

    /// Removes `index` and everything after it.
    mutating func truncate(from index: RaftIndex) {
        precondition(index > snapshotIndex, "a snapshot holds committed entries only, which are never truncated")
        entries.removeLast(Int(lastIndex - min(lastIndex, index - 1)))
    }

    /// Forgets everything through `index` (whose term is `term`), keeping what follows if
    /// it is there.
    mutating func compact(through index: RaftIndex, term: RaftTerm) {
        if index >= lastIndex {
            entries = []
        } else if index > snapshotIndex {
            entries.removeFirst(Int(index - snapshotIndex))
        }
        (snapshotIndex, snapshotTerm) = (index, term)
    }
}
