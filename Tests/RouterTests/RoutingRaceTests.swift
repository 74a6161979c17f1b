import Router
import Testing
import Wire

/// Races between routers that the routing simulation found with delayed messages, each
/// replayed step by step on two routers with the messages between them held. Each is a
/// known issue of the router core until it is fixed (then `withKnownIssue` fails, and goes).
@Suite struct RoutingRaceTests {
    static func visitor(on node: Int, _ h: Harness) -> String {
        (0...).lazy.map { "v\($0)" }.first { h.owner(of: h.nodes[0].placement.partition(ofVisitor: VisitorID($0), site: "shop")) == node }!
    }

    static func homeNode(_ op: String, _ h: Harness) -> Int {
        h.owner(of: h.nodes[0].placement.homePartition(of: OperatorID(op)))
    }

    /// Operator names whose homes are on router 0 and on router 1 of two.
    static func names(homedOn node: Int) -> [String] {
        let probe = Harness(nodes: 2)
        return ["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal", "ivy", "jon"].filter { homeNode($0, probe) == node }
    }

    /// A chat escalates to a level a free operator has, on a router that has not heard they
    /// are free: it finds nobody and says `unclaimed`, and their router pulls. That pull must
    /// see the chat's new lane, but the lane's head is published after `unclaimed` (the seek
    /// runs before the escalation's changed lanes are published), so it finds nothing and the
    /// head arrives to nobody. (Seed 11 on three routers.)
    @Test func anEscalatedChat_reachesAFreeOperatorWhoseRouterHasNotHeardOfIt() throws {
        var settings = RoutingSettings()
        settings.escalation = [EscalationStep(after: Nanos.seconds(30), minimumLevel: 2)]
        var h = Harness(settings: settings, operators: [Harness.op("solo", ["support": 3], max: 1)], nodes: 2)
        let home = Self.homeNode("solo", h)
        try h.online("solo")
        let busy = try h.start(Self.visitor(on: home, h), "support")
        try h.accept(busy, "solo")
        let waiting = try h.start(Self.visitor(on: 1 - home, h), "support", level: 4)
        h.holding = true
        try h.end(busy, "solo")
        h.advance(seconds: 30)
        #expect(h.state(waiting) == .queued, "its router still believes the operator busy")
        h.holding = false
        h.deliverHeld()
        withKnownIssue("the escalation's `unclaimed` is sent before the queue heads of the lane it moved to") {
            #expect(h.state(waiting) == .offered && h.assigned(waiting) == "solo")
        }
    }

    /// A chat nobody its router knows of may take says `unclaimed`, and the free operator the
    /// other router's policy picks pulls it: if that is one who declined it before, their pull
    /// finds nothing, and nobody else there looks while another free operator could take it.
    /// (Seed 2032 on seven routers.)
    @Test func anUnclaimedChat_reachesAFreeOperator_evenWhenTheOnePickedFirstDeclinedIt() throws {
        let onA = Self.names(homedOn: 0), onB = Self.names(homedOn: 1)
        try #require(onA.count >= 2 && !onB.isEmpty)
        let (declined, free, other) = (onA[0], onA[1], onB[0])
        var h = Harness(operators: [declined, free, other].map { Harness.op($0, ["sales": 3], max: 1) }, nodes: 2)
        try h.online(free)
        let earlier = try h.start(Self.visitor(on: 0, h), "sales")
        try h.accept(earlier, free)
        try h.online(declined)
        let chat = try h.start(Self.visitor(on: 1, h), "sales")
        h.advance(seconds: 1)
        try h.decline(chat, declined)
        try h.online(other)
        #expect(h.assigned(chat) == OperatorID(other))
        h.advance(seconds: 1)
        h.holding = true
        try h.end(earlier, free)
        try h.decline(chat, other)
        #expect(h.state(chat) == .queued, "its router still believes \(free) busy")
        h.holding = false
        h.deliverHeld()
        withKnownIssue("`unclaimed` starts one pull, by an operator who may have declined the chat (RouterCore.offerPull)") {
            #expect(h.assigned(chat) == OperatorID(free))
        }
    }

    /// A chat's partition asks an operator's home to reserve while that operator's pull is on
    /// its way to it: the pull gets the chat first, the operator declines it, and only then
    /// does the home's grant arrive. The grant is stale (the chat is back in the queue,
    /// declined by them): it must give the slot back, not offer the chat again, which breaks
    /// "a declined chat is not offered to the same operator again" and leaves an offer their
    /// home does not count, so their capacity can be exceeded. (Seeds 1002 on seven routers
    /// and 1031 on three.)
    @Test func aGrantArrivingAfterTheOperatorDeclinedThePulledChat_doesNotOfferItAgain() throws {
        let x = try #require(Self.names(homedOn: 0).first), y = try #require(Self.names(homedOn: 1).first)
        var h = Harness(operators: [Harness.op(x, ["sales": 3], max: 2), Harness.op(y, ["sales": 3], max: 1)], nodes: 2)
        try h.online(x)
        let earlier = try h.start(Self.visitor(on: 0, h), "sales")
        try h.accept(earlier, x)
        try h.online(y)
        // The chat on the other router goes to the least loaded, who declines it.
        let chat = try h.start(Self.visitor(on: 1, h), "sales")
        #expect(h.assigned(chat) == OperatorID(y))
        h.holding = true
        try h.decline(chat, y)
        let reserve = try #require(h.heldMessages.firstIndex { if case .reserve(chat, OperatorID(x)) = $0 { true } else { false } })
        h.deliverHeld(first: reserve)
        // x frees a slot and pulls the chat, whose head has arrived, while the reservation is on its way.
        try h.end(earlier, x)
        let pull = try #require(h.heldMessages.firstIndex { if case .pull(_, OperatorID(x), _) = $0 { true } else { false } })
        h.deliverHeld(first: pull + 1)
        #expect(h.state(chat) == .offered && h.assigned(chat) == OperatorID(x), "the pull got there first")
        try h.decline(chat, x)
        h.holding = false
        h.deliverHeld()
        withKnownIssue("a grant for a chat queued again is taken as fresh (Partition.onGranted)") {
            #expect(h.assigned(chat) != OperatorID(x), "\(x) declined it")
            #expect(h.state(chat) != .offered || h.home(x).held.contains(chat), "an offer their home does not count")
        }
    }

    /// A router restarts alone: its homes count no chats until the other routers' `adopt`s
    /// arrive. An operator who logs in again before they do gets new chats on top of those
    /// they still have elsewhere, beyond their capacity. (Seed 3014 on five routers, with
    /// messages delayed up to 20 steps.)
    @Test func anOperatorBackOnARestartedRouter_beforeTheirChatsAreAdopted_staysWithinCapacity() throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 1)], nodes: 2)
        let home = Self.homeNode("solo", h)
        try h.online("solo")
        let elsewhere = try h.start(Self.visitor(on: 1 - home, h), "sales")
        try h.accept(elsewhere, "solo")
        let waiting = try h.start(Self.visitor(on: home, h), "sales")
        #expect(h.state(waiting) == .queued)
        h.holding = true
        h.restart(node: home)
        try h.online("solo")
        h.holding = false
        h.deliverHeld()
        let taken = [elsewhere, waiting].filter { h.assigned($0) == "solo" && (h.state($0) == .offered || h.state($0) == .active) }
        withKnownIssue("a restarted home grants and pulls before it has heard which chats its operators still have") {
            #expect(taken.count <= 1, "solo may hold one chat")
        }
    }

    /// A link reset loses a pull on its way: the resync that follows puts every router's view
    /// right, but the home still waits for the pull's answer, with the operator's slot set
    /// aside, so the chat waits beside a free operator until its wait limit. (What
    /// routing.md calls not handled yet; every seed of the simulation with link resets
    /// reaches it within a few thousand steps.)
    @Test func aPullLostInALinkReset_doesNotKeepTheOperatorsSlotForever() throws {
        var h = Harness(operators: [Harness.op("solo", ["sales": 3], max: 1)], nodes: 2)
        h.network = Harness.Network()
        let home = Self.homeNode("solo", h)
        try h.online("solo")
        let busy = try h.start(Self.visitor(on: home, h), "sales")
        h.settle()
        try h.accept(busy, "solo")
        let waiting = try h.start(Self.visitor(on: 1 - home, h), "sales")
        h.settle()
        try h.end(busy, "solo")
        #expect(h.heldMessages.contains { if case .pull(_, "solo", _) = $0 { true } else { false } })
        h.resetLink(from: home, to: 1 - home)
        h.settle()
        h.advance(seconds: 60)
        h.settle()
        withKnownIssue("a pull or its answer lost with a link is never given up") {
            #expect(h.home("solo").pendingPulls == 0)
            #expect(h.assigned(waiting) == "solo")
        }
    }
}
