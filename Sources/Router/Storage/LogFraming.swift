import Wire

/// How records sit in a log segment (docs/storage.md):
///
/// ```
/// u32 body length   (big-endian; the body as stored, compressed or not)
/// u32 CRC32C        over the type, flags and body bytes
/// u8  type          what the body is (the record's kind)
/// u8  flags         bit 0: body is uvarint(original length) + LZ4 block
/// ... body
/// ```
///
/// Pure: encodes into a `ByteWriter`, scans a buffer. Files are the log's business.
public enum LogFraming {
    /// Bytes in front of every body.
    public static let headerSize = 10
    /// Largest stored body (and largest original body) accepted; longer lengths are
    /// corruption. A whole transcript is one body: 5,000 events of 8 KiB fit.
    public static let maxBodySize = 64 << 20
    /// Bodies at least this long are LZ4-compressed when that saves bytes.
    public static let compressionThreshold = 512
    private static let lz4Flag: UInt8 = 1

    /// Appends one framed record.
    public static func append(type: UInt8, body: [UInt8], to writer: inout ByteWriter) {
        precondition(body.count <= maxBodySize, "log record of \(body.count) bytes is over the limit")
        var flags: UInt8 = 0
        var stored = body
        if body.count >= compressionThreshold, let compressed = compress(body), compressed.count < body.count {
            stored = compressed
            flags |= lz4Flag
        }
        writer.writeUInt32(UInt32(stored.count))
        var crc = CRC32C.checksum([type, flags])
        crc = CRC32C.checksum(stored, continuing: crc)
        writer.writeUInt32(crc)
        writer.writeUInt8(type)
        writer.writeUInt8(flags)
        writer.writeRaw(stored)
    }

    /// A record read back.
    public struct Record: Equatable, Sendable {
        /// Its type byte.
        public var type: UInt8
        /// Its body, decompressed.
        public var body: [UInt8]
        /// Where its header starts in the scanned buffer.
        public var offset: Int
    }

    /// Why a scan stopped.
    public enum Stop: Equatable, Sendable {
        /// The buffer ended exactly after a record.
        case end
        /// The buffer ends inside a record: a write that never completed.
        case torn(offset: Int)
        /// A complete record whose checksum, flags or length is wrong.
        case corrupt(offset: Int, reason: String)
    }

    /// Reads records from the start of `buffer` until it ends or something is wrong. The
    /// records returned are exactly the valid prefix.
    public static func scan(_ buffer: UnsafeRawBufferPointer) -> (records: [Record], stop: Stop) {
        var records: [Record] = []
        var offset = 0
        while offset < buffer.count {
            guard buffer.count - offset >= headerSize else { return (records, .torn(offset: offset)) }
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + headerSize)]))
            let length = Int((try? reader.readUInt32()) ?? 0)
            let crc = (try? reader.readUInt32()) ?? 0
            let type = (try? reader.readUInt8()) ?? 0
            let flags = (try? reader.readUInt8()) ?? 0
            guard length <= maxBodySize else { return (records, .corrupt(offset: offset, reason: "length \(length) over the limit")) }
            let bodyStart = offset + headerSize
            guard buffer.count - bodyStart >= length else { return (records, .torn(offset: offset)) }
            let stored = UnsafeRawBufferPointer(rebasing: buffer[bodyStart..<(bodyStart + length)])
            let actual = CRC32C.checksum(stored, continuing: CRC32C.checksum([type, flags]))
            guard actual == crc else { return (records, .corrupt(offset: offset, reason: "checksum mismatch")) }
            guard flags & ~lz4Flag == 0 else { return (records, .corrupt(offset: offset, reason: "unknown flags \(flags)")) }
            let body: [UInt8]
            if flags & lz4Flag != 0 {
                guard let inflated = decompress(stored) else { return (records, .corrupt(offset: offset, reason: "bad LZ4 body")) }
                body = inflated
            } else {
                body = Array(stored)
            }
            records.append(Record(type: type, body: body, offset: offset))
            offset = bodyStart + length
        }
        return (records, .end)
    }

    private static func compress(_ body: [UInt8]) -> [UInt8]? {
        var writer = ByteWriter(capacity: LZ4.compressBound(body.count) + 10)
        writer.writeVarint(UInt64(body.count))
        var block = [UInt8](repeating: 0, count: LZ4.compressBound(body.count))
        let written = body.withUnsafeBytes { source in block.withUnsafeMutableBytes { LZ4.compress(source, into: $0) } }
        guard let written else { return nil }
        block.withUnsafeBytes { writer.writeRaw(UnsafeRawBufferPointer(rebasing: $0[0..<written])) }
        return writer.bytes
    }

    private static func decompress(_ stored: UnsafeRawBufferPointer) -> [UInt8]? {
        var reader = ByteReader(stored)
        guard let length = try? reader.readVarint(), length > 0, length <= UInt64(maxBodySize),
              let block = try? reader.readRawView(count: reader.remaining) else { return nil }
        var body = [UInt8](repeating: 0, count: Int(length))
        let ok = body.withUnsafeMutableBytes { destination in (try? LZ4.decompress(block, into: destination)) != nil }
        return ok ? body : nil
    }
}
