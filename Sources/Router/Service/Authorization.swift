import Wire

/// Who may do what: a pure function of the command, its principal and what the router
/// knows of the conversation the command names. The site always comes from the token; a
/// visitor touches only their own conversations, an operator only their site's, and the
/// listings of the whole site need staff or the admin role.
public enum Authorization {
    /// What the router knows of the conversation a command names.
    public struct ConversationFacts: Sendable, Equatable {
        public var site: SiteID
        public var visitor: VisitorID
        /// The operator holding it now.
        public var assignedOperator: OperatorID?
        /// Operators who wrote in it (an operator may fetch the files of a chat they were in).
        public var participants: Set<OperatorID>
        /// True while it is in the router's memory; false once it was archived (then only
        /// reads and a late rating are possible).
        public var live: Bool

        public init(site: SiteID, visitor: VisitorID, assignedOperator: OperatorID?, participants: Set<OperatorID>, live: Bool) {
            (self.site, self.visitor, self.assignedOperator, self.participants, self.live) = (site, visitor, assignedOperator, participants, live)
        }
    }

    /// The verdict.
    public enum Decision: Equatable, Sendable {
        /// Go ahead.
        case allowed
        /// Drop it without an answer (typing and read receipts for a chat that is not theirs:
        /// there is nobody to tell).
        case ignored
        /// Refuse with this code and sentence; nothing changes.
        case refused(code: String, message: String)
    }

    /// Whether a command may read an archived conversation (the rest need it live).
    public static func acceptsArchived(_ command: ClientCommand) -> Bool {
        switch command {
        case .resume, .attachment, .rate, .transcript, .emailTranscript: true
        default: false
        }
    }

    /// Decides `command` for `principal`. `conversation` describes the conversation the
    /// command names (nil when it names none or the router has no such conversation);
    /// `operatorOnSite` says whether an operator principal is one of the site's operators.
    public static func decide(_ command: ClientCommand, by principal: Principal, conversation: ConversationFacts?,
                              operatorOnSite: Bool) -> Decision {
        let site = SiteID(principal.site)
        let named = command.conversationID ?? ""
        let unknown = Decision.refused(code: "unknown_conversation", message: "There is no conversation \(named) of yours.")
        switch principal.role {
        case .visitor:
            let visitor = VisitorID(principal.id)
            let theirs = conversation.map { $0.site == site && $0.visitor == visitor } ?? false
            switch command {
            case .start, .pageView, .cart, .departments:
                return .allowed
            case .send, .leave, .attach:
                return theirs && conversation?.live == true ? .allowed : unknown
            case .emailTranscript, .resume, .attachment, .rate:
                return theirs ? .allowed : unknown
            case .typing, .read:
                return theirs && conversation?.live == true && conversation?.assignedOperator != nil ? .allowed : .ignored
            case .chats, .queue, .visitors, .conversations, .transcript, .operators, .cluster, .partitions:
                return .refused(code: "forbidden", message: "Visitors cannot see the site's lists.")
            case .hello, .setStatus, .accept, .decline, .transfer, .end, .navigate, .invite, .canned, .saveCanned, .deleteCanned:
                return .refused(code: "not_supported", message: "Visitors cannot do this.")
            }
        case .operator, .admin:
            let op = principal.operatorID
            let isAdmin = principal.role == .admin
            guard operatorOnSite else {
                return .refused(code: "unknown_operator", message: "There is no operator \(principal.id) on this site.")
            }
            let onSite = conversation.map { $0.site == site } ?? false
            let live = onSite && conversation?.live == true
            let holds = live && conversation?.assignedOperator == op
            let notOnSite = Decision.refused(code: "unknown_conversation", message: "There is no conversation \(named) on this site.")
            let notYours = Decision.refused(code: "not_assigned", message: "Conversation \(named) is not yours.")
            switch command {
            case .hello, .setStatus, .departments, .canned, .invite:
                return .allowed
            case .saveCanned(_, _, let scope), .deleteCanned(_, let scope):
                return scope == .personal || isAdmin ? .allowed : .refused(code: "forbidden", message: "Site-wide responses need the admin role.")
            case .accept, .decline, .end, .send, .transfer, .attach:
                return live ? .allowed : notOnSite
            case .resume, .navigate:
                return holds ? .allowed : notYours
            case .typing, .read:
                return holds ? .allowed : .ignored
            case .attachment:
                let involved = conversation.map { $0.assignedOperator == op || $0.participants.contains(op) } ?? false
                return onSite && (isAdmin || involved) ? .allowed : notOnSite
            case .chats, .queue, .visitors:
                return .allowed
            case .conversations, .operators, .cluster, .partitions:
                return isAdmin ? .allowed : .refused(code: "forbidden", message: "This needs the admin role.")
            case .transcript:
                guard isAdmin else { return .refused(code: "forbidden", message: "This needs the admin role.") }
                return onSite ? .allowed : notOnSite
            case .start, .leave, .pageView, .cart, .rate, .emailTranscript:
                return .refused(code: "not_supported", message: "Operators cannot do this.")
            }
        }
    }
}

extension Principal {
    /// The router's operator id for an operator principal: ids are unique per site only,
    /// so the router names operators `<site>/<id>`.
    var operatorID: OperatorID { OperatorID("\(site)/\(id)") }
}
