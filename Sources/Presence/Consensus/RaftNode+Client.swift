/// What the application asks of the group: proposals and membership changes, on the
/// leader only.
extension RaftNode {
    /// A new entry proposed on the leader: where it will sit if it commits (it is applied,
    /// on every member, when it does; a leader change may yet drop it, so the caller waits
    /// for `apply` of this index and term).
    public struct Proposal: Sendable, Equatable {
        public var index: RaftIndex
        public var term: RaftTerm
        public var actions: [RaftAction]
    }

    /// Proposes a command. Refused elsewhere than on the leader, naming the leader if known.
    public mutating func propose(_ payload: [UInt8], now: UInt64) throws(RaftError) -> Proposal {
        guard role == .leader else { throw .notLeader(leader: leader) }
        var out = RaftOutput()
        let entry = appendAsLeader(.command(payload), now: now, &out)
        return Proposal(index: entry.index, term: entry.term, actions: out.actions)
    }

    /// Changes the membership by one server (dissertation §4.1). The new configuration is
    /// in force as soon as it is appended; the next change waits until this one commits. A
    /// leader that removes itself leads until the change commits, then steps down.
    public mutating func changeMembership(_ change: MembershipChange, now: UInt64) throws(RaftError) -> Proposal {
        guard role == .leader else { throw .notLeader(leader: leader) }
        guard configurationIndex <= commitIndex else { throw .configurationChangePending }
        // A new leader may hold an uncommitted configuration of a deposed one it does not yet
        // know lost: changing from it could let two disjoint majorities form. Committing an
        // entry of its own term first settles which configuration is current.
        guard log.term(at: commitIndex) == term else { throw .leaderNotReady }
        guard let next = change.applied(to: configuration) else { throw .noChange }
        guard !next.voters.isEmpty else { throw .lastVoter }
        var out = RaftOutput()
        let entry = appendAsLeader(.configuration(next), now: now, &out)
        return Proposal(index: entry.index, term: entry.term, actions: out.actions)
    }
}
