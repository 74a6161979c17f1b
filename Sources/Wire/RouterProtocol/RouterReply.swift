/// A router's answer to one `command` (docs/wire.md): an event for the session (accepted,
/// an error, the departments), or the rows a listing asked for.
public enum RouterReply: Equatable, Sendable {
    /// `accepted`, `error` or `departments`, as the client gets it.
    case event(ServerEvent)
    /// The operator's open chats.
    case chats([ConversationSummary])
    /// The site's waiting conversations in queue order.
    case queue([QueueEntry])
    /// The visitors on the site.
    case visitors([VisitorRow])
    /// An admin's list of the site's conversations.
    case conversations([ConversationSummary])
    /// One conversation with its events.
    case transcript(Transcript)
    /// The site's operators.
    case operators([OperatorRow])
    /// The canned responses the operator may use.
    case canned([CannedEntry])
    /// An attachment's bytes.
    case file(AttachmentContent)
    /// The routers of the cluster.
    case cluster([ClusterMemberRow])
    /// The control plane and its partition table.
    case partitions(ControlStatus)

    /// The error code when the command was refused.
    public var errorCode: String? {
        if case .event(.error(let code, _, _)) = self { return code }
        return nil
    }

    /// The client protocol's JSON for a WebSocket session or a REST answer (a file has
    /// none: the gateway answers it as the file itself).
    public func json() -> [UInt8] {
        switch self {
        case .event(let event): return event.json()
        case .chats(let rows): return JSONText.serialize(["type": "chats", "items": rows.map(\.jsonObject)])
        case .queue(let rows):
            return JSONText.serialize(["type": "queue", "items": rows.map { row -> [String: Any] in
                var item = row.summary.jsonObject
                item["position"] = row.position
                item["waitingSeconds"] = row.waitingSeconds
                return item
            }])
        case .visitors(let rows): return JSONText.serialize(["type": "visitors", "items": rows.map(\.jsonObject)])
        case .conversations(let rows): return JSONText.serialize(["type": "conversations", "items": rows.map(\.jsonObject)])
        case .transcript(let transcript):
            var object = transcript.summary.jsonObject
            object["type"] = "transcript"
            object["events"] = transcript.events.map(\.jsonObject)
            return JSONText.serialize(object)
        case .operators(let rows): return JSONText.serialize(["type": "operators", "items": rows.map(\.jsonObject)])
        case .canned(let rows):
            return JSONText.serialize(["type": "canned", "items": rows.map { ["shortcut": $0.shortcut, "text": $0.text, "scope": $0.scope.rawValue] }])
        case .file(let file):
            return JSONText.serialize(["type": "attachment", "name": file.name, "contentType": file.contentType, "data": Base64.encode(file.data)])
        case .cluster(let rows): return JSONText.serialize(["type": "cluster", "items": rows.map(\.jsonObject)])
        case .partitions(let status):
            var object = status.jsonObject
            object["type"] = "partitions"
            return JSONText.serialize(object)
        }
    }

    /// ONLY APPEND: the numeric values are part of the protocol.
    private enum Tag: UInt8 {
        case event = 1, chats, queue, visitors, conversations, transcript, operators, canned, file, cluster, partitions
    }

    /// Writes the tag and the fields.
    public func encode(into w: inout ByteWriter) {
        switch self {
        case .event(let event):
            w.writeUInt8(Tag.event.rawValue)
            event.encode(into: &w)
        case .chats(let rows):
            w.writeUInt8(Tag.chats.rawValue)
            w.writeArray(rows) { $1.encode(into: &$0) }
        case .queue(let rows):
            w.writeUInt8(Tag.queue.rawValue)
            w.writeArray(rows) { w, row in
                row.summary.encode(into: &w)
                w.writeSigned(row.position)
                w.writeSigned(row.waitingSeconds)
            }
        case .visitors(let rows):
            w.writeUInt8(Tag.visitors.rawValue)
            w.writeArray(rows) { $1.encode(into: &$0) }
        case .conversations(let rows):
            w.writeUInt8(Tag.conversations.rawValue)
            w.writeArray(rows) { $1.encode(into: &$0) }
        case .transcript(let transcript):
            w.writeUInt8(Tag.transcript.rawValue)
            transcript.summary.encode(into: &w)
            w.writeArray(transcript.events) { $1.encode(into: &$0) }
        case .operators(let rows):
            w.writeUInt8(Tag.operators.rawValue)
            w.writeArray(rows) { w, row in
                w.writeString(row.id)
                w.writeString(row.name)
                w.writeString(row.status)
                w.writeBool(row.connected)
                w.writeSigned(row.chats)
                w.writeSigned(row.maxChats)
                w.writeArray(row.skills.sorted { $0.key < $1.key }) { w, skill in
                    w.writeString(skill.key)
                    w.writeSigned(skill.value)
                }
            }
        case .canned(let rows):
            w.writeUInt8(Tag.canned.rawValue)
            w.writeArray(rows) { w, row in
                w.writeString(row.shortcut)
                w.writeString(row.text)
                w.writeString(row.scope.rawValue)
            }
        case .file(let file):
            w.writeUInt8(Tag.file.rawValue)
            w.writeString(file.name)
            w.writeString(file.contentType)
            w.writeBytes(file.data)
        case .cluster(let rows):
            w.writeUInt8(Tag.cluster.rawValue)
            w.writeArray(rows) { w, row in
                w.writeString(row.node)
                w.writeSigned(row.generation)
                w.writeString(row.address)
                w.writeString(row.state)
                w.writeSigned(row.incarnation)
                w.writeSigned(row.operatorsOnline)
                w.writeBool(row.isSelf)
            }
        case .partitions(let status):
            w.writeUInt8(Tag.partitions.rawValue)
            w.writeString(status.leader)
            w.writeString(status.role)
            for value in [status.term, status.commitIndex, status.appliedIndex, status.tableVersion] { w.writeSigned(value) }
            for names in [status.voters, status.observers] { w.writeArray(names) { $0.writeString($1) } }
            w.writeArray(status.partitions) { w, row in
                w.writeSigned(row.partition)
                w.writeString(row.owner)
                w.writeSigned(row.epoch)
                w.writeArray(row.inSync) { $0.writeString($1) }
            }
        }
    }

    /// Reads what `encode` wrote.
    public static func decode(from r: inout ByteReader) throws(WireError) -> RouterReply {
        guard let tag = Tag(rawValue: try r.readUInt8()) else { throw .invalidField("reply tag") }
        switch tag {
        case .event: return .event(try ServerEvent.decode(from: &r))
        case .chats: return .chats(try r.readArray { (r) throws(WireError) in try ConversationSummary.decode(from: &r) })
        case .queue:
            return .queue(try r.readArray { (r) throws(WireError) in
                QueueEntry(summary: try ConversationSummary.decode(from: &r), position: try r.readSigned(), waitingSeconds: try r.readSigned())
            })
        case .visitors: return .visitors(try r.readArray { (r) throws(WireError) in try VisitorRow.decode(from: &r) })
        case .conversations: return .conversations(try r.readArray { (r) throws(WireError) in try ConversationSummary.decode(from: &r) })
        case .transcript:
            let summary = try ConversationSummary.decode(from: &r)
            return .transcript(Transcript(summary: summary, events: try r.readArray { (r) throws(WireError) in try ServerEvent.decode(from: &r) }))
        case .operators:
            return .operators(try r.readArray { (r) throws(WireError) in
                let (id, name, status, connected) = (try r.readString(), try r.readString(), try r.readString(), try r.readBool())
                let (chats, maxChats) = (try r.readSigned(), try r.readSigned())
                var skills: [String: Int64] = [:]
                for (key, level) in try r.readArray({ (r) throws(WireError) in (try r.readString(), try r.readSigned()) }) {
                    guard skills.updateValue(level, forKey: key) == nil else { throw .invalidField("operator skills") }
                }
                return OperatorRow(id: id, name: name, status: status, connected: connected, chats: chats, maxChats: maxChats, skills: skills)
            })
        case .canned:
            return .canned(try r.readArray { (r) throws(WireError) in
                let (shortcut, text) = (try r.readString(), try r.readString())
                guard let scope = ClientCommand.CannedScope(rawValue: try r.readString()) else { throw .invalidField("canned scope") }
                return CannedEntry(shortcut: shortcut, text: text, scope: scope)
            })
        case .file: return .file(AttachmentContent(name: try r.readString(), contentType: try r.readString(), data: try r.readBytes()))
        case .cluster:
            return .cluster(try r.readArray { (r) throws(WireError) in
                ClusterMemberRow(node: try r.readString(), generation: try r.readSigned(), address: try r.readString(), state: try r.readString(),
                                 incarnation: try r.readSigned(), operatorsOnline: try r.readSigned(), isSelf: try r.readBool())
            })
        case .partitions:
            let (leader, role) = (try r.readString(), try r.readString())
            let (term, commit, applied, version) = (try r.readSigned(), try r.readSigned(), try r.readSigned(), try r.readSigned())
            let voters = try r.readArray { (r) throws(WireError) in try r.readString() }
            let observers = try r.readArray { (r) throws(WireError) in try r.readString() }
            let rows = try r.readArray { (r) throws(WireError) in
                PartitionRow(partition: try r.readSigned(), owner: try r.readString(), epoch: try r.readSigned(),
                             inSync: try r.readArray { (r) throws(WireError) in try r.readString() })
            }
            return .partitions(ControlStatus(leader: leader, role: role, term: term, commitIndex: commit, appliedIndex: applied, tableVersion: version,
                                             voters: voters, observers: observers, partitions: rows))
        }
    }
}

extension ConversationSummary {
    func encode(into w: inout ByteWriter) {
        w.writeString(conversation)
        w.writeString(state)
        w.writeString(visitor)
        w.writeString(department)
        w.writeSigned(priority)
        w.writeSigned(events)
        w.writeOptionalString(operatorID)
        w.writeStringMap(visitorProfile)
        w.writeOptional(rating) { w, rating in
            w.writeSigned(rating.score)
            w.writeString(rating.comment)
        }
    }

    static func decode(from r: inout ByteReader) throws(WireError) -> ConversationSummary {
        ConversationSummary(conversation: try r.readString(), state: try r.readString(), visitor: try r.readString(), department: try r.readString(),
                            priority: try r.readSigned(), events: try r.readSigned(), operatorID: try r.readOptionalString(),
                            visitorProfile: try r.readStringMap(),
                            rating: try r.readOptional { (r) throws(WireError) in Rating(score: try r.readSigned(), comment: try r.readString()) })
    }
}

extension VisitorRow {
    func encode(into w: inout ByteWriter) {
        w.writeString(visitor)
        w.writeBool(online)
        w.writeSigned(pages)
        w.writeOptionalString(page)
        w.writeOptionalString(title)
        w.writeOptional(cartValue) { $0.writeDouble($1) }
        w.writeOptional(cartItems) { $0.writeSigned($1) }
        w.writeOptionalString(conversation)
        w.writeArray(previousConversations) { w, chat in
            w.writeString(chat.conversation)
            w.writeString(chat.department)
            w.writeString(chat.state)
            w.writeOptional(chat.rating) { $0.writeSigned($1) }
        }
        w.writeArray(history) { w, page in
            w.writeString(page.url)
            w.writeSigned(page.time)
            w.writeOptionalString(page.title)
        }
    }

    static func decode(from r: inout ByteReader) throws(WireError) -> VisitorRow {
        let (visitor, online, pages) = (try r.readString(), try r.readBool(), try r.readSigned())
        let (page, title) = (try r.readOptionalString(), try r.readOptionalString())
        let cartValue = try r.readOptional { (r) throws(WireError) in try r.readDouble() }
        let cartItems = try r.readOptional { (r) throws(WireError) in try r.readSigned() }
        let conversation = try r.readOptionalString()
        let previous = try r.readArray { (r) throws(WireError) in
            PreviousChat(conversation: try r.readString(), department: try r.readString(), state: try r.readString(),
                         rating: try r.readOptional { (r) throws(WireError) in try r.readSigned() })
        }
        let history = try r.readArray { (r) throws(WireError) in
            PageVisit(url: try r.readString(), time: try r.readSigned(), title: try r.readOptionalString())
        }
        return VisitorRow(visitor: visitor, online: online, pages: pages, page: page, title: title, cartValue: cartValue, cartItems: cartItems,
                          conversation: conversation, previousConversations: previous, history: history)
    }
}
