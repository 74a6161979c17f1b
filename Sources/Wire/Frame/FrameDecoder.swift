/// Turns a byte stream into frames. A pure value type: the connection feeds it whatever
/// bytes arrived and gets back every complete frame; it never touches a socket.
///
/// The hot path copies nothing: when no partial frame is pending, frames are handed out
/// as views into the caller's read buffer, and only a trailing partial frame is kept.
/// LZ4 payloads are inflated into a reused scratch buffer. After the first error the
/// decoder stays failed and repeats that error.
public struct FrameDecoder {
    /// The limits enforced on every frame.
    public let limits: FrameLimits
    private var pending: [UInt8] = []
    private var inflated: [UInt8] = []
    private var failure: WireError?

    /// A decoder enforcing `limits`.
    public init(limits: FrameLimits = FrameLimits()) {
        self.limits = limits
    }

    /// Bytes held back because they do not yet form a whole frame.
    public var bufferedByteCount: Int { pending.count }

    /// Decodes every complete frame in `pending ++ bytes`, calling `onFrame` with the
    /// header and the (decompressed) payload, which is valid only during the call.
    /// `onFrame` returns false to stop; the undelivered bytes are kept for the next call.
    public mutating func decode(
        _ bytes: UnsafeRawBufferPointer,
        _ onFrame: (FrameHeader, UnsafeRawBufferPointer) -> Bool
    ) throws(WireError) {
        if let failure { throw failure }
        let result: Result<Int, WireError>
        if pending.isEmpty {
            result = decodeFrames(in: bytes, onFrame)
            if case .success(let consumed) = result, consumed < bytes.count {
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        } else {
            pending.append(contentsOf: bytes)
            var buffered = pending
            pending = []  // one owner of the storage while we read it, so nothing is copied
            result = buffered.withUnsafeBytes { decodeFrames(in: $0, onFrame) }
            if case .success(let consumed) = result { buffered.removeSubrange(0..<consumed) }
            pending = buffered
        }
        if case .failure(let error) = result {
            failure = error
            throw error
        }
    }

    /// Decodes the next complete frame into an owned `Frame`, or nil if more bytes are
    /// needed. Convenient for control paths and tests; the hot path uses `decode`.
    public mutating func nextFrame() throws(WireError) -> Frame? {
        var frame: Frame?
        try decode(UnsafeRawBufferPointer(start: nil, count: 0)) { header, payload in
            frame = Frame(header: header, payload: Array(payload))
            return false
        }
        return frame
    }

    /// Feeds bytes without decoding; pair with `nextFrame()`.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        pending.append(contentsOf: bytes)
    }

    /// Call when the stream ends: throws if it ended inside a frame.
    public func finish() throws(WireError) {
        if let failure { throw failure }
        if !pending.isEmpty { throw .truncatedFrame(bufferedBytes: pending.count) }
    }

    /// Returns how many bytes of `bytes` were consumed by whole frames.
    private mutating func decodeFrames(
        in bytes: UnsafeRawBufferPointer,
        _ onFrame: (FrameHeader, UnsafeRawBufferPointer) -> Bool
    ) -> Result<Int, WireError> {
        var offset = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let header: FrameHeader
            do {
                guard let parsed = try FrameHeader.parse(rest, limits: limits) else { return .success(offset) }
                header = parsed
            } catch {
                return .failure(error)
            }
            let frameLength = FrameHeader.size + Int(header.payloadLength)
            guard rest.count >= frameLength else { return .success(offset) }
            let wirePayload = UnsafeRawBufferPointer(rebasing: rest[FrameHeader.size..<frameLength])
            let keepGoing: Bool
            if header.flags.contains(.lz4) {
                if case .failure(let error) = inflate(wirePayload) { return .failure(error) }
                keepGoing = inflated.withUnsafeBytes { onFrame(header, $0) }
            } else {
                keepGoing = onFrame(header, wirePayload)
            }
            offset += frameLength
            if !keepGoing { return .success(offset) }
        }
    }

    private mutating func inflate(_ wirePayload: UnsafeRawBufferPointer) -> Result<Void, WireError> {
        var reader = ByteReader(wirePayload)
        let declared: UInt64
        do {
            declared = try reader.readVarint()
        } catch {
            return .failure(error)
        }
        guard declared <= UInt64(limits.maxDecompressedSize) else {
            return .failure(.decompressedTooLarge(declared: declared, limit: limits.maxDecompressedSize))
        }
        guard declared > 0 else { return .failure(.corruptCompressedPayload) }
        let block = UnsafeRawBufferPointer(rebasing: wirePayload[reader.offset...])
        inflated.removeAll(keepingCapacity: true)
        inflated.append(contentsOf: repeatElement(0, count: Int(declared)))
        return inflated.withUnsafeMutableBytes { destination in
            Result { () throws(WireError) in try LZ4.decompress(block, into: destination) }
        }
    }
}

/// A decoded frame that owns its (decompressed) payload.
public struct Frame: Equatable, Sendable {
    /// The header as received.
    public var header: FrameHeader
    /// The payload, decompressed if it was sent compressed.
    public var payload: [UInt8]

    /// A frame from its parts.
    public init(header: FrameHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }
}
