import Foundation

/// Everything the server sends to a widget or console, as JSON objects with a `type`
/// (docs/client-protocol.md). Conversation events carry their sequence number so a client
/// can resume exactly after the last one it saw.
public enum ServerEvent: Equatable, Sendable {
    /// The connection is authenticated; a new visitor also gets their session token (to
    /// keep, and send in `hello` after a reload).
    case welcome(role: String, site: String, id: String, token: String?)
    /// A command was done (and is durable); `sequence` when it stored an event.
    case accepted(requestID: String?, conversation: String?, sequence: Int64?)
    /// Still waiting: place in line (1 = next) and estimated wait, as of `time` (ms since
    /// 1970, to the microsecond).
    case queued(conversation: String, position: Int, estimatedWaitSeconds: Int, time: Double)
    /// An operator took the chat.
    case assigned(conversation: String, operatorID: String, operatorName: String)
    /// A stored event: a message, a notice or an attachment (then `text` is its file name).
    case event(conversation: String, sequence: Int64, time: Int64, author: Author, kind: Kind, text: String, attachment: Attachment? = nil)
    /// Someone is typing (or stopped).
    case typing(conversation: String, author: Author, typing: Bool)
    /// The other side has read everything up to `sequence`.
    case read(conversation: String, author: Author, sequence: Int64)
    /// The operator dropped out; the chat waits for another.
    case operatorLeft(conversation: String)
    /// The chat is being transferred.
    case transferred(conversation: String, toOperator: String?, toDepartment: String?)
    /// The chat ended.
    case ended(conversation: String)
    /// Nobody was online: the conversation is kept as a message for later.
    case offline(conversation: String)
    /// Nobody took the chat within the site's wait limit.
    case missed(conversation: String)
    /// (Operators) a chat is offered until `expiresInSeconds` from now; the visitor's name
    /// when known; when it joined the queue and when it was offered (ms since 1970, to the
    /// microsecond: the console shows the wait, and loadgen checks the queue's order).
    case offer(conversation: String, visitor: String, visitorName: String?, department: String, expiresInSeconds: Int, queuedAt: Double, time: Double)
    /// (Operators) an offer is gone.
    case offerWithdrawn(conversation: String, reason: String)
    /// (Operators) the status was changed for them.
    case statusChanged(status: String, reason: String)
    /// Each department and whether an operator is online for it now.
    case departments([Department])
    /// The operator suggests a page: the widget asks the visitor before going there.
    case navigate(conversation: String, url: String)
    /// An operator invites this visitor to chat.
    case invitation(operatorID: String, operatorName: String, department: String, text: String)
    /// A command was refused; nothing changed.
    case error(code: String, message: String, requestID: String?)

    /// Who wrote an event.
    public enum Author: Equatable, Sendable {
        case visitor
        case `operator`(id: String, name: String?)
        case system
    }

    /// What a stored event is.
    public enum Kind: String, Sendable {
        case message, notice, attachment
    }

    /// A file in a conversation; the bytes are fetched over HTTP by id.
    public struct Attachment: Equatable, Sendable {
        public var id: String, name: String, contentType: String, size: Int
        public init(id: String, name: String, contentType: String, size: Int) {
            (self.id, self.name, self.contentType, self.size) = (id, name, contentType, size)
        }
    }

    /// A department and whether someone can take a chat in it now.
    public struct Department: Equatable, Sendable {
        public var id: String, online: Bool
        public init(id: String, online: Bool) { (self.id, self.online) = (id, online) }
    }

    /// The JSON text, keys sorted (stable for tests and caches). The two events of every
    /// chat message (the message itself and its acknowledgement) are written straight to
    /// bytes, the same bytes `JSONText.serialize(jsonObject)` makes (a test holds them
    /// equal): building a dictionary of boxed values per message cost more than the rest of
    /// the gateway's work on it.
    public func json() -> [UInt8] {
        switch self {
        case .event(let conversation, let sequence, let time, let author, let kind, let text, let attachment):
            var out = JSONBytes(capacity: 160 + text.utf8.count)
            out.open()
            if let attachment {
                out.key("attachment")
                out.open()
                out.field("contentType", attachment.contentType)
                out.field("id", attachment.id)
                out.field("name", attachment.name)
                out.field("size", Int64(attachment.size))
                out.close()
            }
            out.key("author")
            out.open()
            switch author {
            case .visitor: out.field("kind", "visitor")
            case .system: out.field("kind", "system")
            case .operator(let id, let name):
                out.field("id", id)
                out.field("kind", "operator")
                if let name { out.field("name", name) }
            }
            out.close()
            out.field("conversation", conversation)
            out.field("sequence", sequence)
            out.field("text", text)
            out.field("time", time)
            out.field("type", kind.rawValue)
            out.close()
            return out.bytes
        case .accepted(let requestID, let conversation, let sequence):
            var out = JSONBytes(capacity: 96)
            out.open()
            if let conversation { out.field("conversation", conversation) }
            if let requestID { out.field("requestId", requestID) }
            if let sequence { out.field("sequence", sequence) }
            out.field("type", "accepted")
            out.close()
            return out.bytes
        default:
            return JSONText.serialize(jsonObject)
        }
    }

    /// The event as a JSON object value (to embed in a larger document).
    public var jsonObject: [String: Any] {
        var o: [String: Any]
        switch self {
        case .welcome(let role, let site, let id, let token):
            o = ["type": "welcome", "role": role, "site": site, "id": id]
            o["token"] = token
        case .accepted(let requestID, let conversation, let sequence):
            o = ["type": "accepted"]
            o["requestId"] = requestID
            o["conversation"] = conversation
            o["sequence"] = sequence
        case .queued(let conversation, let position, let wait, let time):
            o = ["type": "queued", "conversation": conversation, "position": position, "estimatedWaitSeconds": wait, "time": time]
        case .assigned(let conversation, let id, let name):
            o = ["type": "assigned", "conversation": conversation, "operator": ["id": id, "name": name]]
        case .event(let conversation, let sequence, let time, let author, let kind, let text, let attachment):
            o = ["type": kind.rawValue, "conversation": conversation, "sequence": sequence, "time": time, "text": text,
                 "author": Self.author(author)]
            o["attachment"] = attachment.map { ["id": $0.id, "name": $0.name, "contentType": $0.contentType, "size": $0.size] as [String: Any] }
        case .typing(let conversation, let author, let typing):
            o = ["type": "typing", "conversation": conversation, "author": Self.author(author), "typing": typing]
        case .read(let conversation, let author, let sequence):
            o = ["type": "read", "conversation": conversation, "author": Self.author(author), "sequence": sequence]
        case .operatorLeft(let conversation):
            o = ["type": "operatorLeft", "conversation": conversation]
        case .transferred(let conversation, let toOperator, let toDepartment):
            o = ["type": "transferred", "conversation": conversation]
            o["toOperator"] = toOperator
            o["toDepartment"] = toDepartment
        case .ended(let conversation):
            o = ["type": "ended", "conversation": conversation]
        case .offline(let conversation):
            o = ["type": "offline", "conversation": conversation]
        case .missed(let conversation):
            o = ["type": "missed", "conversation": conversation]
        case .offer(let conversation, let visitor, let name, let department, let expires, let queuedAt, let time):
            o = ["type": "offer", "conversation": conversation, "visitor": visitor, "department": department, "expiresInSeconds": expires,
                 "queuedAt": queuedAt, "time": time]
            o["visitorName"] = name
        case .offerWithdrawn(let conversation, let reason):
            o = ["type": "offerWithdrawn", "conversation": conversation, "reason": reason]
        case .statusChanged(let status, let reason):
            o = ["type": "statusChanged", "status": status, "reason": reason]
        case .departments(let departments):
            o = ["type": "departments", "items": departments.map { ["id": $0.id, "online": $0.online] as [String: Any] }]
        case .navigate(let conversation, let url):
            o = ["type": "navigate", "conversation": conversation, "url": url]
        case .invitation(let id, let name, let department, let text):
            o = ["type": "invitation", "operator": ["id": id, "name": name], "department": department, "text": text]
        case .error(let code, let message, let requestID):
            o = ["type": "error", "code": code, "message": message]
            o["requestId"] = requestID
        }
        return o
    }

    private static func author(_ author: Author) -> [String: Any] {
        switch author {
        case .visitor: return ["kind": "visitor"]
        case .system: return ["kind": "system"]
        case .operator(let id, let name):
            var o: [String: Any] = ["kind": "operator", "id": id]
            o["name"] = name
            return o
        }
    }
}
