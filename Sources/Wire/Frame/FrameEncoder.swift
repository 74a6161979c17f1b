/// Writes frames: header plus payload, LZ4-compressing payloads at or above
/// `compressionThreshold` when, and only when, that makes the frame smaller.
///
/// Holds a reusable scratch writer for message payloads, so encoding in steady state
/// allocates nothing.
public struct FrameEncoder: Sendable {
    /// Payloads shorter than this are never compressed (default 512 bytes).
    public var compressionThreshold: Int
    /// The largest payload this encoder will produce; peers reject larger frames.
    public var maxFrameSize: Int
    private var payloadScratch = ByteWriter(capacity: 1024)

    /// An encoder with the documented defaults.
    public init(compressionThreshold: Int = 512, maxFrameSize: Int = FrameLimits().maxFrameSize) {
        self.compressionThreshold = compressionThreshold
        self.maxFrameSize = maxFrameSize
    }

    /// Appends one frame carrying `payload` to `out`.
    public func encode(
        type: MessageType,
        correlationID: UInt32,
        payload: UnsafeRawBufferPointer,
        into out: inout ByteWriter
    ) throws(WireError) {
        let headerStart = out.count
        FrameHeader(type: type.rawValue, payloadLength: 0, correlationID: correlationID).write(into: &out)
        if payload.count >= compressionThreshold, appendCompressed(payload, into: &out) {
            out.setUInt8(FrameFlags.lz4.rawValue, at: headerStart + 1)
        } else {
            out.writeRaw(payload)
        }
        let payloadLength = out.count - headerStart - FrameHeader.size
        guard payloadLength <= maxFrameSize else {
            out.truncate(to: headerStart)
            throw .frameTooLarge(length: UInt32(clamping: payloadLength), limit: maxFrameSize)
        }
        out.setUInt32(UInt32(payloadLength), at: headerStart + 4)
    }

    /// Appends one frame carrying `message` to `out`.
    public mutating func encode(_ message: WireMessage, correlationID: UInt32 = 0, into out: inout ByteWriter) throws(WireError) {
        payloadScratch.clear()
        message.encodePayload(into: &payloadScratch)
        let scratch = payloadScratch
        let result = scratch.bytes.withUnsafeBytes { payload in
            Result { () throws(WireError) in
                try encode(type: message.type, correlationID: correlationID, payload: payload, into: &out)
            }
        }
        try result.get()
    }

    /// Writes `varint(length) ++ LZ4 block` if that is shorter than the payload itself;
    /// otherwise writes nothing and returns false.
    private func appendCompressed(_ payload: UnsafeRawBufferPointer, into out: inout ByteWriter) -> Bool {
        let start = out.count
        out.writeVarint(UInt64(payload.count))
        let room = payload.count - (out.count - start) - 1
        var saved = false
        if room > 0 {
            out.writeWithUnsafeMutableBytes(reserving: room) { destination in
                guard let written = LZ4.compress(payload, into: destination) else { return 0 }
                saved = true
                return written
            }
        }
        if !saved { out.truncate(to: start) }
        return saved
    }
}
