import Wire

/// The read-only queries: an operator's chats, the queue, the visitors on the site, and for
/// admins the conversations, a transcript, the operators; and the canned responses. The
/// caller has authorised them.
extension RouterService {
    /// The rows `command` asks for, or nil when it is not a listing.
    /// `reading` is the conversation a transcript asks for (looked up by the caller).
    func listing(for command: ClientCommand, principal: Principal, reading: Conversation?) -> RouterReply? {
        let site = SiteID(principal.site)
        // Only the listings look at every conversation (a plain command must not pay for it).
        // Only the partitions served here: the copies of those the table moved away are not this router's to tell.
        var all: [Conversation] {
            node.core.placement.ownedPartitions.flatMap { node.core.partitions[$0].conversations.values }.filter { $0.site == site }
        }
        switch command {
        case .chats:
            let op = principal.operatorID
            let mine = all.filter { $0.assignedOperator == op && ($0.state == .active || $0.state == .offered) }.sorted { $0.id < $1.id }
            return .chats(mine.map(summary))
        case .queue:
            let waiting = all.filter { $0.state == .queued }.sorted { ($0.rank ?? QueueRank.front(serial: 0)) < ($1.rank ?? QueueRank.front(serial: 0)) }
            let now = node.wallClock()
            return .queue(waiting.enumerated().map { index, c in
                QueueEntry(summary: summary(c), position: Int64(index + 1), waitingSeconds: Int64((now &- min(now, c.queuedAt)) / 1_000_000_000))
            })
        case .conversations(let includeClosed):
            return .conversations(all.filter { includeClosed || $0.state.isOpen }.sorted { $0.id < $1.id }.map(summary))
        case .transcript(let raw):
            guard let conversation = reading else {
                return .event(.error(code: "unknown_conversation", message: "There is no conversation \(raw) on this site.", requestID: nil))
            }
            return .transcript(transcript(conversation))
        case .operators:
            let homes = node.core.homes.values.filter { $0.profile.site == site }.sorted { $0.profile.id < $1.profile.id }
            return .operators(homes.map { home in
                OperatorRow(id: Self.localID(home.profile.id), name: home.profile.displayName, status: home.status.rawValue,
                            connected: home.connections > 0, chats: Int64(home.held.count), maxChats: Int64(home.profile.maxChats),
                            skills: Dictionary(uniqueKeysWithValues: home.profile.skills.map { ($0.key.raw, Int64($0.value)) }))
            })
        case .cluster:
            return .cluster(clusterMembers?(site) ?? [])
        case .partitions:
            guard let status = controlStatus?() else {
                return .event(.error(code: "not_supported", message: "This router runs no control plane.", requestID: nil))
            }
            return .partitions(status)
        case .visitors:
            return .visitors(visitorRows(of: site, closed: all.filter { !$0.state.isOpen }))
        case .canned:
            return .canned(node.canned.responses.visible(site: site, operator: principal.id).map {
                CannedEntry(shortcut: $0.shortcut, text: $0.text, scope: $0.owner == nil ? .site : .personal)
            })
        default:
            return nil
        }
    }

    private func visitorRows(of site: SiteID, closed: [Conversation]) -> [VisitorRow] {
        let open = node.core.openConversations(site: site)
        let closedByVisitor = Dictionary(grouping: closed, by: \.visitor)
        return tracker.visitors(of: site, now: node.wallClock()).map { visitor in
            VisitorRow(visitor: visitor.id.raw, online: !visitor.sessions.isEmpty, pages: Int64(visitor.pages.count),
                       page: visitor.pages.last?.url, title: visitor.pages.last?.title, cartValue: visitor.cart?.value,
                       cartItems: visitor.cart.map { Int64($0.items) }, conversation: open[visitor.id]?.raw,
                       previousConversations: (closedByVisitor[visitor.id] ?? []).sorted { $0.queuedAt > $1.queuedAt }.prefix(10).map { c in
                           .init(conversation: c.id.raw, department: c.requirement.skill.raw, state: c.state.rawValue, rating: c.rating.map { Int64($0.score) })
                       },
                       history: visitor.pages.suffix(10).map { page in
                           .init(url: page.url, time: node.wallMilliseconds(page.time), title: page.title)
                       })
        }
    }

    /// A conversation's line in listings.
    func summary(_ c: Conversation) -> ConversationSummary {
        ConversationSummary(conversation: c.id.raw, state: c.state.rawValue, visitor: c.visitor.raw, department: c.requirement.skill.raw,
                            priority: Int64(c.priority), events: Int64(c.events.count), operatorID: c.assignedOperator.map(Self.localID),
                            visitorProfile: c.visitorProfile, rating: c.rating.map { .init(score: Int64($0.score), comment: $0.comment) })
    }

    /// A conversation with every event (the admin's transcript, the e-mailed one).
    func transcript(_ conversation: Conversation) -> Transcript {
        Transcript(summary: summary(conversation), events: conversation.events.map { serverEvent(conversation.id, $0) })
    }
}
