/// Everything a Wire endpoint needs: identity, secret, limits and timeouts.
public struct WireConfiguration: Sendable {
    /// Identity and secret for the handshake.
    public var handshake: HandshakeConfiguration
    /// Frame size limits enforced on input.
    public var limits: FrameLimits
    /// Payloads at least this long are LZ4-compressed when that saves bytes.
    public var compressionThreshold: Int
    /// Socket-level watermarks and idle timeout.
    public var connection: ConnectionOptions
    /// The handshake must complete within this many ns (default 5 s).
    public var handshakeTimeout: UInt64

    /// A configuration with the documented defaults.
    public init(
        handshake: HandshakeConfiguration,
        limits: FrameLimits = FrameLimits(),
        compressionThreshold: Int = 512,
        connection: ConnectionOptions = ConnectionOptions(),
        handshakeTimeout: UInt64 = Nanoseconds.seconds(5)
    ) {
        self.handshake = handshake
        self.limits = limits
        self.compressionThreshold = compressionThreshold
        self.connection = connection
        self.handshakeTimeout = handshakeTimeout
    }
}
