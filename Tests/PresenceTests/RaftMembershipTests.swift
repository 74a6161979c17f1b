import Presence
import Testing

/// Snapshots, compaction and single-server membership changes.
@Suite struct RaftSnapshotTests {
    @Test func compaction_onlyOfWhatIsApplied() throws {
        var cluster = RaftTestCluster(voters: ["a"])
        cluster.timeOut("a")
        _ = try cluster.propose("x", at: "a")
        #expect(throws: RaftError.cannotCompact(through: 3, applied: 2, snapshot: 0)) { _ = try cluster.nodes["a"]!.compact(through: 3, snapshot: []) }
        let actions = try cluster.nodes["a"]!.compact(through: 2, snapshot: [42])
        cluster.carryOut(actions, at: "a")
        #expect(actions == [.persistSnapshot(RaftSnapshot(lastIndex: 2, lastTerm: 1, configuration: RaftConfiguration(voters: ["a"]), data: [42]))])
        #expect(cluster["a"].log.entries.isEmpty && cluster.disks["a"] == cluster["a"].persistentState)
        #expect(throws: RaftError.cannotCompact(through: 2, applied: 2, snapshot: 2)) { _ = try cluster.nodes["a"]!.compact(through: 2, snapshot: []) }
    }

    @Test func aLaggingFollower_getsTheSnapshot_thenTheEntriesAfterIt() throws {
        var cluster = RaftTestCluster(voters: ["a", "b", "c"])
        cluster.elect("a")
        cluster.crash("c")
        for n in 0..<5 { _ = try cluster.propose("x\(n)", at: "a") }
        cluster.deliver()
        cluster.heartbeat()
        #expect(cluster["a"].lastApplied == 6)
        cluster.carryOut(try cluster.nodes["a"]!.compact(through: 6, snapshot: [6]), at: "a")
        cluster.restart("c")
        cluster.heartbeat()
        #expect(cluster.installed["c"] == [6] && cluster["c"].commitIndex == 6 && cluster["c"].log.snapshotIndex == 6)
        #expect(cluster.disks["c"]?.snapshot.data == [6] && cluster["a"].counters.snapshotsSent >= 1)
        let next = try cluster.propose("after", at: "a")
        cluster.deliver()
        cluster.heartbeat()
        #expect(cluster.applied["c"]?.map(\.index) == [next], "what the snapshot holds is loaded, not applied again")
    }

    @Test func anInstalledSnapshot_keepsAMatchingSuffix_andDropsAConflictingLog() {
        var cluster = RaftTestCluster(voters: ["a", "b", "c"])
        let configuration = RaftConfiguration(voters: ["a", "b", "c"])
        let offer = { (index: RaftIndex, term: RaftTerm) in
            RaftEnvelope(from: "a", term: 3, message: .installSnapshot(InstallSnapshot(
                snapshot: RaftSnapshot(lastIndex: index, lastTerm: term, configuration: configuration, data: [1]))))
        }
        cluster.boot("b", from: RaftReplicationTests.state(terms: [1, 1, 2, 2], term: 2))
        _ = cluster.message(to: "b", offer(2, 1))
        #expect(cluster["b"].log.snapshotIndex == 2 && cluster["b"].log.entries.map(\.term) == [2, 2], "it had entry 2 of term 1: the rest stays")
        cluster.boot("c", from: RaftReplicationTests.state(terms: [1, 1, 2, 2], term: 2))
        let actions = cluster.message(to: "c", offer(3, 3))
        #expect(cluster["c"].log.snapshotIndex == 3 && cluster["c"].log.entries.isEmpty && cluster.disks["c"] == cluster["c"].persistentState)
        #expect(actions.firstIndex(of: .persistTruncation(from: 3))! < actions.firstIndex { if case .persistSnapshot = $0 { true } else { false } }!,
                "the other history goes before the snapshot is stored")
    }
}

@Suite struct RaftMembershipTests {
    static let abc: [ServerID] = ["a", "b", "c"]

    @Test func anObserverIsAdded_catchesUp_thenIsPromoted_oneChangeAtATime() throws {
        var cluster = RaftTestCluster(voters: Self.abc, joining: ["d"])
        cluster.elect("a", dropping: RaftTestCluster.isAppend)
        #expect(throws: RaftError.leaderNotReady) { _ = try cluster.change(.addObserver("d"), at: "a") }
        cluster.heartbeat()
        let added = try cluster.change(.addObserver("d"), at: "a")
        #expect(cluster["a"].configuration.observers == ["d"], "in force once appended, before it commits")
        #expect(throws: RaftError.configurationChangePending) { _ = try cluster.change(.addVoter("d"), at: "a") }
        cluster.deliver()
        cluster.heartbeat()
        #expect(cluster["d"].commitIndex == added && cluster.applied["d"]?.count == Int(added) && !cluster["d"].isVoter)
        cluster.timeOut("d", after: 0)
        #expect(!cluster.last["d"]!.contains { if case .send = $0 { true } else { false } }, "an observer never campaigns")
        cluster.heartbeat()
        #expect(throws: RaftError.noChange) { _ = try cluster.change(.addObserver("d"), at: "a") }
        _ = try cluster.change(.addVoter("d"), at: "a")
        cluster.deliver()
        cluster.heartbeat()
        #expect(["a", "b", "c", "d"].allSatisfy { cluster[$0].configuration.voters == ["a", "b", "c", "d"] })
        // Four voters need three: a and d alone commit nothing.
        cluster.crash("b"); cluster.crash("c")
        let stuck = try cluster.propose("x", at: "a")
        cluster.deliver()
        #expect(cluster["a"].commitIndex < stuck)
    }

    @Test func aLeaderRemovingItself_leadsUntilTheChangeCommits_thenStepsDown() throws {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.elect("a")
        let removal = try cluster.change(.removeVoter("a"), at: "a")
        #expect(cluster["a"].role == .leader)
        cluster.deliver()
        #expect(cluster["a"].commitIndex >= removal && cluster["a"].role == .follower && !cluster["a"].isVoter)
        let campaigns = cluster["a"].counters.preVotes
        cluster.timeOut("a")
        #expect(cluster["a"].role == .follower && cluster["a"].counters.preVotes == campaigns, "no longer a voter: it never campaigns")
        cluster.elect("b")
        #expect(cluster.leaders == ["b"] && cluster["b"].configuration.voters == ["b", "c"])
        _ = try cluster.propose("x", at: "b")
        cluster.deliver()
        #expect(cluster["b"].commitIndex == cluster["b"].log.lastIndex, "b and c are the majority now")
    }

    @Test func aRemovedVoter_cannotDisruptTheGroup() throws {
        var cluster = RaftTestCluster(voters: Self.abc)
        cluster.elect("a")
        _ = try cluster.change(.removeVoter("c"), at: "a")
        cluster.deliver(dropping: { $0.to == "c" })  // c never hears of its removal
        cluster.heartbeat()
        #expect(cluster["a"].configuration.voters == ["a", "b"] && cluster["c"].isVoter)
        cluster.heartbeat(dropping: { $0.to == "c" })
        cluster.timeOut("c", after: 0)
        cluster.deliver()
        #expect(cluster.leaders == ["a"] && cluster["a"].term == 1 && cluster["c"].counters.elections == 0)
        #expect(throws: RaftError.lastVoter) {
            var solo = RaftTestCluster(voters: ["s"])
            solo.timeOut("s")
            _ = try solo.change(.removeVoter("s"), at: "s")
        }
    }
}
