/// How a partition's waiting conversations meet operators: the answers homes send, the
/// partition's timers, and the internals every input shares (committing records, queueing,
/// offering, finishing).
extension Partition {
    // MARK: answers from homes

    /// A home granted a reservation: offer the conversation to that operator.
    public mutating func onGranted(_ id: ConversationID, operator op: OperatorID, profile: OperatorProfile, now: Instant,
                                   into actions: inout [Action]) {
        guard let conversation = conversations[id], conversation.state == .queued else {
            // The same operator's pull got there first: their home counts the chat once
            // already (grant and pull answer name the same chat), so nothing is given back.
            if let conversation = conversations[id], conversation.assignedOperator == op,
               conversation.state == .offered || conversation.state == .active { return }
            // Too late (taken by someone else, abandoned): give the slot back.
            actions.append(.home(op, .released(id)))
            return
        }
        offer(conversation, to: op, profile: profile, now: now, &actions)
    }

    /// A home refused: try the next candidate.
    public mutating func onDenied(_ id: ConversationID, operator op: OperatorID, into actions: inout [Action]) {
        guard conversations[id]?.state == .queued else { return }
        seekExcluded[id, default: []].insert(op)
        seek(id, &actions)
    }

    /// Nobody can take it now: it waits for an operator to pull it.
    public mutating func onNoCandidate(_ id: ConversationID) {
        seekExcluded[id] = nil
    }

    /// The best-ranked waiting conversation here that this operator may take (right skill
    /// and level, not declined by them).
    public func bestWaiting(for profile: OperatorProfile) -> (conversation: ConversationID, rank: QueueRank)? {
        var best: (conversation: ConversationID, rank: QueueRank)?
        for (skill, level) in profile.skills {
            let candidate = queue.best(site: profile.site, skill: skill, level: level) { [conversations] id in
                conversations[id]?.declinedBy.contains(profile.id) ?? true
            }
            if let candidate, best.map({ candidate.rank < $0.rank }) ?? true { best = candidate }
        }
        return best
    }

    /// An operator's home pulls (a slot is set aside for them): offer them the best waiting
    /// conversation they may take here if it ranks no later than `bound` (the best the home
    /// may find elsewhere), and answer either way, the answer first.
    public mutating func onPull(operator profile: OperatorProfile, bound: QueueRank?, now: Instant, into actions: inout [Action]) {
        let found = bestWaiting(for: profile)
        guard let best = found, bound.map({ best.rank <= $0 }) ?? true, let conversation = conversations[best.conversation] else {
            actions.append(.answerPull(profile.id, offered: nil, best: found?.rank))
            return
        }
        actions.append(.answerPull(profile.id, offered: best.conversation, best: nil))
        offer(conversation, to: profile.id, profile: profile, now: now, &actions)
    }

    // MARK: timers

    /// A timer this partition scheduled fired.
    public mutating func onTimer(_ timer: PartitionTimer, now: Instant, into actions: inout [Action]) {
        switch timer {
        case .offerTimeout(let id, let token):
            guard offerTokens[id] == token, let conversation = conversations[id], conversation.state == .offered,
                  let op = conversation.assignedOperator else { return }
            withdrawOffer(id, from: op, reason: "not accepted in time", now: now, &actions)
        case .escalate(let id):
            guard let conversation = conversations[id], conversation.state == .queued,
                  let (lane, _) = queue.position(of: id) else { return }
            let settings = settings(conversation.site)
            let level = settings.minimumLevel(requested: conversation.requirement.minimumLevel, waited: now &- conversation.queuedAt)
            if level != lane.level {
                let newLane = LaneKey(site: conversation.site, skill: conversation.requirement.skill, level: level)
                queue.move(id, to: newLane)
                changedLanes.insert(lane)
                changedLanes.insert(newLane)
                seekExcluded[id] = nil
                seek(id, &actions)
            }
            scheduleEscalation(conversation, now: now, &actions)
        case .waitLimit(let id):
            guard let conversation = conversations[id], conversation.state == .queued,
                  now &- conversation.queuedAt >= settings(conversation.site).waitLimit else { return }
            setState(id, .missed, operator: nil, now: now, &actions)
            actions.append(.toVisitor(id, .missed))
        }
    }


    // MARK: internals

    mutating func commit(_ record: PartitionRecord, _ actions: inout [Action]) {
        apply(record)
        actions.append(.persist(record))
    }

    mutating func setState(_ id: ConversationID, _ state: ConversationState, operator op: OperatorID?,
                                   requirement: Requirement? = nil, rank: QueueRank? = nil, queuedAt: Instant? = nil,
                                   now: Instant, _ actions: inout [Action]) {
        let conversation = conversations[id]!
        commit(.state(.init(id: id, state: state, assignedOperator: op, requirement: requirement ?? conversation.requirement,
                            rank: rank, queuedAt: queuedAt ?? conversation.queuedAt, time: now)), &actions)
    }

    /// Puts a conversation in the queue lane its state and wait call for (or takes it out).
    mutating func place(_ conversation: Conversation, now: Instant) {
        if let (lane, _) = queue.remove(conversation.id) { changedLanes.insert(lane) }
        guard conversation.state == .queued, let rank = conversation.rank else { return }
        let level = settings(conversation.site).minimumLevel(requested: conversation.requirement.minimumLevel,
                                                              waited: now &- conversation.queuedAt)
        let lane = LaneKey(site: conversation.site, skill: conversation.requirement.skill, level: level)
        queue.insert(conversation.id, lane: lane, rank: rank)
        changedLanes.insert(lane)
    }

    /// Queues a conversation: with a new rank (now, its priority) unless one is given.
    mutating func enqueue(_ id: ConversationID, rank given: QueueRank?, requirement: Requirement? = nil, now: Instant,
                                  seek shouldSeek: Bool = true, _ actions: inout [Action]) {
        let conversation = conversations[id]!
        let settings = settings(conversation.site)
        let rank = given ?? {
            queueSerial += 1
            return QueueRank(queuedAt: now, priority: conversation.priority, agingInterval: settings.agingInterval, serial: queueSerial)
        }()
        setState(id, .queued, operator: nil, requirement: requirement, rank: rank, queuedAt: given == nil ? now : conversation.queuedAt,
                 now: now, &actions)
        let queued = conversations[id]!
        scheduleEscalation(queued, now: now, &actions)
        actions.append(.schedule(.waitLimit(id), at: queued.queuedAt + settings.waitLimit))
        seekExcluded[id] = nil
        if shouldSeek { seek(id, &actions) }
    }

    func scheduleEscalation(_ conversation: Conversation, now: Instant, _ actions: inout [Action]) {
        let settings = settings(conversation.site)
        if let at = settings.nextEscalation(requested: conversation.requirement.minimumLevel, queuedAt: conversation.queuedAt, now: now) {
            actions.append(.schedule(.escalate(conversation.id), at: at))
        }
    }

    func seek(_ id: ConversationID, _ actions: inout [Action]) {
        guard let conversation = conversations[id], let (lane, _) = queue.position(of: id) else { return }
        actions.append(.seekOperator(id, site: conversation.site, skill: lane.skill, level: lane.level,
                                     excluding: conversation.declinedBy.union(seekExcluded[id] ?? [])))
    }

    mutating func offer(_ conversation: Conversation, to op: OperatorID, profile: OperatorProfile, now: Instant,
                                _ actions: inout [Action]) {
        let id = conversation.id
        let settings = settings(conversation.site)
        setState(id, .offered, operator: op, rank: conversation.rank, now: now, &actions)
        seekExcluded[id] = nil
        let token = (offerTokens[id] ?? 0) + 1
        offerTokens[id] = token
        if settings.autoAccept {
            try? onAccept(id, by: op, displayName: profile.displayName, now: now, into: &actions)
            return
        }
        actions.append(.toOperator(op, .offer(id, visitor: conversation.visitor, skill: conversation.requirement.skill,
                                              expiresAt: now + settings.offerTimeout)))
        actions.append(.schedule(.offerTimeout(id, token: token), at: now + settings.offerTimeout))
    }

    mutating func withdrawOffer(_ id: ConversationID, from op: OperatorID, reason: String, now: Instant, _ actions: inout [Action]) {
        offerTokens[id] = nil
        commit(.declined(id, op), &actions)
        actions.append(.toOperator(op, .offerWithdrawn(id, reason: reason)))
        actions.append(.home(op, .missed(id)))
        // Back in its old place: a declined offer costs the visitor nothing.
        setState(id, .queued, operator: nil, rank: conversations[id]!.rank, now: now, &actions)
        scheduleEscalation(conversations[id]!, now: now, &actions)
        seek(id, &actions)
    }

    mutating func finish(_ id: ConversationID, by author: Author, now: Instant, _ actions: inout [Action]) {
        let conversation = conversations[id]!
        let op = conversation.assignedOperator!
        _ = appendEvent(id, author: .system, kind: .notice(text: author == .visitor ? "the visitor left" : "chat ended"),
                        clientMessageID: nil, now: now, &actions)
        setState(id, .ended, operator: op, now: now, &actions)
        actions.append(.toVisitor(id, .ended))
        actions.append(.toOperator(op, .ended(id)))
        actions.append(.home(op, .released(id)))
        if let acceptedAt = conversation.acceptedAt {
            actions.append(.handled(SiteSkill(site: conversation.site, skill: conversation.requirement.skill), handleTime: now &- acceptedAt))
        }
    }

    private static func appendFacts(_ conversation: Conversation) -> (UInt64, OperatorID?, ConversationState) {
        (conversation.nextSequence, conversation.assignedOperator, conversation.state)
    }

    mutating func appendEvent(_ id: ConversationID, author: Author, kind: EventKind, clientMessageID: String?,
                                      now: Instant, _ actions: inout [Action]) -> UInt64 {
        // Read the few fields needed in place, not a copy of the conversation: a copy held
        // across the append would share its event array and make the append copy it (every
        // event, every time — quadratic in the conversation's length), and even a short-lived
        // one retains and releases each of its fields.
        let index = conversations.index(forKey: id)!
        let (sequence, holder, state) = Self.appendFacts(conversations.values[index])
        let event = ConversationEvent(sequence: sequence, time: now, author: author, kind: kind)
        commit(.event(id, event, clientMessageID: clientMessageID), &actions)
        actions.append(.toVisitor(id, .event(event)))
        if let op = holder, state == .active || state == .offered {
            actions.append(.toOperator(op, .event(id, event)))
        }
        return event.sequence
    }
}
