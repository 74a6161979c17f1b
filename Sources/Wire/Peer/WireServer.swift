/// Accepts Wire connections on every loop of a group. Each accepted connection gets its own
/// `WirePeer` (accepting side of the handshake) and a delegate from `makeDelegate`.
public final class WireServer: Sendable {
    private let tcp: TCPServer

    /// The bound address (the real port when 0 was asked for).
    public var address: SocketAddress { tcp.address }

    /// Binds and starts accepting.
    public init(
        group: EventLoopGroup,
        address: SocketAddress,
        configuration: WireConfiguration,
        makeDelegate: @escaping @Sendable (WirePeer) -> any WirePeerDelegate
    ) throws {
        tcp = try TCPServer(group: group, address: address, options: configuration.connection) { loop in
            let peer = WirePeer(side: .accepting, configuration: configuration, loop: loop, delegate: nil)
            peer.delegate = makeDelegate(peer)
            return peer
        }
    }

    /// Stops accepting; open connections stay open.
    public func close() {
        tcp.close()
    }
}
