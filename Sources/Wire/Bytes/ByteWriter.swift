/// An append-only byte buffer for encoding payloads and frames.
///
/// Reuse one writer per connection or per encoder and call `clear()` between uses: the
/// storage keeps its capacity, so the steady-state encode path allocates nothing.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Creates an empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Number of bytes written.
    public var count: Int { bytes.count }

    /// Forgets the content but keeps the storage.
    public mutating func clear() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// Drops everything after the first `count` bytes (used to roll back an attempt).
    public mutating func truncate(to count: Int) {
        precondition(count <= bytes.count, "cannot truncate a writer forwards")
        bytes.removeSubrange(count...)
    }

    /// Appends one byte.
    public mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    /// Appends a big-endian 16-bit integer.
    public mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    /// Appends a big-endian 32-bit integer.
    public mutating func writeUInt32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// Overwrites a big-endian 32-bit integer at `offset` (for lengths known only later).
    public mutating func setUInt32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt32(24 - 8 * index))
        }
    }

    /// Overwrites one byte at `offset`.
    public mutating func setUInt8(_ value: UInt8, at offset: Int) {
        bytes[offset] = value
    }

    /// Appends an unsigned LEB128 varint (1 to 10 bytes).
    public mutating func writeVarint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// Appends raw bytes with no length prefix.
    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// Appends raw bytes with no length prefix.
    public mutating func writeRaw(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    /// Appends a varint length followed by the bytes.
    public mutating func writeBytes(_ value: [UInt8]) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// Appends a varint length followed by the string's UTF-8 bytes.
    public mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Grows the buffer by `count` bytes and lets `body` fill them; `body` returns how many
    /// it used, and the rest is given back. Lets C code (LZ4) write straight into the buffer.
    public mutating func writeWithUnsafeMutableBytes(
        reserving count: Int,
        _ body: (UnsafeMutableRawBufferPointer) throws -> Int
    ) rethrows {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: count))
        let used = try bytes.withUnsafeMutableBytes { all in
            try body(UnsafeMutableRawBufferPointer(rebasing: all[start..<(start + count)]))
        }
        precondition(used >= 0 && used <= count, "writer body reported more bytes than reserved")
        bytes.removeSubrange((start + used)...)
    }
}
