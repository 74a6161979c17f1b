/// Which gateway link hears what: the conversations each link watches, the operators whose
/// consoles it holds, the widgets of each visitor (where invitations go) and the widgets
/// that follow a site's availability. A plain value: the service changes it when commands
/// succeed and links or sessions close; nothing here sends.
struct Subscriptions {
    /// A gateway link, by the identity of its peer.
    typealias Link = ObjectIdentifier

    /// One browser session: a gateway link and the gateway's session id.
    struct Session: Hashable {
        var link: Link
        var id: UInt64
    }

    private(set) var conversationWatchers: [ConversationID: Set<Link>] = [:]
    private(set) var operatorWatchers: [OperatorID: Set<Link>] = [:]
    /// Operator console sessions, and the operator each one is.
    private var operatorSessions: [Session: OperatorID] = [:]
    /// Open widget sessions of each visitor, and the way back.
    private(set) var sessionsOfVisitor: [SiteID: [VisitorID: Set<Session>]] = [:]
    private var visitorOfSession: [Session: (SiteID, VisitorID)] = [:]
    /// Widget sessions that follow their site's departments' availability.
    private(set) var availabilityWatchers: [SiteID: Set<Session>] = [:]

    /// The link hears the conversation's events from now on.
    mutating func watch(_ conversation: ConversationID, on link: Link) {
        conversationWatchers[conversation, default: []].insert(link)
    }

    /// The conversation is over and left memory: nobody will hear of it again.
    mutating func forget(_ conversation: ConversationID) {
        conversationWatchers[conversation] = nil
    }

    /// An operator's console session opened on a link.
    mutating func operatorSessionOpened(_ session: Session, operator op: OperatorID) {
        operatorSessions[session] = op
        operatorWatchers[op, default: []].insert(session.link)
    }

    /// A visitor's widget is known from its first page view, cart or departments request.
    mutating func visitorSessionOpened(_ session: Session, site: SiteID, visitor: VisitorID) {
        sessionsOfVisitor[site, default: [:]][visitor, default: []].insert(session)
        visitorOfSession[session] = (site, visitor)
    }

    /// The widget wants to hear when the site's availability changes.
    mutating func followAvailability(_ session: Session, site: SiteID) {
        availabilityWatchers[site, default: []].insert(session)
    }

    /// What a closed session leaves behind: the operator whose console it was, and the
    /// visitor whose widget it was (the service tells the home and the tracker).
    struct Closed {
        var session: Session
        var op: OperatorID?
        var visitor: (site: SiteID, visitor: VisitorID)?
    }

    /// A session ended (the browser went away).
    mutating func sessionClosed(_ session: Session) -> Closed {
        let op = operatorSessions.removeValue(forKey: session)
        let visitor = visitorOfSession.removeValue(forKey: session)
        if let (site, id) = visitor {
            sessionsOfVisitor[site]?[id]?.remove(session)
            if sessionsOfVisitor[site]?[id]?.isEmpty == true { sessionsOfVisitor[site]?[id] = nil }
            availabilityWatchers[site]?.remove(session)
        }
        return Closed(session: session, op: op, visitor: visitor.map { (site: $0.0, visitor: $0.1) })
    }

    /// A gateway link closed: every session on it closed too.
    mutating func linkClosed(_ link: Link) -> [Closed] {
        let sessions = Set(operatorSessions.keys.filter { $0.link == link }).union(visitorOfSession.keys.filter { $0.link == link })
        let closed = sessions.map { sessionClosed($0) }
        for key in conversationWatchers.keys { conversationWatchers[key]?.remove(link) }
        for key in operatorWatchers.keys { operatorWatchers[key]?.remove(link) }
        for site in availabilityWatchers.keys { availabilityWatchers[site] = availabilityWatchers[site]?.filter { $0.link != link } }
        return closed
    }
}
