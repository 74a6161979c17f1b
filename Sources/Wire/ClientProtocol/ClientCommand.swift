/// Everything a visitor's widget or an operator's console may send over its WebSocket, as
/// JSON objects with a `type` (docs/client-protocol.md). Parsing is strict: unknown types
/// and fields, missing fields, wrong types and oversized values are refused with a code.
public enum ClientCommand: Equatable, Sendable {
    // MARK: both
    /// Authenticate the connection with a token (operators, returning visitors), or, for a
    /// new visitor, name the site to get a fresh visitor session token.
    case hello(token: String?, site: String?)
    /// Send a chat message; `clientMessageID` makes retries safe.
    case send(conversation: String, clientMessageID: String, text: String)
    /// Typing started or stopped (never stored).
    case typing(conversation: String, typing: Bool)
    /// Everything up to `sequence` has been read.
    case read(conversation: String, sequence: Int64)
    /// After a reconnect: deliver the events after `after`.
    case resume(conversation: String, after: Int64)

    // MARK: visitor
    /// Start a chat in a department, with the pre-chat form's fields.
    case start(requestID: String, department: String, name: String?, email: String?, question: String?)
    /// The visitor opened a page of the shop.
    case pageView(url: String, title: String?)
    /// The visitor's cart changed.
    case cart(value: Double, items: Int64)
    /// The visitor closes the chat.
    case leave(conversation: String)
    /// Rate an ended chat 1-5, with an optional comment.
    case rate(conversation: String, score: Int64, comment: String?)
    /// The departments and whether someone is online in each; the session then receives
    /// a new `departments` event whenever that changes.
    case departments
    /// Send the conversation's transcript to an e-mail address (after the chat).
    case emailTranscript(conversation: String, email: String)
    /// A file for the conversation (only from the gateway's HTTP upload, never a socket).
    case attach(conversation: String, clientMessageID: String, name: String, contentType: String, data: [UInt8])
    /// The bytes of one attachment (only from the gateway's HTTP download).
    case attachment(conversation: String, id: String)

    // MARK: operator
    /// Choose a status.
    case setStatus(OperatorStatusValue)
    /// Accept an offer.
    case accept(conversation: String)
    /// Decline an offer.
    case decline(conversation: String)
    /// Hand a chat to an operator or a department.
    case transfer(conversation: String, toOperator: String?, toDepartment: String?, note: String?)
    /// End a chat.
    case end(conversation: String)
    /// The operator's open chats.
    case chats
    /// The site's waiting conversations, in queue order.
    case queue
    /// The visitors on the site now, with their page and cart.
    case visitors
    /// Suggest a page of the shop to the visitor of a chat (the widget asks before going).
    case navigate(conversation: String, url: String)
    /// Invite a visitor on the site to chat (proactive invitation).
    case invite(visitor: String, department: String?, text: String?)
    /// The canned responses this operator may use: the site's and their own.
    case canned
    /// Add or replace a canned response (`site` scope needs the admin role).
    case saveCanned(shortcut: String, text: String, scope: CannedScope)
    /// Remove a canned response.
    case deleteCanned(shortcut: String, scope: CannedScope)

    // MARK: admin
    /// The site's conversations (open ones, or all kept in memory).
    case conversations(includeClosed: Bool)
    /// One conversation with all its events (from the transcript store once it is over).
    case transcript(conversation: String)
    /// The site's operators and their state.
    case operators
    /// The routers of the cluster as the answering router sees them (admin).
    case cluster
    /// The control plane's partition table and state (admin).
    case partitions

    /// Whose a canned response is: the whole site's or one operator's.
    public enum CannedScope: String, Sendable {
        case site, personal
    }

    /// Operator statuses as the client protocol spells them.
    public enum OperatorStatusValue: String, Sendable {
        case online, away, offline
    }

    /// Largest accepted client message in bytes (a chat message of 8 KiB plus its envelope).
    public static let maxMessageBytes = 16 * 1024
    /// Largest attachment in bytes (before base64).
    public static let maxAttachmentBytes = 512 * 1024
    /// Largest `attach` command (the attachment in base64 plus its envelope).
    public static let maxAttachCommandBytes = maxAttachmentBytes * 4 / 3 + 4096
    /// The attachment types accepted (images show inline; the rest download).
    public static let attachmentTypes: Set<String> = ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"]
    /// Longest canned response shortcut and text.
    public static let maxShortcutLength = 32, maxCannedTextLength = 4096

    /// Parses one client message; `maxBytes` is larger only for the gateway's upload path.
    public static func parse(_ bytes: [UInt8], maxBytes: Int = maxMessageBytes) throws(ClientProtocolError) -> ClientCommand {
        var f = try JSONFields(bytes, maxBytes: maxBytes)
        let command: ClientCommand
        switch try f.type() {
        case "hello":
            let token = try f.optionalString("token", maxLength: 4096)
            let site = try f.optionalString("site", maxLength: 64)
            guard (token == nil) != (site == nil) else {
                throw ClientProtocolError(code: "invalid_field", message: "give exactly one of 'token' and 'site'")
            }
            command = .hello(token: token, site: site)
        case "send":
            command = .send(conversation: try f.string("conversation"), clientMessageID: try f.string("clientMessageId", maxLength: 64),
                            text: try f.nonEmptyString("text", maxLength: 8 * 1024))
        case "typing": command = .typing(conversation: try f.string("conversation"), typing: try f.bool("typing"))
        case "read": command = .read(conversation: try f.string("conversation"), sequence: try f.integer("sequence", range: 0...Int64.max))
        case "resume": command = .resume(conversation: try f.string("conversation"), after: try f.integer("after", range: 0...Int64.max))
        case "start":
            command = .start(requestID: try f.string("requestId", maxLength: 64), department: try f.string("department", maxLength: 64),
                             name: try f.optionalString("name", maxLength: 128), email: try f.optionalString("email", maxLength: 256),
                             question: try f.optionalString("question", maxLength: 8 * 1024))
        case "page": command = .pageView(url: try f.string("url", maxLength: 2048), title: try f.optionalString("title", maxLength: 512))
        case "cart":
            guard let value = try f.number("value", range: 0...1e9) else {
                throw ClientProtocolError(code: "missing_field", message: "field 'value' is required")
            }
            command = .cart(value: value, items: try f.integer("items", range: 0...100_000))
        case "leave": command = .leave(conversation: try f.string("conversation"))
        case "rate":
            command = .rate(conversation: try f.string("conversation"), score: try f.integer("score", range: 1...5),
                            comment: try f.optionalString("comment", maxLength: 2048))
        case "departments": command = .departments
        case "emailTranscript":
            let conversation = try f.string("conversation")
            let email = try f.string("email", maxLength: 256)
            guard Self.isPlausibleEmail(email) else { throw ClientProtocolError(code: "invalid_field", message: "field 'email' is not an e-mail address") }
            command = .emailTranscript(conversation: conversation, email: email)
        case "attach":
            let conversation = try f.string("conversation"), messageID = try f.string("clientMessageId", maxLength: 64)
            let name = try f.string("name", maxLength: 200)
            let contentType = try f.string("contentType", maxLength: 100)
            guard attachmentTypes.contains(contentType) else {
                throw ClientProtocolError(code: "invalid_field", message: "attachments may be \(attachmentTypes.sorted().joined(separator: ", "))")
            }
            guard let data = Base64.decode(try f.string("data", maxLength: maxAttachmentBytes * 4 / 3 + 4)), !data.isEmpty,
                  data.count <= maxAttachmentBytes else {
                throw ClientProtocolError(code: "invalid_field", message: "field 'data' must be 1 B to \(maxAttachmentBytes / 1024) KiB in base64")
            }
            command = .attach(conversation: conversation, clientMessageID: messageID, name: name, contentType: contentType, data: data)
        case "attachment": command = .attachment(conversation: try f.string("conversation"), id: try f.string("id", maxLength: 64))
        case "navigate":
            let conversation = try f.string("conversation")
            let url = try f.string("url", maxLength: 2048)
            guard url.hasPrefix("/") || url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw ClientProtocolError(code: "invalid_field", message: "field 'url' must be a path or an http(s) address")
            }
            command = .navigate(conversation: conversation, url: url)
        case "invite":
            command = .invite(visitor: try f.string("visitor"), department: try f.optionalString("department", maxLength: 64),
                              text: try f.optionalString("text", maxLength: 1024))
        case "canned": command = .canned
        case "saveCanned":
            let shortcut = try f.string("shortcut", maxLength: maxShortcutLength)
            guard Self.isShortcut(shortcut) else {
                throw ClientProtocolError(code: "invalid_field", message: "field 'shortcut' may hold only letters, digits, '-' and '_'")
            }
            command = .saveCanned(shortcut: shortcut, text: try f.string("text", maxLength: maxCannedTextLength),
                                  scope: try f.choice("scope", as: CannedScope.self))
        case "deleteCanned":
            command = .deleteCanned(shortcut: try f.string("shortcut", maxLength: maxShortcutLength), scope: try f.choice("scope", as: CannedScope.self))
        case "status": command = .setStatus(try f.choice("status", as: OperatorStatusValue.self))
        case "accept": command = .accept(conversation: try f.string("conversation"))
        case "decline": command = .decline(conversation: try f.string("conversation"))
        case "transfer":
            let conversation = try f.string("conversation")
            let toOperator = try f.optionalString("toOperator")
            let toDepartment = try f.optionalString("toDepartment", maxLength: 64)
            guard (toOperator == nil) != (toDepartment == nil) else {
                throw ClientProtocolError(code: "invalid_field", message: "give exactly one of 'toOperator' and 'toDepartment'")
            }
            command = .transfer(conversation: conversation, toOperator: toOperator, toDepartment: toDepartment,
                                note: try f.optionalString("note", maxLength: 1024))
        case "end": command = .end(conversation: try f.string("conversation"))
        case "chats": command = .chats
        case "queue": command = .queue
        case "visitors": command = .visitors
        case "conversations": command = .conversations(includeClosed: try f.optionalBool("includeClosed") ?? false)
        case "transcript": command = .transcript(conversation: try f.string("conversation"))
        case "operators": command = .operators
        case "cluster": command = .cluster
        case "partitions": command = .partitions
        case let other: throw ClientProtocolError(code: "unknown_type", message: "unknown message type '\(other)'")
        }
        try f.finish()
        return command
    }

    /// A shortcut is typed after `/` in the console: letters, digits, `-` and `_`.
    public static func isShortcut(_ s: String) -> Bool {
        !s.isEmpty && s.unicodeScalars.allSatisfy { ($0.properties.isAlphabetic || ("0"..."9").contains($0)) || $0 == "-" || $0 == "_" }
    }

    /// One `@`, something on both sides, a dot in the domain, no spaces: enough to catch
    /// typos without refusing real addresses.
    static func isPlausibleEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".")
            && !s.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" })
    }
}
