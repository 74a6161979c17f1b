/// Leader election: pre-vote, then vote (paper §5.2, §5.4.1; dissertation §9.6, §4.2.3).
extension RaftNode {
    /// Whether a leader of the current term was heard from within the minimum election
    /// timeout (or this server leads): then nobody needs a new one, and a request for a
    /// vote comes from a server that was cut off, or removed, and must not disrupt.
    func inLeaderLease(now: UInt64) -> Bool {
        if role == .leader { return true }
        guard let contact = lastLeaderContact else { return false }
        return now < contact + settings.electionTimeoutMinimum
    }

    /// A candidate's log is at least as up to date as this one: a later last term, or the
    /// same last term and at least as long (paper §5.4.1). This is what keeps a server
    /// missing committed entries from being elected.
    func isUpToDate(lastLogIndex: RaftIndex, lastLogTerm: RaftTerm) -> Bool {
        lastLogTerm > log.lastTerm || (lastLogTerm == log.lastTerm && lastLogIndex >= log.lastIndex)
    }

    /// The election timeout ran out: ask the other voters whether they would vote, without
    /// raising the term, so a server that cannot win (cut off, or behind) leaves the
    /// healthy majority's term alone (dissertation §9.6).
    mutating func startPreVote(now: UInt64, _ out: inout RaftOutput) {
        counters.preVotes += 1
        role = .preCandidate
        setLeader(nil, &out)
        votes = [id]
        resetElectionTimer(now: now, &out)
        if hasQuorum(votes) { return startElection(now: now, &out) }
        let request = VoteRequest(preVote: true, lastLogIndex: log.lastIndex, lastLogTerm: log.lastTerm)
        for voter in configuration.sortedVoters where voter != id {
            send(.requestVote(request), to: voter, term: term + 1, &out)
        }
    }

    /// A majority would vote: campaign for real in the next term, voting for itself.
    mutating func startElection(now: UInt64, _ out: inout RaftOutput) {
        counters.elections += 1
        term += 1
        votedFor = id
        out.add(.persistState(term: term, votedFor: id))
        role = .candidate
        lastLeaderContact = nil
        votes = [id]
        resetElectionTimer(now: now, &out)
        if hasQuorum(votes) { return becomeLeader(now: now, &out) }
        let request = VoteRequest(preVote: false, lastLogIndex: log.lastIndex, lastLogTerm: log.lastTerm)
        for voter in configuration.sortedVoters where voter != id {
            send(.requestVote(request), to: voter, &out)
        }
    }

    func hasQuorum(_ servers: Set<ServerID>) -> Bool {
        servers.filter(configuration.isVoter).count >= configuration.quorum
    }

    mutating func onVoteRequest(_ request: VoteRequest, from candidate: ServerID, term requested: RaftTerm, now: UInt64,
                                _ out: inout RaftOutput) {
        let upToDate = isUpToDate(lastLogIndex: request.lastLogIndex, lastLogTerm: request.lastLogTerm)
        if request.preVote {
            // Would this server vote in an election for `requested`? Nothing changes here.
            let grant = requested > term && !inLeaderLease(now: now) && upToDate
            send(.voteResponse(VoteResponse(preVote: true, granted: grant)), to: candidate, &out)
            return
        }
        if requested > term {
            // Dissertation §4.2.3: within a leader's lease, neither the term nor the vote changes.
            guard !inLeaderLease(now: now) else {
                return send(.voteResponse(VoteResponse(preVote: false, granted: false)), to: candidate, &out)
            }
            becomeFollower(term: requested, now: now, &out)
        }
        // One vote per term (persisted before the answer leaves), and only for an up-to-date log.
        // A server answers whatever its own configuration says (dissertation §4.1): an
        // observer promoted in the candidate's log that has not received that entry yet
        // must still vote, or the group could never again form a majority. Observers'
        // votes count for nothing because a candidate counts only its own configuration's voters.
        let grant = requested == term && (votedFor == nil || votedFor == candidate) && upToDate
        if grant {
            if votedFor == nil {
                votedFor = candidate
                out.add(.persistState(term: term, votedFor: candidate))
            }
            // Granting a vote restarts the timeout (paper §5.2), giving the candidate its chance.
            resetElectionTimer(now: now, &out)
        }
        send(.voteResponse(VoteResponse(preVote: false, granted: grant)), to: candidate, &out)
    }

    mutating func onVoteResponse(_ response: VoteResponse, from voter: ServerID, term answered: RaftTerm, now: UInt64,
                                 _ out: inout RaftOutput) {
        guard response.granted, configuration.isVoter(voter) else { return }
        if response.preVote {
            // A granted pre-vote carries the voter's own term, never above this one (it was
            // granted for a later term).
            guard role == .preCandidate else { return }
            votes.insert(voter)
            if hasQuorum(votes) { startElection(now: now, &out) }
        } else {
            guard role == .candidate, answered == term else { return }
            votes.insert(voter)
            if hasQuorum(votes) { becomeLeader(now: now, &out) }
        }
    }

    /// Won: lead, starting with a no-op of this term, whose commit commits everything
    /// before it (paper §8) and lets the leader learn the commit index.
    mutating func becomeLeader(now: UInt64, _ out: inout RaftOutput) {
        counters.termsLed += 1
        role = .leader
        electionGeneration += 1  // the election timer still pending is stale from here on
        leaderSince = now
        setLeader(id, &out)
        progress = [:]
        for member in configuration.members where member != id {
            progress[member] = Progress(next: log.lastIndex + 1)
        }
        appendAsLeader(.noop, now: now, &out)
        out.add(.schedule(.heartbeat(term: term), at: now + settings.heartbeatInterval))
    }
}
