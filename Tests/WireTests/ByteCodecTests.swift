import Testing
import Wire

private func read<T>(_ bytes: [UInt8], _ body: (inout ByteReader) throws(WireError) -> T) -> Result<T, WireError> {
    bytes.withUnsafeBytes { raw in
        var reader = ByteReader(raw)
        return Result { () throws(WireError) in try body(&reader) }
    }
}

private let knownVarints: [(UInt64, [UInt8])] = [
        (0, [0x00]),
        (127, [0x7F]),
        (128, [0x80, 0x01]),
        (300, [0xAC, 0x02]),
        (16_384, [0x80, 0x80, 0x01]),
        (UInt64.max, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
]

@Suite struct VarintTests {
    @Test(arguments: knownVarints)
    func varint_encodesToKnownBytes_andBack(value: UInt64, encoded: [UInt8]) {
        var writer = ByteWriter()
        writer.writeVarint(value)
        #expect(writer.bytes == encoded)
        #expect(read(encoded) { r throws(WireError) in try r.readVarint() } == .success(value))
    }

    @Test func varint_roundTripsEveryPowerOfTwoNeighbour() {
        for shift in 0..<64 {
            for value in [UInt64(1) << shift &- 1, UInt64(1) << shift, UInt64(1) << shift &+ 1] {
                var writer = ByteWriter()
                writer.writeVarint(value)
                #expect(read(writer.bytes) { r throws(WireError) in try r.readVarint() } == .success(value))
            }
        }
    }

    @Test func varint_elevenBytes_isOverflow() {
        let bytes = [UInt8](repeating: 0xFF, count: 10) + [0x01]
        #expect(read(bytes) { r throws(WireError) in try r.readVarint() } == .failure(.varintOverflow))
    }

    @Test func varint_tenthByteAboveOne_isOverflow() {
        let bytes = [UInt8](repeating: 0xFF, count: 9) + [0x02]
        #expect(read(bytes) { r throws(WireError) in try r.readVarint() } == .failure(.varintOverflow))
    }

    @Test func varint_endingMidway_isTruncated() {
        #expect(read([0x80, 0x80]) { r throws(WireError) in try r.readVarint() } == .failure(.truncated))
        #expect(read([]) { r throws(WireError) in try r.readVarint() } == .failure(.truncated))
    }
}

@Suite struct ByteReaderTests {
    @Test func string_roundTripsMultiByteUTF8() {
        var writer = ByteWriter()
        writer.writeString("Grüße, 世界 👋")
        #expect(read(writer.bytes) { r throws(WireError) in try r.readString() } == .success("Grüße, 世界 👋"))
    }

    @Test func string_withInvalidUTF8_isRejectedNotRepaired() {
        for invalid in [[UInt8(0xC3)], [0xFF], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0x61, 0x80]] {
            var writer = ByteWriter()
            writer.writeBytes(invalid)
            #expect(read(writer.bytes) { r throws(WireError) in try r.readString() } == .failure(.invalidUTF8))
        }
    }

    @Test func lengthPrefixLongerThanInput_isTruncated_withoutAllocating() {
        var writer = ByteWriter()
        writer.writeVarint(UInt64(Int32.max))
        writer.writeRaw([1, 2, 3])
        #expect(read(writer.bytes) { r throws(WireError) in try r.readBytes() } == .failure(.truncated))
    }

    @Test func fixedWidthIntegers_areBigEndian_andBoundsChecked() {
        #expect(read([0x12, 0x34]) { r throws(WireError) in try r.readUInt16() } == .success(0x1234))
        #expect(read([0x12, 0x34, 0x56, 0x78]) { r throws(WireError) in try r.readUInt32() } == .success(0x1234_5678))
        #expect(read([0x12, 0x34, 0x56]) { r throws(WireError) in try r.readUInt32() } == .failure(.truncated))
        #expect(read([]) { r throws(WireError) in try r.readUInt8() } == .failure(.truncated))
    }
}
