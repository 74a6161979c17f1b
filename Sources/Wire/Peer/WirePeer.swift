/// What a Wire peer tells the application. All calls arrive on the peer's loop thread.
public protocol WirePeerDelegate: AnyObject {
    /// The handshake succeeded; `peer.identity` is set and frames may be sent.
    func peerDidEstablish(_ peer: WirePeer)
    /// An application frame arrived (control frames, ping/pong and errors, are handled by
    /// the peer). The payload is decompressed and valid only during the call; decode it with
    /// `WireMessage.decode(type:payload:)` or use the bytes directly.
    func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer)
    /// `peer.isWritable` changed.
    func peerWritabilityChanged(_ peer: WirePeer)
    /// The connection closed; called exactly once.
    func peerDidClose(_ peer: WirePeer, reason: CloseReason)
}

/// One Wire connection: frames over TCP, the authenticated handshake first, then
/// application frames. Protocol errors are answered with an `Error` frame carrying the
/// code, then the connection closes; nothing else on the loop is affected.
public final class WirePeer: ConnectionHandler {
    /// The configuration in force.
    public let configuration: WireConfiguration
    /// Receives the events; held strongly until the connection closes, then released.
    public var delegate: (any WirePeerDelegate)?
    /// The TCP connection, once it exists.
    public private(set) var connection: TCPConnection?
    /// The authenticated peer, once the handshake succeeded.
    public private(set) var identity: PeerIdentity?

    private let loop: EventLoop
    private var handshake: Handshake
    private var decoder: FrameDecoder
    private var encoder: FrameEncoder
    private var output = ByteWriter(capacity: 4096)
    private var handshakeTimer: TimerID?
    private var keepaliveTimer: TimerID?
    private var keepaliveToken: UInt64 = 0
    private var failed = false
    /// The error this side reported before closing; it, not "local close", is the reason.
    private var failReason: WireError?

    /// A peer for one connection; `side` says who says hello first.
    public init(side: Handshake.Side, configuration: WireConfiguration, loop: EventLoop, delegate: (any WirePeerDelegate)?) {
        self.configuration = configuration
        self.loop = loop
        self.delegate = delegate
        var rng = SystemRandomNumberGenerator()
        let nonce = (0..<WireMessage.nonceSize).map { _ in UInt8.random(in: 0...255, using: &rng) }
        handshake = Handshake(side: side, configuration: configuration.handshake, nonce: nonce)
        decoder = FrameDecoder(limits: configuration.limits)
        encoder = FrameEncoder(compressionThreshold: configuration.compressionThreshold,
                               maxFrameSize: configuration.limits.maxFrameSize)
    }

    /// True when the handshake is done and the socket can take more output.
    public var isWritable: Bool { identity != nil && (connection?.isWritable ?? false) }

    /// Sends a message. Before the handshake completes this is a programming error.
    public func send(_ message: WireMessage, correlationID: UInt32 = 0) throws(WireError) {
        precondition(identity != nil, "send before the handshake completed")
        try sendUnchecked(message, correlationID: correlationID)
    }

    /// Sends a frame with an already encoded payload (the hot path: no message value is
    /// built, nothing is allocated).
    public func sendFrame(type: MessageType, correlationID: UInt32, payload: UnsafeRawBufferPointer) throws(WireError) {
        precondition(identity != nil, "send before the handshake completed")
        guard let connection else { return }
        output.clear()
        try encoder.encode(type: type, correlationID: correlationID, payload: payload, into: &output)
        connection.write(output)
    }

    /// Closes the connection.
    public func close() {
        connection?.close(reason: .local)
    }

    // MARK: ConnectionHandler

    public func connectionDidOpen(_ connection: TCPConnection) {
        self.connection = connection
        handshakeTimer = loop.scheduleTimer(at: loop.now + configuration.handshakeTimeout) { [weak self] in
            guard let self else { return }
            self.perform(self.handshake.onTimeout())
        }
        perform(handshake.start())
    }

    public func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer) {
        guard !failed else { return }
        do throws(WireError) {
            try decoder.decode(bytes) { header, payload in
                handleFrame(header, payload)
                return !failed
            }
        } catch {
            fail(error)
        }
    }

    public func connectionWritabilityChanged(_ connection: TCPConnection) {
        if identity != nil { delegate?.peerWritabilityChanged(self) }
    }

    public func connectionDidClose(_ connection: TCPConnection, reason: CloseReason) {
        if let handshakeTimer { loop.cancelTimer(handshakeTimer) }
        if let keepaliveTimer { loop.cancelTimer(keepaliveTimer) }
        var reason = reason
        if let failReason {
            reason = .protocolError(failReason)
        } else if case .peerClosed = reason, decoder.bufferedByteCount > 0 {
            reason = .protocolError(.truncatedFrame(bufferedBytes: decoder.bufferedByteCount))
        }
        let delegate = self.delegate
        self.delegate = nil
        self.connection = nil
        delegate?.peerDidClose(self, reason: reason)
    }

    // MARK: internals

    private func handleFrame(_ header: FrameHeader, _ payload: UnsafeRawBufferPointer) {
        let type = MessageType(rawValue: header.type)!  // FrameHeader.parse admits known types only
        if identity == nil {
            do throws(WireError) {
                perform(handshake.onMessage(try WireMessage.decode(type: header.type, payload: payload)))
            } catch {
                fail(error)
            }
            return
        }
        switch type {
        case .hello, .challenge, .authenticate, .welcome:
            fail(.unexpectedMessage(header.type))
        case .ping:
            do throws(WireError) {
                guard case .ping(let token) = try WireMessage.decode(type: header.type, payload: payload) else { return }
                try sendUnchecked(.pong(token: token), correlationID: header.correlationID)
            } catch {
                fail(error)
            }
        case .pong:
            break  // its arrival already reset the idle timer, which is all a keepalive is for
        case .error:
            if case .error(let code, let message)? = try? WireMessage.decode(type: header.type, payload: payload) {
                failed = true
                connection?.close(reason: .protocolError(.remote(code: code, message: message)))
            } else {
                fail(.invalidField("error"))
            }
        default:
            delegate?.peer(self, didReceive: header, payload: payload)
        }
    }

    private func perform(_ actions: [Handshake.Action]) {
        for action in actions {
            switch action {
            case .send(let message):
                try? sendUnchecked(message, correlationID: 0)
            case .established(let peer):
                identity = peer
                if let handshakeTimer { loop.cancelTimer(handshakeTimer) }
                handshakeTimer = nil
                scheduleKeepalive()
                delegate?.peerDidEstablish(self)
            case .fail(let error):
                fail(error)
            }
        }
    }

    /// An idle but healthy link must not hit the idle timeout at either end, so each side
    /// pings three times per idle period; a peer that stops answering is still cut.
    private func scheduleKeepalive() {
        let idle = configuration.connection.idleTimeout
        guard idle > 0, connection != nil else { return }
        keepaliveTimer = loop.scheduleTimer(at: loop.now + idle / 3) { [weak self] in
            guard let self, self.connection != nil, !self.failed else { return }
            self.keepaliveToken &+= 1
            try? self.sendUnchecked(.ping(token: self.keepaliveToken), correlationID: 0)
            self.scheduleKeepalive()
        }
    }

    private func sendUnchecked(_ message: WireMessage, correlationID: UInt32) throws(WireError) {
        guard let connection else { return }
        output.clear()
        try encoder.encode(message, correlationID: correlationID, into: &output)
        connection.write(output)
    }

    /// Tells the peer what went wrong (unless the error is the peer's own), then closes.
    private func fail(_ error: WireError) {
        guard !failed, let connection else { return }
        failed = true
        if case .remote = error {
            connection.close(reason: .protocolError(error))
            return
        }
        try? sendUnchecked(.error(code: error.code, message: error.message), correlationID: 0)
        failReason = error
        connection.closeAfterFlush()
    }
}

@available(*, unavailable)
extension WirePeer: Sendable {}
