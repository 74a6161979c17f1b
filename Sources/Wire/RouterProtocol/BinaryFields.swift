/// The field encodings the router protocol's messages are built from (docs/wire.md,
/// "Field encodings"). Each reader refuses what its writer never produces (a bool byte
/// other than 0 or 1, an optional tag other than 0 or 1), so every value has exactly one
/// encoding and a decoded message re-encodes to the same bytes.
extension ByteWriter {
    /// One byte, 0 or 1.
    public mutating func writeBool(_ value: Bool) {
        writeUInt8(value ? 1 : 0)
    }

    /// A signed integer as a zigzag varint (small magnitudes stay short either sign).
    public mutating func writeSigned(_ value: Int64) {
        writeVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// A double as its IEEE 754 bit pattern, 8 bytes big-endian (like the frame header's
    /// fixed fields).
    public mutating func writeDouble(_ value: Double) {
        let bits = value.bitPattern
        writeUInt32(UInt32(truncatingIfNeeded: bits >> 32))
        writeUInt32(UInt32(truncatingIfNeeded: bits))
    }

    /// Tag 0 for nil, or tag 1 and the string.
    public mutating func writeOptionalString(_ value: String?) {
        writeOptional(value) { $0.writeString($1) }
    }

    /// Tag 0 for nil, or tag 1 and the value written by `write`.
    public mutating func writeOptional<T>(_ value: T?, _ write: (inout ByteWriter, T) -> Void) {
        guard let value else { return writeUInt8(0) }
        writeUInt8(1)
        write(&self, value)
    }

    /// A varint count, then each element written by `write`.
    public mutating func writeArray<T>(_ values: [T], _ write: (inout ByteWriter, T) -> Void) {
        writeVarint(UInt64(values.count))
        for value in values { write(&self, value) }
    }

    /// A string map as a count and (key, value) pairs, keys in ascending order (one
    /// encoding per map).
    public mutating func writeStringMap(_ map: [String: String]) {
        writeArray(map.sorted { $0.key < $1.key }) { writer, pair in
            writer.writeString(pair.key)
            writer.writeString(pair.value)
        }
    }
}

extension ByteReader {
    /// Reads a bool; bytes other than 0 and 1 are refused.
    public mutating func readBool() throws(WireError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        default: throw .invalidField("bool")
        }
    }

    /// Reads a zigzag varint.
    public mutating func readSigned() throws(WireError) -> Int64 {
        let raw = try readVarint()
        return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
    }

    /// Reads a double written by `writeDouble`.
    public mutating func readDouble() throws(WireError) -> Double {
        let high = UInt64(try readUInt32())
        let low = UInt64(try readUInt32())
        return Double(bitPattern: high << 32 | low)
    }

    /// Reads an optional string.
    public mutating func readOptionalString() throws(WireError) -> String? {
        try readOptional { (reader) throws(WireError) in try reader.readString() }
    }

    /// Reads tag 0 (nil) or tag 1 and a value read by `read`.
    public mutating func readOptional<T>(_ read: (inout ByteReader) throws(WireError) -> T) throws(WireError) -> T? {
        switch try readUInt8() {
        case 0: return nil
        case 1: return try read(&self)
        default: throw .invalidField("optional tag")
        }
    }

    /// Reads a count and that many elements. Every element takes at least one byte, so a
    /// count beyond the bytes left is refused before anything is allocated.
    public mutating func readArray<T>(_ read: (inout ByteReader) throws(WireError) -> T) throws(WireError) -> [T] {
        let count = try readLength(limit: remaining)
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try read(&self)) }
        return values
    }

    /// Reads a string map; keys must be ascending and unique.
    public mutating func readStringMap() throws(WireError) -> [String: String] {
        var map: [String: String] = [:]
        var previous: String?
        for (key, value) in try readArray({ (reader) throws(WireError) in (try reader.readString(), try reader.readString()) }) {
            if let previous, key <= previous { throw .invalidField("map keys out of order") }
            previous = key
            map[key] = value
        }
        return map
    }
}
