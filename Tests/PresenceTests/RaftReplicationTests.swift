import Presence
import Testing

/// Log matching, truncation, fast backtracking, the commit rules and figure 8.
@Suite struct RaftReplicationTests {
    static let abc: [ServerID] = ["a", "b", "c"]

    /// A server restored with these entry terms (index 1 on) in `term`.
    static func state(terms: [RaftTerm], term: RaftTerm, voters: [ServerID] = abc) -> RaftPersistentState {
        var state = RaftPersistentState.bootstrap(RaftConfiguration(voters: Set(voters)))
        state.term = term
        state.entries = terms.enumerated().map { RaftEntry(term: $1, index: RaftIndex($0 + 1), kind: .command([UInt8($0)])) }
        return state
    }

    static func append(term: RaftTerm, prev: RaftIndex, prevTerm: RaftTerm, _ entries: [RaftEntry], commit: RaftIndex = 0) -> RaftEnvelope {
        RaftEnvelope(from: "a", term: term, message: .appendEntries(
            AppendEntries(prevLogIndex: prev, prevLogTerm: prevTerm, entries: entries, leaderCommit: commit)))
    }

    static func response(_ actions: [RaftAction]) -> AppendResponse? {
        for case .send(_, let envelope) in actions {
            if case .appendResponse(let response) = envelope.message { return response }
        }
        return nil
    }

    @Test func aFollower_refusesAGap_andAMismatch_withAHint() throws {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.boot("b", from: Self.state(terms: [1, 1, 2, 2], term: 2))
        let gap = try #require(Self.response(cluster.message(to: "b", Self.append(term: 3, prev: 7, prevTerm: 3, []))))
        #expect(!gap.success && gap.conflictIndex == 5 && gap.conflictTerm == nil, "too short: resume after its last entry")
        let mismatch = try #require(Self.response(cluster.message(to: "b", Self.append(term: 3, prev: 4, prevTerm: 3, []))))
        #expect(!mismatch.success && mismatch.conflictTerm == 2 && mismatch.conflictIndex == 3, "the first index of its term 2")
        #expect(cluster["b"].log.lastIndex == 4, "a refusal changes nothing")
    }

    @Test func aConflictingSuffix_isTruncated_persisted_andAStaleCopyCutsNothing() throws {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.boot("b", from: Self.state(terms: [1, 1, 2, 2], term: 2))
        let new = RaftEntry(term: 3, index: 3, kind: .noop)
        let actions = cluster.message(to: "b", Self.append(term: 3, prev: 2, prevTerm: 1, [new]))
        #expect(Array(actions.prefix(3)) == [.persistState(term: 3, votedFor: nil), .persistTruncation(from: 3), .persistEntries([new])])
        #expect(Self.response(actions) == AppendResponse(success: true, matchIndex: 3))
        #expect(cluster["b"].log.entries.map(\.term) == [1, 1, 3] && cluster.disks["b"] == cluster["b"].persistentState)
        // An older copy of an earlier message, arriving late, must not cut off entry 3.
        let stale = cluster.message(to: "b", Self.append(term: 3, prev: 0, prevTerm: 0, [cluster["b"].log.entry(at: 1)!]))
        #expect(Self.response(stale) == AppendResponse(success: true, matchIndex: 1) && cluster["b"].log.lastIndex == 3)
    }

    @Test func aFollower_commitsOnlyWhatTheMessageVouchedFor() {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.boot("b", from: Self.state(terms: [1, 1, 2], term: 2))
        // The leader's index 3 is of term 3; b's (term 2) is not it, whatever leaderCommit says.
        _ = cluster.message(to: "b", Self.append(term: 3, prev: 2, prevTerm: 1, [], commit: 3))
        #expect(cluster["b"].commitIndex == 2 && cluster.applied["b"]?.map(\.index) == [1, 2])
    }

    @Test func theConflictHint_skipsAWholeTerm_inOneRoundTrip() {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.boot("a", from: Self.state(terms: [1, 1, 1, 1, 1, 1, 1], term: 2))
        cluster.boot("b", from: Self.state(terms: [1, 1, 1, 1, 1, 1, 1], term: 2))
        cluster.boot("c", from: Self.state(terms: [1, 2, 2, 2, 2, 2, 2], term: 2))
        var refusals = 0
        cluster.elect("a", dropping: { message in
            if case .appendResponse(let response) = message.envelope.message, message.envelope.from == "c", !response.success { refusals += 1 }
            return false
        })
        cluster.heartbeat()
        #expect(refusals == 1, "one refusal names term 2 from index 2; the leader resumes there")
        #expect(cluster["c"].log.entries.map(\.term) == [1, 1, 1, 1, 1, 1, 1, 3] && cluster["c"].commitIndex == 8)
    }

    /// Paper figure 8, step by step with five servers (each leader's no-op shifts the
    /// indices by one against the figure). Entry X of term 1 reaches a majority in term 3;
    /// committing it then (the unsafe rule) lets s5 overwrite it in term 4.
    @Test(arguments: [false, true])
    func figure8_anOlderTermsEntryOnAMajority_isNotCommitted_untilOneOfTheLeadersTermIs(unsafe: Bool) throws {
        var settings = RaftSettings.lan()
        (settings.maxEntriesPerMessage, settings.unsafeCommitOlderTerms) = (1, unsafe)
        var cluster = RaftTestCluster(voters: ["s1", "s2", "s3", "s4", "s5"], settings: settings)
        // (a) s1 leads term 1; X (index 2) reaches s2 only.
        cluster.elect("s1")
        let x = try cluster.propose("X", at: "s1")
        cluster.deliver(dropping: { ["s3", "s4", "s5"].contains($0.to) })
        // (b) s1 crashes; s5 is elected in term 2 by s3, s4 and itself, and its no-op (index 2) goes nowhere.
        cluster.crash("s1")
        cluster.elect("s5", dropping: RaftTestCluster.isAppend)
        #expect(cluster["s5"].role == .leader && cluster["s5"].term == 2 && cluster["s5"].log.entry(at: 2)?.term == 2)
        cluster.crash("s5")
        // (c) s1 returns and leads term 3; X reaches s3, so s1, s2, s3 hold it; its own
        // no-op reaches s2 only, short of a majority. s4 hears nothing.
        cluster.restart("s1")
        var toS3 = 0
        cluster.elect("s1", dropping: { message in
            guard message.to != "s4" || !RaftTestCluster.isAppend(message) else { return true }
            guard message.to == "s3", RaftTestCluster.carriesEntries(ofTerm: 3)(message) else { return false }
            toS3 += 1
            return toS3 > 1  // the first is refused anyway (s3 lacks X), which sends X alone
        })
        #expect(cluster["s1"].term == 3 && cluster["s3"].log.entry(at: x)?.term == 1 && cluster["s2"].log.lastIndex == 3)
        // (Restarted, s1 has not even learnt that index 1 is committed.)
        #expect(cluster["s1"].commitIndex == (unsafe ? x : 0), "X is on a majority, but of term 1")
        // (d) s1 crashes; s5 (last term 2) is elected in term 4 and replaces X everywhere.
        cluster.crash("s1")
        cluster.restart("s5")
        cluster.elect("s5")
        cluster.heartbeat()
        #expect(cluster["s5"].role == .leader && cluster["s5"].commitIndex == 3 && cluster["s3"].log.entry(at: x)?.term == 2)
        let appliedX = cluster.applied.values.contains { $0.contains { $0.kind == .command(Array("X".utf8)) } }
        #expect(appliedX == unsafe, "only the broken rule applied X, which the group then lost")
    }

    @Test func anOlderTermsEntry_commitsWithTheLeadersNoop() throws {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.elect("a")
        let x = try cluster.propose("X", at: "a")
        cluster.deliver(dropping: { $0.to == "c" })  // committed? a and b hold it: yes, in term 1
        cluster.crash("a")
        cluster.boot("b", from: cluster.disks["b"]!)  // b forgets its commit index
        cluster.elect("b")
        #expect(cluster["b"].term == 2 && cluster["b"].commitIndex == x + 1, "X commits with b's no-op of term 2")
    }
}
