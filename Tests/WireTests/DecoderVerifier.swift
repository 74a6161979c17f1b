import Wire

/// What a decoder made of an input: the frames, and the error if it stopped on one.
struct DecodeOutcome: Equatable {
    var frames: [Frame]
    var error: WireError?
}

/// Feeds the same input to fresh decoders in several ways (whole, byte by byte, in seeded
/// random pieces) and returns the outcome only if every way agrees; NIO's
/// ByteToMessageDecoderVerifier idea. Returns the disagreeing outcomes otherwise.
enum DecoderVerifier {
    static func decode(_ input: [UInt8], limits: FrameLimits = FrameLimits(), seed: UInt64 = 1) -> Result<DecodeOutcome, Disagreement> {
        let whole = run(input, pieces: [input.count], limits: limits)
        let byteByByte = run(input, pieces: Array(repeating: 1, count: input.count), limits: limits)
        var rng = SplitMix64(seed: seed)
        var randomPieces: [Int] = []
        var left = input.count
        while left > 0 {
            let piece = min(left, Int.random(in: 1...64, using: &rng))
            randomPieces.append(piece)
            left -= piece
        }
        let random = run(input, pieces: randomPieces, limits: limits)
        let viaNextFrame = runNextFrame(input, limits: limits)
        guard whole == byteByByte, whole == random, whole == viaNextFrame else {
            return .failure(Disagreement(outcomes: [whole, byteByByte, random, viaNextFrame]))
        }
        return .success(whole)
    }

    struct Disagreement: Error {
        var outcomes: [DecodeOutcome]
    }

    private static func run(_ input: [UInt8], pieces: [Int], limits: FrameLimits) -> DecodeOutcome {
        var decoder = FrameDecoder(limits: limits)
        var outcome = DecodeOutcome(frames: [], error: nil)
        var offset = 0
        input.withUnsafeBytes { all in
            for piece in pieces {
                let chunk = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + piece)])
                offset += piece
                do throws(WireError) {
                    try decoder.decode(chunk) { header, payload in
                        outcome.frames.append(Frame(header: header, payload: Array(payload)))
                        return true
                    }
                } catch {
                    outcome.error = error
                    return
                }
            }
            do throws(WireError) { try decoder.finish() } catch { outcome.error = error }
        }
        return outcome
    }

    private static func runNextFrame(_ input: [UInt8], limits: FrameLimits) -> DecodeOutcome {
        var decoder = FrameDecoder(limits: limits)
        var outcome = DecodeOutcome(frames: [], error: nil)
        input.withUnsafeBytes { decoder.feed($0) }
        do throws(WireError) {
            while let frame = try decoder.nextFrame() { outcome.frames.append(frame) }
            try decoder.finish()
        } catch {
            outcome.error = error
        }
        return outcome
    }
}

/// Encodes messages into one stream of frames.
func encodeStream(_ messages: [WireMessage], compressionThreshold: Int = 512) throws -> [UInt8] {
    var encoder = FrameEncoder(compressionThreshold: compressionThreshold)
    var out = ByteWriter()
    for (index, message) in messages.enumerated() {
        try encoder.encode(message, correlationID: UInt32(index), into: &out)
    }
    return out.bytes
}

/// A frame header's bytes followed by `payload`, written by hand so tests can build frames
/// the encoder would refuse to produce.
func rawFrame(version: UInt8 = 1, flags: UInt8 = 0, type: UInt16, length: UInt32? = nil, correlation: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
    var writer = ByteWriter()
    writer.writeUInt8(version)
    writer.writeUInt8(flags)
    writer.writeUInt16(type)
    writer.writeUInt32(length ?? UInt32(payload.count))
    writer.writeUInt32(correlation)
    writer.writeRaw(payload)
    return writer.bytes
}
