import Wire

/// The message exchange: a work list of partition actions and `RoutingMessage`s, run to
/// the end after each command, timer or received message. A message whose addressee is
/// here joins the list; one for another router becomes `RouterEffect.send`. What every
/// router must know (queue heads, availability) is applied here at once and sent on.
extension RouterCore {
    /// One item of the work list.
    enum Work {
        /// Partition `index` asks for something.
        case action(Int, Partition.Action)
        /// A message for a partition or a home here.
        case message(RoutingMessage)
    }

    /// A message from another router: for a partition or a home here, or for every router.
    /// One for a partition or home this router does not own is dropped (the sender's
    /// placement is wrong; it asks again when it learns the right one).
    ///
    /// With `stamp` (a message from another router, not gossip), a message whose epochs
    /// are not this router's is refused first and changes nothing (`Placement.refusal`).
    public mutating func receive(_ message: RoutingMessage, stamp: RoutingStamp? = nil, now: Instant, into effects: inout [RouterEffect]) {
        // A partition number past this router's count (a peer configured with more) is dropped, not indexed.
        guard message.partitionsNamed.allSatisfy({ $0 < partitionCount }) else {
            fencedMessages += 1
            return
        }
        if let stamp, let refusal = placement.refusal(of: message, stamp: stamp) {
            fencedMessages += 1
            lastFenced = refusal
            return
        }
        var work: [Work] = []
        switch message.destination(placement) {
        case .partition(let index):
            guard placement.owns(partition: index) else { return }
            work.append(.message(message))
        case .home(let op):
            guard homes[op] != nil else { return }
            work.append(.message(message))
        case .everyRouter:
            switch message {
            case .unclaimed(_, let lane): offerPull(for: lane, now: now, &work, &effects)
            case .resync: announce(&work, &effects)
            case .queueHeads(_, let heads, complete: true):
                learn(message)
                pullAfterResync(heads, now: now, &work, &effects)
            default: learn(message)
            }
        }
        drain(&work, now: now, &effects)
    }

    mutating func onPartition<T>(
        of id: ConversationID, now: Instant, _ effects: inout [RouterEffect],
        _ body: (inout Partition, inout [Partition.Action]) throws(RouterError) -> T
    ) throws(RouterError) -> T {
        let index = partitionIndex(of: id)
        guard placement.owns(partition: index) else { throw .notOwner(partition: index) }
        var actions: [Partition.Action] = []
        let result = try body(&partitions[index], &actions)
        process(index, actions, now: now, &effects)
        return result
    }

    mutating func onHome(_ op: OperatorID, now: Instant, _ effects: inout [RouterEffect],
                         _ body: (inout OperatorHome) -> [OperatorHome.Action]) throws(RouterError) {
        guard profiles[op] != nil else { throw .unknownOperator(op) }
        guard homes[op] != nil else { throw .notOwner(partition: placement.homePartition(of: op)) }
        let actions = body(&homes[op]!)
        var work: [Work] = []
        homeDid(op, actions, now: now, &work, &effects)
        drain(&work, now: now, &effects)
    }

    mutating func process(_ index: Int, _ actions: [Partition.Action], now: Instant, _ effects: inout [RouterEffect]) {
        var work = actions.map { Work.action(index, $0) }
        drain(&work, now: now, &effects)
        publishHeads(index, &effects)
    }

    /// Runs the work list to the end: each item may add more.
    mutating func drain(_ work: inout [Work], now: Instant, _ effects: inout [RouterEffect]) {
        var next = 0
        while next < work.count {
            let item = work[next]
            next += 1
            switch item {
            case .action(let index, let action):
                perform(action, of: index, now: now, &work, &effects)
                publishHeads(index, &effects)
            case .message(let message):
                deliver(message, now: now, &work, &effects)
            }
        }
    }

    /// What a partition asked for.
    private mutating func perform(_ action: Partition.Action, of index: Int, now: Instant, _ work: inout [Work], _ effects: inout [RouterEffect]) {
        switch action {
        case .persist(let record):
            effects.append(.persist(partition: index, record))
        case .toVisitor(let id, let notice):
            if case .queued = notice {} else { lastPositions[id] = nil }
            effects.append(.toVisitor(id, notice))
        case .toOperator(let op, let notice):
            effects.append(.toOperator(op, notice))
        case .schedule(let timer, let at):
            effects.append(.schedule(.partition(index, timer), at: at))
        case .handled(let queue, let handleTime):
            // Exponentially weighted, so the estimate follows the team's current pace.
            let previous = handleTimes[queue] ?? handleTime
            handleTimes[queue] = previous - previous / 8 + handleTime / 8
        case .seekOperator(let id, let site, let skill, let level, let excluding):
            if let op = chooseOperator(site: site, skill: skill, level: level, excluding: excluding) {
                route(.reserve(id, operator: op), &work, &effects)
            } else {
                partitions[index].onNoCandidate(id)
                // Other routers may know of a free operator this one has not heard of yet.
                if !placement.ownsEverything { effects.append(.send(.unclaimed(partition: index, LaneKey(site: site, skill: skill, level: level)))) }
            }
        case .reserveOperator(let id, let op):
            route(.reserve(id, operator: op), &work, &effects)
        case .home(let op, let notice):
            route(.notice(op, notice), &work, &effects)
        case .answerPull(let op, let offered, let best):
            route(.pullAnswer(op, partition: index, offered: offered, best: best), &work, &effects)
        }
    }

    /// A message for a partition or home here.
    private mutating func deliver(_ message: RoutingMessage, now: Instant, _ work: inout [Work], _ effects: inout [RouterEffect]) {
        switch message {
        case .reserve(let id, let op):
            guard homes[op] != nil else { return route(.denied(id, op), &work, &effects) }
            let actions = homes[op]!.onReserve(id)
            homeDid(op, actions, now: now, &work, &effects)
        case .notice(let op, let notice):
            guard homes[op] != nil else { return }
            let actions: [OperatorHome.Action]
            switch notice {
            case .accepted(let id):
                homes[op]!.onAccepted(id)
                actions = []
            case .missed(let id): actions = homes[op]!.onMissed(id, now: now)
            case .released(let id): actions = homes[op]!.onReleased(id, now: now)
            }
            homeDid(op, actions, now: now, &work, &effects)
        case .pullAnswer(let op, let partition, let offered, let best):
            pullAnswered(op, partition: partition, offered: offered, best: best, now: now, &work, &effects)
        case .adopt(let op, let id):
            homes[op]?.adoptActive(id)
            publishAvailability(op, &effects)
        case .granted(let id, let op):
            guard let profile = profiles[op] else { return }
            onPartitionMessage(id, &work, &effects) { partition, actions in partition.onGranted(id, operator: op, profile: profile, now: now, into: &actions) }
        case .denied(let id, let op):
            onPartitionMessage(id, &work, &effects) { partition, actions in partition.onDenied(id, operator: op, into: &actions) }
        case .operatorLost(let id, let op):
            onPartitionMessage(id, &work, &effects) { partition, actions in partition.onOperatorLost(id, operator: op, now: now, into: &actions) }
        case .pull(let index, let op, let bound):
            guard let profile = profiles[op] else { return }
            onPartitionMessage(partition: index, &work, &effects) { partition, actions in
                partition.onPull(operator: profile, bound: bound, now: now, into: &actions)
            }
        case .queueHeads, .availability, .unclaimed, .resync, .queueRanks:
            break  // for every router: handled where they arrive (`receive`) or are made
        }
    }

    /// Runs a message on the partition owning `id`; its actions join the work list.
    private mutating func onPartitionMessage(_ id: ConversationID, _ work: inout [Work], _ effects: inout [RouterEffect],
                                             _ body: (inout Partition, inout [Partition.Action]) -> Void) {
        onPartitionMessage(partition: partitionIndex(of: id), &work, &effects, body)
    }

    private mutating func onPartitionMessage(partition index: Int, _ work: inout [Work], _ effects: inout [RouterEffect],
                                             _ body: (inout Partition, inout [Partition.Action]) -> Void) {
        var actions: [Partition.Action] = []
        body(&partitions[index], &actions)
        work += actions.map { .action(index, $0) }
        publishHeads(index, &effects)
    }

    /// Sends `message` toward its partition or home: onto the work list if it is here, to
    /// the shell if not.
    mutating func route(_ message: RoutingMessage, _ work: inout [Work], _ effects: inout [RouterEffect]) {
        let here = switch message.destination(placement) {
        case .partition(let index): placement.owns(partition: index)
        case .home(let op): placement.ownsHome(of: op)
        case .everyRouter: false
        }
        if here { work.append(.message(message)) } else { effects.append(.send(message)) }
    }

    /// Takes in what every router must know, whether it was made here or arrived.
    mutating func learn(_ message: RoutingMessage) {
        switch message {
        case .queueHeads(let partition, let heads, let complete):
            if complete { directory.clear(partition: partition) }
            for head in heads { directory.update(lane: head.lane, partition: partition, head: head.rank) }
            // A search that asked this partition already must not trust its old answer.
            if !pulls.isEmpty { for op in Array(pulls.keys) { pulls[op]!.forget(partition: partition) } }
        case .availability(let summary):
            availability.update(summary)
        case .queueRanks(let partition, let queue, let ranks):
            if ranks.isEmpty { remoteRanks[queue]?[partition] = nil } else { remoteRanks[queue, default: [:]][partition] = ranks }
        default:
            break
        }
    }

    /// Tells every router (this one first) the heads of partition `index`'s lanes that changed.
    mutating func publishHeads(_ index: Int, _ effects: inout [RouterEffect]) {
        let changed = partitions[index].takeChangedLanes()
        guard !changed.isEmpty else { return }
        let message = RoutingMessage.queueHeads(partition: index, changed.map { RoutingMessage.LaneHead(lane: $0.0, rank: $0.1) }, complete: false)
        learn(message)
        if !placement.ownsEverything { effects.append(.send(message)) }
    }

    /// Tells the other routers everything they may have missed while one of them was down:
    /// every home's availability, every partition's queue heads in full, and, to the homes,
    /// every chat an operator has here (a home that already counts one ignores it).
    mutating func announce(_ work: inout [Work], _ effects: inout [RouterEffect]) {
        guard !placement.ownsEverything else { return }
        // The next refresh of places in line tells every queue's ranks again.
        publishedRanks = [:]
        for home in homes.values.sorted(by: { $0.profile.id < $1.profile.id }) {
            availability.update(home.summary)
            effects.append(.send(.availability(home.summary)))
        }
        for index in placement.ownedPartitions {
            publishHeads(index, &effects)
            let heads = partitions[index].queue.laneHeads.map { RoutingMessage.LaneHead(lane: $0.key, rank: $0.value) }
            effects.append(.send(.queueHeads(partition: index, heads, complete: true)))
            for conversation in partitions[index].conversations.values.sorted(by: { $0.id < $1.id })
            where conversation.state == .offered || conversation.state == .active {
                guard let op = conversation.assignedOperator else { continue }
                route(.adopt(op, conversation.id), &work, &effects)
            }
        }
    }

    /// Tells every router (this one first) operator `op`'s availability, if it changed,
    /// under the home's next version; a change of status or consoles alone is only gossiped.
    mutating func publishAvailability(_ op: OperatorID, _ effects: inout [RouterEffect]) {
        guard let current = homes[op]?.summary, let known = availability.summaries[op], current.says(differently: known) else { return }
        homes[op]!.nextVersion()
        let summary = homes[op]!.summary
        availability.update(summary)
        effects.append(.published(summary))
        if !placement.ownsEverything && summary.routes(differently: known) { effects.append(.send(.availability(summary))) }
    }
}
