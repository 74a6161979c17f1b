import Wire

/// A listing gathered from every router (each answers for the partitions and homes it
/// owns) as one answer: rows put together in a stable order, the queue numbered again
/// across routers, and the routers that did not answer named, so the page can say the list
/// is incomplete instead of failing.
enum ListingMerge {
    /// The answers as one; nil when there are none. If every answer is a refusal, the first
    /// refusal (the same one every router gives, authorisation being the same everywhere).
    static func merge(_ replies: [RouterReply]) -> RouterReply? {
        let rows = replies.filter { $0.errorCode == nil }
        // One router (a router alone): its order (priority, who is online first) stands.
        if rows.count == 1 { return rows[0] }
        guard let first = rows.first else { return replies.first }
        switch first {
        case .chats: return .chats(rows.flatMap(chats).sorted { $0.conversation < $1.conversation })
        case .conversations: return .conversations(rows.flatMap(conversations).sorted { $0.conversation < $1.conversation })
        case .operators: return .operators(rows.flatMap(operators).sorted { $0.id < $1.id })
        case .visitors: return .visitors(rows.flatMap(visitors).sorted { $0.visitor < $1.visitor })
        case .queue:
            // Each router numbered its own waiting chats: across the cluster the longest wait comes first.
            let waiting = rows.flatMap(queue).sorted { ($0.waitingSeconds, -$0.position) > ($1.waitingSeconds, -$1.position) }
            return .queue(waiting.enumerated().map { QueueEntry(summary: $1.summary, position: Int64($0 + 1), waitingSeconds: $1.waitingSeconds) })
        default:
            return first
        }
    }

    private static func chats(_ reply: RouterReply) -> [ConversationSummary] {
        guard case .chats(let rows) = reply else { return [] }
        return rows
    }

    private static func conversations(_ reply: RouterReply) -> [ConversationSummary] {
        guard case .conversations(let rows) = reply else { return [] }
        return rows
    }

    private static func operators(_ reply: RouterReply) -> [OperatorRow] {
        guard case .operators(let rows) = reply else { return [] }
        return rows
    }

    private static func visitors(_ reply: RouterReply) -> [VisitorRow] {
        guard case .visitors(let rows) = reply else { return [] }
        return rows
    }

    private static func queue(_ reply: RouterReply) -> [QueueEntry] {
        guard case .queue(let rows) = reply else { return [] }
        return rows
    }

    /// The merged answer's JSON, with `"unavailable": [router, …]` when some did not answer.
    static func json(_ reply: RouterReply, unavailable: [String]) -> [UInt8] {
        let json = reply.json()
        guard !unavailable.isEmpty, var object = JSONParser.parse(json) as? [String: Any] else { return json }
        object["unavailable"] = unavailable.sorted()
        return JSONText.serialize(object)
    }
}
