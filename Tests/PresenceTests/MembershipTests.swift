import Foundation
import Presence
import Testing

@Suite struct SWIMMathTests {
    let lan = SWIMSettings.lan

    @Test func suspicion_isMemberlistsFormula() {
        // suspicionMult × max(1, log10(N)) × probeInterval: 4 s up to 10 members, 12 s at 1,000.
        #expect(lan.suspicionMinimum(members: 1) == 4_000_000_000)
        #expect(lan.suspicionMinimum(members: 10) == 4_000_000_000)
        #expect(lan.suspicionMinimum(members: 1000) == 12_000_000_000)
        #expect(lan.suspicionMaximum(members: 1000) == 72_000_000_000)
    }

    @Test(arguments: [(0, 72.0), (1, 72.0 - 60 * log(2) / log(3)), (2, 12.0), (5, 12.0)])
    func suspicionTimeout_shrinksWithConfirmations_toTheMinimum(confirmations: Int, seconds: Double) {
        let timeout = Double(lan.suspicionTimeout(members: 1000, confirmations: confirmations)) / 1e9
        #expect(abs(timeout - seconds) < 0.001, "\(confirmations) confirmations: \(timeout) s")
    }

    @Test func withoutLifeguard_aSuspicionLastsTheMinimum() {
        var off = lan
        off.lifeguard = false
        #expect(off.suspicionTimeout(members: 1000, confirmations: 0) == off.suspicionMinimum(members: 1000))
    }

    @Test(arguments: [(1, 4), (9, 4), (10, 8), (99, 8), (1000, 16)])
    func retransmitLimit_isMultTimesCeilLog10(members: Int, limit: Int) {
        #expect(lan.retransmitLimit(members: members) == limit)
    }

    @Test func awareness_scalesTimeouts_andStaysInBounds() {
        var awareness = Awareness(maximum: 8)
        awareness.apply(-3)
        #expect(awareness.score == 0 && awareness.scale(500) == 500)
        awareness.apply(3)
        #expect(awareness.scale(500) == 2000)
        awareness.apply(20)
        #expect(awareness.score == 7)
    }

    @Test func precedence_followsIncarnationThenStatus() {
        let update = { (status: MemberStatus, incarnation: UInt64) in
            MembershipUpdate(member: MemberID(node: "b", generation: 1), address: "b", status: status, incarnation: incarnation)
        }
        #expect(update(.suspect, 3).overrides(status: .alive, incarnation: 3))
        #expect(!update(.alive, 3).overrides(status: .suspect, incarnation: 3))
        #expect(update(.alive, 4).overrides(status: .suspect, incarnation: 3))
        #expect(!update(.suspect, 2).overrides(status: .alive, incarnation: 3))
        #expect(update(.dead, 3).overrides(status: .suspect, incarnation: 3))
        #expect(!update(.alive, 9).overrides(status: .dead, incarnation: 3), "nothing brings a dead generation back")
    }

    @Test func broadcasts_leastSentFirst_withinBudget_andDroppedAtTheLimit() {
        var queue = BroadcastQueue<MemberID, MembershipUpdate>()
        let update = { (node: String) in MembershipUpdate(member: MemberID(node: node, generation: 1), address: node, status: .alive, incarnation: 0) }
        queue.enqueue(update("a"))
        queue.enqueue(update("b"))
        let first = queue.take(budget: 1000, limit: 2) { _ in 10 }
        #expect(first.map(\.member.node) == ["b", "a"], "newest first among equals")
        queue.enqueue(update("c"))
        #expect(queue.take(budget: 10, limit: 2) { _ in 10 }.map(\.member.node) == ["c"], "the least sent goes first, and only what fits")
        _ = queue.take(budget: 1000, limit: 2) { _ in 10 }
        #expect(queue.count == 0, "each was sent twice")
    }
}

/// The protocol's rules on two or three instances, messages handed over by hand.
@Suite struct SWIMInstanceTests {
    static let ids = ["a", "b", "c", "d"].map { MemberID(node: $0, generation: 1) }
    static let table = ids.map { MembershipUpdate(member: $0, address: $0.node + ":1", status: .alive, incarnation: 0) }

    static func instance(_ index: Int, settings: SWIMSettings = .lan) -> SWIMInstance {
        var instance = SWIMInstance(me: ids[index], address: ids[index].node + ":1", settings: settings, seed: UInt64(index + 1))
        instance.know(table)
        return instance
    }

    static func sends(_ directives: [SWIMInstance.Directive]) -> [(SWIMEnvelope, MemberID)] {
        directives.compactMap { if case .send(let envelope, let to, _) = $0 { (envelope, to) } else { nil } }
    }

    static func timers(_ directives: [SWIMInstance.Directive]) -> [(SWIMInstance.Timer, UInt64)] {
        directives.compactMap { if case .schedule(let timer, let at) = $0 { (timer, at) } else { nil } }
    }

    @Test func aProbe_isAnsweredByAnAck_andNobodyIsSuspected() throws {
        var a = Self.instance(0)
        let out = a.onTimer(.probe, now: 0)
        let (ping, target) = try #require(Self.sends(out).first)
        #expect(Self.timers(out).contains { $0.0 == .probe && $0.1 == 1_000_000_000 }, "the next period")
        var peer = Self.instance(Self.ids.firstIndex(of: target)!)
        let (answer, to) = try #require(Self.sends(peer.onMessage(ping, now: 1_000)).first)
        #expect(to == a.me)
        guard case .ack = answer.message else { Issue.record("expected an ack, got \(answer.message)"); return }
        _ = a.onMessage(answer, now: 2_000)
        let sequence = try #require(Self.timers(out).compactMap { if case .probeDeadline(let s) = $0.0 { s } else { nil } }.first)
        let ended = a.onTimer(.probeDeadline(sequence: sequence), now: 1_000_000_000)
        #expect(!ended.contains { if case .changed = $0 { true } else { false } })
        #expect(a.isLive(target) && a.awareness.score == 0)
    }

    @Test func anUnansweredProbe_goesIndirect_thenSuspects_andTheSuspicionRunsOutToDead() throws {
        var a = Self.instance(0)
        let out = a.onTimer(.probe, now: 0)
        let (_, target) = try #require(Self.sends(out).first)
        let sequence = try #require(Self.timers(out).compactMap { if case .probeTimeout(let s) = $0.0 { s } else { nil } }.first)
        let indirect = Self.sends(a.onTimer(.probeTimeout(sequence: sequence), now: 500_000_000))
        #expect(indirect.count == 2, "the two other members are asked to probe")
        #expect(indirect.allSatisfy { if case .pingRequest(_, target, _) = $0.0.message { $0.1 != target } else { false } })
        let ended = a.onTimer(.probeDeadline(sequence: sequence), now: 1_000_000_000)
        #expect(ended.contains(.changed(target, .suspect)) && ended.contains(.raisedSuspicion(target)))
        #expect(a.awareness.score == 2, "two nacks expected and none came: this member's own health is in doubt")
        // With no confirmation the suspicion lasts the maximum (4 members: 4 s × 6).
        let check = try #require(Self.timers(ended).first { $0.0 == .suspicion(target) })
        #expect(check.1 == 1_000_000_000 + 24_000_000_000)
        #expect(!a.onTimer(.suspicion(target), now: check.1 - 1).contains(.changed(target, .dead)))
        #expect(a.onTimer(.suspicion(target), now: check.1).contains(.changed(target, .dead)))
        #expect(a.counters.deadDeclared == 1 && !a.isLive(target))
    }

    @Test func anIntermediary_relaysTheAck_orNacksInTime() throws {
        var b = Self.instance(1)
        let request = SWIMEnvelope(from: Self.ids[0], fromAddress: "a:1",
                                   message: .pingRequest(sequence: 7, target: Self.ids[2], targetAddress: "c:1"), gossip: [])
        let out = b.onMessage(request, now: 0)
        let (ping, to) = try #require(Self.sends(out).first)
        #expect(to == Self.ids[2])
        guard case .ping(let own, Self.ids[2]) = ping.message else { Issue.record("expected a ping of c"); return }
        let deadline = try #require(Self.timers(out).first { $0.0 == .relayDeadline(sequence: own) })
        #expect(deadline.1 == 400_000_000, "80 % of the probe timeout")
        // The target answers: the ack goes to the origin under the origin's number.
        var relayed = b
        let forwarded = Self.sends(relayed.onMessage(SWIMEnvelope(from: Self.ids[2], fromAddress: "c:1", message: .ack(sequence: own), gossip: []), now: 1))
        #expect(forwarded.first.map { $0.0.message == .ack(sequence: 7) && $0.1 == Self.ids[0] } == true)
        #expect(Self.sends(relayed.onTimer(.relayDeadline(sequence: own), now: deadline.1)).isEmpty, "answered already: no nack")
        // The target says nothing: a nack goes back in time.
        let nack = Self.sends(b.onTimer(.relayDeadline(sequence: own), now: deadline.1))
        #expect(nack.first.map { $0.0.message == .nack(sequence: 7) && $0.1 == Self.ids[0] } == true)
        // A late ack (after the nack, within the probe timeout) still goes to the origin, which may be waiting yet.
        let late = Self.sends(b.onMessage(SWIMEnvelope(from: Self.ids[2], fromAddress: "c:1", message: .ack(sequence: own), gossip: []), now: deadline.1 + 1))
        #expect(late.first.map { $0.0.message == .ack(sequence: 7) } == true)
        _ = b.onTimer(.relayExpired(sequence: own), now: 500_000_000)
        #expect(Self.sends(b.onMessage(SWIMEnvelope(from: Self.ids[2], fromAddress: "c:1", message: .ack(sequence: own), gossip: []), now: 500_000_001)).isEmpty)
    }

    @Test func aPingForAnotherGenerationOfThisNode_goesUnanswered() {
        // router b restarted on the same address: generation 2 must not answer for the dead 1.
        var reborn = SWIMInstance(me: MemberID(node: "b", generation: 2), address: "b:1", settings: .lan, seed: 3)
        reborn.know(Self.table)
        let old = SWIMEnvelope(from: Self.ids[0], fromAddress: "a:1", message: .ping(sequence: 1, target: Self.ids[1]), gossip: [])
        #expect(Self.sends(reborn.onMessage(old, now: 0)).isEmpty)
        let current = SWIMEnvelope(from: Self.ids[0], fromAddress: "a:1", message: .ping(sequence: 2, target: reborn.me), gossip: [])
        #expect(Self.sends(reborn.onMessage(current, now: 1)).count == 1)
    }

    @Test func aMemberThatHearsItselfDead_asksToJoinAgain_insteadOfRefuting() {
        var b = Self.instance(1)
        let rumour = MembershipUpdate(member: Self.ids[1], address: "b:1", status: .dead, incarnation: 0)
        let out = b.onMessage(SWIMEnvelope(from: Self.ids[0], fromAddress: "a:1", message: .gossip, gossip: [rumour]), now: 0)
        #expect(out.contains(.declaredDead) && b.incarnation == 0, "nothing revives a dead generation: a new one must join")
    }

    @Test func aDuplicatedNack_countsOnce() throws {
        var a = Self.instance(0)
        let out = a.onTimer(.probe, now: 0)
        let sequence = try #require(Self.timers(out).compactMap { if case .probeTimeout(let s) = $0.0 { s } else { nil } }.first)
        let helpers = Self.sends(a.onTimer(.probeTimeout(sequence: sequence), now: 500_000_000)).map(\.1)
        #expect(helpers.count == 2)
        let nack = SWIMEnvelope(from: helpers[0], fromAddress: "x:1", message: .nack(sequence: sequence), gossip: [])
        _ = a.onMessage(nack, now: 600_000_000)
        _ = a.onMessage(nack, now: 600_000_001)
        _ = a.onTimer(.probeDeadline(sequence: sequence), now: 1_000_000_000)
        #expect(a.awareness.score == 1, "one of two nacks missing, however often the other came")
    }

    @Test func aSuspectedMember_refutesWithAHigherIncarnation() {
        var b = Self.instance(1)
        let rumour = MembershipUpdate(member: Self.ids[1], address: "b:1", status: .suspect, incarnation: 0, suspectedBy: Self.ids[0])
        _ = b.onMessage(SWIMEnvelope(from: Self.ids[0], fromAddress: "a:1", message: .gossip, gossip: [rumour]), now: 0)
        #expect(b.incarnation == 1 && b.counters.refutations == 1)
        #expect(b.awareness.score == 1, "hearing itself suspected is a sign it is slow (Lifeguard)")
        // Its next message carries the refutation, which clears the suspicion elsewhere.
        var c = Self.instance(2)
        _ = c.onMessage(SWIMEnvelope(from: Self.ids[0], fromAddress: "a:1", message: .gossip, gossip: [rumour]), now: 0)
        #expect(c.members[Self.ids[1]]?.status == .suspect)
        let refutation = b.table.first { $0.member == Self.ids[1] }!
        #expect(refutation.status == .alive && refutation.incarnation == 1)
        let back = c.onMessage(SWIMEnvelope(from: Self.ids[1], fromAddress: "b:1", message: .gossip, gossip: [refutation]), now: 10)
        #expect(back.contains(.changed(Self.ids[1], .alive)) && c.members[Self.ids[1]]?.status == .alive)
    }

    @Test func independentConfirmations_shortenTheSuspicion() throws {
        var a = Self.instance(0)
        let suspect = { (by: Int) in
            MembershipUpdate(member: Self.ids[3], address: "d:1", status: .suspect, incarnation: 0, suspectedBy: Self.ids[by])
        }
        let first = a.onMessage(SWIMEnvelope(from: Self.ids[1], fromAddress: "b:1", message: .gossip, gossip: [suspect(1)]), now: 0)
        let long = try #require(Self.timers(first).first { $0.0 == .suspicion(Self.ids[3]) }?.1)
        let second = a.onMessage(SWIMEnvelope(from: Self.ids[2], fromAddress: "c:1", message: .gossip, gossip: [suspect(2)]), now: 1)
        let shorter = try #require(Self.timers(second).first { $0.0 == .suspicion(Self.ids[3]) }?.1)
        #expect(shorter < long)
        let again = a.onMessage(SWIMEnvelope(from: Self.ids[2], fromAddress: "c:1", message: .gossip, gossip: [suspect(2)]), now: 2)
        #expect(Self.timers(again).isEmpty, "the same suspecter twice is not a confirmation")
    }

    @Test func aLeavingMember_isGoneAtOnce_andAnOldRumourDoesNotBringItBack() {
        var d = Self.instance(3)
        let goodbyes = Self.sends(d.leave(now: 0))
        #expect(!goodbyes.isEmpty && d.hasLeft)
        var a = Self.instance(0)
        let out = a.onMessage(goodbyes[0].0, now: 1)
        #expect(out.contains(.changed(Self.ids[3], .left)) && !a.isLive(Self.ids[3]))
        let stale = MembershipUpdate(member: Self.ids[3], address: "d:1", status: .alive, incarnation: 5)
        _ = a.onMessage(SWIMEnvelope(from: Self.ids[1], fromAddress: "b:1", message: .gossip, gossip: [stale]), now: 2)
        #expect(!a.isLive(Self.ids[3]), "a restarted router comes back as a new generation, never the old one")
        #expect(d.onTimer(.probe, now: 5).isEmpty, "a member that left does nothing more")
    }

    @Test func aJoiner_learnsTheTableFromASeed_andTheSeedLearnsIt() throws {
        let joinerID = MemberID(node: "e", generation: 1)
        var joiner = SWIMInstance(me: joinerID, address: "e:1", settings: .lan, seed: 9)
        var seed = Self.instance(0)
        let request = try #require(joiner.start(now: 0, seeds: ["a:1"]).compactMap { if case .pushPull(let envelope, "a:1") = $0 { envelope } else { nil } }.first)
        let reply = try #require(seed.onMessage(request, now: 1).compactMap { if case .pushPull(let envelope, "e:1") = $0 { envelope } else { nil } }.first)
        #expect(seed.isLive(joinerID))
        _ = joiner.onMessage(reply, now: 2)
        #expect(Self.ids.allSatisfy(joiner.isLive) && joiner.liveCount == 5)
    }
}

/// The simulation, reduced to run in `make test`: a few hundred members, minutes of
/// simulated time, 5 % loss; the goals of docs/cluster.md checked on it.
@Suite struct MembershipSimulationTests {
    @Test func aCluster_detectsCrashesInTime_declaresNoLiveMemberDead_andSpreadsNewsFast() {
        var plan = SWIMSimulator.Plan(members: 200, seconds: 240, settings: .lan)
        (plan.loss, plan.duplication, plan.drift, plan.crashes, plan.seed) = (0.05, 0.01, 0.0001, 4, 7)
        var simulator = SWIMSimulator(plan)
        let report = simulator.run()
        #expect(report.falseDeadMembers == 0)
        #expect(report.undetected == 0, "every crash seen by every live member")
        #expect(report.detectionSeconds.count == 4 * 196)
        #expect(report.detectionSeconds.p99 <= report.detectionBoundSeconds)
        #expect(report.disseminationPeriods.p99 <= report.log2Members, "news reaches 99 % within log2 N periods")
        #expect(report.bytesPerMemberPerSecond < 4_000)
    }

    /// Lifeguard against slow members (10 % of them, each datagram they receive up to 1 s
    /// late): with it the slow members raise fewer suspicions (their local health slows
    /// them down) and no more live members are declared dead. Suspicions *of* slow members
    /// it cannot prevent, so the issue's goal, 10x fewer in all, is not reached
    /// (docs/benchmarks.md).
    @Test func withSlowMembers_lifeguardSuspectsFewerLiveMembers() {
        var plan = SWIMSimulator.Plan(members: 200, seconds: 120, settings: .lan)
        (plan.loss, plan.slowFraction, plan.crashes, plan.seed) = (0.05, 0.1, 0, 7)
        var on = SWIMSimulator(plan)
        plan.settings.lifeguard = false
        var off = SWIMSimulator(plan)
        let (with, without) = (on.run(), off.run())
        #expect(with.falseDeadMembers <= without.falseDeadMembers)
        #expect(Double(with.falseSuspicionsBySlowMembers) < 0.8 * Double(without.falseSuspicionsBySlowMembers),
                "\(with.falseSuspicionsBySlowMembers) against \(without.falseSuspicionsBySlowMembers)")
    }

    @Test func theSamePlanAndSeed_giveTheSameReport() {
        var plan = SWIMSimulator.Plan(members: 60, seconds: 60, settings: .fast)
        (plan.loss, plan.crashes, plan.slowFraction) = (0.05, 2, 0.1)
        var first = SWIMSimulator(plan), second = SWIMSimulator(plan)
        #expect(first.run() == second.run())
    }
}
