// libFuzzer target: log recovery (built with the router's LogFraming.swift). A log file of
// known records is written, then damaged as the fuzzed bytes say (bytes changed at
// positions, the file cut short). Reading it back must never crash or invent a record:
// what comes back is exactly the records before the first damaged byte (a prefix of what
// was written), and the scan stops at the record the damage is in, naming its offset. The
// raw bytes are also read as a file: any records found must lie inside it, in order.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLogRecovery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    scanRawFile(input)
    guard size >= 3 else { return 0 }
    // The records: count and sizes from the first bytes (some compressible, some not).
    var rng = SplitMix64(seed: UInt64(input[0]) << 8 | UInt64(input[1]))
    let count = Int(input[0] % 12) + 1
    var bodies: [[UInt8]] = []
    for n in 0..<count {
        let length = Int(rng.next() % 700)
        bodies.append(n % 3 == 0 ? Array(repeating: UInt8(n), count: length) : (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }
    var writer = ByteWriter()
    writer.writeRaw(LogFraming.fileHeader)
    var starts: [Int] = []
    for (n, body) in bodies.enumerated() {
        starts.append(writer.count)
        LogFraming.append(type: UInt8(n + 1), body: body, to: &writer)
    }
    let original = writer.bytes
    // The damage: a cut, then (position, xor) pairs.
    var file = original
    let cut = input[2] & 1 == 1 ? Int(UInt16(input[2]) << 8 | UInt16(input.count > 3 ? input[3] : 0)) % (original.count + 1) : original.count
    file.removeLast(original.count - cut)
    var index = 4
    while index + 2 < input.count, !file.isEmpty {
        let position = (Int(input[index]) << 8 | Int(input[index + 1])) % file.count
        file[position] ^= input[index + 2]
        index += 3
    }
    // Two changes at one byte may cancel out: the damage is where the file now differs.
    let firstDamage = zip(file, original).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? cut
    let (records, stop) = file.withUnsafeBytes { LogFraming.scanFile($0) }
    require(records.count <= bodies.count, "more records than were written")
    for (n, record) in records.enumerated() {
        require(record.body == bodies[n] && record.type == UInt8(n + 1) && record.offset == starts[n], "record \(n) is not what was written")
    }
    let ends = starts.indices.map { $0 + 1 < starts.count ? starts[$0 + 1] : original.count }
    let intact = ends.filter { $0 <= firstDamage }.count
    // A changed byte in a record's header or body is caught by its checksums, so nothing
    // from the damaged record on comes back, and everything before it does. (A random change
    // that keeps both checksums right is a 2^-64 event.)
    require(records.count == intact || (firstDamage < LogFraming.fileHeader.count && records.isEmpty),
                 "\(records.count) records came back, \(intact) were intact")
    let changed = firstDamage < cut
    let cutAtRecordBoundary = cut == original.count || starts.contains(cut)
    switch stop {
    case .end:
        require(!changed && cutAtRecordBoundary, "damage went unnoticed")
    case .torn(let offset), .corrupt(let offset, _):
        require(changed || !cutAtRecordBoundary, "an intact file was refused: \(stop)")
        let expected = records.count < starts.count ? starts[records.count] : original.count
        require(offset == expected || (firstDamage < LogFraming.fileHeader.count && offset == 0), "the stop names byte \(offset), not \(expected)")
        // Only cut short: that is a torn tail, never damage.
        if !changed, case .corrupt = stop { fatalError("a file only cut short was called damaged: \(stop)") }
    }
    return 0
}

private func scanRawFile(_ bytes: [UInt8]) {
    let (records, stop) = bytes.withUnsafeBytes { LogFraming.scanFile($0) }
    var previous = -1
    for record in records {
        require(record.offset > previous && record.offset + LogFraming.headerSize <= bytes.count, "a record outside the file")
        previous = record.offset
    }
    switch stop {
    case .end: break
    case .torn(let offset), .corrupt(let offset, _): require(offset <= bytes.count, "a stop past the end")
    }
}
