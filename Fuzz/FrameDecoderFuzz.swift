// libFuzzer target: the frame decoder. Built by Fuzz/run.sh into the same module as the
// Wire sources. Whatever the bytes, the decoder must not crash, must not read out of
// bounds (AddressSanitizer watches), and must give the same frames and the same error
// whether the input arrives whole or in two pieces.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let limits = FrameLimits(maxFrameSize: 1 << 16, maxDecompressedSize: 1 << 16)
    let whole = decodeAll([input], limits: limits)
    let split = size == 0 ? 0 : Int(input[0]) % (size + 1)
    let pieces = decodeAll([UnsafeRawBufferPointer(rebasing: input[..<split]), UnsafeRawBufferPointer(rebasing: input[split...])], limits: limits)
    require(whole == pieces, "decoder result depends on how the input was split")
    return 0
}

private struct Outcome: Equatable {
    var frames: [Frame] = []
    var messages: [WireMessage?] = []
    var error: WireError?
}

private func decodeAll(_ pieces: [UnsafeRawBufferPointer], limits: FrameLimits) -> Outcome {
    var decoder = FrameDecoder(limits: limits)
    var outcome = Outcome()
    for piece in pieces {
        do throws(WireError) {
            try decoder.decode(piece) { header, payload in
                outcome.frames.append(Frame(header: header, payload: Array(payload)))
                outcome.messages.append(try? WireMessage.decode(type: header.type, payload: payload))
                return true
            }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    return outcome
}
