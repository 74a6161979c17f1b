/// Everything that can go wrong on the wire. Each case has a stable numeric code that is
/// sent in `Error` frames and documented in docs/wire.md.
///
/// ONLY APPEND TO THIS LIST: the numeric values are part of the protocol.
public enum WireError: Error, Equatable, Sendable {
    /// The frame header names a protocol version this node does not speak.
    case unsupportedVersion(UInt8)
    /// The frame's declared payload length is over the configured maximum.
    case frameTooLarge(length: UInt32, limit: Int)
    /// The frame header names a message type this node does not know.
    case unknownMessageType(UInt16)
    /// A payload ended before all its fields were read.
    case truncated
    /// A varint is longer than 10 bytes or does not fit in 64 bits.
    case varintOverflow
    /// A string field is not valid UTF-8.
    case invalidUTF8
    /// An LZ4 payload does not decompress to its declared size.
    case corruptCompressedPayload
    /// An LZ4 payload declares a decompressed size over the configured maximum.
    case decompressedTooLarge(declared: UInt64, limit: Int)
    /// A frame other than the handshake arrived before the handshake succeeded.
    case notAuthenticated
    /// The peer's proof does not match: it does not know the cluster secret.
    case authenticationFailed
    /// The peer belongs to a different cluster.
    case clusterMismatch(String)
    /// Reserved flag bits are set in the frame header.
    case reservedFlags(UInt8)
    /// A payload has bytes left over after its last field.
    case trailingBytes(Int)
    /// A message arrived that is not valid in the current protocol state.
    case unexpectedMessage(UInt16)
    /// Nothing was received for longer than the idle timeout.
    case idleTimeout
    /// The peer reads too slowly: its outbound buffer passed the hard limit.
    case slowConsumer
    /// A field holds a value outside its documented range.
    case invalidField(String)
    /// The handshake did not complete in time.
    case handshakeTimeout
    /// The stream ended in the middle of a frame.
    case truncatedFrame(bufferedBytes: Int)
    /// The peer sent an `Error` frame; the code and message are the peer's.
    case remote(code: UInt16, message: String)

    /// The stable code sent on the wire for this error.
    public var code: UInt16 {
        switch self {
        case .unsupportedVersion: 1
        case .frameTooLarge: 2
        case .unknownMessageType: 3
        case .truncated: 4
        case .varintOverflow: 5
        case .invalidUTF8: 6
        case .corruptCompressedPayload: 7
        case .decompressedTooLarge: 8
        case .notAuthenticated: 9
        case .authenticationFailed: 10
        case .clusterMismatch: 11
        case .reservedFlags: 12
        case .trailingBytes: 13
        case .unexpectedMessage: 14
        case .idleTimeout: 15
        case .slowConsumer: 16
        case .invalidField: 17
        case .handshakeTimeout: 18
        case .truncatedFrame: 19
        case .remote(let code, _): code
        }
    }

    /// A short human-readable explanation, sent alongside the code.
    public var message: String {
        switch self {
        case .unsupportedVersion(let version): "unsupported protocol version \(version)"
        case .frameTooLarge(let length, let limit): "frame payload of \(length) bytes exceeds limit \(limit)"
        case .unknownMessageType(let type): "unknown message type \(type)"
        case .truncated: "payload truncated"
        case .varintOverflow: "varint overflow"
        case .invalidUTF8: "invalid UTF-8 in string field"
        case .corruptCompressedPayload: "corrupt LZ4 payload"
        case .decompressedTooLarge(let declared, let limit): "decompressed size \(declared) exceeds limit \(limit)"
        case .notAuthenticated: "handshake required before any other frame"
        case .authenticationFailed: "authentication failed"
        case .clusterMismatch(let name): "wrong cluster \(name)"
        case .reservedFlags(let flags): "reserved flag bits set: \(flags)"
        case .trailingBytes(let count): "\(count) unexpected bytes after the last field"
        case .unexpectedMessage(let type): "message type \(type) not valid now"
        case .idleTimeout: "idle timeout"
        case .slowConsumer: "peer too slow: outbound buffer over limit"
        case .invalidField(let field): "invalid field \(field)"
        case .handshakeTimeout: "handshake timeout"
        case .truncatedFrame(let count): "stream ended inside a frame (\(count) bytes buffered)"
        case .remote(_, let message): message
        }
    }
}
