/// An outbound Wire connection that keeps itself up: after a failed connect or a lost
/// connection it tries again after a capped exponential backoff with jitter, until stopped.
/// Loop-confined: create, start and stop it on `loop`.
public final class WireClient: WirePeerDelegate {
    /// The loop it lives on.
    public let loop: EventLoop
    /// Where it connects.
    public let address: SocketAddress
    /// Receives the events of every connection it makes.
    public var delegate: (any WirePeerDelegate)?
    /// The current connection once its handshake succeeded; nil while reconnecting.
    public private(set) var peer: WirePeer?
    /// Connections attempted so far (1 for the first).
    public private(set) var attempts = 0

    private let configuration: WireConfiguration
    private var backoff: Backoff
    private var rng: SplitMix64
    private var pending: WirePeer?
    private var retryTimer: TimerID?
    private var stopped = true

    /// A client; `seed` makes the jitter repeatable in tests.
    public init(loop: EventLoop, address: SocketAddress, configuration: WireConfiguration,
                backoff: Backoff = Backoff(), seed: UInt64 = UInt64.random(in: 0...UInt64.max),
                delegate: (any WirePeerDelegate)?) {
        self.loop = loop
        self.address = address
        self.configuration = configuration
        self.backoff = backoff
        self.rng = SplitMix64(seed: seed)
        self.delegate = delegate
    }

    /// Starts connecting.
    public func start() {
        loop.assertInLoop()
        guard stopped else { return }
        stopped = false
        connect()
    }

    /// Stops reconnecting and closes the current connection.
    public func stop() {
        loop.assertInLoop()
        stopped = true
        if let retryTimer { loop.cancelTimer(retryTimer) }
        retryTimer = nil
        (peer ?? pending)?.close()
    }

    private func connect() {
        attempts += 1
        let attempt = WirePeer(side: .connecting, configuration: configuration, loop: loop, delegate: self)
        pending = attempt
        _ = TCPConnection.connect(to: address, on: loop, options: configuration.connection, handler: attempt)
    }

    public func peerDidEstablish(_ peer: WirePeer) {
        backoff.reset()
        pending = nil
        self.peer = peer
        delegate?.peerDidEstablish(peer)
    }

    public func peer(_ peer: WirePeer, didReceive header: FrameHeader, payload: UnsafeRawBufferPointer) {
        delegate?.peer(peer, didReceive: header, payload: payload)
    }

    public func peerWritabilityChanged(_ peer: WirePeer) {
        delegate?.peerWritabilityChanged(peer)
    }

    public func peerDidClose(_ closed: WirePeer, reason: CloseReason) {
        if closed === peer { peer = nil }
        if closed === pending { pending = nil }
        delegate?.peerDidClose(closed, reason: reason)
        guard !stopped else { return }
        let delay = backoff.nextDelay(using: &rng)
        retryTimer = loop.scheduleTimer(at: loop.now + delay) { [weak self] in
            guard let self, !self.stopped else { return }
            self.retryTimer = nil
            self.connect()
        }
    }
}

@available(*, unavailable)
extension WireClient: Sendable {}
