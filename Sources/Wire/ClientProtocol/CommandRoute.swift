/// Where a client's command is served in a cluster: by the router owning one partition
/// (`PartitionKeys`), gathered from every router (the listings), or by any router. The
/// gateway sends a command by it; the router checks it, and answers a command for a
/// partition it does not own with a redirect to the owner.
public enum CommandRoute: Equatable, Sendable {
    case partition(Int)
    /// Every router answers for its partitions; the gateway merges the answers.
    case everyRouter
    /// Any router can answer (the cluster's membership, the control plane's table).
    case anyRouter
}

extension ClientCommand {
    /// The conversation the command names, if it names one.
    public var conversationID: String? {
        switch self {
        case .send(let c, _, _), .typing(let c, _), .read(let c, _), .resume(let c, _), .leave(let c), .rate(let c, _, _),
             .emailTranscript(let c, _), .attach(let c, _, _, _, _), .attachment(let c, _), .accept(let c), .decline(let c),
             .transfer(let c, _, _, _), .end(let c), .navigate(let c, _), .transcript(let c):
            return c
        case .hello, .start, .pageView, .cart, .departments, .setStatus, .chats, .queue, .visitors, .invite, .canned, .saveCanned,
             .deleteCanned, .conversations, .operators, .cluster, .partitions:
            return nil
        }
    }

    /// Where the command is served, for `principal`, over `partitionCount` partitions.
    public func route(for principal: Principal, partitionCount count: Int) -> CommandRoute {
        if let conversation = conversationID { return .partition(PartitionKeys.partition(ofConversation: conversation, count: count)) }
        let visitorPartition = PartitionKeys.partition(ofVisitor: principal.id, site: principal.site, count: count)
        let homePartition = PartitionKeys.homePartition(ofOperator: "\(principal.site)/\(principal.id)", count: count)
        switch self {
        // A visitor's chats and tracking live with them; an operator's connection and status with their home.
        case .start, .pageView, .cart: return .partition(visitorPartition)
        case .departments: return principal.role == .visitor ? .partition(visitorPartition) : .partition(homePartition)
        case .hello, .setStatus: return .partition(homePartition)
        case .invite(let visitor, _, _): return .partition(PartitionKeys.partition(ofVisitor: visitor, site: principal.site, count: count))
        case .canned, .saveCanned, .deleteCanned: return .partition(PartitionKeys.partition(ofSite: principal.site, count: count))
        case .chats, .queue, .visitors, .conversations, .operators: return .everyRouter
        case .cluster, .partitions: return .anyRouter
        case .send, .typing, .read, .resume, .leave, .rate, .emailTranscript, .attach, .attachment, .accept, .decline, .transfer,
             .end, .navigate, .transcript:
            return .anyRouter  // unreachable: these name a conversation
        }
    }
}
