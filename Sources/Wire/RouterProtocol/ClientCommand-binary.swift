/// The binary form of a client command, as a gateway sends it to a router inside a
/// `command` message (docs/wire.md). The gateway has parsed and checked the browser's JSON;
/// the router reads only this. An attachment travels as raw bytes, not base64.
extension ClientCommand {
    /// The tag byte of each case.
    ///
    /// ONLY APPEND TO THIS LIST: the numeric values are part of the protocol.
    enum Tag: UInt8 {
        case hello = 1, send, typing, read, resume, start, pageView, cart, leave, rate, departments, emailTranscript, attach,
             attachment, setStatus, accept, decline, transfer, end, chats, queue, visitors, navigate, invite, canned, saveCanned,
             deleteCanned, conversations, transcript, operators, cluster, partitions
    }

    private var tag: Tag {
        switch self {
        case .hello: .hello
        case .send: .send
        case .typing: .typing
        case .read: .read
        case .resume: .resume
        case .start: .start
        case .pageView: .pageView
        case .cart: .cart
        case .leave: .leave
        case .rate: .rate
        case .departments: .departments
        case .emailTranscript: .emailTranscript
        case .attach: .attach
        case .attachment: .attachment
        case .setStatus: .setStatus
        case .accept: .accept
        case .decline: .decline
        case .transfer: .transfer
        case .end: .end
        case .chats: .chats
        case .queue: .queue
        case .visitors: .visitors
        case .navigate: .navigate
        case .invite: .invite
        case .canned: .canned
        case .saveCanned: .saveCanned
        case .deleteCanned: .deleteCanned
        case .conversations: .conversations
        case .transcript: .transcript
        case .operators: .operators
        case .cluster: .cluster
        case .partitions: .partitions
        }
    }

    /// Writes the tag and the case's fields in declaration order.
    public func encode(into w: inout ByteWriter) {
        w.writeUInt8(tag.rawValue)
        switch self {
        case .hello(let token, let site):
            w.writeOptionalString(token)
            w.writeOptionalString(site)
        case .send(let conversation, let messageID, let text):
            w.writeString(conversation)
            w.writeString(messageID)
            w.writeString(text)
        case .typing(let conversation, let typing):
            w.writeString(conversation)
            w.writeBool(typing)
        case .read(let conversation, let sequence), .resume(let conversation, let sequence):
            w.writeString(conversation)
            w.writeSigned(sequence)
        case .start(let requestID, let department, let name, let email, let question):
            w.writeString(requestID)
            w.writeString(department)
            w.writeOptionalString(name)
            w.writeOptionalString(email)
            w.writeOptionalString(question)
        case .pageView(let url, let title):
            w.writeString(url)
            w.writeOptionalString(title)
        case .cart(let value, let items):
            w.writeDouble(value)
            w.writeSigned(items)
        case .leave(let c), .accept(let c), .decline(let c), .end(let c), .transcript(let c):
            w.writeString(c)
        case .rate(let conversation, let score, let comment):
            w.writeString(conversation)
            w.writeSigned(score)
            w.writeOptionalString(comment)
        case .emailTranscript(let conversation, let email):
            w.writeString(conversation)
            w.writeString(email)
        case .attach(let conversation, let messageID, let name, let contentType, let data):
            w.writeString(conversation)
            w.writeString(messageID)
            w.writeString(name)
            w.writeString(contentType)
            w.writeBytes(data)
        case .attachment(let conversation, let id):
            w.writeString(conversation)
            w.writeString(id)
        case .setStatus(let status):
            w.writeString(status.rawValue)
        case .transfer(let conversation, let toOperator, let toDepartment, let note):
            w.writeString(conversation)
            w.writeOptionalString(toOperator)
            w.writeOptionalString(toDepartment)
            w.writeOptionalString(note)
        case .navigate(let conversation, let url):
            w.writeString(conversation)
            w.writeString(url)
        case .invite(let visitor, let department, let text):
            w.writeString(visitor)
            w.writeOptionalString(department)
            w.writeOptionalString(text)
        case .saveCanned(let shortcut, let text, let scope):
            w.writeString(shortcut)
            w.writeString(text)
            w.writeString(scope.rawValue)
        case .deleteCanned(let shortcut, let scope):
            w.writeString(shortcut)
            w.writeString(scope.rawValue)
        case .conversations(let includeClosed):
            w.writeBool(includeClosed)
        case .departments, .chats, .queue, .visitors, .canned, .operators, .cluster, .partitions:
            break
        }
    }

    /// Reads what `encode` wrote.
    public static func decode(from r: inout ByteReader) throws(WireError) -> ClientCommand {
        guard let tag = Tag(rawValue: try r.readUInt8()) else { throw .invalidField("command tag") }
        switch tag {
        case .hello: return .hello(token: try r.readOptionalString(), site: try r.readOptionalString())
        case .send: return .send(conversation: try r.readString(), clientMessageID: try r.readString(), text: try r.readString())
        case .typing: return .typing(conversation: try r.readString(), typing: try r.readBool())
        case .read: return .read(conversation: try r.readString(), sequence: try r.readSigned())
        case .resume: return .resume(conversation: try r.readString(), after: try r.readSigned())
        case .start:
            return .start(requestID: try r.readString(), department: try r.readString(), name: try r.readOptionalString(),
                          email: try r.readOptionalString(), question: try r.readOptionalString())
        case .pageView: return .pageView(url: try r.readString(), title: try r.readOptionalString())
        case .cart: return .cart(value: try r.readDouble(), items: try r.readSigned())
        case .leave: return .leave(conversation: try r.readString())
        case .rate: return .rate(conversation: try r.readString(), score: try r.readSigned(), comment: try r.readOptionalString())
        case .departments: return .departments
        case .emailTranscript: return .emailTranscript(conversation: try r.readString(), email: try r.readString())
        case .attach:
            return .attach(conversation: try r.readString(), clientMessageID: try r.readString(), name: try r.readString(),
                           contentType: try r.readString(), data: try r.readBytes())
        case .attachment: return .attachment(conversation: try r.readString(), id: try r.readString())
        case .setStatus: return .setStatus(try Self.choice(&r, "status"))
        case .accept: return .accept(conversation: try r.readString())
        case .decline: return .decline(conversation: try r.readString())
        case .transfer:
            return .transfer(conversation: try r.readString(), toOperator: try r.readOptionalString(), toDepartment: try r.readOptionalString(),
                             note: try r.readOptionalString())
        case .end: return .end(conversation: try r.readString())
        case .chats: return .chats
        case .queue: return .queue
        case .visitors: return .visitors
        case .navigate: return .navigate(conversation: try r.readString(), url: try r.readString())
        case .invite: return .invite(visitor: try r.readString(), department: try r.readOptionalString(), text: try r.readOptionalString())
        case .canned: return .canned
        case .saveCanned: return .saveCanned(shortcut: try r.readString(), text: try r.readString(), scope: try Self.choice(&r, "scope"))
        case .deleteCanned: return .deleteCanned(shortcut: try r.readString(), scope: try Self.choice(&r, "scope"))
        case .conversations: return .conversations(includeClosed: try r.readBool())
        case .transcript: return .transcript(conversation: try r.readString())
        case .operators: return .operators
        case .cluster: return .cluster
        case .partitions: return .partitions
        }
    }

    private static func choice<T: RawRepresentable<String>>(_ r: inout ByteReader, _ field: String) throws(WireError) -> T {
        guard let value = T(rawValue: try r.readString()) else { throw .invalidField(field) }
        return value
    }
}

extension Principal {
    /// Writes site, role, id and the attributes (keys ascending).
    public func encode(into w: inout ByteWriter) {
        w.writeString(site)
        w.writeUInt8(role.rawValue)
        w.writeString(id)
        w.writeStringMap(attributes)
    }

    /// Reads what `encode` wrote; at most 16 attributes.
    public static func decode(from r: inout ByteReader) throws(WireError) -> Principal {
        let site = try r.readString()
        guard let role = Role(rawValue: try r.readUInt8()) else { throw .invalidField("principal role") }
        let id = try r.readString()
        let attributes = try r.readStringMap()
        guard attributes.count <= 16 else { throw .invalidField("principal attributes") }
        return Principal(site: site, role: role, id: id, attributes: attributes)
    }
}
