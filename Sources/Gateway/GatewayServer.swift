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
    let counters = Mutex<[String: Int]>([:])
    func add(_ name: String, _ amount: Int = 1) { counters.withLock { $0[name, default: 0] += amount } }
    var snapshot: [String: Int] { counters.withLock { $0 } }
}

/// The gateway: HTTP routes, WebSocket sessions for visitors and operators, and one Wire link
/// to the router that carries their commands and brings back their events. Stateless apart
/// from sockets: a client that reconnects (here or at another gateway) resumes by sequence
/// number. Runs on one event loop (start more processes for more cores).
public final class GatewayServer: Sendable {
    let tcp: TCPServer
    let app: UncheckedBox<GatewayApp>
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
    var logger: Logger { configuration.logger }
    let metrics = GatewayMetrics()
    /// The links to the routers, and which serves what.
    var routers: RouterPool!
    var nextSession: UInt64 = 0
    var nextCorrelation: UInt32 = 0
    var sessions: [UInt64: ClientSession] = [:]
    var loginThrottle = LoginThrottle()
    /// Who awaits a reply from the router.
    enum Waiter {
        /// A WebSocket session; `watch`: once accepted, it receives the conversation's events.
        case session(UInt64, watch: Bool)
        /// A REST request (admin, attachments), answered in the given format.
        case http(HTTPConnection, ReplyFormat)
        /// One router's part of a gathered listing.
        case part(gather: UInt32, router: String)
    }

    /// A command sent to a router, kept until its reply: to answer it, and to send it again
    /// where a redirect points.
    struct Pending {
        var waiter: Waiter
        var message: WireMessage
        var route: CommandRoute
        /// The link it went out on (its close fails it).
        var link: ObjectIdentifier
        var redirects = 0
    }

    /// A listing asked of every router, answered once all have.
    struct Gather {
        var waiter: Waiter
        var replies: [RouterReply] = []
        var unavailable: [String] = []
        var outstanding = 0
    }

    var pending: [UInt32: Pending] = [:]
    var gathers: [UInt32: Gather] = [:]
    var nextGather: UInt32 = 0
    var conversationSessions: [String: Set<UInt64>] = [:]
    var operatorSessions: [String: Set<UInt64>] = [:]
    /// The keys each session is in, so a closing session leaves both maps in time
    /// proportional to its own entries, and empty sets do not pile up per conversation.
    var watchedBySession: [UInt64: (conversations: Set<String>, operators: Set<String>)] = [:]

    /// The last stored event written as JSON: each one comes twice, for the visitor's side
    /// and then for the operator's, and the second is the same text.
    var lastEventJSON: (conversation: String, sequence: Int64, json: [UInt8])?

    init(loop: EventLoop, configuration: GatewayConfiguration) {
        self.loop = loop
        self.configuration = configuration
        routers = RouterPool(loop: loop, seed: configuration.router, configuration: configuration.wire, delegate: self)
    }

    func stop() {
        routers.stop()
    }

    /// Whether a link to a router is up.
    var isLinked: Bool { routers.isLinked }

    // MARK: HTTP routes

    func handle(_ request: HTTPRequest, client: String, connection: HTTPConnection) -> HTTPAction {
        metrics.add("http_requests_total")
        switch (request.method, String(request.path)) {
        case ("GET", "/healthz"), ("HEAD", "/healthz"):
            return .respond(.text(200, "ok"))
        case ("GET", "/readyz"), ("HEAD", "/readyz"):
            return .respond(isLinked ? .text(200, "ready") : .text(503, "router link down"))
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

    func metricsResponse() -> HTTPResponse {
        var text = ""
        for (name, value) in metrics.snapshot.sorted(by: { $0.key < $1.key }) {
            text += "# TYPE switchboard_gateway_\(name) counter\nswitchboard_gateway_\(name) \(value)\n"
        }
        text += "# TYPE switchboard_gateway_sessions gauge\nswitchboard_gateway_sessions \(sessions.count)\n"
        text += "# TYPE switchboard_gateway_router_connected gauge\nswitchboard_gateway_router_connected \(isLinked ? 1 : 0)\n"
        text += "# TYPE switchboard_gateway_routers_linked gauge\nswitchboard_gateway_routers_linked \(routers.peers.count)\n"
        let table = routers.table
        text += "# TYPE switchboard_gateway_table_version gauge\nswitchboard_gateway_table_version \(table?.version ?? 0)\n"
        let placed = table?.partitions.filter { $0.owner != nil }.count ?? 0
        text += "# TYPE switchboard_gateway_table_partitions_placed gauge\nswitchboard_gateway_table_partitions_placed \(placed)\n"
        // The standard process metrics (names as Prometheus client libraries use them).
        if let rss = ProcessResources.residentBytes() { text += "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes \(rss)\n" }
        if let files = ProcessResources.openFileCount() { text += "# TYPE process_open_fds gauge\nprocess_open_fds \(files)\n" }
        return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")], body: Array(text.utf8))
    }

    /// `routerd dev` only: trade a demo operator's password for an access token.
    func devLogin(_ request: HTTPRequest, client: String) -> HTTPResponse {
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
}
