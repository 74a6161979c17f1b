import CLinux
import Glibc

/// Why a connection closed.
public enum CloseReason: Equatable, Sendable {
    /// This side called `close`.
    case local
    /// The peer closed its end.
    case peerClosed
    /// A protocol rule was broken (by either side); the error says which.
    case protocolError(WireError)
    /// A system call failed.
    case systemError(operation: String, errno: Int32)
}

/// Per-connection limits and timeouts.
public struct ConnectionOptions: Sendable {
    /// Above this many pending output bytes the connection reports itself not writable,
    /// and producers should pause (default 1 MiB).
    public var highWatermark: Int
    /// Once pending output falls to this, the connection is writable again (default 256 KiB).
    public var lowWatermark: Int
    /// Past this many pending output bytes the peer is cut off as too slow (default 8 MiB).
    public var maxPendingBytes: Int
    /// Close after this long without receiving anything, in ns; 0 disables (default 60 s).
    public var idleTimeout: UInt64

    /// Options with the documented defaults.
    public init(highWatermark: Int = 1 << 20, lowWatermark: Int = 256 << 10, maxPendingBytes: Int = 8 << 20,
                idleTimeout: UInt64 = Nanoseconds.seconds(60)) {
        precondition(lowWatermark <= highWatermark && highWatermark <= maxPendingBytes, "watermarks out of order")
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.maxPendingBytes = maxPendingBytes
        self.idleTimeout = idleTimeout
    }
}

/// What a connection tells its owner. All calls arrive on the connection's loop thread.
public protocol ConnectionHandler: AnyObject {
    /// The connection is open (accepted, or an outbound connect completed).
    func connectionDidOpen(_ connection: TCPConnection)
    /// Bytes arrived; the view is valid only during the call.
    func connection(_ connection: TCPConnection, didRead bytes: UnsafeRawBufferPointer)
    /// `isWritable` changed: pause producing when false, resume when true.
    func connectionWritabilityChanged(_ connection: TCPConnection)
    /// The connection is closed; called exactly once.
    func connectionDidClose(_ connection: TCPConnection, reason: CloseReason)
}

/// A non-blocking TCP connection on one event loop. Reads go to the handler as views into
/// the loop's shared read buffer; writes are buffered and flushed once per loop iteration
/// with `writev`; pending output is bounded by watermarks and a hard limit.
public final class TCPConnection: Selectable {
    private enum State { case connecting, open, closed }

    /// The loop this connection is confined to.
    public let loop: EventLoop
    /// The options it was created with.
    public let options: ConnectionOptions
    /// The peer's address.
    public let remoteAddress: SocketAddress?
    /// Who gets the events. Set before the connection opens; dropped after close.
    public var handler: (any ConnectionHandler)?

    private let fd: Int32
    private var state: State
    private let outbound: OutboundBuffer
    private var flushQueued = false
    private var closeWhenFlushed = false
    private var readingPaused = false
    private var waitingForWritable = false
    private var lastReadAt: UInt64
    private var idleTimer: TimerID?

    /// False while pending output is above the high watermark (until it drains to the low one).
    public private(set) var isWritable = true

    /// Output bytes not yet taken by the kernel.
    public var pendingOutputBytes: Int { outbound.count }

    /// True once closed.
    public var isClosed: Bool { state == .closed }

    private init(fd: Int32, loop: EventLoop, options: ConnectionOptions, state: State, remote: SocketAddress?) {
        self.fd = fd
        self.loop = loop
        self.options = options
        self.state = state
        self.remoteAddress = remote
        self.outbound = OutboundBuffer(pool: loop.chunkPool)
        self.lastReadAt = loop.now
    }

    /// Wraps an accepted socket; call on `loop`. The handler is told `connectionDidOpen`.
    static func accepted(fd: Int32, loop: EventLoop, options: ConnectionOptions, handler: any ConnectionHandler) -> TCPConnection {
        loop.assertInLoop()
        Socket.setNoDelay(fd)
        let connection = TCPConnection(fd: fd, loop: loop, options: options, state: .open, remote: Socket.peerAddress(fd))
        connection.handler = handler
        loop.register(fd, events: connection.interest, connection)
        connection.armIdleTimer()
        handler.connectionDidOpen(connection)
        return connection
    }

    /// Starts connecting to `address`; the handler hears `connectionDidOpen` or
    /// `connectionDidClose(.systemError("connect", ...))`. Call on `loop`.
    public static func connect(to address: SocketAddress, on loop: EventLoop, options: ConnectionOptions = ConnectionOptions(),
                               from source: SocketAddress? = nil, handler: any ConnectionHandler) -> TCPConnection {
        loop.assertInLoop()
        let fd: Int32
        do {
            fd = try Socket.makeTCP()
            if let source { try Socket.bindSource(fd, source) }
        } catch {
            let failed = TCPConnection(fd: -1, loop: loop, options: options, state: .closed, remote: address)
            loop.execute { [failed = UncheckedBox(failed), handler = UncheckedBox(handler)] in
                handler.value.connectionDidClose(failed.value, reason: .systemError(operation: error.operation, errno: error.errno))
            }
            return failed
        }
        Socket.setNoDelay(fd)
        let connection = TCPConnection(fd: fd, loop: loop, options: options, state: .connecting, remote: address)
        connection.handler = handler
        let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        let error = result == 0 ? 0 : sb_errno()
        loop.register(fd, events: EPOLLOUT.rawValue, connection)
        if result != 0 && error != EINPROGRESS {
            // Report on the next iteration so the caller has the connection object first.
            loop.execute { [box = UncheckedBox(connection)] in
                box.value.close(reason: .systemError(operation: "connect", errno: error))
            }
        }
        return connection
    }

    // MARK: writing

    /// Queues bytes for sending; they leave at the end of this loop iteration.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        loop.assertInLoop()
        guard state != .closed, !closeWhenFlushed else { return }
        outbound.append(bytes)
        if outbound.count > options.maxPendingBytes {
            close(reason: .protocolError(.slowConsumer))
            return
        }
        if !flushQueued && state == .open && !waitingForWritable {
            flushQueued = true
            loop.scheduleFlush(self)
        }
        if isWritable && outbound.count >= options.highWatermark {
            isWritable = false
            handler?.connectionWritabilityChanged(self)
        }
    }

    /// Queues the writer's bytes for sending.
    public func write(_ writer: ByteWriter) {
        writer.bytes.withUnsafeBytes { write($0) }
    }

    /// Closes once everything queued has been written (used after sending an error frame).
    /// Reading stops at once; a peer that never reads is cut off by `deadline`.
    public func closeAfterFlush(deadline: UInt64 = Nanoseconds.seconds(2)) {
        loop.assertInLoop()
        guard state != .closed else { return }
        closeWhenFlushed = true
        pauseReading()
        if outbound.isEmpty {
            close(reason: .local)
        } else {
            loop.scheduleTimer(at: loop.now + deadline) { [weak self] in self?.close(reason: .local) }
        }
    }

    // MARK: reading control

    /// Stops reading from the socket (the kernel buffer fills and the peer's writes block).
    public func pauseReading() {
        loop.assertInLoop()
        guard !readingPaused else { return }
        readingPaused = true
        updateInterest()
    }

    /// Resumes reading.
    public func resumeReading() {
        loop.assertInLoop()
        guard readingPaused, !closeWhenFlushed else { return }
        readingPaused = false
        updateInterest()
    }

    // MARK: closing

    /// Closes now, dropping unsent output, and tells the handler why.
    public func close(reason: CloseReason = .local) {
        loop.assertInLoop()
        guard state != .closed else { return }
        state = .closed
        if let idleTimer { loop.cancelTimer(idleTimer) }
        if fd >= 0 {
            loop.deregister(fd)
            Glibc.close(fd)
        }
        let handler = self.handler
        self.handler = nil
        handler?.connectionDidClose(self, reason: reason)
    }

    // MARK: loop callbacks

    func handleEvents(_ events: UInt32) {
        if state == .connecting {
            finishConnect()
            return
        }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 && !readingPaused {
            readAvailable()
        }
        if state == .open && events & EPOLLOUT.rawValue != 0 {
            waitingForWritable = false
            flushNow()
        }
        if state == .open && readingPaused && events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
            let error = Socket.pendingError(fd)
            close(reason: error == 0 ? .peerClosed : .systemError(operation: "socket", errno: error))
        }
    }

    func flushScheduled() {
        flushQueued = false
        if state == .open && !waitingForWritable { flushNow() }
    }

    private var interest: UInt32 {
        var events: UInt32 = 0
        if !readingPaused { events |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if waitingForWritable { events |= EPOLLOUT.rawValue }
        return events
    }

    private func updateInterest() {
        guard state == .open else { return }
        loop.modify(fd, events: interest)
    }

    private func finishConnect() {
        let error = Socket.pendingError(fd)
        guard error == 0 else {
            close(reason: .systemError(operation: "connect", errno: error))
            return
        }
        state = .open
        lastReadAt = loop.now
        updateInterest()
        armIdleTimer()
        handler?.connectionDidOpen(self)
        if !outbound.isEmpty { flushNow() }
    }

    private func readAvailable() {
        let buffer = loop.readBuffer
        // A bounded number of reads per wakeup keeps one busy peer from starving the others.
        for _ in 0..<4 {
            let count = read(fd, buffer.baseAddress, buffer.count)
            if count > 0 {
                lastReadAt = loop.now
                handler?.connection(self, didRead: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                if state != .open || readingPaused || count < buffer.count { return }
            } else if count == 0 {
                close(reason: .peerClosed)
                return
            } else {
                let error = sb_errno()
                if error == EINTR { continue }
                if error != EAGAIN && error != EWOULDBLOCK {
                    close(reason: .systemError(operation: "read", errno: error))
                }
                return
            }
        }
    }

    private func flushNow() {
        guard !outbound.isEmpty else {
            finishFlush()
            return
        }
        let result = outbound.flush { vectors, count in
            let written = writev(fd, vectors, count)
            return (written, written < 0 ? sb_errno() : 0)
        }
        switch result {
        case .drained:
            finishFlush()
        case .wouldBlock:
            if !waitingForWritable {
                waitingForWritable = true
                updateInterest()
            }
            restoreWritabilityIfDrained()
        case .failed(let error):
            close(reason: error == EPIPE || error == ECONNRESET ? .peerClosed : .systemError(operation: "writev", errno: error))
        }
    }

    private func finishFlush() {
        if waitingForWritable {
            waitingForWritable = false
            updateInterest()
        }
        restoreWritabilityIfDrained()
        if closeWhenFlushed && outbound.isEmpty { close(reason: .local) }
    }

    private func restoreWritabilityIfDrained() {
        if !isWritable && outbound.count <= options.lowWatermark && state == .open {
            isWritable = true
            handler?.connectionWritabilityChanged(self)
        }
    }

    private func armIdleTimer() {
        guard options.idleTimeout > 0 else { return }
        idleTimer = loop.scheduleTimer(at: lastReadAt + options.idleTimeout) { [weak self] in self?.checkIdle() }
    }

    private func checkIdle() {
        guard state == .open else { return }
        if loop.now >= lastReadAt + options.idleTimeout {
            close(reason: .protocolError(.idleTimeout))
        } else {
            armIdleTimer()
        }
    }
}

@available(*, unavailable)
extension TCPConnection: Sendable {}

/// Carries a loop-confined value through an `execute` or `submitAndWait` closure. Only
/// for values that are touched on their own loop thread alone, whichever thread carries them.
public struct UncheckedBox<Value>: @unchecked Sendable {
    /// The carried value.
    public let value: Value
    /// Wraps a value.
    public init(_ value: Value) { self.value = value }
}
