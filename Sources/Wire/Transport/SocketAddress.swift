import CLinux
import Glibc

/// An IPv4 address and port. Switchboard nodes talk over IPv4 (loopback in tests and load
/// runs, private networks in deployments).
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// Dotted-quad host.
    public let host: String
    /// TCP port.
    public let port: UInt16
    let storage: sockaddr_in

    /// Parses "a.b.c.d" (or "localhost") and a port; nil for anything else.
    public init?(host: String, port: UInt16) {
        let numeric = host == "localhost" ? "127.0.0.1" : host
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, numeric, &address.sin_addr) == 1 else { return nil }
        self.host = numeric
        self.port = port
        self.storage = address
    }

    /// Parses "host:port".
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        self.init(host: String(text[..<colon]), port: port)
    }

    init(_ raw: sockaddr_in) {
        var raw = raw
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &raw.sin_addr, &buffer, socklen_t(buffer.count))
        host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        port = UInt16(bigEndian: raw.sin_port)
        storage = raw
    }

    /// "host:port".
    public var description: String { "\(host):\(port)" }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        lhs.host == rhs.host && lhs.port == rhs.port
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(host)
        hasher.combine(port)
    }

    /// Calls `body` with this address as a C `sockaddr` (for connect, bind).
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var raw = storage
        return withUnsafePointer(to: &raw) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
