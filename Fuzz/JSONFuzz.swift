// libFuzzer target: the JSON parser and the client command decoder. Whatever the bytes,
// neither may crash; a document the parser accepts must serialise and parse back to the
// same value (so no reader can see two meanings in it), and an object it accepts never
// repeats a key; the decoder's answer is a command or a documented error code.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let value = JSONParser.parse(bytes) {
        let written = JSONText.serialize(nullsAsMarkers(value))
        guard let again = JSONParser.parse(written) else { fatalError("the parser's own output does not parse") }
        require(JSONText.serialize(nullsAsMarkers(again)) == written, "a value changed in a round trip")
    }
    do {
        _ = try ClientCommand.parse(bytes)
    } catch {
        require(["bad_json", "too_large", "unknown_type", "unknown_field", "missing_field", "invalid_field"].contains(error.code),
                     "undocumented error code \(error.code)")
    }
    return 0
}

/// JSONText writes values, not the parser's null marker: nulls become a string that cannot
/// come from a document the same way twice.
private func nullsAsMarkers(_ value: Any) -> Any {
    switch value {
    case let object as [String: Any]: return object.mapValues(nullsAsMarkers)
    case let array as [Any]: return array.map(nullsAsMarkers)
    case is JSONNull: return "\u{0}null"
    default: return value
    }
}
