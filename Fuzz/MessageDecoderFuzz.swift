// libFuzzer target: the message decoder. The first two bytes pick the message type, the
// rest is the payload. Whatever the bytes, decoding must not crash; whatever decodes must
// encode and decode back to the same message, through the frame codec too (with LZ4).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessageDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let type = UInt16(input[0] % 16)
    let payload = UnsafeRawBufferPointer(rebasing: input[2...])
    guard let message = try? WireMessage.decode(type: type, payload: payload) else { return 0 }

    var encoder = FrameEncoder(compressionThreshold: input[1] & 1 == 0 ? 512 : 16)
    var out = ByteWriter()
    do {
        try encoder.encode(message, correlationID: 1, into: &out)
    } catch {
        fatalError("a decoded message could not be encoded: \(error)")
    }
    var decoder = FrameDecoder()
    out.bytes.withUnsafeBytes { decoder.feed($0) }
    guard let frame = try? decoder.nextFrame() else { fatalError("re-encoded frame did not decode") }
    let again = try? frame.payload.withUnsafeBytes { try WireMessage.decode(type: frame.header.type, payload: $0) }
    require(again == message, "message did not survive a round trip")
    return 0
}
