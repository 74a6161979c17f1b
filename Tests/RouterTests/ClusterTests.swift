import Testing
import Wire
@testable import Router

@Suite struct PlacementTests {
    let placement = Placement(partitionCount: 64)

    @Test func aNewConversationId_namesItsPartition() {
        for partition in [0, 7, 63] {
            let id = Placement.conversationID(partition: partition, random: 0xBEEF)
            #expect(id.raw == "p\(partition)-beef")
            #expect(placement.partition(of: id) == partition)
        }
    }

    @Test func idsFromBeforePartitionsWereNamed_andMalformedOnes_keepTheirHashedPartition() {
        for raw in ["c1a2b3", "p", "p-1", "p12", "p12-", "p1x-9", "p9999999-1", "p70-1"] {
            let id = ConversationID(raw)
            #expect(placement.partition(of: id) == PartitionHash.partition(of: id, count: 64), "\(raw)")
        }
    }

    @Test func visitorsAndHomes_havePinnedPartitions() {
        // Pinned: changing these would move open chats and homes between routers on upgrade.
        #expect(placement.partition(ofVisitor: "v-1", site: "shop") == Int(StableHash.hash("shop\u{1F}v-1") % 64))
        #expect(placement.homePartition(of: "anna") == Int(StableHash.hash("operator\u{1F}anna") % 64))
        #expect(placement.partition(ofVisitor: "v-1", site: "shop") != placement.partition(ofVisitor: "v-1", site: "other")
            || placement.partition(ofVisitor: "v-2", site: "shop") != placement.partition(ofVisitor: "v-2", site: "other"))
    }

    @Test func aRouterOwningHalf_ownsTheHomesPlacedOnItsPartitions() {
        let half = Placement(partitionCount: 8, owned: [0, 2, 4, 6])
        #expect(!half.ownsEverything && Placement(partitionCount: 8).ownsEverything)
        #expect(half.ownedPartitions == [0, 2, 4, 6])
        for op in ["anna", "ben", "carl", "dora"].map(OperatorID.init) {
            #expect(half.ownsHome(of: op) == (half.homePartition(of: op) % 2 == 0))
        }
    }
}

@Suite struct PullSearchTests {
    static let profile = OperatorProfile(id: "o", site: "shop", displayName: "O", skills: ["sales": 2], maxChats: 1)
    static let lane = LaneKey(site: "shop", skill: "sales", level: 1)
    static func rank(_ time: Int64) -> QueueRank { QueueRank(virtualTime: time, serial: 0) }

    @Test func asksTheBestHeadFirst_boundedByTheRunnerUp() {
        var directory = QueueDirectory()
        directory.update(lane: Self.lane, partition: 3, head: Self.rank(10))
        directory.update(lane: Self.lane, partition: 5, head: Self.rank(20))
        var search = PullSearch(partitionCount: 8)
        let first = search.next(for: Self.profile, in: &directory)
        #expect(first?.partition == 3 && first?.bound == Self.rank(20))
        // Partition 3's head was one this operator declined; its best for them ranks 30.
        search.answered(partition: 3, best: Self.rank(30))
        let second = search.next(for: Self.profile, in: &directory)
        #expect(second?.partition == 5 && second?.bound == Self.rank(30))
        search.answered(partition: 5, best: nil)
        // Nothing unasked is left: back to the best known, with no bound.
        let third = search.next(for: Self.profile, in: &directory)
        #expect(third?.partition == 3 && third?.bound == nil)
        search.answered(partition: 3, best: nil)
        #expect(search.next(for: Self.profile, in: &directory) == nil)
    }

    @Test func aPartitionWhoseQueueChanged_isAskedAgain() {
        var directory = QueueDirectory()
        directory.update(lane: Self.lane, partition: 1, head: Self.rank(10))
        var search = PullSearch(partitionCount: 8)
        #expect(search.next(for: Self.profile, in: &directory)?.partition == 1)
        search.answered(partition: 1, best: nil)
        // Meanwhile a chat this operator may take joined partition 1.
        directory.update(lane: Self.lane, partition: 1, head: Self.rank(5))
        search.forget(partition: 1)
        #expect(search.next(for: Self.profile, in: &directory)?.partition == 1)
    }

    @Test func aSearchEnds_evenWhenPartitionsKeepChanging() {
        var directory = QueueDirectory()
        directory.update(lane: Self.lane, partition: 0, head: Self.rank(1))
        var search = PullSearch(partitionCount: 2)
        var asks = 0
        while search.next(for: Self.profile, in: &directory) != nil {
            asks += 1
            search.answered(partition: 0, best: nil)
            search.forget(partition: 0)
        }
        #expect(asks == 12, "2 partitions: at most 2 x 2 + 8 asks")
    }
}

@Suite struct OperatorAvailabilityTests {
    static let profile = OperatorProfile(id: "anna", site: "shop", displayName: "Anna", skills: ["sales": 3], maxChats: 2)
    static func summary(available: Bool, epoch: Instant, version: UInt64) -> OperatorSummary {
        OperatorSummary(profile: profile, available: available, online: available, load: 0, idleSince: 0, epoch: epoch, version: version)
    }

    /// Presence is last-writer-wins by the home's (epoch, version): a summary that arrives
    /// after a newer one changes nothing, and a restarted home's first word outranks all it
    /// said before.
    @Test func aLateSummary_changesNothing_andARestartedHomeOutranksItsPast() {
        var view = OperatorAvailability(sites: [SiteConfiguration(id: "shop", departments: ["sales"], operators: [Self.profile])])
        let first = view.update(Self.summary(available: true, epoch: 10, version: 2))
        let late = view.update(Self.summary(available: false, epoch: 10, version: 1))
        #expect(first && !late, "the older one is ignored")
        #expect(view.anyoneOnline(site: "shop", skill: "sales"))
        #expect(view.available(site: "shop", skill: "sales") == ["anna"])
        let restarted = view.update(Self.summary(available: false, epoch: 20, version: 0))
        #expect(restarted, "a new start of the home")
        #expect(!view.anyoneOnline(site: "shop", skill: "sales") && view.available(site: "shop", skill: "sales").isEmpty)
    }
}

/// Two routers, each owning half the partitions and half the homes, over the harness's
/// in-memory network.
@Suite struct ClusterTests {
    /// A visitor whose chats go to node `node` of two.
    static func visitor(on node: Int, _ h: Harness) -> String {
        (0...).lazy.map { "v\($0)" }.first { h.owner(of: h.nodes[0].placement.partition(ofVisitor: VisitorID($0), site: "shop")) == node }!
    }

    static func homeNode(_ op: String, _ h: Harness) -> Int {
        h.owner(of: h.nodes[0].placement.homePartition(of: OperatorID(op)))
    }

    @Test func aChatOnOneRouter_isServedByAnOperatorWhoseHomeIsOnTheOther() throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 1)], nodes: 2)
        let home = Self.homeNode("solo", h)
        try h.online("solo")
        let id = try h.start(Self.visitor(on: 1 - home, h), "sales")
        #expect(h.owner(of: h.nodes[0].partitionIndex(of: id)) == 1 - home)
        #expect(h.state(id) == .offered && h.assigned(id) == "solo")
        #expect(h.home("solo").held == [id], "the home on the other router holds the slot")
        try h.accept(id, "solo")
        try h.execute(.send(id, author: .operator("solo"), clientMessageID: "o1", text: "hello"))
        try h.end(id, "solo")
        #expect(h.state(id) == .ended && h.home("solo").held.isEmpty)
        // The slot is free again: the next chat on that router is offered at once.
        let next = try h.start(Self.visitor(on: 1 - home, h) + "-next", "sales")
        #expect(h.state(next) == .offered)
        #expect(h.crossNodeMessages > 0)
        // Both routers agree on the operator's load.
        #expect(h.nodes.allSatisfy { $0.availability.summaries["solo"]?.load == 1 })
    }

    /// Visitors whose chats go to node `node` of two, `count` of them.
    static func visitors(on node: Int, _ count: Int, _ h: Harness) -> [String] {
        Array((0...).lazy.map { "w\($0)" }.filter { h.owner(of: h.nodes[0].placement.partition(ofVisitor: VisitorID($0), site: "shop")) == node }.prefix(count))
    }

    /// Places in line are the cluster's: a visitor waiting on one router counts the chats
    /// waiting ahead of them on the other (`queueRanks`, sent with the refresh of places).
    @Test func placesInLine_countTheChatsWaitingOnEveryRouter() throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 1)], nodes: 2)
        try h.online("solo")
        let busy = try h.start(Self.visitors(on: 0, 1, h)[0] + "-busy", "sales")
        try h.accept(busy, "solo")
        // Four chats wait, alternating between the routers, in this order.
        let (a, b) = (Self.visitors(on: 0, 2, h), Self.visitors(on: 1, 2, h))
        var order: [ConversationID] = []
        for visitor in [a[0], b[0], a[1], b[1]] {
            h.advance(1_000_000)
            order.append(try h.start(visitor, "sales"))
        }
        #expect(order.allSatisfy { h.state($0) == .queued })
        // The first refresh tells each router the other's ranks; the second counts them.
        h.refreshQueuePositions()
        h.refreshQueuePositions()
        var place: [ConversationID: Int] = [:]
        for case .toVisitor(let id, .queued(let position, _)) in h.effects { place[id] = position }
        #expect(order.map { place[$0] } == [1, 2, 3, 4], "\(order.map { place[$0] ?? 0 })")
        #expect(h.crossNodeMessages > 0)
    }

    @Test func aCommandSentToTheWrongRouter_isRefusedAndChangesNothing() throws {
        var h = Harness(nodes: 2)
        let visitor = Self.visitor(on: 1, h)
        var effects: [RouterEffect] = []
        #expect(throws: RouterError.notOwner(partition: h.nodes[0].placement.partition(ofVisitor: VisitorID(visitor), site: "shop"))) {
            try h.nodes[0].startConversation(site: "shop", visitor: VisitorID(visitor), department: "sales", now: h.now, into: &effects)
        }
        let op = ["anna", "ben", "carl"].first { Self.homeNode($0, h) == 1 }!
        #expect(throws: RouterError.self) { try h.nodes[0].operatorConnected(OperatorID(op), now: h.now, into: &effects) }
        #expect(effects.isEmpty)
    }

    /// The race `unclaimed` closes: an operator frees up while their availability is still on
    /// its way to the chat's router, and the new chat's queue head is still on its way to
    /// the operator's. Each side looked and found nothing; the chat must not wait.
    @Test func aFreeOperatorTheChatsRouterHasNotHeardOf_stillGetsTheChat() throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 1)], nodes: 2)
        let home = Self.homeNode("solo", h)
        try h.online("solo")
        let first = try h.start(Self.visitor(on: home, h), "sales")
        try h.accept(first, "solo")
        h.holding = true
        try h.end(first, "solo")
        let waiting = try h.start(Self.visitor(on: 1 - home, h), "sales")
        #expect(h.state(waiting) == .queued, "its router still believes the operator busy")
        #expect(h.messagesInFlight)
        h.holding = false
        h.deliverHeld()
        #expect(h.state(waiting) == .offered && h.assigned(waiting) == "solo")
    }

    /// A router restarts and knows no other router's queue; its operator comes online and
    /// finds nothing before the others' full queue heads arrive (`resync`); the chat waiting
    /// elsewhere had looked for someone long before. When the heads arrive, the free operator
    /// looks again (the simulation found this once in a few runs).
    @Test func anOperatorOnlineBeforeTheResyncArrives_stillGetsTheWaitingChat() throws {
        let probe = Harness(nodes: 2)
        let (onA, onB) = (["anna", "ben", "carl"].first { Self.homeNode($0, probe) == 0 },
                          ["anna", "ben", "carl"].first { Self.homeNode($0, probe) == 1 })
        let a = try #require(onA, "the pinned hash puts a home on each router"), b = try #require(onB)
        var h = Harness(operators: [Harness.op(a, ["sales": 3], max: 1), Harness.op(b, ["sales": 3], max: 1)], nodes: 2)
        try h.online(b)
        let busy = try h.start(Self.visitor(on: 1, h), "sales")
        try h.accept(busy, b)
        let waiting = try h.start(Self.visitor(on: 1, h) + "-2", "sales")
        #expect(h.state(waiting) == .queued)
        h.holding = true
        h.restart(node: 0)
        try h.online(a)
        #expect(h.state(waiting) == .queued, "the restarted router has not heard of the chat yet")
        h.holding = false
        h.deliverHeld()
        #expect(h.state(waiting) == .offered && h.assigned(waiting) == OperatorID(a))
    }

    /// A reservation and a pull of the same operator can race for one chat: the chat's
    /// router asks the home to reserve, the home (its operator just freed) pulls the same
    /// chat, the pull gets there first and the grant arrives for a chat already offered to
    /// that operator. The grant must not hand the slot back (review finding: the home then
    /// counted nothing for a chat on offer, and could give out one chat too many).
    @Test func aGrantThatLosesToTheSameOperatorsPull_keepsTheSlotCounted() throws {
        var h = Harness(operators: [Harness.op("duo", ["sales": 3], max: 2)], nodes: 2)
        let home = Self.homeNode("duo", h)
        try h.online("duo")
        let busy = try h.start(Self.visitor(on: home, h), "sales")
        try h.accept(busy, "duo")
        h.holding = true
        // A new chat on the other router, which knows duo has a free slot: it asks duo's home.
        let chat = try h.start(Self.visitor(on: 1 - home, h), "sales")
        let reserveAt = try #require(h.heldMessages.firstIndex { if case .reserve(chat, "duo") = $0 { true } else { false } })
        // The chat's queue head reaches the home's router; the reservation is still on its way.
        h.deliverHeld(first: reserveAt)
        // duo ends the other chat: with two free slots, their home pulls the chat it now knows of.
        try h.end(busy, "duo")
        #expect(h.heldMessages.contains { if case .pull(_, "duo", _) = $0 { true } else { false } })
        h.holding = false
        h.deliverHeld()
        #expect(h.state(chat) == .offered && h.assigned(chat) == "duo")
        #expect(h.home("duo").held == [chat])
        #expect(h.home("duo").pendingPulls == 0)
    }
}
