/// One partition: a self-contained state machine over the conversations whose id hashes to
/// it, their events and their place in the queue. It never reads a clock or touches IO:
/// commands come in with the current time, and everything it wants done goes out as
/// `Partition.Action`s (persist a record, notify someone, ask for an operator, schedule a
/// timer). Every state change is a `PartitionRecord` applied through `apply`, the same
/// function recovery uses.
public struct Partition: Sendable {
    /// What the partition asks its shell to do, in order.
    public enum Action: Sendable, Equatable {
        /// Append this record to the partition's log before anything after it is released.
        case persist(PartitionRecord)
        /// Tell the visitor of a conversation.
        case toVisitor(ConversationID, VisitorNotice)
        /// Tell an operator.
        case toOperator(OperatorID, OperatorNotice)
        /// Find an operator for this waiting conversation (not one of `excluding`) and ask
        /// their home to reserve; answer with `onGranted` / `onDenied` / `onNoCandidate`.
        case seekOperator(ConversationID, site: SiteID, skill: Skill, level: Int, excluding: Set<OperatorID>)
        /// Ask this specific operator's home to reserve (a transfer to a named operator).
        case reserveOperator(ConversationID, OperatorID)
        /// Tell an operator's home about one of their conversations.
        case home(OperatorID, HomeNotice)
        /// Call `onTimer` with this timer at this instant.
        case schedule(PartitionTimer, at: Instant)
        /// Answer an operator's pull: the conversation now offered to them, or none, with the
        /// best this partition holds for them when it did not beat the pull's bound.
        case answerPull(OperatorID, offered: ConversationID?, best: QueueRank?)
        /// A conversation ended after being handled for `handleTime` (for wait estimates).
        case handled(SiteSkill, handleTime: UInt64)
    }

    /// What a partition tells an operator's home.
    public enum HomeNotice: Sendable, Equatable {
        /// The operator accepted the offer.
        case accepted(ConversationID)
        /// The operator declined it or let it time out.
        case missed(ConversationID)
        /// The conversation no longer holds a slot (ended, transferred, requeued, abandoned,
        /// or a grant that came too late).
        case released(ConversationID)
    }

    /// The partition's timers. Stale timers are recognised and ignored, so none is ever cancelled.
    public enum PartitionTimer: Sendable, Equatable, Hashable {
        /// The offer with this token expires.
        case offerTimeout(ConversationID, token: UInt64)
        /// The conversation's minimum level may drop now (escalation step).
        case escalate(ConversationID)
        /// The conversation reaches the site's wait limit.
        case waitLimit(ConversationID)
    }

    /// This partition's number.
    public let index: Int
    /// Conversations owned here, open and closed.
    public internal(set) var conversations: [ConversationID: Conversation] = [:]
    /// The waiting conversations.
    public internal(set) var queue = WaitingQueue()
    /// The open conversation of each visitor placed here, by site: this partition is the
    /// one place that knows whether a visitor has a chat open.
    public internal(set) var openByVisitor: [SiteID: [VisitorID: ConversationID]] = [:]
    let sites: [SiteID: RoutingSettings]
    var queueSerial: UInt64 = 0
    var offerTokens: [ConversationID: UInt64] = [:]
    /// When each conversation that is over closed (the time of its last state change), so
    /// it can leave memory a while later.
    var closedAt: [ConversationID: Instant] = [:]
    var seekExcluded: [ConversationID: Set<OperatorID>] = [:]
    var changedLanes: Set<LaneKey> = []

    /// Longest accepted chat message, in UTF-8 bytes.
    public static let maxMessageBytes = 8 * 1024
    /// Most events one conversation may hold (its transcript stays one bounded record).
    public static let maxEvents = 5000

    /// An empty partition serving `sites`.
    public init(index: Int, sites: [SiteID: RoutingSettings]) {
        self.index = index
        self.sites = sites
    }

    /// The lanes whose head changed since the last call (for the queue directory).
    public mutating func takeChangedLanes() -> [(LaneKey, QueueRank?)] {
        defer { changedLanes.removeAll(keepingCapacity: true) }
        return changedLanes.map { ($0, queue.head(of: $0)?.rank) }
    }

    func settings(_ site: SiteID) -> RoutingSettings { sites[site] ?? RoutingSettings() }

    // MARK: visitor commands

    /// A visitor starts a chat. `anyoneOnline` says whether any operator with the skill is
    /// online; if not, the conversation is stored as offline (a message for later).
    /// Starting a conversation id that exists already returns it unchanged (idempotent retry).
    public mutating func onStart(
        _ id: ConversationID, site: SiteID, visitor: VisitorID, requirement: Requirement, priority: Int,
        visitorProfile: [String: String] = [:], anyoneOnline: Bool, now: Instant, into actions: inout [Action]
    ) -> Conversation {
        if let existing = conversations[id] { return existing }
        commit(.started(.init(id: id, site: site, visitor: visitor, requirement: requirement, priority: priority, time: now,
                              visitorProfile: visitorProfile)), &actions)
        if anyoneOnline {
            enqueue(id, rank: nil, now: now, &actions)
        } else {
            setState(id, .offline, operator: nil, now: now, &actions)
            actions.append(.toVisitor(id, .offline))
        }
        return conversations[id]!
    }

    /// A message from the visitor or the assigned operator. A retry with the same client
    /// message id returns the original sequence number and stores nothing.
    public mutating func onSend(
        _ id: ConversationID, author: Author, clientMessageID: String?, text: String, now: Instant,
        into actions: inout [Action]
    ) throws(RouterError) -> UInt64 {
        try onSend(id, author: author, clientMessageID: clientMessageID, kind: .message(text: text), now: now, into: &actions)
    }

    /// A message or an attachment from the visitor or the assigned operator; the same rules
    /// as a message (a retry with the same client message id stores nothing).
    public mutating func onSend(
        _ id: ConversationID, author: Author, clientMessageID: String?, kind: EventKind, now: Instant,
        into actions: inout [Action]
    ) throws(RouterError) -> UInt64 {
        // The few facts a send is checked against, read in place: a copy of the conversation
        // costs a retain and release of each of its fields, on every message.
        guard let index = conversations.index(forKey: id) else { throw .unknownConversation(id) }
        let conversation = Self.sendFacts(conversations.values[index], clientMessageID: clientMessageID)
        if let sequence = conversation.retried { return sequence }
        switch kind {
        case .message(let text):
            guard !text.isEmpty, text.utf8.count <= Self.maxMessageBytes else {
                throw .invalidMessage("a message must have 1 to \(Self.maxMessageBytes) bytes")
            }
        case .attachment: break
        case .notice, .transfer: throw .invalidMessage("only messages and attachments can be sent")
        }
        guard conversation.eventCount < Self.maxEvents - 10 else {
            // A few events stay in reserve for the notices that close the conversation.
            throw .invalidMessage("this conversation has reached \(Self.maxEvents) events; please start a new one")
        }
        switch author {
        case .visitor:
            // A visitor may write while waiting, and leave a message when nobody is online.
            guard conversation.state.isOpen || conversation.state == .offline else { throw .conversationClosed(id) }
        case .operator(let op):
            guard conversation.state == .active else { throw .conversationClosed(id) }
            guard conversation.assignedOperator == op else { throw .notAssigned(id, op) }
        case .system:
            break
        }
        return appendEvent(id, author: author, kind: kind, clientMessageID: clientMessageID, now: now, &actions)
    }

    private static func sendFacts(_ conversation: Conversation, clientMessageID: String?)
        -> (retried: UInt64?, eventCount: Int, state: ConversationState, assignedOperator: OperatorID?) {
        (clientMessageID.flatMap { conversation.clientMessageSequences[$0] }, conversation.events.count, conversation.state,
         conversation.assignedOperator)
    }

    /// The visitor closes the chat: a waiting conversation is abandoned, an active one ends.
    public mutating func onLeave(_ id: ConversationID, now: Instant, into actions: inout [Action]) throws(RouterError) {
        guard let conversation = conversations[id] else { throw .unknownConversation(id) }
        switch conversation.state {
        case .queued:
            setState(id, .abandoned, operator: nil, now: now, &actions)
        case .offered:
            let op = conversation.assignedOperator!
            setState(id, .abandoned, operator: nil, now: now, &actions)
            actions.append(.toOperator(op, .offerWithdrawn(id, reason: "visitor left")))
            actions.append(.home(op, .released(id)))
        case .active:
            finish(id, by: .visitor, now: now, &actions)
            return
        default:
            throw .conversationClosed(id)
        }
    }

    /// The visitor rates a chat that is over (once).
    public mutating func onRate(_ id: ConversationID, rating: Rating, into actions: inout [Action]) throws(RouterError) {
        guard let conversation = conversations[id] else { throw .unknownConversation(id) }
        try Self.checkRating(rating, of: conversation)
        commit(.rated(id, rating), &actions)
    }

    /// Whether `conversation` may take `rating`: it has ended, it is not rated yet, and the
    /// rating is a score of 1 to 5 with a short comment. (Also for chats already archived.)
    public static func checkRating(_ rating: Rating, of conversation: Conversation) throws(RouterError) {
        guard conversation.state == .ended else { throw .invalidMessage("a chat can be rated once it has ended") }
        guard conversation.rating == nil else { throw .invalidMessage("this chat is rated already") }
        guard (1...5).contains(rating.score), rating.comment.utf8.count <= 2048 else {
            throw .invalidMessage("a rating is a score of 1 to 5 and a comment of at most 2 KiB")
        }
    }

    // MARK: operator commands

    /// The operator accepts the offer.
    public mutating func onAccept(_ id: ConversationID, by op: OperatorID, displayName: String, now: Instant,
                                  into actions: inout [Action]) throws(RouterError) {
        guard let conversation = conversations[id] else { throw .unknownConversation(id) }
        guard conversation.state == .offered, conversation.assignedOperator == op else { throw .noSuchOffer(id, op) }
        offerTokens[id] = nil
        setState(id, .active, operator: op, now: now, &actions)
        actions.append(.home(op, .accepted(id)))
        actions.append(.toVisitor(id, .assigned(op, displayName: displayName)))
        _ = appendEvent(id, author: .system, kind: .notice(text: "\(displayName) joined the chat"), clientMessageID: nil, now: now, &actions)
    }

    /// The operator declines the offer: it goes to the next candidate.
    public mutating func onDecline(_ id: ConversationID, by op: OperatorID, now: Instant, into actions: inout [Action]) throws(RouterError) {
        guard let conversation = conversations[id] else { throw .unknownConversation(id) }
        guard conversation.state == .offered, conversation.assignedOperator == op else { throw .noSuchOffer(id, op) }
        withdrawOffer(id, from: op, reason: "declined", now: now, &actions)
    }

    /// The assigned operator ends the chat.
    public mutating func onEnd(_ id: ConversationID, by op: OperatorID, now: Instant, into actions: inout [Action]) throws(RouterError) {
        guard let conversation = conversations[id] else { throw .unknownConversation(id) }
        guard conversation.state == .active else { throw .conversationClosed(id) }
        guard conversation.assignedOperator == op else { throw .notAssigned(id, op) }
        finish(id, by: .operator(op), now: now, &actions)
    }

    /// The assigned operator hands the chat to another operator or back to a department's queue.
    public mutating func onTransfer(_ id: ConversationID, by op: OperatorID, to target: TransferTarget, note: String,
                                    now: Instant, into actions: inout [Action]) throws(RouterError) {
        guard let conversation = conversations[id] else { throw .unknownConversation(id) }
        guard conversation.state == .active else { throw .conversationClosed(id) }
        guard conversation.assignedOperator == op else { throw .notAssigned(id, op) }
        if case .operator(let other) = target, other == op { throw .invalidTransfer("cannot transfer to yourself") }
        _ = appendEvent(id, author: .operator(op), kind: .transfer(to: target, note: note), clientMessageID: nil, now: now, &actions)
        actions.append(.home(op, .released(id)))
        actions.append(.toVisitor(id, .transferred(target)))
        var requirement = conversation.requirement
        if case .department(let skill) = target { requirement = Requirement(skill: skill) }
        // The chat goes back through the queue; the operator who gave it away is not offered it again.
        commit(.declined(id, op), &actions)
        enqueue(id, rank: nil, requirement: requirement, now: now, seek: false, &actions)
        switch target {
        case .operator(let other): actions.append(.reserveOperator(id, other))
        case .department: seek(id, &actions)
        }
    }

    /// The operator's disconnect grace ran out: their chats go back to the queue, at the front.
    public mutating func onOperatorLost(_ id: ConversationID, operator op: OperatorID, now: Instant, into actions: inout [Action]) {
        guard let conversation = conversations[id], conversation.assignedOperator == op,
              conversation.state == .active || conversation.state == .offered else { return }
        offerTokens[id] = nil
        actions.append(.toVisitor(id, .operatorLeft))
        _ = appendEvent(id, author: .system, kind: .notice(text: "the operator was disconnected; finding another"),
                        clientMessageID: nil, now: now, &actions)
        queueSerial += 1
        enqueue(id, rank: .front(serial: queueSerial), now: now, &actions)
    }
}
