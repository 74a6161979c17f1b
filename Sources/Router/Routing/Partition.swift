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
    public private(set) var conversations: [ConversationID: Conversation] = [:]
    /// The waiting conversations.
    public private(set) var queue = WaitingQueue()
    /// The open conversation of each visitor placed here, by site: this partition is the
    /// one place that knows whether a visitor has a chat open.
    public private(set) var openByVisitor: [SiteID: [VisitorID: ConversationID]] = [:]
    private let sites: [SiteID: RoutingSettings]
    private var queueSerial: UInt64 = 0
    private var offerTokens: [ConversationID: UInt64] = [:]
    /// When each conversation that is over closed (the time of its last state change), so
    /// it can leave memory a while later.
    private var closedAt: [ConversationID: Instant] = [:]
    private var seekExcluded: [ConversationID: Set<OperatorID>] = [:]
    private var changedLanes: Set<LaneKey> = []

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

    private func settings(_ site: SiteID) -> RoutingSettings { sites[site] ?? RoutingSettings() }

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
        guard let conversation = conversations[id] else { throw .unknownConversation(id) }
        if let clientMessageID, let sequence = conversation.clientMessageSequences[clientMessageID] { return sequence }
        switch kind {
        case .message(let text):
            guard !text.isEmpty, text.utf8.count <= Self.maxMessageBytes else {
                throw .invalidMessage("a message must have 1 to \(Self.maxMessageBytes) bytes")
            }
        case .attachment: break
        case .notice, .transfer: throw .invalidMessage("only messages and attachments can be sent")
        }
        guard conversation.events.count < Self.maxEvents - 10 else {
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

    // MARK: answers from homes

    /// A home granted a reservation: offer the conversation to that operator.
    public mutating func onGranted(_ id: ConversationID, operator op: OperatorID, profile: OperatorProfile, now: Instant,
                                   into actions: inout [Action]) {
        guard let conversation = conversations[id], conversation.state == .queued else {
            // Too late (taken by a pull, abandoned): give the slot back.
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
            conversations[id]?.events.append(event)
            if let clientMessageID { conversations[id]?.clientMessageSequences[clientMessageID] = event.sequence }
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

    private static func applyChange(_ change: PartitionRecord.StateChange, to conversation: inout Conversation) {
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

    /// The records that rebuild the open conversations from nothing: what a compacted log
    /// starts with.
    public func snapshotRecords() -> [PartitionRecord] {
        conversations.keys.sorted().flatMap { Self.records(rebuilding: conversations[$0]!) }
    }

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

    // MARK: internals

    private mutating func commit(_ record: PartitionRecord, _ actions: inout [Action]) {
        apply(record)
        actions.append(.persist(record))
    }

    private mutating func setState(_ id: ConversationID, _ state: ConversationState, operator op: OperatorID?,
                                   requirement: Requirement? = nil, rank: QueueRank? = nil, queuedAt: Instant? = nil,
                                   now: Instant, _ actions: inout [Action]) {
        let conversation = conversations[id]!
        commit(.state(.init(id: id, state: state, assignedOperator: op, requirement: requirement ?? conversation.requirement,
                            rank: rank, queuedAt: queuedAt ?? conversation.queuedAt, time: now)), &actions)
    }

    /// Puts a conversation in the queue lane its state and wait call for (or takes it out).
    private mutating func place(_ conversation: Conversation, now: Instant) {
        if let (lane, _) = queue.remove(conversation.id) { changedLanes.insert(lane) }
        guard conversation.state == .queued, let rank = conversation.rank else { return }
        let level = settings(conversation.site).minimumLevel(requested: conversation.requirement.minimumLevel,
                                                              waited: now &- conversation.queuedAt)
        let lane = LaneKey(site: conversation.site, skill: conversation.requirement.skill, level: level)
        queue.insert(conversation.id, lane: lane, rank: rank)
        changedLanes.insert(lane)
    }

    /// Queues a conversation: with a new rank (now, its priority) unless one is given.
    private mutating func enqueue(_ id: ConversationID, rank given: QueueRank?, requirement: Requirement? = nil, now: Instant,
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

    private func scheduleEscalation(_ conversation: Conversation, now: Instant, _ actions: inout [Action]) {
        let settings = settings(conversation.site)
        if let at = settings.nextEscalation(requested: conversation.requirement.minimumLevel, queuedAt: conversation.queuedAt, now: now) {
            actions.append(.schedule(.escalate(conversation.id), at: at))
        }
    }

    private func seek(_ id: ConversationID, _ actions: inout [Action]) {
        guard let conversation = conversations[id], let (lane, _) = queue.position(of: id) else { return }
        actions.append(.seekOperator(id, site: conversation.site, skill: lane.skill, level: lane.level,
                                     excluding: conversation.declinedBy.union(seekExcluded[id] ?? [])))
    }

    private mutating func offer(_ conversation: Conversation, to op: OperatorID, profile: OperatorProfile, now: Instant,
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

    private mutating func withdrawOffer(_ id: ConversationID, from op: OperatorID, reason: String, now: Instant, _ actions: inout [Action]) {
        offerTokens[id] = nil
        commit(.declined(id, op), &actions)
        actions.append(.toOperator(op, .offerWithdrawn(id, reason: reason)))
        actions.append(.home(op, .missed(id)))
        // Back in its old place: a declined offer costs the visitor nothing.
        setState(id, .queued, operator: nil, rank: conversations[id]!.rank, now: now, &actions)
        scheduleEscalation(conversations[id]!, now: now, &actions)
        seek(id, &actions)
    }

    private mutating func finish(_ id: ConversationID, by author: Author, now: Instant, _ actions: inout [Action]) {
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

    private mutating func appendEvent(_ id: ConversationID, author: Author, kind: EventKind, clientMessageID: String?,
                                      now: Instant, _ actions: inout [Action]) -> UInt64 {
        // Read the few fields needed, not the whole conversation: a copy held across the
        // append would share its event array and make the append copy it (every event,
        // every time — quadratic in the conversation's length).
        let (sequence, holder, state) = conversations[id].map { ($0.nextSequence, $0.assignedOperator, $0.state) }!
        let event = ConversationEvent(sequence: sequence, time: now, author: author, kind: kind)
        commit(.event(id, event, clientMessageID: clientMessageID), &actions)
        actions.append(.toVisitor(id, .event(event)))
        if let op = holder, state == .active || state == .offered {
            actions.append(.toOperator(op, .event(id, event)))
        }
        return event.sequence
    }
}
