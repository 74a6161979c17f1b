/// Where a conversation is in its life. See docs/routing.md for the transitions.
public enum ConversationState: String, Sendable, Equatable, Codable {
    /// Waiting in a skill queue for an operator.
    case queued
    /// Reserved for one operator, who has not accepted yet.
    case offered
    /// An operator is chatting with the visitor.
    case active
    /// Ended by the operator or the visitor after it was active.
    case ended
    /// The visitor left while it was still waiting.
    case abandoned
    /// It waited longer than the site's wait limit without an operator accepting it.
    case missed
    /// Nobody eligible was online: the visitor's message waits for later handling.
    case offline

    /// True while the conversation can still change hands or receive messages.
    public var isOpen: Bool { self == .queued || self == .offered || self == .active }
}

/// Who wrote an event.
public enum Author: Sendable, Equatable, Hashable {
    /// The visitor.
    case visitor
    /// An operator.
    case `operator`(OperatorID)
    /// The router itself (notices, transfers).
    case system
}

/// What a stored event is. Typing indicators are never stored.
public enum EventKind: Sendable, Equatable {
    /// A chat message.
    case message(text: String)
    /// A notice shown to both sides ("Anna joined", "chat ended").
    case notice(text: String)
    /// The conversation was transferred.
    case transfer(to: TransferTarget, note: String)
    /// A file sent in the chat; its bytes are in the attachment store under its id.
    case attachment(AttachmentFile)
}

/// A file's description as stored in the conversation's log.
public struct AttachmentFile: Sendable, Equatable {
    /// Random id (hex); also the file's name in the attachment store.
    public var id: String
    /// The file name the sender gave.
    public var name: String
    /// Its media type (one of `ClientCommand.attachmentTypes`).
    public var contentType: String
    /// Its size in bytes.
    public var size: Int
    /// A description.
    public init(id: String, name: String, contentType: String, size: Int) {
        (self.id, self.name, self.contentType, self.size) = (id, name, contentType, size)
    }
}

/// Where a transfer goes: a named operator or a department's queue.
public enum TransferTarget: Sendable, Equatable, Hashable {
    /// A specific operator (who still has to accept the offer).
    case `operator`(OperatorID)
    /// A department: back through its queue.
    case department(Skill)
}

/// One stored event of a conversation. Sequence numbers start at 1 and have no gaps.
public struct ConversationEvent: Sendable, Equatable {
    /// The event's per-conversation sequence number.
    public var sequence: UInt64
    /// When the router stored it.
    public var time: Instant
    /// Who wrote it.
    public var author: Author
    /// What it is.
    public var kind: EventKind
}

/// What a conversation asks for: a department (skill) and a minimum proficiency.
public struct Requirement: Sendable, Equatable, Hashable {
    /// The department / skill.
    public var skill: Skill
    /// The minimum proficiency 1-5 asked for (escalation may lower it over time).
    public var minimumLevel: Int
    /// A requirement.
    public init(skill: Skill, minimumLevel: Int = 1) {
        self.skill = skill
        self.minimumLevel = min(5, max(1, minimumLevel))
    }
}

/// A visitor's rating of a chat.
public struct Rating: Sendable, Equatable {
    /// 1 (bad) to 5 (excellent).
    public var score: Int
    /// An optional comment (at most 2 KiB).
    public var comment: String
    /// A rating.
    public init(score: Int, comment: String) {
        self.score = score
        self.comment = comment
    }
}

/// A conversation as its partition holds it.
public struct Conversation: Sendable, Equatable {
    /// Its id.
    public var id: ConversationID
    /// The site it belongs to.
    public var site: SiteID
    /// The visitor.
    public var visitor: VisitorID
    /// What is known of the visitor (name, email, customerId, order summary).
    public var visitorProfile: [String: String] = [:]
    /// The department and level asked for (changes on transfer to a department).
    public var requirement: Requirement
    /// Higher is served earlier (0 normal).
    public var priority: Int
    /// Its state.
    public var state: ConversationState
    /// The operator it is offered to or active with.
    public var assignedOperator: OperatorID?
    /// When it (last) entered the queue; its rank is computed from this and its priority.
    public var queuedAt: Instant
    /// When it became active (for handle-time statistics).
    public var acceptedAt: Instant?
    /// Its stored events in sequence order.
    public var events: [ConversationEvent] = []
    /// Client message ids already stored, with the sequence number each got.
    public var clientMessageSequences: [String: UInt64] = [:]
    /// Operators who declined or missed it; they are not offered it again.
    public var declinedBy: Set<OperatorID> = []
    /// Its place in the queue while waiting (kept through offers that are declined).
    public var rank: QueueRank?
    /// The visitor's rating after the end.
    public var rating: Rating?

    /// The next sequence number to assign.
    public var nextSequence: UInt64 { UInt64(events.count) + 1 }
}
