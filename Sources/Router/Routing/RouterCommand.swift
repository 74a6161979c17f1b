/// A change asked of the router core, as a value: it can be logged, sent to the router
/// that owns its partition or home, retried and deduplicated (a chat message by its client
/// message id, a start by its request id). The service builds one from a client's command
/// once the principal is authorised; `RouterCore.execute` runs it.
public enum RouterCommand: Sendable, Equatable {
    /// A visitor starts a chat; the pre-chat form's question, if any, is its first message
    /// (stored once, even when the start is retried with the same request id). A shop may
    /// ask for a minimum proficiency and a priority (routing rules); visitors get 1 and 0.
    case start(site: SiteID, visitor: VisitorID, department: Skill, profile: [String: String], question: String?, requestID: String,
               minimumLevel: Int = 1, priority: Int = 0)
    /// A chat message from the conversation's visitor or its assigned operator.
    case send(ConversationID, author: Author, clientMessageID: String, text: String)
    /// A file from the visitor or the assigned operator, already durable in the attachment store.
    case attach(ConversationID, author: Author, clientMessageID: String, file: AttachmentFile)
    /// The visitor leaves.
    case leave(ConversationID)
    /// The visitor rates the chat that ended.
    case rate(ConversationID, Rating)
    /// An operator's console connected or went away.
    case connect(OperatorID)
    case disconnect(OperatorID)
    /// An operator chooses a status.
    case setStatus(OperatorID, OperatorStatus)
    /// An operator answers an offer, or ends a chat.
    case accept(ConversationID, by: OperatorID)
    case decline(ConversationID, by: OperatorID)
    case end(ConversationID, by: OperatorID)
    /// An operator hands a chat on, with a note for the next operator.
    case transfer(ConversationID, by: OperatorID, to: TransferTarget, note: String)
}

/// What a command did, for its answer.
public struct CommandOutcome: Sendable, Equatable {
    /// The conversation it named or started.
    public var conversation: ConversationID?
    /// The sequence number of the event it stored (a message, a file).
    public var sequence: UInt64?
    /// For an accepted offer: how long the visitor waited in the queue (ns).
    public var waited: UInt64?

    public init(conversation: ConversationID? = nil, sequence: UInt64? = nil, waited: UInt64? = nil) {
        (self.conversation, self.sequence, self.waited) = (conversation, sequence, waited)
    }
}

extension RouterCommand {
    /// The partition whose router runs this command: the visitor's for a new chat, the
    /// conversation's, or the one that keeps the operator's home.
    public func partition(in placement: Placement) -> Int {
        switch self {
        case .start(let site, let visitor, _, _, _, _, _, _):
            placement.partition(ofVisitor: visitor, site: site)
        case .send(let id, _, _, _), .attach(let id, _, _, _), .leave(let id), .rate(let id, _), .accept(let id, _),
             .decline(let id, _), .end(let id, _), .transfer(let id, _, _, _):
            placement.partition(of: id)
        case .connect(let op), .disconnect(let op), .setStatus(let op, _):
            placement.homePartition(of: op)
        }
    }
}

extension RouterCore {
    /// Runs one command at `now`. A refused command changes nothing.
    public mutating func execute(_ command: RouterCommand, now: Instant, into effects: inout [RouterEffect]) throws(RouterError) -> CommandOutcome {
        switch command {
        case .start(let site, let visitor, let department, let profile, let question, let requestID, let level, let priority):
            let id = try startConversation(site: site, visitor: visitor, department: department, minimumLevel: level, priority: priority,
                                           visitorProfile: profile, now: now, into: &effects)
            if let question, !question.isEmpty {
                _ = try visitorSend(id, clientMessageID: "start:\(requestID)", text: question, now: now, into: &effects)
            }
            return CommandOutcome(conversation: id)
        case .send(let id, .visitor, let messageID, let text):
            return CommandOutcome(conversation: id, sequence: try visitorSend(id, clientMessageID: messageID, text: text, now: now, into: &effects))
        case .send(let id, .operator(let op), let messageID, let text):
            return CommandOutcome(conversation: id, sequence: try operatorSend(id, by: op, clientMessageID: messageID, text: text, now: now, into: &effects))
        case .send(_, .system, _, _):
            throw .notPermitted("only the visitor and the operator write in a chat")
        case .attach(let id, let author, let messageID, let file):
            return CommandOutcome(conversation: id, sequence: try sendAttachment(id, author: author, clientMessageID: messageID, file: file,
                                                                                 now: now, into: &effects))
        case .leave(let id):
            try visitorLeave(id, now: now, into: &effects)
            return CommandOutcome(conversation: id)
        case .rate(let id, let rating):
            try rate(id, rating: rating, now: now, into: &effects)
            return CommandOutcome(conversation: id)
        case .connect(let op):
            try operatorConnected(op, now: now, into: &effects)
        case .disconnect(let op):
            try operatorDisconnected(op, now: now, into: &effects)
        case .setStatus(let op, let status):
            try setStatus(op, status, now: now, into: &effects)
        case .accept(let id, let op):
            let waited = conversation(id).map { now &- min(now, $0.queuedAt) }
            try accept(id, by: op, now: now, into: &effects)
            return CommandOutcome(conversation: id, waited: waited)
        case .decline(let id, let op):
            try decline(id, by: op, now: now, into: &effects)
            return CommandOutcome(conversation: id)
        case .end(let id, let op):
            try end(id, by: op, now: now, into: &effects)
            return CommandOutcome(conversation: id)
        case .transfer(let id, let op, let target, let note):
            try transfer(id, by: op, to: target, note: note, now: now, into: &effects)
            return CommandOutcome(conversation: id)
        }
        return CommandOutcome()
    }
}
