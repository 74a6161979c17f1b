import Wire

/// How records sit in a log file, the router's segments and the transcript store's day
/// files alike (docs/storage.md):
///
/// ```
/// file header: "SWBDLOG" and the format number (2), 8 bytes
/// per record:
///   u32 body length   (big-endian; the body as stored, compressed or not)
///   u8  type          what the body is (the record's kind)
///   u8  flags         bit 0: body is uvarint(original length) + LZ4 block
///   u32 CRC32C        over the stored body
///   u32 CRC32C        over the ten header bytes before it
///   ... body
/// ```
///
/// The header has its own checksum so that a damaged length is known to be damaged before
/// it is believed: an unchecked length that grows past the end of the file made damage in
/// the middle of the log look like a write cut short at its end, and recovery then dropped
/// every record after it (issue 10).
///
/// Pure: encodes into a `ByteWriter`, scans a buffer. Files are the log's business.
public enum LogFraming {
    /// The first bytes of every log file: a name and the format number.
    public static let fileHeader: [UInt8] = Array("SWBDLOG".utf8) + [formatVersion]
    /// The framing's version, the last byte of `fileHeader`.
    public static let formatVersion: UInt8 = 2
    /// Bytes in front of every body.
    public static let headerSize = 14
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
        var header = ByteWriter(capacity: headerSize)
        header.writeUInt32(UInt32(stored.count))
        header.writeUInt8(type)
        header.writeUInt8(flags)
        header.writeUInt32(CRC32C.checksum(stored))
        header.writeUInt32(CRC32C.checksum(header.bytes))
        writer.writeRaw(header.bytes)
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
        /// The buffer ends inside a record that was being written: too short for a header,
        /// a checked header whose body runs past the end, or nothing but zeros (space the
        /// file system extended and never wrote). Nothing valid can follow any of these.
        case torn(offset: Int)
        /// A damaged record: a header or body checksum that does not match, unknown flags,
        /// an impossible length, a body that does not inflate. What follows it cannot be
        /// trusted to be in order, so nothing from it on is used.
        case corrupt(offset: Int, reason: String)
    }

    /// Whether `bytes` start as a log file of another kind or format: no repair may cut such
    /// a file (it would empty it), it needs the build that wrote it.
    public static func isForeignFile(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let present = min(bytes.count, fileHeader.count)
        return !bytes.prefix(present).elementsEqual(fileHeader.prefix(present))
    }

    /// Reads a whole log file: its header, then its records (offsets are the file's).
    public static func scanFile(_ buffer: UnsafeRawBufferPointer) -> (records: [Record], stop: Stop) {
        guard !isForeignFile(buffer) else {
            return ([], .corrupt(offset: 0, reason: "not a Switchboard log file of format \(formatVersion) (written by another version, or not a log)"))
        }
        guard buffer.count >= fileHeader.count else { return ([], .torn(offset: 0)) }
        return scan(buffer, from: fileHeader.count)
    }

    /// Reads records from byte `start` of `buffer` until it ends or something is wrong. The
    /// records returned are exactly the valid prefix; offsets are the buffer's.
    public static func scan(_ buffer: UnsafeRawBufferPointer, from start: Int = 0) -> (records: [Record], stop: Stop) {
        var records: [Record] = []
        var offset = start
        while offset < buffer.count {
            let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            guard rest.count >= headerSize else { return (records, .torn(offset: offset)) }
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: rest[..<headerSize]))
            // Fourteen bytes are there, so none of these reads can fail.
            let length = Int((try? reader.readUInt32()) ?? 0)
            let type = (try? reader.readUInt8()) ?? 0
            let flags = (try? reader.readUInt8()) ?? 0
            let bodyCRC = (try? reader.readUInt32()) ?? 0
            let headerCRC = (try? reader.readUInt32()) ?? 0
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: rest[..<(headerSize - 4)])) == headerCRC else {
                if rest.allSatisfy({ $0 == 0 }) { return (records, .torn(offset: offset)) }
                return (records, .corrupt(offset: offset, reason: "record header checksum mismatch"))
            }
            guard length <= maxBodySize else { return (records, .corrupt(offset: offset, reason: "length \(length) over the limit")) }
            guard rest.count - headerSize >= length else { return (records, .torn(offset: offset)) }
            let stored = UnsafeRawBufferPointer(rebasing: rest[headerSize..<(headerSize + length)])
            guard CRC32C.checksum(stored) == bodyCRC else { return (records, .corrupt(offset: offset, reason: "checksum mismatch")) }
            guard flags & ~lz4Flag == 0 else { return (records, .corrupt(offset: offset, reason: "unknown flags \(flags)")) }
            let body: [UInt8]
            if flags & lz4Flag != 0 {
                guard let inflated = decompress(stored) else { return (records, .corrupt(offset: offset, reason: "bad LZ4 body")) }
                body = inflated
            } else {
                body = Array(stored)
            }
            records.append(Record(type: type, body: body, offset: offset))
            offset += headerSize + length
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
