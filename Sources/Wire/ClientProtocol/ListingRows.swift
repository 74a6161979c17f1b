/// The rows of the read-only answers (an operator's chats, the queue, the visitors on the
/// site, an admin's conversations, operators and transcripts, canned responses): typed
/// values the router fills and the gateway writes as the client protocol's JSON
/// (docs/client-protocol.md, "Listings").

/// A conversation's line in a listing.
public struct ConversationSummary: Equatable, Sendable {
    public var conversation: String, state: String, visitor: String, department: String
    public var priority: Int64, events: Int64
    /// The operator holding it (their id within the site), if any.
    public var operatorID: String?
    /// What the pre-chat form and the shop's signed identity say about the visitor.
    public var visitorProfile: [String: String]
    public var rating: Rating?

    /// A visitor's rating of an ended chat.
    public struct Rating: Equatable, Sendable {
        public var score: Int64, comment: String
        public init(score: Int64, comment: String) { (self.score, self.comment) = (score, comment) }
    }

    public init(conversation: String, state: String, visitor: String, department: String, priority: Int64, events: Int64,
                operatorID: String?, visitorProfile: [String: String], rating: Rating?) {
        (self.conversation, self.state, self.visitor, self.department) = (conversation, state, visitor, department)
        (self.priority, self.events, self.operatorID, self.visitorProfile, self.rating) = (priority, events, operatorID, visitorProfile, rating)
    }

    var jsonObject: [String: Any] {
        var item: [String: Any] = ["conversation": conversation, "state": state, "visitor": visitor, "department": department,
                                   "priority": priority, "events": events]
        item["operator"] = operatorID
        if !visitorProfile.isEmpty { item["visitorProfile"] = visitorProfile }
        item["rating"] = rating.map { ["score": $0.score, "comment": $0.comment] as [String: Any] }
        return item
    }
}

/// A waiting conversation and its place in the site's queue.
public struct QueueEntry: Equatable, Sendable {
    public var summary: ConversationSummary
    /// 1 = next.
    public var position: Int64
    public var waitingSeconds: Int64
    public init(summary: ConversationSummary, position: Int64, waitingSeconds: Int64) {
        (self.summary, self.position, self.waitingSeconds) = (summary, position, waitingSeconds)
    }
}

/// A visitor on the site now (or a moment ago), for the console's visitor list.
public struct VisitorRow: Equatable, Sendable {
    public var visitor: String
    /// True while a widget of theirs is open.
    public var online: Bool
    public var pages: Int64
    /// The page they are on and its title.
    public var page: String?, title: String?
    public var cartValue: Double?, cartItems: Int64?
    /// Their open conversation.
    public var conversation: String?
    /// Their last chats that are over, newest first (at most 10).
    public var previousConversations: [PreviousChat]
    /// Their last pages (at most 10), oldest first.
    public var history: [PageVisit]

    /// A chat of theirs that is over.
    public struct PreviousChat: Equatable, Sendable {
        public var conversation: String, department: String, state: String, rating: Int64?
        public init(conversation: String, department: String, state: String, rating: Int64?) {
            (self.conversation, self.department, self.state, self.rating) = (conversation, department, state, rating)
        }
    }

    /// A page they opened, when (ms since 1970).
    public struct PageVisit: Equatable, Sendable {
        public var url: String, time: Int64, title: String?
        public init(url: String, time: Int64, title: String?) { (self.url, self.time, self.title) = (url, time, title) }
    }

    public init(visitor: String, online: Bool, pages: Int64, page: String?, title: String?, cartValue: Double?, cartItems: Int64?,
                conversation: String?, previousConversations: [PreviousChat], history: [PageVisit]) {
        (self.visitor, self.online, self.pages, self.page, self.title) = (visitor, online, pages, page, title)
        (self.cartValue, self.cartItems, self.conversation) = (cartValue, cartItems, conversation)
        (self.previousConversations, self.history) = (previousConversations, history)
    }

    var jsonObject: [String: Any] {
        var item: [String: Any] = ["visitor": visitor, "online": online, "pages": pages]
        item["page"] = page
        item["title"] = title
        item["cartValue"] = cartValue
        item["cartItems"] = cartItems
        item["conversation"] = conversation
        item["previousConversations"] = previousConversations.map { chat -> [String: Any] in
            var entry: [String: Any] = ["conversation": chat.conversation, "department": chat.department, "state": chat.state]
            entry["rating"] = chat.rating
            return entry
        }
        item["history"] = history.map { page -> [String: Any] in
            var entry: [String: Any] = ["url": page.url, "time": page.time]
            entry["title"] = page.title
            return entry
        }
        return item
    }
}

/// An operator of the site and their state, for the admin page.
public struct OperatorRow: Equatable, Sendable {
    public var id: String, name: String, status: String
    /// True while a console of theirs is connected.
    public var connected: Bool
    public var chats: Int64, maxChats: Int64
    /// Skill levels by department.
    public var skills: [String: Int64]
    public init(id: String, name: String, status: String, connected: Bool, chats: Int64, maxChats: Int64, skills: [String: Int64]) {
        (self.id, self.name, self.status, self.connected, self.chats, self.maxChats, self.skills) = (id, name, status, connected, chats, maxChats, skills)
    }

    var jsonObject: [String: Any] {
        ["id": id, "name": name, "status": status, "connected": connected, "chats": chats, "maxChats": maxChats, "skills": skills]
    }
}

/// A router of the cluster as the answering router sees it: the admin page's member list.
public struct ClusterMemberRow: Equatable, Sendable {
    /// The router's configured name, its boot counter, and its gossip address.
    public var node: String, generation: Int64, address: String
    /// alive, suspect, dead or left; "alone" for a router that takes part in no cluster.
    public var state: String
    public var incarnation: Int64
    /// The asking site's operators homed on that router and online, as its gossip says (exact for the answering router).
    public var operatorsOnline: Int64
    /// True for the router that answered.
    public var isSelf: Bool

    public init(node: String, generation: Int64, address: String, state: String, incarnation: Int64, operatorsOnline: Int64, isSelf: Bool) {
        (self.node, self.generation, self.address, self.state) = (node, generation, address, state)
        (self.incarnation, self.operatorsOnline, self.isSelf) = (incarnation, operatorsOnline, isSelf)
    }

    var jsonObject: [String: Any] {
        ["node": node, "generation": generation, "address": address, "state": state, "incarnation": incarnation,
         "operatorsOnline": operatorsOnline, "self": isSelf]
    }
}

/// The control plane as the answering router sees it: its Raft state and the committed
/// partition table (the admin page's "Partitions").
public struct ControlStatus: Equatable, Sendable {
    public var leader: String, role: String
    public var term: Int64, commitIndex: Int64, appliedIndex: Int64, tableVersion: Int64
    public var voters: [String], observers: [String]
    public var partitions: [PartitionRow]

    public init(leader: String, role: String, term: Int64, commitIndex: Int64, appliedIndex: Int64, tableVersion: Int64,
                voters: [String], observers: [String], partitions: [PartitionRow]) {
        (self.leader, self.role, self.term, self.commitIndex, self.appliedIndex) = (leader, role, term, commitIndex, appliedIndex)
        (self.tableVersion, self.voters, self.observers, self.partitions) = (tableVersion, voters, observers, partitions)
    }

    var jsonObject: [String: Any] {
        ["leader": leader, "role": role, "term": term, "commitIndex": commitIndex, "appliedIndex": appliedIndex, "tableVersion": tableVersion,
         "voters": voters, "observers": observers, "items": partitions.map(\.jsonObject)]
    }
}

/// One partition's entry in the committed table.
public struct PartitionRow: Equatable, Sendable {
    public var partition: Int64, owner: String, epoch: Int64
    public var inSync: [String]
    public init(partition: Int64, owner: String, epoch: Int64, inSync: [String]) {
        (self.partition, self.owner, self.epoch, self.inSync) = (partition, owner, epoch, inSync)
    }

    var jsonObject: [String: Any] { ["partition": partition, "owner": owner, "epoch": epoch, "inSync": inSync] }
}

/// A canned response an operator may use.
public struct CannedEntry: Equatable, Sendable {
    public var shortcut: String, text: String
    /// Whose it is.
    public var scope: ClientCommand.CannedScope
    public init(shortcut: String, text: String, scope: ClientCommand.CannedScope) { (self.shortcut, self.text, self.scope) = (shortcut, text, scope) }
}

/// A conversation with all its events: the admin's transcript, the e-mailed one.
public struct Transcript: Equatable, Sendable {
    public var summary: ConversationSummary
    /// Its stored events (each a `ServerEvent.event`), in sequence order.
    public var events: [ServerEvent]
    public init(summary: ConversationSummary, events: [ServerEvent]) { (self.summary, self.events) = (summary, events) }
}

/// An attachment's bytes (answered over HTTP, never on a socket).
public struct AttachmentContent: Equatable, Sendable {
    public var name: String, contentType: String, data: [UInt8]
    public init(name: String, contentType: String, data: [UInt8]) { (self.name, self.contentType, self.data) = (name, contentType, data) }
}
