import Router
import Testing
import Wire

/// A seeded random walk through everything that can happen to a router, with the
/// invariants checked after every step. A failure prints the seed and step to replay.
@Suite struct RoutingSimulationTests {
    static let departments: [Skill] = ["sales", "billing", "support"]

    static func team(_ rng: inout SplitMix64) -> [OperatorProfile] {
        (0..<8).map { n in
            var skills: [Skill: Int] = [:]
            for skill in departments where Int.random(in: 0..<3, using: &rng) > 0 { skills[skill] = Int.random(in: 1...5, using: &rng) }
            if skills.isEmpty { skills[departments[n % 3]] = 3 }
            return OperatorProfile(id: OperatorID("op\(n)"), site: "shop", displayName: "Op \(n)", skills: skills,
                                   maxChats: Int.random(in: 1...3, using: &rng))
        }
    }

    /// Seeds 1-4 on a router alone, 5-8 on two routers splitting the partitions and homes
    /// (chats whose operator's home is on the other router included).
    @Test(arguments: [(UInt64(1), 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2), (7, 2), (8, 2)])
    func randomWalk_keepsEveryInvariant(seed: UInt64, nodes: Int) throws {
        var rng = SplitMix64(seed: seed)
        var settings = RoutingSettings()
        settings.offerTimeout = Nanos.seconds(20)
        settings.waitLimit = Nanos.seconds(900)
        settings.escalation = [EscalationStep(after: Nanos.seconds(30), minimumLevel: 2), EscalationStep(after: Nanos.seconds(90), minimumLevel: 1)]
        let operators = Self.team(&rng)
        var h = Harness(settings: settings, operators: operators, partitions: 16, seed: seed, nodes: nodes)
        let ops = operators.map(\.id)
        let steps = 15_000  // eight seeds: 120,000 steps in all
        var sent = 0
        var remoteAssignments = 0
        var restarts = 0
        var log: [RouterEffect] = []
        for step in 0..<steps {
            log += h.effects.filter { if case .persist = $0 { true } else { false } }
            h.clearEffects()
            // On two routers, one step in three runs while the network holds every message
            // (a slow link): commands then race with what is in flight, and the invariants
            // are checked once everything has arrived.
            h.holding = nodes > 1 && Int.random(in: 0..<3, using: &rng) == 0
            let lateDeliveries = h.messagesInFlight
            let roll = Int.random(in: 0..<100, using: &rng)
            let op = ops.randomElement(using: &rng)!
            let open = h.openConversations.values.sorted()
            let mine = open.filter { h.assigned($0) == op }
            do throws(RouterError) {
                switch roll {
                case 0..<14:
                    _ = try h.start("v\(Int.random(in: 0..<40, using: &rng))", Self.departments.randomElement(using: &rng)!,
                                    level: Int.random(in: 1...4, using: &rng), priority: Int.random(in: 0...2, using: &rng))
                case 14..<22:
                    if let id = open.randomElement(using: &rng) {
                        try h.visitorSend(id, "hello", messageID: "m\(Int.random(in: 0..<4, using: &rng))")
                    }
                case 22..<26:
                    if let id = open.randomElement(using: &rng) {
                        try h.execute(.leave(id))
                    }
                case 26..<34:
                    try h.execute(.connect(op))
                case 34..<38:
                    try h.execute(.disconnect(op))
                case 38..<46:
                    let status: OperatorStatus = [.online, .online, .away, .offline].randomElement(using: &rng)!
                    try h.execute(.setStatus(op, status))
                case 46..<60:
                    if let id = mine.first(where: { h.state($0) == .offered }) {
                        try h.accept(id, op.raw)
                        if h.owner(of: h.nodes[0].partitionIndex(of: id)) != h.owner(of: h.nodes[0].placement.homePartition(of: op)) {
                            remoteAssignments += 1
                        }
                    }
                case 60..<64:
                    if let id = mine.first(where: { h.state($0) == .offered }) { try h.decline(id, op.raw) }
                case 64..<72:
                    if let id = mine.first(where: { h.state($0) == .active }) {
                        sent += 1
                        try h.execute(.send(id, author: .operator(op), clientMessageID: "o\(step)", text: "hi"))
                    }
                case 72..<78:
                    if let id = mine.first(where: { h.state($0) == .active }) { try h.end(id, op.raw) }
                case 78..<80:
                    if let id = mine.first(where: { h.state($0) == .active }) {
                        let target: TransferTarget = Bool.random(using: &rng)
                            ? .department(Self.departments.randomElement(using: &rng)!)
                            : .operator(ops.filter { $0 != op }.randomElement(using: &rng)!)
                        try h.execute(.transfer(id, by: op, to: target, note: ""))
                    }
                case 80..<81 where nodes > 1 && !h.messagesInFlight && Int.random(in: 0..<8, using: &rng) == 0:
                    // One router crashes and restarts alone from its log (about every 800 steps:
                    // its operators are offline after it, and must log in again).
                    h.restart(node: Int.random(in: 0..<nodes, using: &rng), persisted: log + h.effects)
                    restarts += 1
                case 80..<82:
                    h.advance(seconds: UInt64.random(in: 60...400, using: &rng))  // clock jump
                default:
                    h.advance(UInt64.random(in: 0...Nanos.seconds(8), using: &rng))
                }
            } catch {
                // Commands may be refused (an offer that just expired, an operator now away); the
                // invariants below must hold either way.
            }
            if h.holding {
                // Some of what is in flight arrives now, the rest later: links in order, messages of
                // different steps interleaved with new commands.
                if Bool.random(using: &rng) { h.deliverHeld(first: Int.random(in: 0...h.heldMessages.count, using: &rng)) }
                continue
            }
            h.deliverHeld()
            // Offers made while the clock jumps happen at many instants, and those made as late
            // messages arrive were chosen on an old view: their order is only judged on steps
            // that run at one instant with nothing in flight.
            let oneInstant = roll < 80 && !lateDeliveries
            if let violation = Self.violation(in: h, fullScan: step % 500 == 0, checkOfferOrder: oneInstant) {
                Issue.record("seed \(seed), step \(step): \(violation)")
                return
            }
        }
        #expect(sent > 100, "the walk should reach active chats often")
        if nodes > 1 {
            #expect(remoteAssignments > 50, "the walk should assign chats to operators whose home is on the other router")
            #expect(h.crossNodeMessages > 1000)
            #expect(restarts > 5, "routers should crash and restart alone now and then")
        }

        // Recovery from the log rebuilds every conversation exactly (offers aside, which a
        // restart turns back into waiting in the same place).
        h.effects = log + h.effects
        let recovered = h.rebuilt()
        for partition in h.partitions {
            for (id, original) in partition.conversations {
                var expected = original
                if expected.state == .offered { (expected.state, expected.assignedOperator) = (.queued, nil) }
                #expect(recovered.conversation(id) == expected)
            }
        }
    }

    /// The first broken invariant, described, or nil.
    static func violation(in h: Harness, fullScan: Bool, checkOfferOrder: Bool) -> String? {
        let open = Set(h.openConversations.values)
        let homes = h.homes
        var holders: [ConversationID: OperatorID] = [:]
        for (op, home) in homes {
            // Every search for a chat has ended once the network is quiet, and every router
            // knows the operator's availability as their home does (status and consoles alone
            // travel by gossip, which this harness does not run).
            if home.pendingPulls != 0 { return "\(op) has \(home.pendingPulls) pulls in flight at rest" }
            for (node, core) in h.nodes.enumerated() where core.availability.summaries[op].map({ $0.routes(differently: home.summary) }) ?? true {
                return "router \(node) believes \(op) is \(String(describing: core.availability.summaries[op])), their home says \(home.summary)"
            }
            // Capacity is never exceeded.
            if home.held.count + home.pendingPulls > home.profile.maxChats { return "\(op) holds \(home.held.count) of \(home.profile.maxChats)" }
            for id in home.held {
                // No conversation with two operators, and homes agree with partitions.
                if let other = holders[id] { return "\(id) held by \(op) and \(other)" }
                holders[id] = op
                guard let conversation = h.conversation(id) else { return "\(op) holds unknown \(id)" }
                if conversation.assignedOperator != op || !(conversation.state == .offered || conversation.state == .active) {
                    return "\(op) holds \(id) which is \(conversation.state) with \(String(describing: conversation.assignedOperator))"
                }
            }
        }
        for id in open {
            guard let conversation = h.conversation(id) else { return "open index names unknown \(id)" }
            if !conversation.state.isOpen { return "\(id) is \(conversation.state) but indexed as open" }
            // Gapless sequence numbers.
            for (offset, event) in conversation.events.enumerated() where event.sequence != UInt64(offset + 1) {
                return "\(id) has sequence \(event.sequence) at position \(offset + 1)"
            }
            if conversation.state == .offered || conversation.state == .active {
                if holders[id] != conversation.assignedOperator { return "\(id) assigned to \(String(describing: conversation.assignedOperator)) but not held" }
            }
            if conversation.state == .queued {
                // Work conservation: nobody who could take it sits idle.
                let level = h.settings.minimumLevel(requested: conversation.requirement.minimumLevel,
                                                                          waited: h.now - conversation.queuedAt)
                for (op, home) in homes where home.acceptsNewChats && !conversation.declinedBy.contains(op)
                    && home.profile.level(in: conversation.requirement.skill) >= level {
                    return "\(id) waits (\(conversation.requirement.skill) ≥ \(level)) while \(op) is free"
                }
            }
        }
        // Queue order: whatever was offered in this step, nothing this operator could take
        // waited ahead of it.
        for case .toOperator(let op, .offer(let id, _, _, _)) in h.effects where checkOfferOrder {
            guard let offered = h.conversation(id), offered.state == .offered, offered.assignedOperator == op,
                  let rank = offered.rank, let home = homes[op] else { continue }
            // A transfer to a named operator goes to them whatever the queue holds.
            let namedTransfer = offered.events.last.map { if case .transfer(to: .operator(op), _) = $0.kind { true } else { false } } ?? false
            if namedTransfer { continue }
            for otherID in open where otherID != id {
                guard let other = h.conversation(otherID), other.state == .queued, let otherRank = other.rank,
                      !other.declinedBy.contains(op), otherRank.virtualTime < rank.virtualTime else { continue }
                let level = h.settings.minimumLevel(requested: other.requirement.minimumLevel, waited: h.now - other.queuedAt)
                if home.profile.level(in: other.requirement.skill) >= level {
                    return "\(id) offered to \(op) while \(otherID) (ranked earlier) waited"
                }
            }
        }
        // Every router's directory, which homes pull from, matches the partitions' real queue heads.
        let partitions = h.partitions
        for (node, core) in h.nodes.enumerated() {
            var heads = 0
            for partition in partitions {
                for (lane, rank) in partition.queue.laneHeads {
                    heads += 1
                    if core.directory.head(of: lane, partition: partition.index) != rank {
                        return "router \(node)'s directory has \(String(describing: core.directory.head(of: lane, partition: partition.index))) for \(lane) of partition \(partition.index), which holds \(rank)"
                    }
                }
            }
            if heads != core.directory.entryCount { return "router \(node)'s directory holds \(core.directory.entryCount) heads, partitions \(heads)" }
        }
        if fullScan {
            for partition in partitions {
                for (id, conversation) in partition.conversations where conversation.state.isOpen && !open.contains(id) {
                    return "\(id) is \(conversation.state) but missing from the open index"
                }
            }
        }
        return nil
    }
}
