import CLinux
import Glibc
import Synchronization

/// Listens on one address with one listening socket per event loop (SO_REUSEPORT), so the
/// kernel spreads new connections over the loops and no accepted socket changes thread.
public final class TCPServer: Sendable {
    /// The address actually bound (the real port when 0 was asked for).
    public let address: SocketAddress
    private let listeners: [UncheckedBox<Listener>]

    /// Binds and starts accepting on every loop of `group`. `makeHandler` is called on the
    /// accepting loop for each new connection.
    public convenience init(
        group: EventLoopGroup,
        address requested: SocketAddress,
        options: ConnectionOptions = ConnectionOptions(),
        backlog: Int32 = 1024,
        makeHandler: @escaping @Sendable (EventLoop) -> any ConnectionHandler
    ) throws {
        try self.init(loops: group.loops, address: requested, options: options, backlog: backlog, makeHandler: makeHandler)
    }

    /// Binds and starts accepting on `loops` (from any thread, that of one of them included:
    /// a component running on a loop can open a listener of its own).
    public init(
        loops: [EventLoop],
        address requested: SocketAddress,
        options: ConnectionOptions = ConnectionOptions(),
        backlog: Int32 = 1024,
        makeHandler: @escaping @Sendable (EventLoop) -> any ConnectionHandler
    ) throws {
        var bound = requested
        var made: [UncheckedBox<Listener>] = []
        for loop in loops {
            let fd = try Self.listen(on: bound, backlog: backlog)
            if bound.port == 0, let actual = Socket.localAddress(fd) { bound = actual }
            let listener = Listener(fd: fd, loop: loop, options: options, makeHandler: makeHandler)
            if loop.inEventLoop {
                listener.start()
            } else {
                try loop.submitAndWait { [box = UncheckedBox(listener)] in box.value.start() }
            }
            made.append(UncheckedBox(listener))
        }
        address = bound
        listeners = made
    }

    /// Stops accepting; open connections are not touched.
    public func close() {
        for box in listeners {
            let listener = box.value
            if listener.loop.inEventLoop {
                listener.stop()
            } else {
                _ = try? listener.loop.submitAndWait { [box] in box.value.stop() }
            }
        }
    }

    private static func listen(on address: SocketAddress, backlog: Int32) throws -> Int32 {
        let fd = try Socket.makeTCP()
        Socket.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
        Socket.setOption(fd, level: SOL_SOCKET, name: SO_REUSEPORT, value: 1)
        let bound = address.withSockAddr { bind(fd, $0, $1) }
        guard bound == 0 else {
            let error = sb_errno()
            Glibc.close(fd)
            throw SocketError(operation: "bind \(address)", errno: error)
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = sb_errno()
            Glibc.close(fd)
            throw SocketError(operation: "listen", errno: error)
        }
        return fd
    }
}

/// One listening socket on one loop.
private final class Listener: Selectable {
    let fd: Int32
    let loop: EventLoop
    let options: ConnectionOptions
    let makeHandler: @Sendable (EventLoop) -> any ConnectionHandler
    private var active = false
    private var retryTimer: TimerID?

    init(fd: Int32, loop: EventLoop, options: ConnectionOptions, makeHandler: @escaping @Sendable (EventLoop) -> any ConnectionHandler) {
        self.fd = fd
        self.loop = loop
        self.options = options
        self.makeHandler = makeHandler
    }

    func start() {
        active = true
        loop.register(fd, events: EPOLLIN.rawValue, self)
    }

    func stop() {
        guard active else { return }
        active = false
        if let retryTimer { loop.cancelTimer(retryTimer) }
        loop.deregister(fd)
        Glibc.close(fd)
    }

    func handleEvents(_ events: UInt32) {
        // Accept a bounded batch per wakeup so a connect storm cannot starve open connections.
        for _ in 0..<64 {
            let client = sb_accept(fd)
            if client >= 0 {
                _ = TCPConnection.accepted(fd: client, loop: loop, options: options, handler: makeHandler(loop))
                continue
            }
            let error = sb_errno()
            if error == EINTR || error == ECONNABORTED { continue }
            if error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM {
                // Out of descriptors: stop polling the listener for a moment instead of
                // spinning on a readiness we cannot act on.
                loop.modify(fd, events: 0)
                retryTimer = loop.scheduleTimer(at: loop.now + Nanoseconds.milliseconds(100)) { [weak self] in
                    guard let self, self.active else { return }
                    self.loop.modify(self.fd, events: EPOLLIN.rawValue)
                }
            }
            return
        }
    }
}
