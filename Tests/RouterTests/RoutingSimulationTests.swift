import Router
import Testing
import Wire

/// A seeded random walk through everything that can happen to a router, with the
/// invariants checked after every step. A failure prints the seed and step to replay (with
/// `SWIFT_DETERMINISTIC_HASHING=1`: the core breaks some ties in dictionary order, so a
/// walk is the same from run to run only with Swift's hashing fixed).
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
    /// (chats whose operator's home is on the other router included), one step in three of
    /// those run while the network holds every message.
    @Test(arguments: [(UInt64(1), 1), (2, 1), (3, 1), (4, 1), (5, 2), (6, 2), (7, 2), (8, 2)])
    func randomWalk_keepsEveryInvariant(seed: UInt64, nodes: Int) {
        Self.walk(seed: seed, nodes: nodes, steps: 8_000, network: nil)
    }

    /// Seeds 11-22 on three routers and 23-28 on seven, every message between routers
    /// delayed by 0 to 6 network steps: links keep their order (TCP), so messages of
    /// different links overtake each other, and commands race with what is in flight.
    @Test(arguments: (11...22).map { (UInt64($0), 3) } + (23...28).map { (UInt64($0), 7) })
    func randomWalk_withDelayedAndReorderedMessages_keepsEveryInvariant(seed: UInt64, nodes: Int) {
        Self.walk(seed: seed, nodes: nodes, steps: 3_000, network: Harness.Network(maxDelay: 6))
    }

    /// Seeds 31-36 on three routers and 41-44 on seven, delayed as above, and one network
    /// step in fifty a link resets: what was in flight on it is lost, and a resync follows.
    /// Only what no loss excuses is checked (capacity counted from the partitions, histories,
    /// every router's view of the others once quiet): a lost reservation, grant, notice or
    /// pull is not recovered (routing.md, "Not handled yet"), so homes and partitions may
    /// disagree, a pull may never end and a chat may wait beside a free operator.
    @Test(arguments: (31...36).map { (UInt64($0), 3) } + (41...44).map { (UInt64($0), 7) })
    func randomWalk_withLinkResets_neverExceedsCapacity(seed: UInt64, nodes: Int) {
        Self.walk(seed: seed, nodes: nodes, steps: 2_500, network: Harness.Network(maxDelay: 6, resetsPerThousand: 20))
    }

    /// A random walk of `steps` steps. Without `network`, on several routers one step in three
    /// holds every message (a slow link) and the invariants are checked once everything has
    /// arrived. With it, the network moves one step per walk step (`tick`), so messages arrive
    /// late, interleaved with newer commands and with each other across links; capacity is
    /// checked after every step, in flight or not, and everything else once the network has
    /// settled, which it does one step in four.
    static func walk(seed: UInt64, nodes: Int, steps: Int, network: Harness.Network?) {
        var rng = SplitMix64(seed: seed)
        var settings = RoutingSettings()
        settings.offerTimeout = Nanos.seconds(20)
        settings.waitLimit = Nanos.seconds(900)
        settings.escalation = [EscalationStep(after: Nanos.seconds(30), minimumLevel: 2), EscalationStep(after: Nanos.seconds(90), minimumLevel: 1)]
        let operators = Self.team(&rng)
        var h = Harness(settings: settings, operators: operators, partitions: 16, seed: seed, nodes: nodes)
        h.network = network
        let lossy = (network?.resetsPerThousand ?? 0) > 0
        let ops = operators.map(\.id)
        var sent = 0
        var remoteAssignments = 0
        var checksAtRest = 0
        /// What the last check read, while nothing has happened since.
        var atRest: Snapshot?
        var log: [RouterEffect] = []
        for step in 0..<steps {
            log += h.effects.filter { if case .persist = $0 { true } else { false } }
            h.clearEffects()
            h.holding = network == nil && nodes > 1 && Int.random(in: 0..<3, using: &rng) == 0
            let lateDeliveries = h.messagesInFlight
            let roll = Int.random(in: 0..<100, using: &rng)
            let op = ops.randomElement(using: &rng)!
            if nodes > 1 && step % 800 == 400 {
                // One router crashes and restarts alone from its log: its operators are offline
                // after it, and must log in again. What it sent arrives first; what the others
                // hear of it races with the commands that follow.
                h.settle()
                h.restart(node: Int.random(in: 0..<nodes, using: &rng), persisted: log + h.effects)
                atRest = nil
            }
            let chats = atRest?.open ?? Snapshot.open(in: h)
            atRest = nil
            let open = chats.keys.sorted()
            let mine = open.filter { chats[$0]!.assignedOperator == op }
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
                    if let id = mine.first(where: { chats[$0]!.state == .offered }) {
                        try h.accept(id, op.raw)
                        if h.owner(of: h.nodes[0].partitionIndex(of: id)) != h.owner(of: h.nodes[0].placement.homePartition(of: op)) {
                            remoteAssignments += 1
                        }
                    }
                case 60..<64:
                    if let id = mine.first(where: { chats[$0]!.state == .offered }) { try h.decline(id, op.raw) }
                case 64..<72:
                    if let id = mine.first(where: { chats[$0]!.state == .active }) {
                        sent += 1
                        try h.execute(.send(id, author: .operator(op), clientMessageID: "o\(step)", text: "hi"))
                    }
                case 72..<78:
                    if let id = mine.first(where: { chats[$0]!.state == .active }) { try h.end(id, op.raw) }
                case 78..<80:
                    if let id = mine.first(where: { chats[$0]!.state == .active }) {
                        let target: TransferTarget = Bool.random(using: &rng)
                            ? .department(Self.departments.randomElement(using: &rng)!)
                            : .operator(ops.filter { $0 != op }.randomElement(using: &rng)!)
                        try h.execute(.transfer(id, by: op, to: target, note: ""))
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
            if network != nil {
                h.tick()
                if let violation = Self.capacityViolation(in: h, homeCounters: !lossy) {
                    Issue.record("seed \(seed), \(nodes) routers, step \(step) (messages in flight): \(violation.text)")
                    return
                }
                guard Int.random(in: 0..<4, using: &rng) == 0 else { continue }
                h.settle()
            } else if h.holding {
                // Some of what is in flight arrives now, the rest later: links in order, messages of
                // different steps interleaved with new commands.
                if Bool.random(using: &rng) { h.deliverHeld(first: Int.random(in: 0...h.heldMessages.count, using: &rng)) }
                continue
            }
            h.deliverHeld()
            checksAtRest += 1
            // Offers made while the clock jumps happen at many instants, and those made as late
            // messages arrive were chosen on an old view: their order is only judged on steps
            // that run at one instant with nothing in flight.
            let oneInstant = roll < 80 && !lateDeliveries && step % 800 != 400
            let fullScan = checksAtRest % 500 == 0
            let snapshot = Snapshot(h)
            let violation = lossy ? Self.lossyViolation(in: h, snapshot, fullScan: fullScan)
                : Self.violation(in: h, snapshot, fullScan: fullScan, checkOfferOrder: oneInstant)
            atRest = snapshot
            if let violation {
                let description = "seed \(seed), \(nodes) routers, step \(step): \(violation.text)"
                if network != nil, let race = violation.rule.knownRace {
                    withKnownIssue("\(race) (RoutingRaceTests)", isIntermittent: true) { Issue.record("\(description)") }
                } else {
                    Issue.record("\(description)")
                }
                return
            }
        }
        // Scaled to the walk's length, and well below what every seed reaches.
        #expect(sent > steps / 400, "the walk should reach active chats often")
        if nodes > 1 {
            #expect(remoteAssignments > steps / 500, "the walk should assign chats to operators whose home is on another router")
            #expect(h.crossNodeMessages > steps / 15)
        }
        if lossy { #expect(h.lostMessages > steps / 500, "links should reset and lose messages") }

        // Recovery from the log rebuilds every conversation exactly (offers aside, which a
        // restart turns back into waiting in the same place).
        h.settle()
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

    // MARK: invariants

    /// A broken invariant: which rule, and what was seen.
    struct Violation {
        enum Rule {
            case capacity, history, views, pullsAtRest, homesAgree, workConservation, queueOrder

            /// The race in the router core that breaks this rule on walks with delayed messages,
            /// each replayed in `RoutingRaceTests`; nil where none is known. Remove one once
            /// the core is fixed and its test passes.
            var knownRace: String? {
                switch self {
                case .workConservation: "an escalated or declined chat's `unclaimed` finds nobody to pull it"
                case .homesAgree: "a grant that arrives after the operator declined the chat offers it again"
                default: nil
                }
            }
        }

        var rule: Rule
        var text: String

        init(_ rule: Rule, _ text: String) { (self.rule, self.text) = (rule, text) }
    }

    /// What the checks read, once per check: the open conversations from the partitions'
    /// open index, every home, and every partition's lane heads (a lookup per conversation
    /// through the harness would cost more than the routing it checks).
    struct Snapshot {
        var open: [ConversationID: Conversation] = [:]
        /// Ids the open index names but its partition does not hold.
        var unknown: [ConversationID] = []
        var homes: [OperatorID: OperatorHome]
        var heads: [(partition: Int, lanes: [LaneKey: QueueRank])] = []

        init(_ h: Harness) {
            homes = h.homes
            for partition in h.partitions {
                heads.append((partition.index, partition.queue.laneHeads))
                for id in (partition.openByVisitor["shop"] ?? [:]).values {
                    if let conversation = partition.conversations[id] { open[id] = conversation } else { unknown.append(id) }
                }
            }
        }

        /// The open conversations alone.
        static func open(in h: Harness) -> [ConversationID: Conversation] {
            var open: [ConversationID: Conversation] = [:]
            for partition in h.partitions {
                for id in (partition.openByVisitor["shop"] ?? [:]).values { open[id] = partition.conversations[id] }
            }
            return open
        }
    }

    /// Offered and active chats of one operator, counted from the partitions, beyond their
    /// capacity, or (`homeCounters`) a home counting more than it may: what must never
    /// happen, even while messages are in flight. (Without a snapshot it reads in place: it
    /// runs after every step.)
    static func capacityViolation(in h: Harness, homeCounters: Bool, _ snapshot: Snapshot? = nil) -> Violation? {
        var load: [OperatorID: Int] = [:]
        if let snapshot {
            for conversation in snapshot.open.values where conversation.state == .offered || conversation.state == .active {
                if let op = conversation.assignedOperator { load[op, default: 0] += 1 }
            }
        } else {
            for node in h.nodes.indices {
                for id in h.nodes[node].openConversations(site: "shop").values {
                    let holder = h.nodes[node].inspect(id) { $0.state == .offered || $0.state == .active ? $0.assignedOperator : nil }
                    if let op = holder ?? nil { load[op, default: 0] += 1 }
                }
            }
        }
        let profiles = h.nodes[0].profiles
        for (op, count) in load.sorted(by: { $0.key < $1.key }) where count > profiles[op]!.maxChats {
            return Violation(.capacity, "\(op) is offered or active in \(count) chats, more than their \(profiles[op]!.maxChats)")
        }
        // A home's own count may only run over what partitions hold when a lost pull answer
        // keeps its slot set aside: a leak, not an extra chat.
        for node in h.nodes.indices where homeCounters {
            for (op, home) in h.nodes[node].homes where home.held.count + home.pendingPulls > home.profile.maxChats {
                return Violation(.capacity, "\(op)'s home holds \(home.held.count) and pulls \(home.pendingPulls) of \(home.profile.maxChats)")
            }
        }
        return nil
    }

    /// A conversation's history or the open index gone wrong.
    static func historyViolation(in h: Harness, _ snapshot: Snapshot, fullScan: Bool) -> Violation? {
        if let id = snapshot.unknown.first { return Violation(.history, "open index names unknown \(id)") }
        for (id, conversation) in snapshot.open {
            if !conversation.state.isOpen { return Violation(.history, "\(id) is \(conversation.state) but indexed as open") }
            // Gapless sequence numbers.
            for (offset, event) in conversation.events.enumerated() where event.sequence != UInt64(offset + 1) {
                return Violation(.history, "\(id) has sequence \(event.sequence) at position \(offset + 1)")
            }
        }
        if fullScan {
            for partition in h.partitions {
                for (id, conversation) in partition.conversations where conversation.state.isOpen && snapshot.open[id] == nil {
                    return Violation(.history, "\(id) is \(conversation.state) but missing from the open index")
                }
            }
        }
        return nil
    }

    /// A router whose view of the others is wrong once the network is quiet: what it believes
    /// of each operator's availability, and its directory of queue heads, which homes pull
    /// from. A link reset loses messages of both; the resync after it must put them right.
    static func viewViolation(in h: Harness, _ snapshot: Snapshot) -> Violation? {
        // Status and consoles alone travel by gossip, which this harness does not run.
        for (node, core) in h.nodes.enumerated() {
            for (op, home) in snapshot.homes where core.availability.summaries[op].map({ $0.routes(differently: home.summary) }) ?? true {
                return Violation(.views, "router \(node) believes \(op) is \(String(describing: core.availability.summaries[op])), their home says \(home.summary)")
            }
        }
        let headCount = snapshot.heads.reduce(0) { $0 + $1.lanes.count }
        for (node, core) in h.nodes.enumerated() {
            for (partition, lanes) in snapshot.heads {
                for (lane, rank) in lanes where core.directory.head(of: lane, partition: partition) != rank {
                    let believed = String(describing: core.directory.head(of: lane, partition: partition))
                    return Violation(.views, "router \(node)'s directory has \(believed) for \(lane) of partition \(partition), which holds \(rank)")
                }
            }
            if headCount != core.directory.entryCount {
                return Violation(.views, "router \(node)'s directory holds \(core.directory.entryCount) heads, partitions \(headCount)")
            }
        }
        return nil
    }

    /// What must hold at rest whatever a link reset lost.
    static func lossyViolation(in h: Harness, _ snapshot: Snapshot, fullScan: Bool) -> Violation? {
        capacityViolation(in: h, homeCounters: false, snapshot) ?? historyViolation(in: h, snapshot, fullScan: fullScan) ?? viewViolation(in: h, snapshot)
    }

    /// The first broken invariant once the network is quiet, or nil.
    static func violation(in h: Harness, _ snapshot: Snapshot, fullScan: Bool, checkOfferOrder: Bool) -> Violation? {
        if let broken = capacityViolation(in: h, homeCounters: true, snapshot) ?? historyViolation(in: h, snapshot, fullScan: fullScan)
            ?? viewViolation(in: h, snapshot) {
            return broken
        }
        let (open, homes) = (snapshot.open, snapshot.homes)
        var holders: [ConversationID: OperatorID] = [:]
        for (op, home) in homes {
            // Every search for a chat has ended once the network is quiet.
            if home.pendingPulls != 0 { return Violation(.pullsAtRest, "\(op) has \(home.pendingPulls) pulls in flight at rest") }
            for id in home.held {
                // No conversation with two operators, and homes agree with partitions.
                if let other = holders[id] { return Violation(.homesAgree, "\(id) held by \(op) and \(other)") }
                holders[id] = op
                guard let conversation = open[id] else { return Violation(.homesAgree, "\(op) holds \(id), which is not open") }
                if conversation.assignedOperator != op || !(conversation.state == .offered || conversation.state == .active) {
                    return Violation(.homesAgree, "\(op) holds \(id) which is \(conversation.state) with \(String(describing: conversation.assignedOperator))")
                }
            }
        }
        for (id, conversation) in open where conversation.state == .offered || conversation.state == .active {
            if holders[id] != conversation.assignedOperator {
                return Violation(.homesAgree, "\(id) assigned to \(String(describing: conversation.assignedOperator)) but not held")
            }
        }
        // Work conservation: nobody who could take a waiting chat sits idle.
        let free = homes.filter { $0.value.acceptsNewChats }
        for (id, conversation) in open where conversation.state == .queued {
            let level = h.settings.minimumLevel(requested: conversation.requirement.minimumLevel, waited: h.now - conversation.queuedAt)
            for (op, home) in free where !conversation.declinedBy.contains(op) && home.profile.level(in: conversation.requirement.skill) >= level {
                return Violation(.workConservation, "\(id) waits (\(conversation.requirement.skill) ≥ \(level)) while \(op) is free")
            }
        }
        // Queue order, across partitions and routers: whatever was offered in this step,
        // nothing this operator could take waited ahead of it. Ranks of different partitions
        // tie at the same virtual instant (each partition numbers its own serials), so only an
        // earlier virtual time counts as ahead.
        for case .toOperator(let op, .offer(let id, _, _, _)) in h.effects where checkOfferOrder {
            guard let offered = open[id], offered.state == .offered, offered.assignedOperator == op,
                  let rank = offered.rank, let home = homes[op] else { continue }
            // A transfer to a named operator goes to them whatever the queue holds.
            let namedTransfer = offered.events.last.map { if case .transfer(to: .operator(op), _) = $0.kind { true } else { false } } ?? false
            if namedTransfer { continue }
            for (otherID, other) in open where otherID != id {
                guard other.state == .queued, let otherRank = other.rank,
                      !other.declinedBy.contains(op), otherRank.virtualTime < rank.virtualTime else { continue }
                let level = h.settings.minimumLevel(requested: other.requirement.minimumLevel, waited: h.now - other.queuedAt)
                if home.profile.level(in: other.requirement.skill) >= level {
                    return Violation(.queueOrder, "\(id) offered to \(op) while \(otherID) (ranked earlier) waited")
                }
            }
        }
        return nil
    }
}
