import CLinux
import Glibc

/// A UDP socket on an event loop: every datagram that arrives is handed to `onDatagram` on
/// the loop thread (read until the socket is empty); `send` writes one datagram at once,
/// and one the kernel cannot take now is dropped and counted, as UDP would lose it anyway.
/// What membership probes and gossip travel on: TCP's retransmissions would turn a slow
/// member into a dead one.
///
/// Loop-confined: create, use and close it on its loop.
public final class UDPSocket: Selectable {
    /// The loop it runs on.
    public let loop: EventLoop
    /// The address bound (the real port when 0 was asked for).
    public let address: SocketAddress
    /// Datagrams the kernel would not take (its buffer full) or that failed to send.
    public private(set) var sendFailures = 0
    private let fd: Int32
    private var closed = false
    private let onDatagram: (UnsafeRawBufferPointer, SocketAddress) -> Void

    /// Binds `requested` and starts reading. Call on `loop`.
    public init(loop: EventLoop, address requested: SocketAddress,
                onDatagram: @escaping (UnsafeRawBufferPointer, SocketAddress) -> Void) throws(SocketError) {
        loop.assertInLoop()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket (udp)", errno: sb_errno()) }
        guard requested.withSockAddr({ bind(fd, $0, $1) }) == 0 else {
            let error = sb_errno()
            Glibc.close(fd)
            throw SocketError(operation: "bind udp \(requested)", errno: error)
        }
        self.fd = fd
        self.loop = loop
        self.onDatagram = onDatagram
        address = Socket.localAddress(fd) ?? requested
        loop.register(fd, events: EPOLLIN.rawValue, self)
    }

    /// Sends `bytes` as one datagram to `destination`.
    public func send(_ bytes: [UInt8], to destination: SocketAddress) {
        loop.assertInLoop()
        guard !closed else { return }
        let sent = bytes.withUnsafeBytes { raw in
            destination.withSockAddr { sendto(fd, raw.baseAddress, raw.count, Int32(MSG_DONTWAIT), $0, $1) }
        }
        if sent != bytes.count { sendFailures += 1 }
    }

    /// Stops reading and closes the socket.
    public func close() {
        loop.assertInLoop()
        guard !closed else { return }
        closed = true
        loop.deregister(fd)
        Glibc.close(fd)
    }

    func handleEvents(_ events: UInt32) {
        let buffer = loop.readBuffer
        // At most 64 datagrams a wakeup: a flood must not starve everything else on the loop
        // (epoll is level-triggered: the rest are read on the next turn).
        for _ in 0..<64 where !closed {
            var source = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = withUnsafeMutablePointer(to: &source) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT), $0, &length)
                }
            }
            guard count >= 0 else { return }  // EAGAIN: nothing more now (or an error to try again on)
            onDatagram(UnsafeRawBufferPointer(rebasing: buffer[0..<count]), SocketAddress(source))
        }
    }
}
