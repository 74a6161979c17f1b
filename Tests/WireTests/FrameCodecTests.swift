import Testing
import Wire

private func decoded(_ input: [UInt8], limits: FrameLimits = FrameLimits()) throws -> DecodeOutcome {
    try DecoderVerifier.decode(input, limits: limits).get()
}

private func messages(_ outcome: DecodeOutcome) throws -> [WireMessage] {
    try outcome.frames.map { frame in
        try frame.payload.withUnsafeBytes { try WireMessage.decode(type: frame.header.type, payload: $0) }
    }
}

@Suite struct FrameRoundTripTests {
    @Test func tenThousandSeededRandomMessages_roundTrip_whateverTheFeeding() throws {
        var rng = SplitMix64(seed: 20261122)
        let originals = (0..<10_000).map { _ in RandomMessages.make(using: &rng) }
        let stream = try encodeStream(originals)
        let outcome = try decoded(stream)
        #expect(outcome.error == nil)
        #expect(outcome.frames.map(\.header.correlationID) == (0..<10_000).map(UInt32.init))
        #expect(try messages(outcome) == originals)
        #expect(outcome.frames.contains { $0.header.flags.contains(.lz4) }, "the sample must exercise LZ4")
    }

    @Test func compressibleLargePayload_isSentCompressed_andRestored() throws {
        let body = Array(String(repeating: "where is my parcel? ", count: 100).utf8)
        let message = WireMessage.conversationEvent(conversationID: "c-1", sequence: 9, body: body)
        let stream = try encodeStream([message])
        #expect(stream[1] == FrameFlags.lz4.rawValue)
        #expect(stream.count < body.count / 4)
        #expect(try messages(try decoded(stream)) == [message])
    }

    @Test func incompressiblePayload_isSentPlain() throws {
        var rng = SplitMix64(seed: 5)
        let body = (0..<2000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let stream = try encodeStream([.conversationEvent(conversationID: "c", sequence: 1, body: body)])
        #expect(stream[1] == 0)
    }

    @Test func payloadBelowThreshold_isNeverCompressed() throws {
        let body = [UInt8](repeating: 0x41, count: 400)
        let stream = try encodeStream([.conversationEvent(conversationID: "c", sequence: 1, body: body)])
        #expect(stream[1] == 0)
    }

    @Test func encoder_refusesPayloadOverMaxFrameSize_andWritesNothing() {
        let encoder = FrameEncoder(compressionThreshold: .max, maxFrameSize: 100)
        var out = ByteWriter()
        let payload = [UInt8](repeating: 1, count: 101)
        #expect(throws: WireError.frameTooLarge(length: 101, limit: 100)) {
            try payload.withUnsafeBytes { try encoder.encode(type: .ping, correlationID: 0, payload: $0, into: &out) }
        }
        #expect(out.count == 0)
    }

    @Test func decoderStopsWhenAsked_andKeepsTheRest() throws {
        let stream = try encodeStream([.ping(token: 1), .ping(token: 2), .ping(token: 3)])
        var decoder = FrameDecoder()
        var seen: [UInt32] = []
        try stream.withUnsafeBytes { raw in
            try decoder.decode(raw) { header, _ in
                seen.append(header.correlationID)
                return false
            }
        }
        #expect(seen == [0])
        while let frame = try decoder.nextFrame() { seen.append(frame.header.correlationID) }
        #expect(seen == [0, 1, 2])
    }
}

@Suite struct FrameBadInputTests {
    @Test func lengthOverLimit_isRejectedFromTheHeaderAlone() throws {
        let header = rawFrame(type: MessageType.ping.rawValue, length: 2_000_000, payload: [])
        let outcome = try decoded(header)
        #expect(outcome.error == .frameTooLarge(length: 2_000_000, limit: 1 << 20))
        #expect(outcome.frames.isEmpty)
    }

    @Test func lengthOverConfiguredLimit_isRejected() throws {
        let frame = rawFrame(type: MessageType.ping.rawValue, payload: [UInt8](repeating: 0, count: 65))
        #expect(try decoded(frame, limits: FrameLimits(maxFrameSize: 64)).error == .frameTooLarge(length: 65, limit: 64))
    }

    @Test func unknownMessageType_isRejected() throws {
        #expect(try decoded(rawFrame(type: 999, payload: [])).error == .unknownMessageType(999))
        #expect(try decoded(rawFrame(type: 0, payload: [])).error == .unknownMessageType(0))
    }

    @Test func unsupportedVersion_isRejected() throws {
        #expect(try decoded(rawFrame(version: 2, type: 6, payload: [0])).error == .unsupportedVersion(2))
    }

    @Test func reservedFlagBits_areRejected() throws {
        #expect(try decoded(rawFrame(flags: 0x82, type: 6, payload: [0])).error == .reservedFlags(0x82))
    }

    @Test func truncatedFrame_atEndOfStream_isReported_afterTheWholeFramesBeforeIt() throws {
        let stream = try encodeStream([.ping(token: 1), .ping(token: 2)])
        for cut in 1..<(stream.count / 2) {
            let outcome = try decoded(Array(stream.dropLast(cut)))
            #expect(outcome.frames.count == 1)
            #expect(outcome.error == .truncatedFrame(bufferedBytes: stream.count / 2 - cut))
        }
    }

    @Test func everyPrefixOfAValidStream_decodesAPrefixOfTheFrames() throws {
        var rng = SplitMix64(seed: 11)
        let originals = (0..<20).map { _ in RandomMessages.make(using: &rng) }
        let stream = try encodeStream(originals)
        for length in stride(from: 0, through: stream.count, by: 7) {
            let outcome = try decoded(Array(stream.prefix(length)))
            let got = try messages(outcome)
            #expect(Array(originals.prefix(got.count)) == got)
        }
    }

    @Test func corruptLZ4_isRejected() throws {
        var payload = ByteWriter()
        payload.writeVarint(1000)
        payload.writeRaw([0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x01, 0x02])
        let frame = rawFrame(flags: FrameFlags.lz4.rawValue, type: MessageType.conversationEvent.rawValue, payload: payload.bytes)
        #expect(try decoded(frame).error == .corruptCompressedPayload)
    }

    @Test func lz4ThatExpandsToOtherThanItsDeclaredSize_isRejected() throws {
        let body = Array(String(repeating: "abc ", count: 300).utf8)
        var stream = try encodeStream([.conversationEvent(conversationID: "c", sequence: 1, body: body)])
        #expect(stream[1] == FrameFlags.lz4.rawValue)
        // Declared size: the varint right after the header. The payload is 1205 bytes
        // (session 1 B, conversation id 2 B, body length 2 B, body 1200 B) = [0xB5, 0x09].
        #expect(Array(stream[12...13]) == [0xB5, 0x09])
        stream[12] = 0xB4
        #expect(try decoded(stream).error == .corruptCompressedPayload)
    }

    @Test func lz4DeclaringMoreThanTheBound_isRejectedBeforeInflating() throws {
        var payload = ByteWriter()
        payload.writeVarint(UInt64(1 << 20) + 1)
        payload.writeRaw([0x10, 0x41])
        let frame = rawFrame(flags: FrameFlags.lz4.rawValue, type: MessageType.conversationEvent.rawValue, payload: payload.bytes)
        #expect(try decoded(frame).error == .decompressedTooLarge(declared: UInt64(1 << 20) + 1, limit: 1 << 20))
    }

    @Test func lz4BombWithinTheWireLimit_isBoundedByTheDecompressedLimit() throws {
        // 1 MiB of zeros compresses to ~4 KiB; a decoder allowing 64 KiB must refuse it.
        let body = [UInt8](repeating: 0, count: 1 << 20)
        var encoder = FrameEncoder(maxFrameSize: 1 << 21)
        var out = ByteWriter()
        try encoder.encode(.conversationEvent(conversationID: "c", sequence: 0, body: body), into: &out)
        #expect(out.count < 8192)
        let outcome = try decoded(out.bytes, limits: FrameLimits(maxFrameSize: 1 << 20, maxDecompressedSize: 1 << 16))
        guard case .decompressedTooLarge = outcome.error else {
            Issue.record("expected decompressedTooLarge, got \(String(describing: outcome.error))")
            return
        }
    }

    @Test func decoder_staysFailed_afterAnError() throws {
        var decoder = FrameDecoder()
        let bad = rawFrame(type: 999, payload: [])
        let good = try encodeStream([.ping(token: 1)])
        #expect(throws: WireError.unknownMessageType(999)) {
            try bad.withUnsafeBytes { try decoder.decode($0) { _, _ in true } }
        }
        #expect(throws: WireError.unknownMessageType(999)) {
            try good.withUnsafeBytes { try decoder.decode($0) { _, _ in true } }
        }
    }
}

@Suite struct MessageBadInputTests {
    private func decode(_ type: MessageType, _ payload: [UInt8]) -> Result<WireMessage, WireError> {
        payload.withUnsafeBytes { raw in
            Result { () throws(WireError) in try WireMessage.decode(type: type.rawValue, payload: raw) }
        }
    }

    @Test func truncatedPayload_ofEveryType_isRejectedAtEveryCut() throws {
        var rng = SplitMix64(seed: 99)
        // (A membership datagram is not a WireMessage: Presence reads it, MembershipDatagramTests.)
        for type in MessageType.allCases where !type.isDatagramOnly {
            var message = RandomMessages.make(using: &rng)
            while message.type != type { message = RandomMessages.make(using: &rng) }
            var writer = ByteWriter()
            message.encodePayload(into: &writer)
            for cut in 0..<writer.count {
                #expect(throws: WireError.self) {
                    try Array(writer.bytes.prefix(cut)).withUnsafeBytes { try WireMessage.decode(type: type.rawValue, payload: $0) }
                }
            }
        }
    }

    @Test func trailingBytes_areRejected() {
        #expect(decode(.ping, [0x05, 0x00]) == .failure(.trailingBytes(1)))
        #expect(decode(.welcome, [0x00]) == .failure(.trailingBytes(1)))
    }

    @Test func varintOverflow_inAField_isRejected() {
        #expect(decode(.ping, [UInt8](repeating: 0xFF, count: 10) + [0x7F]) == .failure(.varintOverflow))
    }

    @Test func invalidUTF8_inAField_isRejected() {
        #expect(decode(.unsubscribe, [0x02, 0xC3, 0x28]) == .failure(.invalidUTF8))
    }

    @Test func unknownRole_isAnInvalidField() {
        var writer = ByteWriter()
        writer.writeString("node")
        writer.writeUInt8(9)
        writer.writeBytes([UInt8](repeating: 0, count: 32))
        writer.writeBytes([UInt8](repeating: 0, count: 32))
        #expect(decode(.challenge, writer.bytes) == .failure(.invalidField("role")))
    }

    @Test func nonceOfWrongLength_isAnInvalidField() {
        #expect(decode(.authenticate, [0x02, 0xAA, 0xBB]) == .failure(.invalidField("authenticate.proof")))
    }

    @Test func errorCodeOver16Bits_isAnInvalidField() {
        var writer = ByteWriter()
        writer.writeVarint(70_000)
        writer.writeString("x")
        #expect(decode(.error, writer.bytes) == .failure(.invalidField("error.code")))
    }
}
