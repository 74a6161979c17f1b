import Foundation
import Wire

/// What the application does with a request.
public enum HTTPAction {
    /// Answer it.
    case respond(HTTPResponse)
    /// Switch the connection to WebSocket (the upgrade headers were checked) and hand its
    /// messages to the handler.
    case upgrade(any WebSocketHandler)
    /// The answer comes later through `HTTPConnection.respond`; later pipelined requests
    /// wait for it, so responses stay in request order.
    case deferred
}

/// The application behind the HTTP server (the gateway's routes). Called on the loop.
public protocol HTTPHandler: AnyObject {
    /// Decides what to do with a request; `client` is the client's address (see
    /// `HTTPServerOptions.trustedProxies`).
    func handle(_ request: HTTPRequest, client: String, connection: HTTPConnection) -> HTTPAction
}

/// A WebSocket session's application side. Called on the loop.
public protocol WebSocketHandler: AnyObject {
    /// The upgrade is done; messages may be sent.
    func webSocketDidOpen(_ connection: HTTPConnection)
    /// A text message arrived.
    func webSocket(_ connection: HTTPConnection, didReceive text: String)
    /// The session ended (close handshake, error or lost connection); called once.
    func webSocketDidClose(_ connection: HTTPConnection)
}

/// Server settings.
public struct HTTPServerOptions: Sendable {
    /// Request limits.
    public var limits = HTTPLimits()
    /// Largest WebSocket message (default 64 KiB).
    public var maxMessageBytes = 64 * 1024
    /// WebSocket messages a client may send per second on average, and in a burst.
    public var messagesPerSecond = 20.0
    /// The burst allowed above the average rate.
    public var messageBurst = 40.0
    /// HTTP requests a connection may make per second on average (more get 429).
    public var requestsPerSecond = 50.0
    /// The burst of HTTP requests allowed above the average rate.
    public var requestBurst = 100.0
    /// Addresses of reverse proxies whose `X-Forwarded-For` is believed.
    public var trustedProxies: Set<String> = []
    /// Socket options (idle timeout: a WebSocket is pinged at a third of it).
    public var connection = ConnectionOptions(idleTimeout: Nanoseconds.seconds(60))
    /// A request's head must be complete this long after its first byte (default 10 s);
    /// the idle timeout alone let a client that sends a byte every few seconds stay forever.
    public var requestHeadTimeout = Nanoseconds.seconds(10)
    /// A request's body must be complete this long after its head (default 60 s: a 1 MiB
    /// upload at 20 KiB/s).
    public var requestBodyTimeout = Nanoseconds.seconds(60)
    /// Most connections in all (default 50,000; more get 503 and are closed at once).
    public var maxConnections = 50_000
    /// Most connections from one client address (default 256; 0 for no limit). Trusted
    /// proxies are not limited: each of their connections carries other clients.
    public var maxConnectionsPerAddress = 256
    /// Defaults.
    public init() {}
}

/// One client connection: HTTP/1.1 requests (keep-alive, pipelined) until it is upgraded to
/// a WebSocket. Pure parsing lives in `HTTPRequestParser` and `WebSocketParser`; this class
/// only moves bytes and enforces the session rules (rate limit, pings, close handshake).
/// Loop-confined.
public final class HTTPConnection: ConnectionHandler {
    private enum Mode {
        case http(HTTPRequestParser)
        case webSocket(WebSocketParser, any WebSocketHandler)
        case closing
    }

    /// The underlying TCP connection.
    public private(set) var tcp: TCPConnection?
    /// The client's address (the proxy's, unless it is trusted and forwarded).
    public private(set) var clientAddress = ""
    private let handler: any HTTPHandler
    private let options: HTTPServerOptions
    private var mode: Mode
    private var limiter: RateLimiter
    private var requestLimiter: RateLimiter
    private var pingTimer: TimerID?
    private var closeNotified = false
    /// The request whose answer is awaited (`HTTPAction.deferred`).
    private var awaiting: HTTPRequest?
    private let budget: SharedConnectionBudget?
    /// The direct peer's address as counted in `budget` (nil when not counted).
    private var admittedAddress: String?
    /// The timer of the request being received, and which request and part it is for.
    private var requestTimer: TimerID?
    private var requestTimerFor: (request: Int, part: HTTPRequestParser.Pending)?

    /// A connection serving `handler`, counted in `budget` (one per server) if given.
    public init(handler: any HTTPHandler, options: HTTPServerOptions, budget: SharedConnectionBudget? = nil) {
        self.handler = handler
        self.options = options
        self.budget = budget
        mode = .http(HTTPRequestParser(limits: options.limits))
        limiter = RateLimiter(rate: options.messagesPerSecond, burst: options.messageBurst)
        requestLimiter = RateLimiter(rate: options.requestsPerSecond, burst: options.requestBurst)
    }

    /// Sends a WebSocket text message.
    public func sendText(_ bytes: [UInt8]) {
        guard case .webSocket = mode, let tcp else { return }
        let frame = WebSocketParser.frame(.text, bytes)
        frame.withUnsafeBytes { tcp.write($0) }
    }

    /// Starts the close handshake with `code`, then closes.
    public func closeWebSocket(code: UInt16, reason: String) {
        guard case .webSocket = mode, let tcp else { return }
        WebSocketParser.closeFrame(code: code, reason: reason).withUnsafeBytes { tcp.write($0) }
        notifyClosed()
        mode = .closing
        tcp.closeAfterFlush()
    }

    // MARK: ConnectionHandler

    public func connectionDidOpen(_ connection: TCPConnection) {
        tcp = connection
        clientAddress = connection.remoteAddress?.host ?? ""
        guard let budget else { return }
        if let refusal = budget.admit(clientAddress) {
            let reason = refusal == .full ? "the server is at its connection limit; retry shortly"
                                          : "too many connections from your address; close some and retry"
            refuse(HTTPResponse(status: 503, headers: [("Retry-After", "5")], body: Array((reason + "\n").utf8)))
            return
        }
        admittedAddress = clientAddress
    }

    public func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        switch mode {
        case .http(var parser):
            parser.append(bytes)
            mode = .http(parser)
            serveRequests()
            updateRequestTimer()
        case .webSocket(var parser, let session):
            let output = parser.feed(bytes)
            mode = .webSocket(parser, session)
            for message in output.messages {
                guard case .webSocket = mode else { break }  // a message closed the connection
                handleMessage(message, session)
            }
            if let error = output.error { closeWebSocket(code: error.closeCode, reason: "\(error)") }
        case .closing:
            break
        }
    }

    public func connectionWritabilityChanged(_ connection: TCPConnection) {}

    public func connectionDidClose(_ connection: TCPConnection, reason: CloseReason) {
        if let pingTimer { connection.loop.cancelTimer(pingTimer) }
        cancelRequestTimer()
        notifyClosed()
        tcp = nil
        if let admittedAddress {
            self.admittedAddress = nil
            budget?.release(admittedAddress)
        }
    }

    // MARK: HTTP

    /// Answers the request that was deferred, then goes on with any that queued behind it.
    public func respond(_ response: HTTPResponse) {
        guard let request = awaiting, let tcp else { return }
        awaiting = nil
        write(response, for: request, on: tcp)
        serveRequests()
        updateRequestTimer()
    }

    /// Answers with `response` and closes, reading nothing more.
    private func refuse(_ response: HTTPResponse) {
        guard let tcp else { return }
        mode = .closing
        cancelRequestTimer()
        response.serialized(keepAlive: false).withUnsafeBytes { tcp.write($0) }
        tcp.closeAfterFlush()
    }

    /// Keeps one deadline for the request being received: its head must be complete within
    /// `requestHeadTimeout` of its first byte, its body within `requestBodyTimeout` of the
    /// head. None while idle between requests (the idle timeout covers that), while an
    /// answer is awaited, or once upgraded.
    private func updateRequestTimer() {
        guard awaiting == nil, case .http(let parser) = mode, let tcp, parser.pending != .none else {
            cancelRequestTimer()
            return
        }
        let key = (request: parser.requestsParsed, part: parser.pending)
        if let current = requestTimerFor, current.request == key.request, current.part == key.part { return }
        cancelRequestTimer()
        requestTimerFor = key
        let limit = key.part == .head ? options.requestHeadTimeout : options.requestBodyTimeout
        requestTimer = tcp.loop.scheduleTimer(at: tcp.loop.now + limit) { [weak self] in
            guard let self else { return }
            self.requestTimer = nil
            self.refuse(.text(408, key.part == .head ? "the request head took too long" : "the request body took too long"))
        }
    }

    private func cancelRequestTimer() {
        if let requestTimer, let tcp { tcp.loop.cancelTimer(requestTimer) }
        requestTimer = nil
        requestTimerFor = nil
    }

    private func write(_ response: HTTPResponse, for request: HTTPRequest, on tcp: TCPConnection) {
        let keepAlive = request.keepAlive
        response.serialized(keepAlive: keepAlive, headOnly: request.method == "HEAD").withUnsafeBytes { tcp.write($0) }
        if !keepAlive {
            mode = .closing
            tcp.closeAfterFlush()
        }
    }

    private func serveRequests() {
        while awaiting == nil, case .http(var parser) = mode, let tcp {
            let request: HTTPRequest?
            do {
                request = try parser.next()
                mode = .http(parser)
            } catch {
                refuse(.text(error.status, error.reason))
                return
            }
            guard let request else { return }
            guard requestLimiter.allow(now: tcp.loop.now) else {
                write(HTTPResponse(status: 429, headers: [("Retry-After", "1")], body: Array("too many requests\n".utf8)), for: request, on: tcp)
                continue
            }
            let client = forwardedClient(request)
            switch handler.handle(request, client: client, connection: self) {
            case .respond(let response):
                write(response, for: request, on: tcp)
            case .deferred:
                awaiting = request
            case .upgrade(let session):
                upgrade(request, client: client, parser: &parser, session: session, tcp: tcp)
            }
        }
    }

    private func upgrade(_ request: HTTPRequest, client: String, parser: inout HTTPRequestParser, session: any WebSocketHandler,
                         tcp: TCPConnection) {
        let accept = WebSocketHandshake.acceptValue(forKey: request.header("sec-websocket-key") ?? "")
        // A 101 has no body and no Content-Length.
        let head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: \(accept)\r\n\r\n"
        Array(head.utf8).withUnsafeBytes { tcp.write($0) }
        let early = parser.takeRemainingBytes()
        mode = .webSocket(WebSocketParser(requireMasked: true, maxMessageBytes: options.maxMessageBytes), session)
        cancelRequestTimer()
        clientAddress = client
        session.webSocketDidOpen(self)
        schedulePing()
        if !early.isEmpty { early.withUnsafeBytes { connection(tcp, didRead: $0) } }
    }

    /// Checks the upgrade headers of RFC 6455 4.2.1; nil when they are right, else the
    /// response to send instead.
    public static func upgradeProblem(_ request: HTTPRequest) -> HTTPResponse? {
        guard request.method == "GET" else { return .text(405, "WebSocket upgrades must use GET") }
        guard request.header("upgrade")?.lowercased() == "websocket",
              request.header("connection")?.lowercased().split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "upgrade" }) == true
        else { return .text(426, "this endpoint speaks WebSocket only") }
        guard request.header("sec-websocket-version") == "13" else {
            return HTTPResponse(status: 426, headers: [("Sec-WebSocket-Version", "13")], body: Array("WebSocket version 13 required\n".utf8))
        }
        guard let key = request.header("sec-websocket-key"), WebSocketHandshake.isValidKey(key) else {
            return .text(400, "invalid Sec-WebSocket-Key")
        }
        return nil
    }

    /// The client's address: the last `X-Forwarded-For` hop when the direct peer is a
    /// trusted proxy, else the direct peer.
    private func forwardedClient(_ request: HTTPRequest) -> String {
        Self.clientAddress(direct: tcp?.remoteAddress?.host ?? "", forwardedFor: request.header("x-forwarded-for"),
                           trustedProxies: options.trustedProxies)
    }

    /// The client's address: the last `X-Forwarded-For` hop (the one our proxy added) when
    /// the direct peer is a trusted proxy; otherwise the direct peer, whatever the header says.
    public static func clientAddress(direct: String, forwardedFor: String?, trustedProxies: Set<String>) -> String {
        guard trustedProxies.contains(direct), let forwardedFor,
              let last = forwardedFor.split(separator: ",").last?.trimmingCharacters(in: .whitespaces), !last.isEmpty else {
            return direct
        }
        return last
    }

    // MARK: WebSocket

    /// Close code for a client over its message rate (private range; the client reconnects).
    public static let tooManyMessagesCloseCode: UInt16 = 4429

    private func handleMessage(_ message: WebSocketMessage, _ session: any WebSocketHandler) {
        guard let tcp else { return }
        switch message {
        case .text(let text):
            guard limiter.allow(now: tcp.loop.now) else {
                // Not 1008: the widget takes that for a refused token and forgets its chat.
                closeWebSocket(code: Self.tooManyMessagesCloseCode, reason: "too many messages")
                return
            }
            session.webSocket(self, didReceive: text)
        case .binary:
            closeWebSocket(code: 1003, reason: "binary messages are not accepted")
        case .ping(let data):
            WebSocketParser.frame(.pong, data).withUnsafeBytes { tcp.write($0) }
        case .pong:
            break  // its arrival reset the idle timer
        case .close(let code, _):
            // Answer the close handshake with the same code (or 1000), then close.
            WebSocketParser.closeFrame(code: code ?? 1000, reason: "").withUnsafeBytes { tcp.write($0) }
            notifyClosed()
            mode = .closing
            tcp.closeAfterFlush()
        }
    }

    /// Server pings at a third of the idle timeout: a live browser answers (resetting the
    /// idle timer), a dead one is closed by it.
    private func schedulePing() {
        guard let tcp, options.connection.idleTimeout > 0 else { return }
        pingTimer = tcp.loop.scheduleTimer(at: tcp.loop.now + options.connection.idleTimeout / 3) { [weak self] in
            guard let self, case .webSocket = self.mode, let tcp = self.tcp else { return }
            WebSocketParser.frame(.ping, []).withUnsafeBytes { tcp.write($0) }
            self.schedulePing()
        }
    }

    private func notifyClosed() {
        guard !closeNotified else { return }
        closeNotified = true
        switch mode {
        case .webSocket(_, let session): session.webSocketDidClose(self)
        case .closing, .http: break
        }
    }
}

@available(*, unavailable)
extension HTTPConnection: Sendable {}
