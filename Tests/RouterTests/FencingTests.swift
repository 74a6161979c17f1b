import Testing
import Wire
@testable import Router

/// Epochs fence a router that lost a partition and has not heard: every message between
/// routers carries the epochs its sender holds (`RoutingStamp`), and one whose source
/// partition moved on, or that is for a partition here under another epoch, is refused and
/// changes nothing. Two router cores, driven by hand: router A owns partition 0, B owns 1.
@Suite struct FencingTests {
    static let partitions = 2
    static let site = SiteConfiguration(id: "shop", departments: ["sales"],
                                        operators: ["anna", "ben", "carl", "dora"].map { Harness.op($0, ["sales": 3], max: 2) })
    static let now: Instant = 5_000_000_000

    static func core(owning owned: Set<Int>, epochs: [UInt64] = [1, 1]) -> RouterCore {
        RouterCore(placement: Placement(partitionCount: partitions, owned: owned, epochs: epochs), sites: [site], seed: 7)
    }

    /// A visitor whose chat goes to `partition`.
    static func visitor(in partition: Int) -> VisitorID {
        (0...).lazy.map { VisitorID("v\($0)") }.first { Placement(partitionCount: partitions).partition(ofVisitor: $0, site: "shop") == partition }!
    }

    /// An operator whose home is on `partition`.
    static func op(homedIn partition: Int) -> OperatorID {
        ["anna", "ben", "carl", "dora"].map(OperatorID.init).first { Placement(partitionCount: partitions).homePartition(of: $0) == partition }!
    }

    static func sent(_ effects: [RouterEffect]) -> [RoutingMessage] {
        effects.compactMap { if case .send(let message) = $0 { message } else { nil } }
    }

    @Test func stamps_carryTheSendersEpochs_andOnlyMatchingOnesAreTaken() {
        let placement = Placement(partitionCount: 2, owned: [0], epochs: [3, 5])
        let heads = RoutingMessage.queueHeads(partition: 0, [], complete: false)
        #expect(placement.stamp(heads) == RoutingStamp(sourceEpoch: 3, targetEpoch: 0))
        let reserve = RoutingMessage.reserve(Placement.conversationID(partition: 0, random: 1), operator: Self.op(homedIn: 1))
        #expect(placement.stamp(reserve) == RoutingStamp(sourceEpoch: 3, targetEpoch: 5))
        #expect(placement.stamp(.resync) == RoutingStamp(sourceEpoch: 0, targetEpoch: 0))

        // What speaks for partition 0 at an older epoch is from a replaced owner.
        #expect(placement.refusal(of: heads, stamp: RoutingStamp(sourceEpoch: 2, targetEpoch: 0))
            == .staleSource(partition: 0, epoch: 2, current: 3))
        // A newer epoch than this router knows is news it has not had yet: taken.
        #expect(placement.refusal(of: heads, stamp: RoutingStamp(sourceEpoch: 4, targetEpoch: 0)) == nil)
        // For a home here (partition 1 at epoch 5) under another epoch: refused either way.
        let granted = RoutingMessage.granted(Placement.conversationID(partition: 0, random: 1), Self.op(homedIn: 1))
        #expect(placement.refusal(of: granted, stamp: RoutingStamp(sourceEpoch: 5, targetEpoch: 3)) == nil)
        #expect(placement.refusal(of: granted, stamp: RoutingStamp(sourceEpoch: 4, targetEpoch: 3)) == .staleSource(partition: 1, epoch: 4, current: 5))
        #expect(placement.refusal(of: reserve, stamp: RoutingStamp(sourceEpoch: 3, targetEpoch: 4)) == .otherTargetEpoch(partition: 1, epoch: 4, current: 5))
        #expect(placement.refusal(of: reserve, stamp: RoutingStamp(sourceEpoch: 3, targetEpoch: 6)) == .otherTargetEpoch(partition: 1, epoch: 6, current: 5))
        #expect(placement.refusal(of: reserve, stamp: RoutingStamp(sourceEpoch: 3, targetEpoch: 5)) == nil)
    }

    /// A peer configured with more partitions must not crash this one.
    @Test func aPartitionPastTheCount_isDropped_andALostPartitionIsSpokenForAtEpochZero() {
        var a = Self.core(owning: [0])
        var effects: [RouterEffect] = []
        a.receive(.queueHeads(partition: 5, [], complete: true), stamp: RoutingStamp(sourceEpoch: 1, targetEpoch: 0), now: Self.now, into: &effects)
        a.receive(.pull(partition: 99, "anna", bound: nil), stamp: RoutingStamp(sourceEpoch: 1, targetEpoch: 1), now: Self.now, into: &effects)
        #expect(a.fencedMessages == 2 && effects.isEmpty)
        var placement = Placement(partitionCount: 2, owned: [0], epochs: [3, 5])
        placement.learn(partition: 0, epoch: 4, ownedHere: false)
        #expect(placement.stamp(.queueHeads(partition: 0, [], complete: false)).sourceEpoch == 0, "it no longer speaks for partition 0")
    }

    @Test func aTableFromThePast_changesNothing() {
        var placement = Placement(partitionCount: 2, owned: [0], epochs: [3, 5])
        let late = placement.learn(partition: 0, epoch: 2, ownedHere: false)
        #expect(!late)
        #expect(placement.owns(partition: 0) && placement.epochs == [3, 5])
        let newer = placement.learn(partition: 0, epoch: 4, ownedHere: false)
        #expect(newer)
        #expect(!placement.owns(partition: 0) && placement.epochs == [4, 5])
    }

    /// Partition 0 moves from A to B at epoch 2; A has not heard and goes on as its owner.
    /// What A then says about partition 0 is refused by B, which has.
    @Test func anOwnerThatWasReplaced_isRefusedByThoseWhoKnow_andChangesNothingThere() throws {
        var a = Self.core(owning: [0])
        var b = Self.core(owning: [1])
        let home = Self.op(homedIn: 1)
        var effects: [RouterEffect] = []
        try b.operatorConnected(home, now: Self.now, into: &effects)
        try b.setStatus(home, .online, now: Self.now, into: &effects)
        for message in Self.sent(effects) { a.receive(message, stamp: b.placement.stamp(message), now: Self.now, into: &effects) }
        #expect(a.availability.summaries[home]?.available == true)

        effects = []
        let changed = b.learn(epochs: [2, 1], owned: [0, 1], now: Self.now, into: &effects)
        #expect(changed.gained == [0] && changed.lost.isEmpty)

        // A, still at epoch 1, starts a chat in partition 0 and asks B's home for the operator.
        effects = []
        let id = try a.startConversation(site: "shop", visitor: Self.visitor(in: 0), department: "sales", now: Self.now + 1, into: &effects)
        let fromA = Self.sent(effects)
        #expect(fromA.contains { if case .reserve(id, _) = $0 { true } else { false } }, "\(fromA)")
        let before = b.homes[home]!
        for message in fromA { b.receive(message, stamp: a.placement.stamp(message), now: Self.now + 2, into: &effects) }
        #expect(b.fencedMessages == fromA.count, "every message A sent about partition 0 is refused")
        #expect(b.lastFenced == .staleSource(partition: 0, epoch: 1, current: 2))
        #expect(b.homes[home]!.held == before.held && b.homes[home]!.held.isEmpty, "no slot was set aside for the stale owner's chat")
        #expect(b.directory.head(of: LaneKey(site: "shop", skill: "sales", level: 1), partition: 0) == nil, "the stale owner's queue head was not taken")
        // The same messages stamped at the current epoch would have been taken: the refusal is the epoch's doing.
        var control = b
        for message in fromA { control.receive(message, stamp: RoutingStamp(sourceEpoch: 2, targetEpoch: 1), now: Self.now + 2, into: &effects) }
        #expect(control.fencedMessages == b.fencedMessages)
        #expect(control.directory.head(of: LaneKey(site: "shop", skill: "sales", level: 1), partition: 0) != nil)

        // Once A learns the table, it serves partition 0 no more.
        effects = []
        #expect(a.learn(epochs: [2, 1], owned: [], now: Self.now + 3, into: &effects).lost == [0])
        #expect(throws: RouterError.notOwner(partition: 0)) {
            try a.visitorSend(id, clientMessageID: "m1", text: "hello?", now: Self.now + 4, into: &effects)
        }
    }

    /// A partition the table gives a router is taken up from the router's copy, as after a
    /// restart, and the homes placed on it come with it.
    @Test func aGainedPartition_isServed_withItsHomes() throws {
        var b = Self.core(owning: [1])
        let homed = Self.op(homedIn: 0)
        #expect(b.homes[homed] == nil)
        var effects: [RouterEffect] = []
        #expect(throws: RouterError.notOwner(partition: 0)) {
            try b.startConversation(site: "shop", visitor: Self.visitor(in: 0), department: "sales", now: Self.now, into: &effects)
        }
        let changed = b.learn(epochs: [2, 1], owned: [0, 1], now: Self.now, into: &effects)
        #expect(changed.gained == [0])
        #expect(b.homes[homed] != nil, "the home placed on partition 0 now lives here")
        #expect(effects.contains { if case .published(let summary) = $0 { summary.profile.id == homed } else { false } })
        try b.operatorConnected(homed, now: Self.now, into: &effects)
        try b.setStatus(homed, .online, now: Self.now, into: &effects)
        let id = try b.startConversation(site: "shop", visitor: Self.visitor(in: 0), department: "sales", now: Self.now + 1, into: &effects)
        #expect(b.conversation(id)?.state == .offered)
        // The same table again changes nothing.
        effects = []
        #expect(b.learn(epochs: [2, 1], owned: [0, 1], now: Self.now + 2, into: &effects) == ([], []))
        #expect(effects.isEmpty)
    }

    /// Timers of a partition that moved away do not run here: its copy stays, unserved.
    @Test func aLostPartitionsTimers_doNothing() throws {
        var a = Self.core(owning: [0, 1])
        var effects: [RouterEffect] = []
        try a.operatorConnected("anna", now: Self.now, into: &effects)
        try a.setStatus("anna", .online, now: Self.now, into: &effects)
        effects = []
        let id = try a.startConversation(site: "shop", visitor: Self.visitor(in: 0), department: "sales", now: Self.now, into: &effects)
        let timers = effects.compactMap { if case .schedule(let timer, let at) = $0 { (timer, at) } else { nil } }
        #expect(!timers.isEmpty)
        _ = a.learn(epochs: [2, 1], owned: [1], now: Self.now, into: &effects)
        effects = []
        for (timer, at) in timers { a.onTimer(timer, now: at + 1_000_000_000_000, into: &effects) }
        #expect(effects.isEmpty, "\(effects)")
        #expect(a.partitions[0].conversations[id]?.state == .offered, "the copy is kept as it was")
    }
}
