/// What Raft servers send each other: the sender and its term on everything (a server that
/// sees a higher term adopts it and steps down, paper §5.1), and one of the RPCs of paper
/// figure 2 and §7, with pre-vote (dissertation §9.6).
public struct RaftEnvelope: Sendable, Hashable {
    public var from: ServerID
    /// The sender's current term; for a pre-vote request, the term the sender would campaign
    /// in (its term + 1), which nobody adopts from it.
    public var term: RaftTerm
    public var message: RaftMessage

    public init(from: ServerID, term: RaftTerm, message: RaftMessage) {
        (self.from, self.term, self.message) = (from, term, message)
    }
}

/// The messages of the protocol.
///
/// ONLY APPEND TO THIS LIST: the numeric tags are part of the protocol.
public enum RaftMessage: Sendable, Hashable {
    /// Vote for me (tag 1), or, with `preVote`, would you vote for me (nobody's term changes).
    case requestVote(VoteRequest)
    /// The answer to either (tag 2).
    case voteResponse(VoteResponse)
    /// Entries to append, or none as a heartbeat (tag 3).
    case appendEntries(AppendEntries)
    /// The answer (tag 4).
    case appendResponse(AppendResponse)
    /// The leader's latest snapshot, for a follower that needs entries it has compacted (tag 5).
    case installSnapshot(InstallSnapshot)
    /// The answer (tag 6).
    case snapshotResponse(SnapshotResponse)
}

public struct VoteRequest: Sendable, Hashable {
    /// A pre-vote: grant it only if you would vote in the real election, change nothing.
    public var preVote: Bool
    /// The candidate's last log entry, for the up-to-date check (paper §5.4.1).
    public var lastLogIndex: RaftIndex
    public var lastLogTerm: RaftTerm

    public init(preVote: Bool, lastLogIndex: RaftIndex, lastLogTerm: RaftTerm) {
        (self.preVote, self.lastLogIndex, self.lastLogTerm) = (preVote, lastLogIndex, lastLogTerm)
    }
}

public struct VoteResponse: Sendable, Hashable {
    /// Whether this answers a pre-vote request.
    public var preVote: Bool
    public var granted: Bool

    public init(preVote: Bool, granted: Bool) { (self.preVote, self.granted) = (preVote, granted) }
}

public struct AppendEntries: Sendable, Hashable {
    /// The entry just before `entries`, which the follower must hold for them to follow it
    /// (the consistency check that gives the log matching property, paper §5.3).
    public var prevLogIndex: RaftIndex
    public var prevLogTerm: RaftTerm
    public var entries: [RaftEntry]
    /// The leader's commit index.
    public var leaderCommit: RaftIndex

    public init(prevLogIndex: RaftIndex, prevLogTerm: RaftTerm, entries: [RaftEntry], leaderCommit: RaftIndex) {
        (self.prevLogIndex, self.prevLogTerm, self.entries, self.leaderCommit) = (prevLogIndex, prevLogTerm, entries, leaderCommit)
    }
}

public struct AppendResponse: Sendable, Hashable {
    public var success: Bool
    /// On success: the follower's log matches the leader's through here.
    public var matchIndex: RaftIndex
    /// On failure, where the leader should look next (paper §5.3, end; dissertation §5.3):
    /// the first index of the follower's conflicting term `conflictTerm`, or, when the
    /// follower's log is too short (`conflictTerm` nil), its last index + 1.
    public var conflictIndex: RaftIndex
    public var conflictTerm: RaftTerm?

    public init(success: Bool, matchIndex: RaftIndex, conflictIndex: RaftIndex = 0, conflictTerm: RaftTerm? = nil) {
        (self.success, self.matchIndex, self.conflictIndex, self.conflictTerm) = (success, matchIndex, conflictIndex, conflictTerm)
    }
}

/// The whole snapshot in one message: the partition table is small (a few thousand rows),
/// so the paper's chunked transfer (`offset`, `done`) is not worth its state yet.
public struct InstallSnapshot: Sendable, Hashable {
    public var snapshot: RaftSnapshot

    public init(snapshot: RaftSnapshot) { self.snapshot = snapshot }
}

public struct SnapshotResponse: Sendable, Hashable {
    /// The follower holds everything through here (the snapshot's last index).
    public var matchIndex: RaftIndex

    public init(matchIndex: RaftIndex) { self.matchIndex = matchIndex }
}
