/// A complete WebSocket message (RFC 6455), reassembled from its fragments.
public enum WebSocketMessage: Equatable, Sendable {
    /// A text message (valid UTF-8, checked).
    case text(String)
    /// A binary message.
    case binary([UInt8])
    /// A ping with its application data.
    case ping([UInt8])
    /// A pong with its application data.
    case pong([UInt8])
    /// The peer starts or answers the close handshake; nil code: no status given.
    case close(code: UInt16?, reason: String)
}

/// Why a WebSocket stream was rejected, with the close code RFC 6455 assigns.
public enum WebSocketError: Error, Equatable, Sendable {
    /// The framing rules were broken (close code 1002).
    case protocolError(String)
    /// A text message or close reason is not UTF-8 (close code 1007).
    case invalidUTF8
    /// A message is larger than the limit (close code 1009).
    case messageTooBig(limit: Int)

    /// The close code to send before closing.
    public var closeCode: UInt16 {
        switch self {
        case .protocolError: 1002
        case .invalidUTF8: 1007
        case .messageTooBig: 1009
        }
    }
}

/// Opcodes of RFC 6455 section 5.2.
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA
}

/// Incremental WebSocket frame parser: bytes in, whole messages out. Pure value type.
/// Enforces what the RFC requires of a peer: masking in the right direction, no reserved
/// bits (no extensions are negotiated), minimal length encodings, control frames short and
/// unfragmented, fragments in order, UTF-8 text, and the message size limit, which is
/// checked from each frame header before its payload is buffered.
public struct WebSocketParser: Sendable {
    /// Whether frames must be masked (true on the server, which reads client frames).
    public let requireMasked: Bool
    /// Largest message accepted, in bytes (default 64 KiB).
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var consumed = 0
    private var fragments: (opcode: WebSocketOpcode, bytes: [UInt8])?
    /// The first violation, kept: the parser is failed for good after it.
    private var failure: WebSocketError?

    /// What one `feed` produced: the messages completed, and the violation that stopped the
    /// parser, if one did. Messages before a violation are returned too, so that what comes
    /// out never depends on how the bytes were split into reads (the fuzzer found that a
    /// message and a bad frame in one read lost the message, in two reads kept it).
    public struct Output: Equatable, Sendable {
        /// Whole messages, in order.
        public var messages: [WebSocketMessage] = []
        /// Set once the input broke the protocol; the connection is then to be closed with
        /// its `closeCode`, and the parser must not be fed again.
        public var error: WebSocketError?

        /// An output (tests compare with one).
        public init(messages: [WebSocketMessage] = [], error: WebSocketError? = nil) {
            (self.messages, self.error) = (messages, error)
        }
    }

    /// A parser for the server side (masked input) or the client side.
    public init(requireMasked: Bool = true, maxMessageBytes: Int = 64 * 1024) {
        self.requireMasked = requireMasked
        self.maxMessageBytes = maxMessageBytes
    }

    /// Feeds bytes; returns every message they complete, in order, and the violation that
    /// stopped the parser, if any (then, and after, nothing more is parsed).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Output {
        var output = Output()
        if let failure {
            output.error = failure
            return output
        }
        if consumed > 0 && consumed >= buffer.count / 2 {
            buffer.removeFirst(consumed)
            consumed = 0
        }
        buffer.append(contentsOf: bytes)
        do throws(WebSocketError) {
            while let message = try nextMessage() { output.messages.append(message) }
        } catch {
            failure = error
            output.error = error
            buffer.removeAll()
            consumed = 0
        }
        return output
    }

    /// Bytes received but not yet part of a whole frame.
    public var bufferedByteCount: Int { buffer.count - consumed }

    private mutating func nextMessage() throws(WebSocketError) -> WebSocketMessage? {
        while true {
            guard let (fin, opcode, payload) = try nextFrame() else { return nil }
            switch opcode {
            case .ping: return .ping(payload)
            case .pong: return .pong(payload)
            case .close: return try Self.closeMessage(payload)
            case .text, .binary:
                guard fragments == nil else { throw .protocolError("new message before the previous one finished") }
                if fin { return try Self.message(opcode, payload) }
                fragments = (opcode, payload)
            case .continuation:
                guard var pending = fragments else { throw .protocolError("continuation frame without a message") }
                pending.bytes += payload
                if fin {
                    fragments = nil
                    return try Self.message(pending.opcode, pending.bytes)
                }
                fragments = pending
            }
        }
    }

    /// One whole frame, unmasked, or nil if more bytes are needed.
    private mutating func nextFrame() throws(WebSocketError) -> (fin: Bool, opcode: WebSocketOpcode, payload: [UInt8])? {
        let available = buffer.count - consumed
        guard available >= 2 else { return nil }
        let first = buffer[consumed]
        let second = buffer[consumed + 1]
        guard first & 0x70 == 0 else { throw .protocolError("reserved bits set without an extension") }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else { throw .protocolError("unknown opcode \(first & 0x0F)") }
        let fin = first & 0x80 != 0
        let masked = second & 0x80 != 0
        guard masked == requireMasked else { throw .protocolError(requireMasked ? "client frames must be masked" : "server frames must not be masked") }
        var headerLength = 2
        var length = UInt64(second & 0x7F)
        if length == 126 {
            guard available >= 4 else { return nil }
            length = UInt64(buffer[consumed + 2]) << 8 | UInt64(buffer[consumed + 3])
            guard length >= 126 else { throw .protocolError("length not minimally encoded") }
            headerLength = 4
        } else if length == 127 {
            guard available >= 10 else { return nil }
            length = (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(buffer[consumed + 2 + $1]) }
            guard length >> 63 == 0 else { throw .protocolError("length has the most significant bit set") }
            guard length > 0xFFFF else { throw .protocolError("length not minimally encoded") }
            headerLength = 10
        }
        if opcode.rawValue & 0x8 != 0 {
            guard fin else { throw .protocolError("fragmented control frame") }
            guard length <= 125 else { throw .protocolError("control frame longer than 125 bytes") }
        } else {
            // Checked before the payload is buffered, so an oversized frame costs nothing.
            let soFar = fragments?.bytes.count ?? 0
            guard length <= UInt64(maxMessageBytes - soFar) else { throw .messageTooBig(limit: maxMessageBytes) }
        }
        let maskLength = masked ? 4 : 0
        let total = headerLength + maskLength + Int(length)
        guard available >= total else { return nil }
        let payloadStart = consumed + headerLength + maskLength
        var payload = Array(buffer[payloadStart..<(payloadStart + Int(length))])
        if masked {
            let key = consumed + headerLength
            for index in payload.indices { payload[index] ^= buffer[key + index % 4] }
        }
        consumed += total
        return (fin, opcode, payload)
    }

    private static func message(_ opcode: WebSocketOpcode, _ bytes: [UInt8]) throws(WebSocketError) -> WebSocketMessage {
        guard opcode == .text else { return .binary(bytes) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
        return .text(text)
    }

    private static func closeMessage(_ payload: [UInt8]) throws(WebSocketError) -> WebSocketMessage {
        if payload.isEmpty { return .close(code: nil, reason: "") }
        guard payload.count >= 2 else { throw .protocolError("close payload of one byte") }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard isValidCloseCode(code) else { throw .protocolError("close code \(code) may not be sent") }
        guard let reason = String(validating: payload[2...], as: UTF8.self) else { throw .invalidUTF8 }
        return .close(code: code, reason: reason)
    }

    /// Codes a peer may send (RFC 6455 7.4): the defined ones except those reserved for
    /// local use, and the registered / private ranges.
    public static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011, 3000...4999: true
        default: false
        }
    }

    /// A frame as the server sends it (unmasked) or, with `maskKey`, as a client does.
    public static func frame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, maskKey: [UInt8]? = nil) -> [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | opcode.rawValue]
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        switch payload.count {
        case 0...125:
            out.append(maskBit | UInt8(payload.count))
        case 126...0xFFFF:
            out.append(maskBit | 126)
            out += [UInt8(payload.count >> 8), UInt8(truncatingIfNeeded: payload.count)]
        default:
            out.append(maskBit | 127)
            out += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> UInt64($0 * 8)) }
        }
        if let maskKey {
            precondition(maskKey.count == 4, "a mask key has 4 bytes")
            out += maskKey
            out += payload.enumerated().map { $0.element ^ maskKey[$0.offset % 4] }
        } else {
            out += payload
        }
        return out
    }

    /// A close frame with a code and reason (the reason cut to fit 125 bytes).
    public static func closeFrame(code: UInt16, reason: String) -> [UInt8] {
        var reasonBytes: [UInt8] = []
        for character in reason {
            let bytes = Array(String(character).utf8)
            guard reasonBytes.count + bytes.count <= 123 else { break }  // whole characters only
            reasonBytes += bytes
        }
        return frame(.close, [UInt8(code >> 8), UInt8(truncatingIfNeeded: code)] + reasonBytes)
    }
}
