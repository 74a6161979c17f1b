import Foundation
import Glibc
import Wire

/// One snapshot file per partition, `<log>/partitions/partition-<n>.log`: the records that
/// rebuild the partition's conversations, and how far they cover its stream
/// (`PartitionStreams`). Replay applies a partition's snapshot, then its records in the
/// shared segments numbered after it. A snapshot is written under a temporary name, synced
/// and renamed into place, so a crash leaves the old one or the new one, never a part.
///
/// File: the log file header, a header record (type 30: uvarint partition, uvarint the
/// stream number it covers up to), then partition records without stream numbers.
public enum PartitionSnapshots {
    /// A snapshot as read.
    public struct Snapshot: Sendable, Equatable {
        public var partition: Int
        /// It holds the partition's stream up to this record number.
        public var covers: UInt64
        public var records: [PartitionRecord]

        public init(partition: Int, covers: UInt64, records: [PartitionRecord]) {
            (self.partition, self.covers, self.records) = (partition, covers, records)
        }
    }

    /// The header record's type.
    static let headerType: UInt8 = 30
    /// The folder inside the log directory.
    static let folder = "partitions"
    private static let chunk = 1 << 20

    /// The path of partition `partition`'s snapshot in log directory `directory`.
    public static func path(directory: String, partition: Int) -> String {
        directory + "/" + folder + "/" + String(format: "partition-%05d.log", partition)
    }

    /// Writes partition `partition`'s snapshot, covering its stream up to `covers`, from the
    /// records `records` hands to `emit`, a megabyte at a time (a large partition is never
    /// in memory twice). An empty snapshot drops the partition: replay then finds it empty.
    public static func write(directory: String, partition: Int, covers: UInt64,
                             records: (_ emit: (PartitionRecord) throws(StorageError) -> Void) throws(StorageError) -> Void) throws(StorageError) {
        if access(directory + "/" + folder, F_OK) != 0 {
            try DurableFile.makeDirectory(directory + "/" + folder)
            // The folder's own entry must be durable too, or a crash could lose every snapshot in it.
            DurableFile.syncDirectory(directory)
        }
        let path = path(directory: directory, partition: partition)
        let temporary = path + ".tmp"
        let fd = try DurableFile.createTemporary(temporary)
        var installed = false
        defer {
            Glibc.close(fd)
            if !installed { unlink(temporary) }  // a failed write leaves nothing behind
        }
        var writer = ByteWriter(capacity: chunk + (64 << 10))
        writer.writeRaw(LogFraming.fileHeader)
        var header = ByteWriter(capacity: 16)
        header.writeVarint(UInt64(partition))
        header.writeVarint(covers)
        LogFraming.append(type: headerType, body: header.bytes, to: &writer)
        try records { (record) throws(StorageError) in
            let (type, body) = PartitionRecordCodec.encode(record, partition: partition)
            LogFraming.append(type: type, body: body, to: &writer)
            if writer.count >= chunk {
                try DurableFile.writeAll(fd, writer.bytes, path: temporary)
                writer.clear()
            }
        }
        try DurableFile.writeAll(fd, writer.bytes, path: temporary)
        try DurableFile.install(fd, temporary: temporary, as: path)
        installed = true
    }

    /// Every partition snapshot in log directory `directory`, by partition. With
    /// `clearLeftovers` (the router opening its own log), a temporary file a crash left of a
    /// write is deleted; without (reading beside a running router), it is left alone, since
    /// it may be a snapshot being written. A damaged or mislabelled snapshot stops the open,
    /// naming the file: it cannot be cut short like a segment, since what it replaced is gone.
    public static func readAll(directory: String, clearLeftovers: Bool = true) throws(StorageError) -> [Int: Snapshot] {
        let folder = directory + "/" + Self.folder
        guard FileManager.default.fileExists(atPath: folder) else { return [:] }
        if clearLeftovers {
            for stale in try DurableFile.files(in: folder, suffix: ".tmp") { unlink(folder + "/" + stale) }
        }
        var snapshots: [Int: Snapshot] = [:]
        for name in try DurableFile.files(in: folder, suffix: ".log") {
            let snapshot = try read(folder + "/" + name)
            guard path(directory: directory, partition: snapshot.partition).hasSuffix("/" + name) else {
                throw .corrupt(segment: folder + "/" + name, offset: 0, reason: "it holds partition \(snapshot.partition), not the one its name says")
            }
            snapshots[snapshot.partition] = snapshot
        }
        return snapshots
    }

    /// Reads one snapshot file.
    static func read(_ path: String) throws(StorageError) -> Snapshot {
        let bytes = try DurableFile.read(path)
        let (records, stop) = bytes.withUnsafeBytes { LogFraming.scanFile($0) }
        switch stop {
        case .end: break
        case .torn(let offset): throw .corrupt(segment: path, offset: offset, reason: "partition snapshot ends inside a record")
        case .corrupt(let offset, let reason): throw .corrupt(segment: path, offset: offset, reason: reason)
        }
        guard let header = records.first, header.type == headerType else {
            throw .corrupt(segment: path, offset: LogFraming.fileHeader.count, reason: "a partition snapshot starts with its header record")
        }
        let parsed = header.body.withUnsafeBytes { raw in
            Result { () throws(WireError) -> (Int, UInt64) in
                var reader = ByteReader(raw)
                let fields = (Int(clamping: try reader.readVarint()), try reader.readVarint())
                guard reader.isAtEnd else { throw .trailingBytes(reader.remaining) }
                return fields
            }
        }
        let (partition, covers): (Int, UInt64)
        switch parsed {
        case .success(let fields): (partition, covers) = fields
        case .failure(let error): throw .undecodable(segment: path, offset: header.offset, reason: error.message)
        }
        var decoded: [PartitionRecord] = []
        decoded.reserveCapacity(records.count - 1)
        for record in records.dropFirst() {
            do throws(WireError) {
                let entry = try PartitionRecordCodec.decode(type: record.type, body: record.body)
                guard entry.partition == partition, entry.sequence == nil else { throw .invalidField("a record of partition \(entry.partition) in its stream") }
                decoded.append(entry.record)
            } catch {
                throw .undecodable(segment: path, offset: record.offset, reason: error.message)
            }
        }
        return Snapshot(partition: partition, covers: covers, records: decoded)
    }
}
