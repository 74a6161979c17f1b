/// The timing of a Raft group, in one place, each with its reason.
public struct RaftSettings: Sendable, Equatable {
    /// An election timeout is drawn uniformly from `electionTimeoutMinimum..<electionTimeoutMaximum`
    /// at every reset: spreading them is what makes split votes rare (paper §5.2, §9.3:
    /// 150–300 ms elected a leader in under 300 ms on average with few split votes).
    public var electionTimeoutMinimum: UInt64
    public var electionTimeoutMaximum: UInt64
    /// How often a leader sends AppendEntries when it has nothing new: well under the
    /// minimum election timeout, so a follower misses several before it times out
    /// (paper §5.6: broadcastTime ≪ electionTimeout).
    public var heartbeatInterval: UInt64
    /// Most entries in one AppendEntries, so a message stays small while a follower catches up.
    public var maxEntriesPerMessage: Int
    /// The test-only switch that breaks figure 8's rule (commit only entries of the
    /// leader's own term, paper §5.4.2), so a test can show the simulator's checker catches
    /// the loss of a committed entry. Never set outside a test.
    public var unsafeCommitOlderTerms: Bool

    public init(electionTimeoutMinimum: UInt64, electionTimeoutMaximum: UInt64, heartbeatInterval: UInt64,
                maxEntriesPerMessage: Int = 64, unsafeCommitOlderTerms: Bool = false) {
        precondition(electionTimeoutMinimum < electionTimeoutMaximum && heartbeatInterval < electionTimeoutMinimum)
        (self.electionTimeoutMinimum, self.electionTimeoutMaximum, self.heartbeatInterval) =
            (electionTimeoutMinimum, electionTimeoutMaximum, heartbeatInterval)
        (self.maxEntriesPerMessage, self.unsafeCommitOlderTerms) = (maxEntriesPerMessage, unsafeCommitOlderTerms)
    }

    /// The paper's figures for a LAN, times `base` (1 on a LAN; more where round trips or
    /// fsyncs are slow, since an election timeout must exceed both by an order of magnitude).
    public static func lan(base: UInt64 = 1) -> RaftSettings {
        RaftSettings(electionTimeoutMinimum: 150_000_000 * base,  // paper §9.3: 150 ms
                     electionTimeoutMaximum: 300_000_000 * base,  // ... to 300 ms
                     heartbeatInterval: 50_000_000 * base)         // three heartbeats per minimum timeout
    }
}
