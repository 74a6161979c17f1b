import Foundation
import Wire

/// The gateway's REST side: admin and attachment requests, turned into typed commands for
/// the router and answered from its reply.
extension GatewayApp {
    // MARK: REST: admin, attachments

    /// How a router reply becomes an HTTP response.
    enum ReplyFormat {
        /// As JSON, errors mapped to statuses.
        case json
        /// A transcript as plain text.
        case plainText
        /// An attachment's bytes with its type.
        case file
    }

    /// A request's bearer token: verified, or the response refusing the request.
    enum Bearer {
        case verified(AccessClaims)
        case refused(HTTPResponse)
    }

    func bearer(_ request: HTTPRequest) -> Bearer {
        guard let header = request.header("authorization"), header.hasPrefix("Bearer ") else {
            return .refused(HTTPResponse(status: 401, headers: [("WWW-Authenticate", "Bearer")], body: Array("a bearer token is required\n".utf8)))
        }
        guard case .success(let (claims, _)) = authenticate(token: String(header.dropFirst(7)), site: nil) else {
            metrics.add("auth_failures_total")
            return .refused(.text(401, "token refused"))
        }
        return .verified(claims)
    }

    /// `/api/admin/…` with `Authorization: Bearer <admin token>`: the site's conversations,
    /// one transcript (JSON, or plain text with `.txt`), queues, operators, the cluster's
    /// routers, and the site's canned responses (GET the list; PUT `{"text":…}` or DELETE one by shortcut).
    func admin(_ request: HTTPRequest, path: String, connection: HTTPConnection) -> HTTPAction {
        let claims: AccessClaims
        switch bearer(request) {
        case .refused(let response): return .respond(response)
        case .verified(let verified): claims = verified
        }
        guard claims.role == .admin else { return .respond(.text(403, "this needs the admin role")) }
        let query = request.target.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        let parts = path.dropFirst("/api/admin/".count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var format = ReplyFormat.json
        let command: ClientCommand
        switch (request.method, parts.count, parts.first) {
        case ("GET", 1, "conversations"):
            command = .conversations(includeClosed: query.contains("all=1"))
        case ("GET", 2, "conversations") where !parts[1].isEmpty:
            format = parts[1].hasSuffix(".txt") ? .plainText : .json
            command = .transcript(conversation: format == .plainText ? String(parts[1].dropLast(4)) : parts[1])
        case ("GET", 1, "queues"):
            command = .queue
        case ("GET", 1, "operators"):
            command = .operators
        case ("GET", 1, "cluster"):
            command = .cluster
        case ("GET", 1, "partitions"):
            command = .partitions
        case ("GET", 1, "canned"):
            command = .canned
        case ("PUT", 2, "canned"):
            guard let body = JSONParser.parse(request.body) as? [String: Any], let text = body["text"] as? String, body.count == 1,
                  text.count <= ClientCommand.maxCannedTextLength else {
                return .respond(.json(400, Array(#"{"code":"bad_request","message":"Send {\"text\": …} with at most 4096 characters."}"#.utf8)))
            }
            guard ClientCommand.isShortcut(parts[1]), parts[1].count <= ClientCommand.maxShortcutLength else {
                return .respond(.json(400, Array(#"{"code":"invalid_field","message":"A shortcut may hold only letters, digits, '-' and '_' (at most 32)."}"#.utf8)))
            }
            command = .saveCanned(shortcut: parts[1], text: text, scope: .site)
        case ("DELETE", 2, "canned"):
            command = .deleteCanned(shortcut: parts[1], scope: .site)
        default:
            return .respond(.text(404, "not found"))
        }
        return forwardHTTP(command, principal: claims.principal, format: format, connection: connection)
    }

    /// Headers that let a shop's page (another origin) use the attachment API: it is
    /// authorised by a bearer token, never by cookies, so any origin may call it.
    private static let corsHeaders: [(name: String, value: String)] = [
        ("Access-Control-Allow-Origin", "*"), ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Authorization, Content-Type, X-File-Name, X-Client-Message-Id"), ("Access-Control-Max-Age", "600"),
    ]

    /// `POST /api/attachments/<conversation>` (body: the file; `Content-Type`, `X-File-Name`
    /// percent-encoded, `X-Client-Message-Id`) and `GET /api/attachments/<conversation>/<id>`,
    /// both with the visitor's or operator's token. The router checks who may do what.
    func attachments(_ request: HTTPRequest, path: String, connection: HTTPConnection) -> HTTPAction {
        if request.method == "OPTIONS" { return .respond(HTTPResponse(status: 204, headers: Self.corsHeaders)) }
        let claims: AccessClaims
        switch bearer(request) {
        case .refused(let response): return .respond(response)
        case .verified(let verified): claims = verified
        }
        let parts = path.dropFirst("/api/attachments/".count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let command: ClientCommand
        var format = ReplyFormat.json
        switch (request.method, parts.count) {
        case ("POST", 1) where !parts[0].isEmpty:
            guard !request.body.isEmpty, request.body.count <= ClientCommand.maxAttachmentBytes else {
                return .respond(.json(413, JSONText.serialize(["code": "too_large", "message": "a file may have 1 B to \(ClientCommand.maxAttachmentBytes / 1024) KiB"])))
            }
            let type = (request.header("content-type") ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard ClientCommand.attachmentTypes.contains(type) else {
                return .respond(.json(415, JSONText.serialize(["code": "unsupported_type",
                                                               "message": "files may be \(ClientCommand.attachmentTypes.sorted().joined(separator: ", "))"])))
            }
            let name = (request.header("x-file-name")?.removingPercentEncoding).map { String($0.prefix(200)) } ?? "file"
            let messageID = request.header("x-client-message-id").map { String($0.prefix(64)) } ?? UUID().uuidString
            command = .attach(conversation: parts[0], clientMessageID: messageID, name: name.isEmpty ? "file" : name, contentType: type,
                              data: request.body)
        case ("GET", 2), ("HEAD", 2):
            format = .file
            command = .attachment(conversation: parts[0], id: parts[1])
        default:
            return .respond(.text(404, "not found"))
        }
        return forwardHTTP(command, principal: claims.principal, format: format, connection: connection)
    }

    /// Sends an HTTP request's command to the router; the reply answers the request.
    func forwardHTTP(_ command: ClientCommand, principal: Principal, format: ReplyFormat, connection: HTTPConnection) -> HTTPAction {
        guard routers.isLinked else { return .respond(.text(503, "the router is not reachable")) }
        dispatch(command, sessionID: 0, principal: principal, waiter: .http(connection, format))
        return .deferred
    }

    /// The HTTP status of a refusal, by its code.
    static func httpStatus(ofError code: String) -> Int {
        switch code {
        case "unknown_conversation", "not_found": 404
        case "forbidden", "not_assigned", "unknown_operator": 403
        case "storage_failed", "unavailable": 503
        default: 400
        }
    }

    /// The router's answer as an HTTP response.
    static func httpResponse(_ reply: RouterReply, format: ReplyFormat) -> HTTPResponse {
        if let code = reply.errorCode {
            return HTTPResponse(status: httpStatus(ofError: code), headers: [("Content-Type", "application/json")] + corsHeaders, body: reply.json())
        }
        switch (format, reply) {
        case (.plainText, .transcript(let transcript)):
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(TranscriptText.plainText(transcript).utf8))
        case (.file, .file(let file)):
            guard ClientCommand.attachmentTypes.contains(file.contentType) else { return .text(502, "The router answered with a file of an unknown type.") }
            let name = file.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "file"
            // Files are someone else's upload: never let a browser run one as a page.
            let disposition = file.contentType.hasPrefix("image/") ? "inline" : "attachment"
            return HTTPResponse(status: 200, headers: [("Content-Type", file.contentType), ("Content-Disposition", "\(disposition); filename*=UTF-8''\(name)"),
                                                       ("Cache-Control", "private, max-age=3600"), ("X-Content-Type-Options", "nosniff"),
                                                       ("Content-Security-Policy", "sandbox")] + corsHeaders, body: file.data)
        case (.json, _):
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")] + corsHeaders, body: reply.json())
        default:
            return .text(502, "The router's answer does not fit the request.")
        }
    }

    /// Sends to the router. A send fails only when the link is closing: the waiter is then
    /// answered by `peerDidClose`, so the failure is counted, not lost.
    func send(_ message: WireMessage, correlationID: UInt32 = 0, on peer: WirePeer) {
        do {
            try peer.send(message, correlationID: correlationID)
        } catch {
            metrics.add("router_send_failures_total")
        }
    }
}
