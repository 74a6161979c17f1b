// libFuzzer target: the WebSocket frame parser (RFC 6455). Whatever the bytes, it must not
// crash, must keep every message within the limit, and must give the same messages and the
// same error whether the input arrives whole or split at a fuzzed point.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocketParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let masked = input[0] & 1 == 0
    let body = UnsafeRawBufferPointer(rebasing: input[1...])
    let whole = feed([body], masked: masked)
    let split = Int(input[0] >> 1) % (body.count + 1)
    let pieces = feed([UnsafeRawBufferPointer(rebasing: body[..<split]), UnsafeRawBufferPointer(rebasing: body[split...])], masked: masked)
    require(whole == pieces, "the parser's result depends on how the input was split")
    for case .text(let text) in whole.messages { require(text.utf8.count <= 1024, "a message over the limit was returned") }
    return 0
}

private struct Outcome: Equatable {
    var messages: [WebSocketMessage] = []
    var error: WebSocketError?
}

private func feed(_ pieces: [UnsafeRawBufferPointer], masked: Bool) -> Outcome {
    var parser = WebSocketParser(requireMasked: masked, maxMessageBytes: 1024)
    var outcome = Outcome()
    for piece in pieces {
        let output = parser.feed(piece)
        outcome.messages += output.messages
        if let error = output.error {
            outcome.error = error
            return outcome
        }
    }
    return outcome
}
