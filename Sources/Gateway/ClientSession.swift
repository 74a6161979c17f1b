import Foundation
import Wire

/// One browser's WebSocket: a visitor's widget or an operator's console. It authenticates
/// with `hello`, then every command is parsed and checked here (strict JSON) and forwarded
/// to the router as a typed command with the verified principal; the router's typed replies
/// and events are written back as JSON text messages.
/// The site is always the token's, never the client's. Loop-confined.
final class ClientSession: WebSocketHandler {
    let id: UInt64
    private unowned let app: GatewayApp
    private weak var connection: HTTPConnection?
    private var principal: Principal?
    private var helloTimer: TimerID?

    init(id: UInt64, app: GatewayApp) {
        self.id = id
        self.app = app
    }

    /// Close code for a socket that never said hello in time (private range: the widget
    /// treats 1008 as a refused token and starts afresh; this one only reconnects).
    static let helloTimeoutCloseCode: UInt16 = 4408

    func webSocketDidOpen(_ connection: HTTPConnection) {
        self.connection = connection
        guard let loop = connection.tcp?.loop else { return }
        helloTimer = loop.scheduleTimer(at: loop.now + app.configuration.helloTimeout) { [weak self] in
            guard let self, self.principal == nil else { return }
            self.helloTimer = nil
            self.app.metrics.add("hello_timeouts_total")
            self.connection?.closeWebSocket(code: Self.helloTimeoutCloseCode, reason: "no hello in time")
        }
    }

    func webSocket(_ connection: HTTPConnection, didReceive text: String) {
        app.metrics.add("client_messages_total")
        let json = Array(text.utf8)
        let command: ClientCommand
        do {
            command = try ClientCommand.parse(json)
        } catch {
            app.metrics.add("client_errors_total")
            send(.error(code: error.code, message: error.message, requestID: nil))
            return
        }
        guard let principal else {
            guard case .hello(let token, let site) = command else {
                send(.error(code: "unauthorized", message: "send hello first", requestID: nil))
                return
            }
            authenticate(token: token, site: site)
            return
        }
        switch command {
        case .hello:
            send(.error(code: "unexpected", message: "already authenticated", requestID: nil))
        case .attach, .attachment:
            send(.error(code: "not_supported", message: "files go over HTTP: POST/GET /api/attachments/<conversation>", requestID: nil))
        case .start, .resume:
            // The reply names the conversation: from then on its events reach this visitor.
            // (Operators get their chats' events on their own channel.)
            app.forward(command, from: self, principal: principal, watchReply: principal.role == .visitor)
        default:
            app.forward(command, from: self, principal: principal, watchReply: false)
        }
    }

    func webSocketDidClose(_ connection: HTTPConnection) {
        if let helloTimer { connection.tcp?.loop.cancelTimer(helloTimer) }
        helloTimer = nil
        app.sessionClosed(self)
    }

    /// Whether `hello` succeeded (the router may know this session).
    var isAuthenticated: Bool { principal != nil }

    /// Closes with 1012 so that the client reconnects and resumes (the router link was
    /// re-established and no longer knows this session).
    func closeForResume() {
        connection?.closeWebSocket(code: 1012, reason: "router restarted; reconnect to resume")
    }

    func send(_ event: ServerEvent) {
        sendRaw(event.json())
    }

    func sendRaw(_ json: [UInt8]) {
        connection?.sendText(json)
    }

    private func authenticate(token: String?, site: String?) {
        switch app.authenticate(token: token, site: site) {
        case .failure(let error):
            app.metrics.add("auth_failures_total")
            send(.error(code: "unauthorized", message: "token refused: \(error)", requestID: nil))
            connection?.closeWebSocket(code: 1008, reason: "unauthorized")
        case .success(let (claims, minted)):
            let principal = claims.principal
            self.principal = principal
            send(.welcome(role: claims.role.rawValue, site: claims.site, id: claims.sub, token: minted))
            if principal.role != .visitor {
                // The router counts the console as connected and sends this operator's events here.
                app.registerOperator("\(claims.site)/\(claims.sub)", session: id)
                app.forward(.hello(token: nil, site: nil), from: self, principal: principal, watchReply: false)
            }
        }
    }
}

/// Static files (the widget, the console, the demo shop) from one directory.
enum StaticFiles {
    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "json": "application/json", "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon", "txt": "text/plain; charset=utf-8",
    ]

    /// The file for `path`, or 404. Paths that climb out of the directory are refused.
    static func response(for path: String, in directory: String?) -> HTTPResponse {
        guard let directory else { return .text(404, "not found") }
        let relative = path == "/" ? "index.html" : String(path.dropFirst())
        let parts = relative.split(separator: "/")
        guard !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0.hasPrefix(".") }),
              relative.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\\") }) else { return .text(404, "not found") }
        let file = directory + "/" + relative
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue,
              let data = FileManager.default.contents(atPath: file) else { return .text(404, "not found") }
        let type = contentTypes[String(relative.split(separator: ".").last ?? "")] ?? "application/octet-stream"
        // HTML is revalidated every time (it names the assets); assets may be cached briefly.
        let cache = type.hasPrefix("text/html") ? "no-cache" : "public, max-age=300"
        return HTTPResponse(status: 200, headers: [("Content-Type", type), ("Cache-Control", cache), ("X-Content-Type-Options", "nosniff")],
                            body: [UInt8](data))
    }
}
