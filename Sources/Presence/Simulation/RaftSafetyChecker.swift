import Wire

/// A broken rule found by the Raft simulation: enough to replay it (the seed) and to find
/// it (the simulated time and the event being handled).
public struct RaftViolation: Sendable, Equatable, CustomStringConvertible {
    public var seed: UInt64
    public var time: UInt64
    public var event: String
    public var rule: String
    public var detail: String

    public var description: String {
        "seed \(seed) at \(Double(time) / 1e9) s, \(event): \(rule): \(detail)"
    }
}

/// What the Raft properties (paper figure 3) require of everything the simulated servers
/// did, checked event by event against a record of the whole run: who led each term, what
/// was committed at each index, the application state after each index, and each
/// (index, term)'s entry and predecessor.
struct RaftSafetyChecker {
    private var leaderOfTerm: [RaftTerm: ServerID] = [:]
    /// Committed entries by index, as the first server to commit each saw it.
    private(set) var committed: [RaftIndex: RaftEntry] = [:]
    /// The term each was committed in: that server's term then (the leader's, or, if a
    /// follower saw it first, a term at least as late, which only checks fewer leaders).
    private var committedInTerm: [RaftIndex: RaftTerm] = [:]
    /// The application's digest after applying each index, as the first server to get there computed it.
    private var digestAt: [RaftIndex: UInt64] = [0: RaftSafetyChecker.emptyDigest]
    /// For log matching: an (index, term) names one entry, always after the same (index - 1)'s term.
    private var entryAt: [IndexTerm: (kind: RaftEntryKind, previousTerm: RaftTerm)] = [:]

    private struct IndexTerm: Hashable {
        var index: RaftIndex
        var term: RaftTerm
    }

    static let emptyDigest: UInt64 = 0xCBF2_9CE4_8422_2325

    /// The application state after applying `entry` to a state with `digest`.
    static func digest(_ digest: UInt64, after entry: RaftEntry) -> UInt64 {
        var hash = StableHash.finalise(digest ^ entry.index &* 0x9E37_79B9_7F4A_7C15 ^ entry.term)
        switch entry.kind {
        case .noop: hash = StableHash.finalise(hash ^ 1)
        case .configuration(let configuration):
            hash = StableHash.finalise(hash ^ StableHash.hash(configuration.description))
        case .command(let payload):
            for byte in payload { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        }
        return hash
    }

    var highestCommitted: RaftIndex { committed.keys.max() ?? 0 }

    /// Election safety: at most one leader per term.
    mutating func leads(_ server: ServerID, term: RaftTerm) -> String? {
        if let other = leaderOfTerm[term], other != server { return "\(other) and \(server) both lead term \(term)" }
        leaderOfTerm[term] = server
        return nil
    }

    /// Leader completeness: a leader holds every entry committed in an earlier term (paper
    /// §5.4; a candidate of an older term may still win with late votes, and lead in vain).
    func checkComplete(_ node: RaftNode) -> String? {
        for (index, entry) in committed where index > node.log.snapshotIndex && committedInTerm[index]! < node.term {
            if node.log.entry(at: index) != entry {
                return "\(node.id) leads term \(node.term) without committed entry \(index) (term \(entry.term))"
            }
        }
        return nil
    }

    /// A committed entry is never changed: every server that commits an index commits the same entry.
    mutating func commits(_ node: RaftNode, from previous: RaftIndex) -> String? {
        // Entries committed through an installed snapshot are checked by the snapshot's digest.
        let first = max(previous, node.log.snapshotIndex) + 1
        guard node.commitIndex >= first else { return nil }
        for index in first...node.commitIndex {
            guard let entry = node.log.entry(at: index) else { return "\(node.id) commits \(index), which its log lacks" }
            if let known = committed[index], known != entry {
                return "\(node.id) commits \(entry) at \(index), \(known) was committed there"
            }
            if committed[index] == nil { (committed[index], committedInTerm[index]) = (entry, node.term) }
        }
        return nil
    }

    /// Log matching: an appended entry is the only one with its index and term, after the
    /// only possible predecessor term.
    mutating func appends(_ entry: RaftEntry, previousTerm: RaftTerm?, at server: ServerID) -> String? {
        guard let previousTerm else { return "\(server) appended \(entry.index) after a gap" }
        let key = IndexTerm(index: entry.index, term: entry.term)
        if let known = entryAt[key] {
            if known.kind != entry.kind || known.previousTerm != previousTerm {
                return "\(server) holds a different entry \(entry.index) of term \(entry.term) (or after term \(previousTerm), not \(known.previousTerm))"
            }
        } else {
            entryAt[key] = (entry.kind, previousTerm)
        }
        return nil
    }

    /// State machine safety: a server applies exactly the committed entries, in order; the
    /// digest after each index is the same everywhere.
    mutating func applies(_ entry: RaftEntry, digest: inout UInt64, applied: inout RaftIndex, at server: ServerID) -> String? {
        guard entry.index == applied + 1 else { return "\(server) applied \(entry.index) after \(applied)" }
        guard committed[entry.index] == entry else {
            return "\(server) applied \(entry) at \(entry.index), committed there: \(String(describing: committed[entry.index]))"
        }
        digest = Self.digest(digest, after: entry)
        applied = entry.index
        if let known = digestAt[entry.index], known != digest { return "\(server)'s state after \(entry.index) differs" }
        digestAt[entry.index] = digest
        return nil
    }

    /// A snapshot holds the state every server had after its last index.
    func installs(index: RaftIndex, digest: UInt64, at server: ServerID) -> String? {
        guard let known = digestAt[index] else { return "\(server) installed a snapshot through \(index), which nobody applied" }
        return known == digest ? nil : "\(server) installed a snapshot through \(index) of another state"
    }
}
