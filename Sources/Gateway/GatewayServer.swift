import Foundation
import Synchronization
import Wire

/// What a gateway needs to know.
public struct GatewayConfiguration: Sendable {
    /// Each site's token secret, by site id.
    public var siteSecrets: [String: [UInt8]]
    /// The router to forward to.
    public var router: SocketAddress
    /// This gateway's Wire identity and the cluster secret.
    public var wire: WireConfiguration
    /// HTTP and WebSocket limits.
    public var http = HTTPServerOptions()
    /// Directory of static files served under `/` (widget, console), if any.
    public var staticDirectory: String?
    /// `routerd dev` only: passwords of demo operators, by "site/operator".
    public var devPasswords: [String: String] = [:]
    /// `routerd dev` only: which of them log in as admins ("site/operator").
    public var devAdmins: Set<String> = []
    /// Lifetime of visitor session tokens minted here (default 30 days) and of dev logins (12 h).
    public var visitorTokenSeconds: Int64 = 30 * 86_400
    /// Lifetime of tokens issued by the dev password login.
    public var devLoginSeconds: Int64 = 12 * 3600
    /// A WebSocket must say `hello` this soon after opening (default 10 s), or it is closed
    /// with 4408: an unauthenticated socket that only answers pings held a file forever.
    public var helloTimeout = Nanoseconds.seconds(10)
    /// Where diagnostics go.
    public var logger = Logger(label: "gateway")

    /// A configuration.
    public init(siteSecrets: [String: [UInt8]], router: SocketAddress, wire: WireConfiguration) {
        (self.siteSecrets, self.router, self.wire) = (siteSecrets, router, wire)
    }
}

/// Counters for /metrics, shared by the gateway's loops.
final class GatewayMetrics: Sendable {
    private let counters = Mutex<[String: Int]>([:])
    func add(_ name: String, _ amount: Int = 1) { counters.withLock { $0[name, default: 0] += amount } }
    var snapshot: [String: Int] { counters.withLock { $0 } }
}

/// The gateway: HTTP routes, WebSocket sessions for visitors and operators, and one Wire link
/// to the router that carries their commands and brings back their events. Stateless apart
/// from sockets: a client that reconnects (here or at another gateway) resumes by sequence
/// number. Runs on one event loop (start more processes for more cores).
public final class GatewayServer: Sendable {
    private let tcp: TCPServer
    private let app: UncheckedBox<GatewayApp>
    /// The bound HTTP address.
    public var address: SocketAddress { tcp.address }

    /// Starts serving HTTP on `address` and connects to the router. Call off the loop.
    public init(group: EventLoopGroup, address: SocketAddress, configuration: GatewayConfiguration) throws {
        precondition(group.loops.count == 1, "a gateway runs on one loop")
        let loop = group.loops[0]
        let app = try loop.submitAndWait { UncheckedBox(GatewayApp(loop: loop, configuration: configuration)) }
        self.app = app
        let budget = SharedConnectionBudget(configuration.http)
        tcp = try TCPServer(group: group, address: address, options: configuration.http.connection) { _ in
            HTTPConnection(handler: app.value, options: configuration.http, budget: budget)
        }
    }

    /// Waits up to `seconds` for the link to the router (what /readyz reports); true once it
    /// is up. Call off the loop. `routerd dev` waits so that it announces itself only when
    /// a client's hello can reach the router.
    public func waitUntilLinked(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if (try? app.value.loop.submitAndWait { [app] in app.value.isLinked }) == true { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return false
    }

    /// Stops accepting and closes the router link. Call off the loop.
    public func close() {
        tcp.close()
        try? app.value.loop.submitAndWait { [app] in app.value.stop() }
    }
}

/// The gateway's state on its loop: routes, sessions, and the router link.
final class GatewayApp: HTTPHandler, WirePeerDelegate {
    let loop: EventLoop
    let configuration: GatewayConfiguration
    private var logger: Logger { configuration.logger }
    let metrics = GatewayMetrics()
    private var router: WireClient?
    private var routerPeer: WirePeer?
    private var nextSession: UInt64 = 0
    private var nextCorrelation: UInt32 = 0
    private var sessions: [UInt64: ClientSession] = [:]
    private var loginThrottle = LoginThrottle()
    /// Who awaits a reply from the router.
    private enum Waiter {
        /// A WebSocket session; `watch`: once accepted, it receives the conversation's events.
        case session(UInt64, watch: Bool)
        /// A REST request (admin, attachments), answered in the given format.
        case http(HTTPConnection, ReplyFormat)
    }

    private var pending: [UInt32: Waiter] = [:]
    private var conversationSessions: [String: Set<UInt64>] = [:]
    private var operatorSessions: [String: Set<UInt64>] = [:]
    /// The keys each session is in, so a closing session leaves both maps in time
    /// proportional to its own entries, and empty sets do not pile up per conversation.
    private var watchedBySession: [UInt64: (conversations: Set<String>, operators: Set<String>)] = [:]

    init(loop: EventLoop, configuration: GatewayConfiguration) {
        self.loop = loop
        self.configuration = configuration
        let client = WireClient(loop: loop, address: configuration.router, configuration: configuration.wire, delegate: self)
        router = client
        client.start()
    }

    func stop() {
        router?.stop()
        router = nil
    }

    /// Whether the link to the router is up.
    var isLinked: Bool { routerPeer != nil }

    // MARK: HTTP routes

    func handle(_ request: HTTPRequest, client: String, connection: HTTPConnection) -> HTTPAction {
        metrics.add("http_requests_total")
        switch (request.method, String(request.path)) {
        case ("GET", "/healthz"), ("HEAD", "/healthz"):
            return .respond(.text(200, "ok"))
        case ("GET", "/readyz"), ("HEAD", "/readyz"):
            return .respond(routerPeer == nil ? .text(503, "router link down") : .text(200, "ready"))
        case ("GET", "/metrics"):
            return .respond(metricsResponse())
        case ("GET", "/ws"):
            if let problem = HTTPConnection.upgradeProblem(request) { return .respond(problem) }
            nextSession += 1
            let session = ClientSession(id: nextSession, app: self)
            sessions[nextSession] = session
            metrics.add("websocket_sessions_total")
            return .upgrade(session)
        case ("POST", "/api/login"):
            return .respond(devLogin(request, client: client))
        case (_, let path) where path.hasPrefix("/api/admin/"):
            return admin(request, path: path, connection: connection)
        case (_, let path) where path.hasPrefix("/api/attachments/"):
            return attachments(request, path: path, connection: connection)
        case ("GET", _), ("HEAD", _):
            return .respond(StaticFiles.response(for: String(request.path), in: configuration.staticDirectory))
        default:
            return .respond(.text(405, "method not allowed"))
        }
    }

    private func metricsResponse() -> HTTPResponse {
        var text = ""
        for (name, value) in metrics.snapshot.sorted(by: { $0.key < $1.key }) {
            text += "# TYPE switchboard_gateway_\(name) counter\nswitchboard_gateway_\(name) \(value)\n"
        }
        text += "# TYPE switchboard_gateway_sessions gauge\nswitchboard_gateway_sessions \(sessions.count)\n"
        text += "# TYPE switchboard_gateway_router_connected gauge\nswitchboard_gateway_router_connected \(routerPeer == nil ? 0 : 1)\n"
        // The standard process metrics (names as Prometheus client libraries use them).
        if let rss = ProcessResources.residentBytes() { text += "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes \(rss)\n" }
        if let files = ProcessResources.openFileCount() { text += "# TYPE process_open_fds gauge\nprocess_open_fds \(files)\n" }
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(text.utf8))
    }

    /// `routerd dev` only: trade a demo operator's password for an access token.
    private func devLogin(_ request: HTTPRequest, client: String) -> HTTPResponse {
        guard !configuration.devPasswords.isEmpty else { return .text(404, "not found") }
        guard let object = JSONParser.parse(request.body) as? [String: Any],
              let site = object["site"] as? String, let op = object["operator"] as? String, let password = object["password"] as? String else {
            return .json(400, Array(#"{"code":"bad_request","message":"send site, operator and password"}"#.utf8))
        }
        let account = "\(site)/\(op)"
        if let wait = loginThrottle.wait(account: account, address: client, now: loop.now) {
            metrics.add("login_throttled_total")
            let seconds = (wait + 999_999_999) / 1_000_000_000
            return HTTPResponse(status: 429, headers: [("Content-Type", "application/json"), ("Retry-After", "\(seconds)")],
                                body: JSONText.serialize(["code": "too_many_attempts",
                                                          "message": "Too many wrong passwords. Try again in \(seconds) second\(seconds == 1 ? "" : "s")."]))
        }
        guard let expected = configuration.devPasswords[account],
              HMACSHA256.constantTimeEquals(Array(expected.utf8), Array(password.utf8)), let secret = configuration.siteSecrets[site] else {
            metrics.add("login_failures_total")
            loginThrottle.failed(account: account, address: client, now: loop.now)
            return .json(401, Array(#"{"code":"unauthorized","message":"wrong operator or password"}"#.utf8))
        }
        loginThrottle.succeeded(account: account, address: client)
        let now = Int64(Date().timeIntervalSince1970)
        let role: AccessClaims.Role = configuration.devAdmins.contains("\(site)/\(op)") ? .admin : .operator
        let token = AccessToken.sign(AccessClaims(sub: op, site: site, role: role, exp: now + configuration.devLoginSeconds, iat: now), secret: secret)
        return .json(200, JSONText.serialize(["token": token, "role": role.rawValue]))
    }

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
    private enum Bearer {
        case verified(AccessClaims)
        case refused(HTTPResponse)
    }

    private func bearer(_ request: HTTPRequest) -> Bearer {
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
    /// one transcript (JSON, or plain text with `.txt`), queues, operators, and the site's
    /// canned responses (GET the list; PUT `{"text":…}` or DELETE one by shortcut).
    private func admin(_ request: HTTPRequest, path: String, connection: HTTPConnection) -> HTTPAction {
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
    private func attachments(_ request: HTTPRequest, path: String, connection: HTTPConnection) -> HTTPAction {
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
    private func forwardHTTP(_ command: ClientCommand, principal: Principal, format: ReplyFormat, connection: HTTPConnection) -> HTTPAction {
        guard let peer = routerPeer else { return .respond(.text(503, "the router is not reachable")) }
        nextCorrelation &+= 1
        pending[nextCorrelation] = .http(connection, format)
        send(.command(sessionID: 0, principal: principal, command: command), correlationID: nextCorrelation, on: peer)
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
    private func send(_ message: WireMessage, correlationID: UInt32 = 0, on peer: WirePeer) {
        do {
            try peer.send(message, correlationID: correlationID)
        } catch {
            metrics.add("router_send_failures_total")
        }
    }

    // MARK: sessions → router

    /// Verifies a hello token (or mints a visitor session); returns the claims or the error.
    func authenticate(token: String?, site: String?) -> Result<(AccessClaims, minted: String?), TokenError> {
        let now = Int64(Date().timeIntervalSince1970)
        if let site {
            guard let secret = configuration.siteSecrets[site] else { return .failure(.invalidClaims) }
            let claims = AccessClaims(sub: "v-" + UUID().uuidString.lowercased(), site: site, role: .visitor,
                                      exp: now + configuration.visitorTokenSeconds, iat: now)
            return .success((claims, AccessToken.sign(claims, secret: secret)))
        }
        guard let token else { return .failure(.malformed) }
        let secrets = configuration.siteSecrets
        return Result { () throws(TokenError) in (try AccessToken.verify(token, secretOf: { secrets[$0] }, now: now), nil) }
    }

    /// Forwards a client's command; the reply goes back to the session.
    func forward(_ command: ClientCommand, from session: ClientSession, principal: Principal, watchReply: Bool) {
        guard let peer = routerPeer else {
            session.send(.error(code: "unavailable", message: "The router is not reachable; retry shortly.", requestID: nil))
            return
        }
        nextCorrelation &+= 1
        pending[nextCorrelation] = .session(session.id, watch: watchReply)
        send(.command(sessionID: session.id, principal: principal, command: command), correlationID: nextCorrelation, on: peer)
        metrics.add("commands_forwarded_total")
    }

    func registerOperator(_ op: String, session: UInt64) {
        operatorSessions[op, default: []].insert(session)
        watchedBySession[session, default: ([], [])].operators.insert(op)
    }

    /// A visitor's session hears one conversation: the one it started or resumed last (the
    /// widget shows one). Without this, a widget left open all day kept an entry for every
    /// chat it ever had.
    private func watch(conversation: String, session: UInt64) {
        for old in watchedBySession[session]?.conversations ?? [] where old != conversation {
            conversationSessions[old]?.remove(session)
            if conversationSessions[old]?.isEmpty == true { conversationSessions[old] = nil }
            watchedBySession[session]?.conversations.remove(old)
        }
        conversationSessions[conversation, default: []].insert(session)
        watchedBySession[session, default: ([], [])].conversations.insert(conversation)
    }

    func sessionClosed(_ session: ClientSession) {
        sessions[session.id] = nil
        let watched = watchedBySession.removeValue(forKey: session.id)
        for key in watched?.conversations ?? [] {
            conversationSessions[key]?.remove(session.id)
            if conversationSessions[key]?.isEmpty == true { conversationSessions[key] = nil }
        }
        for key in watched?.operators ?? [] {
            operatorSessions[key]?.remove(session.id)
            if operatorSessions[key]?.isEmpty == true { operatorSessions[key] = nil }
        }
        if let routerPeer { send(.sessionClosed(sessionID: session.id), on: routerPeer) }
    }

    // MARK: router → sessions

    /// A new link to the router. Sessions older than it were registered with a router
    /// process that is gone (or with none, while the link was down): the router has no
    /// subscription, no operator connection and no visitor session for them, so they would
    /// stay open and hear nothing. They are closed with 1012 (service restart); the widget
    /// and the console reconnect, say hello again and resume each chat from the last
    /// sequence number they showed, so nothing is lost and nothing is shown twice.
    func peerDidEstablish(_ peer: WirePeer) {
        routerPeer = peer
        let stale = sessions.values.filter(\.isAuthenticated)
        for session in stale { session.closeForResume() }
        metrics.add("sessions_closed_for_resume_total", stale.count)
    }

    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        let message: WireMessage
        do {
            message = try WireMessage.decode(type: header.type, payload: payload)
        } catch {
            metrics.add("router_messages_undecodable_total")
            logger.warning("an undecodable message from the router was dropped", ["type": "\(header.type)", "error": "\(error)"])
            return
        }
        switch message {
        case .commandReply(let reply):
            switch pending.removeValue(forKey: header.correlationID) {
            case .session(let sessionID, let watch)?:
                guard let session = sessions[sessionID] else { return }
                if watch, case .event(.accepted(_, let conversation?, _)) = reply {
                    self.watch(conversation: conversation, session: sessionID)
                }
                session.sendRaw(reply.json())
            case .http(let connection, let format)?:
                connection.respond(Self.httpResponse(reply, format: format))
            case nil:
                break
            }
        case .conversationUpdate(let conversation, _, let event):
            deliver(event, to: conversationSessions[conversation])
        case .operatorUpdate(let op, let event):
            deliver(event, to: operatorSessions[op])
        case .sessionUpdate(let sessionID, let event):
            deliver(event, to: [sessionID])
        default:
            logger.warning("an unexpected message from the router was dropped", ["type": "\(message.type)"])
        }
    }

    /// Writes the event as JSON once and sends it to each session.
    private func deliver(_ event: ServerEvent, to sessionIDs: Set<UInt64>?) {
        guard let sessionIDs, !sessionIDs.isEmpty else { return }
        let json = eventJSON(event)
        for id in sessionIDs { sessions[id]?.sendRaw(json) }
        metrics.add("events_delivered_total")
    }

    /// The last stored event written as JSON: each one comes twice, for the visitor's side
    /// and then for the operator's, and the second is the same text.
    private var lastEventJSON: (conversation: String, sequence: Int64, json: [UInt8])?

    private func eventJSON(_ event: ServerEvent) -> [UInt8] {
        guard case .event(let conversation, let sequence, _, _, _, _, _) = event else { return event.json() }
        if let last = lastEventJSON, last.sequence == sequence, last.conversation == conversation { return last.json }
        let json = event.json()
        lastEventJSON = (conversation, sequence, json)
        return json
    }

    func peerWritabilityChanged(_ peer: WirePeer) {}

    func peerDidClose(_ peer: WirePeer, reason: CloseReason) {
        routerPeer = nil
        // Commands in flight will get no reply: tell their senders, who may retry safely.
        for waiter in pending.values {
            switch waiter {
            case .session(let sessionID, _):
                sessions[sessionID]?.send(.error(code: "unavailable", message: "the router link dropped; retry", requestID: nil))
            case .http(let connection, _):
                connection.respond(.text(503, "the router link dropped; retry"))
            }
        }
        pending.removeAll()
    }
}

