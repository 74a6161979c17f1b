import Wire

/// What the node tells visitors and operators, as typed events to the gateways that hold
/// their sessions (the gateway writes the client protocol's JSON).
extension RouterService {
    /// Archived conversations produce no more events: their watcher entries go (they were
    /// the router's memory growing with every chat ever served).
    public func routerNode(_ node: RouterNode, didArchive conversations: [ConversationID]) {
        for id in conversations { subscriptions.forget(id) }
    }

    public func routerNode(_ node: RouterNode, deliver notice: VisitorNotice, toVisitorOf conversation: ConversationID) {
        let sequence: UInt64 = if case .event(let stored) = notice { stored.sequence } else { 0 }
        pushConversation(conversation, sequence: sequence, event(of: notice, conversation))
    }

    public func routerNode(_ node: RouterNode, deliver notice: OperatorNotice, to op: OperatorID) {
        pushOperator(op, event(of: notice))
        if case .statusChanged = notice, let site = node.core.profiles[op]?.site { refreshAvailability(of: site) }
    }

    private func event(of notice: VisitorNotice, _ conversation: ConversationID) -> ServerEvent {
        let id = conversation.raw
        switch notice {
        case .event(let stored): return serverEvent(conversation, stored)
        case .queued(let position, let wait):
            return .queued(conversation: id, position: position, estimatedWaitSeconds: Int(wait / 1_000_000_000), time: Self.preciseMilliseconds(node.wallClock()))
        case .assigned(let op, let name): return .assigned(conversation: id, operatorID: Self.localID(op), operatorName: name)
        case .transferred(.operator(let op)): return .transferred(conversation: id, toOperator: Self.localID(op), toDepartment: nil)
        case .transferred(.department(let skill)): return .transferred(conversation: id, toOperator: nil, toDepartment: skill.raw)
        case .operatorLeft: return .operatorLeft(conversation: id)
        case .ended: return .ended(conversation: id)
        case .offline: return .offline(conversation: id)
        case .missed: return .missed(conversation: id)
        }
    }

    private func event(of notice: OperatorNotice) -> ServerEvent {
        switch notice {
        case .event(let id, let stored): return serverEvent(id, stored)
        case .offer(let id, let visitor, let skill, let expiresAt):
            let now = node.wallClock()
            let conversation = node.core.conversation(id)
            return .offer(conversation: id.raw, visitor: visitor.raw, visitorName: conversation?.visitorProfile["name"], department: skill.raw,
                          expiresInSeconds: Int((expiresAt &- min(expiresAt, now)) / 1_000_000_000),
                          queuedAt: Self.preciseMilliseconds(conversation?.queuedAt ?? now), time: Self.preciseMilliseconds(node.wallClock()))
        case .offerWithdrawn(let id, let reason): return .offerWithdrawn(conversation: id.raw, reason: reason)
        case .ended(let id): return .ended(conversation: id.raw)
        case .statusChanged(let status, let reason): return .statusChanged(status: status.rawValue, reason: reason)
        }
    }

    /// Sends the event to the gateways watching the conversation.
    func pushConversation(_ id: ConversationID, sequence: UInt64, _ event: @autoclosure () -> ServerEvent) {
        guard let watchers = subscriptions.conversationWatchers[id], !watchers.isEmpty else { return }
        let message = WireMessage.conversationUpdate(conversationID: id.raw, sequence: sequence, event: event())
        for link in watchers { send(message, on: link) }
    }

    /// Sends the event to the gateways holding the operator's consoles: those linked here
    /// if their home is here, else through their home's router (`forwardToHome`), which
    /// holds the consoles (an offer made by a partition here to an operator homed elsewhere).
    func pushOperator(_ op: OperatorID, _ event: @autoclosure () -> ServerEvent) {
        if node.core.homes[op] == nil, let forwardToHome {
            forwardToHome(.operatorUpdate(operatorID: op.raw, event: event()), node.core.placement.homePartition(of: op))
            return
        }
        guard let watchers = subscriptions.operatorWatchers[op], !watchers.isEmpty else { return }
        let message = WireMessage.operatorUpdate(operatorID: op.raw, event: event())
        for link in watchers { send(message, on: link) }
    }

    /// An operator's event another router produced, for the consoles held here.
    func deliverForwarded(_ message: WireMessage, operator op: String) {
        for link in subscriptions.operatorWatchers[OperatorID(op)] ?? [] { send(message, on: link) }
    }

    /// A stored event as clients see it.
    func serverEvent(_ conversation: ConversationID, _ event: ConversationEvent) -> ServerEvent {
        let author: ServerEvent.Author = switch event.author {
        case .visitor: .visitor
        case .operator(let op): .operator(id: Self.localID(op), name: node.core.profiles[op]?.displayName)
        case .system: .system
        }
        let (kind, text, attachment): (ServerEvent.Kind, String, ServerEvent.Attachment?) = switch event.kind {
        case .message(let text): (.message, text, nil)
        case .notice(let text): (.notice, text, nil)
        case .transfer(.operator(let op), let note): (.notice, "transferred to \(Self.localID(op))" + (note.isEmpty ? "" : ": \(note)"), nil)
        case .transfer(.department(let skill), let note): (.notice, "transferred to \(skill.raw)" + (note.isEmpty ? "" : ": \(note)"), nil)
        case .attachment(let file): (.attachment, file.name, .init(id: file.id, name: file.name, contentType: file.contentType, size: file.size))
        }
        return .event(conversation: conversation.raw, sequence: Int64(event.sequence), time: node.wallMilliseconds(event.time),
                      author: author, kind: kind, text: text, attachment: attachment)
    }

    /// An instant as milliseconds since 1970 to the microsecond. Notices that tell order
    /// (offers, queue positions) are stamped with a fresh clock read, so two released in one
    /// loop turn are still ordered.
    static func preciseMilliseconds(_ instant: Instant) -> Double {
        (Double(instant) / 1000).rounded() / 1000
    }
}
