/// Reading the server's JSON back into a `ServerEvent`: the inverse of `jsonObject`, for
/// clients written in Swift (loadgen's bots, the tests), so they speak the protocol through
/// the type the server writes it with.
extension ServerEvent {
    /// The event in `bytes`, or nil if it is not one the server sends.
    public static func parse(_ bytes: [UInt8]) -> ServerEvent? {
        guard case .object(let object) = JSONParser.parseValue(bytes) else { return nil }
        return ServerEvent(json: object)
    }

    /// The event a JSON object describes, or nil.
    public init?(json o: [String: JSONValue]) {
        func string(_ key: String) -> String? { o[key]?.string }
        func int(_ key: String) -> Int64? { o[key]?.int.map(Int64.init) }
        func double(_ key: String) -> Double? { o[key]?.double }
        guard let type = string("type") else { return nil }
        let conversation = string("conversation")
        switch type {
        case "welcome":
            guard let role = string("role"), let site = string("site"), let id = string("id") else { return nil }
            self = .welcome(role: role, site: site, id: id, token: string("token"))
        case "accepted": self = .accepted(requestID: string("requestId"), conversation: conversation, sequence: int("sequence"))
        case "queued":
            guard let conversation, let position = int("position"), let wait = int("estimatedWaitSeconds"), let time = double("time") else { return nil }
            self = .queued(conversation: conversation, position: Int(position), estimatedWaitSeconds: Int(wait), time: time)
        case "assigned":
            guard let conversation, let op = o["operator"]?.object, let id = op["id"]?.string, let name = op["name"]?.string else { return nil }
            self = .assigned(conversation: conversation, operatorID: id, operatorName: name)
        case "message", "notice", "attachment":
            guard let conversation, let kind = Kind(rawValue: type), let sequence = int("sequence"), let time = int("time"), let text = string("text"),
                  let author = Self.author(o["author"]) else { return nil }
            let attachment = (o["attachment"]?.object).flatMap { a -> Attachment? in
                guard let id = a["id"]?.string, let name = a["name"]?.string, let type = a["contentType"]?.string, let size = a["size"]?.int else { return nil }
                return Attachment(id: id, name: name, contentType: type, size: size)
            }
            self = .event(conversation: conversation, sequence: sequence, time: time, author: author, kind: kind, text: text, attachment: attachment)
        case "typing":
            guard let conversation, let author = Self.author(o["author"]), let typing = o["typing"]?.bool else { return nil }
            self = .typing(conversation: conversation, author: author, typing: typing)
        case "read":
            guard let conversation, let author = Self.author(o["author"]), let sequence = int("sequence") else { return nil }
            self = .read(conversation: conversation, author: author, sequence: sequence)
        case "operatorLeft": guard let conversation else { return nil }; self = .operatorLeft(conversation: conversation)
        case "transferred":
            guard let conversation else { return nil }
            self = .transferred(conversation: conversation, toOperator: string("toOperator"), toDepartment: string("toDepartment"))
        case "ended": guard let conversation else { return nil }; self = .ended(conversation: conversation)
        case "offline": guard let conversation else { return nil }; self = .offline(conversation: conversation)
        case "missed": guard let conversation else { return nil }; self = .missed(conversation: conversation)
        case "offer":
            guard let conversation, let visitor = string("visitor"), let department = string("department"), let expires = int("expiresInSeconds"),
                  let queuedAt = double("queuedAt"), let time = double("time") else { return nil }
            self = .offer(conversation: conversation, visitor: visitor, visitorName: string("visitorName"), department: department,
                          expiresInSeconds: Int(expires), queuedAt: queuedAt, time: time)
        case "offerWithdrawn":
            guard let conversation, let reason = string("reason") else { return nil }
            self = .offerWithdrawn(conversation: conversation, reason: reason)
        case "statusChanged":
            guard let status = string("status"), let reason = string("reason") else { return nil }
            self = .statusChanged(status: status, reason: reason)
        case "departments":
            guard let items = o["items"]?.array?.compactMap(\.object) else { return nil }
            let departments = items.compactMap { item -> Department? in
                guard let id = item["id"]?.string, let online = item["online"]?.bool else { return nil }
                return Department(id: id, online: online)
            }
            guard departments.count == o["items"]?.array?.count else { return nil }
            self = .departments(departments)
        case "navigate":
            guard let conversation, let url = string("url") else { return nil }
            self = .navigate(conversation: conversation, url: url)
        case "invitation":
            guard let op = o["operator"]?.object, let id = op["id"]?.string, let name = op["name"]?.string,
                  let department = string("department"), let text = string("text") else { return nil }
            self = .invitation(operatorID: id, operatorName: name, department: department, text: text)
        case "error":
            guard let code = string("code"), let message = string("message") else { return nil }
            self = .error(code: code, message: message, requestID: string("requestId"))
        default:
            return nil
        }
    }

    private static func author(_ value: JSONValue?) -> Author? {
        guard let o = value?.object else { return nil }
        switch o["kind"]?.string {
        case "visitor": return .visitor
        case "system": return .system
        case "operator": return (o["id"]?.string).map { .operator(id: $0, name: o["name"]?.string) }
        default: return nil
        }
    }
}
