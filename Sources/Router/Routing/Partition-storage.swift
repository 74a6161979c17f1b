/// A partition and its log: applying records (live and on replay), recovering after a
/// restart, and what leaves memory or goes into a snapshot.
extension Partition {
    // MARK: recovery

    /// Applies a record: the only place state changes. Used live and on recovery.
    public mutating func apply(_ record: PartitionRecord) {
        switch record {
        case .started(let started):
            openByVisitor[started.site, default: [:]][started.visitor] = started.id
            conversations[started.id] = Conversation(
                id: started.id, site: started.site, visitor: started.visitor, visitorProfile: started.visitorProfile,
                requirement: started.requirement, priority: started.priority, state: .queued, assignedOperator: nil,
                queuedAt: started.time, acceptedAt: nil)
        case .event(let id, let event, let clientMessageID):
            // One hash lookup, then the conversation is changed in place.
            guard let index = conversations.index(forKey: id) else { return }
            conversations.values[index].events.append(event)
            if let clientMessageID { conversations.values[index].clientMessageSequences[clientMessageID] = event.sequence }
        case .declined(let id, let op):
            conversations[id]?.declinedBy.insert(op)
        case .rated(let id, let rating):
            conversations[id]?.rating = rating
        case .state(let change):
            // One hash lookup, then the conversation is changed in place (no copy of its events).
            guard let index = conversations.index(forKey: change.id) else { return }
            Self.applyChange(change, to: &conversations.values[index])
            if let rank = change.rank { queueSerial = max(queueSerial, rank.serial) }
            let conversation = conversations.values[index]
            closedAt[change.id] = conversation.state.isOpen ? nil : change.time
            if !conversation.state.isOpen, openByVisitor[conversation.site]?[conversation.visitor] == change.id {
                openByVisitor[conversation.site]?[conversation.visitor] = nil
            }
            place(conversation, now: change.time)
        }
    }

    static func applyChange(_ change: PartitionRecord.StateChange, to conversation: inout Conversation) {
        conversation.state = change.state
        conversation.assignedOperator = change.assignedOperator
        conversation.requirement = change.requirement
        conversation.queuedAt = change.queuedAt
        if let rank = change.rank { conversation.rank = rank }
        if change.state == .active && conversation.acceptedAt == nil { conversation.acceptedAt = change.time }
        if change.state != .queued && change.state != .offered { conversation.rank = nil }
    }

    /// After replaying the log: offers do not survive a restart, so offered conversations
    /// wait again in their old place; timers are scheduled afresh. Returns the active
    /// conversations by operator so the homes can count them.
    public mutating func recover(now: Instant, into actions: inout [Action]) -> [OperatorID: [ConversationID]] {
        var active: [OperatorID: [ConversationID]] = [:]
        for id in conversations.keys.sorted() {
            let conversation = conversations[id]!
            switch conversation.state {
            case .offered:
                // The home (on another router, which did not restart) may still hold the
                // slot: give it back.
                if let op = conversation.assignedOperator { actions.append(.home(op, .released(id))) }
                setState(id, .queued, operator: nil, now: now, &actions)
                fallthrough
            case .queued:
                place(conversations[id]!, now: now)
                scheduleEscalation(conversations[id]!, now: now, &actions)
                actions.append(.schedule(.waitLimit(id), at: conversation.queuedAt + settings(conversation.site).waitLimit))
                seek(id, &actions)
            case .active:
                if let op = conversation.assignedOperator { active[op, default: []].append(id) }
            default:
                break
            }
        }
        return active
    }

    // MARK: compaction

    /// Removes the conversations that are over (ended, abandoned, missed, offline) and have
    /// been for at least `closedFor` at `now`, and returns them, so they can become
    /// transcripts and leave memory and the hot log. A close time after `now` (one recorded
    /// before a restart, on another clock) counts as long ago.
    public mutating func evictClosed(now: Instant = .max, closedFor: UInt64 = 0) -> [Conversation] {
        let due = closedAt.filter { now &- $0.value >= closedFor }.keys
        var closed: [Conversation] = []
        closed.reserveCapacity(due.count)
        for id in due {
            closedAt[id] = nil
            offerTokens[id] = nil
            seekExcluded[id] = nil
            if let conversation = conversations.removeValue(forKey: id) { closed.append(conversation) }
        }
        return closed.sorted { $0.id < $1.id }
    }

    /// Conversations over but still in memory.
    public var closedCount: Int { closedAt.count }

    /// The records that rebuild `conversation` exactly (also the form of a transcript).
    public static func records(rebuilding conversation: Conversation) -> [PartitionRecord] {
        let id = conversation.id
        var records: [PartitionRecord] = [.started(.init(
            id: id, site: conversation.site, visitor: conversation.visitor, requirement: conversation.requirement,
            priority: conversation.priority, time: conversation.queuedAt, visitorProfile: conversation.visitorProfile))]
        let clientIDs = Dictionary(uniqueKeysWithValues: conversation.clientMessageSequences.map { ($0.value, $0.key) })
        for event in conversation.events { records.append(.event(id, event, clientMessageID: clientIDs[event.sequence])) }
        for op in conversation.declinedBy.sorted() { records.append(.declined(id, op)) }
        if let acceptedAt = conversation.acceptedAt, conversation.state != .active {
            // Replaying "active at acceptedAt" first restores the accept time of a chat that has since ended.
            records.append(.state(.init(id: id, state: .active, assignedOperator: conversation.assignedOperator,
                                        requirement: conversation.requirement, rank: nil, queuedAt: conversation.queuedAt, time: acceptedAt)))
        }
        // A conversation that is over closed about when its last event was stored: that time
        // (not its queue or accept time) makes it leave memory a delay after closing again
        // when rebuilt from a snapshot, rather than at once.
        let stateTime = conversation.state.isOpen ? conversation.acceptedAt ?? conversation.queuedAt
            : max(conversation.events.last?.time ?? 0, conversation.acceptedAt ?? conversation.queuedAt)
        records.append(.state(.init(id: id, state: conversation.state, assignedOperator: conversation.assignedOperator,
                                    requirement: conversation.requirement, rank: conversation.rank, queuedAt: conversation.queuedAt,
                                    time: stateTime)))
        if let rating = conversation.rating { records.append(.rated(id, rating)) }
        return records
    }
}
