// libFuzzer target: the HTTP/1.1 request parser, chunked bodies included. Whatever the
// bytes, it must not crash (issue 10: a chunk size of "-1" trapped), must keep every body
// within the limit, and must give the same requests and the same error whether the input
// arrives whole, in two pieces split at a fuzzed point, or in 3-byte pieces.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    var limits = HTTPLimits()
    limits.bodyBytes = 512
    limits.headerBytes = 1024
    limits.requestLineBytes = 256
    let whole = parse(input, pieceSize: max(size, 1), limits: limits)
    let split = size == 0 ? 0 : Int(input[0]) % (size + 1)
    let twoPieces = parse(input, cutAt: split, limits: limits)
    let small = parse(input, pieceSize: 3, limits: limits)
    require(whole == twoPieces && whole == small, "the parser's result depends on how the input was split")
    for request in whole.requests { require(request.body.count <= limits.bodyBytes, "a body over the limit was returned") }
    return 0
}

private struct Outcome: Equatable {
    var requests: [HTTPRequest] = []
    var error: HTTPParseError?
}

private func run(_ pieces: [UnsafeRawBufferPointer], limits: HTTPLimits) -> Outcome {
    var parser = HTTPRequestParser(limits: limits)
    var outcome = Outcome()
    for piece in pieces {
        parser.append(piece)
        do {
            while let request = try parser.next() { outcome.requests.append(request) }
        } catch {
            outcome.error = error
            return outcome
        }
    }
    return outcome
}

private func parse(_ input: UnsafeRawBufferPointer, pieceSize: Int, limits: HTTPLimits) -> Outcome {
    var pieces: [UnsafeRawBufferPointer] = []
    var index = 0
    while index < input.count {
        pieces.append(UnsafeRawBufferPointer(rebasing: input[index..<min(input.count, index + pieceSize)]))
        index += pieceSize
    }
    return run(pieces, limits: limits)
}

private func parse(_ input: UnsafeRawBufferPointer, cutAt split: Int, limits: HTTPLimits) -> Outcome {
    run([UnsafeRawBufferPointer(rebasing: input[..<split]), UnsafeRawBufferPointer(rebasing: input[split...])], limits: limits)
}
