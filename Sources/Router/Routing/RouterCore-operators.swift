/// The operator side of the exchange: what homes ask for, pulls across partitions, and
/// choosing a candidate for a waiting chat.
extension RouterCore {
    /// Carries out what operator `op`'s home asked for, after telling every router its
    /// availability.
    mutating func homeDid(_ op: OperatorID, _ actions: [OperatorHome.Action], now: Instant, _ work: inout [Work], _ effects: inout [RouterEffect]) {
        publishAvailability(op, &effects)
        for action in actions {
            switch action {
            case .pull:
                startPull(op, now: now, &work, &effects)
            case .statusChanged(let status, let reason):
                effects.append(.toOperator(op, .statusChanged(status, reason: reason)))
            case .requeue(let chats):
                for id in chats { route(.operatorLost(id, op), &work, &effects) }
            case .scheduleGrace(let token, let at):
                effects.append(.schedule(.grace(op, token: token), at: at))
            case .schedulePresenceGrace(let token, let at):
                effects.append(.schedule(.presenceGrace(op, token: token), at: at))
            case .grant(let id):
                route(.granted(id, op), &work, &effects)
            case .deny(let id):
                route(.denied(id, op), &work, &effects)
            }
        }
    }

    // MARK: pulls

    /// The operator has a free slot: set it aside and start looking for the best waiting
    /// chat they may take, across partitions (one search at a time per operator).
    mutating func startPull(_ op: OperatorID, now: Instant, _ work: inout [Work], _ effects: inout [RouterEffect]) {
        guard pulls[op] == nil, homes[op]?.reservePullSlot() == true else { return }
        publishAvailability(op, &effects)
        pulls[op] = PullSearch(partitionCount: partitionCount)
        continuePull(op, &work, &effects)
    }

    /// Asks the next partition, or ends the search with nothing found.
    private mutating func continuePull(_ op: OperatorID, _ work: inout [Work], _ effects: inout [RouterEffect]) {
        guard var search = pulls[op], let home = homes[op] else { return }
        // An operator who went away or lost their console meanwhile takes nothing new.
        let next = home.status == .online && home.connections > 0 ? search.next(for: home.profile, in: &directory) : nil
        if let (partition, bound) = next {
            pulls[op] = search
            route(.pull(partition: partition, op, bound: bound), &work, &effects)
        } else {
            pulls[op] = nil
            homes[op]!.onPullAnswered(nil)
            publishAvailability(op, &effects)
        }
    }

    /// A partition answered the operator's pull.
    mutating func pullAnswered(_ op: OperatorID, partition: Int, offered: ConversationID?, best: QueueRank?, now: Instant,
                               _ work: inout [Work], _ effects: inout [RouterEffect]) {
        guard pulls[op] != nil, homes[op] != nil else { return }
        guard let offered else {
            pulls[op]!.answered(partition: partition, best: best)
            return continuePull(op, &work, &effects)
        }
        pulls[op] = nil
        homes[op]!.onPullAnswered(offered)
        publishAvailability(op, &effects)
        // Another slot may be free: keep pulling, one chat at a time.
        startPull(op, now: now, &work, &effects)
    }

    /// Another router's partition holds a chat in `lane` that nobody it knows of could take:
    /// the free operator here whom the site's policy picks among those who can takes a look.
    mutating func offerPull(for lane: LaneKey, now: Instant, _ work: inout [Work], _ effects: inout [RouterEffect]) {
        guard let policy = sites[lane.site]?.settings.policy else { return }
        let eligible = availability.available(site: lane.site, skill: lane.skill).compactMap { op -> OperatorSummary? in
            guard homes[op] != nil, pulls[op] == nil, let summary = availability.summaries[op],
                  summary.profile.level(in: lane.skill) >= lane.level else { return nil }
            return summary
        }
        let key = SiteSkill(site: lane.site, skill: lane.skill)
        guard let op = OperatorSelection.choose(policy: policy, among: eligible, skill: lane.skill, after: roundRobinCursor[key]) else { return }
        if policy == .roundRobin { roundRobinCursor[key] = op }
        startPull(op, now: now, &work, &effects)
    }

    /// A partition's full queue heads arrived after a restart (this router's or its own):
    /// each free operator here who can take one of them looks, since a search they made
    /// before the heads arrived found nothing, and the partition's own search for them may
    /// have found nobody too.
    mutating func pullAfterResync(_ heads: [RoutingMessage.LaneHead], now: Instant, _ work: inout [Work], _ effects: inout [RouterEffect]) {
        for (op, home) in homes.sorted(by: { $0.key < $1.key }) where home.acceptsNewChats && pulls[op] == nil {
            let takes = heads.contains { head in
                head.rank != nil && head.lane.site == home.profile.site && home.profile.level(in: head.lane.skill) >= head.lane.level
            }
            if takes { startPull(op, now: now, &work, &effects) }
        }
    }

    // MARK: choosing operators

    /// The operator the site's policy picks for a waiting chat among those this router
    /// believes free, or nil.
    mutating func chooseOperator(site: SiteID, skill: Skill, level: Int, excluding: Set<OperatorID>) -> OperatorID? {
        guard let policy = sites[site]?.settings.policy else { return nil }
        let candidates = availability.available(site: site, skill: skill)
        guard !candidates.isEmpty else { return nil }
        let eligible = candidates.compactMap { op -> OperatorSummary? in
            guard !excluding.contains(op), let summary = availability.summaries[op], summary.profile.level(in: skill) >= level else { return nil }
            return summary
        }
        let key = SiteSkill(site: site, skill: skill)
        let chosen = OperatorSelection.choose(policy: policy, among: eligible, skill: skill, after: roundRobinCursor[key])
        if let chosen, policy == .roundRobin { roundRobinCursor[key] = chosen }
        return chosen
    }
}
