import Wire

/// Running a client's command: look up what the command names, authorise it, then turn it
/// into a `RouterCommand` for the node, a listing, or one of the services beside routing.
extension RouterService {
    /// Answers `command` through `reply` (once, and only after what it changed is durable).
    func handle(_ command: ClientCommand, principal: Principal, session: Subscriptions.Session, reply: @escaping (RouterReply) -> Void) {
        let operatorOnSite = principal.role == .visitor || node.core.profiles[principal.operatorID]?.site == SiteID(principal.site)
        let named = lookUp(command)
        switch Authorization.decide(command, by: principal, conversation: named.facts, operatorOnSite: operatorOnSite) {
        case .ignored:
            return
        case .refused(let code, let message):
            // No request id: the widget treats an unnamed `unknown_conversation` as "that
            // chat is gone" and offers a new one, rather than marking one message unsent.
            return reply(.event(.error(code: code, message: message, requestID: nil)))
        case .allowed:
            break
        }
        if let listing = listing(for: command, principal: principal, reading: named.toRead) {
            return reply(listing)
        }
        run(command, principal: principal, session: session, reading: named.toRead, reply: reply)
    }

    /// The conversation a command names, from memory or (for commands that may read an
    /// archived one) the transcript store, looked up once: what authorisation needs to know
    /// of it, and the conversation itself for a command that only reads it (a replay, a
    /// transcript, a file). Any other command gets no copy: one held while the command
    /// appends an event would make the append copy the whole event list (every message
    /// O(chat length)).
    private func lookUp(_ command: ClientCommand) -> (facts: Authorization.ConversationFacts?, toRead: Conversation?) {
        guard let raw = command.conversationID else { return (nil, nil) }
        let id = ConversationID(raw)
        let reads = switch command {
        case .resume, .attachment, .transcript, .emailTranscript: true
        default: false
        }
        if let facts = node.core.inspect(id, { Self.facts(of: $0, for: command, live: true) }) {
            return (facts, reads ? node.core.conversation(id) : nil)
        }
        guard Authorization.acceptsArchived(command), let archived = stored(id) else { return (nil, nil) }
        return (Self.facts(of: archived, for: command, live: false), reads ? archived : nil)
    }

    private static func facts(of conversation: Conversation, for command: ClientCommand, live: Bool) -> Authorization.ConversationFacts {
        // Only a file download asks who took part; the scan is O(events), so a chat message
        // must not pay for it.
        var participants: Set<OperatorID> = []
        if case .attachment = command {
            for event in conversation.events { if case .operator(let op) = event.author { participants.insert(op) } }
        }
        return Authorization.ConversationFacts(site: conversation.site, visitor: conversation.visitor,
                                               assignedOperator: conversation.assignedOperator, participants: participants, live: live)
    }

    /// A conversation from memory, on its way to the store, or stored.
    func stored(_ id: ConversationID) -> Conversation? {
        do {
            return try node.conversation(id)
        } catch {
            logger.error("the transcript store could not be read", ["conversation": id.raw, "error": "\(error)"])
            return nil
        }
    }

    /// An authorised command that is not a listing.
    /// `reading` is the conversation a read-only command names (see `lookUp`).
    private func run(_ command: ClientCommand, principal: Principal, session: Subscriptions.Session, reading: Conversation?,
                     reply: @escaping (RouterReply) -> Void) {
        let site = SiteID(principal.site)
        let isVisitor = principal.role == .visitor
        let author: Author = isVisitor ? .visitor : .operator(principal.operatorID)
        let op = principal.operatorID
        /// Runs a router command; `accepted` (with its sequence) or the refusal answers it.
        func execute(_ routerCommand: RouterCommand, requestID: String? = nil, then: @escaping (CommandOutcome) -> Void = { _ in }) {
            node.execute(routerCommand) { result in
                switch result {
                case .success(let outcome):
                    then(outcome)
                    reply(.event(.accepted(requestID: requestID, conversation: outcome.conversation?.raw, sequence: outcome.sequence.map { Int64($0) })))
                case .failure(let error):
                    reply(.event(.error(code: error.code, message: error.message, requestID: requestID)))
                }
            }
        }
        let accepted = RouterReply.event(.accepted(requestID: nil, conversation: nil, sequence: nil))
        let id = ConversationID(command.conversationID ?? "")
        switch command {
        case .start(let requestID, let department, let name, let email, let question):
            // The shop's signed identity wins over what the pre-chat form says.
            var profile: [String: String] = [:]
            profile["name"] = name
            profile["email"] = email
            profile.merge(principal.attributes) { _, signed in signed }
            // The answer is released before the chat's first events: the watch is in place
            // before any of them goes out, so the gateway misses none.
            execute(.start(site: site, visitor: VisitorID(principal.id), department: Skill(department), profile: profile,
                           question: question, requestID: requestID), requestID: requestID) { [weak self] outcome in
                if let id = outcome.conversation { self?.subscriptions.watch(id, on: session.link) }
            }
        case .send(_, let messageID, let text):
            metrics.messages += 1
            execute(.send(id, author: author, clientMessageID: messageID, text: text), requestID: messageID)
        case .leave:
            execute(.leave(id))
        case .rate(_, let score, let comment):
            let rating = Rating(score: Int(score), comment: comment ?? "")
            if node.core.conversation(id) != nil { return execute(.rate(id, rating)) }
            // A chat that left memory (a minute after it ended) can still be rated.
            node.rateArchived(id, rating: rating) { result in
                switch result {
                case .success: reply(.event(.accepted(requestID: nil, conversation: id.raw, sequence: nil)))
                case .failure(let error): reply(.event(.error(code: error.code, message: error.message, requestID: nil)))
                }
            }
        case .resume(_, let after):
            guard let conversation = reading else { return }
            resume(conversation, after: after, for: isVisitor ? nil : op, session: session, reply: reply)
        case .typing(_, let typing):
            let who: ServerEvent.Author = isVisitor ? .visitor : .operator(id: principal.id, name: nil)
            let event = ServerEvent.typing(conversation: id.raw, author: who, typing: typing)
            if isVisitor, let holder = node.core.conversation(id)?.assignedOperator { pushOperator(holder, event) } else if !isVisitor { pushConversation(id, sequence: 0, event) }
        case .read(_, let sequence):
            let who: ServerEvent.Author = isVisitor ? .visitor : .operator(id: principal.id, name: nil)
            let event = ServerEvent.read(conversation: id.raw, author: who, sequence: sequence)
            if isVisitor, let holder = node.core.conversation(id)?.assignedOperator { pushOperator(holder, event) } else if !isVisitor { pushConversation(id, sequence: 0, event) }
        case .pageView(let url, let title):
            subscriptions.visitorSessionOpened(session, site: site, visitor: VisitorID(principal.id))
            tracker.pageView(site: site, visitor: VisitorID(principal.id), session: Self.globalSession(session), url: url, title: title, now: node.wallClock())
            reply(accepted)
        case .cart(let value, let items):
            subscriptions.visitorSessionOpened(session, site: site, visitor: VisitorID(principal.id))
            tracker.cart(site: site, visitor: VisitorID(principal.id), session: Self.globalSession(session), value: value, items: Int(items), now: node.wallClock())
            reply(accepted)
        case .departments:
            if isVisitor {
                subscriptions.visitorSessionOpened(session, site: site, visitor: VisitorID(principal.id))
                subscriptions.followAvailability(session, site: site)
            }
            reply(.event(.departments(availability(of: site))))
        case .emailTranscript(_, let email):
            guard let conversation = reading else { return }
            emailTranscript(conversation, to: email, reply: reply)
        case .attach(_, let messageID, let name, let contentType, let data):
            attach(id, author: author, clientMessageID: messageID, name: name, contentType: contentType, data: data, reply: reply)
        case .attachment(_, let attachmentID):
            guard let conversation = reading else { return }
            reply(serveAttachment(attachmentID, of: conversation))
        case .hello:
            subscriptions.operatorSessionOpened(session, operator: op)
            execute(.connect(op)) { [weak self] _ in self?.refreshAvailability(of: site) }
        case .setStatus(let status):
            let value: OperatorStatus = switch status {
            case .online: .online
            case .away: .away
            case .offline: .offline
            }
            execute(.setStatus(op, value)) { [weak self] _ in self?.refreshAvailability(of: site) }
        case .accept:
            // Counted once durable: a refused or failed acceptance is no assignment.
            execute(.accept(id, by: op)) { [weak self] outcome in self?.metrics.recordAssignment(waited: outcome.waited ?? 0) }
        case .decline:
            execute(.decline(id, by: op))
        case .end:
            execute(.end(id, by: op))
        case .transfer(_, let toOperator, let toDepartment, let note):
            let target: TransferTarget = toOperator.map { .operator(Principal(site: principal.site, role: .operator, id: $0).operatorID) }
                ?? .department(Skill(toDepartment ?? ""))
            execute(.transfer(id, by: op, to: target, note: note ?? ""))
        case .navigate(_, let url):
            pushConversation(id, sequence: 0, .navigate(conversation: id.raw, url: url))
            reply(.event(.accepted(requestID: nil, conversation: id.raw, sequence: nil)))
        case .invite(let visitor, let department, let text):
            reply(invite(VisitorID(visitor), on: site, by: op, department: department, text: text))
        case .saveCanned(let shortcut, let text, let scope):
            reply(updateCanned { (responses) throws(RouterError) in
                try responses.save(.init(site: site, owner: scope == .site ? nil : principal.id, shortcut: shortcut, text: text))
            })
        case .deleteCanned(let shortcut, let scope):
            reply(updateCanned { (responses) throws(RouterError) in
                guard responses.delete(site: site, owner: scope == .site ? nil : principal.id, shortcut: shortcut) else {
                    throw .notFound("no canned response /\(shortcut)")
                }
            })
        case .chats, .queue, .visitors, .conversations, .transcript, .operators, .cluster, .partitions, .canned:
            break  // answered by `listing`
        }
    }

    /// The operator's last console went away (their home starts the reconnect grace).
    func disconnect(_ op: OperatorID) {
        node.execute(.disconnect(op)) { [weak self] _ in
            guard let self, let site = self.node.core.profiles[op]?.site else { return }
            self.refreshAvailability(of: site)
        }
    }

    /// Sends the stored events after `after` again: to the visitor's side (which then keeps
    /// watching the conversation), or, for an operator, on the operator's channel, where
    /// their new events arrive anyway.
    private func resume(_ conversation: Conversation, after: Int64, for op: OperatorID?, session: Subscriptions.Session,
                        reply: (RouterReply) -> Void) {
        let id = conversation.id
        // Only a conversation in memory has events to come (an archived one has none, and a
        // watcher entry for it would never be removed).
        if op == nil, node.core.conversation(id) != nil { subscriptions.watch(id, on: session.link) }
        // The answer first: the gateway starts passing the conversation's events to the
        // session when it sees it, and the replay follows on the same link.
        reply(.event(.accepted(requestID: nil, conversation: id.raw, sequence: nil)))
        func deliver(_ event: ServerEvent, sequence: UInt64) {
            if let op {
                send(.operatorUpdate(operatorID: op.raw, event: event), on: session.link)
            } else {
                send(.conversationUpdate(conversationID: id.raw, sequence: sequence, event: event), on: session.link)
            }
        }
        for event in conversation.events where Int64(event.sequence) > after { deliver(serverEvent(id, event), sequence: event.sequence) }
        // Notices that are not stored (who holds the chat, that it is over) may have been
        // sent while the client was away: say where the conversation stands now.
        switch conversation.state {
        case .active:
            if op == nil, let holder = conversation.assignedOperator {
                deliver(.assigned(conversation: id.raw, operatorID: Self.localID(holder), operatorName: node.core.profiles[holder]?.displayName ?? ""),
                        sequence: 0)
            }
        case .ended, .abandoned: deliver(.ended(conversation: id.raw), sequence: 0)
        case .missed: deliver(.missed(conversation: id.raw), sequence: 0)
        case .offline: deliver(.offline(conversation: id.raw), sequence: 0)
        case .queued, .offered: break  // the next queue-position update tells the visitor
        }
    }
}
