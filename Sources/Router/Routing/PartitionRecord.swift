/// A durable change to a partition: what its log holds. The partition applies the same
/// records live and on recovery, so recovery rebuilds exactly the state that was
/// acknowledged.
public enum PartitionRecord: Sendable, Equatable {
    /// A conversation was opened.
    case started(Started)
    /// An event was stored (with the client message id it was sent with, if any).
    case event(ConversationID, ConversationEvent, clientMessageID: String?)
    /// The conversation changed state.
    case state(StateChange)
    /// An operator declined or missed the offer of this conversation.
    case declined(ConversationID, OperatorID)
    /// The visitor rated the chat.
    case rated(ConversationID, Rating)

    /// Fields of `started`.
    public struct Started: Sendable, Equatable {
        public var id: ConversationID
        public var site: SiteID
        public var visitor: VisitorID
        public var requirement: Requirement
        public var priority: Int
        public var time: Instant
        /// What is known of the visitor: name, email, customerId, order (from the shop's
        /// signed identity, or the pre-chat form).
        public var visitorProfile: [String: String] = [:]
    }

    /// Fields of `state`.
    public struct StateChange: Sendable, Equatable {
        public var id: ConversationID
        public var state: ConversationState
        public var assignedOperator: OperatorID?
        public var requirement: Requirement
        /// Set when (re-)entering the queue.
        public var rank: QueueRank?
        public var queuedAt: Instant
        public var time: Instant
    }
}
