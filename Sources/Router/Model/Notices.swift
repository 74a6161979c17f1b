/// What the router tells a visitor about their conversation.
public enum VisitorNotice: Sendable, Equatable {
    /// Still waiting: place in line (1 = next) and estimated wait in ns.
    case queued(position: Int, estimatedWait: UInt64)
    /// An operator accepted the chat.
    case assigned(OperatorID, displayName: String)
    /// A stored event (message, notice, transfer).
    case event(ConversationEvent)
    /// The chat is being transferred.
    case transferred(TransferTarget)
    /// The operator dropped out; the chat waits for another one.
    case operatorLeft
    /// The chat ended.
    case ended
    /// Nobody was online: the conversation is kept as a message for later.
    case offline
    /// Nobody accepted within the site's wait limit.
    case missed
}

/// What the router tells an operator.
public enum OperatorNotice: Sendable, Equatable {
    /// A conversation is offered; accept before `expiresAt`.
    case offer(ConversationID, visitor: VisitorID, skill: Skill, expiresAt: Instant)
    /// An offer is gone (declined, timed out, visitor left).
    case offerWithdrawn(ConversationID, reason: String)
    /// A stored event of one of their conversations.
    case event(ConversationID, ConversationEvent)
    /// One of their conversations ended.
    case ended(ConversationID)
    /// Their status was changed for them.
    case statusChanged(OperatorStatus, reason: String)
}
