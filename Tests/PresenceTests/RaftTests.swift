import Presence
import Testing

/// Each Raft rule on a few nodes, messages handed over by hand (`RaftTestCluster`).
@Suite struct RaftElectionTests {
    static let abc: [ServerID] = ["a", "b", "c"]

    static func vote(from candidate: ServerID, term: RaftTerm, lastIndex: RaftIndex = 0, lastTerm: RaftTerm = 0,
                     preVote: Bool = false) -> RaftEnvelope {
        RaftEnvelope(from: candidate, term: term,
                     message: .requestVote(VoteRequest(preVote: preVote, lastLogIndex: lastIndex, lastLogTerm: lastTerm)))
    }

    static func granted(_ actions: [RaftAction]) -> Bool? {
        for case .send(_, let envelope) in actions {
            if case .voteResponse(let response) = envelope.message { return response.granted }
        }
        return nil
    }

    @Test func aVote_isGrantedOncePerTerm_persistedBeforeTheAnswer() {
        var cluster = RaftTestCluster(voters: Self.abc)
        let first = cluster.message(to: "a", Self.vote(from: "b", term: 1))
        #expect(Self.granted(first) == true)
        #expect(first.firstIndex(of: .persistState(term: 1, votedFor: "b"))! < first.firstIndex { if case .send = $0 { true } else { false } }!,
                "the vote is on disk before the candidate hears of it")
        #expect(Self.granted(cluster.message(to: "a", Self.vote(from: "c", term: 1))) == false, "one vote per term")
        #expect(Self.granted(cluster.message(to: "a", Self.vote(from: "b", term: 1))) == true, "the same candidate again (a lost answer)")
        #expect(Self.granted(cluster.message(to: "a", Self.vote(from: "c", term: 2))) == true, "a new term, a new vote")
    }

    @Test func aVote_goesOnlyToALogAtLeastAsUpToDate() {
        let entries = [RaftEntry(term: 1, index: 1, kind: .noop), RaftEntry(term: 2, index: 2, kind: .noop)]
        var state = RaftPersistentState.bootstrap(RaftConfiguration(voters: Set(Self.abc)))
        (state.term, state.entries) = (2, entries)
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.boot("a", from: state)
        #expect(Self.granted(cluster.message(to: "a", Self.vote(from: "b", term: 3, lastIndex: 5, lastTerm: 1))) == false,
                "a longer log of an older last term is behind")
        #expect(Self.granted(cluster.message(to: "a", Self.vote(from: "b", term: 4, lastIndex: 1, lastTerm: 2))) == false,
                "the same last term and shorter is behind")
        #expect(Self.granted(cluster.message(to: "a", Self.vote(from: "b", term: 5, lastIndex: 2, lastTerm: 2))) == true)
        #expect(cluster["a"].term == 5, "a refused candidate's higher term is adopted all the same")
    }

    @Test func aPreVote_changesNothing_andIsRefusedWhileALeaderIsHeard() {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.elect("a")
        #expect(cluster.leaders == ["a"] && cluster["b"].term == 1)
        // Within the minimum election timeout of the leader's last message: no pre-vote, and no vote.
        let pre = cluster.message(to: "b", Self.vote(from: "c", term: 2, lastIndex: 9, lastTerm: 1, preVote: true))
        #expect(Self.granted(pre) == false)
        let real = cluster.message(to: "b", Self.vote(from: "c", term: 2, lastIndex: 9, lastTerm: 1))
        #expect(Self.granted(real) == false && cluster["b"].term == 1 && cluster["b"].votedFor == "a",
                "a request within the lease neither raises the term nor takes the vote")
        // Once the lease ran out, the pre-vote is granted, and still nothing is persisted.
        cluster.now += cluster.settings.electionTimeoutMinimum
        let later = cluster.message(to: "b", Self.vote(from: "c", term: 2, lastIndex: 9, lastTerm: 1, preVote: true))
        #expect(Self.granted(later) == true && cluster["b"].term == 1)
        #expect(!later.contains { if case .persistState = $0 { true } else { false } })
    }

    @Test func aMemberCutOff_doesNotDeposeTheLeader_whenItReturns() {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.elect("a")
        let isolated = RaftTestCluster.touching(["c"])
        for _ in 0..<5 {
            cluster.timeOut("c", after: 0)  // its pre-votes go nowhere
            cluster.heartbeat(dropping: isolated)
        }
        #expect(cluster["c"].term == 1 && cluster["c"].role == .preCandidate, "pre-votes never raised its term")
        // Back, it times out before the leader's next heartbeat reaches it: the others
        // still hear the leader, so they refuse.
        cluster.heartbeat(dropping: { $0.to == "c" })
        cluster.timeOut("c", after: 0)
        cluster.deliver()
        #expect(cluster["c"].term == 1 && cluster["c"].counters.elections == 0)
        cluster.heartbeat()
        #expect(cluster.leaders == ["a"] && cluster["a"].term == 1 && cluster["c"].leader == "a")
    }

    @Test func everyTimeoutOfACutOffMember_isAPreVote_neverAnElection() {
        // The same isolation, counted: every timeout was a pre-vote, none an election.
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.elect("a")
        for _ in 0..<3 { cluster.timeOut("c"); cluster.deliver(dropping: RaftTestCluster.touching(["c"])) }
        #expect(cluster["c"].counters.preVotes == 3 && cluster["c"].counters.elections == 0)
    }

    @Test func aSplitMajority_elects_andTheLoserOfTheTermStepsDown() {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.elect("a")
        cluster.crash("a")
        cluster.elect("b")
        #expect(cluster.leaders == ["b"] && cluster["b"].term == 2 && cluster["c"].leader == "b")
        cluster.restart("a")
        cluster.heartbeat()
        #expect(cluster["a"].term == 2 && cluster["a"].role == .follower && cluster["a"].leader == "b")
    }

    @Test func anObserver_neverCampaigns_itsVoteCountsForNothing_butItAppliesTheLog() throws {
        var cluster = RaftTestCluster(voters: Self.abc, observers: ["o"])
        cluster.timeOut("o")
        #expect(!cluster.last["o"]!.contains { if case .send = $0 { true } else { false } } && cluster["o"].term == 0)
        // a with only the observer's answer is one voter of three: no leader.
        cluster.crash("b"); cluster.crash("c")
        cluster.timeOut("a")
        let preVote = cluster.inbox.first { $0.to == "b" }!.envelope
        _ = cluster.message(to: "o", preVote)
        cluster.deliver()
        #expect(cluster["a"].role == .preCandidate && cluster["a"].counters.elections == 0)
        cluster.restart("b"); cluster.restart("c")
        cluster.elect("a")
        _ = try cluster.propose("x", at: "a")
        cluster.heartbeat()
        cluster.heartbeat()
        #expect(cluster.applied["o"]?.last?.kind == .command(Array("x".utf8)))
        #expect(cluster["o"].role == .follower && !cluster["o"].isVoter)
    }

    @Test func aGroupOfOne_electsItself_andCommitsAlone() throws {
        var cluster = RaftTestCluster(voters: ["solo"])
        cluster.timeOut("solo")
        #expect(cluster.leaders == ["solo"])
        let index = try cluster.propose("x", at: "solo")
        #expect(cluster["solo"].commitIndex == index && cluster.applied["solo"]?.count == 2)
    }

    @Test func aLeaderCutOffFromTheMajority_stepsDown() {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.elect("a")
        for _ in 0..<8 { cluster.heartbeat(dropping: RaftTestCluster.touching(["a"])) }
        #expect(cluster["a"].role == .follower && cluster["a"].counters.checkQuorumStepDowns == 1)
    }
}

@Suite struct RaftClientTests {
    @Test func aProposal_onAFollower_isRefused_namingTheLeader() throws {
        var cluster = RaftTestCluster(voters: ["a", "b", "c"])
        #expect(throws: RaftError.notLeader(leader: nil)) { _ = try cluster.propose("x", at: "b") }
        cluster.elect("a")
        #expect(throws: RaftError.notLeader(leader: "a")) { _ = try cluster.propose("x", at: "b") }
        let index = try cluster.propose("x", at: "a")
        cluster.deliver()
        cluster.heartbeat()
        #expect(["a", "b", "c"].allSatisfy { cluster.applied[$0]?.map(\.index) == [1, index] })
    }

    @Test func aRestartedServer_keepsWhatItPersisted_andNothingElse() throws {
        var cluster = RaftTestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        _ = try cluster.propose("x", at: "a")
        cluster.deliver()
        for id: ServerID in ["a", "b", "c"] { #expect(cluster.disks[id] == cluster[id].persistentState, "\(id)'s memory is on its disk") }
        let before = cluster["b"]
        cluster.crash("b")
        cluster.restart("b")
        #expect(cluster["b"].term == before.term && cluster["b"].votedFor == before.votedFor && cluster["b"].log == before.log)
        #expect(cluster["b"].commitIndex == 0 && cluster["b"].role == .follower && cluster["b"].leader == nil,
                "the commit index and the role are not persisted: they are learnt again")
        // Its vote of term 1 survived: it cannot vote for another in that term.
        let vote = RaftEnvelope(from: "c", term: 1, message: .requestVote(VoteRequest(preVote: false, lastLogIndex: 9, lastLogTerm: 1)))
        #expect(RaftElectionTests.granted(cluster.message(to: "b", vote)) == false)
        cluster.heartbeat()
        #expect(cluster["b"].commitIndex == 2 && cluster.applied["b"]?.map(\.index) == [1, 2], "a restart applies again from the snapshot")
    }
}
