/// Everything a router refuses, with a stable code string sent to clients and documented
/// in docs/routing.md.
///
/// ONLY APPEND TO THIS LIST: the codes are part of the client protocol.
public enum RouterError: Error, Equatable, Sendable {
    /// No conversation with this id on this router.
    case unknownConversation(ConversationID)
    /// The conversation is closed (ended, abandoned, missed) and takes no more commands.
    case conversationClosed(ConversationID)
    /// The operator is not the one assigned to this conversation.
    case notAssigned(ConversationID, OperatorID)
    /// There is no pending offer of this conversation to this operator (expired or taken).
    case noSuchOffer(ConversationID, OperatorID)
    /// The site is not configured on this router.
    case unknownSite(SiteID)
    /// The operator is not configured.
    case unknownOperator(OperatorID)
    /// The site has no such department.
    case unknownDepartment(Skill)
    /// A message is empty or longer than the limit.
    case invalidMessage(String)
    /// The operator tried to transfer a conversation to themselves.
    case invalidTransfer(String)
    /// The router's log failed; it acknowledges nothing more until restarted.
    case storageFailed(String)
    /// The principal's role does not allow this.
    case notPermitted(String)
    /// No such canned response, attachment or visitor.
    case notFound(String)
    /// Another router owns this partition (or the operator's home): send it there.
    case notOwner(partition: Int)

    /// What went wrong, as a sentence a person can read (the console and the widget show it).
    public var message: String {
        switch self {
        case .unknownConversation: "That chat is not known here (it may have ended long ago)."
        case .conversationClosed: "That chat is over; start a new one to write again."
        case .notAssigned: "Only the operator handling this chat can do that."
        case .noSuchOffer: "That offer is no longer open: it expired or went to someone else."
        case .unknownSite(let site): "The shop \(site.raw) is not configured on this router."
        case .unknownOperator(let op): "There is no operator \(op.raw)."
        case .unknownDepartment(let skill): "There is no department \(skill.raw)."
        case .invalidMessage(let why): Self.sentence(why)
        case .invalidTransfer(let why): Self.sentence(why)
        case .storageFailed: "The router could not save this; it stopped accepting changes until it is restarted."
        case .notPermitted(let why): Self.sentence(why)
        case .notFound(let what): Self.sentence(what)
        case .notOwner(let partition): "Another router serves this (partition \(partition)); send it there."
        }
    }

    /// "a message must have …" → "A message must have ….": the details read as sentences too.
    private static func sentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        let capital = first.uppercased() + text.dropFirst()
        return capital.hasSuffix(".") || capital.hasSuffix("?") ? capital : capital + "."
    }

    /// The stable code sent to clients.
    public var code: String {
        switch self {
        case .unknownConversation: "unknown_conversation"
        case .conversationClosed: "conversation_closed"
        case .notAssigned: "not_assigned"
        case .noSuchOffer: "no_such_offer"
        case .unknownSite: "unknown_site"
        case .unknownOperator: "unknown_operator"
        case .unknownDepartment: "unknown_department"
        case .invalidMessage: "invalid_message"
        case .invalidTransfer: "invalid_transfer"
        case .storageFailed: "storage_failed"
        case .notPermitted: "forbidden"
        case .notFound: "not_found"
        case .notOwner: "wrong_router"
        }
    }
}
