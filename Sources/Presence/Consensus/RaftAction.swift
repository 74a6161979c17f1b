/// What a `RaftNode` asks its shell to do, in the order the shell must do it.
///
/// The order is the contract: every `persist…` action comes first, and the shell makes
/// them durable (writes and fsyncs) before it carries out any `send`, because a vote
/// granted, a term adopted or an entry acknowledged must survive a crash before anyone
/// hears of it (paper figure 2: "updated on stable storage before responding to RPCs").
/// Then the sends, then `installSnapshot` and `apply` (committed entries, in log order),
/// then timers and notices. `RaftNode` builds every answer in that order (`RaftOutput`).
public enum RaftAction: Sendable, Hashable {
    /// Store the current term and vote.
    case persistState(term: RaftTerm, votedFor: ServerID?)
    /// Append these entries to the stored log (they follow its last entry).
    case persistEntries([RaftEntry])
    /// Remove the stored entries from this index on (a follower's conflicting suffix).
    case persistTruncation(from: RaftIndex)
    /// Store this snapshot in place of the stored one, and drop the stored entries through
    /// its last index (after a local compaction, or one installed from the leader).
    case persistSnapshot(RaftSnapshot)
    /// Send a message to another server (it may be lost: Raft retries by itself).
    case send(to: ServerID, RaftEnvelope)
    /// Replace the application's state with this snapshot's (sent by the leader, or the
    /// stored one on start).
    case installSnapshot(RaftSnapshot)
    /// Apply these newly committed entries to the application, in order. Configuration
    /// and no-op entries are included, so the application sees every index once.
    case apply([RaftEntry])
    /// Call `onTimer` with this timer at this instant. Timers are never cancelled: one
    /// that no longer applies is recognised and ignored.
    case schedule(RaftTimer, at: UInt64)
    /// The leader this server knows of changed (nil: none known), in this term.
    case leaderChanged(ServerID?, term: RaftTerm)
}

/// The node's timers.
public enum RaftTimer: Sendable, Hashable {
    /// The election timeout; only the latest generation counts (each reset makes a new one).
    case election(generation: UInt64)
    /// A leader's heartbeat for the term it was elected in.
    case heartbeat(term: RaftTerm)
}

/// Where a server is in the protocol. An observer is always a follower.
public enum RaftRole: Sendable, Hashable {
    case follower
    /// Asking for pre-votes, in its current term (dissertation §9.6).
    case preCandidate
    case candidate
    case leader
}

/// Why a request to the node was refused.
public enum RaftError: Error, Sendable, Equatable {
    /// Only the leader takes proposals and membership changes; this is the one this server
    /// knows of, if any, to redirect to.
    case notLeader(leader: ServerID?)
    /// Another configuration change is not committed yet: one at a time (dissertation §4.1).
    case configurationChangePending
    /// The leader has not committed an entry of its own term yet, so it may not know the
    /// latest configuration (the single-server change bug, Ongaro, raft-dev, 2015).
    case leaderNotReady
    /// The change would leave the configuration as it is.
    case noChange
    /// The change would leave the group without a voter.
    case lastVoter
    /// Compaction asked for beyond what has been applied, or not beyond the latest snapshot.
    case cannotCompact(through: RaftIndex, applied: RaftIndex, snapshot: RaftIndex)
}

/// Collects a node's actions by kind and hands them out in the order `RaftAction` states,
/// whatever order the rules produced them in.
struct RaftOutput {
    private var persist: [RaftAction] = []
    private var sends: [RaftAction] = []
    private var installs: [RaftAction] = []
    private var applies: [RaftAction] = []
    private var later: [RaftAction] = []

    mutating func add(_ action: RaftAction) {
        switch action {
        case .persistState, .persistEntries, .persistTruncation, .persistSnapshot: persist.append(action)
        case .send: sends.append(action)
        case .installSnapshot: installs.append(action)
        case .apply: applies.append(action)
        case .schedule, .leaderChanged: later.append(action)
        }
    }

    var actions: [RaftAction] { persist + sends + installs + applies + later }
}
