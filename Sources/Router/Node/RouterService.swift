import Foundation
import Wire

extension Principal {
    /// The router's operator id for an operator principal: ids are unique per site only,
    /// so the router names operators `<site>/<id>`.
    var operatorID: OperatorID { OperatorID("\(site)/\(id)") }
}

/// What a router counts for /metrics.
public struct RouterMetrics: Sendable {
    /// Upper bounds (seconds) of the wait-time histogram's buckets.
    public static let waitBuckets: [Double] = [1, 5, 15, 30, 60, 120, 300, 600]
    /// Client commands received.
    public var commands = 0
    /// Chat messages sent (visitors and operators).
    public var messages = 0
    /// Offers accepted.
    public var assignments = 0
    /// Refusals by error code.
    public var errors: [String: Int] = [:]
    /// Queue wait at acceptance: cumulative counts per bucket, then the sum in seconds.
    public var waitCounts = [Int](repeating: 0, count: waitBuckets.count)
    public var waitSum = 0.0

    mutating func recordAssignment(waited: UInt64) {
        assignments += 1
        let seconds = Double(waited) / 1e9
        waitSum += seconds
        for (index, bound) in Self.waitBuckets.enumerated() where seconds <= bound { waitCounts[index] += 1 }
    }
}

/// Serves gateways over Wire: runs their clients' commands on a `RouterNode`, answers each
/// `clientCommand` with a `reply` once it is durable, and pushes conversation events to the
/// gateways watching a conversation and operator events to those holding the operator's
/// sessions. Every command is checked against its principal: the site comes from the token,
/// a visitor may touch only their own conversation, an operator only their site's.
///
/// Loop-confined: it runs on the node's loop.
public final class RouterService: RouterNodeDelegate {
    /// The node the commands run on.
    public let node: RouterNode
    private var server: WireServer?
    var peers: [ObjectIdentifier: WirePeer] = [:]
    private var conversationWatchers: [ConversationID: Set<ObjectIdentifier>] = [:]
    private var operatorWatchers: [OperatorID: Set<ObjectIdentifier>] = [:]
    /// Operator console sessions, by gateway and session id.
    private var operatorSessions: [ObjectIdentifier: [UInt64: OperatorID]] = [:]
    /// Counters for /metrics.
    public private(set) var metrics = RouterMetrics()
    /// Who is on each site now (live only).
    private var tracker = VisitorTracker()
    /// Open widget sessions of each visitor (where invitations go), and the way back (to
    /// mark visitors gone when their sessions close).
    var sessionsOfVisitor: [SiteID: [VisitorID: Set<SessionRef>]] = [:]
    private var visitorOfSession: [SessionRef: (SiteID, VisitorID)] = [:]
    /// Widget sessions that follow their site's departments' availability.
    var availabilityWatchers: [SiteID: Set<SessionRef>] = [:]
    /// The availability each site's watchers were last told.
    var publishedAvailability: [SiteID: [ServerEvent.Department]] = [:]
    /// Wall-clock milliseconds minus monotonic milliseconds, for event times clients can show.
    let wallClockOffsetMs: Int64
    /// The last stored event written as JSON (see `storedEventJSON`).
    private var lastEventJSON: (id: ConversationID, sequence: UInt64, body: [UInt8])?

    /// One browser session: a gateway link and the gateway's session id.
    struct SessionRef: Hashable {
        var peer: ObjectIdentifier
        var session: UInt64
    }

    private init(node: RouterNode) {
        self.node = node
        wallClockOffsetMs = Int64(Date().timeIntervalSince1970 * 1000) - Int64(node.loop.now / 1_000_000)
    }

    /// Starts serving on `address`. Call off the loop; `group` must hold only the node's loop.
    public static func start(node: UncheckedBox<RouterNode>, group: EventLoopGroup, address: SocketAddress,
                             configuration: WireConfiguration) throws -> UncheckedBox<RouterService> {
        precondition(group.loops.count == 1 && group.loops[0] === node.value.loop, "the service runs on the node's loop")
        let service = try node.value.loop.submitAndWait {
            let service = RouterService(node: node.value)
            node.value.delegate = service
            return UncheckedBox(service)
        }
        let server = try WireServer(group: group, address: address, configuration: configuration) { peer in
            GatewayLink(service: service.value, peer: peer)
        }
        try node.value.loop.submitAndWait {
            service.value.server = server
            service.value.scheduleAvailabilitySweep()
        }
        return service
    }

    /// The address gateways connect to.
    public var address: SocketAddress? { server?.address }

    /// Stops accepting gateways (open links stay until they close).
    public func close() {
        server?.close()
    }

    // MARK: gateway links

    fileprivate func linkOpened(_ peer: WirePeer) {
        peers[ObjectIdentifier(peer)] = peer
    }

    fileprivate func linkClosed(_ peer: WirePeer) {
        let id = ObjectIdentifier(peer)
        peers[id] = nil
        for key in conversationWatchers.keys { conversationWatchers[key]?.remove(id) }
        for (_, op) in operatorSessions.removeValue(forKey: id) ?? [:] { disconnect(op) }
        for ref in visitorOfSession.keys where ref.peer == id { visitorSessionClosed(ref) }
        for site in availabilityWatchers.keys { availabilityWatchers[site] = availabilityWatchers[site]?.filter { $0.peer != id } }
        for key in operatorWatchers.keys { operatorWatchers[key]?.remove(id) }
    }

    fileprivate func receive(_ message: WireMessage, correlationID: UInt32, from peer: WirePeer) {
        switch message {
        case .clientCommand(let sessionID, _, let body):
            let replyRaw = { [weak peer] (json: [UInt8]) -> Void in
                _ = try? peer?.send(.reply(body: json), correlationID: correlationID)
            }
            let reply = { [weak self] (event: ServerEvent) -> Void in
                if case .error(let code, _, _) = event { self?.metrics.errors[code, default: 0] += 1 }
                replyRaw(event.json())
            }
            metrics.commands += 1
            do {
                let (principal, json) = try Principal.decode(body)
                // Uploads are larger than any socket message; the gateway checked their size.
                let command = try ClientCommand.parse(json, maxBytes: ClientCommand.maxAttachCommandBytes)
                if let listing = try listing(for: command, principal: principal) {
                    replyRaw(listing)
                    return
                }
                run(command, principal: principal, session: sessionID, peer: peer, reply: reply, replyRaw: replyRaw)
            } catch let error as RouterError {
                reply(.error(code: error.code, message: "\(error)", requestID: nil))
            } catch let error as ClientProtocolError {
                reply(.error(code: error.code, message: error.message, requestID: nil))
            } catch {
                reply(.error(code: "bad_envelope", message: "\(error)", requestID: nil))
            }
        case .sessionClosed(let sessionID):
            if let op = operatorSessions[ObjectIdentifier(peer)]?.removeValue(forKey: sessionID) { disconnect(op) }
            let ref = SessionRef(peer: ObjectIdentifier(peer), session: sessionID)
            visitorSessionClosed(ref)
            for site in availabilityWatchers.keys { availabilityWatchers[site]?.remove(ref) }
        default:
            break  // nothing else is meaningful from a gateway; the frame is ignored
        }
    }

    private func disconnect(_ op: OperatorID) {
        node.perform({ (core, now, effects) throws(RouterError) in try core.operatorDisconnected(op, now: now, into: &effects) }) { [weak self] _ in
            self?.refreshAvailability(of: SiteID(op.raw.split(separator: "/").first.map(String.init) ?? ""))
        }
    }

    /// A visitor's widget is known from its first page view, cart or departments request.
    private func visitorSessionOpened(_ ref: SessionRef, site: SiteID, visitor: VisitorID) {
        sessionsOfVisitor[site, default: [:]][visitor, default: []].insert(ref)
        visitorOfSession[ref] = (site, visitor)
    }

    private func visitorSessionClosed(_ ref: SessionRef) {
        guard let (site, visitor) = visitorOfSession.removeValue(forKey: ref) else { return }
        tracker.sessionClosed(Self.globalSession(ref.peer, ref.session), now: node.loop.now)
        sessionsOfVisitor[site]?[visitor]?.remove(ref)
        if sessionsOfVisitor[site]?[visitor]?.isEmpty == true { sessionsOfVisitor[site]?[visitor] = nil }
    }

    // MARK: commands

    private func run(_ command: ClientCommand, principal: Principal, session: UInt64, peer: WirePeer,
                     reply: @escaping (ServerEvent) -> Void, replyRaw: @escaping ([UInt8]) -> Void) {
        let peerID = ObjectIdentifier(peer)
        let site = SiteID(principal.site)
        /// Runs a router command and answers `accepted` (with a sequence) or the refusal.
        /// `requestID` is echoed in the answer (a send's client message id, so the client
        /// knows which of its messages got which sequence number).
        func perform(conversation: ConversationID? = nil, requestID: String? = nil,
                     _ body: @escaping (inout RouterCore, Instant, inout [RouterEffect]) throws(RouterError) -> UInt64?) {
            node.perform(body) { result in
                switch result {
                case .success(let sequence):
                    reply(.accepted(requestID: requestID, conversation: conversation?.raw, sequence: sequence.map { Int64($0) }))
                case .failure(let error):
                    reply(.error(code: error.code, message: "\(error)", requestID: requestID))
                }
            }
        }
        func refuse(_ code: String, _ message: String) { reply(.error(code: code, message: message, requestID: nil)) }

        switch principal.role {
        case .visitor:
            let visitor = VisitorID(principal.id)
            /// The conversation, if it is this visitor's on this site.
            func owned(_ raw: String) -> ConversationID? {
                let id = ConversationID(raw)
                guard let conversation = node.core.conversation(id), conversation.site == site, conversation.visitor == visitor else { return nil }
                return id
            }
            switch command {
            case .start(let requestID, let department, let name, let email, let question):
                // The shop's signed identity wins over what the pre-chat form says.
                var profile: [String: String] = [:]
                profile["name"] = name
                profile["email"] = email
                profile.merge(principal.attributes) { _, signed in signed }
                node.perform({ [weak self] (core, now, effects) throws(RouterError) -> ConversationID in
                    let id = try core.startConversation(site: site, visitor: visitor, department: Skill(department),
                                                        visitorProfile: profile, now: now, into: &effects)
                    // The pre-chat form's question is the visitor's first message (once, even if the start is retried).
                    if let question, !question.isEmpty {
                        _ = try core.visitorSend(id, clientMessageID: "start:\(requestID)", text: question, now: now, into: &effects)
                    }
                    // Watch before any of its events are released, so the gateway misses none.
                    self?.conversationWatchers[id, default: []].insert(peerID)
                    return id
                }) { result in
                    switch result {
                    case .success(let id): reply(.accepted(requestID: requestID, conversation: id.raw, sequence: nil))
                    case .failure(let error): reply(.error(code: error.code, message: "\(error)", requestID: requestID))
                    }
                }
            case .send(let raw, let messageID, let text):
                guard let id = owned(raw) else { return refuse("unknown_conversation", "no conversation \(raw) of yours") }
                metrics.messages += 1
                perform(conversation: id, requestID: messageID) { (core, now, effects) throws(RouterError) in
                    try core.visitorSend(id, clientMessageID: messageID, text: text, now: now, into: &effects)
                }
            case .leave(let raw):
                guard let id = owned(raw) else { return refuse("unknown_conversation", "no conversation \(raw) of yours") }
                perform(conversation: id) { (core, now, effects) throws(RouterError) in
                    try core.visitorLeave(id, now: now, into: &effects)
                    return nil
                }
            case .resume(let raw, let after):
                // A chat that is over may have left memory (archived a minute after it
                // closed): a widget that comes back later still gets the rest of it.
                let id = ConversationID(raw)
                guard let conversation = storedConversation(id), conversation.site == site, conversation.visitor == visitor else {
                    return refuse("unknown_conversation", "no conversation \(raw) of yours")
                }
                resume(conversation, after: after, for: nil, peer: peer, reply: reply)
            case .typing(let raw, let typing):
                guard let id = owned(raw), let op = node.core.conversation(id)?.assignedOperator else { return }
                pushOperator(op, .typing(conversation: id.raw, author: .visitor, typing: typing))
            case .read(let raw, let sequence):
                guard let id = owned(raw), let op = node.core.conversation(id)?.assignedOperator else { return }
                pushOperator(op, .read(conversation: id.raw, author: .visitor, sequence: sequence))
            case .pageView(let url, let title):
                visitorSessionOpened(SessionRef(peer: peerID, session: session), site: site, visitor: visitor)
                tracker.pageView(site: site, visitor: visitor, session: Self.globalSession(peerID, session), url: url, title: title, now: node.loop.now)
                reply(.accepted(requestID: nil, conversation: nil, sequence: nil))
            case .cart(let value, let items):
                visitorSessionOpened(SessionRef(peer: peerID, session: session), site: site, visitor: visitor)
                tracker.cart(site: site, visitor: visitor, session: Self.globalSession(peerID, session), value: value, items: Int(items), now: node.loop.now)
                reply(.accepted(requestID: nil, conversation: nil, sequence: nil))
            case .rate(let raw, let score, let comment):
                let rating = Rating(score: Int(score), comment: comment ?? "")
                if let id = owned(raw) {
                    perform(conversation: id) { (core, now, effects) throws(RouterError) in
                        try core.rate(id, rating: rating, now: now, into: &effects)
                        return nil
                    }
                    return
                }
                // A chat that left memory (a minute after it ended) can still be rated.
                let id = ConversationID(raw)
                guard let stored = storedConversation(id), stored.site == site, stored.visitor == visitor else {
                    return refuse("unknown_conversation", "no conversation \(raw) of yours")
                }
                node.rateArchived(id, rating: rating) { result in
                    switch result {
                    case .success: reply(.accepted(requestID: nil, conversation: raw, sequence: nil))
                    case .failure(let error): reply(.error(code: error.code, message: "\(error)", requestID: nil))
                    }
                }
            case .departments:
                let ref = SessionRef(peer: peerID, session: session)
                visitorSessionOpened(ref, site: site, visitor: visitor)
                availabilityWatchers[site, default: []].insert(ref)
                reply(.departments(availability(of: site)))
            case .emailTranscript(let raw, let email):
                guard let id = owned(raw) else { return refuse("unknown_conversation", "no conversation \(raw) of yours") }
                emailTranscript(id, to: email, reply: reply)
            case .attach(let raw, let messageID, let name, let contentType, let data):
                guard let id = owned(raw) else { return refuse("unknown_conversation", "no conversation \(raw) of yours") }
                attach(id, author: .visitor, clientMessageID: messageID, name: name, contentType: contentType, data: data, reply: reply)
            case .attachment(let raw, let attachmentID):
                let id = ConversationID(raw)
                guard let conversation = storedConversation(id), conversation.site == site, conversation.visitor == visitor else {
                    return refuse("unknown_conversation", "no conversation \(raw) of yours")
                }
                serveAttachment(attachmentID, of: conversation, reply: replyRaw, refuse: reply)
            case .hello, .setStatus, .accept, .decline, .transfer, .end, .chats, .queue, .visitors, .conversations, .transcript, .operators,
                 .navigate, .invite, .canned, .saveCanned, .deleteCanned:
                refuse("not_supported", "this command is not available to visitors on this router")
            }
        case .operator, .admin:
            let op = principal.operatorID
            guard node.core.homes[op]?.profile.site == site else { return refuse("unknown_operator", "no operator \(principal.id) on this site") }
            /// The conversation, if it belongs to this operator's site.
            func onSite(_ raw: String) -> ConversationID? {
                let id = ConversationID(raw)
                return node.core.conversation(id)?.site == site ? id : nil
            }
            switch command {
            case .hello:
                operatorSessions[peerID, default: [:]][session] = op
                operatorWatchers[op, default: []].insert(peerID)
                perform { (core, now, effects) throws(RouterError) in
                    try core.operatorConnected(op, now: now, into: &effects)
                    return nil
                }
                refreshAvailability(of: site)
            case .setStatus(let status):
                let value: OperatorStatus = switch status {
                case .online: .online
                case .away: .away
                case .offline: .offline
                }
                perform { (core, now, effects) throws(RouterError) in
                    try core.setStatus(op, value, now: now, into: &effects)
                    return nil
                }
                refreshAvailability(of: site)
            case .accept(let raw), .decline(let raw), .end(let raw):
                guard let id = onSite(raw) else { return refuse("unknown_conversation", "no conversation \(raw) on this site") }
                perform(conversation: id) { [weak self] (core, now, effects) throws(RouterError) in
                    switch command {
                    case .accept:
                        let waited = now &- min(now, core.conversation(id)?.queuedAt ?? now)
                        try core.accept(id, by: op, now: now, into: &effects)
                        self?.metrics.recordAssignment(waited: waited)
                    case .decline: try core.decline(id, by: op, now: now, into: &effects)
                    default: try core.end(id, by: op, now: now, into: &effects)
                    }
                    return nil
                }
            case .send(let raw, let messageID, let text):
                guard let id = onSite(raw) else { return refuse("unknown_conversation", "no conversation \(raw) on this site") }
                metrics.messages += 1
                perform(conversation: id, requestID: messageID) { (core, now, effects) throws(RouterError) in
                    try core.operatorSend(id, by: op, clientMessageID: messageID, text: text, now: now, into: &effects)
                }
            case .transfer(let raw, let toOperator, let toDepartment, let note):
                guard let id = onSite(raw) else { return refuse("unknown_conversation", "no conversation \(raw) on this site") }
                let target: TransferTarget = toOperator.map { .operator(Principal(site: principal.site, role: .operator, id: $0).operatorID) }
                    ?? .department(Skill(toDepartment ?? ""))
                perform(conversation: id) { (core, now, effects) throws(RouterError) in
                    try core.transfer(id, by: op, to: target, note: note ?? "", now: now, into: &effects)
                    return nil
                }
            case .resume(let raw, let after):
                guard let id = onSite(raw), let conversation = node.core.conversation(id), conversation.assignedOperator == op else {
                    return refuse("not_assigned", "conversation \(raw) is not yours")
                }
                resume(conversation, after: after, for: op, peer: peer, reply: reply)
            case .typing(let raw, let typing):
                guard let id = onSite(raw), node.core.conversation(id)?.assignedOperator == op else { return }
                pushConversation(id, sequence: 0, .typing(conversation: id.raw, author: .operator(id: principal.id, name: nil), typing: typing))
            case .read(let raw, let sequence):
                guard let id = onSite(raw), node.core.conversation(id)?.assignedOperator == op else { return }
                pushConversation(id, sequence: 0, .read(conversation: id.raw, author: .operator(id: principal.id, name: nil), sequence: sequence))
            case .navigate(let raw, let url):
                guard let id = onSite(raw), node.core.conversation(id)?.assignedOperator == op else {
                    return refuse("not_assigned", "conversation \(raw) is not yours")
                }
                pushConversation(id, sequence: 0, .navigate(conversation: id.raw, url: url))
                reply(.accepted(requestID: nil, conversation: id.raw, sequence: nil))
            case .invite(let raw, let department, let text):
                invite(VisitorID(raw), on: site, by: op, department: department, text: text, reply: reply)
            case .attach(let raw, let messageID, let name, let contentType, let data):
                guard let id = onSite(raw) else { return refuse("unknown_conversation", "no conversation \(raw) on this site") }
                attach(id, author: .operator(op), clientMessageID: messageID, name: name, contentType: contentType, data: data, reply: reply)
            case .attachment(let raw, let attachmentID):
                let id = ConversationID(raw)
                guard let conversation = storedConversation(id), conversation.site == site,
                      principal.role == .admin || conversation.involves(op) else {
                    return refuse("unknown_conversation", "no conversation \(raw) of yours on this site")
                }
                serveAttachment(attachmentID, of: conversation, reply: replyRaw, refuse: reply)
            case .canned:
                replyRaw(cannedListing(site: site, operator: principal.id))
            case .saveCanned(let shortcut, let text, let scope):
                guard scope == .personal || principal.role == .admin else { return refuse("forbidden", "site-wide responses need the admin role") }
                updateCanned(reply: reply) { (responses) throws(RouterError) in
                    try responses.save(.init(site: site, owner: scope == .site ? nil : principal.id, shortcut: shortcut, text: text))
                }
            case .deleteCanned(let shortcut, let scope):
                guard scope == .personal || principal.role == .admin else { return refuse("forbidden", "site-wide responses need the admin role") }
                updateCanned(reply: reply) { (responses) throws(RouterError) in
                    guard responses.delete(site: site, owner: scope == .site ? nil : principal.id, shortcut: shortcut) else {
                        throw .notFound("no canned response /\(shortcut)")
                    }
                }
            case .departments:
                reply(.departments(availability(of: site)))
            case .start, .leave, .pageView, .cart, .rate, .chats, .queue, .visitors, .conversations, .transcript, .operators,
                 .emailTranscript:
                refuse("not_supported", "this command is not available to operators on this router")
            }
        }
    }

    /// Sends the stored events after `after` again: to the visitor's side (which then keeps
    /// watching the conversation), or, for an operator, on the operator's channel, where
    /// their new events arrive anyway.
    private func resume(_ conversation: Conversation, after: Int64, for op: OperatorID?, peer: WirePeer, reply: (ServerEvent) -> Void) {
        let id = conversation.id
        // Only a conversation in memory has events to come (an archived one has none, and a
        // watcher entry for it would never be removed).
        if op == nil, node.core.conversation(id) != nil { conversationWatchers[id, default: []].insert(ObjectIdentifier(peer)) }
        // The answer first: the gateway starts passing the conversation's events to the
        // session when it sees it, and the replay follows on the same link.
        reply(.accepted(requestID: nil, conversation: id.raw, sequence: nil))
        func deliver(_ event: ServerEvent, sequence: UInt64) {
            let body = event.json()
            if let op {
                try? peer.send(.operatorEvent(operatorID: op.raw, body: body))
            } else {
                try? peer.send(.conversationEvent(conversationID: id.raw, sequence: sequence, body: body))
            }
        }
        for event in conversation.events where Int64(event.sequence) > after { deliver(serverEvent(id, event), sequence: event.sequence) }
        // Notices that are not stored (who holds the chat, that it is over) may have been
        // sent while the client was away: say where the conversation stands now.
        switch conversation.state {
        case .active:
            if op == nil, let holder = conversation.assignedOperator {
                deliver(.assigned(conversation: id.raw, operatorID: Self.localID(holder), operatorName: node.core.homes[holder]?.profile.displayName ?? ""),
                        sequence: 0)
            }
        case .ended, .abandoned: deliver(.ended(conversation: id.raw), sequence: 0)
        case .missed: deliver(.missed(conversation: id.raw), sequence: 0)
        case .offline: deliver(.offline(conversation: id.raw), sequence: 0)
        case .queued, .offered: break  // the next queue-position update tells the visitor
        }
    }

    // MARK: listings

    /// Answers the read-only queries (an operator's chats, the queue; for admins the
    /// conversations, a transcript, the operators) as JSON, or nil for other commands.
    private func listing(for command: ClientCommand, principal: Principal) throws(RouterError) -> [UInt8]? {
        let site = SiteID(principal.site)
        let isAdmin = principal.role == .admin
        let isStaff = principal.role != .visitor
        func json(_ object: [String: Any]) -> [UInt8] { JSONText.serialize(object) }
        // Only the listings look at every conversation (a plain command must not pay for it).
        var all: [Conversation] { node.core.partitions.flatMap { $0.conversations.values }.filter { $0.site == site } }
        switch command {
        case .chats where isStaff:
            let op = principal.operatorID
            let mine = all.filter { $0.assignedOperator == op && ($0.state == .active || $0.state == .offered) }.sorted { $0.id < $1.id }
            return json(["type": "chats", "items": mine.map(summary)])
        case .queue where isStaff:
            let waiting = all.filter { $0.state == .queued }.sorted { ($0.rank ?? QueueRank.front(serial: 0)) < ($1.rank ?? QueueRank.front(serial: 0)) }
            let now = node.loop.now
            let items = waiting.enumerated().map { index, c -> [String: Any] in
                var item = summary(c)
                item["position"] = index + 1
                item["waitingSeconds"] = Int((now &- min(now, c.queuedAt)) / 1_000_000_000)
                return item
            }
            return json(["type": "queue", "items": items])
        case .conversations(let includeClosed) where isAdmin:
            let chosen = all.filter { includeClosed || $0.state.isOpen }.sorted { $0.id < $1.id }
            return json(["type": "conversations", "items": chosen.map(summary)])
        case .transcript(let raw) where isAdmin:
            let id = ConversationID(raw)
            guard let conversation = storedConversation(id), conversation.site == site else { throw .unknownConversation(id) }
            return json(transcriptObject(conversation))
        case .operators where isAdmin:
            let homes = node.core.homes.values.filter { $0.profile.site == site }.sorted { $0.profile.id < $1.profile.id }
            let items = homes.map { home -> [String: Any] in
                ["id": Self.localID(home.profile.id), "name": home.profile.displayName, "status": home.status.rawValue,
                 "connected": home.connections > 0, "chats": home.held.count, "maxChats": home.profile.maxChats,
                 "skills": Dictionary(uniqueKeysWithValues: home.profile.skills.map { ($0.key.raw, $0.value) })]
            }
            return json(["type": "operators", "items": items])
        case .visitors where isStaff:
            let open = node.core.openByVisitor[site] ?? [:]
            // One pass over the conversations (`all` scans every partition each time it is read).
            let closedByVisitor = Dictionary(grouping: all.filter { !$0.state.isOpen }, by: \.visitor)
            let items = tracker.visitors(of: site, now: node.loop.now).map { visitor -> [String: Any] in
                var item: [String: Any] = ["visitor": visitor.id.raw, "online": !visitor.sessions.isEmpty, "pages": visitor.pages.count]
                item["page"] = visitor.pages.last?.url
                item["title"] = visitor.pages.last?.title
                item["cartValue"] = visitor.cart?.value
                item["cartItems"] = visitor.cart?.items
                item["conversation"] = open[visitor.id]?.raw
                item["previousConversations"] = (closedByVisitor[visitor.id] ?? [])
                    .sorted { $0.queuedAt > $1.queuedAt }.prefix(10).map { c -> [String: Any] in
                        var entry: [String: Any] = ["conversation": c.id.raw, "department": c.requirement.skill.raw, "state": c.state.rawValue]
                        entry["rating"] = c.rating?.score
                        return entry
                    }
                item["history"] = visitor.pages.suffix(10).map { page -> [String: Any] in
                    var entry: [String: Any] = ["url": page.url, "time": Int64(page.time / 1_000_000) + wallClockOffsetMs]
                    entry["title"] = page.title
                    return entry
                }
                return item
            }
            return json(["type": "visitors", "items": items])
        case .chats, .queue, .visitors, .conversations, .transcript, .operators:
            throw .notPermitted(principal.role == .visitor ? "visitors cannot list" : "this needs the admin role")
        default:
            return nil
        }
    }

    /// A conversation's line in listings.
    func summary(_ c: Conversation) -> [String: Any] {
        var item: [String: Any] = ["conversation": c.id.raw, "state": c.state.rawValue, "visitor": c.visitor.raw,
                                   "department": c.requirement.skill.raw, "priority": c.priority, "events": c.events.count]
        item["operator"] = c.assignedOperator.map(Self.localID)
        if !c.visitorProfile.isEmpty { item["visitorProfile"] = c.visitorProfile }
        item["rating"] = c.rating.map { ["score": $0.score, "comment": $0.comment] as [String: Any] }
        return item
    }

    /// A conversation with every event (the admin's transcript, the e-mailed one).
    func transcriptObject(_ conversation: Conversation) -> [String: Any] {
        var object = summary(conversation)
        object["type"] = "transcript"
        object["events"] = conversation.events.map { self.serverEvent(conversation.id, $0).jsonObject }
        return object
    }

    /// A conversation from memory, or from the transcript store once it has been compacted.
    func storedConversation(_ id: ConversationID) -> Conversation? {
        (try? node.conversation(id)) ?? nil
    }

    // MARK: events out

    /// Archived conversations produce no more events: their watcher entries go (they were
    /// the router's memory growing with every chat ever served).
    public func routerNode(_ node: RouterNode, didArchive conversations: [ConversationID]) {
        for id in conversations { conversationWatchers[id] = nil }
    }

    public func routerNode(_ node: RouterNode, deliver notice: VisitorNotice, toVisitorOf conversation: ConversationID) {
        let sequence: UInt64 = if case .event(let stored) = notice { stored.sequence } else { 0 }
        pushConversation(conversation, sequence: sequence, json: json(of: notice, conversation))
    }

    public func routerNode(_ node: RouterNode, deliver notice: OperatorNotice, to op: OperatorID) {
        pushOperator(op, json: json(of: notice))
        if case .statusChanged = notice, let site = node.core.homes[op]?.profile.site { refreshAvailability(of: site) }
    }

    private func json(of notice: VisitorNotice, _ conversation: ConversationID) -> [UInt8] {
        let id = conversation.raw
        let event: ServerEvent
        switch notice {
        case .event(let stored): return storedEventJSON(conversation, stored)
        case .queued(let position, let wait):
            event = .queued(conversation: id, position: position, estimatedWaitSeconds: Int(wait / 1_000_000_000),
                            time: wallMilliseconds(MonotonicClock.now()))
        case .assigned(let op, let name): event = .assigned(conversation: id, operatorID: Self.localID(op), operatorName: name)
        case .transferred(.operator(let op)): event = .transferred(conversation: id, toOperator: Self.localID(op), toDepartment: nil)
        case .transferred(.department(let skill)): event = .transferred(conversation: id, toOperator: nil, toDepartment: skill.raw)
        case .operatorLeft: event = .operatorLeft(conversation: id)
        case .ended: event = .ended(conversation: id)
        case .offline: event = .offline(conversation: id)
        case .missed: event = .missed(conversation: id)
        }
        return event.json()
    }

    private func json(of notice: OperatorNotice) -> [UInt8] {
        let event: ServerEvent
        switch notice {
        case .event(let id, let stored): return storedEventJSON(id, stored)
        case .offer(let id, let visitor, let skill, let expiresAt):
            event = .offer(conversation: id.raw, visitor: visitor.raw, visitorName: node.core.conversation(id)?.visitorProfile["name"],
                           department: skill.raw, expiresInSeconds: Int((expiresAt &- min(expiresAt, node.loop.now)) / 1_000_000_000),
                           queuedAt: wallMilliseconds(node.core.conversation(id)?.queuedAt ?? node.loop.now), time: wallMilliseconds(MonotonicClock.now()))
        case .offerWithdrawn(let id, let reason): event = .offerWithdrawn(conversation: id.raw, reason: reason)
        case .ended(let id): event = .ended(conversation: id.raw)
        case .statusChanged(let status, let reason): event = .statusChanged(status: status.rawValue, reason: reason)
        }
        return event.json()
    }

    func pushConversation(_ id: ConversationID, sequence: UInt64, _ event: ServerEvent) {
        pushConversation(id, sequence: sequence, json: event.json())
    }

    /// Sends JSON to the gateways watching the conversation (made only if there are any).
    private func pushConversation(_ id: ConversationID, sequence: UInt64, json body: @autoclosure () -> [UInt8]) {
        guard let watchers = conversationWatchers[id], !watchers.isEmpty else { return }
        let body = body()
        for peerID in watchers {
            try? peers[peerID]?.send(.conversationEvent(conversationID: id.raw, sequence: sequence, body: body))
        }
    }

    private func pushOperator(_ op: OperatorID, _ event: ServerEvent) {
        pushOperator(op, json: event.json())
    }

    private func pushOperator(_ op: OperatorID, json body: @autoclosure () -> [UInt8]) {
        guard let watchers = operatorWatchers[op], !watchers.isEmpty else { return }
        let body = body()
        for peerID in watchers {
            try? peers[peerID]?.send(.operatorEvent(operatorID: op.raw, body: body))
        }
    }

    /// A stored event's JSON. Each goes to the visitor's side and then to the operator's:
    /// the second asks for the same event, so the last one is kept.
    private func storedEventJSON(_ id: ConversationID, _ stored: ConversationEvent) -> [UInt8] {
        if let last = lastEventJSON, last.id == id, last.sequence == stored.sequence { return last.body }
        let body = serverEvent(id, stored).json()
        lastEventJSON = (id, stored.sequence, body)
        return body
    }

    func serverEvent(_ conversation: ConversationID, _ event: ConversationEvent) -> ServerEvent {
        let author: ServerEvent.Author = switch event.author {
        case .visitor: .visitor
        case .operator(let op): .operator(id: Self.localID(op), name: node.core.homes[op]?.profile.displayName)
        case .system: .system
        }
        let (kind, text, attachment): (ServerEvent.Kind, String, ServerEvent.Attachment?) = switch event.kind {
        case .message(let text): (.message, text, nil)
        case .notice(let text): (.notice, text, nil)
        case .transfer(.operator(let op), let note): (.notice, "transferred to \(Self.localID(op))" + (note.isEmpty ? "" : ": \(note)"), nil)
        case .transfer(.department(let skill), let note): (.notice, "transferred to \(skill.raw)" + (note.isEmpty ? "" : ": \(note)"), nil)
        case .attachment(let file): (.attachment, file.name, .init(id: file.id, name: file.name, contentType: file.contentType, size: file.size))
        }
        return .event(conversation: conversation.raw, sequence: Int64(event.sequence), time: Int64(event.time / 1_000_000) + wallClockOffsetMs,
                      author: author, kind: kind, text: text, attachment: attachment)
    }

    /// A router instant as wall-clock milliseconds since 1970, to the microsecond. Notices
    /// that tell order (offers, queue positions) read the clock afresh rather than the
    /// loop's cached time, so two of them released in one loop turn are still ordered.
    func wallMilliseconds(_ instant: Instant) -> Double {
        (Double(instant) / 1000).rounded() / 1000 + Double(wallClockOffsetMs)
    }

    /// A session id unique across gateways (each gateway numbers its own sessions).
    private static func globalSession(_ peer: ObjectIdentifier, _ session: UInt64) -> UInt64 {
        UInt64(truncatingIfNeeded: peer.hashValue) &* 0x9E37_79B9_7F4A_7C15 ^ session
    }

    /// An operator id as clients know it (without the `<site>/` the router adds).
    static func localID(_ op: OperatorID) -> String {
        op.raw.split(separator: "/", maxSplits: 1).last.map(String.init) ?? op.raw
    }
}

/// One gateway's Wire link into the service.
private final class GatewayLink: WirePeerDelegate {
    private let service: RouterService
    init(service: RouterService, peer: WirePeer) {
        self.service = service
    }
    func peerDidEstablish(_ peer: WirePeer) { service.linkOpened(peer) }
    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        guard let message = try? WireMessage.decode(type: header.type, payload: payload) else {
            peer.close()
            return
        }
        service.receive(message, correlationID: header.correlationID, from: peer)
    }
    func peerWritabilityChanged(_ peer: WirePeer) {}
    func peerDidClose(_ peer: WirePeer, reason: CloseReason) { service.linkClosed(peer) }
}

@available(*, unavailable)
extension RouterService: Sendable {}
