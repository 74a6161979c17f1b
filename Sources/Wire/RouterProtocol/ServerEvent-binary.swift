/// The binary form of what the server tells a widget or console, as a router sends it to a
/// gateway (docs/wire.md). The gateway writes it as the client protocol's JSON.
extension ServerEvent {
    /// The tag byte of each case.
    ///
    /// ONLY APPEND TO THIS LIST: the numeric values are part of the protocol.
    enum Tag: UInt8 {
        case welcome = 1, accepted, queued, assigned, event, typing, read, operatorLeft, transferred, ended, offline, missed, offer,
             offerWithdrawn, statusChanged, departments, navigate, invitation, error
    }

    /// Writes the tag and the case's fields in declaration order.
    public func encode(into w: inout ByteWriter) {
        switch self {
        case .welcome(let role, let site, let id, let token):
            w.writeUInt8(Tag.welcome.rawValue)
            w.writeString(role)
            w.writeString(site)
            w.writeString(id)
            w.writeOptionalString(token)
        case .accepted(let requestID, let conversation, let sequence):
            w.writeUInt8(Tag.accepted.rawValue)
            w.writeOptionalString(requestID)
            w.writeOptionalString(conversation)
            w.writeOptional(sequence) { $0.writeSigned($1) }
        case .queued(let conversation, let position, let wait, let time):
            w.writeUInt8(Tag.queued.rawValue)
            w.writeString(conversation)
            w.writeSigned(Int64(position))
            w.writeSigned(Int64(wait))
            w.writeDouble(time)
        case .assigned(let conversation, let operatorID, let name):
            w.writeUInt8(Tag.assigned.rawValue)
            w.writeString(conversation)
            w.writeString(operatorID)
            w.writeString(name)
        case .event(let conversation, let sequence, let time, let author, let kind, let text, let attachment):
            w.writeUInt8(Tag.event.rawValue)
            w.writeString(conversation)
            w.writeSigned(sequence)
            w.writeSigned(time)
            author.encode(into: &w)
            w.writeUInt8(kind.tag)
            w.writeString(text)
            w.writeOptional(attachment) { w, file in
                w.writeString(file.id)
                w.writeString(file.name)
                w.writeString(file.contentType)
                w.writeSigned(Int64(file.size))
            }
        case .typing(let conversation, let author, let typing):
            w.writeUInt8(Tag.typing.rawValue)
            w.writeString(conversation)
            author.encode(into: &w)
            w.writeBool(typing)
        case .read(let conversation, let author, let sequence):
            w.writeUInt8(Tag.read.rawValue)
            w.writeString(conversation)
            author.encode(into: &w)
            w.writeSigned(sequence)
        case .operatorLeft(let c):
            w.writeUInt8(Tag.operatorLeft.rawValue)
            w.writeString(c)
        case .transferred(let conversation, let toOperator, let toDepartment):
            w.writeUInt8(Tag.transferred.rawValue)
            w.writeString(conversation)
            w.writeOptionalString(toOperator)
            w.writeOptionalString(toDepartment)
        case .ended(let c):
            w.writeUInt8(Tag.ended.rawValue)
            w.writeString(c)
        case .offline(let c):
            w.writeUInt8(Tag.offline.rawValue)
            w.writeString(c)
        case .missed(let c):
            w.writeUInt8(Tag.missed.rawValue)
            w.writeString(c)
        case .offer(let conversation, let visitor, let visitorName, let department, let expires, let queuedAt, let time):
            w.writeUInt8(Tag.offer.rawValue)
            w.writeString(conversation)
            w.writeString(visitor)
            w.writeOptionalString(visitorName)
            w.writeString(department)
            w.writeSigned(Int64(expires))
            w.writeDouble(queuedAt)
            w.writeDouble(time)
        case .offerWithdrawn(let conversation, let reason):
            w.writeUInt8(Tag.offerWithdrawn.rawValue)
            w.writeString(conversation)
            w.writeString(reason)
        case .statusChanged(let status, let reason):
            w.writeUInt8(Tag.statusChanged.rawValue)
            w.writeString(status)
            w.writeString(reason)
        case .departments(let departments):
            w.writeUInt8(Tag.departments.rawValue)
            w.writeArray(departments) { w, department in
                w.writeString(department.id)
                w.writeBool(department.online)
            }
        case .navigate(let conversation, let url):
            w.writeUInt8(Tag.navigate.rawValue)
            w.writeString(conversation)
            w.writeString(url)
        case .invitation(let operatorID, let name, let department, let text):
            w.writeUInt8(Tag.invitation.rawValue)
            w.writeString(operatorID)
            w.writeString(name)
            w.writeString(department)
            w.writeString(text)
        case .error(let code, let message, let requestID):
            w.writeUInt8(Tag.error.rawValue)
            w.writeString(code)
            w.writeString(message)
            w.writeOptionalString(requestID)
        }
    }

    /// Reads what `encode` wrote.
    public static func decode(from r: inout ByteReader) throws(WireError) -> ServerEvent {
        guard let tag = Tag(rawValue: try r.readUInt8()) else { throw .invalidField("event tag") }
        switch tag {
        case .welcome:
            return .welcome(role: try r.readString(), site: try r.readString(), id: try r.readString(), token: try r.readOptionalString())
        case .accepted:
            return .accepted(requestID: try r.readOptionalString(), conversation: try r.readOptionalString(),
                             sequence: try r.readOptional { (r) throws(WireError) in try r.readSigned() })
        case .queued:
            return .queued(conversation: try r.readString(), position: try readInt(&r), estimatedWaitSeconds: try readInt(&r), time: try r.readDouble())
        case .assigned: return .assigned(conversation: try r.readString(), operatorID: try r.readString(), operatorName: try r.readString())
        case .event:
            let conversation = try r.readString()
            let sequence = try r.readSigned()
            let time = try r.readSigned()
            let author = try Author.decode(from: &r)
            guard let kind = Kind(tag: try r.readUInt8()) else { throw .invalidField("event kind") }
            let text = try r.readString()
            let attachment = try r.readOptional { (r) throws(WireError) in
                Attachment(id: try r.readString(), name: try r.readString(), contentType: try r.readString(), size: try readInt(&r))
            }
            return .event(conversation: conversation, sequence: sequence, time: time, author: author, kind: kind, text: text, attachment: attachment)
        case .typing: return .typing(conversation: try r.readString(), author: try Author.decode(from: &r), typing: try r.readBool())
        case .read: return .read(conversation: try r.readString(), author: try Author.decode(from: &r), sequence: try r.readSigned())
        case .operatorLeft: return .operatorLeft(conversation: try r.readString())
        case .transferred:
            return .transferred(conversation: try r.readString(), toOperator: try r.readOptionalString(), toDepartment: try r.readOptionalString())
        case .ended: return .ended(conversation: try r.readString())
        case .offline: return .offline(conversation: try r.readString())
        case .missed: return .missed(conversation: try r.readString())
        case .offer:
            return .offer(conversation: try r.readString(), visitor: try r.readString(), visitorName: try r.readOptionalString(),
                          department: try r.readString(), expiresInSeconds: try readInt(&r), queuedAt: try r.readDouble(), time: try r.readDouble())
        case .offerWithdrawn: return .offerWithdrawn(conversation: try r.readString(), reason: try r.readString())
        case .statusChanged: return .statusChanged(status: try r.readString(), reason: try r.readString())
        case .departments:
            return .departments(try r.readArray { (r) throws(WireError) in Department(id: try r.readString(), online: try r.readBool()) })
        case .navigate: return .navigate(conversation: try r.readString(), url: try r.readString())
        case .invitation:
            return .invitation(operatorID: try r.readString(), operatorName: try r.readString(), department: try r.readString(), text: try r.readString())
        case .error: return .error(code: try r.readString(), message: try r.readString(), requestID: try r.readOptionalString())
        }
    }

    /// A signed field that must fit in `Int`.
    static func readInt(_ r: inout ByteReader) throws(WireError) -> Int {
        let value = try r.readSigned()
        guard let int = Int(exactly: value) else { throw .invalidField("integer") }
        return int
    }
}

extension ServerEvent.Author {
    func encode(into w: inout ByteWriter) {
        switch self {
        case .visitor: w.writeUInt8(1)
        case .operator(let id, let name):
            w.writeUInt8(2)
            w.writeString(id)
            w.writeOptionalString(name)
        case .system: w.writeUInt8(3)
        }
    }

    static func decode(from r: inout ByteReader) throws(WireError) -> ServerEvent.Author {
        switch try r.readUInt8() {
        case 1: return .visitor
        case 2: return .operator(id: try r.readString(), name: try r.readOptionalString())
        case 3: return .system
        default: throw .invalidField("author")
        }
    }
}

extension ServerEvent.Kind {
    /// ONLY APPEND: 1 message, 2 notice, 3 attachment.
    var tag: UInt8 {
        switch self {
        case .message: 1
        case .notice: 2
        case .attachment: 3
        }
    }

    init?(tag: UInt8) {
        switch tag {
        case 1: self = .message
        case 2: self = .notice
        case 3: self = .attachment
        default: return nil
        }
    }
}
