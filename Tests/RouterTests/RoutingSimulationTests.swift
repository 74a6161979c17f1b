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

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func randomWalk_keepsEveryInvariant(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var settings = RoutingSettings()
        settings.offerTimeout = Nanos.seconds(20)
        settings.waitLimit = Nanos.seconds(900)
        settings.escalation = [EscalationStep(after: Nanos.seconds(30), minimumLevel: 2), EscalationStep(after: Nanos.seconds(90), minimumLevel: 1)]
        let operators = Self.team(&rng)
        var h = Harness(settings: settings, operators: operators, partitions: 16, seed: seed)
        let ops = operators.map(\.id)
        let steps = 25_000  // four seeds: 100,000 steps in all
        var sent = 0
        var log: [(Int, PartitionRecord)] = []
        for step in 0..<steps {
            for case .persist(let partition, let record) in h.effects { log.append((partition, record)) }
            h.clearEffects()
            let roll = Int.random(in: 0..<100, using: &rng)
            let op = ops.randomElement(using: &rng)!
            let open = Array(h.core.openByVisitor["shop"]?.values ?? [:].values).sorted()
            let mine = open.filter { h.assigned($0) == op }
            do throws(RouterError) {
                switch roll {
                case 0..<14:
                    _ = try h.start("v\(Int.random(in: 0..<40, using: &rng))", Self.departments.randomElement(using: &rng)!,
                                    level: Int.random(in: 1...4, using: &rng), priority: Int.random(in: 0...2, using: &rng))
                case 14..<22:
                    if let id = open.randomElement(using: &rng) {
                        _ = try h.run { (core, now, effects) throws(RouterError) in
                            try core.visitorSend(id, clientMessageID: "m\(Int.random(in: 0..<4, using: &rng))", text: "hello", now: now, into: &effects)
                        }
                    }
                case 22..<26:
                    if let id = open.randomElement(using: &rng) {
                        try h.run { (core, now, effects) throws(RouterError) in try core.visitorLeave(id, now: now, into: &effects) }
                    }
                case 26..<34:
                    try h.run { (core, now, effects) throws(RouterError) in try core.operatorConnected(op, now: now, into: &effects) }
                case 34..<38:
                    try h.run { (core, now, effects) throws(RouterError) in try core.operatorDisconnected(op, now: now, into: &effects) }
                case 38..<46:
                    let status: OperatorStatus = [.online, .online, .away, .offline].randomElement(using: &rng)!
                    try h.run { (core, now, effects) throws(RouterError) in try core.setStatus(op, status, now: now, into: &effects) }
                case 46..<60:
                    if let id = mine.first(where: { h.state($0) == .offered }) { try h.accept(id, op.raw) }
                case 60..<64:
                    if let id = mine.first(where: { h.state($0) == .offered }) { try h.decline(id, op.raw) }
                case 64..<72:
                    if let id = mine.first(where: { h.state($0) == .active }) {
                        sent += 1
                        _ = try h.run { (core, now, effects) throws(RouterError) in
                            try core.operatorSend(id, by: op, clientMessageID: nil, text: "hi", now: now, into: &effects)
                        }
                    }
                case 72..<78:
                    if let id = mine.first(where: { h.state($0) == .active }) { try h.end(id, op.raw) }
                case 78..<80:
                    if let id = mine.first(where: { h.state($0) == .active }) {
                        let target: TransferTarget = Bool.random(using: &rng)
                            ? .department(Self.departments.randomElement(using: &rng)!)
                            : .operator(ops.filter { $0 != op }.randomElement(using: &rng)!)
                        try h.run { (core, now, effects) throws(RouterError) in
                            try core.transfer(id, by: op, to: target, note: "", now: now, into: &effects)
                        }
                    }
                case 80..<82:
                    h.advance(seconds: UInt64.random(in: 60...400, using: &rng))  // clock jump
                default:
                    h.advance(UInt64.random(in: 0...Nanos.seconds(8), using: &rng))
                }
            } catch {
                // Commands may be refused (an offer that just expired, an operator now away); the
                // invariants below must hold either way.
            }
            // Offers made while the clock jumps happen at many instants; their order is only
            // judged on steps that run at one instant.
            let oneInstant = roll < 80
            if let violation = Self.violation(in: h, fullScan: step % 500 == 0, checkOfferOrder: oneInstant) {
                Issue.record("seed \(seed), step \(step): \(violation)")
                return
            }
        }
        #expect(sent > 100, "the walk should reach active chats often")
        for case .persist(let partition, let record) in h.effects { log.append((partition, record)) }

        // Recovery from the log rebuilds every conversation exactly (offers aside, which a
        // restart turns back into waiting in the same place).
        var recovered = RouterCore(partitionCount: 16, sites: Array(h.core.sites.values), seed: seed)
        for (partition, record) in log { recovered.replay(partition: partition, record) }
        var effects: [RouterEffect] = []
        recovered.finishRecovery(now: h.now, into: &effects)
        for partition in h.core.partitions {
            for (id, original) in partition.conversations {
                var expected = original
                if expected.state == .offered { (expected.state, expected.assignedOperator) = (.queued, nil) }
                #expect(recovered.conversation(id) == expected)
            }
        }
    }

    /// The first broken invariant, described, or nil.
    static func violation(in h: Harness, fullScan: Bool, checkOfferOrder: Bool) -> String? {
        let open = Set(h.core.openByVisitor["shop"]?.values ?? [:].values)
        var holders: [ConversationID: OperatorID] = [:]
        for (op, home) in h.core.homes {
            // Capacity is never exceeded.
            if home.held.count + home.pendingPulls > home.profile.maxChats { return "\(op) holds \(home.held.count) of \(home.profile.maxChats)" }
            for id in home.held {
                // No conversation with two operators, and homes agree with partitions.
                if let other = holders[id] { return "\(id) held by \(op) and \(other)" }
                holders[id] = op
                guard let conversation = h.core.conversation(id) else { return "\(op) holds unknown \(id)" }
                if conversation.assignedOperator != op || !(conversation.state == .offered || conversation.state == .active) {
                    return "\(op) holds \(id) which is \(conversation.state) with \(String(describing: conversation.assignedOperator))"
                }
            }
        }
        for id in open {
            guard let conversation = h.core.conversation(id) else { return "open index names unknown \(id)" }
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
                let level = h.core.sites["shop"]!.settings.minimumLevel(requested: conversation.requirement.minimumLevel,
                                                                          waited: h.now - conversation.queuedAt)
                for (op, home) in h.core.homes where home.acceptsNewChats && !conversation.declinedBy.contains(op)
                    && home.profile.level(in: conversation.requirement.skill) >= level {
                    return "\(id) waits (\(conversation.requirement.skill) ≥ \(level)) while \(op) is free"
                }
            }
        }
        // Queue order: whatever was offered in this step, nothing this operator could take
        // waited ahead of it.
        for case .toOperator(let op, .offer(let id, _, _, _)) in h.effects where checkOfferOrder {
            guard let offered = h.core.conversation(id), offered.state == .offered, offered.assignedOperator == op,
                  let rank = offered.rank, let home = h.core.homes[op] else { continue }
            // A transfer to a named operator goes to them whatever the queue holds.
            let namedTransfer = offered.events.last.map { if case .transfer(to: .operator(op), _) = $0.kind { true } else { false } } ?? false
            if namedTransfer { continue }
            for otherID in open where otherID != id {
                guard let other = h.core.conversation(otherID), other.state == .queued, let otherRank = other.rank,
                      !other.declinedBy.contains(op), otherRank.virtualTime < rank.virtualTime else { continue }
                let level = h.core.sites["shop"]!.settings.minimumLevel(requested: other.requirement.minimumLevel, waited: h.now - other.queuedAt)
                if home.profile.level(in: other.requirement.skill) >= level {
                    return "\(id) offered to \(op) while \(otherID) (ranked earlier) waited"
                }
            }
        }
        // The directory the homes pull from matches the partitions' real queue heads.
        var heads = 0
        for partition in h.core.partitions {
            for (lane, rank) in partition.queue.laneHeads {
                heads += 1
                if h.core.directory.head(of: lane, partition: partition.index) != rank {
                    return "directory has \(String(describing: h.core.directory.head(of: lane, partition: partition.index))) for \(lane) of partition \(partition.index), which holds \(rank)"
                }
            }
        }
        if heads != h.core.directory.entryCount { return "directory holds \(h.core.directory.entryCount) heads, partitions \(heads)" }
        if fullScan {
            for partition in h.core.partitions {
                for (id, conversation) in partition.conversations where conversation.state.isOpen && !open.contains(id) {
                    return "\(id) is \(conversation.state) but missing from the open index"
                }
            }
        }
        return nil
    }
}
