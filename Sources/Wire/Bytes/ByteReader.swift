/// A bounds-checked cursor over bytes that it does not own.
///
/// `read*` methods advance the cursor, `peek*` methods do not. Every method throws
/// `WireError.truncated` instead of reading past the end, so a decoder built on it cannot
/// read out of bounds whatever the input.
public struct ByteReader {
    private let base: UnsafeRawBufferPointer
    /// Offset of the next unread byte.
    public private(set) var offset: Int

    /// A reader over `bytes`; the memory must outlive the reader.
    public init(_ bytes: UnsafeRawBufferPointer) {
        base = bytes
        offset = 0
    }

    /// Bytes not yet read.
    public var remaining: Int { base.count - offset }

    /// True when every byte has been read.
    public var isAtEnd: Bool { offset == base.count }

    private mutating func take(_ count: Int) throws(WireError) -> UnsafeRawBufferPointer {
        guard count >= 0, count <= remaining else { throw .truncated }
        let slice = UnsafeRawBufferPointer(rebasing: base[offset..<(offset + count)])
        offset += count
        return slice
    }

    /// Reads one byte.
    public mutating func readUInt8() throws(WireError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated }
        defer { offset += 1 }
        return base[offset]
    }

    /// Reads a big-endian 16-bit integer.
    public mutating func readUInt16() throws(WireError) -> UInt16 {
        let raw = try take(2)
        return UInt16(raw[0]) << 8 | UInt16(raw[1])
    }

    /// Reads a big-endian 32-bit integer.
    public mutating func readUInt32() throws(WireError) -> UInt32 {
        let raw = try take(4)
        return raw.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes whose value fits in 64 bits.
    public mutating func readVarint() throws(WireError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard remaining >= 1 else { throw .truncated }
            let byte = base[offset]
            offset += 1
            // The 10th byte may only carry the top bit of a 64-bit value.
            if shift == 63 && byte > 1 { throw .varintOverflow }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }

    /// Reads a varint that must fit in `Int` and be at most `limit`.
    public mutating func readLength(limit: Int = Int(UInt32.max)) throws(WireError) -> Int {
        let value = try readVarint()
        guard value <= UInt64(limit) else { throw .truncated }
        return Int(value)
    }

    /// Reads `count` raw bytes as a view into the underlying memory (no copy).
    public mutating func readRawView(count: Int) throws(WireError) -> UnsafeRawBufferPointer {
        try take(count)
    }

    /// Reads a varint-length-prefixed byte string.
    public mutating func readBytes() throws(WireError) -> [UInt8] {
        let count = try readLength(limit: remaining)
        return Array(try take(count))
    }

    /// Reads a varint-length-prefixed UTF-8 string; invalid UTF-8 is an error, never repaired.
    public mutating func readString() throws(WireError) -> String {
        let count = try readLength(limit: remaining)
        let raw = try take(count)
        guard let string = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8 }
        return string
    }
}

extension ByteReader {
    /// Reads a whole value from `bytes` with `body`, which must use every byte (what is
    /// left over is `trailingBytes`), so each value has exactly one encoding.
    public static func decodeAll<T>(_ bytes: [UInt8], _ body: (inout ByteReader) throws(WireError) -> T) throws(WireError) -> T {
        let result = bytes.withUnsafeBytes { raw -> Result<T, WireError> in
            var reader = ByteReader(raw)
            do throws(WireError) {
                let value = try body(&reader)
                guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
