/// The fixed 12-byte header in front of every frame (docs/wire.md, "Frame").
///
/// ```
/// 0       1       2               4                               8                              12
/// +-------+-------+---------------+-------------------------------+-------------------------------+
/// |version| flags | message type  |  payload length (big-endian)  | correlation id (big-endian)   |
/// +-------+-------+---------------+-------------------------------+-------------------------------+
/// ```
public struct FrameHeader: Equatable, Sendable {
    /// Header length in bytes.
    public static let size = 12
    /// The only frame version this build speaks.
    public static let currentVersion: UInt8 = 1

    /// Frame format version.
    public var version: UInt8
    /// Flag bits; see `FrameFlags`.
    public var flags: FrameFlags
    /// The message type (raw value of `MessageType`).
    public var type: UInt16
    /// Length of the payload as sent (compressed length when `flags` has `.lz4`).
    public var payloadLength: UInt32
    /// Pairs a response with its request; 0 when the frame is not part of an exchange.
    public var correlationID: UInt32

    /// A header for the current version.
    public init(type: UInt16, flags: FrameFlags = [], payloadLength: UInt32, correlationID: UInt32) {
        self.version = Self.currentVersion
        self.flags = flags
        self.type = type
        self.payloadLength = payloadLength
        self.correlationID = correlationID
    }

    /// Reads and validates a header from the first 12 bytes of `bytes`; nil when fewer
    /// than 12 bytes are there. Checks the version, the flags, the type and the length
    /// limit, so an oversized frame is rejected before anything is buffered for it.
    public static func parse(_ bytes: UnsafeRawBufferPointer, limits: FrameLimits) throws(WireError) -> FrameHeader? {
        guard bytes.count >= size else { return nil }
        var reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[0..<size]))
        let version = try reader.readUInt8()
        guard version == currentVersion else { throw .unsupportedVersion(version) }
        let rawFlags = try reader.readUInt8()
        let flags = FrameFlags(rawValue: rawFlags)
        guard flags.subtracting(.known).isEmpty else { throw .reservedFlags(rawFlags) }
        let type = try reader.readUInt16()
        guard MessageType(rawValue: type) != nil else { throw .unknownMessageType(type) }
        let length = try reader.readUInt32()
        guard length <= limits.maxFrameSize else { throw .frameTooLarge(length: length, limit: limits.maxFrameSize) }
        let correlationID = try reader.readUInt32()
        return FrameHeader(type: type, flags: flags, payloadLength: length, correlationID: correlationID)
    }

    /// Appends the 12 header bytes.
    public func write(into writer: inout ByteWriter) {
        writer.writeUInt8(version)
        writer.writeUInt8(flags.rawValue)
        writer.writeUInt16(type)
        writer.writeUInt32(payloadLength)
        writer.writeUInt32(correlationID)
    }
}

/// Frame header flag bits. Unknown bits are rejected, so a future flag cannot be
/// silently ignored by an old node.
public struct FrameFlags: OptionSet, Sendable, Hashable {
    /// Raw flag byte.
    public let rawValue: UInt8
    /// Creates flags from the raw byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The payload is `varint(decompressed length)` followed by an LZ4 block.
    public static let lz4 = FrameFlags(rawValue: 1 << 0)
    /// Every flag this version understands.
    public static let known: FrameFlags = [.lz4]
}

/// Hard limits applied by decoders before any allocation.
public struct FrameLimits: Sendable, Equatable {
    /// Largest payload accepted on the wire, in bytes (default 1 MiB).
    public var maxFrameSize: Int
    /// Largest payload accepted after LZ4 decompression, in bytes (default 1 MiB).
    public var maxDecompressedSize: Int

    /// Limits with the documented defaults.
    public init(maxFrameSize: Int = 1 << 20, maxDecompressedSize: Int = 1 << 20) {
        self.maxFrameSize = maxFrameSize
        self.maxDecompressedSize = maxDecompressedSize
    }
}
