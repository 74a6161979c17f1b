import Foundation
import Wire

/// What a load-generating WebSocket client hears. Called on its loop.
protocol WebSocketClientDelegate: AnyObject {
    func webSocketDidOpen(_ client: WebSocketClient)
    func webSocket(_ client: WebSocketClient, didReceive event: ServerEvent)
    func webSocketDidClose(_ client: WebSocketClient)
}

/// A WebSocket client on the event loop: the RFC 6455 opening handshake (checking the
/// server's accept value), masked text frames out, unmasked frames in through the same
/// `WebSocketParser` the server uses. Loop-confined.
final class WebSocketClient: ConnectionHandler {
    weak var delegate: (any WebSocketClientDelegate)?
    private(set) var tcp: TCPConnection?
    private let host: String
    private let key: String
    private var handshake: [UInt8] = []
    private var parser: WebSocketParser?
    private var rng: SplitMix64

    init(address: SocketAddress, seed: UInt64) {
        host = "\(address)"
        rng = SplitMix64(seed: seed)
        var bytes: [UInt8] = []
        for _ in 0..<16 { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
        key = Base64.encode(bytes)
    }

    /// Connects a client for `delegate` to `address` on `loop` (no idle timeout: load
    /// generators sit quietly when told to).
    /// `source` binds the connection to a local address first (loadgen spreads its
    /// connections over 127.0.0.0/8).
    static func open(to address: SocketAddress, from source: SocketAddress? = nil, seed: UInt64, delegate: any WebSocketClientDelegate,
                     on loop: EventLoop) -> WebSocketClient {
        let client = WebSocketClient(address: address, seed: seed)
        client.delegate = delegate
        _ = TCPConnection.connect(to: address, on: loop, options: ConnectionOptions(idleTimeout: 0), from: source, handler: client)
        return client
    }

    /// Sends one command as the client protocol's JSON text message.
    func send(_ command: ClientCommand) {
        guard parser != nil, let tcp else { return }
        WebSocketParser.frame(.text, command.json(), maskKey: nextMask()).withUnsafeBytes { tcp.write($0) }
    }

    /// Text messages that were not an event the server sends (counted, never dropped silently).
    private(set) var unparsable = 0

    func close() {
        tcp?.close()
    }

    func connectionDidOpen(_ connection: TCPConnection) {
        tcp = connection
        let request = "GET /ws HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
        Array(request.utf8).withUnsafeBytes { connection.write($0) }
    }

    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        if parser == nil {
            handshake += bytes
            guard let end = handshake.firstRange(of: [13, 10, 13, 10]) else {
                if handshake.count > 16 * 1024 { connection.close() }
                return
            }
            let head = String(decoding: handshake[..<end.lowerBound], as: UTF8.self)
            let expected = "Sec-WebSocket-Accept: " + WebSocketHandshake.acceptValue(forKey: key)
            guard head.hasPrefix("HTTP/1.1 101"), head.lowercased().contains(expected.lowercased()) else {
                connection.close()
                return
            }
            parser = WebSocketParser(requireMasked: false, maxMessageBytes: 1 << 20)
            let rest = Array(handshake[end.upperBound...])
            handshake = []
            delegate?.webSocketDidOpen(self)
            if !rest.isEmpty { rest.withUnsafeBytes { self.connection(connection, didRead: $0) } }
            return
        }
        let output = parser!.feed(bytes)
        guard output.error == nil else {
            connection.close()
            return
        }
        for message in output.messages {
            switch message {
            case .text(let text):
                if let event = ServerEvent.parse(Array(text.utf8)) {
                    delegate?.webSocket(self, didReceive: event)
                } else {
                    unparsable += 1
                }
            case .ping(let data):
                WebSocketParser.frame(.pong, data, maskKey: nextMask()).withUnsafeBytes { connection.write($0) }
            case .close:
                connection.close()
            case .binary, .pong:
                break
            }
        }
    }

    func connectionWritabilityChanged(_ connection: TCPConnection) {}

    /// A fresh masking key for each client frame (RFC 6455 5.3).
    private func nextMask() -> [UInt8] {
        (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    func connectionDidClose(_ connection: TCPConnection, reason: CloseReason) {
        tcp = nil
        delegate?.webSocketDidClose(self)
    }
}
