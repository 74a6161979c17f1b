/// The JSON a widget or console sends for a command: the inverse of `ClientCommand.parse`,
/// so loadgen's bots and the tests speak the client protocol through the same type the
/// gateway reads (`parse(command.json()) == command` for every command).
extension ClientCommand {
    /// The command as the client protocol's JSON text, keys sorted.
    public func json() -> [UInt8] {
        JSONText.serialize(jsonObject)
    }

    /// The command as a JSON object value.
    public var jsonObject: [String: Any] {
        var o: [String: Any]
        switch self {
        case .hello(let token, let site):
            o = ["type": "hello"]
            o["token"] = token
            o["site"] = site
        case .send(let conversation, let messageID, let text):
            o = ["type": "send", "conversation": conversation, "clientMessageId": messageID, "text": text]
        case .typing(let conversation, let typing): o = ["type": "typing", "conversation": conversation, "typing": typing]
        case .read(let conversation, let sequence): o = ["type": "read", "conversation": conversation, "sequence": sequence]
        case .resume(let conversation, let after): o = ["type": "resume", "conversation": conversation, "after": after]
        case .start(let requestID, let department, let name, let email, let question):
            o = ["type": "start", "requestId": requestID, "department": department]
            o["name"] = name
            o["email"] = email
            o["question"] = question
        case .pageView(let url, let title):
            o = ["type": "page", "url": url]
            o["title"] = title
        case .cart(let value, let items): o = ["type": "cart", "value": value, "items": items]
        case .leave(let conversation): o = ["type": "leave", "conversation": conversation]
        case .rate(let conversation, let score, let comment):
            o = ["type": "rate", "conversation": conversation, "score": score]
            o["comment"] = comment
        case .departments: o = ["type": "departments"]
        case .emailTranscript(let conversation, let email): o = ["type": "emailTranscript", "conversation": conversation, "email": email]
        case .attach(let conversation, let messageID, let name, let contentType, let data):
            o = ["type": "attach", "conversation": conversation, "clientMessageId": messageID, "name": name, "contentType": contentType,
                 "data": Base64.encode(data)]
        case .attachment(let conversation, let id): o = ["type": "attachment", "conversation": conversation, "id": id]
        case .setStatus(let status): o = ["type": "status", "status": status.rawValue]
        case .accept(let conversation): o = ["type": "accept", "conversation": conversation]
        case .decline(let conversation): o = ["type": "decline", "conversation": conversation]
        case .transfer(let conversation, let toOperator, let toDepartment, let note):
            o = ["type": "transfer", "conversation": conversation]
            o["toOperator"] = toOperator
            o["toDepartment"] = toDepartment
            o["note"] = note
        case .end(let conversation): o = ["type": "end", "conversation": conversation]
        case .chats: o = ["type": "chats"]
        case .queue: o = ["type": "queue"]
        case .visitors: o = ["type": "visitors"]
        case .navigate(let conversation, let url): o = ["type": "navigate", "conversation": conversation, "url": url]
        case .invite(let visitor, let department, let text):
            o = ["type": "invite", "visitor": visitor]
            o["department"] = department
            o["text"] = text
        case .canned: o = ["type": "canned"]
        case .saveCanned(let shortcut, let text, let scope): o = ["type": "saveCanned", "shortcut": shortcut, "text": text, "scope": scope.rawValue]
        case .deleteCanned(let shortcut, let scope): o = ["type": "deleteCanned", "shortcut": shortcut, "scope": scope.rawValue]
        case .conversations(let includeClosed): o = ["type": "conversations", "includeClosed": includeClosed]
        case .transcript(let conversation): o = ["type": "transcript", "conversation": conversation]
        case .operators: o = ["type": "operators"]
        case .cluster: o = ["type": "cluster"]
        case .partitions: o = ["type": "partitions"]
        }
        return o
    }
}
