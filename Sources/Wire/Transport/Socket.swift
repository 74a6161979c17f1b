import CLinux
import Glibc

/// Thin wrappers over the socket system calls the transport needs; each returns the errno
/// on failure so callers can say which call failed.
/// A failed system call: which one, and errno.
public struct SocketError: Error, Equatable, Sendable {
    /// The call (and its target) that failed, e.g. "bind 127.0.0.1:7400".
    public var operation: String
    /// The errno it failed with.
    public var errno: Int32
}

enum Socket {
    static func makeTCP() throws(SocketError) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(operation: "socket", errno: sb_errno()) }
        return fd
    }

    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Small frames must leave at once: Nagle's algorithm would add up to 40 ms.
    static func setNoDelay(_ fd: Int32) {
        setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
    }

    /// Binds an outgoing socket to a local address (its port picked at connect). A load
    /// generator spreads its connections over many loopback addresses this way, since one
    /// source address has only ~28,000 ephemeral ports towards one server.
    static func bindSource(_ fd: Int32, _ source: SocketAddress) throws(SocketError) {
        // IP_BIND_ADDRESS_NO_PORT (24): choose the port at connect, so ports are shared
        // between different destinations instead of reserved at bind.
        setOption(fd, level: Int32(IPPROTO_IP), name: 24, value: 1)
        guard source.withSockAddr({ bind(fd, $0, $1) }) == 0 else {
            let error = sb_errno()
            close(fd)
            throw SocketError(operation: "bind \(source)", errno: error)
        }
    }

    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)
        return value
    }

    static func localAddress(_ fd: Int32) -> SocketAddress? {
        var raw = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &raw) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(raw) : nil
    }

    static func peerAddress(_ fd: Int32) -> SocketAddress? {
        var raw = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &raw) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(raw) : nil
    }
}
